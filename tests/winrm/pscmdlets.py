"""Commands, members and .NET statics of the PowerShell subset, and what
they do to the host model (certificate store, IIS, http.sys, Exchange,
services, RDP, reboots).  Each command declares its parameters; binding
follows PowerShell's rules (names case-insensitive, unique prefixes,
aliases, positions, switches, -Name:value, type conversion), so an unknown
or ambiguous parameter, a missing mandatory one or a wrong type fails the
way powershell.exe does."""

import base64
import datetime
import re
import uuid

import host as H
import pscom
import psdotnet
import psparse
from psrun import (DateTime, ErrorRecord, Hashtable, PSError, PSObject, ScriptBlock,
                   SecureString, TypeLit, as_list, to_bool, to_json, to_num, to_str,
                   unwrap_output, wildcard_match)


# -- parameter declarations -------------------------------------------------
class P:
    def __init__(self, name, type='string', pos=None, mandatory=False, aliases=(), values=None,
                 pipeline=False, remaining=False, not_empty=False):
        self.remaining = remaining   # ValueFromRemainingArguments
        self.not_empty = not_empty   # mandatory in its parameter set: no $null, '' or @()
        self.name = name
        self.type = type
        self.pos = pos
        self.mandatory = mandatory
        self.aliases = aliases
        self.values = values
        self.pipeline = pipeline


class Cmdlet:
    def __init__(self, name, fn, params, module, full, should_process=False, confirm_high=False,
                 aliases=()):
        self.name = name
        self.fn = fn
        self.params = params
        self.module = module
        self.full = full
        self.should_process = should_process
        self.confirm_high = confirm_high
        self.aliases = aliases


COMMANDS = {}
ALIASES = {'?': 'Where-Object', 'where': 'Where-Object', '%': 'ForEach-Object',
           'foreach': 'ForEach-Object', 'echo': 'Write-Output', 'write': 'Write-Output',
           'gci': 'Get-ChildItem', 'ls': 'Get-ChildItem', 'dir': 'Get-ChildItem',
           'rm': 'Remove-Item', 'del': 'Remove-Item', 'ri': 'Remove-Item', 'select': 'Select-Object',
           'gi': 'Get-Item', 'sleep': 'Start-Sleep', 'gsv': 'Get-Service', 'gwmi': 'Get-WmiObject',
           'pwd': 'Get-Location', 'gl': 'Get-Location'}

COMMON = [P('ErrorAction', 'enum', aliases=('ea',),
            values=['SilentlyContinue', 'Stop', 'Continue', 'Inquire', 'Ignore']),
          P('WarningAction', 'enum', aliases=('wa',),
            values=['SilentlyContinue', 'Stop', 'Continue', 'Inquire', 'Ignore']),
          P('Verbose', 'switch', aliases=('vb',)), P('Debug', 'switch', aliases=('db',)),
          P('ErrorVariable', 'string', aliases=('ev',)),
          P('OutVariable', 'string', aliases=('ov',)),
          P('WarningVariable', 'string', aliases=('wv',)),
          P('InformationAction', 'enum', aliases=('infa',),
            values=['SilentlyContinue', 'Stop', 'Continue', 'Inquire', 'Ignore']),
          P('InformationVariable', 'string', aliases=('iv',)),
          P('OutBuffer', 'int', aliases=('ob',)),
          P('PipelineVariable', 'string', aliases=('pv',))]
SHOULD = [P('WhatIf', 'switch', aliases=('wi',)), P('Confirm', 'switch', aliases=('cf',))]


def command(name, params=(), module='Microsoft.PowerShell.Utility', full=None,
            should_process=False, confirm_high=False):
    def deco(fn):
        COMMANDS[name.lower()] = Cmdlet(name, fn, list(params), module,
                                        full or 'Microsoft.PowerShell.Commands.%sCommand' % name.replace('-', ''),
                                        should_process, confirm_high)
        return fn
    return deco


class Ctx:
    """What a command body sees."""

    def __init__(self, rt, cmd, node, bound, input_objs, err_action):
        self.rt = rt
        self.cmd = cmd
        self.node = node
        self.p = bound
        self.input = input_objs
        self.err_action = err_action
        self.st = rt.host

    def has(self, name):
        return name.lower() in self.p

    def get(self, name, default=None):
        return self.p.get(name.lower(), default)

    def error(self, message, fqid, category='NotSpecified', target='', exception='Exception',
              target_type='String'):
        rec = ErrorRecord(message, '%s,%s' % (fqid, self.cmd.full), category, target, target_type,
                          exception, command=self.cmd.name, activity=self.cmd.name)
        self.rt.write_error(rec, self.node, self.err_action)

    def terminate(self, message, fqid, category='NotSpecified', target='', exception='Exception'):
        rec = ErrorRecord(message, '%s,%s' % (fqid, self.cmd.full), category, target, 'String',
                          exception, command=self.cmd.name, activity=self.cmd.name)
        self.rt.locate(rec, self.node)
        raise PSError(rec)

    def confirm(self, what):
        """ShouldProcess: with ConfirmImpact High a prompt is due unless -Confirm:$false."""
        if self.get('whatif'):
            self.rt.io.stdout('What if: Performing the operation "%s" on target "%s".\r\n' % (
                self.cmd.name, what))
            return False
        want = self.get('confirm')
        if want is True or (want is None and self.cmd.confirm_high):
            if self.rt.noninteractive:
                self.terminate('PowerShell is in NonInteractive mode. Read and Prompt functionality '
                               'is not available.', 'System.Management.Automation.PSInvalidOperationException',
                               'InvalidOperation')
        return True


def binding_error(rt, cmd, node, message, fqid, category='InvalidArgument'):
    rec = ErrorRecord(message, '%s,%s' % (fqid, cmd.full), category, '', 'String',
                      'ParameterBindingException', command=cmd.name, activity=cmd.name)
    rt.locate(rec, node)
    raise PSError(rec)


def type_label(t):
    return {'string': 'System.String', 'string[]': 'System.String[]', 'int': 'System.Int32',
            'switch': 'System.Management.Automation.SwitchParameter', 'bool': 'System.Boolean',
            'securestring': 'System.Security.SecureString', 'scriptblock': 'System.Management.Automation.ScriptBlock',
            'hashtable': 'System.Collections.Hashtable', 'bytes': 'System.Byte[]',
            'object': 'System.Object', 'enum': 'System.Enum', 'enum[]': 'System.Enum[]'}.get(t, t)


def validate_not_empty(rt, cmd, node, p, value):
    """A mandatory parameter (without AllowNull/AllowEmptyString) refuses
    $null, '' and an empty array, whichever parameter set it is in."""
    why = None
    if value is None:
        why = ('null', 'NullNotAllowed')
    elif isinstance(value, list) and not value:
        why = ('an empty array', 'EmptyArrayNotAllowed')
    else:
        for v in as_list(value):
            if v is None:
                why = ('null', 'NullNotAllowed')
                break
            if isinstance(v, str) and v == '':
                why = ('an empty string', 'EmptyStringNotAllowed')
                break
    if why:
        rec = ErrorRecord("Cannot bind argument to parameter '%s' because it is %s." % (p.name, why[0]),
                          'ParameterArgumentValidationError%s,%s' % (why[1], cmd.full), 'InvalidData', '',
                          'String', 'ParameterBindingValidationException', command=cmd.name, activity=cmd.name)
        rt.locate(rec, node)
        raise PSError(rec)


def convert_param(rt, cmd, node, p, value):
    t = p.type
    label = type_label(t)
    if p.not_empty:
        validate_not_empty(rt, cmd, node, p, value)

    def bad(extra=''):
        binding_error(rt, cmd, node, 'Cannot bind parameter \'%s\'. Cannot convert value "%s" to type '
                      '"%s".%s' % (p.name, to_str(value), label, extra),
                      'CannotConvertArgumentNoMessage')
    if t in ('object',):
        return value
    if t == 'string':
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, (PSObject, Hashtable)) and not isinstance(value, str):
            return to_str(value)
        return to_str(value)
    if t == 'string[]':
        return [to_str(v) for v in as_list(value)]
    if t == 'int':
        try:
            n = to_num(value[0] if isinstance(value, list) and len(value) == 1 else value)
            if isinstance(n, float) and n != int(n):
                bad()
            return int(n)
        except (ValueError, TypeError):
            bad(' Error: "Input string was not in a correct format."')
    if t == 'switch':
        return to_bool(value)
    if t == 'bool':
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        binding_error(rt, cmd, node, "Cannot process argument transformation on parameter '%s'. "
                      "Cannot convert value \"%s\" to type \"System.Boolean\". Boolean parameters accept "
                      "only Boolean values and numbers, such as $True, $False, 1 or 0." % (
                          p.name, to_str(value)), 'ParameterArgumentTransformationError')
    if t == 'securestring':
        if isinstance(value, SecureString):
            return value
        binding_error(rt, cmd, node, 'Cannot bind parameter \'%s\'. Cannot convert the "%s" value of '
                      'type "%s" to type "System.Security.SecureString".' % (
                          p.name, to_str(value), 'System.String' if isinstance(value, str) else 'System.Object'),
                      'CannotConvertArgumentNoMessage')
    if t == 'scriptblock':
        if isinstance(value, ScriptBlock):
            return value
        bad()
    if t == 'hashtable':
        if isinstance(value, Hashtable):
            return value
        bad()
    if t == 'bytes':
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, list) and all(isinstance(x, int) and 0 <= x < 256 for x in value):
            return bytes(value)
        bad()
    if t in ('enum', 'enum[]'):
        items = []
        for v in as_list(value):
            for part in to_str(v).split(','):
                part = part.strip()
                hit = [x for x in p.values if x.lower() == part.lower()]
                if not hit:
                    binding_error(rt, cmd, node, 'Cannot bind parameter \'%s\'. Cannot convert value '
                                  '"%s" to type "%s". Error: "Unable to match the identifier name %s to a '
                                  'valid enumerator name. Specify one of the following enumerator names and '
                                  'try again:\n%s"' % (p.name, to_str(value), label, part, ', '.join(p.values)),
                                  'CannotConvertArgumentNoMessage')
                items.append(hit[0])
        if t == 'enum':
            if len(items) != 1:
                bad()
            return items[0]
        return items
    return value


def bind(rt, cmd, node, args):
    params = cmd.params + COMMON + (SHOULD if cmd.should_process else [])
    bound = {}
    positional = []

    def find(name):
        low = name.lower()
        exact = [p for p in params if p.name.lower() == low or low in [a.lower() for a in p.aliases]]
        if exact:
            return exact[0]
        pref = [p for p in params if p.name.lower().startswith(low)]
        if len(pref) == 1:
            return pref[0]
        if len(pref) > 1:
            binding_error(rt, cmd, node, "Parameter cannot be processed because the parameter name '%s' "
                          "is ambiguous. Possible matches include: %s." % (
                              name, ' '.join('-' + p.name for p in pref)), 'AmbiguousParameter')
        binding_error(rt, cmd, node, "A parameter cannot be found that matches parameter name '%s'." % name,
                      'NamedParameterNotFound')
    i = 0
    while i < len(args):
        a = args[i]
        if a.kind == 'param':
            p = find(a.name)
            if p.name.lower() in bound:
                binding_error(rt, cmd, node, "Cannot bind parameter because parameter '%s' is specified "
                              "more than once. To provide multiple values to parameters that can accept "
                              "multiple values, use the array syntax. For example, \"-parameter value1,"
                              "value2,value3\"." % p.name, 'ParameterAlreadyBound')
            if p.type == 'switch':
                val = True if not a.colon else rt.eval(a.value)
            elif a.colon:
                val = rt.eval(a.value)
            else:
                if i + 1 >= len(args) or args[i + 1].kind == 'param':
                    binding_error(rt, cmd, node, "Missing an argument for parameter '%s'. Specify a "
                                  "parameter of type '%s' and try again." % (p.name, type_label(p.type)),
                                  'MissingArgument')
                i += 1
                val = rt.eval(args[i])
            bound[p.name.lower()] = convert_param(rt, cmd, node, p, val)
        else:
            v = rt.eval(args[i])
            if args[i].kind == 'word':
                v = word_value(v)
            positional.append(v)
        i += 1
    slots = sorted([p for p in cmd.params if p.pos is not None], key=lambda p: p.pos)
    rest = [p for p in cmd.params if p.remaining and p.name.lower() not in bound]
    if rest and positional:
        free = [p for p in slots if p.name.lower() not in bound]
        if free and free[0] is rest[0] and len(positional) > 1:
            bound[rest[0].name.lower()] = convert_param(rt, cmd, node, rest[0], list(positional))
            positional = []
    for v in positional:
        free = [p for p in slots if p.name.lower() not in bound]
        if not free:
            binding_error(rt, cmd, node, "A positional parameter cannot be found that accepts argument "
                          "'%s'." % to_str(v), 'PositionalParameterNotFound')
        bound[free[0].name.lower()] = convert_param(rt, cmd, node, free[0], v)
    return bound


def word_value(text):
    if re.match(r'^-?\d+$', text):
        return int(text)
    return text


