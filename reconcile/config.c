/* The config loader: YAML (libyaml document API) → the typed model of
 * config.h, with the whole schema and every reference checked.
 *
 * Validation never stops at the first problem: each check reports a
 * FILE:LINE:COL diagnostic and parsing goes on with a sensible value, so an
 * operator fixes a file in one round.  Checks that would only repeat an
 * earlier error (a reference to a host whose definition was broken, say) are
 * skipped rather than reported twice.
 *
 * Secret values are never read here and never appear in a message: a literal
 * where a secret reference belongs is reported by key name only. */
#include "reconcile/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include "providers/base/duration.h"
#include "providers/base/util.h"
#include "providers/base/value_syntax.h"
#include "providers/base/yaml_value.h"
#include "providers/issuer/issuer.h"
#include "providers/platform/binding_kind.h"
#include "providers/transport/transport.h"

/* A cap so that a wrong -c argument pointing at a disk image fails at once
 * (the size is checked before reading).  Not a bound on the estate: a
 * config of 100,000 certificates is about 25 MB; the YAML limits
 * (yaml_value.c) bound what is built from it. */
#define CONFIG_MAX (128u << 20)
/* Names become file names in state_dir ("NAME.key", "NAME.p7b"): stay well
 * below the 255-byte limit of common file systems. */
#define NAME_MAX_LEN 200

/* A file a files binding writes, to find two bindings writing the same one. */
struct target {
	size_t host;
	const char *path;       /* owned by the model */
	const char *cert;       /* owned by the model */
	size_t binding;         /* 1-based */
	const char *role;       /* "cert", "key", ... */
};

/* A slot of the (host, path) index: 8 bytes, so that the index of 200,000
 * files stays small; the key is read from targets. */
struct tslot {
	uint32_t hash;          /* of (host, path) */
	uint32_t at;            /* 1 + the index in targets; 0: empty */
};

struct ctx {
	struct cs_yaml y;       /* the file, its diagnostics and value getters */
	struct cs_config *cfg;
	struct target *targets;
	size_t n_targets, cap_targets;
	struct tslot *target_index; /* (host, path) → targets, open addressing */
	size_t cap_index;          /* a power of two, at least twice n_targets */
	struct cs_strmap host_index; /* host name → hosts, made on first use */
	struct cs_strmap issuer_index; /* issuer name → issuers, made on first use */
	const char *const *all_kinds; /* every binding kind's name, NULL-ended */
	const char *const *binding_keys; /* the keys of a binding: host and the kinds */
};

/* ---- the files bindings write ---- */

/* Long configs must not be checked by comparing every file with every
 * other (quadratic): a hash of (host, path). */
static uint32_t path_hash(size_t host, const char *path)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)host;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (uint32_t)(h ^ (h >> 32));
}

/* The slot holding (host, path), or the empty one where it goes.  The
 * index is a power of two and at most half full. */
static struct tslot *target_slot(const struct ctx *c, size_t host, const char *path, uint32_t h)
{
	for (size_t i = h & (c->cap_index - 1);; i = (i + 1) & (c->cap_index - 1)) {
		struct tslot *s = &c->target_index[i];
		if (!s->at)
			return s;
		const struct target *t = &c->targets[s->at - 1];
		if (s->hash == h && t->host == host && strcmp(t->path, path) == 0)
			return s;
	}
}

static void target_index_grow(struct ctx *c)
{
	size_t ncap = c->cap_index ? 2 * c->cap_index : 64;
	struct tslot *n = cs_xcalloc(ncap, sizeof *n);
	for (size_t i = 0; i < c->cap_index; i++) {
		const struct tslot *o = &c->target_index[i];
		if (!o->at)
			continue;
		size_t j = o->hash & (ncap - 1);
		while (n[j].at)
			j = (j + 1) & (ncap - 1);
		n[j] = *o;
	}
	free(c->target_index);
	c->target_index = n;
	c->cap_index = ncap;
}

/* ---- duplicates in long lists ---- */

/* Finding repeated names by comparing each with all before it is
 * quadratic: 20,000 hosts took 20 s.  Sorting (name, position) pairs once
 * gives every entry the position of the first one with its name. */
struct named {
	const char *s;          /* NULL: not a name, never a duplicate */
	size_t i;
};

static int named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int r = strcmp(x->s, y->s);
	return r ? r : (x->i > y->i) - (x->i < y->i);
}

static int named_casecmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int r = strcasecmp(x->s, y->s);
	return r ? r : (x->i > y->i) - (x->i < y->i);
}

/* first[i] = the smallest j with the same name as i (i itself when none
 * before it); names[i] NULL counts as unique.  Caller frees. */
static size_t *first_same(const char *const *names, size_t n, bool nocase)
{
	size_t *first = cs_xcalloc(n ? n : 1, sizeof *first);
	struct named *v = cs_xcalloc(n ? n : 1, sizeof *v);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		first[i] = i;
		if (names[i])
			v[m++] = (struct named){ names[i], i };
	}
	qsort(v, m, sizeof *v, nocase ? named_casecmp : named_cmp);
	for (size_t k = 1; k < m; k++) {
		bool same = nocase ? strcasecmp(v[k].s, v[k - 1].s) == 0 : strcmp(v[k].s, v[k - 1].s) == 0;
		if (same)
			first[v[k].i] = first[v[k - 1].i];
	}
	free(v);
	return first;
}

