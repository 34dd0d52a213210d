"""Calling script blocks, functions and script files as Windows PowerShell
5.1 does: parameter binding for param() blocks and function parameter
lists, scopes, `return`, and where `exit` stops.

Functions.  `function Name [(parameters)] { [param(...)] ... }` defines
Name when the statement runs, in the current scope; a call looks it up
through the scope chain.  A function comes before a cmdlet of the same
name, an alias before both.  Every call (function, script block, script
file) gets a new scope whose parent is the caller's (dynamic scoping).

Binding.  The arguments are evaluated first, left to right; then named
ones bind (exact name or unique prefix, -Name:value; a [switch] takes no
value), then positional ones (parameters with an explicit Position, else
every non-switch parameter in declaration order).
- A script block or function with [CmdletBinding()] or a [Parameter()]
  attribute is *advanced*: an unknown named parameter is an error
  (NamedParameterNotFound), so is a positional argument nothing takes
  (PositionalParameterNotFound); the common parameters exist (-ErrorAction
  sets $ErrorActionPreference inside; -Verbose, -Debug, -*Variable,
  -*Action and -OutBuffer are accepted and have no effect here).
- A simple one puts what it does not bind in $args (a named parameter as
  the text '-Name').
- A [Parameter(Mandatory)] parameter that is not given fails ("Cannot
  process command because of one or more missing mandatory parameters"):
  powershell.exe -NonInteractive cannot prompt, and the model never does.
  $null, '' or @() for it fails too.
- A typed parameter converts its argument ("Cannot process argument
  transformation on parameter 'X'. ...") and stays typed: a later
  assignment in that scope converts as well.  Unbound, it holds its
  type's value for $null ('' for [string], 0, $false); untyped, $null.
- $PSBoundParameters holds what was bound, $input the pipeline input.

Return and exit.  `return` ends the function or block, with the output so
far.  `exit N` ends the whole script: it passes through every function and
script block (finally blocks run, catch blocks do not catch it) up to
powershell.exe, whose exit code it becomes -- unless a script *file* is on
the way (`& C:\\path\\x.ps1`, `.\\x.ps1`): then only that file ends, and
its caller carries on with $LASTEXITCODE = N ($? is false when N is not
0).  certsync's `script` binding runs the user's script as a script block
([ScriptBlock]::Create), so there `exit N` is powershell.exe's exit code."""

import os
import re

import psparse
from psparse import ParseError
from psrun import (ErrorRecord, ExitScript, FlowReturn, Hashtable, PSError, Scope, drop_pending,
                   pending, to_bool, to_num, to_str)

COMMON = ['ErrorAction', 'WarningAction', 'Verbose', 'Debug', 'ErrorVariable', 'OutVariable',
          'WarningVariable', 'InformationAction', 'InformationVariable', 'OutBuffer', 'PipelineVariable']
COMMON_ALIASES = {'ea': 'ErrorAction', 'wa': 'WarningAction', 'vb': 'Verbose', 'db': 'Debug',
                  'ev': 'ErrorVariable', 'ov': 'OutVariable', 'wv': 'WarningVariable',
                  'infa': 'InformationAction', 'iv': 'InformationVariable', 'ob': 'OutBuffer',
                  'pv': 'PipelineVariable'}
COMMON_SWITCHES = {'Verbose', 'Debug'}
SWITCH_TYPES = {'switch', 'system.management.automation.switchparameter', 'management.automation.switchparameter'}


class Function:
    def __init__(self, name, params, body, source):
        self.name = name
        self.params = params
        self.body = body
        self.source = source


def define(rt, node):
    rt.scope.functions[node.name.lower()] = Function(node.name, node.params, node.body, rt.source)


def find_function(rt, name):
    s = rt.scope
    key = name.lower()
    while s is not None:
        if key in s.functions:
            return s.functions[key]
        s = s.parent
    return None


