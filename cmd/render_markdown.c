/* Plans as Markdown, for a pull request comment (plan --format markdown):
 * a summary table (actions by kind, then by host), each action with its
 * reason, and its details (what it waits for, what waits for it, the files
 * or place a binding writes, the reload command) folded in <details>.
 *
 * Deterministic like the text plan: the same plan and config give the same
 * bytes, in plan order.  Every text that comes from the config or a host
 * (names, paths, commands, reasons) is escaped, so that a value cannot turn
 * into markup or HTML in the comment. */
#include "cmd/cmd.h"

#include <stdlib.h>
#include <string.h>
#include "providers/base/buf.h"
#include "providers/base/util.h"

/* Text on one line, every character that could start Markdown or HTML
 * escaped.  Never at the start of a line here, so list and heading marks
 * (-, +, #) need no escape there. */
static void md(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '\n': case '\r': case '\t': fputc(' ', f); break;
		/* # and @ too: on GitHub "#3" links issue 3 and "@x" calls x. */
		case '\\': case '`': case '*': case '_': case '[': case ']': case '|': case '~': case '#': case '@':
			fputc('\\', f);
			fputc(*s, f);
			break;
		default:
			/* Other control characters are no text: shown as ?, and
			 * kept out of the JSON a CI job wraps this in. */
			fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
		}
	}
}

/* A value shown as code: <code> with the text escaped inside (a backtick
 * in a path cannot end it, as it would end a `span`). */
static void md_code(FILE *f, const char *s)
{
	fputs("<code>", f);
	md(f, s);
	fputs("</code>", f);
}

/* The kinds in the order of the summary table (the order of a plan). */
static const enum cs_action_kind kinds[] = {
	CS_ACT_RENEW, CS_ACT_IMPORT, CS_ACT_BIND, CS_ACT_RELOAD, CS_ACT_REBOOT, CS_ACT_VERIFY,
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

static const struct cs_action *find_action(const struct cs_plan *plan, int id)
{
	for (size_t i = 0; i < plan->n_actions; i++)
		if (plan->actions[i].id == id)
			return &plan->actions[i];
	return NULL;
}

static const char *host_label(const struct cs_action *a)
{
	return a->host ? a->host : "(all hosts)";
}

/* The hosts of the plan in order of first appearance, with their counts per
 * kind; renewals have no host and are not counted here. */
struct host_row {
	const char *name;
	size_t n[N_KINDS];
	size_t total;
};

static size_t host_rows(const struct cs_plan *plan, struct host_row *rows)
{
	size_t n = 0;
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct cs_action *a = &plan->actions[i];
		if (a->kind == CS_ACT_RENEW)
			continue;
		size_t r = 0;
		while (r < n && strcmp(rows[r].name, host_label(a)) != 0)
			r++;
		if (r == n)
			rows[n++] = (struct host_row){ .name = host_label(a) };
		for (size_t k = 0; k < N_KINDS; k++)
			if (kinds[k] == a->kind)
				rows[r].n[k]++;
		rows[r].total++;
	}
	return n;
}

static void summary_tables(FILE *f, const struct cs_plan *plan)
{
	fputs("| action |", f);
	for (size_t k = 0; k < N_KINDS; k++)
		fprintf(f, " %s |", cs_action_kind_name(kinds[k]));
	fputs(" total | errors |\n| --- |", f);
	for (size_t k = 0; k < N_KINDS + 2; k++)
		fputs(" ---: |", f);
	fputs("\n| count |", f);
	for (size_t k = 0; k < N_KINDS; k++)
		fprintf(f, " %zu |", cs_plan_count(plan, kinds[k]));
	fprintf(f, " %zu | %zu |\n\n", plan->n_actions, plan->n_errors);

	struct host_row *rows = cs_xcalloc(plan->n_actions + 1, sizeof *rows);
	size_t n = host_rows(plan, rows);
	if (n) {
		fputs("| host |", f);
		for (size_t k = 1; k < N_KINDS; k++)
			fprintf(f, " %s |", cs_action_kind_name(kinds[k]));
		fputs(" total |\n| --- |", f);
		for (size_t k = 1; k < N_KINDS + 1; k++)
			fputs(" ---: |", f);
		fputc('\n', f);
		for (size_t r = 0; r < n; r++) {
			fputs("| ", f);
			md(f, rows[r].name);
			fputs(" |", f);
			for (size_t k = 1; k < N_KINDS; k++)
				fprintf(f, " %zu |", rows[r].n[k]);
			fprintf(f, " %zu |\n", rows[r].total);
		}
		fputc('\n', f);
	}
	free(rows);
}

