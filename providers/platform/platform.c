/* placeholder until this module is written */
typedef int cs_placeholder_providers_platform_platform_c;
