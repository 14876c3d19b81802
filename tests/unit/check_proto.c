/* Unit tests for the protocol table (common/proto_rows.h) and isol8_proto_check(): the rows are
 * consistent, every way a message can miss its row is refused with its fds closed, and the table
 * of man/isol8-protocol.7 is the one the code has.
 *
 * `check_proto --write-man FILE` rewrites that table from the rows (make protocol-man). */
#include "config.h"
#include "common/buf.h"
#include "common/cleanup.h"
#include "common/ipc.h"
#include "common/proto.h"
#include "common/xalloc.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

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

static int fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* Send type with a payload of len bytes and fds, receive it, and check it as receiver/sender.
 * Returns the check's result; *rfd is the first received fd (for "was it closed"). */
static int roundtrip(uint8_t type, size_t len, const int *fds, unsigned nfds, uint8_t receiver, uint8_t sender,
		     int *rfd, struct isol8_err *err)
{
	_cleanup_free_ char *payload = calloc(1, len + 1);
	const struct isol8_proto_row *row = NULL;
	struct isol8_msg m;
	int r;

	ck_assert_int_eq(isol8_ipc_send(sv[0], type, 7, payload, len, fds, nfds, err), 0);
	ck_assert_int_eq(isol8_ipc_recv(sv[1], &m, err), 1);
	if (rfd)
		*rfd = nfds ? m.fds[0] : -1;
	if (nfds)
		ck_assert(fd_is_open(m.fds[0]));
	r = isol8_proto_check(receiver, sender, &m, &row, err);
	ck_assert(r == 0 ? row && row->type == type : !row);
	isol8_msg_free(&m);
	return r;
}

static int sealed_memfd(void)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int fd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(isol8_memfd_seal(fd, &err), 0);
	return fd;
}

START_TEST(test_rows_consistent)
{
	for (unsigned i = 0; i < isol8_proto_rows; i++) {
		const struct isol8_proto_row *r = &isol8_proto[i];

		ck_assert_msg(r->name && *r->name && r->symbol && *r->symbol, "row %u has no name", i);
		ck_assert_msg(r->from && r->to, "%s: sender and receiver kinds", r->name);
		ck_assert_msg(r->nfds <= ISOL8_IPC_MAX_FDS, "%s: nfds", r->name);
		ck_assert_msg(r->min_len <= r->max_len && r->max_len <= ISOL8_IPC_MAX_PAYLOAD, "%s: bounds", r->name);
		for (unsigned k = 0; k < ISOL8_IPC_MAX_FDS; k++)
			ck_assert_msg((k < r->nfds) == (r->fd_kinds[k] != ISOL8_FD_UNSET), "%s: fd slot %u", r->name,
				      k);
		ck_assert_ptr_eq(isol8_proto_find(r->type), r);
		for (unsigned j = i + 1; j < isol8_proto_rows; j++) {
			ck_assert_msg(isol8_proto[j].type != r->type, "type %u twice", r->type);
			ck_assert_msg(strcmp(isol8_proto[j].name, r->name) != 0, "name %s twice", r->name);
		}
	}
	ck_assert_ptr_null(isol8_proto_find(0));
	ck_assert_ptr_null(isol8_proto_find(77));
	ck_assert_ptr_null(isol8_proto_find(47)); /* put-archive, removed */
}
END_TEST

START_TEST(test_accepts_a_good_message)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int mfd = sealed_memfd(), rfd;

	ck_assert_int_eq(roundtrip(V_CONN_DONE, 4, NULL, 0, PEER_BROKER, PEER_WORKER, NULL, &err), 0);
	ck_assert_int_eq(roundtrip(WK_FILE, 0, &mfd, 1, PEER_FRONTEND, PEER_WORKER | PEER_BROKER, &rfd, &err), 0);
	ck_assert(!fd_is_open(rfd)); /* freed with the message */
	/* WK_ERROR comes from the worker, the broker or the connector alike. */
	ck_assert_int_eq(roundtrip(WK_ERROR, 6, NULL, 0, PEER_FRONTEND, PEER_CONNECTOR, NULL, &err), 0);
	close(mfd);
}
END_TEST

