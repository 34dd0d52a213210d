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

/* Larger than any plausible config; a cap so that a wrong -c argument
 * pointing at a disk image fails quickly. */
#define CONFIG_MAX (4u << 20)
/* Names become file names in state_dir ("NAME.key", "NAME.p7b"): stay well
 * below the 255-byte limit of common file systems. */
#define NAME_MAX_LEN 200

/* What a YAML node holds, as the YAML 1.2 core schema would resolve it.
 * Quoted scalars are always strings. */
enum vkind { V_NULL, V_BOOL, V_INT, V_FLOAT, V_STR, V_MAP, V_SEQ };

/* A file a files binding writes, to find two bindings writing the same one. */
struct target {
	size_t host;
	const char *path;       /* owned by the model */
	const char *cert;       /* owned by the model */
	size_t binding;         /* 1-based */
	const char *role;       /* "cert", "key", ... */
};

/* A hash slot: key (host, name) → position.  Long configs must not be
 * checked by comparing every entry with every other (quadratic). */
struct slot {
	const char *name;       /* NULL: empty */
	size_t host;
	size_t at;
};

/* An unknown key taken for a misspelling of key: that key's absence is then
 * not reported again ("did you mean" already says it). */
struct guess {
	const yaml_node_t *map;
	const char *key;        /* static: from a table of known keys */
};

struct ctx {
	const char *file;       /* for diagnostics */
	const char *dir;        /* absolute config folder */
	yaml_document_t *doc;
	struct cs_diags *diags;
	size_t errors;
	struct cs_config *cfg;
	struct target *targets;
	size_t n_targets, cap_targets;
	struct slot *target_index; /* (host, path) → targets, open addressing */
	size_t cap_index;          /* a power of two, at least twice n_targets */
	struct slot *host_index;   /* host name → hosts (host field unused) */
	size_t cap_hosts;
	char **pool;            /* strings made for messages, freed at the end */
	size_t n_pool, cap_pool;
	struct guess *guesses;  /* unknown keys that look like a known one */
	size_t n_guesses;
};

/* ---- nodes ---- */

static yaml_node_t *node_at(struct ctx *c, int index)
{
	return yaml_document_get_node(c->doc, index);
}

static const char *text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static size_t n_pairs(const yaml_node_t *n)
{
	if (n->type != YAML_MAPPING_NODE)
		return 0;
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static size_t n_items(const yaml_node_t *n)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_pair_t *pair_at(const yaml_node_t *n, size_t i)
{
	return n->data.mapping.pairs.start + i;
}

static yaml_node_t *item_at(struct ctx *c, const yaml_node_t *n, size_t i)
{
	return node_at(c, n->data.sequence.items.start[i]);
}

static struct cs_pos pos_of(const yaml_node_t *n)
{
	struct cs_pos p = { (int)n->start_mark.line + 1, (int)n->start_mark.column + 1 };
	return p;
}

static bool one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

static bool looks_float(const char *s)
{
	static const char *const special[] = {
		".inf", ".Inf", ".INF", "+.inf", "-.inf", "+.Inf", "-.Inf", "+.INF", "-.INF",
		".nan", ".NaN", ".NAN", NULL,
	};
	if (one_of(s, special))
		return true;
	if (*s == '+' || *s == '-')
		s++;
	bool digits = false, dot = false;
	for (; *s >= '0' && *s <= '9'; s++)
		digits = true;
	if (*s == '.') {
		dot = true;
		for (s++; *s >= '0' && *s <= '9'; s++)
			digits = true;
	}
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!cs_only_digits(s))
			return false;
		return true;
	}
	return dot && *s == '\0';
}

static enum vkind scalar_kind(const char *s, yaml_scalar_style_t style);

static enum vkind kind_of(const yaml_node_t *n)
{
	if (n->type == YAML_MAPPING_NODE)
		return V_MAP;
	if (n->type == YAML_SEQUENCE_NODE)
		return V_SEQ;
	if (n->type != YAML_SCALAR_NODE)
		return V_NULL;
	return scalar_kind(text(n), n->data.scalar.style);
}

static enum vkind scalar_kind(const char *s, yaml_scalar_style_t style)
{
	if (style != YAML_PLAIN_SCALAR_STYLE)
		return V_STR;
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE", NULL };
	if (one_of(s, nulls))
		return V_NULL;
	if (one_of(s, bools))
		return V_BOOL;
	const char *d = (*s == '+' || *s == '-') ? s + 1 : s;
	if (cs_only_digits(d))
		return V_INT;
	if (looks_float(s))
		return V_FLOAT;
	return V_STR;
}

static const char *kind_name(enum vkind k)
{
	switch (k) {
	case V_NULL:
		return "an empty value";
	case V_BOOL:
		return "a boolean";
	case V_INT:
		return "an integer";
	case V_FLOAT:
		return "a number";
	case V_STR:
		return "a string";
	case V_MAP:
		return "a mapping";
	case V_SEQ:
		return "a list";
	}
	return "something else";
}

static bool is_scalar_value(enum vkind k)
{
	return k == V_STR || k == V_INT || k == V_FLOAT;
}

/* ---- messages ---- */

static void report_at(struct ctx *c, int line, int col, const char *fmt, ...) CS_PRINTF(4, 5);
static void report_at(struct ctx *c, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = cs_xvasprintf(fmt, ap);
	va_end(ap);
	cs_diags_add(c->diags, c->file, line, col, "%s", msg);
	free(msg);
	c->errors++;
}

static void report(struct ctx *c, const yaml_node_t *n, const char *fmt, ...) CS_PRINTF(3, 4);
static void report(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = cs_xvasprintf(fmt, ap);
	va_end(ap);
	struct cs_pos p = { 1, 1 };
	if (n)
		p = pos_of(n);
	cs_diags_add(c->diags, c->file, p.line, p.col, "%s", msg);
	free(msg);
	c->errors++;
}

static const char *keep(struct ctx *c, char *s)
{
	if (c->n_pool == c->cap_pool) {
		c->cap_pool = c->cap_pool ? 2 * c->cap_pool : 64;
		c->pool = cs_xrealloc(c->pool, c->cap_pool * sizeof *c->pool);
	}
	c->pool[c->n_pool++] = s;
	return s;
}

/* Text from the file made safe for a one-line message: control characters
 * escaped, quotes escaped, long values cut. */
static const char *esc(struct ctx *c, const char *s)
{
	struct cs_buf b = CS_BUF_INIT;
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
		if (n == 80) {
			cs_buf_puts(&b, "...");
			break;
		}
		if (*p < 0x20 || *p == 0x7f)
			cs_buf_printf(&b, "\\x%02x", *p);
		else if (*p == '"' || *p == '\\')
			cs_buf_printf(&b, "\\%c", *p);
		else
			cs_buf_append(&b, p, 1);
	}
	char *r = cs_buf_detach(&b, NULL);
	return keep(c, r);
}

static const char *fmt_keep(struct ctx *c, const char *fmt, ...) CS_PRINTF(2, 3);
static const char *fmt_keep(struct ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = cs_xvasprintf(fmt, ap);
	va_end(ap);
	return keep(c, s);
}

/* "a, b or c" */
static const char *word_list(struct ctx *c, const char *const *words, const char *last_sep)
{
	struct cs_buf b = CS_BUF_INIT;
	for (size_t i = 0; words[i]; i++) {
		if (i > 0)
			cs_buf_puts(&b, words[i + 1] ? ", " : last_sep);
		cs_buf_puts(&b, words[i]);
	}
	char *r = cs_buf_detach(&b, NULL);
	return keep(c, r);
}

/* ---- did you mean ---- */

static char lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions), case-insensitive, giving up above limit. */
static size_t edit_distance(const char *a, const char *b, size_t limit)
{
	size_t la = strlen(a), lb = strlen(b);
	if ((la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	size_t *prev2 = cs_xcalloc(lb + 1, sizeof *prev2);
	size_t *prev = cs_xcalloc(lb + 1, sizeof *prev);
	size_t *cur = cs_xcalloc(lb + 1, sizeof *cur);
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
			size_t best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (prev[j - 1] + cost < best)
				best = prev[j - 1] + cost;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
		size_t *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	size_t d = prev[lb];
	free(prev2);
	free(prev);
	free(cur);
	return d;
}

/* The closest candidate within two edits (or differing only in case), or
 * NULL.  A suggestion must share something with the word: "x" is two edits
 * from "ip" but is no typo of it. */
static const char *suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t best_d = 3;
	size_t len = strlen(word);
	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, cands[i], 2);
		if (d == 0) /* only case differs */
			return cands[i];
		if (d < best_d && d < len) {
			best = cands[i];
			best_d = d;
		}
	}
	return best;
}

static size_t count_words(const char *const *words)
{
	size_t n = 0;
	while (words[n])
		n++;
	return n;
}

static const char *did_you_mean(struct ctx *c, const char *word, const char *const *cands, size_t n)
{
	const char *s = suggest(word, cands, n);
	if (!s)
		return "";
	return fmt_keep(c, " (did you mean \"%s\"?)", s);
}

/* ---- mappings and typed values ---- */

static yaml_node_t *lookup(struct ctx *c, const yaml_node_t *map, const char *key, yaml_node_t **out_key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (size_t i = 0; i < n_pairs(map); i++) {
		yaml_node_t *k = node_at(c, pair_at(map, i)->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp(text(k), key) == 0) {
			if (out_key)
				*out_key = k;
			return node_at(c, pair_at(map, i)->value);
		}
	}
	return NULL;
}

/* ---- hashing names ---- */

static size_t name_hash(size_t host, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)host;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return (size_t)h;
}

/* The slot for (host, name): the one holding it, or the empty one where it
 * goes.  cap is a power of two and never full. */
