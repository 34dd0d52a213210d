/* Prints every script certsync would send with hostile values in every slot
 * a config or a host can fill, for tests/integration/test_hostile_scripts.sh:
 * the scripts go to independent parsers there (tree-sitter-powershell, bash
 * -n, dash -n) and the sh ones are run against stub commands.
 *
 *   hostile_scripts VALUES.json OUTDIR
 *
 * VALUES.json is a JSON array of strings.  For each value and each builder
 * one script is written to OUTDIR (NNNN-BUILDER.ps1 or .sh), made by the
 * builders certsync itself uses (windows.c, windows_scripts.c,
 * winrm_scripts.c, linux_batch.c, linux_script.c, linux_accounts.c,
 * ssh_commands.c, acme_challenge.c); nothing of a script is written here.
 * For every PowerShell builder there is also one script made with a
 * harmless value, the baseline the checker compares the syntax tree with.  OUTDIR/manifest.json says, per
 * script:
 *
 *   file, lang ("powershell" or "sh"), builder, value (index; -1 for a
 *   baseline), baseline (file of the same builder with the harmless value)
 *   refused: true when the builder refused the value (an argument name)
 *   literals: (powershell) the decoded string literals holding the value,
 *     one entry per literal the script should have
 *   run: (sh) "file" (sh FILE) or "stdin" (sh -s < FILE)
 *   calls: (sh) commands the script must run with exactly these arguments,
 *     [{"name": "sudo", "args": [...]}] (the stubs record every call)
 *   stdout: (sh) what the run must print, when that is known
 *
 * and "quoted": [{"value": i, "quoted": cs_sh_quote(value)}].
 * Exits 1 with a message when a builder fails otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "providers/issuer/acme_challenge.h"
#include "providers/platform/linux_accounts.h"
#include "providers/platform/linux_batch.h"
#include "providers/platform/linux_script.h"
#include "providers/platform/windows.h"
#include "providers/platform/windows_scripts.h"
#include "providers/transport/ssh_commands.h"
#include "providers/transport/winrm_scripts.h"
#include "providers/base/base64.h"
#include "providers/base/util.h"
#include "providers/base/quote.h"

#define BENIGN "certsync-harmless"

static const char *outdir;
static json_t *manifest;
static int n_files;

static void die(const char *what)
{
	fprintf(stderr, "hostile_scripts: %s\n", what);
	exit(1);
}

static json_t *jstr(const char *s)
{
	json_t *j = json_string(s);
	if (!j)
		die("a string is not valid UTF-8");
	return j;
}

/* One script: written to a file, described in the manifest.  The entry is
 * returned for the caller to add its checks to. */
static json_t *emit(const char *lang, const char *builder, int value, const char *text)
{
	char *name = cs_xasprintf("%04d-%s.%s", n_files++, builder, strcmp(lang, "sh") ? "ps1" : "sh");
	char *path = cs_xasprintf("%s/%s", outdir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(text, 1, strlen(text), f) != strlen(text) || fclose(f) != 0)
		die("cannot write a script");
	json_t *e = json_pack("{s:s, s:s, s:s, s:i}", "file", name, "lang", lang, "builder", builder, "value", value);
	json_array_append_new(manifest, e);
	free(path);
	free(name);
	return e;
}

static json_t *strv(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, jstr(v[i]));
	return a;
}

