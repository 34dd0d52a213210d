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


class Raw(Base):
    """Runs where stderr may be plain text ([Console]::Error) as well as CLIXML."""

    def raw(self, script):
        io = Capture(self.server, script)
        code = programs.powershell(io, ['-NoProfile', '-NonInteractive', '-Command', '-'])
        err = io.err
        k = err.find(b'#< CLIXML\r\n')
        plain, clixml = (err, b'') if k < 0 else (err[:k], err[k:])
        return code, io.out.decode('utf-8'), plain.decode('utf-8') + clixml_text(clixml)

    def write(self, winpath, text):
        real = H.map_path(self.cfg['fs_root'], winpath, True)
        with open(real, 'w', encoding='utf-8') as fh:
            fh.write(text)


class Functions(Raw):
    """function definitions, calls, binding, return, exit inside functions."""

    def test_define_and_call(self):
        out = self.ok("function Add-Two([int] $a, [int] $b) { return $a + $b }\n"
                      "Add-Two 2 3\nAdd-Two -b 1 -a '4'\nAdd-Two -B:6 7")
        self.assertEqual(out, '5\r\n5\r\n13\r\n')

    def test_defined_when_the_statement_runs(self):
        self.fails("Too-Early\nfunction Too-Early { 'x' }", "The term 'Too-Early' is not recognized")

    def test_a_function_comes_before_a_cmdlet(self):
        self.assertEqual(self.ok("function Write-Host($o) { \"mine: $o\" }\nWrite-Host 'x'"), 'mine: x\r\n')

    def test_return_ends_the_function_with_its_output(self):
        out = self.ok("function f { 'a'; foreach ($x in 1, 2, 3) { $x; if ($x -eq 2) { return 'r' } }; 'never' }\n"
                      "$v = f\n$v -join ','\n"
                      "function g { for ($i = 0; ; $i++) { $i; if ($i -eq 1) { return } } }\n(g) -join ','\n"
                      "function h { $i = 0; while ($true) { $i; $i++; if ($i -gt 1) { return 'end' } } }\n(h) -join ','")
        self.assertEqual(out, 'a,1,2,r\r\n0,1\r\n0,1,end\r\n')

    def test_exit_inside_a_function_ends_the_whole_script(self):
        code, out, err = self.raw("& {\nfunction Fail([string] $m) {\n  [Console]::Error.WriteLine(\"x: $m\")\n"
                                  "  exit 3\n}\nWrite-Output 'before'\nif ($true) { Fail 'bad' }\n"
                                  "Write-Output 'after'\n}\nWrite-Output 'next line'\n\n")
        self.assertEqual((code, out), (3, 'before\r\n'))
        self.assertEqual(err, 'x: bad\r\n')

    def test_exit_inside_a_function_runs_finally_not_catch(self):
        code, out, err = self.raw("& {\nfunction Quit { exit 4 }\n"
                                  "try { try { Quit } catch { 'caught' } } finally { 'cleanup' }\n'after'\n}\n\n")
        self.assertEqual((code, out), (4, 'cleanup\r\n'))

    def test_simple_function_args(self):
        out = self.ok("function f($a) { \"a=$a args=$($args -join ',') n=$($args.Count)\" }\n"
                      "f 1 2 -x 3\nf\nf -a:5 6")
        self.assertEqual(out, 'a=1 args=2,-x,3 n=3\r\na= args= n=0\r\na=5 args=6 n=1\r\n')

    def test_advanced_refuses_unknown_named_parameter(self):
        self.fails("function g { [CmdletBinding()] param($a) \"a=$a\" }\ng -a 1 -b 2",
                   "A parameter cannot be found that matches parameter name 'b'")
        self.fails("function g { param([Parameter()] $a) $a }\ng -zz 1",
                   "A parameter cannot be found that matches parameter name 'zz'")

    def test_advanced_refuses_a_positional_left_over(self):
        self.fails("function g { param([Parameter()] $a) $a }\ng 1 2",
                   "A positional parameter cannot be found that accepts argument '2'")

    def test_advanced_takes_common_parameters(self):
        out = self.ok("function g { [CmdletBinding()] param($a) $ErrorActionPreference }\n"
                      "g -a 1 -ErrorAction SilentlyContinue\ng -Verbose")
        self.assertEqual(out, 'SilentlyContinue\r\nStop\r\n')

    def test_ambiguous_prefix(self):
        self.fails("function g($Name, $Number) { $Name }\ng -N 1", 'ambiguous. Possible matches include: -Name -Number')
        self.assertEqual(self.ok("function g($Name, $Number) { $Name }\ng -Na 1"), '1\r\n')

    def test_mandatory(self):
        f = "function h { param([Parameter(Mandatory = $true)] [string] $Name) \"hi $Name\" }\n"
        self.fails(f + "h", 'missing mandatory parameters: Name')
        self.fails(f + "h -Name ''", "Cannot bind argument to parameter 'Name' because it is an empty string")
        self.fails(f + "h -Name $null", "Cannot bind argument to parameter 'Name' because it is null")
        self.assertEqual(self.ok(f + "h -Name x\nh y"), 'hi x\r\nhi y\r\n')
        # [Parameter(Mandatory)] alone means $true; Mandatory = $false is optional
        self.fails("function m { param([Parameter(Mandatory)] $x) }\nm", 'missing mandatory parameters: x')
        self.assertEqual(self.ok("function m { param([Parameter(Mandatory = $false)] $x) 'ok' }\nm"), 'ok\r\n')

    def test_typed_parameters_convert_and_stay_typed(self):
        f = "function t([int] $n, [string] $s, [switch] $f) { \"$($n + 1) [$s] $f $($null -eq $s)\" }\n"
        self.assertEqual(self.ok(f + "t '41'\nt -f -n 1 -s x\nt -f:$false"),
                         '42 [] False False\r\n2 [x] True False\r\n1 [] False False\r\n')
        self.fails(f + "t abc", "Cannot process argument transformation on parameter 'n'. Cannot convert value "
                                "\"abc\" to type \"System.Int32\". Error: \"Input string was not in a correct format.\"")
        self.assertEqual(self.ok("function u([int] $n) { $n = '7'; $n + 1 }\nu 1"), '8\r\n')
        self.fails("function u([int] $n) { $n = 'x' }\nu 1", 'Cannot convert value "x" to type "System.Int32"')
        self.fails("function v([Nope.Type] $x) { }\nv 1", r'The type \[Nope.Type\] is not modelled')

    def test_securestring_parameter(self):
        f = "function s([System.Security.SecureString] $p) { $null -eq $p; $p -is [securestring] }\n"
        self.assertEqual(self.ok(f + "s (ConvertTo-SecureString 'x' -AsPlainText -Force)\ns"),
                         'False\r\nTrue\r\nTrue\r\nFalse\r\n')
        self.fails(f + "s 'plain'", "Cannot process argument transformation on parameter 'p'. Cannot convert the "
                                    "\"plain\" value of type \"System.String\" to type \"System.Security.SecureString\"")

    def test_defaults_and_bound_parameters(self):
        out = self.ok("function d($a = 1, $b = $a + 1) { \"$a $b [$($PSBoundParameters.Keys -join ',')]\" }\n"
                      "d\nd 5\nd -b 0")
        self.assertEqual(out, '1 2 []\r\n5 6 [a]\r\n1 0 [b]\r\n')

    def test_explicit_positions(self):
        out = self.ok("function p { param([Parameter(Position = 1)] $a, [Parameter(Position = 0)] $b, $c) "
                      "\"a=$a b=$b c=$c\" }\np 1 2\np 1 2 -c 3")
        self.assertEqual(out, 'a=2 b=1 c=\r\na=2 b=1 c=3\r\n')
        self.fails("function p { param([Parameter(Position = 0)] $a, $c) }\np 1 2",
                   "positional parameter cannot be found that accepts argument '2'")

    def test_dynamic_scope(self):
        out = self.ok("$v = 'outer'\nfunction show { $v }\nfunction inner { $v = 'inner'; show }\ninner\nshow\n"
                      "function set { $v = 'changed' }\nset\n$v")
        self.assertEqual(out, 'inner\r\nouter\r\nouter\r\n')

    def test_pipeline_input_is_input(self):
        self.assertEqual(self.ok("function sum { $t = 0; foreach ($i in $input) { $t += $i }; $t }\n1, 2, 3 | sum"),
                         '6\r\n')

    def test_script_block_parameters(self):
        out = self.ok("& { param($x, $y) \"$x-$y\" } 1 2\n"
                      "& { param($x) $args.Count } -x 1 2\n"
                      "& { $args -join ',' } -a 1 2\n"
                      "$sb = [scriptblock]::Create('param([Parameter(Mandatory = $true)] $n) \"n=$n\"')\n"
                      "& $sb -n 5")
        self.assertEqual(out, '1-2\r\n1\r\n-a,1,2\r\nn=5\r\n')
        self.fails("$sb = [scriptblock]::Create('param([Parameter(Mandatory = $true)] $n) $n')\n& $sb -m 1",
                   "A parameter cannot be found that matches parameter name 'm'")

    def test_param_block_rules(self):
        self.fails("Write-Output 1\nparam($x)", 'param block must come first')
        self.fails("function f { param([ValidateSet('a')] $x) }", r'attribute \[ValidateSet\] is not supported')
        self.fails("function f { param([Parameter(ValueFromPipeline = $true)] $x) }",
                   r"argument 'ValueFromPipeline' of \[Parameter\] is not supported")
        self.fails("function f($a) { param($b) }", 'both a parameter list and a param block')
        self.fails("function f($a, $a) { }", 'Duplicate parameter')
        self.fails("function f { [CmdletBinding()] Write-Output 1 }", "Missing")

    def test_multi_line_definition_on_stdin(self):
        code, out, err = self.ps("function f {\n  param($x)\n  \"got $x\"\n}\n\nf 1\n")
        self.assertEqual((code, out), (0, 'got 1\r\n'), err)


