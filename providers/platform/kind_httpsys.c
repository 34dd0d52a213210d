/* The httpsys binding kind: an HTTP.sys SSL binding (windows.c binds it). */
#include "providers/platform/binding_kind.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "providers/base/util.h"
#include "providers/base/value_syntax.h"

static void parse_httpsys(struct cs_binding_parse *p, const struct cs_ynode *m)
{
	static const char *const keys[] = { "ipport", "hostnameport", "appid", NULL };
	static const char *const forms[] = { "ipport", "hostnameport", NULL };
	struct cs_bind_httpsys *hs = &p->b->httpsys;
	cs_yaml_check_keys(p->y, m, keys, p->where);
	if (cs_yaml_exactly_one(p->y, m, forms, cs_yaml_fmt(p->y, "httpsys binding %zu of certificate %s", p->index,
					       cs_yaml_esc(p->y, p->cert->name)), "give one") < 0 && !cs_yaml_guessed(p->y, m, forms))
		cs_yaml_report(p->y, m, "httpsys binding %zu of certificate %s needs ipport or hostnameport", p->index,
		       cs_yaml_esc(p->y, p->cert->name));
	char *host = NULL;
	struct cs_ynode *v = cs_yaml_str(p->y, m, "ipport", p->where, false, &hs->ipport);
	if (v) {
		const char *why = cs_hostport_problem(hs->ipport, &host, NULL);
		if (!why && !cs_is_ip(host))
			why = "the part before the port must be an IP address (use hostnameport for names)";
		if (why)
			cs_yaml_report(p->y, v, "invalid ipport \"%s\" %s: %s", cs_yaml_esc(p->y, hs->ipport), p->where, why);
		free(host);
		host = NULL;
	}
	v = cs_yaml_str(p->y, m, "hostnameport", p->where, false, &hs->hostnameport);
	if (v) {
		const char *why = cs_hostport_problem(hs->hostnameport, &host, NULL);
		if (!why)
			why = cs_dns_name_problem(host, true);
		if (why)
			cs_yaml_report(p->y, v, "invalid hostnameport \"%s\" %s: %s", cs_yaml_esc(p->y, hs->hostnameport), p->where, why);
		free(host);
	}
	char *appid = NULL;
	v = cs_yaml_str(p->y, m, "appid", p->where, false, &appid);
	if (v) {
		hs->appid = cs_guid_braced(appid);
		if (!hs->appid)
			cs_yaml_report(p->y, v, "invalid appid \"%s\" %s: expected a GUID such as "
			       "{4dc3e181-e14b-4a21-b022-59fc669b0914}", cs_yaml_esc(p->y, appid), p->where);
	}
	free(appid);
}

static void describe_httpsys(const struct cs_binding_cfg *b, struct cs_buf *s)
{
	cs_buf_printf(s, "%s", b->httpsys.ipport ? b->httpsys.ipport : b->httpsys.hostnameport);
}

static void free_httpsys(struct cs_binding_cfg *b)
{
	free(b->httpsys.ipport);
	free(b->httpsys.hostnameport);
	free(b->httpsys.appid);
}

const struct cs_binding_kind cs_kind_httpsys = {
	.name = "httpsys",
	.id = CS_BIND_HTTPSYS,
	.platforms = CS_KIND_ON(CS_PLATFORM_WINDOWS),
	.parse = parse_httpsys,
	.describe = describe_httpsys,
	.free = free_httpsys,
};
