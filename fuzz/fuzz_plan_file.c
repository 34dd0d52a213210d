/* Fuzzes the saved plan reader (reconcile/plan_file.c): the input is a plan
 * file as `certsync plan --out` writes it, written to the harness's
 * temporary folder and read back with cs_plan_load() (JSON, then
 * cs_plan_from_json: format version, digests, target, actions and their
 * dependencies, notices).  A plan that loads must also save and load again
 * (cs_plan_to_json, cs_plan_from_json) with the same actions.  Nothing is
 * written but the input's own file. */
#include "fuzz/common.h"

#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "reconcile/plan.h"

static char *file;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	file = fz_path("plan.json");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_write(file, data, size);
	struct cs_plan *plan = NULL, *again = NULL;
	struct cs_err err = CS_ERR_INIT;
	int r = cs_plan_load(&plan, file, &err);
	if (r < 0) {
		if (!cs_err_msg(&err)[0])
			abort();
		cs_err_clear(&err);
		return 0;
	}
	json_t *j = cs_plan_to_json(plan);
	if (cs_plan_from_json(&again, j, &err) < 0 || again->n_actions != plan->n_actions ||
	    again->n_notices != plan->n_notices)
		abort(); /* what certsync saves it can load */
	for (size_t i = 0; i < plan->n_actions; i++)
		if (again->actions[i].kind != plan->actions[i].kind ||
		    again->actions[i].n_deps != plan->actions[i].n_deps)
			abort();
	json_decref(j);
	cs_plan_free(again);
	cs_plan_free(plan);
	cs_err_clear(&err);
	return 0;
}