/* One row of a binding's details: "- NAME: VALUE". */
static void detail_row(void *ctx, const char *name, const char *value, bool literal)
{
	FILE *f = ctx;
	fprintf(f, "- %s: ", name);
	if (literal)
		md_code(f, value);
	else
		md(f, value);
	fputc('\n', f);
}

/* What a binding writes or changes, from the config (NULL: not known). */
static void binding_details(FILE *f, const struct cs_config *cfg, const struct cs_action *a)
{
	const struct cs_cert_cfg *cert = cfg && a->cert ? cs_config_cert(cfg, a->cert) : NULL;
	if (!cert || a->binding < 0 || (size_t)a->binding >= cert->n_bindings)
		return;
	const struct cs_binding_cfg *b = &cert->bindings[a->binding];
	fprintf(f, "- binding: %d of certificate ", a->binding + 1);
	md(f, cert->name);
	fprintf(f, " (%s)\n", cs_binding_kind_label(b));
	cs_binding_details(b, detail_row, f);
}

static void verify_details(FILE *f, const struct cs_config *cfg, const struct cs_action *a)
{
	static const char *const starttls[] = { "", "smtp", "imap", "pop3" };
	const struct cs_cert_cfg *cert = cfg && a->cert ? cs_config_cert(cfg, a->cert) : NULL;
	if (!cert || a->verify < 0 || (size_t)a->verify >= cert->n_verify)
		return;
	const struct cs_verify_cfg *v = &cert->verify[a->verify];
	fputs("- connect: ", f);
	md_code(f, v->connect);
	if (v->starttls > CS_STARTTLS_NONE && v->starttls <= CS_STARTTLS_POP3)
		fprintf(f, " (STARTTLS %s)", starttls[v->starttls]);
	fputc('\n', f);
	if (v->servername) {
		fputs("- server name: ", f);
		md(f, v->servername);
		fputc('\n', f);
	}
}

static void action_details(FILE *f, const struct cs_plan *plan, const struct cs_config *cfg,
			   const struct cs_action *a)
{
	static const char *const modes[] = {
		[CS_RENEW_ISSUE] = "new key and certificate from the issuer",
		[CS_RENEW_REQUEST] = "new key and request; then wait for the CA",
		[CS_RENEW_COLLECT] = "the CA's reply with the pending key",
	};
	fputs("<details><summary>details</summary>\n\n", f);
	fprintf(f, "- kind: %s\n", cs_action_kind_name(a->kind));
	if (a->cert) {
		fputs("- certificate: ", f);
		md(f, a->cert);
		fputc('\n', f);
	}
	if (a->kind != CS_ACT_RENEW) {
		fputs("- host: ", f);
		md(f, host_label(a));
		fputc('\n', f);
	}
	if (a->kind == CS_ACT_RENEW && a->renew_mode > CS_RENEW_NONE && a->renew_mode <= CS_RENEW_COLLECT)
		fprintf(f, "- renewal: %s\n", modes[a->renew_mode]);
	if (a->kind == CS_ACT_BIND)
		binding_details(f, cfg, a);
	if (a->kind == CS_ACT_VERIFY)
		verify_details(f, cfg, a);
	if (a->command) {
		fputs("- command: ", f);
		md_code(f, a->command);
		fputc('\n', f);
	}
	for (size_t d = 0; d < a->n_deps; d++) {
		const struct cs_action *dep = find_action(plan, a->deps[d]);
		fprintf(f, "- after \\#%d", a->deps[d]);
		if (dep) {
			fputs(": ", f);
			md(f, dep->summary);
		}
		fputc('\n', f);
	}
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct cs_action *later = &plan->actions[i];
		for (size_t d = 0; d < later->n_deps; d++) {
			if (later->deps[d] != a->id)
				continue;
			fprintf(f, "- then \\#%d: ", later->id);
			md(f, later->summary);
			fputc('\n', f);
		}
	}
	fputs("\n</details>\n\n", f);
}

