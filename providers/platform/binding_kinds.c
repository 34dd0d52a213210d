/* The table of binding kinds (binding_kind.h).  A new kind is one file,
 * one line here and one line in meson.build. */
#include "providers/platform/binding_kind.h"

#include <string.h>

const struct cs_binding_kind *const cs_binding_kinds[] = {
	&cs_kind_files,
	&cs_kind_store,
	&cs_kind_iis,
	&cs_kind_httpsys,
	&cs_kind_exchange,
	&cs_kind_rdp,
	&cs_kind_script,
	NULL,
};

const struct cs_binding_kind *cs_binding_kind_find(const char *name)
{
	for (size_t i = 0; cs_binding_kinds[i]; i++)
		if (strcmp(cs_binding_kinds[i]->name, name) == 0)
			return cs_binding_kinds[i];
	return NULL;
}

const struct cs_binding_kind *cs_binding_kind_by_id(enum cs_binding_kind_id id)
{
	for (size_t i = 0; cs_binding_kinds[i]; i++)
		if (cs_binding_kinds[i]->id == id)
			return cs_binding_kinds[i];
	return NULL;
}