def check_mandatory(rt, cmd, node, bound, has_input):
    missing = [p.name for p in cmd.params if p.mandatory and p.name.lower() not in bound
               and not (p.pipeline and has_input)]
    if missing:
        binding_error(rt, cmd, node, 'Cannot process command because of one or more missing mandatory '
                      'parameters: %s.' % ' '.join(missing), 'MissingMandatoryParameter')


NATIVE = {}
# Modules whose first use makes powershell.exe write "Preparing modules for
# first use." progress records to stderr (Utility/Management are preloaded).
AUTOLOADED = {'PKI', 'IISAdministration', 'WebAdministration', 'CimCmdlets', 'Exchange',
              'Microsoft.PowerShell.Security'}


def native(name):
    def deco(fn):
        NATIVE[name] = fn
        return fn
    return deco


def invoke_command(rt, node, input_objs, err_silent=False):
    """Alias, then function, then cmdlet, then script file or native
    program, as PowerShell resolves a command name."""
    import psinvoke
    name_v = rt.eval(node.name) if node.call else node.name.value
    if isinstance(name_v, ScriptBlock):
        return psinvoke.invoke_scriptblock(rt, name_v, node, input_objs)
    name = to_str(name_v)
    low = name.lower()
    if low not in ALIASES:
        fn = psinvoke.find_function(rt, name)
        if fn is not None:
            return psinvoke.invoke_function(rt, fn, node, input_objs)
    low = ALIASES.get(low, name).lower() if low in ALIASES else low
    base = re.sub(r'\.exe$', '', low.replace('/', '\\').split('\\')[-1])
    cmd = COMMANDS.get(low)
    if cmd is not None and cmd.module in MODULE_GATES:
        if not MODULE_GATES[cmd.module](rt):
            cmd = None
    if cmd is None:
        script = psinvoke.find_script(rt, name)
        if script is not None:
            return psinvoke.invoke_script_file(rt, script, node, input_objs)
        if base in NATIVE and ('\\' not in low or low.startswith('c:\\windows\\system32\\')):
            argv = []
            for a in node.args:
                if a.kind == 'param':
                    argv.append('-' + a.name + (':' + to_str(rt.eval(a.value)) if a.colon else ''))
                else:
                    v = rt.eval(a)
                    argv.extend(to_str(x) for x in as_list(v))
            code, out, err = NATIVE[base](rt, argv)
            rt.global_scope.assign('LASTEXITCODE', code)
            if code != 0:
                rt.cmd_failed = True
            if err and not err_silent:
                rt.io.stderr(err)
            lines = out.replace('\r\n', '\n').split('\n')
            if lines and lines[-1] == '':
                lines.pop()
            return lines
        rec = ErrorRecord("The term '%s' is not recognized as the name of a cmdlet, function, script "
                          "file, or operable program. Check the spelling of the name, or if a path was "
                          "included, verify that the path is correct and try again." % name,
                          'CommandNotFoundException', 'ObjectNotFound', name, 'String',
                          'CommandNotFoundException', command=name, activity='')
        rt.locate(rec, node)
        raise PSError(rec)
    bound = bind(rt, cmd, node, node.args)
    check_mandatory(rt, cmd, node, bound, bool(input_objs))
    ea = bound.get('erroraction')
    if err_silent and ea is None:
        ea = 'SilentlyContinue'
    if cmd.module in AUTOLOADED:
        rt.autoloaded = True
    ctx = Ctx(rt, cmd, node, bound, input_objs or [], ea)
    out = cmd.fn(ctx)
    return list(out) if out is not None else []


# -- module gates ------------------------------------------------------------
def _exchange_loaded(rt):
    return rt.host.get('exchange', {}).get('installed') and 'exchange' in rt.snapins


def _iis(rt):
    return rt.host.get('iis', {}).get('installed', False)


MODULE_GATES = {'Exchange': _exchange_loaded, 'IISAdministration': _iis, 'WebAdministration': _iis}


# -- generic cmdlets ------------------------------------------------------------
@command('Write-Output', [P('InputObject', 'object', 0, pipeline=True, remaining=True), P('NoEnumerate', 'switch')])
def write_output(c):
    if c.has('inputobject'):
        v = c.get('inputobject')
        return [v] if c.get('noenumerate') else as_list(v)
    return c.input


@command('Write-Host', [P('Object', 'object', 0, remaining=True), P('NoNewline', 'switch'), P('Separator', 'object'),
                        P('ForegroundColor', 'string'), P('BackgroundColor', 'string')])
def write_host(c):
    objs = as_list(c.get('object')) if c.has('object') else c.input
    sep = to_str(c.get('separator')) if c.has('separator') else ' '
    text = sep.join(to_str(o) for o in objs)
    if text:
        c.rt.io.stdout(text)
    if not c.get('nonewline'):
        c.rt.io.stdout('\n')
    return []


@command('Write-Error', [P('Message', 'string', 0, aliases=('Msg',)), P('Category', 'string'),
                         P('ErrorId', 'string'), P('TargetObject', 'object'), P('Exception', 'object'),
                         P('ErrorRecord', 'object')])
def write_error(c):
    msg = c.get('message')
    if c.has('errorrecord') and isinstance(c.get('errorrecord'), ErrorRecord):
        rec = c.get('errorrecord')
        c.rt.write_error(rec, c.node, c.err_action)
        return []
    if msg is None and c.input:
        msg = to_str(c.input[0])
    rec = ErrorRecord(msg or '', c.get('errorid') or 'Microsoft.PowerShell.Commands.WriteErrorException',
                      c.get('category') or 'NotSpecified', to_str(c.get('targetobject') or ''),
                      'String', 'WriteErrorException', command='Write-Error', activity='Write-Error')
    c.rt.write_error(rec, c.node, c.err_action)
    return []


@command('Write-Warning', [P('Message', 'string', 0, mandatory=True)])
def write_warning(c):
    c.rt.errors_out.append(('warning', c.get('message')))
    return []


@command('Write-Verbose', [P('Message', 'string', 0, mandatory=True)])
def write_verbose(c):
    return []


@command('Out-Null', [P('InputObject', 'object', pipeline=True)], module='Microsoft.PowerShell.Core')
def out_null(c):
    return []


@command('Out-String', [P('InputObject', 'object', pipeline=True), P('Width', 'int'), P('Stream', 'switch')])
def out_string(c):
    objs = c.input or as_list(c.get('inputobject'))
    return [''.join(format_object(o) for o in objs)]


@command('ConvertTo-Json', [P('InputObject', 'object', 0, pipeline=True), P('Depth', 'int'),
                            P('Compress', 'switch')])
def convertto_json(c):
    depth = c.get('depth', 2)
    if c.has('inputobject'):
        value = c.get('inputobject')
    else:
        if not c.input:
            return []
        value = c.input[0] if len(c.input) == 1 else list(c.input)
    return [to_json(value, depth, bool(c.get('compress')))]


@command('ConvertFrom-Json', [P('InputObject', 'string', 0, mandatory=True, pipeline=True)])
def convertfrom_json(c):
    import json
    text = c.get('inputobject') if c.has('inputobject') else '\n'.join(to_str(x) for x in c.input)

    def conv(v):
        if isinstance(v, dict):
            return PSObject(props=[(k, conv(x)) for k, x in v.items()])
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    try:
        v = json.loads(text)
    except ValueError as exc:
        c.terminate('Invalid JSON primitive: %s' % exc, 'System.ArgumentException', 'NotSpecified')
    return as_list(conv(v)) if not isinstance(v, list) else [conv(v)]


@command('ConvertTo-SecureString', [P('String', 'string', 0, mandatory=True, pipeline=True),
                                    P('AsPlainText', 'switch'), P('Force', 'switch'),
                                    P('Key', 'object'), P('SecureKey', 'object')],
         module='Microsoft.PowerShell.Security')
def convertto_securestring(c):
    text = c.get('string') if c.has('string') else (to_str(c.input[0]) if c.input else None)
    if text is None:
        return []
    if not c.get('asplaintext'):
        c.terminate('Input string was not in a correct format.', 'ImportSecureString_InvalidArgument',
                    'InvalidArgument')
    if not c.get('force'):
        c.terminate('The system cannot protect plain text input. To suppress this warning and convert '
                    'the plain text to a SecureString, reissue the command specifying the Force '
                    'parameter. For more information ,type: get-help ConvertTo-SecureString.',
                    'ImportSecureString_ForceRequired', 'InvalidArgument')
    return [SecureString(text)]


@command('Start-Sleep', [P('Seconds', 'int', 0, aliases=('s',)), P('Milliseconds', 'int', aliases=('ms',))])
def start_sleep(c):
    secs = c.get('seconds', 0) + c.get('milliseconds', 0) / 1000.0
    c.rt.io.sleep(secs)
    return []


@command('Select-Object', [P('Property', 'object', 0), P('ExpandProperty', 'string'), P('First', 'int'),
                           P('Last', 'int'), P('Unique', 'switch'), P('InputObject', 'object', pipeline=True)])
def select_object(c):
    items = list(c.input) if c.input else as_list(c.get('inputobject'))
    if c.has('first'):
        items = items[:c.get('first')]
    if c.has('last'):
        items = items[-c.get('last'):] if c.get('last') else []
    out = []
    if c.has('expandproperty'):
        for it in items:
            v = get_member_value(c.rt, it, c.get('expandproperty'))
            out.extend(as_list(v))
        return out
    if not c.has('property'):
        return items
    props = as_list(c.get('property'))
    for it in items:
        o = PSObject()
        for p in props:
            if isinstance(p, Hashtable):
                name = to_str(p.get_value('Name') or p.get_value('n') or p.get_value('Label') or p.get_value('l'))
                expr = p.get_value('Expression') or p.get_value('e')
                if isinstance(expr, ScriptBlock):
                    val = unwrap_output(c.rt.run_scriptblock(expr, dollar_under=it, new_scope=False))
                else:
                    val = get_member_value(c.rt, it, to_str(expr))
                o.set(name, val)
            else:
                o.set(to_str(p), get_member_value(c.rt, it, to_str(p)))
        out.append(o)
    return out


_WHERE_OPS = ['EQ', 'NE', 'Like', 'NotLike', 'Match', 'NotMatch', 'GT', 'GE', 'LT', 'LE',
              'Contains', 'In', 'CEQ']


@command('Where-Object', [P('FilterScript', 'object', 0, aliases=('Property',)),
                          P('Value', 'object', 1), P('InputObject', 'object', pipeline=True)]
         + [P(o, 'switch') for o in _WHERE_OPS], module='Microsoft.PowerShell.Core')
def where_object(c):
    items = c.input
    out = []
    sb = c.get('filterscript')
    if sb is not None and not isinstance(sb, ScriptBlock):
        c.p['property'] = to_str(sb)
        sb = None
    if sb is None and c.has('property') and isinstance(c.get('property'), str):
        ops = [o for o in _WHERE_OPS if c.get(o.lower())]
        if len(ops) > 1:
            c.terminate('Parameter set cannot be resolved using the specified named parameters.',
                        'AmbiguousParameterSet', 'InvalidArgument')
        op = ops[0].lower() if ops else None
        for it in items:
            v = get_member_value(c.rt, it, c.get('property'))
            if op is None:
                ok = to_bool(v)
            else:
                case = 'c' if op == 'ceq' else ''
                ok = to_bool(c.rt.binop('eq' if op == 'ceq' else op, v, c.get('value'), case))
            if ok:
                out.append(it)
        return out
    if sb is None:
        c.terminate('Cannot bind argument to parameter \'FilterScript\' because it is null.',
                    'ParameterArgumentValidationErrorNullNotAllowed', 'InvalidData')
    for it in items:
        if to_bool(unwrap_output(c.rt.run_scriptblock(sb, dollar_under=it, new_scope=False))):
            out.append(it)
    return out


@command('ForEach-Object', [P('Process', 'scriptblock', 0), P('MemberName', 'string', 0),
                            P('InputObject', 'object', pipeline=True)], module='Microsoft.PowerShell.Core')
def foreach_object(c):
    out = []
    if c.has('membername') and not c.has('process'):
        for it in c.input:
            out.extend(as_list(get_member_value(c.rt, it, c.get('membername'))))
        return out
    sb = c.get('process')
    for it in c.input:
        out.extend(c.rt.run_scriptblock(sb, dollar_under=it, new_scope=False))
    return out


@command('New-Object', [P('TypeName', 'string', 0), P('ArgumentList', 'object', 1, aliases=('Args',)),
                        P('Property', 'hashtable'), P('ComObject', 'string'), P('Strict', 'switch')])