static struct slot *slot_find(struct slot *slots, size_t cap, size_t host, const char *name)
{
	size_t i = name_hash(host, name) & (cap - 1);
	while (slots[i].name && (slots[i].host != host || strcmp(slots[i].name, name) != 0))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

/* Insert, growing so that at most half the slots are used. */
static void slot_put(struct slot **slots, size_t *cap, size_t used, size_t host, const char *name, size_t at)
{
	if (2 * (used + 1) > *cap) {
		size_t ncap = *cap ? 2 * *cap : 64;
		struct slot *n = cs_xcalloc(ncap, sizeof *n);
		for (size_t i = 0; i < *cap; i++)
			if ((*slots)[i].name)
				*slot_find(n, ncap, (*slots)[i].host, (*slots)[i].name) = (*slots)[i];
		free(*slots);
		*slots = n;
		*cap = ncap;
	}
	*slot_find(*slots, *cap, host, name) = (struct slot){ name, host, at };
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

/* Unknown keys (with a suggestion), keys that are not strings, and keys
 * given twice.  known is NULL-terminated. */
static void check_keys(struct ctx *c, const yaml_node_t *map, const char *const *known, const char *where)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return;
	size_t n_known = count_words(known);
	/* Where each known key was first given: one pass, however long the
	 * mapping. */
	yaml_node_t **given = cs_xcalloc(n_known + 1, sizeof *given);
	for (size_t i = 0; i < n_pairs(map); i++) {
		yaml_node_t *k = node_at(c, pair_at(map, i)->key);
		if (!k || k->type != YAML_SCALAR_NODE) {
			report(c, k, "keys must be plain words, got %s as a key %s",
			       k ? kind_name(kind_of(k)) : "nothing", where);
			continue;
		}
		const char *name = text(k);
		if (!one_of(name, known)) {
			if (strcmp(name, "<<") == 0)
				report(c, k, "merge keys (<<) are not supported %s: write the keys out", where);
			else if (n_known == 0)
				report(c, k, "unknown key \"%s\" %s (it takes no keys)", esc(c, name), where);
			else if (suggest(name, known, n_known)) {
				report(c, k, "unknown key \"%s\" %s%s", esc(c, name), where,
				       did_you_mean(c, name, known, n_known));
				c->guesses = cs_xrealloc(c->guesses, (c->n_guesses + 1) * sizeof *c->guesses);
				c->guesses[c->n_guesses++] = (struct guess){ map, suggest(name, known, n_known) };
			}
			else
				report(c, k, "unknown key \"%s\" %s (expected %s)", esc(c, name), where,
				       word_list(c, known, " or "));
			continue;
		}
		size_t w = 0;
		while (strcmp(known[w], name) != 0)
			w++;
		if (given[w])
			report(c, k, "duplicate key \"%s\" %s (first given on line %d)", name, where,
			       pos_of(given[w]).line);
		else
			given[w] = k;
	}
	free(given);
}

/* Whether an unknown key of map was taken for one of keys (NULL-terminated). */
static bool guessed(const struct ctx *c, const yaml_node_t *map, const char *const *keys)
{
	for (size_t i = 0; i < c->n_guesses; i++)
		if (c->guesses[i].map == map && one_of(c->guesses[i].key, keys))
			return true;
	return false;
}

/* The value of key, or NULL when absent.  A missing required key is
 * reported at the mapping that lacks it, unless a misspelling of it was
 * reported already. */
static yaml_node_t *field(struct ctx *c, const yaml_node_t *map, const char *key, const char *where, bool required)
{
	yaml_node_t *v = lookup(c, map, key, NULL);
	const char *const keys[] = { key, NULL };
	if (!v && required && !guessed(c, map, keys))
		report(c, map, "missing required key \"%s\" %s", key, where);
	return v;
}

static void type_error(struct ctx *c, const yaml_node_t *v, const char *want, const char *key, const char *where)
{
	report(c, v, "expected %s for \"%s\" %s, got %s", want, key, where, kind_name(kind_of(v)));
}

/* A scalar as text: strings, and numbers written where text is expected
 * (a listener called 80, a user called 1001).  NUL bytes and empty strings
 * are refused: no key of the schema means anything by them. */
static const char *scalar_text(struct ctx *c, const yaml_node_t *v, const char *key, const char *where)
{
	if (!is_scalar_value(kind_of(v))) {
		type_error(c, v, "a string", key, where);
		return NULL;
	}
	if (strlen(text(v)) != v->data.scalar.length) {
		report(c, v, "\"%s\" %s contains a NUL character", key, where);
		return NULL;
	}
	if (!text(v)[0]) {
		report(c, v, "\"%s\" %s is empty", key, where);
		return NULL;
	}
	return text(v);
}

/* On success *out is replaced (the old value, a default, is freed) and the
 * value node returned; NULL when absent or wrong. */
static yaml_node_t *get_str(struct ctx *c, const yaml_node_t *map, const char *key, const char *where,
			    bool required, char **out)
{
	yaml_node_t *v = field(c, map, key, where, required);
	if (!v)
		return NULL;
	const char *s = scalar_text(c, v, key, where);
	if (!s)
		return NULL;
	free(*out);
	*out = cs_xstrdup(s);
	return v;
}

static yaml_node_t *get_int(struct ctx *c, const yaml_node_t *map, const char *key, const char *where,
			    bool required, long lo, long hi, int *out)
{
	yaml_node_t *v = field(c, map, key, where, required);
	if (!v)
		return NULL;
	if (kind_of(v) != V_INT) {
		type_error(c, v, "an integer", key, where);
		return NULL;
	}
	errno = 0;
	char *end;
	long long n = strtoll(text(v), &end, 10);
	if (*end != '\0') {
		report(c, v, "\"%s\" %s must be a decimal integer, got %s", key, where, esc(c, text(v)));
		return NULL;
	}
	if (errno == ERANGE || n < lo || n > hi) {
		report(c, v, "\"%s\" %s must be between %ld and %ld, got %s", key, where, lo, hi, esc(c, text(v)));
		return NULL;
	}
	*out = (int)n;
	return v;
}

static yaml_node_t *get_bool(struct ctx *c, const yaml_node_t *map, const char *key, const char *where,
			     bool *out)
{
	yaml_node_t *v = field(c, map, key, where, false);
	if (!v)
		return NULL;
	if (kind_of(v) != V_BOOL) {
		type_error(c, v, "a boolean (true or false)", key, where);
		return NULL;
	}
	*out = text(v)[0] == 't' || text(v)[0] == 'T';
	return v;
}

/* One of values (NULL-terminated); *out is its index. */
static yaml_node_t *get_enum(struct ctx *c, const yaml_node_t *map, const char *key, const char *where,
			     bool required, const char *const *values, int *out)
{
	yaml_node_t *v = field(c, map, key, where, required);
	if (!v)
		return NULL;
	const char *s = scalar_text(c, v, key, where);
	if (!s)
		return NULL;
	for (int i = 0; values[i]; i++) {
		if (strcmp(values[i], s) == 0) {
			*out = i;
			return v;
		}
	}
	report(c, v, "invalid value \"%s\" for \"%s\" %s: expected %s%s", esc(c, s), key, where,
	       word_list(c, values, " or "), did_you_mean(c, s, values, count_words(values)));
	return NULL;
}

/* Upper bounds of durations.  A certificate lives at most as long as the
 * longest validity a CA issues (10 years, the local CA's "days" limit): a
 * renewal or reminder window beyond that means a typo ("200000w"), and would
 * put dates outside what the calendar and the date formatters can write.
 * Waiting more than a day for one step means a hung host, not a slow one. */
#define DURATION_MAX_WINDOW ((int64_t)3650 * 86400)
#define DURATION_MAX_WAIT ((int64_t)86400)

static yaml_node_t *get_duration(struct ctx *c, const yaml_node_t *map, const char *key, const char *where,
				 bool positive, int64_t max, int64_t *out)
{
	yaml_node_t *v = field(c, map, key, where, false);
	if (!v)
		return NULL;
	if (!is_scalar_value(kind_of(v))) {
		type_error(c, v, "a duration such as 30d", key, where);
		return NULL;
	}
	const char *why = NULL;
	int64_t d;
	if (cs_duration_parse(&d, text(v), &why) < 0) {
		report(c, v, "invalid duration \"%s\" for \"%s\" %s: %s", esc(c, text(v)), key, where, why);
		return NULL;
	}
	if (positive && d == 0) {
		report(c, v, "\"%s\" %s must be longer than 0s", key, where);
		return NULL;
	}
	if (d > max) {
		char m[64];
		cs_duration_format(m, sizeof m, max);
		report(c, v, "duration \"%s\" for \"%s\" %s is too long: at most %s%s", esc(c, text(v)), key,
		       where, m, max == DURATION_MAX_WINDOW ? " (10 years, the longest validity a CA issues)" : "");
		return NULL;
	}
	*out = d;
	return v;
}

/* A local path, resolved against the config folder (~/ expanded first). */
static char *local_path(struct ctx *c, const char *p)
{
	char *e = cs_path_expand_home(p);
	char *r = cs_path_join(c->dir, e);
	free(e);
	size_t n = strlen(r);
	while (n > 1 && r[n - 1] == '/')
		r[--n] = '\0';
	return r;
}

static yaml_node_t *get_local_path(struct ctx *c, const yaml_node_t *map, const char *key, const char *where,
				   bool required, char **out)
{
	char *raw = NULL;
	yaml_node_t *v = get_str(c, map, key, where, required, &raw);
	if (v) {
		free(*out);
		*out = local_path(c, raw);
	}
	free(raw);
	return v;
}

/* A local file certsync will read must be a regular file: reading a FIFO
 * or a device would wait forever (or never end), a folder fails late.  A
 * file that does not exist yet is fine here (it may be made before apply);
 * the reader refuses a non-regular file again when it opens it. */
static void check_local_file(struct ctx *c, const yaml_node_t *v, const char *key, const char *where,
			     const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ELOOP)
			report(c, v, "\"%s\" %s: %s is a symbolic link loop", key, where, esc(c, path));
		return;
	}
	if (!S_ISREG(st.st_mode))
		report(c, v, "\"%s\" %s: %s is not a regular file (it is %s)", key, where, esc(c, path),
		       cs_file_type_name(st.st_mode));
}

static yaml_node_t *get_local_file(struct ctx *c, const yaml_node_t *map, const char *key, const char *where,
				   bool required, char **out)
{
	yaml_node_t *v = get_local_path(c, map, key, where, required, out);
	if (v)
		check_local_file(c, v, key, where, *out);
	return v;
}

/* A value of kind want (V_MAP or V_SEQ); an empty value counts as an empty
 * one ("local:"). */
static yaml_node_t *get_collection(struct ctx *c, const yaml_node_t *map, const char *key,
				   const char *where, bool required, enum vkind want)
{
	yaml_node_t *v = field(c, map, key, where, required);
	if (!v)
		return NULL;
	enum vkind k = kind_of(v);
	if (k != want && k != V_NULL) {
		type_error(c, v, kind_name(want), key, where);
		return NULL;
	}
	return v;
}

static yaml_node_t *get_map(struct ctx *c, const yaml_node_t *map, const char *key, const char *where,
			    bool required)
{
	return get_collection(c, map, key, where, required, V_MAP);
}

static yaml_node_t *get_seq(struct ctx *c, const yaml_node_t *map, const char *key, const char *where,
			    bool required)
{
	return get_collection(c, map, key, where, required, V_SEQ);
}

static bool env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* {env: NAME} or {file: PATH}.  Whatever else is written there may be the
 * secret itself, so no message quotes it. */
static yaml_node_t *get_secret(struct ctx *c, const yaml_node_t *map, const char *key, const char *where,
			       bool required, struct cs_secret *out)
{
	static const char *const keys[] = { "env", "file", NULL };
	yaml_node_t *v = field(c, map, key, where, required);
	if (!v)
		return NULL;
	enum vkind k = kind_of(v);
	if (k == V_STR || k == V_INT || k == V_FLOAT || k == V_BOOL) {
		report(c, v, "\"%s\" %s is written as a literal value: a secret must be a reference, "
		       "{env: VARIABLE} or {file: PATH}, so that it never lands in git", key, where);
		return NULL;
	}
	if (k != V_MAP) {
		type_error(c, v, "a secret reference ({env: VARIABLE} or {file: PATH})", key, where);
		return NULL;
	}
	const char *inner = fmt_keep(c, "in secret \"%s\" %s", key, where);
	check_keys(c, v, keys, inner);
	yaml_node_t *ek = NULL, *fk = NULL;
	yaml_node_t *ev = lookup(c, v, "env", &ek);
	yaml_node_t *fv = lookup(c, v, "file", &fk);
	if (ev && fv) {
		yaml_node_t *second = pos_of(ek).line > pos_of(fk).line ||
				(pos_of(ek).line == pos_of(fk).line && pos_of(ek).col > pos_of(fk).col) ? ek : fk;
		report(c, second, "secret \"%s\" %s has both env and file: give one", key, where);
		return NULL;
	}
	if (!ev && !fv) {
		if (!guessed(c, v, keys))
			report(c, v, "secret \"%s\" %s needs env or file: write {env: VARIABLE} or {file: PATH}", key, where);
		return NULL;
	}
	char *s = NULL;
	if (ev) {
		if (!get_str(c, v, "env", inner, true, &s))
			return NULL;
		if (!env_name_ok(s)) {
			report(c, ev, "invalid environment variable name for secret \"%s\" %s: use letters, digits "
			       "and _, not starting with a digit", key, where);
			free(s);
			return NULL;
		}
		out->kind = CS_SECRET_ENV;
		free(out->ref);
		out->ref = s;
		return v;
	}
	if (!get_str(c, v, "file", inner, true, &s))
		return NULL;
	out->kind = CS_SECRET_FILE;
	free(out->ref);
	out->ref = local_path(c, s);
	free(s);
	check_local_file(c, lookup(c, v, "file", NULL), "file", inner, out->ref);
	return v;
}