# -- arguments and declarations ---------------------------------------------------------
def arguments(rt, arg_nodes):
    """Evaluate a command's arguments, left to right: ('-', name, colon,
    value) for -Name[:value], ('v', value) for the others."""
    from pscmdlets import word_value
    items = []
    for a in arg_nodes:
        if a.kind == 'param':
            items.append(('-', a.name, a.colon, rt.eval(a.value) if a.colon else None))
        else:
            v = rt.eval(a)
            if a.kind == 'word':
                v = word_value(v)
            items.append(('v', v))
    return items


class Decl:
    def __init__(self, rt, node):
        self.name = node.name
        self.type = node.type
        self.default = node.default
        self.mandatory = False
        self.position = None
        self.has_attr = bool(node.attrs)
        for a in node.attrs:
            for k, expr in a.args.items():
                v = rt.eval(expr)
                if k == 'Mandatory':
                    self.mandatory = to_bool(v)
                elif k == 'Position':
                    self.position = int(to_num(v))
        self.switch = (self.type or '').lower() in SWITCH_TYPES


def _fail(rt, node, what, message, fqid, category='InvalidArgument', exception='ParameterBindingException'):
    rec = ErrorRecord(message, '%s,%s' % (fqid, what) if what else fqid, category, '', 'String', exception,
                      command=what, activity=what or '')
    rt.locate(rec, node)
    return PSError(rec)


def type_label(tname):
    from pscmdlets import full_type_name
    return full_type_name(tname)


def convert(rt, tname, value):
    """A value for a typed parameter or variable ($null stays $null for
    reference types)."""
    from pscmdlets import cast, check_type, NULL_DEFAULTS
    if tname is None:
        return value
    low = tname.lower()
    if low in SWITCH_TYPES:
        return to_bool(value)
    check_type(tname)
    if value is None:
        t = low[7:] if low.startswith('system.') else low
        return NULL_DEFAULTS.get(t)
    return cast(rt, tname, value)


def empty_why(value):
    if value is None:
        return 'null', 'NullNotAllowed'
    if isinstance(value, list):
        if not value:
            return 'an empty array', 'EmptyArrayNotAllowed'
        for v in value:
            if v is None:
                return 'null', 'NullNotAllowed'
            if v == '':
                return 'an empty string', 'EmptyStringNotAllowed'
    if isinstance(value, str) and value == '':
        return 'an empty string', 'EmptyStringNotAllowed'
    return None


