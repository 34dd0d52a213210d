/* The config loader: a table of broken configs, each with the exact first
 * diagnostic it must produce; a file with many errors that must all be
 * reported in order; the examples; defaults and resolved paths; and the
 * promise that no diagnostic ever quotes a secret. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "reconcile/buf.h"
#include "reconcile/config.h"
#include "reconcile/util.h"
#include "tap.h"

/* Inline configs are loaded as if they sat next to the motivating example,
 * where tmg-listener.ps1 exists. */
#define EXAMPLE_DIR CS_SOURCE_ROOT "/examples/iis-exchange-isa"

#define V1 "version: 1\n"
/* Two lines: an issuer every certificate can use. */
#define MANUAL "issuers:\n  lab: {manual: {}}\n"
/* Two lines: a linux host over ssh. */
#define WEB1 "hosts:\n  web1: {platform: linux, ssh: {address: web1.example.org, user: deploy}}\n"

struct bad_case {
	const char *name;
	const char *yaml;
	const char *want; /* "LINE:COL: message" of the first diagnostic */
};

static const struct bad_case bad_cases[] = {
	{ "unknown key with did-you-mean",
	  V1 MANUAL "certificates:\n  mail:\n    comon_name: mail.example.org\n    issuer: lab\n",
	  "6:5: unknown key \"comon_name\" in certificate mail (did you mean \"common_name\"?)" },
	{ "unknown key, case-only difference",
	  V1 MANUAL "certificates:\n  mail:\n    Common_Name: mail.example.org\n    issuer: lab\n",
	  "6:5: unknown key \"Common_Name\" in certificate mail (did you mean \"common_name\"?)" },
	{ "unknown key without a near match lists the keys",
	  V1 "settings:\n  colour: blue\n",
	  "3:3: unknown key \"colour\" in settings (expected state_dir or parallelism)" },
	{ "unknown top-level key",
	  V1 "certificate: {}\n",
	  "2:1: unknown key \"certificate\" at the top level (did you mean \"certificates\"?)" },
	{ "missing required key at the mapping",
	  V1 MANUAL "certificates:\n  mail:\n    issuer: lab\n",
	  "6:5: missing required key \"common_name\" in certificate mail" },
	{ "missing version",
	  "hosts: {}\n",
	  "1:1: missing required key \"version\" at the top level (write version: 1)" },
	{ "unsupported version",
	  "version: 2\n",
	  "1:10: unsupported config version 2 (this certsync reads version 1)" },
	{ "version too large for any integer",
	  "version: 99999999999999999999\n",
	  "1:10: unsupported config version 99999999999999999999 (this certsync reads version 1)" },
	{ "version as a string",
	  "version: \"1\"\n",
	  "1:10: expected an integer for \"version\" at the top level, got a string" },
	{ "wrong type: string for a list",
	  V1 MANUAL "certificates:\n  mail:\n    common_name: mail.example.org\n    dns_names: mail.example.org\n"
	  "    issuer: lab\n",
	  "7:16: expected a list for \"dns_names\" in certificate mail, got a string" },
	{ "wrong type: list for a mapping",
	  V1 "settings: [a, b]\n",
	  "2:11: expected a mapping for \"settings\" at the top level, got a list" },
	{ "wrong type: boolean expected",
	  V1 "hosts:\n  w: {platform: windows, winrm: {address: w, user: u, password: {env: P}, insecure_http: yes}}\n",
	  "3:90: expected a boolean (true or false) for \"insecure_http\" in winrm of host w, got a string" },
	{ "top level is not a mapping",
	  "- version: 1\n",
	  "1:1: expected a mapping at the top level (version, settings, issuers, hosts, certificates), got a list" },
	{ "bad duration",
	  V1 MANUAL "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    renew_before: 30\n",
	  "8:19: invalid duration \"30\" for \"renew_before\" in certificate mail: number without a unit "
	  "(add s, m, h, d or w)" },
	{ "bad duration with a fraction",
	  V1 WEB1 "  web2: {platform: linux, ssh: {address: web2, user: u, timeout: 1.5m}}\n",
	  "4:66: invalid duration \"1.5m\" for \"timeout\" in ssh of host web2: a duration has no fractions "
	  "(use a smaller unit: 90m, not 1.5h)" },
	{ "dangling host with did-you-mean",
	  V1 MANUAL WEB1 "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: wbe1, files: {cert: /etc/x.crt}}\n",
	  "11:16: unknown host \"wbe1\" in binding 1 of certificate mail (did you mean \"web1\"?)" },
	{ "dangling issuer with did-you-mean",
	  V1 "issuers:\n  verisign: {manual: {}}\ncertificates:\n  mail:\n    common_name: mail.example.org\n"
	  "    issuer: verisgn\n",
	  "7:13: unknown issuer \"verisgn\" in certificate mail (did you mean \"verisign\"?)" },
	{ "duplicate host name",
	  V1 WEB1 "  web1: {platform: linux, local: {}}\n",
	  "4:3: host \"web1\" is defined twice (first on line 3)" },
	{ "duplicate certificate name",
	  V1 MANUAL "certificates:\n  a: {common_name: a.example.org, issuer: lab}\n"
	  "  a: {common_name: b.example.org, issuer: lab}\n",
	  "6:3: certificate \"a\" is defined twice (first on line 5)" },
	{ "duplicate key",
	  V1 "hosts:\n  web1:\n    platform: linux\n    local: {}\n    platform: windows\n",
	  "6:5: duplicate key \"platform\" in host web1 (first given on line 4)" },
	{ "invalid name",
	  V1 "hosts:\n  web/1: {platform: linux, local: {}}\n",
	  "3:3: invalid host name \"web/1\": use letters, digits, \".\", \"_\" and \"-\", starting with a letter or "
	  "digit (names become file names)" },
	{ "binding kind on the wrong platform",
	  V1 MANUAL WEB1 "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: web1, iis: {site: Default Web Site}}\n",
	  "11:22: binding kind iis is not available on linux host web1 (linux hosts take files or script)" },
	{ "files binding on windows",
	  V1 MANUAL "hosts:\n  w: {platform: windows, ssh: {address: w, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: w, files: {cert: /x}}\n",
	  "11:19: binding kind files is not available on windows host w (windows hosts take store, iis, httpsys, "
	  "exchange, rdp or script)" },
	{ "rsa bits out of range",
	  V1 MANUAL "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    key: {type: rsa, bits: 1024}\n",
	  "8:28: invalid rsa key size 1024 in key of certificate mail: expected 2048, 3072 or 4096" },
	{ "curve on rsa",
	  V1 MANUAL "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    key: {type: rsa, curve: p256}\n",
	  "8:22: \"curve\" does not apply to rsa keys (certificate mail): use bits: 2048, 3072 or 4096, or type: ecdsa" },
	{ "bits on ecdsa",
	  V1 MANUAL "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    key: {type: ecdsa, bits: 256}\n",
	  "8:24: \"bits\" does not apply to ecdsa keys (certificate mail): use curve: p256 or p384, or type: rsa" },
	{ "unknown curve",
	  V1 MANUAL "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    key: {type: ecdsa, curve: p521}\n",
	  "8:31: invalid value \"p521\" for \"curve\" in key of certificate mail: expected p256 or p384 "
	  "(did you mean \"p256\"?)" },
	{ "literal secret",
	  V1 "hosts:\n  w: {platform: windows, winrm: {address: w, user: u, password: \"Sup3r!\"}}\n",
	  "3:65: \"password\" in winrm of host w is written as a literal value: a secret must be a reference, "
	  "{env: VARIABLE} or {file: PATH}, so that it never lands in git" },
	{ "secret with both env and file",
	  V1 "issuers:\n  lab: {ca: {cert: ca.crt, key: {env: K, file: k.pem}}}\n",
	  "3:42: secret \"key\" in ca of issuer lab has both env and file: give one" },
	{ "secret with neither",
	  V1 "issuers:\n  lab: {ca: {cert: ca.crt, key: {}}}\n",
	  "3:33: secret \"key\" in ca of issuer lab needs env or file: write {env: VARIABLE} or {file: PATH}" },
	{ "basic authentication over http",
	  V1 "hosts:\n  w:\n    platform: windows\n    winrm: {address: w, user: u, password: {env: P}, auth: basic,"
	  " insecure_http: true}\n",
	  "5:82: basic authentication over plain HTTP would send the password in clear (host w: use auth: ntlm "
	  "or negotiate, or HTTPS)" },
	{ "verify host not bound",
	  V1 MANUAL "hosts:\n  sapphire: {platform: windows, ssh: {address: s, user: u}}\n"
	  "  cobalt: {platform: windows, ssh: {address: c, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n    bindings:\n"
	  "      - {host: sapphire, rdp: {}}\n"
	  "    verify:\n      - {connect: \"mail.example.org:3389\", host: cobalt}\n",
	  "14:50: verify 1 of certificate mail names host cobalt, but the certificate is not bound on it "
	  "(bound on: sapphire)" },
	{ "verify connect without a port",
	  V1 MANUAL WEB1 "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: web1, files: {cert: /etc/x.crt}}\n"
	  "    verify:\n      - {connect: mail.example.org}\n",
	  "13:19: invalid connect \"mail.example.org\" in verify 1 of certificate mail: expected HOST:PORT or "
	  "[IPV6]:PORT" },
	{ "verify connect with a bad port",
	  V1 MANUAL WEB1 "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: web1, files: {cert: /etc/x.crt}}\n"
	  "    verify:\n      - {connect: \"[2001:db8::1]:65536\"}\n",
	  "13:19: invalid connect \"[2001:db8::1]:65536\" in verify 1 of certificate mail: the port must be a "
	  "number between 1 and 65535" },
	{ "duplicate file target across certificates",
	  V1 MANUAL WEB1 "certificates:\n"
	  "  a: {common_name: a.example.org, issuer: lab, bindings: [{host: web1, files: {pem: /etc/tls/site.pem}}]}\n"
	  "  b: {common_name: b.example.org, issuer: lab, bindings: [{host: web1, files: {fullchain: /etc/tls/site.pem}}]}\n",
	  "8:91: file /etc/tls/site.pem on host web1 is already written as \"pem\" by binding 1 of certificate a" },
	{ "relative path on an ssh host",
	  V1 MANUAL WEB1 "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: web1, files: {cert: tls/mail.crt}}\n",
	  "11:36: \"cert\" in files binding 1 of certificate mail must be an absolute path on host web1 (only local "
	  "hosts resolve relative paths)" },
	{ "bad mode",
	  V1 MANUAL WEB1 "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: web1, files: {cert: /etc/x.crt, mode: \"0800\"}}\n",
	  "11:54: invalid mode \"0800\" in files binding 1 of certificate mail: expected 3 or 4 octal digits such "
	  "as \"0600\"" },
	{ "files binding writing nothing",
	  V1 MANUAL WEB1 "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: web1, files: {reload: true}}\n",
	  "11:29: files binding 1 of certificate mail writes nothing: give at least one of cert, key, chain, "
	  "fullchain or pem" },
	{ "bad port",
	  V1 "hosts:\n  web1: {platform: linux, ssh: {address: web1, user: u, port: 70000}}\n",
	  "3:63: \"port\" in ssh of host web1 must be between 1 and 65535, got 70000" },
	{ "parallelism out of range",
	  V1 "settings: {parallelism: 0}\n",
	  "2:25: \"parallelism\" in settings must be between 1 and 1024, got 0" },
	{ "bad dns name in common_name",
	  V1 MANUAL "certificates:\n  mail:\n    common_name: mail_server.example.org\n    issuer: lab\n",
	  "6:18: invalid DNS name \"mail_server.example.org\" for common_name of certificate mail: it may only "
	  "contain letters, digits, hyphens and dots" },
	{ "bad wildcard in dns_names",
	  V1 MANUAL "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    dns_names: [mail.example.org, \"www.*.example.org\"]\n",
	  "8:35: invalid DNS name \"www.*.example.org\" in dns_names of certificate mail: a wildcard may only be "
	  "the whole leftmost label" },
	{ "duplicate dns name, case-insensitive",
	  V1 MANUAL "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    dns_names:\n      - owa.example.org\n      - OWA.example.org\n",
	  "10:9: DNS name \"OWA.example.org\" is listed twice in dns_names of certificate mail (first on line 9)" },
	{ "yaml syntax error",
	  V1 "hosts:\n  web1: {platform: linux\n",
	  "4:1: syntax error: did not find expected ',' or '}' (while parsing a flow mapping on line 3)" },
	{ "tab indentation",
	  V1 "hosts:\n\tweb1: {}\n",
	  "3:1: syntax error: found a tab: YAML is indented with spaces, not tabs" },
	{ "empty file",
	  "",
	  "1:1: the config is empty: it needs at least \"version: 1\"" },
	{ "comments only",
	  "# nothing yet\n\n",
	  "1:1: the config is empty: it needs at least \"version: 1\"" },
	{ "second document",
	  V1 "---\n" V1,
	  "3:1: a config file holds one YAML document; this is a second one" },
	{ "renew_before not shorter than the ca validity",
	  V1 "issuers:\n  lab: {ca: {cert: ca.crt, key: {file: ca.key}, days: 20}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n    renew_before: 30d\n",
	  "8:19: renew_before 30d is not shorter than issuer lab's validity of 20 days: every plan would renew" },
	{ "default renew_before not shorter than the ca validity",
	  V1 "issuers:\n  lab: {ca: {cert: ca.crt, key: {file: ca.key}, days: 30}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n",
	  "7:13: renew_before 30d (the default) is not shorter than issuer lab's validity of 30 days: every plan "
	  "would renew" },
	{ "exchange bad service",
	  V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: s, exchange: {services: [POP3, IMAP]}}\n",
	  "11:41: unknown exchange service \"POP3\" in exchange binding 1 of certificate mail: expected POP, IMAP, "
	  "SMTP or IIS (did you mean \"POP\"?)" },
	{ "exchange service twice",
	  V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: s, exchange: {services: [imap, IMAP]}}\n",
	  "11:47: exchange service IMAP is listed twice in exchange binding 1 of certificate mail" },
	{ "exchange without services",
	  V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: s, exchange: {services: []}}\n",
	  "11:40: \"services\" in exchange binding 1 of certificate mail is empty: list at least one of POP, IMAP, "
	  "SMTP or IIS" },
	{ "two transports",
	  V1 "hosts:\n  web1:\n    platform: linux\n    local: {}\n    ssh: {address: web1, user: u}\n",
	  "6:5: host web1 has both local and ssh: a host has exactly one transport" },
	{ "no transport",
	  V1 "hosts:\n  web1:\n    platform: linux\n",
	  "4:5: host web1 needs a transport: one of local, ssh or winrm" },
	{ "local on windows",
	  V1 "hosts:\n  pc: {platform: windows, local: {}}\n",
	  "3:27: host pc is windows: local is only for linux hosts (use ssh or winrm)" },
	{ "winrm on linux",
	  V1 "hosts:\n  web1: {platform: linux, winrm: {address: w, user: u, password: {env: P}}}\n",
	  "3:27: host web1 is linux: winrm is only for windows hosts (use ssh or local)" },
	{ "reboot after-change on linux",
	  V1 "hosts:\n  web1: {platform: linux, local: {}, reboot: after-change}\n",
	  "3:46: reboot: after-change is only for windows hosts; certsync does not reboot linux host web1 (give "
	  "its bindings a reload command instead)" },
	{ "unknown platform",
	  V1 "hosts:\n  web1: {platform: Linux, local: {}}\n",
	  "3:20: invalid value \"Linux\" for \"platform\" in host web1: expected linux or windows (did you mean "
	  "\"linux\"?)" },
	{ "issuer without a kind",
	  V1 "issuers:\n  lab: {}\n",
	  "3:8: issuer lab needs exactly one of ca, manual or acme" },
	{ "issuer with two kinds",
	  V1 "issuers:\n  lab:\n    manual: {}\n    ca: {cert: ca.crt, key: {file: ca.key}}\n",
	  "5:5: issuer lab has both manual and ca: an issuer is exactly one of ca, manual or acme" },
	{ "acme directory is not a url",
	  V1 "issuers:\n  le: {acme: {directory: acme.example/directory}}\n",
	  "3:26: \"directory\" in acme of issuer le must be an https:// URL (ACME is https only), got "
	  "\"acme.example/directory\"" },
	/* The ACME client refuses plain http to any host, loopback too. */
	{ "acme directory over http",
	  V1 "issuers:\n  le: {acme: {directory: \"http://acme.example/directory\"}}\n",
	  "3:26: \"directory\" in acme of issuer le must be an https:// URL (ACME is https only), got "
	  "\"http://acme.example/directory\"" },
	{ "acme directory over http on loopback",
	  V1 "issuers:\n  le:\n    acme:\n      directory: http://127.0.0.1:14000/dir\n",
	  "5:18: \"directory\" in acme of issuer le must be an https:// URL (ACME is https only), got "
	  "\"http://127.0.0.1:14000/dir\"" },
	{ "acme directory with nothing after https://",
	  V1 "issuers:\n  le: {acme: {directory: \"https://\"}}\n",
	  "3:26: \"directory\" in acme of issuer le must be an https:// URL (ACME is https only), got \"https://\"" },
	{ "acme http-01 on an unknown host",
	  V1 WEB1 "issuers:\n  le:\n    acme:\n      directory: https://acme.example/dir\n"
	  "      challenge: {http-01: {host: web2, webroot: /var/www/acme}}\n",
	  "8:35: unknown host \"web2\" in http-01 of issuer le (did you mean \"web1\"?)" },
	{ "binding without a kind",
	  V1 MANUAL WEB1 "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - host: web1\n",
	  "11:9: binding 1 of certificate mail needs a kind: one of files, store, iis, httpsys, exchange, rdp or script" },
	{ "binding with two kinds",
	  V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: s, store: {}, rdp: {}}\n",
	  "11:30: binding 1 of certificate mail has both store and rdp: write one binding for each" },
	{ "script that does not exist",
	  V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: s, script: {path: tmg-listner.ps1}}\n",
	  "11:34: script tmg-listner.ps1 in script binding 1 of certificate mail does not exist (looked for "
	  EXAMPLE_DIR "/tmg-listner.ps1)" },
	{ "iis sni without hostname",
	  V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: s, iis: {site: Default Web Site, sni: true}}\n",
	  "11:54: sni: true in iis binding 1 of certificate mail needs a hostname (SNI picks the certificate by "
	  "host name)" },
	{ "httpsys with both forms",
	  V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: s, httpsys: {ipport: \"0.0.0.0:443\", hostnameport: \"mail.example.org:443\"}}\n",
	  "11:52: httpsys binding 1 of certificate mail has both ipport and hostnameport: give one" },
	{ "httpsys bad appid",
	  V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: s, httpsys: {ipport: \"0.0.0.0:443\", appid: 1234}}\n",
	  "11:59: invalid appid \"1234\" in httpsys binding 1 of certificate mail: expected a GUID such as "
	  "{4dc3e181-e14b-4a21-b022-59fc669b0914}" },
	{ "invalid environment variable name",
	  V1 "hosts:\n  w: {platform: windows, winrm: {address: w, user: u, password: {env: \"MY PASSWORD\"}}}\n",
	  "3:71: invalid environment variable name for secret \"password\" in winrm of host w: use letters, "
	  "digits and _, not starting with a digit" },
	{ "merge keys are refused",
	  V1 "hosts:\n  base: &b {platform: linux, local: {}}\n  web1:\n    <<: *b\n",
	  "5:5: merge keys (<<) are not supported in host web1: write the keys out" },
	{ "a key that is not a string",
	  V1 "settings:\n  [a]: 1\n",
	  "3:3: keys must be plain words, got a list as a key in settings" },
	{ "empty value for a required string",
	  V1 MANUAL "certificates:\n  mail:\n    common_name:\n    issuer: lab\n",
	  "6:17: expected a string for \"common_name\" in certificate mail, got an empty value" },
	{ "host entry that is not a mapping",
	  V1 "hosts:\n  web1: linux\n",
	  "3:9: expected a mapping for host web1, got a string" },
	{ "rdp takes no keys",
	  V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
	  "certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n"
	  "    bindings:\n      - {host: s, rdp: {port: 3389}}\n",
	  "11:25: unknown key \"port\" in rdp binding 1 of certificate mail (it takes no keys)" },
};

static char *first_diag(const char *yaml, int *out_r, size_t *out_n)
{
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	*out_r = cs_config_load_string(&cfg, "t.yaml", EXAMPLE_DIR, yaml, strlen(yaml), &d);
	*out_n = d.n;
	char *s = d.n ? cs_xasprintf("%d:%d: %s", d.v[0].line, d.v[0].col, d.v[0].msg) : NULL;
	cs_config_free(cfg);
	cs_diags_free(&d);
	return s;
}

static void test_bad_cases(void)
{
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		int r;
		size_t n;
		char *got = first_diag(bad_cases[i].yaml, &r, &n);
		if (tap_str(got, bad_cases[i].want, bad_cases[i].name))
			tap_ok(r == -EINVAL, bad_cases[i].name, "returned %d, want -EINVAL", r);
		free(got);
	}
}

