/* Tests for providers/transport/wsman.c and winrm_scripts.c against recorded
 * Windows traffic (tests/fixtures/winrm/, from pypsrp's test suite):
 *
 * - every recorded request is rebuilt with certsync's builders from the
 *   values it carries, and the two documents must have the same elements in
 *   the same order with the same namespaces, attributes and text (message,
 *   session, shell and command ids excepted: those are fresh per message);
 * - every recorded reply is parsed: shell and command ids, streams, exit
 *   codes, faults with their codes, w:TimedOut recognised as "receive again";
 * - CLIXML on stderr becomes readable text;
 * - stdin is split into Send envelopes that fit MaxEnvelopeSize;
 * - the PowerShell the transport sends matches tests/golden/powershell/ and
 *   the stdin framing decodes back to the script and the input. */
#include "tests/unit/tap.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <openssl/evp.h>
#include <yaml.h>
#include "providers/base/quote.h"
#include "providers/transport/winrm_scripts.h"
#include "providers/transport/wsman.h"
#include "providers/base/util.h"

#define FIXTURES CS_SOURCE_ROOT "/tests/fixtures/winrm"
#define GOLDEN CS_SOURCE_ROOT "/tests/golden/powershell"

/* ---- fixtures ---- */

struct message {
	char *request;
	char *response;
};

struct recording {
	char *name;
	struct message *m;
	size_t n;
};

static const char *scalar(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		yaml_node_t *v = yaml_document_get_node(doc, p->value);
		if (k && k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
			return v && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : NULL;
	}
	return NULL;
}

static int load_recording(struct recording *rec, const char *file)
{
	FILE *f = fopen(file, "rb");
	if (!f)
		return -errno;
	yaml_parser_t parser;
	yaml_document_t doc;
	int r = -EINVAL;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_parser_delete(&parser);
		fclose(f);
		return -EINVAL;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	yaml_node_t *seq = NULL;
	if (root && root->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(&doc, p->key);
			if (k && strcmp((char *)k->data.scalar.value, "messages") == 0)
				seq = yaml_document_get_node(&doc, p->value);
		}
	}
	if (seq && seq->type == YAML_SEQUENCE_NODE) {
		size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
		rec->m = cs_xcalloc(n ? n : 1, sizeof *rec->m);
		for (size_t i = 0; i < n; i++) {
			yaml_node_t *it = yaml_document_get_node(&doc, seq->data.sequence.items.start[i]);
			rec->m[i].request = cs_xstrdup(scalar(&doc, it, "request"));
			rec->m[i].response = cs_xstrdup(scalar(&doc, it, "response"));
		}
		rec->n = n;
		r = 0;
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	fclose(f);
	return r;
}

static void free_recording(struct recording *rec)
{
	for (size_t i = 0; i < rec->n; i++) {
		free(rec->m[i].request);
		free(rec->m[i].response);
	}
	free(rec->m);
	free(rec->name);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct recording *)a)->name, ((const struct recording *)b)->name);
}

static struct recording *load_all(size_t *out_n)
{
	DIR *d = opendir(FIXTURES);
	struct recording *recs = NULL;
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".yml") != 0)
			continue;
		recs = cs_xrealloc(recs, (n + 1) * sizeof *recs);
		memset(&recs[n], 0, sizeof recs[n]);
		char *path = cs_xasprintf("%s/%s", FIXTURES, e->d_name);
		recs[n].name = cs_xstrdup(e->d_name);
		if (load_recording(&recs[n], path) < 0)
			tap_ok(false, "fixture loads", "%s", path);
		free(path);
		n++;
	}
	if (d)
		closedir(d);
	if (n)
		qsort(recs, n, sizeof *recs, by_name);
	*out_n = n;
	return recs;
}

/* ---- XPath helpers over a parsed envelope ---- */

struct xdoc {
	xmlDocPtr doc;
	xmlXPathContextPtr ctx;
};

