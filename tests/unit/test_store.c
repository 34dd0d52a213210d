/* Tests for reconcile/store.c: folder permissions, save/load, the archive,
 * pending requests, the lock and the journal. */
#include "tests/unit/tap.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/pem.h>
#include "reconcile/store.h"
#include "reconcile/store_facts.h"
#include "reconcile/store_runs.h"
#include "providers/base/util.h"
#include "providers/base/x509.h"

static char tmpdir[] = "/tmp/certsync-store-XXXXXX";

static char *tmp_path(const char *rel)
{
	return cs_xasprintf("%s/%s", tmpdir, rel);
}

static int mode_of(const char *rel)
{
	char *p = tmp_path(rel);
	struct stat st;
	int m = stat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
	free(p);
	return m;
}

static bool exists(const char *rel)
{
	char *p = tmp_path(rel);
	struct stat st;
	bool e = lstat(p, &st) == 0;
	free(p);
	return e;
}

static EVP_PKEY *new_key(void)
{
	static const struct cs_key_spec spec = { CS_KEY_ECDSA, 0, CS_CURVE_P256 };
	EVP_PKEY *k = NULL;
	cs_key_generate(&k, &spec, NULL);
	return k;
}

/* A self-signed certificate for key with a chosen serial. */
static X509 *new_cert(EVP_PKEY *key, long serial, const char *cn)
{
	X509 *x = X509_new();
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_sign(x, key, EVP_sha256());
	return x;
}

static void test_open(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *st = NULL;
	char *dir = tmp_path("state");

	/* Without create a missing folder is an empty store. */
	int r = cs_store_open(&st, dir, false, &err);
	tap_int(r, 0, "open missing folder without create");
	tap_ok(!exists("state"), "open without create makes nothing", NULL);
	struct cs_stored s;
	tap_int(st ? cs_store_load(&s, st, "mail", &err) : -1, -ENOENT, "empty store: load is -ENOENT");
	cs_store_close(st);
	st = NULL;
	cs_err_clear(&err);

	mode_t old = umask(0);
	r = cs_store_open(&st, dir, true, &err);
	umask(old);
	tap_int(r, 0, "open with create");
	tap_int(mode_of("state"), 0700, "state folder is 0700 even with umask 0");
	tap_str(st ? cs_store_dir(st) : NULL, dir, "store dir");
	cs_store_close(st);
	st = NULL;

	/* Any access bit for group or other is refused. */
	static const int modes[] = { 0755, 0750, 0701, 0710, 0702 };
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		chmod(dir, (mode_t)modes[i]);
		r = cs_store_open(&st, dir, true, &err);
		char name[64];
		snprintf(name, sizeof name, "folder mode %04o refused", modes[i]);
		tap_int(r, -EPERM, name);
		tap_ok(st == NULL, "no store on refusal", NULL);
		if (modes[i] == 0755) {
			char *want = cs_xasprintf("state folder %s is accessible by others (mode 0755); "
						  "run chmod 700 %s", dir, dir);
			tap_str(err.msg, want, "folder refusal message");
			free(want);
		}
		cs_err_clear(&err);
	}
	chmod(dir, 0700);
	free(dir);
}

static void test_save_load(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *st = NULL;
	char *dir = tmp_path("state");
	EVP_PKEY *k1 = new_key(), *k2 = new_key(), *k3 = new_key();
	X509 *c1 = new_cert(k1, 0x1001, "one"), *c2 = new_cert(k2, 0x2002, "two"), *c3 = new_cert(k3, 0x3003, "three");
	X509 *ca = new_cert(k3, 0x77, "some ca");
	STACK_OF(X509) *chain = sk_X509_new_null();
	sk_X509_push(chain, ca);
	struct cs_stored s;
	memset(&s, 0, sizeof s);

	cs_store_open(&st, dir, true, &err);
	int r = cs_store_save(st, "mail", k1, c1, NULL, "lab", "mail.example.org", &err);
	tap_ok(r == 0, "save first", "%s", cs_err_msg(&err));
	tap_int(mode_of("state/certs/mail"), 0700, "certificate folder 0700");
	tap_int(mode_of("state/certs/mail/key.pem"), 0600, "key.pem 0600");
	r = cs_store_load(&s, st, "mail", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(cs_stored_key(&s, NULL), k1) == 1 && X509_cmp(cs_stored_cert(&s, NULL), c1) == 0,
	       "load returns what was saved", "%s", cs_err_msg(&err));
	tap_ok(cs_stored_chain(&s, NULL) && sk_X509_num(cs_stored_chain(&s, NULL)) == 0, "no chain loads as empty", NULL);
	tap_str(s.issuer, "lab", "issuer name kept");
	tap_ok(s.issued_at > 0, "issued_at kept", NULL);
	cs_stored_free(&s);

	/* A key that does not belong to the certificate is refused up front. */
	r = cs_store_save(st, "mail", k2, c1, NULL, "lab", "mail.example.org", &err);
	tap_int(r, -EINVAL, "save refuses a cert of another key");
	tap_str(err.msg, "save mail: the certificate does not belong to the key", "mismatch message");
	cs_err_clear(&err);

	r = cs_store_save(st, "mail", k2, c2, chain, "lab2", "mail.example.org", &err);
	tap_ok(r == 0, "save second", "%s", cs_err_msg(&err));
	tap_ok(exists("state/certs/mail/archive/1001/key.pem"), "previous key archived", NULL);
	tap_int(mode_of("state/certs/mail/archive/1001/key.pem"), 0600, "archived key 0600");
	tap_ok(exists("state/certs/mail/archive/1001/cert.pem") &&
	       exists("state/certs/mail/archive/1001/meta.json"), "previous cert and meta archived", NULL);
	char *p = tmp_path("state/certs/mail/archive/1001/key.pem");
	struct cs_buf b = CS_BUF_INIT;
	EVP_PKEY *archived = NULL;
	cs_file_read(&b, p, 0, NULL);
	cs_key_parse(&archived, b.data, b.len, NULL);
	tap_ok(archived && EVP_PKEY_eq(archived, k1) == 1, "archived key is the old key", NULL);
	EVP_PKEY_free(archived);
	cs_buf_free_secret(&b);
	free(p);
	r = cs_store_load(&s, st, "mail", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(cs_stored_key(&s, NULL), k2) == 1 && X509_cmp(cs_stored_cert(&s, NULL), c2) == 0 &&
	       sk_X509_num(cs_stored_chain(&s, NULL)) == 1 && X509_cmp(sk_X509_value(cs_stored_chain(&s, NULL), 0), ca) == 0,
	       "load after second save", "%s", cs_err_msg(&err));
	tap_str(s.issuer, "lab2", "issuer updated");
	cs_stored_free(&s);

	p = tmp_path("state/certs/mail/meta.json");
	json_t *meta = json_load_file(p, 0, NULL);
	tap_str(json_string_value(json_object_get(meta, "serial")), "2002", "meta.json serial");
	json_decref(meta);
	free(p);

	/* A save interrupted after key.pem: the key of the certificate still
	 * in force comes back from the archive it was copied to first. */
	struct cs_buf pem = CS_BUF_INIT;
	cs_key_to_pem(&pem, k3, NULL);
	char *arch = tmp_path("state/certs/mail/archive/2002");
	char *cmd = cs_xasprintf("mkdir -p '%s' && cp '%s/state/certs/mail/key.pem' '%s/key.pem'", arch, tmpdir, arch);
	tap_int(system(cmd), 0, "simulate interrupted save: archive");
	p = tmp_path("state/certs/mail/key.pem");
	cs_file_write_atomic(p, pem.data, pem.len, 0600, (uid_t)-1, (gid_t)-1, NULL);
	r = cs_store_load(&s, st, "mail", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(cs_stored_key(&s, NULL), k2) == 1 && X509_cmp(cs_stored_cert(&s, NULL), c2) == 0,
	       "interrupted save: load recovers the archived key", "%s", cs_err_msg(&err));
	cs_stored_free(&s);
	cs_err_clear(&err);
	/* Without that archive copy it is an error, never a wrong pair. */
	char *akey = cs_xasprintf("%s/key.pem", arch);
	unlink(akey);
	r = cs_store_load(&s, st, "mail", &err);
	tap_int(r, -EIO, "key and cert disagree: error");
	cs_stored_free(&s);
	cs_err_clear(&err);
	r = cs_store_save(st, "mail", k3, c3, NULL, "lab", "mail.example.org", &err);
	tap_ok(r == 0, "save after repair", "%s", cs_err_msg(&err));
	r = cs_store_load(&s, st, "mail", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(cs_stored_key(&s, NULL), k3) == 1, "load after repair", "%s", cs_err_msg(&err));
	cs_stored_free(&s);
	free(akey);
	free(cmd);
	free(arch);
	cs_buf_free_secret(&pem);

	/* A key file others can read is refused, on load and on open. */
	chmod(p, 0644);
	r = cs_store_load(&s, st, "mail", &err);
	tap_int(r, -EPERM, "load refuses a key readable by others");
	char *want = cs_xasprintf("key file %s is accessible by others (mode 0644); run chmod 600 %s", p, p);
	tap_str(err.msg, want, "key refusal message");
	free(want);
	cs_err_clear(&err);
	struct cs_store *st2 = NULL;
	tap_int(cs_store_open(&st2, dir, false, &err), -EPERM, "open refuses a key readable by others");
	cs_err_clear(&err);
	chmod(p, 0620);
	tap_int(cs_store_load(&s, st, "mail", &err), -EPERM, "load refuses a key writable by group");
	cs_err_clear(&err);
	chmod(p, 0600);
	free(p);
	/* Also a pending or issuing key, in a folder with subfolders (its
	 * link count tells where to look). */
	static const char *const sub[] = { "pending", "issuing" };
	for (size_t i = 0; i < 2; i++) {
		char *sd = cs_xasprintf("%s/certs/mail/%s", dir, sub[i]);
		char *kp = cs_xasprintf("%s/key.pem", sd);
		mkdir(sd, 0700);
		FILE *f = fopen(kp, "w");
		if (f)
			fclose(f);
		chmod(kp, 0644);
		st2 = NULL;
		tap_int(cs_store_open(&st2, dir, false, &err), -EPERM, "open refuses a pending or issuing key readable by others");
		want = cs_xasprintf("key file %s is accessible by others (mode 0644); run chmod 600 %s", kp ? kp : "",
				    kp ? kp : "");
		tap_str(err.msg, want, "its message names it");
		free(want);
		cs_err_clear(&err);
		cs_store_close(st2);
		unlink(kp);
		rmdir(sd);
		free(kp);
		free(sd);
	}

	static const char *const bad_names[] = { "", "..", "a/b", "." };
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
		tap_int(cs_store_load(&s, st, bad_names[i], &err), -EINVAL, "unsafe name refused");
		cs_err_clear(&err);
	}
	tap_int(cs_store_load(&s, st, "other", &err), -ENOENT, "unknown certificate is -ENOENT");
	cs_err_clear(&err);

	cs_store_close(st);
	sk_X509_pop_free(chain, X509_free);
	X509_free(c1);
	X509_free(c2);
	X509_free(c3);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	EVP_PKEY_free(k3);
	free(dir);
}

