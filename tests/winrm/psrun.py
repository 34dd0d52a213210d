"""Runtime of the PowerShell subset: values, scopes, pipelines, error
records (terminating / non-terminating, $ErrorActionPreference, try/catch),
the CLIXML error stream powershell.exe writes when stderr is redirected,
ConvertTo-Json as Windows PowerShell 5.1 writes it, and the two ways
powershell.exe runs code: a whole script (-Command <text>,
-EncodedCommand) or statement by statement from stdin (-Command -)."""

import base64
import datetime
import json
import math
import re

import psparse
from psparse import N, ParseError


# -- values --------------------------------------------------------------
class Hashtable(dict):
    """Case-insensitive keys, insertion order kept (like [ordered])."""

    def __init__(self, ordered=False):
        super().__init__()
        self.ordered = ordered

    @staticmethod
    def _k(key):
        return key.lower() if isinstance(key, str) else key

    def set(self, key, value):
        super().__setitem__(self._k(key), (key, value))

    def get_value(self, key, default=None):
        item = super().get(self._k(key))
        return item[1] if item else default

    def has(self, key):
        return super().__contains__(self._k(key))

    def items_(self):
        return list(super().values())

    def remove(self, key):
        super().pop(self._k(key), None)


class PSObject:
    def __init__(self, type_name='System.Management.Automation.PSCustomObject', props=None,
                 methods=None, to_string=None):
        self.type_name = type_name
        self.props = []            # [(name, value)]
        self.methods = methods or {}
        self._to_string = to_string
        for k, v in (props or []):
            self.set(k, v)

    def _find(self, name):
        for i, (k, _) in enumerate(self.props):
            if k.lower() == name.lower():
                return i
        return -1

    def get(self, name, default=None):
        i = self._find(name)
        if i < 0:
            return default
        v = self.props[i][1]
        return v() if callable(v) and not isinstance(v, (ScriptBlock, PSObject)) else v

    def has(self, name):
        return self._find(name) >= 0

    def set(self, name, value):
        i = self._find(name)
        if i < 0:
            self.props.append((name, value))
        else:
            self.props[i] = (self.props[i][0], value)

    def names(self):
        return [k for k, _ in self.props]

    def __str__(self):
        if self._to_string:
            return self._to_string(self)
        if self.type_name == 'System.Management.Automation.PSCustomObject':
            return '@{%s}' % '; '.join('%s=%s' % (k, to_str(self.get(k))) for k in self.names())
        return self.type_name


class SecureString:
    def __init__(self, plain):
        self._plain = plain

    def __str__(self):
        return 'System.Security.SecureString'


class DateTime:
    def __init__(self, dt, kind='Local'):
        self.dt = dt.astimezone(datetime.timezone.utc)
        self.kind = kind

    def to_string(self, fmt=None):
        d = self.dt
        if fmt in ('o', 'O'):
            base = d.strftime('%Y-%m-%dT%H:%M:%S') + '.%07d' % (d.microsecond * 10)
            return base + ('Z' if self.kind == 'Utc' else '+00:00')
        if fmt in ('s',):
            return d.strftime('%Y-%m-%dT%H:%M:%S')
        if fmt in ('u',):
            return d.strftime('%Y-%m-%d %H:%M:%SZ')
        if fmt is None:
            h = d.hour % 12 or 12
            return '%d/%d/%d %d:%02d:%02d %s' % (d.month, d.day, d.year, h, d.minute, d.second,
                                                  'AM' if d.hour < 12 else 'PM')
        fmt2 = (fmt.replace('yyyy', '%Y').replace('MM', '%m').replace('dd', '%d')
                .replace('HH', '%H').replace('mm', '%M').replace('ss', '%S'))
        return d.strftime(fmt2)

    def __str__(self):
        return self.to_string()

    def ticks_ms(self):
        return int(self.dt.timestamp() * 1000)


class ScriptBlock:
    def __init__(self, node, text, source=None):
        self.node = node
        self.text = text
        # The text node positions refer to: the enclosing script for a
        # literal { }, the block's own text for [ScriptBlock]::Create (its
        # errors quote its own lines, as PowerShell's do).
        self.source = source

    def __str__(self):
        return self.text


class TypeLit:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return self.name


class ErrorRecord:
    def __init__(self, message, fqid, category='NotSpecified', target='', target_type='String',
                 exception='RuntimeException', command=None, node=None, activity=None):
        self.message = message
        self.fqid = fqid
        self.category = category
        self.target = target
        self.target_type = target_type
        self.exception = exception
        self.command = command
        self.node = node
        self.activity = activity if activity is not None else (command or '')
        self.source = None   # set by the runtime: (line text, line no, col, length)

    def __str__(self):
        return self.message

    def as_object(self):
        exc = PSObject('System.Exception', [('Message', self.message)],
                       to_string=lambda o: self.message)
        return PSObject('System.Management.Automation.ErrorRecord', [
            ('Exception', exc), ('FullyQualifiedErrorId', self.fqid),
            ('CategoryInfo', '%s: (%s:%s) [%s], %s' % (self.category, self.target,
                                                       self.target_type, self.activity,
                                                       self.exception)),
            ('TargetObject', self.target)], to_string=lambda o: self.message)


