#!/usr/bin/python3
"""A Windows host stand-in for certsync's tests: a WS-Management (WinRS)
server on 127.0.0.1 that answers like the Windows WinRM service, with Basic
and NTLM authentication (NTLM session encryption on plain HTTP), whose
commands run in an emulated cmd.exe / powershell.exe against a host model
kept in a JSON state file.

    /usr/bin/python3 tests/winrm/server.py --config server.json
    /usr/bin/python3 tests/winrm/server.py --https-port 0 --cert c.pem --key k.pem \\
        --user 'vagrant:vagrant' --state state.json --ready-file ready.json

See tests/winrm/README.md for the configuration keys and the PowerShell
subset.  Standard library only."""

import argparse
import base64
import http.server
import json
import os
import socket
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wsman  # noqa: E402
import shell as winrs  # noqa: E402
import auth  # noqa: E402
import programs  # noqa: E402
import host as hostmodel  # noqa: E402

DEFAULTS = {
    'listen': '127.0.0.1',
    'https_port': None,
    'http_port': None,
    'cert': None,
    'key': None,
    'users': {},                  # "user" or "DOMAIN\\user" -> password
    'auth': ['basic', 'ntlm'],    # what the service accepts
    'allow_unencrypted': False,   # plain HTTP without NTLM sealing
    'state': None,                # host model JSON file
    'fs_root': None,              # folder standing for C:\ (default: <state>.fs)
    'hostname': 'SAPPHIRE',
    'domain': 'CORP',
    'max_envelope_kb': 500,
    'time_scale': 1.0,            # multiplies Start-Sleep and OperationTimeout
    'command_delay': 0,           # seconds every command is held before it ends
    'reboot_delay': 0.5,          # Restart-Computer: seconds until the host goes away
    'reboot_downtime': 3,         # seconds it refuses connections
    'clixml_progress': True,      # "Preparing modules for first use." on stderr
    'log': None,
    'ready_file': None,
}


def log(server, fmt, *args):
    path = server.config.get('log')
    if not path:
        return
    with server.log_lock, open(path, 'a', encoding='utf-8') as fh:
        fh.write('%s %s\n' % (time.strftime('%H:%M:%S'), fmt % args))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'Microsoft-HTTPAPI/2.0'
    sys_version = ''

    def setup(self):
        super().setup()
        self.auth = auth.ConnectionAuth(self.server, self.listener.scheme,
                                        self.tls_cert_der())
        self.server.track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def tls_cert_der(self):
        if isinstance(self.connection, ssl.SSLSocket):
            return self.server.cert_der
        return None

    def log_message(self, fmt, *args):
        log(self.server, '%s %s', self.client_address[0], fmt % args)

    def send_plain(self, status, body=b'', headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        self.read_body()
        self.send_plain(405)

    def read_body(self):
        n = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(n) if n else b''

    def do_POST(self):
        body = self.read_body()
        if self.path.split('?')[0].lower() != '/wsman':
            self.send_plain(404)
            return
        limit = self.server.config['max_envelope_kb'] * 1024
        decision = self.auth.check(self.headers, body)
        if decision.status != 200:
            self.send_plain(decision.status, b'', decision.headers)
            if decision.close:
                self.close_connection = True
            return
        body = decision.body
        if not body:
            # pywinrm sends an empty POST to set up NTLM sealing.
            self.send_plain(200, b'', decision.headers)
            return
        if len(body) > limit:
            self.send_plain(413, b'', decision.headers)
            return
        status, payload = self.server.handle_soap(body, decision.user, self.client_address[0],
                                                  self.listener.url(self.headers.get('Host')))
        data = payload.encode('utf-8')
        out_headers = list(decision.headers)
        wrapped = self.auth.wrap(data)
        if wrapped is not None:
            ctype, data = wrapped
        else:
            ctype = 'application/soap+xml;charset=UTF-8'
        out_headers.append(('Content-Type', ctype))
        self.send_plain(status, data, out_headers)


class Listener:
    """A listening socket that can be closed and reopened (host reboots)."""

    def __init__(self, server, scheme, port):
        self.server = server
        self.scheme = scheme
        self.port = port
        self.sock = None
        self.thread = None

    def url(self, host_header):
        host = host_header or '%s:%d' % (self.server.config['listen'], self.port)
        return '%s://%s/wsman' % (self.scheme, host)

    def open(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((self.server.config['listen'], self.port))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(64)
        self.thread = threading.Thread(target=self._accept, args=(self.sock,), daemon=True)
        self.thread.start()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None

    def _accept(self, sock):
        while True:
            try:
                conn, addr = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, addr), daemon=True).start()

    def _serve(self, conn, addr):
        try:
            if self.scheme == 'https':
                conn.settimeout(30)
                conn = self.server.ssl_ctx.wrap_socket(conn, server_side=True)
                conn.settimeout(None)
            handler_cls = type('BoundHandler', (Handler,), {'listener': self})
            handler_cls(conn, addr, self.server)
        except (OSError, ssl.SSLError) as exc:
            log(self.server, 'connection from %s: %s', addr[0], exc)
        finally:
            try:
                conn.close()
            except OSError:
                pass