/* One file, many problems: every one reported, sorted by position. */
static void test_all_errors_reported(void)
{
	static const char yaml[] =
		"version: 1\n"                                                        /* 1 */
		"settings: {parallelism: 2000}\n"                                      /* 2 */
		"issuers:\n"                                                           /* 3 */
		"  lab: {ca: {cert: ca.crt, key: secret-key-text}}\n"                  /* 4 */
		"hosts:\n"                                                             /* 5 */
		"  web1: {platform: linux, ssh: {address: web1, prot: 22}}\n"         /* 6 */
		"certificates:\n"                                                      /* 7 */
		"  mail:\n"                                                            /* 8 */
		"    common_name: mail..example.org\n"                                 /* 9 */
		"    issuer: lab\n"                                                    /* 10 */
		"    renew_before: soon\n"                                             /* 11 */
		"    bindings:\n"                                                      /* 12 */
		"      - {host: web1, files: {cert: rel.crt}}\n"                       /* 13 */
		"      - {host: web9, files: {cert: /x.crt}}\n";                       /* 14 */
	static const char *const want[] = {
		"2:25: \"parallelism\" in settings must be between 1 and 1024, got 2000",
		"4:33: \"key\" in ca of issuer lab is written as a literal value: a secret must be a reference, "
		"{env: VARIABLE} or {file: PATH}, so that it never lands in git",
		"6:32: missing required key \"user\" in ssh of host web1",
		"6:48: unknown key \"prot\" in ssh of host web1 (did you mean \"port\"?)",
		"9:18: invalid DNS name \"mail..example.org\" for common_name of certificate mail: it has an empty "
		"label (two dots in a row?)",
		"11:19: invalid duration \"soon\" for \"renew_before\" in certificate mail: a unit needs a number "
		"before it (write 30d)",
		"13:36: \"cert\" in files binding 1 of certificate mail must be an absolute path on host web1 (only "
		"local hosts resolve relative paths)",
		"14:16: unknown host \"web9\" in binding 2 of certificate mail (did you mean \"web1\"?)",
	};
	size_t n_want = sizeof want / sizeof want[0];
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load_string(&cfg, "many.yaml", EXAMPLE_DIR, yaml, sizeof yaml - 1, &d);
	tap_ok(r == -EINVAL && cfg == NULL, "several errors: load fails without a model", "r=%d", r);
	tap_int((long long)d.n, (long long)n_want, "several errors: all are reported");
	for (size_t i = 0; i < n_want; i++) {
		char name[64];
		snprintf(name, sizeof name, "several errors: diagnostic %zu", i + 1);
		char *got = i < d.n ? cs_xasprintf("%d:%d: %s", d.v[i].line, d.v[i].col, d.v[i].msg) : NULL;
		tap_str(got, want[i], name);
		free(got);
	}
	bool files_named = true;
	for (size_t i = 0; i < d.n; i++)
		files_named = files_named && strcmp(d.v[i].file, "many.yaml") == 0;
	tap_ok(files_named, "several errors: each names the file", NULL);
	cs_config_free(cfg);
	cs_diags_free(&d);
}

