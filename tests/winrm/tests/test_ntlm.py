"""NTLM server side: MD4/RC4 against published vectors, and the exchange
against the ntlm-auth client (python3-ntlm-auth, a python3-winrm
dependency): right password accepted, wrong one, tampered MIC, wrong
channel binding and tampered sealed messages refused."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if os.environ.get('OPENSSL_CONF') != os.path.join(HERE, 'openssl-legacy.cnf'):
    os.environ['OPENSSL_CONF'] = os.path.join(HERE, 'openssl-legacy.cnf')
    os.execv(sys.executable, [sys.executable] + sys.argv)

import base64  # noqa: E402
import hashlib  # noqa: E402
import unittest  # noqa: E402

import common  # noqa: E402
import ntlm as N  # noqa: E402

try:
    from ntlm_auth import ntlm as client  # noqa: E402
except ImportError:  # pragma: no cover
    client = None


class Primitives(unittest.TestCase):
    def test_md4_rfc1320(self):
        vectors = {b'': '31d6cfe0d16ae931b73c59d7e0c089c0', b'a': 'bde52cb31de33e46245e05fbdbd6fb24',
                   b'abc': 'a448017aaf21d8525fc10ae87aa6729d',
                   b'message digest': 'd9130a8164549fe818874806e1c7014b',
                   b'abcdefghijklmnopqrstuvwxyz': 'd79e1c308aa5bbcdeea8ed63df412da9',
                   b'1234567890' * 8: 'e33b4ddc9c38f2199c3e7b164fcc0536'}
        for data, want in vectors.items():
            self.assertEqual(N.md4(data).hex(), want, data)

    def test_nt_hash_ms_nlmp(self):
        # MS-NLMP 4.2.1: the password "Password".
        self.assertEqual(N.nt_hash('Password').hex(), 'a4f49c406510bdcab6824ee7c30fd852')

    def test_rc4(self):
        self.assertEqual(N.RC4(b'Key').update(b'Plaintext').hex(), 'bbf316e8d940af0ad3')
        self.assertEqual(N.RC4(b'Secret').update(b'Attack at dawn').hex(), '45a01f645fc35b383552544b9bf5')


@unittest.skipIf(client is None, 'python3-ntlm-auth is not installed')
class Exchange(unittest.TestCase):
    def handshake(self, password, cert_der=None, cbt_cert=None):
        srv = N.ServerContext('SAPPHIRE', 'CORP', lambda u, d: 'Passw0rd!' if u.lower() == 'svc' else None,
                              cert_der)
        c = client.Ntlm()
        chal = srv.handle_negotiate(base64.b64decode(c.create_negotiate_message('CORP')))
        c.parse_challenge_message(base64.b64encode(chal))
        cbt = None
        if cbt_cert is not None:
            cbt = hashlib.sha256(cbt_cert).digest()
        auth = base64.b64decode(c.create_authenticate_message('svc', password, 'CORP',
                                                              server_certificate_hash=cbt.hex().upper() if cbt else None))
        return srv, c, auth

    def test_right_password(self):
        srv, c, auth = self.handshake('Passw0rd!')
        self.assertEqual(srv.handle_authenticate(auth), 'CORP\\svc')
        sealed, sig = c.session_security.wrap(b'<s:Envelope/>')
        self.assertEqual(srv.session.unwrap(sealed, sig), b'<s:Envelope/>')
        back, sig2 = srv.session.wrap(b'reply')
        self.assertEqual(c.session_security.unwrap(back, sig2), b'reply')

    def test_wrong_password(self):
        srv, c, auth = self.handshake('passw0rd!')
        with self.assertRaises(N.NtlmError):
            srv.handle_authenticate(auth)

    def test_tampered_mic(self):
        srv, c, auth = self.handshake('Passw0rd!')
        bad = auth[:72] + bytes([auth[72] ^ 1]) + auth[73:]
        with self.assertRaises(N.NtlmError):
            srv.handle_authenticate(bad)

    def test_channel_binding(self):
        d = common.TempDir()
        try:
            with open(common.make_server_cert(d)[0]) as fh:
                der = base64.b64decode(''.join(fh.read().split('-----')[2].split()))
        finally:
            d.cleanup()
        srv, c, auth = self.handshake('Passw0rd!', cert_der=der, cbt_cert=der)
        self.assertEqual(srv.handle_authenticate(auth), 'CORP\\svc')
        srv, c, auth = self.handshake('Passw0rd!', cert_der=der, cbt_cert=der + b'x')
        with self.assertRaises(N.NtlmError):
            srv.handle_authenticate(auth)

    def test_tampered_sealed_message(self):
        srv, c, auth = self.handshake('Passw0rd!')
        srv.handle_authenticate(auth)
        sealed, sig = c.session_security.wrap(b'<s:Envelope/>')
        with self.assertRaises(N.NtlmError):
            srv.session.unwrap(sealed[:-1] + bytes([sealed[-1] ^ 1]), sig)


if __name__ == '__main__':
    sys.exit(common.tap_main([sys.modules[__name__]]))
