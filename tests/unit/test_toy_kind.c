/* A binding kind defined in this file alone, run through the real engine:
 * the config loader parses its body, observe, plan, apply, a second plan
 * and status ask it what they need, and a failed reload puts its file back
 * through the platform driver's undo.  Nothing in reconcile/ or cmd/ knows
 * the kind: it reaches the engine only through a table of kinds that adds
 * it to the real ones (cs_binding_kinds_use).
 *
 * The toy kind "note" writes the SHA-256 of the certificate into one file
 * on a Linux host and may name a reload command. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "reconcile/config.h"
#include "reconcile/executor.h"
#include "reconcile/observe.h"
#include "reconcile/plan.h"
#include "reconcile/status.h"
#include "reconcile/store.h"
#include "providers/base/util.h"
#include "providers/platform/binding_kind.h"
#include "tests/unit/tap.h"

/* ---- the toy kind ---- */

struct note { char *path; char *reload; };

static void parse_note(struct cs_binding_parse *p, const struct cs_ynode *m)
{
	static const char *const keys[] = { "path", "reload", NULL };
	struct note *n = cs_xcalloc(1, sizeof *n);
	p->b->data = n;
	cs_yaml_check_keys(p->y, m, keys, p->where);
	char *raw = NULL;
	struct cs_ynode *v = cs_yaml_str(p->y, m, "path", p->where, true, &raw);
	if (v) {
		n->path = cs_yaml_local_path(p->y, raw);
		p->claim(p, v, "path", n->path);
	}
	free(raw);
	cs_yaml_str(p->y, m, "reload", p->where, false, &n->reload);
}

static void describe_note(const struct cs_binding_cfg *b, struct cs_buf *out)
{
	const struct note *n = b->data;
	cs_buf_printf(out, "note %s", n && n->path ? n->path : "?");
}

static void free_note(struct cs_binding_cfg *b)
{
	struct note *n = b->data;
	if (!n)
		return;
	free(n->path);
	free(n->reload);
	free(n);
	b->data = NULL;
}

static const char *note_reload(const struct cs_binding_cfg *b)
{
	return ((const struct note *)b->data)->reload;
}

static size_t note_paths(const struct cs_binding_cfg *b, const char **out, size_t max)
{
	if (!max)
		return 0;
	out[0] = ((const struct note *)b->data)->path;
	return 1;
}

static int observe_note(struct cs_transport *t, const struct cs_binding_cfg *b, struct cs_binding_obs *out,
			struct cs_err *err)
{
	const struct note *n = b->data;
	memset(out, 0, sizeof *out);
	out->files = cs_xcalloc(1, sizeof *out->files);
	struct cs_file_obs *fo = &out->files[out->n_files++];
	fo->role = "note";
	fo->path = cs_xstrdup(n->path);
	cs_buf_init(&fo->content, 4096);
	int r = t->ops->read_file(t, n->path, &fo->content, err);
	if (r == -ENOENT) {
		cs_err_clear(err);
		return 0;
	}
	if (r < 0) {
		out->error = cs_xstrdup(cs_err_msg(err));
		cs_err_clear(err);
		return 0;
	}
	fo->exists = true;
	cs_buf_append(&fo->content, "", 0);
	cs_sha256_hex(fo->sha256, fo->content.data, fo->content.len);
	return 0;
}

static int diff_note(const struct cs_binding_cfg *b, const struct cs_binding_obs *obs,
		     const struct cs_material *want, struct cs_buf *reason)
{
	const struct cs_file_obs *fo = &obs->files[0];
	char *line = cs_xasprintf("%s\n", want->info.sha256);
	int r = 0;
	if (!fo->exists) {
		cs_buf_printf(reason, "no note at %s yet", fo->path);
		r = 1;
	} else if (strcmp(fo->content.data, line)) {
		cs_buf_printf(reason, "the note at %s names another certificate", fo->path);
		r = 1;
	}
	free(line);
	return r;
}

/* The old file goes into undo as the Linux driver keeps files, so the
 * driver's undo puts it back. */
static int apply_note(struct cs_transport *t, const struct cs_binding_cfg *b, const struct cs_material *want,
		      struct cs_undo *undo, struct cs_err *err)
{
	const struct note *n = b->data;
	struct cs_file_stat st = { 0 };
	int r = t->ops->stat(t, n->path, &st, err);
	if (r < 0)
		return r;
	undo->files = cs_xrealloc(undo->files, (undo->n_files + 1) * sizeof *undo->files);
	struct cs_undo_file *u = &undo->files[undo->n_files++];
	memset(u, 0, sizeof *u);
	u->path = cs_xstrdup(n->path);
	u->existed = st.exists;
	u->mode = st.mode;
	cs_buf_init(&u->content, 4096);
	cs_file_stat_free(&st);
	if (u->existed && (r = t->ops->read_file(t, n->path, &u->content, err)) < 0)
		return r;
	char *line = cs_xasprintf("%s\n", want->info.sha256);
	struct cs_file_attrs attrs = { .mode = 0644 };
	r = t->ops->write_file(t, n->path, line, strlen(line), &attrs, err);
	free(line);
	return r;
}