void cs_render_plan_markdown(FILE *f, const struct cs_plan *plan, const struct cs_config *cfg)
{
	/* A marker a CI job can find its own comment by. */
	fputs("<!-- certsync plan -->\n## certsync plan\n\n", f);
	if (plan->target.n_hosts || plan->target.n_certs) {
		fputs("Selected with --target:", f);
		for (size_t i = 0; i < plan->target.n_hosts; i++) {
			fputs(" host=", f);
			md(f, plan->target.hosts[i]);
		}
		for (size_t i = 0; i < plan->target.n_certs; i++) {
			fputs(" cert=", f);
			md(f, plan->target.certs[i]);
		}
		fputs("\n\n", f);
	}
	if (plan->n_actions) {
		fprintf(f, "**%zu action%s**: %zu to renew, %zu to bind, %zu to reload, %zu to verify",
			plan->n_actions, plan->n_actions == 1 ? "" : "s", cs_plan_count(plan, CS_ACT_RENEW),
			cs_plan_count(plan, CS_ACT_BIND), cs_plan_count(plan, CS_ACT_RELOAD),
			cs_plan_count(plan, CS_ACT_VERIFY));
		if (cs_plan_count(plan, CS_ACT_IMPORT) || cs_plan_count(plan, CS_ACT_REBOOT))
			fprintf(f, ", %zu to import, %zu to reboot", cs_plan_count(plan, CS_ACT_IMPORT),
				cs_plan_count(plan, CS_ACT_REBOOT));
		if (plan->n_errors)
			fprintf(f, "; %zu error%s", plan->n_errors, plan->n_errors == 1 ? "" : "s");
		fputs(".\n\n", f);
		summary_tables(f, plan);
		fputs("### Actions\n\n", f);
	}
	for (size_t i = 0; i < plan->n_actions; i++) {
		const struct cs_action *a = &plan->actions[i];
		fprintf(f, "#### \\#%d %s\n\n", a->id, cs_action_kind_name(a->kind));
		md(f, a->summary);
		fputs("  \nbecause ", f);
		md(f, a->reason ? a->reason : "");
		fputs("\n\n", f);
		action_details(f, plan, cfg, a);
	}
	if (plan->n_notices) {
		fputs("### Notices\n\n", f);
		for (size_t i = 0; i < plan->n_notices; i++) {
			const struct cs_notice *n = &plan->notices[i];
			const char *label = n->level == CS_NOTICE_ERROR ? "error" :
					    n->level == CS_NOTICE_WAIT ? "waiting" : "note";
			fprintf(f, "- **%s**", label);
			if (n->cert) {
				fputs(" (", f);
				md(f, n->cert);
				fputc(')', f);
			}
			fputs(": ", f);
			md(f, n->text);
			fputc('\n', f);
		}
		fputc('\n', f);
	}
	if (!plan->n_actions) {
		size_t waiting = 0;
		for (size_t i = 0; i < plan->n_notices; i++)
			waiting += plan->notices[i].level == CS_NOTICE_WAIT;
		fprintf(f, "**No changes.** Everything selected is as declared%s%s.\n",
			plan->n_errors ? " (except what the errors above hide)" : "",
			waiting ? ", but for what waits for a CA (above)" : "");
	}
}