/* ---- value syntax ---- */

/* Why s is not a valid DNS name, or NULL.  The leftmost label may be "*"
 * when wildcard is allowed. */
static const char *dns_problem(const char *s, bool wildcard)
{
	size_t len = strlen(s);
	if (len == 0)
		return "it is empty";
	if (len > 253)
		return "it is longer than 253 characters";
	if (s[len - 1] == '.')
		return "it ends with a dot";
	if (s[0] == '*') {
		if (!wildcard)
			return "a wildcard is not allowed here";
		if (s[1] != '.')
			return "a wildcard must be a whole label, as in *.example.org";
		s += 2;
		if (!*s)
			return "a wildcard needs a domain after it, as in *.example.org";
	}
	const char *label = s, *last = s;
	for (const char *p = s;; p++) {
		if (*p == '.' || *p == '\0') {
			size_t n = (size_t)(p - label);
			if (n == 0)
				return "it has an empty label (two dots in a row?)";
			if (n > 63)
				return "a label is longer than 63 characters";
			if (label[0] == '-' || p[-1] == '-')
				return "a label starts or ends with a hyphen";
			last = label;
			if (*p == '\0')
				break;
			label = p + 1;
			continue;
		}
		if (*p == '*')
			return "a wildcard may only be the whole leftmost label";
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-';
		if (!ok)
			return "it may only contain letters, digits, hyphens and dots";
	}
	bool numeric = true;
	for (const char *p = last; *p; p++)
		if (*p < '0' || *p > '9')
			numeric = false;
	if (numeric)
		return "it looks like an IP address, and this takes host names";
	return NULL;
}

/* "host:port" or "[v6]:port".  On success *out_host is the host without
 * brackets (caller frees) and *out_port the port. */
static const char *hostport_problem(const char *s, char **out_host, int *out_port)
{
	const char *host = s, *host_end, *colon;
	if (s[0] == '[') {
		host = s + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			return "a [ without its ]";
		if (host_end[1] != ':')
			return "expected HOST:PORT or [IPV6]:PORT";
		colon = host_end + 1;
		char *v6 = cs_xasprintf("%.*s", (int)(host_end - host), host);
		unsigned char addr[16];
		int ok = inet_pton(AF_INET6, v6, addr);
		free(v6);
		if (ok != 1)
			return "the address in brackets is not an IPv6 address";
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return "expected HOST:PORT or [IPV6]:PORT";
		host_end = colon;
		if (memchr(s, ':', (size_t)(colon - s)))
			return "an IPv6 address needs brackets, as in [2001:db8::1]:443";
	}
	if (host_end == host)
		return "the host before the port is missing";
	const char *port = colon + 1;
	if (!cs_only_digits(port) || strlen(port) > 5)
		return "the port must be a number between 1 and 65535";
	long p = strtol(port, NULL, 10);
	if (p < 1 || p > 65535)
		return "the port must be a number between 1 and 65535";
	if (out_host)
		*out_host = cs_xasprintf("%.*s", (int)(host_end - host), host);
	if (out_port)
		*out_port = (int)p;
	return NULL;
}

static bool is_ip(const char *s)
{
	unsigned char addr[16];
	return inet_pton(AF_INET, s, addr) == 1 || inet_pton(AF_INET6, s, addr) == 1;
}

static bool is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* 8-4-4-4-12 hex digits, braces optional.  Returns the braced form netsh
 * wants, or NULL. */
static char *guid_braced(const char *s)
{
	size_t len = strlen(s);
	bool braced = len == 38 && s[0] == '{' && s[37] == '}';
	if (braced) {
		s++;
		len -= 2;
	}
	if (len != 36)
		return NULL;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !is_hex(s[i]))
			return NULL;
	}
	return cs_xasprintf("{%.36s}", s);
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
static const char *entry_name(struct ctx *c, const yaml_node_t *map, size_t i, size_t first, const char *what)
{
	yaml_node_t *k = node_at(c, pair_at(map, i)->key);
	if (!k || k->type != YAML_SCALAR_NODE || kind_of(k) == V_NULL) {
		report(c, k, "%s names must be strings, got %s", what, k ? kind_name(kind_of(k)) : "nothing");
		return NULL;
	}
	const char *name = text(k);
	if (first != i) {
		report(c, k, "%s \"%s\" is defined twice (first on line %d)", what, esc(c, name),
		       pos_of(node_at(c, pair_at(map, first)->key)).line);
		return NULL;
	}
	if (strlen(name) > NAME_MAX_LEN)
		report(c, k, "%s name \"%s\" is longer than %d characters", what, esc(c, name), NAME_MAX_LEN);
	else if (!name_ok(name))
		report(c, k, "invalid %s name \"%s\": use letters, digits, \".\", \"_\" and \"-\", starting "
		       "with a letter or digit (names become file names)", what, esc(c, name));
	return name;
}

/* The entry's value, which must be a mapping; an empty value is taken as an
 * empty mapping so that its missing keys are reported. */
static yaml_node_t *entry_value(struct ctx *c, const yaml_node_t *map, size_t i, const char *what,
				const char *name)
{
	yaml_node_t *v = node_at(c, pair_at(map, i)->value);
	enum vkind k = kind_of(v);
	if (k != V_MAP && k != V_NULL) {
		report(c, v, "expected a mapping for %s %s, got %s", what, esc(c, name), kind_name(k));
		return NULL;
	}
	return v;
}

/* Each entry of a section of named entries (hosts, issuers, certificates)
 * whose name can be used goes to parse_one with its key (for positions) and
 * its value (NULL when that is not a mapping: reported already). */
static void parse_entries(struct ctx *c, const yaml_node_t *map, const char *what,
			  void (*parse_one)(struct ctx *, const char *name, const yaml_node_t *key,
					    const yaml_node_t *value))
{
	size_t n = n_pairs(map);
	const char **names = cs_xcalloc(n ? n : 1, sizeof *names);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k = node_at(c, pair_at(map, i)->key);
		if (k && k->type == YAML_SCALAR_NODE)
			names[i] = text(k);
	}
	size_t *first = first_same(names, n, false);
	for (size_t i = 0; i < n; i++) {
		const char *name = entry_name(c, map, i, first[i], what);
		if (name)
			parse_one(c, name, node_at(c, pair_at(map, i)->key), entry_value(c, map, i, what, name));
	}
	free(first);
	free(names);
}

/* Of the keys names (NULL-terminated), which are present: the index of the
 * one written first, -1 for none.  Any later one is reported as
 * conflicting, at its own key and in file order. */
static int exactly_one(struct ctx *c, const yaml_node_t *map, const char *const *names, const char *what,
		       const char *choose)
{
	int first = -1;
	for (size_t p = 0; p < n_pairs(map); p++) {
		yaml_node_t *k = node_at(c, pair_at(map, p)->key);
		if (!k || k->type != YAML_SCALAR_NODE)
			continue;
		for (int i = 0; names[i]; i++) {
			if (strcmp(text(k), names[i]) != 0)
				continue;
			if (first < 0)
				first = i;
			else if (i != first) /* a repeated key is reported as a duplicate */
				report(c, k, "%s has both %s and %s: %s", what, names[first], names[i], choose);
		}
	}
	return first;
}

static void parse_settings(struct ctx *c, const yaml_node_t *root)
{
	static const char *const keys[] = { "state_dir", "parallelism", NULL };
	const char *where = "in settings";
	struct cs_settings *s = &c->cfg->settings;
	s->state_dir = local_path(c, ".certsync");
	s->parallelism = 32;
	yaml_node_t *m = get_map(c, root, "settings", "at the top level", false);
	if (!m)
		return;
	check_keys(c, m, keys, where);
	get_local_path(c, m, "state_dir", where, false, &s->state_dir);
	get_int(c, m, "parallelism", where, false, 1, 1024, &s->parallelism);
}

/* ---- hosts ---- */

static void check_address(struct ctx *c, const yaml_node_t *v, const char *addr, const char *where)
{
	if (strstr(addr, "://"))
		report(c, v, "\"address\" %s must be a host name or IP address, not a URL (the port goes in \"port\")",
		       where);
	else if (strpbrk(addr, " \t/"))
		report(c, v, "\"address\" %s must be a host name or IP address", where);
}

static void parse_ssh(struct ctx *c, struct cs_host_cfg *h, const yaml_node_t *m)
{
	static const char *const keys[] = {
		"address", "port", "user", "identity", "passphrase", "password", "known_hosts",
		"host_key_policy", "become", "timeout", NULL,
	};
	static const char *const policies[] = { "strict", "accept-new", NULL };
	static const char *const becomes[] = { "sudo", NULL };
	const char *where = fmt_keep(c, "in ssh of host %s", esc(c, h->name));
	struct cs_ssh_cfg *s = &h->ssh;
	s->port = 22;
	s->timeout = 30;
	s->known_hosts = local_path(c, "~/.ssh/known_hosts");
	check_keys(c, m, keys, where);
	yaml_node_t *v = get_str(c, m, "address", where, true, &s->address);
	if (v)
		check_address(c, v, s->address, where);
	get_int(c, m, "port", where, false, 1, 65535, &s->port);
	get_str(c, m, "user", where, true, &s->user);
	get_local_file(c, m, "identity", where, false, &s->identity);
	get_secret(c, m, "passphrase", where, false, &s->passphrase);
	get_secret(c, m, "password", where, false, &s->password);
	get_local_file(c, m, "known_hosts", where, false, &s->known_hosts);
	int i = 0;
	if (get_enum(c, m, "host_key_policy", where, false, policies, &i))
		s->host_key_accept_new = i == 1;
	if (get_enum(c, m, "become", where, false, becomes, &i))
		s->become_sudo = true;
	get_duration(c, m, "timeout", where, true, DURATION_MAX_WAIT, &s->timeout);
}

