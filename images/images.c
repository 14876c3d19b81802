/* isol8 runtime images: names, hashes, package validation, build contexts, resolution. */
#include "config.h"
#include "images/images.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buildtree.h"
#include "common/cleanup.h"
#include "common/xalloc.h"
#include "common/tar.h"
#include "policy/policy.h"

#define CA_WALK_MAX_DEPTH 16
#define PKG_NAME_MAX 256

/* ---- string lists ---- */

void isol8_strlist_add(struct isol8_strlist *l, const char *s)
{
	l->v = xrealloc(l->v, (l->n + 2) * sizeof(*l->v));
	l->v[l->n++] = xstrdup(s);
	l->v[l->n] = NULL;
}

void isol8_strlist_add_csv(struct isol8_strlist *l, const char *csv)
{
	const char *p = csv;

	while (p && *p) {
		const char *end = strchr(p, ',');
		const char *stop = end ? end : p + strlen(p);
		const char *a = p, *b = stop;
		while (a < b && (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\n' || b[-1] == '\r'))
			b--;
		if (b > a) {
			_cleanup_free_ char *item = xstrndup(a, (size_t)(b - a));
			isol8_strlist_add(l, item);
		}
		p = end ? end + 1 : NULL;
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void isol8_strlist_sort_unique(struct isol8_strlist *l)
{
	size_t w = 0;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_str);
	for (size_t r = 0; r < l->n; r++) {
		if (w > 0 && strcmp(l->v[w - 1], l->v[r]) == 0) {
			free(l->v[r]);
			continue;
		}
		l->v[w++] = l->v[r];
	}
	l->n = w;
	l->v[w] = NULL;
}

char *isol8_strlist_join(const struct isol8_strlist *l, const char *sep)
{
	struct isol8_buf b = ISOL8_BUF_INIT;

	isol8_buf_append(&b, "", 0); /* terminated even when the list is empty */
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			isol8_buf_puts(&b, sep);
		isol8_buf_puts(&b, l->v[i]);
	}
	return isol8_buf_steal(&b, NULL);
}

void isol8_strlist_free(struct isol8_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- names ---- */

static const char *const base_tags[ISOL8_RT__MAX] = {
	[ISOL8_RT_PYTHON] = "isol8:python", [ISOL8_RT_NODE] = "isol8:node", [ISOL8_RT_BUN] = "isol8:bun",
	[ISOL8_RT_DENO] = "isol8:deno",     [ISOL8_RT_BASH] = "isol8:bash", [ISOL8_RT_AGENT] = "isol8:agent",
};

const char *isol8_image_base_tag(int rt)
{
	return rt >= 0 && rt < ISOL8_RT__MAX ? base_tags[rt] : NULL;
}

/* One pattern per ecosystem. None admits blanks, quotes, '$', '`', ';', '|', '&', '<', '>',
 * '*', '?', '(' or a leading '-' (option injection into pip/npm/apt). Version pins are limited
 * to what needs no shell-special character. */
static const char *const pkg_patterns[ISOL8_RT__MAX] = {
	/* pip: name[extra,extra]==1.2 or ~=1.2 */
	[ISOL8_RT_PYTHON] = "^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\\[[A-Za-z0-9._,-]+\\])?"
			    "((==|~=)[A-Za-z0-9.+_-]+)?$",
	/* npm: [@scope/]name[@version-or-tag] */
	[ISOL8_RT_NODE] = "^(@[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9.^~+_-]+)?$",
	[ISOL8_RT_BUN] = "^(@[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9.^~+_-]+)?$",
	/* deno cache: https URL, npm: or jsr: specifier */
	[ISOL8_RT_DENO] = "^(https://[A-Za-z0-9.-]+(:[0-9]+)?/|npm:|jsr:)[A-Za-z0-9._~:/@%+=-]*$",
	/* apt: Debian package name, optional =version */
	[ISOL8_RT_BASH] = "^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+:~-]+)?$",
	/* the agent image has node and npm: npm packages, as for node */
	[ISOL8_RT_AGENT] = "^(@[A-Za-z0-9][A-Za-z0-9._-]*/)?[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9.^~+_-]+)?$",
};

static const char *const pkg_hints[ISOL8_RT__MAX] = {
	[ISOL8_RT_PYTHON] = "a pip requirement like name, name[extra] or name==1.2",
	[ISOL8_RT_NODE] = "an npm package like name, @scope/name or name@1.2",
	[ISOL8_RT_BUN] = "an npm package like name, @scope/name or name@1.2",
	[ISOL8_RT_DENO] = "an https:// module URL or an npm:/jsr: specifier",
	[ISOL8_RT_BASH] = "a Debian package name like jq or jq=1.6-2.1",
	[ISOL8_RT_AGENT] = "an npm package like name, @scope/name or name@1.2",
};

int isol8_pkg_validate(int rt, const char *name, struct isol8_err *err)
{
	regex_t re;
	int r;

	if (rt < 0 || rt >= ISOL8_RT__MAX)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown runtime %d", rt);
	if (!name || !*name || strlen(name) > PKG_NAME_MAX)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid %s package name (empty or longer than %d)",
				     isol8_runtime_name(rt), PKG_NAME_MAX);
	if (regcomp(&re, pkg_patterns[rt], REG_EXTENDED | REG_NOSUB) != 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "package pattern for %s does not compile",
				     isol8_runtime_name(rt));
	r = regexec(&re, name, 0, NULL, 0);
	regfree(&re);
	if (r != 0) {
		/* Quote at most 64 printable bytes of the rejected name. */
		char shown[65];
		size_t i;
		for (i = 0; name[i] && i < 64; i++)
			shown[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
		shown[i] = '\0';
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid %s package \"%s\": expected %s",
				     isol8_runtime_name(rt), shown, pkg_hints[rt]);
	}
	return 0;
}

/* ---- hashing ---- */

static void to_hex(const unsigned char *md, unsigned n, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (unsigned i = 0; i < n; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * n] = '\0';
}

struct sha {
	EVP_MD_CTX *ctx;
};

static void sha_init(struct sha *s)
{
	s->ctx = EVP_MD_CTX_new();
	if (!s->ctx || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1)
		abort(); /* only fails on OOM or a broken libcrypto: same policy as xmalloc */
}

static void sha_update(struct sha *s, const void *data, size_t len)
{
	if (EVP_DigestUpdate(s->ctx, data, len) != 1)
		abort();
}

static void sha_final(struct sha *s, char hex[ISOL8_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (EVP_DigestFinal_ex(s->ctx, md, &n) != 1 || n != 32)
		abort();
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
	to_hex(md, n, hex);
}

void isol8_sha256_hex(const void *data, size_t len, char hex[ISOL8_SHA256_HEX])
{
	struct sha s;

	sha_init(&s);
	sha_update(&s, data, len);
	sha_final(&s, hex);
}

void isol8_deps_hash(int rt, const struct isol8_strlist *pkgs, const char *setup, char hex[ISOL8_SHA256_HEX])
{
	const char *name = isol8_runtime_name(rt);
	struct sha s;

	sha_init(&s);
	sha_update(&s, name ? name : "?", strlen(name ? name : "?") + 1);
	for (size_t i = 0; pkgs && i < pkgs->n; i++)
		sha_update(&s, pkgs->v[i], strlen(pkgs->v[i]) + 1);
	if (setup) {
		sha_update(&s, "setup:", 6);
		sha_update(&s, setup, strlen(setup));
	}
	sha_final(&s, hex);
}

char *isol8_image_custom_tag(int rt, const char deps_hash[ISOL8_SHA256_HEX])
{
	const char *name = isol8_runtime_name(rt);

	return xasprintf("%s:%s-custom-%.12s", ISOL8_IMAGE_REPO, name ? name : "unknown", deps_hash);
}

/* ---- build inputs ---- */

static bool is_dockerfile_dir(const char *dir)
{
	_cleanup_free_ char *p = xasprintf("%s/Dockerfile", dir);
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Is this process's binary installed (in libexecdir), or run from a build tree? */
static bool running_installed(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (n <= 0)
		return true;
	exe[n] = '\0';
	return strncmp(exe, ISOL8_LIBEXECDIR "/", strlen(ISOL8_LIBEXECDIR) + 1) == 0;
}

int isol8_image_data_dir(char **out, struct isol8_err *err)
{
	const char *env = getenv("ISOL8_DATA_DIR");
	_cleanup_free_ char *installed = xasprintf("%s/sandbox", ISOL8_DATADIR);
	_cleanup_free_ char *src = isol8_build_tree_path("sandbox");
	bool have_src = src && is_dockerfile_dir(src);

	if (env && *env) {
		if (!is_dockerfile_dir(env))
			return isol8_err_set(err, ISOL8_E_NOTFOUND, 0, "ISOL8_DATA_DIR=%s has no Dockerfile", env);
		*out = xstrdup(env);
		return 0;
	}
	/* A binary run from its build tree builds from its own sources, not from an installed copy
	 * that may belong to another version; an installed one prefers the installed files. */
	if (have_src && !running_installed()) {
		*out = steal_ptr(&src);
		return 0;
	}
	if (is_dockerfile_dir(installed)) {
		*out = steal_ptr(&installed);
		return 0;
	}
	if (have_src) {
		*out = steal_ptr(&src);
		return 0;
	}
	return isol8_err_set(err, ISOL8_E_NOTFOUND, 0,
			     "image build files not found (looked in %s; set ISOL8_DATA_DIR to the sandbox/ folder)",
			     installed);
}

/* Read a whole regular file (symlinks followed) of at most max bytes. */
static int read_small_file(const char *path, size_t max, struct isol8_buf *out, struct isol8_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char chunk[8192];

	isol8_buf_reset(out);
	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "open %s", path);
	if (fstat(fd, &st) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "stat %s", path);
	if (!S_ISREG(st.st_mode))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: not a regular file", path);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "read %s", path);
		if (n == 0)
			return 0;
		if (out->len + (size_t)n > max)
			return isol8_err_set(err, ISOL8_E_LIMIT, 0, "%s: larger than %zu bytes", path, max);
		isol8_buf_append(out, chunk, (size_t)n);
	}
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int ca_walk(const char *dir, int depth, struct isol8_strlist *out, struct isol8_err *err)
{
	DIR *d;
	struct dirent *de;

	if (depth > CA_WALK_MAX_DEPTH)
		return 0;
	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return isol8_err_set(err, ISOL8_E_IO, errno, "open %s", dir);
	}
	while ((de = readdir(d))) {
		struct stat st;
		_cleanup_free_ char *p = NULL;
		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (stat(p, &st) < 0)
			continue; /* dangling symlink */
		if (S_ISDIR(st.st_mode)) {
			if (ca_walk(p, depth + 1, out, err) < 0) {
				closedir(d);
				return -1;
			}
		} else if (S_ISREG(st.st_mode) && ends_with(de->d_name, ".crt")) {
			isol8_strlist_add(out, p);
		}
	}
	closedir(d);
	return 0;
}

int isol8_ca_default_list(const char *dir, struct isol8_strlist *out, struct isol8_err *err)
{
	if (ca_walk(dir, 0, out, err) < 0)
		return -1;
	isol8_strlist_sort_unique(out);
	return 0;
}

struct ctx_file {
	char *path; /* inside the context */
	struct isol8_buf data;
	unsigned mode;
};

struct ctx_files {
	struct ctx_file *v;
	size_t n;
};

static struct ctx_file *ctx_add(struct ctx_files *f, char *path, unsigned mode)
{
	struct ctx_file *e;

	f->v = xrealloc(f->v, (f->n + 1) * sizeof(*f->v));
	e = &f->v[f->n++];
	e->path = path;
	e->data = (struct isol8_buf)ISOL8_BUF_INIT;
	e->mode = mode;
	return e;
}

static void ctx_files_free(struct ctx_files *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].path);
		isol8_buf_free(&f->v[i].data);
	}
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

