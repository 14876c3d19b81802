/* Package registry hosts for `isol8 run --install` under the filtered network. Nothing is
 * hard-coded here: the hosts come from isol8's config (network.registries.<runtime>, in conf.c),
 * else from what the host's own package managers are configured to use, read the way each tool
 * reads it (npm: $NPM_CONFIG_REGISTRY, ~/.npmrc, $PREFIX/etc/npmrc, /etc/npmrc, then npm's
 * built-in default; pip: $PIP_INDEX_URL, ~/.config/pip/pip.conf, ~/.pip/pip.conf,
 * /etc/pip.conf, then pip's built-in default; apt: sources.list and sources.list.d). Every
 * function is pure apart from reading the files named in struct isol8_reg_paths; the config
 * files are the user's own, but they are parsed as untrusted text (bounded, validated hosts). */
#ifndef ISOL8_REGISTRIES_H
#define ISOL8_REGISTRIES_H

#include <stdbool.h>
#include <stddef.h>

/* Largest package-manager config file read; larger files are ignored. */
#define ISOL8_REG_MAX_FILE (64 * 1024)
/* At most this many registry hosts per runtime. */
#define ISOL8_REG_MAX_HOSTS 16

/* Where to look. NULL members are skipped (tests point them at temporary directories). */
struct isol8_reg_paths {
	const char *home;             /* ~ for ~/.npmrc, ~/.config/pip/pip.conf, ~/.pip/pip.conf */
	const char *etc;              /* "/etc": npmrc, pip.conf, apt/sources.list{,.d} */
	const char *npm_prefix;       /* npm's global prefix: <prefix>/etc/npmrc */
	const char *npm_registry_env; /* $NPM_CONFIG_REGISTRY (or npm_config_registry) */
	const char *pip_index_env;    /* $PIP_INDEX_URL */
};

/* The real host: $HOME, /etc, $NPM_CONFIG_PREFIX or $PREFIX, and the two variables. The
 * strings point into the environment (borrowed). */
void isol8_reg_paths_from_env(struct isol8_reg_paths *p);

/* The anchored, escaped regex "^host$" for the host of an http(s) URL ("https://u:p@Host:8443/x"
 * gives "^host$", lower-cased, dots escaped). NULL for another scheme, no host, an IP literal in
 * brackets or a host with characters outside [A-Za-z0-9._-]. Caller frees. */
char *isol8_reg_host_regex(const char *url);

/* The value of key in INI-style text (npmrc, pip.conf): "key = value" or, with colon_too,
 * "key: value"; ';' and '#' start comment lines; surrounding quotes are dropped; keys compare
 * case-insensitively and '_' matches '-'. section NULL: only keys before any [section];
 * otherwise keys inside [section]. The last assignment wins (as in both tools). NULL if
 * absent or empty. Caller frees. */
char *isol8_reg_ini_value(const char *text, const char *section, const char *key, bool colon_too);

/* http(s) URIs of the "deb" entries of an apt sources file: one-line format ("deb [opts] URI
 * suite comp...") or deb822 (stanzas with "Types:" containing deb, "URIs:", and not
 * "Enabled: no"). Appends host regexes to *v (NULL-terminated, deduplicated, *n counted, at most
 * ISOL8_REG_MAX_HOSTS). */
void isol8_reg_apt_hosts(const char *text, bool deb822, char ***v, size_t *n);

/* Host regexes the host's package manager for runtime uses (python: pip; node, bun, deno: npm,
 * whose registry bun and deno's npm: specifiers also honour; bash: apt). Returns the count
 * (0: nothing known), *out a NULL-terminated vector to free with isol8_strv_free. */
size_t isol8_reg_host_defaults(const char *runtime, const struct isol8_reg_paths *p, char ***out);

#endif
