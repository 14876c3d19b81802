/* Moving one exec's output from Docker's multiplexed stream to the frontend's fds, as it
 * arrives: demultiplex, mask secrets, apply the output cap, write. Also feeds the program's
 * stdin, watches the deadline, and listens for signals from the frontend. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/proto.h"
#include "common/xalloc.h"
#include "docker/mux.h"
#include "worker/worker.h"

void pump_out_init(struct pump_out *o, int out_fd, int err_fd, const char *const *secrets, uint64_t max_output)
{
	size_t n = 0;
	memset(o, 0, sizeof *o);
	o->fd[0] = -1;
	o->fd[1] = out_fd;
	o->fd[2] = err_fd;
	o->msg_fd = -1;
	while (secrets && secrets[n])
		n++;
	for (int s = 1; s <= 2; s++) {
		o->mask[s] = isol8_masker_new(secrets, n);
		isol8_outcap_init(&o->cap[s], max_output);
	}
}

/* Setup output travels in order with the WK_PHASE messages around it, on the frontend's socket;
 * the pipes then carry only the program's own output. */
static void send_output(struct pump_out *o, int s, const char *p, size_t n)
{
	char buf[32768];

	while (n && !o->write_failed[s]) {
		struct isol8_err err = ISOL8_ERR_INIT;
		size_t k = n < sizeof buf - 1 ? n : sizeof buf - 1;
		buf[0] = (char)s;
		memcpy(buf + 1, p, k);
		if (isol8_ipc_send(o->msg_fd, WK_OUTPUT, 0, buf, k + 1, NULL, 0, &err) < 0)
			o->write_failed[s] = true;
		p += k;
		n -= k;
	}
}

