""".NET members of the PowerShell subset that work on files and streams:
[IO.Path]::GetDirectoryName, [IO.FileStream] (::new, Write, Flush,
Dispose), [IO.File]::Replace and ::Move, the [IO.FileMode] /
[IO.FileAccess] / [IO.FileShare] enums, [NullString]::Value and
[Console]::Error, with .NET Framework 4.x (Windows PowerShell 5.1)
semantics and messages.  pscmdlets' static_member / static_call ask here
first; anything not listed stays an error.

Method failures read like PowerShell's: 'Exception calling "Name" with
"N" argument(s): "<.NET message>"', FullyQualifiedErrorId the .NET
exception's type name, a constructor called ".ctor"."""

import os

from psrun import ErrorRecord, PSError, PSObject, to_num, to_str

NOT_HANDLED = object()

NULLSTRING_TYPE = 'System.Management.Automation.Language.NullString'
# [NullString]::Value: the one value PowerShell passes to a .NET string
# parameter as null ($null itself becomes "").
NULLSTRING = PSObject(NULLSTRING_TYPE, [], to_string=lambda o: '')


def net_str(v):
    """A PowerShell value as a .NET string argument: $null is "", and only
    [NullString]::Value is null."""
    if isinstance(v, PSObject) and v.type_name == NULLSTRING_TYPE:
        return None
    if v is None:
        return ''
    return to_str(v)


def net_error(name, n, message, exc_type):
    return PSError(ErrorRecord('Exception calling "%s" with "%d" argument(s): "%s"' % (name, n, message),
                               exc_type, 'NotSpecified', '', 'String', 'MethodInvocationException'))


def args_error(name, n):
    return PSError(ErrorRecord('Cannot find an overload for "%s" and the argument count: "%d".' % (name, n),
                               'MethodCountCouldNotFindBest', 'NotSpecified', '', 'String',
                               'MethodException'))


# -- enums ----------------------------------------------------------------------
ENUMS = {
    'system.io.filemode': ('System.IO.FileMode', ['CreateNew', 'Create', 'Open', 'OpenOrCreate',
                                                  'Truncate', 'Append'], 1),
    'system.io.fileaccess': ('System.IO.FileAccess', ['Read', 'Write', 'ReadWrite'], 1),
    'system.io.fileshare': ('System.IO.FileShare', ['None', 'Read', 'Write', 'ReadWrite', 'Delete',
                                                    'Inheritable'], 0),
}
ENUM_VALUES = {
    'System.IO.FileShare': {'None': 0, 'Read': 1, 'Write': 2, 'ReadWrite': 3, 'Delete': 4, 'Inheritable': 16},
}


def enum_value(full, name):
    names = next(e[1] for e in ENUMS.values() if e[0] == full)
    first = next(e[2] for e in ENUMS.values() if e[0] == full)
    num = ENUM_VALUES.get(full, {}).get(name, names.index(name) + first)
    o = PSObject(full, [], to_string=lambda o: name)
    o.enum_name = name
    o.enum_num = num
    return o


def enum_arg(method, n, pos, arg_name, full, v):
    """An enum argument: the enum value, its name or its number."""
    names = next(e[1] for e in ENUMS.values() if e[0] == full)
    if isinstance(v, PSObject) and getattr(v, 'enum_name', None) is not None:
        if v.type_name == full:
            return v.enum_name
    else:
        text = to_str(v).strip()
        for nm in names:
            if nm.lower() == text.lower():
                return nm
        for nm in names:
            if to_str(enum_value(full, nm).enum_num) == text:
                return nm
    raise PSError(ErrorRecord(
        'Cannot convert argument "%s", with value: "%s", for "%s" to type "%s": "Cannot convert value "%s" '
        'to type "%s". Error: "Unable to match the identifier name %s to a valid enumerator name. Specify one '
        'of the following enumerator names and try again:\n%s""' % (
            arg_name, to_str(v), method, full, to_str(v), full, to_str(v), ', '.join(names)),
        'MethodArgumentConversionInvalidCastArgument', 'NotSpecified', '', 'String', 'MethodException'))


# -- paths ------------------------------------------------------------------------
INVALID_PATH_CHARS = set('"<>|') | {chr(i) for i in range(32)}