def bind(rt, spec, items, what, node):
    """Match arguments to a param() block: ({name: value} for what was
    bound, converted; the $args left over; the -ErrorAction given)."""
    decls = [Decl(rt, p) for p in spec.params]
    advanced = any(a.name == 'CmdletBinding' for a in spec.attrs) or any(d.has_attr for d in decls)
    values = {}
    rest = []          # what named binding left, in order: ('v', value) or ('t', text for $args)
    eap = None

    def find(name):
        low = name.lower()
        names = [(d.name, d) for d in decls]
        if advanced:
            names += [(c, c) for c in COMMON]
            if low in COMMON_ALIASES:
                return COMMON_ALIASES[low]
        exact = [x for n, x in names if n.lower() == low]
        if exact:
            return exact[0]
        pref = [(n, x) for n, x in names if n.lower().startswith(low)]
        if len(pref) > 1:
            raise _fail(rt, node, what, "Parameter cannot be processed because the parameter name '%s' is "
                        "ambiguous. Possible matches include: %s." % (name, ' '.join('-' + n for n, _ in pref)),
                        'AmbiguousParameter')
        return pref[0][1] if pref else None

    i = 0
    while i < len(items):
        it = items[i]
        i += 1
        if it[0] == 'v':
            rest.append(it)
            continue
        _, name, colon, value = it
        d = find(name)
        if d is None:
            if advanced:
                raise _fail(rt, node, what, "A parameter cannot be found that matches parameter name '%s'."
                            % name, 'NamedParameterNotFound')
            rest.append(('t', '-' + name + (':' if colon else '')))
            if colon:
                rest.append(('t', value))
            continue
        pname = d if isinstance(d, str) else d.name
        if pname.lower() in values or (isinstance(d, str) and d == 'ErrorAction' and eap is not None):
            raise _fail(rt, node, what, "Cannot bind parameter because parameter '%s' is specified more than "
                        "once. To provide multiple values to parameters that can accept multiple values, use "
                        "the array syntax. For example, \"-parameter value1,value2,value3\"." % pname,
                        'ParameterAlreadyBound')
        switch = d in COMMON_SWITCHES if isinstance(d, str) else d.switch
        if switch:
            v = value if colon else True
        elif colon:
            v = value
        else:
            if i >= len(items) or items[i][0] == '-':
                raise _fail(rt, node, what, "Missing an argument for parameter '%s'. Specify a parameter of "
                            "type '%s' and try again." % (pname, type_label(None if isinstance(d, str)
                                                                           else d.type)),
                            'MissingArgument')
            v = items[i][1]
            i += 1
        if isinstance(d, str):
            if d == 'ErrorAction':
                eap = v
            continue
        values[d.name.lower()] = (d, v)
    explicit = [d for d in decls if d.position is not None]
    slots = sorted(explicit, key=lambda d: d.position) if explicit else [d for d in decls if not d.switch]
    extra = []
    for kind, v in rest:
        free = [d for d in slots if d.name.lower() not in values] if kind == 'v' else []
        if not free:
            if advanced:
                raise _fail(rt, node, what, "A positional parameter cannot be found that accepts argument "
                            "'%s'." % to_str(v), 'PositionalParameterNotFound')
            extra.append(v)
            continue
        values[free[0].name.lower()] = (free[0], v)
    out = {}
    for key, (d, v) in values.items():
        if d.mandatory:
            why = empty_why(v)
            if why:
                raise _fail(rt, node, what, "Cannot bind argument to parameter '%s' because it is %s." % (
                    d.name, why[0]), 'ParameterArgumentValidationError' + why[1], 'InvalidData',
                    'ParameterBindingValidationException')
        try:
            out[key] = convert(rt, d.type, v)
        except PSError as exc:
            raise _fail(rt, node, what, "Cannot process argument transformation on parameter '%s'. %s" % (
                d.name, exc.record.message), 'ParameterArgumentTransformationError', 'InvalidData',
                'ParameterBindingArgumentTransformationException')
    missing = [d.name for d in decls if d.mandatory and d.name.lower() not in out]
    if missing:
        raise _fail(rt, node, what, 'Cannot process command because of one or more missing mandatory '
                    'parameters: %s.' % ' '.join(missing), 'MissingMandatoryParameter')
    return decls, out, extra, eap


def apply(rt, decls, bound, extra, eap):
    """Set the parameters as variables of the (new) current scope;
    defaults are evaluated there, in order."""
    scope = rt.scope
    psbound = Hashtable()
    for d in decls:
        key = d.name.lower()
        if key in bound:
            v = bound[key]
            psbound.set(d.name, v)
        elif d.default is not None:
            v = convert(rt, d.type, rt.eval(d.default))
        else:
            v = convert(rt, d.type, None)
        scope.assign(d.name, v)
        if d.type is not None and d.type.lower() not in SWITCH_TYPES:
            scope.constraints[key] = d.type
    scope.assign('PSBoundParameters', psbound)
    scope.assign('args', list(extra))
    if eap is not None:
        rt.set_var('ErrorActionPreference', eap)


