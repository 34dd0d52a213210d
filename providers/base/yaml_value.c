/* The YAML value layer (yaml_value.h): a tree built from libyaml's events in
 * one pass, the limits and tags checked on each event before the tree takes
 * it, and the typed getters that report FILE:LINE:COL diagnostics. */
#include "providers/base/yaml_value.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "providers/base/duration.h"
#include "providers/base/strmap.h"
#include "providers/base/util.h"

/* An unknown key taken for a misspelling of key: that key's absence is then
 * not reported again ("did you mean" already says it). */
struct cs_yaml_guess {
	const struct cs_ynode *map;
	const char *key;        /* static: from a table of known keys */
	size_t prev;            /* 1 + the index of the map's guess before this one, 0 for none */
};

/* ---- memory ---- */

/* The tree's memory, and that of the strings made for messages: blocks
 * taken from malloc and handed out in order, all freed at once.  A 25 MB
 * config becomes a few hundred blocks instead of millions of small
 * allocations. */
#define ARENA_FIRST (16u << 10)  /* the first block; each next one twice the last ... */
#define ARENA_BLOCK (1u << 20)   /* ... up to this */

struct arena_block {
	struct arena_block *next;
	size_t size;            /* of data */
	max_align_t data[];
};

struct cs_yaml_tree {
	struct arena_block *blocks;
	char *next;             /* free space in the newest block */
	size_t left;
	size_t block;           /* the size of the next block; 0 before the first */
	struct arena_block *spare; /* one block given back by cs_yaml_release, taken again first */
};

