"""The third-party Debian client python3-winrm (pywinrm 0.3) against the
test server: HTTPS with Basic and NTLM (certificate validated against the
test CA), plain HTTP with NTLM sealing, a slow command that gets w:TimedOut
and still completes, stdin through a protocol-level Send, large output cut
to the envelope size, wrong passwords (401) and a host reboot."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if os.environ.get('OPENSSL_CONF') != os.path.join(HERE, 'openssl-legacy.cnf'):
    # ntlm-auth needs MD4 from hashlib: load OpenSSL's legacy provider
    # (decided at OpenSSL init, so restart this process with it).
    os.environ['OPENSSL_CONF'] = os.path.join(HERE, 'openssl-legacy.cnf')
    os.execv(sys.executable, [sys.executable] + sys.argv)

import base64  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

import common  # noqa: E402

try:
    import winrm  # noqa: E402
    import xmltodict  # noqa: E402
    from winrm.exceptions import InvalidCredentialsError  # noqa: E402
except ImportError:  # pragma: no cover
    winrm = None


@unittest.skipIf(winrm is None, 'python3-winrm is not installed (scripts/install-deps.sh)')
class PyWinRM(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = common.TempDir()
        cls.srv = common.ServerFixture(cls.d, reboot_downtime=2, reboot_delay=0.3)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.d.cleanup()

    def session(self, transport='ntlm', user='vagrant', password='vagrant', scheme='https', **kw):
        port = self.srv.https_port if scheme == 'https' else self.srv.http_port
        return winrm.Session('%s://127.0.0.1:%d/wsman' % (scheme, port), auth=(user, password),
                             transport=transport, server_cert_validation='validate',
                             ca_trust_path=self.srv.cert, **kw)

    def ps(self, session, script):
        """run_ps without pywinrm 0.3's CLIXML clean-up, which fails on Python 3
        (str/bytes) whenever stderr has CLIXML, e.g. module-loading progress."""
        enc = base64.b64encode(script.encode('utf-16-le')).decode('ascii')
        return session.run_cmd('powershell', ['-NoProfile', '-NonInteractive', '-EncodedCommand', enc])

    def test_https_basic_run_cmd(self):
        r = self.session('basic').run_cmd('echo', ['hello', 'basic'])
        self.assertEqual((r.status_code, r.std_out, r.std_err), (0, b'hello basic\r\n', b''))

    def test_https_ntlm_run_cmd_exit_code(self):
        r = self.session('ntlm').run_cmd('echo out && echo err>&2 && exit 3')
        self.assertEqual((r.status_code, r.std_out, r.std_err), (3, b'out \r\n', b'err \r\n'))

    def test_https_ntlm_domain_account(self):
        r = self.session('ntlm', user='CORP\\svc-certsync', password='S3cret!').run_cmd('whoami')
        self.assertEqual(r.std_out, b'corp\\svc-certsync\r\n')

    def test_https_run_ps_basic_and_ntlm(self):
        for t in ('basic', 'ntlm'):
            r = self.session(t).run_ps('$x = 20 + 22; Write-Output "answer $x"')
            self.assertEqual((r.status_code, r.std_out), (0, b'answer 42\r\n'), t)

    def test_http_ntlm_sealed(self):
        s = self.session('ntlm', scheme='http')
        r = s.run_cmd('echo', ['sealed'])
        self.assertEqual(r.std_out, b'sealed\r\n')
        self.assertIsNotNone(s.protocol.transport.encryption, 'pywinrm did not seal over HTTP')

    def test_http_basic_refused(self):
        with self.assertRaises(InvalidCredentialsError):
            self.session('basic', scheme='http').run_cmd('echo', ['x'])

    def test_wrong_password_401(self):
        for t in ('basic', 'ntlm'):
            with self.assertRaises(InvalidCredentialsError, msg=t):
                self.session(t, password='wrong').run_cmd('echo', ['x'])
        with self.assertRaises(InvalidCredentialsError):
            self.session('ntlm', user='nobody').run_cmd('echo', ['x'])

    def test_slow_command_times_out_then_completes(self):
        log = self.srv.cfg['log']
        before = open(log).read().count('fault w:TimedOut')
        s = self.session('ntlm', operation_timeout_sec=1, read_timeout_sec=5)
        t0 = time.monotonic()
        r = s.run_ps('Write-Output start; Start-Sleep -Seconds 3; Write-Output done')
        took = time.monotonic() - t0
        self.assertEqual((r.status_code, r.std_out), (0, b'start\r\ndone\r\n'))
        self.assertGreaterEqual(took, 2.9)
        after = open(log).read().count('fault w:TimedOut')
        self.assertGreaterEqual(after - before, 1, 'no w:TimedOut fault was sent')

    def test_stdin_through_send(self):
        s = self.session('ntlm')
        p = s.protocol
        shell = p.open_shell(codepage=65001)
        cid = p.run_command(shell, 'powershell', ['-NoProfile', '-NonInteractive', '-Command', '-'])
        script = ("$ErrorActionPreference = 'Stop'\r\n& {\r\n  $n = 'st\u00e4rk'\r\n"
                  "  Write-Output (\"from stdin: \" + $n)\r\n}\r\n\r\n")
        chunks = [script[:20], script[20:]]
        for i, chunk in enumerate(chunks):
            req = {'env:Envelope': p._get_soap_header(
                resource_uri='http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd',
                action='http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send', shell_id=shell)}
            stream = req['env:Envelope'].setdefault('env:Body', {}).setdefault('rsp:Send', {}).setdefault(
                'rsp:Stream', {})
            stream['@Name'] = 'stdin'
            stream['@CommandId'] = cid
            if i == len(chunks) - 1:
                stream['@End'] = 'true'
            stream['#text'] = base64.b64encode(chunk.encode('utf-8')).decode('ascii')
            p.send_message(xmltodict.unparse(req))
        out, err, code = p.get_command_output(shell, cid)
        p.cleanup_command(shell, cid)
        p.close_shell(shell)
        self.assertEqual((code, out.decode('utf-8'), err), (0, 'from stdin: st\u00e4rk\r\n', b''))

    def test_large_output_in_envelope_sized_pieces(self):
        s = self.session('basic')
        r = s.run_ps("Write-Output ('x' * 400000)")
        self.assertEqual(r.std_out, b'x' * 400000 + b'\r\n')
        # Every ReceiveResponse stayed under the client's MaxEnvelopeSize.
        client = common.RawClient(self.srv.https_port, self.srv.cert)
        try:
            status, body, _ = client.post(CREATE)
            shell = re.search(r'<rsp:ShellId>([^<]+)<', body).group(1)
            status, body, _ = client.post(COMMAND % (shell, 'powershell', "Write-Output ('y' * 300000)"))
            cid = re.search(r'<rsp:CommandId>([^<]+)<', body).group(1)
            sizes = []
            data = b''
            while True:
                status, body, _ = client.post(RECEIVE % (20000, shell, cid))
                if status == 500 and 'w:TimedOut' in body:
                    continue
                self.assertEqual(status, 200, body[:300])
                sizes.append(len(body.encode()))
                for m in re.finditer(r'<rsp:Stream Name="stdout"[^>]*>([^<]*)<', body):
                    data += base64.b64decode(m.group(1))
                if 'CommandState/Done' in body:
                    break
            self.assertEqual(data, b'y' * 300000 + b'\r\n')
            self.assertGreater(len(sizes), 10)
            self.assertLessEqual(max(sizes), 20000, sizes)
        finally:
            client.close()

    def test_zz_reboot(self):
        before = self.srv.state()
        r = self.ps(self.session('basic'),
                    "(Get-CimInstance Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o')")
        boot1 = r.std_out.strip()
        self.assertRegex(boot1.decode(), r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.0000000Z$')
        r = self.session('ntlm').run_cmd('powershell', ['-NoProfile', '-NonInteractive', '-Command',
                                                        'Restart-Computer -Force'])
        self.assertEqual(r.status_code, 0)
        refused = False
        for _ in range(40):
            time.sleep(0.1)
            try:
                socket.create_connection(('127.0.0.1', self.srv.https_port), timeout=1).close()
            except OSError:
                refused = True
                break
        self.assertTrue(refused, 'the host never went away')
        back = False
        for _ in range(100):
            time.sleep(0.1)
            try:
                socket.create_connection(('127.0.0.1', self.srv.https_port), timeout=1).close()
                back = True
                break
            except OSError:
                pass
        self.assertTrue(back, 'the host never came back')
        time.sleep(1.1)  # boot time has a one-second resolution
        r = self.ps(self.session('basic'),
                    "(Get-CimInstance Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o')")
        self.assertNotEqual(r.std_out.strip(), boot1)
        after = self.srv.state()
        self.assertEqual(after['reboot_count'], before['reboot_count'] + 1)


CREATE = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
          'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
          'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
          'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header>'
          '<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action>'
          '<a:MessageID>uuid:11111111-1111-1111-1111-111111111111</a:MessageID><a:To>x</a:To>'
          '<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>'
          '</s:Header><s:Body><rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>'
          '<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell></s:Body></s:Envelope>')
_HDR = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header>'
        '<a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/%s</a:Action>'
        '<a:MessageID>uuid:22222222-2222-2222-2222-222222222222</a:MessageID><a:To>x</a:To>'
        '<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>'
        '<w:SelectorSet><w:Selector Name="ShellId">%%s</w:Selector></w:SelectorSet>')
COMMAND = (_HDR % 'Command') + ('</s:Header><s:Body><rsp:CommandLine><rsp:Command>%s</rsp:Command>'
                                '<rsp:Arguments>%s</rsp:Arguments></rsp:CommandLine></s:Body></s:Envelope>')
RECEIVE = (_HDR % 'Receive').replace('<a:To>x</a:To>', '<a:To>x</a:To><w:MaxEnvelopeSize>%d</w:MaxEnvelopeSize>'
                                     '<w:OperationTimeout>PT5S</w:OperationTimeout>') + (
    '</s:Header><s:Body><rsp:Receive><rsp:DesiredStream CommandId="%s">stdout stderr</rsp:DesiredStream>'
    '</rsp:Receive></s:Body></s:Envelope>')


if __name__ == '__main__':
    sys.exit(common.tap_main([sys.modules[__name__]]))
