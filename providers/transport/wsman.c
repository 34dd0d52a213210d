/* WS-Management envelopes of the WinRS shell and their replies (wsman.h).
 *
 * Envelopes are built as libxml2 trees and serialised, so every value is
 * escaped by the library rather than by hand.  The header follows what a
 * Windows server was recorded accepting (tests/fixtures/winrm/): the same
 * elements in the same order, mustUnderstand where the recordings have it. */
#include "providers/transport/wsman.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/rand.h>
#include "providers/base/base64.h"

#define NS_CLIXML "http://schemas.microsoft.com/powershell/2004/04"
#define ANONYMOUS CS_WSMAN_NS_ADDR "/role/anonymous"

int cs_wsman_uuid(char out[42])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof b) != 1)
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, 42,
		 "uuid:%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return 0;
}

/* ---- building ---- */

struct builder {
	xmlDocPtr doc;
	xmlNodePtr body;
	xmlNsPtr s, a, w, p, rsp;
	bool oom;
};

static const xmlChar *X(const char *s)
{
	return (const xmlChar *)s;
}

/* A child element with text (escaped by libxml2); NULL text: empty. */
static xmlNodePtr add(struct builder *b, xmlNodePtr parent, xmlNsPtr ns, const char *name,
		      const char *text)
{
	xmlNodePtr n = parent ? xmlNewTextChild(parent, ns, X(name), text ? X(text) : NULL) : NULL;
	if (!n)
		b->oom = true;
	return n;
}

static void prop(struct builder *b, xmlNodePtr n, xmlNsPtr ns, const char *name, const char *v)
{
	if (!n || !(ns ? xmlNewNsProp(n, ns, X(name), X(v)) : xmlNewProp(n, X(name), X(v))))
		b->oom = true;
}

static void must_understand(struct builder *b, xmlNodePtr n, bool yes)
{
	prop(b, n, b->s, "mustUnderstand", yes ? "true" : "false");
}

static void lang(struct builder *b, xmlNodePtr n, const char *locale)
{
	if (n)
		xmlNodeSetLang(n, X(locale));
}

static void duration(char out[32], unsigned s)
{
	snprintf(out, 32, "PT%uS", s);
}

/* The envelope with its header; the body is left for the caller. */
static int start(struct builder *b, const struct cs_wsman_header *h)
{
	const char *locale = h->locale ? h->locale : "en-US";
	char num[32], to[32];
	memset(b, 0, sizeof *b);
	b->doc = xmlNewDoc(X("1.0"));
	if (!b->doc)
		return -ENOMEM;
	xmlNodePtr env = xmlNewDocNode(b->doc, NULL, X("Envelope"), NULL);
	if (!env)
		return -ENOMEM;
	xmlDocSetRootElement(b->doc, env);
	b->s = xmlNewNs(env, X(CS_WSMAN_NS_SOAP), X("s"));
	b->a = xmlNewNs(env, X(CS_WSMAN_NS_ADDR), X("wsa"));
	b->w = xmlNewNs(env, X(CS_WSMAN_NS_WSMAN), X("wsman"));
	b->p = xmlNewNs(env, X(CS_WSMAN_NS_MSWSMAN), X("wsmv"));
	b->rsp = xmlNewNs(env, X(CS_WSMAN_NS_SHELL), X("rsp"));
	if (!b->s || !b->a || !b->w || !b->p || !b->rsp)
		return -ENOMEM;
	xmlSetNs(env, b->s);

	xmlNodePtr hdr = add(b, env, b->s, "Header", NULL);
	must_understand(b, add(b, hdr, b->a, "Action", h->action), true);
	xmlNodePtr n = add(b, hdr, b->p, "DataLocale", NULL);
	must_understand(b, n, false);
	lang(b, n, locale);
	n = add(b, hdr, b->w, "Locale", NULL);
	must_understand(b, n, false);
	lang(b, n, locale);
	snprintf(num, sizeof num, "%lu", h->max_envelope ? h->max_envelope : CS_WSMAN_MAX_ENVELOPE);
	must_understand(b, add(b, hdr, b->w, "MaxEnvelopeSize", num), true);
	add(b, hdr, b->a, "MessageID", h->message_id);
	duration(to, h->timeout_s);
	add(b, hdr, b->w, "OperationTimeout", to);
	n = add(b, hdr, b->a, "ReplyTo", NULL);
	must_understand(b, add(b, n, b->a, "Address", ANONYMOUS), true);
	must_understand(b, add(b, hdr, b->w, "ResourceURI",
			       h->resource_uri ? h->resource_uri : CS_WSMAN_URI_CMD), true);
	if (h->session_id)
		must_understand(b, add(b, hdr, b->p, "SessionId", h->session_id), false);
	add(b, hdr, b->a, "To", h->to);
	if (h->n_options) {
		xmlNodePtr set = add(b, hdr, b->w, "OptionSet", NULL);
		must_understand(b, set, true);
		for (size_t i = 0; i < h->n_options; i++) {
			n = add(b, set, b->w, "Option", h->options[i].value);
			if (h->options[i].must_comply)
				prop(b, n, NULL, "MustComply", "true");
			prop(b, n, NULL, "Name", h->options[i].name);
		}
	}
	if (h->shell_id) {
		n = add(b, add(b, hdr, b->w, "SelectorSet", NULL), b->w, "Selector", h->shell_id);
		prop(b, n, NULL, "Name", "ShellId");
	}
	b->body = add(b, env, b->s, "Body", NULL);
	return b->oom ? -ENOMEM : 0;
}