/* A misspelt required key is one mistake: "did you mean" says it all, and
 * "missing required key" would only repeat it. */
static void test_typo_reported_once(void)
{
	static const struct {
		const char *name, *yaml;
	} cases[] = {
		{ "typo of a required key", V1 MANUAL "certificates:\n  mail: {comon_name: a.example.org, issuer: lab}\n" },
		{ "typo of the version", "verison: 1\n" },
		{ "typo of a transport", V1 "hosts:\n  web1: {platform: linux, sssh: {address: a, user: u}}\n" },
		{ "typo of an issuer kind", V1 "issuers:\n  lab: {manaul: {}}\n" },
		{ "typo of a binding kind", V1 MANUAL "hosts:\n  s: {platform: windows, ssh: {address: s, user: u}}\n"
		  "certificates:\n  c: {common_name: c.example.org, issuer: lab, bindings: [{host: s, sotre: {}}]}\n" },
		{ "typo of a secret form", V1 "issuers:\n  lab: {ca: {cert: c, key: {flie: k}}}\n" },
		{ "typo of verify host", V1 MANUAL "hosts:\n  a: {platform: linux, local: {}}\n  b: {platform: linux, local: {}}\n"
		  "certificates:\n  c: {common_name: c.example.org, issuer: lab, bindings: [{host: a, files: {cert: a.crt}},"
		  " {host: b, files: {cert: b.crt}}], verify: [{connect: \"c:443\", hots: a}]}\n" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct cs_diags d = CS_DIAGS_INIT;
		struct cs_config *cfg = NULL;
		int r = cs_config_load_string(&cfg, "t.yaml", EXAMPLE_DIR, cases[i].yaml, strlen(cases[i].yaml), &d);
		tap_ok(r == -EINVAL && d.n == 1 && strstr(d.v[0].msg, "did you mean") != NULL, cases[i].name,
		       "r=%d n=%zu first=%s second=%s", r, d.n, d.n ? d.v[0].msg : "", d.n > 1 ? d.v[1].msg : "");
		cs_config_free(cfg);
		cs_diags_free(&d);
	}
}

static struct cs_config *load_ok(const char *name, const char *yaml)
{
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load_string(&cfg, name, EXAMPLE_DIR, yaml, strlen(yaml), &d);
	if (!tap_ok(r == 0 && cfg && d.n == 0, name, "r=%d, %zu diagnostics, first: %d:%d: %s", r, d.n,
		    d.n ? d.v[0].line : 0, d.n ? d.v[0].col : 0, d.n ? d.v[0].msg : "")) {
		cs_config_free(cfg);
		cfg = NULL;
	}
	cs_diags_free(&d);
	return cfg;
}

static void test_motivating_example(void)
{
	const char *path = CS_SOURCE_ROOT "/examples/iis-exchange-isa/certsync.yaml";
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load(&cfg, path, &d);
	if (!tap_ok(r == 0 && cfg && d.n == 0, "iis-exchange-isa example validates", "r=%d, %zu diagnostics: %s", r,
		    d.n, d.n ? d.v[0].msg : "")) {
		cs_diags_free(&d);
		return;
	}
	const struct cs_issuer_cfg *vs = cs_config_issuer(cfg, "verisign");
	tap_ok(vs && vs->kind == CS_ISSUER_MANUAL, "example: verisign is a manual issuer", NULL);
	tap_str(vs ? vs->manual.requests : NULL, EXAMPLE_DIR "/requests", "example: requests/ resolved");
	tap_str(vs ? vs->manual.inbox : NULL, EXAMPLE_DIR "/inbox", "example: inbox/ resolved");

	const struct cs_host_cfg *sap = cs_config_host(cfg, "sapphire");
	const struct cs_host_cfg *cob = cs_config_host(cfg, "cobalt");
	tap_ok(sap && sap->platform == CS_PLATFORM_WINDOWS && sap->transport == CS_TRANSPORT_WINRM &&
	       sap->winrm.port == 5986 && sap->winrm.auth == CS_WINRM_NTLM && !sap->winrm.insecure_http &&
	       sap->winrm.timeout == 60 && sap->reboot == CS_REBOOT_NEVER && sap->local_dir == NULL,
	       "example: sapphire over winrm https with ntlm", NULL);
	tap_str(sap ? sap->winrm.user : NULL, "CORP\\svc-certsync", "example: winrm user keeps its backslash");
	tap_ok(sap && sap->winrm.password.kind == CS_SECRET_ENV && cs_streq(sap->winrm.password.ref, "SAPPHIRE_PASSWORD"),
	       "example: winrm password is an env reference", NULL);
	tap_str(sap ? sap->winrm.ca_bundle : NULL, EXAMPLE_DIR "/pki/corp-root.pem", "example: ca_bundle resolved");
	tap_ok(cob && cob->transport == CS_TRANSPORT_SSH && cob->ssh.port == 22 && cob->ssh.timeout == 30 &&
	       cob->reboot == CS_REBOOT_AFTER_CHANGE && !cob->ssh.host_key_accept_new,
	       "example: cobalt over ssh, rebooted after a change", NULL);
	char *identity = cs_path_expand_home("~/.ssh/certsync_ed25519");
	char *want_identity = cs_path_join(EXAMPLE_DIR, identity);
	tap_str(cob ? cob->ssh.identity : NULL, want_identity, "example: identity ~ expanded");
	free(identity);
	free(want_identity);

	const struct cs_cert_cfg *mail = cs_config_cert(cfg, "mail");
	if (tap_ok(mail && mail->n_bindings == 4 && mail->n_verify == 3, "example: mail has 4 bindings, 3 verify",
		   NULL)) {
		tap_ok(mail->key.type == CS_KEY_RSA && mail->key.bits == 2048, "example: rsa 2048", NULL);
		tap_ok(mail->renew_before == 30 * 86400 && mail->remind_before == 7 * 86400,
		       "example: renew 30d, remind 7d", NULL);
		tap_ok(mail->issuer_index < cfg->n_issuers && &cfg->issuers[mail->issuer_index] == vs,
		       "example: issuer resolved", NULL);
		const struct cs_binding_cfg *b = mail->bindings;
		tap_ok(b[0].kind == CS_BIND_IIS && cs_streq(b[0].iis.site, "Default Web Site") && b[0].iis.port == 443 &&
		       cs_streq(b[0].iis.ip, "*") && !b[0].iis.sni && &cfg->hosts[b[0].host_index] == sap,
		       "example: iis binding on sapphire", NULL);
		tap_ok(b[1].kind == CS_BIND_EXCHANGE && b[1].exchange.services == (CS_EXCH_POP | CS_EXCH_IMAP),
		       "example: exchange POP and IMAP", NULL);
		tap_ok(b[2].kind == CS_BIND_STORE && b[2].store.exportable && !b[2].store.cleanup &&
		       &cfg->hosts[b[2].host_index] == cob, "example: exportable store on cobalt", NULL);
		tap_ok(b[3].kind == CS_BIND_SCRIPT && b[3].script.n_args == 1 &&
		       cs_streq(b[3].script.args[0].name, "listener") && cs_streq(b[3].script.args[0].value, "OWA"),
		       "example: script with listener OWA", NULL);
		tap_str(b[3].script.path, EXAMPLE_DIR "/tmg-listener.ps1", "example: script path resolved");
		tap_ok(mail->verify[0].host_index < cfg->n_hosts && &cfg->hosts[mail->verify[0].host_index] == sap &&
		       mail->verify[1].starttls == CS_STARTTLS_IMAP && &cfg->hosts[mail->verify[2].host_index] == cob &&
		       mail->verify[0].timeout == 30, "example: verify hosts resolved", NULL);
	}
	tap_str(cfg->settings.state_dir, EXAMPLE_DIR "/.certsync", "example: default state_dir");
	tap_int(cfg->settings.parallelism, 32, "example: default parallelism");
	cs_config_free(cfg);
	cs_diags_free(&d);
}

static void test_local_example(void)
{
	const char *dir = CS_SOURCE_ROOT "/examples/local";
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load(&cfg, CS_SOURCE_ROOT "/examples/local/certsync.yaml", &d);
	if (!tap_ok(r == 0 && cfg && d.n == 0, "local example validates (pki/ need not exist)",
		    "r=%d, %zu diagnostics: %s", r, d.n, d.n ? d.v[0].msg : "")) {
		cs_diags_free(&d);
		return;
	}
	char *want = cs_xasprintf("%s/.certsync", dir);
	tap_str(cfg->settings.state_dir, want, "local: state_dir resolved");
	free(want);
	const struct cs_issuer_cfg *lab = cs_config_issuer(cfg, "lab");
	tap_ok(lab && lab->kind == CS_ISSUER_CA && lab->ca.days == 90 && lab->ca.key.kind == CS_SECRET_FILE,
	       "local: lab is a ca with a file key", NULL);
	want = cs_xasprintf("%s/pki/ca.key", dir);
	tap_str(lab ? lab->ca.key.ref : NULL, want, "local: ca key path resolved");
	free(want);
	const struct cs_host_cfg *here = cs_config_host(cfg, "here");
	tap_ok(here && here->transport == CS_TRANSPORT_LOCAL, "local: here is local", NULL);
	tap_str(here ? here->local_dir : NULL, dir, "local: local_dir is the config folder");
	const struct cs_cert_cfg *demo = cs_config_cert(cfg, "demo");
	const struct cs_cert_cfg *api = cs_config_cert(cfg, "api");
	if (tap_ok(demo && api && demo->n_bindings == 1 && api->n_bindings == 1, "local: two certificates", NULL)) {
		tap_ok(demo->key.type == CS_KEY_ECDSA && demo->key.curve == CS_CURVE_P256, "local: demo ecdsa p256",
		       NULL);
		want = cs_xasprintf("%s/out/demo.crt", dir);
		tap_str(demo->bindings[0].files.cert, want, "local: relative file path resolved on a local host");
		free(want);
		tap_int(demo->bindings[0].files.mode, 0600, "local: mode \"0600\"");
		tap_str(demo->bindings[0].files.reload, "sh reload-demo.sh", "local: reload command");
		tap_int(api->bindings[0].files.mode, 0600, "local: pem defaults to 0600");
		tap_ok(api->key.type == CS_KEY_RSA && api->key.bits == 2048, "local: api rsa 2048", NULL);
	}
	cs_config_free(cfg);
	cs_diags_free(&d);
}

static void test_defaults(void)
{
	struct cs_config *cfg = load_ok("defaults apply",
		"version: 1\n"
		"issuers:\n  lab: {manual: {}}\n"
		"hosts:\n"
		"  web1: {platform: linux, ssh: {address: web1, user: u}}\n"
		"  pc: {platform: windows, winrm: {address: pc, user: u, password: {file: pw.txt}, insecure_http: true}}\n"
		"certificates:\n"
		"  mail:\n"
		"    common_name: Mail.Example.org\n"
		"    dns_names: [owa.example.org, MAIL.example.org, autodiscover.example.org]\n"
		"    issuer: lab\n"
		"    bindings:\n"
		"      - {host: web1, files: {cert: /etc/tls/mail.crt, chain: /etc/tls/chain.pem}}\n"
		"      - {host: web1, files: {key: /etc/tls/mail.key, mode: 0640}}\n"
		"      - {host: web1, files: {fullchain: /etc/tls/full.pem, mode: 600, owner: www-data}}\n"
		"    verify:\n"
		"      - {connect: \"[2001:db8::1]:443\"}\n");
	if (!cfg)
		return;
	tap_int(cfg->settings.parallelism, 32, "defaults: parallelism 32");
	tap_str(cfg->settings.state_dir, EXAMPLE_DIR "/.certsync", "defaults: state_dir .certsync resolved");
	tap_str(cfg->issuers[0].manual.requests, EXAMPLE_DIR "/requests", "defaults: manual requests");
	tap_str(cfg->issuers[0].manual.inbox, EXAMPLE_DIR "/inbox", "defaults: manual inbox");
	const struct cs_host_cfg *web1 = cs_config_host(cfg, "web1");
	const struct cs_host_cfg *pc = cs_config_host(cfg, "pc");
	tap_ok(web1 && web1->ssh.port == 22 && web1->ssh.timeout == 30 && !web1->ssh.become_sudo &&
	       web1->local_dir == NULL && web1->reboot == CS_REBOOT_NEVER, "defaults: ssh port 22, timeout 30s", NULL);
	char *kh = cs_path_expand_home("~/.ssh/known_hosts");
	char *want_kh = cs_path_join(EXAMPLE_DIR, kh);
	tap_str(web1 ? web1->ssh.known_hosts : NULL, want_kh, "defaults: known_hosts");
	free(kh);
	free(want_kh);
	tap_ok(pc && pc->winrm.port == 5985 && pc->winrm.auth == CS_WINRM_NTLM && pc->winrm.timeout == 60,
	       "defaults: winrm over http on 5985 with ntlm", NULL);
	tap_str(pc ? pc->winrm.password.ref : NULL, EXAMPLE_DIR "/pw.txt", "defaults: file secret resolved");
	const struct cs_cert_cfg *mail = cs_config_cert(cfg, "mail");
	tap_ok(mail->key.type == CS_KEY_RSA && mail->key.bits == 2048, "defaults: key rsa 2048", NULL);
	tap_str(cs_key_spec_name(&mail->key), "rsa 2048", "defaults: key spec name");
	tap_ok(mail->renew_before == 30 * 86400 && mail->remind_before == 7 * 86400, "defaults: renew 30d, remind 7d",
	       NULL);
	tap_int(mail->bindings[0].files.mode, 0644, "defaults: mode 0644 without a key");
	tap_int(mail->bindings[1].files.mode, 0640, "defaults: YAML 0640 read as octal");
	tap_int(mail->bindings[2].files.mode, 0600, "defaults: mode 600 read as octal");
	tap_str(mail->bindings[2].files.owner, "www-data", "defaults: owner kept");
	tap_ok(mail->n_verify == 1 && mail->verify[0].timeout == 30 && cs_streq(mail->verify[0].host, "web1") &&
	       mail->verify[0].host_index < cfg->n_hosts && &cfg->hosts[mail->verify[0].host_index] == web1,
	       "defaults: verify host inferred from the only bound host", NULL);

	size_t n = 0;
	char **names = cs_cert_names(mail, &n);
	tap_ok(n == 3 && strcmp(names[0], "autodiscover.example.org") == 0 &&
	       strcmp(names[1], "mail.example.org") == 0 && strcmp(names[2], "owa.example.org") == 0,
	       "cs_cert_names: lowercased, sorted, deduplicated", "n=%zu first=%s", n, n ? names[0] : "");
	cs_strv_free(names, n);
	cs_config_free(cfg);
	/* No host: on a certificate bound on several: checked after all of
	 * them (an address in front of several hosts), as DESIGN.md writes it. */
	cfg = load_ok("verify without host on several hosts",
		"version: 1\nissuers:\n  lab: {manual: {}}\n"
		"hosts:\n  sapphire: {platform: windows, ssh: {address: s, user: u}}\n"
		"  cobalt: {platform: windows, ssh: {address: c, user: u}}\n"
		"certificates:\n  mail:\n    common_name: mail.example.org\n    issuer: lab\n    bindings:\n"
		"      - {host: sapphire, iis: {site: Default Web Site}}\n      - {host: cobalt, store: {}}\n"
		"    verify:\n      - {connect: \"mail.example.org:443\"}\n      - {connect: \"owa.example.org:443\", host: cobalt}\n");
	const struct cs_cert_cfg *m2 = cfg ? cs_config_cert(cfg, "mail") : NULL;
	tap_ok(m2 && m2->verify[0].all_hosts && !m2->verify[0].host && !m2->verify[1].all_hosts &&
	       cs_verify_covers(m2, &m2->verify[0], 0) && cs_verify_covers(m2, &m2->verify[0], 1) &&
	       !cs_verify_covers(m2, &m2->verify[1], 0) && cs_verify_covers(m2, &m2->verify[1], 1),
	       "verify without host on several hosts covers all of them", NULL);
	cs_config_free(cfg);

	cfg = load_ok("ecdsa and iis defaults",
		"version: 1\nissuers:\n  lab: {ca: {cert: ca.crt, key: {env: CA_KEY}}}\n"
		"hosts:\n  s: {platform: windows, ssh: {address: s, user: u, host_key_policy: accept-new}}\n"
		"certificates:\n  c:\n    common_name: \"*.example.org\"\n    issuer: lab\n"
		"    key: {type: ecdsa}\n    renew_before: 1d12h\n"
		"    bindings:\n      - {host: s, iis: {site: Intranet, hostname: intra.example.org, sni: true}}\n"
		"      - {host: s, httpsys: {hostnameport: \"intra.example.org:8443\", appid: 4dc3e181-e14b-4a21-b022-59fc669b0914}}\n");
	if (!cfg)
		return;
	const struct cs_cert_cfg *c = &cfg->certs[0];
	tap_ok(c->key.type == CS_KEY_ECDSA && c->key.curve == CS_CURVE_P256, "defaults: ecdsa means p256", NULL);
	tap_str(cs_key_spec_name(&c->key), "ecdsa p256", "defaults: ecdsa key spec name");
	tap_int(c->renew_before, 129600, "defaults: renew_before 1d12h");
	tap_int(cfg->issuers[0].ca.days, 90, "defaults: ca days 90");
	tap_ok(c->bindings[0].iis.port == 443 && cs_streq(c->bindings[0].iis.ip, "*") && c->bindings[0].iis.sni,
	       "defaults: iis port 443, ip *", NULL);
	tap_str(c->bindings[1].httpsys.appid, "{4dc3e181-e14b-4a21-b022-59fc669b0914}", "defaults: appid braced");
	/* Plan lines tell bindings of one site and port apart. */
	char *where = cs_binding_where(&c->bindings[0]);
	tap_str(where, "site Intranet port 443 hostname intra.example.org (SNI)", "iis where: hostname and SNI shown");
	free(where);
	struct cs_binding_cfg by_ip = c->bindings[0];
	by_ip.iis.ip = "10.0.0.5";
	by_ip.iis.hostname = NULL;
	by_ip.iis.sni = false;
	where = cs_binding_where(&by_ip);
	tap_str(where, "site Intranet port 443 ip 10.0.0.5", "iis where: an ip other than * shown");
	free(where);
	tap_ok(cfg->hosts[0].ssh.host_key_accept_new, "defaults: host_key_policy accept-new", NULL);
	cs_config_free(cfg);
}

/* Whatever is written where a secret belongs, the value never shows up in
 * a message. */
static void test_no_secret_in_diagnostics(void)
{
	static const char *const configs[] = {
		"version: 1\nhosts:\n  w: {platform: windows, winrm: {address: w, user: u, password: Tr0ub4dor-and-3}}\n",
		"version: 1\nhosts:\n  w: {platform: windows, winrm: {address: w, user: u, password: \"Tr0ub4dor-and-3\"}}\n",
		"version: 1\nhosts:\n  w: {platform: linux, ssh: {address: w, user: u, password: [Tr0ub4dor-and-3]}}\n",
		"version: 1\nhosts:\n  w: {platform: linux, ssh: {address: w, user: u, passphrase: {value: Tr0ub4dor-and-3}}}\n",
		"version: 1\nhosts:\n  w: {platform: linux, ssh: {address: w, user: u, passphrase: {env: \"Tr0ub4dor-and-3\"}}}\n",
		"version: 1\nissuers:\n  lab: {ca: {cert: c, key: \"-----BEGIN PRIVATE KEY----- Tr0ub4dor-and-3\"}}\n",
		"version: 1\nissuers:\n  le: {acme: {directory: https://a/d, eab: {kid: k, hmac: Tr0ub4dor-and-3}}}\n",
		"version: 1\nissuers:\n  le: {acme: {directory: https://a/d, eab: {kid: k, hmac: {env: E, file: Tr0ub4dor-and-3}}}}\n",
		"version: 1\nhosts:\n  w: {platform: linux, ssh: {address: w, user: u, password: {env: {Tr0ub4dor-and-3: 1}}}}\n",
	};
	for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
		struct cs_diags d = CS_DIAGS_INIT;
		struct cs_config *cfg = NULL;
		int r = cs_config_load_string(&cfg, "s.yaml", EXAMPLE_DIR, configs[i], strlen(configs[i]), &d);
		bool leaked = false;
		for (size_t j = 0; j < d.n; j++)
			leaked = leaked || strstr(d.v[j].msg, "Tr0ub4dor") != NULL;
		char name[64];
		snprintf(name, sizeof name, "secret %zu: refused without quoting the value", i + 1);
		tap_ok(r == -EINVAL && d.n > 0 && !leaked, name, "r=%d n=%zu first=%s", r, d.n, d.n ? d.v[0].msg : "");
		cs_config_free(cfg);
		cs_diags_free(&d);
	}
}

