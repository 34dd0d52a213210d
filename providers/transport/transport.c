/* placeholder until this module is written */
typedef int cs_placeholder_providers_transport_transport_c;