class PSError(Exception):
    """A terminating error: 'statement' ones (a command that cannot run:
    not found, bad parameters) end only the statement unless
    $ErrorActionPreference is Stop; 'script' ones (throw, -ErrorAction
    Stop) end the script.  Both are caught by try/catch."""

    def __init__(self, record, scope='statement'):
        super().__init__(record.message)
        self.record = record
        self.scope = scope


class ExitScript(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


class FlowBreak(Exception):
    pass


class FlowContinue(Exception):
    pass


class FlowReturn(Exception):
    def __init__(self, values):
        super().__init__()
        self.values = values


# Output a statement list produced before exit, throw, a terminating error,
# break or continue cut it short: PowerShell has already written it (its
# pipeline streams), so it travels with the exception as `pending` until
# something either writes it (the top level), keeps it (a loop, try/catch)
# or had been capturing it (assignment, $(...), (...)) and drops it.
def carry(exc, out):
    if out:
        exc.pending = list(out) + getattr(exc, 'pending', [])


def pending(exc):
    return getattr(exc, 'pending', [])


def drop_pending(exc):
    if getattr(exc, 'pending', None):
        exc.pending = []


# -- conversions -----------------------------------------------------------
def to_str(v):
    if v is None:
        return ''
    if v is True:
        return 'True'
    if v is False:
        return 'False'
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, (bytes, bytearray)):
        return ' '.join(str(b) for b in v)
    if isinstance(v, list):
        return ' '.join(to_str(x) for x in v)
    if isinstance(v, Hashtable):
        return 'System.Collections.Hashtable'
    return str(v)


def to_bool(v):
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, str):
        return v != ''
    if isinstance(v, (list, bytes)):
        if len(v) == 0:
            return False
        if len(v) == 1:
            return to_bool(v[0])
        return True
    if isinstance(v, SecureString):
        return True
    return True


def to_num(v, what='System.Int32'):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, (int, float)):
        return v
    if v is None:
        return 0
    if isinstance(v, str):
        t = v.strip()
        if t == '':
            return 0
        try:
            if re.match(r'^[+-]?\d+$', t):
                return int(t)
            if re.match(r'^0x[0-9a-f]+$', t, re.I):
                return int(t, 16)
            return float(t)
        except ValueError:
            pass
    raise ValueError('Cannot convert value "%s" to type "%s". Error: "Input string was not in a '
                     'correct format."' % (to_str(v), what))


def as_list(v):
    """Enumerate like the pipeline does: arrays (byte[] too) and
    collections (a COM collection: ps_enumerate) unroll, $null is
    nothing."""
    if v is None:
        return []
    if isinstance(v, list):
        return v
    if isinstance(v, (bytes, bytearray)):
        return list(v)
    enum = getattr(v, 'ps_enumerate', None)
    if enum is not None:
        items = enum()
        if items is not None:
            return items
    return [v]


def unwrap_output(items):
    """A statement's output as a value: nothing -> $null, one -> itself."""
    if len(items) == 0:
        return None
    if len(items) == 1:
        return items[0]
    return list(items)


def wildcard_match(pattern, text):
    rx = '^' + ''.join('.*' if c == '*' else '.' if c == '?' else re.escape(c)
                       for c in pattern) + '$'
    return re.match(rx, text, re.I | re.S) is not None


# -- JSON (Windows PowerShell 5.1 ConvertTo-Json) --------------------------
def json_escape(s):
    out = json.dumps(s, ensure_ascii=False)
    # JavaScriptSerializer escapes these characters.
    return (out.replace('<', '\\u003c').replace('>', '\\u003e').replace('&', '\\u0026')
            .replace("'", '\\u0027'))


def to_json(value, depth, compress, level=0, cur_depth=0):
    ind = '' if compress else '    ' * (level + 1)
    ind_close = '' if compress else '    ' * level
    nl = '' if compress else '\r\n'
    sep = ':' if compress else ':  '
    if value is None:
        return 'null'
    if value is True:
        return 'true'
    if value is False:
        return 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return '"%s"' % value
        return to_str(value)
    if isinstance(value, str):
        return json_escape(value)
    if isinstance(value, DateTime):
        return '"\\/Date(%d)\\/"' % value.ticks_ms()
    if isinstance(value, (SecureString, ScriptBlock, TypeLit)):
        return json_escape(str(value))
    if isinstance(value, (bytes, bytearray)):
        value = list(value)
    if isinstance(value, list):
        if cur_depth > depth:
            return json_escape(to_str(value))
        if not value:
            return '[' + nl + nl + ind_close + ']' if not compress else '[]'
        items = [ind + to_json(v, depth, compress, level + 1, cur_depth + 1) for v in value]
        return '[' + nl + (',' + nl).join(items) + nl + ind_close + ']'
    if isinstance(value, Hashtable):
        pairs = [(to_str(k), v) for k, v in value.items_()]
    elif isinstance(value, PSObject):
        pairs = [(k, value.get(k)) for k in value.names()]
    elif isinstance(value, ErrorRecord):
        pairs = [(k, value.as_object().get(k)) for k in value.as_object().names()]
    else:
        return json_escape(to_str(value))
    if cur_depth >= depth and level > 0:
        return json_escape(to_str(value))
    if not pairs:
        return '{' + nl + nl + ind_close + '}' if not compress else '{}'
    items = [ind + json_escape(k) + sep + to_json(v, depth, compress, level + 1, cur_depth + 1)
             for k, v in pairs]
    return '{' + nl + (',' + nl).join(items) + nl + ind_close + '}'


