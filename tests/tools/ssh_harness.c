/* ssh_harness: drive the SSH transport from a shell script, so that the
 * integration test (tests/integration/test_ssh_transport.sh) can check the
 * remote side with plain file tools and kill sshd processes mid-transfer.
 *
 *   ssh_harness [options] OP ARGS... [:: OP ARGS...]...
 *
 * Options build the host's ssh config: --name --address --port --user
 * --identity FILE --passphrase-env VAR --password-env VAR --password-file F
 * --known-hosts FILE --accept-new --sudo --timeout SECONDS.
 * All OPs run over one connection, in order:
 *   run CMD [IN_FILE|- [OUT_FILE|- [ERR_FILE|- [CAP]]]]
 *   read PATH [OUT_FILE|- [CAP]]
 *   write PATH SRC_FILE MODE [OWNER|- [GROUP|-]]
 *   stat PATH
 *   remove PATH
 * Each prints one line; the first failure prints "error: MESSAGE" and exits 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "providers/transport/transport.h"
#include "providers/base/util.h"

static int usage(void)
{
	fputs("usage: ssh_harness [options] OP ARGS... [:: OP ARGS...]...\n", stderr);
	return 2;
}

static const char *arg(int argc, char **argv, int i)
{
	return i < argc && strcmp(argv[i], "::") != 0 && strcmp(argv[i], "-") != 0 ? argv[i] : NULL;
}

static int save(const char *file, const struct cs_buf *b)
{
	if (!file)
		return 0;
	FILE *f = fopen(file, "wb");
	if (!f)
		return -errno;
	if (b->len)
		fwrite(b->data, 1, b->len, f);
	return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char **argv)
{
	struct cs_host_cfg host = { 0 };
	struct cs_ssh_cfg *c = &host.ssh;
	host.name = "test";
	host.platform = CS_PLATFORM_LINUX;
	host.transport = CS_TRANSPORT_SSH;
	c->port = 22;
	c->timeout = 10;
	int i = 1;
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(o, "--accept-new")) {
			c->host_key_accept_new = true;
			continue;
		}
		if (!strcmp(o, "--sudo")) {
			c->become_sudo = true;
			continue;
		}
		if (!strcmp(o, "--windows")) { /* commands go to PowerShell or cmd: no POSIX start line */
			host.platform = CS_PLATFORM_WINDOWS;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (!strcmp(o, "--name"))
			host.name = argv[i];
		else if (!strcmp(o, "--address"))
			c->address = argv[i];
		else if (!strcmp(o, "--port"))
			c->port = (int)strtol(v, NULL, 10);
		else if (!strcmp(o, "--user"))
			c->user = argv[i];
		else if (!strcmp(o, "--identity"))
			c->identity = argv[i];
		else if (!strcmp(o, "--passphrase-env"))
			c->passphrase = (struct cs_secret){ CS_SECRET_ENV, argv[i] };
		else if (!strcmp(o, "--password-env"))
			c->password = (struct cs_secret){ CS_SECRET_ENV, argv[i] };
		else if (!strcmp(o, "--password-file"))
			c->password = (struct cs_secret){ CS_SECRET_FILE, argv[i] };
		else if (!strcmp(o, "--known-hosts"))
			c->known_hosts = argv[i];
		else if (!strcmp(o, "--timeout"))
			c->timeout = strtoll(v, NULL, 10);
		else
			return usage();
	}
	if (i >= argc)
		return usage();

	struct cs_err err = CS_ERR_INIT;
	struct cs_transport *t = NULL;
	int rc = 0;
	if (cs_transport_open(&t, &host, &err) < 0) {
		printf("error: %s\n", cs_err_msg(&err));
		cs_err_clear(&err);
		return 1;
	}
	printf("open: ok\n");
	while (i < argc) {
		const char *op = argv[i];
		int a = i + 1;
		int end = a;
		while (end < argc && strcmp(argv[end], "::") != 0)
			end++;
		int r = 0;
		if (!strcmp(op, "run") && a < end) {
			struct cs_run_result rr;
			struct cs_buf in = CS_BUF_INIT;
			const char *in_file = arg(end, argv, a + 1);
			const char *cap = arg(end, argv, a + 4);
			cs_run_result_init(&rr, cap ? strtoul(cap, NULL, 10) : 0);
			if (in_file)
				r = cs_file_read(&in, in_file, 1u << 30, &err);
			if (r == 0)
				r = t->ops->run(t, argv[a], in.data, in.len, &rr, &err);
			if (r == 0) {
				save(arg(end, argv, a + 2), &rr.out);
				save(arg(end, argv, a + 3), &rr.err);
				printf("run: exit=%d out=%zu err=%zu\n", rr.exit_status, rr.out.len, rr.err.len);
				if (!arg(end, argv, a + 2) && rr.out.len)
					fwrite(rr.out.data, 1, rr.out.len, stdout);
			}
			cs_buf_free(&in);
			cs_run_result_free(&rr);
		} else if (!strcmp(op, "read") && a < end) {
			const char *cap = arg(end, argv, a + 2);
			struct cs_buf b;
			cs_buf_init(&b, cap ? strtoul(cap, NULL, 10) : 0);
			r = t->ops->read_file(t, argv[a], &b, &err);
			if (r == 0) {
				printf("read: %zu bytes\n", b.len);
				save(arg(end, argv, a + 1), &b);
			} else if (r == -ENOENT) {
				printf("read: ENOENT (%s)\n", cs_err_msg(&err));
				cs_err_clear(&err);
				r = 0;
			}
			cs_buf_free(&b);
		} else if (!strcmp(op, "write") && a + 2 < end) {
			struct cs_buf data = CS_BUF_INIT;
			struct cs_file_attrs at = { .mode = (mode_t)strtoul(argv[a + 2], NULL, 8),
						    .owner = arg(end, argv, a + 3),
						    .group = arg(end, argv, a + 4) };
			r = cs_file_read(&data, argv[a + 1], 1u << 30, &err);
			if (r == 0)
				r = t->ops->write_file(t, argv[a], data.data, data.len, &at, &err);
			if (r == 0)
				printf("write: ok\n");
			cs_buf_free(&data);
		} else if (!strcmp(op, "stat") && a < end) {
			struct cs_file_stat st;
			r = t->ops->stat(t, argv[a], &st, &err);
			if (r == 0 && !st.exists)
				printf("stat: missing\n");
			else if (r == 0)
				printf("stat: mode=%04o owner=%s group=%s uid=%u gid=%u size=%lld\n",
				       (unsigned)st.mode, st.owner, st.group, (unsigned)st.uid,
				       (unsigned)st.gid, (long long)st.size);
			cs_file_stat_free(&st);
		} else if (!strcmp(op, "remove") && a < end) {
			r = t->ops->remove_file(t, argv[a], &err);
			if (r == 0)
				printf("remove: ok\n");
		} else {
			cs_transport_close(t);
			return usage();
		}
		fflush(stdout);
		if (r < 0) {
			printf("error: %s\n", cs_err_msg(&err));
			cs_err_clear(&err);
			rc = 1;
			break;
		}
		i = end + 1;
	}
	cs_transport_close(t);
	return rc;
}