/* Serialise, append to out, free the tree. */
static int finish(struct builder *b, struct cs_buf *out, int r)
{
	xmlChar *mem = NULL;
	int size = 0;
	if (r == 0 && b->oom)
		r = -ENOMEM;
	if (r == 0) {
		xmlDocDumpMemoryEnc(b->doc, &mem, &size, "UTF-8");
		r = mem ? cs_buf_append(out, mem, (size_t)size) : -ENOMEM;
	}
	xmlFree(mem);
	xmlFreeDoc(b->doc);
	b->doc = NULL;
	return r;
}

int cs_wsman_build_create(struct cs_buf *out, const struct cs_wsman_header *h,
			  const struct cs_wsman_shell *shell)
{
	struct builder b;
	char t[32];
	int r = start(&b, h);
	if (r == 0) {
		xmlNodePtr sh = add(&b, b.body, b.rsp, "Shell", NULL);
		add(&b, sh, b.rsp, "InputStreams",
		    shell && shell->input_streams ? shell->input_streams : "stdin");
		add(&b, sh, b.rsp, "OutputStreams",
		    shell && shell->output_streams ? shell->output_streams : "stdout stderr");
		if (shell && shell->n_env) {
			xmlNodePtr env = add(&b, sh, b.rsp, "Environment", NULL);
			for (size_t i = 0; i < shell->n_env; i++)
				prop(&b, add(&b, env, b.rsp, "Variable", shell->env[i].value), NULL,
				     "Name", shell->env[i].name);
		}
		if (shell && shell->idle_timeout_s) {
			duration(t, shell->idle_timeout_s);
			add(&b, sh, b.rsp, "IdleTimeOut", t);
		}
		if (shell && shell->lifetime_s) {
			duration(t, shell->lifetime_s);
			add(&b, sh, b.rsp, "Lifetime", t);
		}
		if (shell && shell->name)
			add(&b, sh, b.rsp, "Name", shell->name);
		if (shell && shell->working_directory)
			add(&b, sh, b.rsp, "WorkingDirectory", shell->working_directory);
	}
	return finish(&b, out, r);
}

int cs_wsman_build_command(struct cs_buf *out, const struct cs_wsman_header *h,
			   const char *command, const char *const *args, size_t n_args)
{
	struct builder b;
	int r = start(&b, h);
	if (r == 0) {
		xmlNodePtr cl = add(&b, b.body, b.rsp, "CommandLine", NULL);
		add(&b, cl, b.rsp, "Command", command);
		for (size_t i = 0; i < n_args; i++)
			add(&b, cl, b.rsp, "Arguments", args[i]);
	}
	return finish(&b, out, r);
}

int cs_wsman_build_send(struct cs_buf *out, const struct cs_wsman_header *h,
			const char *command_id, const char *stream, const void *data,
			size_t len, bool end)
{
	struct builder b;
	struct cs_buf b64 = CS_BUF_INIT;
	int r = start(&b, h);
	/* The input may be a secret (a PFX and its password): its base64 is
	 * wiped like the input itself. */
	if (r == 0 && (r = cs_b64_append(&b64, data, len, 0)) == 0) {
		xmlNodePtr st = add(&b, add(&b, b.body, b.rsp, "Send", NULL), b.rsp, "Stream",
				    b64.data ? b64.data : "");
		prop(&b, st, NULL, "CommandId", command_id);
		/* "True"/"False" as the recorded client wrote them. */
		prop(&b, st, NULL, "End", end ? "True" : "False");
		prop(&b, st, NULL, "Name", stream ? stream : "stdin");
	}
	cs_buf_free_secret(&b64);
	return finish(&b, out, r);
}

