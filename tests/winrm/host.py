"""The host model: what a Windows server certsync manages looks like, kept
in a JSON state file that tests can read and prepare.  Every script run
loads it under an exclusive lock (fcntl, so the SSH entry point and the
WinRM server can share one file), changes it, and writes it back.

A folder (fs_root) stands for the host's C:\\ drive; Windows paths map to
it case-insensitively."""

import contextlib
import datetime
import fcntl
import json
import os
import re
import subprocess
import tempfile

IIS_APPID = '{4dc3e181-e14b-4a21-b022-59fc669b0914}'


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_iso(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc)


def default_state(hostname):
    return {
        'hostname': hostname,
        'boot_time': iso(utcnow() - datetime.timedelta(days=3)),
        'reboot_count': 0,
        'pending_reboot': False,
        'store': {'My': [], 'CA': [], 'Root': []},
        'iis': {'installed': True, 'sites': [
            {'name': 'Default Web Site', 'id': 1, 'state': 'Started',
             'bindings': [{'protocol': 'http', 'bindingInformation': '*:80:', 'sslFlags': 0}]}]},
        'httpsys': {'sslcert': []},
        'exchange': {'installed': False, 'services': {}},
        'services': {
            'W3SVC': {'status': 'Running', 'restarts': 0},
            'WinRM': {'status': 'Running', 'restarts': 0},
            'TermService': {'status': 'Running', 'restarts': 0},
        },
        'rdp': {'terminal_name': 'RDP-Tcp', 'SSLCertificateSHA1Hash': '0' * 40},
        'snapins': [],
    }


class HostStore:
    def __init__(self, config):
        self.config = config
        self.path = config['state']
        self.fs_root = config.get('fs_root') or self.path + '.fs'
        self._lockfile = self.path + '.lock'

    def ensure(self):
        os.makedirs(self.fs_root, exist_ok=True)
        with self.session() as st:
            st.setdefault('hostname', self.config.get('hostname', 'SAPPHIRE'))

    @contextlib.contextmanager
    def session(self):
        """Load the state under the lock, yield it, write it back."""
        with open(self._lockfile, 'a') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if os.path.exists(self.path):
                    with open(self.path, encoding='utf-8') as fh:
                        st = json.load(fh)
                else:
                    st = default_state(self.config.get('hostname', 'SAPPHIRE'))
                base = default_state(st.get('hostname', 'SAPPHIRE'))
                for k, v in base.items():
                    st.setdefault(k, v)
                yield st
                self._save(st)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _save(self, st):
        derive(st)
        d = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(dir=d, prefix='.state.')
        with os.fdopen(fd, 'w', encoding='utf-8') as fh:
            json.dump(st, fh, indent=2, sort_keys=True)
            fh.write('\n')
        os.replace(tmp, self.path)

    def take_pending_reboot(self):
        with self.session() as st:
            if st.get('pending_reboot'):
                st['pending_reboot'] = False
                st['going_down'] = True
                return True
        return False

    def booted(self):
        with self.session() as st:
            st['boot_time'] = iso(utcnow())
            st['reboot_count'] = int(st.get('reboot_count', 0)) + 1
            st.pop('going_down', None)
            for svc in st.get('services', {}).values():
                svc['status'] = 'Running'

    # -- the C: drive --------------------------------------------------------
    def real_path(self, winpath, create_dirs=False):
        """Map C:\\a\\b to fs_root/C/a/b (case-insensitive lookup)."""
        return map_path(self.fs_root, winpath, create_dirs)


