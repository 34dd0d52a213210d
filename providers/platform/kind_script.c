/* The script binding kind: a local script certsync sends to the host and
 * runs with the certificate (linux_script.c, windows.c run it). */
#include "providers/platform/binding_kind.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "providers/base/strmap.h"
#include "providers/base/util.h"
#include "providers/base/value_syntax.h"

bool cs_script_arg_name_ok(const char *s)
{
	if (!s || !((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-'))
			return false;
	return true;
}

static void parse_script(struct cs_binding_parse *p, const struct cs_ynode *m)
{
	static const char *const keys[] = { "path", "args", NULL };
	struct cs_bind_script *sc = &p->b->script;
	cs_yaml_check_keys(p->y, m, keys, p->where);
	char *raw = NULL;
	struct cs_ynode *v = cs_yaml_str(p->y, m, "path", p->where, true, &raw);
	if (v) {
		sc->path = cs_yaml_local_path(p->y, raw);
		/* The script is sent from here, so a typo is caught now rather
		 * than halfway through an apply. */
		struct stat st;
		if (stat(sc->path, &st) < 0)
			cs_yaml_report(p->y, v, "script %s %s does not exist (looked for %s)", cs_yaml_esc(p->y, raw), p->where,
			       cs_yaml_esc(p->y, sc->path));
		else if (!S_ISREG(st.st_mode))
			cs_yaml_report(p->y, v, "script %s %s is not a regular file (%s is %s)", cs_yaml_esc(p->y, raw), p->where,
			       cs_yaml_esc(p->y, sc->path), cs_file_type_name(st.st_mode));
	}
	free(raw);
	v = cs_yaml_map(p->y, m, "args", p->where, false);
	if (!v || v->type != CS_YN_MAP)
		return;
	const char *aw = cs_yaml_fmt(p->y, "in args of script binding %zu of certificate %s", p->index,
				  cs_yaml_esc(p->y, p->cert->name));
	sc->args = cs_xcalloc(cs_yaml_n_pairs(v), sizeof *sc->args);
	struct cs_strmap names = CS_STRMAP_INIT; /* the arguments so far, to find one given twice */
	for (size_t i = 0; i < cs_yaml_n_pairs(v); i++) {
		struct cs_ynode *k = cs_yaml_pair(v, i)->key;
		struct cs_ynode *val = cs_yaml_pair(v, i)->value;
		if (!k || !cs_yaml_is_scalar(cs_yaml_kind(k)) || !cs_script_arg_name_ok(cs_yaml_text(k))) {
			cs_yaml_report(p->y, k, "invalid argument name %s: use letters, digits, _ and -, starting with a letter",
			       aw);
			continue;
		}
		if (cs_strmap_get(&names, cs_yaml_text(k), NULL)) {
			cs_yaml_report(p->y, k, "argument \"%s\" is given twice %s", cs_yaml_text(k), aw);
			continue;
		}
		enum cs_yaml_vkind vk = cs_yaml_kind(val);
		if (vk != CS_YV_STR && vk != CS_YV_INT && vk != CS_YV_FLOAT && vk != CS_YV_BOOL) {
			cs_yaml_report(p->y, val, "expected a string, number or boolean for argument \"%s\" %s, got %s",
			       cs_yaml_text(k), aw, cs_yaml_kind_name(vk));
			continue;
		}
		if (strlen(cs_yaml_text(val)) != val->n) {
			cs_yaml_report(p->y, val, "argument \"%s\" %s contains a NUL character", cs_yaml_text(k), aw);
			continue;
		}
		sc->args[sc->n_args].name = cs_xstrdup(cs_yaml_text(k));
		sc->args[sc->n_args].value = cs_xstrdup(cs_yaml_text(val));
		cs_strmap_put(&names, sc->args[sc->n_args].name, sc->n_args, NULL);
		sc->n_args++;
	}
	cs_strmap_free(&names);
}

static void describe_script(const struct cs_binding_cfg *b, struct cs_buf *s)
{
	cs_buf_puts(s, cs_path_basename(b->script.path));
}

static void free_script(struct cs_binding_cfg *b)
{
	struct cs_bind_script *sc = &b->script;
	free(sc->path);
	for (size_t i = 0; i < sc->n_args; i++) {
		free(sc->args[i].name);
		free(sc->args[i].value);
	}
	free(sc->args);
}

/* What a script configures cannot be read back: the state folder remembers
 * the certificate it last ran for, under the certificate, the script and
 * its arguments, so a changed argument runs it again. */
static char *script_ran_key(const char *cert, const struct cs_binding_cfg *b)
{
	struct cs_buf s = CS_BUF_INIT;
	cs_buf_printf(&s, "%s: %s", cert, b->script.path);
	for (size_t i = 0; i < b->script.n_args; i++)
		cs_buf_printf(&s, " %s=%s", b->script.args[i].name, b->script.args[i].value);
	return cs_buf_detach(&s, NULL);
}

const struct cs_binding_kind cs_kind_script = {
	.name = "script",
	.id = CS_BIND_SCRIPT,
	.platforms = CS_KIND_ON(CS_PLATFORM_LINUX) | CS_KIND_ON(CS_PLATFORM_WINDOWS),
	.parse = parse_script,
	.describe = describe_script,
	.free = free_script,
	.ran_key = script_ran_key,
};
