/* The Windows platform driver: certificates in LocalMachine\My, bound to
 * IIS sites, http.sys endpoints, Exchange services, the RDP listener or a
 * user's script, through PowerShell on the host (WinRM or OpenSSH alike).
 *
 * One inventory script per host and plan reads everything (observe_host);
 * bindings are then observed from it without more round trips.  The
 * certificate is imported once per host (import) before any binding; a
 * binding only points things at a thumbprint already in the store.  apply
 * reads the host again right before changing a binding, so its undo record
 * holds what was there at that moment, not at plan time.  Scripts live in
 * windows_scripts.c; values reach them only through cs_ps_quote, secrets
 * only as input. */
#include "providers/platform/windows.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include "providers/base/base64.h"
#include "providers/base/fault.h"
#include "providers/base/util.h"
#include "providers/platform/windows_scripts.h"

#define OUT_CAP ((size_t)16 << 20)
#define ERR_CAP ((size_t)1 << 20)
/* What IIS itself uses for its http.sys entries: the appid of a new
 * httpsys entry when the config names none. */
#define IIS_APPID "{4dc3e181-e14b-4a21-b022-59fc669b0914}"

static const char *const exch_names[4] = { "POP", "IMAP", "SMTP", "IIS" };

struct win_cert { char *thumb, *subject, *raw; int64_t not_after; bool has_key; };
struct win_iis { char *site, *info, *hash; bool sni; };
struct win_ssl { char *kind, *endpoint, *hash, *appid; };

struct cs_host_state {
	char *boot;
	struct win_cert *certs; size_t n_certs;
	bool have_iis;
	char **sites; size_t n_sites;
	struct win_iis *iis; size_t n_iis;
	struct win_ssl *ssl; size_t n_ssl;
	bool have_exchange;
	char *exchange[4];
	/* Every certificate Exchange uses for any service, also those
	 * certsync does not bind (UM, UMCallRouter, Federation). */
	char **exchange_used; size_t n_exchange_used;
	bool have_rdp;
	char *rdp;
};

static const char *host_name(struct cs_transport *t)
{
	return t && t->host && t->host->name ? t->host->name : "?";
}

static char *upper(const char *s)
{
	char *u = cs_xstrdup(s ? s : "");
	for (char *p = u; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return u;
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcasecmp(a, b);
}

static void host_free(struct cs_host_state *st)
{
	if (!st)
		return;
	free(st->boot);
	for (size_t i = 0; i < st->n_certs; i++) {
		free(st->certs[i].thumb);
		free(st->certs[i].subject);
		free(st->certs[i].raw);
	}
	free(st->certs);
	cs_strv_free(st->sites, st->n_sites);
	for (size_t i = 0; i < st->n_iis; i++) {
		free(st->iis[i].site);
		free(st->iis[i].info);
		free(st->iis[i].hash);
	}
	free(st->iis);
	for (size_t i = 0; i < st->n_ssl; i++) {
		free(st->ssl[i].kind);
		free(st->ssl[i].endpoint);
		free(st->ssl[i].hash);
		free(st->ssl[i].appid);
	}
	free(st->ssl);
	for (size_t i = 0; i < 4; i++)
		free(st->exchange[i]);
	cs_strv_free(st->exchange_used, st->n_exchange_used);
	free(st->rdp);
	free(st);
}

/* ---- running scripts ---- */

/* Run a script; a non-zero exit is an error naming host and step. */
static int run_step(struct cs_transport *t, const char *step, const char *script, const void *in,
		    size_t len, struct cs_buf *out, struct cs_err *err)
{
	struct cs_run_result res;
	cs_run_result_init(&res, OUT_CAP);
	res.err.max = ERR_CAP;
	int r = cs_transport_run_ps(t, script, in, len, &res, err);
	if (r < 0) {
		/* "host H: <step>: <what the transport says>", naming H once:
		 * transport messages start with "host H: " themselves. */
		char *lead = cs_xasprintf("host %s: ", host_name(t));
		const char *m = cs_err_msg(err);
		const char *rest = strncmp(m, lead, strlen(lead)) ? m : m + strlen(lead);
		char *text = cs_xasprintf("%s%s: %s", lead, step, rest);
		cs_err_set(err, r, "%s", text);
		free(text);
		free(lead);
		goto out;
	}
	if (res.exit_status != 0) {
		char *line = cs_ps_first_line(&res.err);
		r = cs_err_set(err, -EIO, "host %s: %s: exit %d: %s", host_name(t), step, res.exit_status, line);
		free(line);
		goto out;
	}
	if (out && res.out.data)
		r = cs_buf_append(out, res.out.data, res.out.len);
out:
	cs_run_result_free(&res);
	return r;
}

/* ---- inventory ---- */

static char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? cs_xstrdup(json_string_value(v)) : NULL;
}

/* netsh http show sslcert: "    IP:port   : 0.0.0.0:443" blocks. */
static void parse_netsh(struct cs_host_state *st, const char *text)
{
	const char *p = text;
	struct win_ssl *cur = NULL;
	while (p && *p) {
		size_t n = strcspn(p, "\n");
		char *line = cs_xasprintf("%.*s", (int)n, p);
		p += n + (p[n] == '\n');
		char *colon = strstr(line, " : ");
		if (colon) {
			*colon = '\0';
			char *key = line, *val = colon + 3;
			while (*key == ' ')
				key++;
			size_t kl = strlen(key);
			while (kl && key[kl - 1] == ' ')
				key[--kl] = '\0';
			size_t vl = strlen(val);
			while (vl && (val[vl - 1] == '\r' || val[vl - 1] == ' '))
				val[--vl] = '\0';
			if (!strcasecmp(key, "IP:port") || !strcasecmp(key, "Hostname:port")) {
				st->ssl = cs_xrealloc(st->ssl, (st->n_ssl + 1) * sizeof *st->ssl);
				cur = &st->ssl[st->n_ssl++];
				memset(cur, 0, sizeof *cur);
				cur->kind = cs_xstrdup(!strcasecmp(key, "IP:port") ? "ipport" : "hostnameport");
				cur->endpoint = cs_xstrdup(val);
			} else if (cur && !strcasecmp(key, "Certificate Hash")) {
				free(cur->hash);
				cur->hash = upper(val);
			} else if (cur && !strcasecmp(key, "Application ID")) {
				free(cur->appid);
				cur->appid = cs_xstrdup(val);
			}
		}
		free(line);
	}
}

/* A certificate hash as Windows reports it: 40 hex digits.  Whatever the
 * inventory says goes back into later scripts (cleanup removes by
 * thumbprint, an http.sys undo restores hash and appid), so anything else
 * is refused here rather than quoted there: a "*" from a confused or
 * hostile host would otherwise name every certificate in the store. */
static bool is_thumbprint(const char *s)
{
	size_t n = 0;
	for (; s && isxdigit((unsigned char)s[n]); n++)
		;
	return n == 40 && s[n] == '\0';
}