static void *arena_alloc(struct cs_yaml_tree *t, size_t n)
{
	n = (n + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
	if (n > t->left) {
		size_t size = t->block ? t->block : ARENA_FIRST;
		if (n > size / 4) {
			/* A large one gets its own block, behind the current one. */
			struct arena_block *b = cs_xmalloc(sizeof *b + n);
			b->size = n;
			if (t->blocks) {
				b->next = t->blocks->next;
				t->blocks->next = b;
			} else {
				b->next = NULL;
				t->blocks = b;
			}
			return b->data;
		}
		/* Small files stay small; large ones take few blocks. */
		struct arena_block *b = t->spare;
		if (b && b->size >= size) {
			t->spare = NULL;
			size = b->size;
		} else {
			b = cs_xmalloc(sizeof *b + size);
			b->size = size;
		}
		b->next = t->blocks;
		t->blocks = b;
		t->next = (char *)b->data;
		t->left = size;
		t->block = size < ARENA_BLOCK ? 2 * size : ARENA_BLOCK;
	}
	void *r = t->next;
	t->next += n;
	t->left -= n;
	return r;
}

static void tree_free(struct cs_yaml_tree *t)
{
	if (!t)
		return;
	for (struct arena_block *b = t->blocks, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(t->spare);
	free(t);
}

/* A copy of s (len bytes) in t's memory. */
static const char *tree_strdup(struct cs_yaml_tree *t, const char *s, size_t len)
{
	char *r = arena_alloc(t, len + 1);
	memcpy(r, s, len);
	r[len] = '\0';
	return r;
}

/* ---- nodes ---- */

const char *cs_yaml_text(const struct cs_ynode *n)
{
	if (n->type != CS_YN_SCALAR)
		return "";
	return n->n < sizeof n->u.inl ? n->u.inl : n->u.text;
}

size_t cs_yaml_n_pairs(const struct cs_ynode *n)
{
	return n->type == CS_YN_MAP ? n->n : 0;
}

size_t cs_yaml_n_items(const struct cs_ynode *n)
{
	return n->type == CS_YN_SEQ ? n->n : 0;
}

const struct cs_ypair *cs_yaml_pair(const struct cs_ynode *n, size_t i)
{
	return &n->u.pairs[i];
}

struct cs_ynode *cs_yaml_item(struct cs_yaml *c, const struct cs_ynode *n, size_t i)
{
	(void)c;
	return n->u.items[i];
}

struct cs_pos cs_yaml_pos(const struct cs_ynode *n)
{
	struct cs_pos p = { (int)n->line, (int)n->col };
	return p;
}

bool cs_yaml_one_of(const char *s, const char *const *words)
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
	if (cs_yaml_one_of(s, special))
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


enum cs_yaml_vkind cs_yaml_kind(const struct cs_ynode *n)
{
	return (enum cs_yaml_vkind)n->kind;
}

enum cs_yaml_vkind cs_yaml_scalar_kind(const char *s, yaml_scalar_style_t style)
{
	if (style != YAML_PLAIN_SCALAR_STYLE)
		return CS_YV_STR;
	/* Most values are words: only these first characters can start a
	 * null, a boolean or a number. */
	if (*s && !strchr("~nNtTfF0123456789+-.", *s))
		return CS_YV_STR;
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
	static const char *const bools[] = { "true", "True", "TRUE", "false", "False", "FALSE", NULL };
	if (cs_yaml_one_of(s, nulls))
		return CS_YV_NULL;
	if (cs_yaml_one_of(s, bools))
		return CS_YV_BOOL;
	const char *d = (*s == '+' || *s == '-') ? s + 1 : s;
	if (cs_only_digits(d))
		return CS_YV_INT;
	if (looks_float(s))
		return CS_YV_FLOAT;
	return CS_YV_STR;
}

const char *cs_yaml_kind_name(enum cs_yaml_vkind k)
{
	switch (k) {
	case CS_YV_NULL:
		return "an empty value";
	case CS_YV_BOOL:
		return "a boolean";
	case CS_YV_INT:
		return "an integer";
	case CS_YV_FLOAT:
		return "a number";
	case CS_YV_STR:
		return "a string";
	case CS_YV_MAP:
		return "a mapping";
	case CS_YV_SEQ:
		return "a list";
	}
	return "something else";
}

bool cs_yaml_is_scalar(enum cs_yaml_vkind k)
{
	return k == CS_YV_STR || k == CS_YV_INT || k == CS_YV_FLOAT;
}

/* ---- messages ---- */

void cs_yaml_report_at(struct cs_yaml *c, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = cs_xvasprintf(fmt, ap);
	va_end(ap);
	cs_diags_add(c->diags, c->file, line, col, "%s", msg);
	free(msg);
	c->errors++;
}

void cs_yaml_report(struct cs_yaml *c, const struct cs_ynode *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = cs_xvasprintf(fmt, ap);
	va_end(ap);
	struct cs_pos p = { 1, 1 };
	if (n)
		p = cs_yaml_pos(n);
	cs_diags_add(c->diags, c->file, p.line, p.col, "%s", msg);
	free(msg);
	c->errors++;
}

/* A copy of s (len bytes) that lives until cs_yaml_done. */
static const char *strings_copy(struct cs_yaml *c, const char *s, size_t len)
{
	if (!c->strings)
		c->strings = cs_xcalloc(1, sizeof *c->strings);
	return tree_strdup(c->strings, s, len);
}

const char *cs_yaml_keep(struct cs_yaml *c, char *s)
{
	if (c->n_pool == c->cap_pool) {
		c->cap_pool = c->cap_pool ? 2 * c->cap_pool : 64;
		c->pool = cs_xrealloc(c->pool, c->cap_pool * sizeof *c->pool);
	}
	c->pool[c->n_pool++] = s;
	return s;
}

struct cs_yaml_mark cs_yaml_mark(struct cs_yaml *c)
{
	if (!c->strings)
		c->strings = cs_xcalloc(1, sizeof *c->strings);
	const struct cs_yaml_tree *t = c->strings;
	return (struct cs_yaml_mark){ t->blocks, t->next, t->left, c->n_pool };
}

void cs_yaml_release(struct cs_yaml *c, const struct cs_yaml_mark *m)
{
	struct cs_yaml_tree *t = c->strings;
	/* The strings are short (cs_yaml_fmt keeps a long one in the pool):
	 * no block of its own was put behind the marked one. */
	while (t->blocks != m->blocks) {
		struct arena_block *b = t->blocks;
		t->blocks = b->next;
		if (!t->spare || t->spare->size < b->size) {
			free(t->spare);
			t->spare = b;
		} else {
			free(b);
		}
	}
	t->next = m->next;
	t->left = m->left;
	while (c->n_pool > m->n_pool)
		free(c->pool[--c->n_pool]);
}

/* Text from the file made safe for a one-line message: control characters
 * escaped, quotes escaped, long values cut. */
const char *cs_yaml_esc(struct cs_yaml *c, const char *s)
{
	/* Most need nothing escaped: copied whole. */
	size_t len = 0;
	for (const unsigned char *p = (const unsigned char *)s; len <= 80; p++, len++)
		if (!*p || *p < 0x20 || *p == 0x7f || *p == '"' || *p == '\\')
			break;
	if (len <= 80 && !s[len])
		return strings_copy(c, s, len);
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
	return cs_yaml_keep(c, r);
}

const char *cs_yaml_fmt(struct cs_yaml *c, const char *fmt, ...)
{
	/* Most are short ("in binding 1 of certificate www"): into the
	 * strings' blocks, the rest on their own. */
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof buf)
		return strings_copy(c, buf, (size_t)n);
	va_start(ap, fmt);
	char *s = cs_xvasprintf(fmt, ap);
	va_end(ap);
	return cs_yaml_keep(c, s);
}

/* "a, b or c" */
const char *cs_yaml_word_list(struct cs_yaml *c, const char *const *words, const char *last_sep)
{
	struct cs_buf b = CS_BUF_INIT;
	for (size_t i = 0; words[i]; i++) {
		if (i > 0)
			cs_buf_puts(&b, words[i + 1] ? ", " : last_sep);
		cs_buf_puts(&b, words[i]);
	}
	char *r = cs_buf_detach(&b, NULL);
	return cs_yaml_keep(c, r);
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
const char *cs_yaml_suggest(const char *word, const char *const *cands, size_t n)
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

size_t cs_yaml_count_words(const char *const *words)
{
	size_t n = 0;
	while (words[n])
		n++;
	return n;
}

const char *cs_yaml_did_you_mean(struct cs_yaml *c, const char *word, const char *const *cands, size_t n)
{
	const char *s = cs_yaml_suggest(word, cands, n);
	if (!s)
		return "";
	return cs_yaml_fmt(c, " (did you mean \"%s\"?)", s);
}

/* ---- mappings and typed values ---- */

struct cs_ynode *cs_yaml_lookup(struct cs_yaml *c, const struct cs_ynode *map, const char *key, struct cs_ynode **out_key)
{
	(void)c;
	if (!map || map->type != CS_YN_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++) {
		struct cs_ynode *k = map->u.pairs[i].key;
		if (k->type == CS_YN_SCALAR && strcmp(cs_yaml_text(k), key) == 0) {
			if (out_key)
				*out_key = k;
			return map->u.pairs[i].value;
		}
	}
	return NULL;
}

/* The guesses of each mapping are found through a hash of the mapping's
 * address: a file with a typo in each of 100,000 certificates must not
 * compare every guess with every other.  The slot of map holds 1 + the
 * index of its latest guess (or 0: the empty slot where it goes). */
static size_t ptr_hash(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (size_t)x;
}

static size_t *guess_slot(const struct cs_yaml *c, const struct cs_ynode *map)
{
	size_t i = ptr_hash(map) & (c->cap_guess_index - 1);
	while (c->guess_index[i] && c->guesses[c->guess_index[i] - 1].map != map)
		i = (i + 1) & (c->cap_guess_index - 1);
	return &c->guess_index[i];
}

static void guess_add(struct cs_yaml *c, const struct cs_ynode *map, const char *key)
{
	if (c->n_guesses == c->cap_guesses) {
		c->cap_guesses = c->cap_guesses ? 2 * c->cap_guesses : 16;
		c->guesses = cs_xrealloc(c->guesses, c->cap_guesses * sizeof *c->guesses);
	}
	if (2 * (c->n_guesses + 1) > c->cap_guess_index) {
		/* At most half full (counting guesses, not mappings). */
		free(c->guess_index);
		c->cap_guess_index = c->cap_guess_index ? 2 * c->cap_guess_index : 64;
		c->guess_index = cs_xcalloc(c->cap_guess_index, sizeof *c->guess_index);
		for (size_t i = 0; i < c->n_guesses; i++)
			*guess_slot(c, c->guesses[i].map) = i + 1;
	}
	size_t *s = guess_slot(c, map);
	c->guesses[c->n_guesses] = (struct cs_yaml_guess){ map, key, *s };
	*s = ++c->n_guesses;
}

/* Unknown keys (with a suggestion), keys that are not strings, and keys
 * given twice.  known is NULL-terminated. */
void cs_yaml_check_keys(struct cs_yaml *c, const struct cs_ynode *map, const char *const *known, const char *where)
{
	if (!map || map->type != CS_YN_MAP)
		return;
	size_t n_known = cs_yaml_count_words(known);
	/* Where each known key was first given: one pass, however long the
	 * mapping. */
	struct cs_ynode *given_here[32];
	struct cs_ynode **given = given_here;
	if (n_known < sizeof given_here / sizeof *given_here)
		memset(given_here, 0, sizeof given_here);
	else
		given = cs_xcalloc(n_known + 1, sizeof *given);
	for (size_t i = 0; i < cs_yaml_n_pairs(map); i++) {
		struct cs_ynode *k = cs_yaml_pair(map, i)->key;
		if (!k || k->type != CS_YN_SCALAR) {
			cs_yaml_report(c, k, "keys must be plain words, got %s as a key %s",
			       k ? cs_yaml_kind_name(cs_yaml_kind(k)) : "nothing", where);
			continue;
		}
		const char *name = cs_yaml_text(k);
		if (!cs_yaml_one_of(name, known)) {
			if (strcmp(name, "<<") == 0)
				cs_yaml_report(c, k, "merge keys (<<) are not supported %s: write the keys out", where);
			else if (n_known == 0)
				cs_yaml_report(c, k, "unknown key \"%s\" %s (it takes no keys)", cs_yaml_esc(c, name), where);
			else if (cs_yaml_suggest(name, known, n_known)) {
				cs_yaml_report(c, k, "unknown key \"%s\" %s%s", cs_yaml_esc(c, name), where,
				       cs_yaml_did_you_mean(c, name, known, n_known));
				guess_add(c, map, cs_yaml_suggest(name, known, n_known));
			}
			else
				cs_yaml_report(c, k, "unknown key \"%s\" %s (expected %s)", cs_yaml_esc(c, name), where,
				       cs_yaml_word_list(c, known, " or "));
			continue;
		}
		size_t w = 0;
		while (strcmp(known[w], name) != 0)
			w++;
		if (given[w])
			cs_yaml_report(c, k, "duplicate key \"%s\" %s (first given on line %d)", name, where,
			       cs_yaml_pos(given[w]).line);
		else
			given[w] = k;
	}
	if (given != given_here)
		free(given);
}

/* Whether an unknown key of map was taken for one of keys (NULL-terminated). */
bool cs_yaml_guessed(const struct cs_yaml *c, const struct cs_ynode *map, const char *const *keys)
{
	if (!c->cap_guess_index)
		return false;
	for (size_t g = *guess_slot(c, map); g; g = c->guesses[g - 1].prev)
		if (cs_yaml_one_of(c->guesses[g - 1].key, keys))
			return true;
	return false;
}

/* The value of key, or NULL when absent.  A missing required key is
 * reported at the mapping that lacks it, unless a misspelling of it was
 * reported already. */
struct cs_ynode *cs_yaml_field(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where, bool required)
{
	struct cs_ynode *v = cs_yaml_lookup(c, map, key, NULL);
	const char *const keys[] = { key, NULL };
	if (!v && required && !cs_yaml_guessed(c, map, keys))
		cs_yaml_report(c, map, "missing required key \"%s\" %s", key, where);
	return v;
}

void cs_yaml_type_error(struct cs_yaml *c, const struct cs_ynode *v, const char *want, const char *key, const char *where)
{
	cs_yaml_report(c, v, "expected %s for \"%s\" %s, got %s", want, key, where, cs_yaml_kind_name(cs_yaml_kind(v)));
}

/* A scalar as text: strings, and numbers written where text is expected
 * (a listener called 80, a user called 1001).  NUL bytes and empty strings
 * are refused: no key of the schema means anything by them. */
const char *cs_yaml_scalar_text(struct cs_yaml *c, const struct cs_ynode *v, const char *key, const char *where)
{
	if (!cs_yaml_is_scalar(cs_yaml_kind(v))) {
		cs_yaml_type_error(c, v, "a string", key, where);
		return NULL;
	}
	if (strlen(cs_yaml_text(v)) != v->n) {
		cs_yaml_report(c, v, "\"%s\" %s contains a NUL character", key, where);
		return NULL;
	}
	if (!cs_yaml_text(v)[0]) {
		cs_yaml_report(c, v, "\"%s\" %s is empty", key, where);
		return NULL;
	}
	return cs_yaml_text(v);
}

/* On success *out is replaced (the old value, a default, is freed) and the
 * value node returned; NULL when absent or wrong. */
struct cs_ynode *cs_yaml_str(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where,
			    bool required, char **out)
{
	struct cs_ynode *v = cs_yaml_field(c, map, key, where, required);
	if (!v)
		return NULL;
	const char *s = cs_yaml_scalar_text(c, v, key, where);
	if (!s)
		return NULL;
	free(*out);
	*out = cs_xstrdup(s);
	return v;
}

struct cs_ynode *cs_yaml_int(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where,
			    bool required, long lo, long hi, int *out)
{
	struct cs_ynode *v = cs_yaml_field(c, map, key, where, required);
	if (!v)
		return NULL;
	if (cs_yaml_kind(v) != CS_YV_INT) {
		cs_yaml_type_error(c, v, "an integer", key, where);
		return NULL;
	}
	errno = 0;
	char *end;
	long long n = strtoll(cs_yaml_text(v), &end, 10);
	if (*end != '\0') {
		cs_yaml_report(c, v, "\"%s\" %s must be a decimal integer, got %s", key, where, cs_yaml_esc(c, cs_yaml_text(v)));
		return NULL;
	}
	if (errno == ERANGE || n < lo || n > hi) {
		cs_yaml_report(c, v, "\"%s\" %s must be between %ld and %ld, got %s", key, where, lo, hi, cs_yaml_esc(c, cs_yaml_text(v)));
		return NULL;
	}
	*out = (int)n;
	return v;
}

struct cs_ynode *cs_yaml_bool(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where,
			     bool *out)
{
	struct cs_ynode *v = cs_yaml_field(c, map, key, where, false);
	if (!v)
		return NULL;
	if (cs_yaml_kind(v) != CS_YV_BOOL) {
		cs_yaml_type_error(c, v, "a boolean (true or false)", key, where);
		return NULL;
	}
	*out = cs_yaml_text(v)[0] == 't' || cs_yaml_text(v)[0] == 'T';
	return v;
}

/* One of values (NULL-terminated); *out is its index. */
struct cs_ynode *cs_yaml_enum(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where,
			     bool required, const char *const *values, int *out)
{
	struct cs_ynode *v = cs_yaml_field(c, map, key, where, required);
	if (!v)
		return NULL;
	const char *s = cs_yaml_scalar_text(c, v, key, where);
	if (!s)
		return NULL;
	for (int i = 0; values[i]; i++) {
		if (strcmp(values[i], s) == 0) {
			*out = i;
			return v;
		}
	}
	cs_yaml_report(c, v, "invalid value \"%s\" for \"%s\" %s: expected %s%s", cs_yaml_esc(c, s), key, where,
	       cs_yaml_word_list(c, values, " or "), cs_yaml_did_you_mean(c, s, values, cs_yaml_count_words(values)));
	return NULL;
}

/* Upper bounds of durations.  A certificate lives at most as long as the
 * longest validity a CA issues (10 years, the local CA's "days" limit): a
 * renewal or reminder window beyond that means a typo ("200000w"), and would
 * put dates outside what the calendar and the date formatters can write.
 * Waiting more than a day for one step means a hung host, not a slow one. */
#define CS_DURATION_MAX_WINDOW ((int64_t)3650 * 86400)
#define CS_DURATION_MAX_WAIT ((int64_t)86400)

struct cs_ynode *cs_yaml_duration(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where,
				 bool positive, int64_t max, int64_t *out)
{
	struct cs_ynode *v = cs_yaml_field(c, map, key, where, false);
	if (!v)
		return NULL;
	if (!cs_yaml_is_scalar(cs_yaml_kind(v))) {
		cs_yaml_type_error(c, v, "a duration such as 30d", key, where);
		return NULL;
	}
	const char *why = NULL;
	int64_t d;
	if (cs_duration_parse(&d, cs_yaml_text(v), &why) < 0) {
		cs_yaml_report(c, v, "invalid duration \"%s\" for \"%s\" %s: %s", cs_yaml_esc(c, cs_yaml_text(v)), key, where, why);
		return NULL;
	}
	if (positive && d == 0) {
		cs_yaml_report(c, v, "\"%s\" %s must be longer than 0s", key, where);
		return NULL;
	}
	if (d > max) {
		char m[64];
		cs_duration_format(m, sizeof m, max);
		cs_yaml_report(c, v, "duration \"%s\" for \"%s\" %s is too long: at most %s%s", cs_yaml_esc(c, cs_yaml_text(v)), key,
		       where, m, max == CS_DURATION_MAX_WINDOW ? " (10 years, the longest validity a CA issues)" : "");
		return NULL;
	}
	*out = d;
	return v;
}

/* A local path, resolved against the config folder (~/ expanded first). */
char *cs_yaml_local_path(struct cs_yaml *c, const char *p)
{
	char *e = cs_path_expand_home(p);
	char *r = cs_path_join(c->dir, e);
	free(e);
	size_t n = strlen(r);
	while (n > 1 && r[n - 1] == '/')
		r[--n] = '\0';
	return r;
}

struct cs_ynode *cs_yaml_path(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where,
				   bool required, char **out)
{
	char *raw = NULL;
	struct cs_ynode *v = cs_yaml_str(c, map, key, where, required, &raw);
	if (v) {
		free(*out);
		*out = cs_yaml_local_path(c, raw);
	}
	free(raw);
	return v;
}

/* A local file certsync will read must be a regular file: reading a FIFO
 * or a device would wait forever (or never end), a folder fails late.  A
 * file that does not exist yet is fine here (it may be made before apply);
 * the reader refuses a non-regular file again when it opens it. */
void cs_yaml_check_local_file(struct cs_yaml *c, const struct cs_ynode *v, const char *key, const char *where,
			     const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ELOOP)
			cs_yaml_report(c, v, "\"%s\" %s: %s is a symbolic link loop", key, where, cs_yaml_esc(c, path));
		return;
	}
	if (!S_ISREG(st.st_mode))
		cs_yaml_report(c, v, "\"%s\" %s: %s is not a regular file (it is %s)", key, where, cs_yaml_esc(c, path),
		       cs_file_type_name(st.st_mode));
}

