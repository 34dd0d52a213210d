/* certsync calendar: an iCalendar file with a reminder remind_before ahead
 * of every certificate's expiry, for the team calendar. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd/cmd.h"
#include "reconcile/calendar.h"
#include "providers/base/util.h"
#include "providers/base/x509.h"

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		CS_COMMON_LONG_OPTIONS,
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct cs_common common = { 0 };
	const char *out_path = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:o:", longopts, NULL)) != -1) {
		if (cs_common_option(&common, opt, optarg))
			continue;
		if (opt == 'o')
			out_path = optarg;
		else
			return cs_cli_error("usage: certsync calendar %s", cs_cmd_calendar.usage);
	}
	struct cs_config *cfg = NULL;
	struct cs_store *store = NULL;
	struct cs_err err = CS_ERR_INIT;
	struct cs_buf ics = CS_BUF_INIT;
	char *lineage_root = NULL;
	int status = cs_cli_load_config(&cfg, &common);
	if (status || (status = cs_cli_check_targets(cfg, &common)))
		goto out;
	/* The configured state folder, also when the state is in a database
	 * (whose working copy has another name every run). */
	lineage_root = cs_xstrdup(cfg->settings.state_dir);
	if ((status = cs_cli_state_attach(cfg, &common, "calendar", false)))
		goto out;
	if (cs_store_open(&store, cfg->settings.state_dir, false, &err) < 0) {
		status = cs_cli_error("%s", cs_err_msg(&err));
		goto out;
	}
	struct cs_calendar_entry *entries = cs_xcalloc(cfg->n_certs, sizeof *entries);
	struct cs_cert_info *infos = cs_xcalloc(cfg->n_certs, sizeof *infos);
	char ***wheres = cs_xcalloc(cfg->n_certs, sizeof *wheres);
	char **lineages = cs_xcalloc(cfg->n_certs, sizeof *lineages);
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_certs; i++) {
		const struct cs_cert_cfg *cert = &cfg->certs[i];
		if (!cs_target_has_cert(&common.target, cert->name))
			continue;
		struct cs_stored st;
		memset(&st, 0, sizeof st);
		int r = cs_store_load(&st, store, cert->name, &err);
		if (r < 0) {
			if (r != -ENOENT)
				status = cs_cli_error("%s", cs_err_msg(&err));
			cs_err_clear(&err);
			cs_stored_free(&st);
			continue;
		}
		X509 *leaf = st.have_info ? NULL : cs_stored_cert(&st, &err);
		if (st.have_info) {
			infos[n] = st.info; /* moved */
			memset(&st.info, 0, sizeof st.info);
		} else if (!leaf || cs_cert_info_get(&infos[n], leaf, &err) < 0) {
			status = cs_cli_error("%s: %s", cert->name, cs_err_msg(&err));
			cs_err_clear(&err);
			cs_stored_free(&st);
			continue;
		}
		cs_stored_free(&st);
		wheres[n] = cs_xcalloc(cert->n_bindings ? cert->n_bindings : 1, sizeof **wheres);
		for (size_t j = 0; j < cert->n_bindings; j++)
			wheres[n][j] = cs_calendar_where(&cert->bindings[j]);
		/* The lineage is the certificate's name in this state folder: it
		 * survives renewals, so calendar clients update the same event. */
		lineages[n] = cs_xasprintf("%s/%s", lineage_root, cert->name);
		entries[n] = (struct cs_calendar_entry){
			.cert_name = cert->name,
			.lineage_id = lineages[n],
			.common_name = cert->common_name,
			.serial = infos[n].serial,
			.not_after = infos[n].not_after,
			.remind_before = cert->remind_before,
			.where = (const char *const *)wheres[n],
			.n_where = cert->n_bindings,
		};
		n++;
	}
	if (cs_calendar_write(&ics, entries, n, cs_now(), &err) < 0) {
		status = cs_cli_error("%s", cs_err_msg(&err));
	} else if (out_path) {
		if (cs_file_write_atomic(out_path, ics.data, ics.len, 0644, (uid_t)-1, (gid_t)-1, &err) < 0)
			status = cs_cli_error("%s", cs_err_msg(&err));
		else
			fprintf(stderr, "wrote %s: %zu reminder%s\n", out_path, n, n == 1 ? "" : "s");
	} else {
		fwrite(ics.data, 1, ics.len, stdout);
	}
	for (size_t i = 0; i < n; i++) {
		cs_strv_free(wheres[i], entries[i].n_where);
		cs_cert_info_free(&infos[i]);
		free(lineages[i]);
	}
	free(wheres);
	free(infos);
	free(lineages);
	free(entries);
out:
	free(lineage_root);
	cs_buf_free(&ics);
	cs_err_clear(&err);
	cs_store_close(store);
	cs_config_free(cfg);
	cs_common_free(&common);
	return status;
}

const struct cs_cmd cs_cmd_calendar = {
	.name = "calendar",
	.usage = "[-c FILE] [-o FILE.ics] [--target cert=NAME]...",
	.summary = "iCalendar (RFC 5545) with a reminder remind_before ahead of every expiry",
	.exec = run,
};