static void test_pending(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *st = NULL;
	char *dir = tmp_path("state");
	EVP_PKEY *key = new_key(), *other = new_key();
	X509_REQ *csr = NULL, *other_csr = NULL;
	char *names[] = { "mail.example.org" };
	cs_csr_create(&csr, key, "mail.example.org", names, 1, NULL);
	cs_csr_create(&other_csr, other, "mail.example.org", names, 1, NULL);
	struct cs_pending p;

	cs_store_open(&st, dir, true, &err);
	tap_int(cs_store_load_pending(&p, st, "mail", &err), -ENOENT, "no pending request");
	cs_err_clear(&err);
	int r = cs_store_save_pending(st, "mail", key, csr, "verisign", &err);
	tap_ok(r == 0, "save pending", "%s", cs_err_msg(&err));
	tap_int(mode_of("state/certs/mail/pending/key.pem"), 0600, "pending key 0600");
	r = cs_store_load_pending(&p, st, "mail", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(p.key, key) == 1 && cs_key_matches_csr(p.key, p.csr),
	       "load pending", "%s", cs_err_msg(&err));
	tap_str(p.issuer, "verisign", "pending issuer");
	tap_ok(p.created_at > 0, "pending created_at", NULL);
	cs_pending_free(&p);

	/* Replacing the request replaces key and request together. */
	r = cs_store_save_pending(st, "mail", other, other_csr, "verisign", &err);
	r = r ? r : cs_store_load_pending(&p, st, "mail", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(p.key, other) == 1 && cs_key_matches_csr(other, p.csr),
	       "pending replaced", "%s", cs_err_msg(&err));
	cs_pending_free(&p);

	/* meta.json marks a complete request. */
	char *meta = tmp_path("state/certs/mail/pending/meta.json");
	char *tmpmeta = tmp_path("meta.keep");
	rename(meta, tmpmeta);
	tap_int(cs_store_load_pending(&p, st, "mail", &err), -ENOENT, "incomplete request is not pending");
	cs_err_clear(&err);
	rename(tmpmeta, meta);
	free(tmpmeta);
	free(meta);

	r = cs_store_drop_pending(st, "mail", &err);
	tap_int(r, 0, "drop pending");
	tap_ok(!exists("state/certs/mail/pending"), "pending folder gone", NULL);
	tap_int(cs_store_load_pending(&p, st, "mail", &err), -ENOENT, "dropped request is gone");
	tap_int(cs_store_drop_pending(st, "mail", &err), 0, "drop twice is fine");
	cs_err_clear(&err);

	/* A read-only store asks for no request in a folder that had no
	 * subfolders when it was opened; once locked it asks again. */
	struct cs_store *ro = NULL;
	cs_store_open(&ro, dir, false, &err);
	r = cs_store_save_pending(st, "post", key, csr, "verisign", &err);
	tap_ok(r == 0, "save pending beside a store opened before", "%s", cs_err_msg(&err));
	tap_int(cs_store_load_pending(&p, ro, "post", &err), -ENOENT,
		"the store opened before: no subfolders then, no request");
	cs_err_clear(&err);
	r = cs_store_lock(ro, "apply", &err);
	r = r ? r : cs_store_load_pending(&p, ro, "post", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(p.key, key) == 1, "locked, it finds the request", "%s", cs_err_msg(&err));
	cs_pending_free(&p);
	cs_store_close(ro);
	cs_store_open(&ro, dir, false, &err);
	r = cs_store_load_pending(&p, ro, "post", &err);
	tap_ok(r == 0, "a store opened since finds it", "%s", cs_err_msg(&err));
	cs_pending_free(&p);
	cs_store_close(ro);
	cs_store_drop_pending(st, "post", &err);
	cs_err_clear(&err);

	cs_store_close(st);
	X509_REQ_free(csr);
	X509_REQ_free(other_csr);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	free(dir);
}