static void add_call(json_t *e, const char *name, const char *const *args, size_t n)
{
	json_t *calls = json_object_get(e, "calls");
	if (!calls) {
		calls = json_array();
		json_object_set_new(e, "calls", calls);
	}
	json_array_append_new(calls, json_pack("{s:s, s:o}", "name", name, "args", strv(args, n)));
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- PowerShell ---- */

/* Literals in cs_ps_frame's line: the script and the input, in base64. */
static json_t *frame_literals(const char *script, const char *input)
{
	char *a = cs_b64_encode(script, strlen(script), 0), *b = cs_b64_encode(input, strlen(input), 0);
	json_t *l = json_pack("[s, s]", a, b);
	free(a);
	free(b);
	return l;
}

static void ps(const char *builder, int value, const char *text, json_t *literals, const char *baseline)
{
	json_t *e = emit("powershell", builder, value, text);
	json_object_set_new(e, "literals", literals);
	if (baseline)
		json_object_set_new(e, "baseline", jstr(baseline));
}

/* The PowerShell builders for v; baseline names the files made for
 * BENIGN (NULL while making those), names collects the files made. */
static void powershell_cases(const char *v, int value, json_t *names, json_t *baselines)
{
	size_t k = 0;
#define BASE (baselines ? json_string_value(json_array_get(baselines, k)) : NULL)
#define DONE(b) (json_array_append_new(names, jstr(json_string_value(json_object_get( \
			json_array_get(manifest, json_array_size(manifest) - 1), "file")))), k++)
	struct cs_buf b = CS_BUF_INIT;

	/* The transport's file scripts: $Path. */
	static const struct { const char *name; const char *body; } files[] = {
		{ "ps_read_file", cs_ps_read_file }, { "ps_write_file", cs_ps_write_file },
		{ "ps_remove_file", cs_ps_remove_file }, { "ps_stat", cs_ps_stat },
	};
	for (size_t i = 0; i < N(files); i++) {
		char *s = cs_ps_with_path(v, files[i].body);
		ps(files[i].name, value, s, json_pack("[s]", v), BASE);
		DONE();
		free(s);
	}

	/* The stdin line over WinRM and SSH: a script with v in it, input v. */
	if (cs_win_import_script(&b, v, true) < 0)
		die("import script");
	char *script = cs_buf_detach(&b, NULL);
	if (cs_ps_frame(&b, script, v, strlen(v)) < 0)
		die("frame");
	ps("ps_frame", value, b.data, frame_literals(script, v), BASE);
	DONE();
	free(script);
	cs_buf_free(&b);

	if (cs_win_import_script(&b, v, false) < 0)
		die("import script");
	ps("win_import", value, b.data, json_pack("[s]", v), BASE);
	DONE();
	cs_buf_free(&b);

	char *thumbs[] = { (char *)v, (char *)v };
	if (cs_win_store_remove_script(&b, thumbs, 2) < 0)
		die("store remove script");
	ps("win_store_remove", value, b.data, json_pack("[s, s]", v, v), BASE);
	DONE();
	cs_buf_free(&b);

	/* IIS: site, ip and hostname from the config; the thumbprint (also one
	 * a host reported, put back by an undo). */
	struct cs_binding_cfg iis = { .kind = CS_BIND_IIS };
	iis.iis = (struct cs_bind_iis){ .site = (char *)v, .port = 443, .ip = (char *)v, .hostname = (char *)v,
					 .sni = true };
	char *info = cs_win_iis_info(&iis.iis);
	if (cs_win_bind_script(&b, &iis, v, NULL, NULL) < 0)
		die("iis script");
	ps("win_iis_set", value, b.data, json_pack("[s, s, s]", v, info, v), BASE);
	DONE();
	cs_buf_free(&b);
	struct cs_undo_bind undo = { .kind = CS_BIND_IIS, .cfg = &iis };
	if (cs_win_undo_script(&b, &undo) < 0)
		die("iis undo script");
	ps("win_iis_remove", value, b.data, json_pack("[s, s]", v, info), BASE);
	DONE();
	cs_buf_free(&b);
	undo.prev_hash = (char *)v;
	if (cs_win_undo_script(&b, &undo) < 0)
		die("iis undo script");
	ps("win_iis_undo_prev", value, b.data, json_pack("[s, s, s]", v, info, v), BASE);
	DONE();
	cs_buf_free(&b);
	free(info);

	/* http.sys: the endpoint from the config, the appid from netsh's
	 * answer (the host's text). */
	for (int host = 0; host < 2; host++) {
		struct cs_binding_cfg h = { .kind = CS_BIND_HTTPSYS };
		if (host)
			h.httpsys.hostnameport = (char *)v;
		else
			h.httpsys.ipport = (char *)v;
		if (cs_win_bind_script(&b, &h, v, v, NULL) < 0)
			die("httpsys script");
		ps(host ? "win_httpsys_set_hostnameport" : "win_httpsys_set_ipport", value, b.data,
		   json_pack("[s, s, s]", v, v, v), BASE);
		DONE();
		cs_buf_free(&b);
		struct cs_undo_bind u = { .kind = CS_BIND_HTTPSYS, .cfg = &h };
		if (cs_win_undo_script(&b, &u) < 0)
			die("httpsys undo script");
		ps(host ? "win_httpsys_remove_hostnameport" : "win_httpsys_remove_ipport", value, b.data,
		   json_pack("[s]", v), BASE);
		DONE();
		cs_buf_free(&b);
	}

	/* Exchange: services are a closed set the config checks; the
	 * thumbprint is the value. */
	struct cs_binding_cfg ex = { .kind = CS_BIND_EXCHANGE };
	ex.exchange.services = CS_EXCH_POP | CS_EXCH_IMAP | CS_EXCH_SMTP | CS_EXCH_IIS;
	if (cs_win_bind_script(&b, &ex, v, NULL, NULL) < 0)
		die("exchange script");
	ps("win_exchange_set", value, b.data, json_pack("[s]", v), BASE);
	DONE();
	cs_buf_free(&b);
	struct cs_undo_bind eu = { .kind = CS_BIND_EXCHANGE, .cfg = &ex, .prev_hash = (char *)v,
				   .services = CS_EXCH_SMTP };
	if (cs_win_undo_script(&b, &eu) < 0)
		die("exchange undo script");
	ps("win_exchange_undo_prev", value, b.data, json_pack("[s]", v), BASE);
	DONE();
	cs_buf_free(&b);

	struct cs_binding_cfg rdp = { .kind = CS_BIND_RDP };
	if (cs_win_bind_script(&b, &rdp, v, NULL, NULL) < 0)
		die("rdp script");
	ps("win_rdp_set", value, b.data, json_pack("[s]", v), BASE);
	DONE();
	cs_buf_free(&b);

	/* A script binding: the script's text and the args' values.  (No
	 * digit in the names: tree-sitter-powershell 0.26.4 takes "-Other2"
	 * for "-Other" and a "2>" redirection, where PowerShell takes a
	 * parameter named Other2.) */
	struct cs_script_arg args[] = { { "Name", (char *)v }, { "Other_x", (char *)v } };
	struct cs_binding_cfg sb = { .kind = CS_BIND_SCRIPT };
	sb.script = (struct cs_bind_script){ .path = "/x/script.ps1", .args = args, .n_args = 2 };
	if (cs_win_bind_script(&b, &sb, v, NULL, v) < 0)
		die("script binding script");
	ps("win_script", value, b.data, json_pack("[s, s, s, s]", v, v, v, v), BASE);
	DONE();
	cs_buf_free(&b);
