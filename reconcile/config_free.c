/* Giving back the model cs_config_load() built (see config.h): every
 * string the loader and the providers' parse slots allocated.  A binding's
 * body is freed by its kind (the free slot of binding_kind.h). */
#include "reconcile/config.h"

#include <stdlib.h>
#include "providers/base/util.h"
#include "providers/platform/binding_kind.h"

static void free_secret(struct cs_secret *s)
{
	free(s->ref);
	s->ref = NULL;
}

static void free_binding(struct cs_binding_cfg *b)
{
	free(b->host);
	/* A binding that named two kinds had both parse their bodies. */
	const struct cs_binding_kind *const *kinds = cs_binding_kind_table();
	for (size_t i = 0; kinds[i]; i++)
		if (kinds[i]->free)
			kinds[i]->free(b);
}

void cs_config_free(struct cs_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_issuers; i++) {
		struct cs_issuer_cfg *is = &cfg->issuers[i];
		free(is->name);
		free(is->ca.cert);
		free_secret(&is->ca.key);
		free(is->manual.requests);
		free(is->manual.inbox);
		free(is->acme.directory);
		cs_strv_free(is->acme.contact, is->acme.n_contact);
		free(is->acme.ca_bundle);
		free(is->acme.eab_kid);
		free_secret(&is->acme.eab_hmac);
		free(is->acme.http01_host);
		free(is->acme.http01_webroot);
		free(is->acme.http01_standalone);
		free(is->acme.dns01_hook);
		free(is->acme.preferred_chain);
	}
	free(cfg->issuers);
	cs_notify_cfg_free(cfg->notify, cfg->n_notify);
	for (size_t i = 0; i < cfg->n_hosts; i++) {
		struct cs_host_cfg *h = &cfg->hosts[i];
		free(h->name);
		free(h->ssh.address);
		free(h->ssh.user);
		free(h->ssh.identity);
		free_secret(&h->ssh.passphrase);
		free_secret(&h->ssh.password);
		free(h->ssh.known_hosts);
		free(h->winrm.address);
		free(h->winrm.user);
		free_secret(&h->winrm.password);
		free(h->winrm.ca_bundle);
		free(h->local_dir);
	}
	free(cfg->hosts);
	for (size_t i = 0; i < cfg->n_certs; i++) {
		struct cs_cert_cfg *cert = &cfg->certs[i];
		free(cert->name);
		free(cert->common_name);
		cs_strv_free(cert->dns_names, cert->n_dns_names);
		free(cert->issuer);
		for (size_t j = 0; j < cert->n_bindings; j++)
			free_binding(&cert->bindings[j]);
		free(cert->bindings);
		for (size_t j = 0; j < cert->n_verify; j++) {
			struct cs_verify_cfg *v = &cert->verify[j];
			free(v->connect);
			free(v->servername);
			free(v->ca_bundle);
			free(v->host);
		}
		free(cert->verify);
	}
	free(cfg->certs);
	cs_strmap_free(&cfg->host_names);
	cs_strmap_free(&cfg->cert_names);
	free(cfg->settings.state_dir);
	free_secret(&cfg->settings.pg.dsn);
	free_secret(&cfg->settings.pg.key);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}