START_TEST(test_unknown_type)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int pp[2], rfd;

	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	ck_assert_int_eq(roundtrip(77, 0, &pp[0], 1, PEER_BROKER, PEER_WORKER, &rfd, &err), -1);
	ck_assert_str_eq(err.msg, "unknown message type 77");
	ck_assert(!fd_is_open(rfd));
	ck_assert_int_eq(roundtrip(47, 8, NULL, 0, PEER_BROKER, PEER_WORKER, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "unknown message type 47");
	close(pp[0]);
	close(pp[1]);
}
END_TEST

START_TEST(test_wrong_direction)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int pp[2], rfd;

	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	/* A worker verb sent to another worker, a frontend's run sent to the broker's front door. */
	ck_assert_int_eq(roundtrip(V_CONN_DONE, 4, NULL, 0, PEER_WORKER, PEER_WORKER, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "message conn-done is not for this receiver");
	ck_assert_int_eq(roundtrip(FE_STDIN, 0, &pp[0], 1, PEER_BROKER, PEER_FRONTEND, &rfd, &err), -1);
	ck_assert_str_eq(err.msg, "message stdin is not for this receiver");
	ck_assert(!fd_is_open(rfd));
	/* The agent's answers go to the worker, never back into a sandbox. */
	ck_assert_int_eq(roundtrip(A_DONE, 4, NULL, 0, PEER_AGENT, PEER_AGENT, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "message agent-done is not for this receiver");
	close(pp[0]);
	close(pp[1]);
}
END_TEST

START_TEST(test_wrong_peer)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int sp[2], rfd;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	/* The broker's messages to a worker, forged by a frontend or a sandbox's agent. */
	ck_assert_int_eq(roundtrip(BR_ASSIGN, 41, &sp[0], 1, PEER_WORKER, PEER_FRONTEND, &rfd, &err), -1);
	ck_assert_str_eq(err.msg, "message assign not permitted from this peer");
	ck_assert(!fd_is_open(rfd));
	ck_assert_int_eq(roundtrip(BR_SHUTDOWN, 0, NULL, 0, PEER_WORKER, PEER_AGENT, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "message shutdown not permitted from this peer");
	/* A verb is for the broker, but only from a worker; and a result comes only from a worker. */
	ck_assert_int_eq(roundtrip(V_LIST_OWN, 0, NULL, 0, PEER_BROKER, PEER_FRONTEND, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "message list-own not permitted from this peer");
	ck_assert_int_eq(roundtrip(WK_RESULT, 2, NULL, 0, PEER_FRONTEND, PEER_CONNECTOR, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "message result not permitted from this peer");
	/* PEER_AGENT is its own kind: the agent's messages are not the proxy's. */
	ck_assert(PEER_AGENT != PEER_PROXY);
	ck_assert_int_eq(roundtrip(A_READY, 8, NULL, 0, PEER_WORKER, PEER_PROXY, NULL, &err), -1);
	close(sp[0]);
	close(sp[1]);
}
END_TEST

START_TEST(test_wrong_fd_count)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int pp[2], fds[3], rfd;

	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	fds[0] = fds[1] = fds[2] = pp[1];
	ck_assert_int_eq(roundtrip(V_START, 5, &pp[0], 1, PEER_BROKER, PEER_WORKER, &rfd, &err), -1);
	ck_assert_str_eq(err.msg, "message start: expected 0 fds, got 1");
	ck_assert(!fd_is_open(rfd));
	ck_assert_int_eq(roundtrip(FE_RUN, 2, fds, 2, PEER_WORKER, PEER_FRONTEND, &rfd, &err), -1);
	ck_assert_str_eq(err.msg, "message run: expected 3 fds, got 2");
	ck_assert(!fd_is_open(rfd));
	ck_assert_int_eq(roundtrip(FE_STDIN, 0, NULL, 0, PEER_WORKER, PEER_FRONTEND, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "message stdin: expected 1 fds, got 0");
	close(pp[0]);
	close(pp[1]);
}
END_TEST

START_TEST(test_wrong_fd_kind)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	int pp[2], dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), unsealed, rfd;

	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	unsealed = memfd_create("t", MFD_CLOEXEC);
	/* A directory as the program's stdin, the write end where the read end is due. */
	ck_assert_int_eq(roundtrip(FE_STDIN, 0, &dir, 1, PEER_WORKER, PEER_FRONTEND, &rfd, &err), -1);
	ck_assert_str_eq(err.msg, "message stdin: fd 0: expected a pipe read end, got a directory (read-only)");
	ck_assert(!fd_is_open(rfd));
	ck_assert_int_eq(roundtrip(FE_STDIN, 0, &pp[1], 1, PEER_WORKER, PEER_FRONTEND, &rfd, &err), -1);
	ck_assert_str_eq(err.msg, "message stdin: fd 0: expected a pipe read end, got a FIFO (write-only)");
	/* A worker's file that could still change under the reader. */
	ck_assert_int_eq(roundtrip(WK_FILE, 0, &unsealed, 1, PEER_FRONTEND, PEER_WORKER, &rfd, &err), -1);
	ck_assert_str_eq(err.msg, "message file: fd 0: expected a sealed memfd, got a regular file (read-write)");
	ck_assert(!fd_is_open(rfd));
	/* The agent's standby pipes in the wrong directions. */
	{
		int fds[3] = {pp[0], pp[0], pp[0]};
		ck_assert_int_eq(roundtrip(A_HANDOFF, 4, fds, 3, PEER_WORKER, PEER_AGENT, &rfd, &err), -1);
		ck_assert_str_eq(err.msg,
				 "message agent-handoff: fd 0: expected a pipe write end, got a FIFO (read-only)");
	}
	close(dir);
	close(unsealed);
	close(pp[0]);
	close(pp[1]);
}
END_TEST

START_TEST(test_length_bounds)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	const struct isol8_proto_row *row = isol8_proto_find(V_KILL);

	ck_assert_ptr_nonnull(row);
	ck_assert_int_eq(roundtrip(V_KILL, row->min_len - 1, NULL, 0, PEER_BROKER, PEER_WORKER, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "message kill: payload length 5 outside [6, 133]");
	ck_assert_int_eq(roundtrip(V_KILL, row->max_len + 1, NULL, 0, PEER_BROKER, PEER_WORKER, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "message kill: payload length 134 outside [6, 133]");
	ck_assert_int_eq(roundtrip(V_KILL, row->min_len, NULL, 0, PEER_BROKER, PEER_WORKER, NULL, &err), 0);
	ck_assert_int_eq(roundtrip(V_KILL, row->max_len, NULL, 0, PEER_BROKER, PEER_WORKER, NULL, &err), 0);
	/* An empty message where one byte is due, a byte where none is. */
	ck_assert_int_eq(roundtrip(FE_SIGNAL, 0, NULL, 0, PEER_WORKER, PEER_FRONTEND, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "message signal: payload length 0 outside [1, 1]");
	ck_assert_int_eq(roundtrip(A_RESET, 1, NULL, 0, PEER_AGENT, PEER_WORKER, NULL, &err), -1);
	ck_assert_str_eq(err.msg, "message agent-reset: payload length 1 outside [0, 0]");
}
END_TEST

/* ---- the man page's table ---- */

#define MAN_BEGIN ".\\\" BEGIN PROTOCOL TABLE: generated from common/proto_rows.h by make protocol-man\n"
#define MAN_END ".\\\" END PROTOCOL TABLE\n"

static void put_peers(struct isol8_buf *b, uint8_t mask)
{
	static const char *const names[] = {"frontend", "worker", "broker", "proxy", "agent", "connector", "keystore"};
	bool first = true;

	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		if (mask & (1u << i)) {
			isol8_buf_printf(b, "%s%s", first ? "" : ", ", names[i]);
			first = false;
		}
}

/* The rows as a tbl(1) table, in type order. */
static char *man_table(void)
{
	struct isol8_buf b = ISOL8_BUF_INIT;

	isol8_buf_puts(&b, ".nh\n.ad l\n.TS\nl l l lw(14n) lw(14n) lw(16n) l.\n");
	isol8_buf_puts(&b, "type\t\tname\tfrom\tto\tdescriptors\tbytes\n");
	for (unsigned t = 0; t < 256; t++) {
		const struct isol8_proto_row *r = isol8_proto_find((uint8_t)t);
		if (!r)
			continue;
		isol8_buf_printf(&b, "%u\t%s\t%s\tT{\n", t, r->symbol, r->name);
		put_peers(&b, r->from);
		isol8_buf_puts(&b, "\nT}\tT{\n");
		put_peers(&b, r->to);
		isol8_buf_puts(&b, "\nT}\tT{\n");
		if (!r->nfds)
			isol8_buf_puts(&b, "\\-");
		for (unsigned k = 0; k < r->nfds; k++)
			isol8_buf_printf(&b, "%s%s", k ? ", " : "",
					 isol8_fd_kind_name((enum isol8_fd_kind)r->fd_kinds[k]));
		if (r->min_len == r->max_len)
			isol8_buf_printf(&b, "\nT}\t%u\n", r->min_len);
		else
			isol8_buf_printf(&b, "\nT}\t%u\\(en%u\n", r->min_len, r->max_len);
	}
	isol8_buf_puts(&b, ".TE\n.ad\n.hy\n");
	return isol8_buf_steal(&b, NULL);
}

static char *read_file(const char *path)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	char tmp[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		isol8_buf_append(&b, tmp, n);
	fclose(f);
	isol8_buf_append(&b, "", 0);
	return isol8_buf_steal(&b, NULL);
}

/* Where the generated block of text starts and ends (after MAN_BEGIN, at MAN_END). */
static int man_block(const char *text, const char **start, const char **end)
{
	const char *a = strstr(text, MAN_BEGIN), *z;

	if (!a)
		return -1;
	a += strlen(MAN_BEGIN);
	z = strstr(a, MAN_END);
	if (!z)
		return -1;
	*start = a;
	*end = z;
	return 0;
}

#define MAN_PAGE ISOL8_TEST_SRCDIR "/man/isol8-protocol.7"

START_TEST(test_man_page_matches)
{
	_cleanup_free_ char *text = read_file(MAN_PAGE), *want = man_table();
	const char *a, *z;

	ck_assert_msg(text != NULL, "cannot read %s", MAN_PAGE);
	ck_assert_msg(man_block(text, &a, &z) == 0, "%s has no generated protocol table", MAN_PAGE);
	ck_assert_msg((size_t)(z - a) == strlen(want) && memcmp(a, want, strlen(want)) == 0,
		      "%s disagrees with common/proto_rows.h: run make protocol-man", MAN_PAGE);
}
END_TEST

static int write_man(const char *path)
{
	_cleanup_free_ char *text = read_file(path), *table = man_table(), *tmp = xasprintf("%s.tmp", path);
	const char *a, *z;
	FILE *f;

	if (!text || man_block(text, &a, &z) < 0) {
		fprintf(stderr, "%s: no block between the protocol table markers\n", path);
		return 1;
	}
	f = fopen(tmp, "w");
	if (!f || fwrite(text, 1, (size_t)(a - text), f) != (size_t)(a - text) || fputs(table, f) < 0 ||
	    fputs(z, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rows_consistent);
	tcase_add_test(tc, test_accepts_a_good_message);
	tcase_add_test(tc, test_unknown_type);
	tcase_add_test(tc, test_wrong_direction);
	tcase_add_test(tc, test_wrong_peer);
	tcase_add_test(tc, test_wrong_fd_count);
	tcase_add_test(tc, test_wrong_fd_kind);
	tcase_add_test(tc, test_length_bounds);
	tcase_add_test(tc, test_man_page_matches);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc == 3 && strcmp(argv[1], "--write-man") == 0)
		return write_man(argv[2]);
	sr = srunner_create(proto_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