static void parse_winrm(struct ctx *c, struct cs_host_cfg *h, const yaml_node_t *m)
{
	static const char *const keys[] = {
		"address", "port", "auth", "user", "password", "ca_bundle", "insecure_http", "timeout", NULL,
	};
	static const char *const auths[] = { "basic", "ntlm", "negotiate", NULL };
	const char *where = fmt_keep(c, "in winrm of host %s", esc(c, h->name));
	struct cs_winrm_cfg *w = &h->winrm;
	w->auth = CS_WINRM_NTLM;
	w->timeout = 60;
	check_keys(c, m, keys, where);
	yaml_node_t *v = get_str(c, m, "address", where, true, &w->address);
	if (v)
		check_address(c, v, w->address, where);
	int a = 0;
	yaml_node_t *auth = get_enum(c, m, "auth", where, false, auths, &a);
	if (auth)
		w->auth = (enum cs_winrm_auth)(a + 1);
	get_str(c, m, "user", where, true, &w->user);
	get_secret(c, m, "password", where, true, &w->password);
	get_local_file(c, m, "ca_bundle", where, false, &w->ca_bundle);
	yaml_node_t *insecure = get_bool(c, m, "insecure_http", where, &w->insecure_http);
	w->port = w->insecure_http ? 5985 : 5986;
	get_int(c, m, "port", where, false, 1, 65535, &w->port);
	get_duration(c, m, "timeout", where, true, DURATION_MAX_WAIT, &w->timeout);
	if (w->insecure_http && w->auth == CS_WINRM_BASIC)
		report(c, insecure, "basic authentication over plain HTTP would send the password in clear "
		       "(host %s: use auth: ntlm or negotiate, or HTTPS)", esc(c, h->name));
}

static void parse_host(struct ctx *c, const char *name, const yaml_node_t *key, const yaml_node_t *m)
{
	static const char *const keys[] = { "platform", "local", "ssh", "winrm", "reboot", "reboot_timeout", NULL };
	static const char *const platforms[] = { "linux", "windows", NULL };
	static const char *const transports[] = { "local", "ssh", "winrm", NULL };
	static const char *const reboots[] = { "never", "after-change", NULL };
	struct cs_host_cfg *h = &c->cfg->hosts[c->cfg->n_hosts++];
	h->name = cs_xstrdup(name);
	h->pos = pos_of(key);
	if (!m)
		return;
	const char *shown = esc(c, name);
	const char *where = fmt_keep(c, "in host %s", shown);
	check_keys(c, m, keys, where);

	int i = 0;
	if (get_enum(c, m, "platform", where, true, platforms, &i))
		h->platform = (enum cs_platform)(i + 1);

	int t = exactly_one(c, m, transports, fmt_keep(c, "host %s", shown),
			    "a host has exactly one transport");
	if (t >= 0)
		h->transport = (enum cs_transport_kind)(t + 1);
	else if (!guessed(c, m, transports))
		report(c, m, "host %s needs a transport: one of local, ssh or winrm", shown);

	yaml_node_t *k = NULL;
	yaml_node_t *v = get_map(c, m, "local", where, false);
	h->local_timeout = 300;
	if (v) {
		static const char *const local_keys[] = { "timeout", NULL };
		check_keys(c, v, local_keys, fmt_keep(c, "in local of host %s", shown));
		get_duration(c, v, "timeout", fmt_keep(c, "in local of host %s", shown), true, DURATION_MAX_WAIT,
			     &h->local_timeout);
		lookup(c, m, "local", &k);
		if (h->platform == CS_PLATFORM_WINDOWS)
			report(c, k, "host %s is windows: local is only for linux hosts (use ssh or winrm)", shown);
	}
	v = get_map(c, m, "ssh", where, false);
	if (v)
		parse_ssh(c, h, v);
	v = get_map(c, m, "winrm", where, false);
	if (v) {
		parse_winrm(c, h, v);
		lookup(c, m, "winrm", &k);
		if (h->platform == CS_PLATFORM_LINUX)
			report(c, k, "host %s is linux: winrm is only for windows hosts (use ssh or local)", shown);
	}
	if (h->transport == CS_TRANSPORT_LOCAL)
		h->local_dir = cs_xstrdup(c->dir);

	h->reboot_timeout = 600;
	get_duration(c, m, "reboot_timeout", where, true, DURATION_MAX_WAIT, &h->reboot_timeout);
	v = get_enum(c, m, "reboot", where, false, reboots, &i);
	if (v) {
		h->reboot = i == 1 ? CS_REBOOT_AFTER_CHANGE : CS_REBOOT_NEVER;
		if (h->reboot == CS_REBOOT_AFTER_CHANGE && h->platform == CS_PLATFORM_LINUX)
			report(c, v, "reboot: after-change is only for windows hosts; certsync does not reboot "
			       "linux host %s (give its bindings a reload command instead)", shown);
	}
}

static void parse_hosts(struct ctx *c, const yaml_node_t *root)
{
	yaml_node_t *m = get_map(c, root, "hosts", "at the top level", false);
	if (!m || m->type != YAML_MAPPING_NODE)
		return;
	c->cfg->hosts = cs_xcalloc(n_pairs(m), sizeof *c->cfg->hosts);
	parse_entries(c, m, "host", parse_host);
}

static const struct slot *slot_find_or_null(struct ctx *c, const char *name)
{
	if (!c->cap_hosts)
		return NULL;
	const struct slot *s = slot_find(c->host_index, c->cap_hosts, 0, name);
	return s->name ? s : NULL;
}

/* The index of the host called name; reports a dangling reference at v. */
static bool find_host(struct ctx *c, const yaml_node_t *v, const char *name, const char *where, size_t *out)
{
	const struct cs_config *cfg = c->cfg;
	/* Indexed on first use: every host is parsed by then. */
	if (!c->host_index && cfg->n_hosts) {
		for (size_t i = 0; i < cfg->n_hosts; i++)
			if (cfg->hosts[i].name && !slot_find_or_null(c, cfg->hosts[i].name))
				slot_put(&c->host_index, &c->cap_hosts, i, 0, cfg->hosts[i].name, i);
	}
	const struct slot *s = c->cap_hosts ? slot_find(c->host_index, c->cap_hosts, 0, name) : NULL;
	if (s && s->name) {
		*out = s->at;
		return true;
	}
	const char **names = cs_xcalloc(cfg->n_hosts + 1, sizeof *names);
	for (size_t i = 0; i < cfg->n_hosts; i++)
		names[i] = cfg->hosts[i].name;
	report(c, v, "unknown host \"%s\" %s%s", esc(c, name), where, did_you_mean(c, name, names, cfg->n_hosts));
	free(names);
	return false;
}

/* ---- issuers ---- */

static void parse_ca(struct ctx *c, struct cs_issuer_cfg *is, const yaml_node_t *m)
{
	static const char *const keys[] = { "cert", "key", "days", NULL };
	const char *where = fmt_keep(c, "in ca of issuer %s", esc(c, is->name));
	struct cs_issuer_ca *ca = &is->ca;
	ca->days = 90;
	check_keys(c, m, keys, where);
	get_local_file(c, m, "cert", where, true, &ca->cert);
	get_secret(c, m, "key", where, true, &ca->key);
	/* 0 marks a bad value, so that renew_before is not compared with it. */
	if (lookup(c, m, "days", NULL) && !get_int(c, m, "days", where, false, 1, 3650, &ca->days))
		ca->days = 0;
}

static void parse_manual(struct ctx *c, struct cs_issuer_cfg *is, const yaml_node_t *m)
{
	static const char *const keys[] = { "requests", "inbox", NULL };
	const char *where = fmt_keep(c, "in manual of issuer %s", esc(c, is->name));
	struct cs_issuer_manual *man = &is->manual;
	man->requests = local_path(c, "requests/");
	man->inbox = local_path(c, "inbox/");
	check_keys(c, m, keys, where);
	get_local_path(c, m, "requests", where, false, &man->requests);
	get_local_path(c, m, "inbox", where, false, &man->inbox);
}

static void parse_challenge(struct ctx *c, struct cs_issuer_cfg *is, const yaml_node_t *m)
{
	static const char *const keys[] = { "http-01", "dns-01", NULL };
	static const char *const http_keys[] = { "host", "webroot", "standalone", NULL };
	static const char *const dns_keys[] = { "hook", "propagation", NULL };
	struct cs_issuer_acme *a = &is->acme;
	const char *shown = esc(c, is->name);
	const char *where = fmt_keep(c, "in challenge of issuer %s", shown);
	check_keys(c, m, keys, where);
	int k = exactly_one(c, m, keys, fmt_keep(c, "challenge of issuer %s", shown), "choose one");
	if (k < 0) {
		if (!guessed(c, m, keys))
			report(c, m, "challenge of issuer %s needs http-01 or dns-01", shown);
		return;
	}
	a->challenge = k == 0 ? CS_CHALLENGE_HTTP01 : CS_CHALLENGE_DNS01;

	yaml_node_t *h = get_map(c, m, "http-01", where, false);
	if (h) {
		const char *hw = fmt_keep(c, "in http-01 of issuer %s", shown);
		check_keys(c, h, http_keys, hw);
		yaml_node_t *sv = get_str(c, h, "standalone", hw, false, &a->http01_standalone);
		bool has_host = lookup(c, h, "host", NULL) || lookup(c, h, "webroot", NULL);
		if (sv && has_host) {
			report(c, sv, "http-01 of issuer %s has standalone and host/webroot: use one way to answer "
			       "the challenge", shown);
		} else if (sv) {
			const char *why = hostport_problem(a->http01_standalone, NULL, NULL);
			if (why)
				report(c, sv, "invalid standalone \"%s\" %s: %s", esc(c, a->http01_standalone), hw, why);
		} else if (!lookup(c, h, "standalone", NULL)) {
			yaml_node_t *hv = get_str(c, h, "host", hw, true, &a->http01_host);
			size_t idx;
			if (hv)
				find_host(c, hv, a->http01_host, hw, &idx);
			yaml_node_t *wv = get_str(c, h, "webroot", hw, true, &a->http01_webroot);
			if (wv && a->http01_webroot[0] != '/')
				report(c, wv, "\"webroot\" %s must be an absolute path on host %s", hw,
				       esc(c, a->http01_host ? a->http01_host : "?"));
		}
	}
	yaml_node_t *d = get_map(c, m, "dns-01", where, false);
	if (d) {
		const char *dw = fmt_keep(c, "in dns-01 of issuer %s", shown);
		check_keys(c, d, dns_keys, dw);
		get_local_file(c, d, "hook", dw, true, &a->dns01_hook);
		get_duration(c, d, "propagation", dw, false, DURATION_MAX_WAIT, &a->dns01_propagation);
	}
}

static void parse_acme(struct ctx *c, struct cs_issuer_cfg *is, const yaml_node_t *m)
{
	static const char *const keys[] = {
		"directory", "contact", "ca_bundle", "eab", "challenge", "preferred_chain", NULL,
	};
	static const char *const eab_keys[] = { "kid", "hmac", NULL };
	struct cs_issuer_acme *a = &is->acme;
	const char *shown = esc(c, is->name);
	const char *where = fmt_keep(c, "in acme of issuer %s", shown);
	a->dns01_propagation = 60;
	check_keys(c, m, keys, where);
	yaml_node_t *v = get_str(c, m, "directory", where, true, &a->directory);
	/* The ACME client speaks https only, to any host, loopback included
	 * (acme_http.c; RFC 8555 §6.1): anything else would pass validate and
	 * fail at the first request. */
	if (v && !(strncmp(a->directory, "https://", 8) == 0 && a->directory[8]))
		report(c, v, "\"directory\" %s must be an https:// URL (ACME is https only), got \"%s\"",
		       where, esc(c, a->directory));
	v = get_seq(c, m, "contact", where, false);
	if (v) {
		a->contact = cs_xcalloc(n_items(v), sizeof *a->contact);
		for (size_t i = 0; i < n_items(v); i++) {
			const char *s = scalar_text(c, item_at(c, v, i), "contact", where);
			if (s)
				a->contact[a->n_contact++] = cs_xstrdup(s);
		}
	}
	get_local_file(c, m, "ca_bundle", where, false, &a->ca_bundle);
	v = get_map(c, m, "eab", where, false);
	if (v) {
		const char *ew = fmt_keep(c, "in eab of issuer %s", shown);
		check_keys(c, v, eab_keys, ew);
		get_str(c, v, "kid", ew, true, &a->eab_kid);
		get_secret(c, v, "hmac", ew, true, &a->eab_hmac);
	}
	v = get_map(c, m, "challenge", where, false);
	if (v)
		parse_challenge(c, is, v);
	get_str(c, m, "preferred_chain", where, false, &a->preferred_chain);
}

