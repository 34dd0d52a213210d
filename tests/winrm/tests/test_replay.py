"""Replay every request of every recorded fixture against the server and
compare each response with the one Windows gave (structurally, see
structdiff.py), in order, with the fixture's shell and command ids mapped
to the ones this server hands out."""

import base64
import glob
import os
import re
import unittest

import common
import structdiff

# Fixtures whose stream data is environment-specific (`cmd /c set` lists the
# host's variables): structure compared, data checked by a content rule.
CONTENT = {'test_winrs_environment.yml': 'skip', 'test_winrs_noprofile.yml': 'skip'}
ENV_LINES = {'test_winrs_environment.yml': [b'env1=var1\r\n', b'1234=5678\r\n'],
             'test_winrs_noprofile.yml': [b'OS=Windows_NT\r\n']}
ENVELOPE_KB = {'test_wsman_update_envelope_size_150.yml': 150,
               'test_wsman_update_envelope_size_500.yml': 500,
               'test_wsman_update_envelope_size_4096.yml': 4096}


def stream_data(body, name):
    out = b''
    for m in re.finditer(r'<rsp:Stream Name="%s"[^>]*>([^<]*)</rsp:Stream>' % name, body):
        out += base64.b64decode(m.group(1))
    return out


class Replay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = common.TempDir()
        common.make_server_cert(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def replay(self, path):
        name = os.path.basename(path)
        msgs = common.load_fixture(path)
        self.assertTrue(msgs, 'no messages in %s' % name)
        sub = common.TempDir()
        for f in ('server.crt', 'server.key'):
            os.link(self.d.join(f), sub.join(f))
        # Log in as the account the recording shows as the shell's owner.
        owner = re.search(r'<rsp:Owner>([^<]*)<', msgs[0]['response'])
        user = owner.group(1) if owner else 'vagrant'
        srv = common.ServerFixture(sub, max_envelope_kb=ENVELOPE_KB.get(name, 500), time_scale=0.1,
                                   users={user: 'vagrant'})
        client = common.RawClient(srv.https_port, srv.cert, user=user)
        idmap = {}
        problems = []
        stdout = b''
        try:
            for i, m in enumerate(msgs):
                req = m['request']
                for fid, oid in idmap.items():
                    req = req.replace(fid, oid)
                status, body, _ = client.post(req)
                action = re.search(r'Action[^>]*>[^<]*/([^/<]+)<', req).group(1)
                where = '%s #%d (%s)' % (name, i + 1, action)
                want = m.get('status', 200)
                if status != want:
                    problems.append('%s: HTTP %d, want %d: %s' % (where, status, want, body[:300]))
                    continue
                for d in structdiff.compare(m['response'], body, CONTENT.get(name, 'exact')):
                    problems.append('%s: %s' % (where, d))
                mid = re.search(r'MessageID>([^<]*)<', req).group(1)
                rel = re.search(r'RelatesTo>([^<]*)<', body)
                if not rel or rel.group(1) != mid:
                    problems.append('%s: RelatesTo %s, want %s' % (where, rel and rel.group(1), mid))
                for pat in (r'<rsp:ShellId>([^<]+)<', r'<rsp:CommandId>([^<]+)<'):
                    fw, fg = re.search(pat, m['response']), re.search(pat, body)
                    if fw and fg:
                        idmap[fw.group(1)] = fg.group(1)
                stdout += stream_data(body, 'stdout')
        finally:
            client.close()
            srv.stop()
            sub.cleanup()
        for line in ENV_LINES.get(name, []):
            if line not in stdout:
                problems.append('%s: %r missing from the `set` output' % (name, line))
        self.assertEqual(problems, [], '\n'.join(problems))


def _add(path):
    def test(self):
        self.replay(path)
    name = 'test_' + os.path.basename(path)[:-4].replace('test_', '')
    test.__name__ = name
    setattr(Replay, name, test)


for _p in sorted(glob.glob(os.path.join(common.FIXTURES, 'test_*.yml'))):
    _add(_p)


class ReplayIsStrict(unittest.TestCase):
    """The comparison itself must be able to fail."""

    def test_diff_catches_changes(self):
        path = os.path.join(common.FIXTURES, 'test_winrs_standard.yml')
        resp = common.load_fixture(path)[2]['response']
        self.assertEqual(structdiff.compare(resp, resp), [])
        bad = resp.replace('<rsp:ExitCode>0</rsp:ExitCode>', '<rsp:ExitCode>1</rsp:ExitCode>')
        self.assertTrue(structdiff.compare(resp, bad))
        bad = resp.replace(' End="true"', '', 1)
        self.assertTrue(structdiff.compare(resp, bad))
        bad = resp.replace('xmlns:p=', 'xmlns:q=')
        self.assertTrue(structdiff.compare(resp, bad))
        bad = resp.replace('aGkNCg==', 'aG8NCg==')
        self.assertTrue(structdiff.compare(resp, bad))
        fault = common.load_fixture(os.path.join(common.FIXTURES, 'test_winrs_operation_timeout.yml'))[3]['response']
        self.assertTrue(structdiff.compare(fault, fault.replace('2150858793', '2150858792')))
        self.assertTrue(structdiff.compare(fault, fault.replace('w:TimedOut', 'w:TimeOut')))


if __name__ == '__main__':
    import sys
    sys.exit(common.tap_main([sys.modules[__name__]]))
