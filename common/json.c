#include "config.h"
#include "common/json.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

/* Line and column (1-based) of byte offset off in text, for error messages. */
static void line_col(const char *text, size_t off, size_t *line, size_t *col)
{
	size_t l = 1, c = 1;

	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static bool only_space(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return false;
	return true;
}

json_object *isol8_json_parse(const char *text, size_t len, size_t max_len, struct isol8_err *err)
{
	struct json_tokener *tok;
	json_object *v;
	enum json_tokener_error jerr;
	size_t end, line, col;
	const char *nul;

	if (len > max_len) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "document too large (%zu bytes, limit %zu)", len, max_len);
		return NULL;
	}
	/* json-c would stop at a NUL and report the wrong place; a NUL never belongs in JSON text. */
	nul = memchr(text, '\0', len);
	if (nul) {
		line_col(text, (size_t)(nul - text), &line, &col);
		isol8_err_set(err, ISOL8_E_USAGE, 0, "line %zu, column %zu: NUL byte in document", line, col);
		return NULL;
	}
	if (only_space(text, len)) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "empty document");
		return NULL;
	}
	if (len > INT32_MAX) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "document too large");
		return NULL;
	}
	tok = json_tokener_new_ex(ISOL8_JSON_MAX_DEPTH);
	if (!tok) {
		isol8_err_set(err, ISOL8_E_INTERNAL, ENOMEM, "json tokener");
		return NULL;
	}
	/* Strict: the original used JSON.parse, which has no comments, NaN or trailing commas. */
	/* Trailing data is checked below, where its position can be reported precisely. */
	json_tokener_set_flags(tok,
			       JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
	v = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!v && jerr == json_tokener_continue) {
		/* A top-level number or literal ("5", "null") is only complete at end of input;
		 * json-c takes a NUL byte as that signal. */
		v = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
		if (!v && jerr != json_tokener_success)
			jerr = json_tokener_continue;
	}
	if (!v && jerr == json_tokener_continue) {
		/* Input ended inside a value: report the position just past the end. */
		json_tokener_free(tok);
		line_col(text, len, &line, &col);
		isol8_err_set(err, ISOL8_E_USAGE, 0, "line %zu, column %zu: unexpected end of document", line, col);
		return NULL;
	}
	if (!v && jerr == json_tokener_success) {
		/* A bare "null" parses to NULL with success; no caller wants that as a document. */
		json_tokener_free(tok);
		isol8_err_set(err, ISOL8_E_USAGE, 0, "document is null");
		return NULL;
	}
	if (jerr != json_tokener_success) {
		size_t at = end > 0 && end <= len ? end - 1 : 0;
		line_col(text, at, &line, &col);
		isol8_err_set(err, ISOL8_E_USAGE, 0, "line %zu, column %zu: %s", line, col,
			      json_tokener_error_desc(jerr));
		json_object_put(v);
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_free(tok);
	if (end < len && !only_space(text + end, len - end)) {
		while (only_space(text + end, 1))
			end++;
		line_col(text, end, &line, &col);
		isol8_err_set(err, ISOL8_E_USAGE, 0, "line %zu, column %zu: trailing data after JSON value", line, col);
		json_object_put(v);
		return NULL;
	}
	return v;
}

json_object *isol8_json_parse_file(const char *path, size_t max_len, struct isol8_err *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len = 0;
	json_object *v;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		isol8_err_set(err, errno == ENOENT ? ISOL8_E_NOTFOUND : ISOL8_E_IO, errno, "%s", path);
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		isol8_err_set(err, ISOL8_E_IO, errno, "%s: stat", path);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: not a regular file", path);
		return NULL;
	}
	/* Read up to max_len + 1 so a file that grows under us is still caught by the cap. */
	text = xmalloc(max_len + 1);
	for (;;) {
		ssize_t r = read(fd, text + len, max_len + 1 - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			isol8_err_set(err, ISOL8_E_IO, errno, "%s: read", path);
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max_len) {
			isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: file too large (limit %zu bytes)", path, max_len);
			return NULL;
		}
	}
	v = isol8_json_parse(text, len, max_len, err);
	if (!v)
		isol8_err_wrap(err, "%s", path);
	return v;
}

