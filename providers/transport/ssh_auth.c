/* User authentication for the SSH transport.
 *
 * Methods are tried in the order an operator expects from OpenSSH: the agent,
 * then the configured identity file, then the password.  Every attempt is
 * recorded (without any secret) so that a failure says exactly what was
 * tried.  libssh2 1.10 signs with RSA keys only as "ssh-rsa" (SHA-1), which
 * OpenSSH 8.8 and later refuse by default; an RSA key that was refused gets
 * that explanation, because the server's plain "denied" sends people
 * looking in the wrong places. */
#include "providers/transport/ssh_auth.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "providers/base/base64.h"
#include "providers/base/buf.h"
#include "providers/base/secret.h"
#include "providers/base/util.h"

#define RSA_HINT "libssh2 1.10 signs RSA keys only with SHA-1 (ssh-rsa), which OpenSSH 8.8 " \
	"and later refuse: use an Ed25519 or ECDSA key, or build certsync with libssh2 ≥ 1.11"

static bool method_offered(const char *methods, const char *m)
{
	size_t n = strlen(m);
	for (const char *s = methods; s && *s;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		if (len == n && memcmp(s, m, n) == 0)
			return true;
		if (!comma)
			break;
		s = comma + 1;
	}
	return false;
}

static bool blob_is_rsa(const unsigned char *blob, size_t len)
{
	static const unsigned char rsa[] = { 0, 0, 0, 7, 's', 's', 'h', '-', 'r', 's', 'a' };
	return len >= sizeof rsa && memcmp(blob, rsa, sizeof rsa) == 0;
}

/* The body of an "-----BEGIN OPENSSH PRIVATE KEY-----" file holds its
 * public key unencrypted: magic, cipher, kdf, kdf options, count, then the
 * public key blob. */
static bool openssh_key_is_rsa(const char *pem)
{
	const char *begin = strstr(pem, "-----BEGIN OPENSSH PRIVATE KEY-----");
	const char *end = begin ? strstr(begin, "-----END OPENSSH PRIVATE KEY-----") : NULL;
	bool rsa = false;
	if (!end)
		return false;
	begin += strlen("-----BEGIN OPENSSH PRIVATE KEY-----");
	struct cs_buf body = CS_BUF_INIT;
	if (cs_b64_decode(&body, begin, (size_t)(end - begin), CS_B64_SPACE) < 0)
		goto out;
	const unsigned char *bin = (const unsigned char *)body.data;
	size_t n = body.len;
	static const char magic[] = "openssh-key-v1";
	size_t off = sizeof magic; /* includes its NUL, as the format does */
	if (n > off && memcmp(bin, magic, sizeof magic) == 0) {
		/* Skip three strings (cipher, kdf, kdf options) and the key count. */
		for (int i = 0; i < 3 && off + 4 <= n; i++) {
			uint32_t len = (uint32_t)bin[off] << 24 | (uint32_t)bin[off + 1] << 16 |
				       (uint32_t)bin[off + 2] << 8 | bin[off + 3];
			off += 4 + (size_t)len;
		}
		off += 4;
		if (off + 4 <= n)
			rsa = blob_is_rsa(bin + off + 4, n - off - 4);
	}
out:
	cs_buf_free_secret(&body);
	return rsa;
}

/* Is the identity an RSA key?  Only used to explain a refusal, so a key it
 * cannot tell about is "no". */
static bool identity_is_rsa(const char *path)
{
	struct cs_buf text = CS_BUF_INIT;
	struct cs_err ignored = CS_ERR_INIT;
	bool rsa = false;
	char *pub = cs_xasprintf("%s.pub", path);
	if (cs_file_read(&text, pub, 1 << 16, &ignored) == 0) {
		rsa = strncmp(text.data, "ssh-rsa ", 8) == 0;
		goto out;
	}
	cs_err_clear(&ignored);
	cs_buf_reset(&text);
	if (cs_file_read(&text, path, 1 << 20, &ignored) < 0)
		goto out;
	if (strstr(text.data, "-----BEGIN RSA PRIVATE KEY-----")) {
		rsa = true;
	} else if (strstr(text.data, "-----BEGIN OPENSSH PRIVATE KEY-----")) {
		rsa = openssh_key_is_rsa(text.data);
	} else if (strstr(text.data, "-----BEGIN PRIVATE KEY-----")) {
		BIO *bio = BIO_new_mem_buf(text.data, (int)text.len);
		EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
		rsa = pkey && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA;
		EVP_PKEY_free(pkey);
		BIO_free(bio);
	}
out:
	cs_err_clear(&ignored);
	cs_buf_free_secret(&text);
	free(pub);
	return rsa;
}

/* keyboard-interactive: answer every prompt with the password (what
 * OpenSSH's PAM conversation asks for).  The password is reached through
 * the session's abstract pointer, set only for the duration of the call. */
static LIBSSH2_USERAUTH_KBDINT_RESPONSE_FUNC(kbd_answer)
{
	(void)name;
	(void)name_len;
	(void)instruction;
	(void)instruction_len;
	(void)prompts;
	const struct cs_buf *pw = *abstract;
	for (int i = 0; i < num_prompts; i++) {
		/* libssh2 frees the answers with free(). */
		responses[i].text = malloc(pw->len + 1);
		if (!responses[i].text) {
			responses[i].length = 0;
			continue;
		}
		memcpy(responses[i].text, pw->data, pw->len + 1);
		responses[i].length = (unsigned int)pw->len;
	}
}

static void tried_add(struct cs_buf *tried, const char *fmt, const char *a, const char *b)
{
	if (tried->len)
		cs_buf_puts(tried, ", ");
	cs_buf_printf(tried, fmt, a, b);
}