def new_object(c):
    """-ComObject PROGID (see pscom.py), or -TypeName byte[] with a size;
    other types are not modelled."""
    if c.has('comobject') and (c.has('typename') or c.has('argumentlist')):
        rec = ErrorRecord('Parameter set cannot be resolved using the specified named parameters.',
                          'AmbiguousParameterSet,%s' % c.cmd.full, 'InvalidArgument', '', 'String',
                          'ParameterBindingException', command=c.cmd.name, activity=c.cmd.name)
        c.rt.locate(rec, c.node)
        raise PSError(rec)
    if c.has('property'):
        c.terminate('New-Object -Property is not modelled by the certsync test host.', 'NotModelled',
                    'NotImplemented')
    if c.has('comobject'):
        obj = pscom.create(c.rt, c.get('comobject'))
        if obj is None:
            c.terminate('Retrieving the COM class factory for component with CLSID '
                        '{00000000-0000-0000-0000-000000000000} failed due to the following error: 80040154 '
                        'Class not registered (Exception from HRESULT: 0x80040154 (REGDB_E_CLASSNOTREG)).',
                        'NoCOMClassIdentified', 'ResourceUnavailable', exception='COMException')
        return [obj]
    if not c.has('typename'):
        binding_error(c.rt, c.cmd, c.node, 'Cannot process command because of one or more missing mandatory '
                      'parameters: TypeName.', 'MissingMandatoryParameter')
    t = c.get('typename').strip()
    low = t.lower()
    if low in ('byte[]', 'system.byte[]'):
        args = as_list(c.get('argumentlist')) if c.has('argumentlist') else []
        if len(args) != 1:
            c.terminate('Constructor not found. Cannot find an appropriate constructor for type %s.' % t,
                        'CannotFindAppropriateCtor', 'ObjectNotFound', exception='PSArgumentException')
        try:
            n = int(to_num(args[0]))
        except ValueError as exc:
            c.terminate(str(exc), 'InvalidCastFromStringToInteger', 'InvalidArgument')
        if n < 0:
            c.terminate('Exception calling ".ctor" with "1" argument(s): "Arithmetic operation resulted in an '
                        'overflow."', 'ConstructorInvokedThrowException', 'InvalidOperation',
                        exception='MethodInvocationException')
        return [bytearray(n)]
    c.terminate('New-Object -TypeName %s is not modelled by the certsync test host.' % t, 'NotModelled',
                'NotImplemented', t)


@command('Get-Location', [], module='Microsoft.PowerShell.Management')
def get_location(c):
    return [c.rt.get_var('PWD')]


@command('Join-Path', [P('Path', 'string[]', 0, mandatory=True), P('ChildPath', 'string', 1, mandatory=True),
                       P('Resolve', 'switch')], module='Microsoft.PowerShell.Management')
def join_path(c):
    out = []
    for p in c.get('path'):
        out.append(p.rstrip('\\/') + '\\' + c.get('childpath').lstrip('\\/'))
    return out


# -- paths: the C: drive and Cert: ------------------------------------------------
CERT_RX = re.compile(r'^(?:Microsoft\.PowerShell\.Security\\Certificate::|cert:\\?)(LocalMachine|CurrentUser)?'
                     r'(?:\\([^\\]+))?(?:\\([^\\]+))?\\?$', re.I)
STORES = {'my': 'My', 'webhosting': 'WebHosting', 'ca': 'CA', 'root': 'Root', 'remote desktop': 'Remote Desktop'}


def cert_path(path):
    m = CERT_RX.match(path.strip())
    if not m:
        return None
    loc, store, thumb = m.groups()
    return (loc, store, thumb)


def real_file(c, path, create_dirs=False):
    from host import map_path
    try:
        return map_path(c.rt.fs_root, path, create_dirs)
    except ValueError:
        c.terminate("Cannot find drive. A drive with the name '%s' does not exist." % path.split(':')[0],
                    'DriveNotFound', 'ObjectNotFound', path)


def store_list(st, store):
    return st.setdefault('store', {}).setdefault(store, [])


def cert_object(c, st, entry, store='My'):
    thumb = entry['thumbprint']
    dns = entry.get('dns_names', [])
    pspath = 'Microsoft.PowerShell.Security\\Certificate::LocalMachine\\%s\\%s' % (store, thumb)
    o = PSObject('System.Security.Cryptography.X509Certificates.X509Certificate2', [
        ('PSPath', pspath),
        ('PSParentPath', 'Microsoft.PowerShell.Security\\Certificate::LocalMachine\\' + store),
        ('Thumbprint', thumb),
        ('Subject', entry.get('subject', '')),
        ('Issuer', entry.get('issuer', '')),
        ('SerialNumber', entry.get('serial', '')),
        ('NotBefore', DateTime(H.parse_iso(entry['not_before']))) if entry.get('not_before') else ('NotBefore', None),
        ('NotAfter', DateTime(H.parse_iso(entry['not_after']))) if entry.get('not_after') else ('NotAfter', None),
        ('HasPrivateKey', bool(entry.get('has_private_key'))),
        ('FriendlyName', entry.get('friendly_name', '')),
        ('DnsNameList', [PSObject('System.Security.Cryptography.X509Certificates.DnsNameRepresentation',
                                  [('Punycode', n), ('Unicode', n)], to_string=lambda o, n=n: n) for n in dns]),
        ('RawData', H.pem_to_der(entry['pem']) if entry.get('pem') else None),
    ], methods={'export': lambda args: cert_export(c, entry, args)},
       to_string=lambda o: '[Subject]\r\n  %s\r\n\r\n[Issuer]\r\n  %s\r\n\r\n[Serial Number]\r\n  %s'
                           '\r\n\r\n[Thumbprint]\r\n  %s\r\n' % (entry.get('subject', ''), entry.get('issuer', ''),
                                                                 entry.get('serial', ''), thumb))
    return o


def cert_export(c, entry, args):
    """X509Certificate2.Export(X509ContentType[, password]): Cert gives the
    DER; Pfx/Pkcs12 the certificate with its key, which only an
    exportable key allows (as Windows: CryptographicException)."""
    rt = c.rt if hasattr(c, 'rt') else c
    if not args or len(args) > 2:
        raise method_error(rt, 'Export', len(args), 'Cannot find an overload for "Export" and the argument '
                           'count: "%d".' % len(args))
    kind = to_str(args[0]).lower()
    if kind == 'cert':
        return H.pem_to_der(entry['pem'])
    if kind not in ('pfx', 'pkcs12'):
        raise method_error(rt, 'Export', len(args), 'Cannot convert argument "contentType", with value: "%s", '
                           'for "Export" to type "System.Security.Cryptography.X509Certificates.X509ContentType"'
                           % to_str(args[0]))
    pw = args[1] if len(args) == 2 else ''
    pw = pw._plain if hasattr(pw, '_plain') else to_str(pw)
    if entry.get('has_private_key') and (not entry.get('exportable') or not entry.get('key_pem')):
        raise method_error(rt, 'Export', len(args), 'Key not valid for use in specified state.\r\n')
    if not entry.get('has_private_key'):
        raise method_error(rt, 'Export', len(args), 'The certsync test host does not model a PFX without a key.')
    return H.build_pfx(entry['pem'], entry['key_pem'], pw)


def resolve_cert_path(c, path):
    """(store, [entries]) for a Cert:\\ path, or terminate."""
    loc, store, thumb = cert_path(path)
    if loc and loc.lower() == 'currentuser':
        c.terminate('The certsync test host only models Cert:\\LocalMachine.', 'PathNotFound',
                    'ObjectNotFound', path)
    if store is None:
        return None, None
    real = STORES.get(store.lower())
    if real is None:
        return 'missing', None
    entries = store_list(c.st, real)
    if thumb is None:
        return real, entries
    hit = [e for e in entries if e['thumbprint'].lower() == thumb.lower()]
    return real, hit if hit else 'missing'


@command('Get-ChildItem', [P('Path', 'string[]', 0, aliases=('PSPath',)), P('Recurse', 'switch'),
                           P('Force', 'switch'), P('File', 'switch')], module='Microsoft.PowerShell.Management')
def get_childitem(c):
    out = []
    for path in c.get('path') or [c.rt.cwd]:
        if cert_path(path):
            store, entries = resolve_cert_path(c, path)
            if store is None:
                c.terminate('Listing Cert: or Cert:\\LocalMachine is not modelled; name a store.',
                            'NotSupported', 'NotImplemented', path)
            if store == 'missing' or entries == 'missing':
                c.error("Cannot find path '%s' because it does not exist." % path, 'PathNotFound',
                        'ObjectNotFound', path, 'ItemNotFoundException')
                continue
            out.extend(cert_object(c, c.st, e, store) for e in entries)
            continue
        import os
        real = real_file(c, path)
        if not os.path.exists(real):
            c.error("Cannot find path '%s' because it does not exist." % path, 'PathNotFound',
                    'ObjectNotFound', path, 'ItemNotFoundException')
            continue
        names = sorted(os.listdir(real)) if os.path.isdir(real) else [os.path.basename(real)]
        for n in names:
            full = path.rstrip('\\') + '\\' + n if os.path.isdir(real) else path
            out.append(PSObject('System.IO.FileInfo', [('Name', n), ('FullName', full)],
                                to_string=lambda o, n=n: n))
    return out


def path_or_literal(c):
    """-Path and -LiteralPath are two parameter sets; one of them is needed.
    (The model has no wildcards, so both mean the same here.)"""
    if c.has('path') and c.has('literalpath'):
        rec = ErrorRecord('Parameter set cannot be resolved using the specified named parameters.',
                          'AmbiguousParameterSet,%s' % c.cmd.full, 'InvalidArgument', '', 'String',
                          'ParameterBindingException', command=c.cmd.name, activity=c.cmd.name)
        c.rt.locate(rec, c.node)
        raise PSError(rec)
    if c.has('literalpath'):
        return c.get('literalpath')
    if not c.has('path'):
        binding_error(c.rt, c.cmd, c.node, 'Cannot process command because of one or more missing mandatory '
                      'parameters: Path.', 'MissingMandatoryParameter')
    return c.get('path')


@command('Get-Item', [P('Path', 'string[]', 0, not_empty=True),
                      P('LiteralPath', 'string[]', aliases=('PSPath',), not_empty=True), P('Force', 'switch')],
         module='Microsoft.PowerShell.Management')
def get_item(c):
    out = []
    for path in path_or_literal(c):
        if cert_path(path):
            store, entries = resolve_cert_path(c, path)
            if store in (None, 'missing') or entries == 'missing':
                c.error("Cannot find path '%s' because it does not exist." % path, 'PathNotFound',
                        'ObjectNotFound', path, 'ItemNotFoundException')
                continue
            if cert_path(path)[2] is None:
                out.append(PSObject('System.Security.Cryptography.X509Certificates.X509Store',
                                    [('Name', store), ('Location', 'LocalMachine')]))
            else:
                out.extend(cert_object(c, c.st, e, store) for e in entries)
            continue
        import os
        real = real_file(c, path)
        if not os.path.exists(real):
            c.error("Cannot find path '%s' because it does not exist." % path, 'PathNotFound',
                    'ObjectNotFound', path, 'ItemNotFoundException')
            continue
        if os.path.isdir(real):
            out.append(PSObject('System.IO.DirectoryInfo', [('Name', os.path.basename(real)), ('FullName', path)],
                                to_string=lambda o, p=path: p))
            continue
        out.append(PSObject('System.IO.FileInfo', [('Name', os.path.basename(real)), ('FullName', path),
                                                   ('Length', os.path.getsize(real))],
                            to_string=lambda o, p=path: p))
    return out


@command('Test-Path', [P('Path', 'string[]', 0, not_empty=True),
                       P('LiteralPath', 'string[]', aliases=('PSPath',), not_empty=True),
                       P('PathType', 'enum', values=['Any', 'Container', 'Leaf'])],
         module='Microsoft.PowerShell.Management')
def test_path(c):
    import os
    out = []
    for path in path_or_literal(c):
        if cert_path(path):
            store, entries = resolve_cert_path(c, path)
            out.append(store not in ('missing',) and entries != 'missing')
            continue
        try:
            from host import map_path
            real = map_path(c.rt.fs_root, path)
        except ValueError:
            out.append(False)
            continue
        kind = c.get('pathtype', 'Any')
        if kind == 'Leaf':
            out.append(os.path.isfile(real))
        elif kind == 'Container':
            out.append(os.path.isdir(real))
        else:
            out.append(os.path.exists(real))
    return out


@command('Remove-Item', [P('Path', 'string[]', 0, aliases=('PSPath', 'LiteralPath')), P('Force', 'switch'),
                         P('Recurse', 'switch'), P('DeleteKey', 'switch')],
         module='Microsoft.PowerShell.Management', should_process=True)
def remove_item(c):
    import os
    paths = list(c.get('path') or [])
    for obj in c.input:
        if isinstance(obj, PSObject) and obj.has('PSPath'):
            paths.append(to_str(obj.get('PSPath')))
        elif isinstance(obj, PSObject) and obj.has('FullName'):
            paths.append(to_str(obj.get('FullName')))
        else:
            paths.append(to_str(obj))
    if not paths:
        binding_error(c.rt, c.cmd, c.node, 'Cannot process command because of one or more missing '
                      'mandatory parameters: Path.', 'MissingMandatoryParameter')
    for path in paths:
        if cert_path(path):
            loc, store, thumb = cert_path(path)
            real_store, entries = resolve_cert_path(c, path)
            if thumb is None or real_store in (None, 'missing') or entries == 'missing':
                c.error("Cannot find path '%s' because it does not exist." % path, 'PathNotFound',
                        'ObjectNotFound', path, 'ItemNotFoundException')
                continue
            if not c.confirm(path):
                continue
            lst = store_list(c.st, real_store)
            lst[:] = [e for e in lst if e['thumbprint'].lower() != thumb.lower()]
            continue
        real = real_file(c, path)
        if not os.path.exists(real):
            c.error("Cannot find path '%s' because it does not exist." % path, 'PathNotFound',
                    'ObjectNotFound', path, 'ItemNotFoundException')
            continue
        if not c.confirm(path):
            continue
        if os.path.isdir(real):
            if not c.get('recurse') and os.listdir(real):
                c.terminate('The item at %s has children and the Recurse parameter was not specified.'
                            % path, 'RemoveItemUnauthorizedAccessError', 'InvalidOperation', path)
            import shutil
            shutil.rmtree(real)
        else:
            os.remove(real)
    return []