struct cs_ynode *cs_yaml_local_file(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where,
				   bool required, char **out)
{
	struct cs_ynode *v = cs_yaml_path(c, map, key, where, required, out);
	if (v)
		cs_yaml_check_local_file(c, v, key, where, *out);
	return v;
}

/* A value of kind want (CS_YV_MAP or CS_YV_SEQ); an empty value counts as an empty
 * one ("local:"). */
struct cs_ynode *cs_yaml_collection(struct cs_yaml *c, const struct cs_ynode *map, const char *key,
				   const char *where, bool required, enum cs_yaml_vkind want)
{
	struct cs_ynode *v = cs_yaml_field(c, map, key, where, required);
	if (!v)
		return NULL;
	enum cs_yaml_vkind k = cs_yaml_kind(v);
	if (k != want && k != CS_YV_NULL) {
		cs_yaml_type_error(c, v, cs_yaml_kind_name(want), key, where);
		return NULL;
	}
	return v;
}

struct cs_ynode *cs_yaml_map(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where,
			    bool required)
{
	return cs_yaml_collection(c, map, key, where, required, CS_YV_MAP);
}

struct cs_ynode *cs_yaml_seq(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where,
			    bool required)
{
	return cs_yaml_collection(c, map, key, where, required, CS_YV_SEQ);
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
struct cs_ynode *cs_yaml_secret(struct cs_yaml *c, const struct cs_ynode *map, const char *key, const char *where,
			       bool required, struct cs_secret *out)
{
	static const char *const keys[] = { "env", "file", NULL };
	struct cs_ynode *v = cs_yaml_field(c, map, key, where, required);
	if (!v)
		return NULL;
	enum cs_yaml_vkind k = cs_yaml_kind(v);
	if (k == CS_YV_STR || k == CS_YV_INT || k == CS_YV_FLOAT || k == CS_YV_BOOL) {
		cs_yaml_report(c, v, "\"%s\" %s is written as a literal value: a secret must be a reference, "
		       "{env: VARIABLE} or {file: PATH}, so that it never lands in git", key, where);
		return NULL;
	}
	if (k != CS_YV_MAP) {
		cs_yaml_type_error(c, v, "a secret reference ({env: VARIABLE} or {file: PATH})", key, where);
		return NULL;
	}
	const char *inner = cs_yaml_fmt(c, "in secret \"%s\" %s", key, where);
	cs_yaml_check_keys(c, v, keys, inner);
	struct cs_ynode *ek = NULL, *fk = NULL;
	struct cs_ynode *ev = cs_yaml_lookup(c, v, "env", &ek);
	struct cs_ynode *fv = cs_yaml_lookup(c, v, "file", &fk);
	if (ev && fv) {
		struct cs_ynode *second = cs_yaml_pos(ek).line > cs_yaml_pos(fk).line ||
				(cs_yaml_pos(ek).line == cs_yaml_pos(fk).line && cs_yaml_pos(ek).col > cs_yaml_pos(fk).col) ? ek : fk;
		cs_yaml_report(c, second, "secret \"%s\" %s has both env and file: give one", key, where);
		return NULL;
	}
	if (!ev && !fv) {
		if (!cs_yaml_guessed(c, v, keys))
			cs_yaml_report(c, v, "secret \"%s\" %s needs env or file: write {env: VARIABLE} or {file: PATH}", key, where);
		return NULL;
	}
	char *s = NULL;
	if (ev) {
		if (!cs_yaml_str(c, v, "env", inner, true, &s))
			return NULL;
		if (!env_name_ok(s)) {
			cs_yaml_report(c, ev, "invalid environment variable name for secret \"%s\" %s: use letters, digits "
			       "and _, not starting with a digit", key, where);
			free(s);
			return NULL;
		}
		out->kind = CS_SECRET_ENV;
		free(out->ref);
		out->ref = s;
		return v;
	}
	if (!cs_yaml_str(c, v, "file", inner, true, &s))
		return NULL;
	out->kind = CS_SECRET_FILE;
	free(out->ref);
	out->ref = cs_yaml_local_path(c, s);
	free(s);
	cs_yaml_check_local_file(c, cs_yaml_lookup(c, v, "file", NULL), "file", inner, out->ref);
	return v;
}


/* Of the keys names (NULL-terminated), which are present: the index of the
 * one written first, -1 for none.  Any later one is reported as
 * conflicting, at its own key and in file order. */
int cs_yaml_exactly_one(struct cs_yaml *c, const struct cs_ynode *map, const char *const *names, const char *what,
		       const char *choose)
{
	int first = -1;
	for (size_t p = 0; p < cs_yaml_n_pairs(map); p++) {
		struct cs_ynode *k = cs_yaml_pair(map, p)->key;
		if (!k || k->type != CS_YN_SCALAR)
			continue;
		for (int i = 0; names[i]; i++) {
			if (strcmp(cs_yaml_text(k), names[i]) != 0)
				continue;
			if (first < 0)
				first = i;
			else if (i != first) /* a repeated key is reported as a duplicate */
				cs_yaml_report(c, k, "%s has both %s and %s: %s", what, names[first], names[i], choose);
		}
	}
	return first;
}

/* ---- loading ---- */

/* What stopped the tree: libyaml's parser error, or one the builder finds
 * as libyaml's loader would (an undefined alias, an anchor given twice),
 * worded as libyaml words it. */
struct load_problem {
	yaml_error_type_t error;
	const char *problem;
	yaml_mark_t problem_mark;
	size_t problem_offset;  /* reader errors */
	const char *context;
	yaml_mark_t context_mark;
};

static void syntax_error(struct cs_yaml *c, const struct load_problem *p, const char *textp, size_t len)
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
		cs_yaml_report_at(c, line, col, "syntax error: found a tab: YAML is indented with spaces, not tabs");
	else if (p->context)
		cs_yaml_report_at(c, line, col, "syntax error: %s (%s on line %d)", problem, p->context,
			  (int)p->context_mark.line + 1);
	else
		cs_yaml_report_at(c, line, col, "syntax error: %s", problem);
}