static void test_lock(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *a = NULL, *b = NULL;
	char *dir = tmp_path("state");
	cs_store_open(&a, dir, true, &err);
	cs_store_open(&b, dir, true, &err);
	int r = cs_store_lock(a, "apply", &err);
	tap_int(r, 0, "first lock");
	tap_int(cs_store_lock(a, "apply", &err), 0, "locking again in the same store is fine");
	/* flock locks belong to the open file description, so a second open in
	 * this process conflicts just as another process would. */
	r = cs_store_lock(b, "plan", &err);
	tap_int(r, -EBUSY, "second lock is -EBUSY");
	char *want = cs_xasprintf("state folder %s is locked by certsync apply (pid %ld on ", dir, (long)getpid());
	tap_ok(err.msg && strncmp(err.msg, want, strlen(want)) == 0 && strstr(err.msg, " since ") &&
	       err.msg[strlen(err.msg) - 1] == ')', "busy message names the holder",
	       "got \"%s\"", cs_err_msg(&err));
	free(want);
	cs_err_clear(&err);

	/* Another process sees the lock too. */
	pid_t pid = fork();
	if (pid == 0) {
		struct cs_store *c = NULL;
		cs_store_open(&c, dir, false, NULL);
		_exit(c && cs_store_lock(c, "apply", NULL) == -EBUSY ? 0 : 1);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a forked process gets -EBUSY", NULL);

	cs_store_close(a);
	r = cs_store_lock(b, "plan", &err);
	tap_int(r, 0, "lock free after close");
	char *lock = tmp_path("state/lock");
	struct cs_buf text = CS_BUF_INIT;
	cs_file_read(&text, lock, 0, NULL);
	tap_ok(text.data && strncmp(text.data, "certsync plan (pid ", 19) == 0 && !strstr(text.data, "apply"),
	       "lock file rewritten by the new holder", "%s", text.data ? text.data : "");
	cs_buf_free(&text);
	free(lock);
	cs_store_close(b);
	free(dir);
}

static void test_journal(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *st = NULL;
	char *dir = tmp_path("state");
	cs_store_open(&st, dir, true, &err);
	setenv("CERTSYNC_NOW", "2026-11-27T05:04:20Z", 1);
	json_t *rec1 = json_pack("{s:s, s:s}", "event", "renew", "cert", "mail");
	json_t *rec2 = json_pack("{s:s, s:s, s:i}", "event", "bind", "msg", "quote \" and\nnewline", "n", 2);
	tap_int(cs_store_journal(st, rec1, &err), 0, "journal first record");
	tap_int(cs_store_journal(st, rec2, &err), 0, "journal second record");
	json_t *arr = json_array();
	tap_int(cs_store_journal(st, arr, &err), -EINVAL, "journal refuses a non-object");
	json_decref(arr);
	cs_err_clear(&err);
	unsetenv("CERTSYNC_NOW");
	tap_int(mode_of("state/journal.jsonl"), 0600, "journal 0600");

	char *p = tmp_path("state/journal.jsonl");
	FILE *f = fopen(p, "r");
	char line[1024];
	int n = 0;
	while (f && fgets(line, sizeof line, f)) {
		n++;
		json_error_t je;
		json_t *j = json_loads(line, 0, &je);
		tap_ok(j && json_is_object(j), "journal line is JSON", "%s", je.text);
		tap_str(json_string_value(json_object_get(j, "time")), "2026-11-27T05:04:20Z", "journal time");
		tap_ok(strncmp(line, "{\"time\":", 8) == 0, "time comes first", "%s", line);
		tap_ok(strchr(line, '\n') == line + strlen(line) - 1, "one record per line", NULL);
		const char *want = n == 1 ? "renew" : "bind";
		tap_str(json_string_value(json_object_get(j, "event")), want, "journal record kept");
		json_decref(j);
	}
	if (f)
		fclose(f);
	tap_int(n, 2, "two journal lines");
	free(p);
	json_decref(rec1);
	json_decref(rec2);
	cs_store_close(st);
	free(dir);
}

/* The intent journal's parts: the run tag, issuing/, the ledger, run
 * records and the removal of what killed runs left in the state folder. */
static void test_intents(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *a = NULL, *b = NULL;
	char *dir = tmp_path("intents");
	cs_store_open(&a, dir, true, &err);
	cs_store_open(&b, dir, true, &err);
	tap_ok(cs_store_run(a) == NULL && cs_store_running(b) == NULL, "no run before the lock", NULL);
	tap_int(cs_store_lock(a, "apply", &err), 0, "lock");
	const char *tag = cs_store_run(a);
	tap_ok(tag && strlen(tag) == 16 && strspn(tag, "0123456789abcdef") == 16 && !strcmp(cs_temp_tag(), tag),
	       "the run tag names temporary files", "%s", tag ? tag : "(null)");
	char *running = cs_store_running(b);
	tap_str(running, tag, "another reader sees the running apply's tag");
	free(running);

	/* issuing/ keeps key, request and identity; its key is checked like any. */
	EVP_PKEY *key = new_key();
	X509_REQ *csr = NULL;
	char *names[] = { "mail.example.org" };
	cs_csr_create(&csr, key, "mail.example.org", names, 1, NULL);
	struct cs_issuing iss;
	tap_int(cs_store_load_issuing(&iss, a, "mail", &err), -ENOENT, "no issuance in progress");
	cs_err_clear(&err);
	int r = cs_store_save_issuing(a, "mail", key, csr, "lab", "7A11CE", 1767225600, &err);
	r = r ? r : cs_store_load_issuing(&iss, a, "mail", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(iss.req.key, key) == 1 && !strcmp(iss.serial, "7A11CE") &&
	       iss.issue_time == 1767225600 && !strcmp(iss.req.issuer, "lab"), "issuing kept and read back", "%s",
	       cs_err_msg(&err));
	cs_issuing_free(&iss);
	char *record = cs_xasprintf("intents/issuing/%s-0000.json", tag);
	tap_int(mode_of(record), 0600, "the issuance record is 0600");
	char *ik = tmp_path(record);
	chmod(ik, 0644);
	struct cs_store *c = NULL;
	tap_int(cs_store_open(&c, dir, false, &err), -EPERM, "an issuance record readable by others is refused at open");
	tap_ok(strstr(cs_err_msg(&err), "chmod 600") != NULL, "... with the fix", "%s", cs_err_msg(&err));
	cs_err_clear(&err);
	chmod(ik, 0600);
	free(ik);
	tap_int(cs_store_drop_issuing(a, "mail", &err), 0, "drop issuing");
	tap_ok(!exists(record), "its record file gone with its last issuance", NULL);
	free(record);

	/* The ledger only grows. */
	cs_store_issued_append(a, "mail", "7A11CE", "lab", &err);
	cs_store_issued_append(a, "mail", "7A11CE", "lab", &err);
	char *ledger = tmp_path("intents/certs/mail/issued.jsonl");
	struct cs_buf text = CS_BUF_INIT;
	cs_file_read(&text, ledger, 0, NULL);
	tap_ok(text.data && strstr(text.data, "\"serial\":\"7A11CE\"") && text.len > 0 &&
	       strchr(text.data, '\n') != strrchr(text.data, '\n'), "ledger: a line per certificate returned", "%s",
	       text.data ? text.data : "");
	cs_buf_free(&text);
	free(ledger);

	/* A run record outlives a killed run; the next one finds it. */
	json_t *hosts = json_pack("{s:[s]}", "web1", "/etc/tls/site.pem");
	tap_int(cs_store_run_begin(a, hosts, &err), 0, "run recorded");
	json_decref(hosts);
	char *killed = cs_xstrdup(tag);
	cs_store_close(a); /* killed: the record stays */
	tap_int(cs_store_lock(b, "apply", &err), 0, "the next apply locks");
	json_t *runs = NULL;
	tap_int(cs_store_runs_load(&runs, b, &err), 0, "runs load");
	tap_ok(json_object_size(runs) == 1 &&
	       !strcmp(json_string_value(json_array_get(json_object_get(json_object_get(json_object_get(runs, killed),
										     "hosts"), "web1"), 0)),
		       "/etc/tls/site.pem"), "the killed run's record is found with its paths", NULL);
	json_decref(runs);

	/* Only other runs' temporary files go, wherever they are in the folder. */
	const char *files[][2] = {
		{ "certs/mail/.key.pem.certsync-%s-AbC123", "killed" },
		{ "hosts/web1/.unconfirmed.json.certsync-%s-x", "killed" },
		{ ".journal.jsonl.certsync-%s-AbC123", "mine" },
		{ "certs/mail/.cert.pem.certsync-XXXXXX", "legacy" },
		{ "certs/mail/cert.pem.certsync-%s-AbC123", "not temporary" },
	};
	for (size_t i = 0; i < 5; i++) {
		char *rel = cs_xasprintf(files[i][0], !strcmp(files[i][1], "mine") ? cs_store_run(b) : killed);
		char *path = cs_xasprintf("%s/%s", dir, rel);
		char *d = cs_path_dirname(path);
		cs_mkdir_p(d, 0700, NULL);
		cs_file_write_atomic(path, "x", 1, 0600, (uid_t)-1, (gid_t)-1, NULL);
		free(d);
		free(path);
		free(rel);
	}
	size_t n = 0;
	tap_int(cs_store_remove_temps(b, cs_store_run(b), &n, &err), 0, "remove temporaries");
	tap_int((int)n, 2, "the killed run's two temporary files removed");
	char *mine = cs_xasprintf("intents/.journal.jsonl.certsync-%s-AbC123", cs_store_run(b));
	tap_ok(exists(mine) && exists("intents/certs/mail/.cert.pem.certsync-XXXXXX"),
	       "this run's and untagged files stay", NULL);
	free(mine);
	tap_ok(cs_is_temp_of(".a.certsync-0123456789abcdef-Q", "0123456789abcdef") &&
	       !cs_is_temp_of("a.certsync-0123456789abcdef-Q", "0123456789abcdef") &&
	       !cs_is_temp_of(".a.certsync-0123456789abcdee-Q", "0123456789abcdef"), "cs_is_temp_of", NULL);
	/* Beside one file (a host's file, a manual request): this run's, or the
	 * others', by the tag in the name; never another file's. */
	const char *beside[][2] = {
		{ "site.pem", NULL },
		{ ".site.pem.certsync-%s-AbC123", "killed" },
		{ ".site.pem.certsync-%s-Zz9", "killed" },
		{ ".site.pem.certsync-%s-AbC123", "mine" },
		{ ".other.pem.certsync-%s-AbC123", "killed" },
		{ ".site.pem.certsync-0123-AbC123", "short tag" },
	};
	char *sdir = cs_xasprintf("%s/beside", dir);
	cs_mkdir_p(sdir, 0700, NULL);
	for (size_t i = 0; i < sizeof beside / sizeof beside[0]; i++) {
		const char *who = beside[i][1];
		char *rel = cs_xasprintf(beside[i][0], who && !strcmp(who, "mine") ? cs_store_run(b) : killed);
		char *path = cs_xasprintf("%s/%s", sdir, rel);
		cs_file_write_atomic(path, "x", 1, 0600, (uid_t)-1, (gid_t)-1, NULL);
		free(path);
		free(rel);
	}
	char *site = cs_xasprintf("%s/site.pem", sdir);
	tap_int(cs_remove_temps_beside(site, cs_store_run(b), CS_TEMPS_OF_OTHER_RUNS, &n, &err), 0,
		"beside: remove the other runs' temporaries");
	tap_int((int)n, 2, "beside: the killed run's two, not the other file's, not a malformed name");
	tap_int(cs_remove_temps_beside(site, cs_store_run(b), CS_TEMPS_OF_RUN, &n, &err), 0,
		"beside: remove this run's temporaries");
	tap_int((int)n, 1, "beside: this run's one");
	char *left = cs_xasprintf("LC_ALL=C ls -A '%s' | tr '\\n' ' '", sdir);
	FILE *ls = popen(left, "r");
	char listing[512] = "";
	if (ls) {
		if (!fgets(listing, sizeof listing, ls))
			listing[0] = '\0';
		pclose(ls);
	}
	char *want_left = cs_xasprintf(".other.pem.certsync-%s-AbC123 .site.pem.certsync-0123-AbC123 site.pem ", killed);
	tap_str(listing, want_left, "beside: the rest stays");
	free(want_left);
	free(left);
	char *gone = cs_xasprintf("%s/missing/site.pem", sdir);
	tap_int(cs_remove_temps_beside(gone, cs_store_run(b), CS_TEMPS_OF_RUN, &n, &err), 0,
		"beside: a missing folder is nothing to remove");
	free(gone);
	free(site);
	free(sdir);
	tap_int(cs_store_run_update(b, killed, NULL, &err), 0, "the settled record is dropped");
	cs_store_runs_load(&runs, b, &err);
	tap_int((int)json_object_size(runs), 0, "no run left");
	json_decref(runs);
	tap_int(cs_store_run_update(b, "../x", NULL, &err), -EINVAL, "a run tag is never a path");
	cs_err_clear(&err);

	free(killed);
	cs_store_close(b);
	X509_REQ_free(csr);
	EVP_PKEY_free(key);
	free(dir);
}

/* The bytes certsync wrote come back with the set (their SHA-256 is in
 * meta.json), so a plan compares without encoding the key again; bytes
 * changed since (still a valid key) are not handed out. */
static bool buf_is(const struct cs_buf *b, const struct cs_buf *want)
{
	return b->data && b->len == want->len && !memcmp(b->data, want->data, want->len);
}

static void test_written_bytes(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *st = NULL;
	char *dir = tmp_path("state-bytes");
	EVP_PKEY *k = new_key(), *cak = new_key();
	X509 *c = new_cert(k, 0x4004, "four"), *ca = new_cert(cak, 0x78, "bytes ca");
	STACK_OF(X509) *chain = sk_X509_new_null();
	sk_X509_push(chain, ca);
	struct cs_buf kp = CS_BUF_INIT, cp = CS_BUF_INIT, chp = CS_BUF_INIT;
	cs_key_to_pem(&kp, k, NULL);
	cs_cert_to_pem(&cp, c, NULL);
	cs_chain_to_pem(&chp, chain, NULL);
	struct cs_stored s;
	cs_store_open(&st, dir, true, &err);
	int r = cs_store_save(st, "web", k, c, chain, "lab", "web.example.org", &err);
	tap_ok(r == 0, "save web", "%s", cs_err_msg(&err));
	char *p = tmp_path("state-bytes/certs/web/meta.json");
	json_t *meta = json_load_file(p, 0, NULL);
	char want[65];
	cs_sha256_hex(want, kp.data, kp.len);
	tap_str(json_string_value(json_object_get(json_object_get(meta, "sha256"), "key.pem")), want,
		"meta.json has the SHA-256 of key.pem");
	json_decref(meta);
	free(p);
	r = cs_store_load(&s, st, "web", &err);
	tap_ok(r == 0 && s.unread && !s.key_pem.data && !s.cert_pem.data && !s.chain_pem.data,
	       "nothing changed since the save: the files are not read", "%s", cs_err_msg(&err));
	tap_ok(!strcmp(s.key_sha256, want), "their SHA-256 from meta.json", NULL);
	r = cs_stored_texts(&s, &err);
	tap_ok(r == 0 && !s.unread && buf_is(&s.key_pem, &kp) && buf_is(&s.cert_pem, &cp) &&
	       buf_is(&s.chain_pem, &chp), "load hands out the bytes written, read when asked", "%s", cs_err_msg(&err));
	cs_stored_free(&s);

	/* A file changed after the load (it was not read then): refused when
	 * its texts are read, nothing parsed from it. */
	r = cs_store_load(&s, st, "web", &err);
	/* a change is seen by its ctime from the file system clock's next
	 * tick on (a few ms): one made in the same tick as the save is found
	 * only when the texts are read */
	usleep(50000);
	p = tmp_path("state-bytes/certs/web/cert.pem");
	BIO *f = BIO_new_file(p, "w");
	tap_ok(r == 0 && s.unread && f && PEM_write_bio_X509(f, ca) == 1, "load, then another certificate in cert.pem",
	       NULL);
	BIO_free(f);
	r = cs_stored_texts(&s, &err);
	tap_int(r, -EIO, "the texts are refused");
	tap_ok(strstr(cs_err_msg(&err), "certs/web/cert.pem changed since the state folder was read (its SHA-256 is "
				       "not the one in meta.json)") != NULL, "the message names the file and why", "%s",
	       cs_err_msg(&err));
	cs_err_clear(&err);
	tap_ok(!cs_stored_cert(&s, &err) && !cs_stored_key(&s, NULL) && !s.cert_pem.data,
	       "no certificate parsed from it", NULL);
	cs_err_clear(&err);
	cs_stored_free(&s);
	/* Loaded again: changed since meta.json (its ctime is later), so read
	 * and parsed as before, its bytes not handed out. */
	r = cs_store_load(&s, st, "web", &err);
	tap_ok(r < 0 && strstr(cs_err_msg(&err), "key.pem does not belong to") != NULL,
	       "loaded again: read, and the key does not belong to it", "%s", cs_err_msg(&err));
	cs_err_clear(&err);
	cs_stored_free(&s);
	f = BIO_new_file(p, "w");
	PEM_write_bio_X509(f, c);
	BIO_free(f);
	free(p);

	/* The same key in another encoding: it loads, its bytes are not kept. */
	p = tmp_path("state-bytes/certs/web/key.pem");
	f = BIO_new_file(p, "w");
	tap_ok(f && PEM_write_bio_PrivateKey_traditional(f, k, NULL, NULL, 0, NULL, NULL) == 1,
	       "rewrite key.pem in the traditional encoding", NULL);
	BIO_free(f);
	free(p);
	r = cs_store_load(&s, st, "web", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(cs_stored_key(&s, NULL), k) == 1, "the rewritten key still loads", "%s", cs_err_msg(&err));
	tap_ok(!s.key_pem.data && buf_is(&s.cert_pem, &cp), "its bytes are not handed out, the certificate's are",
	       NULL);
	cs_stored_free(&s);
	cs_buf_free_secret(&kp);
	cs_buf_free(&cp);
	cs_buf_free(&chp);
	sk_X509_pop_free(chain, X509_free);
	X509_free(c);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cak);
	cs_store_close(st);
	free(dir);
}