class WhileLoops(Base):
    def test_while(self):
        out = self.ok("$i = 0\nwhile ($i -lt 5) { $i++; if ($i -eq 2) { continue }; if ($i -eq 4) { break }; $i }\n"
                      "$x = while ($false) { 'never' }\n$null -eq $x")
        self.assertEqual(out, '1\r\n3\r\nTrue\r\n')

    def test_condition_from_a_property(self):
        self.assertEqual(self.ok("$a = @(1, 2, 3)\n$n = 0\nwhile ($a.Count -gt $n) { $n++ }\n$n"), '3\r\n')

    def test_syntax(self):
        self.fails("while $true { }", "Missing '\\(' after 'while'")
        self.fails("while ($true)", 'Missing statement body in while loop')


class ScriptFiles(Raw):
    """& C:\\path\\x.ps1: exit ends only the file."""

    def test_exit_ends_only_the_script_file(self):
        self.write('C:\\s1.ps1', "param([string] $Name)\nWrite-Output \"in $Name\"\nexit 3\nWrite-Output 'never'\n")
        code, out, err = self.raw("& 'C:\\s1.ps1' -Name n\nWrite-Output \"after $LASTEXITCODE $?\"\n")
        self.assertEqual((code, out, err), (0, 'in n\r\nafter 3 False\r\n', ''))

    def test_exit_in_a_function_of_a_script_file(self):
        self.write('C:\\s2.ps1', "function Fail($m) { [Console]::Error.WriteLine($m); exit 1 }\n"
                                 "try { Fail 'no' } finally { Write-Output 'cleanup' }\n")
        code, out, err = self.raw("& {\n$r = & 'C:\\s2.ps1'\n\"r=$r code=$LASTEXITCODE\"\n& 'C:\\s2.ps1'\n"
                                  "'still here'\n}\n\n")
        self.assertEqual((code, out), (0, 'r=cleanup code=1\r\ncleanup\r\nstill here\r\n'))
        self.assertEqual(err, 'no\r\nno\r\n')

    def test_exit_0_and_no_exit(self):
        self.write('C:\\s3.ps1', "exit 0\n")
        self.write('C:\\s4.ps1', "'done'\n")
        code, out, err = self.raw("$LASTEXITCODE = 9\n& 'C:\\s3.ps1'\n\"$LASTEXITCODE $?\"\n"
                                  "$LASTEXITCODE = 9\n& C:\\s4.ps1\n\"$LASTEXITCODE $?\"\n")
        self.assertEqual(out, '0 True\r\ndone\r\n9 True\r\n')

    def test_relative_path_and_parameters(self):
        self.write('C:\\Users\\svc-certsync\\s5.ps1', "param([Parameter(Mandatory = $true)] $x)\n\"x=$x\"\n")
        self.assertEqual(self.ok(".\\s5.ps1 -x 1\n& '.\\s5.ps1' 2"), 'x=1\r\nx=2\r\n')
        self.fails("s5.ps1 -x 1", "The term 's5.ps1' is not recognized")
        self.fails(".\\s5.ps1 -y 1", "A parameter cannot be found that matches parameter name 'y'")
        self.fails("& 'C:\\nope.ps1'", "The term 'C:\\\\nope.ps1' is not recognized")

    def test_script_block_exit_ends_powershell(self):
        # Not a file: exit leaves powershell.exe, through the caller's finally.
        code, out, err = self.raw("& {\ntry { & ([scriptblock]::Create('Write-Output in; exit 6')) } "
                                  "finally { 'cleanup' }\n'after'\n}\n\n")
        self.assertEqual((code, out), (6, 'in\r\ncleanup\r\n'))