static int cmp_ctx_file(const void *a, const void *b)
{
	return strcmp(((const struct ctx_file *)a)->path, ((const struct ctx_file *)b)->path);
}

/* Regular files of dir, flat, under prefix/ in the context: hidden files, editor backups and the
 * folder's Makefile.inc (the build system's, never installed) are not build inputs, so a source
 * tree and its installed copy make the same context and hash; the Dockerfile is sent once, at
 * the top. */
static int add_flat_dir(const char *dir, const char *prefix, unsigned mode, struct ctx_files *f, struct isol8_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return isol8_err_set(err, ISOL8_E_IO, errno, "open %s", dir);
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		struct stat st;
		struct ctx_file *e;
		if (de->d_name[0] == '.' || ends_with(de->d_name, "~") || strcmp(de->d_name, "Dockerfile") == 0 ||
		    strcmp(de->d_name, "Makefile.inc") == 0)
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		e = ctx_add(f, xasprintf("%s/%s", prefix, de->d_name), mode);
		if (read_small_file(p, ISOL8_CONTEXT_FILE_MAX, &e->data, err) < 0) {
			r = -1;
			break;
		}
	}
	closedir(d);
	return r;
}

/* "03-my_ca.crt" from "/some/where/my ca.pem": index keeps names unique and ordered. */
static char *ca_context_name(size_t idx, const char *path)
{
	const char *base = strrchr(path, '/');
	_cleanup_free_ char *stem = xstrdup(base ? base + 1 : path);
	char *dot = strrchr(stem, '.');

	if (dot && (strcmp(dot, ".crt") == 0 || strcmp(dot, ".pem") == 0))
		*dot = '\0';
	for (char *c = stem; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '_' || *c == '-'))
			*c = '_';
	if (strlen(stem) > 100)
		stem[100] = '\0';
	return xasprintf("ca/%03zu-%s.crt", idx, *stem ? stem : "ca");
}