/* Names of issuers, hosts and certificates become file names. */
static bool name_ok(const char *s)
{
	bool first = true;
	for (; *s; s++, first = false) {
		bool alnum = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9');
		if (!alnum && (first || (*s != '.' && *s != '_' && *s != '-')))
			return false;
	}
	return !first;
}

/* ---- sections ---- */

/* The name of an entry in issuers/hosts/certificates: NULL when the entry
 * must be skipped (not a string, or a second definition). */
static const char *entry_name(struct ctx *c, const struct cs_ynode *map, size_t i, size_t first, const char *what)
{
	struct cs_ynode *k = cs_yaml_pair(map, i)->key;
	if (!k || k->type != CS_YN_SCALAR || cs_yaml_kind(k) == CS_YV_NULL) {
		cs_yaml_report(&c->y, k, "%s names must be strings, got %s", what, k ? cs_yaml_kind_name(cs_yaml_kind(k)) : "nothing");
		return NULL;
	}
	const char *name = cs_yaml_text(k);
	if (first != i) {
		cs_yaml_report(&c->y, k, "%s \"%s\" is defined twice (first on line %d)", what, cs_yaml_esc(&c->y, name),
		       cs_yaml_pos(cs_yaml_pair(map, first)->key).line);
		return NULL;
	}
	if (strlen(name) > NAME_MAX_LEN)
		cs_yaml_report(&c->y, k, "%s name \"%s\" is longer than %d characters", what, cs_yaml_esc(&c->y, name), NAME_MAX_LEN);
	else if (!name_ok(name))
		cs_yaml_report(&c->y, k, "invalid %s name \"%s\": use letters, digits, \".\", \"_\" and \"-\", starting "
		       "with a letter or digit (names become file names)", what, cs_yaml_esc(&c->y, name));
	return name;
}

/* The entry's value, which must be a mapping; an empty value is taken as an
 * empty mapping so that its missing keys are reported. */
static struct cs_ynode *entry_value(struct ctx *c, const struct cs_ynode *map, size_t i, const char *what,
				const char *name)
{
	struct cs_ynode *v = cs_yaml_pair(map, i)->value;
	enum cs_yaml_vkind k = cs_yaml_kind(v);
	if (k != CS_YV_MAP && k != CS_YV_NULL) {
		cs_yaml_report(&c->y, v, "expected a mapping for %s %s, got %s", what, cs_yaml_esc(&c->y, name), cs_yaml_kind_name(k));
		return NULL;
	}
	return v;
}

/* Each entry of a section of named entries (hosts, issuers, certificates)
 * whose name can be used goes to parse_one with its key (for positions) and
 * its value (NULL when that is not a mapping: reported already). */
static void parse_entries(struct ctx *c, const struct cs_ynode *map, const char *what,
			  void (*parse_one)(struct ctx *, const char *name, const struct cs_ynode *key,
					    const struct cs_ynode *value))
{
	size_t n = cs_yaml_n_pairs(map);
	const char **names = cs_xcalloc(n ? n : 1, sizeof *names);
	for (size_t i = 0; i < n; i++) {
		struct cs_ynode *k = cs_yaml_pair(map, i)->key;
		if (k && k->type == CS_YN_SCALAR)
			names[i] = cs_yaml_text(k);
	}
	size_t *first = first_same(names, n, false);
	/* The strings for messages of one entry are dropped after it. */
	struct cs_yaml_mark mark = cs_yaml_mark(&c->y);
	for (size_t i = 0; i < n; i++) {
		const char *name = entry_name(c, map, i, first[i], what);
		if (name)
			parse_one(c, name, cs_yaml_pair(map, i)->key, entry_value(c, map, i, what, name));
		cs_yaml_release(&c->y, &mark);
	}
	free(first);
	free(names);
}

static void parse_settings(struct ctx *c, const struct cs_ynode *root)
{
	static const char *const keys[] = { "state_dir", "parallelism", "state", NULL };
	const char *where = "in settings";
	struct cs_settings *s = &c->cfg->settings;
	s->state_dir = cs_yaml_local_path(&c->y, ".certsync");
	s->parallelism = 32;
	struct cs_ynode *m = cs_yaml_map(&c->y, root, "settings", "at the top level", false);
	if (!m)
		return;
	cs_yaml_check_keys(&c->y, m, keys, where);
	cs_yaml_path(&c->y, m, "state_dir", where, false, &s->state_dir);
	cs_yaml_int(&c->y, m, "parallelism", where, false, 1, 1024, &s->parallelism);
	static const char *const state_keys[] = { "postgres", NULL };
	static const char *const pg_keys[] = { "dsn", "key", NULL };
	struct cs_ynode *st = cs_yaml_map(&c->y, m, "state", where, false);
	if (!st)
		return;
	cs_yaml_check_keys(&c->y, st, state_keys, "in settings.state");
	struct cs_ynode *pg = cs_yaml_map(&c->y, st, "postgres", "in settings.state", true);
	if (!pg)
		return;
	cs_yaml_check_keys(&c->y, pg, pg_keys, "in settings.state.postgres");
	s->pg.set = true;
	cs_yaml_secret(&c->y, pg, "dsn", "in settings.state.postgres", true, &s->pg.dsn);
	cs_yaml_secret(&c->y, pg, "key", "in settings.state.postgres", true, &s->pg.key);
}

