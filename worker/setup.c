/* The install and setup phases: the request's packages, then the image's setup script and
 * the request's. Both run under the run's deadline, as in the original. */
#include "config.h"

#include <string.h>

#include "common/proto.h"
#include "worker/run.h"

static bool valid_pkg(int rt, const char *p)
{
	if (!*p || *p == '-' || strlen(p) > 214)
		return false;
	for (const char *c = p; *c; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
			strchr("._-@/", *c) || (rt == ISOL8_RT_PYTHON && strchr("=<>!~[],", *c)) ||
			(rt == ISOL8_RT_DENO && strchr(":?=&%+", *c));
		if (!ok)
			return false;
	}
	return true;
}

int run_install(struct run *run, struct isol8_err *err)
{
	const struct run_req *r = run->r;
	const char *argv[ISOL8_MAX_ARGS + 1];
	struct isol8_buf out = ISOL8_BUF_INIT, errb = ISOL8_BUF_INIT;
	char tmo[32];
	size_t n = 0;
	int code;

	if (!r->n_install)
		return 0;
	if (r->runtime == ISOL8_RT_BASH)
		return isol8_err_set(err, ISOL8_E_USAGE, 0,
				     "--install is not available for bash: the root filesystem is read-only, so apt "
				     "cannot install; bake packages in with 'isol8 build --base bash --install PKG'");
	if (r->n_install > ISOL8_MAX_ARGS - 12)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "too many packages");
	for (size_t i = 0; i < r->n_install; i++)
		if (!valid_pkg(r->runtime, r->install[i]))
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "invalid package name '%.64s'", r->install[i]);
	timeout_arg(tmo, sizeof tmo, run->deadline > clock_mono_ms() ? run->deadline - clock_mono_ms() : 1);
	argv[n++] = "timeout";
	argv[n++] = "-s";
	argv[n++] = "KILL";
	argv[n++] = tmo;
	switch (r->runtime) {
	case ISOL8_RT_PYTHON:
		argv[n++] = "pip";
		argv[n++] = "install";
		argv[n++] = "--user";
		argv[n++] = "--no-cache-dir";
		argv[n++] = "--quiet";
		break;
	case ISOL8_RT_NODE:
	case ISOL8_RT_AGENT:
		/* Into /sandbox/node_modules, not -g: ESM imports resolve bare names from the importing
		 * file's directory upwards and ignore NODE_PATH. */
		argv[n++] = "npm";
		argv[n++] = "install";
		argv[n++] = "--prefix";
		argv[n++] = "/sandbox";
		argv[n++] = "--no-audit";
		argv[n++] = "--no-fund";
		argv[n++] = "--loglevel=error";
		break;
	case ISOL8_RT_BUN:
		argv[n++] = "bun";
		argv[n++] = "add";
		argv[n++] = "-g";
		break;
	case ISOL8_RT_DENO:
		argv[n++] = "deno";
		argv[n++] = "cache";
		break;
	}
	for (size_t i = 0; i < r->n_install; i++)
		argv[n++] = r->install[i];
	argv[n] = NULL;
	code = run_helper(run->sb->id, argv, run->env.v, NULL, 0, run->deadline, &out, &errb, err);
	if (code < 0) {
		isol8_buf_free(&out);
		isol8_buf_free(&errb);
		return isol8_err_wrap(err, "package install");
	}
	if (code != 0) {
		/* Install output can echo secrets (URLs with tokens): mask it like program output. */
		pump_out_write(&run->o, 2, errb.data ? errb.data : "", errb.len);
		/* Not a usage error (exit 2): the request was well formed, the install did not work. */
		isol8_err_set(err, ISOL8_E_IO, 0, "Package install failed (exit code %d)%s", code,
			      r->net_mode == ISOL8_NET_NONE ? " (network is 'none': the registry is unreachable)" : "");
	}
	isol8_buf_free(&out);
	isol8_buf_free(&errb);
	return code ? -1 : 0;
}

/* WK_PHASE to the frontend (when the request asked for phaseEvents), after the maskers gave up
 * what they held back of the phase before. */
static int send_phase(struct run *run, uint8_t phase, struct isol8_err *err)
{
	if (!run->r->phase_events)
		return 0;
	pump_out_flush(&run->o);
	/* Setup output goes on the socket, in order with these messages (WK_OUTPUT). */
	run->o.msg_fd = phase == ISOL8_PHASE_SETUP ? run->c->fd : -1;
	return isol8_ipc_send(run->c->fd, WK_PHASE, 0, &phase, 1, NULL, 0, err);
}

int run_setup(struct run *run, struct isol8_err *err)
{
	const struct run_req *r = run->r;
	const struct sandbox *sb = run->sb;
	struct exec_outcome *x = &run->x;
	char tmo[32];
	const char *img_argv[] = {"timeout", "-s", "KILL", tmo, "bash", "/usr/local/lib/isol8/setup.sh", NULL};
	const char *req_argv[] = {"timeout", "-s", "KILL", tmo, "bash", "-c", r->setup_script, NULL};

	if (!sb->image_setup && !r->setup_script)
		return 0;
	if (send_phase(run, ISOL8_PHASE_SETUP, err) < 0)
		return -1;
	for (int k = 0; k < 2; k++) {
		if ((k == 0 && !sb->image_setup) || (k == 1 && !r->setup_script))
			continue;
		timeout_arg(tmo, sizeof tmo, run->deadline > clock_mono_ms() ? run->deadline - clock_mono_ms() : 1);
		if (exec_stream(sb, k ? req_argv : img_argv, run->env.v, "/sandbox", NULL, 0, -1, false, run->deadline,
				run->c->fd, &run->o, x, err) < 0)
			return -1;
		if (x->timed_out || x->interrupted)
			return 1;
		if (x->exit_code != 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "Setup script failed (exit code %d)", x->exit_code);
	}
	return send_phase(run, ISOL8_PHASE_CODE, err);
}
