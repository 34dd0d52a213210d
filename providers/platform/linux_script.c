/* `script` bindings on Linux (see linux_script.h). */
#include "providers/platform/linux_script.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include "providers/base/util.h"
#include "providers/base/quote.h"

/* Scripts are text a person wrote: anything bigger is a mistake. */
#define MAX_SCRIPT (4u << 20)
#define MAX_STDERR_SHOWN 600

/* Does text hold a line that is exactly word? */
static bool has_line(const char *text, size_t len, const char *word)
{
	size_t wl = strlen(word);
	for (size_t i = 0; i + wl <= len; i++) {
		if ((i == 0 || text[i - 1] == '\n') && !memcmp(text + i, word, wl) &&
		    (i + wl == len || text[i + wl] == '\n'))
			return true;
	}
	return false;
}

/* A here-document delimiter that appears as a line in none of the texts. */
static void pick_delimiter(char out[32], const char *const *texts, const size_t *lens, size_t n)
{
	for (;;) {
		unsigned char rnd[8];
		if (RAND_bytes(rnd, sizeof rnd) != 1)
			abort();
		snprintf(out, 32, "CERTSYNC_EOF_%02X%02X%02X%02X%02X%02X%02X%02X", rnd[0], rnd[1], rnd[2],
			 rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		bool clash = false;
		for (size_t i = 0; i < n && !clash; i++)
			clash = has_line(texts[i], lens[i], out);
		if (!clash)
			return;
	}
}

static void heredoc(struct cs_buf *out, const char *file, const char *text, size_t len, const char *delim)
{
	cs_buf_printf(out, "cat >\"$d/%s\" <<'%s'\n", file, delim);
	cs_buf_append(out, text, len);
	if (len && text[len - 1] != '\n')
		cs_buf_puts(out, "\n");
	cs_buf_printf(out, "%s\n", delim);
}

static void env_var(struct cs_buf *out, const char *name, const char *value)
{
	char *q = cs_sh_quote(value);
	cs_buf_printf(out, "%s=%s \\\n", name, q);
	free(q);
}

int cs_linux_script_render(struct cs_buf *out, const struct cs_bind_script *b, const char *host_name,
			   const char *user_script, size_t user_len, const struct cs_material *want)
{
	for (size_t i = 0; i < b->n_args; i++)
		if (!cs_script_arg_name_ok(b->args[i].name))
			return -EINVAL;
	const char *texts[] = { want->key_pem.data ? want->key_pem.data : "",
				want->cert_pem.data ? want->cert_pem.data : "",
				want->chain_pem.data ? want->chain_pem.data : "", user_script };
	const size_t lens[] = { want->key_pem.len, want->cert_pem.len, want->chain_pem.len, user_len };
	char delim[32];
	pick_delimiter(delim, texts, lens, 4);

	/* The folder is named for the run (cs_temp_tag()): if this shell is
	 * killed before its EXIT trap, the next apply finds and removes it
	 * (the transports' remove_temps). */
	cs_buf_printf(out,
		    "set -eu\n"
		    "umask 077\n"
		    "d=$(mktemp -d \"${TMPDIR:-/tmp}/certsync-%s.XXXXXX\")\n"
		    "trap 'rm -rf \"$d\"' EXIT\n"
		    "trap 'exit 129' HUP\n"
		    "trap 'exit 130' INT\n"
		    "trap 'exit 143' TERM\n", cs_temp_tag());
	heredoc(out, "key.pem", texts[0], lens[0], delim);
	heredoc(out, "cert.pem", texts[1], lens[1], delim);
	heredoc(out, "chain.pem", texts[2], lens[2], delim);
	cs_buf_puts(out,
		    "cat \"$d/cert.pem\" \"$d/chain.pem\" >\"$d/fullchain.pem\"\n"
		    "cat \"$d/key.pem\" \"$d/cert.pem\" \"$d/chain.pem\" >\"$d/combined.pem\"\n");
	heredoc(out, "script", user_script, user_len, delim);
	bool shebang = user_len >= 2 && user_script[0] == '#' && user_script[1] == '!';
	if (shebang)
		cs_buf_puts(out, "chmod 700 \"$d/script\"\n");
	char not_after[21];
	cs_time_rfc3339(not_after, want->info.not_after);
	cs_buf_puts(out, "set +e\n");
	env_var(out, "CERTSYNC_HOST", host_name);
	env_var(out, "CERTSYNC_THUMBPRINT", want->info.sha1);
	env_var(out, "CERTSYNC_SHA256", want->info.sha256);
	env_var(out, "CERTSYNC_SERIAL", want->info.serial);
	env_var(out, "CERTSYNC_NOT_AFTER", not_after);
	cs_buf_puts(out,
		    "CERTSYNC_CERT=\"$d/cert.pem\" CERTSYNC_KEY=\"$d/key.pem\" CERTSYNC_CHAIN=\"$d/chain.pem\" \\\n"
		    "CERTSYNC_FULLCHAIN=\"$d/fullchain.pem\" CERTSYNC_PEM=\"$d/combined.pem\" \\\n");
	cs_buf_puts(out, shebang ? "\"$d/script\"" : "sh \"$d/script\"");
	for (size_t i = 0; i < b->n_args; i++) {
		char *q = cs_sh_quote(b->args[i].value);
		cs_buf_printf(out, " --%s %s", b->args[i].name, q);
		free(q);
	}
	return cs_buf_puts(out, " </dev/null\n");
}

int cs_linux_script_run(struct cs_transport *t, const struct cs_binding_cfg *b, const struct cs_material *want,
			struct cs_err *err)
{
	const char *path = b->script.path;
	struct cs_buf text = CS_BUF_INIT, input = CS_BUF_INIT;
	struct cs_run_result res;
	cs_run_result_init(&res, 64 * 1024);
	int r = cs_file_read(&text, path, MAX_SCRIPT + 1, err);
	if (r < 0) {
		cs_err_prefix(err, "script");
		goto out;
	}
	if (text.len > MAX_SCRIPT) {
		r = cs_err_set(err, -EFBIG, "script %s is larger than %u KiB: keep it on the host and make this one call it",
			       path, MAX_SCRIPT / 1024);
		goto out;
	}
	if (memchr(text.data ? text.data : "", '\0', text.len)) {
		r = cs_err_set(err, -EINVAL, "script %s is not text (it holds a NUL byte)", path);
		goto out;
	}
	if ((r = cs_linux_script_render(&input, &b->script, t->host->name, text.data ? text.data : "", text.len,
					want)) < 0) {
		r = cs_err_set(err, r, "script %s: argument names must be plain names", path);
		goto out;
	}
	if ((r = t->ops->run(t, "sh -s", input.data, input.len, &res, err)) < 0) {
		cs_err_prefix(err, "script %s", path);
		goto out;
	}
	if (res.exit_status != 0) {
		/* The end of a script's stderr says why; the beginning is often noise. */
		char *said = cs_run_failure_text(&res, MAX_STDERR_SHOWN, true);
		r = cs_err_set(err, -EIO, "script %s exited with status %d%s%s", path, res.exit_status,
			       said[0] ? ": " : "", said);
		free(said);
	}
out:
	cs_run_result_free(&res);
	cs_buf_free_secret(&input);
	cs_buf_free(&text);
	return r;
}
