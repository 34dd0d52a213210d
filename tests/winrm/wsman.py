"""WS-Management envelopes: parse requests, build responses and faults the way
the Windows WinRM service writes them (prefixes, namespace declarations,
element order), as recorded in tests/fixtures/winrm/*.yml."""

import re
import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape as _esc

NS = {
    's': 'http://www.w3.org/2003/05/soap-envelope',
    'a': 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
    'x': 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
    'e': 'http://schemas.xmlsoap.org/ws/2004/08/eventing',
    'n': 'http://schemas.xmlsoap.org/ws/2004/09/enumeration',
    'w': 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
    'p': 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
    'rsp': 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
    'f': 'http://schemas.microsoft.com/wbem/wsman/1/wsmanfault',
    'cfg': 'http://schemas.microsoft.com/wbem/wsman/1/config',
}

ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous'
RESOURCE_CMD = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd'
RESOURCE_CONFIG = 'http://schemas.microsoft.com/wbem/wsman/1/config'
SHELL = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell'

A_CREATE = 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create'
A_DELETE = 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete'
A_GET = 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Get'
A_COMMAND = SHELL + '/Command'
A_SEND = SHELL + '/Send'
A_RECEIVE = SHELL + '/Receive'
A_SIGNAL = SHELL + '/Signal'
A_FAULT = 'http://schemas.dmtf.org/wbem/wsman/1/wsman/fault'

STATE_DONE = SHELL + '/CommandState/Done'
STATE_RUNNING = SHELL + '/CommandState/Running'
SIGNAL_TERMINATE = SHELL + '/signal/terminate'
SIGNAL_CTRL_C = SHELL + '/signal/ctrl_c'
SIGNAL_CTRL_BREAK = SHELL + '/signal/ctrl_break'


def q(prefix, local):
    return '{%s}%s' % (NS[prefix], local)


def esc(text):
    return _esc(text, {'"': '&quot;'})


class Fault(Exception):
    """A WS-Management fault: HTTP 500 with an s:Fault body."""

    def __init__(self, code, subcode, reason, wsman_code=None, message=None,
                 detail=None, provider=None, http_status=500):
        super().__init__(reason)
        self.code = code            # 's:Sender' | 's:Receiver'
        self.subcode = subcode      # 'w:TimedOut', 'w:InvalidSelectors', ...
        self.reason = reason
        self.wsman_code = wsman_code
        self.message = message if message is not None else reason
        self.detail = detail        # w:FaultDetail URI
        self.provider = provider    # (provider, path) for f:ProviderFault
        self.http_status = http_status


# The faults Windows returns, with the text it uses (trailing blanks included).
def fault_timed_out():
    text = ('The WS-Management service cannot complete the operation within '
            'the time specified in OperationTimeout.  ')
    return Fault('s:Receiver', 'w:TimedOut', text, 2150858793)


def fault_bad_command_id():
    return Fault(
        's:Sender', 'w:InvalidSelectors',
        'The WS-Management service cannot process the request because the '
        'request contained invalid selectors for the resource. ',
        2150858843,
        'The Windows Remote Shell received a request to perform an operation '
        'on a command identifier that does not exist. Either the command has '
        'completed execution or the client specified an invalid command '
        'identifier. ',
        detail='http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors')


def fault_bad_shell_id(shell_id):
    text = ('The request for the Windows Remote Shell with ShellId %s failed '
            'because the shell was not found on the server. Possible causes '
            'are: the specified ShellId is incorrect or the shell no longer '
            'exists on the server. Provide the correct ShellId or create a '
            'new shell and retry the operation. ' % shell_id)
    return Fault('s:Sender', 'w:InvalidSelectors', text, 2150858843, text,
                 detail='http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors')


def fault_invalid_parameter():
    return Fault('s:Sender', 'w:InvalidParameter', 'The parameter is incorrect. ',
                 87, 'The parameter is incorrect. ',
                 detail='http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValue',
                 provider=('Shell cmd plugin', r'%systemroot%\system32\winrscmd.dll'))


def fault_file_not_found():
    return Fault('s:Receiver', 'w:InternalError', 'The system cannot find the file specified. ',
                 2147942402, 'The system cannot find the file specified. ',
                 provider=('Shell cmd plugin', r'%systemroot%\system32\winrscmd.dll'))


def fault_action_not_supported(action):
    return Fault('s:Sender', 'a:ActionNotSupported',
                 'The action is not supported by the service. ', 2150858754,
                 'The WS-Management service cannot process the request because '
                 'the action %s is not supported. ' % action)


def fault_destination_unreachable(uri):
    return Fault('s:Sender', 'w:DestinationUnreachable',
                 'The WS-Management service cannot process the request because '
                 'the resource URI is not valid. ', 2150858770,
                 'The WS-Management service cannot process the request. The '
                 'resource URI %s was not found. ' % uri)