/* ---- hosts ---- */

static void parse_host(struct ctx *c, const char *name, const struct cs_ynode *key, const struct cs_ynode *m)
{
	static const char *const keys[] = { "platform", "local", "ssh", "winrm", "reboot", "reboot_timeout", NULL };
	static const char *const platforms[] = { "linux", "windows", NULL };
	static const char *const transports[] = { "local", "ssh", "winrm", NULL };
	static const char *const reboots[] = { "never", "after-change", NULL };
	struct cs_host_cfg *h = &c->cfg->hosts[c->cfg->n_hosts++];
	h->name = cs_xstrdup(name);
	h->pos = cs_yaml_pos(key);
	if (!m)
		return;
	const char *shown = cs_yaml_esc(&c->y, name);
	const char *where = cs_yaml_fmt(&c->y, "in host %s", shown);
	cs_yaml_check_keys(&c->y, m, keys, where);

	int i = 0;
	if (cs_yaml_enum(&c->y, m, "platform", where, true, platforms, &i))
		h->platform = (enum cs_platform)(i + 1);

	int t = cs_yaml_exactly_one(&c->y, m, transports, cs_yaml_fmt(&c->y, "host %s", shown),
			    "a host has exactly one transport");
	if (t >= 0)
		h->transport = (enum cs_transport_kind)(t + 1);
	else if (!cs_yaml_guessed(&c->y, m, transports))
		cs_yaml_report(&c->y, m, "host %s needs a transport: one of local, ssh or winrm", shown);

	/* Each transport parses its own block, in the table's order. */
	h->local_timeout = 300;
	struct cs_ynode *v;
	for (size_t j = 0; transports[j]; j++) {
		const struct cs_transport_ops *ops = cs_transport_ops_for((enum cs_transport_kind)(j + 1));
		struct cs_ynode *k = NULL;
		v = cs_yaml_map(&c->y, m, transports[j], where, false);
		if (v && ops && ops->parse) {
			cs_yaml_lookup(&c->y, m, transports[j], &k);
			ops->parse(&c->y, h, k, v);
		}
	}
	if (h->transport == CS_TRANSPORT_LOCAL)
		h->local_dir = cs_xstrdup(c->y.dir);

	h->reboot_timeout = 600;
	cs_yaml_duration(&c->y, m, "reboot_timeout", where, true, CS_DURATION_MAX_WAIT, &h->reboot_timeout);
	v = cs_yaml_enum(&c->y, m, "reboot", where, false, reboots, &i);
	if (v) {
		h->reboot = i == 1 ? CS_REBOOT_AFTER_CHANGE : CS_REBOOT_NEVER;
		if (h->reboot == CS_REBOOT_AFTER_CHANGE && h->platform == CS_PLATFORM_LINUX)
			cs_yaml_report(&c->y, v, "reboot: after-change is only for windows hosts; certsync does not reboot "
			       "linux host %s (give its bindings a reload command instead)", shown);
	}
}

static void parse_hosts(struct ctx *c, const struct cs_ynode *root)
{
	struct cs_ynode *m = cs_yaml_map(&c->y, root, "hosts", "at the top level", false);
	if (!m || m->type != CS_YN_MAP)
		return;
	c->cfg->hosts = cs_xcalloc(cs_yaml_n_pairs(m), sizeof *c->cfg->hosts);
	parse_entries(c, m, "host", parse_host);
}

/* The index of the host called name; reports a dangling reference at v. */
static bool find_host(struct ctx *c, const struct cs_ynode *v, const char *name, const char *where, size_t *out)
{
	const struct cs_config *cfg = c->cfg;
	/* Indexed on first use: every host is parsed by then (the first of a
	 * name wins). */
	if (!c->host_index.n)
		for (size_t i = 0; i < cfg->n_hosts; i++)
			cs_strmap_put(&c->host_index, cfg->hosts[i].name, i, NULL);
	if (cs_strmap_get(&c->host_index, name, out))
		return true;
	const char **names = cs_xcalloc(cfg->n_hosts + 1, sizeof *names);
	for (size_t i = 0; i < cfg->n_hosts; i++)
		names[i] = cfg->hosts[i].name;
	cs_yaml_report(&c->y, v, "unknown host \"%s\" %s%s", cs_yaml_esc(&c->y, name), where, cs_yaml_did_you_mean(&c->y, name, names, cfg->n_hosts));
	free(names);
	return false;
}

/* ---- issuers: each parses its own body (providers/issuer/) ---- */

static bool host_ref(void *ctx, const struct cs_ynode *v, const char *name, const char *where)
{
	size_t idx;
	return find_host(ctx, v, name, where, &idx);
}

