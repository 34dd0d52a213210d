/* Windows platform driver without a host: the diff table (inventory JSON as
 * the inventory script prints it → observation → diff reason or error), the
 * import decision, and every script the driver can send, rendered for a
 * fixed example and held against tests/golden/windows/ (regenerate with
 * CERTSYNC_UPDATE_GOLDEN=1; review the diff). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "providers/platform/windows.h"
#include "providers/platform/windows_scripts.h"
#include "providers/base/util.h"
#include "tests/unit/tap.h"

#define GOLDEN CS_SOURCE_ROOT "/tests/golden/windows"
#define OLD "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

static char dir[] = "/tmp/certsync-test-windows-XXXXXX";

/* ---- golden files ---- */

static void golden(const char *name, const struct cs_buf *got)
{
	char *path = cs_xasprintf("%s/%s", GOLDEN, name);
	char *label = cs_xasprintf("golden: %s", name);
	struct cs_err err = CS_ERR_INIT;
	if (getenv("CERTSYNC_UPDATE_GOLDEN")) {
		int r = cs_file_write_atomic(path, got->data, got->len, 0644, (uid_t)-1, (gid_t)-1, &err);
		tap_ok(r == 0, label, "write: %s", cs_err_msg(&err));
	} else {
		struct cs_buf want = CS_BUF_INIT;
		if (cs_file_read(&want, path, 0, &err) < 0)
			tap_ok(false, label, "%s (CERTSYNC_UPDATE_GOLDEN=1 writes it)", cs_err_msg(&err));
		else
			tap_str(got->data ? got->data : "", want.data ? want.data : "", label);
		cs_buf_free(&want);
	}
	cs_err_clear(&err);
	free(path);
	free(label);
}

