/* The YAML value layer: a tree of nodes built from libyaml's events, with
 * the limits certsync puts on any YAML it is given, and typed getters that
 * report every problem as a FILE:LINE:COL diagnostic and go on, so that a
 * file is fixed in one round.
 *
 * Conventions of the getters: map is a mapping node (anything else reads as
 * empty); key is the key looked up; where ends the message ("in host web1",
 * "in binding 2 of certificate www").  A getter returns the value node when
 * the key is present and its value right, NULL otherwise (absent: reported
 * only when required; wrong: always reported).  On success the output is
 * replaced; a string output's old value (a default) is freed.  Strings for
 * messages (cs_yaml_esc, cs_yaml_fmt, ...) live until cs_yaml_done.
 *
 * Secret values are never read here and never appear in a message. */
#ifndef CS_YAML_VALUE_H
#define CS_YAML_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>
#include "providers/base/diag.h"
#include "providers/base/err.h"
#include "providers/base/secret.h"

struct cs_pos {
	int line; /* 1-based; 0 = unknown */
	int col;  /* 1-based */
};

/* What a node holds, as the YAML 1.2 core schema would resolve it.  Quoted
 * scalars are always strings. */
enum cs_yaml_vkind { CS_YV_NULL, CS_YV_BOOL, CS_YV_INT, CS_YV_FLOAT, CS_YV_STR, CS_YV_MAP, CS_YV_SEQ };

enum cs_ynode_type { CS_YN_SCALAR = 1, CS_YN_SEQ, CS_YN_MAP };

struct cs_ypair;

/* A node of the tree cs_yaml_load builds from libyaml's events, allocated
 * with everything else of the file in a few large blocks freed at once by
 * cs_yaml_done.  An alias is the node it names (shared, as in libyaml's
 * document).  Read it with the functions below rather than the fields. */
struct cs_ynode {
	uint8_t type;           /* enum cs_ynode_type */
	uint8_t style;          /* a scalar's yaml_scalar_style_t */
	uint8_t kind;           /* enum cs_yaml_vkind, resolved when built */
	uint32_t line, col;     /* where it starts, 1-based */
	uint32_t n;             /* a scalar's length in bytes (NULs included); entries of a list; pairs of a mapping */
	union {
		char inl[8];            /* a scalar's shorter than 8 bytes, NUL-terminated */
		const char *text;       /* a longer scalar's, NUL-terminated */
		struct cs_ynode **items;
		struct cs_ypair *pairs;
	} u;
};

struct cs_ypair {
	struct cs_ynode *key, *value;
};

struct cs_yaml_guess;
struct cs_yaml_tree;

/* One YAML file being read.  Set file, dir and diags (zero the rest), call
 * cs_yaml_load, read with the getters, then cs_yaml_done. */
struct cs_yaml {
	const char *file;       /* for diagnostics */
	const char *dir;        /* absolute folder relative local paths are resolved against */
	struct cs_diags *diags;
	size_t errors;          /* error diagnostics added so far */
	struct cs_yaml_tree *tree; /* the nodes, set by cs_yaml_load */
	struct cs_yaml_tree *strings; /* short strings made for messages, freed at the end */
	char **pool;            /* the other strings made for messages, freed at the end */
	size_t n_pool, cap_pool;
	struct cs_yaml_guess *guesses; /* unknown keys that look like a known one */
	size_t n_guesses, cap_guesses;
	size_t *guess_index;    /* mapping → its latest guess (a hash) */
	size_t cap_guess_index;
};

/* Reads the file's events once, building the tree as they come.  Limits on
 * the shape (nesting 64, 100,000 entries in one collection, 1,000,000 nodes
 * with aliases expanded or two per node written, 5,000,000 nodes written,
 * 10,000 anchors) and tags (only core tags that change nothing) are checked
 * on the events of the whole stream.  Returns true when a document was
 * loaded: *root is its root node (NULL for an empty file).  A second
 * document in the stream is reported.  False when the file was refused
 * (reported). */
bool cs_yaml_load(struct cs_yaml *y, const char *text, size_t len, struct cs_ynode **root);
void cs_yaml_done(struct cs_yaml *y);

/* ---- nodes ---- */
const char *cs_yaml_text(const struct cs_ynode *n);           /* a scalar's text ("" for a collection) */
size_t cs_yaml_n_pairs(const struct cs_ynode *n);              /* 0 unless a mapping */
size_t cs_yaml_n_items(const struct cs_ynode *n);              /* 0 unless a list */
const struct cs_ypair *cs_yaml_pair(const struct cs_ynode *n, size_t i);
struct cs_ynode *cs_yaml_item(struct cs_yaml *y, const struct cs_ynode *n, size_t i);
struct cs_pos cs_yaml_pos(const struct cs_ynode *n);
enum cs_yaml_vkind cs_yaml_kind(const struct cs_ynode *n);
enum cs_yaml_vkind cs_yaml_scalar_kind(const char *s, yaml_scalar_style_t style);
const char *cs_yaml_kind_name(enum cs_yaml_vkind k);       /* "a string", "a list", ... */
bool cs_yaml_is_scalar(enum cs_yaml_vkind k);              /* string or number */
bool cs_yaml_one_of(const char *s, const char *const *words); /* words NULL-terminated */
/* The value of key in map (and its key node in *out_key), or NULL. */
struct cs_ynode *cs_yaml_lookup(struct cs_yaml *y, const struct cs_ynode *map, const char *key, struct cs_ynode **out_key);