static void parse_issuer(struct ctx *c, const char *name, const yaml_node_t *key, const yaml_node_t *m)
{
	static const char *const kinds[] = { "ca", "manual", "acme", NULL };
	struct cs_issuer_cfg *is = &c->cfg->issuers[c->cfg->n_issuers++];
	is->name = cs_xstrdup(name);
	is->pos = pos_of(key);
	if (!m)
		return;
	const char *shown = esc(c, name);
	const char *where = fmt_keep(c, "in issuer %s", shown);
	check_keys(c, m, kinds, where);
	int k = exactly_one(c, m, kinds, fmt_keep(c, "issuer %s", shown),
			    "an issuer is exactly one of ca, manual or acme");
	if (k < 0) {
		if (!guessed(c, m, kinds))
			report(c, m, "issuer %s needs exactly one of ca, manual or acme", shown);
		return;
	}
	is->kind = (enum cs_issuer_kind)(k + 1);
	yaml_node_t *v = get_map(c, m, "ca", where, false);
	if (v)
		parse_ca(c, is, v);
	v = get_map(c, m, "manual", where, false);
	if (v)
		parse_manual(c, is, v);
	v = get_map(c, m, "acme", where, false);
	if (v)
		parse_acme(c, is, v);
}

static void parse_issuers(struct ctx *c, const yaml_node_t *root)
{
	yaml_node_t *m = get_map(c, root, "issuers", "at the top level", false);
	if (!m || m->type != YAML_MAPPING_NODE)
		return;
	c->cfg->issuers = cs_xcalloc(n_pairs(m), sizeof *c->cfg->issuers);
	parse_entries(c, m, "issuer", parse_issuer);
}

/* ---- bindings ---- */

struct bind_ctx {
	struct cs_cert_cfg *cert;
	struct cs_binding_cfg *b;
	size_t index;                     /* 1-based */
	const struct cs_host_cfg *host;   /* NULL when the reference is broken */
	const char *where;                /* "in files binding 1 of certificate mail" */
};

/* A path a files binding writes: resolved on local hosts, absolute on
 * remote ones, and written by no other binding. */
static void files_path(struct ctx *c, struct bind_ctx *bc, const yaml_node_t *m, const char *role, char **out)
{
	yaml_node_t *v = get_str(c, m, role, bc->where, false, out);
	if (!v || !bc->host)
		return;
	if (bc->host->transport == CS_TRANSPORT_LOCAL) {
		char *abs = local_path(c, *out);
		free(*out);
		*out = abs;
	} else if (bc->host->platform == CS_PLATFORM_LINUX && (*out)[0] != '/') {
		report(c, v, "\"%s\" %s must be an absolute path on host %s (only local hosts resolve relative paths)",
		       role, bc->where, esc(c, bc->host->name));
		return;
	}
	size_t host = (size_t)(bc->host - c->cfg->hosts);
	if (c->cap_index) {
		const struct slot *s = slot_find(c->target_index, c->cap_index, host, *out);
		if (s->name) {
			const struct target *t = &c->targets[s->at];
			report(c, v, "file %s on host %s is already written as \"%s\" by binding %zu of certificate %s",
			       esc(c, *out), esc(c, bc->host->name), t->role, t->binding, esc(c, t->cert));
			return;
		}
	}
	if (c->n_targets == c->cap_targets) {
		c->cap_targets = c->cap_targets ? 2 * c->cap_targets : 16;
		c->targets = cs_xrealloc(c->targets, c->cap_targets * sizeof *c->targets);
	}
	c->targets[c->n_targets] = (struct target){ host, *out, bc->cert->name, bc->index, role };
	slot_put(&c->target_index, &c->cap_index, c->n_targets, host, *out, c->n_targets);
	c->n_targets++;
}

static void parse_files(struct ctx *c, struct bind_ctx *bc, const yaml_node_t *m)
{
	static const char *const keys[] = {
		"cert", "key", "chain", "fullchain", "pem", "owner", "group", "mode", "reload", NULL,
	};
	struct cs_bind_files *f = &bc->b->files;
	check_keys(c, m, keys, bc->where);
	files_path(c, bc, m, "cert", &f->cert);
	files_path(c, bc, m, "key", &f->key);
	files_path(c, bc, m, "chain", &f->chain);
	files_path(c, bc, m, "fullchain", &f->fullchain);
	files_path(c, bc, m, "pem", &f->pem);
	static const char *const outputs[] = { "cert", "key", "chain", "fullchain", "pem", NULL };
	if (!lookup(c, m, "cert", NULL) && !lookup(c, m, "key", NULL) && !lookup(c, m, "chain", NULL) &&
	    !lookup(c, m, "fullchain", NULL) && !lookup(c, m, "pem", NULL) && !guessed(c, m, outputs))
		report(c, m, "files binding %zu of certificate %s writes nothing: give at least one of cert, key, "
		       "chain, fullchain or pem", bc->index, esc(c, bc->cert->name));
	get_str(c, m, "owner", bc->where, false, &f->owner);
	get_str(c, m, "group", bc->where, false, &f->group);
	get_str(c, m, "reload", bc->where, false, &f->reload);

	/* A key must not become readable by accident: the default is private
	 * whenever a key is among the files. */
	f->mode = (lookup(c, m, "key", NULL) || lookup(c, m, "pem", NULL)) ? 0600 : 0644;
	yaml_node_t *v = field(c, m, "mode", bc->where, false);
	if (!v)
		return;
	/* The raw text: YAML 1.1 would read 0600 as octal and 1.2 as 600; the
	 * digits as written are what the operator means either way. */
	const char *s = is_scalar_value(kind_of(v)) ? text(v) : NULL;
	size_t n = s ? strlen(s) : 0;
	bool ok = s && (n == 3 || n == 4);
	for (size_t i = 0; ok && i < n; i++)
		ok = s[i] >= '0' && s[i] <= '7';
	if (!ok) {
		if (!s)
			type_error(c, v, "an octal mode such as \"0600\"", "mode", bc->where);
		else
			report(c, v, "invalid mode \"%s\" %s: expected 3 or 4 octal digits such as \"0600\"",
			       esc(c, s), bc->where);
		return;
	}
	int mode = (int)strtol(s, NULL, 8);
	/* A private key that others can change, run or read, or that carries
	 * setuid/setgid/sticky, is never what was meant: group read (0640 for
	 * a service's group) is the most a key file may grant. */
	if ((lookup(c, m, "key", NULL) || lookup(c, m, "pem", NULL)) && (mode & 07037)) {
		const char *what = (mode & 07000) ? "setuid, setgid or sticky bits"
				   : (mode & 0033) ? "write or execute bits for group or others"
				   : "read access for others";
		report(c, v, "mode \"%s\" %s would give a private key %s: use \"0600\", \"0400\", \"0640\" or \"0440\"",
		       esc(c, s), bc->where, what);
		return;
	}
	f->mode = mode;
}

static void parse_iis(struct ctx *c, struct bind_ctx *bc, const yaml_node_t *m)
{
	static const char *const keys[] = { "site", "port", "ip", "hostname", "sni", NULL };
	struct cs_bind_iis *iis = &bc->b->iis;
	iis->port = 443;
	iis->ip = cs_xstrdup("*");
	check_keys(c, m, keys, bc->where);
	get_str(c, m, "site", bc->where, true, &iis->site);
	get_int(c, m, "port", bc->where, false, 1, 65535, &iis->port);
	yaml_node_t *v = get_str(c, m, "ip", bc->where, false, &iis->ip);
	if (v && strcmp(iis->ip, "*") != 0 && !is_ip(iis->ip))
		report(c, v, "invalid ip \"%s\" %s: expected * or an IP address", esc(c, iis->ip), bc->where);
	v = get_str(c, m, "hostname", bc->where, false, &iis->hostname);
	const char *why = v ? dns_problem(iis->hostname, true) : NULL;
	if (why)
		report(c, v, "invalid hostname \"%s\" %s: %s", esc(c, iis->hostname), bc->where, why);
	v = get_bool(c, m, "sni", bc->where, &iis->sni);
	if (v && iis->sni && !lookup(c, m, "hostname", NULL))
		report(c, v, "sni: true %s needs a hostname (SNI picks the certificate by host name)", bc->where);
}

static void parse_httpsys(struct ctx *c, struct bind_ctx *bc, const yaml_node_t *m)
{
	static const char *const keys[] = { "ipport", "hostnameport", "appid", NULL };
	static const char *const forms[] = { "ipport", "hostnameport", NULL };
	struct cs_bind_httpsys *hs = &bc->b->httpsys;
	check_keys(c, m, keys, bc->where);
	if (exactly_one(c, m, forms, fmt_keep(c, "httpsys binding %zu of certificate %s", bc->index,
					       esc(c, bc->cert->name)), "give one") < 0 && !guessed(c, m, forms))
		report(c, m, "httpsys binding %zu of certificate %s needs ipport or hostnameport", bc->index,
		       esc(c, bc->cert->name));
	char *host = NULL;
	yaml_node_t *v = get_str(c, m, "ipport", bc->where, false, &hs->ipport);
	if (v) {
		const char *why = hostport_problem(hs->ipport, &host, NULL);
		if (!why && !is_ip(host))
			why = "the part before the port must be an IP address (use hostnameport for names)";
		if (why)
			report(c, v, "invalid ipport \"%s\" %s: %s", esc(c, hs->ipport), bc->where, why);
		free(host);
		host = NULL;
	}
	v = get_str(c, m, "hostnameport", bc->where, false, &hs->hostnameport);
	if (v) {
		const char *why = hostport_problem(hs->hostnameport, &host, NULL);
		if (!why)
			why = dns_problem(host, true);
		if (why)
			report(c, v, "invalid hostnameport \"%s\" %s: %s", esc(c, hs->hostnameport), bc->where, why);
		free(host);
	}
	char *appid = NULL;
	v = get_str(c, m, "appid", bc->where, false, &appid);
	if (v) {
		hs->appid = guid_braced(appid);
		if (!hs->appid)
			report(c, v, "invalid appid \"%s\" %s: expected a GUID such as "
			       "{4dc3e181-e14b-4a21-b022-59fc669b0914}", esc(c, appid), bc->where);
	}
	free(appid);
}

static void parse_exchange(struct ctx *c, struct bind_ctx *bc, const yaml_node_t *m)
{
	static const char *const keys[] = { "services", NULL };
	static const char *const services[] = { "POP", "IMAP", "SMTP", "IIS", NULL };
	check_keys(c, m, keys, bc->where);
	yaml_node_t *v = get_seq(c, m, "services", bc->where, true);
	if (!v)
		return;
	if (n_items(v) == 0) {
		report(c, v, "\"services\" %s is empty: list at least one of POP, IMAP, SMTP or IIS", bc->where);
		return;
	}
	for (size_t i = 0; i < n_items(v); i++) {
		yaml_node_t *it = item_at(c, v, i);
		const char *s = scalar_text(c, it, "services", bc->where);
		if (!s)
			continue;
		int bit = -1;
		for (int j = 0; services[j]; j++)
			if (strcasecmp(s, services[j]) == 0)
				bit = j;
		if (bit < 0) {
			report(c, it, "unknown exchange service \"%s\" %s: expected POP, IMAP, SMTP or IIS%s",
			       esc(c, s), bc->where, did_you_mean(c, s, services, 4));
			continue;
		}
		if (bc->b->exchange.services & (1u << bit)) {
			report(c, it, "exchange service %s is listed twice %s", services[bit], bc->where);
			continue;
		}
		bc->b->exchange.services |= 1u << bit;
	}
}