/* Limits on the shape of the YAML, far above any real config (which nests
 * about seven deep; a config of 100,000 certificates has some 2.3 million
 * nodes).  They are checked on each event before the tree takes it, so a
 * hostile or broken file (200,000 nested "[", an alias bomb) is refused
 * after reading only as much of it as it takes to go over. */
#define YAML_MAX_DEPTH 64          /* nested lists and mappings */
#define YAML_MAX_ITEMS 100000      /* entries of one list, pairs of one mapping */
#define YAML_MAX_NODES 1000000     /* nodes, an alias counting as its content again, ... */
#define YAML_NODES_PER_WRITTEN 2   /* ... or this many per node written, when that is more */
#define YAML_MAX_WRITTEN 5000000   /* nodes written in the file */
#define YAML_MAX_ANCHORS 10000     /* &anchors in the file */

/* ---- the shape of the stream ---- */

struct shape_frame {
	bool map;
	size_t items;           /* list entries, or keys and values of a mapping */
	uint64_t nodes;         /* nodes under it so far, aliases expanded */
	const char *anchor;     /* its &anchor (in the tree's memory), or NULL */
	struct cs_pos pos;
};

struct shape {
	struct cs_yaml *c;
	struct cs_yaml_tree *t;
	struct shape_frame frames[YAML_MAX_DEPTH + 1];
	size_t depth;
	uint64_t nodes;         /* aliases expanded */
	uint64_t written;       /* as written: an alias is one */
	size_t n_defined;       /* &anchors seen, a name given again counting again */
	struct cs_strmap anchors; /* name → its size in anchor_nodes, the latest definition */
	uint64_t *anchor_nodes;
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
	enum cs_yaml_vkind k = cs_yaml_scalar_kind(v, e->data.scalar.style);
	if (strcmp(tag, "str") == 0)
		return k == CS_YV_STR;
	if (strcmp(tag, "int") == 0)
		return cs_yaml_scalar_kind(v, YAML_PLAIN_SCALAR_STYLE) == CS_YV_INT;
	if (strcmp(tag, "float") == 0)
		return cs_yaml_scalar_kind(v, YAML_PLAIN_SCALAR_STYLE) == CS_YV_FLOAT;
	if (strcmp(tag, "bool") == 0)
		return cs_yaml_scalar_kind(v, YAML_PLAIN_SCALAR_STYLE) == CS_YV_BOOL;
	if (strcmp(tag, "null") == 0)
		return cs_yaml_scalar_kind(v, YAML_PLAIN_SCALAR_STYLE) == CS_YV_NULL;
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

/* The node counts are within the limits; false, with the error reported,
 * when not. */
static bool shape_nodes_ok(struct shape *sh, yaml_mark_t at)
{
	struct cs_pos p = pos_of_mark(at);
	/* Aliases may make a file at most twice what it says (or a million
	 * nodes): expanding them costs no more than reading it. */
	uint64_t most = sh->written * YAML_NODES_PER_WRITTEN;
	if (most < YAML_MAX_NODES)
		most = YAML_MAX_NODES;
	if (sh->nodes > most) {
		cs_yaml_report_at(sh->c, p.line, p.col, "the config has more than %llu YAML nodes (aliases counted as "
			  "their content): certsync reads at most that many", (unsigned long long)most);
		return false;
	}
	if (sh->written > YAML_MAX_WRITTEN) {
		cs_yaml_report_at(sh->c, p.line, p.col, "the config has more than %d YAML nodes: certsync reads at most "
			  "that many", YAML_MAX_WRITTEN);
		return false;
	}
	return true;
}

/* A node of size nodes ends (or an alias of that size appears) under the
 * innermost open collection; fresh of them were not counted yet (a
 * collection's content was counted as it came).  False, with the error
 * reported, when a limit is crossed. */
static bool shape_add(struct shape *sh, uint64_t nodes, uint64_t fresh, yaml_mark_t at)
{
	sh->nodes += fresh;
	if (!shape_nodes_ok(sh, at))
		return false;
	if (sh->depth == 0)
		return true;
	struct shape_frame *f = &sh->frames[sh->depth - 1];
	f->items++;
	f->nodes += nodes;
	if ((f->map ? f->items / 2 : f->items) > YAML_MAX_ITEMS) {
		cs_yaml_report_at(sh->c, f->pos.line, f->pos.col, "this %s has more than %d entries: certsync reads at "
			  "most that many", f->map ? "mapping" : "list", YAML_MAX_ITEMS);
		return false;
	}
	return true;
}

/* An anchor's size, for the aliases to it; the latest definition wins, as
 * in YAML.  A hash, not a scan: a file may have 10,000 anchors and
 * millions of aliases. */
static bool shape_anchor(struct shape *sh, const char *name, uint64_t nodes, yaml_mark_t at)
{
	if (!name)
		return true;
	if (sh->n_defined == YAML_MAX_ANCHORS) {
		struct cs_pos p = pos_of_mark(at);
		cs_yaml_report_at(sh->c, p.line, p.col, "the config has more than %d anchors (&name): certsync reads at "
			  "most that many", YAML_MAX_ANCHORS);
		return false;
	}
	sh->n_defined++;
	size_t old;
	if (!cs_strmap_put(&sh->anchors, name, sh->n_anchors, &old)) {
		sh->anchor_nodes[old] = nodes;
		return true;
	}
	if (sh->n_anchors == sh->cap_anchors) {
		sh->cap_anchors = sh->cap_anchors ? 2 * sh->cap_anchors : 16;
		sh->anchor_nodes = cs_xrealloc(sh->anchor_nodes, sh->cap_anchors * sizeof *sh->anchor_nodes);
	}
	sh->anchor_nodes[sh->n_anchors++] = nodes;
	return true;
}

static uint64_t shape_alias(const struct shape *sh, const char *name)
{
	size_t i;
	if (cs_strmap_get(&sh->anchors, name, &i))
		return sh->anchor_nodes[i];
	return 1; /* undefined (or its collection still open): the builder reports it */
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
					cs_yaml_one_of(tag + sizeof core - 1, scalar_tags);
			cs_yaml_report_at(sh->c, p.line, p.col, "%s YAML tag \"%s%s\"%s: certsync reads plain values; remove "
				  "the tag", mismatch ? "misplaced" : "unsupported", is_core ? "!!" : "",
				  cs_yaml_esc(sh->c, is_core ? tag + sizeof core - 1 : tag),
				  mismatch ? " (the value is not of that type as written)" : "");
			return -1;
		}
		if (e->type == YAML_SCALAR_EVENT) {
			sh->written++;
			const char *anchor = (const char *)e->data.scalar.anchor;
			if (!shape_add(sh, 1, 1, e->start_mark) ||
			    !shape_anchor(sh, anchor ? tree_strdup(sh->t, anchor, strlen(anchor)) : NULL, 1,
					  e->start_mark))
				return -1;
			return 1;
		}
		if (sh->depth == YAML_MAX_DEPTH) {
			cs_yaml_report_at(sh->c, p.line, p.col, "lists and mappings are nested more than %d deep: certsync "
				  "reads at most that many levels", YAML_MAX_DEPTH);
			return -1;
		}
		const char *anchor = (const char *)(e->type == YAML_SEQUENCE_START_EVENT ? e->data.sequence_start.anchor
						    : e->data.mapping_start.anchor);
		sh->frames[sh->depth++] = (struct shape_frame){
			.map = e->type == YAML_MAPPING_START_EVENT,
			.nodes = 1,
			.anchor = anchor ? tree_strdup(sh->t, anchor, strlen(anchor)) : NULL,
			.pos = p,
		};
		/* The collection itself counts now, its content as it comes. */
		sh->nodes++;
		sh->written++;
		return shape_nodes_ok(sh, e->start_mark) ? 1 : -1;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		if (sh->depth == 0)
			return 1;
		struct shape_frame f = sh->frames[--sh->depth];
		bool ok = shape_add(sh, f.nodes, 0, e->start_mark) && shape_anchor(sh, f.anchor, f.nodes, e->start_mark);
		return ok ? 1 : -1;
	}
	case YAML_ALIAS_EVENT: {
		uint64_t n = shape_alias(sh, (const char *)e->data.alias.anchor);
		sh->written++;
		return shape_add(sh, n, n, e->start_mark) ? 1 : -1;
	}
	default:
		return 1;
	}
}

