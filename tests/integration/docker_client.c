/* docker/ client against the real engine (TAP). Needs dockerd and the local image
 * debian:bookworm-slim (tests/lib/engine.sh ensure && tests/lib/engine.sh seed).
 *
 * Unreachable Docker is a failure, not a skip, unless ISOL8_SKIP_DOCKER is set (then exit 77).
 * Everything this test creates carries org.isol8.test=<unique> and is removed at the end, also
 * after failures. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "docker/client.h"
#include "docker/mux.h"
#include "common/tar.h"

#define IMAGE "debian:bookworm-slim"

static int n_test, n_fail;
static char label_val[64];  /* unique per run */
static char label_kv[128];  /* org.isol8.test=<unique> (locked-down container) */
static char label_kv2[128]; /* org.isol8.test=<unique>-rw (archive container) */
static char build_tag[96], import_tag[96];

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;

	n_test++;
	if (!cond)
		n_fail++;
	printf("%s %d - ", cond ? "ok" : "not ok", n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void diag(const char *what, const struct isol8_err *err)
{
	printf("# %s: [%s] %s\n", what, isol8_err_code_name(err->code) ? isol8_err_code_name(err->code) : "?",
	       err->msg);
}

static json_object *labels_obj(const char *kv_value)
{
	json_object *l = json_object_new_object();

	json_object_object_add(l, "org.isol8.managed", json_object_new_string("true"));
	json_object_object_add(l, "org.isol8.test", json_object_new_string(kv_value));
	return l;
}

static json_object *str_array(const char *const *v)
{
	json_object *a = json_object_new_array();

	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

static json_object *create_body(bool locked, const char *label)
{
	static const char *const cmd[] = {"sleep", "infinity", NULL};
	static const char *const caps[] = {"ALL", NULL};
	static const char *const secopt[] = {"no-new-privileges", NULL};
	json_object *b = json_object_new_object(), *hc = json_object_new_object(), *tmpfs;

	json_object_object_add(b, "Image", json_object_new_string(IMAGE));
	json_object_object_add(b, "Cmd", str_array(cmd));
	json_object_object_add(b, "Labels", labels_obj(label));
	json_object_object_add(b, "NetworkDisabled", json_object_new_boolean(1));
	json_object_object_add(hc, "CapDrop", str_array(caps));
	json_object_object_add(hc, "SecurityOpt", str_array(secopt));
	json_object_object_add(hc, "ReadonlyRootfs", json_object_new_boolean(locked));
	tmpfs = json_object_new_object();
	json_object_object_add(tmpfs, "/sandbox", json_object_new_string("rw,nosuid,nodev,size=16m,mode=1777"));
	json_object_object_add(hc, "Tmpfs", tmpfs);
	json_object_object_add(hc, "PidsLimit", json_object_new_int(64));
	json_object_object_add(hc, "Memory", json_object_new_int64(128LL * 1024 * 1024));
	json_object_object_add(hc, "NetworkMode", json_object_new_string("none"));
	json_object_object_add(b, "HostConfig", hc);
	return b;
}

/* Remove every container carrying one of our labels, and our images. */
static void cleanup(struct docker *d)
{
	const char *labels[] = {label_kv, label_kv2};
	struct isol8_err err = ISOL8_ERR_INIT;

	for (size_t i = 0; i < 2; i++) {
		json_object *list = NULL;
		if (docker_container_list(d, labels[i], true, &list, &err) < 0) {
			diag("cleanup list", &err);
			continue;
		}
		for (size_t j = 0; j < json_object_array_length(list); j++) {
			json_object *id;
			if (json_object_object_get_ex(json_object_array_get_idx(list, j), "Id", &id) &&
			    docker_container_remove(d, json_object_get_string(id), true, true, &err) < 0)
				diag("cleanup remove", &err);
		}
		json_object_put(list);
	}
	docker_image_remove(d, build_tag, true, &err);
	docker_image_remove(d, import_tag, true, &err);
}

static size_t list_count(struct docker *d, const char *label)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *list = NULL;
	size_t n;

	if (docker_container_list(d, label, true, &list, &err) < 0) {
		diag("list", &err);
		return (size_t)-1;
	}
	n = json_object_array_length(list);
	json_object_put(list);
	return n;
}

struct io {
	struct isol8_buf out, err;
};

static int on_frame(int stream, const char *data, size_t len, void *ctx)
{
	struct io *io = ctx;

	isol8_buf_append(stream == 1 ? &io->out : &io->err, data, len);
	return 0;
}

/* Pump stdin (may be NULL) into the hijacked fd and decode its output until EOF. */
static int pump(int fd, const char *in, size_t in_len, struct io *io, struct isol8_err *err)
{
	struct docker_mux m;
	size_t off = 0;
	bool wr_open = in != NULL;

	docker_mux_init(&m);
	if (!in)
		shutdown(fd, SHUT_WR);
	else if (in_len == 0) {
		shutdown(fd, SHUT_WR);
		wr_open = false;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN | (wr_open ? POLLOUT : 0)};
		int r = poll(&p, 1, 20000);

		if (r == 0)
			return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "exec stream stalled");
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return isol8_err_set(err, ISOL8_E_IO, errno, "poll");
		if (wr_open && (p.revents & POLLOUT)) {
			size_t n = in_len - off > 16384 ? 16384 : in_len - off;
			ssize_t w = send(fd, in + off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				return isol8_err_set(err, ISOL8_E_IO, errno, "write stdin");
			if (w > 0)
				off += (size_t)w;
			if (off == in_len) {
				shutdown(fd, SHUT_WR);
				wr_open = false;
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[65536];
			ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n < 0)
				return isol8_err_set(err, ISOL8_E_IO, errno, "read exec stream");
			if (n == 0)
				break;
			if (docker_mux_feed(&m, buf, (size_t)n, on_frame, io, err) < 0)
				return -1;
		}
	}
	if (!docker_mux_at_boundary(&m))
		return isol8_err_set(err, ISOL8_E_PROTO, 0, "exec stream ended inside a frame");
	return 0;
}

