/* Host-key checking against an OpenSSH known_hosts file, for the SSH
 * transport.
 *
 * The matching follows OpenSSH, not libssh2's knownhost API (why: the
 * comment at the top of known_hosts.c).  A line is: [@revoked|@cert-authority] PATTERNS KEYTYPE BASE64 [comment];
 * PATTERNS is a comma list of names with * and ? wildcards and !negation, or
 * one hashed "|1|salt|hmac" entry; a server on port 22 is looked up as
 * "host", on any other port as "[host]:port".  @cert-authority lines are
 * skipped (certsync does not do host certificates); @revoked ones refuse
 * their key. */
#ifndef CS_KNOWN_HOSTS_H
#define CS_KNOWN_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include "providers/base/buf.h"
#include "providers/base/err.h"

enum cs_kh_status {
	CS_KH_UNKNOWN = 0,   /* no entry for this host */
	CS_KH_MATCH,         /* an entry for this host has exactly this key */
	CS_KH_MISMATCH,      /* entries for this host have another key of the same type */
	CS_KH_OTHER_TYPE,    /* entries for this host, none of this key's type */
	CS_KH_REVOKED,       /* the key is marked @revoked */
};

struct cs_kh_result {
	enum cs_kh_status status;
	int line;            /* 1-based line of the deciding entry (0: none) */
	struct cs_buf types; /* comma list of the key types known for the host, in
				file order without duplicates ("" when none);
				owned by the result */
};
void cs_kh_result_free(struct cs_kh_result *r);

/* "[host]:port", or "host" for port 22; lowercased.  Caller frees. */
char *cs_kh_host_name(const char *host, int port);

/* Look the key blob (the SSH wire form: string type, then the key) up for
 * name (from cs_kh_host_name) in known_hosts text.  Never fails except for
 * memory (-ENOMEM); out must be freed with cs_kh_result_free. */
int cs_kh_lookup(struct cs_kh_result *out, const char *text, size_t len, const char *name,
		 const unsigned char *blob, size_t blob_len);

/* The key type named in a blob ("ssh-ed25519"), copied into out (size
 * bytes); "unknown" when the blob is malformed. */
void cs_ssh_key_type(char *out, size_t size, const unsigned char *blob, size_t blob_len);

/* "SHA256:" + unpadded base64 of SHA-256(blob), as ssh-keygen -l prints it. */
#define CS_SSH_FP_SIZE 64
void cs_ssh_fingerprint(char out[CS_SSH_FP_SIZE], const unsigned char *blob, size_t blob_len);

/* Check the server key of host (shown in messages as label) against file.
 * 0 when known; otherwise -EPERM with a message naming the file and the key's
 * fingerprint.  accept_new: an unknown host's key is appended to file (which
 * is created, with its folder, when missing); a changed key is never
 * replaced.  A missing file counts as empty. */
int cs_known_hosts_verify(const char *file, const char *host, int port,
			  const unsigned char *blob, size_t blob_len, bool accept_new,
			  struct cs_err *err);

/* Key types known for host:port in file, as a comma list, for ordering the
 * host-key algorithms the client offers (so that a server with several keys
 * shows the one we know).  NULL when none or the file is unreadable. */
char *cs_known_hosts_types(const char *file, const char *host, int port);

#endif
