/* Stored credentials and key resolution (contract in credentials.h). */
#include "config.h"
#include "cli/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/xalloc.h"

char *credentials_path(void)
{
	const char *home = getenv("HOME");

	return xasprintf("%s/.isol8/credentials.json", home && *home ? home : ".");
}

static size_t trimmed_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '/' ? n - 1 : n;
}

static bool same_host(const char *a, const char *b)
{
	size_t na = trimmed_len(a), nb = trimmed_len(b);

	return na == nb && strncmp(a, b, na) == 0;
}

static void now_iso(char out[32])
{
	struct timespec ts;
	struct tm tm;
	char d[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%.19s.%03uZ", d, (unsigned)(ts.tv_nsec / 1000000) % 1000u);
}

const char *credentials_resolve(const char *key, const char *host, char **owned)
{
	const char *e = getenv("ISOL8_API_KEY");
	char *path, now[32];
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *o = NULL, *v;
	const char *h, *t, *x;

	*owned = NULL;
	if (key && *key)
		return key;
	if (e && *e)
		return e;
	if (!host)
		return NULL;
	path = credentials_path();
	{
		FILE *f = fopen(path, "re");
		char buf[8192];
		size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
		if (f)
			fclose(f);
		if (n > 0 && n < sizeof buf)
			o = isol8_json_parse(buf, n, sizeof buf, &err);
	}
	free(path);
	if (!o)
		return NULL;
	h = isol8_json_member(o, "host", &v) == 1 && json_object_is_type(v, json_type_string)
		? json_object_get_string(v)
		: "";
	t = isol8_json_member(o, "token", &v) == 1 && json_object_is_type(v, json_type_string)
		? json_object_get_string(v)
		: "";
	x = isol8_json_member(o, "expiresAt", &v) == 1 && json_object_is_type(v, json_type_string)
		? json_object_get_string(v)
		: "";
	now_iso(now);
	if (*t && same_host(h, host)) {
		if (*x && strcmp(x, now) < 0)
			fputs("[WARN] Stored credentials have expired. Run `isol8 login` to re-authenticate.\n",
			      stderr);
		else
			*owned = xstrdup(t);
	}
	json_object_put(o);
	return *owned;
}

int credentials_store(const char *host, const char *token, const char *expires, const char *key_id,
		      struct isol8_err *err)
{
	char *path = credentials_path(), *dir = xstrdup(path), *tmp = NULL;
	json_object *o = json_object_new_object();
	const char *text;
	int fd = -1, rc = -1;

	*strrchr(dir, '/') = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		isol8_err_set(err, ISOL8_E_IO, errno, "cannot create %s", dir);
		goto out;
	}
	json_object_object_add(o, "host", json_object_new_string(host));
	json_object_object_add(o, "token", json_object_new_string(token));
	json_object_object_add(o, "expiresAt", json_object_new_string(expires));
	json_object_object_add(o, "keyId", json_object_new_string(key_id));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	tmp = xasprintf("%s.tmp%ld", path, (long)getpid());
	/* 0600 from the start: the token is a credential. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "cannot write %s", tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "cannot write %s", path);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp)
		unlink(tmp);
	json_object_put(o);
	free(tmp);
	free(dir);
	free(path);
	return rc;
}