static void write_all(struct pump_out *o, int s, const char *p, size_t n)
{
	if (o->msg_fd >= 0)
		return send_output(o, s, p, n);
	while (n && !o->write_failed[s]) {
		ssize_t w = write(o->fd[s], p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			if (errno == EAGAIN) {
				struct pollfd pf = {.fd = o->fd[s], .events = POLLOUT};
				poll(&pf, 1, 1000);
				continue;
			}
			/* The reader went away (EPIPE): keep draining the program, drop its output. */
			o->write_failed[s] = true;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void emit(struct pump_out *o, int s, struct isol8_buf *masked)
{
	size_t take = isol8_outcap_take_utf8(&o->cap[s], masked->data, masked->len);
	if (take)
		write_all(o, s, masked->data, take);
	if (take && o->head[s].len < o->head_max)
		isol8_buf_append(&o->head[s], masked->data,
				 take < o->head_max - o->head[s].len ? take : o->head_max - o->head[s].len);
	isol8_buf_reset(masked);
}

void pump_out_write(struct pump_out *o, int s, const char *data, size_t len)
{
	struct isol8_buf masked = ISOL8_BUF_INIT;
	if (s != 1 && s != 2)
		return;
	if (!o->first_byte_ms && len)
		o->first_byte_ms = clock_mono_ms();
	isol8_masker_feed(o->mask[s], data, len, &masked);
	if (masked.len)
		emit(o, s, &masked);
	isol8_buf_free(&masked);
}

void pump_out_flush(struct pump_out *o)
{
	for (int s = 1; s <= 2; s++) {
		struct isol8_buf masked = ISOL8_BUF_INIT;
		isol8_masker_flush(o->mask[s], &masked);
		if (masked.len)
			emit(o, s, &masked);
		isol8_buf_free(&masked);
	}
}

void pump_out_finish(struct pump_out *o)
{
	for (int s = 1; s <= 2; s++) {
		struct isol8_buf masked = ISOL8_BUF_INIT;
		char marker[160];
		isol8_masker_flush(o->mask[s], &masked);
		if (masked.len)
			emit(o, s, &masked);
		isol8_buf_free(&masked);
		if (o->cap[s].truncated) {
			int n = isol8_outcap_marker(&o->cap[s], marker, sizeof marker);
			if (n > 0)
				write_all(o, s, marker, (size_t)n < sizeof marker ? (size_t)n : sizeof marker - 1);
		}
	}
}

void pump_out_free(struct pump_out *o)
{
	for (int s = 1; s <= 2; s++)
		if (o->mask[s])
			isol8_masker_free(o->mask[s]);
	memset(o->mask, 0, sizeof o->mask);
	for (int s = 1; s <= 2; s++)
		isol8_buf_free(&o->head[s]);
}

/* ---- REPL end-marker scanning: "\x1e<token> <code>\n" on each stream ---- */

struct scan {
	struct isol8_buf pend;
	bool done;
	int code;
};

struct pump_ctx {
	struct pump_out *o;
	const char *token;
	struct scan sc[3];
};

static void scan_feed(struct pump_ctx *c, int s, const char *data, size_t len)
{
	struct scan *sc = &c->sc[s];
	size_t tlen = strlen(c->token);

	isol8_buf_append(&sc->pend, data, len);
	while (sc->pend.len) {
		char *p = memchr(sc->pend.data, 0x1e, sc->pend.len);
		size_t i, rest, plen = 1 + tlen + 1;
		if (!p) {
			pump_out_write(c->o, s, sc->pend.data, sc->pend.len);
			isol8_buf_reset(&sc->pend);
			return;
		}
		i = (size_t)(p - sc->pend.data);
		if (i) {
			pump_out_write(c->o, s, sc->pend.data, i);
			isol8_buf_consume(&sc->pend, i);
		}
		rest = sc->pend.len;
		/* Compare what we have with "\x1e<token> ". */
		{
			size_t cmp = rest < plen ? rest : plen;
			bool ok = true;
			for (size_t k = 1; k < cmp && ok; k++)
				ok = sc->pend.data[k] == (k <= tlen ? c->token[k - 1] : ' ');
			if (!ok) {
				pump_out_write(c->o, s, sc->pend.data, 1);
				isol8_buf_consume(&sc->pend, 1);
				continue;
			}
			if (rest < plen)
				return; /* wait for more */
		}
		{
			char *nl = memchr(sc->pend.data + plen, '\n', sc->pend.len - plen);
			if (!nl) {
				if (sc->pend.len - plen > 12) {
					pump_out_write(c->o, s, sc->pend.data, 1);
					isol8_buf_consume(&sc->pend, 1);
					continue;
				}
				return;
			}
			sc->code = atoi(sc->pend.data + plen);
			sc->done = true;
			isol8_buf_consume(&sc->pend, (size_t)(nl - sc->pend.data) + 1);
			if (sc->pend.len) {
				pump_out_write(c->o, s, sc->pend.data, sc->pend.len);
				isol8_buf_reset(&sc->pend);
			}
			return;
		}
	}
}

static int on_frame(int stream, const char *data, size_t len, void *ctx)
{
	struct pump_ctx *c = ctx;
	if (stream != 1 && stream != 2)
		return 0;
	if (c->token)
		scan_feed(c, stream, data, len);
	else
		pump_out_write(c->o, stream, data, len);
	return 0;
}

/* FE_SIGNAL from the frontend (or its disconnect, which counts as SIGKILL). */
static int read_ctrl(int ctrl_fd, int *signal_out)
{
	struct isol8_msg m = {0};
	struct isol8_err err = ISOL8_ERR_INIT;
	uint8_t sig = 0;
	int r = isol8_ipc_recv(ctrl_fd, &m, &err);

	if (r == 0 || (r < 0 && err.errnum != EAGAIN)) {
		*signal_out = SIGKILL;
		return 1;
	}
	/* Anything else the frontend sends meanwhile is dropped, its fds closed. */
	if (r > 0 && isol8_proto_check(PEER_WORKER, PEER_FRONTEND, &m, NULL, &err) == 0 && m.type == FE_SIGNAL &&
	    isol8_get_u8(&m, &sig, &err) == 0 && (sig == SIGINT || sig == SIGTERM || sig == SIGKILL)) {
		*signal_out = sig;
		isol8_msg_free(&m);
		return 1;
	}
	isol8_msg_free(&m);
	return 0;
}

/* The program's stdin: what is still to send (the request's stdin, then one read of the live
 * source at a time, so memory stays bounded), and whether the write side is still open. */
struct stdin_feed {
	int src_fd;
	struct isol8_buf pend;
	size_t sent;
	bool src_open, wr_open, close_stdin;
};

/* The next wake-up: the deadline, at most a minute away, or the next liveness watch. */
static int poll_timeout(uint64_t now, uint64_t deadline, uint64_t next_watch)
{
	int timeout = (int)(deadline - now > 60000 ? 60000 : deadline - now);

	if (next_watch - now < (uint64_t)timeout)
		timeout = (int)(next_watch - now);
	return timeout;
}

static void refill_stdin(struct stdin_feed *f, char *buf, size_t size)
{
	ssize_t got = read(f->src_fd, buf, size);

	if (got > 0) {
		isol8_buf_reset(&f->pend);
		f->sent = 0;
		isol8_buf_append(&f->pend, buf, (size_t)got);
	} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
		f->src_open = false;
	}
}

/* Sends what is pending; the write side is shut (when asked) once the source has ended and all
 * of it went out, or the program closed its stdin. */
static void flush_stdin(int fd, struct stdin_feed *f, short revents)
{
	if (f->wr_open && f->sent < f->pend.len && (revents & POLLOUT)) {
		ssize_t w = send(fd, f->pend.data + f->sent, f->pend.len - f->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0)
			f->sent += (size_t)w;
		else if (w < 0 && errno != EAGAIN && errno != EINTR)
			f->src_open = false, f->sent = f->pend.len; /* the program closed its stdin */
	}
	if (f->wr_open && f->sent == f->pend.len && !f->src_open) {
		f->wr_open = false;
		if (f->close_stdin)
			shutdown(fd, SHUT_WR);
	}
}

/* Whether the run is over before the next poll: both markers seen, the deadline passed, or the
 * watch says the sandbox is gone. *now is the time the next poll's timeout is counted from,
 * always before the deadline when the run goes on. */
static bool pump_over(const struct pump_ctx *c, uint64_t deadline, const struct pump_watch *watch, uint64_t *next_watch,
		      uint64_t *now, struct pump_result *res)
{
	*now = clock_mono_ms();
	if (c->token && c->sc[1].done && c->sc[2].done) {
		res->marker_code = c->sc[1].code;
		return true;
	}
	if (*now >= deadline) {
		res->timed_out = true;
		return true;
	}
	if (*now >= *next_watch) {
		if (watch->gone(watch->arg)) {
			res->gone = true;
			return true;
		}
		*now = clock_mono_ms();
		*next_watch = *now + watch->period_ms;
	}
	return false;
}

/* Unfinished marker candidates at EOF were program output after all. */
static void flush_marker_candidates(struct pump_ctx *c, struct pump_out *o)
{
	for (int s = 1; s <= 2; s++) {
		if (c->sc[s].pend.len)
			pump_out_write(o, s, c->sc[s].pend.data, c->sc[s].pend.len);
		isol8_buf_free(&c->sc[s].pend);
	}
}

int pump_run(int fd, const char *stdin_data, size_t stdin_len, int stdin_fd, bool close_stdin, struct pump_out *o,
	     uint64_t deadline, const char *token, int ctrl_fd, const struct pump_watch *watch, int *signal_out,
	     struct pump_result *res, struct isol8_err *err)
{
	uint64_t next_watch = watch ? clock_mono_ms() + watch->period_ms : UINT64_MAX;
	struct docker_mux mux;
	struct pump_ctx c = {.o = o, .token = token};
	struct stdin_feed in = {
		.src_fd = stdin_fd, .pend = ISOL8_BUF_INIT, .src_open = stdin_fd >= 0, .close_stdin = close_stdin};
	char buf[65536];
	int rc = 0;

	memset(res, 0, sizeof *res);
	res->marker_code = -1;
	docker_mux_init(&mux);
	if (stdin_data && stdin_len)
		isol8_buf_append(&in.pend, stdin_data, stdin_len);
	in.wr_open = in.pend.len > 0 || in.src_open;
	if (!in.wr_open && close_stdin)
		shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd pf[3];
		uint64_t now;
		int n = 1, ci = -1, si = -1;
		ssize_t r;

		if (pump_over(&c, deadline, watch, &next_watch, &now, res))
			break;
		pf[0] = (struct pollfd){.fd = fd,
					.events = POLLIN | (in.wr_open && in.sent < in.pend.len ? POLLOUT : 0)};
		if (ctrl_fd >= 0) {
			ci = n;
			pf[n++] = (struct pollfd){.fd = ctrl_fd, .events = POLLIN};
		}
		/* Live stdin is read only when what we read before has gone out: bounded memory. */
		if (in.src_open && in.sent == in.pend.len) {
			si = n;
			pf[n++] = (struct pollfd){.fd = stdin_fd, .events = POLLIN};
		}
		if (poll(pf, (nfds_t)n, poll_timeout(now, deadline, next_watch)) < 0) {
			if (errno == EINTR)
				continue;
			rc = isol8_err_set(err, ISOL8_E_IO, errno, "poll");
			break;
		}
		if (ci >= 0 && pf[ci].revents && read_ctrl(ctrl_fd, signal_out)) {
			res->interrupted = true;
			break;
		}
		if (si >= 0 && (pf[si].revents & (POLLIN | POLLHUP | POLLERR)))
			refill_stdin(&in, buf, sizeof buf);
		flush_stdin(fd, &in, pf[0].revents);
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			res->eof = true;
			break;
		}
		if (docker_mux_feed(&mux, buf, (size_t)r, on_frame, &c, err) < 0) {
			rc = -1;
			break;
		}
	}
	isol8_buf_free(&in.pend);
	flush_marker_candidates(&c, o);
	return rc;
}