static bool xopen(struct xdoc *x, const char *text)
{
	x->doc = xmlReadMemory(text, (int)strlen(text), NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
	x->ctx = x->doc ? xmlXPathNewContext(x->doc) : NULL;
	if (!x->ctx)
		return false;
	xmlXPathRegisterNs(x->ctx, (const xmlChar *)"s", (const xmlChar *)CS_WSMAN_NS_SOAP);
	xmlXPathRegisterNs(x->ctx, (const xmlChar *)"a", (const xmlChar *)CS_WSMAN_NS_ADDR);
	xmlXPathRegisterNs(x->ctx, (const xmlChar *)"w", (const xmlChar *)CS_WSMAN_NS_WSMAN);
	xmlXPathRegisterNs(x->ctx, (const xmlChar *)"p", (const xmlChar *)CS_WSMAN_NS_MSWSMAN);
	xmlXPathRegisterNs(x->ctx, (const xmlChar *)"rsp", (const xmlChar *)CS_WSMAN_NS_SHELL);
	return true;
}

static void xclose(struct xdoc *x)
{
	xmlXPathFreeContext(x->ctx);
	xmlFreeDoc(x->doc);
}

/* Nodes matching expr (the caller frees with xmlXPathFreeObject). */
static xmlXPathObjectPtr xnodes(struct xdoc *x, const char *expr)
{
	return xmlXPathEvalExpression((const xmlChar *)expr, x->ctx);
}

static size_t xcount(xmlXPathObjectPtr o)
{
	return o && o->nodesetval ? (size_t)o->nodesetval->nodeNr : 0;
}

/* String value of expr, or NULL when it selects nothing. */
static char *xstr(struct xdoc *x, const char *expr)
{
	xmlXPathObjectPtr o = xnodes(x, expr);
	char *s = NULL;
	if (xcount(o)) {
		xmlChar *v = xmlXPathCastNodeSetToString(o->nodesetval);
		s = cs_xstrdup((const char *)v);
		xmlFree(v);
	}
	xmlXPathFreeObject(o);
	return s;
}

static char *node_attr(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *s = v ? cs_xstrdup((const char *)v) : NULL;
	xmlFree(v);
	return s;
}

static char *node_text(xmlNodePtr n)
{
	xmlChar *v = xmlNodeGetContent(n);
	char *s = cs_xstrdup(v ? (const char *)v : "");
	xmlFree(v);
	return s;
}

/* "PT20S" → 20 */
static unsigned seconds(const char *d)
{
	unsigned v = 0;
	if (d && strncmp(d, "PT", 2) == 0)
		for (const char *p = d + 2; *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (unsigned)(*p - '0');
	return v;
}

/* ---- structural comparison ---- */

static bool id_valued(xmlNodePtr n)
{
	if (!n->ns || !n->ns->href)
		return false;
	const char *ns = (const char *)n->ns->href;
	const char *name = (const char *)n->name;
	if (strcmp(ns, CS_WSMAN_NS_ADDR) == 0 && strcmp(name, "MessageID") == 0)
		return true;
	if (strcmp(ns, CS_WSMAN_NS_MSWSMAN) == 0 && strcmp(name, "SessionId") == 0)
		return true;
	if (strcmp(ns, CS_WSMAN_NS_WSMAN) == 0 && strcmp(name, "Selector") == 0) {
		char *v = node_attr(n, "Name");
		bool shell = v && strcmp(v, "ShellId") == 0;
		free(v);
		return shell;
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One line per element: its path of {namespace}name, its attributes
 * sorted, and its own text; ids replaced by "*". */
static void describe(struct cs_buf *out, xmlNodePtr n, const char *parent)
{
	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		char *path = cs_xasprintf("%s/{%s}%s", parent, n->ns && n->ns->href ? (const char *)n->ns->href : "",
					  (const char *)n->name);
		char *attrs[32];
		size_t na = 0;
		for (xmlAttrPtr a = n->properties; a && na < 32; a = a->next) {
			xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
			bool id = strcmp((const char *)a->name, "CommandId") == 0;
			attrs[na++] = cs_xasprintf("{%s}%s=%s", a->ns && a->ns->href ? (const char *)a->ns->href : "",
						   (const char *)a->name, id ? "*" : v ? (const char *)v : "");
			xmlFree(v);
		}
		qsort(attrs, na, sizeof attrs[0], cmp_str);
		cs_buf_puts(out, path);
		for (size_t i = 0; i < na; i++) {
			cs_buf_printf(out, " %s", attrs[i]);
			free(attrs[i]);
		}
		struct cs_buf text = CS_BUF_INIT;
		for (xmlNodePtr c = n->children; c; c = c->next)
			if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
				cs_buf_puts(&text, (const char *)c->content);
		cs_buf_printf(out, " text=%s\n", id_valued(n) ? "*" : text.data ? text.data : "");
		cs_buf_free(&text);
		describe(out, n->children, path);
		free(path);
	}
}

static char *structure(const char *xml, size_t len)
{
	xmlDocPtr d = xmlReadMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR);
	if (!d)
		return cs_xstrdup("(not XML)");
	struct cs_buf b = CS_BUF_INIT;
	describe(&b, xmlDocGetRootElement(d), "");
	xmlFreeDoc(d);
	char *s = cs_buf_detach(&b, NULL);
	return s ? s : cs_xstrdup("");
}

/* Rebuild a recorded request from the values in it. */
static int rebuild(struct cs_buf *out, const char *request)
{
	struct xdoc x;
	int r = -EINVAL;
	char mid[42];
	if (!xopen(&x, request))
		return -EINVAL;
	char *action = xstr(&x, "/s:Envelope/s:Header/a:Action");
	char *to = xstr(&x, "/s:Envelope/s:Header/a:To");
	char *resource = xstr(&x, "/s:Envelope/s:Header/w:ResourceURI");
	char *timeout = xstr(&x, "/s:Envelope/s:Header/w:OperationTimeout");
	char *maxenv = xstr(&x, "/s:Envelope/s:Header/w:MaxEnvelopeSize");
	char *locale = xstr(&x, "/s:Envelope/s:Header/w:Locale/@xml:lang");
	char *session = xstr(&x, "/s:Envelope/s:Header/p:SessionId");
	char *shell_id = xstr(&x, "/s:Envelope/s:Header/w:SelectorSet/w:Selector[@Name='ShellId']");
	xmlXPathObjectPtr opts = xnodes(&x, "/s:Envelope/s:Header/w:OptionSet/w:Option");
	struct cs_wsman_option options[16];
	char *optstr[16][3];
	size_t nopt = 0;
	for (size_t i = 0; i < xcount(opts) && nopt < 16; i++, nopt++) {
		xmlNodePtr n = opts->nodesetval->nodeTab[i];
		optstr[nopt][0] = node_attr(n, "Name");
		optstr[nopt][1] = node_text(n);
		optstr[nopt][2] = node_attr(n, "MustComply");
		options[nopt] = (struct cs_wsman_option){ optstr[nopt][0], optstr[nopt][1],
							  optstr[nopt][2] && strcasecmp(optstr[nopt][2], "true") == 0 };
	}
	if (cs_wsman_uuid(mid) < 0)
		goto out;
	char sid[42];
	if (session && cs_wsman_uuid(sid) < 0)
		goto out;
	struct cs_wsman_header h = {
		.to = to, .action = action, .message_id = mid, .session_id = session ? sid : NULL,
		.locale = locale, .max_envelope = maxenv ? strtoul(maxenv, NULL, 10) : 0,
		.timeout_s = seconds(timeout), .shell_id = shell_id ? "11111111-2222-3333-4444-555555555555" : NULL,
		.options = options, .n_options = nopt,
		.resource_uri = resource && strcmp(resource, CS_WSMAN_URI_CMD) != 0 ? resource : NULL,
	};
	if (!action)
		goto out;
	if (strcmp(action, CS_WSMAN_ACTION_CREATE) == 0) {
		struct cs_wsman_shell sh = { 0 };
		struct cs_wsman_env_var env[16];
		char *envstr[16][2];
		size_t nenv = 0;
		char *in = xstr(&x, "//rsp:Shell/rsp:InputStreams");
		char *outs = xstr(&x, "//rsp:Shell/rsp:OutputStreams");
		char *idle = xstr(&x, "//rsp:Shell/rsp:IdleTimeOut");
		char *life = xstr(&x, "//rsp:Shell/rsp:Lifetime");
		char *name = xstr(&x, "//rsp:Shell/rsp:Name");
		char *wd = xstr(&x, "//rsp:Shell/rsp:WorkingDirectory");
		xmlXPathObjectPtr vars = xnodes(&x, "//rsp:Shell/rsp:Environment/rsp:Variable");
		for (size_t i = 0; i < xcount(vars) && nenv < 16; i++, nenv++) {
			envstr[nenv][0] = node_attr(vars->nodesetval->nodeTab[i], "Name");
			envstr[nenv][1] = node_text(vars->nodesetval->nodeTab[i]);
			env[nenv] = (struct cs_wsman_env_var){ envstr[nenv][0], envstr[nenv][1] };
		}
		sh.input_streams = in;
		sh.output_streams = outs;
		sh.env = env;
		sh.n_env = nenv;
		sh.idle_timeout_s = seconds(idle);
		sh.lifetime_s = seconds(life);
		sh.name = name;
		sh.working_directory = wd;
		r = cs_wsman_build_create(out, &h, &sh);
		for (size_t i = 0; i < nenv; i++) {
			free(envstr[i][0]);
			free(envstr[i][1]);
		}
		xmlXPathFreeObject(vars);
		free(in);
		free(outs);
		free(idle);
		free(life);
		free(name);
		free(wd);
	} else if (strcmp(action, CS_WSMAN_ACTION_COMMAND) == 0) {
		char *cmd = xstr(&x, "//rsp:CommandLine/rsp:Command");
		xmlXPathObjectPtr a = xnodes(&x, "//rsp:CommandLine/rsp:Arguments");
		char *args[16];
		size_t n = 0;
		for (size_t i = 0; i < xcount(a) && n < 16; i++)
			args[n++] = node_text(a->nodesetval->nodeTab[i]);
		r = cs_wsman_build_command(out, &h, cmd, (const char *const *)args, n);
		for (size_t i = 0; i < n; i++)
			free(args[i]);
		xmlXPathFreeObject(a);
		free(cmd);
	} else if (strcmp(action, CS_WSMAN_ACTION_SEND) == 0) {
		char *name = xstr(&x, "//rsp:Send/rsp:Stream/@Name");
		char *end = xstr(&x, "//rsp:Send/rsp:Stream/@End");
		char *b64 = xstr(&x, "//rsp:Send/rsp:Stream");
		unsigned char raw[4096];
		int n = b64 ? EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)strlen(b64)) : 0;
		/* DecodeBlock counts padding as data. */
		if (b64 && n > 0)
			for (size_t i = strlen(b64); i > 0 && b64[i - 1] == '='; i--)
				n--;
		r = n < 0 ? -EINVAL
			  : cs_wsman_build_send(out, &h, "CMD", name, raw, (size_t)n,
						end && strcasecmp(end, "true") == 0);
		free(name);
		free(end);
		free(b64);
	} else if (strcmp(action, CS_WSMAN_ACTION_RECEIVE) == 0) {
		char *cid = xstr(&x, "//rsp:Receive/rsp:DesiredStream/@CommandId");
		char *streams = xstr(&x, "//rsp:Receive/rsp:DesiredStream");
		r = cs_wsman_build_receive(out, &h, cid ? "CMD" : NULL, streams);
		free(cid);
		free(streams);
	} else if (strcmp(action, CS_WSMAN_ACTION_SIGNAL) == 0) {
		char *code = xstr(&x, "//rsp:Signal/rsp:Code");
		r = cs_wsman_build_signal(out, &h, "CMD", code);
		free(code);
	} else if (strcmp(action, CS_WSMAN_ACTION_DELETE) == 0 || strcmp(action, CS_WSMAN_ACTION_GET) == 0) {
		r = cs_wsman_build_empty(out, &h);
	}
out:
	for (size_t i = 0; i < nopt; i++)
		for (int k = 0; k < 3; k++)
			free(optstr[i][k]);
	xmlXPathFreeObject(opts);
	free(action);
	free(to);
	free(resource);
	free(timeout);
	free(maxenv);
	free(locale);
	free(session);
	free(shell_id);
	xclose(&x);
	return r;
}

