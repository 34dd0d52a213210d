/* The iis binding kind: an IIS site binding (windows.c binds it). */
#include "providers/platform/binding_kind.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "providers/base/util.h"
#include "providers/base/value_syntax.h"

static void parse_iis(struct cs_binding_parse *p, const struct cs_ynode *m)
{
	static const char *const keys[] = { "site", "port", "ip", "hostname", "sni", NULL };
	struct cs_bind_iis *iis = &p->b->iis;
	iis->port = 443;
	iis->ip = cs_xstrdup("*");
	cs_yaml_check_keys(p->y, m, keys, p->where);
	cs_yaml_str(p->y, m, "site", p->where, true, &iis->site);
	cs_yaml_int(p->y, m, "port", p->where, false, 1, 65535, &iis->port);
	struct cs_ynode *v = cs_yaml_str(p->y, m, "ip", p->where, false, &iis->ip);
	if (v && strcmp(iis->ip, "*") != 0 && !cs_is_ip(iis->ip))
		cs_yaml_report(p->y, v, "invalid ip \"%s\" %s: expected * or an IP address", cs_yaml_esc(p->y, iis->ip), p->where);
	v = cs_yaml_str(p->y, m, "hostname", p->where, false, &iis->hostname);
	const char *why = v ? cs_dns_name_problem(iis->hostname, true) : NULL;
	if (why)
		cs_yaml_report(p->y, v, "invalid hostname \"%s\" %s: %s", cs_yaml_esc(p->y, iis->hostname), p->where, why);
	v = cs_yaml_bool(p->y, m, "sni", p->where, &iis->sni);
	if (v && iis->sni && !cs_yaml_lookup(p->y, m, "hostname", NULL))
		cs_yaml_report(p->y, v, "sni: true %s needs a hostname (SNI picks the certificate by host name)", p->where);
}

static void describe_iis(const struct cs_binding_cfg *b, struct cs_buf *s)
{
	/* Two bindings of one site on one port differ by ip or host name: say
	 * them, or plan lines read the same. */
	cs_buf_printf(s, "site %s port %d", b->iis.site, b->iis.port);
	if (b->iis.ip && strcmp(b->iis.ip, "*"))
		cs_buf_printf(s, " ip %s", b->iis.ip);
	if (b->iis.hostname)
		cs_buf_printf(s, " hostname %s%s", b->iis.hostname, b->iis.sni ? " (SNI)" : "");
}

static void free_iis(struct cs_binding_cfg *b)
{
	free(b->iis.site);
	free(b->iis.ip);
	free(b->iis.hostname);
}

const struct cs_binding_kind cs_kind_iis = {
	.name = "iis",
	.id = CS_BIND_IIS,
	.platforms = CS_KIND_ON(CS_PLATFORM_WINDOWS),
	.parse = parse_iis,
	.describe = describe_iis,
	.free = free_iis,
};