class Bytes(Base):
    def test_new_object_byte_array_and_index_assignment(self):
        out = self.ok("$h = New-Object byte[] 4\n$h[1] = [Convert]::ToByte('ff', 16)\n$h[-1] = '7'\n"
                      "$h -is [byte[]]\n$h.Length\n($h | ForEach-Object { ([byte]$_).ToString('X2') }) -join ''")
        self.assertEqual(out, 'True\r\n4\r\n00FF0007\r\n')

    def test_index_and_value_errors(self):
        self.fails("$h = New-Object byte[] 2\n$h[2] = 1", 'Index was outside the bounds of the array.')
        self.fails("$a = 1, 2\n$a[-3] = 1", 'Index was outside the bounds of the array.')
        self.fails("$h = New-Object byte[] 2\n$h[0] = 256", 'Value was either too large or too small for an unsigned byte')
        self.fails("[byte]'x'", 'Cannot convert value "x" to type "System.Byte"')
        self.fails("$n = $null\n$n[0] = 1", 'Cannot index into a null array')

    def test_convert_to_byte(self):
        self.assertEqual(self.ok("[Convert]::ToByte('0A', 16)\n[Convert]::ToByte('11', 2)\n[Convert]::ToByte(7)"),
                         '10\r\n3\r\n7\r\n')
        self.fails("[Convert]::ToByte('zz', 16)", 'Could not find any recognizable digits')
        self.fails("[Convert]::ToByte('100', 16)", 'Value was either too large or too small for an unsigned byte')
        self.fails("[Convert]::ToByte('1', 3)", 'Invalid Base')

    def test_byte_arrays_enumerate(self):
        out = self.ok("$b = [Convert]::FromBase64String('AQID')\n$b -join ','\n"
                      "@($b | ForEach-Object { $_ * 2 }) -join ','\n$b -contains 3")
        self.assertEqual(out, '1,2,3\r\n2,4,6\r\nTrue\r\n')

    def test_new_object_limits(self):
        self.fails("New-Object System.Text.StringBuilder", 'not modelled by the certsync test host')
        self.fails("New-Object byte[]", 'Cannot find an appropriate constructor')
        self.fails("New-Object -ComObject Nope.Application", 'Class not registered')
        self.fails("New-Object -ComObject FPC.Root -TypeName x", 'Parameter set cannot be resolved')


