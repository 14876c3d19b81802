/* WK_RESULT reporting (contract in run_result.h). */
#include "config.h"
#include "cli/run_result.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/json.h"
#include "cli/run_outfiles.h"
#include "cli/cli.h"

/* Like the original's console.log(result.stdout): trailing whitespace trimmed, one newline. */
static void print_trimmed(int fd, const struct isol8_buf *b)
{
	size_t n = b->len;

	while (n > 0 &&
	       (b->data[n - 1] == '\n' || b->data[n - 1] == ' ' || b->data[n - 1] == '\t' || b->data[n - 1] == '\r'))
		n--;
	if (n == 0)
		return;
	write_all(fd, b->data, n);
	write_all(fd, "\n", 1);
}

void run_result_print_buffered(struct run_io *io)
{
	fflush(stdout);
	print_trimmed(STDOUT_FILENO, &io->out);
	print_trimmed(STDERR_FILENO, &io->err);
}

static const char *str_member(json_object *o, const char *key)
{
	json_object *v;

	if (isol8_json_member(o, key, &v) == 1 && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static bool bool_member(json_object *o, const char *key)
{
	json_object *v;

	return isol8_json_member(o, key, &v) == 1 && json_object_is_type(v, json_type_boolean) &&
		json_object_get_boolean(v);
}

static double num_member(json_object *o, const char *key, bool *known)
{
	json_object *v;

	*known = isol8_json_member(o, key, &v) == 1 &&
		(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double));
	return *known ? json_object_get_double(v) : 0.0;
}

/* --usage: "[Usage] cpu 12 ms (4.1%), memory 9 MB (peak 11 MB), network in 0 B, out 0 B". */
static void print_usage(json_object *res)
{
	json_object *u;
	bool k1, k2;
	double in, out;

	if (isol8_json_member(res, "resourceUsage", &u) != 1 || !json_object_is_type(u, json_type_object)) {
		fputs("[Usage] not measured (isol8d could not read the sandbox's cgroup)\n", stderr);
		return;
	}
	fprintf(stderr, "[Usage] cpu %.0f ms (%.1f%%), memory %.0f MB (peak %.0f MB%s)",
		num_member(u, "cpuTimeMs", &k1), num_member(u, "cpuPercent", &k1), num_member(u, "memoryMB", &k1),
		num_member(u, "peakMemoryMB", &k1),
		strcmp(str_member(u, "peakMemoryScope") ? str_member(u, "peakMemoryScope") : "", "sandbox") == 0
			? " since the sandbox started"
			: "");
	in = num_member(u, "networkBytesIn", &k1);
	out = num_member(u, "networkBytesOut", &k2);
	if (k1 && k2)
		fprintf(stderr, ", network in %.0f B, out %.0f B\n", in, out);
	else
		fputs(", network not measured (host network)\n", stderr);
}

/* --log-network without --json: one line per request the proxy saw, after the output. */
static void print_network_logs(json_object *res)
{
	json_object *logs;
	size_t n;

	if (isol8_json_member(res, "networkLogs", &logs) != 1 || !json_object_is_type(logs, json_type_array)) {
		fputs("[Network] no request log: --log-network records the requests of --net filtered sandboxes\n",
		      stderr);
		return;
	}
	n = json_object_array_length(logs);
	if (!n)
		fputs("[Network] no requests\n", stderr);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(logs, i);
		bool k;
		const char *path = str_member(e, "path");
		fprintf(stderr, "[Network] %s %s %s:%.0f%s %.0f ms, %.0f B up, %.0f B down\n",
			str_member(e, "action") ? str_member(e, "action") : "?",
			str_member(e, "method") ? str_member(e, "method") : "?",
			str_member(e, "host") ? str_member(e, "host") : "?", num_member(e, "port", &k),
			path ? path : "", num_member(e, "durationMs", &k), num_member(e, "bytesUp", &k),
			num_member(e, "bytesDown", &k));
	}
}