# -- certificates --------------------------------------------------------------
def read_file_bytes(c, path):
    import os
    real = real_file(c, path)
    if not os.path.isfile(real):
        return None
    with open(real, 'rb') as fh:
        return fh.read()


def import_pfx_into(c, data, password, store, exportable):
    """Parse and add; returns the leaf entries, or raises H.PfxError."""
    certs = H.parse_pfx(data, password)
    added = []
    for info, has_key in certs:
        target = store if (has_key or not info.get('is_ca')) else 'CA'
        entry = {k: info[k] for k in ('thumbprint', 'subject', 'issuer', 'serial', 'not_before',
                                      'not_after', 'dns_names', 'pem') if k in info}
        entry['has_private_key'] = bool(has_key)
        entry['exportable'] = bool(exportable) if has_key else False
        if has_key:
            key = H.pfx_key_pem(data, password)
            if key:
                entry['key_pem'] = key
        entry['friendly_name'] = ''
        lst = store_list(c.st, target)
        lst[:] = [e for e in lst if e['thumbprint'] != entry['thumbprint']]
        lst.append(entry)
        if target == store:
            added.append(entry)
    return added


@command('Import-PfxCertificate', [P('FilePath', 'string', 0, mandatory=True),
                                   P('CertStoreLocation', 'string'), P('Password', 'securestring'),
                                   P('Exportable', 'switch')], module='PKI',
         full='Microsoft.CertificateServices.Commands.ImportPfxCertificate', should_process=True)
def import_pfx(c):
    loc = c.get('certstorelocation')
    if loc is None:
        loc = 'Cert:\\CurrentUser\\My'
    cp = cert_path(loc)
    if not cp or not cp[0] or cp[0].lower() != 'localmachine' or not cp[1] or cp[2]:
        c.terminate('The certsync test host models Cert:\\LocalMachine\\<store> only; got %s.' % loc,
                    'System.ArgumentException', 'InvalidArgument', loc)
    store = STORES.get(cp[1].lower())
    if store is None:
        c.terminate("Cannot find path '%s' because it does not exist." % loc, 'PathNotFound',
                    'ObjectNotFound', loc)
    path = c.get('filepath')
    data = read_file_bytes(c, path)
    if data is None:
        c.terminate('The system cannot find the path specified. 0x80070003 (WIN32: 3 ERROR_PATH_NOT_FOUND)',
                    'System.IO.FileNotFoundException', 'NotSpecified', path)
    pw = c.get('password')._plain if c.has('password') else ''
    try:
        added = import_pfx_into(c, data, pw, store, c.get('exportable'))
    except H.PfxError as exc:
        if exc.kind == 'password':
            c.terminate('The PFX file you are trying to import requires either a different password or '
                        'membership in an Active Directory principal to which it is protected.',
                        'System.Security.Cryptography.CryptographicException', 'NotSpecified')
        c.terminate('ASN1 bad tag value met. 0x8009310b (ASN: 267 CRYPT_E_ASN1_BADTAG)',
                    'System.Security.Cryptography.CryptographicException', 'NotSpecified')
    return [cert_object(c, c.st, e, store) for e in added]


# -- services -------------------------------------------------------------------
def service_object(name, svc):
    return PSObject('System.ServiceProcess.ServiceController',
                    [('Name', name), ('Status', svc.get('status', 'Running')), ('DisplayName', name)],
                    to_string=lambda o: 'System.ServiceProcess.ServiceController')


def find_service(st, name):
    for k, v in st.get('services', {}).items():
        if k.lower() == name.lower():
            return k, v
    return None, None


@command('Get-Service', [P('Name', 'string[]', 0)], module='Microsoft.PowerShell.Management')
def get_service(c):
    out = []
    names = c.get('name') or list(c.st.get('services', {}))
    for n in names:
        k, v = find_service(c.st, n)
        if v is None:
            c.error("Cannot find any service with service name '%s'." % n, 'NoServiceFoundForGivenName',
                    'ObjectNotFound', n, 'ServiceCommandException')
            continue
        out.append(service_object(k, v))
    return out


@command('Restart-Service', [P('Name', 'string[]', 0), P('Force', 'switch'), P('PassThru', 'switch'),
                             P('InputObject', 'object', pipeline=True)],
         module='Microsoft.PowerShell.Management', should_process=True)
def restart_service(c):
    names = list(c.get('name') or [])
    names += [to_str(o.get('Name')) if isinstance(o, PSObject) else to_str(o) for o in c.input]
    if not names:
        binding_error(c.rt, c.cmd, c.node, 'Cannot process command because of one or more missing '
                      'mandatory parameters: Name.', 'MissingMandatoryParameter')
    out = []
    for n in names:
        k, v = find_service(c.st, n)
        if v is None:
            c.error("Cannot find any service with service name '%s'." % n, 'NoServiceFoundForGivenName',
                    'ObjectNotFound', n, 'ServiceCommandException')
            continue
        if not c.confirm(k):
            continue
        v['restarts'] = int(v.get('restarts', 0)) + 1
        v['status'] = 'Running'
        if c.get('passthru'):
            out.append(service_object(k, v))
    return out


# -- modules and snap-ins -------------------------------------------------------------
@command('Import-Module', [P('Name', 'string[]', 0, mandatory=True), P('Force', 'switch'),
                           P('DisableNameChecking', 'switch')], module='Microsoft.PowerShell.Core')
def import_module(c):
    for n in c.get('name'):
        low = n.lower()
        ok = {'webadministration': _iis(c.rt), 'iisadministration': _iis(c.rt), 'pki': True}.get(low, False)
        if not ok:
            c.error("The specified module '%s' was not loaded because no valid module file was found in "
                    "any module directory." % n, 'Modules_ModuleNotFound', 'ResourceUnavailable', n,
                    'FileNotFoundException')
    return []


EXCHANGE_SNAPINS = ('microsoft.exchange.management.powershell.snapin',
                    'microsoft.exchange.management.powershell.e2010')


@command('Add-PSSnapin', [P('Name', 'string[]', 0, mandatory=True)], module='Microsoft.PowerShell.Core')
def add_pssnapin(c):
    for n in c.get('name'):
        if n.lower() in EXCHANGE_SNAPINS and c.st.get('exchange', {}).get('installed'):
            c.rt.snapins.add('exchange')
            continue
        c.error("The Windows PowerShell snap-in '%s' is not installed on this computer." % n,
                'AddPSSnapInRead', 'InvalidArgument', n, 'PSArgumentException')
    return []


# -- IIS ------------------------------------------------------------------------------
SSL_FLAGS = ['None', 'Sni', 'CentralCertStore', 'DisableHTTP2', 'DisableOCSPStp', 'DisableQUIC',
             'DisableTLS13', 'DisableLegacyTLS']
SSL_BITS = {'none': 0, 'sni': 1, 'centralcertstore': 2, 'disablehttp2': 4, 'disableocspstp': 8,
            'disablequic': 16, 'disabletls13': 32, 'disablelegacytls': 64}


def find_site(st, name):
    for s in st.get('iis', {}).get('sites', []):
        if s['name'].lower() == (name or '').lower():
            return s
    return None


def ssl_flag_text(n):
    if not n:
        return 'None'
    return ', '.join(k for k in SSL_FLAGS[1:] if n & SSL_BITS[k.lower()])


def iis_binding_object(st, site, b):
    e = H.sslcert_for_binding(st, b) if b['protocol'] == 'https' else None
    ip, port, hostname = H.split_binding(b['bindingInformation'])
    return PSObject('Microsoft.Web.Administration.Binding', [
        ('Protocol', b['protocol']), ('BindingInformation', b['bindingInformation']),
        ('SslFlags', ssl_flag_text(int(b.get('sslFlags', 0)))),
        ('CertificateHash', bytes.fromhex(e['certhash']) if e else None),
        ('CertificateStoreName', e.get('certstorename', 'MY') if e else None),
        ('Host', hostname)], to_string=lambda o: '%s %s' % (b['protocol'], b['bindingInformation']))


def site_object(st, s):
    return PSObject('Microsoft.Web.Administration.Site', [
        ('Name', s['name']), ('Id', s.get('id', 1)), ('State', s.get('state', 'Started')),
        ('Bindings', [iis_binding_object(st, s, b) for b in s.get('bindings', [])])],
        to_string=lambda o: s['name'])


def valid_binding_info(info):
    m = re.match(r'^(\*|[0-9.]+|\[[0-9a-fA-F:]+\]):(\d{1,5}):([^:]*)$', info or '')
    return bool(m) and 0 < int(m.group(2)) < 65536


def check_cert_for_ssl(c, thumb, store='My'):
    e = H.find_cert(c.st, thumb, store)
    if e is None:
        return 'A specified logon session does not exist. It may already have been terminated. ' \
               '(Exception from HRESULT: 0x80070520)'
    if not e.get('has_private_key'):
        return 'A specified logon session does not exist. It may already have been terminated. ' \
               '(Exception from HRESULT: 0x80070520)'
    return None


def set_sslcert(st, kind, key, thumb, store='MY', appid=H.IIS_APPID):
    lst = st.setdefault('httpsys', {}).setdefault('sslcert', [])
    for e in lst:
        if e.get(kind, '').lower() == key.lower():
            e['certhash'] = thumb.lower()
            e['certstorename'] = store
            return e
    e = {kind: key, 'certhash': thumb.lower(), 'appid': appid, 'certstorename': store}
    lst.append(e)
    return e


def del_sslcert(st, kind, key):
    lst = st.setdefault('httpsys', {}).setdefault('sslcert', [])
    n = len(lst)
    lst[:] = [e for e in lst if e.get(kind, '').lower() != key.lower()]
    return len(lst) != n


@command('Get-IISSite', [P('Name', 'string[]', 0)], module='IISAdministration',
         full='Microsoft.IIS.Powershell.Commands.GetIISSiteCommand')
def get_iissite(c):
    sites = c.st['iis']['sites']
    if not c.has('name'):
        return [site_object(c.st, s) for s in sites]
    out = []
    for n in c.get('name'):
        s = find_site(c.st, n)
        if s is None:
            c.error("Web site '%s' does not exist." % n, 'InvalidArgument', 'InvalidArgument', n,
                    'ArgumentException')
            continue
        out.append(site_object(c.st, s))
    return out


@command('Get-IISSiteBinding', [P('Name', 'string', 0, mandatory=True), P('BindingInformation', 'string', 1),
                                P('Protocol', 'string', 2)], module='IISAdministration',
         full='Microsoft.IIS.Powershell.Commands.GetIISSiteBindingCommand')
def get_iissitebinding(c):
    s = find_site(c.st, c.get('name'))
    if s is None:
        c.error("Web site '%s' does not exist." % c.get('name'), 'InvalidArgument', 'InvalidArgument',
                c.get('name'), 'ArgumentException')
        return []
    out = []
    for b in s.get('bindings', []):
        if c.has('protocol') and b['protocol'].lower() != c.get('protocol').lower():
            continue
        if c.has('bindinginformation') and b['bindingInformation'].lower() != c.get('bindinginformation').lower():
            continue
        out.append(iis_binding_object(c.st, s, b))
    return out


@command('New-IISSiteBinding', [P('Name', 'string', 0, mandatory=True), P('BindingInformation', 'string', 1, mandatory=True),
                                P('Protocol', 'string', 2), P('CertificateThumbPrint', 'string'),
                                P('CertStoreLocation', 'string'), P('SslFlag', 'enum[]', values=SSL_FLAGS),
                                P('Force', 'switch'), P('Passthru', 'switch')], module='IISAdministration',
         full='Microsoft.IIS.Powershell.Commands.NewIISSiteBindingCommand')