static void parse_issuer(struct ctx *c, const char *name, const struct cs_ynode *key, const struct cs_ynode *m)
{
	static const char *const kinds[] = { "ca", "manual", "acme", NULL };
	struct cs_issuer_cfg *is = &c->cfg->issuers[c->cfg->n_issuers++];
	is->name = cs_xstrdup(name);
	is->pos = cs_yaml_pos(key);
	if (!m)
		return;
	const char *shown = cs_yaml_esc(&c->y, name);
	const char *where = cs_yaml_fmt(&c->y, "in issuer %s", shown);
	cs_yaml_check_keys(&c->y, m, kinds, where);
	int k = cs_yaml_exactly_one(&c->y, m, kinds, cs_yaml_fmt(&c->y, "issuer %s", shown),
			    "an issuer is exactly one of ca, manual or acme");
	if (k < 0) {
		if (!cs_yaml_guessed(&c->y, m, kinds))
			cs_yaml_report(&c->y, m, "issuer %s needs exactly one of ca, manual or acme", shown);
		return;
	}
	is->kind = (enum cs_issuer_kind)(k + 1);
	/* Each issuer parses its own body, in the table's order. */
	const struct cs_issuer_refs refs = { .ctx = c, .host = host_ref };
	for (size_t i = 0; kinds[i]; i++) {
		const struct cs_issuer_ops *ops = cs_issuer_ops_for((enum cs_issuer_kind)(i + 1));
		struct cs_ynode *v = cs_yaml_map(&c->y, m, kinds[i], where, false);
		if (v && ops && ops->parse)
			ops->parse(&c->y, is, v, &refs);
	}
}

static void parse_issuers(struct ctx *c, const struct cs_ynode *root)
{
	struct cs_ynode *m = cs_yaml_map(&c->y, root, "issuers", "at the top level", false);
	if (!m || m->type != CS_YN_MAP)
		return;
	c->cfg->issuers = cs_xcalloc(cs_yaml_n_pairs(m), sizeof *c->cfg->issuers);
	parse_entries(c, m, "issuer", parse_issuer);
}

/* ---- bindings ---- */

/* The file path on the binding's host is written by this binding alone. */
static bool claim_file(struct cs_binding_parse *p, const struct cs_ynode *v, const char *role, const char *path)
{
	struct ctx *c = p->claim_ctx;
	size_t host = p->host_index;
	uint32_t h = path_hash(host, path);
	if (c->cap_index) {
		const struct tslot *s = target_slot(c, host, path, h);
		if (s->at) {
			const struct target *t = &c->targets[s->at - 1];
			cs_yaml_report(&c->y, v, "file %s on host %s is already written as \"%s\" by binding %zu of certificate %s",
			       cs_yaml_esc(&c->y, path), cs_yaml_esc(&c->y, p->host->name), t->role, t->binding,
			       cs_yaml_esc(&c->y, t->cert));
			return false;
		}
	}
	if (c->n_targets == c->cap_targets) {
		c->cap_targets = c->cap_targets ? 2 * c->cap_targets : 16;
		c->targets = cs_xrealloc(c->targets, c->cap_targets * sizeof *c->targets);
	}
	if (2 * (c->n_targets + 1) > c->cap_index)
		target_index_grow(c);
	c->targets[c->n_targets] = (struct target){ host, path, p->cert->name, p->index, role };
	*target_slot(c, host, path, h) = (struct tslot){ h, (uint32_t)++c->n_targets };
	return true;
}

/* The names of the kinds available on platform (all when 0), NULL-ended;
 * kept until the end of loading. */
static const char *const *kind_names(struct ctx *c, enum cs_platform platform)
{
	if (!platform && c->all_kinds)
		return c->all_kinds;
	const struct cs_binding_kind *const *kinds = cs_binding_kind_table();
	size_t n = 0;
	while (kinds[n])
		n++;
	char **v = cs_xcalloc(n + 1, sizeof *v);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!platform || (kinds[i]->platforms & CS_KIND_ON(platform)))
			v[m++] = (char *)kinds[i]->name;
	cs_yaml_keep(&c->y, (char *)v);
	if (!platform)
		c->all_kinds = (const char *const *)v;
	return (const char *const *)v;
}

/* The keys a binding takes: host and every kind's name, NULL-ended; made
 * once per load. */
static const char *const *binding_keys(struct ctx *c)
{
	if (!c->binding_keys) {
		const char *const *kinds = kind_names(c, 0);
		size_t n = cs_yaml_count_words(kinds);
		const char **keys = cs_xcalloc(n + 2, sizeof *keys);
		keys[0] = "host";
		memcpy(keys + 1, kinds, n * sizeof *keys);
		cs_yaml_keep(&c->y, (char *)keys);
		c->binding_keys = keys;
	}
	return c->binding_keys;
}