static void test_requests(struct recording *recs, size_t n)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < recs[i].n; k++) {
			char name[200];
			struct cs_buf b = CS_BUF_INIT;
			int r = rebuild(&b, recs[i].m[k].request);
			char *want = structure(recs[i].m[k].request, strlen(recs[i].m[k].request));
			char *got = r == 0 ? structure(b.data, b.len) : cs_xasprintf("(build failed: %d)", r);
			snprintf(name, sizeof name, "request %s #%zu has the recorded structure", recs[i].name, k + 1);
			tap_str(got, want, name);
			free(want);
			free(got);
			cs_buf_free(&b);
			total++;
		}
	}
	tap_ok(total >= 60, "every recorded request was compared", "only %zu", total);

	/* The comparison can fail: a wrong option value shows up. */
	const char *req = recs[0].m[1].request; /* a Command */
	struct cs_buf b = CS_BUF_INIT;
	rebuild(&b, req);
	char *p = strstr(b.data, ">False<");
	if (p)
		memcpy(p, ">Fals3<", 7);
	char *want = structure(req, strlen(req)), *got = structure(b.data, b.len);
	tap_ok(p && strcmp(want, got) != 0, "comparison notices a changed option value", NULL);
	free(want);
	free(got);
	cs_buf_free(&b);
}