/* Many saves at once: each item as a single save would leave it, both
 * when the group is small enough to fsync file by file and when it syncs
 * the file system; a bad item fails alone.  And a write group: renames in
 * order at commit, nothing at path before, temporaries gone when freed. */
static void test_save_many(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *st = NULL;
	char *dir = tmp_path("many");
	cs_store_open(&st, dir, true, &err);
	enum { N = 20 };
	EVP_PKEY *keys[N];
	X509 *certs[N];
	char names[N][16];
	struct cs_store_item it[N];
	memset(it, 0, sizeof it);
	for (int i = 0; i < N; i++) {
		keys[i] = new_key();
		certs[i] = new_cert(keys[i], 0x500 + i, "many");
		snprintf(names[i], sizeof names[i], "m%d", i);
		it[i] = (struct cs_store_item){ .name = names[i], .key = keys[i], .cert = certs[i], .issuer = "lab",
						.requested_cn = "many", .keep_pem = i == 0 };
	}
	/* Item 3's certificate is not for its key: it alone fails. */
	it[3].cert = certs[4];
	cs_store_save_many(st, it, N);
	int good = 0;
	for (int i = 0; i < N; i++) {
		struct cs_stored s;
		memset(&s, 0, sizeof s);
		if (i != 3 && it[i].r == 0 && cs_store_load(&s, st, names[i], &err) == 0 && EVP_PKEY_eq(cs_stored_key(&s, NULL), keys[i]) == 1 &&
		    X509_cmp(cs_stored_cert(&s, NULL), certs[i]) == 0 && s.cert_pem.len && s.key_pem.len)
			good++;
		cs_err_clear(&err);
		cs_stored_free(&s);
	}
	tap_int(good, N - 1, "save_many: every good item saved as a single save would");
	tap_ok(it[3].r == -EINVAL && strstr(cs_err_msg(&it[3].err), "save m3: the certificate does not belong to the key"),
	       "save_many: the bad item fails alone, named", "%s", cs_err_msg(&it[3].err));
	tap_ok(it[0].key_pem.len && strstr(it[0].key_pem.data, "PRIVATE KEY") && it[0].cert_pem.len,
	       "save_many: the bytes written are handed back when asked", NULL);
	for (int i = 0; i < N; i++) {
		cs_err_clear(&it[i].err);
		cs_buf_free_secret(&it[i].key_pem);
		cs_buf_free(&it[i].cert_pem);
		cs_buf_free(&it[i].chain_pem);
	}
	/* Saving the batch again archives each current set first. */
	for (int i = 0; i < N; i++)
		it[i] = (struct cs_store_item){ .name = names[i], .key = keys[i], .cert = certs[i], .issuer = "lab",
						.r = i == 3 ? -1 : 0 };
	cs_store_save_many(st, it, N);
	char *arch = cs_xasprintf("many/certs/m7/archive/%X/key.pem", 0x507);
	tap_ok(it[7].r == 0 && exists(arch), "save_many: the previous set is archived", "%s", arch);
	tap_ok(it[3].r == -1 && !it[3].err.msg, "save_many: an item marked to leave out is left out", NULL);
	free(arch);
	for (int i = 0; i < N; i++)
		cs_err_clear(&it[i].err);

	/* Issuing records and ledgers, many at once. */
	X509_REQ *csr = NULL;
	cs_csr_create(&csr, keys[0], "many", NULL, 0, &err);
	struct cs_store_item is[N];
	for (int i = 0; i < N; i++)
		is[i] = (struct cs_store_item){ .name = names[i], .key = keys[0], .csr = csr, .issuer = "lab",
						.serial = "0ABC", .issue_time = 1700000000 };
	cs_store_save_issuing_many(st, is, N);
	cs_store_issued_append_many(st, is, N);
	int recorded = 0;
	for (int i = 0; i < N; i++) {
		struct cs_issuing iss;
		if (is[i].r == 0 && cs_store_load_issuing(&iss, st, names[i], &err) == 0 && !strcmp(iss.serial, "0ABC") &&
		    iss.issue_time == 1700000000) {
			recorded++;
			cs_issuing_free(&iss);
		}
		cs_err_clear(&err);
		char *ledger = cs_xasprintf("many/certs/%s/issued.jsonl", names[i]);
		if (!exists(ledger))
			recorded = -100;
		free(ledger);
	}
	tap_int(recorded, N, "issuing and ledger, many at once: each recorded");
	X509_REQ_free(csr);

	/* A write group: nothing at the paths before commit, in place after,
	 * with a kept (appended) file; freed uncommitted, no temporary left. */
	for (size_t count = 3; count <= 12; count += 9) {
		struct cs_wgroup *g = cs_wgroup_new();
		char *paths[12];
		for (size_t i = 0; i < count; i++) {
			paths[i] = cs_xasprintf("%s/wg%zu-%zu", dir, count, i);
			cs_wgroup_write(g, paths[i], "data", 4, 0640, &err);
		}
		bool none = true;
		for (size_t i = 0; i < count; i++)
			none = none && access(paths[i], F_OK) != 0;
		tap_ok(none && cs_wgroup_size(g) == count, "wgroup: nothing in place before commit", "%zu files", count);
		tap_int(cs_wgroup_commit(g, &err), 0, "wgroup: commit");
		struct stat sb;
		bool all = true;
		for (size_t i = 0; i < count; i++) {
			all = all && stat(paths[i], &sb) == 0 && sb.st_size == 4 && (sb.st_mode & 07777) == 0640;
			free(paths[i]);
		}
		tap_ok(all, "wgroup: every file in place with its mode", "%zu files (%s)", count,
		       count > CS_WGROUP_FSYNC_MAX ? "syncfs" : "fsync each");
		char *p = cs_xasprintf("%s/wg-dropped", dir);
		cs_wgroup_write(g, p, "x", 1, 0600, &err);
		cs_wgroup_free(g);
		char *cmd = cs_xasprintf("ls -a '%s' | grep -q certsync-", dir);
		tap_ok(access(p, F_OK) != 0 && system(cmd) != 0, "wgroup: freed uncommitted, no temporary file left", NULL);
		free(cmd);
		free(p);
	}
	for (int i = 0; i < N; i++) {
		EVP_PKEY_free(keys[i]);
		X509_free(certs[i]);
	}
	cs_store_close(st);
	free(dir);
}