def _normalize_separators(p):
    p = p.replace('/', '\\')
    lead = 2 if p.startswith('\\\\') else 0
    out = [p[:lead]]
    prev = ''
    for ch in p[lead:]:
        if ch == '\\' and prev == '\\':
            continue
        out.append(ch)
        prev = ch
    return ''.join(out)


def _root_length(p):
    if len(p) >= 2 and p[1] == ':' and p[0].isalpha():
        return 3 if len(p) >= 3 and p[2] == '\\' else 2
    if p.startswith('\\\\'):
        # \\server\share\: the root ends after the share name.
        i = 2
        seps = 0
        while i < len(p):
            if p[i] == '\\':
                seps += 1
                if seps == 2:
                    break
            i += 1
        return i
    if p.startswith('\\'):
        return 1
    return 0


def get_directory_name(path):
    """Path.GetDirectoryName (.NET Framework 4.6.2+): null for null and for a
    root; the text before the last separator otherwise."""
    if path is None:
        return None
    if any(ch in INVALID_PATH_CHARS for ch in path):
        raise net_error('GetDirectoryName', 1, 'Illegal characters in path.', 'ArgumentException')
    if path.strip() == '':
        raise net_error('GetDirectoryName', 1, 'The path is not of a legal form.', 'ArgumentException')
    p = _normalize_separators(path)
    root = _root_length(p)
    i = len(p)
    if i <= root:
        return None
    i -= 1
    while i > root and p[i] != '\\':
        i -= 1
    return p[:i]


def _real(rt, path):
    """The model file behind a Windows path, or None when the path is not
    on the C: drive (such a path's folder does not exist)."""
    from host import map_path
    try:
        return map_path(rt.fs_root, path)
    except ValueError:
        return None


def _check_path(name, n, path, param):
    if path is None:
        raise net_error(name, n, 'Value cannot be null.\r\nParameter name: %s' % param, 'ArgumentNullException')
    if any(ch in INVALID_PATH_CHARS for ch in path):
        raise net_error(name, n, 'Illegal characters in path.', 'ArgumentException')


# -- [IO.File]::Replace / ::Move -------------------------------------------------------
def file_replace(rt, args):
    n = len(args)
    if n not in (3, 4):
        raise args_error('Replace', n)
    src, dst, backup = (net_str(a) for a in args[:3])
    _check_path('Replace', n, src, 'sourceFileName')
    _check_path('Replace', n, dst, 'destinationFileName')
    if backup is not None:
        _check_path('Replace', n, backup, 'destinationBackupFileName')
    for p in (src, dst) + ((backup,) if backup is not None else ()):
        if p.strip() == '':
            # Path.GetFullPath(""): why a $null backup must be [NullString]::Value.
            raise net_error('Replace', n, 'The path is not of a legal form.', 'ArgumentException')
    rs, rd = _real(rt, src), _real(rt, dst)
    if rs is None or rd is None or not os.path.isfile(rs) or not os.path.isfile(rd):
        raise net_error('Replace', n, 'Unable to find the specified file.', 'FileNotFoundException')
    if backup is not None:
        rb = _real(rt, backup)
        if rb is None or not os.path.isdir(os.path.dirname(rb)):
            raise net_error('Replace', n, 'Could not find a part of the path.', 'DirectoryNotFoundException')
        os.replace(rd, rb)
    os.replace(rs, rd)
    return None


def file_move(rt, args):
    n = len(args)
    if n != 2:
        raise args_error('Move', n)
    src, dst = (net_str(a) for a in args)
    _check_path('Move', n, src, 'sourceFileName')
    _check_path('Move', n, dst, 'destFileName')
    if src == '':
        raise net_error('Move', n, 'Empty file name is not legal.\r\nParameter name: sourceFileName',
                        'ArgumentException')
    if dst == '':
        raise net_error('Move', n, 'Empty file name is not legal.\r\nParameter name: destFileName',
                        'ArgumentException')
    rs, rd = _real(rt, src), _real(rt, dst)
    if rs is None or not os.path.isfile(rs):
        raise net_error('Move', n, "Could not find file '%s'." % src, 'FileNotFoundException')
    if rd is None or not os.path.isdir(os.path.dirname(rd)):
        raise net_error('Move', n, 'Could not find a part of the path.', 'DirectoryNotFoundException')
    if os.path.lexists(rd):
        raise net_error('Move', n, 'Cannot create a file when that file already exists.', 'IOException')
    os.rename(rs, rd)
    return None


