/* certsync state migrate|push|pull|rekey: the state database
 * (settings.state.postgres).  push copies the state folder
 * (settings.state_dir) into the database, pull the database into the
 * folder; both compare every file afterwards.  rekey seals every private
 * key again under a new key. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cmd/cmd.h"
#include "providers/base/duration.h"
#include "providers/base/util.h"
#include "reconcile/state_pg.h"

#define OPT_NEW_KEY 4001
#define OPT_LOCK_TIMEOUT 4002

/* Every certificate and host: push, pull and rekey work on all of them. */
static int lock_all(struct cs_state_pg *db, const struct cs_config *cfg, int64_t timeout, struct cs_err *err)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < cfg->n_certs; i++)
		r = cs_state_pg_lock(db, "certificate", cfg->certs[i].name, timeout, err);
	for (size_t i = 0; r == 0 && i < cfg->n_hosts; i++)
		r = cs_state_pg_lock(db, "host", cfg->hosts[i].name, timeout, err);
	return r;
}

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "new-key", required_argument, NULL, OPT_NEW_KEY },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	struct cs_common common = { 0 };
	const char *new_key = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (opt == 'c') {
			common.config = optarg;
		} else if (opt == OPT_NEW_KEY) {
			new_key = optarg;
		} else if (opt == OPT_LOCK_TIMEOUT) {
			const char *why = NULL;
			if (cs_duration_parse(&common.lock_timeout, optarg, &why) < 0)
				return cs_cli_error("--lock-timeout %s: %s", optarg, why ? why : "not a duration");
		} else {
			return cs_cli_error("usage: certsync state %s", cs_cmd_state.usage);
		}
	}
	if (argc - optind != 1)
		return cs_cli_error("usage: certsync state %s", cs_cmd_state.usage);
	const char *what = argv[optind];
	bool migrate = !strcmp(what, "migrate"), push = !strcmp(what, "push"), pull = !strcmp(what, "pull"),
	     rekey = !strcmp(what, "rekey");
	if (!migrate && !push && !pull && !rekey)
		return cs_cli_error("state %s: expected migrate, push, pull or rekey", what);
	if (rekey != (new_key != NULL))
		return cs_cli_error(rekey ? "state rekey needs --new-key FILE" : "--new-key is for state rekey only");

	struct cs_config *cfg = NULL;
	struct cs_state_pg *db = NULL;
	struct cs_err err = CS_ERR_INIT;
	struct cs_secret nk = { 0 };
	int status = cs_cli_load_config(&cfg, &common);
	if (status)
		goto out;
	if (!cfg->settings.pg.set) {
		status = cs_cli_error("%s: settings.state.postgres is not set: the state is in the folder %s",
				      cfg->path, cfg->settings.state_dir);
		goto out;
	}
	int migrated = -1;
	size_t n = 0;
	int r = cs_state_pg_open(&db, &cfg->settings.pg.dsn, &cfg->settings.pg.key, what, migrate || push,
				 &migrated, &err);
	if (r == 0 && !migrate)
		r = lock_all(db, cfg, common.lock_timeout, &err);
	if (r < 0)
		goto fail;
	if (migrate) {
		if (migrated >= 0)
			printf("state database: migrated from schema version %d to schema version %d\n", migrated,
			       CS_STATE_PG_SCHEMA);
		else
			printf("state database: already at schema version %d\n", CS_STATE_PG_SCHEMA);
	} else if (push) {
		if ((r = cs_state_pg_push(db, cfg->settings.state_dir, &n, &err)) < 0)
			goto fail;
		printf("state push: %zu file%s from %s in the database, verified\n", n, n == 1 ? "" : "s",
		       cfg->settings.state_dir);
	} else if (pull) {
		if ((r = cs_state_pg_pull(db, cfg->settings.state_dir, true, &n, &err)) < 0 ||
		    (r = cs_state_pg_verify(db, cfg->settings.state_dir, &n, &err)) < 0)
			goto fail;
		printf("state pull: %zu file%s from the database in %s, verified\n", n, n == 1 ? "" : "s",
		       cfg->settings.state_dir);
	} else {
		nk.kind = CS_SECRET_FILE;
		nk.ref = cs_path_expand_home(new_key);
		char old_id[17];
		snprintf(old_id, sizeof old_id, "%s", cs_state_pg_key_id(db));
		if ((r = cs_state_pg_rekey(db, &nk, &n, &err)) < 0)
			goto fail;
		printf("state rekey: %zu key%s sealed again, key id %s -> %s; point settings.state.postgres.key "
		       "at %s now\n", n, n == 1 ? "" : "s", old_id, cs_state_pg_key_id(db), new_key);
	}
	goto out;
fail:
	status = cs_cli_error("%s", cs_err_msg(&err));
	if (r == -EBUSY)
		status = CS_EXIT_LOCKED;
	cs_err_clear(&err);
out:
	free(nk.ref);
	cs_state_pg_close(db);
	cs_config_free(cfg);
	cs_common_free(&common);
	return status;
}

const struct cs_cmd cs_cmd_state = {
	.name = "state",
	.usage = "[-c FILE] [--lock-timeout DURATION] migrate|push|pull|rekey [--new-key FILE]",
	.summary = "the state database: create or upgrade its schema, copy the state in or out, change the key",
	.exec = run,
};