static int wait_exit(struct docker *d, const char *exec_id, int *code, struct isol8_err *err)
{
	for (int i = 0; i < 100; i++) {
		bool running = true;
		if (docker_exec_inspect(d, exec_id, &running, code, NULL, err) < 0)
			return -1;
		if (!running)
			return 0;
		usleep(50000);
	}
	return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "exec still running");
}

static int run_exec(struct docker *d, const char *cid, const char *const *cmd, const char *in, size_t in_len,
		    struct io *io, int *code, struct isol8_err *err)
{
	json_object *b = json_object_new_object();
	char eid[65];
	int fd = -1, r;

	json_object_object_add(b, "Cmd", str_array(cmd));
	json_object_object_add(b, "AttachStdin", json_object_new_boolean(in != NULL));
	json_object_object_add(b, "AttachStdout", json_object_new_boolean(1));
	json_object_object_add(b, "AttachStderr", json_object_new_boolean(1));
	json_object_object_add(b, "Tty", json_object_new_boolean(0));
	r = docker_exec_create(d, cid, b, eid, err);
	json_object_put(b);
	if (r < 0)
		return -1;
	if (docker_exec_start_hijack(d, eid, &fd, err) < 0)
		return -1;
	r = pump(fd, in, in_len, io, err);
	close(fd);
	if (r < 0)
		return -1;
	return wait_exit(d, eid, code, err);
}

static void test_errors(void)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct docker *bad;
	const char *saved = getenv("DOCKER_HOST");
	char *saved_copy = saved ? xstrdup(saved) : NULL;

	setenv("DOCKER_HOST", "unix:///tmp/isol8-nonexistent/docker.sock", 1);
	bad = docker_open(NULL, &err);
	ok(bad != NULL, "docker_open honours DOCKER_HOST");
	if (bad) {
		int r = docker_ping(bad, &err);
		ok(r == -1 && err.code == ISOL8_E_UNAVAIL &&
			   strcmp(err.msg,
				  "cannot reach Docker at /tmp/isol8-nonexistent/docker.sock: No such file or "
				  "directory (is dockerd running?)") == 0,
		   "unreachable socket gives the exact message");
		if (r == 0 || err.code != ISOL8_E_UNAVAIL)
			diag("ping", &err);
		docker_close(bad);
	}
	setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
	bad = docker_open(NULL, &err);
	ok(bad == NULL && err.code == ISOL8_E_USAGE && strstr(err.msg, "not supported yet"),
	   "tcp:// DOCKER_HOST refused clearly");
	docker_close(bad);
	if (saved_copy)
		setenv("DOCKER_HOST", saved_copy, 1);
	else
		unsetenv("DOCKER_HOST");
	free(saved_copy);
}

