#include "config.h"

#include <stdio.h>
#include <string.h>

#include "policy/policy.h"
#include "worker/standby.h"

const char *const *standby_argv(int runtime)
{
	static const char *const py[] = {"python3", "/usr/local/lib/isol8/standby.py", NULL};
	static const char *const node[] = {"node", "/usr/local/lib/isol8/standby.cjs", NULL};

	switch (runtime) {
	case ISOL8_RT_PYTHON:
		return py;
	case ISOL8_RT_NODE:
		return node;
	default:
		return NULL;
	}
}

static bool startup_name(const char *e, size_t len)
{
	static const char *const prefix[] = {"PYTHON", "NODE_", "UV_", "LD_", "GLIBC_", "MALLOC_", "LC_", NULL};
	static const char *const exact[] = {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", NULL};

	for (size_t i = 0; prefix[i]; i++)
		if (len >= strlen(prefix[i]) && strncmp(e, prefix[i], strlen(prefix[i])) == 0)
			return true;
	for (size_t i = 0; exact[i]; i++)
		if (len == strlen(exact[i]) && strncmp(e, exact[i], len) == 0)
			return true;
	return false;
}

/* The value a list gives name (the last entry wins), or NULL. */
static const char *lookup(const char *const *list, const char *name, size_t len)
{
	const char *v = NULL;

	for (size_t i = 0; list && list[i]; i++)
		if (strncmp(list[i], name, len) == 0 && list[i][len] == '=')
			v = list[i] + len + 1;
	return v;
}

bool standby_env_compatible(const char *const *warm, const char *const *env)
{
	/* Every start-up variable must have the same value (or be absent) in both lists. */
	for (int pass = 0; pass < 2; pass++) {
		const char *const *a = pass ? warm : env, *const *b = pass ? env : warm;
		for (size_t i = 0; a && a[i]; i++) {
			size_t len = strcspn(a[i], "=");
			const char *va, *vb;
			if (!startup_name(a[i], len))
				continue;
			va = lookup(a, a[i], len);
			vb = lookup(b, a[i], len);
			if (!va || !vb || strcmp(va, vb) != 0)
				return false;
		}
	}
	return true;
}

static void put_count(struct isol8_buf *job, size_t n)
{
	char num[24];

	snprintf(num, sizeof num, "%zu", n);
	isol8_buf_append(job, num, strlen(num) + 1);
}

int standby_job(struct isol8_buf *job, const char *cwd, const char *file, const char *const *env,
		const char *const *args, const char *code, struct isol8_err *err)
{
	size_t n = 0, na = 0, start = job->len;

	for (n = 0; env && env[n]; n++)
		;
	for (na = 0; args && args[na]; na++)
		;
	isol8_buf_append(job, na ? "2" : "1", 2);
	isol8_buf_append(job, cwd, strlen(cwd) + 1);
	isol8_buf_append(job, file ? file : "", (file ? strlen(file) : 0) + 1);
	put_count(job, n);
	for (size_t i = 0; i < n; i++)
		isol8_buf_append(job, env[i], strlen(env[i]) + 1);
	if (na) {
		put_count(job, na);
		for (size_t i = 0; i < na; i++)
			isol8_buf_append(job, args[i], strlen(args[i]) + 1);
	}
	isol8_buf_append(job, code, strlen(code));
	if (job->len - start > STANDBY_JOB_MAX) {
		size_t len = job->len - start;
		job->len = start;
		job->data[start] = '\0';
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "job too large for a standby (%zu bytes)", len);
	}
	return 0;
}