int isol8_base_context_make(const char *data_dir, const struct isol8_strlist *ca_files, const char *from_id,
			    struct isol8_base_context *out, struct isol8_err *err)
{
	struct ctx_files f = {0};
	struct isol8_tar_entry *entries = NULL;
	_cleanup_free_ char *dockerfile = xasprintf("%s/Dockerfile", data_dir);
	struct sha s;
	int r = -1;

	out->tar = (struct isol8_buf)ISOL8_BUF_INIT;
	out->hash[0] = '\0';
	if (read_small_file(dockerfile, ISOL8_CONTEXT_FILE_MAX, &ctx_add(&f, xstrdup("Dockerfile"), 0644)->data, err) <
	    0)
		goto out;
	/* The in-image helpers beside the Dockerfile, and in common/ the isol8 sources the agent is
	 * built with (in the source tree, links to the top-level common/). */
	{
		_cleanup_free_ char *common = xasprintf("%s/common", data_dir);
		if (add_flat_dir(data_dir, "sandbox", 0755, &f, err) < 0 ||
		    add_flat_dir(common, "common", 0644, &f, err) < 0)
			goto out;
	}
	for (size_t i = 0; ca_files && i < ca_files->n; i++) {
		struct ctx_file *e = ctx_add(&f, ca_context_name(i, ca_files->v[i]), 0644);
		if (read_small_file(ca_files->v[i], 1u << 20, &e->data, err) < 0)
			goto out;
		/* Only certificates go into images: a key passed by mistake would ship to every sandbox. */
		if (!memmem(e->data.data, e->data.len, "-----BEGIN CERTIFICATE-----", 27) ||
		    memmem(e->data.data, e->data.len, "PRIVATE KEY", 11)) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: not a PEM certificate (or it contains a private key)",
				      ca_files->v[i]);
			goto out;
		}
	}
	if (!ca_files || ca_files->n == 0)
		ctx_add(&f, xstrdup("ca/.keep"), 0644); /* COPY ca/ needs the folder */

	qsort(f.v, f.n, sizeof(*f.v), cmp_ctx_file);
	sha_init(&s);
	if (from_id) {
		sha_update(&s, "from:", 5);
		sha_update(&s, from_id, strlen(from_id) + 1);
	}
	entries = xcalloc(f.n, sizeof(*entries));
	for (size_t i = 0; i < f.n; i++) {
		uint64_t len = f.v[i].data.len;
		unsigned char lenbe[8];
		for (int b = 0; b < 8; b++)
			lenbe[b] = (unsigned char)(len >> (56 - 8 * b));
		sha_update(&s, f.v[i].path, strlen(f.v[i].path) + 1);
		sha_update(&s, lenbe, sizeof(lenbe));
		sha_update(&s, f.v[i].data.data ? f.v[i].data.data : "", f.v[i].data.len);
		entries[i] = (struct isol8_tar_entry){.path = f.v[i].path,
						      .data = f.v[i].data.data ? f.v[i].data.data : "",
						      .len = f.v[i].data.len,
						      .mode = f.v[i].mode};
	}
	sha_final(&s, out->hash);
	if (isol8_tar_build(entries, f.n, &out->tar, err) < 0) {
		isol8_err_wrap(err, "build context");
		goto out;
	}
	r = 0;
