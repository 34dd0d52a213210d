"""The programs a WinRS command line can start: a small cmd.exe (what
WinRS wraps every command in unless WINRS_SKIP_CMD_SHELL is TRUE) and
powershell.exe with its own command-line options, running the PowerShell
subset against the host model."""

import re

import wsman
import psrun
import pscmdlets


def argv_split(s):
    """CommandLineToArgvW: how a Windows program splits its command line."""
    args = []
    i, n = 0, len(s)
    while i < n:
        while i < n and s[i] in ' \t':
            i += 1
        if i >= n:
            break
        buf = []
        inq = False
        while i < n:
            c = s[i]
            if c == '\\':
                j = i
                while j < n and s[j] == '\\':
                    j += 1
                nb = j - i
                if j < n and s[j] == '"':
                    buf.append('\\' * (nb // 2))
                    if nb % 2:
                        buf.append('"')
                        i = j + 1
                    else:
                        i = j
                else:
                    buf.append('\\' * nb)
                    i = j
            elif c == '"':
                if inq and i + 1 < n and s[i + 1] == '"':
                    buf.append('"')
                    i += 2
                else:
                    inq = not inq
                    i += 1
            elif c in ' \t' and not inq:
                break
            else:
                buf.append(c)
                i += 1
        args.append(''.join(buf))
    return args


POWERSHELL_PATHS = ('powershell', 'powershell.exe',
                    'c:\\windows\\system32\\windowspowershell\\v1.0\\powershell.exe',
                    'c:\\windows\\system32\\windowspowershell\\v1.0\\powershell')
CMD_PATHS = ('cmd', 'cmd.exe', 'c:\\windows\\system32\\cmd.exe')


def resolve(command, args, skip_cmd_shell):
    """A callable program(io) -> exit code for a WinRS Command, or a fault."""
    line = ' '.join([command] + args)
    if skip_cmd_shell:
        # Without cmd.exe the executable is started directly; the recorded
        # host (Server 2008 R2) did not search PATH for it.
        low = command.strip('"').lower()
        if low.startswith('c:\\') and low in POWERSHELL_PATHS:
            return lambda io: powershell(io, argv_split(' '.join(args)))
        if low.startswith('c:\\') and low in CMD_PATHS:
            return lambda io: cmd_exe(io, argv_split(' '.join(args)), ' '.join(args))
        raise wsman.fault_file_not_found()
    return lambda io: cmd_run_line(io, line)


# -- cmd.exe ------------------------------------------------------------------
def split_cmd_ops(line):
    """Split a cmd line at &&, ||, & outside double quotes: [(op, text)]."""
    parts = []
    buf = []
    op = None
    i = 0
    inq = False
    while i < len(line):
        c = line[i]
        if c == '"':
            inq = not inq
        if not inq and c == '^' and i + 1 < len(line):
            buf.append(line[i:i + 2])
            i += 2
            continue
        if not inq and c in '&|':
            two = line[i:i + 2]
            if two in ('&&', '||'):
                parts.append((op, ''.join(buf)))
                op = two
                buf = []
                i += 2
                continue
            if c == '&' and not (i > 0 and line[i - 1] == '>'):
                parts.append((op, ''.join(buf)))
                op = '&'
                buf = []
                i += 1
                continue
            if c == '|':
                parts.append((op, ''.join(buf)))
                op = '|'
                buf = []
                i += 1
                continue
        buf.append(c)
        i += 1
    parts.append((op, ''.join(buf)))
    return parts


def cmd_run_line(io, line):
    code = 0
    prev_ok = True
    for op, text in split_cmd_ops(line):
        if op == '&&' and not prev_ok:
            continue
        if op == '||' and prev_ok:
            continue
        if op == '|':
            io.stderr("The pipe operator is not modelled by the certsync test host's cmd.exe.\r\n")
            return 1
        try:
            code = cmd_simple(io, text)
        except ExitCmd as e:
            return e.code
        prev_ok = code == 0
    return code


class ExitCmd(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class RedirectedIO:
    """stdout of a cmd built-in sent to stderr (>&2) or nowhere (>nul)."""

    def __init__(self, io, out_to):
        self._io = io
        self._out_to = out_to

    def __getattr__(self, k):
        return getattr(self._io, k)

    def stdout(self, data):
        if self._out_to == 'stderr':
            self._io.stderr(data)
        elif self._out_to == 'stdout':
            self._io.stdout(data)

    def write(self, stream, data):
        if stream == 'stdout':
            self.stdout(data)
        else:
            self._io.stderr(data)


def cmd_simple(io, text):
    out_to = 'stdout'
    m = re.search(r'(1?>&2|1?>\s*nul\b)', text, re.I)
    if m:
        out_to = 'stderr' if '&2' in m.group(1) else None
        text = text[:m.start()] + text[m.end():]
    rio = RedirectedIO(io, out_to) if out_to != 'stdout' else io
    stripped = text.lstrip()
    if not stripped.strip():
        return 0
    word = re.match(r'("[^"]*"|[^\s]+)', stripped).group(1)
    rest = stripped[len(word):]
    name = word.strip('"').lower()
    if name == 'echo' or name.startswith('echo.'):
        body = rest[1:] if rest.startswith(' ') else rest
        rio.stdout(body.replace('^', '') + '\r\n')
        return 0
    if name == 'exit':
        a = rest.split()
        if a and a[0].lower() == '/b':
            a = a[1:]
        raise ExitCmd(int(a[0]) if a and re.match(r'^-?\d+$', a[0]) else 0)
    if name == 'set' and not rest.strip():
        for k in sorted(io.env, key=str.lower):
            rio.stdout('%s=%s\r\n' % (k, io.env[k]))
        return 0
    if name == 'cd' and not rest.strip():
        rio.stdout(io.cwd + '\r\n')
        return 0
    if name in ('hostname', 'hostname.exe'):
        with io.server.host.session() as st:
            rio.stdout(st.get('hostname', 'SAPPHIRE') + '\r\n')
        return 0
    if name in ('whoami', 'whoami.exe'):
        rio.stdout(io.shell.owner.lower() + '\r\n')
        return 0
    if name in CMD_PATHS:
        return cmd_exe(rio, argv_split(rest), rest)
    if name in POWERSHELL_PATHS:
        return powershell(rio, argv_split(rest))
    if name in ('netsh', 'netsh.exe', 'c:\\windows\\system32\\netsh.exe'):
        with io.server.host.session() as st:
            rt = psrun.Runtime(io, st, io.env, io.cwd)
            code, out, err = pscmdlets.NATIVE['netsh'](rt, argv_split(rest))
        rio.stdout(out)
        if err:
            io.stderr(err)
        return code
    io.stderr("'%s' is not recognized as an internal or external command,\r\noperable program or batch "
              "file.\r\n" % word.strip('"'))
    return 9009


def cmd_exe(io, argv, raw):
    if argv and argv[0].lower() in ('/c', '/k', '/s'):
        i = raw.lower().find(argv[0].lower())
        return cmd_run_line(io, raw[i + len(argv[0]):].lstrip())
    io.stderr('The certsync test host runs cmd.exe only with /c.\r\n')
    return 1


# -- powershell.exe --------------------------------------------------------------------------
PS_PARAMS = ['Command', 'EncodedCommand', 'File', 'NoProfile', 'NonInteractive', 'NoLogo', 'NoExit',
             'ExecutionPolicy', 'InputFormat', 'OutputFormat', 'WindowStyle', 'Version', 'Sta', 'Mta',
             'ConfigurationName', 'PSConsoleFile', 'EncodedArguments']
PS_TAKES_VALUE = {'ExecutionPolicy', 'InputFormat', 'OutputFormat', 'WindowStyle', 'Version',
                  'ConfigurationName', 'PSConsoleFile', 'EncodedCommand', 'EncodedArguments'}
PS_ALIASES = {'ec': 'EncodedCommand', 'ep': 'ExecutionPolicy', 'nop': 'NoProfile',
              'noni': 'NonInteractive', 'enc': 'EncodedCommand', 'c': 'Command', 'f': 'File',
              'nol': 'NoLogo'}


def ps_param(arg):
    name = arg[1:]
    low = name.lower()
    if low in PS_ALIASES:
        return PS_ALIASES[low]
    hits = [p for p in PS_PARAMS if p.lower().startswith(low)]
    if len(hits) == 1:
        return hits[0]
    exact = [p for p in PS_PARAMS if p.lower() == low]
    return exact[0] if exact else None


def powershell(io, argv):
    opts = {}
    command = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == '-':
            command = '-'
            break
        if a.startswith('-') or a.startswith('/'):
            p = ps_param(a)
            if p is None:
                io.stderr("-%s : The term '%s' is not a valid parameter of powershell.exe.\r\n" % (a[1:], a))
                return 1
            if p == 'Command':
                command = ' '.join(argv[i + 1:])
                break
            if p == 'File':
                io.stderr('powershell.exe -File is not modelled by the certsync test host.\r\n')
                return 1
            if p in PS_TAKES_VALUE:
                if i + 1 >= len(argv):
                    io.stderr('Missing argument for parameter %s.\r\n' % p)
                    return 1
                opts[p] = argv[i + 1]
                i += 2
                continue
            opts[p] = True
            i += 1
            continue
        command = ' '.join(argv[i:])
        break
    if 'EncodedCommand' in opts:
        if command is not None:
            io.stderr('Cannot process the command because -EncodedCommand and a command were both given.\r\n')
            return 1
        try:
            command = psrun.decode_encoded_command(opts['EncodedCommand'])
        except (ValueError, UnicodeDecodeError):
            io.stderr('Cannot process the command because the value specified with -EncodedCommand is not '
                      'properly encoded. The value must be Base64 encoded.\r\n')
            return 1
    for fmt in ('InputFormat', 'OutputFormat'):
        if fmt in opts and opts[fmt].lower() != 'text':
            io.stderr('-%s %s is not modelled by the certsync test host.\r\n' % (fmt, opts[fmt]))
            return 1
    if command is None:
        command = '-'
    store = io.server.host
    rt = psrun.Runtime(io, None, io.env, io.cwd, noninteractive=bool(opts.get('NonInteractive')))
    rt.fs_root = store.fs_root
    rt.whoami = io.shell.owner if '\\' in io.shell.owner else '%s\\%s' % (
        io.server.machine, io.shell.owner)
    rt.session_factory = store.session
    if command.strip() == '-':
        code = psrun.run_stdin(rt, io.read_line)
    else:
        code = psrun.run_script(rt, command)
    psrun.finish_stderr(rt, io.server.config.get('clixml_progress', True) and rt.autoloaded)
    return code