/* ---- replies ---- */

static char *action_of(const char *xml)
{
	struct xdoc x;
	if (!xopen(&x, xml))
		return NULL;
	char *a = xstr(&x, "/s:Envelope/s:Header/a:Action");
	xclose(&x);
	return a;
}

struct expect {
	const char *file;
	const char *out;             /* all stdout of the recording's command */
	const char *err;
	int exit_code;
	int faults;                  /* faults among the replies */
	int timeouts;                /* of which w:TimedOut */
	const char *fault_text;      /* the first non-timeout fault, formatted */
};

static const struct expect expects[] = {
	{ "test_winrs_bad_cmd_id.yml", "", "", -1, 1, 0,
	  "w:InvalidSelectors (2150858843): The WS-Management service cannot process the request because "
	  "the request contained invalid selectors for the resource. The Windows Remote Shell received a "
	  "request to perform an operation on a command identifier that does not exist. Either the command "
	  "has completed execution or the client specified an invalid command identifier." },
	{ "test_winrs_fail_poll_process.yml", "", "", -1, 1, 0,
	  "w:InvalidParameter (87): The parameter is incorrect." },
	{ "test_winrs_no_cmd_shell.yml", "hi\n", "", 0, 1, 0,
	  "w:InternalError (2147942402): The system cannot find the file specified." },
	{ "test_winrs_operation_timeout.yml", "hi\nhi again\n", "", 0, 2, 2, NULL },
	{ "test_winrs_send.yml", "output 1\noutput 2\n", "", 0, 0, 0, NULL },
	{ "test_winrs_standard.yml", "hi\r\n", "", 0, 0, 0, NULL },
	{ "test_winrs_stderr_rc.yml", "out \r\n", "err \r\n", 1, 0, 0, NULL },
	{ "test_winrs_unicode.yml", "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF\n", "", 0, 0, 0,
	  NULL },
	{ "test_winrs_extra_opts.yml", "C:\\Windows\r\n", "", 0, 0, 0, NULL },
};

static const struct expect *expect_for(const char *file)
{
	for (size_t i = 0; i < sizeof expects / sizeof expects[0]; i++)
		if (strcmp(expects[i].file, file) == 0)
			return &expects[i];
	return NULL;
}

static void test_replies(struct recording *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct cs_wsman_receive rr;
		char *cmd_id = NULL, *shell_id = NULL;
		int faults = 0, timeouts = 0, parse_errors = 0;
		char *first_fault = NULL;
		cs_wsman_receive_init(&rr, 0);
		for (size_t k = 0; k < recs[i].n; k++) {
			const char *resp = recs[i].m[k].response;
			char *act = action_of(recs[i].m[k].request);
			struct cs_err err = CS_ERR_INIT;
			struct cs_wsman_fault f = { 0 };
			int fr = cs_wsman_parse_fault(resp, strlen(resp), &f, &err);
			if (fr < 0)
				parse_errors++;
			if (fr == 1) {
				faults++;
				if (cs_wsman_fault_is_timeout(&f))
					timeouts++;
				else if (!first_fault)
					first_fault = cs_wsman_fault_text(&f);
			}
			cs_wsman_fault_free(&f);
			if (act && strcmp(act, CS_WSMAN_ACTION_CREATE) == 0) {
				if (cs_wsman_parse_create(resp, strlen(resp), &shell_id, &err) < 0)
					parse_errors++;
				struct xdoc x;
				xopen(&x, resp);
				char *sel = xstr(&x, "//w:Selector[@Name='ShellId']");
				char name[200];
				snprintf(name, sizeof name, "reply %s: ShellId", recs[i].name);
				tap_str(shell_id, sel, name);
				free(sel);
				xclose(&x);
			} else if (act && strcmp(act, CS_WSMAN_ACTION_COMMAND) == 0 && fr == 0) {
				free(cmd_id);
				cmd_id = NULL;
				if (cs_wsman_parse_command(resp, strlen(resp), &cmd_id, &err) < 0)
					parse_errors++;
			} else if (act && strcmp(act, CS_WSMAN_ACTION_RECEIVE) == 0 && fr == 0) {
				if (cs_wsman_parse_receive(resp, strlen(resp), cmd_id, &rr, &err) < 0)
					parse_errors++;
			}
			if (err.msg)
				tap_note("%s #%zu: %s", recs[i].name, k + 1, err.msg);
			cs_err_clear(&err);
			free(act);
		}
		char name[200];
		snprintf(name, sizeof name, "replies %s: all parse", recs[i].name);
		tap_int(parse_errors, 0, name);
		const struct expect *e = expect_for(recs[i].name);
		if (e) {
			snprintf(name, sizeof name, "replies %s: stdout", recs[i].name);
			tap_str(rr.out.data ? rr.out.data : "", e->out, name);
			snprintf(name, sizeof name, "replies %s: stderr", recs[i].name);
			tap_str(rr.err.data ? rr.err.data : "", e->err, name);
			snprintf(name, sizeof name, "replies %s: exit code", recs[i].name);
			tap_int(rr.has_exit_code ? rr.exit_code : -1, e->exit_code, name);
			snprintf(name, sizeof name, "replies %s: done and both streams ended", recs[i].name);
			tap_ok(e->exit_code < 0 || (rr.done && rr.out_end && rr.err_end), name, NULL);
			snprintf(name, sizeof name, "replies %s: faults", recs[i].name);
			tap_int(faults, e->faults, name);
			snprintf(name, sizeof name, "replies %s: TimedOut faults", recs[i].name);
			tap_int(timeouts, e->timeouts, name);
			snprintf(name, sizeof name, "replies %s: fault text", recs[i].name);
			tap_str(first_fault, e->fault_text, name);
		}
		free(first_fault);
		free(cmd_id);
		free(shell_id);
		cs_wsman_receive_free(&rr);
	}
}

