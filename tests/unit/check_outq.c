/* Unit tests for broker/outq.c (the queue in front of a worker's channel) over a real
 * SOCK_SEQPACKET socketpair whose reader does not read. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/outq.h"
#include "common/cleanup.h"
#include "common/ipc.h"

static int sv[2] = {-1, -1};

static void setup(void)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	ck_assert_int_eq(isol8_ipc_socketpair(sv, &err), 0);
}

static void teardown(void)
{
	sv[0] = xclose(sv[0]);
	sv[1] = xclose(sv[1]);
}

/* Send until the kernel's queue is full; returns how many it took. */
static unsigned fill_kernel(struct outq *q, uint32_t *req)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	char payload[512] = {0};
	unsigned n = 0;

	for (;;) {
		ck_assert_int_eq(outq_send(q, sv[0], 7, ++*req, payload, sizeof payload, NULL, 0, 1000, &err), 0);
		if (outq_pending(q))
			return n;
		n++;
		ck_assert_uint_lt(n, 100000);
	}
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

START_TEST(test_never_blocks_and_keeps_order)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct outq q = {0};
	uint32_t req = 0, want = 1;
	unsigned in_kernel = fill_kernel(&q, &req);
	struct isol8_msg m;

	ck_assert_uint_gt(in_kernel, 0);
	ck_assert_uint_eq(q.n, 1);
	ck_assert_uint_eq(outq_wait_ms(&q, 1500), 500);
	/* Nothing overtakes what waits: a later message queues even if the kernel has room now. */
	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), 1);
	ck_assert_uint_eq(m.request_id, want++);
	isol8_msg_free(&m);
	ck_assert_int_eq(outq_send(&q, sv[0], 7, ++req, "x", 1, NULL, 0, 2000, &err), 0);
	ck_assert_uint_eq(q.n, 2);
	/* Flushed when there is room, oldest first. */
	while (outq_pending(&q)) {
		int r = outq_flush(&q, sv[0], &err);
		ck_assert_int_ge(r, 0);
		ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), 1);
		ck_assert_uint_eq(m.request_id, want++);
		isol8_msg_free(&m);
	}
	ck_assert_uint_eq(outq_wait_ms(&q, 5000), 0);
	while (want <= req) {
		ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, &err), 1);
		ck_assert_uint_eq(m.request_id, want++);
		isol8_msg_free(&m);
	}
	outq_clear(&q);
}
END_TEST

START_TEST(test_bounded_and_owns_fds)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct outq q = {0};
	uint32_t req = 0;
	int p[2] = {-1, -1};

	fill_kernel(&q, &req);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	/* The queue duplicates what it holds: the caller's fd may be closed at once. */
	while (q.n < OUTQ_MAX_MSGS) {
		int fd = fcntl(p[0], F_DUPFD_CLOEXEC, 3);
		ck_assert_int_eq(outq_send(&q, sv[0], 8, ++req, NULL, 0, &fd, 1, 1000, &err), 0);
		xclose(fd);
	}
	/* Full: refused with ISOL8_E_LIMIT, nothing queued. */
	ck_assert_int_eq(outq_send(&q, sv[0], 8, ++req, NULL, 0, &p[0], 1, 1000, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
	ck_assert_uint_eq(q.n, OUTQ_MAX_MSGS);
	/* The queue's copies keep the pipe's read end open; dropping the queue closes them. */
	xclose(p[0]);
	ck_assert(fd_open(p[1]));
	outq_clear(&q);
	ck_assert_uint_eq(q.n, 0);
	ck_assert_ptr_null(q.head);
	{
		/* With every read end closed, a write fails with EPIPE. */
		char c = 0;
		signal(SIGPIPE, SIG_IGN);
		ck_assert_int_eq(write(p[1], &c, 1), -1);
	}
	xclose(p[1]);
}
END_TEST

START_TEST(test_bytes_bound)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct outq q = {0};
	uint32_t req = 0;
	static char big[ISOL8_IPC_MAX_PAYLOAD];
	unsigned n = 0;

	fill_kernel(&q, &req);
	while (outq_send(&q, sv[0], 9, ++req, big, sizeof big, NULL, 0, 1000, &err) == 0)
		n++;
	ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
	ck_assert_uint_le(q.bytes, OUTQ_MAX_BYTES);
	ck_assert_uint_lt(q.n, OUTQ_MAX_MSGS);
	ck_assert_uint_gt(n, 0);
	outq_clear(&q);
}
END_TEST

START_TEST(test_dead_peer)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct outq q = {0};

	sv[1] = xclose(sv[1]);
	ck_assert_int_eq(outq_send(&q, sv[0], 7, 1, "x", 1, NULL, 0, 0, &err), -1);
	ck_assert_int_ne(err.code, ISOL8_E_LIMIT);
	ck_assert_uint_eq(q.n, 0);
}
END_TEST

static Suite *outq_suite(void)
{
	Suite *s = suite_create("outq");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_never_blocks_and_keeps_order);
	tcase_add_test(tc, test_bounded_and_owns_fds);
	tcase_add_test(tc, test_bytes_bound);
	tcase_add_test(tc, test_dead_peer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(outq_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
