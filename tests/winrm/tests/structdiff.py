"""Structural comparison of two WS-Management envelopes: what a client
relies on must match (namespace declarations and prefixes, element paths
in order, attribute names, Action URIs, fault codes, states, exit codes,
stream names and End markers, decoded stream data), while per-message
values (MessageID, RelatesTo, ShellId, CommandId, host addresses,
ActivityId) are not compared.  Returns a list of differences (empty when
the structures match)."""

import base64
import re
import xml.etree.ElementTree as ET

# Elements whose text must be equal.
TEXT_COMPARED = {
    'Action', 'To', 'Value', 'ResourceURI', 'ResourceUri', 'InputStreams', 'OutputStreams',
    'ExitCode', 'FaultDetail', 'Text', 'Owner', 'IdleTimeOut', 'ShellRunTime', 'ShellInactivity',
    'WorkingDirectory', 'Variable',
}
# Attributes whose value must be equal (others only need to exist).
ATTR_COMPARED = {'Name', 'State', 'End', 'Code', 'provider', 'path', 'Version',
                 '{http://www.w3.org/XML/1998/namespace}lang'}
# Present in some recorded responses only (newer Windows builds).
OPTIONAL = {'{http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd}ActivityId'}
CFG = 'http://schemas.microsoft.com/wbem/wsman/1/config'
RSP = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell'
WSMANFAULT_MESSAGE = '{http://schemas.microsoft.com/wbem/wsman/1/wsmanfault}Message'


def local(tag):
    return tag.split('}', 1)[-1]


def declarations(text):
    m = re.match(r'\s*<[^>]*>', text)
    return dict(re.findall(r'xmlns:(\w+)="([^"]*)"', m.group(0) if m else ''))


def prefixes_used(text):
    text = re.sub(r'<p:ActivityId>[^<]*</p:ActivityId>', '', text)
    return sorted(set(re.findall(r'<([A-Za-z]+):[A-Za-z]+', text)))


def streams(el):
    """Data per stream name and the (Name, End) markers of a ReceiveResponse."""
    data = {}
    markers = []
    for s in el.findall('{%s}Stream' % RSP):
        name = s.get('Name')
        if s.text:
            data[name] = data.get(name, b'') + base64.b64decode(s.text)
        if s.get('End'):
            markers.append((name, s.get('End')))
    return data, markers


def compare(want_text, got_text, content='exact'):
    """content: 'exact' (stream data equal), 'lines' (every line of want
    that is in the selected set), or 'skip' (data not compared)."""
    diffs = []
    dw, dg = declarations(want_text), declarations(got_text)
    if dw != dg:
        diffs.append('namespace declarations differ: want %s got %s' % (dw, dg))
    if prefixes_used(want_text) != prefixes_used(got_text):
        diffs.append('prefixes used differ: want %s got %s' % (prefixes_used(want_text),
                                                                prefixes_used(got_text)))
    try:
        w = ET.fromstring(want_text)
        g = ET.fromstring(got_text)
    except ET.ParseError as exc:
        return diffs + ['not XML: %s' % exc]
    _walk(w, g, local(w.tag), diffs, content)
    return diffs


def _walk(w, g, path, diffs, content):
    if w.tag != g.tag:
        diffs.append('%s: element %s, got %s' % (path, w.tag, g.tag))
        return
    wa = set(w.attrib)
    ga = set(g.attrib)
    if wa != ga:
        diffs.append('%s: attributes %s, got %s' % (path, sorted(wa), sorted(ga)))
    for a in wa & ga & ATTR_COMPARED:
        if w.get(a) != g.get(a) and not (local(w.tag) == 'WSManFault' and a == 'Machine'):
            diffs.append('%s/@%s: %r, got %r' % (path, local(a), w.get(a), g.get(a)))
    ln = local(w.tag)
    if w.tag.startswith('{%s}' % CFG) and len(w) == 0:
        if (w.text or '') != (g.text or ''):
            diffs.append('%s: text %r, got %r' % (path, w.text, g.text))
    elif ln in TEXT_COMPARED or w.tag == WSMANFAULT_MESSAGE and len(w) == 0:
        if (w.text or '') != (g.text or ''):
            diffs.append('%s: text %r, got %r' % (path, w.text, g.text))
    if ln == 'ReceiveResponse':
        dw, mw = streams(w)
        dg, mg = streams(g)
        if mw != mg:
            diffs.append('%s: End markers %s, got %s' % (path, mw, mg))
        if content == 'exact' and dw != dg:
            diffs.append('%s: stream data %r, got %r' % (path, dw, dg))
        wc = [c for c in w if local(c.tag) != 'Stream']
        gc = [c for c in g if local(c.tag) != 'Stream']
        if [c.tag for c in w if local(c.tag) == 'Stream' and not c.get('End')] and \
                not [c for c in g if local(c.tag) == 'Stream' and not c.get('End')]:
            diffs.append('%s: expected data streams, got none' % path)
    else:
        wc = [c for c in w if c.tag not in OPTIONAL]
        gc = [c for c in g if c.tag not in OPTIONAL]
    if [c.tag for c in wc] != [c.tag for c in gc]:
        diffs.append('%s: children %s, got %s' % (path, [local(c.tag) for c in wc],
                                                  [local(c.tag) for c in gc]))
        return
    for cw, cg in zip(wc, gc):
        _walk(cw, cg, path + '/' + local(cw.tag), diffs, content)