const char *isol8_json_type_name(const json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
	case json_type_int:
		return "number";
	case json_type_string:
		return "string";
	case json_type_array:
		return "array";
	case json_type_object:
		return "object";
	}
	return "unknown";
}

/* Append s to out (at *pos, room outlen) with bytes outside printable ASCII escaped, so a
 * hostile key cannot put control sequences on a terminal through an error message. */
static void put_escaped(char *out, size_t outlen, size_t *pos, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char tmp[5];
		size_t tl;

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			tmp[0] = (char)c;
			tl = 1;
		} else {
			snprintf(tmp, sizeof tmp, "\\x%02x", c);
			tl = 4;
		}
		if (*pos + tl + 1 > outlen)
			break;
		memcpy(out + *pos, tmp, tl);
		*pos += tl;
	}
	out[*pos] = '\0';
}

void isol8_json_path_key(char *out, size_t outlen, const char *parent, const char *key)
{
	size_t pos;

	if (!outlen)
		return;
	pos = strnlen(parent ? parent : "", outlen - 1);
	if (parent && out != parent)
		memmove(out, parent, pos);
	out[pos] = '\0';
	if (pos && pos + 2 < outlen) {
		out[pos++] = '.';
		out[pos] = '\0';
	}
	put_escaped(out, outlen, &pos, key);
}

void isol8_json_path_index(char *out, size_t outlen, const char *parent, size_t index)
{
	size_t pos;

	if (!outlen)
		return;
	pos = strnlen(parent ? parent : "", outlen - 1);
	if (parent && out != parent)
		memmove(out, parent, pos);
	out[pos] = '\0';
	snprintf(out + pos, outlen - pos, "[%zu]", index);
}

/* Paths are shown as "<root>" when empty, so messages never start with ": ". */
static const char *show(const char *path)
{
	return path && *path ? path : "<root>";
}

static int type_error(const json_object *v, const char *path, const char *want, struct isol8_err *err)
{
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: expected %s, got %s", show(path), want,
			     isol8_json_type_name(v));
}

int isol8_json_expect_type(const json_object *v, json_type t, const char *path, struct isol8_err *err)
{
	static const char *const want[] = {
		[json_type_null] = "null",     [json_type_boolean] = "boolean", [json_type_double] = "number",
		[json_type_int] = "number",    [json_type_object] = "object",   [json_type_array] = "array",
		[json_type_string] = "string",
	};
	json_type have = json_object_get_type(v);

	if (have == t || (t == json_type_double && have == json_type_int) ||
	    (t == json_type_int && have == json_type_double))
		return 0;
	return type_error(v, path, (unsigned)t < sizeof want / sizeof want[0] ? want[t] : "?", err);
}

int isol8_json_as_string(json_object *v, const char *path, const char **out, struct isol8_err *err)
{
	if (!json_object_is_type(v, json_type_string))
		return type_error(v, path, "string", err);
	/* json-c strings may hold \u0000; C callers would silently see a shorter value. */
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: string contains a NUL character", show(path));
	*out = json_object_get_string(v);
	return 0;
}

int isol8_json_as_bool(json_object *v, const char *path, bool *out, struct isol8_err *err)
{
	if (!json_object_is_type(v, json_type_boolean))
		return type_error(v, path, "boolean", err);
	*out = json_object_get_boolean(v);
	return 0;
}

int isol8_json_as_u64(json_object *v, const char *path, uint64_t min, uint64_t max, uint64_t *out,
		      struct isol8_err *err)
{
	uint64_t u;