static void on_build_line(const char *line, void *ctx)
{
	struct isol8_buf *b = ctx;

	isol8_buf_printf(b, "%s\n", line);
}

static void test_images(struct docker *d)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *o = NULL;
	int r;

	r = docker_image_inspect(d, IMAGE, &o, &err);
	ok(r == 0 && json_object_is_type(o, json_type_object), "image inspect %s", IMAGE);
	if (r < 0)
		diag("inspect", &err);
	json_object_put(o);
	o = NULL;
	r = docker_image_inspect(d, "docker.io/library/" IMAGE, &o, &err);
	ok(r == 0, "image inspect with '/' in the name");
	if (r < 0)
		diag("inspect", &err);
	json_object_put(o);
	o = NULL;
	r = docker_image_inspect(d, "isol8-test-missing-image:nope", &o, &err);
	ok(r == -1 && err.code == ISOL8_E_NOTFOUND && o == NULL && strstr(err.msg, "No such image"),
	   "missing image is ISOL8_E_NOTFOUND (%s)", err.msg);

	/* build: a good one streams its log, a failing one reports Docker's error */
	{
		char dockerfile[512];
		snprintf(dockerfile, sizeof dockerfile,
			 "FROM %s\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n", IMAGE);
		struct isol8_tar_entry ents[] = {{"Dockerfile", dockerfile, strlen(dockerfile), 0644, 0, 0},
						 {"hello.txt", "built\n", 6, 0644, 0, 0}};
		struct isol8_buf ctx = ISOL8_BUF_INIT, log = ISOL8_BUF_INIT;
		char label[160];
		const char *labels[] = {label, NULL};
		const char *args[] = {"UNUSED=1", NULL};
		struct docker_build_opts bo = {.tag = build_tag, .labels = labels, .buildargs = args};

		snprintf(label, sizeof label, "%s", label_kv);
		r = isol8_tar_build(ents, 2, &ctx, &err);
		ok(r == 0, "build context tar");
		r = docker_image_build(d, &bo, ctx.data, ctx.len, on_build_line, &log, &err);
		ok(r == 0 && strstr(log.data ? log.data : "", "Step 1/4 : FROM " IMAGE), "image build streams its log");
		if (r < 0)
			diag("build", &err);
		if (log.data)
			printf("# build log:\n# %.*s\n", (int)(log.len > 400 ? 400 : log.len), log.data);
		r = docker_image_inspect(d, build_tag, &o, &err);
		{
			json_object *cfg, *lab, *v;
			ok(r == 0 && json_object_object_get_ex(o, "Config", &cfg) &&
				   json_object_object_get_ex(cfg, "Labels", &lab) &&
				   json_object_object_get_ex(lab, "org.isol8.test", &v) &&
				   strcmp(json_object_get_string(v), label_val) == 0,
			   "built image carries the build label");
		}
		json_object_put(o);
		o = NULL;

		snprintf(dockerfile, sizeof dockerfile, "FROM %s\nRUN false\n", IMAGE);
		ents[0].len = strlen(dockerfile);
		isol8_tar_build(ents, 1, &ctx, &err);
		isol8_buf_reset(&log);
		r = docker_image_build(d, &bo, ctx.data, ctx.len, on_build_line, &log, &err);
		ok(r == -1 && err.code == ISOL8_E_DOCKER && strstr(err.msg, "returned a non-zero code: 1"),
		   "failing build reports Docker's error (%s)", err.msg);

		/* a malformed Dockerfile is refused before streaming: a plain HTTP error */
		snprintf(dockerfile, sizeof dockerfile, "NOTANINSTRUCTION x\n");
		ents[0].len = strlen(dockerfile);
		isol8_tar_build(ents, 1, &ctx, &err);
		r = docker_image_build(d, &bo, ctx.data, ctx.len, NULL, NULL, &err);
		ok(r == -1 && err.code == ISOL8_E_DOCKER && strstr(err.msg, "nknown instruction"),
		   "invalid Dockerfile reports Docker's message (%s)", err.msg);
		isol8_buf_free(&ctx);
		isol8_buf_free(&log);
	}

	/* import: a one-file rootfs from a pipe, with changes */
	{
		struct isol8_tar_entry e = {"etc/isol8-imported", "yes\n", 4, 0644, 0, 0};
		struct isol8_buf t = ISOL8_BUF_INIT;
		char change[160];
		const char *changes[] = {change, "CMD [\"/bin/true\"]", NULL};
		int p[2];
		pid_t pid;

		snprintf(change, sizeof change, "LABEL %s", label_kv);
		isol8_tar_build(&e, 1, &t, &err);
		if (pipe(p) == 0) {
			pid = fork();
			if (pid == 0) {
				close(p[0]);
				ssize_t w = write(p[1], t.data, t.len);
				_exit(w == (ssize_t)t.len ? 0 : 1);
			}
			close(p[1]);
			const char *colon = strrchr(import_tag, ':');
			char repo[96];
			snprintf(repo, sizeof repo, "%.*s", (int)(colon - import_tag), import_tag);
			r = docker_image_import(d, p[0], repo, colon + 1, changes, &err);
			close(p[0]);
			waitpid(pid, NULL, 0);
			ok(r == 0, "image import from a pipe");
			if (r < 0)
				diag("import", &err);
			r = docker_image_inspect(d, import_tag, &o, &err);
			{
				json_object *cfg, *lab, *v;
				ok(r == 0 && json_object_object_get_ex(o, "Config", &cfg) &&
					   json_object_object_get_ex(cfg, "Labels", &lab) &&
					   json_object_object_get_ex(lab, "org.isol8.test", &v) &&
					   strcmp(json_object_get_string(v), label_val) == 0,
				   "imported image has the LABEL change");
			}
			json_object_put(o);
			o = NULL;
		}
		isol8_buf_free(&t);
	}
}