bool cs_script_arg_name_ok(const char *s)
{
	if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-'))
			return false;
	return true;
}

static void parse_script(struct ctx *c, struct bind_ctx *bc, const yaml_node_t *m)
{
	static const char *const keys[] = { "path", "args", NULL };
	struct cs_bind_script *sc = &bc->b->script;
	check_keys(c, m, keys, bc->where);
	char *raw = NULL;
	yaml_node_t *v = get_str(c, m, "path", bc->where, true, &raw);
	if (v) {
		sc->path = local_path(c, raw);
		/* The script is sent from here, so a typo is caught now rather
		 * than halfway through an apply. */
		struct stat st;
		if (stat(sc->path, &st) < 0)
			report(c, v, "script %s %s does not exist (looked for %s)", esc(c, raw), bc->where,
			       esc(c, sc->path));
		else if (!S_ISREG(st.st_mode))
			report(c, v, "script %s %s is not a regular file (%s is %s)", esc(c, raw), bc->where,
			       esc(c, sc->path), cs_file_type_name(st.st_mode));
	}
	free(raw);
	v = get_map(c, m, "args", bc->where, false);
	if (!v || v->type != YAML_MAPPING_NODE)
		return;
	const char *aw = fmt_keep(c, "in args of script binding %zu of certificate %s", bc->index,
				  esc(c, bc->cert->name));
	sc->args = cs_xcalloc(n_pairs(v), sizeof *sc->args);
	for (size_t i = 0; i < n_pairs(v); i++) {
		yaml_node_t *k = node_at(c, pair_at(v, i)->key);
		yaml_node_t *val = node_at(c, pair_at(v, i)->value);
		if (!k || !is_scalar_value(kind_of(k)) || !cs_script_arg_name_ok(text(k))) {
			report(c, k, "invalid argument name %s: use letters, digits, _ and -, starting with a letter",
			       aw);
			continue;
		}
		bool dup = false;
		for (size_t j = 0; j < sc->n_args; j++)
			dup = dup || strcmp(sc->args[j].name, text(k)) == 0;
		if (dup) {
			report(c, k, "argument \"%s\" is given twice %s", text(k), aw);
			continue;
		}
		enum vkind vk = kind_of(val);
		if (vk != V_STR && vk != V_INT && vk != V_FLOAT && vk != V_BOOL) {
			report(c, val, "expected a string, number or boolean for argument \"%s\" %s, got %s",
			       text(k), aw, kind_name(vk));
			continue;
		}
		if (strlen(text(val)) != val->data.scalar.length) {
			report(c, val, "argument \"%s\" %s contains a NUL character", text(k), aw);
			continue;
		}
		sc->args[sc->n_args].name = cs_xstrdup(text(k));
		sc->args[sc->n_args].value = cs_xstrdup(text(val));
		sc->n_args++;
	}
}

static const char *const binding_kinds[] = {
	"files", "store", "iis", "httpsys", "exchange", "rdp", "script", NULL,
};

/* Which binding kinds each platform has a driver for. */
static bool kind_on_platform(enum cs_binding_kind k, enum cs_platform p)
{
	if (k == CS_BIND_SCRIPT)
		return true;
	if (p == CS_PLATFORM_LINUX)
		return k == CS_BIND_FILES;
	return k != CS_BIND_FILES;
}