class Strings(Base):
    def test_substring_checks_like_dotnet(self):
        self.assertEqual(self.ok("'abcdef'.Substring(2, 3)\n'abc'.Substring(3)\n'AbC'.ToUpperInvariant()"),
                         'cde\r\n\r\nABC\r\n')
        self.fails("'abc'.Substring(1, 5)", 'Index and length must refer to a location within the string')
        self.fails("'abc'.Substring(4)", 'startIndex cannot be larger than length of string')
        self.fails("'abc'.Substring(-1, 1)", 'StartIndex cannot be less than zero')

    def test_question_mark_is_part_of_a_variable_name(self):
        # Windows PowerShell's tokenizer: "$a?" is the variable a? (empty).
        out = self.ok("$a = 'x'\n\"[$a?]\"\n\"[$($a)?]\"\n\"[${a}?]\"\n\"${env:COMPUTERNAME}\"\n\"$env:COMPUTERNAME?\"")
        self.assertEqual(out, '[]\r\n[x?]\r\n[x?]\r\nSAPPHIRE\r\n\r\n')


TMG_STATE = {'installed': True, 'arrays': [{'name': 'COBALT', 'web_listeners': [
    {'name': 'OWA', 'applied_ssl_certificates': [{'hash': '11' * 20, 'ip_address': '192.0.2.10'},
                                                 {'hash': '11' * 20, 'ip_address': '192.0.2.11'}]},
    {'name': 'RPC', 'applied_ssl_certificates': [{'hash': '22' * 20, 'ip_address': ''}]}]}]}