# -- CLIXML ----------------------------------------------------------------
def clixml_escape(text):
    """XML text with PowerShell's _xHHHH_ escapes for control characters
    (CR LF become _x000D__x000A_) and for literal "_xHHHH_" sequences."""
    out = []
    for i, ch in enumerate(text):
        o = ord(ch)
        if ch == '_' and re.match(r'x[0-9A-Fa-f]{4}_', text[i + 1:i + 7]):
            out.append('_x005F_')
        elif ch == '&':
            out.append('&amp;')
        elif ch == '<':
            out.append('&lt;')
        elif ch == '>':
            out.append('&gt;')
        elif o < 0x20 or 0xd800 <= o <= 0xdfff or o in (0xfffe, 0xffff):
            out.append('_x%04X_' % o)
        else:
            out.append(ch)
    return ''.join(out)


def clixml_document(records, progress=False):
    parts = []
    if progress:
        parts.append(
            '<Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject'
            '</T><T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing '
            'modules for first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T>'
            '<SR>-1</SR><SD> </SD></PR></MS></Obj>')
    for stream, text in records:
        for line in text.split('\n'):
            parts.append('<S S="%s">%s</S>' % (stream, clixml_escape(line + '\r\n')))
    return ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/'
            'powershell/2004/04">%s</Objs>' % ''.join(parts))


# -- scopes -----------------------------------------------------------------
class Scope:
    def __init__(self, parent=None):
        self.vars = {}
        self.parent = parent
        self.functions = {}     # lower name -> psinvoke.Function
        self.constraints = {}   # lower name -> type of a typed variable (a parameter)

    def lookup(self, name):
        s = self
        key = name.lower()
        while s is not None:
            if key in s.vars:
                return True, s.vars[key]
            s = s.parent
        return False, None

    def assign(self, name, value):
        self.vars[name.lower()] = value


EAP_VALUES = {'stop': 'Stop', 'continue': 'Continue', 'silentlycontinue': 'SilentlyContinue',
              'ignore': 'Ignore', 'inquire': 'Inquire'}