/* ---- messages ---- */
void cs_yaml_report_at(struct cs_yaml *y, int line, int col, const char *fmt, ...) CS_PRINTF(4, 5);
/* At node n (line 1 col 1 when NULL). */
void cs_yaml_report(struct cs_yaml *y, const struct cs_ynode *n, const char *fmt, ...) CS_PRINTF(3, 4);
const char *cs_yaml_keep(struct cs_yaml *y, char *s);       /* takes s, freed at cs_yaml_done */
/* The strings for messages made after cs_yaml_mark are freed by
 * cs_yaml_release (in the reverse order of the marks): a section of 100,000
 * entries keeps only those of the entry being read.  Nothing made in
 * between may be used after the release. */
struct cs_yaml_mark {
	const void *blocks;
	char *next;
	size_t left, n_pool;
};
struct cs_yaml_mark cs_yaml_mark(struct cs_yaml *y);
void cs_yaml_release(struct cs_yaml *y, const struct cs_yaml_mark *m);
/* Text from the file made safe for a one-line message. */
const char *cs_yaml_esc(struct cs_yaml *y, const char *s);
const char *cs_yaml_fmt(struct cs_yaml *y, const char *fmt, ...) CS_PRINTF(2, 3);
/* "a, b or c" (last_sep " or "). */
const char *cs_yaml_word_list(struct cs_yaml *y, const char *const *words, const char *last_sep);
size_t cs_yaml_count_words(const char *const *words);
/* The closest of cands (two edits, case-insensitive), or NULL. */
const char *cs_yaml_suggest(const char *word, const char *const *cands, size_t n);
/* " (did you mean \"x\"?)" or "". */
const char *cs_yaml_did_you_mean(struct cs_yaml *y, const char *word, const char *const *cands, size_t n);

/* ---- keys ---- */
/* Unknown keys (with a suggestion), keys that are not strings, keys given
 * twice.  known is NULL-terminated. */
void cs_yaml_check_keys(struct cs_yaml *y, const struct cs_ynode *map, const char *const *known, const char *where);
/* Whether an unknown key of map was taken for one of keys. */
bool cs_yaml_guessed(const struct cs_yaml *y, const struct cs_ynode *map, const char *const *keys);
/* The value of key or NULL; a missing required key is reported at map. */
struct cs_ynode *cs_yaml_field(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
			   bool required);
void cs_yaml_type_error(struct cs_yaml *y, const struct cs_ynode *v, const char *want, const char *key,
			const char *where);
/* Of names, the one written first (its index), -1 for none; any other
 * present is reported as "WHAT has both A and B: CHOOSE". */
int cs_yaml_exactly_one(struct cs_yaml *y, const struct cs_ynode *map, const char *const *names, const char *what,
			const char *choose);

/* ---- typed values ---- */
/* A scalar as text (numbers too); NUL bytes and empty strings refused. */
const char *cs_yaml_scalar_text(struct cs_yaml *y, const struct cs_ynode *v, const char *key, const char *where);
struct cs_ynode *cs_yaml_str(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
			 bool required, char **out);
struct cs_ynode *cs_yaml_int(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
			 bool required, long lo, long hi, int *out);
struct cs_ynode *cs_yaml_bool(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
			  bool *out);
/* One of values (NULL-terminated); *out its index. */
struct cs_ynode *cs_yaml_enum(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
			  bool required, const char *const *values, int *out);

/* Upper bounds of durations: a renewal window beyond the longest validity a
 * CA issues (10 years) is a typo; waiting more than a day for one step
 * means a hung host. */
#define CS_DURATION_MAX_WINDOW ((int64_t)3650 * 86400)
#define CS_DURATION_MAX_WAIT ((int64_t)86400)
struct cs_ynode *cs_yaml_duration(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
			      bool positive, int64_t max, int64_t *out);

/* A local path resolved against y->dir (~/ expanded first).  Caller frees. */
char *cs_yaml_local_path(struct cs_yaml *y, const char *p);
struct cs_ynode *cs_yaml_path(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
			  bool required, char **out);
/* A local file certsync will read: reported unless a regular file (or absent). */
void cs_yaml_check_local_file(struct cs_yaml *y, const struct cs_ynode *v, const char *key, const char *where,
			      const char *path);
struct cs_ynode *cs_yaml_local_file(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
				bool required, char **out);
/* A mapping or list value (want CS_YV_MAP or CS_YV_SEQ); an empty value
 * counts as an empty one.  Iterate with cs_yaml_n_pairs/cs_yaml_pair or
 * cs_yaml_n_items/cs_yaml_item. */
struct cs_ynode *cs_yaml_collection(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
				bool required, enum cs_yaml_vkind want);
struct cs_ynode *cs_yaml_map(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
			 bool required);
struct cs_ynode *cs_yaml_seq(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
			 bool required);
/* {env: NAME} or {file: PATH} (file resolved as a local path). */
struct cs_ynode *cs_yaml_secret(struct cs_yaml *y, const struct cs_ynode *map, const char *key, const char *where,
			    bool required, struct cs_secret *out);

#endif
