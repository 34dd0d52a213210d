"""WinRS shells and commands: lifecycle, stdin, buffered output and the
Receive semantics of the Windows service (output as soon as there is some,
w:TimedOut after OperationTimeout with nothing new, End="true" streams and
CommandState Done with ExitCode once everything was delivered)."""

import base64
import threading
import time

import wsman
from wsman import esc


class Terminated(Exception):
    """Raised inside a running program when the command was signalled."""


class IO:
    """What a running program sees: its stdin, stdout/stderr, environment."""

    def __init__(self, command):
        self._c = command
        self.shell = command.shell
        self.env = command.shell.env
        self.cwd = command.shell.cwd
        self.codepage = command.shell.codepage

    def encode(self, text):
        if self.codepage == 65001:
            return text.encode('utf-8')
        try:
            return text.encode('cp%d' % self.codepage, errors='replace')
        except LookupError:
            return text.encode('cp437', errors='replace')

    def write(self, stream, data):
        if isinstance(data, str):
            data = self.encode(data)
        if data:
            self._c.add_output(stream, data)

    def stdout(self, data):
        self.write('stdout', data)

    def stderr(self, data):
        self.write('stderr', data)

    def sleep(self, seconds):
        self._c.sleep(seconds)

    def read_line(self):
        """Next stdin line (without its newline) or None at end of input."""
        return self._c.read_line()

    def read_all(self):
        return self._c.read_all()

    @property
    def server(self):
        return self.shell.server


