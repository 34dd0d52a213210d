/* Tests for providers/notify: the webhook signature (RFC 4231's HMAC-SHA256
 * vectors), what a notifier is called in messages (never its URL's token
 * or credentials), and the defaults the config gives a notifier. */
#include "tests/unit/tap.h"

#include <stdlib.h>
#include <string.h>
#include "providers/base/util.h"
#include "providers/notify/notify.h"
#include "reconcile/config.h"

static void test_signature(void)
{
	static const struct {
		const char *name, *key, *data, *want;
	} cases[] = {
		{ "rfc 4231 case 2", "Jefe", "what do ya want for nothing?",
		  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
	};
	char sig[65];
	cs_notify_signature(sig, cases[0].key, strlen(cases[0].key), cases[0].data, strlen(cases[0].data));
	tap_str(sig, cases[0].want, cases[0].name);
	cs_notify_signature(sig, "k", 1, "", 0);
	tap_ok(strlen(sig) == 64 && strcmp(sig, cases[0].want) != 0, "empty body: 64 hex digits", "%s", sig);
}

static void test_describe(void)
{
	static const struct {
		const char *url, *want;
	} cases[] = {
		{ "https://hooks.example/certsync", "notify 1 (webhook to hooks.example)" },
		{ "https://hooks.example:8443/services/T000/B000/XXXXSECRET", "notify 1 (webhook to hooks.example:8443)" },
		{ "http://user:pa55@hooks.example/x?token=abc", "notify 1 (webhook to hooks.example)" },
		{ "http://127.0.0.1:9/?token=abc", "notify 1 (webhook to 127.0.0.1:9)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_notify_cfg n = { .kind = CS_NOTIFIER_WEBHOOK, .url = (char *)cases[i].url };
		char *got = cs_notify_describe(&n, 0);
		tap_str(got, cases[i].want, cases[i].url);
		free(got);
	}
	struct cs_notify_cfg c = { .kind = CS_NOTIFIER_COMMAND, .path = "/srv/hooks/page.sh" };
	char *got = cs_notify_describe(&c, 1);
	tap_str(got, "notify 2 (command page.sh)", "command: its file name");
	free(got);
}

static void test_defaults(void)
{
	static const char yaml[] =
		"version: 1\n"
		"notify:\n"
		"  - { webhook: { url: https://hooks.example/c, secret: { env: HOOK } }, on: [failed, expiring] }\n"
		"  - { command: { path: /bin/true, args: [a, 'b c'] }, on: [reboot_owed], }\n"
		"  - { webhook: { url: https://h.example/, secret: { file: s }, timeout: 2m, retries: 0 },\n"
		"      on: [expiring], expiring_within: 30d }\n";
	struct cs_diags diags = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load_string(&cfg, "notify.yaml", "/srv/cs", yaml, sizeof yaml - 1, &diags);
	if (!tap_ok(r == 0 && cfg && cfg->n_notify == 3, "three notifiers load", "%s",
		    diags.n ? diags.v[0].msg : "")) {
		cs_diags_free(&diags);
		cs_config_free(cfg);
		return;
	}
	const struct cs_notify_cfg *n = cfg->notify;
	tap_int(n[0].kind, CS_NOTIFIER_WEBHOOK, "webhook");
	tap_int(n[0].on, CS_NOTIFY_FAILED | CS_NOTIFY_EXPIRING, "on: failed and expiring");
	tap_int(n[0].timeout, 10, "webhook timeout: 10 s by default");
	tap_int(n[0].retries, 3, "retries: 3 by default");
	tap_int(n[0].expiring_within, 14 * 86400, "expiring_within: 14 days by default");
	tap_str(n[0].secret.ref, "HOOK", "secret: env reference");
	tap_int(n[1].kind, CS_NOTIFIER_COMMAND, "command");
	tap_int(n[1].timeout, 60, "command timeout: 60 s by default");
	tap_int((long long)n[1].n_args, 2, "two args");
	tap_str(n[1].n_args == 2 ? n[1].args[1] : NULL, "b c", "args as written");
	tap_int(n[2].timeout, 120, "timeout: 2m");
	tap_int(n[2].retries, 0, "retries: 0");
	tap_int(n[2].expiring_within, 30 * 86400, "expiring_within: 30d");
	tap_str(n[2].secret.ref, "/srv/cs/s", "secret file resolved against the config's folder");
	tap_str(cs_notify_event_name(CS_NOTIFY_RENEWAL_FAILING), "renewal_failing", "event names");
	cs_diags_free(&diags);
	cs_config_free(cfg);
}

int main(void)
{
	test_signature();
	test_describe();
	test_defaults();
	return tap_done();
}
