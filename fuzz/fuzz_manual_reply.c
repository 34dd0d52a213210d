/* Fuzzes what the manual issuer reads from its inbox: the input becomes one
 * or two reply files (inbox/www.pem, .crt, .cer, .der, .p7b or .p7c: PEM,
 * DER or PKCS#7 as a CA sends them) and cs_issuer_manual.collect()
 * (providers/issuer/manual.c) looks for the answer to a pending request,
 * through cs_certs_parse(), cs_certs_split() and cs_cert_info_get()
 * (reconcile/x509.c): the files' certificates, the leaf for the pending
 * key, its chain, the names, the dates.
 *
 * Input: byte 0 chooses the files: bits 0-2 the first file's extension
 * (modulo 6), bits 3-5 the second's, bit 6 set: two files; then, for two
 * files, two bytes (little-endian) saying how much of the rest goes into
 * the first.  The pending key is fixed (fuzz/corpus/manual_reply's seeds
 * hold certificates for it, so the fuzzer starts from replies that are
 * accepted).  Files live in the harness's temporary folder. */
#include "fuzz/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include "providers/issuer/issuer.h"
#include "providers/base/util.h"
#include "providers/base/x509.h"

/* The pending request's key (P-256, made for the fuzzer, used nowhere
 * else). */
static const char pending_key_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgMXTHJPE8T0uFWzE2\n"
	"A/bskrjCKKXC+bysxnAT8q26J9ChRANCAAQN5TDT4lW8p488d0OyHMbjhURM+Myj\n"
	"mnNaivOGgYafnbxWhUMHAJ8xk/8Mo+tfdAcMYzSdKx8VhllyglVKawu7\n"
	"-----END PRIVATE KEY-----\n";

static const char *const exts[] = { "pem", "crt", "cer", "der", "p7b", "p7c" };
#define N_EXTS (sizeof exts / sizeof exts[0])

static struct cs_issuer_cfg issuer;
static struct cs_cert_cfg cert;
static char *dns_names[] = { "example.org" };
static EVP_PKEY *pending_key;
static char *files[N_EXTS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	issuer.name = "fuzz";
	issuer.kind = CS_ISSUER_MANUAL;
	issuer.manual.requests = fz_path("requests");
	issuer.manual.inbox = fz_path("inbox");
	cs_mkdir_p(issuer.manual.inbox, 0700, NULL);
	cert.name = "www";
	cert.common_name = "www.example.org";
	cert.dns_names = dns_names;
	cert.n_dns_names = 1;
	cert.issuer = "fuzz";
	cert.key.type = CS_KEY_ECDSA;
	cert.key.curve = CS_CURVE_P256;
	if (cs_key_parse(&pending_key, pending_key_pem, sizeof pending_key_pem - 1, NULL) < 0)
		abort();
	for (size_t i = 0; i < N_EXTS; i++) {
		char name[32];
		snprintf(name, sizeof name, "inbox/www.%s", exts[i]);
		files[i] = fz_path(name);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned sel = data[0];
	size_t a = (sel & 7) % N_EXTS, b = ((sel >> 3) & 7) % N_EXTS;
	bool two = (sel & 0x40) && a != b;
	const uint8_t *rest = data + 1;
	size_t n = size - 1, first = n;
	if (two) {
		if (size < 3)
			return 0;
		rest = data + 3;
		n = size - 3;
		first = (size_t)data[1] | (size_t)data[2] << 8;
		if (first > n)
			first = n;
	}
	fz_write(files[a], rest, first);
	if (two)
		fz_write(files[b], rest + first, n - first);

	struct cs_issuer_reply reply;
	struct cs_err err = CS_ERR_INIT;
	int r = cs_issuer_manual.collect(&reply, &issuer, &cert, pending_key, &err);
	if (r == 0) {
		/* An accepted reply is for the pending key and has a chain. */
		if (!reply.cert || !reply.chain || !cs_key_matches_cert(pending_key, reply.cert) ||
		    !reply.path)
			abort();
	} else if (!cs_err_msg(&err)[0]) {
		abort(); /* a refused reply says why */
	}
	cs_issuer_reply_free(&reply);
	cs_err_clear(&err);
	unlink(files[a]);
	if (two)
		unlink(files[b]);
	ERR_clear_error();
	return 0;
}