struct collect_ctx {
	struct isol8_buf *b[3];
	size_t cap;
};

static int on_collect(int stream, const char *data, size_t len, void *ctx)
{
	struct collect_ctx *c = ctx;
	if (stream != 1 && stream != 2)
		return 0;
	if (c->b[stream]->len < c->cap)
		isol8_buf_append(c->b[stream], data,
				 len < c->cap - c->b[stream]->len ? len : c->cap - c->b[stream]->len);
	return 0;
}

int pump_collect(int fd, const void *stdin_data, size_t stdin_len, struct isol8_buf *out, struct isol8_buf *errb,
		 size_t cap, uint64_t deadline, struct isol8_err *err)
{
	struct docker_mux mux;
	struct collect_ctx c = {{NULL, out, errb}, cap};
	size_t sent = 0;
	bool wr_open = stdin_len > 0;
	char buf[65536];

	docker_mux_init(&mux);
	if (!wr_open)
		shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd pf = {.fd = fd, .events = POLLIN | (wr_open ? POLLOUT : 0)};
		uint64_t now = clock_mono_ms();
		ssize_t r;
		if (now >= deadline)
			return isol8_err_set(err, ISOL8_E_TIMEOUT, 0, "timed out");
		if (poll(&pf, 1, (int)(deadline - now > 60000 ? 60000 : deadline - now)) < 0) {
			if (errno == EINTR)
				continue;
			return isol8_err_set(err, ISOL8_E_IO, errno, "poll");
		}
		if (wr_open && (pf.revents & POLLOUT)) {
			ssize_t w = send(fd, (const char *)stdin_data + sent, stdin_len - sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				sent += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == stdin_len) {
				wr_open = false;
				shutdown(fd, SHUT_WR);
			}
		}
		if (!(pf.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return 0;
		if (docker_mux_feed(&mux, buf, (size_t)r, on_collect, &c, err) < 0)
			return -1;
	}
}
