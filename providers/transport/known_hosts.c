/* OpenSSH known_hosts: looking a server's host key up, fingerprints, and
 * appending a new key for host_key_policy: accept-new.
 *
 * Why not libssh2's knownhost API (libssh2_knownhost_readfile/checkp), which
 * is linked and does read hashed "|1|" entries and "[host]:port" names: it
 * cannot give what users see today.  (1) Messages name the deciding line
 * ("known_hosts FILE line 12 has another key"); checkp returns the entry,
 * not its line.  (2) libssh2 1.10 also accepts a plain "host" entry for a server on
 * another port, where OpenSSH only accepts "[host]:port": a different trust
 * decision.  (3) readfile stops at the first line it cannot parse (an sk-
 * key, @cert-authority), so later entries are not seen; @revoked and
 * wildcard/negated patterns are not known to it.  (4) accept-new appends one
 * line under a lock; libssh2_knownhost_writefile rewrites the whole file
 * from what it parsed, which would drop the lines it skipped and comments.
 * The matching rules themselves are in known_hosts.h. */
#include "providers/transport/known_hosts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include "providers/base/base64.h"
#include "providers/base/util.h"
#include "providers/base/quote.h"

/* A known_hosts file larger than this is a mistake, not a list of hosts. */
#define KNOWN_HOSTS_MAX (16u << 20)

void cs_kh_result_free(struct cs_kh_result *r)
{
	if (!r)
		return;
	cs_buf_free(&r->types);
	r->status = CS_KH_UNKNOWN;
	r->line = 0;
}

char *cs_kh_host_name(const char *host, int port)
{
	char *name = port == 22 ? cs_xstrdup(host) : cs_xasprintf("[%s]:%d", host, port);
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return name;
}

void cs_ssh_fingerprint(char out[CS_SSH_FP_SIZE], const unsigned char *blob, size_t blob_len)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(blob, blob_len, md, &mdlen, EVP_sha256(), NULL);
	/* ssh-keygen prints it without the padding. */
	char *b64 = cs_b64_encode(md, mdlen, CS_B64_NOPAD);
	snprintf(out, CS_SSH_FP_SIZE, "SHA256:%s", b64);
	free(b64);
}

void cs_ssh_key_type(char *out, size_t size, const unsigned char *blob, size_t blob_len)
{
	if (blob_len >= 4) {
		uint32_t n = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 |
			     (uint32_t)blob[2] << 8 | blob[3];
		if (n > 0 && n < 64 && n <= blob_len - 4) {
			snprintf(out, size, "%.*s", (int)n, (const char *)blob + 4);
			return;
		}
	}
	snprintf(out, size, "unknown");
}

/* OpenSSH's pattern language: * any run, ? one character; host names
 * compare without case.  Greedy, going back only to the last star seen: a
 * later star can match anything an earlier one could, so this is linear in
 * name times pattern, where trying every split at every star took time
 * exponential in the number of stars (a line of them hung the lookup). */