/* ---- the tree ---- */

/* The builder: what libyaml's loader does with the events, into the
 * tree.  The entries of the open collections wait on one stack and are
 * copied into the tree when their collection ends. */
struct builder {
	struct cs_yaml_tree *t;
	struct cs_ynode *open[YAML_MAX_DEPTH + 1];
	size_t base[YAML_MAX_DEPTH + 1]; /* where each open collection's entries start on the stack */
	size_t depth;
	struct cs_ynode **stack;
	size_t n_stack, cap_stack;
	struct cs_strmap anchors; /* this document's: name → index in anchor_nodes */
	struct cs_ynode **anchor_nodes;
	size_t n_anchors, cap_anchors;
	struct cs_ynode *root;  /* this document's */
};

static struct cs_ynode *new_node(struct builder *b, enum cs_ynode_type type, yaml_mark_t m)
{
	struct cs_ynode *n = arena_alloc(b->t, sizeof *n);
	*n = (struct cs_ynode){
		.type = (uint8_t)type,
		.line = (uint32_t)m.line + 1,
		.col = (uint32_t)m.column + 1,
	};
	return n;
}

/* n goes where the events put it: the root, or the next entry of the
 * innermost open collection. */
static void place(struct builder *b, struct cs_ynode *n)
{
	if (b->depth == 0) {
		if (!b->root)
			b->root = n;
		return;
	}
	if (b->n_stack == b->cap_stack) {
		b->cap_stack = b->cap_stack ? 2 * b->cap_stack : 256;
		b->stack = cs_xrealloc(b->stack, b->cap_stack * sizeof *b->stack);
	}
	b->stack[b->n_stack++] = n;
}

