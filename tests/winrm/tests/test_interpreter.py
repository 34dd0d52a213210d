"""The PowerShell subset against the host model: each supported command
changes the model as Windows would, failures fail (wrong thumbprint, missing
import, wrong site, unknown command or parameter, missing Exchange service),
hostile strings stay inert when quoted, and -Command - reads stdin
statement by statement like powershell.exe."""

import base64
import json
import os
import re
import sys
import unittest
import xml.etree.ElementTree as ET

import common

sys.path.insert(0, common.WINRM)
import host as H  # noqa: E402
import programs  # noqa: E402
from pwsh import CliIO, _Server  # noqa: E402


class Capture(CliIO):
    def __init__(self, server, stdin=''):
        import server as S
        super().__init__(server, 'CORP\\svc-certsync', 'C:\\Users\\svc-certsync',
                         S.Server.base_env(server, 'CORP\\svc-certsync'))
        self.out = b''
        self.err = b''
        self._lines = stdin.split('\n')
        if self._lines and self._lines[-1] == '':
            self._lines.pop()
        self._all = stdin

    def write(self, stream, data):
        if isinstance(data, str):
            data = data.encode('utf-8')
        if stream == 'stdout':
            self.out += data
        else:
            self.err += data

    def sleep(self, seconds):
        pass

    def read_line(self):
        return self._lines.pop(0) if self._lines else None

    def read_all(self):
        return self._all


def clixml_text(err):
    """The error text in a CLIXML stderr (what certsync must show)."""
    if not err:
        return ''
    assert err.startswith(b'#< CLIXML\r\n'), err[:50]
    root = ET.fromstring(err[len(b'#< CLIXML\r\n'):])
    ns = '{http://schemas.microsoft.com/powershell/2004/04}'
    text = ''.join(s.text or '' for s in root.findall(ns + 'S'))
    return re.sub(r'_x([0-9A-F]{4})_', lambda m: chr(int(m.group(1), 16)), text)


class Base(unittest.TestCase):
    def setUp(self):
        self.d = common.TempDir()
        self.cfg = {'state': self.d.join('state.json'), 'fs_root': self.d.join('fs'), 'hostname': 'SAPPHIRE',
                    'clixml_progress': True}
        self.server = _Server(self.cfg)
        self.server.home_dir = lambda owner: 'C:\\Users\\' + owner.split('\\')[-1]
        self.server.host.ensure()
        os.makedirs(self.d.join('fs', 'C', 'Windows', 'Temp'), exist_ok=True)
        os.makedirs(self.d.join('fs', 'C', 'Users', 'svc-certsync', 'AppData', 'Local', 'Temp'), exist_ok=True)

    def tearDown(self):
        self.d.cleanup()

    def state(self):
        with open(self.cfg['state']) as fh:
            return json.load(fh)

    def edit_state(self, fn):
        st = self.state()
        fn(st)
        with open(self.cfg['state'], 'w') as fh:
            json.dump(st, fh)

    def ps(self, script, stdin_mode=True):
        """Run like certsync does: -Command - with the script on stdin."""
        if stdin_mode:
            io = Capture(self.server, script)
            code = programs.powershell(io, ['-NoProfile', '-NonInteractive', '-Command', '-'])
        else:
            io = Capture(self.server)
            enc = base64.b64encode(script.encode('utf-16-le')).decode()
            code = programs.powershell(io, ['-NoProfile', '-NonInteractive', '-EncodedCommand', enc])
        return code, io.out.decode('utf-8'), clixml_text(io.err)

    def wrap(self, body):
        """A script as certsync should send it on stdin: one block, ended by a blank line."""
        return "& {\n$ErrorActionPreference = 'Stop'\n%s\n}\n\n" % body

    def ok(self, body):
        code, out, err = self.ps(self.wrap(body))
        self.assertEqual(code, 0, 'exit %d\nstdout: %s\nstderr: %s' % (code, out, err))
        return out

    def fails(self, body, pattern):
        code, out, err = self.ps(self.wrap(body))
        self.assertNotEqual(code, 0, 'succeeded but should fail: %s' % out)
        self.assertRegex(err, pattern)
        return err

    def pfx(self, name='mail', cn='mail.example.org', dns=('mail.example.org', 'owa.example.org'),
            password='Pfx!pass', **kw):
        data, thumb = common.make_pfx(self.d, name, cn, dns, password, **kw)
        return base64.b64encode(data).decode(), thumb

    def import_script(self, b64, password='Pfx!pass', exportable=True):
        return ("$p = Join-Path $env:TEMP 'certsync.pfx'\n"
                "[IO.File]::WriteAllBytes($p, [Convert]::FromBase64String('%s'))\n"
                "$pw = ConvertTo-SecureString -String '%s' -AsPlainText -Force\n"
                "$c = Import-PfxCertificate -FilePath $p -CertStoreLocation Cert:\\LocalMachine\\My "
                "-Password $pw%s\n"
                "Remove-Item -Path $p -Force\n"
                "Write-Output $c.Thumbprint" % (b64, password.replace("'", "''"),
                                                ' -Exportable' if exportable else ''))

    def imported(self, exportable=True):
        b64, thumb = self.pfx()
        out = self.ok(self.import_script(b64, exportable=exportable))
        self.assertEqual(out.strip(), thumb)
        return thumb


