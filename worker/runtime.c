/* Runtime adapters: how each runtime runs code inline or from a file, and the base
 * environment of every program (compatible with the original's buildEnv). */
#include "config.h"

#include <string.h>

#include "common/xalloc.h"
#include "worker/worker.h"

static const char *const default_ext[ISOL8_RT__MAX] = {".py", ".mjs", ".ts", ".mts", ".sh", ".txt"};

const char *runtime_default_ext(int rt)
{
	return (rt >= 0 && rt < ISOL8_RT__MAX) ? default_ext[rt] : NULL;
}

/* The original's SANDBOX_SYSTEM_PROMPT, appended to pi's own. */
static const char agent_system_prompt[] =
	"You are running inside an isol8 sandbox \xe2\x80\x94 a Docker container with strict resource limits and "
	"controlled network access. isol8 exists to execute untrusted code safely: outbound network is filtered to a "
	"whitelist, the filesystem is ephemeral, and some system calls are restricted. Work within these constraints: "
	"do not assume open internet access, do not rely on persistent state across runs, and do not attempt to "
	"escape the sandbox.";

int runtime_argv(const struct run_req *r, const char *file, char **argv, size_t max, struct isol8_err *err)
{
	const char *code = r->code;
	int rt = r->runtime;
	size_t n = 0;
#define A(x)                                                                             \
	do {                                                                             \
		if (n + 1 >= max)                                                        \
			return isol8_err_set(err, ISOL8_E_INTERNAL, 0, "argv overflow"); \
		argv[n++] = (char *)(x);                                                 \
	} while (0)
	/* The file, or else the flags that take code inline and the code. */
#define FILE_OR_INLINE(...)                                                        \
	do {                                                                       \
		const char *const inl_[] = {__VA_ARGS__, code};                    \
		if (file)                                                          \
			A(file);                                                   \
		else                                                               \
			for (size_t k_ = 0; k_ < sizeof inl_ / sizeof *inl_; k_++) \
				A(inl_[k_]);                                       \
	} while (0)
	switch (rt) {
	case ISOL8_RT_PYTHON:
		A("python3");
		FILE_OR_INLINE("-c");
		break;
	case ISOL8_RT_NODE:
		A("node");
		/* ESM by default, like a .mjs file; .cjs files run as CommonJS by extension. */
		FILE_OR_INLINE("--input-type=module", "-e");
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
		FILE_OR_INLINE("-c");
		break;
	case ISOL8_RT_AGENT:
		/* pi in print mode: one prompt, the answer on stdout, no session file. The flags are
		 * words already (request.c split them without a shell) and go in before -p, as in the
		 * original; the prompt is always an argument, never a file (the run's files are the
		 * agent's project, a main.txt among them would be noise). */
		A("pi");
		A("--no-session");
		A("--append-system-prompt");
		A(agent_system_prompt);
		for (size_t i = 0; i < r->n_agent_flags; i++)
			A(r->agent_flags[i]);
		A("-p");
		A(code);
		break;
	default:
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "unknown runtime %d", rt);
	}
	argv[n] = NULL;
	return 0;
#undef FILE_OR_INLINE
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
