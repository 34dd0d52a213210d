/* A host as the config declares it: its platform, its one transport and
 * that transport's settings.  The transports read it (transport.h), so it
 * lives with them; reconcile/config.c fills it from the hosts map. */
#ifndef CS_HOST_CFG_H
#define CS_HOST_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include "providers/base/secret.h"
#include "providers/base/yaml_value.h"

enum cs_platform { CS_PLATFORM_LINUX = 1, CS_PLATFORM_WINDOWS };
enum cs_transport_kind { CS_TRANSPORT_LOCAL = 1, CS_TRANSPORT_SSH, CS_TRANSPORT_WINRM };
enum cs_reboot_policy { CS_REBOOT_NEVER = 0, CS_REBOOT_AFTER_CHANGE };

struct cs_ssh_cfg {
	char *address;
	int port;                        /* default 22 */
	char *user;
	char *identity;                  /* local path (~ expanded) or NULL */
	struct cs_secret passphrase;     /* identity passphrase */
	struct cs_secret password;
	char *known_hosts;               /* default ~/.ssh/known_hosts */
	bool host_key_accept_new;        /* host_key_policy: accept-new (default strict) */
	bool become_sudo;                /* become: sudo */
	int64_t timeout;                 /* seconds; default 30 */
};

enum cs_winrm_auth { CS_WINRM_BASIC = 1, CS_WINRM_NTLM, CS_WINRM_NEGOTIATE };

struct cs_winrm_cfg {
	char *address;
	int port;                        /* default 5986 (5985 with insecure_http) */
	enum cs_winrm_auth auth;         /* default ntlm */
	char *user;
	struct cs_secret password;
	char *ca_bundle;                 /* absolute path or NULL */
	bool insecure_http;
	int64_t timeout;                 /* seconds; default 60 */
};

struct cs_host_cfg {
	char *name;
	struct cs_pos pos;
	enum cs_platform platform;
	enum cs_transport_kind transport;
	struct cs_ssh_cfg ssh;
	struct cs_winrm_cfg winrm;
	enum cs_reboot_policy reboot;
	int64_t reboot_timeout;          /* seconds to wait for a rebooted host; default 600 */
	char *local_dir;                 /* local hosts only: the config's folder, the working
					    folder of commands and the base of relative
					    binding paths; NULL for remote hosts */
	int64_t local_timeout;           /* local hosts: seconds a command may run; default 300 */
};

#endif