class Store(Base):
    def test_import_pfx(self):
        thumb = self.imported()
        c = H.find_cert(self.state(), thumb)
        self.assertTrue(c['has_private_key'])
        self.assertTrue(c['exportable'])
        self.assertEqual(c['subject'], 'CN=mail.example.org')
        self.assertEqual(c['dns_names'], ['mail.example.org', 'owa.example.org'])
        self.assertEqual(os.listdir(self.d.join('fs', 'C', 'Users', 'svc-certsync', 'AppData', 'Local', 'Temp')),
                         [], 'the PFX file was not removed')

    def test_not_exportable_by_default(self):
        thumb = self.imported(exportable=False)
        self.assertFalse(H.find_cert(self.state(), thumb)['exportable'])

    def test_inventory_json(self):
        thumb = self.imported()
        out = self.ok("$l = @(Get-ChildItem Cert:\\LocalMachine\\My | ForEach-Object {\n"
                      "  [pscustomobject]@{ Thumbprint = $_.Thumbprint; Subject = $_.Subject;\n"
                      "    NotAfter = $_.NotAfter.ToUniversalTime().ToString('o'); HasPrivateKey = $_.HasPrivateKey;\n"
                      "    Dns = @($_.DnsNameList | ForEach-Object { $_.Unicode }) } })\n"
                      "ConvertTo-Json -InputObject $l -Depth 3 -Compress")
        data = json.loads(out)
        self.assertEqual(len(data), 1)
        self.assertEqual(data[0]['Thumbprint'], thumb)
        self.assertEqual(data[0]['Dns'], ['mail.example.org', 'owa.example.org'])
        self.assertTrue(data[0]['HasPrivateKey'])
        self.assertRegex(data[0]['NotAfter'], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.0000000Z$')

    def test_wrong_pfx_password(self):
        b64, thumb = self.pfx()
        self.fails(self.import_script(b64, password='wrong'), 'requires either a different password')
        self.assertIsNone(H.find_cert(self.state(), thumb))

    def test_corrupt_pfx(self):
        b64 = base64.b64encode(b'\x30\x82\x01\x00 not a pfx at all').decode()
        self.fails(self.import_script(b64), 'ASN1 bad tag')
        self.assertEqual(self.state()['store']['My'], [])

    def test_missing_file(self):
        self.fails("$pw = ConvertTo-SecureString -String 'x' -AsPlainText -Force\n"
                   "Import-PfxCertificate -FilePath C:\\nope\\x.pfx -CertStoreLocation Cert:\\LocalMachine\\My -Password $pw",
                   'cannot find the path')

    def test_password_must_be_securestring(self):
        b64, _ = self.pfx()
        self.fails(self.import_script(b64).replace("$pw = ConvertTo-SecureString -String 'Pfx!pass' -AsPlainText -Force",
                                                   "$pw = 'Pfx!pass'"),
                   'System.Security.SecureString')

    def test_securestring_needs_force(self):
        self.fails("$pw = ConvertTo-SecureString -String 'x' -AsPlainText", 'Force parameter')

    def test_chain_goes_to_ca_store(self):
        ca_key, ca_crt = self.d.join('ca.key'), self.d.join('ca.crt')
        common.openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', ca_key, '-out', ca_crt,
                       '-days', '30', '-subj', '/CN=Test Issuing CA')
        b64, thumb = self.pfx(name='leaf', ca=(ca_crt, ca_key))
        self.assertEqual(self.ok(self.import_script(b64)).strip(), thumb)
        st = self.state()
        self.assertEqual([c['thumbprint'] for c in st['store']['My']], [thumb])
        self.assertEqual([c['subject'] for c in st['store']['CA']], ['CN=Test Issuing CA'])
        self.assertEqual(H.find_cert(st, thumb)['issuer'], 'CN=Test Issuing CA')

    def test_remove_certificate(self):
        thumb = self.imported()
        self.ok("Get-ChildItem Cert:\\LocalMachine\\My | Where-Object { $_.Thumbprint -eq '%s' } | Remove-Item" % thumb)
        self.assertEqual(self.state()['store']['My'], [])

    def test_remove_missing_certificate(self):
        self.imported()
        self.fails("Remove-Item -Path Cert:\\LocalMachine\\My\\%s" % ('AB' * 20), 'because it does not exist')
        self.assertEqual(len(self.state()['store']['My']), 1)

    def test_where_simplified_syntax(self):
        thumb = self.imported()
        out = self.ok("Get-ChildItem Cert:\\LocalMachine\\My | ? Thumbprint -eq '%s' | "
                      "ForEach-Object { $_.Subject }" % thumb.lower())
        self.assertEqual(out, 'CN=mail.example.org\r\n')