static void test_misc(void)
{
	struct cs_diags d = CS_DIAGS_INIT;
	struct cs_config *cfg = NULL;
	int r = cs_config_load(&cfg, CS_SOURCE_ROOT "/examples/no-such-folder/certsync.yaml", &d);
	tap_ok(r == -ENOENT && cfg == NULL && d.n == 1 && d.v[0].line == 0 &&
	       strcmp(d.v[0].msg, "cannot read the config file: No such file or directory (start one with `certsync init`, or name another with -c FILE)") == 0,
	       "missing file: -ENOENT and one diagnostic", "r=%d n=%zu msg=%s", r, d.n, d.n ? d.v[0].msg : "");
	cs_diags_free(&d);

	tap_str(cs_binding_kind_name(CS_BIND_HTTPSYS), "httpsys", "cs_binding_kind_name");
	tap_str(cs_platform_name(CS_PLATFORM_WINDOWS), "windows", "cs_platform_name");
	tap_str(cs_issuer_kind_name(CS_ISSUER_ACME), "acme", "cs_issuer_kind_name");
	struct cs_key_spec p384 = { CS_KEY_ECDSA, 0, CS_CURVE_P384 };
	tap_str(cs_key_spec_name(&p384), "ecdsa p384", "cs_key_spec_name p384");

	/* Anchors and aliases are plain YAML and work; keys come out as if
	 * written twice. */
	cfg = load_ok("anchors and aliases",
		"version: 1\nissuers:\n  lab: {manual: {}}\n"
		"hosts:\n  web1: {platform: linux, ssh: &ssh {address: web1, user: deploy}}\n"
		"  web2: {platform: linux, ssh: *ssh}\n"
		"certificates:\n  a: {common_name: a.example.org, issuer: lab}\n");
	if (cfg) {
		tap_ok(cs_config_host(cfg, "web2") && cs_streq(cs_config_host(cfg, "web2")->ssh.user, "deploy"),
		       "anchors: alias copied", NULL);
		tap_ok(cs_config_host(cfg, "nope") == NULL && cs_config_cert(cfg, "b") == NULL &&
		       cs_config_issuer(cfg, NULL) == NULL, "look-ups of absent names give NULL", NULL);
	}
	cs_config_free(cfg);

	cfg = load_ok("acme issuer parses (refused later, at plan time)",
		"version: 1\nhosts:\n  web1: {platform: linux, local: {}}\n"
		"issuers:\n  le:\n    acme:\n      directory: https://acme.example/directory\n"
		"      contact: [\"mailto:ops@example.org\"]\n      eab: {kid: KID, hmac: {env: EAB_HMAC}}\n"
		"      challenge: {http-01: {host: web1, webroot: /var/www/acme}}\n      preferred_chain: ISRG Root X1\n"
		"  le2:\n    acme: {directory: https://localhost:14000/dir, challenge: {dns-01: {hook: hooks/dns.sh, propagation: 2m}}}\n");
	if (cfg) {
		const struct cs_issuer_cfg *le = cs_config_issuer(cfg, "le");
		const struct cs_issuer_cfg *le2 = cs_config_issuer(cfg, "le2");
		tap_ok(le && le->kind == CS_ISSUER_ACME && le->acme.challenge == CS_CHALLENGE_HTTP01 &&
		       le->acme.n_contact == 1 && cs_streq(le->acme.eab_kid, "KID") &&
		       cs_streq(le->acme.http01_webroot, "/var/www/acme"), "acme: http-01 webroot", NULL);
		tap_ok(le2 && le2->acme.challenge == CS_CHALLENGE_DNS01 && le2->acme.dns01_propagation == 120 &&
		       cs_streq(le2->acme.dns01_hook, EXAMPLE_DIR "/hooks/dns.sh"), "acme: dns-01 hook", NULL);
	}
	cs_config_free(cfg);
}

