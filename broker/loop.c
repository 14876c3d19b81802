/* The broker's main loop: one poll() over signals, the listening sockets, the workers' channels
 * and the connections waiting for their hello; timers (reaping, queue, deadlines, tokens) run
 * after every wake-up. Verbs run in their own threads (verbs.c); everything here is the main
 * thread's, which is also the only one that replaces the policy (reload.c). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/supervise.h"
#include "common/log.h"

enum poll_kind {
	PK_SIGNAL,      /* the signalfd */
	PK_LISTEN,      /* the main socket */
	PK_HTTP_LISTEN, /* the --http child's private socket */
	PK_WAKE,        /* the eventfd verb threads write when they queue a message */
	PK_WORKER,      /* a worker's channel; .worker says which */
	PK_PENDING,     /* an accepted frontend before its hello, or queued */
	PK_KEYSTORE,    /* isol8-keystore's channel: key checks answered (keys_pg.c) */
};

struct poll_slot {
	enum poll_kind kind;
	unsigned worker;
};

#define POLL_MAX (5 + BROKER_MAX_WORKERS + BROKER_MAX_PENDING)

struct poll_set {
	struct pollfd pf[POLL_MAX];
	struct poll_slot slot[POLL_MAX];
	unsigned n;
};

static void add(struct poll_set *s, int fd, enum poll_kind kind, unsigned worker, short events)
{
	s->pf[s->n] = (struct pollfd){.fd = fd, .events = events};
	s->slot[s->n++] = (struct poll_slot){kind, worker};
}

static void collect(struct broker *b, int sfd, struct poll_set *s)
{
	int pfds[BROKER_MAX_PENDING];
	int npend;

	s->n = 0;
	add(s, sfd, PK_SIGNAL, 0, POLLIN);
	add(s, b->listen_fd, PK_LISTEN, 0, POLLIN);
	if (b->http_listen_fd >= 0)
		add(s, b->http_listen_fd, PK_HTTP_LISTEN, 0, POLLIN);
	add(s, b->wake_fd, PK_WAKE, 0, POLLIN);
	if (keys_pg_poll_fd() >= 0)
		add(s, keys_pg_poll_fd(), PK_KEYSTORE, 0, POLLIN);
	for (unsigned i = 0; i < b->o.workers; i++)
		if (b->w[i].chan >= 0)
			add(s, b->w[i].chan, PK_WORKER, i, POLLIN | (broker_worker_wants_out(b, i) ? POLLOUT : 0));
	npend = broker_pending_fds(pfds, BROKER_MAX_PENDING);
	for (int i = 0; i < npend; i++)
		add(s, pfds[i], PK_PENDING, 0, POLLIN);
}

/* Returns true when the broker must shut down. */
static bool read_signals(struct broker *b, int sfd)
{
	struct signalfd_siginfo si;
	bool stop = false;

	while (read(sfd, &si, sizeof si) == sizeof si) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			stop = true;
			break;
		case SIGHUP:
			broker_reload(b);
			break;
		case SIGUSR1:
		case SIGUSR2:
			broker_drain_signal(b, (int)si.ssi_signo);
			break;
		default:
			break; /* SIGCHLD: supervise_reap runs after every wake-up */
		}
	}
	return stop;
}

/* Expired ephemeral sandboxes: the worker's own timer should have removed them long ago. */
static void enforce_deadlines(struct broker *b)
{
	char(*ids)[65] = NULL;
	size_t n = table_container_ids(UINT32_MAX, 0, true, clock_mono_ms(), &ids);
	if (n)
		log_warn("removing %zu sandbox(es) past their hard deadline", n);
	/* Forget them now so the next check does not start a second removal. */
	for (size_t i = 0; i < n; i++)
		table_container_del(ids[i]);
	broker_remove_containers_async(b, ids, n);
}

/* Tokens a worker never finished: dropped at their expiry, and the connections they stood for
 * no longer count against the worker's load. */
static void expire_tokens(struct broker *b, uint64_t now)
{
	unsigned gone[BROKER_MAX_WORKERS] = {0};

	if (!table_token_expire(now, gone, b->o.workers))
		return;
	for (unsigned i = 0; i < b->o.workers; i++)
		if (gone[i]) {
			log_warn("worker %u never finished %u connection(s): their tokens expired", i, gone[i]);
			b->w[i].load = b->w[i].load > gone[i] ? b->w[i].load - gone[i] : 0;
		}
}

int broker_loop(struct broker *b, int sfd)
{
	static struct poll_set s;
	uint64_t last_deadline_check = 0;

	for (;;) {
		uint64_t now;
		int r;

		collect(b, sfd, &s);
		r = poll(s.pf, s.n, 500);
		if (r < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			return -1;
		}
		now = clock_mono_ms();
		for (unsigned k = 0; r > 0 && k < s.n; k++) {
			if (!s.pf[k].revents)
				continue;
			switch (s.slot[k].kind) {
			case PK_SIGNAL:
				if (read_signals(b, sfd))
					return 0;
				break;
			case PK_LISTEN:
				broker_accept(b, b->listen_fd);
				break;
			case PK_HTTP_LISTEN:
				broker_accept(b, b->http_listen_fd);
				break;
			case PK_WAKE: {
				uint64_t v;
				if (read(b->wake_fd, &v, sizeof v) < 0 && errno != EAGAIN)
					log_debug("wake: %s", strerror(errno));
				break;
			}
			case PK_WORKER:
				if (s.pf[k].revents & POLLOUT)
					broker_worker_flush(b, s.slot[k].worker);
				if (s.pf[k].revents & ~POLLOUT)
					broker_worker_msg(b, s.slot[k].worker);
				break;
			case PK_PENDING:
				broker_pending_ready(b, s.pf[k].fd);
				break;
			case PK_KEYSTORE:
				if (s.pf[k].fd == keys_pg_poll_fd())
					keys_pg_readable(b);
				break;
			}
		}
		broker_watch_workers(b, now);
		supervise_reap(now, b->stopping);
		broker_pending_expire(b, now);
		if (keys_pg_enabled(b))
			keys_pg_watch(now);
		broker_run_queue(b);
		if (now - last_deadline_check >= 1000) {
			last_deadline_check = now;
			enforce_deadlines(b);
			expire_tokens(b, now);
			broker_drain_tick(b);
		}
	}
}
