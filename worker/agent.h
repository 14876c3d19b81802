/* Worker side of the in-sandbox agent (common/agent_proto.h). */
#ifndef ISOL8_WORKER_AGENT_H
#define ISOL8_WORKER_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "worker/worker.h"

struct agent_outcome {
	int exit_code; /* 128 + signal when killed */
	int signal;
	bool timed_out, interrupted;
	uint64_t ms, user_us, sys_us, maxrss_kb;
	uint64_t started_ms; /* clock_mono_ms() when the agent reported the program started */
};

/* Read the agent's A_READY (sets the fd non-blocking). */
int agent_handshake(int afd, struct isol8_err *err);
/* Run one program; output goes through o (masking, cap) to the frontend as it arrives. The
 * agent kills the program at timeout_ms; deadline (monotonic) is the worker's backstop. */
/* stdin_fd >= 0: handed to the program as its stdin (live input, zero copy); in is then unused. */
int agent_exec(int afd, const char *const *argv, const char *const *env, const char *cwd, const char *in, size_t in_len,
	       int stdin_fd, uint64_t timeout_ms, uint64_t deadline, int ctrl_fd, struct pump_out *o,
	       struct agent_outcome *x, struct isol8_err *err);
/* Keep a standby of argv/env (A_WARM) in the sandbox: started now and after every reset. */
int agent_warm(int afd, const char *const *argv, const char *const *env, struct isol8_err *err);
/* Run job in the sandbox's standby (A_RUN_WARM), with in as its stdin. Returns 1, with nothing
 * run, when the sandbox has no live standby: the caller then runs the program with agent_exec. */
int agent_exec_warm(int afd, const void *job, size_t job_len, const char *in, size_t in_len, uint64_t timeout_ms,
		    uint64_t deadline, int ctrl_fd, struct pump_out *o, struct agent_outcome *x, struct isol8_err *err);
/* Kill everything of the sandbox user and empty /sandbox, /tmp, /dev/shm and SysV IPC. */
int agent_reset(int afd, struct isol8_err *err);

#endif
