/* `certsync status --format html`: the status report (reconcile/status.h)
 * as one self-contained page. */
#ifndef CS_RENDER_HTML_H
#define CS_RENDER_HTML_H

#include <jansson.h>
#include <stdio.h>

/* Write the page for report to f.  config_path is shown in the heading. */
void cs_render_status_html(FILE *f, json_t *report, const char *config_path);

#endif
