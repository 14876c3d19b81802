/* A run's output files (request.outputPaths, contract in worker/outfiles.h).
 *
 * The files are read inside the sandbox by sandbox/collect.c, as the sandbox user, with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS ...) from /sandbox: the worker never opens a
 * path of the sandbox itself, and a symbolic link the program planted is reported, not followed.
 * Its output is as untrusted as the program: every record is re-checked here (count, status,
 * sizes against our own limits, bytes actually present). */
#include "config.h"
#include "worker/outfiles.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base64.h"
#include "common/cleanup.h"
#include "common/ipc.h"
#include "common/parse.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "worker/agent.h"
#include "worker/worker.h"

#define COLLECT_BIN "/usr/local/lib/isol8/isol8-collect"
#define COLLECT_TIMEOUT_MS 30000
#define RECORD_HEAD_MAX 48u

static const char *status_message(const char *status, unsigned long long n, char *buf, size_t len)
{
	static const struct {
		const char *status, *msg;
	} map[] = {
		{"missing", "not found"},          {"directory", "is a directory, not a regular file"},
		{"special", "not a regular file"}, {"symlink", "a symbolic link on the way, not followed"},
		{"outside", "outside /sandbox"},   {"denied", "permission denied"},
		{"error", "cannot be read"},
	};

	if (strcmp(status, "toolarge") == 0) {
		snprintf(buf, len, "larger than the %u MiB limit for one file (%llu bytes)",
			 ISOL8_OUTPUT_FILE_MAX >> 20, n);
		return buf;
	}
	if (strcmp(status, "total") == 0) {
		snprintf(buf, len, "over the %u MiB limit for all output files together (%llu more bytes)",
			 ISOL8_OUTPUT_TOTAL_MAX >> 20, n);
		return buf;
	}
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(status, map[i].status) == 0)
			return map[i].msg;
	return NULL;
}

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Appends "key":"<base64 of data>" (comma first unless first) to the memfd, in slices, so the
 * encoded copy never exists whole in our memory. */
static int put_file(int fd, bool first, const char *key, const char *data, size_t n)
{
	json_object *k = json_object_new_string(key);
	struct isol8_buf b = ISOL8_BUF_INIT;
	int rc = 0;

	if (!first)
		isol8_buf_putc(&b, ',');
	isol8_buf_puts(&b, json_object_to_json_string_ext(k, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	isol8_buf_puts(&b, ":\"");
	json_object_put(k);
	for (size_t off = 0; off < n || off == 0; off += 3 * 65536) {
		size_t part = n - off < 3 * 65536 ? n - off : 3 * 65536;
		isol8_base64_encode(&b, data + off, part);
		if (write_all(fd, b.data, b.len) < 0) {
			rc = -1;
			break;
		}
		isol8_buf_reset(&b);
		if (n == 0)
			break;
	}
	if (rc == 0 && write_all(fd, "\"", 1) < 0)
		rc = -1;
	isol8_buf_free(&b);
	return rc;
}

static void add_error(json_object *errors, const char *path, const char *msg)
{
	json_object_object_add(errors, path, json_object_new_string(msg));
}

/* The agent's way (no docker exec: ~200 ms less): the output goes through a pump_out whose
 * targets are memfds, which never block, and is read back once the collector has exited. */
static int run_by_agent(const struct sandbox *sb, const char *const *argv, const char *const *env, size_t cap,
			struct isol8_buf *out, struct isol8_err *err)
{
	_cleanup_close_ int ofd = memfd_create("isol8-collect-out", MFD_CLOEXEC);
	_cleanup_close_ int efd = memfd_create("isol8-collect-err", MFD_CLOEXEC);
	struct agent_outcome ax;
	struct pump_out o;
	struct stat st;
	int rc;

	if (ofd < 0 || efd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "memfd_create");
	pump_out_init(&o, ofd, efd, NULL, cap);
	rc = agent_exec(sb->agent_fd, argv, env, "/sandbox", NULL, 0, -1, COLLECT_TIMEOUT_MS,
			clock_mono_ms() + COLLECT_TIMEOUT_MS + 1500, -1, &o, &ax, err);
	pump_out_flush(&o);
	pump_out_free(&o);
	if (rc < 0)
		return -1;
	if (ax.timed_out)
		return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "the collector did not finish in time");
	if (fstat(ofd, &st) < 0 || (size_t)st.st_size > cap)
		return isol8_err_set(err, ISOL8_E_LIMIT, 0, "the collector sent more than allowed");
	isol8_buf_reserve(out, (size_t)st.st_size + 1);
	if (pread(ofd, out->data, (size_t)st.st_size, 0) != st.st_size)
		return isol8_err_set(err, ISOL8_E_IO, errno, "read the collector's output");
	out->len = (size_t)st.st_size;
	return ax.exit_code;
}

/* Runs the collector; its stdout in out. Returns its exit code, or -1 with err. */
static int run_collector(const struct sandbox *sb, char *const *rel, size_t n, const char *const *env,
			 struct isol8_buf *out, struct isol8_err *err)
{
	const char *id = sb->id;
	const char *argv[ISOL8_MAX_OUTPUT_PATHS + 4];
	char max_file[24], max_total[24], exec_id[65];
	struct isol8_buf errb = ISOL8_BUF_INIT;
	_cleanup_close_ int fd = -1;
	bool running = true;
	size_t k = 0;
	int code = -1;

	snprintf(max_file, sizeof max_file, "%u", ISOL8_OUTPUT_FILE_MAX);
	snprintf(max_total, sizeof max_total, "%u", ISOL8_OUTPUT_TOTAL_MAX);
	argv[k++] = COLLECT_BIN;
	argv[k++] = max_file;
	argv[k++] = max_total;
	for (size_t i = 0; i < n; i++)
		argv[k++] = rel[i];
	argv[k] = NULL;
	if (sb->agent_fd >= 0)
		return run_by_agent(sb, argv, env, ISOL8_OUTPUT_TOTAL_MAX + n * RECORD_HEAD_MAX + 1, out, err);
	if (sb_exec(id, argv, env, "/sandbox", false, exec_id, &fd, err) < 0)
		return -1;
	/* One byte over what a well-behaved collector can write marks a misbehaving one. */
	if (pump_collect(fd, NULL, 0, out, &errb, ISOL8_OUTPUT_TOTAL_MAX + n * RECORD_HEAD_MAX + 1,
			 clock_mono_ms() + COLLECT_TIMEOUT_MS, err) < 0) {
		isol8_buf_free(&errb);
		return -1;
	}
	isol8_buf_free(&errb);
	for (int i = 0; i < 500 && running; i++) {
		if (sb_exec_status(exec_id, &running, &code, err) < 0)
			return -1;
		if (running)
			usleep(i < 50 ? 1000 : 10000);
	}
	return running ? isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "the collector did not exit") : code;
}

