"""NTLM, server side (MS-NLMP): NEGOTIATE -> CHALLENGE -> AUTHENTICATE with
NTLMv2 verification against a configured password, MIC and channel-binding
checks, and the session security (sealing/signing) WinRM uses on plain
HTTP.  MD4 and RC4 are implemented here: OpenSSL 3 no longer offers MD4
through hashlib."""

import hashlib
import hmac
import os
import struct
import time

SIGNATURE = b'NTLMSSP\x00'

NEG_UNICODE = 0x00000001
NEG_OEM = 0x00000002
REQUEST_TARGET = 0x00000004
NEG_SIGN = 0x00000010
NEG_SEAL = 0x00000020
NEG_NTLM = 0x00000200
NEG_ALWAYS_SIGN = 0x00008000
TARGET_TYPE_DOMAIN = 0x00010000
NEG_EXTENDED_SESSIONSECURITY = 0x00080000
NEG_TARGET_INFO = 0x00800000
NEG_VERSION = 0x02000000
NEG_128 = 0x20000000
NEG_KEY_EXCH = 0x40000000
NEG_56 = 0x80000000

AV_EOL, AV_NB_COMPUTER, AV_NB_DOMAIN, AV_DNS_COMPUTER, AV_DNS_DOMAIN = 0, 1, 2, 3, 4
AV_FLAGS, AV_TIMESTAMP, AV_CHANNEL_BINDINGS = 6, 7, 10


# -- MD4 (RFC 1320) -----------------------------------------------------------
def _rol(x, n):
    x &= 0xFFFFFFFF
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def md4(data):
    msg = bytearray(data)
    bitlen = (8 * len(data)) & 0xFFFFFFFFFFFFFFFF
    msg.append(0x80)
    while len(msg) % 64 != 56:
        msg.append(0)
    msg += struct.pack('<Q', bitlen)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    F = lambda x, y, z: (x & y) | (~x & z)  # noqa: E731
    G = lambda x, y, z: (x & y) | (x & z) | (y & z)  # noqa: E731
    H = lambda x, y, z: x ^ y ^ z  # noqa: E731
    for off in range(0, len(msg), 64):
        X = struct.unpack('<16I', bytes(msg[off:off + 64]))
        aa, bb, cc, dd = a, b, c, d
        for i in (0, 4, 8, 12):
            a = _rol(a + F(b, c, d) + X[i], 3)
            d = _rol(d + F(a, b, c) + X[i + 1], 7)
            c = _rol(c + F(d, a, b) + X[i + 2], 11)
            b = _rol(b + F(c, d, a) + X[i + 3], 19)
        for i in (0, 1, 2, 3):
            a = _rol(a + G(b, c, d) + X[i] + 0x5A827999, 3)
            d = _rol(d + G(a, b, c) + X[i + 4] + 0x5A827999, 5)
            c = _rol(c + G(d, a, b) + X[i + 8] + 0x5A827999, 9)
            b = _rol(b + G(c, d, a) + X[i + 12] + 0x5A827999, 13)
        for i in (0, 2, 1, 3):
            a = _rol(a + H(b, c, d) + X[i] + 0x6ED9EBA1, 3)
            d = _rol(d + H(a, b, c) + X[i + 8] + 0x6ED9EBA1, 9)
            c = _rol(c + H(d, a, b) + X[i + 4] + 0x6ED9EBA1, 11)
            b = _rol(b + H(c, d, a) + X[i + 12] + 0x6ED9EBA1, 15)
        a = (a + aa) & 0xFFFFFFFF
        b = (b + bb) & 0xFFFFFFFF
        c = (c + cc) & 0xFFFFFFFF
        d = (d + dd) & 0xFFFFFFFF
    return struct.pack('<4I', a, b, c, d)


class RC4:
    def __init__(self, key):
        s = list(range(256))
        j = 0
        for i in range(256):
            j = (j + s[i] + key[i % len(key)]) & 0xFF
            s[i], s[j] = s[j], s[i]
        self.s, self.i, self.j = s, 0, 0

    def update(self, data):
        s, i, j = self.s, self.i, self.j
        out = bytearray(len(data))
        for n, byte in enumerate(data):
            i = (i + 1) & 0xFF
            j = (j + s[i]) & 0xFF
            s[i], s[j] = s[j], s[i]
            out[n] = byte ^ s[(s[i] + s[j]) & 0xFF]
        self.i, self.j = i, j
        return bytes(out)