static const struct cs_binding_kind toy_kind = {
	.name = "note",
	.platforms = CS_KIND_ON(CS_PLATFORM_LINUX),
	.parse = parse_note,
	.describe = describe_note,
	.free = free_note,
	.reload = note_reload,
	.paths = note_paths,
	.observe = observe_note,
	.diff = diff_note,
	.apply = apply_note,
};

/* ---- the test ---- */

static char root[] = "/tmp/certsync-test-toy-XXXXXX";

static void sh(const char *fmt, ...) CS_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = NULL;
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	int r = system(cmd);
	if (r != 0)
		tap_note("command failed (%d): %s", r, cmd);
	free(cmd);
}

static char *config_path;

static void write_config(const char *binding)
{
	FILE *o = fopen(config_path, "w");
	fprintf(o, "version: 1\n"
		"issuers:\n"
		"  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }\n"
		"hosts:\n"
		"  here: { platform: linux, local: {} }\n"
		"certificates:\n"
		"  web:\n"
		"    common_name: web.test\n"
		"    issuer: lab\n"
		"    bindings:\n"
		"      - %s\n", binding);
	fclose(o);
}

/* All diagnostics of loading the config, one per line. */
static char *validate(void)
{
	struct cs_diags diags = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	cs_config_load(&cfg, config_path, &diags);
	struct cs_buf b = CS_BUF_INIT;
	cs_buf_append(&b, "", 0);
	for (size_t i = 0; i < diags.n; i++)
		cs_buf_printf(&b, "%d:%d: %s\n", diags.v[i].line, diags.v[i].col, diags.v[i].msg);
	cs_diags_free(&diags);
	cs_config_free(cfg);
	return cs_buf_detach(&b, NULL);
}

struct result {
	char *shape;     /* "renew bind reload", "" when clean */
	char *text;      /* every summary and reason, one per line */
	char *status;    /* state and detail of the binding, after the run */
	size_t failed;   /* failed actions of the apply */
};

static void result_free(struct result *r)
{
	free(r->shape);
	free(r->text);
	free(r->status);
}

/* Observe and plan, apply when asked, and the binding's status as observed
 * before the apply. */
static struct result run(bool apply)
{
	struct result res = { 0 };
	struct cs_diags diags = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	if (cs_config_load(&cfg, config_path, &diags) < 0) {
		for (size_t i = 0; i < diags.n; i++)
			tap_note("config: %d:%d: %s", diags.v[i].line, diags.v[i].col, diags.v[i].msg);
		cs_diags_free(&diags);
		return res;
	}
	cs_diags_free(&diags);
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *store = NULL;
	struct cs_observed *obs = NULL;
	struct cs_plan *plan = NULL;
	struct cs_buf shape = CS_BUF_INIT, text = CS_BUF_INIT;
	cs_buf_append(&shape, "", 0);
	cs_buf_append(&text, "", 0);
	if (cs_store_open(&store, cfg->settings.state_dir, true, &err) < 0 ||
	    cs_observe(&obs, cfg, store, NULL, NULL, NULL, &err) < 0 || cs_plan_make(&plan, obs, &err) < 0) {
		tap_note("plan: %s", cs_err_msg(&err));
		goto out;
	}
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct cs_action *a = &plan->actions[i];
		cs_buf_printf(&shape, "%s%s", i ? " " : "", cs_action_kind_name(a->kind));
		cs_buf_printf(&text, "%s | %s\n", a->summary, a->reason ? a->reason : "");
	}
	for (size_t i = 0; i < plan->n_notices; i++)
		cs_buf_printf(&text, "notice: %s\n", plan->notices[i].text);
	if (obs->certs[0].have_current) {
		struct cs_material want = { 0 };
		const struct cs_stored *cur = &obs->certs[0].current;
		if (cs_material_make(&want, cs_stored_key(cur, &err), cs_stored_cert(cur, &err),
				     cs_stored_chain(cur, &err), &err) == 0) {
			char *detail = NULL;
			enum cs_binding_state st = cs_binding_state(obs, 0, 0, &want, &detail);
			res.status = cs_xasprintf("%s%s%s", st == CS_BINDING_IN_SYNC ? "in sync" :
						  st == CS_BINDING_DRIFTED ? "drifted" : "other",
						  detail ? ": " : "", detail ? detail : "");
			free(detail);
		}
		cs_material_free(&want);
	}
	if (apply) {
		struct cs_exec_summary sum;
		cs_execute(&sum, plan, obs, NULL, NULL);
		res.failed = sum.failed;
	}