class Server:
    def __init__(self, config):
        self.config = config
        self.log_lock = threading.Lock()
        self.shells = {}
        self.lock = threading.RLock()
        self.conns = set()
        self.conns_lock = threading.Lock()
        self.ssl_ctx = None
        self.cert_der = None
        self.listeners = []
        self.down = False
        self.host = hostmodel.HostStore(config)
        self.machine = config['hostname']

    def log(self, fmt, *args):
        log(self, fmt, *args)

    def track(self, conn, add):
        with self.conns_lock:
            (self.conns.add if add else self.conns.discard)(conn)

    def start(self):
        c = self.config
        if c.get('https_port') is not None:
            if not (c.get('cert') and c.get('key')):
                raise SystemExit('https needs --cert and --key')
            self.ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ssl_ctx.load_cert_chain(c['cert'], c['key'])
            with open(c['cert'], 'rb') as fh:
                pem = fh.read().decode('ascii', 'replace')
            first = pem[pem.index('-----BEGIN CERTIFICATE-----'):]
            first = first[:first.index('-----END CERTIFICATE-----') + 25]
            self.cert_der = ssl.PEM_cert_to_DER_cert(first)
            self.listeners.append(Listener(self, 'https', int(c['https_port'])))
        if c.get('http_port') is not None:
            self.listeners.append(Listener(self, 'http', int(c['http_port'])))
        if not self.listeners:
            raise SystemExit('nothing to listen on: give --https-port and/or --http-port')
        for lst in self.listeners:
            lst.open()
        self.host.ensure()
        if c.get('ready_file'):
            tmp = c['ready_file'] + '.tmp'
            with open(tmp, 'w') as fh:
                json.dump({'pid': os.getpid(),
                           'https_port': self.port('https'),
                           'http_port': self.port('http')}, fh)
            os.replace(tmp, c['ready_file'])

    def port(self, scheme):
        for lst in self.listeners:
            if lst.scheme == scheme:
                return lst.port
        return None

    # -- host environment for shells ---------------------------------------
    def home_dir(self, owner):
        return 'C:\\Users\\' + owner.split('\\')[-1]

    def base_env(self, owner):
        user = owner.split('\\')[-1]
        home = self.home_dir(owner)
        return {
            'ALLUSERSPROFILE': 'C:\\ProgramData',
            'APPDATA': home + '\\AppData\\Roaming',
            'COMPUTERNAME': self.machine,
            'ComSpec': 'C:\\Windows\\system32\\cmd.exe',
            'LOCALAPPDATA': home + '\\AppData\\Local',
            'NUMBER_OF_PROCESSORS': '2',
            'OS': 'Windows_NT',
            'Path': 'C:\\Windows\\system32;C:\\Windows;C:\\Windows\\System32\\Wbem;'
                    'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\',
            'PATHEXT': '.COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC',
            'PROCESSOR_ARCHITECTURE': 'AMD64',
            'ProgramData': 'C:\\ProgramData',
            'ProgramFiles': 'C:\\Program Files',
            'PROMPT': '$P$G',
            'PUBLIC': 'C:\\Users\\Public',
            'SystemDrive': 'C:',
            'SystemRoot': 'C:\\Windows',
            'TEMP': home + '\\AppData\\Local\\Temp',
            'TMP': home + '\\AppData\\Local\\Temp',
            'USERDOMAIN': owner.split('\\')[0] if '\\' in owner else self.machine,
            'USERNAME': user,
            'USERPROFILE': home,
            'windir': 'C:\\Windows',
        }

    # -- the protocol ------------------------------------------------------
    def handle_soap(self, body, user, client_ip, address):
        relates = None
        try:
            req = wsman.Request(body)
            relates = req.message_id
            log(self, 'action %s', req.action.rsplit('/', 1)[-1])
            return 200, self.dispatch(req, user, client_ip, address)
        except wsman.Fault as fault:
            log(self, 'fault %s %s', fault.subcode, fault.wsman_code)
            return fault.http_status, wsman.fault_envelope(fault, relates, self.machine)

    def timeout_of(self, req):
        return req.operation_timeout * float(self.config.get('time_scale', 1.0))

    def dispatch(self, req, user, client_ip, address):
        a = req.action
        if a == wsman.A_GET:
            if req.resource_uri == wsman.RESOURCE_CONFIG:
                return wsman.envelope(a + 'Response', req.message_id,
                                      wsman.config_body(self.config['max_envelope_kb']), 'get')
            raise wsman.fault_destination_unreachable(req.resource_uri)
        if a not in (wsman.A_CREATE, wsman.A_DELETE, wsman.A_COMMAND, wsman.A_SEND,
                     wsman.A_RECEIVE, wsman.A_SIGNAL):
            raise wsman.fault_action_not_supported(a)
        if req.resource_uri != wsman.RESOURCE_CMD:
            raise wsman.fault_destination_unreachable(req.resource_uri)
        if a == wsman.A_CREATE:
            return self.create(req, user, client_ip, address)
        if 'ShellId' not in req.selectors:
            raise wsman.fault_missing_selector()
        with self.lock:
            sh = self.shells.get(req.selectors['ShellId'].upper())
        if sh is None:
            raise wsman.fault_bad_shell_id(req.selectors['ShellId'])
        if a == wsman.A_DELETE:
            with self.lock:
                self.shells.pop(sh.id, None)
            for cmd in list(sh.commands.values()):
                cmd.signal(wsman.SIGNAL_TERMINATE)
            return wsman.envelope(a + 'Response', req.message_id, '', 'delete')
        if a == wsman.A_COMMAND:
            return self.command(req, sh)
        if a == wsman.A_SEND:
            return self.send(req, sh)
        if a == wsman.A_RECEIVE:
            return self.receive(req, sh)
        return self.signal(req, sh)

    def create(self, req, user, client_ip, address):
        el = req.body.find(wsman.q('rsp', 'Shell'))
        if el is None:
            raise wsman.fault_schema('The Create body lacks rsp:Shell.')

        def text(name, default=None):
            e = el.find(wsman.q('rsp', name))
            return (e.text or '').strip() if e is not None else default
        env = []
        env_el = el.find(wsman.q('rsp', 'Environment'))
        if env_el is not None:
            for v in env_el.findall(wsman.q('rsp', 'Variable')):
                env.append((v.get('Name') or '', v.text or ''))
        idle = 7200.0
        if text('IdleTimeOut'):
            try:
                idle = wsman.parse_duration(text('IdleTimeOut'))
            except ValueError:
                raise wsman.fault_schema('rsp:IdleTimeOut is not an xs:duration.')
        try:
            codepage = int(req.options.get('WINRS_CODEPAGE') or 437)
        except ValueError:
            raise wsman.fault_invalid_parameter()
        noprofile = (req.options.get('WINRS_NOPROFILE') or '').upper() == 'TRUE'
        sh = winrs.Shell(self, user, client_ip, env, text('WorkingDirectory'), codepage,
                         noprofile, idle, text('InputStreams', 'stdin'),
                         text('OutputStreams', 'stdout stderr'))
        with self.lock:
            self.shells[sh.id] = sh
        return wsman.envelope(req.action + 'Response', req.message_id, sh.created_body(address))

    def command(self, req, sh):
        el = req.body.find(wsman.q('rsp', 'CommandLine'))
        if el is None:
            raise wsman.fault_schema('The Command body lacks rsp:CommandLine.')
        c = el.find(wsman.q('rsp', 'Command'))
        command = (c.text or '').strip() if c is not None else ''
        args = [a.text or '' for a in el.findall(wsman.q('rsp', 'Arguments'))]
        skip = (req.options.get('WINRS_SKIP_CMD_SHELL') or '').upper() == 'TRUE'
        program = programs.resolve(command, args, skip)   # may raise a fault
        cmd = winrs.Command(sh, ' '.join([command] + args), program)
        sh.commands[cmd.id] = cmd
        log(self, 'command %s: %s', cmd.id, cmd.command_line[:200])
        cmd.start()
        return wsman.envelope(req.action + 'Response', req.message_id,
                              '<rsp:CommandResponse><rsp:CommandId>%s</rsp:CommandId>'
                              '</rsp:CommandResponse>' % cmd.id)

    def _command_of(self, sh, cid):
        if not cid:
            raise wsman.fault_invalid_parameter()
        cmd = sh.commands.get(cid.upper())
        if cmd is None:
            raise wsman.fault_bad_command_id()
        return cmd

    def send(self, req, sh):
        el = req.body.find(wsman.q('rsp', 'Send'))
        if el is None:
            raise wsman.fault_schema('The Send body lacks rsp:Send.')
        for st in el.findall(wsman.q('rsp', 'Stream')):
            if st.get('Name') != 'stdin':
                raise wsman.fault_invalid_parameter()
            cmd = self._command_of(sh, st.get('CommandId'))
            try:
                data = base64.b64decode((st.text or '').strip(), validate=True)
            except ValueError:
                raise wsman.fault_invalid_parameter()
            cmd.send(data, (st.get('End') or '').lower() == 'true')
        return wsman.envelope(req.action + 'Response', req.message_id, '<rsp:SendResponse/>')

    def receive(self, req, sh):
        el = req.body.find(wsman.q('rsp', 'Receive'))
        ds = el.find(wsman.q('rsp', 'DesiredStream')) if el is not None else None
        if ds is None:
            raise wsman.fault_schema('The Receive body lacks rsp:DesiredStream.')
        cmd = self._command_of(sh, ds.get('CommandId'))
        if cmd.finished:
            raise wsman.fault_bad_command_id()
        body = cmd.receive(self.timeout_of(req), req.max_envelope)
        return wsman.envelope(req.action + 'Response', req.message_id, body, 'receive')

    def signal(self, req, sh):
        el = req.body.find(wsman.q('rsp', 'Signal'))
        if el is None:
            raise wsman.fault_schema('The Signal body lacks rsp:Signal.')
        cmd = self._command_of(sh, el.get('CommandId'))
        code_el = el.find(wsman.q('rsp', 'Code'))
        code = (code_el.text or '').strip() if code_el is not None else ''
        if code not in (wsman.SIGNAL_TERMINATE, wsman.SIGNAL_CTRL_C, wsman.SIGNAL_CTRL_BREAK):
            raise wsman.fault_invalid_parameter()
        cmd.signal(code)
        if code == wsman.SIGNAL_TERMINATE:
            sh.commands.pop(cmd.id, None)
        return wsman.envelope(req.action + 'Response', req.message_id, '<rsp:SignalResponse/>')

    def command_finished(self, cmd):
        pending = self.host.take_pending_reboot()
        if pending:
            threading.Thread(target=self.reboot, daemon=True).start()

    # -- Restart-Computer --------------------------------------------------
    def reboot(self):
        time.sleep(float(self.config.get('reboot_delay', 0.5)))
        log(self, 'reboot: going down')
        self.down = True
        for lst in self.listeners:
            lst.close()
        with self.conns_lock:
            conns = list(self.conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self.lock:
            shells = list(self.shells.values())
            self.shells.clear()
        for sh in shells:
            for cmd in list(sh.commands.values()):
                cmd.signal(wsman.SIGNAL_TERMINATE)
        time.sleep(float(self.config.get('reboot_downtime', 3)))
        self.host.booted()
        for lst in self.listeners:
            for _ in range(50):
                try:
                    lst.open()
                    break
                except OSError:
                    time.sleep(0.1)
        self.down = False
        log(self, 'reboot: back')


def load_config(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--config', help='JSON file with the keys below (CLI flags win)')
    ap.add_argument('--listen')
    ap.add_argument('--https-port', type=int)
    ap.add_argument('--http-port', type=int)
    ap.add_argument('--cert')
    ap.add_argument('--key')
    ap.add_argument('--user', action='append', default=[],
                    help="NAME:PASSWORD (NAME may be 'DOMAIN\\\\user'); repeatable")
    ap.add_argument('--auth', help='comma list of basic,ntlm')
    ap.add_argument('--allow-unencrypted', action='store_true', default=None)
    ap.add_argument('--state', help='host model JSON state file')
    ap.add_argument('--fs-root', help="folder standing for the host's C:\\")
    ap.add_argument('--hostname')
    ap.add_argument('--max-envelope-kb', type=int)
    ap.add_argument('--time-scale', type=float)
    ap.add_argument('--command-delay', type=float)
    ap.add_argument('--reboot-downtime', type=float)
    ap.add_argument('--log')
    ap.add_argument('--ready-file', help='written (JSON: pid, ports) once listening')
    ns = ap.parse_args(argv)
    cfg = dict(DEFAULTS)
    if ns.config:
        with open(ns.config) as fh:
            cfg.update(json.load(fh))
    for key in ('listen', 'https_port', 'http_port', 'cert', 'key', 'allow_unencrypted',
                'state', 'fs_root', 'hostname', 'max_envelope_kb', 'time_scale',
                'command_delay', 'reboot_downtime', 'log', 'ready_file'):
        v = getattr(ns, key)
        if v is not None:
            cfg[key] = v
    if ns.auth:
        cfg['auth'] = [a.strip().lower() for a in ns.auth.split(',') if a.strip()]
    users = dict(cfg.get('users') or {})
    for u in ns.user:
        name, _, pw = u.partition(':')
        users[name] = pw
    cfg['users'] = users
    if not cfg.get('state'):
        raise SystemExit('--state is required (the host model file)')
    if not cfg.get('fs_root'):
        cfg['fs_root'] = cfg['state'] + '.fs'
    return cfg


def main(argv=None):
    cfg = load_config(sys.argv[1:] if argv is None else argv)
    srv = Server(cfg)
    srv.start()
    print('winrm test server on %s https=%s http=%s' % (
        cfg['listen'], srv.port('https'), srv.port('http')), flush=True)
    stop = threading.Event()
    import signal as _signal
    _signal.signal(_signal.SIGTERM, lambda *a: stop.set())
    _signal.signal(_signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(0.5):
        pass
    for lst in srv.listeners:
        lst.close()


if __name__ == '__main__':
    main()
