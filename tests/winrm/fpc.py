"""ISA Server 2006 / Forefront TMG 2010 administration objects (the COM
class FPC.Root) over the host model's `tmg` section:

    "tmg": { "installed": true, "save_count": 0,
             "arrays": [ { "name": "COBALT",
                           "web_listeners": [ { "name": "OWA",
                               "applied_ssl_certificates": [
                                   { "hash": "<40 hex digits>", "ip_address": "192.0.2.10" } ] } ] } ] }

Without "installed": true (or without the section), FPC.Root is not
registered and New-Object -ComObject FPC.Root fails.

Edit, then Save: an FPC.Root object works on its own copy of the
configuration, read when it is created.  Changes stay in that copy until
Save() is called on the changed object or one that contains it; Save
writes what it covers to the state and adds 1 to save_count.  An object
that is never saved changes nothing.

Members, with the Forefront TMG SDK's names and behaviour (anything else
is an error, see pscom.py):

  FPC.Root                   GetContainingArray() (the first array:
                             Standard Edition has exactly one), Arrays
  FPCArrays                  Count, Item(name or 1-based index), foreach
  FPCArray                   Name, RuleElements, Save([reset [, reload]])
  FPCRuleElements            WebListeners
  FPCWebListeners            Count, Item(name or index), foreach, Save()
  FPCWebListener             Name, Properties, Save()
  FPCWebListenerProperties   AppliedSSLCertificates
  FPCAppliedSSLCertificates  Count, Item(index), foreach, Remove(1-based
                             index), Add(hash as byte[20] [, server: ''
                             only, Standard Edition]) -> the new entry
  FPCAppliedSSLCertificate   IPAddress (read/write: '' or IPv4),
                             SSLCertificate
  FPCCertificate             Hash (byte[])

Item() with an unknown name fails with 0x80070002 ("The system cannot
find the file specified."), an index out of range, a bad hash or IP with
E_INVALIDARG; these HRESULTs are an approximation (no recording of a TMG
server exists here)."""

import copy
import re

import pscom
from pscom import ComError, ComObject, Prop, arg_count
from psrun import to_num, to_str


def create_root(rt):
    tmg = rt.host.get('tmg') or {}
    if not tmg.get('installed'):
        return None
    return Root(rt, copy.deepcopy(tmg))


def _named(entries, key):
    for e in entries:
        if e.get('name', '').lower() == key.lower():
            return e
    return None


def _index(args, n):
    """A 1-based index argument (a number, or text that is one)."""
    v = args[0]
    if isinstance(v, bool) or v is None:
        raise ComError(pscom.TYPE_MISMATCH)
    try:
        i = int(to_num(v))
    except ValueError:
        raise ComError(pscom.TYPE_MISMATCH)
    if not 1 <= i <= n:
        raise ComError(pscom.INVALID_ARG)
    return i - 1


def _item(args, entries):
    """Item(name) or Item(1-based index)."""
    arg_count(args, 1, 1)
    if isinstance(args[0], str):
        e = _named(entries, args[0])
        if e is None:
            raise ComError(pscom.NOT_FOUND)
        return e
    return entries[_index(args, len(entries))]


def _save_args(args):
    arg_count(args, 0, 2)
    for a in args:
        if not isinstance(a, (bool, int)):
            raise ComError(pscom.TYPE_MISMATCH)


class Root(ComObject):
    def __init__(self, rt, cfg):
        self.rt = rt
        self.cfg = cfg      # this object's copy of the configuration

    def arrays(self):
        return self.cfg.setdefault('arrays', [])

    def props(self):
        return {'arrays': Prop('Arrays', lambda: Arrays(self))}

    def methods(self):
        def containing(args):
            arg_count(args, 0, 0)
            if not self.arrays():
                raise ComError(pscom.NOT_FOUND)
            return Array(self, self.arrays()[0])
        return {'getcontainingarray': ('GetContainingArray', containing)}

    def persist(self, array, listeners):
        """Save: write these listeners of this array to the host state."""
        st = self.rt.host.setdefault('tmg', {})
        target = _named(st.setdefault('arrays', []), array['name'])
        if target is None:
            raise ComError(pscom.NOT_FOUND)
        stored = target.setdefault('web_listeners', [])
        for l in listeners:
            old = _named(stored, l['name'])
            if old is None:
                stored.append(copy.deepcopy(l))
            else:
                stored[stored.index(old)] = copy.deepcopy(l)
        st['save_count'] = int(st.get('save_count', 0)) + 1