out:
	res.shape = cs_buf_detach(&shape, NULL);
	res.text = cs_buf_detach(&text, NULL);
	cs_err_clear(&err);
	cs_plan_free(plan);
	cs_observed_free(obs);
	cs_store_close(store);
	cs_config_free(cfg);
	return res;
}

static char *read_text(const char *path)
{
	struct cs_buf b = CS_BUF_INIT;
	struct cs_err err = CS_ERR_INIT;
	if (cs_file_read(&b, path, 0, &err) < 0) {
		cs_err_clear(&err);
		cs_buf_free(&b);
		return NULL;
	}
	return cs_buf_detach(&b, NULL);
}

static bool has(const char *s, const char *part)
{
	return s && strstr(s, part);
}

int main(void)
{
	if (!mkdtemp(root))
		return 1;
	config_path = cs_xasprintf("%s/certsync.yaml", root);
	char *note = cs_xasprintf("%s/out/web.note", root);
	char *log = cs_xasprintf("%s/out/reload.log", root);
	sh("cd %s && mkdir -p pki out && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	   "-keyout pki/ca.key -out pki/ca.crt -subj '/CN=toy test CA' -days 3650 2>/dev/null && chmod 600 pki/ca.key",
	   root);

	/* Without the toy in the table the kind does not exist. */
	write_config("{ host: here, note: { path: out/web.note } }");
	char *d = validate();
	tap_ok(has(d, "11:23: unknown key \"note\" in binding 1 of certificate web"), "unknown without the table entry", "%s", d);
	free(d);

	const struct cs_binding_kind *table[16];
	size_t n = 0;
	for (const struct cs_binding_kind *const *k = cs_binding_kind_table(); *k && n < 14; k++)
		table[n++] = *k;
	table[n++] = &toy_kind;
	table[n] = NULL;
	cs_binding_kinds_use(table);

	/* validate: the kind's own parse, with FILE:LINE:COL diagnostics. */
	write_config("{ host: here, note: { path: out/web.note, reload: 'echo note >> out/reload.log' } }");
	d = validate();
	tap_str(d, "", "validate: a note binding is accepted");
	free(d);
	write_config("{ host: here, note: { pat: out/web.note } }");
	d = validate();
	tap_ok(has(d, "11:31: unknown key \"pat\" in note binding 1 of certificate web (did you mean \"path\"?)"),
	       "validate: the kind's keys, with line and column", "%s", d);
	free(d);
	write_config("{ host: here, note: { path: out/web.note }, files: { cert: out/web.note } }");
	d = validate();
	tap_ok(has(d, "write one binding for each"), "validate: one kind per binding, the toy among them", "%s", d);
	free(d);

	/* plan: renew, the toy's bind and its reload, with reasons. */
	write_config("{ host: here, note: { path: out/web.note, reload: 'echo note >> out/reload.log' } }");
	struct result r = run(false);
	tap_str(r.shape, "renew bind reload", "plan: renew, bind, reload");
	char *want = cs_xasprintf("bind web → here note: note %s | the certificate is being renewed\n", note);
	tap_ok(has(r.text, want), "plan: the kind describes itself", "%s", r.text ? r.text : "(no output)");
	free(want);
	tap_ok(has(r.text, "reload on here: echo note >> out/reload.log | files changed by #2 (web)"),
	       "plan: the kind's reload command, once, after its bind", "%s", r.text);
	result_free(&r);

	/* apply, then a clean plan and status in sync. */
	r = run(true);
	tap_int((long long)r.failed, 0, "apply: no failures");
	result_free(&r);
	char *got = read_text(note);
	tap_ok(got && strlen(got) == 65, "apply: the kind wrote its note", "%s", got ? got : "(none)");
	free(got);
	got = read_text(log);
	tap_str(got, "note\n", "apply: the reload ran once");
	free(got);
	r = run(false);
	tap_str(r.shape, "", "plan after apply: clean");
	tap_str(r.status, "in sync", "status: in sync");
	result_free(&r);

	/* Drift: the kind's diff gives the reason, status says drifted. */
	sh("echo other > %s", note);
	r = run(false);
	tap_str(r.shape, "bind reload", "drift: bind and reload again");
	want = cs_xasprintf("the note at %s names another certificate", note);
	tap_ok(has(r.text, want), "drift: the kind's reason", "%s", r.text);
	tap_ok(has(r.status, want), "status: drifted, with the kind's reason", "%s", r.status ? r.status : "(none)");
	free(want);
	result_free(&r);

	/* A failed reload puts the note back through the driver's undo. */
	write_config("{ host: here, note: { path: out/web.note, reload: 'exit 3' } }");
	r = run(true);
	tap_int((long long)r.failed, 2, "failed reload: the reload and the bind it undid failed");
	result_free(&r);
	got = read_text(note);
	tap_str(got, "other\n", "failed reload: the note is put back");
	free(got);

	cs_binding_kinds_use(NULL);
	sh("rm -rf %s", root);
	free(config_path);
	free(note);
	free(log);
	return tap_done();
}
