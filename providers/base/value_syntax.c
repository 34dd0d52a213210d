/* The syntax of values that are not YAML types (value_syntax.h). */
#include "providers/base/value_syntax.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"

/* Why s is not a valid DNS name, or NULL.  The leftmost label may be "*"
 * when wildcard is allowed. */
const char *cs_dns_name_problem(const char *s, bool wildcard)
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
const char *cs_hostport_problem(const char *s, char **out_host, int *out_port)
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

bool cs_is_ip(const char *s)
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
char *cs_guid_braced(const char *s)
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
