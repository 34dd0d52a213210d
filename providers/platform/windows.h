/* Internals of the Windows platform driver that tests reach: building the
 * scripts it sends (golden files) and reading the inventory (diff table). */
#ifndef CS_WINDOWS_H
#define CS_WINDOWS_H

#include "providers/platform/platform.h"
#include "providers/platform/discover.h"

/* Parse the inventory script's JSON into a host state. */
int cs_win_parse_inventory(struct cs_host_state **out, const char *json, size_t len, struct cs_err *err);

/* The script that puts thumb into binding b (NULL for store), rendered.
 * user_script: the text of a script binding's file. */
int cs_win_bind_script(struct cs_buf *out, const struct cs_binding_cfg *b, const char *thumb,
		       const char *appid, const char *user_script);
/* The script that undoes u (prev_hash or removal). */
int cs_win_undo_script(struct cs_buf *out, const struct cs_undo_bind *u);
int cs_win_import_script(struct cs_buf *out, const char *thumb, bool exportable);
int cs_win_export_script(struct cs_buf *out, const char *thumb);
int cs_win_store_remove_script(struct cs_buf *out, char *const *thumbs, size_t n);

/* "ip:port:hostname" of an iis binding, e.g. "*:443:" */
char *cs_win_iis_info(const struct cs_bind_iis *iis);

/* certsync discover on a Windows host: what LocalMachine\My, IIS,
 * http.sys, Exchange and the RDP listener use (the store kind's discover
 * slot). */
int cs_windows_discover(struct cs_transport *t, const struct cs_discover_opts *o, struct cs_found_list *out,
			struct cs_err *err);

#endif
