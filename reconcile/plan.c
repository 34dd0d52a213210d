/* placeholder until this module is written */
typedef int cs_placeholder_reconcile_plan_c;
