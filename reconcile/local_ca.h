/* The local CA `certsync init` makes for the `ca` issuer of its starting
 * config: cmd/ reaches the issuer through here. */
#ifndef CS_LOCAL_CA_H
#define CS_LOCAL_CA_H

#include <stdbool.h>
#include "providers/base/err.h"

/* DIR/pki/ca.key (0600) and DIR/pki/ca.crt: a new ECDSA P-256 key and a
 * self-signed "certsync local CA" certificate valid for 3650 days, made when
 * neither file is there (*made = true), kept when both are (a key is never
 * overwritten); one without the other is an error. */
int cs_local_ca_make(const char *dir, bool *made, struct cs_err *err);

#endif
