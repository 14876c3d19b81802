/* Runtime adapters: how each runtime runs code inline or from a file, and the base
 * environment of every program (compatible with the original's buildEnv). */
#include "config.h"

#include <string.h>

#include "common/xalloc.h"
#include "worker/worker.h"

static const char *const default_ext[ISOL8_RT__MAX] = {".py", ".mjs", ".ts", ".mts", ".sh"};

const char *runtime_default_ext(int rt)
{
	return (rt >= 0 && rt < ISOL8_RT__MAX) ? default_ext[rt] : NULL;
}

int runtime_argv(int rt, const char *code, const char *file, char **argv, size_t max, struct isol8_err *err)
{
	size_t n = 0;
#define A(x)                                                                             \
	do {                                                                             \
		if (n + 1 >= max)                                                        \
			return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "argv overflow"); \
		argv[n++] = (char *)(x);                                                 \
	} while (0)
	switch (rt) {
	case ISOL8_RT_PYTHON:
		A("python3");
		if (file)
			A(file);
		else {
			A("-c");
			A(code);
		}
		break;
	case ISOL8_RT_NODE:
		A("node");
		/* ESM by default, like a .mjs file; .cjs files run as CommonJS by extension. */
		if (file)
			A(file);
		else {
			A("--input-type=module");
			A("-e");
			A(code);
		}
		break;
	case ISOL8_RT_BUN:
		A("bun");
		if (file) {
			A("run");
			A(file);
		} else {
			A("-e");
			A(code);
		}
		break;
	case ISOL8_RT_DENO:
		if (!file)
			return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "deno needs a file");
		A("deno");
		A("run");
		A("--quiet");
		A("--allow-read=/sandbox,/tmp");
		A("--allow-write=/sandbox,/tmp");
		A("--allow-env");
		A("--allow-net");
		A(file);
		break;
	case ISOL8_RT_BASH:
		A("bash");
		if (file)
			A(file);
		else {
			A("-c");
			A(code);
		}
		break;
	default:
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown runtime %d", rt);
	}
	argv[n] = NULL;
	return 0;
#undef A
}

static const char *const base[] = {
	"PYTHONUNBUFFERED=1",
	"PYTHONUSERBASE=/sandbox/.local",
	"PYTHONDONTWRITEBYTECODE=1",
	"PIP_DISABLE_PIP_VERSION_CHECK=1",
	"NPM_CONFIG_PREFIX=/sandbox/.npm-global",
	"NPM_CONFIG_CACHE=/tmp/.npm",
	"DENO_DIR=/sandbox/.deno",
	"BUN_INSTALL=/sandbox/.bun-global",
	"HOME=/sandbox",
	"PATH=/sandbox/.local/bin:/sandbox/.npm-global/bin:/sandbox/.bun-global/bin:/usr/local/bin:/usr/bin:/bin",
	"NODE_PATH=/usr/local/lib/node_modules:/sandbox/.npm-global/lib/node_modules:/sandbox/node_modules",
	NULL};

const char *const *runtime_base_env_list(void)
{
	return base;
}

void runtime_base_env(struct isol8_buf *b)
{
	for (size_t i = 0; base[i]; i++)
		isol8_buf_append(b, base[i], strlen(base[i]) + 1);
}