	if (json_object_is_type(v, json_type_int)) {
		/* json-c keeps values above INT64_MAX as uint64; get_int64 saturates those, so a
		 * negative int64 really is negative. */
		if (json_object_get_int64(v) < 0)
			goto range;
		u = json_object_get_uint64(v);
	} else if (json_object_is_type(v, json_type_double)) {
		double d = json_object_get_double(v);
		if (!isfinite(d) || d != floor(d))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: expected an integer, got %s", show(path),
					     json_object_to_json_string(v));
		if (d < 0 || d >= 18446744073709551616.0)
			goto range;
		u = (uint64_t)d;
	} else {
		return type_error(v, path, "number", err);
	}
	if (u < min || u > max)
		goto range;
	*out = u;
	return 0;
range:
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: %s is out of range [%" PRIu64 ", %" PRIu64 "]", show(path),
			     json_object_to_json_string(v), min, max);
}

int isol8_json_as_double(json_object *v, const char *path, double min, double max, double *out, struct isol8_err *err)
{
	double d;

	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return type_error(v, path, "number", err);
	d = json_object_get_double(v);
	if (!isfinite(d) || d < min || d > max)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: %s is out of range [%g, %g]", show(path),
				     json_object_to_json_string(v), min, max);
	*out = d;
	return 0;
}

void isol8_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int isol8_json_as_strv(json_object *v, const char *path, char ***out, size_t *n, struct isol8_err *err)
{
	char **vec;
	size_t len;

	if (!json_object_is_type(v, json_type_array))
		return type_error(v, path, "array", err);
	len = json_object_array_length(v);
	vec = xcalloc(len + 1, sizeof *vec);
	for (size_t i = 0; i < len; i++) {
		char ipath[ISOL8_JSON_PATH_MAX];
		const char *s;

		isol8_json_path_index(ipath, sizeof ipath, path, i);
		if (isol8_json_as_string(json_object_array_get_idx(v, i), ipath, &s, err) < 0) {
			isol8_strv_free(vec);
			return -1;
		}
		vec[i] = xstrdup(s);
	}
	*out = vec;
	if (n)
		*n = len;
	return 0;
}

int isol8_json_member(json_object *obj, const char *key, json_object **out)
{
	json_object *v = NULL;

	if (!json_object_is_type(obj, json_type_object))
		return -1;
	if (!json_object_object_get_ex(obj, key, &v) || !v)
		return 0;
	*out = v;
	return 1;
}

int isol8_json_check_keys(json_object *obj, const char *path, const char *const *allowed, struct isol8_err *err)
{
	if (!json_object_is_type(obj, json_type_object))
		return type_error(obj, path, "object", err);
	json_object_object_foreach(obj, key, val)
	{
		bool ok = false;
		(void)val;
		for (const char *const *a = allowed; *a; a++) {
			if (strcmp(*a, key) == 0) {
				ok = true;
				break;
			}
		}
		if (!ok) {
			char kpath[ISOL8_JSON_PATH_MAX];
			isol8_json_path_key(kpath, sizeof kpath, path, key);
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "%s: unknown key", kpath);
		}
	}
	return 0;
}

static json_object *copy(json_object *v)
{
	json_object *c = NULL;

	if (!v)
		return NULL;
	if (json_object_deep_copy(v, &c, NULL) < 0)
		abort(); /* only fails on allocation: the OOM policy */
	return c;
}

json_object *isol8_json_merge(json_object *base, json_object *over, bool null_is_absent)
{
	json_object *res;

	if (!over)
		return copy(base);
	if (!json_object_is_type(base, json_type_object) || !json_object_is_type(over, json_type_object))
		return copy(over);
	res = copy(base);
	json_object_object_foreach(over, key, oval)
	{
		json_object *bval = NULL;

		if (!oval) {
			if (!null_is_absent)
				json_object_object_add(res, key, NULL);
			continue;
		}
		json_object_object_get_ex(res, key, &bval);
		json_object_object_add(res, key, isol8_json_merge(bval, oval, null_is_absent));
	}
	return res;
}
