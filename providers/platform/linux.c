/* placeholder until this module is written */
typedef int cs_placeholder_providers_platform_linux_c;