/* Secret references, as the rest of certsync reads them (secret.c has no
 * test program of its own; it belongs to the config module). */
static char *write_temp(const char *content, mode_t mode)
{
	char *path = cs_xstrdup("/tmp/certsync-secret-XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0) {
		free(path);
		return NULL;
	}
	size_t len = strlen(content);
	bool ok = write(fd, content, len) == (ssize_t)len && fchmod(fd, mode) == 0;
	close(fd);
	if (!ok) {
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}

static void test_secrets(void)
{
	struct cs_buf b = CS_BUF_INIT;
	struct cs_err err = CS_ERR_INIT;
	struct cs_secret env = { CS_SECRET_ENV, (char *)"CERTSYNC_TEST_SECRET" };
	char desc[128];
	tap_str(cs_secret_describe(&env, desc, sizeof desc), "env CERTSYNC_TEST_SECRET", "secret: describe env");

	unsetenv("CERTSYNC_TEST_SECRET");
	int r = cs_secret_resolve(&env, &b, &err);
	tap_ok(r == -ENOENT && strcmp(cs_err_msg(&err), "environment variable CERTSYNC_TEST_SECRET is not set") == 0,
	       "secret: unset variable", "r=%d msg=%s", r, cs_err_msg(&err));
	cs_err_clear(&err);
	setenv("CERTSYNC_TEST_SECRET", "", 1);
	r = cs_secret_resolve(&env, &b, &err);
	tap_ok(r == -ENOENT && strcmp(cs_err_msg(&err), "environment variable CERTSYNC_TEST_SECRET is empty") == 0,
	       "secret: empty variable", "r=%d msg=%s", r, cs_err_msg(&err));
	cs_err_clear(&err);
	setenv("CERTSYNC_TEST_SECRET", "Tr0ub4dor-and-3", 1);
	r = cs_secret_resolve(&env, &b, &err);
	tap_ok(r == 0 && b.len == 15 && strcmp(b.data, "Tr0ub4dor-and-3") == 0, "secret: env value", "r=%d", r);
	cs_buf_free_secret(&b);
	unsetenv("CERTSYNC_TEST_SECRET");

	char *path = write_temp("Tr0ub4dor-and-3\n", 0600);
	if (!path) { /* spelled out so the compiler sees path is set below */
		tap_ok(false, "secret: temporary file", NULL);
		return;
	}
	tap_ok(true, "secret: temporary file", NULL);
	struct cs_secret file = { CS_SECRET_FILE, path };
	r = cs_secret_resolve(&file, &b, &err);
	tap_ok(r == 0 && strcmp(b.data, "Tr0ub4dor-and-3\n") == 0, "secret: file keeps its newline", "r=%d", r);
	cs_buf_free_secret(&b);
	r = cs_secret_resolve_line(&file, &b, &err);
	tap_ok(r == 0 && strcmp(b.data, "Tr0ub4dor-and-3") == 0 && b.len == 15, "secret: one line without newline",
	       "r=%d", r);
	cs_buf_free_secret(&b);

	chmod(path, 0640);
	r = cs_secret_resolve(&file, &b, &err);
	char *want = cs_xasprintf("secret file %s is readable by others (mode 0640; run chmod 600 %s)", path, path);
	tap_ok(r == -EPERM && b.len == 0 && strcmp(cs_err_msg(&err), want) == 0, "secret: group-readable file refused",
	       "r=%d msg=%s", r, cs_err_msg(&err));
	free(want);
	cs_err_clear(&err);
	unlink(path);
	free(path);

	path = write_temp("line one\nline two\n", 0400);
	if (path) {
		file.ref = path;
		r = cs_secret_resolve_line(&file, &b, &err);
		tap_ok(r == -EINVAL && b.len == 0 && strstr(cs_err_msg(&err), "line one") == NULL,
		       "secret: several lines refused for a password", "r=%d msg=%s", r, cs_err_msg(&err));
		cs_err_clear(&err);
		cs_buf_free_secret(&b);
		unlink(path);
		free(path);
	}
	path = write_temp("", 0600);
	if (path) {
		file.ref = path;
		r = cs_secret_resolve(&file, &b, &err);
		tap_ok(r == -ENOENT, "secret: empty file", "r=%d msg=%s", r, cs_err_msg(&err));
		cs_err_clear(&err);
		unlink(path);
		file.ref = path;
		r = cs_secret_resolve(&file, &b, &err);
		tap_ok(r == -ENOENT, "secret: missing file", "r=%d msg=%s", r, cs_err_msg(&err));
		cs_err_clear(&err);
		free(path);
	}
	struct cs_secret none = { CS_SECRET_NONE, NULL };
	r = cs_secret_resolve(&none, &b, &err);
	tap_ok(r == -ENOENT, "secret: none configured", "r=%d", r);
	cs_err_clear(&err);
	cs_buf_free_secret(&b);
}

int main(void)
{
	test_bad_cases();
	test_all_errors_reported();
	test_typo_reported_once();
	test_motivating_example();
	test_local_example();
	test_defaults();
	test_no_secret_in_diagnostics();
	test_misc();
	test_secrets();
	return tap_done();
}