static void test_locked_container(struct docker *d)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	json_object *body = create_body(true, label_val), *o = NULL;
	char cid[65];
	int r, code = -2;

	r = docker_container_create(d, NULL, body, cid, &err);
	json_object_put(body);
	ok(r == 0, "create locked-down container");
	if (r < 0) {
		diag("create", &err);
		return;
	}
	r = docker_container_start(d, cid, &err);
	ok(r == 0, "start container");
	if (r < 0) {
		diag("start", &err);
		return;
	}
	r = docker_container_inspect(d, cid, &o, &err);
	{
		json_object *hc, *v;
		ok(r == 0 && json_object_object_get_ex(o, "HostConfig", &hc) &&
			   json_object_object_get_ex(hc, "ReadonlyRootfs", &v) && json_object_get_boolean(v),
		   "inspect shows ReadonlyRootfs");
	}
	json_object_put(o);

	{
		static const char *const cmd[] = {"sh", "-c", "echo hi; echo err >&2; exit 3", NULL};
		struct io io = {ISOL8_BUF_INIT, ISOL8_BUF_INIT};
		r = run_exec(d, cid, cmd, NULL, 0, &io, &code, &err);
		ok(r == 0, "exec via hijack + mux");
		if (r < 0)
			diag("exec", &err);
		ok(io.out.len == 3 && memcmp(io.out.data, "hi\n", 3) == 0, "stdout is exactly \"hi\\n\"");
		ok(io.err.len == 4 && memcmp(io.err.data, "err\n", 4) == 0, "stderr is exactly \"err\\n\"");
		ok(code == 3, "exit code 3 via exec inspect (got %d)", code);
		isol8_buf_free(&io.out);
		isol8_buf_free(&io.err);
	}
	{
		static const char *const cmd[] = {"cat", NULL};
		struct io io = {ISOL8_BUF_INIT, ISOL8_BUF_INIT};
		size_t n = 300 * 1024;
		char *data = xmalloc(n);

		for (size_t i = 0; i < n; i++)
			data[i] = (char)(i * 2654435761u >> 13);
		r = run_exec(d, cid, cmd, data, n, &io, &code, &err);
		ok(r == 0, "exec cat with stdin attached");
		if (r < 0)
			diag("exec cat", &err);
		ok(io.out.len == n && memcmp(io.out.data, data, n) == 0, "stdin comes back byte for byte (%zu bytes)",
		   io.out.len);
		ok(code == 0 && io.err.len == 0, "cat exits 0 after shutdown(SHUT_WR)");
		free(data);
		isol8_buf_free(&io.out);
		isol8_buf_free(&io.err);
	}
	{
		static const char *const cmd[] = {"sh", "-c",
						  "touch /etc/x 2>/dev/null && echo writable; "
						  "touch /sandbox/x && echo tmpfs-ok",
						  NULL};
		struct io io = {ISOL8_BUF_INIT, ISOL8_BUF_INIT};
		r = run_exec(d, cid, cmd, NULL, 0, &io, &code, &err);
		ok(r == 0 && io.out.data && strcmp(io.out.data, "tmpfs-ok\n") == 0,
		   "root filesystem read-only, /sandbox tmpfs writable");
		isol8_buf_free(&io.out);
		isol8_buf_free(&io.err);
	}
	{
		struct isol8_tar_entry e = {"f", "x", 1, 0644, 0, 0};
		struct isol8_buf t = ISOL8_BUF_INIT;
		isol8_tar_build(&e, 1, &t, &err);
		r = docker_container_put_archive(d, cid, "/tmp", t.data, t.len, &err);
		ok(r == -1 && (err.code == ISOL8_E_DOCKER), "put_archive refused on a read-only root (%s)", err.msg);
		isol8_buf_free(&t);
	}

	ok(list_count(d, label_kv) == 1, "list by label finds exactly the container");
	r = docker_container_kill(d, cid, "SIGKILL", &err);
	ok(r == 0, "kill");
	if (r < 0)
		diag("kill", &err);
	r = docker_container_remove(d, cid, true, false, &err);
	ok(r == 0, "remove");
	if (r < 0)
		diag("remove", &err);
	ok(list_count(d, label_kv) == 0, "no container left behind");
	r = docker_container_inspect(d, cid, &o, &err);
	ok(r == -1 && err.code == ISOL8_E_NOTFOUND, "inspect after remove is ISOL8_E_NOTFOUND");
	ok(docker_container_remove(d, cid, true, true, &err) == 0, "remove of a missing container with ignore_missing");
	ok(docker_container_remove(d, cid, true, false, &err) == -1 && err.code == ISOL8_E_NOTFOUND,
	   "remove of a missing container without ignore_missing");
}