/* {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}, braces optional. */
static bool is_guid(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	size_t n = strlen(s);
	if (n == sizeof shape + 1 && s[0] == '{' && s[n - 1] == '}')
		s++, n -= 2;
	if (n != sizeof shape - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Every hash and application id in st is well formed, or the inventory
 * is refused naming the first that is not. */
static int check_inventory(const struct cs_host_state *st, struct cs_err *err)
{
	const char *bad = NULL, *what = NULL;
	for (size_t i = 0; i < st->n_certs && !bad; i++)
		if (!is_thumbprint(st->certs[i].thumb))
			bad = st->certs[i].thumb, what = "a store thumbprint";
	for (size_t i = 0; i < st->n_iis && !bad; i++)
		if (st->iis[i].hash && !is_thumbprint(st->iis[i].hash))
			bad = st->iis[i].hash, what = "an IIS binding hash";
	for (size_t i = 0; i < st->n_ssl && !bad; i++)
		if (st->ssl[i].hash && !is_thumbprint(st->ssl[i].hash))
			bad = st->ssl[i].hash, what = "an http.sys certificate hash";
		else if (st->ssl[i].appid && !is_guid(st->ssl[i].appid))
			bad = st->ssl[i].appid, what = "an http.sys application id";
	for (size_t i = 0; i < st->n_exchange_used && !bad; i++)
		if (!is_thumbprint(st->exchange_used[i]))
			bad = st->exchange_used[i], what = "an Exchange thumbprint";
	if (!bad && st->rdp && !is_thumbprint(st->rdp))
		bad = st->rdp, what = "an RDP certificate hash";
	if (!bad)
		return 0;
	return cs_err_set(err, -EPROTO, "inventory: the host reported %s that is not well formed (\"%.60s\")", what,
			  bad);
}

int cs_win_parse_inventory(struct cs_host_state **out, const char *text, size_t len, struct cs_err *err)
{
	*out = NULL;
	/* Skip anything before the JSON (a BOM, a banner). */
	const char *start = memchr(text, '{', len);
	if (!start)
		return cs_err_set(err, -EPROTO, "inventory: no JSON in the output");
	json_error_t je;
	json_t *root = json_loadb(start, len - (size_t)(start - text), JSON_DISABLE_EOF_CHECK, &je);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return cs_err_set(err, -EPROTO, "inventory: bad JSON: %s", je.text);
	}
	struct cs_host_state *st = cs_xcalloc(1, sizeof *st);
	st->boot = jstr(root, "boot");
	json_t *a = json_object_get(root, "store"), *v;
	size_t i;
	/* ConvertTo-Json writes an array of one as that object. */
	if (json_is_object(a)) {
		json_t *wrap = json_array();
		json_array_append(wrap, a);
		json_object_set_new(root, "store", wrap);
		a = wrap;
	}
	json_array_foreach(a, i, v) {
		st->certs = cs_xrealloc(st->certs, (st->n_certs + 1) * sizeof *st->certs);
		struct win_cert *c = &st->certs[st->n_certs++];
		char *t = jstr(v, "thumbprint");
		c->thumb = upper(t);
		free(t);
		c->subject = jstr(v, "subject");
		char *na = jstr(v, "not_after");
		if (!na || cs_time_parse(&c->not_after, na) < 0)
			c->not_after = 0;
		free(na);
		c->has_key = json_is_true(json_object_get(v, "has_key"));
		c->raw = jstr(v, "raw");
	}
	a = json_object_get(root, "sites");
	st->have_iis = json_is_array(a) || json_is_string(a);
	if (json_is_string(a)) {
		st->sites = cs_xcalloc(1, sizeof *st->sites);
		st->sites[st->n_sites++] = cs_xstrdup(json_string_value(a));
	}
	json_array_foreach(a, i, v) {
		st->sites = cs_xrealloc(st->sites, (st->n_sites + 1) * sizeof *st->sites);
		st->sites[st->n_sites++] = cs_xstrdup(json_is_string(v) ? json_string_value(v) : "");
	}
	a = json_object_get(root, "iis");
	if (json_is_object(a)) {
		json_t *wrap = json_array();
		json_array_append(wrap, a);
		json_object_set_new(root, "iis", wrap);
		a = wrap;
	}
	json_array_foreach(a, i, v) {
		st->iis = cs_xrealloc(st->iis, (st->n_iis + 1) * sizeof *st->iis);
		struct win_iis *b = &st->iis[st->n_iis++];
		b->site = jstr(v, "site");
		b->info = jstr(v, "info");
		char *h = jstr(v, "hash");
		b->hash = h && *h ? upper(h) : NULL;
		free(h);
		char *flags = jstr(v, "flags");
		b->sni = flags && strstr(flags, "Sni");
		free(flags);
	}
	char *netsh = jstr(root, "sslcert");
	parse_netsh(st, netsh);
	free(netsh);
	a = json_object_get(root, "exchange");
	st->have_exchange = json_is_array(a) || json_is_object(a);
	if (json_is_object(a)) {
		json_t *wrap = json_array();
		json_array_append(wrap, a);
		json_object_set_new(root, "exchange", wrap);
		a = json_object_get(root, "exchange");
	}
	json_array_foreach(a, i, v) {
		char *svc = jstr(v, "services"), *t = jstr(v, "thumbprint");
		if (t && svc && *svc && strcasecmp(svc, "None")) {
			st->exchange_used = cs_xrealloc(st->exchange_used,
							(st->n_exchange_used + 1) * sizeof *st->exchange_used);
			st->exchange_used[st->n_exchange_used++] = upper(t);
		}
		for (size_t k = 0; k < 4 && svc; k++) {
			/* "IMAP, POP, IIS, SMTP": whole words only. */
			const char *p = svc;
			size_t wl = strlen(exch_names[k]);
			while ((p = strstr(p, exch_names[k]))) {
				bool lb = p == svc || p[-1] == ' ' || p[-1] == ',';
				bool rb = p[wl] == '\0' || p[wl] == ',' || p[wl] == ' ';
				if (lb && rb) {
					free(st->exchange[k]);
					st->exchange[k] = upper(t);
					break;
				}
				p += wl;
			}
		}
		free(svc);
		free(t);
	}
	v = json_object_get(root, "rdp");
	st->have_rdp = json_is_string(v);
	if (st->have_rdp && json_string_length(v))
		st->rdp = upper(json_string_value(v));
	json_decref(root);
	int r = check_inventory(st, err);
	if (r < 0) {
		cs_platform_windows.host_free(st);
		return r;
	}
	*out = st;
	return 0;
}

static int observe_host(struct cs_transport *t, const struct cs_host_cfg *host,
			struct cs_host_state **out, struct cs_err *err)
{
	struct cs_buf o = CS_BUF_INIT;
	(void)host;
	int r = run_step(t, "inventory", cs_win_inventory, NULL, 0, &o, err);
	if (r == 0 && (r = cs_win_parse_inventory(out, o.data ? o.data : "", o.len, err)) < 0)
		cs_err_prefix(err, "host %s", host_name(t));
	cs_buf_free(&o);
	return r;
}

/* ---- observe / diff ---- */

char *cs_win_iis_info(const struct cs_bind_iis *iis)
{
	return cs_xasprintf("%s:%d:%s", iis->ip ? iis->ip : "*", iis->port ? iis->port : 443,
			    iis->hostname ? iis->hostname : "");
}

static const struct win_ssl *find_ssl(const struct cs_host_state *st, const struct cs_bind_httpsys *h)
{
	const char *kind = h->hostnameport ? "hostnameport" : "ipport";
	const char *ep = h->hostnameport ? h->hostnameport : h->ipport;
	for (size_t i = 0; i < st->n_ssl; i++)
		if (!strcmp(st->ssl[i].kind, kind) && same(st->ssl[i].endpoint, ep))
			return &st->ssl[i];
	return NULL;
}

static const struct win_iis *find_iis(const struct cs_host_state *st, const struct cs_bind_iis *b)
{
	char *info = cs_win_iis_info(b);
	const struct win_iis *hit = NULL;
	for (size_t i = 0; i < st->n_iis && !hit; i++)
		if (same(st->iis[i].site, b->site) && same(st->iis[i].info, info))
			hit = &st->iis[i];
	free(info);
	return hit;
}

/* Is thumb in use by anything the driver can see? */
static bool bound_anywhere(const struct cs_host_state *st, const char *thumb)
{
	for (size_t i = 0; i < st->n_iis; i++)
		if (same(st->iis[i].hash, thumb))
			return true;
	for (size_t i = 0; i < st->n_ssl; i++)
		if (same(st->ssl[i].hash, thumb))
			return true;
	for (size_t i = 0; i < st->n_exchange_used; i++)
		if (same(st->exchange_used[i], thumb))
			return true;
	for (size_t i = 0; i < 4; i++)
		if (same(st->exchange[i], thumb))
			return true;
	return same(st->rdp, thumb);
}

/* Same lineage: the same subject common name. */
static bool same_lineage(const char *subject, const char *cn)
{
	if (!subject || !cn)
		return false;
	size_t n = strlen(cn);
	return !strncasecmp(subject, "CN=", 3) && !strncasecmp(subject + 3, cn, n) &&
	       (subject[3 + n] == '\0' || subject[3 + n] == ',');
}

static void push(char ***v, size_t *n, const char *s)
{
	*v = cs_xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = cs_xstrdup(s);
}

static void observe_in(const struct cs_host_state *st, const struct cs_cert_cfg *cert,
		       const struct cs_binding_cfg *b, struct cs_binding_obs *out)
{
	struct cs_win_obs *w = &out->win;
	for (size_t i = 0; i < st->n_certs; i++)
		if (st->certs[i].has_key)
			push(&w->store, &w->n_store, st->certs[i].thumb);
	switch (b->kind) {
	case CS_BIND_STORE:
		for (size_t i = 0; b->store.cleanup && i < st->n_certs; i++)
			if (same_lineage(st->certs[i].subject, cert ? cert->common_name : NULL) &&
			    !bound_anywhere(st, st->certs[i].thumb)) {
				w->superseded_until = cs_xrealloc(w->superseded_until,
								  (w->n_superseded + 1) * sizeof *w->superseded_until);
				w->superseded_until[w->n_superseded] = st->certs[i].not_after;
				push(&w->superseded, &w->n_superseded, st->certs[i].thumb);
			}
		break;
	case CS_BIND_IIS: {
		if (!st->have_iis) {
			out->error = cs_xstrdup("IIS is not installed (no IISAdministration module)");
			break;
		}
		bool site = false;
		for (size_t i = 0; i < st->n_sites; i++)
			site = site || same(st->sites[i], b->iis.site);
		if (!site) {
			struct cs_buf names = CS_BUF_INIT;
			for (size_t i = 0; i < st->n_sites; i++)
				cs_buf_printf(&names, "%s'%s'", i ? ", " : "", st->sites[i]);
			out->error = cs_xasprintf("IIS site '%s' does not exist (sites: %s)", b->iis.site,
						  names.data ? names.data : "none");
			cs_buf_free(&names);
			break;
		}
		const struct win_iis *hit = find_iis(st, &b->iis);
		w->found = hit != NULL;
		w->hash = hit ? cs_xstrdup(hit->hash) : NULL;
		break;
	}
	case CS_BIND_HTTPSYS: {
		const struct win_ssl *e = find_ssl(st, &b->httpsys);
		w->found = e != NULL;
		w->hash = e ? cs_xstrdup(e->hash) : NULL;
		break;
	}
	case CS_BIND_EXCHANGE:
		if (!st->have_exchange) {
			out->error = cs_xstrdup("Exchange is not installed (no Exchange management snap-in)");
			break;
		}
		for (size_t i = 0; i < 4; i++)
			w->exchange[i] = cs_xstrdup(st->exchange[i]);
		break;
	case CS_BIND_RDP:
		if (!st->have_rdp) {
			out->error = cs_xstrdup("the RDP-Tcp listener's settings cannot be read");
			break;
		}
		w->hash = cs_xstrdup(st->rdp);
		break;
	default:
		break;
	}
}

/* A version the new certificate replaced expires no later than it; one
 * that outlives it (a certificate put there by hand, a longer commercial
 * one) is someone else's and stays.  Unknown expiry: as before. */
static bool older_than(int64_t not_after, const struct cs_material *want)
{
	return not_after == 0 || not_after <= want->info.not_after;
}

static bool in_store(const struct cs_win_obs *w, const char *thumb)
{
	for (size_t i = 0; i < w->n_store; i++)
		if (same(w->store[i], thumb))
			return true;
	return false;
}

static void sep(struct cs_buf *r)
{
	if (r->len)
		cs_buf_puts(r, "; ");
}

static int diff(const struct cs_binding_cfg *b, const struct cs_binding_obs *obs,
		const struct cs_material *want, struct cs_buf *reason)
{
	char thumb[41];
	cs_thumbprint(thumb, cs_material_cert(want));
	const struct cs_win_obs *w = &obs->win;
	size_t before = reason->len;
	switch (b->kind) {
	case CS_BIND_STORE:
		if (!in_store(w, thumb)) {
			cs_buf_printf(reason, "LocalMachine\\My lacks certificate %s", thumb);
		}
		for (size_t i = 0; i < w->n_superseded; i++) {
			if (same(w->superseded[i], thumb) || !older_than(w->superseded_until[i], want))
				continue;
			sep(reason);
			cs_buf_printf(reason, "superseded certificate %s is still in LocalMachine\\My (cleanup)",
				      w->superseded[i]);
		}
		break;
	case CS_BIND_IIS: {
		char *info = cs_win_iis_info(&b->iis);
		if (!w->found)
			cs_buf_printf(reason, "site %s has no https binding %s", b->iis.site, info);
		else if (!same(w->hash, thumb))
			cs_buf_printf(reason, "site %s https %s is bound to %s, not %s", b->iis.site, info,
				      w->hash ? w->hash : "no certificate", thumb);
		free(info);
		break;
	}
	case CS_BIND_HTTPSYS: {
		const char *ep = b->httpsys.hostnameport ? b->httpsys.hostnameport : b->httpsys.ipport;
		const char *kind = b->httpsys.hostnameport ? "hostnameport" : "ipport";
		if (!w->found)
			cs_buf_printf(reason, "http.sys has no sslcert %s=%s", kind, ep);
		else if (!same(w->hash, thumb))
			cs_buf_printf(reason, "http.sys %s=%s has certificate %s, not %s", kind, ep,
				      w->hash ? w->hash : "none", thumb);
		break;
	}
	case CS_BIND_EXCHANGE:
		for (size_t i = 0; i < 4; i++) {
			if (!(b->exchange.services & (1u << i)))
				continue;
			if (!w->exchange[i]) {
				sep(reason);
				cs_buf_printf(reason, "Exchange %s has no certificate assigned", exch_names[i]);
			} else if (!same(w->exchange[i], thumb)) {
				sep(reason);
				cs_buf_printf(reason, "Exchange %s uses %s, not %s", exch_names[i], w->exchange[i], thumb);
			}
		}
		break;
	case CS_BIND_RDP:
		if (!same(w->hash, thumb))
			cs_buf_printf(reason, "RDP-Tcp uses %s, not %s", w->hash ? w->hash : "no certificate", thumb);
		break;
	case CS_BIND_SCRIPT:
		cs_script_diff(obs, want, reason);
		break;
	default:
		cs_buf_printf(reason, "%s bindings are not for windows hosts", cs_binding_kind_name(b->kind));
		break;
	}
	return reason->len > before ? 1 : 0;
}

static int observe(struct cs_transport *t, const struct cs_binding_cfg *b, struct cs_binding_obs *out,
		   struct cs_err *err)
{
	struct cs_host_state *st = NULL;
	int r = observe_host(t, t->host, &st, err);
	if (r < 0)
		return r;
	observe_in(st, NULL, b, out);
	host_free(st);
	return 0;
}

/* ---- scripts, rendered ---- */

int cs_win_import_script(struct cs_buf *out, const char *thumb, bool exportable)
{
	struct cs_win_var v[] = {
		{ .name = "Thumbprint", .type = CS_WIN_STR, .str = thumb },
		{ .name = "Exportable", .type = CS_WIN_BOOL, .boolean = exportable },
		{ .name = "CertsyncRun", .type = CS_WIN_STR, .str = cs_temp_tag() },
	};
	return cs_win_render(out, v, 3, cs_win_import);
}

int cs_win_export_script(struct cs_buf *out, const char *thumb)
{
	struct cs_win_var v[] = { { .name = "Thumbprint", .type = CS_WIN_STR, .str = thumb } };
	return cs_win_render(out, v, 1, cs_win_export);
}

int cs_win_store_remove_script(struct cs_buf *out, char *const *thumbs, size_t n)
{
	struct cs_win_var v[] = {
		{ .name = "Thumbprints", .type = CS_WIN_STRV, .strv = (const char *const *)thumbs, .n = n },
	};
	return cs_win_render(out, v, 1, cs_win_store_remove);
}

static size_t exchange_list(const char **names, unsigned bits)
{
	size_t n = 0;
	for (size_t i = 0; i < 4; i++)
		if (bits & (1u << i))
			names[n++] = exch_names[i];
	return n;
}

/* Names certsync gives a script itself; args may not take them. */
static bool reserved_arg(const char *name)
{
	return !strcasecmp(name, "Thumbprint") || !strcasecmp(name, "PfxPath") ||
	       !strcasecmp(name, "PfxPassword") || !strncasecmp(name, "Certsync", 8) ||
	       !strcasecmp(name, "ErrorActionPreference");
}

int cs_win_bind_script(struct cs_buf *out, const struct cs_binding_cfg *b, const char *thumb,
		       const char *appid, const char *user_script)
{
	switch (b->kind) {
	case CS_BIND_IIS: {
		char *info = cs_win_iis_info(&b->iis);
		struct cs_win_var v[] = {
			{ .name = "Site", .type = CS_WIN_STR, .str = b->iis.site },
			{ .name = "BindingInformation", .type = CS_WIN_STR, .str = info },
			{ .name = "Thumbprint", .type = CS_WIN_STR, .str = thumb },
			{ .name = "Sni", .type = CS_WIN_BOOL, .boolean = b->iis.sni },
		};
		int r = cs_win_render(out, v, 4, cs_win_iis_set);
		free(info);
		return r;
	}
	case CS_BIND_HTTPSYS: {
		struct cs_win_var v[] = {
			{ .name = "Kind", .type = CS_WIN_STR, .str = b->httpsys.hostnameport ? "hostnameport" : "ipport" },
			{ .name = "Endpoint", .type = CS_WIN_STR,
			  .str = b->httpsys.hostnameport ? b->httpsys.hostnameport : b->httpsys.ipport },
			{ .name = "Thumbprint", .type = CS_WIN_STR, .str = thumb },
			{ .name = "AppId", .type = CS_WIN_STR, .str = appid ? appid : IIS_APPID },
		};
		return cs_win_render(out, v, 4, cs_win_httpsys_set);
	}
	case CS_BIND_EXCHANGE: {
		const char *names[4];
		size_t n = exchange_list(names, b->exchange.services);
		struct cs_win_var v[] = {
			{ .name = "Thumbprint", .type = CS_WIN_STR, .str = thumb },
			{ .name = "Services", .type = CS_WIN_STRV, .strv = names, .n = n },
		};
		return cs_win_render(out, v, 2, cs_win_exchange_set);
	}
	case CS_BIND_RDP: {
		struct cs_win_var v[] = { { .name = "Thumbprint", .type = CS_WIN_STR, .str = thumb } };
		return cs_win_render(out, v, 1, cs_win_rdp_set);
	}
	case CS_BIND_SCRIPT: {
		const struct cs_bind_script *s = &b->script;
		struct cs_win_var *v = cs_xcalloc(s->n_args + 3, sizeof *v);
		v[0] = (struct cs_win_var){ .name = "Thumbprint", .type = CS_WIN_STR, .str = thumb };
		v[1] = (struct cs_win_var){ .name = "CertsyncUserScript", .type = CS_WIN_STR, .str = user_script };
		v[2] = (struct cs_win_var){ .name = "CertsyncRun", .type = CS_WIN_STR, .str = cs_temp_tag() };
		int r = 0;
		for (size_t i = 0; i < s->n_args; i++) {
			if (!cs_win_identifier(s->args[i].name) || reserved_arg(s->args[i].name))
				r = -EINVAL;
			v[i + 3] = (struct cs_win_var){ .name = s->args[i].name, .type = CS_WIN_STR,
							.str = s->args[i].value };
		}
		if (r == 0)
			r = cs_win_render(out, v, s->n_args + 3, cs_win_script_head);
		if (r == 0)
			r = cs_buf_puts(out, "    & ([scriptblock]::Create($CertsyncUserScript)) -Thumbprint $Thumbprint "
					"-PfxPath $PfxPath -PfxPassword $PfxPassword");
		for (size_t i = 0; r == 0 && i < s->n_args; i++)
			r = cs_buf_printf(out, " -%s $%s", s->args[i].name, s->args[i].name);
		if (r == 0)
			r = cs_buf_puts(out, "\n");
		if (r == 0)
			r = cs_buf_puts(out, cs_win_script_tail);
		free(v);
		return r;
	}
	default:
		return -EINVAL;
	}
}

int cs_win_undo_script(struct cs_buf *out, const struct cs_undo_bind *u)
{
	const struct cs_binding_cfg *b = u->cfg;
	if (u->prev_hash) {
		if (b->kind == CS_BIND_EXCHANGE) {
			/* Only the services that had that certificate go back. */
			struct cs_binding_cfg only = *b;
			only.exchange.services = u->services;
			return cs_win_bind_script(out, &only, u->prev_hash, u->appid, NULL);
		}
		return cs_win_bind_script(out, b, u->prev_hash, u->appid, NULL);
	}
	if (b->kind == CS_BIND_IIS) {
		char *info = cs_win_iis_info(&b->iis);
		struct cs_win_var v[] = {
			{ .name = "Site", .type = CS_WIN_STR, .str = b->iis.site },
			{ .name = "BindingInformation", .type = CS_WIN_STR, .str = info },
		};
		int r = cs_win_render(out, v, 2, cs_win_iis_remove);
		free(info);
		return r;
	}
	if (b->kind == CS_BIND_HTTPSYS) {
		struct cs_win_var v[] = {
			{ .name = "Kind", .type = CS_WIN_STR, .str = b->httpsys.hostnameport ? "hostnameport" : "ipport" },
			{ .name = "Endpoint", .type = CS_WIN_STR,
			  .str = b->httpsys.hostnameport ? b->httpsys.hostnameport : b->httpsys.ipport },
		};
		return cs_win_render(out, v, 2, cs_win_httpsys_remove);
	}
	return 1; /* nothing to put back (Exchange cannot unassign a service) */
}

/* ---- PFX ---- */

/* Input for import and script runs: "<password>\n<base64 PFX>\n".  The PFX
 * is AES-256-CBC with PBKDF2 and a SHA-256 MAC, under a password made for
 * this one transfer (Windows Server 2019+ and 2016 1709+ read that). */
static int pfx_input(struct cs_buf *out, const struct cs_material *m, const char *host, struct cs_err *err)
{
	unsigned char rnd[24];
	char pw[49];
	STACK_OF(X509) *ca = NULL;
	PKCS12 *p12 = NULL;
	unsigned char *der = NULL;
	int r = 0;
	if (RAND_bytes(rnd, sizeof rnd) != 1) {
		r = cs_err_ssl(err, -EIO, "host %s: pfx password", host);
		goto out;
	}
	for (size_t i = 0; i < sizeof rnd; i++) {
		pw[2 * i] = "0123456789abcdef"[rnd[i] >> 4];
		pw[2 * i + 1] = "0123456789abcdef"[rnd[i] & 15];
	}
	pw[48] = '\0';
	if (m->chain_pem.len && (r = cs_certs_parse(&ca, m->chain_pem.data, m->chain_pem.len, err)) < 0)
		goto out;
	p12 = PKCS12_create_ex(pw, "certsync", cs_material_key(m), cs_material_cert(m), ca, NID_aes_256_cbc, NID_aes_256_cbc,
			       PKCS12_DEFAULT_ITER, -1, 0, NULL, NULL);
	if (!p12 || !PKCS12_set_mac(p12, pw, -1, NULL, 0, PKCS12_DEFAULT_ITER, EVP_sha256())) {
		r = cs_err_ssl(err, -EIO, "host %s: build pfx", host);
		goto out;
	}
	int n = i2d_PKCS12(p12, &der);
	if (n <= 0) {
		r = cs_err_ssl(err, -EIO, "host %s: encode pfx", host);
		goto out;
	}
	if ((r = cs_buf_puts(out, pw)) == 0 && (r = cs_buf_puts(out, "\n")) == 0 &&
	    (r = cs_b64_append(out, der, (size_t)n, 0)) == 0)
		r = cs_buf_puts(out, "\n");
	if (r < 0)
		r = cs_err_errno(err, r, "host %s: pfx", host);
out:
	OPENSSL_cleanse(pw, sizeof pw);
	OPENSSL_cleanse(rnd, sizeof rnd);
	OPENSSL_free(der);
	PKCS12_free(p12);
	sk_X509_pop_free(ca, X509_free);
	return r;
}

static int import(struct cs_transport *t, const struct cs_material *want, bool exportable, struct cs_err *err)
{
	char thumb[41];
	cs_thumbprint(thumb, cs_material_cert(want));
	struct cs_buf in = CS_BUF_INIT, script = CS_BUF_INIT;
	int r = pfx_input(&in, want, host_name(t), err);
	if (r == 0 && (r = cs_win_import_script(&script, thumb, exportable)) < 0)
		r = cs_err_errno(err, r, "host %s: import", host_name(t));
	if (r == 0)
		r = run_step(t, "import into LocalMachine\\My", script.data, in.data, in.len, NULL, err);
	cs_buf_free_secret(&in);
	cs_buf_free(&script);
	return r;
}

static int import_needed(const struct cs_host_state *st, const struct cs_host_cfg *host,
			 const struct cs_material *want, struct cs_buf *reason)
{
	char thumb[41];
	cs_thumbprint(thumb, cs_material_cert(want));
	for (size_t i = 0; i < st->n_certs; i++)
		if (same(st->certs[i].thumb, thumb)) {
			if (st->certs[i].has_key)
				return 0;
			cs_buf_printf(reason, "host %s has certificate %s without its private key", host->name, thumb);
			return 1;
		}
	cs_buf_printf(reason, "host %s lacks certificate %s", host->name, thumb);
	return 1;
}

/* ---- apply / undo ---- */

static const char *step_name(const struct cs_binding_cfg *b, struct cs_buf *tmp)
{
	char *where = cs_binding_where(b);
	cs_buf_printf(tmp, "bind %s%s%s", cs_binding_kind_name(b->kind), where[0] ? " " : "", where);
	free(where);
	return tmp->data;
}

static int apply(struct cs_transport *t, const struct cs_binding_cfg *b, const struct cs_material *want,
		 struct cs_undo *undo, struct cs_err *err)
{
	char thumb[41];
	cs_thumbprint(thumb, cs_material_cert(want));
	struct cs_host_state *st = NULL;
	struct cs_buf step = CS_BUF_INIT, script = CS_BUF_INIT, in = CS_BUF_INIT, text = CS_BUF_INIT;
	struct cs_binding_obs now;
	memset(&now, 0, sizeof now);
	const char *what = step_name(b, &step);
	int r = observe_host(t, t->host, &st, err);
	if (r < 0)
		goto out;
	observe_in(st, NULL, b, &now);
	if (now.error) {
		r = cs_err_set(err, -ENOENT, "host %s: %s: %s", host_name(t), what, now.error);
		goto out;
	}
	if (!in_store(&now.win, thumb)) {
		r = cs_err_set(err, -ENOENT, "host %s: %s: certificate %s is not in LocalMachine\\My with its key",
			       host_name(t), what, thumb);
		goto out;
	}
	const char *appid = NULL;
	if (b->kind == CS_BIND_STORE) {
		/* The import made the store right; only cleanup is left, of
		 * certificates bound nowhere right now. */
		char **gone = NULL;
		size_t n_gone = 0;
		if (b->store.cleanup) {
			for (size_t i = 0; i < st->n_certs; i++)
				if (!same(st->certs[i].thumb, thumb) && !bound_anywhere(st, st->certs[i].thumb) &&
				    same_lineage(st->certs[i].subject, want->info.common_name) &&
				    older_than(st->certs[i].not_after, want))
					push(&gone, &n_gone, st->certs[i].thumb);
		}
		if (n_gone) {
			if ((r = cs_win_store_remove_script(&script, gone, n_gone)) < 0)
				r = cs_err_errno(err, r, "host %s: %s", host_name(t), what);
			else
				r = run_step(t, "remove superseded certificates", script.data, NULL, 0, NULL, err);
		}
		cs_strv_free(gone, n_gone);
		goto out;
	}
	if (b->kind != CS_BIND_SCRIPT) {
		/* Remember what is there before touching it. */
		undo->binds = cs_xrealloc(undo->binds, (undo->n_binds + 1) * sizeof *undo->binds);
		struct cs_undo_bind *u = &undo->binds[undo->n_binds++];
		memset(u, 0, sizeof *u);
		u->kind = b->kind;
		u->cfg = b;
		if (b->kind == CS_BIND_EXCHANGE) {
			for (size_t i = 0; i < 4; i++)
				if ((b->exchange.services & (1u << i)) && now.win.exchange[i]) {
					if (!u->prev_hash)
						u->prev_hash = cs_xstrdup(now.win.exchange[i]);
					if (same(u->prev_hash, now.win.exchange[i]))
						u->services |= 1u << i;
				}
		} else if (now.win.found || b->kind == CS_BIND_RDP) {
			u->prev_hash = cs_xstrdup(now.win.hash);
		}
		if (b->kind == CS_BIND_HTTPSYS) {
			const struct win_ssl *e = find_ssl(st, &b->httpsys);
			appid = e && e->appid ? e->appid : b->httpsys.appid;
			u->appid = cs_xstrdup(appid);
		}
		u->what = cs_xasprintf("%s: back to %s", what, u->prev_hash ? u->prev_hash : "nothing");
	}
	if (b->kind == CS_BIND_SCRIPT) {
		if ((r = cs_file_read(&text, b->script.path, (size_t)4 << 20, err)) < 0) {
			cs_err_prefix(err, "host %s: %s", host_name(t), what);
			goto out;
		}
		if ((r = pfx_input(&in, want, host_name(t), err)) < 0)
			goto out;
	}
	if ((r = cs_win_bind_script(&script, b, thumb, appid, text.data ? text.data : "")) < 0) {
		r = cs_err_errno(err, r, "host %s: %s: script arguments must be plain names "
				 "(not Thumbprint, PfxPath, PfxPassword or Certsync*)", host_name(t), what);
		goto out;
	}
	r = run_step(t, what, script.data, in.data, in.len, NULL, err);
out:
	cs_binding_obs_free(&now);
	host_free(st);
	cs_buf_free(&step);
	cs_buf_free(&script);
	cs_buf_free_secret(&in);
	cs_buf_free(&text);
	return r;
}

static int undo(struct cs_transport *t, const struct cs_undo *u, struct cs_err *err)
{
	int result = 0;
	for (size_t k = u->n_binds; k-- > 0;) {
		struct cs_buf script = CS_BUF_INIT;
		int r = cs_win_undo_script(&script, &u->binds[k]);
		if (r == 0) {
			r = run_step(t, u->binds[k].what, script.data, NULL, 0, NULL, err);
		} else if (r < 0) {
			r = cs_err_errno(err, r, "host %s: %s", host_name(t), u->binds[k].what);
		} else {
			r = 0;
		}
		if (r < 0 && result == 0)
			result = r;
		cs_buf_free(&script);
	}
	return result;
}

static int reload(struct cs_transport *t, const char *command, struct cs_err *err)
{
	return cs_err_set(err, -ENOTSUP, "host %s: reload `%s`: windows hosts have no reload commands",
			  host_name(t), command);
}

/* ---- reboot ---- */

static int boot_time(struct cs_transport *t, char **out, struct cs_err *err)
{
	struct cs_buf o = CS_BUF_INIT;
	int r = run_step(t, "read boot time", cs_win_boot_time, NULL, 0, &o, err);
	if (r == 0) {
		char *s = o.data ? o.data : "";
		size_t n = strlen(s);
		while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
			s[--n] = '\0';
		*out = cs_xstrdup(s);
	}
	cs_buf_free(&o);
	return r;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Seconds on a clock that only moves forward: the reboot wait is real
 * time, not cs_now() (which tests pin with CERTSYNC_NOW, and which jumps
 * with the wall clock). */
static int64_t mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* Restart-Computer, then poll with fresh connections (the old one dies
 * with the host) until the boot time differs: answering alone is not
 * enough, the host may not have gone down yet. */
static int reboot(struct cs_transport *t, int64_t timeout, struct cs_err *err)
{
	char *before = NULL, *after = NULL;
	struct cs_err last = CS_ERR_INIT;
	int r = boot_time(t, &before, err);
	if (r < 0)
		goto out;
	if ((r = run_step(t, "reboot", cs_win_reboot, NULL, 0, NULL, err)) < 0)
		goto out;
	cs_fault_point("reboot.asked");
	int64_t deadline = mono_s() + (timeout > 0 ? timeout : 600);
	for (;;) {
		sleep_ms(1000);
		struct cs_transport *fresh = NULL;
		cs_err_clear(&last);
		if (cs_transport_open(&fresh, t->host, &last) == 0) {
			free(after);
			after = NULL;
			if (boot_time(fresh, &after, &last) == 0 && strcmp(after, before)) {
				cs_transport_close(fresh);
				r = 0;
				goto out;
			}
			cs_transport_close(fresh);
		}
		if (mono_s() >= deadline) {
			r = cs_err_set(err, -ETIMEDOUT, "host %s: reboot: not back within %llds (%s)", host_name(t),
				       (long long)(timeout > 0 ? timeout : 600),
				       last.msg ? cs_err_msg(&last) : after ? "boot time unchanged" : "no answer");
			goto out;
		}
	}
out:
	cs_err_clear(&last);
	free(before);
	free(after);
	return r;
}

static const char *host_boot(const struct cs_host_state *st)
{
	return st->boot;
}

static void host_digest(const struct cs_host_state *st, struct cs_buf *out)
{
	for (size_t i = 0; i < st->n_certs; i++)
		cs_buf_printf(out, " cert %s key=%d", st->certs[i].thumb, st->certs[i].has_key);
	for (size_t i = 0; i < st->n_iis; i++)
		cs_buf_printf(out, " iis %s|%s|%s", st->iis[i].site, st->iis[i].info,
			      st->iis[i].hash ? st->iis[i].hash : "-");
	for (size_t i = 0; i < st->n_ssl; i++)
		cs_buf_printf(out, " ssl %s=%s|%s", st->ssl[i].kind, st->ssl[i].endpoint,
			      st->ssl[i].hash ? st->ssl[i].hash : "-");
	for (size_t i = 0; i < 4; i++)
		cs_buf_printf(out, " ex %s", st->exchange[i] ? st->exchange[i] : "-");
	cs_buf_printf(out, " rdp %s", st->rdp ? st->rdp : "-");
}

const struct cs_platform_ops cs_platform_windows = {
	.name = "windows",
	.observe = observe,               /* one binding: runs the inventory (observe_host is cheaper) */
	.diff = diff,
	.apply = apply,                   /* reads the host again, records the previous hash, sets */
	.undo = undo,
	.reload = reload,                 /* none on windows */
	.observe_host = observe_host,     /* one inventory script per host and plan */
	.observe_in = observe_in,
	.import_needed = import_needed,
	.import = import,                 /* PFX over stdin, Import-PfxCertificate */
	.reboot = reboot,
	.host_boot = host_boot,
	.host_digest = host_digest,
	.host_free = host_free,
};

/* ---- discover ---- */

/* The certificate thumb with its key: exported as a PFX under a one-time
 * password over the transport.  NULL with *problem set when it cannot be
 * (a key that is not exportable). */
static EVP_PKEY *export_key(struct cs_transport *t, const char *thumb, X509 *cert, char **problem)
{
	unsigned char rnd[24];
	char pw[49];
	struct cs_err err = CS_ERR_INIT;
	struct cs_buf script = CS_BUF_INIT, in = CS_BUF_INIT, out = CS_BUF_INIT, der = CS_BUF_INIT;
	EVP_PKEY *key = NULL;
	X509 *got = NULL;
	STACK_OF(X509) *ca = NULL;
	PKCS12 *p12 = NULL;
	if (RAND_bytes(rnd, sizeof rnd) != 1) {
		*problem = cs_xstrdup("no random bytes for the export password");
		return NULL;
	}
	for (size_t i = 0; i < sizeof rnd; i++) {
		pw[2 * i] = "0123456789abcdef"[rnd[i] >> 4];
		pw[2 * i + 1] = "0123456789abcdef"[rnd[i] & 15];
	}
	pw[48] = '\0';
	cs_buf_printf(&in, "%s\n", pw);
	if (cs_win_export_script(&script, thumb) < 0) {
		*problem = cs_xstrdup("the export script could not be rendered");
		goto out;
	}
	if (run_step(t, "export key", script.data, in.data, in.len, &out, &err) < 0) {
		const char *m = cs_err_msg(&err);
		const char *e = strstr(m, "exit ");
		e = e && strstr(e, ": ") ? strstr(e, ": ") + 2 : m;
		*problem = strstr(m, "Key not valid for use in specified state")
				   ? cs_xasprintf("its key in LocalMachine\\My on %s is not exportable", host_name(t))
				   : cs_xasprintf("export from LocalMachine\\My on %s: %s", host_name(t), e);
		goto out;
	}
	const char *b64 = out.data ? out.data : "";
	size_t n = out.len;
	while (n && (b64[n - 1] == '\n' || b64[n - 1] == '\r' || b64[n - 1] == ' '))
		n--;
	const unsigned char *p = NULL;
	if (cs_b64_decode(&der, b64, n, CS_B64_SPACE) < 0 || !der.len ||
	    !(p = (const unsigned char *)der.data, p12 = d2i_PKCS12(NULL, &p, (long)der.len)) ||
	    !PKCS12_parse(p12, pw, &key, &got, &ca) || !key || !got) {
		*problem = cs_xasprintf("the PFX exported from LocalMachine\\My on %s could not be read", host_name(t));
		EVP_PKEY_free(key);
		key = NULL;
		goto out;
	}
	if (X509_cmp(got, cert) || X509_check_private_key(cert, key) != 1) {
		*problem = cs_xasprintf("the PFX exported from LocalMachine\\My on %s holds another certificate or key",
					host_name(t));
		EVP_PKEY_free(key);
		key = NULL;
	}
out:
	OPENSSL_cleanse(pw, sizeof pw);
	X509_free(got);
	if (ca)
		sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	cs_err_clear(&err);
	cs_buf_free(&script);
	cs_buf_free_secret(&in);
	cs_buf_free(&out);
	cs_buf_free_secret(&der);
	return key;
}

static void add_port(struct cs_found *f, int port, const char *starttls)
{
	for (size_t i = 0; i < f->n_ports; i++)
		if (f->ports[i].port == port)
			return;
	if (port > 0 && f->n_ports < CS_FOUND_MAX_PORTS)
		f->ports[f->n_ports++] = (struct cs_found_port){ port, starttls };
}

static void source_add(struct cs_buf *src, const char *fmt, ...) CS_PRINTF(2, 3);
static void source_add(struct cs_buf *src, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = cs_xvasprintf(fmt, ap);
	va_end(ap);
	cs_buf_printf(src, "%s%s", src->len ? ", " : "", s);
	free(s);
}

/* The bindings of one store certificate on the host, into f. */
static void found_bindings(const struct cs_host_state *st, const struct win_cert *c, struct cs_found *f,
			   struct cs_buf *src)
{
	for (size_t i = 0; i < st->n_iis; i++) {
		const struct win_iis *b = &st->iis[i];
		if (!b->hash || !same(b->hash, c->thumb))
			continue;
		/* "ip:port:hostname" */
		char *info = cs_xstrdup(b->info ? b->info : "*:443:");
		char *c1 = strchr(info, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (c1)
			*c1 = 0;
		if (c2)
			*c2 = 0;
		int port = c1 ? atoi(c1 + 1) : 443;
		struct cs_found_binding *fb = cs_found_binding_add(f, "iis");
		cs_found_row(fb, "site", b->site ? b->site : "");
		char num[16];
		snprintf(num, sizeof num, "%d", port);
		cs_found_row_plain(fb, "port", num);
		if (*info && strcmp(info, "*"))
			cs_found_row(fb, "ip", info);
		if (c2 && c2[1])
			cs_found_row(fb, "hostname", c2 + 1);
		if (b->sni)
			cs_found_row_plain(fb, "sni", "true");
		add_port(f, port, NULL);
		source_add(src, "IIS site %s %s", b->site ? b->site : "", b->info ? b->info : "");
		free(info);
	}
	for (size_t i = 0; i < st->n_ssl; i++) {
		const struct win_ssl *e = &st->ssl[i];
		if (!e->hash || !same(e->hash, c->thumb))
			continue;
		/* The entries IIS made for its own bindings are IIS's. */
		bool iis = false;
		for (size_t k = 0; k < st->n_iis && !iis; k++) {
			const struct win_iis *b = &st->iis[k];
			if (!b->hash || !same(b->hash, e->hash) || !b->info)
				continue;
			char *info = cs_xstrdup(b->info);
			char *c1 = strchr(info, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
			if (c1 && c2) {
				*c1 = *c2 = 0;
				char *key = b->sni ? cs_xasprintf("%s:%s", c2 + 1, c1 + 1)
						   : cs_xasprintf("%s:%s", strcmp(info, "*") ? info : "0.0.0.0", c1 + 1);
				iis = !strcasecmp(key, e->endpoint ? e->endpoint : "");
				free(key);
			}
			free(info);
		}
		if (iis || !e->endpoint)
			continue;
		struct cs_found_binding *fb = cs_found_binding_add(f, "httpsys");
		cs_found_row(fb, e->kind, e->endpoint);
		if (e->appid)
			cs_found_row(fb, "appid", e->appid);
		const char *colon = strrchr(e->endpoint, ':');
		add_port(f, colon ? atoi(colon + 1) : 0, NULL);
		source_add(src, "http.sys %s", e->endpoint);
	}
	static const int exch_ports[4] = { 110, 143, 25, 0 };
	static const char *const exch_tls[4] = { "pop3", "imap", "smtp", NULL };
	struct cs_buf svc = CS_BUF_INIT;
	for (size_t k = 0; k < 4; k++)
		if (st->exchange[k] && same(st->exchange[k], c->thumb)) {
			cs_buf_printf(&svc, "%s%s", svc.len ? ", " : "", exch_names[k]);
			add_port(f, exch_ports[k], exch_tls[k]);
		}
	if (svc.len) {
		char *list = cs_xasprintf("[%s]", svc.data);
		cs_found_row_plain(cs_found_binding_add(f, "exchange"), "services", list);
		source_add(src, "Exchange %s", svc.data);
		free(list);
	}
	cs_buf_free(&svc);
	if (st->rdp && same(st->rdp, c->thumb)) {
		cs_found_binding_add(f, "rdp");
		source_add(src, "the RDP listener");
	}
}

int cs_windows_discover(struct cs_transport *t, const struct cs_discover_opts *o, struct cs_found_list *out,
			struct cs_err *err)
{
	(void)o;
	struct cs_host_state *st = NULL;
	struct cs_buf text = CS_BUF_INIT;
	int r = run_step(t, "discover", cs_win_discover, NULL, 0, &text, err);
	if (r == 0 && (r = cs_win_parse_inventory(&st, text.data ? text.data : "", text.len, err)) < 0)
		cs_err_prefix(err, "host %s", host_name(t));
	cs_buf_free(&text);
	if (r < 0)
		return r;
	/* Bindings naming a certificate the store does not hold. */
	for (size_t i = 0; i < st->n_iis; i++) {
		bool held = !st->iis[i].hash;
		for (size_t k = 0; k < st->n_certs && !held; k++)
			held = same(st->certs[k].thumb, st->iis[i].hash);
		if (!held)
			cs_found_problem(out, "IIS site %s (%s) uses certificate %s, which LocalMachine\\My does not hold",
					 st->iis[i].site ? st->iis[i].site : "", st->iis[i].info ? st->iis[i].info : "",
					 st->iis[i].hash);
	}
	for (size_t i = 0; i < st->n_certs; i++) {
		const struct win_cert *c = &st->certs[i];
		struct cs_buf der = CS_BUF_INIT;
		struct cs_err e = CS_ERR_INIT;
		X509 *cert = NULL;
		const unsigned char *p = NULL;
		if (!c->raw || cs_b64_decode(&der, c->raw, strlen(c->raw), CS_B64_SPACE) < 0 || !der.len ||
		    !(p = (const unsigned char *)der.data, cert = d2i_X509(NULL, &p, (long)der.len))) {
			cs_found_problem(out, "certificate %s in LocalMachine\\My could not be read (its RawData is not a certificate)",
					 c->thumb ? c->thumb : "?");
			cs_err_clear(&e);
			cs_buf_free(&der);
			continue;
		}
		cs_buf_free(&der);
		char thumb[41];
		cs_thumbprint(thumb, cert);
		if (!c->thumb || !same(thumb, c->thumb)) {
			cs_found_problem(out, "certificate %s in LocalMachine\\My: its RawData has thumbprint %s",
					 c->thumb ? c->thumb : "?", thumb);
			X509_free(cert);
			continue;
		}
		struct cs_found tmp = { 0 };
		struct cs_buf src = CS_BUF_INIT;
		found_bindings(st, c, &tmp, &src);
		/* A certificate nothing binds: the store's own, when its key
		 * is there (one without is someone's CA or a leftover). */
		if (!tmp.n_bindings && !c->has_key) {
			cs_found_free(&tmp);
			cs_buf_free(&src);
			X509_free(cert);
			continue;
		}
		EVP_PKEY *key = NULL;
		char *problem = NULL;
		if (c->has_key)
			key = export_key(t, thumb, cert, &problem);
		else
			problem = cs_xasprintf("LocalMachine\\My on %s holds it without its private key", host_name(t));
		if (!tmp.n_bindings) {
			struct cs_found_binding *fb = cs_found_binding_add(&tmp, "store");
			if (key)
				cs_found_row_plain(fb, "exportable", "true");
			source_add(&src, "LocalMachine\\My");
		}
		struct cs_found *f = cs_found_add(out);
		*f = tmp;
		f->service = cs_xstrdup("windows");
		cs_buf_append(&src, "", 1);
		f->source = cs_xstrdup(src.data);
		cs_buf_free(&src);
		f->cert = cert;
		f->chain = sk_X509_new_null();
		f->key = key;
		f->key_problem = problem;
	}
	host_free(st);
	return 0;
}