static void test_golden(void)
{
	const char *thumb = "0123456789ABCDEF0123456789ABCDEF01234567";
	struct cs_buf b = CS_BUF_INIT;
	struct cs_binding_cfg iis = { .kind = CS_BIND_IIS, .host = "sapphire",
		.iis = { .site = "Default Web Site", .port = 443, .hostname = "mail.example.org", .sni = true } };
	struct cs_binding_cfg hostile = { .kind = CS_BIND_IIS, .host = "sapphire",
		.iis = { .site = "it's $(Remove-Item C:\\ -Recurse) `n\"x\"\n‘q’", .port = 8443 } };
	struct cs_binding_cfg http = { .kind = CS_BIND_HTTPSYS, .host = "sapphire",
		.httpsys = { .ipport = "0.0.0.0:443" } };
	struct cs_binding_cfg exch = { .kind = CS_BIND_EXCHANGE, .host = "sapphire",
		.exchange = { .services = CS_EXCH_POP | CS_EXCH_IMAP } };
	struct cs_binding_cfg rdp = { .kind = CS_BIND_RDP, .host = "sapphire" };
	struct cs_script_arg args[] = { { "Listener", "OWA" } };
	struct cs_binding_cfg script = { .kind = CS_BIND_SCRIPT, .host = "cobalt",
		.script = { .path = "/x/tmg-listener.ps1", .args = args, .n_args = 1 } };

	struct { const char *name; const char *raw; } raw[] = {
		{ "inventory.ps1", cs_win_inventory },
		{ "discover.ps1", cs_win_discover },
		{ "boot_time.ps1", cs_win_boot_time },
		{ "reboot.ps1", cs_win_reboot },
	};
	for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
		cs_buf_reset(&b);
		cs_buf_puts(&b, raw[i].raw);
		golden(raw[i].name, &b);
	}
	cs_buf_reset(&b);
	tap_int(cs_win_import_script(&b, thumb, true), 0, "render import");
	golden("import.ps1", &b);
	cs_buf_reset(&b);
	tap_int(cs_win_export_script(&b, thumb), 0, "render export");
	golden("export.ps1", &b);
	cs_buf_reset(&b);
	tap_int(cs_win_bind_script(&b, &iis, thumb, NULL, NULL), 0, "render iis");
	golden("iis_set.ps1", &b);
	cs_buf_reset(&b);
	tap_int(cs_win_bind_script(&b, &hostile, thumb, NULL, NULL), 0, "render iis, hostile site name");
	golden("iis_set_hostile_site.ps1", &b);
	cs_buf_reset(&b);
	struct cs_undo_bind u = { .kind = CS_BIND_IIS, .cfg = &iis };
	tap_int(cs_win_undo_script(&b, &u), 0, "render iis undo (binding was new)");
	golden("iis_remove.ps1", &b);
	cs_buf_reset(&b);
	tap_int(cs_win_bind_script(&b, &http, thumb, "{4dc3e181-e14b-4a21-b022-59fc669b0914}", NULL), 0,
		"render httpsys");
	golden("httpsys_set.ps1", &b);
	cs_buf_reset(&b);
	struct cs_undo_bind uh = { .kind = CS_BIND_HTTPSYS, .cfg = &http };
	tap_int(cs_win_undo_script(&b, &uh), 0, "render httpsys undo (entry was new)");
	golden("httpsys_remove.ps1", &b);
	cs_buf_reset(&b);
	tap_int(cs_win_bind_script(&b, &exch, thumb, NULL, NULL), 0, "render exchange");
	golden("exchange_set.ps1", &b);
	cs_buf_reset(&b);
	tap_int(cs_win_bind_script(&b, &rdp, thumb, NULL, NULL), 0, "render rdp");
	golden("rdp_set.ps1", &b);
	cs_buf_reset(&b);
	tap_int(cs_win_bind_script(&b, &script, thumb, NULL, "Write-Output \"listener $Listener\"\n"), 0,
		"render script");
	golden("script_run.ps1", &b);
	cs_buf_reset(&b);
	char *thumbs[] = { OLD, "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" };
	tap_int(cs_win_store_remove_script(&b, thumbs, 2), 0, "render store cleanup");
	golden("store_remove.ps1", &b);

	/* Argument names reach the text bare: anything else is refused. */
	struct cs_script_arg bad[] = { { "x; Remove-Item C:\\", "v" } };
	struct cs_binding_cfg evil = script;
	evil.script.args = bad;
	cs_buf_reset(&b);
	tap_int(cs_win_bind_script(&b, &evil, thumb, NULL, ""), -EINVAL, "script arg name not an identifier: refused");
	struct cs_script_arg taken[] = { { "Thumbprint", "v" } };
	evil.script.args = taken;
	cs_buf_reset(&b);
	tap_int(cs_win_bind_script(&b, &evil, thumb, NULL, ""), -EINVAL, "script arg named Thumbprint: refused");
	cs_buf_free(&b);
}

/* ---- diff table ---- */

static struct cs_material want;
static char T[41];

/* Inventory JSON with $T standing for the wanted thumbprint. */
static char *inv(const char *tmpl)
{
	struct cs_buf b = CS_BUF_INIT;
	for (const char *p = tmpl; *p; p++) {
		if (p[0] == '$' && p[1] == 'T') {
			cs_buf_puts(&b, T);
			p++;
		} else {
			cs_buf_append(&b, p, 1);
		}
	}
	return cs_buf_detach(&b, NULL);
}

#define STORE_T "\"store\":[{\"thumbprint\":\"$T\",\"subject\":\"CN=mail.example.org\",\"has_key\":true}]"
#define STORE_T_OLD "\"store\":[{\"thumbprint\":\"$T\",\"subject\":\"CN=mail.example.org\",\"has_key\":true}," \
	"{\"thumbprint\":\"" OLD "\",\"subject\":\"CN=mail.example.org\",\"has_key\":true}]"
#define NETSH_T "\"sslcert\":\"\\nSSL Certificate bindings:\\n\\n    Hostname:port                : mail.example.org:443\\n" \
	"    Certificate Hash             : $T\\n    Application ID               : {4dc3e181-e14b-4a21-b022-59fc669b0914}\\n\""

struct diff_case {
	const char *name;
	struct cs_binding_cfg b;
	const char *json;
	int want_diff;          /* 1, 0, or -1: an observation error */
	const char *want;       /* reason or error, $T replaced */
};

