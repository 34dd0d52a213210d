/* certsync init: write a starting config (the embedded default: this
 * machine as a `local` host, a local CA made here, one certificate written
 * under out/) so that plan and apply work at once, with no network. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cmd/cmd.h"
#include "providers/base/util.h"
#include "reconcile/local_ca.h"

static const char default_config[] =
	"# Written by `certsync init`: a starting point that runs on this machine\n"
	"# with no network.  A local CA (pki/ca.crt and pki/ca.key, made by init)\n"
	"# issues a certificate for demo.localhost, and certsync writes it under\n"
	"# out/ the way a service on this host would read it.\n"
	"#\n"
	"#   certsync plan      what would change, and why\n"
	"#   certsync apply     do it (asks first; --yes when not at a terminal)\n"
	"#   certsync status    what is installed where, and until when\n"
	"#\n"
	"# Then make it yours: README.md and docs/config.md describe every key.\n"
	"# Relative paths are resolved against this file's folder.\n"
	"version: 1\n"
	"\n"
	"issuers:\n"
	"  lab:                          # a local CA: certsync signs with pki/ca.key\n"
	"    ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 }\n"
	"\n"
	"hosts:\n"
	"  here:                         # this machine; `ssh:` or `winrm:` for others\n"
	"    platform: linux\n"
	"    local: {}\n"
	"\n"
	"certificates:\n"
	"  demo:\n"
	"    common_name: demo.localhost\n"
	"    dns_names: [demo.localhost]\n"
	"    key: { type: ecdsa, curve: p256 }\n"
	"    issuer: lab\n"
	"    renew_before: 30d           # renew when less than 30 days are left\n"
	"    remind_before: 7d           # `certsync calendar`: a reminder a week ahead\n"
	"    bindings:\n"
	"      - host: here\n"
	"        files:\n"
	"          cert: out/demo.crt\n"
	"          key: out/demo.key\n"
	"          fullchain: out/demo-fullchain.pem\n"
	"          mode: \"0600\"\n"
	"          # reload: systemctl reload nginx   # run once after the files changed\n";

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = { { "config", required_argument, NULL, 'c' },
						   { NULL, 0, NULL, 0 } };
	const char *path = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (opt == 'c')
			path = optarg;
		else
			return cs_cli_error("usage: certsync init %s", cs_cmd_init.usage);
	}
	if (optind < argc)
		return cs_cli_error("init takes no arguments (use -c FILE)");
	if (!path)
		path = getenv("CERTSYNC_CONFIG") && getenv("CERTSYNC_CONFIG")[0] ? getenv("CERTSYNC_CONFIG")
										: "certsync.yaml";
	if (exists(path))
		return cs_cli_error("%s already exists: init only starts new configs (nothing was changed)", path);
	char *dir = cs_path_dirname(path);
	struct cs_err err = CS_ERR_INIT;
	bool made_ca = false;
	int status = 0;
	char *out = cs_path_join(dir, "out");
	/* The first line points YAML editors (yaml-language-server) at the
	 * installed schema. */
	char *text = cs_xasprintf("# yaml-language-server: $schema=%s\n%s", CERTSYNC_SCHEMA_PATH, default_config);
	if (cs_mkdir_p(dir, 0755, &err) < 0 || cs_local_ca_make(dir, &made_ca, &err) < 0 ||
	    cs_mkdir_p(out, 0755, &err) < 0 ||
	    cs_file_write_atomic(path, text, strlen(text), 0644, (uid_t)-1, (gid_t)-1, &err) < 0) {
		status = cs_cli_error("init: %s", cs_err_msg(&err));
		goto done;
	}
	printf("Wrote %s: this machine (`here`), a local CA (`lab`) and one certificate (`demo`).\n", path);
	printf("%s the local CA in %s/pki/ (ca.key is its private key, mode 0600).\n",
	       made_ca ? "Made" : "Kept", strcmp(dir, ".") ? dir : ".");
	printf("Next:\n  certsync plan%s%s\n  certsync apply%s%s\n", strcmp(path, "certsync.yaml") ? " -c " : "",
	       strcmp(path, "certsync.yaml") ? path : "", strcmp(path, "certsync.yaml") ? " -c " : "",
	       strcmp(path, "certsync.yaml") ? path : "");
done:
	cs_err_clear(&err);
	free(text);
	free(out);
	free(dir);
	return status;
}

const struct cs_cmd cs_cmd_init = {
	.name = "init",
	.usage = "[-c FILE]",
	.summary = "write a starting config: this machine, a local CA made here, one certificate",
	.exec = run,
};