#undef BASE
#undef DONE
}

/* A hostile argument name is refused, never written. */
static void refused_names(const char *v, int value)
{
	if (cs_win_identifier(v))
		return;
	struct cs_buf b = CS_BUF_INIT;
	struct cs_script_arg args[] = { { (char *)v, "x" } };
	struct cs_binding_cfg sb = { .kind = CS_BIND_SCRIPT };
	sb.script = (struct cs_bind_script){ .path = "/x/script.ps1", .args = args, .n_args = 1 };
	int r = cs_win_bind_script(&b, &sb, "AB", NULL, "exit 0");
	cs_buf_free(&b);
	json_t *e = json_pack("{s:s, s:s, s:i, s:b}", "builder", "win_script_arg_name", "lang", "powershell",
			      "value", value, "refused", r == -EINVAL);
	json_array_append_new(manifest, e);

	struct cs_material m = { 0 };
	r = cs_linux_script_render(&b, &sb.script, "h", "exit 0\n", 7, &m);
	cs_buf_free(&b);
	e = json_pack("{s:s, s:s, s:i, s:b}", "builder", "linux_script_arg_name", "lang", "sh", "value", value,
		      "refused", r == -EINVAL);
	json_array_append_new(manifest, e);
}

/* ---- sh ---- */

/* The user script of a script binding: records how it was called, as the
 * stubs do (see test_hostile_scripts.sh). */
static const char user_script[] =
	"set -- \"$CERTSYNC_HOST\" \"$@\"\n"
	"{ printf '%s\\0' \"$#\" user-script; for a in \"$@\"; do printf '%s\\0' \"$a\"; done; } >>\"$CS_HOSTILE_LOG\"\n";

static json_t *sh(const char *builder, int value, const char *text, const char *run, const char *baseline)
{
	json_t *e = emit("sh", builder, value, text);
	json_object_set_new(e, "run", jstr(run));
	if (baseline)
		json_object_set_new(e, "baseline", jstr(baseline));
	return e;
}