static void parse_binding(struct ctx *c, struct cs_cert_cfg *cert, size_t index, const struct cs_ynode *m)
{
	const struct cs_binding_kind *const *table = cs_binding_kind_table();
	const char *const *kinds = kind_names(c, 0);
	const char *cname = cs_yaml_esc(&c->y, cert->name);
	const char *where = cs_yaml_fmt(&c->y, "in binding %zu of certificate %s", index, cname);
	if (cs_yaml_kind(m) != CS_YV_MAP) {
		cs_yaml_report(&c->y, m, "expected a mapping for binding %zu of certificate %s, got %s", index, cname,
		       cs_yaml_kind_name(cs_yaml_kind(m)));
		return;
	}
	struct cs_binding_cfg *b = &cert->bindings[cert->n_bindings++];
	b->pos = cs_yaml_pos(m);
	const char *const *keys = binding_keys(c);
	cs_yaml_check_keys(&c->y, m, keys, where);

	struct cs_binding_parse bp = { .y = &c->y, .cert = cert, .b = b, .index = index, .where = where,
				       .claim = claim_file, .claim_ctx = c };
	b->host_index = (size_t)-1;
	struct cs_ynode *hv = cs_yaml_str(&c->y, m, "host", where, true, &b->host);
	if (hv && find_host(c, hv, b->host, where, &b->host_index)) {
		bp.host = &c->cfg->hosts[b->host_index];
		bp.host_index = b->host_index;
	}

	int k = cs_yaml_exactly_one(&c->y, m, kinds, cs_yaml_fmt(&c->y, "binding %zu of certificate %s", index, cname),
			    "write one binding for each");
	if (k < 0) {
		if (!cs_yaml_guessed(&c->y, m, kinds))
			cs_yaml_report(&c->y, m, "binding %zu of certificate %s needs a kind: one of %s", index, cname,
			       cs_yaml_word_list(&c->y, kinds, " or "));
		return;
	}
	const struct cs_binding_kind *kind = table[k];
	b->kind = kind->id;
	b->kind_ops = kind;
	struct cs_ynode *kk = NULL;
	cs_yaml_lookup(&c->y, m, kind->name, &kk);
	if (bp.host && bp.host->platform && !(kind->platforms & CS_KIND_ON(bp.host->platform))) {
		cs_yaml_report(&c->y, kk, "binding kind %s is not available on %s host %s (%s hosts take %s)",
		       kind->name, cs_platform_name(bp.host->platform), cs_yaml_esc(&c->y, bp.host->name),
		       cs_platform_name(bp.host->platform),
		       cs_yaml_word_list(&c->y, kind_names(c, bp.host->platform), " or "));
		/* The rest would only add noise about paths that can never apply. */
		bp.host = NULL;
	}
	for (size_t i = 0; table[i]; i++) {
		struct cs_ynode *v = cs_yaml_map(&c->y, m, table[i]->name, where, false);
		if (!v)
			continue;
		bp.where = cs_yaml_fmt(&c->y, "in %s binding %zu of certificate %s", table[i]->name, index,
				       cname);
		if (table[i]->parse)
			table[i]->parse(&bp, v);
	}
}

/* ---- verify ---- */

/* The hosts a certificate is bound on, in binding order, each once.
 * *out_broken tells whether a binding's host could not be resolved. */
static size_t bound_hosts(const struct cs_cert_cfg *cert, size_t *out, bool *out_broken)
{
	size_t n = 0;
	*out_broken = false;
	for (size_t i = 0; i < cert->n_bindings; i++) {
		size_t h = cert->bindings[i].host_index;
		if (h == (size_t)-1) {
			*out_broken = true;
			continue;
		}
		bool seen = false;
		for (size_t j = 0; j < n; j++)
			seen = seen || out[j] == h;
		if (!seen)
			out[n++] = h;
	}
	return n;
}

static void parse_verify(struct ctx *c, struct cs_cert_cfg *cert, size_t index, const struct cs_ynode *m)
{
	static const char *const keys[] = { "connect", "servername", "starttls", "ca_bundle", "timeout", "host", NULL };
	static const char *const starttls[] = { "smtp", "imap", "pop3", NULL };
	static const char *const host_key[] = { "host", NULL };
	const char *cname = cs_yaml_esc(&c->y, cert->name);
	if (cs_yaml_kind(m) != CS_YV_MAP) {
		cs_yaml_report(&c->y, m, "expected a mapping for verify %zu of certificate %s, got %s", index, cname,
		       cs_yaml_kind_name(cs_yaml_kind(m)));
		return;
	}
	const char *where = cs_yaml_fmt(&c->y, "in verify %zu of certificate %s", index, cname);
	struct cs_verify_cfg *vf = &cert->verify[cert->n_verify++];
	vf->pos = cs_yaml_pos(m);
	vf->timeout = 30;
	vf->host_index = (size_t)-1;
	cs_yaml_check_keys(&c->y, m, keys, where);

	struct cs_ynode *v = cs_yaml_str(&c->y, m, "connect", where, true, &vf->connect);
	const char *why = v ? cs_hostport_problem(vf->connect, NULL, NULL) : NULL;
	if (why)
		cs_yaml_report(&c->y, v, "invalid connect \"%s\" %s: %s", cs_yaml_esc(&c->y, vf->connect), where, why);
	v = cs_yaml_str(&c->y, m, "servername", where, false, &vf->servername);
	why = v ? cs_dns_name_problem(vf->servername, false) : NULL;
	if (why)
		cs_yaml_report(&c->y, v, "invalid servername \"%s\" %s: %s", cs_yaml_esc(&c->y, vf->servername), where, why);
	int st = 0;
	if (cs_yaml_enum(&c->y, m, "starttls", where, false, starttls, &st))
		vf->starttls = (enum cs_starttls)(st + 1);
	cs_yaml_local_file(&c->y, m, "ca_bundle", where, false, &vf->ca_bundle);
	cs_yaml_duration(&c->y, m, "timeout", where, true, CS_DURATION_MAX_WAIT, &vf->timeout);

	size_t *hosts = cs_xcalloc(cert->n_bindings + 1, sizeof *hosts);
	bool broken;
	size_t n = bound_hosts(cert, hosts, &broken);
	v = cs_yaml_str(&c->y, m, "host", where, false, &vf->host);
	if (v) {
		size_t h;
		if (find_host(c, v, vf->host, where, &h)) {
			bool bound = false;
			for (size_t i = 0; i < n; i++)
				bound = bound || hosts[i] == h;
			if (bound || broken) {
				vf->host_index = h;
			} else {
				struct cs_buf list = CS_BUF_INIT;
				for (size_t i = 0; i < n; i++)
					cs_buf_printf(&list, "%s%s", i ? ", " : "", c->cfg->hosts[hosts[i]].name);
				if (n)
					cs_yaml_report(&c->y, v, "verify %zu of certificate %s names host %s, but the certificate "
					       "is not bound on it (bound on: %s)", index, cname, cs_yaml_esc(&c->y, vf->host),
					       cs_yaml_esc(&c->y, list.data));
				else
					cs_yaml_report(&c->y, v, "verify %zu of certificate %s names host %s, but the certificate "
					       "has no bindings", index, cname, cs_yaml_esc(&c->y, vf->host));
				cs_buf_free(&list);
			}
		}
	} else if (!cs_yaml_lookup(&c->y, m, "host", NULL) && !broken && !cs_yaml_guessed(&c->y, m, host_key)) {
		if (n == 1) {
			vf->host_index = hosts[0];
			vf->host = cs_xstrdup(c->cfg->hosts[hosts[0]].name);
		} else if (n == 0) {
			cs_yaml_report(&c->y, m, "verify %zu of certificate %s has nothing to check: the certificate has no bindings",
			       index, cname);
		} else {
			/* An address in front of several hosts (a balancer, DNS round
			 * robin): checked after all of them. */
			vf->all_hosts = true;
		}
	}
	free(hosts);
}

