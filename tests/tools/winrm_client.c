/* A thin command-line front to the WinRM transport, for the integration
 * tests: one transport call per invocation, the same code path certsync
 * uses, nothing else.
 *
 *   winrm_client [options] run SCRIPT_FILE [INPUT_FILE]
 *   winrm_client [options] read PATH | stat PATH | remove PATH
 *   winrm_client [options] write PATH LOCAL_FILE
 *
 * options: --address A --port N --auth basic|ntlm|negotiate --user U
 *          --password-env VAR --ca-bundle FILE --insecure-http --timeout S
 *          --cap BYTES (stdout/stderr cap of run)
 *
 * run: the command's stdout and stderr go to ours, and its exit status is
 * ours.  Transport errors print "error: MESSAGE" and exit 100. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "providers/transport/transport.h"
#include "providers/base/util.h"

static int fail(struct cs_err *err)
{
	fprintf(stderr, "error: %s\n", cs_err_msg(err));
	cs_err_clear(err);
	return 100;
}

int main(int argc, char **argv)
{
	struct cs_host_cfg host = { .name = "sapphire", .platform = CS_PLATFORM_WINDOWS,
				    .transport = CS_TRANSPORT_WINRM };
	struct cs_winrm_cfg *w = &host.winrm;
	struct cs_err err = CS_ERR_INIT;
	size_t cap = 16 << 20;
	int i = 1;
	w->auth = CS_WINRM_NTLM;
	w->timeout = 60;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--insecure-http") == 0) {
			w->insecure_http = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "usage: %s needs a value\n", o);
			return 2;
		}
		i++;
		if (strcmp(o, "--address") == 0)
			w->address = (char *)v;
		else if (strcmp(o, "--port") == 0)
			w->port = (int)strtol(v, NULL, 10);
		else if (strcmp(o, "--auth") == 0)
			w->auth = strcmp(v, "basic") == 0 ? CS_WINRM_BASIC
				: strcmp(v, "negotiate") == 0 ? CS_WINRM_NEGOTIATE : CS_WINRM_NTLM;
		else if (strcmp(o, "--user") == 0)
			w->user = (char *)v;
		else if (strcmp(o, "--password-env") == 0)
			w->password = (struct cs_secret){ CS_SECRET_ENV, (char *)v };
		else if (strcmp(o, "--ca-bundle") == 0)
			w->ca_bundle = (char *)v;
		else if (strcmp(o, "--timeout") == 0)
			w->timeout = strtol(v, NULL, 10);
		else if (strcmp(o, "--cap") == 0)
			cap = (size_t)strtoull(v, NULL, 10);
		else if (strcmp(o, "--host-name") == 0)
			host.name = (char *)v;
		else {
			fprintf(stderr, "usage: unknown option %s\n", o);
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "usage: winrm_client [options] run|read|write|stat|remove ...\n");
		return 2;
	}
	const char *verb = argv[i++];
	struct cs_transport *t = NULL;
	if (cs_transport_open(&t, &host, &err) < 0)
		return fail(&err);
	int rc = 0;
	if (strcmp(verb, "run") == 0 && i < argc) {
		struct cs_buf script = CS_BUF_INIT, input = CS_BUF_INIT;
		struct cs_run_result res;
		if (cs_file_read(&script, argv[i], 0, &err) < 0 ||
		    (i + 1 < argc && cs_file_read(&input, argv[i + 1], 0, &err) < 0)) {
			rc = fail(&err);
		} else {
			cs_run_result_init(&res, cap);
			if (t->ops->run(t, script.data, input.data, input.len, &res, &err) < 0) {
				rc = fail(&err);
			} else {
				fwrite(res.out.data ? res.out.data : "", 1, res.out.len, stdout);
				fwrite(res.err.data ? res.err.data : "", 1, res.err.len, stderr);
				rc = res.exit_status;
			}
			cs_run_result_free(&res);
		}
		cs_buf_free(&script);
		cs_buf_free(&input);
	} else if (strcmp(verb, "read") == 0 && i < argc) {
		struct cs_buf b;
		cs_buf_init(&b, cap);
		if (t->ops->read_file(t, argv[i], &b, &err) < 0)
			rc = fail(&err);
		else
			fwrite(b.data ? b.data : "", 1, b.len, stdout);
		cs_buf_free(&b);
	} else if (strcmp(verb, "write") == 0 && i + 1 < argc) {
		struct cs_buf b = CS_BUF_INIT;
		struct cs_file_attrs attrs = { .mode = 0600, .owner = getenv("WINRM_CLIENT_OWNER") };
		if (cs_file_read(&b, argv[i + 1], 0, &err) < 0 ||
		    t->ops->write_file(t, argv[i], b.data ? b.data : "", b.len, &attrs, &err) < 0)
			rc = fail(&err);
		cs_buf_free(&b);
	} else if (strcmp(verb, "stat") == 0 && i < argc) {
		struct cs_file_stat st;
		if (t->ops->stat(t, argv[i], &st, &err) < 0)
			rc = fail(&err);
		else
			printf("exists=%d size=%lld\n", st.exists, (long long)st.size);
		cs_file_stat_free(&st);
	} else if (strcmp(verb, "remove") == 0 && i < argc) {
		if (t->ops->remove_file(t, argv[i], &err) < 0)
			rc = fail(&err);
	} else {
		fprintf(stderr, "usage: unknown verb or missing argument\n");
		rc = 2;
	}
	cs_transport_close(t);
	cs_err_clear(&err);
	return rc;
}