/* libyaml's loader refuses an anchor given twice in one document (the
 * shape check counts it; only this refuses it). */
static bool anchor_add(struct builder *b, const char *name, struct cs_ynode *n, yaml_mark_t at,
		       struct load_problem *out)
{
	if (!name)
		return true;
	size_t old;
	const char *key = tree_strdup(b->t, name, strlen(name));
	if (!cs_strmap_put(&b->anchors, key, b->n_anchors, &old)) {
		const struct cs_ynode *first = b->anchor_nodes[old];
		*out = (struct load_problem){
			.error = YAML_COMPOSER_ERROR,
			.context = "found duplicate anchor; first occurrence",
			.context_mark = { .line = first->line - 1, .column = first->col - 1 },
			.problem = "second occurrence",
			.problem_mark = at,
		};
		return false;
	}
	if (b->n_anchors == b->cap_anchors) {
		b->cap_anchors = b->cap_anchors ? 2 * b->cap_anchors : 16;
		b->anchor_nodes = cs_xrealloc(b->anchor_nodes, b->cap_anchors * sizeof *b->anchor_nodes);
	}
	b->anchor_nodes[b->n_anchors++] = n;
	return true;
}

/* One event of a document.  False with *out set when the document cannot
 * be built. */
static bool build_event(struct builder *b, const yaml_event_t *e, struct load_problem *out)
{
	switch (e->type) {
	case YAML_DOCUMENT_START_EVENT:
		b->root = NULL;
		b->depth = 0;
		b->n_stack = 0;
		b->n_anchors = 0;
		cs_strmap_free(&b->anchors);
		return true;
	case YAML_SCALAR_EVENT: {
		struct cs_ynode *n = new_node(b, CS_YN_SCALAR, e->start_mark);
		const char *v = (const char *)e->data.scalar.value;
		size_t len = e->data.scalar.length;
		/* Most keys and many values are short: kept in the node. */
		if (len < sizeof n->u.inl) {
			memcpy(n->u.inl, v, len);
			n->u.inl[len] = '\0';
		} else {
			n->u.text = tree_strdup(b->t, v, len);
		}
		n->n = (uint32_t)len;
		n->style = (uint8_t)e->data.scalar.style;
		n->kind = (uint8_t)cs_yaml_scalar_kind(cs_yaml_text(n), e->data.scalar.style);
		if (!anchor_add(b, (const char *)e->data.scalar.anchor, n, e->start_mark, out))
			return false;
		place(b, n);
		return true;
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool map = e->type == YAML_MAPPING_START_EVENT;
		struct cs_ynode *n = new_node(b, map ? CS_YN_MAP : CS_YN_SEQ, e->start_mark);
		n->kind = map ? CS_YV_MAP : CS_YV_SEQ;
		/* Registered before its content, as libyaml's loader does: an
		 * alias inside it to itself makes a cycle, as it did there. */
		const char *anchor = (const char *)(map ? e->data.mapping_start.anchor : e->data.sequence_start.anchor);
		if (!anchor_add(b, anchor, n, e->start_mark, out))
			return false;
		b->open[b->depth] = n;
		b->base[b->depth] = b->n_stack;
		b->depth++;
		return true;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		if (b->depth == 0)
			return true;
		b->depth--;
		struct cs_ynode *n = b->open[b->depth];
		size_t base = b->base[b->depth], k = b->n_stack - base;
		if (n->type == CS_YN_MAP) {
			n->n = (uint32_t)(k / 2);
			struct cs_ypair *pairs = arena_alloc(b->t, (k / 2 ? k / 2 : 1) * sizeof *pairs);
			for (size_t i = 0; i < k / 2; i++)
				pairs[i] = (struct cs_ypair){ b->stack[base + 2 * i], b->stack[base + 2 * i + 1] };
			n->u.pairs = pairs;
		} else {
			n->n = (uint32_t)k;
			struct cs_ynode **items = arena_alloc(b->t, (k ? k : 1) * sizeof *items);
			if (k) /* the stack is NULL before the first entry anywhere */
				memcpy(items, b->stack + base, k * sizeof *items);
			n->u.items = items;
		}
		b->n_stack = base;
		place(b, n);
		return true;
	}
	case YAML_ALIAS_EVENT: {
		size_t i;
		if (!cs_strmap_get(&b->anchors, (const char *)e->data.alias.anchor, &i)) {
			*out = (struct load_problem){
				.error = YAML_COMPOSER_ERROR,
				.problem = "found undefined alias",
				.problem_mark = e->start_mark,
			};
			return false;
		}
		place(b, b->anchor_nodes[i]);
		return true;
	}
	default:
		return true;
	}
}