int cs_wsman_build_receive(struct cs_buf *out, const struct cs_wsman_header *h,
			   const char *command_id, const char *streams)
{
	struct builder b;
	int r = start(&b, h);
	if (r == 0) {
		xmlNodePtr ds = add(&b, add(&b, b.body, b.rsp, "Receive", NULL), b.rsp, "DesiredStream",
				    streams ? streams : "stdout stderr");
		if (command_id)
			prop(&b, ds, NULL, "CommandId", command_id);
	}
	return finish(&b, out, r);
}

int cs_wsman_build_signal(struct cs_buf *out, const struct cs_wsman_header *h,
			  const char *command_id, const char *code)
{
	struct builder b;
	int r = start(&b, h);
	if (r == 0) {
		xmlNodePtr sig = add(&b, b.body, b.rsp, "Signal", NULL);
		prop(&b, sig, NULL, "CommandId", command_id);
		add(&b, sig, b.rsp, "Code", code);
	}
	return finish(&b, out, r);
}

int cs_wsman_build_empty(struct cs_buf *out, const struct cs_wsman_header *h)
{
	struct builder b;
	return finish(&b, out, start(&b, h));
}

size_t cs_wsman_send_capacity(const struct cs_wsman_header *h)
{
	/* Measure rather than guess: the header's size depends on the URL,
	 * the ids and the options. */
	static const char id[] = "00000000-0000-0000-0000-000000000000";
	struct cs_buf probe = CS_BUF_INIT;
	size_t max = h->max_envelope ? h->max_envelope : CS_WSMAN_MAX_ENVELOPE;
	size_t cap = 0;
	if (cs_wsman_build_send(&probe, h, id, "stdin", "", 0, true) == 0) {
		/* Slack for a longer command id or message id than measured. */
		size_t fixed = probe.len + 256;
		if (fixed < max)
			cap = (max - fixed) / 4 * 3;
	}
	cs_buf_free(&probe);
	return cap;
}

/* ---- parsing ---- */

static bool is(const xmlNode *n, const char *ns, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

/* First element (depth first, n itself included) with this name. */
static xmlNodePtr find(xmlNodePtr n, const char *ns, const char *name)
{
	for (; n; n = n->next) {
		if (is(n, ns, name))
			return n;
		if (n->type == XML_ELEMENT_NODE) {
			xmlNodePtr f = find(n->children, ns, name);
			if (f)
				return f;
		}
	}
	return NULL;
}

static xmlNodePtr child(xmlNodePtr n, const char *ns, const char *name)
{
	for (n = n ? n->children : NULL; n; n = n->next)
		if (is(n, ns, name))
			return n;
	return NULL;
}

/* The element's text with runs of white space collapsed and the ends
 * trimmed (Windows pads its messages with trailing blanks). */
static char *text_of(xmlNodePtr n)
{
	xmlChar *raw = n ? xmlNodeGetContent(n) : NULL;
	if (!raw)
		return NULL;
	struct cs_buf b = CS_BUF_INIT;
	bool space = false;
	for (const xmlChar *p = raw; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
			space = b.len > 0;
			continue;
		}
		if (space)
			cs_buf_append(&b, " ", 1);
		space = false;
		cs_buf_append(&b, p, 1);
	}
	xmlFree(raw);
	return cs_buf_detach(&b, NULL);
}

static char *attr(xmlNodePtr n, const char *name)
{
	xmlChar *v = n ? xmlGetProp(n, X(name)) : NULL;
	char *s = v ? strdup((const char *)v) : NULL;
	xmlFree(v);
	return s;
}

/* A document whose root is a SOAP Envelope with a Body; no network, no
 * entity expansion (the text comes from the network). */
static int load(xmlDocPtr *out_doc, xmlNodePtr *out_body, const char *xml, size_t len,
		struct cs_err *err)
{
	*out_doc = NULL;
	*out_body = NULL;
	if (len > (size_t)INT32_MAX)
		return cs_err_set(err, -EBADMSG, "reply too large to parse");
	xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL,
				      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlNodePtr body = is(root, CS_WSMAN_NS_SOAP, "Envelope") ? child(root, CS_WSMAN_NS_SOAP, "Body")
								  : NULL;
	if (!body) {
		xmlFreeDoc(doc);
		return cs_err_set(err, -EBADMSG, "reply is not a SOAP envelope");
	}
	*out_doc = doc;
	*out_body = body;
	return 0;
}