# -- calls ---------------------------------------------------------------------------------
def call(rt, what, params, body, source, items, node, input_objs=None, dollar_under=None, new_scope=True,
         script_path=None):
    """Run a body with its parameters bound to items; its output."""
    saved_scope, saved_source = rt.scope, rt.source
    prev_under = saved_scope.lookup('_')
    if new_scope:
        rt.scope = Scope(saved_scope)
    scope = rt.scope
    try:
        if dollar_under is not None:
            scope.assign('_', dollar_under)
            scope.assign('PSItem', dollar_under)
        if input_objs is not None:
            scope.assign('input', list(input_objs))
        if script_path is not None:
            scope.assign('PSCommandPath', script_path)
            scope.assign('PSScriptRoot', script_path.rsplit('\\', 1)[0] if '\\' in script_path else '')
        # Binding errors belong to the caller's line; what runs after, to
        # the body's own text.
        if params is not None:
            bound = bind(rt, params, items, what, node)
        else:
            bound = None
        if source is not None:
            rt.source = source
        try:
            if bound is not None:
                apply(rt, *bound)
            else:
                scope.assign('args', simple_args(items))
            try:
                return rt.run_block(body)
            except FlowReturn as r:
                return r.values
        except PSError as exc:
            if source is not None:
                rt.locate(exc.record, exc.record.node or getattr(exc, 'stmt', None))
            raise
    finally:
        rt.source = saved_source
        if not new_scope and prev_under[0]:
            scope.assign('_', prev_under[1])
        rt.scope = saved_scope


def simple_args(items):
    """$args of a block without param(): everything, names as '-Name'."""
    out = []
    for it in items:
        if it[0] == 'v':
            out.append(it[1])
        else:
            out.append('-' + it[1] + (':' if it[2] else ''))
            if it[2]:
                out.append(it[3])
    return out


def invoke_scriptblock(rt, sb, node, input_objs):
    """& $block arguments."""
    items = arguments(rt, node.args)
    return call(rt, None, getattr(sb.node, 'params', None), sb.node.body, getattr(sb, 'source', None),
                items, node, input_objs)


def invoke_function(rt, fn, node, input_objs):
    items = arguments(rt, node.args)
    return call(rt, fn.name, fn.params, fn.body, fn.source, items, node, input_objs)


# -- script files ------------------------------------------------------------------------------
def find_script(rt, name):
    """(Windows path, model file) when a command name is a path to an
    existing .ps1 (a bare 'x.ps1' is not: PowerShell does not run scripts
    from the current folder without .\\)."""
    from host import map_path
    if not name.lower().endswith('.ps1') or not re.search(r'[\\/]', name) or rt.fs_root is None:
        return None
    path = name.replace('/', '\\')
    if not re.match(r'^[A-Za-z]:', path):
        path = rt.cwd.rstrip('\\') + '\\' + path
    parts = []
    for part in path.split('\\'):
        if part == '..':
            if len(parts) > 1:
                parts.pop()
        elif part != '.':
            parts.append(part)
    path = '\\'.join(parts)
    try:
        real = map_path(rt.fs_root, path)
    except ValueError:
        return None
    return (path, real) if os.path.isfile(real) else None


def invoke_script_file(rt, script, node, input_objs):
    """& C:\\path\\x.ps1 arguments: its own scope and text; `exit N` ends
    it alone ($LASTEXITCODE = N)."""
    path, real = script
    with open(real, encoding='utf-8-sig', errors='replace') as fh:
        text = fh.read().replace('\r\n', '\n').replace('\r', '\n')
    try:
        sb = psparse.parse_scriptblock(text)
    except ParseError as exc:
        raise _fail(rt, node, None, exc.message, exc.fqid, 'ParserError', 'ParseException')
    items = arguments(rt, node.args)
    try:
        return call(rt, path, sb.params, sb.body, text, items, node, input_objs, script_path=path)
    except ExitScript as e:
        out = pending(e)
        drop_pending(e)
        rt.global_scope.assign('LASTEXITCODE', e.code)
        if e.code != 0:
            rt.cmd_failed = True
        return out


def run_params_statement(rt, node):
    """A param() block at the top of a -Command script: nothing binds to
    it (defaults; a mandatory parameter fails)."""
    apply(rt, *bind(rt, node, [], None, node))