static void parse_binding(struct ctx *c, struct cs_cert_cfg *cert, size_t index, const yaml_node_t *m)
{
	static const char *const keys[] = {
		"host", "files", "store", "iis", "httpsys", "exchange", "rdp", "script", NULL,
	};
	const char *cname = esc(c, cert->name);
	const char *where = fmt_keep(c, "in binding %zu of certificate %s", index, cname);
	if (kind_of(m) != V_MAP) {
		report(c, m, "expected a mapping for binding %zu of certificate %s, got %s", index, cname,
		       kind_name(kind_of(m)));
		return;
	}
	struct cs_binding_cfg *b = &cert->bindings[cert->n_bindings++];
	b->pos = pos_of(m);
	check_keys(c, m, keys, where);

	struct bind_ctx bc = { cert, b, index, NULL, where };
	b->host_index = (size_t)-1;
	yaml_node_t *hv = get_str(c, m, "host", where, true, &b->host);
	if (hv && find_host(c, hv, b->host, where, &b->host_index))
		bc.host = &c->cfg->hosts[b->host_index];

	int k = exactly_one(c, m, binding_kinds, fmt_keep(c, "binding %zu of certificate %s", index, cname),
			    "write one binding for each");
	if (k < 0) {
		if (!guessed(c, m, binding_kinds))
			report(c, m, "binding %zu of certificate %s needs a kind: one of %s", index, cname,
			       word_list(c, binding_kinds, " or "));
		return;
	}
	b->kind = (enum cs_binding_kind)(k + 1);
	yaml_node_t *kk = NULL;
	lookup(c, m, binding_kinds[k], &kk);
	if (bc.host && bc.host->platform && !kind_on_platform(b->kind, bc.host->platform)) {
		report(c, kk, "binding kind %s is not available on %s host %s (%s hosts take %s)",
		       binding_kinds[k], cs_platform_name(bc.host->platform), esc(c, bc.host->name),
		       cs_platform_name(bc.host->platform),
		       bc.host->platform == CS_PLATFORM_LINUX ? "files or script"
							      : "store, iis, httpsys, exchange, rdp or script");
		/* The rest would only add noise about paths that can never apply. */
		bc.host = NULL;
	}
	for (int i = 0; binding_kinds[i]; i++) {
		yaml_node_t *v = get_map(c, m, binding_kinds[i], where, false);
		if (!v)
			continue;
		bc.where = fmt_keep(c, "in %s binding %zu of certificate %s", binding_kinds[i], index, cname);
		switch ((enum cs_binding_kind)(i + 1)) {
		case CS_BIND_FILES:
			parse_files(c, &bc, v);
			break;
		case CS_BIND_STORE: {
			static const char *const skeys[] = { "exportable", "cleanup", NULL };
			check_keys(c, v, skeys, bc.where);
			get_bool(c, v, "exportable", bc.where, &b->store.exportable);
			get_bool(c, v, "cleanup", bc.where, &b->store.cleanup);
			break;
		}
		case CS_BIND_IIS:
			parse_iis(c, &bc, v);
			break;
		case CS_BIND_HTTPSYS:
			parse_httpsys(c, &bc, v);
			break;
		case CS_BIND_EXCHANGE:
			parse_exchange(c, &bc, v);
			break;
		case CS_BIND_RDP: {
			static const char *const none[] = { NULL };
			check_keys(c, v, none, bc.where);
			break;
		}
		case CS_BIND_SCRIPT:
			parse_script(c, &bc, v);
			break;
		}
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

static void parse_verify(struct ctx *c, struct cs_cert_cfg *cert, size_t index, const yaml_node_t *m)
{
	static const char *const keys[] = { "connect", "servername", "starttls", "ca_bundle", "timeout", "host", NULL };
	static const char *const starttls[] = { "smtp", "imap", "pop3", NULL };
	static const char *const host_key[] = { "host", NULL };
	const char *cname = esc(c, cert->name);
	if (kind_of(m) != V_MAP) {
		report(c, m, "expected a mapping for verify %zu of certificate %s, got %s", index, cname,
		       kind_name(kind_of(m)));
		return;
	}
	const char *where = fmt_keep(c, "in verify %zu of certificate %s", index, cname);
	struct cs_verify_cfg *vf = &cert->verify[cert->n_verify++];
	vf->pos = pos_of(m);
	vf->timeout = 30;
	vf->host_index = (size_t)-1;
	check_keys(c, m, keys, where);

	yaml_node_t *v = get_str(c, m, "connect", where, true, &vf->connect);
	const char *why = v ? hostport_problem(vf->connect, NULL, NULL) : NULL;
	if (why)
		report(c, v, "invalid connect \"%s\" %s: %s", esc(c, vf->connect), where, why);
	v = get_str(c, m, "servername", where, false, &vf->servername);
	why = v ? dns_problem(vf->servername, false) : NULL;
	if (why)
		report(c, v, "invalid servername \"%s\" %s: %s", esc(c, vf->servername), where, why);
	int st = 0;
	if (get_enum(c, m, "starttls", where, false, starttls, &st))
		vf->starttls = (enum cs_starttls)(st + 1);
	get_local_file(c, m, "ca_bundle", where, false, &vf->ca_bundle);
	get_duration(c, m, "timeout", where, true, DURATION_MAX_WAIT, &vf->timeout);

	size_t *hosts = cs_xcalloc(cert->n_bindings + 1, sizeof *hosts);
	bool broken;
	size_t n = bound_hosts(cert, hosts, &broken);
	v = get_str(c, m, "host", where, false, &vf->host);
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
					report(c, v, "verify %zu of certificate %s names host %s, but the certificate "
					       "is not bound on it (bound on: %s)", index, cname, esc(c, vf->host),
					       esc(c, list.data));
				else
					report(c, v, "verify %zu of certificate %s names host %s, but the certificate "
					       "has no bindings", index, cname, esc(c, vf->host));
				cs_buf_free(&list);
			}
		}
	} else if (!lookup(c, m, "host", NULL) && !broken && !guessed(c, m, host_key)) {
		if (n == 1) {
			vf->host_index = hosts[0];
			vf->host = cs_xstrdup(c->cfg->hosts[hosts[0]].name);
		} else if (n == 0) {
			report(c, m, "verify %zu of certificate %s has nothing to check: the certificate has no bindings",
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

static void parse_key(struct ctx *c, struct cs_cert_cfg *cert, const yaml_node_t *m)
{
	static const char *const keys[] = { "type", "bits", "curve", NULL };
	static const char *const types[] = { "rsa", "ecdsa", NULL };
	static const char *const curves[] = { "p256", "p384", NULL };
	const char *cname = esc(c, cert->name);
	const char *where = fmt_keep(c, "in key of certificate %s", cname);
	check_keys(c, m, keys, where);
	int t = 0;
	if (!get_enum(c, m, "type", where, true, types, &t))
		return;
	yaml_node_t *k = NULL;
	if (t == 0) {
		cert->key.type = CS_KEY_RSA;
		yaml_node_t *v = get_int(c, m, "bits", where, false, 0, INT_MAX, &cert->key.bits);
		if (v && cert->key.bits != 2048 && cert->key.bits != 3072 && cert->key.bits != 4096) {
			report(c, v, "invalid rsa key size %d %s: expected 2048, 3072 or 4096", cert->key.bits, where);
			cert->key.bits = 2048;
		}
		if (lookup(c, m, "curve", &k))
			report(c, k, "\"curve\" does not apply to rsa keys (certificate %s): use bits: 2048, 3072 or "
			       "4096, or type: ecdsa", cname);
	} else {
		cert->key.type = CS_KEY_ECDSA;
		cert->key.bits = 0;
		cert->key.curve = CS_CURVE_P256;
		int cv = 0;
		if (get_enum(c, m, "curve", where, false, curves, &cv))
			cert->key.curve = cv == 0 ? CS_CURVE_P256 : CS_CURVE_P384;
		if (lookup(c, m, "bits", &k))
			report(c, k, "\"bits\" does not apply to ecdsa keys (certificate %s): use curve: p256 or p384, "
			       "or type: rsa", cname);
	}
}

static void parse_names(struct ctx *c, struct cs_cert_cfg *cert, const yaml_node_t *m, const char *where)
{
	const char *cname = esc(c, cert->name);
	yaml_node_t *v = get_str(c, m, "common_name", where, true, &cert->common_name);
	if (v) {
		const char *why = dns_problem(cert->common_name, true);
		if (!why && strlen(cert->common_name) > 64)
			why = "a common name is at most 64 characters (put longer names in dns_names)";
		if (why)
			report(c, v, "invalid DNS name \"%s\" for common_name of certificate %s: %s",
			       esc(c, cert->common_name), cname, why);
	}
	v = get_seq(c, m, "dns_names", where, false);
	if (!v)
		return;
	size_t n = n_items(v);
	cert->dns_names = cs_xcalloc(n ? n : 1, sizeof *cert->dns_names);
	/* Valid names only take part in the duplicate check, as before. */
	const char **valid = cs_xcalloc(n ? n : 1, sizeof *valid);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *it = item_at(c, v, i);
		const char *s = scalar_text(c, it, "dns_names", where);
		if (!s)
			continue;
		const char *why = dns_problem(s, true);
		if (why) {
			report(c, it, "invalid DNS name \"%s\" in dns_names of certificate %s: %s", esc(c, s), cname, why);
			continue;
		}
		valid[i] = s;
	}
	size_t *first = first_same(valid, n, true);
	for (size_t i = 0; i < n; i++) {
		if (!valid[i])
			continue;
		if (first[i] != i) {
			report(c, item_at(c, v, i), "DNS name \"%s\" is listed twice in dns_names of certificate %s "
			       "(first on line %d)", esc(c, valid[i]), cname, pos_of(item_at(c, v, first[i])).line);
			continue;
		}
		cert->dns_names[cert->n_dns_names++] = cs_xstrdup(valid[i]);
	}
	free(first);
	free(valid);
}

static void parse_cert(struct ctx *c, const char *name, const yaml_node_t *key, const yaml_node_t *m)
{
	static const char *const keys[] = {
		"common_name", "dns_names", "key", "issuer", "renew_before", "remind_before", "bindings", "verify",
		NULL,
	};
	struct cs_cert_cfg *cert = &c->cfg->certs[c->cfg->n_certs++];
	cert->name = cs_xstrdup(name);
	cert->pos = pos_of(key);
	cert->key.type = CS_KEY_RSA;
	cert->key.bits = 2048;
	cert->renew_before = 30 * 86400;
	cert->remind_before = 7 * 86400;
	cert->issuer_index = (size_t)-1;
	if (!m)
		return;
	const char *cname = esc(c, name);
	const char *where = fmt_keep(c, "in certificate %s", cname);
	check_keys(c, m, keys, where);
	parse_names(c, cert, m, where);

	yaml_node_t *v = get_map(c, m, "key", where, false);
	if (v)
		parse_key(c, cert, v);

	yaml_node_t *iv = get_str(c, m, "issuer", where, true, &cert->issuer);
	if (iv) {
		const struct cs_config *cfg = c->cfg;
		for (size_t i = 0; i < cfg->n_issuers; i++)
			if (strcmp(cfg->issuers[i].name, cert->issuer) == 0)
				cert->issuer_index = i;
		if (cert->issuer_index == (size_t)-1) {
			const char **names = cs_xcalloc(cfg->n_issuers + 1, sizeof *names);
			for (size_t i = 0; i < cfg->n_issuers; i++)
				names[i] = cfg->issuers[i].name;
			report(c, iv, "unknown issuer \"%s\" %s%s", esc(c, cert->issuer), where,
			       did_you_mean(c, cert->issuer, names, cfg->n_issuers));
			free(names);
		}
	}

	yaml_node_t *rv = get_duration(c, m, "renew_before", where, true, DURATION_MAX_WINDOW,
					&cert->renew_before);
	bool renew_ok = rv || !lookup(c, m, "renew_before", NULL);
	get_duration(c, m, "remind_before", where, false, DURATION_MAX_WINDOW, &cert->remind_before);
	if (renew_ok && cert->issuer_index != (size_t)-1) {
		const struct cs_issuer_cfg *is = &c->cfg->issuers[cert->issuer_index];
		if (is->kind == CS_ISSUER_CA && is->ca.days > 0 &&
		    cert->renew_before >= (int64_t)is->ca.days * 86400) {
			char d[64];
			cs_duration_format(d, sizeof d, cert->renew_before);
			report(c, rv ? rv : iv, "renew_before %s%s is not shorter than issuer %s's validity of %d "
			       "day%s: every plan would renew", d, rv ? "" : " (the default)", esc(c, is->name),
			       is->ca.days, is->ca.days == 1 ? "" : "s");
		}
	}

	v = get_seq(c, m, "bindings", where, false);
	if (v) {
		cert->bindings = cs_xcalloc(n_items(v), sizeof *cert->bindings);
		for (size_t i = 0; i < n_items(v); i++)
			parse_binding(c, cert, i + 1, item_at(c, v, i));
	}
	v = get_seq(c, m, "verify", where, false);
	if (v) {
		cert->verify = cs_xcalloc(n_items(v), sizeof *cert->verify);
		for (size_t i = 0; i < n_items(v); i++)
			parse_verify(c, cert, i + 1, item_at(c, v, i));
	}
}

static void parse_certs(struct ctx *c, const yaml_node_t *root)
{
	yaml_node_t *m = get_map(c, root, "certificates", "at the top level", false);
	if (!m || m->type != YAML_MAPPING_NODE)
		return;
	c->cfg->certs = cs_xcalloc(n_pairs(m), sizeof *c->cfg->certs);
	parse_entries(c, m, "certificate", parse_cert);
}

static void parse_root(struct ctx *c, const yaml_node_t *root)
{
	static const char *const keys[] = { "version", "settings", "issuers", "hosts", "certificates", NULL };
	if (kind_of(root) != V_MAP) {
		report(c, root, "expected a mapping at the top level (version, settings, issuers, hosts, "
		       "certificates), got %s", kind_name(kind_of(root)));
		return;
	}
	check_keys(c, root, keys, "at the top level");
	static const char *const version_key[] = { "version", NULL };
	yaml_node_t *v = field(c, root, "version", "at the top level", false);
	if (!v) {
		if (!guessed(c, root, version_key))
			report(c, root, "missing required key \"version\" at the top level (write version: 1)");
	} else if (kind_of(v) != V_INT) {
		type_error(c, v, "an integer", "version", "at the top level");
	} else if (strcmp(text(v), "1") != 0) {
		report(c, v, "unsupported config version %s (this certsync reads version 1)", esc(c, text(v)));
	}
	parse_settings(c, root);
	/* Hosts and issuers first, wherever they are in the file: bindings,
	 * verify and http-01 refer to them. */
	parse_hosts(c, root);
	parse_issuers(c, root);
	parse_certs(c, root);
}

/* ---- loading ---- */

static void syntax_error(struct ctx *c, const yaml_parser_t *p, const char *textp, size_t len)
{
	int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
	size_t at = p->problem_mark.index;
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark. */
		at = p->problem_offset;
		line = 1;
		col = 1;
		for (size_t i = 0; i < at && i < len; i++) {
			if (textp[i] == '\n') {
				line++;
				col = 1;
			} else if (((unsigned char)textp[i] & 0xc0) != 0x80) {
				col++;
			}
		}
	}
	const char *problem = p->problem ? p->problem : "the file is not valid YAML";
	/* libyaml's "cannot start any token" hides the usual cause. */
	if (at < len && textp[at] == '\t')
		report_at(c, line, col, "syntax error: found a tab: YAML is indented with spaces, not tabs");
	else if (p->context)
		report_at(c, line, col, "syntax error: %s (%s on line %d)", problem, p->context,
			  (int)p->context_mark.line + 1);
	else
		report_at(c, line, col, "syntax error: %s", problem);
}

/* Limits on the shape of the YAML, far above any real config (which nests
 * about seven deep and lists at most some thousands of hosts or
 * certificates).  They are checked on the event stream before the document
 * is built, so a hostile or broken file (200,000 nested "[", an alias bomb)
 * is refused after reading only as much of it as it takes to go over. */
#define YAML_MAX_DEPTH 64          /* nested lists and mappings */
#define YAML_MAX_ITEMS 100000      /* entries of one list, pairs of one mapping */
#define YAML_MAX_NODES 1000000     /* nodes, an alias counting as its content again */
#define YAML_MAX_ANCHORS 10000     /* &anchors in the file */

struct shape_frame {
	bool map;
	size_t items;           /* list entries, or keys and values of a mapping */
	uint64_t nodes;         /* nodes under it so far, aliases expanded */
	char *anchor;           /* its &anchor, or NULL */
	struct cs_pos pos;
};

struct shape_anchor {
	char *name;
	uint64_t nodes;
};

struct shape {
	struct ctx *c;
	struct shape_frame frames[YAML_MAX_DEPTH + 1];
	size_t depth;
	uint64_t nodes;
	struct shape_anchor *anchors;
	size_t n_anchors, cap_anchors;
};

static struct cs_pos pos_of_mark(yaml_mark_t m)
{
	struct cs_pos p = { (int)m.line + 1, (int)m.column + 1 };
	return p;
}

/* The core-schema tags a value may carry explicitly, each only on the kind
 * of value it names; anything else ("!!python/object:...", "!local", "!")
 * asks for a type certsync does not have. */
static bool tag_ok(const yaml_event_t *e)
{
	static const char core[] = "tag:yaml.org,2002:";
	const char *tag = NULL;
	if (e->type == YAML_SCALAR_EVENT)
		tag = (const char *)e->data.scalar.tag;
	else if (e->type == YAML_SEQUENCE_START_EVENT)
		tag = (const char *)e->data.sequence_start.tag;
	else if (e->type == YAML_MAPPING_START_EVENT)
		tag = (const char *)e->data.mapping_start.tag;
	if (!tag)
		return true;
	if (strncmp(tag, core, sizeof core - 1) != 0)
		return false;
	tag += sizeof core - 1;
	if (e->type == YAML_SEQUENCE_START_EVENT)
		return strcmp(tag, "seq") == 0;
	if (e->type == YAML_MAPPING_START_EVENT)
		return strcmp(tag, "map") == 0;
	const char *v = (const char *)e->data.scalar.value;
	if (strlen(v) != e->data.scalar.length)
		return strcmp(tag, "str") == 0;
	/* As plain text the value must already be what the tag says, so
	 * that the tag changes nothing: !!str on a quoted or word value,
	 * !!int on digits. */
	enum vkind k = scalar_kind(v, e->data.scalar.style);
	if (strcmp(tag, "str") == 0)
		return k == V_STR;
	if (strcmp(tag, "int") == 0)
		return scalar_kind(v, YAML_PLAIN_SCALAR_STYLE) == V_INT;
	if (strcmp(tag, "float") == 0)
		return scalar_kind(v, YAML_PLAIN_SCALAR_STYLE) == V_FLOAT;
	if (strcmp(tag, "bool") == 0)
		return scalar_kind(v, YAML_PLAIN_SCALAR_STYLE) == V_BOOL;
	if (strcmp(tag, "null") == 0)
		return scalar_kind(v, YAML_PLAIN_SCALAR_STYLE) == V_NULL;
	return false;
}

static const char *event_tag(const yaml_event_t *e)
{
	if (e->type == YAML_SCALAR_EVENT)
		return (const char *)e->data.scalar.tag;
	if (e->type == YAML_SEQUENCE_START_EVENT)
		return (const char *)e->data.sequence_start.tag;
	return (const char *)e->data.mapping_start.tag;
}

/* A node of size nodes ends (or an alias of that size appears) under the
 * innermost open collection; fresh of them were not counted yet (a
 * collection's content was counted as it came).  False, with the error
 * reported, when a limit is crossed. */
static bool shape_add(struct shape *sh, uint64_t nodes, uint64_t fresh, yaml_mark_t at)
{
	struct cs_pos p = pos_of_mark(at);
	sh->nodes += fresh;
	if (sh->nodes > YAML_MAX_NODES) {
		report_at(sh->c, p.line, p.col, "the config has more than %d YAML nodes (aliases counted as "
			  "their content): certsync reads at most that many", YAML_MAX_NODES);
		return false;
	}
	if (sh->depth == 0)
		return true;
	struct shape_frame *f = &sh->frames[sh->depth - 1];
	f->items++;
	f->nodes += nodes;
	if ((f->map ? f->items / 2 : f->items) > YAML_MAX_ITEMS) {
		report_at(sh->c, f->pos.line, f->pos.col, "this %s has more than %d entries: certsync reads at "
			  "most that many", f->map ? "mapping" : "list", YAML_MAX_ITEMS);
		return false;
	}
	return true;
}

static bool shape_anchor(struct shape *sh, const yaml_char_t *name, uint64_t nodes, yaml_mark_t at)
{
	if (!name)
		return true;
	if (sh->n_anchors == YAML_MAX_ANCHORS) {
		struct cs_pos p = pos_of_mark(at);
		report_at(sh->c, p.line, p.col, "the config has more than %d anchors (&name): certsync reads at "
			  "most that many", YAML_MAX_ANCHORS);
		return false;
	}
	if (sh->n_anchors == sh->cap_anchors) {
		sh->cap_anchors = sh->cap_anchors ? 2 * sh->cap_anchors : 16;
		sh->anchors = cs_xrealloc(sh->anchors, sh->cap_anchors * sizeof *sh->anchors);
	}
	sh->anchors[sh->n_anchors++] = (struct shape_anchor){ cs_xstrdup((const char *)name), nodes };
	return true;
}

static uint64_t shape_alias(const struct shape *sh, const char *name)
{
	/* The latest definition wins, as in YAML. */
	for (size_t i = sh->n_anchors; i-- > 0;)
		if (strcmp(sh->anchors[i].name, name) == 0)
			return sh->anchors[i].nodes;
	return 1; /* undefined: the loader reports it */
}

/* One event.  1 go on, 0 the stream ended, -1 stop (reported). */
static int shape_event(struct shape *sh, const yaml_event_t *e)
{
	struct cs_pos p = pos_of_mark(e->start_mark);
	switch (e->type) {
	case YAML_STREAM_END_EVENT:
		return 0;
	case YAML_SCALAR_EVENT:
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (!tag_ok(e)) {
			const char *tag = event_tag(e);
			static const char core[] = "tag:yaml.org,2002:";
			bool is_core = strncmp(tag, core, sizeof core - 1) == 0;
			static const char *const scalar_tags[] = { "str", "int", "float", "bool", "null", NULL };
			bool mismatch = is_core && e->type == YAML_SCALAR_EVENT &&
					one_of(tag + sizeof core - 1, scalar_tags);
			report_at(sh->c, p.line, p.col, "%s YAML tag \"%s%s\"%s: certsync reads plain values; remove "
				  "the tag", mismatch ? "misplaced" : "unsupported", is_core ? "!!" : "",
				  esc(sh->c, is_core ? tag + sizeof core - 1 : tag),
				  mismatch ? " (the value is not of that type as written)" : "");
			return -1;
		}
		if (e->type == YAML_SCALAR_EVENT) {
			if (!shape_add(sh, 1, 1, e->start_mark) ||
			    !shape_anchor(sh, e->data.scalar.anchor, 1, e->start_mark))
				return -1;
			return 1;
		}
		if (sh->depth == YAML_MAX_DEPTH) {
			report_at(sh->c, p.line, p.col, "lists and mappings are nested more than %d deep: certsync "
				  "reads at most that many levels", YAML_MAX_DEPTH);
			return -1;
		}
		const yaml_char_t *anchor = e->type == YAML_SEQUENCE_START_EVENT ? e->data.sequence_start.anchor
					    : e->data.mapping_start.anchor;
		sh->frames[sh->depth++] = (struct shape_frame){
			.map = e->type == YAML_MAPPING_START_EVENT,
			.nodes = 1,
			.anchor = anchor ? cs_xstrdup((const char *)anchor) : NULL,
			.pos = p,
		};
		/* The collection itself counts now, its content as it comes. */
		sh->nodes++;
		if (sh->nodes > YAML_MAX_NODES)
			return shape_add(sh, 0, 0, e->start_mark) ? 1 : -1;
		return 1;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		if (sh->depth == 0)
			return 1;
		struct shape_frame f = sh->frames[--sh->depth];
		bool ok = shape_add(sh, f.nodes, 0, e->start_mark) && shape_anchor(sh, (const yaml_char_t *)f.anchor,
										f.nodes, e->start_mark);
		free(f.anchor);
		return ok ? 1 : -1;
	}
	case YAML_ALIAS_EVENT: {
		uint64_t n = shape_alias(sh, (const char *)e->data.alias.anchor);
		return shape_add(sh, n, n, e->start_mark) ? 1 : -1;
	}
	default:
		return 1;
	}
}

