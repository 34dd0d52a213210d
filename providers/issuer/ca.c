/* placeholder until this module is written */
typedef int cs_placeholder_providers_issuer_ca_c;
