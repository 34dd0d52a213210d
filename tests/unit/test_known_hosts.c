/* known_hosts matching (providers/transport/known_hosts.c): one table of
 * file texts and the verdict OpenSSH would give for the key. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "providers/transport/known_hosts.h"
#include "providers/base/util.h"
#include "tests/unit/tap.h"

/* An SSH wire blob: string type, string key bytes. */
static size_t make_blob(unsigned char *out, const char *type, unsigned char fill)
{
	size_t tl = strlen(type), off = 0;
	out[off++] = 0, out[off++] = 0, out[off++] = 0, out[off++] = (unsigned char)tl;
	memcpy(out + off, type, tl);
	off += tl;
	out[off++] = 0, out[off++] = 0, out[off++] = 0, out[off++] = 32;
	memset(out + off, fill, 32);
	return off + 32;
}

static char *b64(const unsigned char *p, size_t n)
{
	char *s = cs_xmalloc(n / 3 * 4 + 8);
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/* "|1|salt|hmac" for name, as ssh-keygen -H writes it. */
static char *hashed(const char *name, unsigned char salt_byte)
{
	unsigned char salt[20], mac[20];
	unsigned int len = 0;
	memset(salt, salt_byte, sizeof salt);
	HMAC(EVP_sha1(), salt, sizeof salt, (const unsigned char *)name, strlen(name), mac, &len);
	char *s = b64(salt, sizeof salt), *m = b64(mac, sizeof mac);
	char *r = cs_xasprintf("|1|%s|%s", s, m);
	free(s);
	free(m);
	return r;
}

static void too_slow(int sig)
{
	(void)sig;
	static const char msg[] = "not ok - many stars: no match, quickly (still matching after 5 s)\n";
	if (write(1, msg, sizeof msg - 1) < 0)
		_exit(1);
	_exit(1);
}

int main(void)
{
	unsigned char key[128], other[128], ecdsa[128];
	size_t key_len = make_blob(key, "ssh-ed25519", 0xAB);
	size_t other_len = make_blob(other, "ssh-ed25519", 0xCD);
	size_t ecdsa_len = make_blob(ecdsa, "ecdsa-sha2-nistp256", 0xEF);
	char *k = b64(key, key_len), *o = b64(other, other_len), *e = b64(ecdsa, ecdsa_len);
	char *h_port = hashed("[127.0.0.1]:2222", 1), *h_plain = hashed("127.0.0.1", 2);
	/* Drop the hash's last base64 character: one different byte. */
	char *h_bad = cs_xstrdup(h_port);
	h_bad[strlen(h_bad) - 2] = h_bad[strlen(h_bad) - 2] == 'A' ? 'B' : 'A';

	struct {
		const char *name;
		const char *host;
		int port;
		char *text;
		enum cs_kh_status want;
		int line;
		const char *types;
	} cases[] = {
		{ "bracketed host:port", "127.0.0.1", 2222, cs_xasprintf("[127.0.0.1]:2222 ssh-ed25519 %s\n", k), CS_KH_MATCH, 1, "ssh-ed25519" },
		{ "port 22 is the bare name", "web1.example.org", 22, cs_xasprintf("web1.example.org ssh-ed25519 %s comment here\n", k), CS_KH_MATCH, 1, "ssh-ed25519" },
		{ "bare name does not cover another port", "127.0.0.1", 2222, cs_xasprintf("127.0.0.1 ssh-ed25519 %s\n", k), CS_KH_UNKNOWN, 0, "" },
		{ "names compare without case", "Web1.Example.ORG", 22, cs_xasprintf("WEB1.example.org ssh-ed25519 %s\n", k), CS_KH_MATCH, 1, "ssh-ed25519" },
		{ "comma list", "127.0.0.1", 2222, cs_xasprintf("a.example,[127.0.0.1]:2222,b ssh-ed25519 %s\n", k), CS_KH_MATCH, 1, "ssh-ed25519" },
		{ "wildcards", "web7.example.org", 22, cs_xasprintf("web?.example.*,x ssh-ed25519 %s\n", k), CS_KH_MATCH, 1, "ssh-ed25519" },
		{ "stars: empty runs, middle, end", "web7.example.org", 22, cs_xasprintf("x,w*b*7*.*e*.org* ssh-ed25519 %s\n", k), CS_KH_MATCH, 1, "ssh-ed25519" },
		{ "a star does not cover a missing tail", "web7.example.org", 22, cs_xasprintf("*.example.org.uk,web7*x ssh-ed25519 %s\n", k), CS_KH_UNKNOWN, 0, "" },
		{ "negation wins", "web7.example.org", 22, cs_xasprintf("*.example.org,!web7.example.org ssh-ed25519 %s\n", k), CS_KH_UNKNOWN, 0, "" },
		{ "hashed [host]:port", "127.0.0.1", 2222, cs_xasprintf("%s ssh-ed25519 %s\n", h_port, k), CS_KH_MATCH, 1, "ssh-ed25519" },
		{ "hashed bare name", "127.0.0.1", 22, cs_xasprintf("%s ssh-ed25519 %s\n", h_plain, k), CS_KH_MATCH, 1, "ssh-ed25519" },
		{ "hashed other name", "127.0.0.1", 2222, cs_xasprintf("%s ssh-ed25519 %s\n", h_plain, k), CS_KH_UNKNOWN, 0, "" },
		{ "hashed, damaged hash", "127.0.0.1", 2222, cs_xasprintf("%s ssh-ed25519 %s\n", h_bad, k), CS_KH_UNKNOWN, 0, "" },
		{ "changed key", "127.0.0.1", 2222, cs_xasprintf("# c\n\n[127.0.0.1]:2222 ssh-ed25519 %s\n", o), CS_KH_MISMATCH, 3, "ssh-ed25519" },
		{ "changed, listed twice: one match is enough", "127.0.0.1", 2222, cs_xasprintf("[127.0.0.1]:2222 ssh-ed25519 %s\n[127.0.0.1]:2222 ssh-ed25519 %s\n", o, k), CS_KH_MATCH, 2, "ssh-ed25519" },
		{ "only another type known", "127.0.0.1", 2222, cs_xasprintf("[127.0.0.1]:2222 ecdsa-sha2-nistp256 %s\n", e), CS_KH_OTHER_TYPE, 1, "ecdsa-sha2-nistp256" },
		{ "revoked beats known", "127.0.0.1", 2222, cs_xasprintf("[127.0.0.1]:2222 ssh-ed25519 %s\n@revoked * ssh-ed25519 %s\n", k, k), CS_KH_REVOKED, 2, "ssh-ed25519" },
		{ "cert-authority lines are skipped", "127.0.0.1", 2222, cs_xasprintf("@cert-authority [127.0.0.1]:2222 ssh-ed25519 %s\n", k), CS_KH_UNKNOWN, 0, "" },
		{ "unparsable lines around, CRLF", "127.0.0.1", 2222, cs_xasprintf("garbage\r\nsk-ssh-ed25519@openssh.com AAAA\r\n[127.0.0.1]:2222 ssh-ed25519 not-base64!\r\n[127.0.0.1]:2222 ssh-ed25519 %s\r\n", k), CS_KH_MATCH, 4, "ssh-ed25519" },
		{ "no newline at the end", "127.0.0.1", 2222, cs_xasprintf("[127.0.0.1]:2222 ssh-ed25519 %s", k), CS_KH_MATCH, 1, "ssh-ed25519" },
		{ "empty file", "127.0.0.1", 2222, cs_xstrdup(""), CS_KH_UNKNOWN, 0, "" },
		{ "types in file order without duplicates", "h", 22, cs_xasprintf("h ecdsa-sha2-nistp256 %s\nh ssh-ed25519 %s\nh ecdsa-sha2-nistp256 %s\n", e, o, e), CS_KH_MISMATCH, 2, "ecdsa-sha2-nistp256,ssh-ed25519" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *name = cs_kh_host_name(cases[i].host, cases[i].port);
		struct cs_kh_result r;
		int rc = cs_kh_lookup(&r, cases[i].text, strlen(cases[i].text), name, key, key_len);
		tap_ok(rc == 0 && r.status == cases[i].want && r.line == cases[i].line &&
		       strcmp(r.types.data, cases[i].types) == 0, cases[i].name,
		       "rc %d status %d (want %d) line %d (want %d) types '%s' (want '%s')", rc,
		       (int)r.status, (int)cases[i].want, r.line, cases[i].line, r.types.data, cases[i].types);
		cs_kh_result_free(&r);
		free(name);
		free(cases[i].text);
	}

	/* Found by fuzz/fuzz_known_hosts: a pattern of many stars that does
	 * not match took time exponential in their number (recursion per
	 * star); the lookup must stay fast.  The alarm turns a hang into a
	 * failure. */
	signal(SIGALRM, too_slow);
	alarm(5);
	struct cs_buf stars = CS_BUF_INIT;
	cs_buf_puts(&stars, "web1");
	for (int i = 0; i < 40; i++)
		cs_buf_puts(&stars, "*a");
	cs_buf_printf(&stars, "*z ssh-ed25519 %s\n", k);
	struct cs_kh_result slow;
	int rc = cs_kh_lookup(&slow, stars.data, stars.len, "web1.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.org",
			      key, key_len);
	alarm(0);
	tap_ok(rc == 0 && slow.status == CS_KH_UNKNOWN, "many stars: no match, quickly", "rc %d status %d", rc,
	       (int)slow.status);
	cs_kh_result_free(&slow);
	cs_buf_free(&stars);

	/* Found by fuzz/fuzz_known_hosts: a key field that decodes to
	 * nothing ("=") looked up for an empty server key compared the two
	 * with memcmp(NULL, ...), undefined behaviour, and called them the
	 * same key.  An empty key matches nothing. */
	const char *empty_line = "web1 ssh-ed25519 =\n";
	struct cs_kh_result none;
	rc = cs_kh_lookup(&none, empty_line, strlen(empty_line), "web1", (const unsigned char *)"", 0);
	tap_ok(rc == 0 && none.status != CS_KH_MATCH, "an empty key matches nothing", "rc %d status %d", rc,
	       (int)none.status);
	cs_kh_result_free(&none);

	char *n = cs_kh_host_name("Web1", 22);
	tap_str(n, "web1", "host name: port 22");
	free(n);
	n = cs_kh_host_name("::1", 2222);
	tap_str(n, "[::1]:2222", "host name: other port");
	free(n);

	char type[64];
	cs_ssh_key_type(type, sizeof type, ecdsa, ecdsa_len);
	tap_str(type, "ecdsa-sha2-nistp256", "key type from the blob");
	cs_ssh_key_type(type, sizeof type, (const unsigned char *)"\0\0\1", 3);
	tap_str(type, "unknown", "key type of a short blob");

	/* SHA256 of the blob, unpadded base64: 43 characters after the prefix. */
	char fp[CS_SSH_FP_SIZE];
	cs_ssh_fingerprint(fp, key, key_len);
	tap_ok(strncmp(fp, "SHA256:", 7) == 0 && strlen(fp) == 7 + 43 && !strchr(fp, '='),
	       "fingerprint form", "%s", fp);

	free(k);
	free(o);
	free(e);
	free(h_port);
	free(h_plain);
	free(h_bad);
	return tap_done();
}