def new_iissitebinding(c):
    name, info = c.get('name'), c.get('bindinginformation')
    proto = (c.get('protocol') or 'http').lower()
    s = find_site(c.st, name)
    if s is None:
        c.error("Web site '%s' does not exist." % name, 'InvalidArgument', 'InvalidArgument', name,
                'ArgumentException')
        return []
    if not valid_binding_info(info):
        c.terminate("Parameter 'BindingInformation' has an invalid value '%s'." % info,
                    'System.ArgumentException', 'InvalidArgument', info)
    if proto not in ('http', 'https'):
        c.terminate("Parameter 'Protocol' has an invalid value '%s'." % proto, 'System.ArgumentException',
                    'InvalidArgument', proto)
    for b in s['bindings']:
        if b['protocol'] == proto and b['bindingInformation'].lower() == info.lower():
            c.error("Web site binding '%s' already exists." % info, 'InvalidOperation',
                    'InvalidOperation', info, 'InvalidOperationException')
            return []
    flags = sum(SSL_BITS[f.lower()] for f in (c.get('sslflag') or []))
    b = {'protocol': proto, 'bindingInformation': info, 'sslFlags': flags}
    if proto == 'https':
        thumb = c.get('certificatethumbprint')
        if not thumb:
            c.terminate("The parameter 'CertificateThumbPrint' is required for https bindings.",
                        'System.ArgumentException', 'InvalidArgument')
        loc = c.get('certstorelocation') or 'Cert:\\LocalMachine\\My'
        cp = cert_path(loc)
        store = STORES.get((cp[1] or '').lower()) if cp else None
        if store is None or (cp[0] or '').lower() != 'localmachine':
            c.terminate("Parameter 'CertStoreLocation' has an invalid value '%s'." % loc,
                        'System.ArgumentException', 'InvalidArgument', loc)
        if flags & 1 and not H.split_binding(info)[2]:
            c.terminate('A host name is required for a binding with Server Name Indication (Sni).',
                        'System.ArgumentException', 'InvalidArgument', info)
        problem = check_cert_for_ssl(c, thumb, store)
        if problem:
            c.error(problem, 'System.Runtime.InteropServices.COMException', 'NotSpecified', thumb,
                    'COMException')
            return []
        kind, key = H.sslcert_key_for_binding(b)
        set_sslcert(c.st, kind, key, thumb, store.upper())
    s['bindings'].append(b)
    return [iis_binding_object(c.st, s, b)] if c.get('passthru') else []


@command('Remove-IISSiteBinding', [P('Name', 'string', 0, mandatory=True), P('BindingInformation', 'string', 1, mandatory=True),
                                   P('Protocol', 'string', 2), P('RemoveConfigOnly', 'switch')],
         module='IISAdministration', full='Microsoft.IIS.Powershell.Commands.RemoveIISSiteBindingCommand',
         should_process=True, confirm_high=True)
def remove_iissitebinding(c):
    name, info = c.get('name'), c.get('bindinginformation')
    proto = (c.get('protocol') or 'http').lower()
    s = find_site(c.st, name)
    if s is None:
        c.error("Web site '%s' does not exist." % name, 'InvalidArgument', 'InvalidArgument', name,
                'ArgumentException')
        return []
    hit = [b for b in s['bindings'] if b['protocol'] == proto and b['bindingInformation'].lower() == info.lower()]
    if not hit:
        c.error("Web site binding '%s' does not exist." % info, 'InvalidArgument', 'InvalidArgument', info,
                'ArgumentException')
        return []
    if not c.confirm("%s %s" % (proto, info)):
        return []
    b = hit[0]
    s['bindings'].remove(b)
    if proto == 'https' and not c.get('removeconfigonly'):
        kind, key = H.sslcert_key_for_binding(b)
        del_sslcert(c.st, kind, key)
    return []


def web_binding_object(c, s, b):
    e = H.sslcert_for_binding(c.st, b) if b['protocol'] == 'https' else None

    def add_cert(args):
        if len(args) != 2:
            raise method_args_error('AddSslCertificate', len(args))
        thumb, store = to_str(args[0]), to_str(args[1])
        real = STORES.get(store.lower())
        if real is None:
            raise method_error(c.rt, 'AddSslCertificate', 2, 'The system cannot find the file specified. '
                               '(Exception from HRESULT: 0x80070002)')
        problem = check_cert_for_ssl(c, thumb, real)
        if problem:
            raise method_error(c.rt, 'AddSslCertificate', 2, problem)
        kind, key = H.sslcert_key_for_binding(b)
        if H.sslcert_for_binding(c.st, b):
            raise method_error(c.rt, 'AddSslCertificate', 2, 'Cannot create a file when that file already '
                               'exists. (Exception from HRESULT: 0x800700B7)')
        set_sslcert(c.st, kind, key, thumb, real.upper())
        return None

    def remove_cert(args):
        kind, key = H.sslcert_key_for_binding(b)
        if not del_sslcert(c.st, kind, key):
            raise method_error(c.rt, 'RemoveSslCertificate', 0, 'The system cannot find the file '
                               'specified. (Exception from HRESULT: 0x80070002)')
        return None
    return PSObject('Microsoft.IIs.PowerShell.Framework.ConfigurationElement', [
        ('protocol', b['protocol']), ('bindingInformation', b['bindingInformation']),
        ('sslFlags', int(b.get('sslFlags', 0))),
        ('certificateHash', e['certhash'].upper() if e else ''),
        ('certificateStoreName', e.get('certstorename', 'MY') if e else ''),
        ('ItemXPath', "/system.applicationHost/sites/site[@name='%s' and @id='%s']" % (s['name'], s.get('id', 1)))],
        methods={'addsslcertificate': add_cert, 'removesslcertificate': remove_cert},
        to_string=lambda o: 'Microsoft.IIs.PowerShell.Framework.ConfigurationElement')


def web_binding_filter(c, b):
    ip, port, hostname = H.split_binding(b['bindingInformation'])
    if c.has('protocol') and b['protocol'].lower() != c.get('protocol').lower():
        return False
    if c.has('port') and int(port) != c.get('port'):
        return False
    if c.has('ipaddress') and ip != c.get('ipaddress'):
        return False
    if c.has('hostheader') and hostname.lower() != c.get('hostheader').lower():
        return False
    return True


@command('Get-WebBinding', [P('Name', 'string', 0), P('Protocol', 'string'), P('Port', 'int'),
                            P('IPAddress', 'string'), P('HostHeader', 'string')],
         module='WebAdministration', full='Microsoft.IIs.PowerShell.Provider.GetWebBindingCommand')
def get_webbinding(c):
    out = []
    for s in c.st['iis']['sites']:
        if c.has('name') and s['name'].lower() != c.get('name').lower():
            continue
        for b in s.get('bindings', []):
            if web_binding_filter(c, b):
                out.append(web_binding_object(c, s, b))
    return out


@command('New-WebBinding', [P('Name', 'string', 0), P('Protocol', 'string'), P('Port', 'int'),
                            P('IPAddress', 'string'), P('HostHeader', 'string'), P('SslFlags', 'int'),
                            P('Force', 'switch')],
         module='WebAdministration', full='Microsoft.IIs.PowerShell.Provider.NewWebBindingCommand')
def new_webbinding(c):
    name = c.get('name') or 'Default Web Site'
    s = find_site(c.st, name)
    if s is None:
        c.error("Cannot find path 'IIS:\\Sites\\%s' because it does not exist." % name, 'PathNotFound',
                'ObjectNotFound', name, 'ItemNotFoundException')
        return []
    proto = (c.get('protocol') or 'http').lower()
    port = c.get('port', 443 if proto == 'https' else 80)
    ip = c.get('ipaddress') or '*'
    info = '%s:%d:%s' % (ip, port, c.get('hostheader') or '')
    if not valid_binding_info(info):
        c.terminate("Value '%s' is not a valid binding." % info, 'System.ArgumentException', 'InvalidArgument')
    for b in s['bindings']:
        if b['protocol'] == proto and b['bindingInformation'].lower() == info.lower():
            c.error("Cannot add duplicate collection entry of type 'binding' with combined key attributes "
                    "'protocol, bindingInformation' respectively set to '%s, %s'" % (proto, info),
                    'System.Runtime.InteropServices.COMException', 'NotSpecified', info, 'COMException')
            return []
    flags = c.get('sslflags', 0)
    if flags & 1 and not c.get('hostheader'):
        c.terminate('A host name is required for a binding with Server Name Indication (SslFlags 1).',
                    'System.ArgumentException', 'InvalidArgument', info)
    s['bindings'].append({'protocol': proto, 'bindingInformation': info, 'sslFlags': flags})
    return []


@command('Remove-WebBinding', [P('Name', 'string', 0), P('Protocol', 'string'), P('Port', 'int'),
                               P('IPAddress', 'string'), P('HostHeader', 'string'),
                               P('BindingInformation', 'string')],
         module='WebAdministration', full='Microsoft.IIs.PowerShell.Provider.RemoveWebBindingCommand',
         should_process=True)
def remove_webbinding(c):
    name = c.get('name') or 'Default Web Site'
    s = find_site(c.st, name)
    if s is None:
        c.error("Cannot find path 'IIS:\\Sites\\%s' because it does not exist." % name, 'PathNotFound',
                'ObjectNotFound', name, 'ItemNotFoundException')
        return []
    keep = []
    removed = 0
    for b in s['bindings']:
        match = web_binding_filter(c, b)
        if c.has('bindinginformation'):
            match = match and b['bindingInformation'].lower() == c.get('bindinginformation').lower()
        if match and c.confirm(b['bindingInformation']):
            removed += 1
        else:
            keep.append(b)
    if not removed:
        c.error('Cannot find the binding to remove.', 'InvalidArgument', 'InvalidArgument', name,
                'ArgumentException')
    s['bindings'] = keep
    return []


# -- Exchange ------------------------------------------------------------------------
EX_SERVICES = ['None', 'IIS', 'SMTP', 'POP', 'IMAP', 'UM', 'UMCallRouter', 'Federation']


def exchange_cert_object(c, e):
    svcs = sorted(k for k, v in c.st['exchange'].get('services', {}).items()
                  if v and v.upper() == e['thumbprint'].upper())
    order = ['IMAP', 'POP', 'UM', 'IIS', 'SMTP', 'UMCallRouter', 'Federation']
    svcs = [s for s in order if s in svcs]
    o = cert_object(c, c.st, e)
    o.type_name = 'Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeCertificate'
    o.set('Services', ', '.join(svcs) if svcs else 'None')
    o.set('CertificateDomains', list(e.get('dns_names', [])))
    o.set('Status', 'Valid')
    o.set('IsSelfSigned', e.get('subject') == e.get('issuer'))
    return o


@command('Get-ExchangeCertificate', [P('Thumbprint', 'string', 0, aliases=('Identity',)),
                                     P('Server', 'string')], module='Exchange',
         full='Microsoft.Exchange.Management.SystemConfigurationTasks.GetExchangeCertificate')
def get_exchangecertificate(c):
    entries = store_list(c.st, 'My')
    if c.has('thumbprint'):
        t = c.get('thumbprint')
        hit = [e for e in entries if e['thumbprint'].lower() == t.lower()]
        if not hit:
            c.error("The certificate with thumbprint %s was not found." % t, '6CD1A1A2',
                    'ObjectNotFound', t, 'ManagementObjectNotFoundException')
            return []
        entries = hit
    return [exchange_cert_object(c, e) for e in entries]


@command('Enable-ExchangeCertificate', [P('Thumbprint', 'string', 0, mandatory=True, aliases=('Identity',)),
                                        P('Services', 'enum[]', mandatory=True, values=EX_SERVICES),
                                        P('Force', 'switch'), P('DoNotRequireSsl', 'switch'),
                                        P('Server', 'string')], module='Exchange',
         full='Microsoft.Exchange.Management.SystemConfigurationTasks.EnableExchangeCertificate',
         should_process=True)
def enable_exchangecertificate(c):
    t = c.get('thumbprint')
    e = H.find_cert(c.st, t)
    if e is None:
        c.error("The certificate with thumbprint %s was not found." % t, '6CD1A1A2', 'ObjectNotFound', t,
                'ManagementObjectNotFoundException')
        return []
    if not e.get('has_private_key'):
        c.error("The certificate with thumbprint %s doesn't have a private key. It can't be enabled for "
                "the specified services." % t, 'B7A0F4E4', 'InvalidOperation', t, 'InvalidOperationException')
        return []
    svcs = [s for s in c.get('services') if s != 'None']
    ex = c.st['exchange'].setdefault('services', {})
    if 'SMTP' in svcs and ex.get('SMTP') and ex['SMTP'].upper() != t.upper() and not c.get('force'):
        # Exchange asks "Overwrite the existing default SMTP certificate?"
        if c.rt.noninteractive:
            c.terminate('PowerShell is in NonInteractive mode. Read and Prompt functionality is not '
                        'available.', 'System.Management.Automation.PSInvalidOperationException',
                        'InvalidOperation')
    if not c.confirm(t):
        return []
    for s in svcs:
        ex[s] = t.upper()
        if s == 'IIS':
            set_sslcert(c.st, 'ipport', '0.0.0.0:443', t, 'MY')
    return []


@command('Import-ExchangeCertificate', [P('FileData', 'bytes', mandatory=True), P('Password', 'securestring'),
                                        P('PrivateKeyExportable', 'bool'), P('FileName', 'string'),
                                        P('Server', 'string')], module='Exchange',
         full='Microsoft.Exchange.Management.SystemConfigurationTasks.ImportExchangeCertificate')
def import_exchangecertificate(c):
    data = c.get('filedata')
    pw = c.get('password')._plain if c.has('password') else ''
    try:
        certs = H.parse_pfx(data, pw)
    except H.PfxError as exc:
        if exc.kind == 'password':
            c.terminate('The password is incorrect. The certificate data could not be imported.',
                        '9A35F1A8', 'InvalidArgument')
        c.terminate('Cannot find the certificate data in the file. The data is invalid.', 'A1C7E0C3',
                    'InvalidArgument')
    leaf = [i for i, k in certs if k]
    for info in leaf:
        if H.find_cert(c.st, info['thumbprint']):
            c.terminate('The certificate with thumbprint %s already exists.' % info['thumbprint'],
                        'F8B3D5E2', 'InvalidOperation', info['thumbprint'])
    added = import_pfx_into(c, data, pw, 'My', bool(c.get('privatekeyexportable')))
    return [exchange_cert_object(c, e) for e in added]