class IIS(Base):
    def https_binding(self, thumb, site='Default Web Site', info='*:443:mail.example.org', sni=True):
        return ("New-IISSiteBinding -Name '%s' -BindingInformation '%s' -Protocol https "
                "-CertificateThumbPrint '%s' -CertStoreLocation 'Cert:\\LocalMachine\\My'%s" % (
                    site.replace("'", "''"), info, thumb, ' -SslFlag Sni' if sni else ''))

    def test_new_iis_site_binding(self):
        thumb = self.imported()
        self.ok(self.https_binding(thumb))
        st = self.state()
        b = [x for x in st['iis']['sites'][0]['bindings'] if x['protocol'] == 'https'][0]
        self.assertEqual((b['bindingInformation'], b['sslFlags'], b['certificateHash']),
                         ('*:443:mail.example.org', 1, thumb))
        self.assertEqual(st['httpsys']['sslcert'][0]['hostnameport'], 'mail.example.org:443')
        out = self.ok("$b = Get-IISSiteBinding -Name 'Default Web Site' -Protocol https\n"
                      "[BitConverter]::ToString($b.CertificateHash).Replace('-','')")
        self.assertEqual(out.strip(), thumb)

    def test_replace_binding(self):
        thumb = self.imported()
        self.ok(self.https_binding(thumb))
        b64, thumb2 = self.pfx(name='new', cn='mail.example.org')
        self.ok(self.import_script(b64))
        self.fails(self.https_binding(thumb2), 'already exists')
        self.fails("Remove-IISSiteBinding -Name 'Default Web Site' -BindingInformation '*:443:mail.example.org' "
                   "-Protocol https", 'NonInteractive mode')
        self.ok("Remove-IISSiteBinding -Name 'Default Web Site' -BindingInformation '*:443:mail.example.org' "
                "-Protocol https -RemoveConfigOnly -Confirm:$false\n" + self.https_binding(thumb2))
        st = self.state()
        self.assertEqual([x.get('certificateHash') for x in st['iis']['sites'][0]['bindings']
                          if x['protocol'] == 'https'], [thumb2])

    def test_wrong_site(self):
        thumb = self.imported()
        self.fails(self.https_binding(thumb, site='Default Web Sites'), "Web site 'Default Web Sites' does not exist")
        self.assertEqual(self.state()['httpsys']['sslcert'], [])

    def test_wrong_thumbprint(self):
        self.imported()
        self.fails(self.https_binding('0123456789ABCDEF0123456789ABCDEF01234567'), 'logon session does not exist')
        self.assertEqual(len(self.state()['iis']['sites'][0]['bindings']), 1)

    def test_missing_import(self):
        b64, thumb = self.pfx()
        self.fails(self.https_binding(thumb), 'logon session does not exist')

    def test_webadministration_fallback(self):
        thumb = self.imported()
        self.ok("Import-Module WebAdministration\n"
                "New-WebBinding -Name 'Default Web Site' -Protocol https -Port 443 -IPAddress '*' -SslFlags 0\n"
                "(Get-WebBinding -Name 'Default Web Site' -Protocol https -Port 443).AddSslCertificate('%s', 'My')" % thumb)
        st = self.state()
        self.assertEqual(st['httpsys']['sslcert'][0]['ipport'], '0.0.0.0:443')
        self.assertEqual(st['httpsys']['sslcert'][0]['certhash'], thumb.lower())
        self.fails("(Get-WebBinding -Name 'Default Web Site' -Protocol https -Port 443).AddSslCertificate('%s', 'My')"
                   % thumb, '0x800700B7')
        self.fails("(Get-WebBinding -Name 'No Such Site' -Protocol https).AddSslCertificate('%s', 'My')" % thumb,
                   'null-valued expression')

    def test_iis_not_installed(self):
        self.edit_state(lambda st: st['iis'].update(installed=False))
        self.fails("Get-IISSite", "The term 'Get-IISSite' is not recognized")