NEW = 'AB' * 20


class Tmg(Raw):
    """The FPC.Root model: members, errors, edit-then-Save."""

    def setUp(self):
        super().setUp()
        import copy
        self.edit_state(lambda st: st.update({'tmg': copy.deepcopy(TMG_STATE), 'hostname': 'COBALT'}))
        self.server.machine = 'COBALT'      # $env:COMPUTERNAME

    def listeners(self):
        tmg = self.state()['tmg']
        return {l['name']: [(e['hash'], e['ip_address']) for e in l['applied_ssl_certificates']]
                for l in tmg['arrays'][0]['web_listeners']}, tmg.get('save_count', 0)

    ROOT = "$r = New-Object -ComObject FPC.Root\n$ls = $r.GetContainingArray().RuleElements.WebListeners\n"

    def test_not_installed(self):
        self.edit_state(lambda st: st['tmg'].update({'installed': False}))
        self.fails("New-Object -ComObject FPC.Root", 'Retrieving the COM class factory .* Class not registered')
        self.edit_state(lambda st: st.pop('tmg'))
        self.fails("New-Object -ComObject 'fpc.root'", 'Class not registered')

    def test_navigation_and_enumeration(self):
        out = self.ok(self.ROOT + "$ls.Count\nforeach ($l in $ls) { $l.Name }\n($ls | ForEach-Object { $_.Name }) -join ','\n"
                      "$ls.Item(2).Name\n$ls.Item('owa').Name\n$r.Arrays.Item(1).Name\n"
                      "$a = $ls.Item('OWA').Properties.AppliedSSLCertificates\n$a.Count\n"
                      "foreach ($e in $a) { $e.IPAddress + ' ' + [BitConverter]::ToString($e.SSLCertificate.Hash) }\n"
                      "$a.Item(1).SSLCertificate.Hash -is [byte[]]")
        self.assertEqual(out, '2\r\nOWA\r\nRPC\r\nOWA,RPC\r\nRPC\r\nOWA\r\nCOBALT\r\n2\r\n'
                              '192.0.2.10 %s\r\n192.0.2.11 %s\r\nTrue\r\n' % ((('11-' * 20)[:-1],) * 2))

    def test_edits_without_save_change_nothing(self):
        before = self.listeners()
        self.ok(self.ROOT + "$a = $ls.Item('OWA').Properties.AppliedSSLCertificates\n$a.Remove(1)\n"
                "$h = New-Object byte[] 20\n$e = $a.Add($h)\n$e.IPAddress = '10.0.0.1'\n$a.Count")
        self.assertEqual(self.listeners(), before)

    def test_edit_then_save(self):
        out = self.ok(self.ROOT + "$l = $ls.Item('OWA')\n$a = $l.Properties.AppliedSSLCertificates\n"
                      "while ($a.Count -gt 0) { $a.Remove(1) }\n"
                      "$h = New-Object byte[] 20\nfor ($i = 0; $i -lt 20; $i++) { $h[$i] = 0xAB }\n"
                      "$e = $a.Add($h)\n$e.IPAddress = '192.0.2.10'\n$null = $a.Add($h)\n$l.Save($false, $true)\n"
                      "$a.Count")
        self.assertEqual(out, '2\r\n')
        self.assertEqual(self.listeners(), ({'OWA': [(NEW, '192.0.2.10'), (NEW, '')],
                                             'RPC': [('22' * 20, '')]}, 1))

    def test_saving_a_listener_writes_only_that_listener(self):
        self.ok(self.ROOT + "$ls.Item('RPC').Properties.AppliedSSLCertificates.Remove(1)\n"
                "$ls.Item('OWA').Properties.AppliedSSLCertificates.Remove(1)\n$ls.Item('OWA').Save()")
        self.assertEqual(self.listeners(), ({'OWA': [('11' * 20, '192.0.2.11')], 'RPC': [('22' * 20, '')]}, 1))
        self.ok(self.ROOT + "$ls.Item('RPC').Properties.AppliedSSLCertificates.Remove(1)\n$r.GetContainingArray().Save()")
        self.assertEqual(self.listeners(), ({'OWA': [('11' * 20, '192.0.2.11')], 'RPC': []}, 2))

    def test_each_root_has_its_own_copy(self):
        out = self.ok(self.ROOT + "$r2 = New-Object -ComObject FPC.Root\n"
                      "$ls.Item('OWA').Properties.AppliedSSLCertificates.Remove(1)\n"
                      "$r2.GetContainingArray().RuleElements.WebListeners.Item('OWA').Properties.AppliedSSLCertificates.Count")
        self.assertEqual(out, '2\r\n')

    def test_errors(self):
        cases = [
            ("$ls.Item('Nope')", 'Exception calling "Item" with "1" argument\\(s\\): "The system cannot find the file '
                                 'specified. \\(Exception from HRESULT: 0x80070002\\)"'),
            ("$ls.Item(3)", 'The parameter is incorrect. \\(Exception from HRESULT: 0x80070057 \\(E_INVALIDARG\\)\\)'),
            ("$ls.Item()", 'Invalid number of parameters. \\(Exception from HRESULT: 0x8002000E \\(DISP_E_BADPARAMCOUNT\\)\\)'),
            ("$ls.Item('OWA').Properties.AppliedSSLCertificates.Remove(3)", 'E_INVALIDARG'),
            ("$ls.Item('OWA').Properties.AppliedSSLCertificates.Remove('x')", 'DISP_E_TYPEMISMATCH'),
            ("$ls.Item('OWA').Properties.AppliedSSLCertificates.Add('AB' * 20)", 'Exception calling "Add" .*E_INVALIDARG'),
            ("$ls.Item('OWA').Properties.AppliedSSLCertificates.Add((New-Object byte[] 19))", 'E_INVALIDARG'),
            ("$ls.Item('OWA').Properties.AppliedSSLCertificates.Item(1).IPAddress = 'x.y'",
             'Exception setting "IPAddress"'),
            ("$ls.Item('OWA').Name = 'x'", "'Name' is a ReadOnly property"),
            ("$ls.Item('OWA').Hash", "The property 'Hash' cannot be found on this object"),
            ("$ls.Item('OWA').Properties.AppliedSSLCertificates.Item(1).Hash", "property 'Hash' cannot be found"),
            ("$ls.Item('OWA').Nope = 1", "The property 'Nope' cannot be found on this object"),
            ("$ls.Item('OWA').Delete()", "does not contain a method named 'Delete'"),
            ("$ls.Item('OWA').Save(1, 2, 3)", 'DISP_E_BADPARAMCOUNT'),
            ("$ls.Item('OWA').Save('yes')", 'DISP_E_TYPEMISMATCH'),
        ]
        for expr, pattern in cases:
            self.fails(self.ROOT + expr, pattern)
        out = self.ok(self.ROOT + "try { $ls.Item('Nope') } catch { 'caught: ' + $_.Exception.Message }")
        self.assertIn('caught: Exception calling "Item"', out)
        self.assertEqual(self.listeners()[1], 0)