class Arrays(ComObject):
    def __init__(self, root):
        self.root = root

    def props(self):
        return {'count': Prop('Count', lambda: len(self.root.arrays()))}

    def methods(self):
        return {'item': ('Item', lambda a: Array(self.root, _item(a, self.root.arrays())))}

    def items(self):
        return [Array(self.root, a) for a in self.root.arrays()]


class Array(ComObject):
    def __init__(self, root, data):
        self.root = root
        self.data = data

    def props(self):
        return {'name': Prop('Name', lambda: self.data.get('name', '')),
                'ruleelements': Prop('RuleElements', lambda: RuleElements(self))}

    def methods(self):
        def save(args):
            _save_args(args)
            self.root.persist(self.data, self.data.get('web_listeners', []))
        return {'save': ('Save', save)}


class RuleElements(ComObject):
    def __init__(self, array):
        self.array = array

    def props(self):
        return {'weblisteners': Prop('WebListeners', lambda: WebListeners(self.array))}


class WebListeners(ComObject):
    def __init__(self, array):
        self.array = array

    def entries(self):
        return self.array.data.setdefault('web_listeners', [])

    def props(self):
        return {'count': Prop('Count', lambda: len(self.entries()))}

    def methods(self):
        def save(args):
            _save_args(args)
            self.array.root.persist(self.array.data, self.entries())
        return {'item': ('Item', lambda a: WebListener(self.array, _item(a, self.entries()))),
                'save': ('Save', save)}

    def items(self):
        return [WebListener(self.array, l) for l in self.entries()]


class WebListener(ComObject):
    def __init__(self, array, data):
        self.array = array
        self.data = data

    def props(self):
        return {'name': Prop('Name', lambda: self.data.get('name', '')),
                'properties': Prop('Properties', lambda: WebListenerProperties(self))}

    def methods(self):
        def save(args):
            _save_args(args)
            self.array.root.persist(self.array.data, [self.data])
        return {'save': ('Save', save)}


class WebListenerProperties(ComObject):
    def __init__(self, listener):
        self.listener = listener

    def props(self):
        return {'appliedsslcertificates': Prop('AppliedSSLCertificates',
                                               lambda: AppliedSSLCertificates(self.listener))}


class AppliedSSLCertificates(ComObject):
    def __init__(self, listener):
        self.listener = listener

    def entries(self):
        return self.listener.data.setdefault('applied_ssl_certificates', [])

    def props(self):
        return {'count': Prop('Count', lambda: len(self.entries()))}

    def methods(self):
        def add(args):
            arg_count(args, 1, 2)
            h = args[0]
            if not isinstance(h, (bytes, bytearray)) or len(h) != 20:
                raise ComError(pscom.INVALID_ARG)
            if len(args) == 2 and to_str(args[1]) != '':
                raise ComError(pscom.INVALID_ARG)
            entry = {'hash': bytes(h).hex().upper(), 'ip_address': ''}
            self.entries().append(entry)
            return AppliedSSLCertificate(entry)

        def remove(args):
            arg_count(args, 1, 1)
            del self.entries()[_index(args, len(self.entries()))]

        def item(args):
            arg_count(args, 1, 1)
            return AppliedSSLCertificate(self.entries()[_index(args, len(self.entries()))])
        return {'add': ('Add', add), 'remove': ('Remove', remove), 'item': ('Item', item)}

    def items(self):
        return [AppliedSSLCertificate(e) for e in self.entries()]


IPV4 = re.compile(r'^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$')


class AppliedSSLCertificate(ComObject):
    def __init__(self, data):
        self.data = data

    def props(self):
        def set_ip(v):
            text = to_str(v)
            if text != '' and not IPV4.match(text):
                raise ComError(pscom.INVALID_ARG)
            self.data['ip_address'] = text
        return {'ipaddress': Prop('IPAddress', lambda: self.data.get('ip_address', ''), set_ip),
                'sslcertificate': Prop('SSLCertificate', lambda: Certificate(self.data))}


class Certificate(ComObject):
    def __init__(self, data):
        self.data = data

    def props(self):
        return {'hash': Prop('Hash', lambda: bytes.fromhex(self.data['hash']))}
