/* The store binding kind: the certificate imported into the Windows
 * machine store (windows.c imports it). */
#include "providers/platform/binding_kind.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "providers/base/util.h"
#include "providers/base/value_syntax.h"
#include "providers/platform/windows.h"

static void parse_store(struct cs_binding_parse *p, const struct cs_ynode *m)
{
	static const char *const keys[] = { "exportable", "cleanup", NULL };
	cs_yaml_check_keys(p->y, m, keys, p->where);
	cs_yaml_bool(p->y, m, "exportable", p->where, &p->b->store.exportable);
	cs_yaml_bool(p->y, m, "cleanup", p->where, &p->b->store.cleanup);
}

static void describe_store(const struct cs_binding_cfg *b, struct cs_buf *s)
{
	cs_buf_puts(s, "LocalMachine\\My");
}

static bool store_exportable(const struct cs_binding_cfg *b)
{
	return b->store.exportable;
}

const struct cs_binding_kind cs_kind_store = {
	.name = "store",
	.id = CS_BIND_STORE,
	.platforms = CS_KIND_ON(CS_PLATFORM_WINDOWS),
	.parse = parse_store,
	.describe = describe_store,
	/* After the bindings that move off the certificates cleanup removes. */
	.bind_last = true,
	.no_reboot = true,
	.key_exportable = store_exportable,
	/* One pass finds what every Windows kind binds. */
	.discover = cs_windows_discover,
};