def fault_schema(text):
    return Fault('s:Sender', 'w:SchemaValidationError',
                 'The SOAP XML in the message does not match the corresponding '
                 'XML schema definition. Change the XML and retry. ',
                 2150858817, text)


def fault_missing_selector():
    text = ('The Windows Remote Shell cannot process the request because it '
            'requires the following selector: ShellId. ')
    return Fault('s:Sender', 'w:InvalidSelectors',
                 'The WS-Management service cannot process the request because '
                 'the request contained invalid selectors for the resource. ',
                 2150858843, text,
                 detail='http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InsufficientSelectors')


_DURATION = re.compile(
    r'^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$')


def parse_duration(text):
    """xs:duration as WS-Man uses it (PT20S, PT60.000S, P0DT0H0M0S) -> seconds."""
    m = _DURATION.match((text or '').strip())
    if not m:
        raise ValueError('bad duration %r' % text)
    d, h, mi, s = m.groups()
    return int(d or 0) * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)


class Request:
    """One parsed WS-Management request envelope."""

    def __init__(self, body_bytes):
        try:
            self.root = ET.fromstring(body_bytes)
        except ET.ParseError as exc:
            raise fault_schema('The request is not well-formed XML: %s' % exc)
        if self.root.tag != q('s', 'Envelope'):
            raise fault_schema('The root element is not a SOAP 1.2 s:Envelope.')
        self.header = self.root.find(q('s', 'Header'))
        self.body = self.root.find(q('s', 'Body'))
        if self.header is None or self.body is None:
            raise fault_schema('The envelope lacks s:Header or s:Body.')
        self.action = self._text('a', 'Action')
        self.message_id = self._text('a', 'MessageID')
        self.to = self._text('a', 'To')
        self.resource_uri = self._text('w', 'ResourceURI')
        if not self.action:
            raise fault_schema('The a:Action header is missing.')
        if not self.message_id:
            raise fault_schema('The a:MessageID header is missing.')
        mes = self._text('w', 'MaxEnvelopeSize')
        try:
            self.max_envelope = int(mes) if mes else 153600
        except ValueError:
            raise fault_schema('w:MaxEnvelopeSize is not a number.')
        ot = self._text('w', 'OperationTimeout')
        try:
            self.operation_timeout = parse_duration(ot) if ot else 60.0
        except ValueError:
            raise fault_schema('w:OperationTimeout is not an xs:duration.')
        self.selectors = {}
        ss = self.header.find(q('w', 'SelectorSet'))
        if ss is not None:
            for sel in ss.findall(q('w', 'Selector')):
                self.selectors[sel.get('Name')] = (sel.text or '').strip()
        self.options = {}
        os_ = self.header.find(q('w', 'OptionSet'))
        if os_ is not None:
            for opt in os_.findall(q('w', 'Option')):
                self.options[opt.get('Name')] = (opt.text or '').strip()

    def _text(self, prefix, local):
        el = self.header.find(q(prefix, local))
        return (el.text or '').strip() if el is not None else None


def new_uuid():
    return str(uuid.uuid4()).upper()


_DECLS = {
    'default': ('s', 'a', 'x', 'w', 'rsp', 'p'),
    'receive': ('s', 'a', 'w', 'rsp', 'p'),
    'delete': ('s', 'a', 'w', 'p'),
    'get': ('s', 'a', 'x', 'w', 'p'),
    'fault': ('s', 'a', 'x', 'e', 'n', 'w', 'p'),
}


def envelope(action, relates_to, body, decls='default'):
    ns = ''.join(' xmlns:%s="%s"' % (p, NS[p]) for p in _DECLS[decls])
    return ('<s:Envelope xml:lang="en-US"%s><s:Header><a:Action>%s</a:Action>'
            '<a:MessageID>uuid:%s</a:MessageID><a:To>%s</a:To>'
            '<a:RelatesTo>%s</a:RelatesTo></s:Header><s:Body>%s</s:Body>'
            '</s:Envelope>' % (ns, esc(action), new_uuid(), ANONYMOUS,
                               esc(relates_to or ''), body))


def fault_envelope(fault, relates_to, machine):
    detail = ''
    if fault.detail:
        detail += '<w:FaultDetail>%s</w:FaultDetail>' % esc(fault.detail)
    if fault.wsman_code is not None:
        if fault.provider:
            msg = '<f:ProviderFault provider="%s" path="%s">%s</f:ProviderFault>' % (
                esc(fault.provider[0]), esc(fault.provider[1]), esc(fault.message))
        else:
            msg = esc(fault.message)
        detail += ('<f:WSManFault xmlns:f="%s" Code="%d" Machine="%s"><f:Message>%s'
                   '</f:Message></f:WSManFault>' % (NS['f'], fault.wsman_code,
                                                    esc(machine), msg))
    body = ('<s:Fault><s:Code><s:Value>%s</s:Value><s:Subcode><s:Value>%s</s:Value>'
            '</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">%s</s:Text>'
            '</s:Reason>%s</s:Fault>' % (
                fault.code, fault.subcode, esc(fault.reason),
                '<s:Detail>%s</s:Detail>' % detail if detail else ''))
    return envelope(A_FAULT, relates_to, body, 'fault')