static int try_agent(LIBSSH2_SESSION *session, const char *user, struct cs_buf *tried,
		     bool *rsa_refused)
{
	LIBSSH2_AGENT *agent = libssh2_agent_init(session);
	struct libssh2_agent_publickey *id = NULL;
	int n = 0, r = -EACCES;
	if (!agent || libssh2_agent_connect(agent) != 0) {
		tried_add(tried, "ssh-agent (%s%s)", "cannot connect to SSH_AUTH_SOCK", "");
		goto out;
	}
	if (libssh2_agent_list_identities(agent) != 0) {
		tried_add(tried, "ssh-agent (%s%s)", "cannot list its keys", "");
		goto out;
	}
	bool all_rsa = true;
	while (libssh2_agent_get_identity(agent, &id, id) == 0) {
		n++;
		if (libssh2_agent_userauth(agent, user, id) == 0) {
			r = 0;
			goto out;
		}
		if (!blob_is_rsa(id->blob, id->blob_len))
			all_rsa = false;
	}
	if (n == 0) {
		tried_add(tried, "ssh-agent (%s%s)", "no keys", "");
	} else {
		char count[32];
		snprintf(count, sizeof count, "%d", n);
		tried_add(tried, "ssh-agent (%s key%s refused)", count, n == 1 ? "" : "s");
		if (all_rsa)
			*rsa_refused = true;
	}
out:
	if (agent) {
		libssh2_agent_disconnect(agent);
		libssh2_agent_free(agent);
	}
	return r;
}

int cs_ssh_auth(LIBSSH2_SESSION *session, const struct cs_ssh_cfg *cfg, struct cs_err *err)
{
	const char *user = cfg->user ? cfg->user : "";
	unsigned int ulen = (unsigned int)strlen(user);
	struct cs_buf tried = CS_BUF_INIT, secret = CS_BUF_INIT;
	char *identity = NULL;
	bool rsa_identity = false, rsa_agent = false;
	int r = -EACCES;

	char *methods = libssh2_userauth_list(session, user, ulen);
	if (!methods) {
		if (libssh2_userauth_authenticated(session))
			return 0; /* the server took "none" */
		char *msg = NULL;
		libssh2_session_last_error(session, &msg, NULL, 0);
		return cs_err_set(err, -EIO, "authentication as %s: %s", user,
				  msg ? msg : "no answer from the server");
	}

	if (getenv("SSH_AUTH_SOCK") && method_offered(methods, "publickey")) {
		if (try_agent(session, user, &tried, &rsa_agent) == 0)
			goto ok;
	}

	if (cfg->identity && method_offered(methods, "publickey")) {
		identity = cs_path_expand_home(cfg->identity);
		const char *pass = NULL;
		if (cfg->passphrase.kind != CS_SECRET_NONE) {
			if ((r = cs_secret_resolve_line(&cfg->passphrase, &secret, err)) < 0) {
				cs_err_prefix(err, "passphrase of identity %s", identity);
				goto out;
			}
			pass = secret.data;
		}
		/* Also refuses a FIFO, which libssh2 would wait on. */
		if ((r = cs_file_check_regular(identity, err)) < 0) {
			cs_err_prefix(err, "identity");
			goto out;
		}
		int rc = libssh2_userauth_publickey_fromfile_ex(session, user, ulen, NULL,
								identity, pass);
		cs_buf_free_secret(&secret);
		if (rc == 0)
			goto ok;
		if (rc == LIBSSH2_ERROR_FILE) {
			tried_add(&tried, "identity %s (%s)", identity, pass ?
				  "cannot be read: wrong passphrase or a format libssh2 cannot read" :
				  "cannot be read: it needs a passphrase, or libssh2 cannot read its format");
		} else {
			tried_add(&tried, "identity %s (%s)", identity, "refused");
			rsa_identity = identity_is_rsa(identity);
		}
	}

	bool pw_method = method_offered(methods, "password");
	bool kbd_method = method_offered(methods, "keyboard-interactive");
	if (cfg->password.kind != CS_SECRET_NONE && (pw_method || kbd_method)) {
		char what[300];
		cs_secret_describe(&cfg->password, what, sizeof what);
		if ((r = cs_secret_resolve_line(&cfg->password, &secret, err)) < 0) {
			cs_err_prefix(err, "password");
			goto out;
		}
		if (pw_method && libssh2_userauth_password_ex(session, user, ulen, secret.data,
							       (unsigned int)secret.len, NULL) == 0)
			goto ok;
		if (kbd_method) {
			void **abstract = libssh2_session_abstract(session);
			void *saved = *abstract;
			*abstract = &secret;
			int rc = libssh2_userauth_keyboard_interactive_ex(session, user, ulen, kbd_answer);
			*abstract = saved;
			if (rc == 0)
				goto ok;
		}
		tried_add(&tried, "password from %s (%s)", what, "refused");
		cs_buf_free_secret(&secret);
	}

	if (!tried.len)
		cs_buf_puts(&tried, "nothing: no ssh-agent, identity or password that the server accepts is configured");
	r = cs_err_set(err, -EACCES, "authentication as %s failed; tried %s; the server accepts %s%s%s",
		       user, tried.data, methods, rsa_identity || rsa_agent ? "; the key is RSA: " : "",
		       rsa_identity || rsa_agent ? RSA_HINT : "");
	goto out;
ok:
	r = 0;
out:
	cs_buf_free_secret(&secret);
	cs_buf_free(&tried);
	free(identity);
	return r;
}