static void test_reply_errors(struct recording *recs, size_t n)
{
	struct cs_err err = CS_ERR_INIT;
	char *id = NULL;
	/* The Command that failed in no_cmd_shell, as an error of its step. */
	for (size_t i = 0; i < n; i++) {
		if (strcmp(recs[i].name, "test_winrs_no_cmd_shell.yml") != 0)
			continue;
		const char *resp = recs[i].m[1].response;
		tap_int(cs_wsman_parse_command(resp, strlen(resp), &id, &err), -EPROTO,
			"a faulted Command reply is -EPROTO");
		tap_str(err.msg, "start command: w:InternalError (2147942402): The system cannot find the "
			"file specified.", "the fault's code and reason are the message");
		cs_err_clear(&err);
	}
	tap_int(cs_wsman_parse_create("<html>nope</html>", 17, &id, &err), -EBADMSG, "not SOAP: -EBADMSG");
	tap_str(err.msg, "reply is not a SOAP envelope", "not SOAP: message");
	cs_err_clear(&err);
	tap_int(cs_wsman_parse_create("<oops", 5, &id, &err), -EBADMSG, "not XML: -EBADMSG");
	cs_err_clear(&err);
	static const char no_id[] = "<s:Envelope xmlns:s=\"" CS_WSMAN_NS_SOAP "\"><s:Body/></s:Envelope>";
	tap_int(cs_wsman_parse_command(no_id, sizeof no_id - 1, &id, &err), -EBADMSG, "no CommandId: -EBADMSG");
	tap_str(err.msg, "start command: reply has no CommandId", "no CommandId: message");
	cs_err_clear(&err);
	tap_ok(id == NULL, "no id handed out on errors", NULL);

	/* An entity that would read a local file is not expanded. */
	static const char xxe[] =
		"<?xml version=\"1.0\"?><!DOCTYPE s:Envelope [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<s:Envelope xmlns:s=\"" CS_WSMAN_NS_SOAP "\" xmlns:rsp=\"" CS_WSMAN_NS_SHELL "\"><s:Body>"
		"<rsp:CommandResponse><rsp:CommandId>&x;</rsp:CommandId></rsp:CommandResponse></s:Body></s:Envelope>";
	int r = cs_wsman_parse_command(xxe, sizeof xxe - 1, &id, &err);
	tap_ok(r < 0 || !id || !strstr(id, "root:"), "external entities are not expanded", "got %s", id);
	free(id);
	id = NULL;
	cs_err_clear(&err);

	/* Streams of another command are not mixed in; a cap truncates. */
	static const char two[] =
		"<s:Envelope xmlns:s=\"" CS_WSMAN_NS_SOAP "\" xmlns:rsp=\"" CS_WSMAN_NS_SHELL "\"><s:Body>"
		"<rsp:ReceiveResponse>"
		"<rsp:Stream Name=\"stdout\" CommandId=\"A\">YWJjZGVm</rsp:Stream>"
		"<rsp:Stream Name=\"stdout\" CommandId=\"B\">eHl6</rsp:Stream>"
		"<rsp:Stream Name=\"stdout\" CommandId=\"a\" End=\"TRUE\"></rsp:Stream>"
		"<rsp:CommandState CommandId=\"A\" State=\"" CS_WSMAN_STATE_DONE "\"><rsp:ExitCode>-1073741819</rsp:ExitCode>"
		"</rsp:CommandState></rsp:ReceiveResponse></s:Body></s:Envelope>";
	struct cs_wsman_receive rr;
	cs_wsman_receive_init(&rr, 4);
	tap_int(cs_wsman_parse_receive(two, sizeof two - 1, "A", &rr, &err), 0, "receive with a cap");
	tap_str(rr.out.data, "abcd", "only this command's stdout, cut at the cap");
	tap_ok(rr.truncated && rr.out_end && rr.done, "truncated, ended (End=TRUE, id case-blind), done", NULL);
	tap_int(rr.exit_code, -1073741819, "negative exit code kept");
	cs_wsman_receive_free(&rr);

	static const char bad64[] =
		"<s:Envelope xmlns:s=\"" CS_WSMAN_NS_SOAP "\" xmlns:rsp=\"" CS_WSMAN_NS_SHELL "\"><s:Body>"
		"<rsp:ReceiveResponse><rsp:Stream Name=\"stdout\">!!!!</rsp:Stream></rsp:ReceiveResponse>"
		"</s:Body></s:Envelope>";
	cs_wsman_receive_init(&rr, 0);
	tap_int(cs_wsman_parse_receive(bad64, sizeof bad64 - 1, NULL, &rr, &err), -EBADMSG, "bad base64: -EBADMSG");
	tap_str(err.msg, "receive output: stream is not base64", "bad base64: message");
	cs_err_clear(&err);
	cs_wsman_receive_free(&rr);

	/* A TimedOut without WSManFault detail is still recognised; other
	 * faults are not taken for one. */
	struct cs_wsman_fault f = { .subcode = (char *)"w:TimedOut" };
	tap_ok(cs_wsman_fault_is_timeout(&f), "TimedOut by subcode", NULL);
	f.code = 2150858843UL;
	tap_ok(!cs_wsman_fault_is_timeout(&f), "a code other than 2150858793 is no timeout", NULL);
	struct cs_wsman_fault g = { .code = 5, .subcode = (char *)"w:AccessDenied", .reason = (char *)"Access is denied." };
	char *t = cs_wsman_fault_text(&g);
	tap_str(t, "w:AccessDenied (5): Access is denied.", "fault text without a message");
	free(t);
}

