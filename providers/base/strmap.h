/* cs_strmap: a map from C strings to size_t values (an index into the
 * caller's array, most often), for look-ups by name or path that must not
 * scan a list: open addressing with linear probing, FNV-1a hashes, grown at
 * half full.
 *
 * Ownership: the map stores the key pointers it is given, not copies; each
 * key must stay valid and unchanged while the map holds it (names owned by
 * the loaded config, for example).  Out of memory aborts (cs_out_of_memory). */
#ifndef CS_STRMAP_H
#define CS_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct cs_strmap_slot {
	const char *key;  /* NULL: empty */
	size_t hash;
	size_t value;
};

struct cs_strmap {
	struct cs_strmap_slot *slots;
	size_t cap;   /* a power of two, or 0 before the first insert */
	size_t n;     /* keys held */
};

#define CS_STRMAP_INIT { NULL, 0, 0 }

/* Map key to value.  When key is already there its value stays and *out_old
 * (if not NULL) gets it: the first one wins, so a duplicate can be reported
 * against the earlier entry.  true when key was new. */
bool cs_strmap_put(struct cs_strmap *m, const char *key, size_t value, size_t *out_old);
/* true and *out (if not NULL) set when key is there. */
bool cs_strmap_get(const struct cs_strmap *m, const char *key, size_t *out);
void cs_strmap_free(struct cs_strmap *m); /* accepts NULL; the map is empty and usable afterwards */

#endif
