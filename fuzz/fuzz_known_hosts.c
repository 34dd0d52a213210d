/* Fuzzes the known_hosts reader of the SSH transport
 * (providers/transport/known_hosts.c): the input is a known_hosts file,
 * looked up with cs_kh_lookup() for a host on port 22 and on another port
 * (plain, wildcard, negated and hashed entries all meet these names), then
 * written to a file and checked with cs_known_hosts_verify() (strict, or
 * accept-new, which appends the key) and cs_known_hosts_types().
 *
 * Input: byte 0 chooses the server key (bits 0-1: ed25519, ecdsa, rsa, or
 * a blob taken from the input: byte 1 is its length), the host (bit 2) and
 * the port (bit 3); bit 4 set: accept-new.  The rest is the file.  Files
 * live in the harness's temporary folder. */
#include "fuzz/common.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "providers/transport/known_hosts.h"

/* Server key blobs (SSH wire form), as a server would offer them; the
 * rsa one is truncated after its type and exponent: the lookup only
 * compares bytes. */
static const unsigned char ed25519[] = {
	0, 0, 0, 11, 's', 's', 'h', '-', 'e', 'd', '2', '5', '5', '1', '9',
	0, 0, 0, 32, 0x4f, 0x1c, 0x0b, 0x9d, 0x55, 0x6a, 0x21, 0x7e, 0x90, 0x13, 0x42, 0xab,
	0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32,
	0x10, 0x0f, 0x1e, 0x2d,
};
static const unsigned char ecdsa[] = {
	0, 0, 0, 19, 'e', 'c', 'd', 's', 'a', '-', 's', 'h', 'a', '2', '-', 'n', 'i', 's', 't', 'p',
	'2', '5', '6', 0, 0, 0, 8, 'n', 'i', 's', 't', 'p', '2', '5', '6', 0, 0, 0, 5, 4, 1, 2, 3, 4,
};
static const unsigned char rsa[] = {
	0, 0, 0, 7, 's', 's', 'h', '-', 'r', 's', 'a', 0, 0, 0, 3, 1, 0, 1, 0, 0, 0, 4, 0xc1, 0x22, 0x33, 0x44,
};

static const char *const hosts[] = { "web1.example.org", "10.0.0.7" };
static char *file;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* A folder of its own: accept-new creates it when missing. */
	file = fz_path("ssh/known_hosts");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned sel = data[0];
	const unsigned char *blob;
	size_t blob_len;
	const uint8_t *text = data + 1;
	size_t len = size - 1;
	switch (sel & 3) {
	case 0: blob = ed25519; blob_len = sizeof ed25519; break;
	case 1: blob = ecdsa; blob_len = sizeof ecdsa; break;
	case 2: blob = rsa; blob_len = sizeof rsa; break;
	default:
		if (size < 2)
			return 0;
		blob_len = data[1];
		if (blob_len > size - 2)
			blob_len = size - 2;
		blob = data + 2;
		text = data + 2 + blob_len;
		len = size - 2 - blob_len;
		break;
	}
	const char *host = hosts[(sel >> 2) & 1];
	int port = sel & 8 ? 2222 : 22;
	bool accept_new = sel & 16;

	char *name = cs_kh_host_name(host, port);
	struct cs_kh_result res;
	if (cs_kh_lookup(&res, (const char *)text, len, name, blob, blob_len) < 0)
		abort();
	if ((res.status == CS_KH_UNKNOWN) != (res.line == 0) || !res.types.data)
		abort(); /* a decision names its line; no decision, no line */
	cs_kh_result_free(&res);
	free(name);

	char *dir = fz_path("ssh");
	if (sel & 32) {
		unlink(file); /* a missing file and folder count as empty */
		rmdir(dir);
	} else {
		mkdir(dir, 0700);
		fz_write(file, text, len);
	}
	struct cs_err err = CS_ERR_INIT;
	int r = cs_known_hosts_verify(file, host, port, blob, blob_len, accept_new, &err);
	if (r < 0 && !cs_err_msg(&err)[0])
		abort();
	cs_err_clear(&err);
	free(cs_known_hosts_types(file, host, port));
	free(dir);
	return 0;
}