void cs_wsman_fault_free(struct cs_wsman_fault *f)
{
	if (!f)
		return;
	free(f->subcode);
	free(f->reason);
	free(f->message);
	memset(f, 0, sizeof *f);
}

bool cs_wsman_fault_is_timeout(const struct cs_wsman_fault *f)
{
	if (f->code)
		return f->code == CS_WSMAN_CODE_TIMED_OUT;
	/* A fault without WSManFault detail: go by the subcode's local name. */
	const char *sub = f->subcode ? strchr(f->subcode, ':') : NULL;
	return sub && strcmp(sub + 1, "TimedOut") == 0;
}

static void fill_fault(xmlNodePtr fault, struct cs_wsman_fault *f)
{
	memset(f, 0, sizeof *f);
	xmlNodePtr code = child(fault, CS_WSMAN_NS_SOAP, "Code");
	xmlNodePtr sub = child(child(code, CS_WSMAN_NS_SOAP, "Subcode"), CS_WSMAN_NS_SOAP, "Value");
	f->subcode = text_of(sub ? sub : child(code, CS_WSMAN_NS_SOAP, "Value"));
	f->reason = text_of(find(child(fault, CS_WSMAN_NS_SOAP, "Reason"), CS_WSMAN_NS_SOAP, "Text"));
	xmlNodePtr wf = find(child(fault, CS_WSMAN_NS_SOAP, "Detail"), CS_WSMAN_NS_FAULT, "WSManFault");
	char *c = attr(wf, "Code");
	if (c) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(c, &end, 10);
		if (errno == 0 && end != c && *end == '\0')
			f->code = v;
		free(c);
	}
	f->message = text_of(child(wf, CS_WSMAN_NS_FAULT, "Message"));
}

int cs_wsman_parse_fault(const char *xml, size_t len, struct cs_wsman_fault *fault,
			 struct cs_err *err)
{
	xmlDocPtr doc;
	xmlNodePtr body;
	int r = load(&doc, &body, xml, len, err);
	if (r < 0)
		return r;
	xmlNodePtr f = child(body, CS_WSMAN_NS_SOAP, "Fault");
	if (f) {
		if (fault)
			fill_fault(f, fault);
		r = 1;
	}
	xmlFreeDoc(doc);
	return r;
}

char *cs_wsman_fault_text(const struct cs_wsman_fault *f)
{
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_puts(&b, f->subcode && *f->subcode ? f->subcode : "fault");
	if (f->code)
		cs_buf_printf(&b, " (%lu)", f->code);
	if (f->reason && *f->reason)
		cs_buf_printf(&b, ": %s", f->reason);
	if (f->message && *f->message && !(f->reason && strcmp(f->reason, f->message) == 0))
		cs_buf_printf(&b, "%s%s", f->reason && *f->reason ? " " : ": ", f->message);
	char *s = cs_buf_detach(&b, NULL);
	return s;
}

/* A reply that should not be a fault but is one: the fault becomes the
 * error message. */
static int fault_error(xmlNodePtr body, const char *what, struct cs_err *err)
{
	struct cs_wsman_fault f;
	fill_fault(child(body, CS_WSMAN_NS_SOAP, "Fault"), &f);
	char *t = cs_wsman_fault_text(&f);
	int r = cs_err_set(err, -EPROTO, "%s: %s", what, t);
	free(t);
	cs_wsman_fault_free(&f);
	return r;
}

static int parse_one_id(const char *xml, size_t len, const char *what, const char *name,
			bool selector_ok, char **out, struct cs_err *err)
{
	xmlDocPtr doc;
	xmlNodePtr body;
	*out = NULL;
	int r = load(&doc, &body, xml, len, err);
	if (r < 0)
		return r;
	if (child(body, CS_WSMAN_NS_SOAP, "Fault")) {
		r = fault_error(body, what, err);
		goto out;
	}
	char *id = text_of(find(body, CS_WSMAN_NS_SHELL, name));
	if ((!id || !*id) && selector_ok) {
		/* The ResourceCreated reference carries the same id. */
		free(id);
		id = NULL;
		for (xmlNodePtr s = find(body, CS_WSMAN_NS_WSMAN, "Selector"); s && !id; s = s->next) {
			char *n = attr(s, "Name");
			if (is(s, CS_WSMAN_NS_WSMAN, "Selector") && n && strcmp(n, "ShellId") == 0)
				id = text_of(s);
			free(n);
		}
	}
	if (!id || !*id) {
		free(id);
		r = cs_err_set(err, -EBADMSG, "%s: reply has no %s", what, name);
		goto out;
	}
	*out = id;
out:
	xmlFreeDoc(doc);
	return r;
}

