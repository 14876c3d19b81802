/* Benchmark client: runs one snippet N times straight through the isol8d socket (FE_HELLO +
 * FE_RUN, see common/proto.h) and prints each run's wall time in milliseconds, one per line.
 * Timing happens in-process, so the numbers leave out what `isol8 run` adds on top: process
 * start-up, dynamic linking, config loading and argument parsing.
 *
 * Usage: sockclient SOCKET RUNTIME CODE N [EXPECT]
 * The request carries the same defaults as `isol8 run` so both paths hit the same pool key.
 * With EXPECT, every run's stdout must equal it (a fast wrong answer is not a result). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/ipc.h"
#include "common/proto.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *request_json(const char *runtime, const char *code)
{
	json_object *root = json_object_new_object(), *req = json_object_new_object(), *opt = json_object_new_object(),
		    *filter = json_object_new_object();
	char *out;

	json_object_object_add(req, "code", json_object_new_string(code));
	json_object_object_add(req, "runtime", json_object_new_string(runtime));
	json_object_object_add(req, "timeoutMs", json_object_new_uint64(30000));
	json_object_object_add(req, "env", json_object_new_object());
	json_object_object_add(req, "workdir", json_object_new_string("/sandbox"));
	json_object_object_add(req, "installPackages", json_object_new_array());
	json_object_object_add(opt, "memoryLimit", json_object_new_uint64(512ull << 20));
	json_object_object_add(opt, "cpuLimit", json_object_new_double(1.0));
	json_object_object_add(opt, "pidsLimit", json_object_new_uint64(64));
	json_object_object_add(opt, "sandboxSize", json_object_new_uint64(512ull << 20));
	json_object_object_add(opt, "tmpSize", json_object_new_uint64(256ull << 20));
	json_object_object_add(opt, "maxOutputSize", json_object_new_uint64(1048576));
	json_object_object_add(opt, "network", json_object_new_string("none"));
	json_object_object_add(filter, "whitelist", json_object_new_array());
	json_object_object_add(filter, "blacklist", json_object_new_array());
	json_object_object_add(opt, "networkFilter", filter);
	json_object_object_add(opt, "readonlyRootFs", json_object_new_boolean(1));
	json_object_object_add(opt, "persist", json_object_new_boolean(0));
	json_object_object_add(opt, "secrets", json_object_new_object());
	json_object_object_add(opt, "logNetwork", json_object_new_boolean(0));
	json_object_object_add(opt, "debug", json_object_new_boolean(0));
	json_object_object_add(root, "request", req);
	json_object_object_add(root, "options", opt);
	out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return out;
}

static int connect_hello(const char *path, struct isol8_err *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct isol8_buf b = ISOL8_BUF_INIT;
	_cleanup_close_ int fd = -1;
	int r;

	if (strlen(path) >= sizeof sa.sun_path)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "socket path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return isol8_err_set(err, ISOL8_E_UNAVAIL, errno, "connect %s", path);
	isol8_put_u8(&b, HELLO_RUN);
	isol8_put_str(&b, "");
	r = isol8_ipc_send_buf(fd, FE_HELLO, 0, &b, NULL, 0, err);
	isol8_buf_free(&b);
	if (r < 0)
		return -1;
	return steal_fd(&fd);
}

/* One run: returns the program's exit code, or -1 with err. Its stdout lands in *out. */
static int run_once(const char *path, const char *json, struct isol8_buf *out, struct isol8_err *err)
{
	_cleanup_close_ int sock = -1, bundle = -1, dn = -1;
	int p[2] = {-1, -1}, fds[3], code = -1;
	struct isol8_msg m;
	char tmp[4096];
	ssize_t n;

	sock = connect_hello(path, err);
	if (sock < 0)
		return -1;
	/* An empty bundle: the code travels in the JSON. */
	bundle = memfd_create("bench-bundle", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	dn = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (bundle < 0 || dn < 0 || pipe2(p, O_CLOEXEC) < 0 || isol8_memfd_seal(bundle, err) < 0)
		return isol8_err_set(err, ISOL8_E_IO, errno, "memfd/open/pipe");
	fds[0] = p[1];
	fds[1] = dn;
	fds[2] = bundle;
	if (isol8_ipc_send(sock, FE_RUN, 0, json, strlen(json), fds, 3, err) < 0)
		goto out;
	close(p[1]);
	p[1] = -1;
	if (isol8_ipc_recv(sock, &m, err) <= 0) {
		if (err->code == ISOL8_E_OK)
			isol8_err_set(err, ISOL8_E_UNAVAIL, 0, "isol8d closed the connection");
		goto out;
	}
	if (isol8_proto_check(PEER_FRONTEND, PEER_BROKER | PEER_WORKER, &m, NULL, err) < 0 ||
	    (m.type != WK_RESULT && isol8_err_set(err, ISOL8_E_PROTO, 0, "reply type %u (not a result)", m.type) < 0)) {
		isol8_msg_free(&m);
		goto out;
	}
	{
		json_object *res = json_tokener_parse((const char *)m.payload), *v;
		if (res && json_object_object_get_ex(res, "exitCode", &v))
			code = json_object_get_int(v);
		json_object_put(res);
	}
	isol8_msg_free(&m);
	/* The worker closes the output fds before it answers, so this read ends at EOF at once. */
	while ((n = read(p[0], tmp, sizeof tmp)) > 0)
		isol8_buf_append(out, tmp, (size_t)n);
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return code;
}

int main(int argc, char **argv)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char *json;
	long n;

	if (argc < 5 || argc > 6 || (n = strtol(argv[4], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: %s SOCKET RUNTIME CODE N [EXPECT]\n", argv[0]);
		return 2;
	}
	json = request_json(argv[2], argv[3]);
	for (long i = 0; i < n; i++) {
		struct isol8_buf out = ISOL8_BUF_INIT;
		double t0 = now_ms(), dt;
		int code = run_once(argv[1], json, &out, &err);

		dt = now_ms() - t0;
		if (code < 0) {
			fprintf(stderr, "sockclient: run %ld: %s\n", i, err.msg);
			return 1;
		}
		if (code != 0 ||
		    (argc == 6 &&
		     (out.len != strlen(argv[5]) || (out.len && memcmp(out.data, argv[5], out.len) != 0)))) {
			fprintf(stderr, "sockclient: run %ld: exit %d, stdout '%.*s'\n", i, code, (int)out.len,
				out.data ? out.data : "");
			return 1;
		}
		isol8_buf_free(&out);
		printf("%.3f\n", dt);
		fflush(stdout);
	}
	free(json);
	return 0;
}