# -- [IO.FileStream] ---------------------------------------------------------------------
def _closed():
    return 'Cannot access a closed file.'


def file_stream_new(rt, args):
    n = len(args)
    if n < 2 or n > 4:
        raise args_error('new', n)
    path = net_str(args[0])
    if path is None:
        raise net_error('.ctor', n, 'Path cannot be null.\r\nParameter name: path', 'ArgumentNullException')
    if path == '':
        raise net_error('.ctor', n, 'Empty path name is not legal.\r\nParameter name: path', 'ArgumentException')
    _check_path('.ctor', n, path, 'path')
    mode = enum_arg('.ctor', n, 1, 'mode', 'System.IO.FileMode', args[1])
    access = enum_arg('.ctor', n, 2, 'access', 'System.IO.FileAccess', args[2]) if n >= 3 else (
        'Write' if mode == 'Append' else 'ReadWrite')
    if n >= 4:
        enum_arg('.ctor', n, 3, 'share', 'System.IO.FileShare', args[3])   # validated, not modelled
    if mode == 'Append' and access != 'Write':
        raise net_error('.ctor', n, 'Append access can be requested only in write-only mode.', 'ArgumentException')
    if access == 'Read' and mode in ('CreateNew', 'Create', 'Truncate', 'Append'):
        raise net_error('.ctor', n, 'Combining FileMode: %s with FileAccess: Read is invalid.\r\n'
                        'Parameter name: access' % mode, 'ArgumentException')
    real = _real(rt, path)
    if real is None or not os.path.isdir(os.path.dirname(real)):
        raise net_error('.ctor', n, "Could not find a part of the path '%s'." % path, 'DirectoryNotFoundException')
    if os.path.isdir(real):
        raise net_error('.ctor', n, "Access to the path '%s' is denied." % path, 'UnauthorizedAccessException')
    exists = os.path.isfile(real)
    if mode == 'CreateNew' and exists:
        raise net_error('.ctor', n, "The file '%s' already exists." % path, 'IOException')
    if mode in ('Open', 'Truncate') and not exists:
        raise net_error('.ctor', n, "Could not find file '%s'." % path, 'FileNotFoundException')
    flags = {'Read': os.O_RDONLY, 'Write': os.O_WRONLY, 'ReadWrite': os.O_RDWR}[access]
    flags |= {'CreateNew': os.O_CREAT | os.O_EXCL, 'Create': os.O_CREAT | os.O_TRUNC, 'Open': 0,
              'OpenOrCreate': os.O_CREAT, 'Truncate': os.O_TRUNC, 'Append': os.O_CREAT | os.O_APPEND}[mode]
    fd = os.open(real, flags, 0o644)
    return FileStream(fd, path, access).obj