def config_body(max_envelope_kb):
    """The body of a Get on winrm/config, as the recorded hosts answered."""
    return (
        '<cfg:Config xmlns:cfg="http://schemas.microsoft.com/wbem/wsman/1/config">'
        '<cfg:MaxEnvelopeSizekb>%d</cfg:MaxEnvelopeSizekb><cfg:MaxTimeoutms>60000</cfg:MaxTimeoutms>'
        '<cfg:MaxBatchItems>32000</cfg:MaxBatchItems><cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests>'
        '<cfg:Client><cfg:NetworkDelayms>5000</cfg:NetworkDelayms><cfg:URLPrefix>wsman</cfg:URLPrefix>'
        '<cfg:AllowUnencrypted>false</cfg:AllowUnencrypted><cfg:Auth><cfg:Basic>true</cfg:Basic>'
        '<cfg:Digest>true</cfg:Digest><cfg:Kerberos>true</cfg:Kerberos><cfg:Negotiate>true</cfg:Negotiate>'
        '<cfg:Certificate>true</cfg:Certificate><cfg:CredSSP>false</cfg:CredSSP></cfg:Auth>'
        '<cfg:DefaultPorts><cfg:HTTP>5985</cfg:HTTP><cfg:HTTPS>5986</cfg:HTTPS></cfg:DefaultPorts>'
        '<cfg:TrustedHosts></cfg:TrustedHosts></cfg:Client><cfg:Service>'
        '<cfg:RootSDDL>O:NSG:BAD:P(A;;GA;;;BA)(A;;GR;;;IU)S:P(AU;FA;GA;;;WD)(AU;SA;GXGW;;;WD)</cfg:RootSDDL>'
        '<cfg:MaxConcurrentOperations>4294967295</cfg:MaxConcurrentOperations>'
        '<cfg:MaxConcurrentOperationsPerUser>1500</cfg:MaxConcurrentOperationsPerUser>'
        '<cfg:EnumerationTimeoutms>240000</cfg:EnumerationTimeoutms><cfg:MaxConnections>300</cfg:MaxConnections>'
        '<cfg:MaxPacketRetrievalTimeSeconds>120</cfg:MaxPacketRetrievalTimeSeconds>'
        '<cfg:AllowUnencrypted>false</cfg:AllowUnencrypted><cfg:Auth><cfg:Basic>true</cfg:Basic>'
        '<cfg:Kerberos>true</cfg:Kerberos><cfg:Negotiate>true</cfg:Negotiate>'
        '<cfg:Certificate>false</cfg:Certificate><cfg:CredSSP>true</cfg:CredSSP>'
        '<cfg:CbtHardeningLevel>Relaxed</cfg:CbtHardeningLevel></cfg:Auth>'
        '<cfg:DefaultPorts><cfg:HTTP>5985</cfg:HTTP><cfg:HTTPS>5986</cfg:HTTPS></cfg:DefaultPorts>'
        '<cfg:IPv4Filter>*</cfg:IPv4Filter><cfg:IPv6Filter>*</cfg:IPv6Filter>'
        '<cfg:EnableCompatibilityHttpListener>false</cfg:EnableCompatibilityHttpListener>'
        '<cfg:EnableCompatibilityHttpsListener>false</cfg:EnableCompatibilityHttpsListener>'
        '<cfg:CertificateThumbprint></cfg:CertificateThumbprint><cfg:AllowRemoteAccess>true</cfg:AllowRemoteAccess>'
        '</cfg:Service><cfg:Winrs><cfg:AllowRemoteShellAccess>true</cfg:AllowRemoteShellAccess>'
        '<cfg:IdleTimeout>7200000</cfg:IdleTimeout><cfg:MaxConcurrentUsers>2147483647</cfg:MaxConcurrentUsers>'
        '<cfg:MaxShellRunTime>2147483647</cfg:MaxShellRunTime><cfg:MaxProcessesPerShell>2147483647</cfg:MaxProcessesPerShell>'
        '<cfg:MaxMemoryPerShellMB>2147483647</cfg:MaxMemoryPerShellMB><cfg:MaxShellsPerUser>2147483647</cfg:MaxShellsPerUser>'
        '</cfg:Winrs></cfg:Config>' % max_envelope_kb)