class Runtime:
    def __init__(self, io, host, env, cwd, noninteractive=True, commands=None):
        self.io = io
        self.host = host            # host model state (dict) for this run
        self.env = env
        self.cwd = cwd
        self.noninteractive = noninteractive
        self.commands = commands    # the cmdlet table (pscmdlets)
        self.global_scope = Scope()
        self.scope = self.global_scope
        self.errors_out = []        # [(stream, text)] for the CLIXML document
        self.last_ok = True
        self.lines = ['']
        self.snapins = set()
        self.try_depth = 0
        self.session_factory = None
        self.autoloaded = False
        self.fs_root = None
        self.whoami = 'SAPPHIRE\\Administrator'
        self.cmd_failed = False
        self.source = ''
        g = self.global_scope
        g.assign('true', True)
        g.assign('false', False)
        g.assign('null', None)
        g.assign('ErrorActionPreference', 'Continue')
        g.assign('Error', [])
        g.assign('LASTEXITCODE', None)
        g.assign('PWD', PSObject('System.Management.Automation.PathInfo', [('Path', cwd)],
                                 to_string=lambda o: cwd))
        g.assign('PSVersionTable', self._psversion())
        g.assign('ConfirmPreference', 'High')

    def _psversion(self):
        h = Hashtable()
        h.set('PSVersion', '5.1.17763.1')
        h.set('PSEdition', 'Desktop')
        return h

    # -- variables ----------------------------------------------------------
    def get_var(self, name):
        low = name.lower()
        if low == '?':
            return self.last_ok
        if low == 'pwd':
            return self.global_scope.vars['pwd']
        found, val = self.scope.lookup(name)
        return val if found else None

    def set_var(self, name, value):
        low = name.lower()
        if low in ('true', 'false', 'null', '?'):
            raise PSError(ErrorRecord('Cannot overwrite variable %s because it is read-only or '
                                      'constant.' % name, 'VariableNotWritable',
                                      'WriteError', name))
        if low == 'erroractionpreference':
            v = to_str(value).lower()
            if v not in EAP_VALUES:
                raise PSError(ErrorRecord(
                    'Cannot convert value "%s" to type "System.Management.Automation.ActionPreference". '
                    'Error: "Unable to match the identifier name %s to a valid enumerator name. '
                    'Specify one of the following enumerator names and try again:'
                    ' SilentlyContinue, Stop, Continue, Inquire, Ignore, Suspend"' % (to_str(value), to_str(value)),
                    'RuntimeException', 'MetadataError'))
            value = EAP_VALUES[v]
        tname = self.scope.constraints.get(low)
        if tname is not None:
            from psinvoke import convert
            value = convert(self, tname, value)
        self.scope.assign(name, value)

    def eap(self):
        return to_str(self.get_var('ErrorActionPreference')) or 'Continue'

    # -- errors ------------------------------------------------------------
    def locate(self, rec, node):
        if node is None or rec.source is not None:
            return
        rec.node = node
        pos = node.pos
        src = self.source
        line_no = src.count('\n', 0, pos) + 1
        start = src.rfind('\n', 0, pos) + 1
        end = src.find('\n', pos)
        line = src[start:end if end >= 0 else len(src)]
        col = pos - start + 1
        length = self.extent_len(node, src)
        rec.source = (line, line_no, col, length)

    def extent_len(self, node, src):
        pos = node.pos
        end = src.find('\n', pos)
        end = len(src) if end < 0 else end
        text = src[pos:end]
        m = re.match(r'[^|;]*', text)
        return max(1, len(m.group(0).rstrip()))

    def format_error(self, rec):
        lines = []
        msg = rec.message
        if rec.command:
            msg = '%s : %s' % (rec.command, msg)
        lines.extend(msg.split('\n'))
        if rec.source:
            line, line_no, col, length = rec.source
            lines.append('At line:%d char:%d' % (line_no, col))
            lines.append('+ ' + line)
            lines.append('+ ' + ' ' * (col - 1) + '~' * min(length, max(1, len(line) - col + 1)))
        lines.append('    + CategoryInfo          : %s: (%s:%s) [%s], %s' % (
            rec.category, to_str(rec.target), rec.target_type, rec.activity, rec.exception))
        lines.append('    + FullyQualifiedErrorId : %s' % rec.fqid)
        lines.append(' ')
        return '\n'.join(lines)

    def emit_error(self, rec):
        errs = self.global_scope.vars.get('error')
        if isinstance(errs, list):
            errs.insert(0, rec)
        self.errors_out.append(('Error', self.format_error(rec)))

    def write_error(self, rec, node=None, action=None):
        """A non-terminating error from a command."""
        self.locate(rec, node)
        self.cmd_failed = True
        eap = action or self.eap()
        if eap == 'Stop':
            raise PSError(rec, 'script')
        if eap in ('SilentlyContinue', 'Ignore'):
            if eap == 'SilentlyContinue':
                errs = self.global_scope.vars.get('error')
                if isinstance(errs, list):
                    errs.insert(0, rec)
            return
        self.emit_error(rec)

    def fail(self, message, fqid, category='NotSpecified', target='', exception='RuntimeException',
             command=None, target_type='String'):
        return PSError(ErrorRecord(message, fqid, category, target, target_type, exception, command))

    # -- running -------------------------------------------------------------
    def run_block(self, stmts):
        out = []
        for st in stmts:
            try:
                out.extend(self.statement(st))
            except PSError as exc:
                if exc.scope == 'script' or self.try_depth > 0 or self.eap() == 'Stop':
                    exc.scope = 'script'
                    if getattr(exc, 'stmt', None) is None:
                        exc.stmt = st
                    carry(exc, out)
                    raise
                out.extend(pending(exc))
                self.locate(exc.record, st)
                self.emit_error(exc.record)
                self.last_ok = False
            except (ExitScript, FlowBreak, FlowContinue) as exc:
                carry(exc, out)
                raise
            except FlowReturn as r:
                r.values = list(out) + list(r.values)
                raise
        return out

    def statement(self, st):
        k = st.kind
        if k == 'pipeline':
            return self.pipeline(st)
        if k == 'assign':
            self.assign(st)
            self.last_ok = True
            return []
        if k == 'if':
            for cond, body in st.clauses:
                if to_bool(unwrap_output(self.captured(self.statement, cond))):
                    return self.run_block(body.body)
            if st.else_body is not None:
                return self.run_block(st.else_body.body)
            return []
        if k == 'foreach':
            coll = as_list(unwrap_output(self.captured(self.statement, st.coll)))
            out = []
            try:
                for item in coll:
                    self.scope.assign(st.var, item)
                    try:
                        out.extend(self.run_block(st.body.body))
                    except FlowBreak as b:
                        out.extend(pending(b))
                        break
                    except FlowContinue as c:
                        out.extend(pending(c))
                        continue
            except (PSError, ExitScript) as exc:
                carry(exc, out)
                raise
            except FlowReturn as r:
                r.values = out + list(r.values)
                raise
            return out
        if k == 'for':
            return self.for_stmt(st)
        if k == 'while':
            return self.while_stmt(st)
        if k == 'function':
            from psinvoke import define
            define(self, st)
            self.last_ok = True
            return []
        if k == 'params':
            from psinvoke import run_params_statement
            run_params_statement(self, st)
            return []
        if k == 'try':
            return self.try_stmt(st)
        if k == 'throw':
            val = unwrap_output(self.captured(self.statement, st.value)) if st.value else None
            if isinstance(val, ErrorRecord):
                rec = val
            else:
                msg = to_str(val) if val is not None else 'ScriptHalted'
                rec = ErrorRecord(msg, msg, 'OperationStopped', msg, 'String', 'RuntimeException')
            self.locate(rec, st)
            raise PSError(rec, 'script')
        if k == 'exit':
            code = 0
            if st.value is not None:
                v = unwrap_output(self.captured(self.statement, st.value))
                try:
                    code = int(to_num(v))
                except ValueError:
                    code = 0
            raise ExitScript(code)
        if k == 'return':
            vals = self.captured(self.statement, st.value) if st.value else []
            raise FlowReturn(vals)
        if k == 'break':
            raise FlowBreak()
        if k == 'continue':
            raise FlowContinue()
        raise self.fail('Unsupported statement %s' % k, 'Unsupported')

    def try_stmt(self, st):
        out = []
        try:
            try:
                self.try_depth += 1
                try:
                    out.extend(self.run_block(st.body.body))
                finally:
                    self.try_depth -= 1
            except PSError as exc:
                out.extend(pending(exc))
                drop_pending(exc)
                if not st.catches:
                    raise
                _types, block = st.catches[0]
                saved = self.scope.lookup('_')
                self.scope.assign('_', exc.record)
                try:
                    out.extend(self.run_block(block.body))
                finally:
                    if saved[0]:
                        self.scope.assign('_', saved[1])
        except (PSError, ExitScript, FlowBreak, FlowContinue, FlowReturn) as exc:
            # The finally block runs whatever left the try: an error, exit,
            # break, continue, return (PowerShell runs it for all of them),
            # after what the try and catch blocks had written.
            if isinstance(exc, FlowReturn):
                out.extend(exc.values)
                exc.values = []
            else:
                out.extend(pending(exc))
                drop_pending(exc)
            if st.fin:
                try:
                    fin_out = self.run_block(st.fin.body)
                except (PSError, ExitScript, FlowBreak, FlowContinue) as exc2:
                    carry(exc2, out)
                    raise
                except FlowReturn as r2:
                    r2.values = out + list(r2.values)
                    raise
                out.extend(fin_out)
            if isinstance(exc, FlowReturn):
                exc.values = out
            else:
                carry(exc, out)
            raise
        if st.fin:
            out.extend(self.run_block(st.fin.body))
        return out

    def for_stmt(self, st):
        """for (init; condition; iterator) { body }: every part optional,
        a missing condition is true; the iterator runs after the body and
        after continue."""
        out = []
        try:
            if st.init is not None:
                out.extend(self.statement(st.init))
            while True:
                if st.cond is not None and not to_bool(unwrap_output(self.captured(self.statement, st.cond))):
                    break
                try:
                    out.extend(self.run_block(st.body.body))
                except FlowBreak as b:
                    out.extend(pending(b))
                    break
                except FlowContinue as c:
                    out.extend(pending(c))
                if st.iter is not None:
                    out.extend(self.statement(st.iter))
        except (PSError, ExitScript) as exc:
            carry(exc, out)
            raise
        except FlowReturn as r:
            r.values = out + list(r.values)
            raise
        return out

    def while_stmt(self, st):
        """while (condition) { body }: the condition before every pass."""
        out = []
        try:
            while to_bool(unwrap_output(self.captured(self.statement, st.cond))):
                try:
                    out.extend(self.run_block(st.body.body))
                except FlowBreak as b:
                    out.extend(pending(b))
                    break
                except FlowContinue as c:
                    out.extend(pending(c))
        except (PSError, ExitScript) as exc:
            carry(exc, out)
            raise
        except FlowReturn as r:
            r.values = out + list(r.values)
            raise
        return out

    def captured(self, fn, *args):
        """Run fn for a value: output it had produced when an exception cut
        it short was going into that value, not to the host."""
        try:
            return fn(*args)
        except (PSError, ExitScript, FlowBreak, FlowContinue) as exc:
            drop_pending(exc)
            raise

    def statement_value(self, st):
        """The value of a statement used as a value (assignment, hash entry,
        parentheses): a lone expression keeps its value (a one-element array
        stays an array); command output is collected and unwrapped."""
        if st.kind == 'pipeline' and len(st.elements) == 1 and \
                st.elements[0].kind == 'exprcmd' and not st.redirs:
            try:
                v = self.eval(st.elements[0].expr)
            except PSError as exc:
                self.locate(exc.record, st)
                raise
            self.last_ok = True
            return v
        if st.kind in ('pipeline', 'if', 'foreach', 'for', 'while', 'try'):
            return unwrap_output(self.statement(st))
        return self.eval(st)

    def increment(self, e):
        """++ and -- on a variable, property or element: the new value is
        stored; the expression's value is the old one (postfix) or the new
        one (prefix)."""
        old = self.eval(e.target)
        try:
            new = (to_num(old) if old is not None else 0) + e.delta
        except ValueError as exc:
            raise self.fail(str(exc), 'InvalidCastFromStringToInteger', 'InvalidArgument')
        self.assign(N('assign', e.pos, target=e.target, op='=', value=N('num', e.pos, value=new)))
        return new if e.prefix else old

    def assign(self, st):
        value = self.captured(self.statement_value, st.value) if st.value.kind in (
            'pipeline', 'if', 'foreach', 'for', 'while', 'try') else self.captured(self.eval, st.value)
        t = st.target
        if t.kind == 'var' and t.name.lower() == 'null' and st.op == '=':
            return
        if st.op in ('+=', '-='):
            cur = self.eval(t)
            value = self.binop('+' if st.op == '+=' else '-', cur, value, '')
        if t.kind == 'var':
            self.set_var(t.name, value)
        elif t.kind == 'member':
            obj = self.eval(t.obj)
            if hasattr(obj, 'ps_set'):
                obj.ps_set(t.name, value)
            elif isinstance(obj, PSObject):
                if not obj.has(t.name) and obj.type_name != 'System.Management.Automation.PSCustomObject':
                    raise self.fail("The property '%s' cannot be found on this object. Verify that "
                                    "the property exists and can be set." % t.name,
                                    'PropertyAssignmentException', 'InvalidOperation')
                obj.set(t.name, value)
            elif isinstance(obj, Hashtable):
                obj.set(t.name, value)
            else:
                raise self.fail("The property '%s' cannot be found on this object. Verify that the "
                                "property exists and can be set." % t.name,
                                'PropertyNotFound', 'InvalidOperation')
        elif t.kind == 'index':
            obj = self.eval(t.obj)
            idx = self.eval(t.index)
            if isinstance(obj, Hashtable):
                obj.set(idx, value)
            elif isinstance(obj, (list, bytearray)):
                self.set_element(obj, idx, value)
            elif obj is None:
                raise self.fail('Cannot index into a null array.', 'NullArray', 'InvalidOperation')
            else:
                from pscmdlets import type_name_of
                what = type_name_of(obj)
                if isinstance(obj, bytes):
                    what += ' (the certsync test host keeps this byte[] read-only: make one with New-Object)'
                raise self.fail('Unable to index into an object of type %s.' % what,
                                'CannotIndex', 'InvalidOperation')

    def set_element(self, arr, idx, value):
        """$a[i] = v on an array: i from the end when negative; a byte[]
        element takes a value convertible to [byte]."""
        try:
            i = int(to_num(idx))
        except ValueError as exc:
            raise self.fail(str(exc), 'InvalidCastFromStringToInteger', 'InvalidArgument')
        if not -len(arr) <= i < len(arr):
            raise self.fail('Index was outside the bounds of the array.', 'System.IndexOutOfRangeException',
                            'OperationStopped', exception='IndexOutOfRangeException')
        if isinstance(arr, bytearray):
            from pscmdlets import cast
            value = cast(self, 'byte', value)
        arr[i] = value

    def pipeline(self, st):
        data = None
        self.cmd_failed = False
        ok = True
        discard = False
        for tok, target in st.redirs:
            if tok in ('2>&1', '*>&1'):
                continue
            if target is not None and target.kind == 'var' and target.name.lower() == 'null' and \
                    tok in ('>', '1>', '*>'):
                discard = True
            elif target is not None and target.kind == 'var' and target.name.lower() == 'null':
                continue
            else:
                raise self.fail('Redirection to files is not supported by the certsync test host.',
                                'RedirectionNotSupported')
        err_silent = any(t in ('2>', '*>') and tgt is not None and tgt.kind == 'var'
                         and tgt.name.lower() == 'null' for t, tgt in st.redirs)
        for i, el in enumerate(st.elements):
            if el.kind == 'exprcmd':
                try:
                    v = self.eval(el.expr)
                except PSError as exc:
                    self.locate(exc.record, el)
                    raise
                if el.expr.kind == 'incr' and len(st.elements) == 1:
                    v = None   # $i++ as a statement writes nothing
                data = as_list(v)
            else:
                before = len(self.errors_out)
                try:
                    data = self.invoke(el, data if i > 0 else None, err_silent)
                except (PSError, ExitScript, FlowBreak, FlowContinue) as exc:
                    # What a command wrote before it was cut short reaches
                    # the host only from the pipeline's last element
                    # (earlier ones fed it to the next command, not modelled).
                    if discard or i < len(st.elements) - 1:
                        drop_pending(exc)
                    raise
                if self.cmd_failed or len(self.errors_out) > before:
                    ok = False
        self.last_ok = ok and not self.cmd_failed
        if discard:
            return []
        return data if data is not None else []

    # -- commands ------------------------------------------------------------
    def invoke(self, node, input_objs, err_silent=False):
        from pscmdlets import invoke_command
        return invoke_command(self, node, input_objs, err_silent)

    def run_scriptblock(self, sb, args=(), dollar_under=None, new_scope=True):
        """A block run by a command (ForEach-Object, Where-Object, ...):
        args are its positional arguments; new_scope=False runs it in the
        current scope, as those commands do."""
        from psinvoke import call
        return call(self, None, getattr(sb.node, 'params', None), sb.node.body, getattr(sb, 'source', None),
                    [('v', a) for a in args], None, dollar_under=dollar_under, new_scope=new_scope)

    # -- expressions ---------------------------------------------------------
    def eval(self, e):
        k = e.kind
        if k == 'num':
            return e.value
        if k in ('str', 'word'):
            return e.value
        if k == 'xstr':
            return ''.join(p if isinstance(p, str) else self.interp(self.eval(p)) for p in e.parts)
        if k == 'concat':
            return ''.join(to_str(self.eval(p)) for p in e.parts)
        if k == 'var':
            return self.get_var(e.name)
        if k == 'envvar':
            for kk, vv in self.env.items():
                if kk.lower() == e.name.lower():
                    return vv
            return None
        if k == 'paren':
            inner = e.inner
            if inner.kind == 'assign':
                self.statement(inner)
                return self.eval(inner.target)
            return self.captured(self.statement_value, inner)
        if k == 'subexpr':
            return unwrap_output(self.captured(self.run_block, e.body))
        if k == 'arrayexpr':
            return list(self.captured(self.run_block, e.body))
        if k == 'incr':
            return self.increment(e)
        if k == 'array':
            out = []
            for item in e.items:
                out.append(self.eval(item))
            return out
        if k == 'hash':
            h = Hashtable()
            for key, val in e.entries:
                kv = self.eval(key)
                h.set(kv, self.statement_value(val))
            return h
        if k == 'scriptblock':
            return ScriptBlock(e, e.text, self.source)
        if k == 'type':
            return TypeLit(e.name)
        if k == 'not':
            return not to_bool(self.eval(e.expr))
        if k == 'neg':
            v = self.eval(e.expr)
            try:
                return -to_num(v)
            except ValueError as exc:
                raise self.fail(str(exc), 'InvalidCastFromStringToInteger', 'InvalidArgument')
        if k == 'cast':
            from pscmdlets import cast
            return cast(self, e.type, self.eval(e.expr))
        if k == 'binop':
            if e.op == 'and':
                return to_bool(self.eval(e.left)) and to_bool(self.eval(e.right))
            if e.op == 'or':
                return to_bool(self.eval(e.left)) or to_bool(self.eval(e.right))
            return self.binop(e.op, self.eval(e.left), self.eval(e.right), e.case)
        if k in ('member', 'call', 'index'):
            from pscmdlets import member, call_method, index
            if k == 'member':
                return member(self, e, self.eval(e.obj) if not (e.obj.kind == 'type') else TypeLit(e.obj.name))
            if k == 'call':
                obj = TypeLit(e.obj.name) if e.obj.kind == 'type' else self.eval(e.obj)
                args = [self.eval(a) for a in e.args]
                return call_method(self, e, obj, e.name, args)
            return index(self, e, self.eval(e.obj), self.eval(e.index))
        if k in ('pipeline', 'assign', 'if', 'foreach', 'for', 'while', 'try'):
            return unwrap_output(self.statement(e))
        raise self.fail('Unsupported expression %s' % k, 'Unsupported')

    def interp(self, v):
        if isinstance(v, list):
            return ' '.join(to_str(x) for x in v)
        return to_str(v)

    def binop(self, op, a, b, case):
        cs = case == 'c'

        def eq(x, y):
            if isinstance(x, str) or isinstance(y, str):
                if x is None or y is None:
                    return x is None and y is None
                if isinstance(x, (int, float)) and not isinstance(x, bool):
                    try:
                        return x == to_num(y)
                    except ValueError:
                        return False
                return to_str(x) == to_str(y) if cs else to_str(x).lower() == to_str(y).lower()
            if isinstance(x, bool) or isinstance(y, bool):
                return to_bool(x) == to_bool(y) if x is not None and y is not None else x is y
            return x == y
        if op in ('eq', 'ne', 'like', 'notlike', 'match', 'notmatch', 'gt', 'ge', 'lt', 'le'):
            if isinstance(a, list):
                return [x for x in a if self.binop(op, x, b, case)]
        if op == 'eq':
            return eq(a, b)
        if op == 'ne':
            return not eq(a, b)
        if op in ('like', 'notlike'):
            r = wildcard_match(to_str(b), to_str(a)) if not cs else re.match(
                '^' + re.escape(to_str(b)).replace('\\*', '.*').replace('\\?', '.') + '$', to_str(a)) is not None
            return r if op == 'like' else not r
        if op in ('match', 'notmatch'):
            try:
                m = re.search(to_str(b), to_str(a), 0 if cs else re.I)
            except re.error as exc:
                raise self.fail('Invalid regular expression pattern: %s (%s)' % (to_str(b), exc),
                                'InvalidRegularExpression', 'InvalidOperation')
            if m and op == 'match':
                h = Hashtable()
                h.set(0, m.group(0))
                for i, g in enumerate(m.groups(), 1):
                    if g is not None:
                        h.set(i, g)
                for name, g in m.groupdict().items():
                    if g is not None:
                        h.set(name, g)
                self.global_scope.assign('Matches', h)
            return bool(m) if op == 'match' else not m
        if op in ('gt', 'ge', 'lt', 'le'):
            if isinstance(a, str) and not isinstance(b, (int, float)):
                x, y = (a, to_str(b)) if cs else (a.lower(), to_str(b).lower())
            else:
                try:
                    x, y = to_num(a), to_num(b)
                except ValueError as exc:
                    raise self.fail(str(exc), 'InvalidCastFromStringToInteger', 'InvalidArgument')
            return {'gt': x > y, 'ge': x >= y, 'lt': x < y, 'le': x <= y}[op]
        if op in ('contains', 'notcontains'):
            r = any(eq(x, b) for x in as_list(a))
            return r if op == 'contains' else not r
        if op in ('in', 'notin'):
            r = any(eq(x, a) for x in as_list(b))
            return r if op == 'in' else not r
        if op == 'replace':
            pat, rep = (b[0], b[1] if len(b) > 1 else '') if isinstance(b, list) else (b, '')
            rep_py = re.sub(r'\$(\d+)', r'\\\1', to_str(rep))
            try:
                return re.sub(to_str(pat), rep_py, to_str(a), flags=0 if cs else re.I)
            except re.error as exc:
                raise self.fail('Invalid regular expression: %s' % exc, 'InvalidRegularExpression')
        if op == 'split':
            return re.split(to_str(b), to_str(a), flags=0 if cs else re.I)
        if op == 'join':
            return to_str(b).join(to_str(x) for x in as_list(a))
        if op == 'f':
            args = as_list(b)

            def fmt(m):
                i = int(m.group(1))
                return to_str(args[i]) if i < len(args) else ''
            return re.sub(r'\{(\d+)(?:[^}]*)\}', fmt, to_str(a))
        if op in ('is', 'isnot'):
            from pscmdlets import type_matches
            r = type_matches(a, to_str(b))
            return r if op == 'is' else not r
        if op == '+':
            if isinstance(a, list):
                return a + as_list(b) if isinstance(b, list) else a + [b]
            if isinstance(a, str):
                return a + self.interp(b)
            if isinstance(a, Hashtable) and isinstance(b, Hashtable):
                h = Hashtable()
                for kk, vv in a.items_() + b.items_():
                    h.set(kk, vv)
                return h
            if a is None:
                return b
            try:
                return to_num(a) + to_num(b)
            except ValueError as exc:
                raise self.fail(str(exc), 'InvalidCastFromStringToInteger', 'InvalidArgument')
        if op in ('-', '*', '/', '%'):
            if op == '*' and isinstance(a, str):
                return a * int(to_num(b))
            try:
                x, y = to_num(a), to_num(b)
            except ValueError as exc:
                raise self.fail(str(exc), 'InvalidCastFromStringToInteger', 'InvalidArgument')
            if op == '-':
                return x - y
            if op == '*':
                return x * y
            if y == 0:
                raise self.fail('Attempted to divide by zero.', 'RuntimeException')
            if op == '/':
                r = x / y
                return int(r) if r == int(r) else r
            return x % y
        raise self.fail('The operator -%s is not supported by the certsync test host.' % op,
                        'OperatorNotSupported')

    # -- output ----------------------------------------------------------------
    def format_output(self, items):
        from pscmdlets import format_object
        text = []
        for it in items:
            text.append(format_object(it))
        return ''.join(text)

    # -- the two execution modes ---------------------------------------------
    def run_text(self, source):
        """Run one unit of code (a whole script, or one stdin chunk), with
        the host model loaded (and locked) for its duration."""
        if self.session_factory is None:
            return self._run_text(source)
        # 'exit' ends the script, not its effects: what ran before it
        # stays done (the session is left normally, so the model is saved).
        leaving = None
        with self.session_factory() as st:
            self.host = st
            try:
                return self._run_text(source)
            except ExitScript as e:
                leaving = e
            finally:
                self.host = None
        raise leaving

    def _run_text(self, source):
        self.source = source.replace('\r\n', '\n').replace('\r', '\n')
        try:
            stmts = psparse.parse(self.source)
        except ParseError as exc:
            self.parse_failed(exc)
            self.last_ok = False
            return None
        try:
            for st in stmts:
                out = self.run_block([st])
                if out:
                    self.io.stdout(self.format_output(out))
        except PSError as exc:
            self.write_pending(exc)
            self.locate(exc.record, exc.record.node)
            self.emit_error(exc.record)
            self.last_ok = False
        except (FlowBreak, FlowContinue) as exc:
            self.write_pending(exc)
        except ExitScript as exc:
            self.write_pending(exc)
            raise
        except FlowReturn as r:
            if r.values:
                self.io.stdout(self.format_output(r.values))
        return None

    def write_pending(self, exc):
        if pending(exc):
            self.io.stdout(self.format_output(pending(exc)))
            drop_pending(exc)

    def parse_failed(self, exc):
        src = self.source
        pos = min(exc.pos, len(src))
        line_no = src.count('\n', 0, pos) + 1
        start = src.rfind('\n', 0, pos) + 1
        end = src.find('\n', pos)
        line = src[start:end if end >= 0 else len(src)]
        col = pos - start + 1
        text = ('At line:%d char:%d\n+ %s\n+ %s~\n%s\n    + CategoryInfo          : ParserError: '
                '(:) [], ParentContainsErrorRecordException\n    + FullyQualifiedErrorId : %s\n ' % (
                    line_no, col, line, ' ' * (col - 1), exc.message, exc.fqid))
        self.errors_out.append(('Error', text))