/* ---- CLIXML ---- */

static void test_clixml(void)
{
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
		{ "plain text passes", "just text\n", "just text\n" },
		{ "empty", "", "" },
		{ "errors, progress dropped",
		  "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">"
		  "<Obj S=\"progress\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T>"
		  "<T>System.Object</T></TN><MS><I64 N=\"SourceId\">1</I64><PR N=\"Record\"><AV>Preparing modules for "
		  "first use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR>"
		  "</MS></Obj>"
		  "<S S=\"Error\">Get-Item : Cannot find path 'C:\\nope' because it does not exist._x000D__x000A_</S>"
		  "<S S=\"Error\">At line:1 char:1_x000D__x000A_</S>"
		  "<S S=\"Error\">+ Get-Item C:\\nope_x000D__x000A_</S></Objs>",
		  "Get-Item : Cannot find path 'C:\\nope' because it does not exist.\nAt line:1 char:1\n"
		  "+ Get-Item C:\\nope\n" },
		{ "warning and verbose",
		  "#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">"
		  "<S S=\"warning\">disk almost full</S><S S=\"verbose\">chatter</S><S S=\"debug\">more</S></Objs>",
		  "WARNING: disk almost full\n" },
		{ "escapes: underscore, tab, non-BMP, lone surrogate",
		  "#< CLIXML\r\n<Objs xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">"
		  "<S S=\"Error\">a_x005F_x000A_b_x0009_c _xD83D__xDE00_ _xD800_x &lt;&amp;&gt;_x000A_</S></Objs>",
		  "a_x000A_b\tc \xF0\x9F\x98\x80 \xEF\xBF\xBDx <&>\n" },
		{ "text around and two documents",
		  "before\n#< CLIXML\n<Objs xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">"
		  "<S S=\"Error\">one_x000D__x000A_</S></Objs>#< CLIXML\r\n"
		  "<Objs xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S S=\"Error\">two_x000A_</S></Objs>\r\nafter",
		  "before\none\ntwo\nafter" },
		{ "cut off document is shown as it came",
		  "#< CLIXML\r\n<Objs xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S S=\"Error\">half",
		  "#< CLIXML\r\n<Objs xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S S=\"Error\">half" },
		{ "nested S of an error record's properties not repeated",
		  "#< CLIXML\r\n<Objs xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">"
		  "<Obj S=\"Error\"><MS><S N=\"Message\">inner</S></MS></Obj><S S=\"Error\">outer_x000A_</S></Objs>",
		  "outer\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_buf b = CS_BUF_INIT;
		char name[160];
		int r = cs_wsman_decode_clixml(&b, cases[i].in, strlen(cases[i].in));
		snprintf(name, sizeof name, "clixml: %s", cases[i].name);
		tap_ok(r == 0, name, "returned %d", r);
		tap_str(b.data ? b.data : "", cases[i].want, name);
		cs_buf_free(&b);
	}
}

/* What both Windows paths (WinRM, and powershell.exe over SSH) make of
 * stderr: CLIXML decoded under the caller's cap, then its first line for
 * an error message. */
