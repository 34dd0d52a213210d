"""Helpers for the test server's own tests: start a server in-process on
127.0.0.1 (port 0), talk raw HTTP(S) to it, make certificates and PFX files
with the openssl CLI, and a tiny reader for the fixture files (a list of
request/response pairs, each on one line)."""

import base64
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
WINRM = os.path.dirname(HERE)
sys.path.insert(0, WINRM)

import server as srvmod  # noqa: E402

# The recorded Windows traffic kept in the repository (a copy of
# shared/fixtures/winrm with its licence), so a fresh clone needs nothing else.
FIXTURES = os.environ.get('WINRM_FIXTURES',
                          os.path.join(os.path.dirname(WINRM), 'fixtures', 'winrm'))


def openssl(*args, input=None):
    r = subprocess.run(['openssl'] + list(args), input=input, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError('openssl %s: %s' % (' '.join(args), r.stderr.decode()))
    return r.stdout


class TempDir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix='winrm-test.')

    def join(self, *p):
        return os.path.join(self.path, *p)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


def make_server_cert(d):
    key, cert = d.join('server.key'), d.join('server.crt')
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
            '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1')
    return cert, key


def make_pfx(d, name, cn, dns=(), password='pfx-pass', days=90, with_key=True, ca=None):
    """A key + certificate (self-signed, or signed by ca=(crt, key)) as PFX;
    returns (pfx bytes, SHA-1 thumbprint upper-case)."""
    key, crt = d.join(name + '.key'), d.join(name + '.crt')
    san = ','.join('DNS:' + n for n in dns) or 'DNS:' + cn
    if ca is None:
        openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', str(days),
                '-subj', '/CN=' + cn, '-addext', 'subjectAltName=' + san)
    else:
        csr = d.join(name + '.csr')
        openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=' + cn)
        ext = d.join(name + '.ext')
        with open(ext, 'w') as fh:
            fh.write('subjectAltName=%s\n' % san)
        openssl('x509', '-req', '-in', csr, '-CA', ca[0], '-CAkey', ca[1], '-CAcreateserial', '-out', crt,
                '-days', str(days), '-extfile', ext)
    pfx = d.join(name + '.pfx')
    args = ['pkcs12', '-export', '-in', crt, '-out', pfx, '-passout', 'pass:' + password,
            '-keypbe', 'AES-256-CBC', '-certpbe', 'AES-256-CBC', '-macalg', 'sha256']
    if with_key:
        args += ['-inkey', key]
    else:
        args += ['-nokeys']
    if ca is not None:
        args += ['-certfile', ca[0]]
    openssl(*args)
    der = openssl('x509', '-in', crt, '-outform', 'DER')
    import hashlib
    with open(pfx, 'rb') as fh:
        return fh.read(), hashlib.sha1(der).hexdigest().upper()


class ServerFixture:
    """A server in this process; stop() closes its listeners."""

    def __init__(self, d, **over):
        cert, key = make_server_cert(d) if not os.path.exists(d.join('server.crt')) else (
            d.join('server.crt'), d.join('server.key'))
        cfg = dict(srvmod.DEFAULTS)
        cfg.update({'https_port': 0, 'http_port': 0, 'cert': cert, 'key': key,
                    'users': {'vagrant': 'vagrant', 'CORP\\svc-certsync': 'S3cret!'},
                    'state': d.join('state.json'), 'fs_root': d.join('fs'), 'log': d.join('server.log')})
        cfg.update(over)
        self.cfg = cfg
        self.cert = cert
        self.server = srvmod.Server(cfg)
        self.server.start()
        self.https_port = self.server.port('https')
        self.http_port = self.server.port('http')

    def stop(self):
        for lst in self.server.listeners:
            lst.close()

    def state(self):
        with open(self.cfg['state']) as fh:
            return json.load(fh)

    def write_state(self, st):
        with open(self.cfg['state'], 'w') as fh:
            json.dump(st, fh)


class RawClient:
    """WS-Man over HTTPS with Basic auth, one keep-alive connection."""

    def __init__(self, port, cafile, user='vagrant', password='vagrant'):
        ctx = ssl.create_default_context(cafile=cafile)
        self.conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=120)
        self.auth = 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()

    def post(self, body, auth=True):
        hdrs = {'Content-Type': 'application/soap+xml;charset=UTF-8'}
        if auth:
            hdrs['Authorization'] = self.auth
        self.conn.request('POST', '/wsman', body=body.encode('utf-8') if isinstance(body, str) else body,
                          headers=hdrs)
        r = self.conn.getresponse()
        return r.status, r.read().decode('utf-8'), r

    def close(self):
        self.conn.close()


def load_fixture(path):
    """The messages of a fixture file: [{'request', 'response', extras...}].

    The files are YAML, but of one regular shape: each request/response is
    one line, so a line reader is enough (the yaml module is not needed)."""
    msgs = []
    cur = None
    with open(path, encoding='utf-8') as fh:
        for line in fh:
            line = line.rstrip('\n')
            if line.startswith('- request: '):
                cur = {'request': line[len('- request: '):]}
                msgs.append(cur)
            elif line.startswith('  response: '):
                cur['response'] = line[len('  response: '):]
            elif line.startswith('  transport_error:'):
                cur['transport_error'] = True
            elif re.match(r'^\s+code: (\d+)$', line) and cur is not None and cur.get('transport_error'):
                cur['status'] = int(line.split(':')[1])
    for m in msgs:
        for k in ('request', 'response'):
            v = m[k]
            if v.startswith("'") and v.endswith("'"):
                m[k] = v[1:-1].replace("''", "'")
    return msgs


def tap_main(modules):
    """Run unittest modules; print PASS/FAIL lines the shell wrapper counts."""
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for m in modules:
        suite.addTests(loader.loadTestsFromModule(m))

    class Result(unittest.TextTestResult):
        def addSuccess(self, test):
            super().addSuccess(test)
            print('PASS %s' % test.id().split('.', 1)[-1], flush=True)

        def addFailure(self, test, err):
            super().addFailure(test, err)
            print('FAIL %s' % test.id().split('.', 1)[-1], flush=True)
            for line in self._exc_info_to_string(err, test).splitlines()[-15:]:
                print('# ' + line, flush=True)

        def addError(self, test, err):
            super().addError(test, err)
            print('FAIL %s' % test.id().split('.', 1)[-1], flush=True)
            for line in self._exc_info_to_string(err, test).splitlines()[-15:]:
                print('# ' + line, flush=True)

        def addSkip(self, test, reason):
            super().addSkip(test, reason)
            print('SKIP %s (%s)' % (test.id().split('.', 1)[-1], reason), flush=True)
    runner = unittest.TextTestRunner(stream=open(os.devnull, 'w'), resultclass=Result)
    res = runner.run(suite)
    return 0 if res.wasSuccessful() else 1