/* ---- certificates ---- */

static void parse_key(struct ctx *c, struct cs_cert_cfg *cert, const struct cs_ynode *m)
{
	static const char *const keys[] = { "type", "bits", "curve", NULL };
	static const char *const types[] = { "rsa", "ecdsa", NULL };
	static const char *const curves[] = { "p256", "p384", NULL };
	const char *cname = cs_yaml_esc(&c->y, cert->name);
	const char *where = cs_yaml_fmt(&c->y, "in key of certificate %s", cname);
	cs_yaml_check_keys(&c->y, m, keys, where);
	int t = 0;
	if (!cs_yaml_enum(&c->y, m, "type", where, true, types, &t))
		return;
	struct cs_ynode *k = NULL;
	if (t == 0) {
		cert->key.type = CS_KEY_RSA;
		struct cs_ynode *v = cs_yaml_int(&c->y, m, "bits", where, false, 0, INT_MAX, &cert->key.bits);
		if (v && cert->key.bits != 2048 && cert->key.bits != 3072 && cert->key.bits != 4096) {
			cs_yaml_report(&c->y, v, "invalid rsa key size %d %s: expected 2048, 3072 or 4096", cert->key.bits, where);
			cert->key.bits = 2048;
		}
		if (cs_yaml_lookup(&c->y, m, "curve", &k))
			cs_yaml_report(&c->y, k, "\"curve\" does not apply to rsa keys (certificate %s): use bits: 2048, 3072 or "
			       "4096, or type: ecdsa", cname);
	} else {
		cert->key.type = CS_KEY_ECDSA;
		cert->key.bits = 0;
		cert->key.curve = CS_CURVE_P256;
		int cv = 0;
		if (cs_yaml_enum(&c->y, m, "curve", where, false, curves, &cv))
			cert->key.curve = cv == 0 ? CS_CURVE_P256 : CS_CURVE_P384;
		if (cs_yaml_lookup(&c->y, m, "bits", &k))
			cs_yaml_report(&c->y, k, "\"bits\" does not apply to ecdsa keys (certificate %s): use curve: p256 or p384, "
			       "or type: rsa", cname);
	}
}

static void parse_names(struct ctx *c, struct cs_cert_cfg *cert, const struct cs_ynode *m, const char *where)
{
	const char *cname = cs_yaml_esc(&c->y, cert->name);
	struct cs_ynode *v = cs_yaml_str(&c->y, m, "common_name", where, true, &cert->common_name);
	if (v) {
		const char *why = cs_dns_name_problem(cert->common_name, true);
		if (!why && strlen(cert->common_name) > 64)
			why = "a common name is at most 64 characters (put longer names in dns_names)";
		if (why)
			cs_yaml_report(&c->y, v, "invalid DNS name \"%s\" for common_name of certificate %s: %s",
			       cs_yaml_esc(&c->y, cert->common_name), cname, why);
	}
	v = cs_yaml_seq(&c->y, m, "dns_names", where, false);
	if (!v)
		return;
	size_t n = cs_yaml_n_items(v);
	cert->dns_names = cs_xcalloc(n ? n : 1, sizeof *cert->dns_names);
	/* Valid names only take part in the duplicate check, as before. */
	const char **valid = cs_xcalloc(n ? n : 1, sizeof *valid);
	for (size_t i = 0; i < n; i++) {
		struct cs_ynode *it = cs_yaml_item(&c->y, v, i);
		const char *s = cs_yaml_scalar_text(&c->y, it, "dns_names", where);
		if (!s)
			continue;
		const char *why = cs_dns_name_problem(s, true);
		if (why) {
			cs_yaml_report(&c->y, it, "invalid DNS name \"%s\" in dns_names of certificate %s: %s", cs_yaml_esc(&c->y, s), cname, why);
			continue;
		}
		valid[i] = s;
	}
	size_t *first = first_same(valid, n, true);
	for (size_t i = 0; i < n; i++) {
		if (!valid[i])
			continue;
		if (first[i] != i) {
			cs_yaml_report(&c->y, cs_yaml_item(&c->y, v, i), "DNS name \"%s\" is listed twice in dns_names of certificate %s "
			       "(first on line %d)", cs_yaml_esc(&c->y, valid[i]), cname, cs_yaml_pos(cs_yaml_item(&c->y, v, first[i])).line);
			continue;
		}
		cert->dns_names[cert->n_dns_names++] = cs_xstrdup(valid[i]);
	}
	free(first);
	free(valid);
}