# -- CIM / WMI ---------------------------------------------------------------------------
def parse_filter(text):
    conds = []
    for part in re.split(r'\s+and\s+', text or '', flags=re.I):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(\w+)\s*=\s*'([^']*)'$", part) or re.match(r'^(\w+)\s*=\s*"([^"]*)"$', part)
        if not m:
            return None
        conds.append((m.group(1), m.group(2)))
    return conds


def cim_objects(c, cls, namespace, flt, wmi):
    ns = (namespace or 'root\\cimv2').lower().replace('/', '\\')
    clsl = cls.lower()
    st = c.st
    objs = []
    if clsl == 'win32_operatingsystem' and ns == 'root\\cimv2':
        boot = DateTime(H.parse_iso(st['boot_time']), 'Local')
        objs.append(PSObject('Microsoft.Management.Infrastructure.CimInstance#root/cimv2/Win32_OperatingSystem', [
            ('CSName', st.get('hostname', 'SAPPHIRE')), ('Caption', 'Microsoft Windows Server 2019 Datacenter'),
            ('Version', '10.0.17763'),
            ('LastBootUpTime', boot if not wmi else boot.dt.strftime('%Y%m%d%H%M%S.000000+000'))]))
    elif clsl == 'win32_tsgeneralsetting' and ns == 'root\\cimv2\\terminalservices':
        rdp = st['rdp']

        def set_hash(args):
            if len(args) != 1:
                raise method_args_error('SetSSLCertificateSHA1Hash', len(args))
            apply_rdp_hash(c, to_str(args[0]), method=True)
            return PSObject(props=[('ReturnValue', 0)])
        objs.append(PSObject('Microsoft.Management.Infrastructure.CimInstance#root/cimv2/terminalservices/Win32_TSGeneralSetting', [
            ('TerminalName', rdp.get('terminal_name', 'RDP-Tcp')),
            ('SSLCertificateSHA1Hash', rdp.get('SSLCertificateSHA1Hash', '')),
            ('SSLCertificateSHA1HashType', 2), ('MinEncryptionLevel', 2), ('SecurityLayer', 2)],
            methods={'setsslcertificatesha1hash': set_hash} if wmi else {}))
    else:
        return None
    if flt:
        conds = parse_filter(flt)
        if conds is None:
            return 'badfilter'
        objs = [o for o in objs if all(to_str(o.get(k)).lower() == v.lower() for k, v in conds)]
    return objs


def apply_rdp_hash(c, value, method=False):
    if not re.match(r'^[0-9A-Fa-f]{40}$', value or '') or H.find_cert(c.st, value) is None:
        msg = 'Invalid parameter '
        if method:
            raise method_error(c.rt, 'SetSSLCertificateSHA1Hash', 1, msg.strip())
        c.terminate(msg, 'HRESULT 0x80041008,Microsoft.Management.Infrastructure.CimCmdlets.SetCimInstanceCommand',
                    'InvalidArgument', value, 'CimException')
    c.st['rdp']['SSLCertificateSHA1Hash'] = value.upper()


@command('Get-CimInstance', [P('ClassName', 'string', 0), P('Namespace', 'string'), P('Filter', 'string'),
                             P('Query', 'string'), P('ComputerName', 'string[]')],
         module='CimCmdlets', full='Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand')
def get_ciminstance(c):
    if c.has('query') or c.has('computername'):
        c.terminate('-Query and -ComputerName are not modelled by the certsync test host.', 'NotSupported',
                    'NotImplemented')
    cls = c.get('classname')
    if not cls:
        binding_error(c.rt, c.cmd, c.node, 'Cannot process command because of one or more missing mandatory '
                      'parameters: ClassName.', 'MissingMandatoryParameter')
    objs = cim_objects(c, cls, c.get('namespace'), c.get('filter'), wmi=False)
    if objs is None:
        c.error('Invalid class ', 'HRESULT 0x80041010', 'MetadataError', cls, 'CimException')
        return []
    if objs == 'badfilter':
        c.error('Invalid query ', 'HRESULT 0x80041017', 'InvalidArgument', c.get('filter'), 'CimException')
        return []
    return objs


@command('Get-WmiObject', [P('Class', 'string', 0), P('Namespace', 'string'), P('Filter', 'string'),
                           P('ComputerName', 'string[]')],
         module='Microsoft.PowerShell.Management', full='Microsoft.PowerShell.Commands.GetWmiObjectCommand')
def get_wmiobject(c):
    cls = c.get('class')
    if not cls:
        binding_error(c.rt, c.cmd, c.node, 'Cannot process command because of one or more missing mandatory '
                      'parameters: Class.', 'MissingMandatoryParameter')
    objs = cim_objects(c, cls, c.get('namespace'), c.get('filter'), wmi=True)
    if objs is None:
        c.error('Invalid class "%s"' % cls, 'GetWMIManagementException', 'InvalidType', cls,
                'ManagementException')
        return []
    if objs == 'badfilter':
        c.error('Invalid query "%s"' % c.get('filter'), 'GetWMIManagementException', 'InvalidArgument',
                c.get('filter'), 'ManagementException')
        return []
    return objs


@command('Set-CimInstance', [P('InputObject', 'object', 0, pipeline=True), P('Property', 'hashtable', 1),
                             P('PassThru', 'switch')],
         module='CimCmdlets', full='Microsoft.Management.Infrastructure.CimCmdlets.SetCimInstanceCommand',
         should_process=True)
def set_ciminstance(c):
    objs = list(c.input) + ([c.get('inputobject')] if c.has('inputobject') else [])
    if not objs:
        binding_error(c.rt, c.cmd, c.node, 'Cannot process command because of one or more missing mandatory '
                      'parameters: InputObject.', 'MissingMandatoryParameter')
    for o in objs:
        if not isinstance(o, PSObject) or 'Win32_TSGeneralSetting' not in o.type_name:
            c.terminate('Only Win32_TSGeneralSetting instances can be set on the certsync test host.',
                        'NotSupported', 'NotImplemented')
        props = c.get('property')
        if props is not None:
            for k, v in props.items_():
                if to_str(k).lower() != 'sslcertificatesha1hash':
                    c.terminate("Property '%s' cannot be set by the certsync test host." % k,
                                'NotSupported', 'NotImplemented')
                o.set('SSLCertificateSHA1Hash', to_str(v))
        if not c.confirm('Win32_TSGeneralSetting'):
            continue
        apply_rdp_hash(c, to_str(o.get('SSLCertificateSHA1Hash')))
    return objs if c.get('passthru') else []


@command('Restart-Computer', [P('Force', 'switch'), P('ComputerName', 'string[]', 0), P('Wait', 'switch')],
         module='Microsoft.PowerShell.Management', should_process=True)
def restart_computer(c):
    if c.has('computername') and any(n.lower() not in ('localhost', '.', c.st.get('hostname', '').lower())
                                     for n in c.get('computername')):
        c.terminate('Restarting other computers is not modelled by the certsync test host.', 'NotSupported',
                    'NotImplemented')
    if not c.confirm(c.st.get('hostname', 'localhost')):
        return []
    c.st['pending_reboot'] = True
    return []


# -- native programs ------------------------------------------------------------------------
NETSH_SHOW_TAIL = [
    ('Verify Client Certificate Revocation', 'Enabled'),
    ('Verify Revocation Using Cached Client Certificate Only', 'Disabled'),
    ('Usage Check', 'Enabled'), ('Revocation Freshness Time', '0'), ('URL Retrieval Timeout', '0'),
    ('Ctl Identifier', '(null)'), ('Ctl Store Name', '(null)'), ('DS Mapper Usage', 'Disabled'),
    ('Negotiate Client Certificate', 'Disabled'), ('Reject Connections', 'Disabled'),
    ('Disable HTTP2', 'Not Set'), ('Disable QUIC', 'Not Set'), ('Disable TLS1.2', 'Not Set'),
    ('Disable TLS1.3', 'Not Set'), ('Disable OCSP Stapling', 'Not Set'), ('Enable Token Binding', 'Not Set'),
    ('Log Extended Events', 'Not Set'), ('Disable Legacy TLS Versions', 'Not Set'),
    ('Enable Session Ticket', 'Not Set')]


def netsh_entry_text(e):
    if 'hostnameport' in e:
        lines = [('Hostname:port', e['hostnameport'])]
    else:
        lines = [('IP:port', e['ipport'])]
    lines += [('Certificate Hash', e['certhash'].lower()), ('Application ID', e['appid']),
              ('Certificate Store Name', e.get('certstorename', 'MY'))] + NETSH_SHOW_TAIL
    return ''.join('    %-28s : %s\r\n' % (k, v) if len(k) <= 28 else '    %s : %s\r\n' % (k, v)
                   for k, v in lines) + '\r\n'


@native('netsh')
def netsh(rt, argv):
    args = [a for a in argv]
    low = [a.lower() for a in args]
    if low[:2] != ['http', 'show'] and low[:2] not in (['http', 'add'], ['http', 'update'], ['http', 'delete']):
        return 1, 'The following command was not found: %s.\r\n' % ' '.join(args), ''
    if len(low) < 3 or low[2] != 'sslcert':
        return 1, 'The following command was not found: %s.\r\n' % ' '.join(args), ''
    kv = {}
    for a in args[3:]:
        if '=' not in a:
            return 87, 'The parameter is incorrect.\r\n\r\n', ''
        k, v = a.split('=', 1)
        kv[k.lower()] = v
    st = rt.host
    lst = st.setdefault('httpsys', {}).setdefault('sslcert', [])
    verb = low[1]
    keys = [k for k in ('ipport', 'hostnameport') if k in kv]
    if verb == 'show':
        if not keys:
            body = ''.join(netsh_entry_text(e) for e in lst)
            return 0, '\r\nSSL Certificate bindings:\r\n-------------------------\r\n\r\n' + body, ''
        kind = keys[0]
        hit = [e for e in lst if e.get(kind, '').lower() == kv[kind].lower()]
        if not hit:
            return 1, '\r\nSSL Certificate bindings:\r\n-------------------------\r\n\r\nThe system cannot ' \
                      'find the file specified.\r\n\r\n', ''
        return 0, '\r\nSSL Certificate bindings:\r\n-------------------------\r\n\r\n' + netsh_entry_text(hit[0]), ''
    if len(keys) != 1:
        return 87, 'The parameter is incorrect.\r\n\r\n', ''
    kind = keys[0]
    key = kv[kind]
    if kind == 'ipport' and not re.match(r'^(\d{1,3}\.){3}\d{1,3}:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$', key):
        return 87, 'The parameter is incorrect.\r\n\r\n', ''
    if kind == 'hostnameport' and not re.match(r'^[^:\s]+:\d{1,5}$', key):
        return 87, 'The parameter is incorrect.\r\n\r\n', ''
    existing = [e for e in lst if e.get(kind, '').lower() == key.lower()]
    if verb == 'delete':
        if set(kv) - {kind}:
            return 87, 'The parameter is incorrect.\r\n\r\n', ''
        if not existing:
            return 1, 'SSL Certificate deletion failed, Error: 2\r\nThe system cannot find the file ' \
                      'specified.\r\n\r\n', ''
        lst.remove(existing[0])
        return 0, '\r\nSSL Certificate successfully deleted\r\n\r\n', ''
    allowed = {kind, 'certhash', 'appid', 'certstorename', 'verifyclientcertrevocation',
               'clientcertnegotiation', 'disablehttp2', 'disablelegacytls', 'disabletls13', 'disablequic'}
    if set(kv) - allowed or 'certhash' not in kv or 'appid' not in kv:
        return 87, 'The parameter is incorrect.\r\n\r\n', ''
    what = 'add' if verb == 'add' else 'update'
    if not re.match(r'^[0-9A-Fa-f]{40}$', kv['certhash']):
        return 1, 'SSL Certificate %s failed, Error: 87\r\nThe parameter is incorrect.\r\n\r\n' % what, ''
    if not re.match(r'^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$',
                    kv['appid']):
        return 87, 'The parameter is incorrect.\r\n\r\n', ''
    if kind == 'hostnameport' and 'certstorename' not in kv:
        return 1, 'SSL Certificate %s failed, Error: 87\r\nThe parameter is incorrect.\r\n\r\n' % what, ''
    store = kv.get('certstorename', 'MY')
    real_store = STORES.get(store.lower())
    cert = H.find_cert(st, kv['certhash'], real_store) if real_store else None
    if cert is None or not cert.get('has_private_key'):
        return 1, 'SSL Certificate %s failed, Error: 1312\r\nA specified logon session does not exist. ' \
                  'It may already have been terminated.\r\n\r\n' % what, ''
    if verb == 'add':
        if existing:
            return 1, 'SSL Certificate add failed, Error: 183\r\nCannot create a file when that file ' \
                      'already exists.\r\n\r\n', ''
        lst.append({kind: key, 'certhash': kv['certhash'].lower(), 'appid': kv['appid'].lower(),
                    'certstorename': store.upper()})
        return 0, '\r\nSSL Certificate successfully added\r\n\r\n', ''
    if not existing:
        return 1, 'SSL Certificate update failed, Error: 2\r\nThe system cannot find the file ' \
                  'specified.\r\n\r\n', ''
    existing[0].update({'certhash': kv['certhash'].lower(), 'appid': kv['appid'].lower(),
                        'certstorename': store.upper()})
    return 0, '\r\nSSL Certificate successfully updated\r\n\r\n', ''