def finish_stderr(rt, progress):
    if rt.errors_out or progress:
        rt.io.stderr(clixml_document(rt.errors_out, progress))


def run_script(rt, source):
    """-Command <text> / -EncodedCommand: the whole text as one script."""
    try:
        rt.run_text(source)
        code = 0 if rt.last_ok else 1
    except ExitScript as e:
        code = e.code
    return code


def run_stdin(rt, read_line):
    """-Command -: statement by statement, as if typed at a prompt.

    A line that completes a statement runs at once.  Input that is still
    incomplete at the end of a line (an open brace, a trailing pipe, a
    here-string...) puts the reader in continuation mode: further lines are
    collected until an empty line submits them.  Input still pending at the
    end of stdin is dropped without running, as powershell.exe does."""
    pending = []
    continuation = False
    code = 0
    try:
        while True:
            line = read_line()
            if line is None:
                break
            if continuation:
                if line.strip() == '':
                    chunk = '\n'.join(pending)
                    pending = []
                    continuation = False
                    rt.run_text(chunk)
                    code = 0 if rt.last_ok else 1
                else:
                    pending.append(line)
                continue
            if line.strip() == '':
                continue
            if psparse.is_incomplete(line):
                pending = [line]
                continuation = True
                continue
            rt.run_text(line)
            code = 0 if rt.last_ok else 1
    except ExitScript as e:
        return e.code
    return code


def decode_encoded_command(b64):
    return base64.b64decode(b64).decode('utf-16-le')