TMG_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(common.WINRM)), 'examples', 'iis-exchange-isa',
                          'tmg-listener.ps1')
THUMB = 'AABBCCDDEEFF00112233445566778899AABBCCDD'


class ShippedTmgScript(Tmg):
    """examples/iis-exchange-isa/tmg-listener.ps1 as certsync runs it: a
    script block made from its text, given -Thumbprint, -PfxPath,
    -PfxPassword and -Listener."""

    def setUp(self):
        super().setUp()
        self.edit_state(lambda st: st['store']['My'].extend([
            {'thumbprint': THUMB, 'subject': 'CN=mail.example.org', 'issuer': 'CN=CA', 'serial': '01',
             'not_before': '2026-01-01T00:00:00Z', 'not_after': '2027-03-04T00:00:00Z', 'dns_names': [],
             'has_private_key': True, 'exportable': True},
            {'thumbprint': 'CC' * 20, 'subject': 'CN=nokey', 'issuer': 'CN=CA', 'serial': '02',
             'not_before': '2026-01-01T00:00:00Z', 'not_after': '2027-03-04T00:00:00Z', 'dns_names': [],
             'has_private_key': False, 'exportable': False}]))

    def run_script(self, thumb, listener='OWA', extra=''):
        with open(TMG_SCRIPT, encoding='utf-8') as fh:
            text = fh.read()
        self.write('C:\\tmg-listener.ps1', text)
        return self.raw("& {\n$pw = ConvertTo-SecureString -String 'p' -AsPlainText -Force\n"
                        "& ([scriptblock]::Create([IO.File]::ReadAllText('C:\\tmg-listener.ps1'))) -Thumbprint %s "
                        "-PfxPath 'C:\\x.pfx' -PfxPassword $pw -Listener %s%s\n}\n\n" % (
                            "'" + thumb + "'", "'" + listener + "'", extra))

    def test_sets_the_certificate_keeping_each_ip(self):
        code, out, err = self.run_script(THUMB.lower()[:20] + ' ' + THUMB.lower()[20:])
        self.assertEqual((code, err), (0, ''), out)
        self.assertEqual(out, "web listener 'OWA' now uses certificate %s (CN=mail.example.org, expires 2027-03-04)\r\n"
                         % THUMB)
        self.assertEqual(self.listeners(), ({'OWA': [(THUMB, '192.0.2.10'), (THUMB, '192.0.2.11')],
                                             'RPC': [('22' * 20, '')]}, 1))
        code, out, err = self.run_script(THUMB)
        self.assertEqual((code, out), (0, "web listener 'OWA' already uses certificate %s\r\n" % THUMB))
        self.assertEqual(self.listeners()[1], 1, 'no second Save')

    def test_a_listener_without_entries_gets_one(self):
        code, out, err = self.run_script(THUMB, 'RPC')
        self.edit_state(lambda st: st['tmg']['arrays'][0]['web_listeners'][1].update({'applied_ssl_certificates': []}))
        code, out, err = self.run_script(THUMB, 'RPC')
        self.assertEqual(code, 0, err)
        self.assertEqual(self.listeners()[0]['RPC'], [(THUMB, '')])

    def test_wrong_listener(self):
        code, out, err = self.run_script(THUMB, 'OWX')
        self.assertEqual((code, out), (1, ''))
        self.assertEqual(err, "tmg-listener: web listener 'OWX' does not exist (listeners: OWA, RPC)\r\n")
        self.assertEqual(self.listeners(), ({'OWA': [('11' * 20, '192.0.2.10'), ('11' * 20, '192.0.2.11')],
                                             'RPC': [('22' * 20, '')]}, 0))

    def test_certificate_checks_come_first(self):
        for thumb, msg in [('DD' * 20, 'certificate %s is not in LocalMachine\\My on COBALT' % ('DD' * 20)),
                           ('CC' * 20, 'certificate %s in LocalMachine\\My has no private key' % ('CC' * 20)),
                           ('ABC', "thumbprint 'ABC' is not 40 hex digits")]:
            self.edit_state(lambda st: st['tmg'].update({'installed': False}))   # never reached
            code, out, err = self.run_script(thumb)
            self.assertEqual(code, 1)
            self.assertTrue(err.startswith('tmg-listener: ' + msg), err)

    def test_not_installed_names_the_host(self):
        self.edit_state(lambda st: st['tmg'].update({'installed': False}))
        code, out, err = self.run_script(THUMB)
        self.assertEqual(code, 1)
        self.assertTrue(err.startswith('tmg-listener: cannot create FPC.Root: is ISA Server or Forefront TMG '
                                       'installed on COBALT? (Retrieving the COM class factory'), err)

    def test_parameters_are_checked(self):
        code, out, err = self.run_script(THUMB, extra=' -Site x')
        self.assertEqual(code, 1)
        self.assertIn("A parameter cannot be found that matches parameter name 'Site'", err)
        code, out, err = self.raw("& {\n& ([scriptblock]::Create([IO.File]::ReadAllText('C:\\tmg-listener.ps1'))) "
                                  "-Thumbprint '%s'\n}\n\n" % THUMB)
        self.assertEqual(code, 1)
        self.assertIn('missing mandatory parameters: Listener', err)
        self.assertEqual(self.listeners()[1], 0)


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
