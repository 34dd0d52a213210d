/* sh and PowerShell single-quoted literals (see quote.h). */
#include "providers/base/quote.h"

#include <string.h>
#include "providers/base/buf.h"

/* Length of the quote character at s (1 for ', 3 for the UTF-8 encoding of
 * U+2018..U+201B), 0 when s does not start with one. */
static size_t quote_len(const unsigned char *s)
{
	if (s[0] == '\'')
		return 1;
	/* U+2018..U+201B are E2 80 98..9B in UTF-8. */
	if (s[0] == 0xE2 && s[1] == 0x80 && s[2] >= 0x98 && s[2] <= 0x9B)
		return 3;
	return 0;
}

char *cs_ps_quote(const char *s)
{
	struct cs_buf b = CS_BUF_INIT;
	const unsigned char *p = (const unsigned char *)s;
	cs_buf_puts(&b, "'");
	while (*p) {
		size_t q = quote_len(p);
		if (q) {
			/* Doubling keeps the character the user wrote. */
			cs_buf_append(&b, p, q);
			cs_buf_append(&b, p, q);
			p += q;
		} else {
			cs_buf_append(&b, p, 1);
			p++;
		}
	}
	cs_buf_puts(&b, "'");
	return cs_buf_detach(&b, NULL);
}

char *cs_sh_quote(const char *s)
{
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_puts(&b, "'");
	for (; *s; s++) {
		if (*s == '\'')
			cs_buf_puts(&b, "'\\''");
		else
			cs_buf_append(&b, s, 1);
	}
	cs_buf_puts(&b, "'");
	return cs_buf_detach(&b, NULL);
}