@native('hostname')
def native_hostname(rt, argv):
    return 0, rt.host.get('hostname', 'SAPPHIRE') + '\r\n', ''


@native('whoami')
def native_whoami(rt, argv):
    return 0, rt.whoami.lower() + '\r\n', ''


# -- members, methods, statics, casts ---------------------------------------------------------
class MethodError(Exception):
    pass


def method_args_error(name, n):
    return PSError(ErrorRecord('Cannot find an overload for "%s" and the argument count: "%d".' % (name, n),
                               'MethodCountCouldNotFindBest', 'NotSpecified', '', 'String',
                               'MethodException'))


def method_error(rt, name, n, message):
    return PSError(ErrorRecord('Exception calling "%s" with "%d" argument(s): "%s"' % (name, n, message),
                               'COMException' if 'HRESULT' in message else 'DotNetMethodException',
                               'NotSpecified', '', 'String', 'MethodInvocationException'))


def type_name_of(v):
    if v is None:
        return 'null'
    if isinstance(v, bool):
        return 'System.Boolean'
    if isinstance(v, int):
        return 'System.Int32'
    if isinstance(v, float):
        return 'System.Double'
    if isinstance(v, str):
        return 'System.String'
    if isinstance(v, list):
        return 'System.Object[]'
    if isinstance(v, (bytes, bytearray)):
        return 'System.Byte[]'
    if isinstance(v, Hashtable):
        return 'System.Collections.Hashtable'
    if isinstance(v, PSObject):
        return v.type_name
    if isinstance(v, DateTime):
        return 'System.DateTime'
    if isinstance(v, SecureString):
        return 'System.Security.SecureString'
    if isinstance(v, ErrorRecord):
        return 'System.Management.Automation.ErrorRecord'
    if isinstance(v, pscom.ComObject):
        return v.type_name
    return 'System.Object'


def type_matches(v, tname):
    t = tname.lower()
    if t.startswith('[') and t.endswith(']'):
        t = t[1:-1]        # '[byte[]]' -> 'byte[]' (not 'byte[')
    t = t[7:] if t.startswith('system.') else t
    if t in ('object', 'psobject'):
        return v is not None
    if t == 'array':
        return isinstance(v, (list, bytes, bytearray))
    name = type_name_of(v).lower()
    return name == t or name.endswith('.' + t)


def get_member_value(rt, obj, name):
    low = name.lower()
    if obj is None:
        return None
    if isinstance(obj, pscom.ComObject):
        return obj.ps_get(name)
    if isinstance(obj, ErrorRecord):
        return obj.as_object().get(name)
    if isinstance(obj, PSObject):
        if obj.has(name):
            return obj.get(name)
        return None
    if isinstance(obj, Hashtable):
        if obj.has(name):
            return obj.get_value(name)
        if low == 'count':
            return len(obj)
        if low == 'keys':
            return [k for k, _ in obj.items_()]
        if low == 'values':
            return [v for _, v in obj.items_()]
        return None
    if isinstance(obj, str):
        if low == 'length':
            return len(obj)
        return None
    if isinstance(obj, (list, bytes, bytearray)):
        if low in ('count', 'length'):
            return len(obj)
        vals = [get_member_value(rt, x, name) for x in obj]
        vals = [v for v in vals if v is not None]
        return unwrap_output(vals) if len(vals) != 1 else vals[0]
    if isinstance(obj, DateTime):
        d = obj.dt
        return {'year': d.year, 'month': d.month, 'day': d.day, 'hour': d.hour, 'minute': d.minute,
                'second': d.second, 'kind': obj.kind, 'date': DateTime(d.replace(hour=0, minute=0, second=0), obj.kind)
                }.get(low)
    if isinstance(obj, SecureString):
        return len(obj._plain) if low == 'length' else None
    if isinstance(obj, (int, float)):
        return None
    return None


def member(rt, node, obj):
    if isinstance(obj, TypeLit) and node.static:
        return static_member(rt, node, obj.name, node.name)
    return get_member_value(rt, obj, node.name)


TYPE_ALIASES = {'convert': 'system.convert', 'io.file': 'system.io.file', 'system.io.file': 'system.io.file',
                'io.path': 'system.io.path', 'system.io.path': 'system.io.path',
                'bitconverter': 'system.bitconverter', 'environment': 'system.environment',
                'datetime': 'system.datetime', 'guid': 'system.guid', 'text.encoding': 'system.text.encoding',
                'console': 'system.console', 'scriptblock': 'scriptblock', 'math': 'system.math',
                'string': 'system.string'}


def canon_type(name):
    low = name.lower()
    if low.startswith('system.') and low[7:] in TYPE_ALIASES:
        return TYPE_ALIASES[low[7:]]
    return TYPE_ALIASES.get(low, low)


def encoding_object(rt, which):
    codec = {'utf8': 'utf-8', 'unicode': 'utf-16-le', 'ascii': 'ascii'}[which]

    def get_bytes(args):
        return to_str(args[0]).encode(codec, 'replace')

    def get_string(args):
        return bytes(args[0]).decode(codec, 'replace')
    return PSObject('System.Text.Encoding', [('EncodingName', which)],
                    methods={'getbytes': get_bytes, 'getstring': get_string})


def static_member(rt, node, tname, name):
    v = psdotnet.static_member(rt, tname, name)
    if v is not psdotnet.NOT_HANDLED:
        return v
    t = canon_type(tname)
    low = name.lower()
    if t == 'system.environment' and low == 'machinename':
        return rt.host.get('hostname', 'SAPPHIRE')
    if t == 'system.environment' and low == 'newline':
        return '\r\n'
    if t == 'system.datetime' and low in ('utcnow', 'now'):
        return DateTime(datetime.datetime.now(datetime.timezone.utc), 'Utc' if low == 'utcnow' else 'Local')
    if t == 'system.text.encoding' and low in ('utf8', 'unicode', 'ascii'):
        return encoding_object(rt, low)
    if t == 'system.console' and low == 'in':
        return PSObject('System.IO.TextReader', [], methods={'readtoend': lambda a: rt.io.read_all()})
    if t == 'system.string' and low == 'empty':
        return ''
    raise PSError(ErrorRecord("The property '%s' of type [%s] is not modelled by the certsync test host." % (
        name, tname), 'PropertyNotFound', 'InvalidOperation'))


def call_method(rt, node, obj, name, args):
    low = name.lower()
    if isinstance(obj, TypeLit):
        return static_call(rt, node, obj.name, name, args)
    if obj is None:
        raise PSError(ErrorRecord('You cannot call a method on a null-valued expression.', 'InvokeMethodOnNull',
                                  'InvalidOperation', '', 'String', 'RuntimeException'))
    if isinstance(obj, pscom.ComObject):
        return obj.ps_call(name, args)
    if isinstance(obj, PSObject):
        if low in obj.methods:
            return obj.methods[low](args)
        if low == 'tostring':
            return str(obj)
    if isinstance(obj, ErrorRecord) and low == 'tostring':
        return obj.message
    if isinstance(obj, str):
        try:
            return string_method(obj, low, args)
        except KeyError:
            pass
        except (IndexError, ValueError) as exc:
            raise method_error(rt, name, len(args), str(exc))
    if isinstance(obj, DateTime):
        if low == 'touniversaltime':
            return DateTime(obj.dt, 'Utc')
        if low == 'tolocaltime':
            return DateTime(obj.dt, 'Local')
        if low == 'tostring':
            return obj.to_string(to_str(args[0]) if args else None)
        if low in ('adddays', 'addhours', 'addminutes', 'addseconds'):
            unit = {'adddays': 'days', 'addhours': 'hours', 'addminutes': 'minutes', 'addseconds': 'seconds'}[low]
            return DateTime(obj.dt + datetime.timedelta(**{unit: to_num(args[0])}), obj.kind)
    if isinstance(obj, Hashtable):
        if low == 'containskey':
            return obj.has(args[0])
        if low == 'add':
            if obj.has(args[0]):
                raise method_error(rt, 'Add', 2, "Item has already been added. Key in dictionary: '%s'  Key "
                                   "being added: '%s'" % (args[0], args[0]))
            obj.set(args[0], args[1])
            return None
        if low == 'remove':
            obj.remove(args[0])
            return None
    if isinstance(obj, list) and low == 'contains':
        return any(x == args[0] for x in obj)
    if isinstance(obj, (int, float)) and low == 'tostring':
        if args:
            f = to_str(args[0])
            m = re.match(r'^([xXdD])(\d*)$', f)
            if m:
                w = int(m.group(2) or 0)
                return format(int(obj), '0%d%s' % (w, {'x': 'x', 'X': 'X', 'd': 'd', 'D': 'd'}[m.group(1)]))
        return to_str(obj)
    if low == 'tostring' and not args:
        return to_str(obj)
    if low == 'gettype' and not args:
        return TypeLit(type_name_of(obj))
    raise PSError(ErrorRecord('Method invocation failed because [%s] does not contain a method named '
                              "'%s'." % (type_name_of(obj), name), 'MethodNotFound', 'InvalidOperation',
                              '', 'String', 'RuntimeException'))


def string_method(s, low, args):
    a = [to_str(x) if not isinstance(x, (int, float)) or isinstance(x, bool) else x for x in args]
    if low == 'toupper' or low == 'toupperinvariant':
        return s.upper()
    if low == 'tolower' or low == 'tolowerinvariant':
        return s.lower()
    if low == 'trim':
        return s.strip(a[0]) if a else s.strip()
    if low == 'trimstart':
        return s.lstrip(a[0]) if a else s.lstrip()
    if low == 'trimend':
        return s.rstrip(a[0]) if a else s.rstrip()
    if low == 'replace':
        return s.replace(to_str(a[0]), to_str(a[1]))
    if low == 'split':
        seps = to_str(a[0]) if a else ' '
        return re.split('[' + re.escape(seps) + ']', s) if len(seps) > 1 else s.split(seps)
    if low == 'startswith':
        return s.startswith(to_str(a[0]))
    if low == 'endswith':
        return s.endswith(to_str(a[0]))
    if low == 'contains':
        return to_str(a[0]) in s
    if low == 'substring':
        # .NET's checks (ArgumentOutOfRangeException), not Python's slicing.
        if not 1 <= len(a) <= 2:
            raise KeyError(low)
        start = int(a[0])
        if start < 0:
            raise ValueError('StartIndex cannot be less than zero.\r\nParameter name: startIndex')
        if len(a) == 1:
            if start > len(s):
                raise ValueError('startIndex cannot be larger than length of string.\r\nParameter name: startIndex')
            return s[start:]
        length = int(a[1])
        if length < 0:
            raise ValueError('Length cannot be less than zero.\r\nParameter name: length')
        if start > len(s) - length:
            raise ValueError('Index and length must refer to a location within the string.\r\n'
                             'Parameter name: length')
        return s[start:start + length]
    if low == 'indexof':
        return s.find(to_str(a[0]))
    if low == 'tostring':
        return s
    if low == 'equals':
        return s == to_str(a[0])
    if low == 'padleft':
        return s.rjust(int(a[0]), to_str(a[1]) if len(a) > 1 else ' ')
    raise KeyError(low)


def static_call(rt, node, tname, name, args):
    v = psdotnet.static_call(rt, tname, name, args)
    if v is not psdotnet.NOT_HANDLED:
        return v
    t = canon_type(tname)
    low = name.lower()
    n = len(args)
    if t == 'system.convert' and low == 'frombase64string' and n == 1:
        text = to_str(args[0])
        try:
            cleaned = re.sub(r'\s', '', text)
            if len(cleaned) % 4 or not re.match(r'^[A-Za-z0-9+/]*={0,2}$', cleaned):
                raise ValueError()
            return base64.b64decode(cleaned)
        except ValueError:
            raise method_error(rt, 'FromBase64String', 1, 'The input is not a valid Base-64 string as it '
                               'contains a non-base 64 character, more than two padding characters, or an '
                               'illegal character among the padding characters. ')
    if t == 'system.convert' and low == 'tobyte' and n in (1, 2):
        return convert_to_byte(rt, args)
    if t == 'system.convert' and low == 'tobase64string' and n == 1:
        return base64.b64encode(bytes(args[0])).decode('ascii')
    if t == 'system.io.file':
        return file_static(rt, low, args)
    if t == 'system.io.path' and low == 'combine':
        return '\\'.join([to_str(args[0]).rstrip('\\')] + [to_str(x).strip('\\') for x in args[1:]])
    if t == 'system.io.path' and low == 'getrandomfilename' and n == 0:
        return uuid.uuid4().hex[:8] + '.' + uuid.uuid4().hex[:3]
    if t == 'system.io.path' and low == 'gettemppath' and n == 0:
        return rt.env.get('TEMP', 'C:\\Windows\\Temp') + '\\'
    if t == 'system.bitconverter' and low == 'tostring' and n == 1:
        return '-'.join('%02X' % b for b in bytes(args[0] or b''))
    if t == 'system.environment' and low == 'getenvironmentvariable' and n == 1:
        for k, v in rt.env.items():
            if k.lower() == to_str(args[0]).lower():
                return v
        return None
    if t == 'system.guid' and low == 'newguid' and n == 0:
        g = str(uuid.uuid4())
        return PSObject('System.Guid', [('Guid', g)], to_string=lambda o: g,
                        methods={'tostring': lambda a: guid_to_string(g, a)})
    if t == 'scriptblock' and low == 'create' and n == 1:
        text = to_str(args[0])
        try:
            node = psparse.parse_scriptblock(text)
        except psparse.ParseError as exc:
            raise method_error(rt, 'Create', 1, exc.message)
        # Its own text: errors in it quote its lines, not the caller's.
        return ScriptBlock(node, text, source=text.replace('\r\n', '\n').replace('\r', '\n'))
    if t == 'system.string' and low == 'isnullorempty' and n == 1:
        return args[0] is None or to_str(args[0]) == ''
    if t == 'system.string' and low == 'join' and n == 2:
        return to_str(args[0]).join(to_str(x) for x in as_list(args[1]))
    raise PSError(ErrorRecord('Method invocation failed because [%s] does not contain a method named '
                              "'%s'." % (tname, name), 'MethodNotFound', 'InvalidOperation', '', 'String',
                              'RuntimeException'))