/* One pass over the events: every event is checked against the limits
 * first, then the first document is built and the second one too (only to
 * report it, or its errors, as a second yaml_parser_load would); the rest
 * of the stream is only checked.  A limit crossed anywhere refuses the
 * file with that message alone. */
bool cs_yaml_load(struct cs_yaml *y, const char *textp, size_t len, struct cs_ynode **root)
{
	*root = NULL;
	y->tree = cs_xcalloc(1, sizeof *y->tree);
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser)) {
		cs_out_of_memory();
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)textp, len);
	struct shape sh = { .c = y, .t = y->tree };
	struct builder b = { .t = y->tree };
	struct cs_ynode *doc1 = NULL, *doc2 = NULL;
	int docs_ended = 0;             /* documents whose end was read */
	bool building = true;           /* no problem in the documents read so far */
	bool have_problem = false, problem_fatal = false;
	struct load_problem problem = { 0 };
	int r = 0;
	for (;;) {
		yaml_event_t e;
		if (!yaml_parser_parse(&parser, &e)) {
			/* Past the second document nothing was read before. */
			if (building && docs_ended < 2) {
				problem = (struct load_problem){
					.error = parser.error,
					.problem = parser.problem,
					.problem_mark = parser.problem_mark,
					.problem_offset = parser.problem_offset,
					.context = parser.context,
					.context_mark = parser.context_mark,
				};
				have_problem = true;
				problem_fatal = docs_ended == 0;
			}
			break;
		}
		r = shape_event(&sh, &e);
		if (r < 0) {
			yaml_event_delete(&e);
			break;
		}
		if (building && docs_ended < 2) {
			if (!build_event(&b, &e, &problem)) {
				building = false;
				have_problem = true;
				problem_fatal = docs_ended == 0;
			} else if (e.type == YAML_DOCUMENT_END_EVENT) {
				if (docs_ended++ == 0)
					doc1 = b.root;
				else
					doc2 = b.root;
			}
		}
		yaml_event_delete(&e);
		if (r == 0)
			break;
	}
	yaml_parser_delete(&parser);
	free(sh.anchor_nodes);
	cs_strmap_free(&sh.anchors);
	free(b.stack);
	free(b.anchor_nodes);
	cs_strmap_free(&b.anchors);
	if (r < 0)
		return false;
	if (have_problem) {
		syntax_error(y, &problem, textp, len);
		if (problem_fatal)
			return false;
	} else if (doc2) {
		cs_yaml_report(y, doc2, "a config file holds one YAML document; this is a second one");
	}
	*root = doc1;
	return true;
}

void cs_yaml_done(struct cs_yaml *y)
{
	tree_free(y->tree);
	y->tree = NULL;
	tree_free(y->strings);
	y->strings = NULL;
	for (size_t i = 0; i < y->n_pool; i++)
		free(y->pool[i]);
	free(y->pool);
	y->pool = NULL;
	y->n_pool = y->cap_pool = 0;
	free(y->guesses);
	y->guesses = NULL;
	y->n_guesses = y->cap_guesses = 0;
	free(y->guess_index);
	y->guess_index = NULL;
	y->cap_guess_index = 0;
}
