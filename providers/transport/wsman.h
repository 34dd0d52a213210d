/* WS-Management (MS-WSMV) messages of the WinRS shell: building the SOAP
 * envelopes certsync sends and reading the replies a Windows host returns.
 *
 * No I/O here, so the tests can hold every envelope against the recorded
 * Windows traffic in tests/fixtures/winrm/ and feed every recorded reply to
 * the parser.  winrm.c does the HTTP.
 *
 * Ownership: builders append to a caller's cs_buf; parsers fill a caller's
 * struct whose strings and buffers the struct owns (free with the matching
 * *_free, which accepts NULL). */
#ifndef CS_WSMAN_H
#define CS_WSMAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "providers/base/buf.h"
#include "providers/base/err.h"

#define CS_WSMAN_NS_SOAP "http://www.w3.org/2003/05/soap-envelope"
#define CS_WSMAN_NS_ADDR "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define CS_WSMAN_NS_WSMAN "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
#define CS_WSMAN_NS_MSWSMAN "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
#define CS_WSMAN_NS_SHELL "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
#define CS_WSMAN_NS_FAULT "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"

#define CS_WSMAN_URI_CMD "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"

#define CS_WSMAN_ACTION_CREATE "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
#define CS_WSMAN_ACTION_DELETE "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
#define CS_WSMAN_ACTION_GET "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
#define CS_WSMAN_ACTION_COMMAND CS_WSMAN_NS_SHELL "/Command"
#define CS_WSMAN_ACTION_SEND CS_WSMAN_NS_SHELL "/Send"
#define CS_WSMAN_ACTION_RECEIVE CS_WSMAN_NS_SHELL "/Receive"
#define CS_WSMAN_ACTION_SIGNAL CS_WSMAN_NS_SHELL "/Signal"

#define CS_WSMAN_SIGNAL_TERMINATE CS_WSMAN_NS_SHELL "/signal/terminate"
#define CS_WSMAN_SIGNAL_CTRL_C CS_WSMAN_NS_SHELL "/signal/ctrl_c"

#define CS_WSMAN_STATE_DONE CS_WSMAN_NS_SHELL "/CommandState/Done"

/* The WSManFault code of w:TimedOut (0x80338029): a Receive that found no
 * new output within OperationTimeout.  Not an error: receive again. */
#define CS_WSMAN_CODE_TIMED_OUT 2150858793UL

/* What certsync asks for: the largest envelope it accepts in a reply, and so
 * also the largest it sends.  153600 is the smallest limit a Windows server
 * has by default (150 KB on 2008 R2; 500 KB later), so requests this size
 * are never refused for size. */
#define CS_WSMAN_MAX_ENVELOPE 153600

struct cs_wsman_option {
	const char *name;
	const char *value;
	bool must_comply;          /* MustComply="true" */
};

/* The header every message carries. */
struct cs_wsman_header {
	const char *to;            /* endpoint URL, https://host:5986/wsman */
	const char *action;        /* CS_WSMAN_ACTION_* */
	const char *resource_uri;  /* NULL: CS_WSMAN_URI_CMD */
	const char *message_id;    /* "uuid:…" (cs_wsman_uuid) */
	const char *session_id;    /* "uuid:…" or NULL */
	const char *locale;        /* NULL: "en-US" */
	unsigned long max_envelope;/* 0: CS_WSMAN_MAX_ENVELOPE */
	unsigned timeout_s;        /* OperationTimeout in seconds */
	const char *shell_id;      /* SelectorSet ShellId, NULL before Create */
	const struct cs_wsman_option *options;
	size_t n_options;
};

struct cs_wsman_env_var {
	const char *name;
	const char *value;
};

/* The rsp:Shell of a Create.  Zero/NULL fields are left out. */
struct cs_wsman_shell {
	const char *input_streams;   /* NULL: "stdin" */
	const char *output_streams;  /* NULL: "stdout stderr" */
	const struct cs_wsman_env_var *env;
	size_t n_env;
	unsigned idle_timeout_s;
	unsigned lifetime_s;
	const char *name;
	const char *working_directory;
};

/* A new "uuid:XXXXXXXX-XXXX-4XXX-YXXX-XXXXXXXXXXXX" (random, uppercase as
 * Windows writes them) into out[42]. */
int cs_wsman_uuid(char out[42]);

