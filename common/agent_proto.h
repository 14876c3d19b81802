/* Protocol between a worker and the in-sandbox agent (sandbox/agent.c).
 *
 * The agent is the sandbox's PID 1 (the container's entrypoint: no tini above it), running as
 * the sandbox user 100:101, not dumpable, so no program can ptrace it, write its memory or
 * signal it.
 * At start it connects (AF_UNIX, SOCK_SEQPACKET) to /run/isol8-agent/sock, a socket the broker
 * created on the host and bind-mounted read-only into the container; the broker accepts that
 * one connection, checks the peer, and hands it to the worker. From then on the worker sends
 * programs to run and passes the pipes they write into: no docker exec, no bytes relayed by
 * dockerd. The agent is trusted no more than the code it runs: the container stays the
 * security boundary, and the worker parses everything the agent says defensively.
 *
 * Framing: common/ipc.h, compiled into the agent too; every message is checked against the
 * protocol table (common/proto_rows.h) on both sides.
 *
 * Environment: a program gets the container's environment with the request's entries replacing
 * those of the same name (a later entry wins), as docker exec would give it.
 */
#ifndef ISOL8_AGENT_PROTO_H
#define ISOL8_AGENT_PROTO_H

#define ISOL8_AGENT_VERSION 1u
#define ISOL8_AGENT_SOCK "/run/isol8-agent/sock"
#define ISOL8_AGENT_MAX_JOB 60000u  /* A_RUN_WARM's job: with its length it fits an empty pipe */
#define ISOL8_AGENT_MAX_ERROR 1024u /* A_ERROR's message */

enum isol8_agent_msg {
	/* agent -> worker, once after connecting */
	A_READY = 70, /* u32 version, u32 agent pid (in the container; the worker requires 1) */

	/* worker -> agent */
	A_RUN = 71,      /* u64 timeout_ms, u32 argc, str argv[argc], u32 envc, str env[envc] ("K=V"),
	                    str cwd | fds: stdin (read end), stdout (write end), stderr (write end).
	                    argv[0] is looked up in the PATH given in env (or /usr/local/bin:/usr/bin:/bin).
	                    The program runs in a new session (setsid) with the three fds as 0, 1, 2
	                    and nothing else open; at timeout_ms its process group is SIGKILLed. */
	A_KILL = 72,     /* u8 signal (SIGINT, SIGTERM or SIGKILL): signal the running program's group */
	A_RESET = 73,    /* empty: kill every process of the sandbox but the agent (kill(-1)),
	                    empty /sandbox, /tmp, /dev/shm and /dev/mqueue (without following symlinks or leaving
	                    the filesystem), remove the user's SysV IPC objects, then reply A_DONE.
	                    A_ERROR "reset: ..." instead when the sandbox cannot be shown clean: a
	                    process still alive 200 ms after the kill, or what programs inherit from
	                    the agent (its rlimits, nice value, CPU affinity, scheduling attributes,
	                    I/O priority, non-dumpable state) differs from the agent's start. The
	                    worker then discards the sandbox. */
	A_WARM = 74,     /* u32 argc, str argv[argc], u32 envc, str env[envc]: keep one standby of this
	                    command: a process started ahead of time in /sandbox, in its own session,
	                    with new pipes as stdio and the read end of a job pipe as fd 3. Started after
	                    the A_DONE reply (unless a program ran since the last complete reset: then at
	                    the next one) and again after every complete A_RESET, so never alongside an
	                    earlier run's code; A_RUN kills an idle standby first. */
	A_RUN_WARM = 75, /* u64 timeout_ms, str job (<= 60000 bytes, opaque to the agent): write u32 length
	                    + job to the standby's fd 3, close it and hand the standby over as the
	                    program: A_HANDOFF, then A_EXIT as for A_RUN. Without a live standby: A_ERROR
	                    "no standby" and nothing runs (the worker then uses A_RUN). */

	/* agent -> worker */
	A_STARTED = 80, /* u32 pid of the program (in the container) */
	A_EXIT = 81,    /* i32 exit code (-1 when killed by a signal), u8 signal (0 if none),
	                    u8 timed_out, u64 wall_ms, u64 user_us, u64 sys_us, u64 maxrss_kb */
	A_DONE = 82,    /* u32 number of entries that could not be removed during A_RESET */
	A_HANDOFF = 84, /* u32 pid | fds: the standby's stdin (write end), stdout and stderr (read ends) */
	A_ERROR = 83,   /* str message: the request could not be carried out (bad message, busy,
	                    fork failed). An exec failure is not an A_ERROR: the child writes
	                    "isol8: <argv0>: <strerror>\n" to its stderr and exits 127 (A_EXIT). */
};

#endif
