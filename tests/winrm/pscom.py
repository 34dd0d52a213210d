"""COM objects as the PowerShell subset sees them (New-Object -ComObject):
properties and methods reached through IDispatch, collections enumerated
by foreach and the pipeline, and failures worded like PowerShell's:

    Exception calling "Item" with "1" argument(s): "The system cannot find
    the file specified. (Exception from HRESULT: 0x80070002)"

(FullyQualifiedErrorId ComMethodTargetInvocation, caught by try/catch,
$_.Exception.Message is that text).  A wrong number of arguments is
DISP_E_BADPARAMCOUNT, an argument of the wrong kind DISP_E_TYPEMISMATCH,
as IDispatch::Invoke answers them.

Stricter than PowerShell in one way: reading a property the object does
not have is an error (PropertyNotFoundStrict, PowerShell's wording under
Set-StrictMode), where PowerShell returns $null; a misspelt member in a
script fails here instead of passing silently.

The ProgIDs that exist: FPC.Root (fpc.py), only on a host whose model says
ISA/TMG is installed.  Any other ProgID fails as on a machine where it is
not registered."""

from psrun import ErrorRecord, PSError

HRESULTS = {
    0x80070002: ('The system cannot find the file specified.', None),
    0x80070057: ('The parameter is incorrect.', 'E_INVALIDARG'),
    0x8002000E: ('Invalid number of parameters.', 'DISP_E_BADPARAMCOUNT'),
    0x80020005: ('Type mismatch.', 'DISP_E_TYPEMISMATCH'),
}
NOT_FOUND = 0x80070002
INVALID_ARG = 0x80070057
BAD_PARAM_COUNT = 0x8002000E
TYPE_MISMATCH = 0x80020005


def hresult_text(hr):
    """The message of the COMException .NET makes of an HRESULT."""
    text, symbol = HRESULTS[hr]
    return '%s (Exception from HRESULT: 0x%08X%s)' % (text, hr, ' (%s)' % symbol if symbol else '')


class ComError(Exception):
    """Raised by a member: the HRESULT the COM server returned."""

    def __init__(self, hresult):
        super().__init__(hresult_text(hresult))
        self.hresult = hresult


def _error(message, fqid, category, exception):
    return PSError(ErrorRecord(message, fqid, category, '', 'String', exception))


class Prop:
    """A property: a getter, and a setter unless it is read-only."""

    def __init__(self, name, get, set=None):
        self.name = name
        self.get = get
        self.set = set


class ComObject:
    """Subclasses list their members: props() and methods() map lower-case
    names to Prop / (Name, function(args)); a collection also answers
    items() (its elements, in order) instead of None."""

    type_name = 'System.__ComObject'

    def props(self):
        return {}

    def methods(self):
        return {}

    def items(self):
        return None

    # -- what the interpreter calls -------------------------------------------
    def ps_get(self, name):
        p = self.props().get(name.lower())
        if p is None:
            raise _error("The property '%s' cannot be found on this object. Verify that the property "
                         "exists." % name, 'PropertyNotFoundStrict', 'InvalidOperation', 'PropertyNotFoundException')
        try:
            return p.get()
        except ComError as exc:
            raise _error('Exception getting "%s": "%s"' % (p.name, exc), 'CatchFromBaseAdapterGetValue',
                         'NotSpecified', 'GetValueInvocationException')

    def ps_set(self, name, value):
        p = self.props().get(name.lower())
        if p is None:
            raise _error("The property '%s' cannot be found on this object. Verify that the property exists "
                         "and can be set." % name, 'PropertyAssignmentException', 'InvalidOperation',
                         'RuntimeException')
        if p.set is None:
            raise _error("'%s' is a ReadOnly property." % p.name, 'PropertyAssignmentException',
                         'InvalidOperation', 'RuntimeException')
        try:
            p.set(value)
        except ComError as exc:
            raise _error('Exception setting "%s": "%s"' % (p.name, exc), 'CatchFromBaseAdapterSetValue',
                         'NotSpecified', 'SetValueInvocationException')

    def ps_call(self, name, args):
        m = self.methods().get(name.lower())
        if m is None:
            raise _error("Method invocation failed because [%s] does not contain a method named '%s'." % (
                self.type_name, name), 'MethodNotFound', 'InvalidOperation', 'RuntimeException')
        mname, fn = m
        try:
            return fn(list(args))
        except ComError as exc:
            raise _error('Exception calling "%s" with "%d" argument(s): "%s"' % (mname, len(args), exc),
                         'ComMethodTargetInvocation', 'NotSpecified', 'MethodInvocationException')

    def ps_enumerate(self):
        return self.items()

    def __str__(self):
        return self.type_name


def arg_count(args, least, most):
    if not least <= len(args) <= most:
        raise ComError(BAD_PARAM_COUNT)


def create(rt, progid):
    """New-Object -ComObject PROGID: the object, or None when the class is
    not registered on the host."""
    if progid.strip().lower() == 'fpc.root':
        import fpc
        return fpc.create_root(rt)
    return None