static void test_archive_container(struct docker *d)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char lab[96];
	json_object *body;
	char cid[65];
	int r;

	snprintf(lab, sizeof lab, "%s-rw", label_val);
	body = create_body(false, lab);
	r = docker_container_create(d, NULL, body, cid, &err);
	json_object_put(body);
	ok(r == 0, "create writable container for archives");
	if (r < 0) {
		diag("create", &err);
		return;
	}
	{
		struct isol8_tar_entry ents[] = {{"hello.txt", "hello archive\n", 14, 0640, 1000, 1000},
						 {"deep/er/n\xc3\xa4me with space.txt", "nested\n", 7, 0600, 0, 0}};
		struct isol8_buf t = ISOL8_BUF_INIT, back = ISOL8_BUF_INIT, f = ISOL8_BUF_INIT;

		r = isol8_tar_build(ents, 2, &t, &err);
		ok(r == 0, "tar with a UTF-8 nested name");
		/* the container need not run for the archive API */
		r = docker_container_put_archive(d, cid, "/tmp", t.data, t.len, &err);
		ok(r == 0, "put_archive into /tmp");
		if (r < 0)
			diag("put_archive", &err);
		r = docker_container_get_archive(d, cid, "/tmp/hello.txt", &back, 1 << 20, &err);
		ok(r == 0, "get_archive /tmp/hello.txt");
		if (r < 0)
			diag("get_archive", &err);
		r = isol8_tar_extract_file(back.data, back.len, "hello.txt", 1024, &f, &err);
		ok(r == 0 && f.len == 14 && memcmp(f.data, "hello archive\n", 14) == 0, "content round-trips");
		r = docker_container_get_archive(d, cid, "/tmp/deep/er/n\xc3\xa4me with space.txt", &back, 1 << 20,
						 &err);
		ok(r == 0, "get_archive of an escaped path");
		r = isol8_tar_extract_file(back.data, back.len, "n\xc3\xa4me with space.txt", 1024, &f, &err);
		ok(r == 0 && f.len == 7 && memcmp(f.data, "nested\n", 7) == 0, "nested content round-trips");
		if (r < 0)
			diag("extract nested", &err);
		r = docker_container_get_archive(d, cid, "/tmp/hello.txt", &back, 100, &err);
		ok(r == -1 && err.code == ISOL8_E_LIMIT, "get_archive past max is ISOL8_E_LIMIT");
		r = docker_container_get_archive(d, cid, "/tmp/does-not-exist", &back, 10, &err);
		ok(r == -1 && err.code == ISOL8_E_NOTFOUND, "get_archive of a missing path is ISOL8_E_NOTFOUND");
		isol8_buf_free(&t);
		isol8_buf_free(&back);
		isol8_buf_free(&f);
	}
	r = docker_container_remove(d, cid, true, false, &err);
	ok(r == 0, "remove archive container");
	ok(list_count(d, label_kv2) == 0, "no archive container left behind");
}