/* Parses one record head at *pos: "<status> <n>\n". */
static int parse_head(const struct isol8_buf *out, size_t *pos, char status[16], unsigned long long *n)
{
	const char *p = out->data + *pos, *nl;
	size_t left = out->len - *pos, sl;
	char *end;

	nl = memchr(p, '\n', left < RECORD_HEAD_MAX ? left : RECORD_HEAD_MAX);
	if (!nl)
		return -1;
	sl = strcspn(p, " \n");
	if (sl == 0 || sl >= 16 || p[sl] != ' ' || p + sl + 1 >= nl || p[sl + 1] < '0' || p[sl + 1] > '9')
		return -1;
	memcpy(status, p, sl);
	status[sl] = '\0';
	errno = 0;
	*n = strtoull(p + sl + 1, &end, 10);
	if (errno || end != nl)
		return -1;
	*pos += (size_t)(nl - p) + 1;
	return 0;
}

int outfiles_collect(const struct sandbox *sb, char *const *paths, char *const *rel, size_t n, const char *const *env,
		     json_object *result, int *files_fd)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_buf out = ISOL8_BUF_INIT;
	json_object *errors = json_object_new_object();
	_cleanup_close_ int mfd = -1;
	size_t pos = 0, i = 0, nfiles = 0;
	unsigned long long total = 0;
	const char *why = NULL;
	int code;

	*files_fd = -1;
	code = run_collector(sb, rel, n, env, &out, &err);
	if (code < 0)
		why = err.msg;
	else if (code == 126 || code == 127)
		why = "this image has no " COLLECT_BIN " (rebuild it with 'isol8 setup')";
	else if (code != 0)
		why = "the collector failed";
	if (!why) {
		mfd = memfd_create("isol8-output-files", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (mfd < 0 || write_all(mfd, "{", 1) < 0)
			why = "no memory for the output files";
	}
	for (; !why && i < n; i++) {
		char status[16], buf[160];
		unsigned long long len;
		const char *msg;

		if (parse_head(&out, &pos, status, &len) < 0) {
			why = "malformed answer from the collector";
			break;
		}
		if (strcmp(status, "file") != 0) {
			msg = status_message(status, len, buf, sizeof buf);
			if (!msg) {
				why = "malformed answer from the collector";
				break;
			}
			add_error(errors, paths[i], msg);
			continue;
		}
		if (len > ISOL8_OUTPUT_FILE_MAX || total + len > ISOL8_OUTPUT_TOTAL_MAX || len > out.len - pos) {
			why = "the collector sent more than allowed";
			break;
		}
		if (put_file(mfd, nfiles == 0, paths[i], out.data + pos, (size_t)len) < 0) {
			why = "no memory for the output files";
			break;
		}
		pos += (size_t)len;
		total += len;
		nfiles++;
	}
	if (!why && pos != out.len)
		why = "the collector sent more than allowed";
	isol8_buf_free(&out);
	if (why) {
		/* The paths not reported yet (all of them when the collector did not run). */
		char msg[300];
		snprintf(msg, sizeof msg, "could not be collected: %.250s", why);
		for (size_t j = 0; j < n; j++)
			if (!json_object_object_get_ex(errors, paths[j], NULL))
				add_error(errors, paths[j], msg);
		nfiles = 0;
	}
	if (json_object_object_length(errors) > 0)
		json_object_object_add(result, "fileErrors", errors);
	else
		json_object_put(errors);
	if (nfiles == 0 || why || write_all(mfd, "}", 1) < 0 || isol8_memfd_seal(mfd, &err) < 0 ||
	    lseek(mfd, 0, SEEK_SET) < 0)
		return 0;
	*files_fd = steal_fd(&mfd);
	return (int)nfiles;
}