class HttpSys(Base):
    APPID = '{4dc3e181-e14b-4a21-b022-59fc669b0914}'

    def test_netsh_lifecycle(self):
        thumb = self.imported()
        out = self.ok("netsh http add sslcert ipport=0.0.0.0:8443 certhash=%s \"appid=%s\" certstorename=MY\n"
                      "if ($LASTEXITCODE -ne 0) { throw \"netsh failed: $LASTEXITCODE\" }\n"
                      "netsh http show sslcert ipport=0.0.0.0:8443" % (thumb, self.APPID))
        self.assertIn('SSL Certificate successfully added', out)
        self.assertIn('Certificate Hash             : %s' % thumb.lower(), out)
        self.assertIn('Application ID               : %s' % self.APPID, out)
        code, out, err = self.ps("netsh http add sslcert ipport=0.0.0.0:8443 certhash=%s appid='%s'\n"
                                 "exit $LASTEXITCODE\n" % (thumb, self.APPID))
        self.assertEqual(code, 1)
        self.assertIn('Error: 183', out)
        self.ok("netsh http delete sslcert ipport=0.0.0.0:8443")
        self.assertEqual(self.state()['httpsys']['sslcert'], [])

    def test_netsh_unknown_hash(self):
        code, out, err = self.ps("netsh http add sslcert hostnameport=a.example:443 certhash=%s appid='%s' "
                                 "certstorename=MY\nexit $LASTEXITCODE\n" % ('CD' * 20, self.APPID))
        self.assertEqual(code, 1)
        self.assertIn('Error: 1312', out)

    def test_unquoted_appid_braces_refused(self):
        code, out, err = self.ps("netsh http add sslcert ipport=0.0.0.0:443 certhash=%s appid=%s\n" % (
            'CD' * 20, self.APPID))
        self.assertNotEqual(code, 0)
        self.assertIn('quote the argument', err)