int cs_wsman_parse_create(const char *xml, size_t len, char **out_shell_id, struct cs_err *err)
{
	return parse_one_id(xml, len, "create shell", "ShellId", true, out_shell_id, err);
}

int cs_wsman_parse_command(const char *xml, size_t len, char **out_command_id, struct cs_err *err)
{
	return parse_one_id(xml, len, "start command", "CommandId", false, out_command_id, err);
}

void cs_wsman_receive_init(struct cs_wsman_receive *r, size_t cap)
{
	memset(r, 0, sizeof *r);
	cs_buf_init(&r->out, cap);
	cs_buf_init(&r->err, cap);
}

void cs_wsman_receive_free(struct cs_wsman_receive *r)
{
	if (!r)
		return;
	cs_buf_free(&r->out);
	cs_buf_free(&r->err);
	memset(r, 0, sizeof *r);
}

/* Decode base64 (white space allowed) and append what fits under the cap. */
static int append_base64(struct cs_buf *b, const char *text, bool *truncated)
{
	struct cs_buf raw = CS_BUF_INIT;
	int r = cs_b64_decode(&raw, text, strlen(text), CS_B64_SPACE);
	if (r == 0 && (r = cs_buf_append_fit(b, raw.data, raw.len)) == 1) {
		*truncated = true;
		r = 0;
	}
	cs_buf_free_secret(&raw);
	return r == -EINVAL ? -EBADMSG : r;
}

static bool attr_is(xmlNodePtr n, const char *name, const char *want, bool nocase)
{
	char *v = attr(n, name);
	bool eq = v && (nocase ? strcasecmp(v, want) == 0 : strcmp(v, want) == 0);
	free(v);
	return eq;
}

int cs_wsman_parse_receive(const char *xml, size_t len, const char *command_id,
			   struct cs_wsman_receive *rr, struct cs_err *err)
{
	xmlDocPtr doc;
	xmlNodePtr body;
	int r = load(&doc, &body, xml, len, err);
	if (r < 0)
		return r;
	if (child(body, CS_WSMAN_NS_SOAP, "Fault")) {
		r = fault_error(body, "receive output", err);
		goto out;
	}
	xmlNodePtr resp = child(body, CS_WSMAN_NS_SHELL, "ReceiveResponse");
	if (!resp) {
		r = cs_err_set(err, -EBADMSG, "receive output: reply has no ReceiveResponse");
		goto out;
	}
	for (xmlNodePtr n = resp->children; n; n = n->next) {
		if (command_id && (is(n, CS_WSMAN_NS_SHELL, "Stream") || is(n, CS_WSMAN_NS_SHELL, "CommandState"))) {
			char *id = attr(n, "CommandId");
			bool other = id && strcasecmp(id, command_id) != 0;
			free(id);
			if (other)
				continue;
		}
		if (is(n, CS_WSMAN_NS_SHELL, "Stream")) {
			char *name = attr(n, "Name");
			struct cs_buf *dst = NULL;
			bool *end = NULL;
			if (name && strcmp(name, "stdout") == 0) {
				dst = &rr->out;
				end = &rr->out_end;
			} else if (name && strcmp(name, "stderr") == 0) {
				dst = &rr->err;
				end = &rr->err_end;
			}
			free(name);
			if (!dst)
				continue;
			xmlChar *t = xmlNodeGetContent(n);
			r = t ? append_base64(dst, (const char *)t, &rr->truncated) : 0;
			xmlFree(t);
			if (r < 0) {
				r = r == -EBADMSG ? cs_err_set(err, r, "receive output: stream is not base64")
						  : cs_err_errno(err, r, "receive output");
				goto out;
			}
			if (attr_is(n, "End", "true", true))
				*end = true;
		} else if (is(n, CS_WSMAN_NS_SHELL, "CommandState")) {
			if (attr_is(n, "State", CS_WSMAN_STATE_DONE, false))
				rr->done = true;
			char *code = text_of(child(n, CS_WSMAN_NS_SHELL, "ExitCode"));
			if (code && *code) {
				char *e;
				errno = 0;
				long long v = strtoll(code, &e, 10);
				if (errno || e == code || *e) {
					free(code);
					r = cs_err_set(err, -EBADMSG, "receive output: bad exit code");
					goto out;
				}
				rr->exit_code = v;
				rr->has_exit_code = true;
			}
			free(code);
		}
	}
out:
	xmlFreeDoc(doc);
	return r;
}