static void test_diff(void)
{
	struct cs_cert_cfg cert = { .name = "mail", .common_name = "mail.example.org" };
	struct cs_bind_iis site = { .site = "Default Web Site", .port = 443 };
	const struct diff_case cases[] = {
		{ "store: thumbprint missing in store", { .kind = CS_BIND_STORE },
		  "{\"store\":[]}", 1, "LocalMachine\\My lacks certificate $T" },
		{ "store: present with its key", { .kind = CS_BIND_STORE }, "{" STORE_T "}", 0, "" },
		{ "store: present without its key", { .kind = CS_BIND_STORE },
		  "{\"store\":{\"thumbprint\":\"$T\",\"subject\":\"CN=mail.example.org\",\"has_key\":false}}", 1,
		  "LocalMachine\\My lacks certificate $T" },
		{ "store cleanup: superseded certificate bound nowhere", { .kind = CS_BIND_STORE, .store = { .cleanup = true } },
		  "{" STORE_T_OLD "}", 1, "superseded certificate " OLD " is still in LocalMachine\\My (cleanup)" },
		{ "store cleanup: superseded but still bound to IIS is kept", { .kind = CS_BIND_STORE, .store = { .cleanup = true } },
		  "{" STORE_T_OLD ",\"sites\":[\"Default Web Site\"],\"iis\":[{\"site\":\"Default Web Site\",\"info\":\"*:443:\",\"hash\":\"" OLD "\"}]}",
		  0, "" },
		/* Exchange uses certificates for services certsync does not
		 * bind (UM, Federation): still in use, never removed. */
		{ "store cleanup: superseded but assigned to Exchange UM is kept", { .kind = CS_BIND_STORE, .store = { .cleanup = true } },
		  "{" STORE_T_OLD ",\"exchange\":[{\"thumbprint\":\"" OLD "\",\"services\":\"UM\"}]}", 0, "" },
		{ "store cleanup: Exchange certificate with services None is not in use", { .kind = CS_BIND_STORE, .store = { .cleanup = true } },
		  "{" STORE_T_OLD ",\"exchange\":[{\"thumbprint\":\"" OLD "\",\"services\":\"None\"}]}", 1,
		  "superseded certificate " OLD " is still in LocalMachine\\My (cleanup)" },
		/* Same name but expiring after the new one: not a version it
		 * replaced (one installed by hand, a longer commercial one). */
		{ "store cleanup: same subject expiring after the new certificate is kept", { .kind = CS_BIND_STORE, .store = { .cleanup = true } },
		  "{\"store\":[{\"thumbprint\":\"$T\",\"subject\":\"CN=mail.example.org\",\"has_key\":true},"
		  "{\"thumbprint\":\"" OLD "\",\"subject\":\"CN=mail.example.org\",\"not_after\":\"2999-01-01T00:00:00.0000000Z\",\"has_key\":true}]}", 0, "" },
		{ "store cleanup: same subject expiring before the new certificate goes", { .kind = CS_BIND_STORE, .store = { .cleanup = true } },
		  "{\"store\":[{\"thumbprint\":\"$T\",\"subject\":\"CN=mail.example.org\",\"has_key\":true},"
		  "{\"thumbprint\":\"" OLD "\",\"subject\":\"CN=mail.example.org\",\"not_after\":\"2001-01-01T00:00:00.0000000Z\",\"has_key\":true}]}", 1,
		  "superseded certificate " OLD " is still in LocalMachine\\My (cleanup)" },
		{ "store cleanup: other subject is not of the lineage", { .kind = CS_BIND_STORE, .store = { .cleanup = true } },
		  "{\"store\":[{\"thumbprint\":\"$T\",\"subject\":\"CN=mail.example.org\",\"has_key\":true},"
		  "{\"thumbprint\":\"" OLD "\",\"subject\":\"CN=mail.example.org.evil\",\"has_key\":true}]}", 0, "" },
		{ "iis: bound to another hash", { .kind = CS_BIND_IIS, .iis = site },
		  "{" STORE_T ",\"sites\":[\"Default Web Site\"],\"iis\":[{\"site\":\"Default Web Site\",\"info\":\"*:443:\",\"hash\":\"" OLD "\"}]}",
		  1, "site Default Web Site https *:443: is bound to " OLD ", not $T" },
		{ "iis: bound to the thumbprint (case-insensitive)", { .kind = CS_BIND_IIS, .iis = site },
		  "{" STORE_T ",\"sites\":[\"default web site\"],\"iis\":{\"site\":\"Default Web Site\",\"info\":\"*:443:\",\"hash\":\"$T\"}}",
		  0, "" },
		{ "iis: no https binding yet", { .kind = CS_BIND_IIS, .iis = site },
		  "{" STORE_T ",\"sites\":[\"Default Web Site\"],\"iis\":[]}", 1,
		  "site Default Web Site has no https binding *:443:" },
		{ "iis: wrong site name", { .kind = CS_BIND_IIS, .iis = site },
		  "{" STORE_T ",\"sites\":[\"Intranet\",\"OWA\"],\"iis\":[]}", -1,
		  "IIS site 'Default Web Site' does not exist (sites: 'Intranet', 'OWA')" },
		{ "iis: not installed", { .kind = CS_BIND_IIS, .iis = site },
		  "{" STORE_T ",\"sites\":null,\"iis\":null}", -1, "IIS is not installed (no IISAdministration module)" },
		{ "httpsys: hostnameport has the thumbprint", { .kind = CS_BIND_HTTPSYS, .httpsys = { .hostnameport = "mail.example.org:443" } },
		  "{" STORE_T "," NETSH_T "}", 0, "" },
		{ "httpsys: ipport entry missing", { .kind = CS_BIND_HTTPSYS, .httpsys = { .ipport = "0.0.0.0:443" } },
		  "{" STORE_T "," NETSH_T "}", 1, "http.sys has no sslcert ipport=0.0.0.0:443" },
		{ "exchange: IMAP has no certificate", { .kind = CS_BIND_EXCHANGE, .exchange = { CS_EXCH_POP | CS_EXCH_IMAP } },
		  "{" STORE_T ",\"exchange\":[{\"thumbprint\":\"$T\",\"services\":\"POP, SMTP\"}]}", 1,
		  "Exchange IMAP has no certificate assigned" },
		{ "exchange: POP on another certificate", { .kind = CS_BIND_EXCHANGE, .exchange = { CS_EXCH_POP | CS_EXCH_IMAP } },
		  "{" STORE_T ",\"exchange\":[{\"thumbprint\":\"$T\",\"services\":\"IMAP\"},{\"thumbprint\":\"" OLD "\",\"services\":\"POP, IIS\"}]}",
		  1, "Exchange POP uses " OLD ", not $T" },
		{ "exchange: both on the thumbprint", { .kind = CS_BIND_EXCHANGE, .exchange = { CS_EXCH_POP | CS_EXCH_IMAP } },
		  "{" STORE_T ",\"exchange\":{\"thumbprint\":\"$T\",\"services\":\"IMAP, POP, IIS, SMTP\"}}", 0, "" },
		{ "exchange: not installed", { .kind = CS_BIND_EXCHANGE, .exchange = { CS_EXCH_POP } },
		  "{" STORE_T ",\"exchange\":null}", -1, "Exchange is not installed (no Exchange management snap-in)" },
		{ "rdp: hash differs", { .kind = CS_BIND_RDP }, "{" STORE_T ",\"rdp\":\"" OLD "\"}", 1,
		  "RDP-Tcp uses " OLD ", not $T" },
		{ "rdp: hash matches", { .kind = CS_BIND_RDP }, "{" STORE_T ",\"rdp\":\"$T\"}", 0, "" },
		{ "rdp: cannot be read", { .kind = CS_BIND_RDP }, "{" STORE_T ",\"rdp\":null}", -1,
		  "the RDP-Tcp listener's settings cannot be read" },
		/* The host cannot say what a script did: having the certificate
		 * in the store proves nothing (the script may have failed). */
		{ "script: certificate in the store, script never ran", { .kind = CS_BIND_SCRIPT }, "{" STORE_T "}", 1,
		  "the script has not run for certificate $T" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct diff_case *c = &cases[i];
		char *json = inv(c->json), *expect = inv(c->want);
		struct cs_host_state *st = NULL;
		struct cs_err err = CS_ERR_INIT;
		struct cs_binding_obs obs;
		memset(&obs, 0, sizeof obs);
		struct cs_buf why = CS_BUF_INIT;
		if (cs_win_parse_inventory(&st, json, strlen(json), &err) < 0) {
			tap_ok(false, c->name, "inventory: %s", cs_err_msg(&err));
		} else {
			cs_platform_windows.observe_in(st, &cert, &c->b, &obs);
			if (c->want_diff < 0) {
				tap_str(obs.error ? obs.error : "(no error)", expect, c->name);
			} else if (obs.error) {
				tap_ok(false, c->name, "unexpected error: %s", obs.error);
			} else {
				int d = cs_platform_windows.diff(&c->b, &obs, &want, &why);
				char *got = cs_xasprintf("%d %s", d, why.data ? why.data : "");
				char *exp = cs_xasprintf("%d %s", c->want_diff, expect);
				tap_str(got, exp, c->name);
				free(got);
				free(exp);
			}
		}
		cs_platform_windows.host_free(st);
		cs_binding_obs_free(&obs);
		cs_buf_free(&why);
		cs_err_clear(&err);
		free(json);
		free(expect);
	}

	/* Import: due when the store lacks the thumbprint or its key. */
	struct cs_host_cfg host = { .name = "sapphire" };
	const struct { const char *name, *json; int due; const char *why; } imports[] = {
		{ "import: host lacks the certificate", "{\"store\":[]}", 1, "host sapphire lacks certificate $T" },
		{ "import: host has it without key",
		  "{\"store\":[{\"thumbprint\":\"$T\",\"subject\":\"CN=x\",\"has_key\":false}]}", 1,
		  "host sapphire has certificate $T without its private key" },
		{ "import: host has it", "{" STORE_T "}", 0, "" },
	};
	for (size_t i = 0; i < sizeof imports / sizeof imports[0]; i++) {
		char *json = inv(imports[i].json), *expect = inv(imports[i].why);
		struct cs_host_state *st = NULL;
		struct cs_err err = CS_ERR_INIT;
		struct cs_buf why = CS_BUF_INIT;
		if (cs_win_parse_inventory(&st, json, strlen(json), &err) == 0) {
			int d = cs_platform_windows.import_needed(st, &host, &want, &why);
			char *got = cs_xasprintf("%d %s", d, why.data ? why.data : "");
			char *exp = cs_xasprintf("%d %s", imports[i].due, expect);
			tap_str(got, exp, imports[i].name);
			free(got);
			free(exp);
		} else {
			tap_ok(false, imports[i].name, "%s", cs_err_msg(&err));
		}
		cs_platform_windows.host_free(st);
		cs_buf_free(&why);
		cs_err_clear(&err);
		free(json);
		free(expect);
	}
	struct cs_host_state *st = NULL;
	struct cs_err err = CS_ERR_INIT;
	tap_int(cs_win_parse_inventory(&st, "garbage", 7, &err), -EPROTO, "inventory without JSON: refused");
	tap_str(cs_err_msg(&err), "inventory: no JSON in the output", "inventory without JSON: message");
	cs_err_clear(&err);

	/* What a host reports goes back into later scripts (cleanup, undo):
	 * a hash or appid that is not well formed is refused, not quoted. */
	const struct { const char *name, *json, *msg; } hostile[] = {
		{ "inventory: a store thumbprint '*' is refused",
		  "{\"store\":[{\"thumbprint\":\"*\",\"subject\":\"CN=x\",\"has_key\":true}]}",
		  "inventory: the host reported a store thumbprint that is not well formed (\"*\")" },
		{ "inventory: a short store thumbprint is refused",
		  "{\"store\":[{\"thumbprint\":\"AB12\",\"subject\":\"CN=x\",\"has_key\":true}]}",
		  "inventory: the host reported a store thumbprint that is not well formed (\"AB12\")" },
		{ "inventory: an http.sys appid with a quote is refused",
		  "{\"store\":[],\"sslcert\":\"    IP:port   : 0.0.0.0:443\\n    Certificate Hash : $T\\n"
		  "    Application ID : {4dc3e181-e14b-4a21-b022-59fc669b0914}\\\" x=\\n\"}",
		  "inventory: the host reported an http.sys application id that is not well formed "
		  "(\"{4dc3e181-e14b-4a21-b022-59fc669b0914}\" x=\")" },
		{ "inventory: an RDP hash with a wildcard is refused", "{\"store\":[],\"rdp\":\"AB*\"}",
		  "inventory: the host reported an RDP certificate hash that is not well formed (\"AB*\")" },
	};
	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		char *json = inv(hostile[i].json);
		st = NULL;
		tap_int(cs_win_parse_inventory(&st, json, strlen(json), &err), -EPROTO, hostile[i].name);
		tap_str(cs_err_msg(&err), hostile[i].msg, hostile[i].name);
		cs_err_clear(&err);
		cs_platform_windows.host_free(st);
		free(json);
	}
	/* A well-formed appid (braces and all) still passes. */
	char *good = inv("{\"store\":[],\"sslcert\":\"    IP:port   : 0.0.0.0:443\\n    Certificate Hash : $T\\n"
			 "    Application ID : {4dc3e181-e14b-4a21-b022-59fc669b0914}\\n\"}");
	st = NULL;
	tap_int(cs_win_parse_inventory(&st, good, strlen(good), &err), 0, "inventory: a GUID appid is accepted");
	cs_err_clear(&err);
	cs_platform_windows.host_free(st);
	free(good);
}