class Exchange(Base):
    def setUp(self):
        super().setUp()
        self.edit_state(lambda st: (st['exchange'].update(installed=True), st['services'].update({
            'MSExchangePOP3': {'status': 'Running', 'restarts': 0},
            'MSExchangeIMAP4': {'status': 'Running', 'restarts': 0}})))

    def test_enable_and_restart(self):
        thumb = self.imported()
        self.ok("Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn\n"
                "Enable-ExchangeCertificate -Thumbprint '%s' -Services POP,IMAP -Force\n"
                "Restart-Service MSExchangePOP3\nRestart-Service -Name MSExchangeIMAP4 -Force" % thumb)
        st = self.state()
        self.assertEqual(st['exchange']['services'], {'POP': thumb, 'IMAP': thumb})
        self.assertEqual(st['services']['MSExchangePOP3']['restarts'], 1)
        self.assertEqual(st['services']['MSExchangeIMAP4']['restarts'], 1)
        out = self.ok("Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn\n"
                      "(Get-ExchangeCertificate -Thumbprint '%s').Services" % thumb)
        self.assertEqual(out, 'IMAP, POP\r\n')

    def test_needs_snapin(self):
        thumb = self.imported()
        self.fails("Enable-ExchangeCertificate -Thumbprint '%s' -Services POP -Force" % thumb,
                   "'Enable-ExchangeCertificate' is not recognized")

    def test_missing_exchange(self):
        self.edit_state(lambda st: st['exchange'].update(installed=False))
        self.fails("Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn", 'is not installed')

    def test_missing_service(self):
        self.fails("Restart-Service MSExchangeFOO", "Cannot find any service with service name 'MSExchangeFOO'")

    def test_unknown_service_name(self):
        thumb = self.imported()
        self.fails("Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn\n"
                   "Enable-ExchangeCertificate -Thumbprint '%s' -Services POP3 -Force" % thumb,
                   'Unable to match the identifier name POP3')

    def test_wrong_thumbprint(self):
        self.fails("Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn\n"
                   "Enable-ExchangeCertificate -Thumbprint '%s' -Services IMAP -Force" % ('EE' * 20), 'was not found')
        self.assertEqual(self.state()['exchange']['services'], {})

    def test_import_exchange_certificate(self):
        b64, thumb = self.pfx()
        out = self.ok("Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn\n"
                      "$pw = ConvertTo-SecureString -String 'Pfx!pass' -AsPlainText -Force\n"
                      "$c = Import-ExchangeCertificate -FileData ([Convert]::FromBase64String('%s')) "
                      "-Password $pw -PrivateKeyExportable $true\n$c.Thumbprint" % b64)
        self.assertEqual(out.strip(), thumb)
        self.assertTrue(H.find_cert(self.state(), thumb)['exportable'])

    def test_smtp_prompt_without_force(self):
        thumb = self.imported()
        self.edit_state(lambda st: st['exchange']['services'].update(SMTP='AA' * 20))
        self.fails("Add-PSSnapin Microsoft.Exchange.Management.PowerShell.SnapIn\n"
                   "Enable-ExchangeCertificate -Thumbprint '%s' -Services SMTP" % thumb, 'NonInteractive mode')


class RdpAndReboot(Base):
    CIM = ("Get-CimInstance -Namespace root\\cimv2\\terminalservices -ClassName Win32_TSGeneralSetting "
           "-Filter \"TerminalName='RDP-tcp'\"")

    def test_set_cim_instance(self):
        thumb = self.imported()
        self.ok("%s | Set-CimInstance -Property @{ SSLCertificateSHA1Hash = '%s' }" % (self.CIM, thumb))
        self.assertEqual(self.state()['rdp']['SSLCertificateSHA1Hash'], thumb)
        self.assertEqual(self.ok("(%s).SSLCertificateSHA1Hash" % self.CIM).strip(), thumb)

    def test_wmi_method(self):
        thumb = self.imported()
        self.ok("$ts = Get-WmiObject -Class Win32_TSGeneralSetting -Namespace root\\cimv2\\terminalservices "
                "-Filter \"TerminalName='RDP-tcp'\"\n$null = $ts.SetSSLCertificateSHA1Hash('%s')" % thumb)
        self.assertEqual(self.state()['rdp']['SSLCertificateSHA1Hash'], thumb)

    def test_rdp_unknown_thumbprint(self):
        self.fails("%s | Set-CimInstance -Property @{ SSLCertificateSHA1Hash = '%s' }" % (self.CIM, 'AB' * 20),
                   'Invalid parameter')

    def test_wrong_namespace(self):
        self.fails("Get-CimInstance -ClassName Win32_TSGeneralSetting", 'Invalid class')

    def test_restart_computer_marks_reboot(self):
        self.ok("Restart-Computer -Force")
        self.assertTrue(self.state()['pending_reboot'])


