/* The syntax of values the config holds that are not YAML types: DNS
 * names, HOST:PORT, IP addresses, GUIDs. */
#ifndef CS_VALUE_SYNTAX_H
#define CS_VALUE_SYNTAX_H

#include <stdbool.h>

/* Why s is not a valid DNS name, or NULL (a static string).  The leftmost
 * label may be "*" when wildcard is allowed. */
const char *cs_dns_name_problem(const char *s, bool wildcard);
/* "host:port" or "[v6]:port": why not, or NULL with *out_host (brackets
 * removed, caller frees) and *out_port set (each may be NULL). */
const char *cs_hostport_problem(const char *s, char **out_host, int *out_port);
bool cs_is_ip(const char *s);
/* 8-4-4-4-12 hex digits, braces optional: the braced form, or NULL.
 * Caller frees. */
char *cs_guid_braced(const char *s);

#endif
