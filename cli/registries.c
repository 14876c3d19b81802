/* Package registry hosts from the host's package-manager configuration (contract in
 * registries.h). */
#include "config.h"
#include "cli/registries.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/xalloc.h"

/* npm's and pip's own built-in defaults, used only when no configuration names another index,
 * exactly as the tools themselves would. */
#define NPM_DEFAULT_REGISTRY "https://registry.npmjs.org/"
#define PIP_DEFAULT_INDEX "https://pypi.org/simple"
/* PyPI serves its index from pypi.org and the package files from this host. */
#define PYPI_INDEX_RE "^pypi\\.org$"
#define PYPI_FILES_URL "https://files.pythonhosted.org/"

void isol8_reg_paths_from_env(struct isol8_reg_paths *p)
{
	const char *prefix = getenv("NPM_CONFIG_PREFIX");

	memset(p, 0, sizeof *p);
	p->home = getenv("HOME");
	p->etc = "/etc";
	p->npm_prefix = prefix && *prefix ? prefix : getenv("PREFIX");
	p->npm_registry_env = getenv("NPM_CONFIG_REGISTRY");
	if (!p->npm_registry_env)
		p->npm_registry_env = getenv("npm_config_registry");
	p->pip_index_env = getenv("PIP_INDEX_URL");
}

char *isol8_reg_host_regex(const char *url)
{
	const char *h, *end, *at;
	size_t len;
	char *re, *w;

	if (!url)
		return NULL;
	while (isspace((unsigned char)*url))
		url++;
	if (strncasecmp(url, "https://", 8) == 0)
		h = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		h = url + 7;
	else
		return NULL;
	end = h + strcspn(h, "/?#");
	/* userinfo ("user:token@") may itself hold ':'; the host follows the last '@'. */
	for (at = end; at > h && at[-1] != '@'; at--)
		;
	h = at;
	len = strcspn(h, ":/?#");
	if (h + len > end)
		len = (size_t)(end - h);
	if (len == 0 || len > 253)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-' && h[i] != '_')
			return NULL;
	if (h[0] == '.' || h[len - 1] == '.')
		return NULL;
	for (size_t i = 1; i < len; i++)
		if (h[i] == '.' && h[i - 1] == '.')
			return NULL;
	/* Only '.' is an ERE metacharacter among the accepted bytes; escape it. */
	re = w = xmalloc(2 * len + 3);
	*w++ = '^';
	for (size_t i = 0; i < len; i++) {
		if (h[i] == '.')
			*w++ = '\\';
		*w++ = (char)tolower((unsigned char)h[i]);
	}
	*w++ = '$';
	*w = '\0';
	return re;
}

static bool key_eq(const char *a, size_t alen, const char *key)
{
	if (alen != strlen(key))
		return false;
	for (size_t i = 0; i < alen; i++) {
		char x = a[i] == '_' ? '-' : (char)tolower((unsigned char)a[i]);
		char y = key[i] == '_' ? '-' : (char)tolower((unsigned char)key[i]);
		if (x != y)
			return false;
	}
	return true;
}

static size_t trim_len(const char *s, size_t n)
{
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return n;
}

char *isol8_reg_ini_value(const char *text, const char *section, const char *key, bool colon_too)
{
	bool in_section = section == NULL;
	char *found = NULL;

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		const char *s = line, *sep;
		size_t klen, vlen;

		line = nl ? nl + 1 : NULL;
		while (n && isspace((unsigned char)*s))
			s++, n--;
		n = trim_len(s, n);
		if (n == 0 || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			const char *close = memchr(s, ']', n);
			in_section = section && close && key_eq(s + 1, (size_t)(close - s - 1), section);
			continue;
		}
		if (!in_section)
			continue;
		sep = memchr(s, '=', n);
		if (colon_too) {
			const char *c = memchr(s, ':', n);
			if (c && (!sep || c < sep))
				sep = c;
		}
		if (!sep)
			continue;
		klen = trim_len(s, (size_t)(sep - s));
		if (!key_eq(s, klen, key))
			continue;
		sep++;
		vlen = n - (size_t)(sep - s);
		while (vlen && isspace((unsigned char)*sep))
			sep++, vlen--;
		if (vlen >= 2 && (sep[0] == '"' || sep[0] == '\'') && sep[vlen - 1] == sep[0])
			sep++, vlen -= 2;
		free(found);
		found = vlen ? xstrndup(sep, vlen) : NULL;
	}
	return found;
}

