/* Frontend commands and the CLI's output conventions.
 *
 * Every failure is one line "[ERR] <message>" on stderr. Exit status: 2 for usage errors
 * (ISOL8_E_USAGE), 1 for failures of isol8 itself; `run` exits with the program's status. */
#ifndef ISOL8_FRONTEND_CLI_H
#define ISOL8_FRONTEND_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "common/err.h"

/* Set by the global `isol8 --debug <command>`. */
extern bool cli_debug;

/* Print "[ERR] <err->msg>" and return the exit status for err->code. */
int cli_fail(const struct isol8_err *err);
/* Lean build (cli/lean.c): re-execute isol8-full with the original arguments. */
extern char **cli_orig_argv;
int cli_exec_full(void);
/* Print "[ERR] <formatted>" and return 2. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* After getopt_long returned '?' or ':' (optstring starting with ':', opterr 0): one [ERR] line
 * for the option at argv[optind - 1], with the nearest real name; returns 2. */
struct option;
int cli_getopt_error(const char *cmd, char **argv, const struct option *opts);
/* The same message in err (ISOL8_E_USAGE) instead of on stderr; returns -1. */
int cli_getopt_err(const char *cmd, char **argv, const struct option *opts, struct isol8_err *err);
/* --json: one JSON object on stdout. cli_json_begin() points stdout (and what the command
 * prints there, progress lines and children's output) at stderr and returns the real stdout;
 * cli_json_end() writes o there on one line, closes the fd and releases o. */
int cli_json_begin(void);
void cli_json_end(int fd, json_object *o);
/* {"error": err->msg, "code": name, "exitCode": status} for a failure of isol8 itself. */
json_object *cli_json_error(const struct isol8_err *err, int status);
/* "[ERR] unknown WHAT 'WORD' (did you mean X?)" with X the nearest of cands (NULL-terminated;
 * options with their dashes), shown as 'isol8 CMD X' when cmd is given (a subcommand's name);
 * without a near one "[ERR] unknown WHAT 'WORD'" and hint. Returns 2. */
int cli_unknown(const char *what, const char *word, const char *const *cands, const char *cmd, const char *hint);
/* True when argv[1..] contains -h/--help before any "--". */
bool cli_wants_help(int argc, char **argv);

int cmd_run(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_login(int argc, char **argv);
int cmd_logout(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_file(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_rm(int argc, char **argv);
/* cmd_rm.c: remove one of the caller's kept (--persist) containers through isol8d; also
 * `isol8 cleanup --container ID`. Prints the outcome (--json: one object) and returns the
 * exit status. kept_valid_id: 12 to 64 lowercase hex digits. */
int kept_remove(const char *socket, const char *id, bool json);
bool kept_valid_id(const char *id);
int cmd_serve(int argc, char **argv); /* http: cmd_serve.c */
int cmd_mcp(int argc, char **argv);   /* mcp/server.c: MCP over stdio */

/* Help texts (usage.c). usage_command returns -1 for a command it has no text for. */
void usage_main(FILE *f);
int usage_command(const char *cmd, FILE *f);

#endif
