"""HTTP authentication of the WinRM service: Basic and NTLM (raw NTLMSSP
under the "Negotiate" scheme as Windows advertises it, or under "NTLM"),
connection-based like http.sys, plus the NTLM-sealed multipart/encrypted
bodies WinRM uses over plain HTTP."""

import base64
import re
import struct

import ntlm

PROTOCOL = 'application/HTTP-SPNEGO-session-encrypted'
BOUNDARY = b'--Encrypted Boundary'


class Decision:
    def __init__(self, status, headers=(), body=b'', user=None, close=False):
        self.status = status
        self.headers = list(headers)
        self.body = body
        self.user = user
        self.close = close


def find_user(users, name, domain, machine):
    """The configured password for name (and domain), or None."""
    name_l = name.lower()
    dom_l = (domain or '').lower()
    for key, pw in users.items():
        kdom, _, kuser = key.rpartition('\\')
        if kuser.lower() != name_l:
            continue
        if kdom:
            if dom_l and dom_l != kdom.lower() and dom_l.split('.')[0] != kdom.lower():
                continue
        else:
            # A local account: no domain, ".", or the machine's own name.
            if dom_l not in ('', '.', machine.lower()):
                continue
        return pw
    return None


class ConnectionAuth:
    def __init__(self, server, scheme, cert_der):
        self.server = server
        self.scheme = scheme          # 'http' | 'https'
        self.cert_der = cert_der
        self.user = None              # set once the connection authenticated
        self.method = None
        self.ctx = None
        self.auth_scheme = None       # 'Negotiate' | 'NTLM'
        self.encrypting = False

    def challenge_headers(self):
        hdrs = []
        allowed = self.server.config.get('auth', [])
        if 'ntlm' in allowed:
            hdrs.append(('WWW-Authenticate', 'Negotiate'))
        if 'basic' in allowed:
            hdrs.append(('WWW-Authenticate', 'Basic realm="WSMAN"'))
        return hdrs

    def deny(self, close=False):
        return Decision(401, self.challenge_headers(), close=close)

    def check(self, headers, body):
        cfg = self.server.config
        authz = headers.get('Authorization')
        ctype = headers.get('Content-Type', '')
        if authz:
            scheme, _, token = authz.strip().partition(' ')
            scheme_l = scheme.lower()
            token = token.strip()
            if scheme_l == 'basic' and 'basic' in cfg.get('auth', []):
                return self._basic(token, body)
            if scheme_l in ('negotiate', 'ntlm') and 'ntlm' in cfg.get('auth', []):
                return self._ntlm(scheme, token, body, ctype)
            return self.deny()
        if self.user is None:
            return self.deny()
        return self._authorised_body(body, ctype)

    def _basic(self, token, body):
        cfg = self.server.config
        try:
            raw = base64.b64decode(token, validate=True).decode('utf-8')
        except (ValueError, UnicodeDecodeError):
            return self.deny()
        name, sep, pw = raw.partition(':')
        if not sep:
            return self.deny()
        domain, _, user = name.rpartition('\\')
        want = find_user(cfg['users'], user, domain, self.server.machine)
        if want is None or want != pw:
            return self.deny()
        if self.scheme == 'http' and not cfg.get('allow_unencrypted'):
            # AllowUnencrypted=false: Basic would send the body in clear.
            return self.deny()
        self.user = user if not domain or domain == '.' else name
        self.method = 'basic'
        return Decision(200, body=body, user=self.user)

    def _ntlm(self, scheme, token, body, ctype):
        try:
            msg = base64.b64decode(token, validate=True)
        except ValueError:
            return self.deny()
        if len(msg) < 12 or msg[:8] != ntlm.SIGNATURE:
            # SPNEGO-wrapped tokens (Kerberos) are not offered here.
            return self.deny()
        mtype = struct.unpack_from('<I', msg, 8)[0]
        if mtype == 1:
            self.user = None
            self.ctx = ntlm.ServerContext(
                self.server.machine, self.server.config.get('domain', 'CORP'),
                lambda u, d: find_user(self.server.config['users'], u, d, self.server.machine),
                self.cert_der)
            try:
                chal = self.ctx.handle_negotiate(msg)
            except ntlm.NtlmError:
                return self.deny()
            self.auth_scheme = scheme
            return Decision(401, [('WWW-Authenticate', '%s %s' % (
                scheme, base64.b64encode(chal).decode('ascii')))])
        if mtype == 3 and self.ctx is not None:
            try:
                self.user = self.ctx.handle_authenticate(msg)
            except ntlm.NtlmError as exc:
                self.server_log('ntlm: %s' % exc)
                self.ctx = None
                return self.deny()
            self.method = 'ntlm'
            return self._authorised_body(body, ctype)
        return self.deny()

    def server_log(self, text):
        self.server.log('%s', text)

    def _authorised_body(self, body, ctype):
        if ctype.lower().startswith('multipart/encrypted'):
            if self.method != 'ntlm' or self.ctx is None or self.ctx.session is None:
                return Decision(400)
            if PROTOCOL.lower() not in ctype.lower():
                return Decision(400)
            try:
                plain = self.unseal(body)
            except (ntlm.NtlmError, ValueError) as exc:
                self.server_log('unseal: %s' % exc)
                return Decision(400)
            self.encrypting = True
            return Decision(200, body=plain, user=self.user)
        if body and self.scheme == 'http' and not self.server.config.get('allow_unencrypted'):
            # An unencrypted body on plain HTTP is refused (AllowUnencrypted=false).
            return Decision(401, self.challenge_headers())
        self.encrypting = False
        return Decision(200, body=body, user=self.user)

    def unseal(self, body):
        parts = body.split(BOUNDARY)
        # ['', header part, payload part, '--\r\n']
        if len(parts) < 4:
            raise ValueError('not a multipart/encrypted body')
        head, payload = parts[1], parts[2]
        m = re.search(rb'Length=(\d+)', head)
        if not m:
            raise ValueError('no OriginalContent length')
        want = int(m.group(1))
        pfx = b'\r\n\tContent-Type: application/octet-stream\r\n'
        if not payload.startswith(pfx):
            raise ValueError('no octet-stream part')
        data = payload[len(pfx):]
        siglen = struct.unpack('<I', data[:4])[0]
        sig, sealed = data[4:4 + siglen], data[4 + siglen:]
        plain = self.ctx.session.unwrap(sealed, sig)
        if len(plain) != want:
            raise ValueError('length mismatch')
        return plain

    def wrap(self, data):
        """(content type, body) for an encrypted response, or None."""
        if not self.encrypting:
            return None
        sealed, sig = self.ctx.session.wrap(data)
        body = (BOUNDARY + b'\r\n\tContent-Type: ' + PROTOCOL.encode() + b'\r\n'
                b'\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=' +
                str(len(data)).encode() + b'\r\n' + BOUNDARY +
                b'\r\n\tContent-Type: application/octet-stream\r\n' +
                struct.pack('<I', len(sig)) + sig + sealed + BOUNDARY + b'--\r\n')
        return ('multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"' % PROTOCOL, body)
