/* The table of binding kinds (binding_kind.h).  A new kind is one file,
 * one line here and one line in meson.build. */
#include "providers/platform/binding_kind.h"

#include <string.h>
#include "providers/base/util.h"

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

static const struct cs_binding_kind *const *table = cs_binding_kinds;

const struct cs_binding_kind *const *cs_binding_kind_table(void)
{
	return table;
}

void cs_binding_kinds_use(const struct cs_binding_kind *const *t)
{
	table = t ? t : cs_binding_kinds;
}

const struct cs_binding_kind *cs_binding_kind_find(const char *name)
{
	for (size_t i = 0; table[i]; i++)
		if (strcmp(table[i]->name, name) == 0)
			return table[i];
	return NULL;
}

const struct cs_binding_kind *cs_binding_kind_by_id(enum cs_binding_kind_id id)
{
	for (size_t i = 0; table[i]; i++)
		if (table[i]->id == id)
			return table[i];
	return NULL;
}

/* ---- the engine's questions ---- */

const char *cs_binding_reload(const struct cs_binding_cfg *b)
{
	return b->kind_ops && b->kind_ops->reload ? b->kind_ops->reload(b) : NULL;
}

bool cs_binding_bind_last(const struct cs_binding_cfg *b)
{
	return b->kind_ops && b->kind_ops->bind_last;
}

bool cs_binding_no_reboot(const struct cs_binding_cfg *b)
{
	return b->kind_ops && b->kind_ops->no_reboot;
}

bool cs_binding_key_exportable(const struct cs_binding_cfg *b)
{
	return b->kind_ops && b->kind_ops->key_exportable && b->kind_ops->key_exportable(b);
}

bool cs_binding_writes_chain(const struct cs_binding_cfg *b)
{
	return b->kind_ops && b->kind_ops->writes_chain && b->kind_ops->writes_chain(b);
}

char *cs_binding_ran_key(const char *cert, const struct cs_binding_cfg *b)
{
	return b->kind_ops && b->kind_ops->ran_key ? b->kind_ops->ran_key(cert, b) : NULL;
}

size_t cs_binding_paths(const struct cs_binding_cfg *b, const char **out, size_t max)
{
	return b->kind_ops && b->kind_ops->paths ? b->kind_ops->paths(b, out, max) : 0;
}

int cs_binding_observe(const struct cs_platform_ops *p, struct cs_transport *t, const struct cs_binding_cfg *b,
		       struct cs_binding_obs *out, struct cs_err *err)
{
	if (b->kind_ops && b->kind_ops->observe)
		return b->kind_ops->observe(t, b, out, err);
	return p->observe(t, b, out, err);
}

int cs_binding_diff(const struct cs_platform_ops *p, const struct cs_binding_cfg *b,
		    const struct cs_binding_obs *obs, const struct cs_material *want, struct cs_buf *reason)
{
	/* Only the Linux driver's files compare by SHA-256 first; everything
	 * else gets the texts of an unread material. */
	if (want->unread && (p != &cs_platform_linux || b->kind != CS_BIND_FILES || (b->kind_ops && b->kind_ops->diff))) {
		struct cs_err err = CS_ERR_INIT;
		if (cs_material_texts(want, &err) < 0) {
			cs_buf_puts(reason, cs_err_msg(&err));
			cs_err_clear(&err);
			return 1;
		}
	}
	if (b->kind_ops && b->kind_ops->diff)
		return b->kind_ops->diff(b, obs, want, reason);
	return p->diff(b, obs, want, reason);
}

int cs_binding_apply(const struct cs_platform_ops *p, struct cs_transport *t, const struct cs_binding_cfg *b,
		     const struct cs_material *want, struct cs_undo *undo, struct cs_err *err)
{
	if (b->kind_ops && b->kind_ops->apply)
		return b->kind_ops->apply(t, b, want, undo, err);
	return p->apply(t, b, want, undo, err);
}

const char *cs_binding_kind_name(enum cs_binding_kind_id kind)
{
	const struct cs_binding_kind *k = cs_binding_kind_by_id(kind);
	return k ? k->name : "unknown";
}

char *cs_binding_where(const struct cs_binding_cfg *b)
{
	struct cs_buf s = CS_BUF_INIT;
	/* A binding made by hand (tests) may name its kind by id only. */
	const struct cs_binding_kind *k = b->kind_ops ? b->kind_ops : cs_binding_kind_by_id(b->kind);
	if (k && k->describe)
		k->describe(b, &s);
	char *r = cs_buf_detach(&s, NULL);
	return r ? r : cs_xstrdup("");
}
