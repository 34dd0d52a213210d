/* Durations as written in the config: an integer and a unit, optionally
 * several in sequence ("90m", "12h", "30d", "1d12h", "2w", "45s").
 * Units: s, m, h, d, w.  No sign, no fractions, no bare numbers. */
#ifndef CS_DURATION_H
#define CS_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* 0 and seconds in *out, or -EINVAL with a reason in why (static string). */
int cs_duration_parse(int64_t *out, const char *s, const char **why);

/* Shortest exact form: 2592000 → "30d", 5400 → "90m", 129600 → "1d12h". */
void cs_duration_format(char *buf, size_t size, int64_t seconds);

#endif
