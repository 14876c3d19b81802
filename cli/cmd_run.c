/* `isol8 run`: flags -> input -> request + bundle -> isol8d -> result. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/cleanup.h"
#include "common/conf.h"
#include "common/proto.h"
#include "cli/registries.h"
#include "common/xalloc.h"
#include "cli/broker_conn.h"
#include "cli/cli.h"
#include "cli/remote.h" /* http */
#include "cli/run_args.h"
#include "cli/run_bundle.h"
#include "cli/run_input.h"
#include "cli/run_io.h"
#include "cli/run_request.h"
#include "cli/run_result.h"

static void defaults_from_config(const struct isol8_config *c, struct run_defaults *d)
{
	static struct isol8_reg_paths reg_paths;

	_Static_assert(RUN_NREG == ISOL8_CONF_NREG, "one registry list per runtime");
	run_defaults_builtin(d);
	d->timeout_ms = c->defaults.timeout_ms;
	d->memory = c->defaults.memory;
	d->cpu = c->defaults.cpu;
	if (c->defaults.network)
		d->network = c->defaults.network;
	d->sandbox_size = c->defaults.sandbox_size;
	d->tmp_size = c->defaults.tmp_size;
	d->whitelist = c->whitelist;
	d->n_whitelist = c->n_whitelist;
	d->blacklist = c->blacklist;
	d->n_blacklist = c->n_blacklist;
	d->debug = c->debug;
	for (size_t i = 0; i < RUN_NREG; i++) {
		d->registries[i] = c->registries[i];
		d->n_registries[i] = c->n_registries[i];
	}
	d->remote.enabled = c->remote_code.enabled;
	d->remote.schemes = c->remote_code.allowed_schemes;
	d->remote.n_schemes = c->remote_code.n_allowed_schemes;
	d->remote.allowed = c->remote_code.allowed_hosts;
	d->remote.n_allowed = c->remote_code.n_allowed_hosts;
	d->remote.blocked = c->remote_code.blocked_hosts;
	d->remote.n_blocked = c->remote_code.n_blocked_hosts;
	d->remote.max_size = c->remote_code.max_code_size;
	d->remote.timeout_ms = c->remote_code.fetch_timeout_ms;
	d->remote.require_hash = c->remote_code.require_hash;
	isol8_reg_paths_from_env(&reg_paths);
	d->reg_paths = &reg_paths;
}

static char *auto_session_name(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return xasprintf("cli-%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Streaming hands the worker our own fds 1 and 2; --no-stream, --json and --out need the output
 * to pass through us, so the worker gets pipe write ends instead. */
static int make_targets(const struct run_opts *o, struct run_io *io, int targets[2], int wr_ends[2],
			struct isol8_err *err)
{
	int p[2];

	targets[0] = STDOUT_FILENO;
	targets[1] = STDERR_FILENO;
	io->collect = o->no_stream || o->json;
	io->tee_stdout = o->out_file && !io->collect;
	if (io->collect || o->out_file) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "pipe");
		io->out_pipe = p[0];
		targets[0] = wr_ends[0] = p[1];
	}
	if (io->collect) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "pipe");
		io->err_pipe = p[0];
		targets[1] = wr_ends[1] = p[1];
	}
	return 0;
}

struct run_ctx {
	struct run_opts o;
	struct run_input in;
	struct run_io io;
	char *request;
	size_t request_len;
	int bundle;
	int sock;
	int wr_ends[2];
	int stdin_r; /* read end of the live stdin pipe until sent */
};