static void test_ps_stderr(void)
{
	static const char clixml[] =
		"#< CLIXML\r\n<Objs xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">"
		"<S S=\"Error\">Import-PfxCertificate : no such file_x000D__x000A_</S>"
		"<S S=\"Error\">At line:3 char:1_x000D__x000A_</S></Objs>";
	struct cs_buf err;
	cs_buf_init(&err, 0);
	cs_ps_stderr_text(&err, clixml, strlen(clixml));
	tap_str(err.data, "Import-PfxCertificate : no such file\nAt line:3 char:1\n", "ps stderr: CLIXML as text");
	char *line = cs_ps_first_line(&err);
	tap_str(line, "Import-PfxCertificate : no such file", "ps stderr: first line");
	free(line);
	cs_buf_free(&err);

	cs_buf_init(&err, 10);
	cs_ps_stderr_text(&err, clixml, strlen(clixml));
	tap_str(err.data, "Import-Pfx", "ps stderr: text cut at the cap");
	cs_buf_free(&err);

	cs_buf_init(&err, 0);
	cs_ps_stderr_text(&err, NULL, 0);
	line = cs_ps_first_line(&err);
	tap_str(line, "no message", "ps stderr: none");
	free(line);
	cs_buf_puts(&err, "\r\n  \r\nplain text\r\nmore");
	line = cs_ps_first_line(&err);
	tap_str(line, "plain text", "ps stderr: blank lines before the message skipped");
	free(line);
	cs_buf_reset(&err);
	for (int i = 0; i < 41; i++)
		cs_buf_puts(&err, "0123456789");
	line = cs_ps_first_line(&err);
	tap_ok(strlen(line) == 403 && !strcmp(line + 400, "..."), "ps stderr: a long line cut at 400 with ...",
	       "%zu: %s", strlen(line), line);
	free(line);
	cs_buf_free(&err);
}

/* ---- envelope size ---- */

static void test_chunking(void)
{
	static const unsigned long sizes[] = { 153600, 512000, 8192, 2048 };
	const char *cid = "B0973E54-434E-4D99-B4BE-ADE584CE3BFB";
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char mid[42], name[120];
		cs_wsman_uuid(mid);
		struct cs_wsman_header h = {
			.to = "https://sapphire.corp.example:5986/wsman", .action = CS_WSMAN_ACTION_SEND,
			.message_id = mid, .session_id = mid, .max_envelope = sizes[i], .timeout_s = 20,
			.shell_id = "4283CBDC-3706-415B-88BD-B385F3E51A53",
		};
		size_t cap = cs_wsman_send_capacity(&h);
		size_t big = cap + 400;
		char *data = cs_xmalloc(big);
		memset(data, 'x', big);
		struct cs_buf b = CS_BUF_INIT;
		cs_wsman_build_send(&b, &h, cid, "stdin", data, cap, true);
		snprintf(name, sizeof name, "max %lu: %zu bytes of stdin fit one envelope (%zu bytes)", sizes[i],
			 cap, b.len);
		tap_ok(cap > 0 && b.len <= sizes[i], name, NULL);
		snprintf(name, sizeof name, "max %lu: most of the envelope is data", sizes[i]);
		tap_ok(cap * 4 / 3 > sizes[i] - 2000, name, "capacity %zu", cap);
		cs_buf_reset(&b);
		cs_wsman_build_send(&b, &h, cid, "stdin", data, big, true);
		snprintf(name, sizeof name, "max %lu: 400 bytes more would not fit", sizes[i]);
		tap_ok(b.len > sizes[i], name, "%zu", b.len);
		cs_buf_free(&b);
		free(data);
	}
	char mid[42];
	cs_wsman_uuid(mid);
	struct cs_wsman_header tiny = { .to = "https://x:5986/wsman", .action = CS_WSMAN_ACTION_SEND,
					.message_id = mid, .max_envelope = 600, .timeout_s = 20, .shell_id = "S" };
	tap_int((long long)cs_wsman_send_capacity(&tiny), 0, "an envelope too small for any data: 0");

	/* Split a 1 MiB frame the way winrm.c does and put it back together. */
	struct cs_wsman_header h = { .to = "https://x:5986/wsman", .action = CS_WSMAN_ACTION_SEND,
				     .message_id = mid, .timeout_s = 20, .shell_id = "S" };
	size_t cap = cs_wsman_send_capacity(&h), n = 1 << 20, off = 0, parts = 0, ends = 0, over = 0;
	unsigned char *in = cs_xmalloc(n);
	for (size_t i = 0; i < n; i++)
		in[i] = (unsigned char)(i * 31 + 7);
	struct cs_buf joined = CS_BUF_INIT;
	while (off < n) {
		size_t k = n - off < cap ? n - off : cap;
		struct cs_buf b = CS_BUF_INIT;
		cs_wsman_build_send(&b, &h, "CMD", "stdin", in + off, k, off + k == n);
		over += b.len > CS_WSMAN_MAX_ENVELOPE;
		struct xdoc x;
		xopen(&x, b.data);
		char *b64 = xstr(&x, "//rsp:Stream");
		char *end = xstr(&x, "//rsp:Stream/@End");
		ends += end && strcmp(end, "True") == 0;
		unsigned char *raw = cs_xmalloc(strlen(b64));
		int m = EVP_DecodeBlock(raw, (unsigned char *)b64, (int)strlen(b64));
		for (size_t e = strlen(b64); e > 0 && b64[e - 1] == '='; e--)
			m--;
		cs_buf_append(&joined, raw, (size_t)m);
		free(raw);
		free(b64);
		free(end);
		xclose(&x);
		cs_buf_free(&b);
		off += k;
		parts++;
	}
	tap_ok(parts == (n + cap - 1) / cap && parts > 1, "1 MiB of stdin takes several Sends", "%zu", parts);
	tap_int((long long)over, 0, "no Send envelope over MaxEnvelopeSize");
	tap_int((long long)ends, 1, "End=\"True\" only on the last one");
	tap_ok(joined.len == n && memcmp(joined.data, in, n) == 0, "the pieces give back the input", NULL);
	cs_buf_free(&joined);
	free(in);
}