def hmac_md5(key, data):
    return hmac.new(key, data, hashlib.md5).digest()


def nt_hash(password):
    return md4(password.encode('utf-16-le'))


class NtlmError(Exception):
    pass


def _field(msg, off):
    ln, _maxln, start = struct.unpack_from('<HHI', msg, off)
    if ln and start + ln > len(msg):
        raise NtlmError('field out of range')
    return msg[start:start + ln]


def parse_av_pairs(data):
    pairs = []
    pos = 0
    while pos + 4 <= len(data):
        av_id, ln = struct.unpack_from('<HH', data, pos)
        pos += 4
        if av_id == AV_EOL:
            break
        pairs.append((av_id, data[pos:pos + ln]))
        pos += ln
    return pairs


def channel_binding_hash(cert_der):
    """MD5 of gss_channel_bindings_struct with tls-server-end-point data."""
    if cert_der is None:
        return None
    algo = hashlib.sha256
    try:  # RFC 5929: the certificate's signature hash, sha256 for md5/sha1
        import subprocess
        txt = subprocess.run(['openssl', 'x509', '-inform', 'DER', '-noout', '-text'],
                             input=cert_der, capture_output=True, timeout=10).stdout.decode('ascii', 'replace')
        for line in txt.splitlines():
            line = line.strip().lower()
            if line.startswith('signature algorithm:'):
                if 'sha384' in line:
                    algo = hashlib.sha384
                elif 'sha512' in line:
                    algo = hashlib.sha512
                break
    except (OSError, ValueError):
        pass
    app = b'tls-server-end-point:' + algo(cert_der).digest()
    struct_ = struct.pack('<IIIII', 0, 0, 0, 0, len(app)) + app
    return hashlib.md5(struct_).digest()


class SessionSecurity:
    """Sealing/signing after authentication (NTLMv2, extended session security)."""

    def __init__(self, flags, exported_key):
        def key(magic):
            return hashlib.md5(exported_key + magic).digest()
        self.flags = flags
        self.client_sign = key(b'session key to client-to-server signing key magic constant\x00')
        self.server_sign = key(b'session key to server-to-client signing key magic constant\x00')
        self.client_seal = RC4(key(b'session key to client-to-server sealing key magic constant\x00'))
        self.server_seal = RC4(key(b'session key to server-to-client sealing key magic constant\x00'))
        self.in_seq = 0
        self.out_seq = 0

    def unwrap(self, sealed, signature):
        if len(signature) != 16:
            raise NtlmError('bad signature length')
        plain = self.client_seal.update(sealed)
        version, enc_checksum, seq = struct.unpack('<I8sI', signature)
        checksum = hmac_md5(self.client_sign, struct.pack('<I', self.in_seq) + plain)[:8]
        if self.flags & NEG_KEY_EXCH:
            checksum = self.client_seal.update(checksum)
        if version != 1 or seq != self.in_seq or not hmac.compare_digest(checksum, enc_checksum):
            raise NtlmError('message signature does not verify')
        self.in_seq += 1
        return plain

    def wrap(self, plain):
        sealed = self.server_seal.update(plain)
        checksum = hmac_md5(self.server_sign, struct.pack('<I', self.out_seq) + plain)[:8]
        if self.flags & NEG_KEY_EXCH:
            checksum = self.server_seal.update(checksum)
        sig = struct.pack('<I8sI', 1, checksum, self.out_seq)
        self.out_seq += 1
        return sealed, sig