out:
	free(entries);
	ctx_files_free(&f);
	if (r < 0)
		isol8_base_context_free(out);
	return r;
}

void isol8_base_context_free(struct isol8_base_context *c)
{
	isol8_buf_free(&c->tar);
	c->hash[0] = '\0';
}

char *isol8_custom_dockerfile(int rt, const struct isol8_strlist *pkgs, bool pip_index, bool has_setup)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	const char *base = isol8_image_base_tag(rt);

	isol8_buf_printf(&b, "FROM %s\n", base ? base : "scratch");
	if (rt == ISOL8_RT_PYTHON && pip_index)
		isol8_buf_puts(&b, "ARG PIP_INDEX_URL\nARG PIP_TRUSTED_HOST\n");
	if (rt == ISOL8_RT_DENO)
		isol8_buf_puts(&b, "ENV DENO_DIR=/usr/local/share/deno-dir\n");
	if (pkgs && pkgs->n > 0) {
		/* Exec form: each package is one JSON string, no shell ever parses the list. */
		json_object *argv = json_object_new_array();
		json_object_array_add(argv, json_object_new_string("/bin/sh"));
		json_object_array_add(argv, json_object_new_string("/usr/local/lib/isol8/install.sh"));
		json_object_array_add(argv, json_object_new_string(isol8_runtime_name(rt)));
		for (size_t i = 0; i < pkgs->n; i++)
			json_object_array_add(argv, json_object_new_string(pkgs->v[i]));
		isol8_buf_printf(
			&b, "RUN %s\n",
			json_object_to_json_string_ext(argv, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(argv);
	}
	if (has_setup)
		isol8_buf_puts(&b, "COPY setup.sh " ISOL8_IMAGE_SETUP_PATH "\n");
	return isol8_buf_steal(&b, NULL);
}

const char *isol8_image_label(json_object *inspect, const char *key)
{
	json_object *cfg, *labels, *v;

	if (!inspect || !json_object_object_get_ex(inspect, "Config", &cfg) ||
	    !json_object_object_get_ex(cfg, "Labels", &labels) || !json_object_is_type(labels, json_type_object) ||
	    !json_object_object_get_ex(labels, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int isol8_image_resolve(struct docker *d, int rt, const struct isol8_strlist *pkgs, char **out, bool *satisfied,
			struct isol8_err *err)
{
	const char *base = isol8_image_base_tag(rt);
	char hash[ISOL8_SHA256_HEX];
	_cleanup_free_ char *tag = NULL;
	json_object *img = NULL;
	const char *label;

	if (!base)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown runtime %d", rt);
	*satisfied = !pkgs || pkgs->n == 0;
	if (*satisfied) {
		*out = xstrdup(base);
		return 0;
	}
	isol8_deps_hash(rt, pkgs, NULL, hash);
	tag = isol8_image_custom_tag(rt, hash);
	if (docker_image_inspect(d, tag, &img, err) < 0) {
		if (err->code != ISOL8_E_NOTFOUND)
			return isol8_err_wrap(err, "resolve image for %s", isol8_runtime_name(rt));
		isol8_err_clear(err);
		*out = xstrdup(base);
		return 0;
	}
	label = isol8_image_label(img, ISOL8_LABEL_DEPS_HASH);
	*satisfied = label && strcmp(label, hash) == 0;
	json_object_put(img);
	*out = *satisfied ? steal_ptr(&tag) : xstrdup(base);
	return 0;
}

int isol8_pip_index_host(const char *url, char **host, struct isol8_err *err)
{
	regex_t re;
	regmatch_t m[3];
	int r;

	if (!url || strlen(url) > 2048)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid pip index URL");
	if (regcomp(&re, "^https?://([A-Za-z0-9.-]+)(:[0-9]{1,5})?(/[A-Za-z0-9._~/%+=-]*)?$", REG_EXTENDED) != 0)
		return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "URL pattern does not compile");
	r = regexec(&re, url, 3, m, 0);
	regfree(&re);
	if (r != 0 || m[1].rm_so < 0)
		return isol8_err_set(
			err, ISOL8_E_USAGE, 0,
			"invalid pip index URL (expected http(s)://host[:port]/path without query or blanks)");
	*host = xstrndup(url + m[1].rm_so, (size_t)(m[1].rm_eo - m[1].rm_so));
	return 0;
}
