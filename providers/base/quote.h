/* Quoting a value for the two shells certsync writes code for: POSIX sh
 * (cs_sh_quote) and PowerShell (cs_ps_quote).
 *
 * sh: the value is wrapped in single quotes and every ' becomes '\''.
 *
 * PowerShell: the one way a value enters PowerShell code is as a
 * single-quoted literal.
 *
 * Site names, listener names, paths and script args come from the config and
 * may hold anything; inside '...' PowerShell expands nothing ($, backticks,
 * subexpressions and newlines are plain text), so the only character to
 * escape is the quote itself.  PowerShell takes four Unicode quotes as well
 * as ' (U+2018, U+2019, U+201A, U+201B: its tokenizer treats them all alike),
 * and a pair of any of them stands for one; every one is therefore doubled. */
#ifndef CS_QUOTE_H
#define CS_QUOTE_H

/* A PowerShell single-quoted literal for s (UTF-8), e.g. it's -> 'it''s'.
 * The caller frees the result; never NULL (aborts when out of memory, like
 * cs_sh_quote). */
char *cs_ps_quote(const char *s);

/* A POSIX sh single-quoted word for s, e.g. it's -> 'it'\''s'.  The caller
 * frees the result; never NULL (aborts when out of memory). */
char *cs_sh_quote(const char *s);

#endif