def map_path(fs_root, winpath, create_dirs=False):
    m = re.match(r'^([A-Za-z]):[\\/]*(.*)$', winpath)
    if not m:
        raise ValueError('not an absolute Windows path: %s' % winpath)
    parts = [m.group(1).upper()] + [p for p in re.split(r'[\\/]+', m.group(2)) if p]
    cur = fs_root
    for i, part in enumerate(parts):
        if part in ('.', '..'):
            raise ValueError('relative segments are not supported: %s' % winpath)
        found = None
        if os.path.isdir(cur):
            for name in os.listdir(cur):
                if name.lower() == part.lower():
                    found = name
                    break
        nxt = os.path.join(cur, found or part)
        if create_dirs and i < len(parts) - 1 and not os.path.isdir(nxt):
            os.makedirs(nxt, exist_ok=True)
        cur = nxt
    return cur


def derive(st):
    """Fill the convenience fields of the IIS bindings from http.sys."""
    for site in st.get('iis', {}).get('sites', []):
        for b in site.get('bindings', []):
            b.pop('certificateHash', None)
            b.pop('certificateStoreName', None)
            if b.get('protocol') == 'https':
                e = sslcert_for_binding(st, b)
                if e:
                    b['certificateHash'] = e['certhash'].upper()
                    b['certificateStoreName'] = e.get('certstorename', 'MY')


def split_binding(info):
    ip, port, hostname = info.split(':', 2)
    return ip, port, hostname


def sslcert_key_for_binding(b):
    ip, port, hostname = split_binding(b['bindingInformation'])
    if int(b.get('sslFlags', 0)) & 1:
        return ('hostnameport', '%s:%s' % (hostname, port))
    return ('ipport', '%s:%s' % ('0.0.0.0' if ip in ('*', '') else ip, port))


def sslcert_for_binding(st, b):
    kind, key = sslcert_key_for_binding(b)
    for e in st.get('httpsys', {}).get('sslcert', []):
        if e.get(kind, '').lower() == key.lower():
            return e
    return None


def find_cert(st, thumbprint, store='My'):
    for c in st.get('store', {}).get(store, []):
        if c['thumbprint'].upper() == (thumbprint or '').upper():
            return c
    return None


# -- PKCS#12 / X.509 through the openssl CLI --------------------------------
class PfxError(Exception):
    def __init__(self, kind, text):
        super().__init__(text)
        self.kind = kind    # 'password' | 'corrupt'


def _openssl(args, data=None, passin=None):
    inp = b''
    if passin is not None:
        inp = passin.encode('utf-8') + b'\n'
    elif data is not None:
        inp = data
    return subprocess.run(['openssl'] + args, input=inp, capture_output=True, timeout=30)


def parse_pfx(pfx_bytes, password):
    """[(cert_info, has_key)] for the certificates in a PKCS#12 file."""
    with tempfile.NamedTemporaryFile(suffix='.pfx') as tf:
        tf.write(pfx_bytes)
        tf.flush()
        base = ['pkcs12', '-in', tf.name, '-passin', 'stdin']
        certs = _openssl(base + ['-nokeys'], passin=password)
        if certs.returncode != 0:
            err = certs.stderr.decode('utf-8', 'replace').lower()
            if 'mac verify' in err or 'invalid password' in err:
                raise PfxError('password', err)
            # Older PFX ciphers need the legacy provider.
            certs = _openssl(base + ['-nokeys', '-legacy'], passin=password)
            if certs.returncode != 0:
                err = certs.stderr.decode('utf-8', 'replace').lower()
                if 'mac verify' in err or 'invalid password' in err:
                    raise PfxError('password', err)
                raise PfxError('corrupt', err)
            base = base + ['-legacy']
        keys = _openssl(base + ['-nocerts', '-nodes'], passin=password)
    key_ids = set(re.findall(rb'localKeyID:\s*([0-9A-Fa-f ]+)', keys.stdout))
    has_any_key = b'PRIVATE KEY-----' in keys.stdout
    out = []
    for block in re.split(rb'(?=Bag Attributes)', certs.stdout):
        m = re.search(rb'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----', block, re.S)
        if not m:
            continue
        kid = re.search(rb'localKeyID:\s*([0-9A-Fa-f ]+)', block)
        has_key = bool(kid and kid.group(1) in key_ids) or (has_any_key and not key_ids and not out)
        out.append((cert_info(m.group(0).decode('ascii')), has_key))
    if not out:
        raise PfxError('corrupt', 'no certificate in the PFX')
    return out


