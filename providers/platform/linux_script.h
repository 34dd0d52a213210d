/* `script` bindings on Linux: run the operator's sh script on the host,
 * told where the certificate's files are.
 *
 * One run() per binding: the command is `sh -s` and everything else comes
 * on its standard input, so neither the key nor the script is ever on a
 * command line (where `ps` shows it) and the script's size is not limited
 * by one.  That input (rendered by cs_linux_script_render, pure, so the exact
 * text is testable) makes a private folder (mktemp -d, umask 077), writes
 * the private key, certificate, chain, fullchain, key+cert+chain and the
 * script itself there from here-documents, runs the script with the
 * environment below and the binding's `args` as `--name value`, and
 * removes the folder whatever happens:
 *
 *   CERTSYNC_HOST         the host's name in the config
 *   CERTSYNC_THUMBPRINT   SHA-1 of the certificate (upper-case hex)
 *   CERTSYNC_SHA256       SHA-256 of the certificate
 *   CERTSYNC_SERIAL       serial number (upper-case hex)
 *   CERTSYNC_NOT_AFTER    expiry, RFC 3339 UTC
 *   CERTSYNC_CERT, CERTSYNC_KEY, CERTSYNC_CHAIN, CERTSYNC_FULLCHAIN,
 *   CERTSYNC_PEM          paths of the files (PEM; PEM is key + cert + chain)
 *
 * A script starting with "#!" is executed (its interpreter); any other is
 * run with sh.  Its standard input is /dev/null. */
#ifndef CS_LINUX_SCRIPT_H
#define CS_LINUX_SCRIPT_H

#include "providers/platform/platform.h"

/* The standard input of `sh -s` for host_name; user_script is the
 * script's text.  out holds the private key: free it with
 * cs_buf_free_secret.  -EINVAL when an argument name is not a plain name. */
int cs_linux_script_render(struct cs_buf *out, const struct cs_bind_script *b, const char *host_name,
			   const char *user_script, size_t user_len, const struct cs_material *want);

/* Read the local script, run it on the host; a non-zero exit is an error
 * carrying the end of its stderr. */
int cs_linux_script_run(struct cs_transport *t, const struct cs_binding_cfg *b, const struct cs_material *want,
			struct cs_err *err);

#endif