/* ---- CLIXML ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* _xHHHH_ at s: the UTF-16 unit, or -1. */
static long escape_at(const char *s, size_t left)
{
	if (left < 7 || s[0] != '_' || s[1] != 'x' || s[6] != '_')
		return -1;
	long v = 0;
	for (int i = 2; i < 6; i++) {
		int h = hexval(s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static void put_utf8(struct cs_buf *b, unsigned long cp)
{
	unsigned char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | (cp >> 18));
		u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	cs_buf_append(b, u, n);
}

/* Undo PowerShell's XmlConvert-style escapes (_x000D__x000A_ for CRLF,
 * _x005F_ for an underscore that would look like one, surrogate pairs for
 * characters outside the BMP).  CR is dropped: the result is Unix text. */
static void unescape(struct cs_buf *b, const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		long u = escape_at(s + i, n - i);
		if (u < 0) {
			cs_buf_append(b, s + i, 1);
			i++;
			continue;
		}
		i += 7;
		if (u >= 0xD800 && u <= 0xDBFF) {
			long lo = escape_at(s + i, n - i);
			if (lo >= 0xDC00 && lo <= 0xDFFF) {
				i += 7;
				put_utf8(b, 0x10000 + (((unsigned long)u - 0xD800) << 10) +
						    ((unsigned long)lo - 0xDC00));
				continue;
			}
			put_utf8(b, 0xFFFD);
		} else if (u >= 0xDC00 && u <= 0xDFFF) {
			put_utf8(b, 0xFFFD);
		} else if (u != '\r') {
			put_utf8(b, (unsigned long)u);
		}
	}
}

static void clixml_strings(struct cs_buf *out, xmlNodePtr n)
{
	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (is(n, NS_CLIXML, "S")) {
			bool error = attr_is(n, "S", "Error", true);
			if (error || attr_is(n, "S", "Warning", true)) {
				xmlChar *t = xmlNodeGetContent(n);
				if (!error)
					cs_buf_puts(out, "WARNING: ");
				if (t)
					unescape(out, (const char *)t);
				/* Warnings come without a line end of their own. */
				if (!error && (out->len == 0 || out->data[out->len - 1] != '\n'))
					cs_buf_puts(out, "\n");
				xmlFree(t);
			}
			continue;
		}
		/* Objs holding Obj S="progress" etc.: only S elements directly
		 * in Objs are stream records; nested ones are properties. */
		if (is(n, NS_CLIXML, "Objs"))
			clixml_strings(out, n->children);
	}
}

int cs_wsman_decode_clixml(struct cs_buf *out, const char *text, size_t len)
{
	static const char marker[] = "#< CLIXML";
	static const char close[] = "</Objs>";
	size_t pos = 0;
	while (pos < len) {
		const char *m = memmem(text + pos, len - pos, marker, sizeof marker - 1);
		if (!m)
			return cs_buf_append(out, text + pos, len - pos);
		int r = cs_buf_append(out, text + pos, (size_t)(m - (text + pos)));
		if (r < 0)
			return r;
		size_t start = (size_t)(m - text) + sizeof marker - 1;
		while (start < len && (text[start] == '\r' || text[start] == '\n'))
			start++;
		const char *c = memmem(text + start, len - start, close, sizeof close - 1);
		if (!c)
			return cs_buf_append(out, m, len - (size_t)(m - text));
		size_t end = (size_t)(c - text) + sizeof close - 1;
		xmlDocPtr doc = xmlReadMemory(text + start, (int)(end - start), NULL, NULL,
					      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
		if (doc) {
			clixml_strings(out, xmlDocGetRootElement(doc));
			xmlFreeDoc(doc);
		} else {
			/* Not what we took it for: show it as it came. */
			r = cs_buf_append(out, m, end - (size_t)(m - text));
			if (r < 0)
				return r;
		}
		pos = end;
		while (pos < len && (text[pos] == '\r' || text[pos] == '\n'))
			pos++;
	}
	return 0;
}
