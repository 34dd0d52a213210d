/* The exchange binding kind: Exchange services enabled on the certificate
 * (windows.c enables them). */
#include "providers/platform/binding_kind.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "providers/base/util.h"
#include "providers/base/value_syntax.h"

static void parse_exchange(struct cs_binding_parse *p, const struct cs_ynode *m)
{
	static const char *const keys[] = { "services", NULL };
	static const char *const services[] = { "POP", "IMAP", "SMTP", "IIS", NULL };
	cs_yaml_check_keys(p->y, m, keys, p->where);
	struct cs_ynode *v = cs_yaml_seq(p->y, m, "services", p->where, true);
	if (!v)
		return;
	if (cs_yaml_n_items(v) == 0) {
		cs_yaml_report(p->y, v, "\"services\" %s is empty: list at least one of POP, IMAP, SMTP or IIS", p->where);
		return;
	}
	for (size_t i = 0; i < cs_yaml_n_items(v); i++) {
		struct cs_ynode *it = cs_yaml_item(p->y, v, i);
		const char *s = cs_yaml_scalar_text(p->y, it, "services", p->where);
		if (!s)
			continue;
		int bit = -1;
		for (int j = 0; services[j]; j++)
			if (strcasecmp(s, services[j]) == 0)
				bit = j;
		if (bit < 0) {
			cs_yaml_report(p->y, it, "unknown exchange service \"%s\" %s: expected POP, IMAP, SMTP or IIS%s",
			       cs_yaml_esc(p->y, s), p->where, cs_yaml_did_you_mean(p->y, s, services, 4));
			continue;
		}
		if (p->b->exchange.services & (1u << bit)) {
			cs_yaml_report(p->y, it, "exchange service %s is listed twice %s", services[bit], p->where);
			continue;
		}
		p->b->exchange.services |= 1u << bit;
	}
}

static void describe_exchange(const struct cs_binding_cfg *b, struct cs_buf *s)
{
	cs_buf_printf(s, "services%s%s%s%s", b->exchange.services & CS_EXCH_POP ? " POP" : "",
		      b->exchange.services & CS_EXCH_IMAP ? " IMAP" : "",
		      b->exchange.services & CS_EXCH_SMTP ? " SMTP" : "",
		      b->exchange.services & CS_EXCH_IIS ? " IIS" : "");
}

const struct cs_binding_kind cs_kind_exchange = {
	.name = "exchange",
	.id = CS_BIND_EXCHANGE,
	.platforms = CS_KIND_ON(CS_PLATFORM_WINDOWS),
	.parse = parse_exchange,
	.describe = describe_exchange,
};