/* The journal grouped: lines written at once, each complete, in order. */
static void test_journal_grouped(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *st = NULL;
	char *dir = tmp_path("jgroup");
	cs_store_open(&st, dir, true, &err);
	cs_store_journal_group(st, true);
	int r = 0;
	for (int i = 0; i < 50 && r == 0; i++) {
		json_t *rec = json_pack("{s:i}", "n", i);
		r = cs_store_journal(st, rec, &err);
		json_decref(rec);
	}
	tap_int(r, 0, "grouped journal: 50 records");
	tap_int(cs_store_journal_sync(st, &err), 0, "grouped journal: sync");
	char *p = tmp_path("jgroup/journal.jsonl");
	struct cs_buf b = CS_BUF_INIT;
	cs_file_read(&b, p, 1 << 20, &err);
	int lines = 0;
	for (size_t i = 0; i < b.len; i++)
		lines += b.data[i] == '\n';
	tap_int(lines, 50, "grouped journal: every line there before the group ends");
	cs_store_journal_group(st, false);
	json_t *rec = json_pack("{s:s}", "after", "group");
	tap_int(cs_store_journal(st, rec, &err), 0, "journal after the group, as before");
	json_decref(rec);
	cs_buf_free(&b);
	free(p);
	cs_store_close(st);
	free(dir);
}