static void push_unique(char ***v, size_t *n, char *re)
{
	if (!re)
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], re) == 0) {
			free(re);
			return;
		}
	if (*n >= ISOL8_REG_MAX_HOSTS) {
		free(re);
		return;
	}
	*v = xrealloc(*v, (*n + 2) * sizeof **v);
	(*v)[(*n)++] = re;
	(*v)[*n] = NULL;
}

static void push_url(char ***v, size_t *n, const char *url)
{
	push_unique(v, n, isol8_reg_host_regex(url));
}

/* One-line "deb [opts] URI suite ...": the URI is the first word after the options. */
static void apt_line(const char *s, size_t n, char ***v, size_t *nv)
{
	_cleanup_free_ char *l = xstrndup(s, n);
	char *save = NULL, *w = strtok_r(l, " \t", &save);

	if (!w || strcmp(w, "deb") != 0)
		return;
	w = strtok_r(NULL, " \t", &save);
	if (w && w[0] == '[') {
		while (w && !strchr(w, ']'))
			w = strtok_r(NULL, " \t", &save);
		if (w && strchr(w, ']')[1] != '\0')
			w = strchr(w, ']') + 1;
		else if (w)
			w = strtok_r(NULL, " \t", &save);
	}
	if (w)
		push_url(v, nv, w);
}

struct stanza {
	bool deb, disabled;
	char *uris;
};

static void stanza_flush(struct stanza *st, char ***v, size_t *n)
{
	if (st->deb && !st->disabled && st->uris) {
		char *save = NULL;
		for (char *u = strtok_r(st->uris, " \t", &save); u; u = strtok_r(NULL, " \t", &save))
			push_url(v, n, u);
	}
	free(st->uris);
	memset(st, 0, sizeof *st);
}

