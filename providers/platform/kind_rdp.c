/* The rdp binding kind: the certificate of Remote Desktop (windows.c sets
 * it).  It takes no keys. */
#include "providers/platform/binding_kind.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "providers/base/util.h"
#include "providers/base/value_syntax.h"

static void parse_rdp(struct cs_binding_parse *p, const struct cs_ynode *m)
{
	static const char *const none[] = { NULL };
	cs_yaml_check_keys(p->y, m, none, p->where);
}

static void describe_rdp(const struct cs_binding_cfg *b, struct cs_buf *s)
{
	cs_buf_puts(s, "RDP-Tcp listener");
}

const struct cs_binding_kind cs_kind_rdp = {
	.name = "rdp",
	.id = CS_BIND_RDP,
	.platforms = CS_KIND_ON(CS_PLATFORM_WINDOWS),
	.parse = parse_rdp,
	.describe = describe_rdp,
};