/* A certificate for key signed by ca_key as ca (not self-signed). */
static X509 *new_cert_by(EVP_PKEY *key, long serial, const char *cn, EVP_PKEY *ca_key, X509 *ca)
{
	X509 *x = new_cert(key, serial, cn);
	X509_set_issuer_name(x, X509_get_subject_name(ca));
	X509_sign(x, ca_key, EVP_sha256());
	return x;
}

/* A set saved by this certsync loads unparsed: the facts come from
 * meta.json, equal to what parsing gives; the objects are parsed on first
 * use.  The signer is recorded only when its key verifies the leaf. */
static void test_unparsed(void)
{
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *st = NULL;
	char *dir = tmp_path("state-unparsed");
	EVP_PKEY *k = new_key(), *cak = new_key(), *other = new_key();
	X509 *ca = new_cert(cak, 0x99, "unparsed ca"), *stranger = new_cert(other, 0x98, "unparsed ca");
	X509 *c = new_cert_by(k, 0x5005, "five", cak, ca);
	STACK_OF(X509) *chain = sk_X509_new_null(), *wrong = sk_X509_new_null();
	sk_X509_push(chain, ca);
	sk_X509_push(wrong, stranger);
	struct cs_stored s;
	cs_store_open(&st, dir, true, &err);
	int r = cs_store_save(st, "five", k, c, chain, "lab", "five", &err);
	tap_ok(r == 0, "save five", "%s", cs_err_msg(&err));
	r = cs_store_load(&s, st, "five", &err);
	tap_ok(r == 0 && !s.cert && !s.key && !s.chain && s.have_info && s.key_matches, "loaded unparsed", "%s",
	       cs_err_msg(&err));
	struct cs_cert_info want;
	cs_cert_info_get(&want, c, NULL);
	tap_ok(s.info.serial && !strcmp(s.info.serial, want.serial) && !strcmp(s.info.sha256, want.sha256) &&
	       !strcmp(s.info.sha1, want.sha1) && !strcmp(s.info.subject, want.subject) &&
	       !strcmp(s.info.issuer, want.issuer) && s.info.not_before == want.not_before &&
	       s.info.not_after == want.not_after && cs_key_spec_equal(&s.info.key, &want.key) &&
	       s.info.is_ca == want.is_ca && cs_streq(s.info.aki, want.aki) && cs_streq(s.info.ski, want.ski),
	       "the facts from meta.json are what parsing gives", NULL);
	char spki[65];
	cs_store_spki_sha256(spki, ca);
	tap_str(s.signed_by, spki, "signed by the CA's key");
	tap_ok(X509_cmp(cs_stored_cert(&s, NULL), c) == 0 && EVP_PKEY_eq(cs_stored_key(&s, NULL), k) == 1 &&
	       sk_X509_num(cs_stored_chain(&s, NULL)) == 1, "parsed on first use", NULL);
	cs_stored_free(&s);
	cs_cert_info_free(&want);

	/* A chain whose first certificate did not sign the leaf: no signer. */
	r = cs_store_save(st, "five", k, c, wrong, "lab", "five", &err);
	r = r == 0 ? cs_store_load(&s, st, "five", &err) : r;
	tap_ok(r == 0 && s.have_info && !s.signed_by, "no signer recorded for a chain that did not sign it", "%s",
	       cs_err_msg(&err));
	cs_stored_free(&s);

	/* Written by an older certsync (no "cert"): parsed at once. */
	char *p = tmp_path("state-unparsed/certs/five/meta.json");
	json_t *meta = json_load_file(p, 0, NULL);
	json_object_del(meta, "cert");
	json_dump_file(meta, p, 0);
	json_decref(meta);
	r = cs_store_load(&s, st, "five", &err);
	tap_ok(r == 0 && s.cert && s.key && s.chain && !s.have_info && !s.signed_by && s.key_matches &&
	       X509_cmp(s.cert, c) == 0, "an older meta.json: parsed", "%s", cs_err_msg(&err));
	cs_stored_free(&s);
	free(p);

	sk_X509_free(chain);
	sk_X509_free(wrong);
	X509_free(ca);
	X509_free(stranger);
	X509_free(c);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(other);
	cs_store_close(st);
	free(dir);
}