static bool wildmatch(const char *s, const char *p, size_t plen)
{
	size_t pi = 0, star_p = 0;
	const char *star_s = NULL;
	while (*s) {
		if (pi < plen && p[pi] == '*') {
			star_p = ++pi;
			star_s = s;
		} else if (pi < plen && (p[pi] == '?' || tolower((unsigned char)p[pi]) == tolower((unsigned char)*s))) {
			pi++;
			s++;
		} else if (star_s) {
			pi = star_p;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

/* A hashed entry |1|base64(salt)|base64(HMAC-SHA1(salt, name)). */
static bool hashed_match(const char *name, const char *field, size_t len)
{
	const char *salt = field + 3;
	const char *bar = memchr(salt, '|', len - 3);
	bool match = false;
	struct cs_buf key = CS_BUF_INIT, want = CS_BUF_INIT;
	if (!bar)
		return false;
	if (cs_b64_decode(&key, salt, (size_t)(bar - salt), CS_B64_NOPAD) < 0 || !key.len ||
	    cs_b64_decode(&want, bar + 1, (size_t)(field + len - bar - 1), CS_B64_NOPAD) < 0 ||
	    want.len != 20)
		goto out;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	if (!HMAC(EVP_sha1(), key.data, (int)key.len, (const unsigned char *)name, strlen(name),
		  mac, &maclen))
		goto out;
	match = maclen == 20 && CRYPTO_memcmp(mac, want.data, 20) == 0;
out:
	cs_buf_free(&key);
	cs_buf_free(&want);
	return match;
}

/* Does the host field (comma list, or one hashed entry) name this host?
 * A matching negated pattern excludes the host whatever else matches. */
static bool hosts_match(const char *name, const char *field, size_t len)
{
	if (len > 3 && memcmp(field, "|1|", 3) == 0)
		return hashed_match(name, field, len);
	bool match = false;
	const char *end = field + len;
	while (field < end) {
		const char *comma = memchr(field, ',', (size_t)(end - field));
		size_t n = comma ? (size_t)(comma - field) : (size_t)(end - field);
		bool neg = n && field[0] == '!';
		if (wildmatch(name, field + neg, n - neg)) {
			if (neg)
				return false;
			match = true;
		}
		field += n + 1;
	}
	return match;
}

/* Split off the next blank-separated field of [*p, end). */
static bool next_field(const char **p, const char *end, const char **f, size_t *n)
{
	const char *s = *p;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s == end)
		return false;
	const char *e = s;
	while (e < end && *e != ' ' && *e != '\t')
		e++;
	*f = s;
	*n = (size_t)(e - s);
	*p = e;
	return true;
}

static int add_type(struct cs_buf *types, const char *t, size_t n)
{
	/* Already listed?  The list is short: a linear scan is fine. */
	const char *s = types->data ? types->data : "";
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		if (len == n && memcmp(s, t, n) == 0)
			return 0;
		s += len + (comma ? 1 : 0);
	}
	if (types->len && cs_buf_puts(types, ",") < 0)
		return -ENOMEM;
	return cs_buf_append(types, t, n) < 0 ? -ENOMEM : 0;
}

int cs_kh_lookup(struct cs_kh_result *out, const char *text, size_t len, const char *name,
		 const unsigned char *blob, size_t blob_len)
{
	char type[64];
	cs_ssh_key_type(type, sizeof type, blob, blob_len);
	size_t type_len = strlen(type);
	int match_line = 0, mismatch_line = 0, revoked_line = 0, other_line = 0;
	int r = 0, lineno = 0;
	struct cs_buf key = CS_BUF_INIT;

	memset(out, 0, sizeof *out);
	cs_buf_init(&out->types, 0);
	if (cs_buf_append(&out->types, "", 0) < 0)
		return -ENOMEM;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *cur = p;
		p = nl ? nl + 1 : end;
		lineno++;
		const char *f;
		size_t n;
		if (!next_field(&cur, le, &f, &n) || f[0] == '#')
			continue;
		bool revoked = false;
		if (f[0] == '@') {
			if (n == 8 && memcmp(f, "@revoked", 8) == 0)
				revoked = true;
			else
				continue; /* @cert-authority: host certificates are not used */
			if (!next_field(&cur, le, &f, &n))
				continue;
		}
		const char *hosts = f;
		size_t hosts_len = n;
		const char *ktype, *kdata;
		size_t ktype_len, kdata_len;
		if (!next_field(&cur, le, &ktype, &ktype_len) ||
		    !next_field(&cur, le, &kdata, &kdata_len))
			continue;
		while (kdata_len && kdata[kdata_len - 1] == '\r')
			kdata_len--;
		if (!hosts_match(name, hosts, hosts_len))
			continue;
		cs_buf_reset(&key);
		/* An empty key (a field that decodes to nothing) is no key: it
		 * matches nothing, not even an empty server key. */
		bool same_key = cs_b64_decode(&key, kdata, kdata_len, CS_B64_NOPAD) == 0 &&
				key.len > 0 && key.len == blob_len &&
				memcmp(key.data, blob, blob_len) == 0;
		if (revoked) {
			if (same_key && !revoked_line)
				revoked_line = lineno;
			continue;
		}
		if ((r = add_type(&out->types, ktype, ktype_len)) < 0)
			goto out;
		if (same_key) {
			if (!match_line)
				match_line = lineno;
		} else if (ktype_len == type_len && memcmp(ktype, type, type_len) == 0) {
			if (!mismatch_line)
				mismatch_line = lineno;
		} else if (!other_line) {
			other_line = lineno;
		}
	}
	/* A revoked key loses even when it is also listed as known. */
	if (revoked_line) {
		out->status = CS_KH_REVOKED;
		out->line = revoked_line;
	} else if (match_line) {
		out->status = CS_KH_MATCH;
		out->line = match_line;
	} else if (mismatch_line) {
		out->status = CS_KH_MISMATCH;
		out->line = mismatch_line;
	} else if (other_line) {
		out->status = CS_KH_OTHER_TYPE;
		out->line = other_line;
	}
out:
	cs_buf_free(&key);
	return r;
}

static int read_known_hosts(struct cs_buf *text, const char *file, struct cs_err *err)
{
	int r = cs_file_read(text, file, KNOWN_HOSTS_MAX, err);
	if (r == -ENOENT) {
		cs_err_clear(err);
		cs_buf_reset(text);
		return cs_buf_append(text, "", 0);
	}
	if (r < 0)
		return cs_err_prefix(err, "known_hosts");
	return 0;
}

/* Append "name type base64" to file, creating it (0600, folder 0700) when
 * missing.  One write() under an exclusive lock: hosts gathered in parallel
 * may add to the same file at once. */
