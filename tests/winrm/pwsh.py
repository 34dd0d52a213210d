#!/usr/bin/python3
"""powershell.exe stand-in on the command line, against the same host
model as server.py: for the Windows-over-SSH tests (use it as the command
sshd runs) and for unit tests of the interpreter.

    pwsh.py --state STATE.json [--fs-root DIR] [--user NAME] [--time-scale F] \\
            -- -NoProfile -NonInteractive -Command -      (script on stdin)

Everything after "--" is powershell.exe's own command line.  Exit status is
powershell.exe's.  A Restart-Computer takes effect at once here (boot time
and reboot count change when the script ends)."""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import host as hostmodel  # noqa: E402
import programs  # noqa: E402


class _Shell:
    def __init__(self, owner):
        self.owner = owner


class _Server:
    def __init__(self, config):
        self.config = config
        self.machine = config.get('hostname', 'SAPPHIRE')
        self.host = hostmodel.HostStore(config)

    def home_dir(self, owner):
        return 'C:\\Users\\' + owner.split('\\')[-1]


class CliIO:
    def __init__(self, server, owner, cwd, env):
        self.server = server
        self.shell = _Shell(owner)
        self.env = env
        self.cwd = cwd
        self.codepage = 65001
        self._stdin = sys.stdin.buffer

    def encode(self, text):
        return text.encode('utf-8')

    def write(self, stream, data):
        if isinstance(data, str):
            data = data.encode('utf-8')
        out = sys.stdout.buffer if stream == 'stdout' else sys.stderr.buffer
        out.write(data)
        out.flush()

    def stdout(self, data):
        self.write('stdout', data)

    def stderr(self, data):
        self.write('stderr', data)

    def sleep(self, seconds):
        time.sleep(seconds * float(self.server.config.get('time_scale', 1.0)))

    def read_line(self):
        line = self._stdin.readline()
        if not line:
            return None
        return line.decode('utf-8', 'replace').rstrip('\n').rstrip('\r').lstrip('\ufeff')

    def read_all(self):
        return self._stdin.read().decode('utf-8', 'replace')


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if '--' in argv:
        k = argv.index('--')
        ours, theirs = argv[:k], argv[k + 1:]
    else:
        ours, theirs = argv, []
    ap = argparse.ArgumentParser()
    ap.add_argument('--state', required=True)
    ap.add_argument('--fs-root')
    ap.add_argument('--user', default='Administrator')
    ap.add_argument('--hostname', default='SAPPHIRE')
    ap.add_argument('--time-scale', type=float, default=1.0)
    ap.add_argument('--no-progress', action='store_true')
    ns = ap.parse_args(ours)
    config = {'state': ns.state, 'fs_root': ns.fs_root or ns.state + '.fs', 'hostname': ns.hostname,
              'time_scale': ns.time_scale, 'clixml_progress': not ns.no_progress}
    server = _Server(config)
    server.host.ensure()
    from server import Server as _S  # for the environment only
    env = _S.base_env(server, ns.user)
    cwd = 'C:\\Users\\' + ns.user.split('\\')[-1]
    io = CliIO(server, ns.user, cwd, env)
    code = programs.powershell(io, theirs or ['-Command', '-'])
    if server.host.take_pending_reboot():
        server.host.booted()
    return code


if __name__ == '__main__':
    sys.exit(main() & 0xFFFFFFFF if os.name == 'nt' else main() % 256)