/* mkdir -p: from the deepest folder there, whatever is missing above it. */
static void test_mkdir_p(void)
{
	struct cs_err err = CS_ERR_INIT;
	char *deep = tmp_path("mk/a/b/c");
	tap_int(cs_mkdir_p(deep, 0700, &err), 0, "mkdir -p: three missing levels");
	struct stat st;
	tap_ok(stat(deep, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700, "mkdir -p: made with its mode", NULL);
	char *sib = tmp_path("mk/a/x/y");
	tap_int(cs_mkdir_p(sib, 0700, &err), 0, "mkdir -p: beside an existing folder");
	tap_int(cs_mkdir_p(sib, 0700, &err), 0, "mkdir -p: already there");
	char *file = tmp_path("mk/file");
	FILE *f = fopen(file, "w");
	if (f)
		fclose(f);
	char *under = tmp_path("mk/file/d/e");
	tap_int(cs_mkdir_p(under, 0700, &err), -ENOTDIR, "mkdir -p: under a file refused");
	char *want = cs_xasprintf("create folder %s: Not a directory", under);
	tap_str(err.msg, want, "mkdir -p: the message names the folder");
	cs_err_clear(&err);
	free(want);
	free(under);
	free(file);
	free(sib);
	free(deep);
}

static X509_REQ *request_for(EVP_PKEY *key, const char *cn)
{
	X509_REQ *csr = NULL;
	char *names[] = { (char *)cn };
	cs_csr_create(&csr, key, cn, names, 1, NULL);
	return csr;
}

static size_t files_in(const char *rel)
{
	char *p = tmp_path(rel);
	DIR *d = opendir(p);
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	free(p);
	return n;
}

/* The issuance records: many issuances to a file, read back by a later
 * run, dropped file by file, replaced by a newer issuance of the same
 * name; a damaged file left alone; a folder certs/NAME/issuing/ of an
 * earlier version still read and dropped. */
static void test_issuing_records(void)
{
	enum { N = 130 };
	struct cs_err err = CS_ERR_INIT;
	struct cs_store *a = NULL;
	char *dir = tmp_path("records");
	cs_store_open(&a, dir, true, &err);
	cs_store_lock(a, "apply", &err);
	struct cs_store_item it[N];
	EVP_PKEY *keys[N];
	X509_REQ *csrs[N];
	char names[N][16], serials[N][16];
	for (size_t i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "c%zu", i);
		snprintf(serials[i], sizeof serials[i], "5E%04zX", i);
		keys[i] = new_key();
		csrs[i] = request_for(keys[i], names[i]);
		it[i] = (struct cs_store_item){ .name = names[i], .key = keys[i], .csr = csrs[i], .issuer = "lab",
						.serial = serials[i], .issue_time = 1767225600 + (int64_t)i,
						.keep_pem = i == 0, .err = CS_ERR_INIT };
	}
	it[7].r = -1; /* left out */
	cs_store_save_issuing_many(a, it, N);
	size_t ok = 0;
	for (size_t i = 0; i < N; i++)
		ok += it[i].r == 0;
	tap_ok(ok == N - 1 && it[7].r == -1, "every item recorded but the one left out", "%zu", ok);
	tap_int((int)files_in("records/issuing"), 3, "129 issuances in three record files (64 each at most)");
	tap_ok(it[0].key_pem.len > 0 && strstr(it[0].key_pem.data, "PRIVATE KEY"), "the key's bytes handed back",
	       NULL);
	cs_buf_free_secret(&it[0].key_pem);
	cs_store_close(a);

	/* A later run reads them from the files. */
	struct cs_store *b = NULL;
	tap_int(cs_store_open(&b, dir, false, &err), 0, "the store opens with the records");
	cs_store_lock(b, "apply", &err);
	size_t same = 0;
	for (size_t i = 0; i < N; i++) {
		struct cs_issuing iss;
		int r = cs_store_load_issuing(&iss, b, names[i], &err);
		cs_err_clear(&err);
		if (i == 7) {
			tap_int(r, -ENOENT, "the item left out has no record");
			continue;
		}
		same += r == 0 && EVP_PKEY_eq(iss.req.key, keys[i]) == 1 && !strcmp(iss.serial, serials[i]) &&
			iss.issue_time == 1767225600 + (int64_t)i && !strcmp(iss.req.issuer, "lab") &&
			X509_REQ_get_subject_name(iss.req.csr) != NULL;
		cs_issuing_free(&iss);
	}
	tap_int((int)same, N - 1, "each issuance read back: key, serial, issue time, issuer, request");

	/* Drop the first file's 64 issuances (c8 was in it) and ten of the
	 * second's: one file removed, one written again with 54. */
	const char *drop[74];
	size_t nd = 0;
	for (size_t i = 0; i < 65; i++)
		if (i != 7)
			drop[nd++] = names[i];
	for (size_t i = 65; i < 75; i++)
		drop[nd++] = names[i];
	tap_int(cs_store_drop_issuing_many(b, drop, nd, &err), 0, "drop 74 at once");
	tap_int((int)files_in("records/issuing"), 2, "the emptied record file is removed");
	/* The same run still reads the ones kept in the file written again. */
	struct cs_issuing kept_iss;
	int rk = cs_store_load_issuing(&kept_iss, b, names[80], &err);
	tap_ok(rk == 0 && EVP_PKEY_eq(kept_iss.req.key, keys[80]) == 1,
	       "an issuance kept in a file written again still reads in the same run", "%s", cs_err_msg(&err));
	if (rk == 0)
		cs_issuing_free(&kept_iss);
	cs_err_clear(&err);
	cs_store_close(b);
	struct cs_store *c = NULL;
	cs_store_open(&c, dir, false, &err);
	cs_store_lock(c, "apply", &err);
	size_t gone = 0, kept = 0;
	for (size_t i = 0; i < N; i++) {
		struct cs_issuing iss;
		int r = cs_store_load_issuing(&iss, c, names[i], &err);
		cs_err_clear(&err);
		if (i < 75)
			gone += r == -ENOENT;
		else
			kept += r == 0 && EVP_PKEY_eq(iss.req.key, keys[i]) == 1;
		if (r == 0)
			cs_issuing_free(&iss);
	}
	tap_ok(gone == 75 && kept == N - 75, "the dropped ones are gone, the others kept", "%zu gone, %zu kept",
	       gone, kept);

	/* A newer issuance of c100 replaces the older one, in its old file too. */
	EVP_PKEY *k2 = new_key();
	X509_REQ *r2 = request_for(k2, "c100");
	tap_int(cs_store_save_issuing(c, "c100", k2, r2, "lab", "AB12", 1767300000, &err), 0, "c100 recorded again");
	cs_store_close(c);
	struct cs_store *d = NULL;
	cs_store_open(&d, dir, false, &err);
	cs_store_lock(d, "apply", &err);
	struct cs_issuing iss;
	int r = cs_store_load_issuing(&iss, d, "c100", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(iss.req.key, k2) == 1 && !strcmp(iss.serial, "AB12"),
	       "the newer issuance is the one read back", "%s", cs_err_msg(&err));
	if (r == 0)
		cs_issuing_free(&iss);
	cs_err_clear(&err);
	char *grep = cs_xasprintf("grep -l '\"c100\"' %s/issuing/*.json | wc -l | grep -qx 1", dir);
	tap_ok(system(grep) == 0, "only one record file names c100", NULL);
	free(grep);

	/* A damaged record file is left alone; the others still read. */
	char *bad = tmp_path("records/issuing/0000000000000000-9999.json");
	cs_file_write_atomic(bad, "{ not json", 10, 0600, (uid_t)-1, (gid_t)-1, NULL);
	cs_store_close(d);
	struct cs_store *e = NULL;
	cs_store_open(&e, dir, false, &err);
	cs_store_lock(e, "apply", &err);
	r = cs_store_load_issuing(&iss, e, "c120", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(iss.req.key, keys[120]) == 1, "a damaged record file does not hide the others",
	       "%s", cs_err_msg(&err));
	if (r == 0)
		cs_issuing_free(&iss);
	cs_err_clear(&err);
	const char *all[N];
	for (size_t i = 0; i < N; i++)
		all[i] = names[i];
	tap_int(cs_store_drop_issuing_many(e, all, N, &err), 0, "drop them all");
	tap_int((int)files_in("records/issuing"), 1, "only the damaged file is left");
	tap_ok(access(bad, F_OK) == 0, "... untouched", NULL);
	unlink(bad);
	free(bad);
	/* The folder now empty: nothing recorded (UBSan once caught a qsort
	 * of no names here). */
	struct cs_store *f_st = NULL;
	cs_store_open(&f_st, dir, false, &err);
	tap_int(cs_store_load_issuing(&iss, f_st, "c1", &err), -ENOENT, "an empty records folder: nothing recorded");
	cs_err_clear(&err);
	cs_store_close(f_st);

	/* A folder certs/NAME/issuing/ an earlier version left. */
	EVP_PKEY *k3 = new_key();
	X509_REQ *r3 = request_for(k3, "old");
	struct cs_buf kp = CS_BUF_INIT, cp = CS_BUF_INIT;
	cs_key_to_pem(&kp, k3, NULL);
	cs_csr_to_pem(&cp, r3, NULL);
	char *od = tmp_path("records/certs/old/issuing");
	cs_mkdir_p(od, 0700, NULL);
	char *f = cs_xasprintf("%s/key.pem", od);
	cs_file_write_atomic(f, kp.data, kp.len, 0600, (uid_t)-1, (gid_t)-1, NULL);
	free(f);
	f = cs_xasprintf("%s/request.csr", od);
	cs_file_write_atomic(f, cp.data, cp.len, 0644, (uid_t)-1, (gid_t)-1, NULL);
	free(f);
	static const char meta[] = "{\"issuer\": \"lab\", \"created_at\": \"2026-01-01T00:00:00Z\", "
				   "\"serial\": \"0DD1\", \"issue_time\": \"2026-01-01T00:00:00Z\"}\n";
	f = cs_xasprintf("%s/meta.json", od);
	cs_file_write_atomic(f, meta, sizeof meta - 1, 0644, (uid_t)-1, (gid_t)-1, NULL);
	free(f);
	r = cs_store_load_issuing(&iss, e, "old", &err);
	tap_ok(r == 0 && EVP_PKEY_eq(iss.req.key, k3) == 1 && !strcmp(iss.serial, "0DD1"),
	       "an earlier version's issuing/ folder is read", "%s", cs_err_msg(&err));
	if (r == 0)
		cs_issuing_free(&iss);
	cs_err_clear(&err);
	tap_int(cs_store_drop_issuing(e, "old", &err), 0, "and dropped");
	tap_ok(!exists("records/certs/old/issuing"), "... folder and all", NULL);
	/* One cut short before its meta.json (written last): no issuance, and
	 * dropped by name like the others (recover_issuing). */
	cs_mkdir_p(od, 0700, NULL);
	f = cs_xasprintf("%s/key.pem", od);
	cs_file_write_atomic(f, kp.data, kp.len, 0600, (uid_t)-1, (gid_t)-1, NULL);
	free(f);
	tap_int(cs_store_load_issuing(&iss, e, "old", &err), -ENOENT, "an issuing/ folder without meta.json: none");
	cs_err_clear(&err);
	tap_int(cs_store_drop_issuing(e, "old", &err), 0, "dropped by name");
	tap_ok(!exists("records/certs/old/issuing"), "... its key with it", NULL);
	free(od);
	cs_buf_free_secret(&kp);
	cs_buf_free(&cp);
	EVP_PKEY_free(k3);
	X509_REQ_free(r3);
	EVP_PKEY_free(k2);
	X509_REQ_free(r2);
	cs_store_close(e);
	for (size_t i = 0; i < N; i++) {
		EVP_PKEY_free(keys[i]);
		X509_REQ_free(csrs[i]);
		cs_err_clear(&it[i].err);
	}
	free(dir);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_open();
	test_mkdir_p();
	test_save_load();
	test_written_bytes();
	test_unparsed();
	test_pending();
	test_lock();
	test_journal();
	test_intents();
	test_issuing_records();
	test_save_many();
	test_journal_grouped();
	char *rm = cs_xasprintf("rm -rf '%s'", tmpdir);
	if (system(rm) != 0)
		tap_note("could not remove %s", tmpdir);
	free(rm);
	return tap_done();
}