/* Envelope builders.  Each appends one UTF-8 XML document to out; -E2BIG
 * when out's cap is reached, -ENOMEM. */
int cs_wsman_build_create(struct cs_buf *out, const struct cs_wsman_header *h,
			  const struct cs_wsman_shell *shell);
int cs_wsman_build_command(struct cs_buf *out, const struct cs_wsman_header *h,
			   const char *command, const char *const *args, size_t n_args);
int cs_wsman_build_send(struct cs_buf *out, const struct cs_wsman_header *h,
			const char *command_id, const char *stream, const void *data,
			size_t len, bool end);
/* command_id NULL: every command of the shell (as the fixtures show). */
int cs_wsman_build_receive(struct cs_buf *out, const struct cs_wsman_header *h,
			   const char *command_id, const char *streams);
int cs_wsman_build_signal(struct cs_buf *out, const struct cs_wsman_header *h,
			  const char *command_id, const char *code);
/* Delete (and Get): an empty body. */
int cs_wsman_build_empty(struct cs_buf *out, const struct cs_wsman_header *h);

/* How many bytes of stdin fit into one Send envelope built with h (and a
 * command id of the usual length) without exceeding h->max_envelope: the
 * header's size measured, base64's 4/3 accounted for.  0 when even the
 * empty envelope does not fit. */
size_t cs_wsman_send_capacity(const struct cs_wsman_header *h);

/* ---- replies ---- */

/* A SOAP fault.  code is the WSManFault Code (0 when absent); subcode the
 * s:Subcode value ("w:TimedOut"); reason the s:Reason text; message the
 * WSManFault message (provider faults included), whitespace trimmed. */
struct cs_wsman_fault {
	unsigned long code;
	char *subcode;
	char *reason;
	char *message;
};
void cs_wsman_fault_free(struct cs_wsman_fault *f);
bool cs_wsman_fault_is_timeout(const struct cs_wsman_fault *f);

/* Parse a reply.  Returns 0 for a normal reply; 1 when it is a SOAP fault
 * (then *fault is filled, if fault is not NULL); -EBADMSG (with err set)
 * when the body is not a SOAP envelope. */
int cs_wsman_parse_fault(const char *xml, size_t len, struct cs_wsman_fault *fault,
			 struct cs_err *err);

/* Format a fault as one lowercase-led line:
 * "w:TimedOut (2150858793): <reason> <message>" — without the message when
 * it repeats the reason. */
char *cs_wsman_fault_text(const struct cs_wsman_fault *f);

/* The ShellId of a CreateResponse (rsp:ShellId, or the SelectorSet's). */
int cs_wsman_parse_create(const char *xml, size_t len, char **out_shell_id, struct cs_err *err);
/* The CommandId of a CommandResponse. */
int cs_wsman_parse_command(const char *xml, size_t len, char **out_command_id,
			   struct cs_err *err);

struct cs_wsman_receive {
	struct cs_buf out;        /* stdout bytes, decoded from base64, appended */
	struct cs_buf err;        /* stderr bytes */
	bool out_end, err_end;    /* End="true" seen */
	bool done;                /* CommandState …/Done */
	bool has_exit_code;
	int64_t exit_code;
	bool truncated;           /* a stream was cut at its buffer's cap */
};
/* Caps for out/err; 0 = unlimited.  Past the cap bytes are dropped and
 * truncated set, so a chatty command still finishes. */
void cs_wsman_receive_init(struct cs_wsman_receive *r, size_t cap);
void cs_wsman_receive_free(struct cs_wsman_receive *r);
/* Add one ReceiveResponse to r (streams of other commands are ignored when
 * command_id is given). */
int cs_wsman_parse_receive(const char *xml, size_t len, const char *command_id,
			   struct cs_wsman_receive *r, struct cs_err *err);

/* ---- PowerShell's stderr ---- */

/* powershell.exe writes its error stream as CLIXML ("#< CLIXML" and then
 * <Objs> with one <S S="Error"> per line) when stderr is not a console.
 * Turn that into the text a console would show: Error and Warning strings
 * only (progress records and the rest dropped), _xHHHH_ escapes undone.
 * Text that is not CLIXML is copied unchanged.  Appends to out. */
int cs_wsman_decode_clixml(struct cs_buf *out, const char *text, size_t len);

#endif