static void stanza_field(struct stanza *st, const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	_cleanup_free_ char *val = NULL;

	if (!colon)
		return;
	val = xstrndup(colon + 1, n - (size_t)(colon + 1 - s));
	if (key_eq(s, (size_t)(colon - s), "Types")) {
		char *save = NULL;
		for (char *t = strtok_r(val, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
			if (strcmp(t, "deb") == 0)
				st->deb = true;
	} else if (key_eq(s, (size_t)(colon - s), "Enabled")) {
		const char *e = val + strspn(val, " \t");
		st->disabled = strncasecmp(e, "no", 2) == 0;
	} else if (key_eq(s, (size_t)(colon - s), "URIs")) {
		free(st->uris);
		st->uris = val;
		val = NULL;
	}
}

void isol8_reg_apt_hosts(const char *text, bool deb822, char ***v, size_t *n)
{
	struct stanza st = {0};

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *s = line;

		line = nl ? nl + 1 : NULL;
		len = trim_len(s, len);
		if (deb822 && len == 0) {
			stanza_flush(&st, v, n);
			continue;
		}
		while (len && isspace((unsigned char)*s))
			s++, len--;
		if (len == 0 || *s == '#')
			continue;
		if (deb822)
			stanza_field(&st, s, len);
		else
			apt_line(s, len, v, n);
	}
	stanza_flush(&st, v, n);
}

/* Whole file as a string; NULL when absent, unreadable, not regular or too large (an
 * unusable file means "not configured", as for the tools themselves). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *b;
	size_t got;

	if (!f)
		return NULL;
	b = xmalloc(ISOL8_REG_MAX_FILE + 1);
	got = fread(b, 1, ISOL8_REG_MAX_FILE + 1, f);
	fclose(f);
	if (got > ISOL8_REG_MAX_FILE || memchr(b, '\0', got)) {
		free(b);
		return NULL;
	}
	b[got] = '\0';
	return b;
}

static char *file_value(const char *dir, const char *rel, const char *section, const char *key, bool colon)
{
	_cleanup_free_ char *path = NULL, *text = NULL;

	if (!dir)
		return NULL;
	path = xasprintf("%s/%s", dir, rel);
	text = slurp(path);
	return text ? isol8_reg_ini_value(text, section, key, colon) : NULL;
}

static char *npm_registry(const struct isol8_reg_paths *p)
{
	char *r;

	if (p->npm_registry_env && *p->npm_registry_env)
		return xstrdup(p->npm_registry_env);
	if ((r = file_value(p->home, ".npmrc", NULL, "registry", false)) ||
	    (r = file_value(p->npm_prefix, "etc/npmrc", NULL, "registry", false)) ||
	    (r = file_value(p->etc, "npmrc", NULL, "registry", false)))
		return r;
	return xstrdup(NPM_DEFAULT_REGISTRY);
}

/* pip reads [install] over [global] for `pip install`. */
static char *pip_file_index(const char *dir, const char *rel)
{
	char *r = file_value(dir, rel, "install", "index-url", true);
	return r ? r : file_value(dir, rel, "global", "index-url", true);
}

static char *pip_index(const struct isol8_reg_paths *p)
{
	char *r;

	if (p->pip_index_env && *p->pip_index_env)
		return xstrdup(p->pip_index_env);
	if ((r = pip_file_index(p->home, ".config/pip/pip.conf")) || (r = pip_file_index(p->home, ".pip/pip.conf")) ||
	    (r = pip_file_index(p->etc, "pip.conf")))
		return r;
	return xstrdup(PIP_DEFAULT_INDEX);
}

static void apt_file(const char *path, bool deb822, char ***v, size_t *n)
{
	_cleanup_free_ char *text = slurp(path);
	if (text)
		isol8_reg_apt_hosts(text, deb822, v, n);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void apt_sources(const char *etc, char ***v, size_t *n)
{
	_cleanup_free_ char *list = NULL, *dirpath = NULL;
	char **names = NULL;
	size_t nn = 0;
	DIR *d;
	struct dirent *e;

	if (!etc)
		return;
	list = xasprintf("%s/apt/sources.list", etc);
	apt_file(list, false, v, n);
	dirpath = xasprintf("%s/apt/sources.list.d", etc);
	d = opendir(dirpath);
	if (!d)
		return;
	/* apt reads the directory in name order; so do we, for stable output. */
	while ((e = readdir(d)) && nn < 256) {
		size_t l = strlen(e->d_name);
		if ((l > 5 && strcmp(e->d_name + l - 5, ".list") == 0) ||
		    (l > 8 && strcmp(e->d_name + l - 8, ".sources") == 0)) {
			names = xrealloc(names, (nn + 1) * sizeof *names);
			names[nn++] = xstrdup(e->d_name);
		}
	}
	closedir(d);
	if (nn)
		qsort(names, nn, sizeof *names, cmp_str);
	for (size_t i = 0; i < nn; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dirpath, names[i]);
		size_t l = strlen(names[i]);
		apt_file(path, l > 8 && strcmp(names[i] + l - 8, ".sources") == 0, v, n);
		free(names[i]);
	}
	free(names);
}

size_t isol8_reg_host_defaults(const char *runtime, const struct isol8_reg_paths *p, char ***out)
{
	size_t n = 0;

	*out = NULL;
	if (strcmp(runtime, "python") == 0) {
		_cleanup_free_ char *idx = pip_index(p);
		char *re = isol8_reg_host_regex(idx);
		bool pypi = re && strcmp(re, PYPI_INDEX_RE) == 0;
		push_unique(out, &n, re);
		if (pypi)
			push_url(out, &n, PYPI_FILES_URL);
	} else if (strcmp(runtime, "node") == 0 || strcmp(runtime, "bun") == 0 || strcmp(runtime, "deno") == 0) {
		_cleanup_free_ char *reg = npm_registry(p);
		push_url(out, &n, reg);
	} else if (strcmp(runtime, "bash") == 0) {
		apt_sources(p->etc, out, &n);
	}
	return n;
}