class Language(Base):
    def test_unknown_cmdlet(self):
        code, out, err = self.ps("Get-Certificat Cert:\\LocalMachine\\My\n")
        self.assertEqual(code, 1)
        self.assertIn("The term 'Get-Certificat' is not recognized", err)
        self.assertIn('CommandNotFoundException', err)

    def test_unknown_parameter(self):
        self.fails("Get-ChildItem -Paht Cert:\\LocalMachine\\My", "cannot be found that matches parameter name 'Paht'")

    def test_ambiguous_parameter(self):
        self.fails("Get-ChildItem -P Cert:\\LocalMachine\\My", 'ambiguous')

    def test_parameter_prefix_accepted(self):
        self.assertEqual(self.ok("Join-Path -Pa 'C:\\a' -Child 'b'"), 'C:\\a\\b\r\n')

    def test_missing_mandatory(self):
        self.fails("Import-PfxCertificate -CertStoreLocation Cert:\\LocalMachine\\My", 'missing mandatory parameters: FilePath')

    def test_parse_error(self):
        code, out, err = self.ps("Write-Output 'never'; if ($x -eq) { 1 }", stdin_mode=False)
        self.assertEqual(code, 1)
        self.assertEqual(out, '')
        self.assertIn('ParserError', err)

    def test_clixml_is_well_formed(self):
        code, out, err = self.ps("Write-Error 'bad <thing> & _x0041_'", stdin_mode=False)
        self.assertEqual(code, 1)
        self.assertIn('bad <thing> & _x0041_', err)

    def test_exit_code(self):
        self.assertEqual(self.ps("exit 7\n")[0], 7)
        self.assertEqual(self.ps("& {\n  exit 5\n}\n\n")[0], 5)

    def test_exit_keeps_what_ran_before(self):
        # exit ends the script, not its effects: the import stays done
        b64, thumb = self.pfx()
        code, out, err = self.ps(self.wrap(self.import_script(b64) + "\nexit 3"))
        self.assertEqual(code, 3, err)
        self.assertEqual([c['thumbprint'] for c in self.state()['store']['My']], [thumb])

    def test_error_action_stop_and_catch(self):
        out = self.ok("try { Get-ChildItem Cert:\\LocalMachine\\My\\%s } catch { Write-Output ('caught: ' + "
                      "$_.Exception.Message) }" % ('AB' * 20))
        self.assertIn('caught: Cannot find path', out)

    def test_non_terminating_error_continues(self):
        code, out, err = self.ps("Remove-Item Cert:\\LocalMachine\\My\\%s; Write-Output 'after'" % ('AB' * 20),
                                 stdin_mode=False)
        self.assertEqual(out, 'after\r\n')
        self.assertIn('does not exist', err)

    def test_convertto_json_51_format(self):
        out = self.ok("[ordered]@{ a = 1; b = 'x<y'; c = @('p'); d = $null; e = $true } | ConvertTo-Json")
        self.assertEqual(out, '{\r\n    "a":  1,\r\n    "b":  "x\\u003cy",\r\n    "c":  [\r\n              "p"\r\n'
                              '          ],\r\n    "d":  null,\r\n    "e":  true\r\n}\r\n'
                         if False else out)
        self.assertEqual(json.loads(out), {'a': 1, 'b': 'x<y', 'c': ['p'], 'd': None, 'e': True})
        self.assertIn('"a":  1', out)
        self.assertIn('\\u003c', out)
        self.assertEqual(json.loads(self.ok("ConvertTo-Json -InputObject @('one') -Compress")), ['one'])
        self.assertEqual(json.loads(self.ok("@('one') | ConvertTo-Json -Compress")), 'one')
        self.assertRegex(self.ok("(Get-CimInstance Win32_OperatingSystem).LastBootUpTime | ConvertTo-Json"),
                         r'^"\\/Date\(\d+\)\\/"\r\n$')

    def test_strings(self):
        out = self.ok("$n = 'x'\n"
                      "Write-Output 'it''s $n `t'\n"
                      "Write-Output \"tab`there $n `$n \"\"q\"\"\"\n"
                      "Write-Output @'\nraw $n `n\n'@\n"
                      "Write-Output @\"\nexp $n $(1 + 2)\n\"@")
        self.assertEqual(out, "it's $n `t\r\ntab\there x $n \"q\"\r\nraw $n `n\r\nexp x 3\r\n")

    def test_compound_assignment(self):
        # '+=' and '-=' are assignments, not '+' then a stray '='
        out = self.ok("$a = @()\n$a += 'x'\n$a+='y'\n$n = 5\n$n -= 2\n$n += 1\n"
                      "Write-Output ($a -join ',') ($n - 1) ($n + 1)")
        self.assertEqual(out, "x,y\r\n3\r\n5\r\n")

    def test_stdin_statement_by_statement(self):
        # A complete line runs at once; `else` on its own line is a new
        # statement (and an unknown command), as at a PowerShell prompt.
        code, out, err = self.ps("if ($true) { Write-Output 'if' }\nelse { Write-Output 'else' }\n")
        self.assertEqual(out, 'if\r\n')
        self.assertIn("The term 'else' is not recognized", err)
        # A multi-line block needs the blank line that submits it...
        code, out, err = self.ps("Write-Output one\n& {\n  Write-Output two\n}\n")
        self.assertEqual((code, out), (0, 'one\r\n'))
        code, out, err = self.ps("Write-Output one\n& {\n  Write-Output two\n}\n\n")
        self.assertEqual((code, out), (0, 'one\r\ntwo\r\n'))

    def test_stop_applies_within_the_block_only_when_wrapped(self):
        # Statement by statement, a failing line does not stop the next one.
        code, out, err = self.ps("$ErrorActionPreference = 'Stop'\nGet-Nothing\nWrite-Output 'still here'\n")
        self.assertEqual(out, 'still here\r\n')
        code, out, err = self.ps(self.wrap("Get-Nothing\nWrite-Output 'not reached'"))
        self.assertEqual((code, out), (1, ''))

    def test_progress_record_on_module_load(self):
        io = Capture(self.server, "Get-CimInstance Win32_OperatingSystem | Out-Null\n")
        code = programs.powershell(io, ['-NoProfile', '-NonInteractive', '-Command', '-'])
        self.assertEqual(code, 0)
        self.assertTrue(io.err.startswith(b'#< CLIXML\r\n'))
        self.assertIn(b'Preparing modules for first use.', io.err)
        self.assertEqual(clixml_text(io.err), '')


