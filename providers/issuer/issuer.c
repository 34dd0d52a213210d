/* placeholder until this module is written */
typedef int cs_placeholder_providers_issuer_issuer_c;