static void parse_cert(struct ctx *c, const char *name, const struct cs_ynode *key, const struct cs_ynode *m)
{
	static const char *const keys[] = {
		"common_name", "dns_names", "key", "issuer", "renew_before", "remind_before", "bindings", "verify",
		NULL,
	};
	struct cs_cert_cfg *cert = &c->cfg->certs[c->cfg->n_certs++];
	cert->name = cs_xstrdup(name);
	cert->pos = cs_yaml_pos(key);
	cert->key.type = CS_KEY_RSA;
	cert->key.bits = 2048;
	cert->renew_before = 30 * 86400;
	cert->remind_before = 7 * 86400;
	cert->issuer_index = (size_t)-1;
	if (!m)
		return;
	const char *cname = cs_yaml_esc(&c->y, name);
	const char *where = cs_yaml_fmt(&c->y, "in certificate %s", cname);
	cs_yaml_check_keys(&c->y, m, keys, where);
	parse_names(c, cert, m, where);

	struct cs_ynode *v = cs_yaml_map(&c->y, m, "key", where, false);
	if (v)
		parse_key(c, cert, v);

	struct cs_ynode *iv = cs_yaml_str(&c->y, m, "issuer", where, true, &cert->issuer);
	if (iv) {
		const struct cs_config *cfg = c->cfg;
		if (!c->issuer_index.n) /* names are unique: a second definition is not parsed */
			for (size_t i = 0; i < cfg->n_issuers; i++)
				cs_strmap_put(&c->issuer_index, cfg->issuers[i].name, i, NULL);
		if (!cs_strmap_get(&c->issuer_index, cert->issuer, &cert->issuer_index)) {
			const char **names = cs_xcalloc(cfg->n_issuers + 1, sizeof *names);
			for (size_t i = 0; i < cfg->n_issuers; i++)
				names[i] = cfg->issuers[i].name;
			cs_yaml_report(&c->y, iv, "unknown issuer \"%s\" %s%s", cs_yaml_esc(&c->y, cert->issuer), where,
			       cs_yaml_did_you_mean(&c->y, cert->issuer, names, cfg->n_issuers));
			free(names);
		}
	}

	struct cs_ynode *rv = cs_yaml_duration(&c->y, m, "renew_before", where, true, CS_DURATION_MAX_WINDOW,
					&cert->renew_before);
	bool renew_ok = rv || !cs_yaml_lookup(&c->y, m, "renew_before", NULL);
	cs_yaml_duration(&c->y, m, "remind_before", where, false, CS_DURATION_MAX_WINDOW, &cert->remind_before);
	if (renew_ok && cert->issuer_index != (size_t)-1) {
		const struct cs_issuer_cfg *is = &c->cfg->issuers[cert->issuer_index];
		if (is->kind == CS_ISSUER_CA && is->ca.days > 0 &&
		    cert->renew_before >= (int64_t)is->ca.days * 86400) {
			char d[64];
			cs_duration_format(d, sizeof d, cert->renew_before);
			cs_yaml_report(&c->y, rv ? rv : iv, "renew_before %s%s is not shorter than issuer %s's validity of %d "
			       "day%s: every plan would renew", d, rv ? "" : " (the default)", cs_yaml_esc(&c->y, is->name),
			       is->ca.days, is->ca.days == 1 ? "" : "s");
		}
	}

	v = cs_yaml_seq(&c->y, m, "bindings", where, false);
	if (v) {
		cert->bindings = cs_xcalloc(cs_yaml_n_items(v), sizeof *cert->bindings);
		for (size_t i = 0; i < cs_yaml_n_items(v); i++)
			parse_binding(c, cert, i + 1, cs_yaml_item(&c->y, v, i));
	}
	v = cs_yaml_seq(&c->y, m, "verify", where, false);
	if (v) {
		cert->verify = cs_xcalloc(cs_yaml_n_items(v), sizeof *cert->verify);
		for (size_t i = 0; i < cs_yaml_n_items(v); i++)
			parse_verify(c, cert, i + 1, cs_yaml_item(&c->y, v, i));
	}
}

static void parse_certs(struct ctx *c, const struct cs_ynode *root)
{
	struct cs_ynode *m = cs_yaml_map(&c->y, root, "certificates", "at the top level", false);
	if (!m || m->type != CS_YN_MAP)
		return;
	c->cfg->certs = cs_xcalloc(cs_yaml_n_pairs(m), sizeof *c->cfg->certs);
	parse_entries(c, m, "certificate", parse_cert);
}