static void sh_cases(const char *v, int value)
{
	struct cs_buf b = CS_BUF_INIT;
	char *p1 = cs_xasprintf("/nonexistent-certsync/%s", v), *p2 = cs_xasprintf("/nonexistent-certsync/x%sy", v);
	const char *paths[] = { p1, p2 };

	/* The observing batch: stat (a stub saying "no such file") gets
	 * each path, so both are missing. */
	if (cs_linux_batch_script(&b, paths, 2, 65536) < 0)
		die("batch script");
	char *batch = cs_buf_detach(&b, NULL);
	json_t *e = sh("linux_batch", value, batch, "file", NULL);
	json_object_set_new(e, "stdout", jstr("M 0\nM 1\nEND\n"));
	const char *st1[] = { "-L", "-c", "%a %u %g %s %U %G", "--", p1 };
	const char *st2[] = { "-L", "-c", "%a %u %g %s %U %G", "--", p2 };
	add_call(e, "stat", st1, N(st1));
	add_call(e, "stat", st2, N(st2));

	/* The observing script of a host (folders and files in one stat when
	 * they are all there, the two scripts' way otherwise: here, as
	 * nothing is there).  Its folder is a hostile name too. */
	char *d1 = cs_xasprintf("/nonexistent-certsync/d%s", v);
	const char *dirs[] = { d1 };
	if (cs_linux_observe_script(&b, dirs, 1, paths, 2, 65536) < 0)
		die("observe script");
	e = sh("linux_observe", value, b.data, "file", NULL);
	add_call(e, "stat", st1, N(st1));
	add_call(e, "stat", st2, N(st2));
	cs_buf_free(&b);
	free(d1);

	/* The same through become: sudo. */
	char *w = cs_ssh_cmd_sudo_wrap(batch);
	e = sh("ssh_sudo_wrap_batch", value, w, "file", NULL);
	json_object_set_new(e, "stdout", jstr("M 0\nM 1\nEND\n"));
	const char *wa[] = { "-n", "sh", "-c", batch };
	add_call(e, "sudo", wa, N(wa));
	add_call(e, "stat", st1, N(st1));
	add_call(e, "stat", st2, N(st2));
	free(w);
	free(batch);

	char *qv = cs_sh_quote(v);
	char *inner = cs_xasprintf("printf %%s %s", qv);
	w = cs_ssh_cmd_sudo_wrap(inner);
	e = sh("ssh_sudo_wrap", value, w, "file", NULL);
	json_object_set_new(e, "stdout", jstr(v));
	const char *wi[] = { "-n", "sh", "-c", inner };
	add_call(e, "sudo", wi, N(wi));
	free(w);
	free(inner);
	free(qv);

	/* A script binding: host name and args' values. */
	struct cs_script_arg args[] = { { "name", (char *)v }, { "other-2", (char *)v } };
	struct cs_bind_script sb = { .path = "/x/script.sh", .args = args, .n_args = 2 };
	struct cs_material m = { 0 };
	cs_buf_puts(&m.key_pem, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
	cs_buf_puts(&m.cert_pem, "-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n");
	m.info.serial = "1F";
	memcpy(m.info.sha1, "AB", 3);
	memcpy(m.info.sha256, "CD", 3);
	if (cs_linux_script_render(&b, &sb, v, user_script, strlen(user_script), &m) < 0)
		die("script render");
	e = sh("linux_script", value, b.data, "stdin", NULL);
	const char *ua[] = { v, "--name", v, "--other-2", v };
	add_call(e, "user-script", ua, N(ua));
	cs_buf_free(&b);
	cs_buf_free(&m.key_pem);
	cs_buf_free(&m.cert_pem);

	/* The account check: owner and group from the config. */
	const char *names[] = { v };
	if (cs_linux_accounts_script(&b, names, 1, names, 1) < 0)
		die("accounts script");
	e = sh("linux_accounts", value, b.data, "file", NULL);
	const char *gp[] = { "passwd", v }, *gg[] = { "group", v };
	add_call(e, "getent", gp, 2);
	add_call(e, "getent", gg, 2);
	cs_buf_free(&b);

	/* The SSH transport's helpers. */
	char *c = cs_ssh_cmd_rm_dir(p1);
	e = sh("ssh_rm_dir", value, c, "file", NULL);
	const char *ra[] = { "-rf", "--", p1 };
	add_call(e, "rm", ra, N(ra));
	free(c);

	c = cs_ssh_cmd_sudo_cat(p1);
	e = sh("ssh_sudo_cat", value, c, "file", NULL);
	const char *ca[] = { "-n", "cat", "--", p1 };
	add_call(e, "sudo", ca, N(ca));
	free(c);

	c = cs_ssh_cmd_sudo_rm(p1);
	e = sh("ssh_sudo_rm", value, c, "file", NULL);
	const char *rr[] = { "-n", "rm", "-f", "--", p1 };
	add_call(e, "sudo", rr, N(rr));
	free(c);

	c = cs_ssh_cmd_sudo_stat(p1);
	e = sh("ssh_sudo_stat", value, c, "file", NULL);
	const char *sa[] = { "-n", "stat", "-L", "-c", "%a %u %g %s %U %G", "--", p1 };
	add_call(e, "sudo", sa, N(sa));
	free(c);

	char *spec = cs_xasprintf("%s:%s", v, v);
	c = cs_ssh_cmd_chown_mv(v, false, v, false, p2, p1, 0640);
	e = sh("ssh_chown_mv", value, c, "file", NULL);
	const char *co[] = { "--", spec, p2 }, *mv[] = { "-f", "--", p2, p1 };
	add_call(e, "chown", co, N(co));
	add_call(e, "mv", mv, N(mv));
	free(c);
	free(spec);

	/* Owner and group kept only where the login user may. */
	char *soft_group = cs_xasprintf(":%s", v);
	c = cs_ssh_cmd_chown_mv(v, true, v, true, p2, p1, 0640);
	e = sh("ssh_chown_soft_mv", value, c, "file", NULL);
	const char *so[] = { "--", v, p2 }, *sg[] = { "--", soft_group, p2 };
	add_call(e, "chown", so, N(so));
	add_call(e, "chown", sg, N(sg));
	add_call(e, "mv", mv, N(mv));
	free(c);
	free(soft_group);

	c = cs_ssh_cmd_mv(p2, p1, 0600);
	e = sh("ssh_mv", value, c, "file", NULL);
	add_call(e, "mv", mv, N(mv));
	free(c);

	/* http-01 webroot: the challenge folder under the configured root. */
	char *wr = cs_xasprintf("/nonexistent-webroot/%s/.well-known/acme-challenge", v);
	c = cs_acme_webroot_mkdir_command(wr);
	e = sh("acme_webroot_mkdir", value, c, "file", NULL);
	const char *md[] = { "-p", "-m", "0755", "--", wr };
	add_call(e, "mkdir", md, N(md));
	free(c);
	free(wr);

	char *up = cs_xasprintf("/nonexistent-upload/%s", v);
	c = cs_ssh_cmd_sudo_install(up, p2, p1, 0640, v, v);
	e = sh("ssh_sudo_install", value, c, "file", NULL);
	const char *in[] = { "-n", "install", "-m", "0640", "-o", v, "-g", v, "--", up, p2 };
	const char *sy[] = { "-n", "sync", "--", p2 };
	const char *sm[] = { "-n", "mv", "-f", "--", p2, p1 };
	const char *rm[] = { "-f", "--", up };
	add_call(e, "sudo", in, N(in));
	add_call(e, "sudo", sy, N(sy));
	add_call(e, "sudo", sm, N(sm));
	add_call(e, "rm", rm, N(rm));
	free(c);
	free(up);

	free(p1);
	free(p2);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		die("usage: hostile_scripts VALUES.json OUTDIR");
	outdir = argv[2];
	json_error_t jerr;
	json_t *values = json_load_file(argv[1], JSON_ALLOW_NUL, &jerr);
	if (!json_is_array(values))
		die("VALUES.json is not a JSON array");
	manifest = json_array();
	json_t *quoted = json_array();

	/* Baselines first: the harmless value through every builder. */
	json_t *ps_base = json_array();
	powershell_cases(BENIGN, -1, ps_base, NULL);

	for (size_t i = 0; i < json_array_size(values); i++) {
		json_t *jv = json_array_get(values, i);
		const char *v = json_string_value(jv);
		if (!v)
			die("a value is not a string");
		if (strlen(v) != json_string_length(jv))
			die("a value holds NUL: C strings cannot (config refuses it, see the test)");
		json_t *names = json_array();
		powershell_cases(v, (int)i, names, ps_base);
		json_decref(names);
		refused_names(v, (int)i);
		sh_cases(v, (int)i);
		char *q = cs_sh_quote(v);
		json_array_append_new(quoted, json_pack("{s:i, s:s}", "value", (int)i, "quoted", q));
		free(q);
	}

	json_t *top = json_pack("{s:o, s:o, s:O}", "scripts", manifest, "quoted", quoted, "values", values);
	char *path = cs_xasprintf("%s/manifest.json", outdir);
	if (json_dump_file(top, path, JSON_INDENT(1)) != 0)
		die("cannot write manifest.json");
	free(path);
	json_decref(top);
	json_decref(ps_base);
	json_decref(values);
	return 0;
}