static void test_uuid(void)
{
	char a[42], b[42];
	cs_wsman_uuid(a);
	cs_wsman_uuid(b);
	bool shape = strlen(a) == 41 && strncmp(a, "uuid:", 5) == 0 && a[13] == '-' && a[18] == '-' &&
		     a[19] == '4' && a[23] == '-' && a[28] == '-' && strchr("89AB", a[24]);
	tap_ok(shape, "uuid: uuid:XXXXXXXX-XXXX-4XXX-[89AB]XXX-XXXXXXXXXXXX", "%s", a);
	tap_ok(strcmp(a, b) != 0, "uuid: fresh each time", NULL);
}

/* ---- PowerShell: golden files and framing ---- */

static void test_scripts(void)
{
	bool update = getenv("CERTSYNC_UPDATE_GOLDEN") != NULL;
	for (size_t i = 0; i < cs_ps_n_scripts; i++) {
		char *path = cs_xasprintf("%s/%s", GOLDEN, cs_ps_scripts[i].name);
		char name[160];
		snprintf(name, sizeof name, "golden: %s", cs_ps_scripts[i].name);
		if (update) {
			FILE *f = fopen(path, "wb");
			if (f) {
				fputs(cs_ps_scripts[i].text, f);
				fclose(f);
			}
		}
		struct cs_buf b = CS_BUF_INIT;
		struct cs_err err = CS_ERR_INIT;
		int r = cs_file_read(&b, path, 0, &err);
		tap_ok(r == 0 && strcmp(b.data, cs_ps_scripts[i].text) == 0, name,
		       "%s differs from the constant (CERTSYNC_UPDATE_GOLDEN=1 rewrites it): %s", path,
		       r < 0 ? cs_err_msg(&err) : "content");
		cs_err_clear(&err);
		cs_buf_free(&b);
		free(path);
	}
	tap_ok(strchr(cs_ps_bootstrap, '\n') == NULL && strchr(cs_ps_bootstrap, '\r') == NULL,
	       "bootstrap is one line (powershell -Command - runs stdin line by line)", NULL);

	/* The frame: bootstrap, then two base64 literals, one CRLF-ended line. */
	static const char script[] = "$x = 'it''s'\nWrite-Output \"$x\xE2\x80\x99\"\n";
	static const unsigned char input[] = { 0, 1, 2, 0xff, '\'', '\n', 'p', 'w' };
	struct cs_buf f = CS_BUF_INIT;
	tap_int(cs_ps_frame(&f, script, input, sizeof input), 0, "frame");
	size_t bl = strlen(cs_ps_bootstrap);
	bool head = f.len > bl && memcmp(f.data, cs_ps_bootstrap, bl) == 0;
	tap_ok(head, "frame starts with the bootstrap", NULL);
	tap_ok(f.len >= 2 && memcmp(f.data + f.len - 2, "\r\n", 2) == 0 &&
	       memchr(f.data, '\n', f.len - 1) == NULL, "frame is exactly one line", NULL);
	char s64[256] = "", d64[256] = "";
	int got = head ? sscanf(f.data + bl, " '%255[A-Za-z0-9+/=]' '%255[A-Za-z0-9+/=]'\r\n", s64, d64) : 0;
	tap_int(got, 2, "frame: two single-quoted base64 literals");
	unsigned char dec[256];
	int n = EVP_DecodeBlock(dec, (unsigned char *)s64, (int)strlen(s64));
	for (size_t e = strlen(s64); e > 0 && s64[e - 1] == '='; e--)
		n--;
	tap_ok(n == (int)strlen(script) && memcmp(dec, script, (size_t)n) == 0, "frame: script decodes back", NULL);
	n = EVP_DecodeBlock(dec, (unsigned char *)d64, (int)strlen(d64));
	for (size_t e = strlen(d64); e > 0 && d64[e - 1] == '='; e--)
		n--;
	tap_ok(n == (int)sizeof input && memcmp(dec, input, sizeof input) == 0, "frame: input decodes back", NULL);
	cs_buf_free(&f);
	cs_buf_init(&f, 0);
	cs_ps_frame(&f, "exit 3", NULL, 0);
	tap_ok(f.len > 4 && memcmp(f.data + f.len - 5, " ''\r\n", 5) == 0, "frame: no input is an empty literal",
	       NULL);
	cs_buf_free(&f);

	char *bound = cs_ps_with_path("C:\\certs\\it's $here`.pem", cs_ps_stat);
	tap_ok(strncmp(bound, "$Path = 'C:\\certs\\it''s $here`.pem'\n", 36) == 0 &&
	       strcmp(bound + 36, cs_ps_stat) == 0, "a path is bound through cs_ps_quote", "%s", bound);
	free(bound);
}

int main(void)
{
	xmlInitParser();
	size_t n = 0;
	struct recording *recs = load_all(&n);
	tap_int((long long)n, 15, "all fifteen recordings found");
	if (n) {
		test_requests(recs, n);
		test_replies(recs, n);
		test_reply_errors(recs, n);
	}
	test_clixml();
	test_ps_stderr();
	test_chunking();
	test_uuid();
	test_scripts();
	for (size_t i = 0; i < n; i++)
		free_recording(&recs[i]);
	free(recs);
	xmlCleanupParser();
	return tap_done();
}