/* Script runs as the state folder remembers them (observe.c fills
 * script_ran): the same on every platform. */
static void test_script_diff(void)
{
	struct cs_binding_obs ran = { .script_ran = T, .script_ran_at = 1795000000 };
	struct cs_buf why = CS_BUF_INIT;
	tap_ok(cs_script_diff(&ran, &want, &why) == 0 && why.len == 0, "script: ran for this certificate",
	       "%s", why.data ? why.data : "");
	ran.script_ran = OLD;
	int d = cs_script_diff(&ran, &want, &why);
	char *expect = inv("the script last ran for certificate " OLD " (2026-11-18), not $T");
	tap_ok(d == 1, "script: ran for the previous certificate: due", "got %d", d);
	tap_str(why.data ? why.data : "", expect, "script: ran for the previous certificate: reason");
	free(expect);
	cs_buf_free(&why);
}

static int make_material(void)
{
	char *cmd = cs_xasprintf("cd %s && openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem "
				 "-subj /CN=mail.example.org -days 30 2>/dev/null", dir);
	int r = system(cmd);
	free(cmd);
	if (r != 0)
		return -EIO;
	struct cs_buf k = CS_BUF_INIT, c = CS_BUF_INIT;
	struct cs_err err = CS_ERR_INIT;
	char *kp = cs_xasprintf("%s/k.pem", dir), *cp = cs_xasprintf("%s/c.pem", dir);
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *certs = NULL;
	r = cs_file_read(&k, kp, 0, &err);
	if (r == 0)
		r = cs_file_read(&c, cp, 0, &err);
	if (r == 0)
		r = cs_key_parse(&key, k.data, k.len, &err);
	if (r == 0)
		r = cs_certs_parse(&certs, c.data, c.len, &err);
	if (r == 0)
		r = cs_material_make(&want, key, sk_X509_value(certs, 0), NULL, &err);
	if (r == 0)
		cs_thumbprint(T, want.cert);
	if (r < 0)
		tap_note("material: %s", cs_err_msg(&err));
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	cs_buf_free_secret(&k);
	cs_buf_free(&c);
	cs_err_clear(&err);
	free(kp);
	free(cp);
	return r;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_golden();
	if (make_material() == 0) {
		tap_str(T, want.info.sha1, "thumbprint is the SHA-1 Windows shows");
		test_diff();
		test_script_diff();
	} else {
		tap_ok(false, "test certificate", "openssl could not make one");
	}
	cs_material_free(&want);
	char *rm = cs_xasprintf("rm -rf %s", dir);
	if (system(rm) != 0)
		tap_note("could not remove %s", dir);
	free(rm);
	return tap_done();
}