class ServerContext:
    """One NTLM exchange on one connection."""

    def __init__(self, computer, domain, lookup_password, cert_der=None):
        self.computer = computer.upper()
        self.domain = domain.upper()
        self.lookup_password = lookup_password   # (user, domain) -> password|None
        self.cert_der = cert_der
        self.negotiate = None
        self.challenge = None
        self.server_challenge = None
        self.flags = 0
        self.user = None
        self.session = None

    def handle_negotiate(self, msg):
        if len(msg) < 16 or msg[:8] != SIGNATURE or struct.unpack_from('<I', msg, 8)[0] != 1:
            raise NtlmError('not an NTLM NEGOTIATE message')
        cflags = struct.unpack_from('<I', msg, 12)[0]
        # Unicode is chosen even when the client offers only OEM (as
        # ntlm-auth does): Windows answers the same way.
        supported = (NEG_UNICODE | REQUEST_TARGET | NEG_SIGN | NEG_SEAL | NEG_NTLM |
                     NEG_ALWAYS_SIGN | NEG_EXTENDED_SESSIONSECURITY | NEG_VERSION |
                     NEG_128 | NEG_KEY_EXCH | NEG_56)
        flags = (cflags & supported) | NEG_TARGET_INFO | TARGET_TYPE_DOMAIN | NEG_UNICODE | NEG_NTLM
        self.flags = flags
        self.negotiate = bytes(msg)
        self.server_challenge = os.urandom(8)
        target = self.domain.encode('utf-16-le')
        ft = int((time.time() + 11644473600) * 10000000)
        av = b''
        for av_id, val in ((AV_NB_DOMAIN, self.domain), (AV_NB_COMPUTER, self.computer),
                           (AV_DNS_DOMAIN, self.domain.lower() + '.test'),
                           (AV_DNS_COMPUTER, self.computer.lower() + '.' + self.domain.lower() + '.test')):
            v = val.encode('utf-16-le')
            av += struct.pack('<HH', av_id, len(v)) + v
        av += struct.pack('<HHQ', AV_TIMESTAMP, 8, ft) + struct.pack('<HH', AV_EOL, 0)
        head_len = 56
        version = struct.pack('<BBHBBBB', 10, 0, 17763, 0, 0, 0, 15)
        msg2 = (SIGNATURE + struct.pack('<I', 2) +
                struct.pack('<HHI', len(target), len(target), head_len) +
                struct.pack('<I', flags) + self.server_challenge + b'\x00' * 8 +
                struct.pack('<HHI', len(av), len(av), head_len + len(target)) +
                version + target + av)
        self.challenge = msg2
        return msg2

    def handle_authenticate(self, msg):
        """Verify; return the account name on success, raise NtlmError otherwise."""
        if self.challenge is None:
            raise NtlmError('AUTHENTICATE without a CHALLENGE')
        if len(msg) < 64 or msg[:8] != SIGNATURE or struct.unpack_from('<I', msg, 8)[0] != 3:
            raise NtlmError('not an NTLM AUTHENTICATE message')
        nt_resp = _field(msg, 20)
        domain = _field(msg, 28).decode('utf-16-le', 'replace')
        user = _field(msg, 36).decode('utf-16-le', 'replace')
        enc_key = _field(msg, 52)
        flags = struct.unpack_from('<I', msg, 60)[0]
        if len(nt_resp) <= 24:
            raise NtlmError('NTLMv1 responses are refused (LmCompatibilityLevel 5)')
        password = self.lookup_password(user, domain)
        if password is None:
            raise NtlmError('unknown user %r' % user)
        proof, temp = nt_resp[:16], nt_resp[16:]
        key_nt = hmac_md5(nt_hash(password), (user.upper() + domain).encode('utf-16-le'))
        expect = hmac_md5(key_nt, self.server_challenge + temp)
        if not hmac.compare_digest(proof, expect):
            raise NtlmError('wrong password for %r' % user)
        base_key = hmac_md5(key_nt, proof)
        if flags & NEG_KEY_EXCH and enc_key:
            exported = RC4(base_key).update(enc_key)
        else:
            exported = base_key
        avs = dict(parse_av_pairs(temp[28:]))
        if AV_FLAGS in avs and struct.unpack('<I', avs[AV_FLAGS][:4])[0] & 0x2:
            mic = msg[72:88]
            zeroed = msg[:72] + b'\x00' * 16 + msg[88:]
            want = hmac_md5(exported, self.negotiate + self.challenge + zeroed)
            if not hmac.compare_digest(mic, want):
                raise NtlmError('MIC does not verify')
        cb = avs.get(AV_CHANNEL_BINDINGS)
        if cb and cb != b'\x00' * 16 and self.cert_der is not None:
            if cb != channel_binding_hash(self.cert_der):
                raise NtlmError('channel binding does not match the TLS certificate')
        self.flags = flags
        self.user = (domain + '\\' + user) if domain else user
        self.session = SessionSecurity(flags, exported)
        return self.user