/* The tests proper. Runs in a child so that the parent can clean up by label even when this
 * crashes or is killed half-way. */
static int run_tests(void)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct docker *d;

	test_errors();

	d = docker_open(NULL, &err);
	if (!d || docker_ping(d, &err) < 0) {
		if (getenv("ISOL8_SKIP_DOCKER")) {
			printf("1..0 # SKIP Docker unreachable: %s\n", err.msg);
			docker_close(d);
			return 77;
		}
		ok(0, "ping Docker");
		diag("ping", &err);
		printf("1..%d\n", n_test);
		docker_close(d);
		return 1;
	}
	ok(1, "ping Docker");
	{
		json_object *v = NULL, *api;
		int r = docker_version(d, &v, &err);
		ok(r == 0 && json_object_object_get_ex(v, "ApiVersion", &api), "version answers (API %s)",
		   r == 0 && json_object_object_get_ex(v, "ApiVersion", &api) ? json_object_get_string(api) : "?");
		json_object_put(v);
	}

	test_images(d);
	test_locked_container(d);
	test_archive_container(d);

	cleanup(d);
	ok(list_count(d, label_kv) == 0 && list_count(d, label_kv2) == 0, "cleanup left nothing behind");
	docker_close(d);
	printf("1..%d\n# %d passed, %d failed\n", n_test, n_test - n_fail, n_fail);
	return n_fail ? 1 : 0;
}

int main(void)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct docker *d;
	pid_t pid;
	int st = 0;

	snprintf(label_val, sizeof label_val, "dc-%ld-%ld", (long)getpid(), (long)time(NULL));
	snprintf(label_kv, sizeof label_kv, "org.isol8.test=%s", label_val);
	snprintf(label_kv2, sizeof label_kv2, "org.isol8.test=%s-rw", label_val);
	snprintf(build_tag, sizeof build_tag, "isol8-test-build:%s", label_val);
	snprintf(import_tag, sizeof import_tag, "isol8-test-import:%s", label_val);

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0)
		_exit(run_tests());
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
		return 77;
	/* Failed or crashed: make sure nothing of ours is left in the engine. */
	d = docker_open(NULL, &err);
	if (d) {
		cleanup(d);
		docker_close(d);
	}
	if (WIFSIGNALED(st)) {
		printf("not ok - test process died with signal %d (leftovers removed by label %s)\n", WTERMSIG(st),
		       label_val);
		return 1;
	}
	return WEXITSTATUS(st);
}
