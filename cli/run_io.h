/* Waiting for a run's result: reads the output pipes (when the CLI is not streaming straight to
 * its own fds) concurrently with the socket, copies the CLI's piped stdin to the program as it
 * arrives (live stdin), and forwards SIGINT/SIGTERM to the worker once as FE_SIGNAL. A second
 * signal gives up at once (exit status 128 + signo). */
#ifndef ISOL8_FRONTEND_RUN_IO_H
#define ISOL8_FRONTEND_RUN_IO_H

#include <stdbool.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/ipc.h"

/* Hard cap on output kept in memory for --no-stream/--json; the worker truncates far earlier
 * (--max-output), this only protects the CLI from a misbehaving peer. */
#define RUN_IO_MAX_COLLECT (256u * 1024u * 1024u)

struct run_io {
	int sock;
	int out_pipe;    /* read end of the program's stdout pipe, or -1 (worker writes to fd 1) */
	int err_pipe;    /* same for stderr */
	int out_file;    /* --out target, or -1: receives everything read from out_pipe */
	bool tee_stdout; /* copy out_pipe data to fd 1 as it arrives (streaming with --out) */
	bool collect;    /* keep pipe data in out/err (--no-stream, --json) */
	int stdin_src;   /* live stdin: the CLI's own stdin, read as data arrives, or -1 */
	int stdin_w;     /* write end of the pipe whose read end went with FE_STDIN, or -1; closed
	                       at EOF of stdin_src, so the program sees its end of input */
	char stdin_buf[65536];
	size_t stdin_off, stdin_len; /* bytes read from stdin_src not yet written to stdin_w */
	struct isol8_buf out, err;
	bool collect_truncated;
	int exit_now;                          /* set with a -2 return: the status to exit with after a second signal */
	uint64_t t_start, t_connected, t_sent; /* CLOCK_MONOTONIC ms: command start, connected, request sent */
};

void run_io_init(struct run_io *io);
void run_io_free(struct run_io *io);

/* Returns 0 with *result holding WK_RESULT (pipes drained of everything written before it), -1
 * with err (WK_ERROR, EOF, protocol or I/O error), or -2 after a second SIGINT/SIGTERM. */
int run_io_wait(struct run_io *io, struct isol8_msg *result, struct isol8_err *err);

/* write(2) all of buf, retrying EINTR and short writes. */
int write_all(int fd, const void *buf, size_t n);

#endif