def convert_to_byte(rt, args):
    """[Convert]::ToByte(value) / ToByte(string, base 2, 8, 10 or 16)."""
    n = len(args)
    v = args[0]
    if n == 1:
        try:
            return cast(rt, 'byte', v)
        except PSError as exc:
            raise method_error(rt, 'ToByte', 1, exc.record.message)
    base = int(to_num(args[1]))
    if base not in (2, 8, 10, 16):
        raise psdotnet.net_error('ToByte', 2, 'Invalid Base.', 'ArgumentException')
    text = psdotnet.net_str(v)
    if text is None:
        return 0
    digits = text[2:] if base == 16 and text[:2].lower() == '0x' else text
    if digits == '':
        raise psdotnet.net_error('ToByte', 2, 'Index was outside the bounds of the array.',
                                 'IndexOutOfRangeException')
    ok = {2: '01', 8: '01234567', 10: '0123456789', 16: '0123456789abcdefABCDEF'}[base]
    if digits[0] == '-' and base == 10:
        digits_ok = digits[1:] and all(ch in ok for ch in digits[1:])
    else:
        digits_ok = all(ch in ok for ch in digits)
    if not digits_ok:
        raise psdotnet.net_error('ToByte', 2, 'Could not find any recognizable digits.', 'FormatException')
    value = int(digits, base)
    if not 0 <= value <= 255:
        raise psdotnet.net_error('ToByte', 2, 'Value was either too large or too small for an unsigned byte.',
                                 'OverflowException')
    return value


def file_static(rt, low, args):
    import os
    from host import map_path

    def rp(p, create=False):
        try:
            return map_path(rt.fs_root, to_str(p), create)
        except ValueError:
            raise method_error(rt, low, len(args), "Could not find a part of the path '%s'." % to_str(p))
    if low == 'writeallbytes' and len(args) == 2:
        if not isinstance(args[1], (bytes, bytearray)):
            raise method_error(rt, 'WriteAllBytes', 2, 'Cannot convert argument "bytes", with value: "%s", for '
                               '"WriteAllBytes" to type "System.Byte[]"' % to_str(args[1]))
        real = rp(args[0])
        if not os.path.isdir(os.path.dirname(real)):
            raise method_error(rt, 'WriteAllBytes', 2, "Could not find a part of the path '%s'." % to_str(args[0]))
        with open(real, 'wb') as fh:
            fh.write(bytes(args[1]))
        return None
    if low == 'writealltext' and len(args) == 2:
        real = rp(args[0])
        if not os.path.isdir(os.path.dirname(real)):
            raise method_error(rt, 'WriteAllText', 2, "Could not find a part of the path '%s'." % to_str(args[0]))
        with open(real, 'w', encoding='utf-8') as fh:
            fh.write(to_str(args[1]))
        return None
    if low in ('readallbytes', 'readalltext') and len(args) == 1:
        real = rp(args[0])
        if not os.path.isfile(real):
            raise method_error(rt, 'ReadAllBytes' if low == 'readallbytes' else 'ReadAllText', 1,
                               "Could not find file '%s'." % to_str(args[0]))
        with open(real, 'rb') as fh:
            data = fh.read()
        return data if low == 'readallbytes' else data.decode('utf-8', 'replace')
    if low == 'exists' and len(args) == 1:
        try:
            return os.path.isfile(map_path(rt.fs_root, to_str(args[0])))
        except ValueError:
            return False
    if low == 'delete' and len(args) == 1:
        real = rp(args[0])
        if os.path.isfile(real):
            os.remove(real)
        return None
    raise PSError(ErrorRecord("Method invocation failed because [System.IO.File] does not contain a method "
                              "named '%s'." % low, 'MethodNotFound', 'InvalidOperation'))


def index(rt, node, obj, idx):
    if obj is None:
        raise PSError(ErrorRecord('Cannot index into a null array.', 'NullArray', 'InvalidOperation', '',
                                  'String', 'RuntimeException'))
    if isinstance(obj, Hashtable):
        return obj.get_value(idx)
    if isinstance(obj, PSObject):
        return obj.get(to_str(idx))
    if isinstance(obj, (list, str, bytes, bytearray)):
        try:
            i = int(to_num(idx))
            return obj[i]
        except (IndexError, ValueError):
            return None
    raise PSError(ErrorRecord('Unable to index into an object of type %s.' % type_name_of(obj), 'CannotIndex',
                              'InvalidOperation'))


FULL_TYPE_NAMES = {'string': 'System.String', 'int': 'System.Int32', 'int32': 'System.Int32',
                   'long': 'System.Int64', 'int64': 'System.Int64', 'double': 'System.Double',
                   'float': 'System.Single', 'bool': 'System.Boolean', 'boolean': 'System.Boolean',
                   'byte': 'System.Byte', 'byte[]': 'System.Byte[]', 'array': 'System.Array',
                   'object': 'System.Object', 'object[]': 'System.Object[]', 'string[]': 'System.String[]',
                   'hashtable': 'System.Collections.Hashtable', 'datetime': 'System.DateTime',
                   'scriptblock': 'System.Management.Automation.ScriptBlock',
                   'securestring': 'System.Security.SecureString',
                   'security.securestring': 'System.Security.SecureString',
                   'pscustomobject': 'System.Management.Automation.PSObject',
                   'psobject': 'System.Management.Automation.PSObject', 'void': 'System.Void',
                   'switch': 'System.Management.Automation.SwitchParameter',
                   'ordered': 'System.Collections.Specialized.OrderedDictionary'}
# What $null becomes when converted to a type (a typed parameter nobody set).
NULL_DEFAULTS = {'string': '', 'int': 0, 'int32': 0, 'long': 0, 'int64': 0, 'double': 0.0, 'float': 0.0,
                 'bool': False, 'boolean': False, 'byte': 0}


def full_type_name(tname):
    if tname is None:
        return 'System.Object'
    t = tname.lower()
    t = t[7:] if t.startswith('system.') else t
    return FULL_TYPE_NAMES.get(t, tname)


def check_type(tname):
    """A type the model can convert to (a typed parameter), else an error."""
    t = tname.lower()
    t = t[7:] if t.startswith('system.') else t
    if t not in FULL_TYPE_NAMES:
        raise PSError(ErrorRecord('The type [%s] is not modelled by the certsync test host.' % tname,
                                  'TypeNotFound', 'InvalidOperation', tname, 'String', 'RuntimeException'))


def cast(rt, tname, v):
    t = tname.lower()
    t = t[7:] if t.startswith('system.') else t
    try:
        if t == 'object':
            return v
        if t == 'byte':
            if isinstance(v, str) and re.match(r'^\s*[+-]?\d+(\.\d+)?\s*$', v):
                n = float(v) if '.' in v else int(v)
            else:
                n = to_num(v)
            n = int(round(n)) if isinstance(n, float) else int(n)
            if not 0 <= n <= 255:
                raise ValueError('Value was either too large or too small for an unsigned byte.')
            return n
        if t == 'string':
            return rt.interp(v) if isinstance(v, list) else to_str(v)
        if t in ('int', 'int32', 'long', 'int64'):
            n = to_num(v)
            return int(round(n)) if isinstance(n, float) else int(n)
        if t in ('double', 'float'):
            return float(to_num(v))
        if t in ('bool', 'boolean'):
            return to_bool(v)
        if t in ('byte[]',):
            if isinstance(v, (bytes, bytearray)):
                return bytes(v)
            return bytes(int(to_num(x)) for x in as_list(v))
        if t in ('array', 'object[]'):
            return list(as_list(v))
        if t in ('string[]',):
            return [to_str(x) for x in as_list(v)]
        if t in ('pscustomobject', 'psobject'):
            if isinstance(v, Hashtable):
                return PSObject(props=[(to_str(k), x) for k, x in v.items_()])
            return v
        if t == 'ordered':
            return v
        if t == 'hashtable':
            if isinstance(v, Hashtable):
                return v
        if t == 'datetime':
            if isinstance(v, DateTime):
                return v
            s = to_str(v)
            for fmt in ('%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d'):
                try:
                    return DateTime(datetime.datetime.strptime(s, fmt).replace(tzinfo=datetime.timezone.utc))
                except ValueError:
                    pass
            raise ValueError('String was not recognized as a valid DateTime.')
        if t == 'scriptblock':
            if isinstance(v, ScriptBlock):
                return v
        if t in ('void',):
            return None
        if t in ('securestring', 'security.securestring'):
            if isinstance(v, SecureString):
                return v
    except ValueError as exc:
        msg = str(exc)
        if msg.startswith('Cannot convert value'):
            # to_num's own "Cannot convert value ... Input string was not in a correct format."
            msg = msg.split('Error: "', 1)[-1].rstrip('"')
        raise PSError(ErrorRecord('Cannot convert value "%s" to type "%s". Error: "%s"' % (
            to_str(v), full_type_name(tname), msg), 'InvalidCastParseTargetInvocation', 'InvalidArgument', '',
            'String', 'RuntimeException'))
    raise PSError(ErrorRecord('Cannot convert the "%s" value of type "%s" to type "%s".' % (
        to_str(v), type_name_of(v), full_type_name(tname)), 'ConvertToFinalInvalidCastException',
        'InvalidArgument', '', 'String', 'RuntimeException'))


# -- formatting what reaches the end of the pipeline ---------------------------------------
def format_object(o):
    if o is None:
        return ''
    if isinstance(o, (str, int, float, bool)):
        return to_str(o) + '\r\n'
    if isinstance(o, (bytes, bytearray)):
        return ''.join('%d\r\n' % b for b in o)
    if isinstance(o, list):
        return ''.join(format_object(x) for x in o)
    if isinstance(o, DateTime):
        return '\r\n' + o.dt.strftime('%A, %B ') + str(o.dt.day) + o.dt.strftime(', %Y ') + \
            o.to_string().split(' ', 1)[1] + '\r\n\r\n\r\n'
    if isinstance(o, Hashtable):
        rows = [(to_str(k), to_str(v)) for k, v in o.items_()]
        w = max([4] + [len(k) for k, _ in rows])
        out = '\r\n%-*s Value\r\n%-*s -----\r\n' % (w, 'Name', w, '----')
        out += ''.join('%-*s %s\r\n' % (w, k, v) for k, v in rows)
        return out + '\r\n'
    if isinstance(o, PSObject):
        if o._to_string and o.type_name not in ('System.Management.Automation.PSCustomObject',) and not o.names():
            return str(o) + '\r\n'
        names = o.names()
        w = max([0] + [len(n) for n in names])
        return '\r\n' + ''.join('%-*s : %s\r\n' % (w, n, to_str(o.get(n))) for n in names) + '\r\n'
    return to_str(o) + '\r\n'


def guid_to_string(g, args):
    """Guid.ToString(format): N D B P X."""
    if len(args) > 1:
        raise method_args_error('ToString', len(args))
    f = to_str(args[0]) if args and args[0] is not None else 'D'
    h = g.replace('-', '')
    if f in ('', 'D', 'd'):
        return g
    if f in ('N', 'n'):
        return h
    if f in ('B', 'b'):
        return '{%s}' % g
    if f in ('P', 'p'):
        return '(%s)' % g
    if f in ('X', 'x'):
        return '{0x%s,0x%s,0x%s,{%s}}' % (h[:8], h[8:12], h[12:16], ','.join(
            '0x' + h[i:i + 2] for i in range(16, 32, 2)))
    raise PSError(ErrorRecord('Exception calling "ToString" with "1" argument(s): "Format String can be only '
                              '"D", "d", "N", "n", "P", "p", "B", "b", "X" or "x"."', 'FormatException',
                              'NotSpecified', '', 'String', 'MethodInvocationException'))
