/* The issuer registry: one entry per issuer kind, and the reply type the
 * asynchronous issuers share. */
#include "providers/issuer/issuer.h"

#include <stdlib.h>
#include <string.h>

const struct cs_issuer_ops *cs_issuer_ops_for(enum cs_issuer_kind kind)
{
	switch (kind) {
	case CS_ISSUER_CA:
		return &cs_issuer_ca;
	case CS_ISSUER_MANUAL:
		return &cs_issuer_manual;
	case CS_ISSUER_ACME:
		return &cs_issuer_acme;
	default:
		return NULL;
	}
}

void cs_issuer_reply_free(struct cs_issuer_reply *r)
{
	if (!r)
		return;
	free(r->path);
	X509_free(r->cert);
	sk_X509_pop_free(r->chain, X509_free);
	memset(r, 0, sizeof *r);
}
