/* `isol8 run` input resolution: the code (from --cmd, -e, the file or stdin), the program's
 * stdin, the joined --setup script, and the --files directory check. All local I/O of a run
 * happens here, after run_args_parse() validated the flags. */
#ifndef ISOL8_FRONTEND_RUN_INPUT_H
#define ISOL8_FRONTEND_RUN_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "cli/run_args.h"

/* Caps on what the CLI reads into memory (the daemon applies its own, smaller, policy caps). */
#define RUN_MAX_CODE (16u * 1024u * 1024u)
#define RUN_MAX_STDIN (64u * 1024u * 1024u)
#define RUN_MAX_SETUP_FILE (1024u * 1024u)

struct run_input {
	char *code; /* NULL for --cmd */
	size_t code_len;
	char *stdin_data; /* the program's stdin, NULL when none */
	size_t stdin_len;
	char *setup_script;  /* --setup values joined with "\n", NULL when none */
	bool code_in_bundle; /* decided by run_request_plan() */
	bool stdin_in_bundle;
	bool has_files;  /* --files given and checked */
	bool stdin_live; /* stdin is a pipe: not read here, it flows to the program as it arrives */
};

/* Fill *in from o. stdin_fd is the CLI's stdin (0; a parameter for tests). Piped stdin (not
 * the code) is left unread and marked stdin_live, except with --host, whose HTTP request carries
 * it whole; a redirected regular file is read whole (it is complete already). Errors:
 * "No code to run" (usage), "File not found: <file>", "--files path is not a directory: <dir>". */
int run_input_load(const struct run_opts *o, int stdin_fd, struct run_input *in, struct isol8_err *err);
void run_input_free(struct run_input *in);

/* Read all of fd (up to max bytes, else ISOL8_E_LIMIT naming what). NUL-terminated result. */
int read_fd_all(int fd, size_t max, const char *what, char **out, size_t *len, struct isol8_err *err);

#endif