static int append_key(const char *file, const char *name, const char *type,
		      const unsigned char *blob, size_t blob_len, struct cs_err *err)
{
	char *dir = cs_path_dirname(file);
	char *b64 = cs_b64_encode(blob, blob_len, 0);
	struct cs_buf line = CS_BUF_INIT;
	int fd = -1, r = 0;

	struct stat st;
	if (stat(dir, &st) < 0 && (r = cs_mkdir_p(dir, 0700, err)) < 0)
		goto out;
	/* O_NONBLOCK: a FIFO here fails at once instead of waiting for a
	 * reader (reading it first already refuses one). */
	fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0) {
		r = cs_err_errno(err, -errno, "add the host key to %s", file);
		goto out;
	}
	if (flock(fd, LOCK_EX) < 0) {
		r = cs_err_errno(err, -errno, "lock %s", file);
		goto out;
	}
	/* A file whose last line lacks its newline must not be glued to ours. */
	off_t size = lseek(fd, 0, SEEK_END);
	if (size > 0) {
		char last = '\n';
		if (pread(fd, &last, 1, size - 1) == 1 && last != '\n')
			cs_buf_puts(&line, "\n");
	}
	if (cs_buf_printf(&line, "%s %s %s\n", name, type, b64) < 0) {
		r = cs_err_set(err, -ENOMEM, "add the host key to %s: out of memory", file);
		goto out;
	}
	ssize_t w = write(fd, line.data, line.len);
	if (w < 0 || (size_t)w != line.len) {
		r = cs_err_errno(err, w < 0 ? -errno : -EIO, "add the host key to %s", file);
		goto out;
	}
	if (fsync(fd) < 0) {
		r = cs_err_errno(err, -errno, "add the host key to %s: fsync", file);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	cs_buf_free(&line);
	free(b64);
	free(dir);
	return r;
}

int cs_known_hosts_verify(const char *file, const char *host, int port,
			  const unsigned char *blob, size_t blob_len, bool accept_new,
			  struct cs_err *err)
{
	struct cs_buf text = CS_BUF_INIT;
	struct cs_kh_result res = { 0 };
	char fp[CS_SSH_FP_SIZE], type[64];
	char *name = cs_kh_host_name(host, port);
	char *quoted = NULL;
	int r;

	cs_ssh_fingerprint(fp, blob, blob_len);
	cs_ssh_key_type(type, sizeof type, blob, blob_len);
	if ((r = read_known_hosts(&text, file, err)) < 0)
		goto out;
	if ((r = cs_kh_lookup(&res, text.data, text.len, name, blob, blob_len)) < 0) {
		r = cs_err_set(err, r, "known_hosts %s: out of memory", file);
		goto out;
	}
	quoted = cs_sh_quote(name);
	switch (res.status) {
	case CS_KH_MATCH:
		r = 0;
		break;
	case CS_KH_REVOKED:
		r = cs_err_set(err, -EPERM, "host key %s %s is marked @revoked in known_hosts %s line %d; "
			       "refusing to connect", type, fp, file, res.line);
		break;
	case CS_KH_MISMATCH:
		r = cs_err_set(err, -EPERM, "host key changed: the server offers %s %s, known_hosts %s "
			       "line %d has another key; refusing to connect (possible man-in-the-middle "
			       "attack; if the key was replaced on purpose, remove the old entry with "
			       "ssh-keygen -R %s -f %s)", type, fp, file, res.line, quoted, file);
		break;
	case CS_KH_OTHER_TYPE:
		r = cs_err_set(err, -EPERM, "host key changed: the server offers %s %s, known_hosts %s "
			       "has only %s for %s (line %d); refusing to connect (possible "
			       "man-in-the-middle attack; if the keys were replaced on purpose, remove "
			       "the old entries with ssh-keygen -R %s -f %s)", type, fp, file,
			       res.types.data, name, res.line, quoted, file);
		break;
	case CS_KH_UNKNOWN:
		if (accept_new) {
			r = append_key(file, name, type, blob, blob_len, err);
			break;
		}
		r = cs_err_set(err, -EPERM, "host key not in known_hosts %s; its SHA-256 fingerprint "
			       "is %s (%s); check it, then add the key to the file or set "
			       "host_key_policy: accept-new", file, fp, type);
		break;
	}
out:
	free(quoted);
	free(name);
	cs_kh_result_free(&res);
	cs_buf_free(&text);
	return r;
}

char *cs_known_hosts_types(const char *file, const char *host, int port)
{
	struct cs_buf text = CS_BUF_INIT;
	struct cs_kh_result res = { 0 };
	struct cs_err err = CS_ERR_INIT;
	char *name = cs_kh_host_name(host, port);
	char *types = NULL;
	/* No key has an empty blob: the lookup then only collects types. */
	static const unsigned char none[4] = { 0, 0, 0, 0 };

	if (read_known_hosts(&text, file, &err) == 0 &&
	    cs_kh_lookup(&res, text.data, text.len, name, none, sizeof none) == 0 && res.types.len)
		types = cs_buf_detach(&res.types, NULL);
	cs_kh_result_free(&res);
	cs_buf_free(&text);
	cs_err_clear(&err);
	free(name);
	return types;
}
