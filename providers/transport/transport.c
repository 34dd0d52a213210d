/* The transport registry and the helpers every transport shares. */
#include "providers/transport/transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct cs_transport_ops *cs_transport_ops_for(enum cs_transport_kind kind)
{
	switch (kind) {
	case CS_TRANSPORT_LOCAL:
		return &cs_transport_local;
	case CS_TRANSPORT_SSH:
		return &cs_transport_ssh;
	case CS_TRANSPORT_WINRM:
		return &cs_transport_winrm;
	default:
		return NULL;
	}
}

static const char *kind_name(enum cs_transport_kind kind)
{
	switch (kind) {
	case CS_TRANSPORT_LOCAL:
		return "local";
	case CS_TRANSPORT_SSH:
		return "ssh";
	case CS_TRANSPORT_WINRM:
		return "winrm";
	}
	return "unknown";
}

int cs_transport_open(struct cs_transport **out, const struct cs_host_cfg *host, struct cs_err *err)
{
	const struct cs_transport_ops *ops = cs_transport_ops_for(host->transport);
	*out = NULL;
	if (!ops)
		return cs_err_set(err, -ENOTSUP, "host %s: %s transport is not supported yet",
				  host->name ? host->name : "", kind_name(host->transport));
	return ops->open(out, host, err);
}

void cs_transport_close(struct cs_transport *t)
{
	if (t)
		t->ops->close(t);
}

void cs_run_result_init(struct cs_run_result *r, size_t cap)
{
	r->exit_status = 0;
	r->login_noise = false;
	cs_buf_init(&r->out, cap);
	cs_buf_init(&r->err, cap);
}

void cs_run_result_free(struct cs_run_result *r)
{
	if (!r)
		return;
	cs_buf_free(&r->out);
	cs_buf_free(&r->err);
	r->exit_status = 0;
}

void cs_file_stat_free(struct cs_file_stat *st)
{
	if (!st)
		return;
	free(st->owner);
	free(st->group);
	memset(st, 0, sizeof *st);
}

void cs_transport_check_address(struct cs_yaml *y, const struct cs_ynode *v, const char *addr, const char *where)
{
	if (strstr(addr, "://"))
		cs_yaml_report(y, v, "\"address\" %s must be a host name or IP address, not a URL (the port goes in \"port\")",
		       where);
	else if (strpbrk(addr, " \t/"))
		cs_yaml_report(y, v, "\"address\" %s must be a host name or IP address", where);
	else if (strchr(addr, '@'))
		cs_yaml_report(y, v,
		       "\"address\" %s must be a host name or IP address without the user name (the user goes in \"user\")",
		       where);
	else if (strpbrk(addr, "[]"))
		cs_yaml_report(y, v,
		       "\"address\" %s must be a host name or IP address: write an IPv6 address without brackets (the port goes in \"port\")",
		       where);
	else {
		/* One colon is NAME:PORT (an IPv6 address has at least two). */
		const char *colon = strchr(addr, ':');
		if (colon && !strchr(colon + 1, ':'))
			cs_yaml_report(y, v,
			       "\"address\" %s must be a host name or IP address without a port (the port goes in \"port\": port: %s)",
			       where, colon[1] ? colon + 1 : "N");
	}
}