def pfx_key_pem(pfx_bytes, password):
    """The private key of a PKCS#12 file as PEM, or None."""
    with tempfile.NamedTemporaryFile(suffix='.pfx') as tf:
        tf.write(pfx_bytes)
        tf.flush()
        for extra in ([], ['-legacy']):
            r = _openssl(['pkcs12', '-in', tf.name, '-passin', 'stdin', '-nocerts', '-nodes'] + extra,
                         passin=password)
            m = re.search(rb'-----BEGIN (?:RSA |EC )?PRIVATE KEY-----.*?-----END (?:RSA |EC )?PRIVATE KEY-----',
                          r.stdout, re.S)
            if r.returncode == 0 and m:
                return m.group(0).decode('ascii') + '\n'
    return None


def pem_to_der(pem):
    import base64
    body = re.search(r'-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----', pem, re.S).group(1)
    return base64.b64decode(''.join(body.split()))


def build_pfx(cert_pem, key_pem, password):
    """A PKCS#12 of the certificate and its key under password (as
    X509Certificate2.Export(Pfx, password) makes)."""
    import os
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, 'c.pem'), 'w') as fh:
            fh.write(cert_pem)
        fd = os.open(os.path.join(d, 'k.pem'), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, 'w') as fh:
            fh.write(key_pem)
        env = dict(os.environ, CS_PFX_PW=password)
        r = subprocess.run(['openssl', 'pkcs12', '-export', '-in', os.path.join(d, 'c.pem'),
                            '-inkey', os.path.join(d, 'k.pem'), '-passout', 'env:CS_PFX_PW'],
                           capture_output=True, timeout=30, env=env)
    if r.returncode != 0:
        raise PfxError('corrupt', r.stderr.decode('utf-8', 'replace'))
    return r.stdout


def cert_info(pem):
    der = _openssl(['x509', '-outform', 'DER'], data=pem.encode()).stdout
    import hashlib
    txt = _openssl(['x509', '-noout', '-subject', '-issuer', '-serial', '-startdate', '-enddate',
                    '-nameopt', 'RFC2253', '-ext', 'subjectAltName,basicConstraints'],
                   data=pem.encode()).stdout.decode('utf-8', 'replace')
    info = {'thumbprint': hashlib.sha1(der).hexdigest().upper(), 'pem': pem.strip() + '\n'}
    dns = []
    is_ca = False
    for line in txt.splitlines():
        if line.startswith('subject='):
            info['subject'] = _win_dn(line[8:])
        elif line.startswith('issuer='):
            info['issuer'] = _win_dn(line[7:])
        elif line.startswith('serial='):
            info['serial'] = line[7:].strip().upper()
        elif line.startswith('notBefore='):
            info['not_before'] = _x509_time(line[10:])
        elif line.startswith('notAfter='):
            info['not_after'] = _x509_time(line[9:])
        elif 'DNS:' in line:
            dns += [p.strip()[4:] for p in line.split(',') if p.strip().startswith('DNS:')]
        elif 'CA:TRUE' in line:
            is_ca = True
    info['dns_names'] = dns
    info['is_ca'] = is_ca
    return info


def _win_dn(rfc2253):
    # Windows writes "CN=x, O=y, C=z": most specific first, ", " between.
    parts = re.split(r'(?<!\\),', rfc2253.strip())
    return ', '.join(p.strip() for p in parts)


def _x509_time(text):
    dt = datetime.datetime.strptime(' '.join(text.split()), '%b %d %H:%M:%S %Y GMT')
    return iso(dt.replace(tzinfo=datetime.timezone.utc))
