/* Every PowerShell script the Windows platform driver sends, as named
 * constants, and how values are put in front of them.
 *
 * A script never has a value pasted into its text: the driver renders
 * "$Name = <cs_ps_quote(value)>" lines in front of the constant body
 * (cs_win_render), so a site name with quotes, `$`, backticks or newlines
 * stays a string.  Secrets (the PFX password) never appear there either:
 * they travel as the run's input ($CertsyncInput, see
 * ../transport/winrm_scripts.h for the framing), so neither a script text
 * nor a command line ever holds them.  Scripts that report state print one
 * line of JSON (ConvertTo-Json -Compress). */
#ifndef CS_WINDOWS_SCRIPTS_H
#define CS_WINDOWS_SCRIPTS_H

#include <stddef.h>
#include "providers/base/buf.h"

extern const char cs_win_discover[];      /* the inventory with each store certificate's RawData */
extern const char cs_win_export[];        /* $Thumbprint; input: password; out: base64 PFX */
extern const char cs_win_inventory[];     /* the whole host as JSON */
extern const char cs_win_import[];        /* $Thumbprint $Exportable; input: password LF base64 PFX */
extern const char cs_win_iis_set[];       /* $Site $BindingInformation $Thumbprint $Sni */
extern const char cs_win_iis_remove[];    /* $Site $BindingInformation */
extern const char cs_win_httpsys_set[];   /* $Kind $Endpoint $Thumbprint $AppId */
extern const char cs_win_httpsys_remove[];/* $Kind $Endpoint */
extern const char cs_win_exchange_set[];  /* $Thumbprint $Services */
extern const char cs_win_rdp_set[];       /* $Thumbprint */
extern const char cs_win_script_head[];   /* $Thumbprint $CertsyncUserScript, args; input as import */
extern const char cs_win_script_tail[];   /* after the call line the driver writes */
extern const char cs_win_store_remove[];  /* $Thumbprints */
extern const char cs_win_boot_time[];     /* the last boot time, ISO 8601 UTC */
extern const char cs_win_reboot[];

struct cs_win_script {
	const char *name;  /* golden file name */
	const char *text;
};
extern const struct cs_win_script cs_win_scripts[];
extern const size_t cs_win_n_scripts;

/* One variable put in front of a script. */
enum cs_win_var_type { CS_WIN_STR = 1, CS_WIN_BOOL, CS_WIN_STRV, CS_WIN_HASH };
struct cs_win_var {
	const char *name;            /* a PowerShell identifier (checked) */
	enum cs_win_var_type type;
	const char *str;             /* CS_WIN_STR */
	int boolean;                 /* CS_WIN_BOOL */
	const char *const *strv;     /* CS_WIN_STRV: values; CS_WIN_HASH: keys */
	const char *const *values;   /* CS_WIN_HASH: values */
	size_t n;
};

/* "$Name = '...'" lines for vars, then body.  -EINVAL when a name is not a
 * plain identifier (nothing else reaches the text unquoted). */
int cs_win_render(struct cs_buf *out, const struct cs_win_var *vars, size_t n_vars, const char *body);

/* A plain PowerShell identifier: letter or _, then letters, digits, _. */
int cs_win_identifier(const char *s);

#endif
