/* Tests for what a login user that is not root can do to a files binding's
 * files: the "who" part of the batched observe command (linux_batch.h) as
 * parsed from a table of outputs and as run by the real /bin/sh, and the
 * plan-time checks (cs_linux_check_permissions, linux_accounts.h) against a
 * table of users, folders, files and declared owner, group and mode. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "providers/platform/linux_accounts.h"
#include "providers/platform/linux_batch.h"
#include "providers/platform/platform.h"
#include "providers/base/util.h"
#include "tests/unit/tap.h"

/* ---- the parser ---- */

static void test_parse(void)
{
	static const char *const dirs[] = { "/etc/ssl/private", "/srv/my dir" };
	static const struct {
		const char *name;
		const char *text;
		int rc;
		long used;                /* -1: not set, -2: up to and including the "." line */
		unsigned long uid, gid;
		const char *user, *group;
		size_t n_groups;
		const char *last_group;   /* the last group's name ("-": none) */
		bool seen1, writable1;    /* the second folder */
		unsigned mode1;
		const char *dgroup1;
	} cases[] = {
		{ "whole", "I uid=1000(deploy) gid=1000(deploy) groups=1000(deploy),27(sudo),112(ssl-cert)\n"
			   "D 0 0 710 0 112 ssl-cert\nD 1 1 3775 1000 1000 deploy\n.\nS\n",
		  0, -2, 1000, 1000, "deploy", "deploy", 3, "ssl-cert", true, true, 03775, "deploy" },
		{ "root", "I uid=0(root) gid=0(root) groups=0(root)\nD 0 1 700 0 0 root\nD 1 -\n.\n",
		  0, -2, 0, 0, "root", "root", 1, "root", false, false, 0, NULL },
		{ "ids without names stay numbers", "I uid=4000 gid=4001 groups=4001,5000(five)\nD 0 -\n"
						    "D 1 0 755 0 4001 UNKNOWN\n.\n",
		  0, -2, 4000, 4001, "4000", "4001", 2, "five", true, false, 0755, "4001" },
		{ "names with spaces and commas", "I uid=1000(deploy) gid=513(domain users) groups=513(domain users),"
						  "1001(a,b)\nD 0 -\nD 1 1 755 0 0 domain admins\n.\n",
		  0, -2, 1000, 513, "deploy", "domain users", 2, "a,b", true, true, 0755, "domain admins" },
		{ "an SELinux context after the groups", "I uid=1(a) gid=1(a) groups=1(a) context=u:r:t:s0\nD 0 -\nD 1 -\n.\n",
		  0, -2, 1, 1, "a", "a", 1, "a", false, false, 0, NULL },
		{ "a group without a name", "I uid=1(a) gid=1(a) groups=1(a),77\nD 0 -\nD 1 -\n.\n",
		  0, -2, 1, 1, "a", "a", 2, "-", false, false, 0, NULL },
		{ "folders in any order", "D 1 -\nI uid=1(a) gid=1(a) groups=1(a)\nD 0 -\n.\n",
		  0, -2, 1, 1, "a", "a", 1, "a", false, false, 0, NULL },
		{ .name = "a folder not answered", .text = "I uid=1(a) gid=1(a) groups=1(a)\nD 0 -\n.\nS\n", .rc = -EPROTO, .used = -2 },
		{ .name = "a folder answered twice", .text = "I uid=1(a) gid=1(a) groups=1(a)\nD 0 -\nD 0 -\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "id failed", .text = "I \nD 0 -\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "id twice", .text = "I uid=1(a) gid=1(a) groups=1(a)\nI uid=1(a) gid=1(a) groups=1(a)\nD 0 -\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "no groups", .text = "I uid=1(a) gid=1(a)\nD 0 -\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "a gid not a number", .text = "I uid=1(a) gid=1(a) groups=1(a),x(b)\nD 0 -\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "a name not closed", .text = "I uid=1(a gid=1(a) groups=1(a)\nD 0 -\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "an empty name", .text = "I uid=1() gid=1(a) groups=1(a)\nD 0 -\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "a uid too large", .text = "I uid=99999999999(a) gid=1(a) groups=1(a)\nD 0 -\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "writable neither 0 nor 1", .text = "I uid=1(a) gid=1(a) groups=1(a)\nD 0 2 755 0 0 root\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "a folder without its group", .text = "I uid=1(a) gid=1(a) groups=1(a)\nD 0 1 755 0 0\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "an unknown line", .text = "I uid=1(a) gid=1(a) groups=1(a)\nsh: stat: not found\nD 0 -\nD 1 -\n.\n", .rc = -EPROTO, .used = -2 },
		{ .name = "no end", .text = "I uid=1(a) gid=1(a) groups=1(a)\nD 0 -\nD 1 -\n", .rc = -EPROTO, .used = -1 },
		{ .name = "nothing", .text = "", .rc = -EPROTO, .used = -1 },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct cs_linux_who w;
		size_t used = (size_t)-1;
		const char *text = cases[c].text;
		int rc = cs_linux_who_parse(&w, dirs, 2, text, strlen(text), &used);
		char name[160];
		snprintf(name, sizeof name, "who parse %s: status", cases[c].name);
		tap_int(rc, cases[c].rc, name);
		/* -2: up to and including the "." line */
		long want_used = cases[c].used;
		if (want_used == -2)
			want_used = (long)(strstr(text, "\n.\n") + 3 - text);
		snprintf(name, sizeof name, "who parse %s: where the rest starts", cases[c].name);
		tap_int(used == (size_t)-1 ? -1 : (long)used, want_used, name);
		if (rc == 0) {
			snprintf(name, sizeof name, "who parse %s: fields", cases[c].name);
			const struct cs_linux_dir *d = &w.dirs[1];
			const char *last = w.n_groups ? w.group_names[w.n_groups - 1] : NULL;
			tap_ok(w.uid == cases[c].uid && w.gid == cases[c].gid && cs_streq(w.user, cases[c].user) &&
			       cs_streq(w.group, cases[c].group) && w.n_groups == cases[c].n_groups &&
			       cs_streq(last ? last : "-", cases[c].last_group) && w.n_dirs == 2 &&
			       !strcmp(w.dirs[0].path, dirs[0]) && d->seen == cases[c].seen1 &&
			       d->writable == cases[c].writable1 && d->mode == cases[c].mode1 &&
			       cs_streq(d->group, cases[c].dgroup1),
			       name, "uid %lu gid %lu user %s group %s groups %zu last %s; dir seen %d w %d mode %o group %s",
			       w.uid, w.gid, w.user, w.group, w.n_groups, last ? last : "-", d->seen, d->writable,
			       (unsigned)d->mode, d->group ? d->group : "-");
		} else {
			snprintf(name, sizeof name, "who parse %s: nothing kept", cases[c].name);
			tap_ok(!w.user && !w.gids && !w.dirs && !w.n_groups, name, NULL);
		}
		cs_linux_who_free(&w);
	}
}

/* ---- the script, run by /bin/sh as whoever runs the tests ---- */

static void test_script(void)
{
	char tmpl[] = "/tmp/certsync-who-XXXXXX";
	if (!mkdtemp(tmpl)) {
		tap_ok(false, "who script: a folder to look at", "%s", strerror(errno));
		return;
	}
	char *sticky = cs_xasprintf("%s/it's sticky", tmpl), *missing = cs_xasprintf("%s/missing", tmpl),
	     *file = cs_xasprintf("%s/a file", tmpl);
	mkdir(sticky, 0755);
	chmod(sticky, 01777);
	FILE *f = fopen(file, "w");
	if (f)
		fclose(f);
	const char *dirs[] = { tmpl, sticky, missing, file };
	struct cs_buf script = CS_BUF_INIT;
	tap_int(cs_linux_who_script(&script, dirs, 4), 0, "who script: made");
	char *path = cs_xasprintf("%s.sh", tmpl);
	struct cs_err err = CS_ERR_INIT;
	cs_file_write_atomic(path, script.data, script.len, 0600, (uid_t)-1, (gid_t)-1, &err);
	char *cmd = cs_xasprintf("/bin/sh '%s'", path);
	struct cs_buf out = CS_BUF_INIT;
	FILE *p = popen(cmd, "r");
	char chunk[4096];
	size_t n;
	while (p && (n = fread(chunk, 1, sizeof chunk, p)) > 0)
		cs_buf_append(&out, chunk, n);
	int status = p ? pclose(p) : -1;
	tap_int(status, 0, "who script: exit status 0");
	struct cs_linux_who w;
	size_t used = 0;
	int rc = cs_linux_who_parse(&w, dirs, 4, out.data ? out.data : "", out.len, &used);
	tap_ok(rc == 0 && used == out.len, "who script: its output parses whole", "%d, %zu of %zu: %.*s", rc, used,
	       out.len, (int)out.len, out.data ? out.data : "");
	if (rc == 0) {
		tap_ok(w.uid == (unsigned long)geteuid() && w.gid == (unsigned long)getegid() &&
		       cs_linux_who_in_group(&w, getegid()), "who script: uid and gid", "%lu %lu", w.uid, w.gid);
		tap_ok(w.dirs[0].seen && w.dirs[0].writable && (w.dirs[0].mode & 07777) == 0700 &&
		       w.dirs[0].uid == (unsigned long)geteuid(), "who script: a folder of its own", "mode %o",
		       (unsigned)w.dirs[0].mode);
		tap_ok(w.dirs[1].seen && (w.dirs[1].mode & 07777) == 01777, "who script: a sticky folder, a hostile name",
		       "seen %d mode %o", w.dirs[1].seen, (unsigned)w.dirs[1].mode);
		tap_ok(!w.dirs[2].seen && !w.dirs[3].seen, "who script: a missing folder and a file are not folders",
		       "%d %d", w.dirs[2].seen, w.dirs[3].seen);
	}
	cs_linux_who_free(&w);
	unlink(path);
	unlink(file);
	rmdir(sticky);
	rmdir(tmpl);
	cs_err_clear(&err);
	cs_buf_free(&out);
	cs_buf_free(&script);
	free(cmd);
	free(path);
	free(sticky);
	free(missing);
	free(file);
}

/* ---- the checks ---- */

static void test_checks(void)
{
	/* deploy (1000), in deploy (1000) and web (33); folders: its own, one
	 * of root's it cannot write, a sticky one of root's, a set-group-id
	 * one of group ssl-cert (112). */
	static unsigned long gids[] = { 1000, 33 };
	static char *names[] = { "deploy", "web" };
	struct cs_linux_dir dirs[] = {
		{ .path = "/srv/tls", .seen = true, .writable = true, .mode = 0755, .uid = 1000, .gid = 1000, .group = "deploy" },
		{ .path = "/etc/ssl", .seen = true, .writable = false, .mode = 0755, .uid = 0, .gid = 0, .group = "root" },
		{ .path = "/tmp/tls", .seen = true, .writable = true, .mode = 01777, .uid = 0, .gid = 0, .group = "root" },
		{ .path = "/srv/sg", .seen = true, .writable = true, .mode = 02775, .uid = 1000, .gid = 112, .group = "ssl-cert" },
	};
	struct cs_linux_who deploy = {
		.uid = 1000, .gid = 1000, .user = "deploy", .group = "deploy", .gids = gids, .group_names = names,
		.n_groups = 2, .dirs = dirs, .n_dirs = 4,
	};
	struct cs_linux_who root = deploy;
	root.uid = 0;
	root.user = "root";
	struct cs_host_cfg ssh_host = { .name = "web1", .transport = CS_TRANSPORT_SSH };
	struct cs_host_cfg local_host = { .name = "here", .transport = CS_TRANSPORT_LOCAL };
	struct cs_transport ssh_t = { .host = &ssh_host }, local_t = { .host = &local_host };

	static const struct {
		const char *name;
		int who;                  /* 0 deploy, 1 root */
		bool local;
		const char *path;         /* the cert file */
		bool exists;
		unsigned long uid, gid;   /* the file's */
		const char *owner_now, *group_now;
		const char *owner, *group; /* declared */
		int mode;
		const char *error;        /* expected, or NULL */
		const char *note;         /* expected, or NULL */
	} cases[] = {
		{ "own file, own group", 0, false, "/srv/tls/a.crt", true, 1000, 1000, "deploy", "deploy", NULL, NULL,
		  0600, NULL, NULL },
		{ "group root, not declared: changes hands", 0, false, "/srv/tls/a.crt", true, 1000, 0, "deploy", "root",
		  NULL, NULL, 0640, NULL,
		  "/srv/tls/a.crt: group root will become deploy (deploy is not in group root; set group: or become: sudo)" },
		{ "the same on a local host", 0, true, "/srv/tls/a.crt", true, 1000, 0, "deploy", "root", NULL, NULL,
		  0600, NULL,
		  "/srv/tls/a.crt: group root will become deploy (deploy is not in group root; set group: or run "
		  "certsync as root)" },
		{ "a group it is in, not declared: kept", 0, false, "/srv/tls/a.crt", true, 1000, 33, "deploy", "web",
		  NULL, NULL, 0640, NULL, NULL },
		{ "group ssl-cert that mode 0640 lets read: error", 0, false, "/srv/tls/a.key", true, 1000, 112, "deploy",
		  "ssl-cert", NULL, NULL, 0640,
		  "/srv/tls/a.key: group ssl-cert would become deploy, and mode 0640 lets group ssl-cert read it, "
		  "others not: deploy is not in group ssl-cert (set group: to a group deploy is in, add deploy to group "
		  "ssl-cert, or become: sudo)", NULL },
		{ "group ssl-cert with mode 0644: changes hands", 0, false, "/srv/tls/a.crt", true, 1000, 112, "deploy",
		  "ssl-cert", NULL, NULL, 0644, NULL,
		  "/srv/tls/a.crt: group ssl-cert will become deploy (deploy is not in group ssl-cert; set group: or "
		  "become: sudo)" },
		{ "group ssl-cert kept by a set-group-id folder", 0, false, "/srv/sg/a.key", true, 1000, 112, "deploy",
		  "ssl-cert", NULL, NULL, 0640, NULL, NULL },
		{ "a set-group-id folder's group for a file of group root", 0, false, "/srv/sg/a.crt", true, 1000, 0,
		  "deploy", "root", NULL, NULL, 0644, NULL,
		  "/srv/sg/a.crt: group root will become ssl-cert (deploy is not in group root; set group: or become: "
		  "sudo)" },
		{ "declared group it is in", 0, false, "/srv/tls/a.crt", true, 1000, 0, "deploy", "root", NULL, "web",
		  0640, NULL, NULL },
		{ "declared group by number it is in", 0, false, "/srv/tls/a.crt", true, 1000, 0, "deploy", "root", NULL,
		  "33", 0640, NULL, NULL },
		{ "declared group it is not in", 0, false, "/srv/tls/a.crt", true, 1000, 1000, "deploy", "deploy", NULL,
		  "ssl-cert", 0640,
		  "group ssl-cert of /srv/tls/a.crt cannot be set: deploy is not in group ssl-cert (set group: to a "
		  "group deploy is in, add deploy to group ssl-cert, or become: sudo)", NULL },
		{ "declared group it is not in, already on the file", 0, false, "/srv/tls/a.crt", true, 1000, 112,
		  "deploy", "ssl-cert", NULL, "ssl-cert", 0640,
		  "group ssl-cert of /srv/tls/a.crt cannot be set: deploy is not in group ssl-cert (set group: to a "
		  "group deploy is in, add deploy to group ssl-cert, or become: sudo)", NULL },
		{ "declared group a set-group-id folder gives", 0, false, "/srv/sg/a.crt", false, 0, 0, NULL, NULL, NULL,
		  "ssl-cert", 0640, NULL, NULL },
		{ "declared group by number it is not in", 0, false, "/srv/tls/a.crt", false, 0, 0, NULL, NULL, NULL,
		  "112", 0640,
		  "group 112 of /srv/tls/a.crt cannot be set: deploy is not in group 112 (set group: to a group deploy "
		  "is in, add deploy to group 112, or become: sudo)", NULL },
		{ "declared owner itself", 0, false, "/srv/tls/a.crt", true, 0, 1000, "root", "deploy", "deploy", NULL,
		  0644, NULL, NULL },
		{ "declared owner itself by number", 0, false, "/srv/tls/a.crt", true, 1000, 1000, "deploy", "deploy",
		  "1000", NULL, 0644, NULL, NULL },
		{ "declared owner someone else", 0, false, "/srv/tls/a.crt", true, 1000, 1000, "deploy", "deploy", "root",
		  NULL, 0644,
		  "owner root of /srv/tls/a.crt cannot be set: deploy is not root, and only root can give a file to "
		  "another user (drop owner: or make it deploy, or become: sudo)", NULL },
		{ "owner root, not declared: changes hands", 0, false, "/srv/tls/a.crt", true, 0, 1000, "root", "deploy",
		  NULL, NULL, 0600, NULL,
		  "/srv/tls/a.crt: owner root will become deploy (deploy cannot give files to another user; become: "
		  "sudo keeps it)" },
		{ "owner nginx whom mode 0600 lets read: error", 0, false, "/srv/tls/a.key", true, 101, 1000, "nginx",
		  "deploy", NULL, NULL, 0600,
		  "/srv/tls/a.key belongs to nginx, and mode 0600 lets its owner read it, others not: the replacement "
		  "would belong to deploy, who cannot give files away, and nginx could not read it (set owner: deploy "
		  "to accept that, or become: sudo)", NULL },
		{ "owner nginx with mode 0644: changes hands", 0, false, "/srv/tls/a.crt", true, 101, 1000, "nginx",
		  "deploy", NULL, NULL, 0644, NULL,
		  "/srv/tls/a.crt: owner nginx will become deploy (deploy cannot give files to another user; become: "
		  "sudo keeps it)" },
		{ "owner and group both change hands", 0, false, "/srv/tls/a.crt", true, 0, 0, "root", "root", NULL, NULL,
		  0644, NULL,
		  "/srv/tls/a.crt: owner root will become deploy (deploy cannot give files to another user; become: "
		  "sudo keeps it); /srv/tls/a.crt: group root will become deploy (deploy is not in group root; set "
		  "group: or become: sudo)" },
		{ "a folder it cannot write, its own file: in place", 0, false, "/etc/ssl/a.crt", true, 1000, 1000,
		  "deploy", "deploy", NULL, NULL, 0644, NULL,
		  "/etc/ssl/a.crt is rewritten in place (folder /etc/ssl is not writable by deploy): it keeps its owner "
		  "and group, and a reader may see it half written until the write ends" },
		{ "a folder it cannot write, root's file it cannot write", 0, false, "/etc/ssl/a.crt", true, 0, 0, "root",
		  "root", NULL, NULL, 0644,
		  "folder /etc/ssl is not writable by deploy: certsync replaces /etc/ssl/a.crt by writing a new file "
		  "next to it (let deploy write the folder, or become: sudo)", NULL },
		{ "a folder it cannot write, its own file, another group declared", 0, false, "/etc/ssl/a.crt", true, 1000,
		  1000, "deploy", "deploy", NULL, "web", 0644,
		  "folder /etc/ssl is not writable by deploy, so /etc/ssl/a.crt is rewritten in place, which cannot "
		  "change its owner deploy or group deploy (let deploy write the folder, or become: sudo)", NULL },
		{ "a folder it cannot write, new file", 0, true, "/etc/ssl/a.crt", false, 0, 0, NULL, NULL, NULL, NULL,
		  0644,
		  "folder /etc/ssl is not writable by deploy: certsync replaces /etc/ssl/a.crt by writing a new file "
		  "next to it (let deploy write the folder, or run certsync as root)", NULL },
		{ "a sticky folder, someone else's file", 0, false, "/tmp/tls/a.crt", true, 101, 1000, "nginx", "deploy",
		  NULL, NULL, 0644,
		  "/tmp/tls/a.crt belongs to nginx in folder /tmp/tls, which is sticky: deploy may not replace it "
		  "(make deploy its owner, or become: sudo)", NULL },
		{ "a sticky folder, its own file", 0, false, "/tmp/tls/a.crt", true, 1000, 1000, "deploy", "deploy", NULL,
		  NULL, 0644, NULL, NULL },
		{ "a new file: nothing to keep", 0, false, "/srv/tls/a.crt", false, 0, 0, NULL, NULL, NULL, NULL, 0600,
		  NULL, NULL },
		{ "a folder not known: left to apply", 0, false, "/elsewhere/a.crt", true, 1000, 1000, "deploy", "deploy",
		  NULL, NULL, 0600, NULL, NULL },
		{ "root: anything goes", 1, false, "/etc/ssl/a.key", true, 101, 112, "nginx", "ssl-cert", "nginx",
		  "ssl-cert", 0640, NULL, NULL },
	};
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		struct cs_binding_cfg b;
		memset(&b, 0, sizeof b);
		b.kind = CS_BIND_FILES;
		b.files.cert = (char *)cases[c].path;
		b.files.owner = (char *)cases[c].owner;
		b.files.group = (char *)cases[c].group;
		b.files.mode = cases[c].mode;
		struct cs_file_obs fo = {
			.role = "cert", .path = cs_xstrdup(cases[c].path), .exists = cases[c].exists,
			.mode = 0644, .uid = (uid_t)cases[c].uid, .gid = (gid_t)cases[c].gid,
			.owner = cases[c].owner_now ? cs_xstrdup(cases[c].owner_now) : NULL,
			.group = cases[c].group_now ? cs_xstrdup(cases[c].group_now) : NULL,
		};
		struct cs_binding_obs o;
		memset(&o, 0, sizeof o);
		o.files = cs_xcalloc(1, sizeof *o.files);
		o.files[0] = fo;
		o.n_files = 1;
		struct cs_binding_obs *outs[] = { &o };
		const struct cs_binding_cfg *bs[] = { &b };
		const struct cs_linux_who *w = cases[c].who == 0 ? &deploy : &root;
		cs_linux_check_permissions(cases[c].local ? &local_t : &ssh_t, w, bs, outs, 1);
		char name[200];
		snprintf(name, sizeof name, "check %s: error", cases[c].name);
		tap_str(o.error, cases[c].error, name);
		snprintf(name, sizeof name, "check %s: note", cases[c].name);
		tap_str(o.files[0].note, cases[c].note, name);
		cs_binding_obs_free(&o);
	}

	/* root's files in root's folder, group-writable for a group deploy
	 * is in (web): rewritten in place, and the mode only root may change.
	 * The fix names the file's own mode, unless a key may not have it. */
	static const struct {
		const char *name;
		bool key;
		int file_mode, mode;
		const char *error;
	} modes[] = {
		{ "root's 0664 cert, 0644 declared", false, 0664, 0644,
		  "folder /etc/ssl is not writable by deploy, so /etc/ssl/a.pem is rewritten in place, and only its "
		  "owner root may change its mode 0664 to 0644 (set mode: \"0664\", let deploy write the folder, or "
		  "become: sudo)" },
		{ "root's 0660 key, 0640 declared", true, 0660, 0640,
		  "folder /etc/ssl is not writable by deploy, so /etc/ssl/a.pem is rewritten in place, and only its "
		  "owner root may change its mode 0660 to 0640 (a key's mode may not let group or others write it: "
		  "give the file to deploy, let deploy write the folder, or become: sudo)" },
	};
	for (size_t c = 0; c < sizeof modes / sizeof modes[0]; c++) {
		struct cs_binding_cfg b;
		memset(&b, 0, sizeof b);
		b.kind = CS_BIND_FILES;
		if (modes[c].key)
			b.files.key = "/etc/ssl/a.pem";
		else
			b.files.cert = "/etc/ssl/a.pem";
		b.files.mode = modes[c].mode;
		struct cs_binding_obs o;
		memset(&o, 0, sizeof o);
		o.files = cs_xcalloc(1, sizeof *o.files);
		o.files[0] = (struct cs_file_obs){
			.role = modes[c].key ? "key" : "cert", .path = cs_xstrdup("/etc/ssl/a.pem"), .exists = true,
			.mode = (mode_t)modes[c].file_mode, .uid = 0, .gid = 33, .owner = cs_xstrdup("root"),
			.group = cs_xstrdup("web"),
		};
		o.n_files = 1;
		struct cs_binding_obs *outs[] = { &o };
		const struct cs_binding_cfg *bs[] = { &b };
		cs_linux_check_permissions(&ssh_t, &deploy, bs, outs, 1);
		char name[200];
		snprintf(name, sizeof name, "in place, %s: error", modes[c].name);
		tap_str(o.error, modes[c].error, name);
		cs_binding_obs_free(&o);
	}
}

int main(void)
{
	test_parse();
	test_script();
	test_checks();
	return tap_done();
}