static void parse_root(struct ctx *c, const struct cs_ynode *root)
{
	static const char *const keys[] = { "version", "settings", "notify", "issuers", "hosts", "certificates", NULL };
	if (cs_yaml_kind(root) != CS_YV_MAP) {
		cs_yaml_report(&c->y, root, "expected a mapping at the top level (version, settings, issuers, hosts, "
		       "certificates), got %s", cs_yaml_kind_name(cs_yaml_kind(root)));
		return;
	}
	cs_yaml_check_keys(&c->y, root, keys, "at the top level");
	static const char *const version_key[] = { "version", NULL };
	struct cs_ynode *v = cs_yaml_field(&c->y, root, "version", "at the top level", false);
	if (!v) {
		if (!cs_yaml_guessed(&c->y, root, version_key))
			cs_yaml_report(&c->y, root, "missing required key \"version\" at the top level (write version: 1)");
	} else if (cs_yaml_kind(v) != CS_YV_INT) {
		cs_yaml_type_error(&c->y, v, "an integer", "version", "at the top level");
	} else if (strcmp(cs_yaml_text(v), "1") != 0) {
		cs_yaml_report(&c->y, v, "unsupported config version %s (this certsync reads version 1)", cs_yaml_esc(&c->y, cs_yaml_text(v)));
	}
	parse_settings(c, root);
	binding_keys(c); /* kept for the whole load, made before any entry's strings */
	/* Hosts and issuers first, wherever they are in the file: bindings,
	 * verify and http-01 refer to them. */
	parse_hosts(c, root);
	parse_issuers(c, root);
	parse_certs(c, root);
	cs_notify_cfg_parse(&c->y, cs_yaml_lookup(&c->y, root, "notify", NULL), &c->cfg->notify, &c->cfg->n_notify);
}

static char *absolute_dir(const char *dir)
{
	if (dir && dir[0] == '/')
		return cs_xstrdup(dir);
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		return cs_xstrdup(dir && dir[0] ? dir : ".");
	char *r = dir && dir[0] && strcmp(dir, ".") != 0 ? cs_path_join(cwd, dir) : cs_xstrdup(cwd);
	free(cwd);
	return r;
}

int cs_config_load_string(struct cs_config **out, const char *name, const char *dir,
			  const char *textp, size_t len, struct cs_diags *diags)
{
	*out = NULL;
	struct cs_config *cfg = cs_xcalloc(1, sizeof *cfg);
	cfg->path = cs_xstrdup(name);
	cfg->dir = absolute_dir(dir);
	struct ctx c = { .y = { .file = name, .dir = cfg->dir, .diags = diags }, .cfg = cfg };
	struct cs_ynode *root;
	if (cs_yaml_load(&c.y, textp, len, &root)) {
		if (!root)
			cs_yaml_report_at(&c.y, 1, 1, "the config is empty: it needs at least \"version: 1\"");
		else
			parse_root(&c, root);
	}
	cs_yaml_done(&c.y);
	free(c.targets);
	free(c.target_index);
	cs_strmap_free(&c.host_index);
	cs_strmap_free(&c.issuer_index);
	cs_diags_sort(diags);
	if (c.y.errors) {
		cs_config_free(cfg);
		return -EINVAL;
	}
	/* Names are unique now (checked above). */
	for (size_t i = 0; i < cfg->n_hosts; i++)
		cs_strmap_put(&cfg->host_names, cfg->hosts[i].name, i, NULL);
	for (size_t i = 0; i < cfg->n_certs; i++)
		cs_strmap_put(&cfg->cert_names, cfg->certs[i].name, i, NULL);
	*out = cfg;
	return 0;
}

int cs_config_load(struct cs_config **out, const char *path, struct cs_diags *diags)
{
	*out = NULL;
	struct cs_buf b = CS_BUF_INIT;
	struct cs_err err = CS_ERR_INIT;
	char *dir = NULL, *abs = NULL;
	int r = cs_file_read(&b, path, CONFIG_MAX, &err);
	if (r < 0) {
		if (r == -E2BIG)
			cs_diags_add(diags, path, 0, 0, "the config file is larger than %u MiB", CONFIG_MAX >> 20);
		else if (r == -ENOENT)
			cs_diags_add(diags, path, 0, 0, "cannot read the config file: %s (start one with `certsync "
				     "init`, or name another with -c FILE)", strerror(-r));
		else {
			/* The reader's reason without its "read PATH: ", which the
			 * diagnostic already starts with. */
			const char *why = cs_err_msg(&err);
			char *lead = cs_xasprintf("read %s: ", path);
			if (strncmp(why, lead, strlen(lead)) == 0)
				why += strlen(lead);
			cs_diags_add(diags, path, 0, 0, "cannot read the config file: %s", why);
			free(lead);
		}
		goto out;
	}
	dir = cs_path_dirname(path);
	abs = realpath(dir, NULL);
	r = cs_config_load_string(out, path, abs ? abs : dir, b.data, b.len, diags);
out:
	free(abs);
	free(dir);
	cs_err_clear(&err);
	cs_buf_free(&b);
	return r;
}
