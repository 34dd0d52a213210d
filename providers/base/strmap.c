/* cs_strmap: string keys to size_t values (see strmap.h). */
#include "providers/base/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"

static size_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037u;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211u;
	}
	return (size_t)h;
}

static struct cs_strmap_slot *find(const struct cs_strmap_slot *slots, size_t cap, const char *key, size_t h)
{
	size_t i = h & (cap - 1);
	for (;;) {
		const struct cs_strmap_slot *s = &slots[i];
		if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
			return (struct cs_strmap_slot *)s;
		i = (i + 1) & (cap - 1);
	}
}

static void grow(struct cs_strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct cs_strmap_slot *slots = cs_xcalloc(cap, sizeof *slots);
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key)
			*find(slots, cap, m->slots[i].key, m->slots[i].hash) = m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
}

bool cs_strmap_put(struct cs_strmap *m, const char *key, size_t value, size_t *out_old)
{
	size_t h = hash_str(key);
	if (m->cap) {
		struct cs_strmap_slot *s = find(m->slots, m->cap, key, h);
		if (s->key) {
			if (out_old)
				*out_old = s->value;
			return false;
		}
	}
	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	struct cs_strmap_slot *s = find(m->slots, m->cap, key, h);
	s->key = key;
	s->hash = h;
	s->value = value;
	m->n++;
	return true;
}

bool cs_strmap_get(const struct cs_strmap *m, const char *key, size_t *out)
{
	if (!m->cap || !key)
		return false;
	const struct cs_strmap_slot *s = find(m->slots, m->cap, key, hash_str(key));
	if (!s->key)
		return false;
	if (out)
		*out = s->value;
	return true;
}

void cs_strmap_free(struct cs_strmap *m)
{
	if (!m)
		return;
	free(m->slots);
	m->slots = NULL;
	m->cap = 0;
	m->n = 0;
}