/* 0 when the stream is within the limits (or has a syntax error, which the
 * loader then reports); -1 when a limit or tag was reported. */
static int check_shape(struct ctx *c, const char *textp, size_t len)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		cs_out_of_memory();
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)textp, len);
	struct shape sh = { .c = c };
	int r = 0;
	for (;;) {
		yaml_event_t e;
		if (!yaml_parser_parse(&parser, &e))
			break;
		int k = shape_event(&sh, &e);
		yaml_event_delete(&e);
		if (k <= 0) {
			r = k;
			break;
		}
	}
	for (size_t i = 0; i < sh.depth; i++)
		free(sh.frames[i].anchor);
	for (size_t i = 0; i < sh.n_anchors; i++)
		free(sh.anchors[i].name);
	free(sh.anchors);
	yaml_parser_delete(&parser);
	return r;
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
	struct ctx c = { .file = name, .dir = cfg->dir, .diags = diags, .cfg = cfg };
	yaml_parser_t parser;
	yaml_document_t doc;
	bool have_doc = false;
	if (!yaml_parser_initialize(&parser)) {
		cs_out_of_memory();
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)textp, len);
	if (check_shape(&c, textp, len) < 0)
		goto out;
	if (!yaml_parser_load(&parser, &doc)) {
		syntax_error(&c, &parser, textp, len);
		goto out;
	}
	have_doc = true;
	c.doc = &doc;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		report_at(&c, 1, 1, "the config is empty: it needs at least \"version: 1\"");
		goto out;
	}
	yaml_document_t extra;
	if (!yaml_parser_load(&parser, &extra)) {
		syntax_error(&c, &parser, textp, len);
	} else {
		yaml_node_t *r2 = yaml_document_get_root_node(&extra);
		if (r2)
			report(&c, r2, "a config file holds one YAML document; this is a second one");
		yaml_document_delete(&extra);
	}
	parse_root(&c, root);
out:
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	for (size_t i = 0; i < c.n_pool; i++)
		free(c.pool[i]);
	free(c.pool);
	free(c.targets);
	free(c.target_index);
	free(c.host_index);
	free(c.guesses);
	cs_diags_sort(diags);
	if (c.errors) {
		cs_config_free(cfg);
		return -EINVAL;
	}
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

/* ---- freeing ---- */

static void free_secret(struct cs_secret *s)
{
	free(s->ref);
	s->ref = NULL;
}

static void free_binding(struct cs_binding_cfg *b)
{
	free(b->host);
	free(b->files.cert);
	free(b->files.key);
	free(b->files.chain);
	free(b->files.fullchain);
	free(b->files.pem);
	free(b->files.owner);
	free(b->files.group);
	free(b->files.reload);
	free(b->iis.site);
	free(b->iis.ip);
	free(b->iis.hostname);
	free(b->httpsys.ipport);
	free(b->httpsys.hostnameport);
	free(b->httpsys.appid);
	free(b->script.path);
	for (size_t i = 0; i < b->script.n_args; i++) {
		free(b->script.args[i].name);
		free(b->script.args[i].value);
	}
	free(b->script.args);
}

void cs_config_free(struct cs_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_issuers; i++) {
		struct cs_issuer_cfg *is = &cfg->issuers[i];
		free(is->name);
		free(is->ca.cert);
		free_secret(&is->ca.key);
		free(is->manual.requests);
		free(is->manual.inbox);
		free(is->acme.directory);
		cs_strv_free(is->acme.contact, is->acme.n_contact);
		free(is->acme.ca_bundle);
		free(is->acme.eab_kid);
		free_secret(&is->acme.eab_hmac);
		free(is->acme.http01_host);
		free(is->acme.http01_webroot);
		free(is->acme.http01_standalone);
		free(is->acme.dns01_hook);
		free(is->acme.preferred_chain);
	}
	free(cfg->issuers);
	for (size_t i = 0; i < cfg->n_hosts; i++) {
		struct cs_host_cfg *h = &cfg->hosts[i];
		free(h->name);
		free(h->ssh.address);
		free(h->ssh.user);
		free(h->ssh.identity);
		free_secret(&h->ssh.passphrase);
		free_secret(&h->ssh.password);
		free(h->ssh.known_hosts);
		free(h->winrm.address);
		free(h->winrm.user);
		free_secret(&h->winrm.password);
		free(h->winrm.ca_bundle);
		free(h->local_dir);
	}
	free(cfg->hosts);
	for (size_t i = 0; i < cfg->n_certs; i++) {
		struct cs_cert_cfg *cert = &cfg->certs[i];
		free(cert->name);
		free(cert->common_name);
		cs_strv_free(cert->dns_names, cert->n_dns_names);
		free(cert->issuer);
		for (size_t j = 0; j < cert->n_bindings; j++)
			free_binding(&cert->bindings[j]);
		free(cert->bindings);
		for (size_t j = 0; j < cert->n_verify; j++) {
			struct cs_verify_cfg *v = &cert->verify[j];
			free(v->connect);
			free(v->servername);
			free(v->ca_bundle);
			free(v->host);
		}
		free(cert->verify);
	}
	free(cfg->certs);
	free(cfg->settings.state_dir);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

bool cs_verify_covers(const struct cs_cert_cfg *cert, const struct cs_verify_cfg *v, size_t h)
{
	if (!v->all_hosts)
		return v->host_index == h;
	for (size_t j = 0; j < cert->n_bindings; j++)
		if (cert->bindings[j].host_index == h)
			return true;
	return false;
}