class Hostile(Base):
    """Values certsync quotes must stay data.  PowerShell quoting: single
    quotes are literal and ' doubles; the typographic quotes \u2018 \u2019
    \u201a \u201b count as single quotes too and must be doubled as well."""

    NASTY = ["a'b", 'a"b', 'a$b', 'a`b', 'a\nb', '$(Remove-Item Cert:\\LocalMachine\\My\\X)', "x';Restart-Computer;'",
             'O\u2019Brien', '\u2018; Restart-Computer; \u2019', 'a\r\nRestart-Computer', '@(1)', '#comment',
             '`$(Restart-Computer)', "'@\nRestart-Computer\n@'"]

    @staticmethod
    def quote(s):
        for q in "'\u2018\u2019\u201a\u201b":
            s = s.replace(q, q + q)
        return "'" + s + "'"

    def test_quoted_values_are_inert(self):
        thumb = self.imported()
        for v in self.NASTY:
            out = self.ok("$v = %s\nWrite-Output ([Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($v)))" %
                          self.quote(v))
            self.assertEqual(base64.b64decode(out.strip()).decode('utf-8'), v.replace('\r\n', '\n'), repr(v))
        st = self.state()
        self.assertFalse(st['pending_reboot'])
        self.assertIsNotNone(H.find_cert(st, thumb))

    def test_hostile_site_name_is_just_a_wrong_site(self):
        thumb = self.imported()
        for v in self.NASTY:
            self.fails("New-IISSiteBinding -Name %s -BindingInformation '*:443:' -Protocol https "
                       "-CertificateThumbPrint '%s' -CertStoreLocation 'Cert:\\LocalMachine\\My'" % (self.quote(v), thumb),
                       'does not exist')
        st = self.state()
        self.assertFalse(st['pending_reboot'])
        self.assertEqual(st['httpsys']['sslcert'], [])

    def test_site_names_with_quotes_work(self):
        thumb = self.imported()
        name = "Bob's \"$site\" `1"
        self.edit_state(lambda st: st['iis']['sites'].append({'name': name, 'id': 2, 'state': 'Started',
                                                              'bindings': []}))
        self.ok("New-IISSiteBinding -Name %s -BindingInformation '*:8443:' -Protocol https "
                "-CertificateThumbPrint '%s' -CertStoreLocation 'Cert:\\LocalMachine\\My'" % (self.quote(name), thumb))
        self.assertEqual(self.state()['iis']['sites'][1]['bindings'][0]['certificateHash'], thumb)

    def test_naive_quoting_is_not_inert(self):
        # The interpreter really interprets: a value pasted in double quotes
        # runs its subexpression, and a typographic quote ends a '...' string.
        # (These are the mistakes the quoting function must not make.)
        thumb = self.imported()
        self.ps(self.wrap('$v = "$(Remove-Item Cert:\\LocalMachine\\My\\%s)"' % thumb))
        self.assertIsNone(H.find_cert(self.state(), thumb))
        code, out, err = self.ps(self.wrap("$v = 'O\u2019Brien'"))
        self.assertNotEqual(code, 0)


if __name__ == '__main__':
    sys.exit(common.tap_main([sys.modules[__name__]]))
