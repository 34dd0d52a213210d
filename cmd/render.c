/* placeholder until this module is written */
typedef int cs_placeholder_cmd_render_c;
