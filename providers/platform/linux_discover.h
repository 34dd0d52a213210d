/* certsync discover on a Linux host: the files binding of every TLS
 * certificate nginx, Apache, haproxy, Dovecot and Postfix are configured
 * with (see linux_discover.c). */
#ifndef CS_LINUX_DISCOVER_H
#define CS_LINUX_DISCOVER_H

#include "providers/base/err.h"
#include "providers/platform/discover.h"
#include "providers/transport/transport.h"

/* Append what was found to out; what could not be read goes into
 * out->problems.  Negative only when the host itself failed. */
int cs_linux_discover(struct cs_transport *t, const struct cs_discover_opts *o, struct cs_found_list *out,
		      struct cs_err *err);

#endif
