/* placeholder until this module is written */
typedef int cs_placeholder_reconcile_x509_c;
