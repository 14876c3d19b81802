#!/bin/bash
# Issue "tenant isolation" #1 (critical) and its audit: a client's fd reaches the sandbox or
# pins the worker only if it is exactly the kind the protocol names. Replays the attack: a
# local user passes open("/proc", O_DIRECTORY) as the program's stdin, which on the old code
# gave the program the host's procfs (another tenant's environ, /proc/<pid>/root).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
daemon_setup security-fd-kinds

attack() { as_nobody /usr/bin/python3 "$SEC_DIR/fd_attack.py" "$S" "$@" 2>&1; }
worker_alive() { # the worker that served the tenant is the one that started
	local now
	now=$(daemon_workers a | sort | tr '\n' ' ')
	is "$now" "$WORKERS" "$1: the daemon's workers are the ones it started (none died)"
}

# SLOT KIND: refused with one error naming the expected kind; nothing ran.
refused() {
	local slot=$1 kind=$2 want=$3 got
	got=$(attack "$slot" "$kind")
	like "$got" "^21\|[^|]*${want}[^|]*\|$" "$slot as $kind: refused with WK_ERROR naming '$want', the program did not run"
	unlike "$got" 'ESCAPED' "$slot as $kind: the program never saw the host's tree"
}

case_stdin_proc_dir() {
	refused stdin proc-dir 'stdin: fd 0: expected a pipe read end, got a directory'
	worker_alive "stdin /proc"
}
case_stdin_root_dir() { refused stdin root-dir 'expected a pipe read end, got a directory'; }
case_stdin_opath() { refused stdin opath 'expected a pipe read end, got an O_PATH descriptor'; }
case_stdin_host_file() { refused stdin host-file 'expected a pipe read end, got a regular file'; }
case_stdin_named_fifo() { refused stdin named-fifo 'expected a pipe read end, got a FIFO'; }
case_stdin_write_end() { refused stdin pipe-write 'expected a pipe read end, got a FIFO \(write-only\)'; }
case_stdin_pipe_works() {
	like "$(attack stdin pipe-read)" '^20\|.*\|piped stdin\\nran\\n$' "stdin as a real pipe: the program reads it"
}
case_bundle_unsealed() { refused bundle unsealed-memfd 'run: fd 2: expected a sealed memfd'; }
case_bundle_dir() { refused bundle proc-dir 'run: fd 2: expected a sealed memfd, got a directory'; }
case_stdout_read_end() { refused stdout pipe-read 'run: fd 0: expected a writable output'; }
case_stdout_dir() { refused stdout root-dir 'run: fd 0: expected a writable output, got a directory'; }
case_file_put_held_pipe() {
	local t0 got
	as_nobody "$ISOL8" run --socket "$S" --session-id fdk -r bash -e 'true' >/dev/null 2>&1 </dev/null
	t0=$(date +%s)
	got=$(attack file-put pipe-held fdk)
	like "$got" '^21\|message file-put: fd 0: expected a sealed memfd, got a FIFO' \
		"file put of a pipe that never ends: refused (on the old code it pinned a worker thread)"
	[ $(($(date +%s) - t0)) -lt 30 ] && ok "file put of a held pipe: answered, not blocked" ||
		not_ok "file put of a held pipe: answered, not blocked"
	got=$(attack file-put host-file fdk)
	like "$got" '^21\|message file-put: fd 0: expected a sealed memfd, got a regular file' "file put of a host file: refused"
	got=$(attack file-put sealed-memfd fdk)
	like "$got" '^24\|' "file put of a sealed memfd: accepted"
	run_cap as_nobody "$ISOL8" file get --socket "$S" fdk /sandbox/put.txt -
	is "$RC|$OUT" $'0|put by the test\n' "the sealed content arrived in the session"
	as_nobody "$ISOL8" session stop --socket "$S" fdk >/dev/null 2>&1
	worker_alive "file put"
}
case_cli_put_still_works() {
	echo "from a file" >"$T_TMP/local.txt"
	chmod 0644 "$T_TMP/local.txt"
	as_nobody "$ISOL8" run --socket "$S" --session-id cli -r bash -e 'true' >/dev/null 2>&1 </dev/null
	run_cap as_nobody "$ISOL8" file put --socket "$S" cli "$T_TMP/local.txt" /sandbox/x.txt
	is "$RC" 0 "isol8 file put of a regular file (copied into a sealed memfd): exit 0"
	run_cap as_nobody "$ISOL8" file get --socket "$S" cli /sandbox/x.txt -
	is "$RC|$OUT" $'0|from a file\n' "isol8 file get reads it back"
	as_nobody "$ISOL8" session stop --socket "$S" cli >/dev/null 2>&1
}

daemon_start a || bail "isol8d did not start"
S=${D_SOCK[a]}
WORKERS=$(daemon_workers a | sort | tr '\n' ' ')
run_cases "$@"