static void print_timings(json_object *res, const char *prefix)
{
	json_object *t;

	if (isol8_json_member(res, "timings", &t) != 1 || !json_object_is_type(t, json_type_object))
		return;
	json_object_object_foreach(t, phase, ms)
	{
		if (json_object_is_type(ms, json_type_int) || json_object_is_type(ms, json_type_double))
			fprintf(stderr, "%s%s: %.0f ms\n", prefix, phase, json_object_get_double(ms));
		else if (json_object_is_type(ms, json_type_boolean))
			fprintf(stderr, "%s%s: %s\n", prefix, phase, json_object_get_boolean(ms) ? "yes" : "no");
		else if (json_object_is_type(ms, json_type_string))
			fprintf(stderr, "%s%s: %s\n", prefix, phase, json_object_get_string(ms));
	}
}

/* This side's phases: connecting to isol8d, the round trip from request to result, and the
 * whole command (from argument parsing to the result). */
static void add_cli_timings(json_object *res, const struct run_io *io)
{
	uint64_t now = clock_mono_ms();
	json_object *t;

	if (!io->t_start || isol8_json_member(res, "timings", &t) != 1 || !json_object_is_type(t, json_type_object))
		return;
	if (io->t_connected)
		json_object_object_add(t, "cliConnectMs",
				       json_object_new_int64((int64_t)(io->t_connected - io->t_start)));
	if (io->t_sent)
		json_object_object_add(t, "cliRoundTripMs", json_object_new_int64((int64_t)(now - io->t_sent)));
	json_object_object_add(t, "cliTotalMs", json_object_new_int64((int64_t)(now - io->t_start)));
}

static void print_json(json_object *res, struct run_io *io)
{
	json_object *out = json_object_get(res);

	json_object_object_add(out, "stdout",
			       json_object_new_string_len(io->out.data ? io->out.data : "", (int)io->out.len));
	json_object_object_add(out, "stderr",
			       json_object_new_string_len(io->err.data ? io->err.data : "", (int)io->err.len));
	puts(json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(out);
}

int run_result_report(const struct run_opts *o, struct run_io *io, const char *text, size_t len, int *exit_code,
		      struct isol8_err *err)
{
	json_object *res, *code;
	const char *s;

	res = isol8_json_parse(text, len, RUN_RESULT_MAX, err);
	if (!res)
		return isol8_err_wrap(err, "malformed result from isol8d");
	if (!json_object_is_type(res, json_type_object) || isol8_json_member(res, "exitCode", &code) != 1 ||
	    !json_object_is_type(code, json_type_int)) {
		json_object_put(res);
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "malformed result from isol8d: no exitCode");
	}
	*exit_code = (int)(json_object_get_int64(code) & 0xff);
	if (o->timings || o->debug)
		add_cli_timings(res, io);

	if (o->json)
		print_json(res, io);
	else if (o->no_stream)
		run_result_print_buffered(io);
	if (!o->json)
		run_outfiles_warn(res);
	if (o->output_dir) {
		size_t n = 0;
		if (run_outfiles_write(o->output_dir, res, &n, err) < 0) {
			json_object_put(res);
			return -1;
		}
		if (!o->json)
			fprintf(stderr, "[Run] %zu output file%s written to %s\n", n, n == 1 ? "" : "s", o->output_dir);
	}

	if (!o->json && (bool_member(res, "truncated") || io->collect_truncated))
		fputs("[WARN] Output was truncated\n", stderr);
	if ((s = str_member(res, "notice")))
		fprintf(stderr, "[INFO] %s\n", s);
	if (o->persist && (s = str_member(res, "containerId"))) {
		const char *until = str_member(res, "expiresAt");
		fprintf(stderr, "[Run] Container kept: %s\n", s);
		/* It does not live forever, and its owner can end it sooner. */
		if (until)
			fprintf(stderr, "[Run] isol8d removes it at %s; remove it sooner with 'isol8 rm %.12s'\n",
				until, s);
	}
	if (o->out_file)
		fprintf(stderr, "[Run] Output written to %s\n", o->out_file);
	if (o->timings)
		print_timings(res, "[Timing] ");
	if (o->usage)
		print_usage(res);
	if (o->log_network && !o->json)
		print_network_logs(res);
	if (o->debug) {
		fprintf(stderr, "[DEBUG] result: exitCode=%d", *exit_code);
		if ((s = str_member(res, "executionId")))
			fprintf(stderr, " executionId=%s", s);
		if ((s = str_member(res, "containerId")))
			fprintf(stderr, " containerId=%s", s);
		fputc('\n', stderr);
		if (!o->timings)
			print_timings(res, "[DEBUG] timing ");
	}
	json_object_put(res);
	return 0;
}