class FileStream:
    def __init__(self, fd, path, access):
        self.fd = fd
        self.path = path
        self.access = access
        self.obj = PSObject('System.IO.FileStream', [
            ('Name', path),
            ('CanWrite', lambda: self.fd is not None and access != 'Read'),
            ('CanRead', lambda: self.fd is not None and access != 'Write'),
            ('Length', self.length),
        ], methods={'write': self.write, 'flush': self.flush, 'dispose': self.dispose,
                    'close': self.dispose})

    def __del__(self):
        if self.fd is not None:
            os.close(self.fd)

    def length(self):
        if self.fd is None:
            raise PSError(ErrorRecord('Exception getting "Length": "%s"' % _closed(), 'ObjectDisposedException',
                                      'NotSpecified', '', 'String', 'GetValueInvocationException'))
        return os.fstat(self.fd).st_size

    def write(self, args):
        n = len(args)
        if n != 3:
            raise args_error('Write', n)
        buf, off, cnt = args
        if buf is None:
            raise net_error('Write', n, 'Buffer cannot be null.\r\nParameter name: array', 'ArgumentNullException')
        if isinstance(buf, list) and all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 256
                                         for x in buf):
            buf = bytes(buf)
        if not isinstance(buf, (bytes, bytearray)):
            raise PSError(ErrorRecord(
                'Cannot convert argument "array", with value: "%s", for "Write" to type "System.Byte[]": '
                '"Cannot convert value "%s" to type "System.Byte[]"."' % (to_str(buf), to_str(buf)),
                'MethodArgumentConversionInvalidCastArgument', 'NotSpecified', '', 'String', 'MethodException'))
        try:
            off, cnt = int(to_num(off)), int(to_num(cnt))
        except ValueError as exc:
            raise net_error('Write', n, str(exc), 'InvalidCastException')
        if off < 0 or cnt < 0:
            raise net_error('Write', n, 'Non-negative number required.\r\nParameter name: %s' % (
                'offset' if off < 0 else 'count'), 'ArgumentOutOfRangeException')
        if off + cnt > len(buf):
            raise net_error('Write', n, 'Offset and length were out of bounds for the array or count is greater '
                            'than the number of elements from index to the end of the source collection.',
                            'ArgumentException')
        if self.fd is None:
            raise net_error('Write', n, _closed(), 'ObjectDisposedException')
        if self.access == 'Read':
            raise net_error('Write', n, 'Stream does not support writing.', 'NotSupportedException')
        data = bytes(buf[off:off + cnt])
        while data:
            k = os.write(self.fd, data)
            data = data[k:]
        return None

    def flush(self, args):
        n = len(args)
        if n > 1:
            raise args_error('Flush', n)
        if self.fd is None:
            raise net_error('Flush', n, _closed(), 'ObjectDisposedException')
        if n == 1 and args[0] is not None and not isinstance(args[0], bool):
            raise PSError(ErrorRecord(
                'Cannot convert argument "flushToDisk", with value: "%s", for "Flush" to type "System.Boolean": '
                '"Cannot convert value "%s" to type "System.Boolean". Boolean parameters accept only Boolean '
                'values and numbers, such as $True, $False, 1 or 0."' % (to_str(args[0]), to_str(args[0])),
                'MethodArgumentConversionInvalidCastArgument', 'NotSpecified', '', 'String', 'MethodException'))
        if n == 1 and args[0]:
            os.fsync(self.fd)
        return None

    def dispose(self, args):
        if args:
            raise args_error('Dispose', len(args))
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return None


# -- [Console]::Error -------------------------------------------------------------------------
def console_error(rt):
    def write_line(args):
        if len(args) > 1:
            raise args_error('WriteLine', len(args))
        rt.io.stderr(((net_str(args[0]) or '') if args else '') + '\r\n')
        return None

    def write(args):
        if len(args) != 1:
            raise args_error('Write', len(args))
        rt.io.stderr(net_str(args[0]) or '')
        return None

    def flush(args):
        if args:
            raise args_error('Flush', len(args))
        return None
    return PSObject('System.IO.TextWriter+SyncTextWriter', [('NewLine', '\r\n')],
                    methods={'writeline': write_line, 'write': write, 'flush': flush})


# -- the hooks pscmdlets calls ---------------------------------------------------------------
def _full(tname):
    low = tname.lower()
    if low == 'nullstring':
        return 'nullstring'
    return low if low.startswith('system.') else 'system.' + low


def static_member(rt, tname, name):
    t = _full(tname)
    low = name.lower()
    if t in ENUMS:
        full, names, _ = ENUMS[t]
        for nm in names:
            if nm.lower() == low:
                return enum_value(full, nm)
        raise PSError(ErrorRecord("The property '%s' of type [%s] is not modelled by the certsync test host."
                                  % (name, tname), 'PropertyNotFound', 'InvalidOperation'))
    if t in ('nullstring', 'system.management.automation.language.nullstring') and low == 'value':
        return NULLSTRING
    if t == 'system.console' and low == 'error':
        return console_error(rt)
    return NOT_HANDLED


def static_call(rt, tname, name, args):
    t = _full(tname)
    low = name.lower()
    if t == 'system.io.path' and low == 'getdirectoryname':
        if len(args) != 1:
            raise args_error(name, len(args))
        return get_directory_name(net_str(args[0]))
    if t == 'system.io.file' and low == 'replace':
        return file_replace(rt, args)
    if t == 'system.io.file' and low == 'move':
        return file_move(rt, args)
    if t == 'system.io.filestream' and low == 'new':
        return file_stream_new(rt, args)
    return NOT_HANDLED