class Command:
    def __init__(self, shell, command_line, program):
        self.shell = shell
        self.id = wsman.new_uuid()
        self.command_line = command_line
        self.cond = threading.Condition()
        self.stdin = bytearray()
        self.stdin_end = False
        self.output = []          # [(stream, bytes)] not yet delivered
        self.done = False
        self.exit_code = None
        self.terminated = False
        self.finished = False     # Done was delivered to the client
        self.io = IO(self)
        self.thread = threading.Thread(target=self._run, args=(program,), daemon=True)

    def start(self):
        self.thread.start()

    def _run(self, program):
        code = 1
        try:
            code = program(self.io)
        except Terminated:
            code = -1073741510  # STATUS_CONTROL_C_EXIT as a signed exit code
        except Exception as exc:  # a bug in the emulator: show it, like a crash
            import traceback
            self.add_output('stderr', ('internal emulator error: %r\r\n%s' % (
                exc, traceback.format_exc())).encode('utf-8', 'replace'))
            code = 1
        delay = self.shell.server.config.get('command_delay', 0)
        if delay and not self.terminated:
            try:
                self.sleep(delay, scaled=False)
            except Terminated:
                pass
        with self.cond:
            self.exit_code = int(code or 0)
            self.done = True
            self.cond.notify_all()
        self.shell.server.command_finished(self)

    # -- program side ------------------------------------------------------
    def add_output(self, stream, data):
        with self.cond:
            self.output.append((stream, bytes(data)))
            self.cond.notify_all()

    def sleep(self, seconds, scaled=True):
        if scaled:
            seconds *= self.shell.server.config.get('time_scale', 1.0)
        end = time.monotonic() + seconds
        with self.cond:
            while not self.terminated:
                left = end - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)
            raise Terminated()

    def read_line(self):
        with self.cond:
            while True:
                if self.terminated:
                    raise Terminated()
                nl = self.stdin.find(b'\n')
                if nl >= 0:
                    line = bytes(self.stdin[:nl])
                    del self.stdin[:nl + 1]
                    return self._decode(line.rstrip(b'\r'))
                if self.stdin_end:
                    if self.stdin:
                        line = bytes(self.stdin)
                        self.stdin.clear()
                        return self._decode(line.rstrip(b'\r'))
                    return None
                self.cond.wait()

    def read_all(self):
        with self.cond:
            while not self.stdin_end:
                if self.terminated:
                    raise Terminated()
                self.cond.wait()
            data = bytes(self.stdin)
            self.stdin.clear()
            return self._decode(data)

    def _decode(self, data):
        if data.startswith(b'\xef\xbb\xbf'):
            data = data[3:]
        if self.shell.codepage == 65001:
            return data.decode('utf-8', 'replace')
        try:
            return data.decode('cp%d' % self.shell.codepage, 'replace')
        except LookupError:
            return data.decode('cp437', 'replace')

    # -- protocol side ---------------------------------------------------
    def send(self, data, end):
        with self.cond:
            if self.stdin_end:
                return
            self.stdin.extend(data)
            if end:
                self.stdin_end = True
            self.cond.notify_all()

    def signal(self, code):
        with self.cond:
            if code in (wsman.SIGNAL_TERMINATE, wsman.SIGNAL_CTRL_C, wsman.SIGNAL_CTRL_BREAK):
                if not self.done:
                    self.terminated = True
                self.cond.notify_all()

    def receive(self, timeout, max_envelope, linger=0.05):
        """Body of a ReceiveResponse, or raise the TimedOut fault."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.output and not self.done:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise wsman.fault_timed_out()
                self.cond.wait(left)
            if not self.done and linger:
                # Let a burst of writes land in the same response.
                end = min(deadline, time.monotonic() + linger)
                while not self.done and time.monotonic() < end:
                    self.cond.wait(end - time.monotonic())
            # What fits in the client's envelope: its size minus the header
            # and the closing elements, 3 bytes of data per 4 of base64.
            budget = max(max_envelope - 2048, 1024)
            parts = []
            cid = esc(self.id)
            while self.output:
                stream, data = self.output[0]
                over = 80 + len(cid)
                room = (budget - over) // 4 * 3
                if room <= 0:
                    break
                if len(data) > room:
                    chunk, rest = data[:room], data[room:]
                    self.output[0] = (stream, rest)
                else:
                    chunk = data
                    self.output.pop(0)
                enc = base64.b64encode(chunk).decode('ascii')
                parts.append('<rsp:Stream Name="%s" CommandId="%s">%s</rsp:Stream>' % (
                    stream, cid, enc))
                budget -= over + len(enc)
                if budget <= 0:
                    break
            if self.done and not self.output:
                parts.append('<rsp:Stream Name="stdout" CommandId="%s" End="true"></rsp:Stream>' % cid)
                parts.append('<rsp:Stream Name="stderr" CommandId="%s" End="true"></rsp:Stream>' % cid)
                parts.append('<rsp:CommandState CommandId="%s" State="%s"><rsp:ExitCode>%d'
                             '</rsp:ExitCode></rsp:CommandState>' % (cid, wsman.STATE_DONE, self.exit_code))
                self.finished = True
            else:
                parts.append('<rsp:CommandState CommandId="%s" State="%s"></rsp:CommandState>' % (
                    cid, wsman.STATE_RUNNING))
            return '<rsp:ReceiveResponse>%s</rsp:ReceiveResponse>' % ''.join(parts)


class Shell:
    def __init__(self, server, owner, client_ip, env, cwd, codepage, noprofile,
                 idle_timeout, input_streams, output_streams):
        self.server = server
        self.id = wsman.new_uuid()
        self.owner = owner
        self.client_ip = client_ip
        self.env_given = env
        self.env = dict(server.base_env(owner))
        for k, v in env:
            self.env[k] = v
        self.cwd = cwd or server.home_dir(owner)
        self.cwd_given = cwd
        self.codepage = codepage
        self.noprofile = noprofile
        self.idle_timeout = idle_timeout
        self.input_streams = input_streams
        self.output_streams = output_streams
        self.commands = {}
        self.created = time.monotonic()

    def created_body(self, address):
        env = ''
        if self.env_given:
            # Windows echoes the variables; it drops backslashes from names.
            env = '<rsp:Environment>%s</rsp:Environment>' % ''.join(
                '<rsp:Variable Name="%s">%s</rsp:Variable>' % (esc(k.replace('\\', '')), esc(v))
                for k, v in self.env_given)
        wd = ''
        if self.cwd_given:
            wd = '<rsp:WorkingDirectory>%s</rsp:WorkingDirectory>' % esc(self.cwd_given)
        return (
            '<x:ResourceCreated><a:Address>%s</a:Address><a:ReferenceParameters>'
            '<w:ResourceURI>%s</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">%s'
            '</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>'
            '<rsp:Shell xmlns:rsp="%s"><rsp:ShellId>%s</rsp:ShellId><rsp:ResourceUri>%s</rsp:ResourceUri>'
            '<rsp:Owner>%s</rsp:Owner><rsp:ClientIP>%s</rsp:ClientIP>%s%s'
            '<rsp:IdleTimeOut>PT%.3fS</rsp:IdleTimeOut><rsp:InputStreams>%s</rsp:InputStreams>'
            '<rsp:OutputStreams>%s</rsp:OutputStreams><rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>'
            '<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>' % (
                esc(address), wsman.RESOURCE_CMD, self.id, wsman.SHELL, self.id,
                wsman.RESOURCE_CMD, esc(self.owner), esc(self.client_ip), env, wd,
                self.idle_timeout, esc(self.input_streams), esc(self.output_streams)))