static int run_remote(struct run_ctx *c, int *exit_code, struct isol8_err *err)
{
	const char *path = broker_socket_path(c->o.socket_path);
	int targets[2], fds[3];
	uint64_t bundle_size = 0;
	struct isol8_msg result;
	int r;

	if (run_request_plan(&c->o, &c->in, &c->request, &c->request_len, err) < 0)
		return -1;
	if (run_bundle_create(&c->o, &c->in, c->o.sandbox_size, &c->bundle, &bundle_size, err) < 0)
		return -1;
	if (c->o.out_file) {
		c->io.out_file = open(c->o.out_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
		if (c->io.out_file < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "cannot open --out file %s", c->o.out_file);
	}
	if (make_targets(&c->o, &c->io, targets, c->wr_ends, err) < 0)
		return -1;
	/* Live stdin goes through a pipe of our own, not our fd 0 itself: the worker requires a pipe
	 * (a terminal or socket as the program's stdin is refused) and makes its end non-blocking,
	 * which on a shared fd 0 would change it for the shell that started us too. */
	if (c->in.stdin_live) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "pipe");
		c->stdin_r = p[0];
		c->io.stdin_w = p[1];
		c->io.stdin_src = STDIN_FILENO;
	}
	if (c->o.debug) {
		fprintf(stderr, "[DEBUG] socket: %s\n", path);
		fprintf(stderr, "[DEBUG] runtime: %s, network: %s, workdir: %s\n", c->o.runtime, c->o.network,
			c->o.workdir);
		fprintf(stderr, "[DEBUG] request: %zu bytes, bundle: %llu bytes\n", c->request_len,
			(unsigned long long)bundle_size);
	}

	c->sock = broker_open(path, HELLO_RUN, c->o.session_id, err);
	if (c->sock < 0)
		return -1;
	c->io.t_connected = clock_mono_ms();
	c->io.sock = c->sock;
	fds[0] = targets[0];
	fds[1] = targets[1];
	fds[2] = c->bundle;
	if (broker_send(c->sock, FE_RUN, c->request, c->request_len, fds, 3, err) < 0)
		return isol8_err_wrap(err, "send run request to isol8d");
	if (c->stdin_r >= 0 && isol8_ipc_send(c->sock, FE_STDIN, 0, NULL, 0, &c->stdin_r, 1, err) < 0)
		return isol8_err_wrap(err, "send stdin to isol8d");
	c->stdin_r = xclose(c->stdin_r);
	c->io.t_sent = clock_mono_ms();
	/* Only the worker may hold the write ends now, so EOF on the pipes means it is done. */
	c->wr_ends[0] = xclose(c->wr_ends[0]);
	c->wr_ends[1] = xclose(c->wr_ends[1]);
	c->bundle = xclose(c->bundle);

	fflush(stdout);
	r = run_io_wait(&c->io, &result, err);
	if (r == -2) {
		*exit_code = c->io.exit_now;
		return 0;
	}
	if (r < 0) {
		if (c->io.collect && !c->o.json)
			run_result_print_buffered(&c->io);
		return -1;
	}
	r = run_result_report(&c->o, &c->io, (const char *)result.payload, result.len, exit_code, err);
	isol8_msg_free(&result);
	return r;
}

/* --json promises one JSON object on stdout, also when isol8 itself fails (a bad flag, isol8d
 * unreachable, a refused request): {"error": message, "code": name}, besides the [ERR] line. */
static int run_fail(bool json, const struct isol8_err *err)
{
	int status = cli_fail(err);

	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "error", json_object_new_string(err->msg[0] ? err->msg : "unknown error"));
		json_object_object_add(o, "code", json_object_new_string(isol8_err_code_name(err->code)));
		json_object_object_add(o, "exitCode", json_object_new_int(status));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	}
	return status;
}

static bool wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return true;
	return false;
}

int cmd_run(int argc, char **argv)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_config conf;
	struct run_defaults def;
	struct run_ctx c = {.bundle = -1, .sock = -1, .wr_ends = {-1, -1}, .stdin_r = -1};
	uint64_t t_start = clock_mono_ms();
	int status = 0;

	if (cli_wants_help(argc, argv)) {
		usage_command("run", stdout);
		return 0;
	}
	memset(&conf, 0, sizeof conf);
	if (isol8_config_load(NULL, &conf, &err) < 0)
		return run_fail(wants_json(argc, argv), &err);
	defaults_from_config(&conf, &def);
	def.debug = def.debug || cli_debug;
	if (run_args_parse(argc, argv, &def, &c.o, &err) < 0) {
		isol8_config_free(&conf);
		return run_fail(wants_json(argc, argv), &err);
	}
	isol8_config_free(&conf);
#ifdef ISOL8_LEAN
	/* Remote runs and --files need libcurl / libarchive: hand over before reading input. */
	if (c.o.host || c.o.files_dir) {
		run_opts_free(&c.o);
		return cli_exec_full();
	}
#endif
	run_io_init(&c.io);
	c.io.t_start = t_start;

	if (c.o.persistent && !c.o.session_id) {
		c.o.session_id = auto_session_name();
		fprintf(stderr, "[Run] Session ID: %s\n", c.o.session_id);
	}
	if (run_input_load(&c.o, STDIN_FILENO, &c.in, &err) < 0)
		status = run_fail(c.o.json, &err);
	else if (c.o.host) { /* http: remote isol8 serve */
		if (remote_run(&c.o, &c.in, &status, &err) < 0)
			status = err.msg[0] ? cli_fail(&err) : 1;
	} else if (run_remote(&c, &status, &err) < 0)
		status = run_fail(c.o.json, &err);

	xclose(c.sock);
	xclose(c.bundle);
	xclose(c.stdin_r);
	xclose(c.wr_ends[0]);
	xclose(c.wr_ends[1]);
	if (c.io.out_file >= 0 && close(c.io.out_file) < 0 && status == 0) {
		fprintf(stderr, "[ERR] writing --out file %s: %s\n", c.o.out_file, strerror(errno));
		status = 1;
	}
	run_io_free(&c.io);
	free(c.request);
	run_input_free(&c.in);
	run_opts_free(&c.o);
	return status;
}
