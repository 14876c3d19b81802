/* CLI output conventions shared by every command (contract in cli.h). */
#include "config.h"
#include "common/clock.h"

#include <time.h>
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/suggest.h"

bool cli_debug;

int cli_fail(const struct isol8_err *err)
{
	fprintf(stderr, "[ERR] %s\n", err->msg[0] ? err->msg : "unknown error");
	return isol8_err_exit_status(err->code);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("[ERR] ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	return false;
}

int cli_getopt_err(const char *cmd, char **argv, const struct option *opts, struct isol8_err *err)
{
	const char *a = argv[optind - 1], *names[64], *sugg;
	char name[64];
	const char *eq;
	size_t n = 0;

	if (strncmp(a, "--", 2) != 0)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "isol8 %s: unknown option '-%c'; see 'isol8 %s --help'",
				     cmd, optopt > 0 && optopt < 256 ? optopt : '?', cmd);
	eq = strchr(a + 2, '=');
	snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)), a + 2);
	for (const struct option *o = opts; o->name && n < 64; o++) {
		if (strcmp(o->name, name) == 0)
			return isol8_err_set(err, ISOL8_E_USAGE, 0, "isol8 %s: option '--%s' %s; see 'isol8 %s --help'",
					     cmd, name, o->has_arg == no_argument ? "takes no value" : "needs a value",
					     cmd);
		names[n++] = o->name;
	}
	sugg = isol8_suggest(name, names, n);
	if (sugg)
		return isol8_err_set(err, ISOL8_E_USAGE, 0, "isol8 %s: unknown option '--%s' (did you mean --%s?)", cmd,
				     name, sugg);
	return isol8_err_set(err, ISOL8_E_USAGE, 0, "isol8 %s: unknown option '--%s'; see 'isol8 %s --help'", cmd, name,
			     cmd);
}

int cli_getopt_error(const char *cmd, char **argv, const struct option *opts)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	cli_getopt_err(cmd, argv, opts, &err);
	return cli_fail(&err);
}

int cli_json_begin(void)
{
	int fd;

	fflush(stdout);
	fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		return fd < 0 ? STDOUT_FILENO : fd;
	return fd;
}

void cli_json_end(int fd, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	fflush(stdout);
	if (dprintf(fd, "%s\n", s) < 0)
		fprintf(stderr, "[ERR] cannot write the JSON result: %s\n", strerror(errno));
	if (fd != STDOUT_FILENO)
		close(fd);
	json_object_put(o);
}

json_object *cli_json_error(const struct isol8_err *err, int status)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(err->msg[0] ? err->msg : "unknown error"));
	json_object_object_add(
		o, "code",
		json_object_new_string(isol8_err_code_name(err->code) ? isol8_err_code_name(err->code) : "internal"));
	json_object_object_add(o, "exitCode", json_object_new_int(status));
	return o;
}

int cli_unknown(const char *what, const char *word, const char *const *cands, const char *cmd, const char *hint)
{
	const char *sugg = NULL;
	size_t n = 0;
	char w[64];

	/* "--jsno=1" is compared as "--jsno"; a word that is not an option is not an option's typo. */
	snprintf(w, sizeof w, "%.*s", (int)strcspn(word, "="), word);
	while (cands[n])
		n++;
	if (cmd || strncmp(w, "--", 2) == 0)
		sugg = isol8_suggest(w, cands, n);
	if (sugg && cmd)
		fprintf(stderr, "[ERR] unknown %s '%s' (did you mean 'isol8 %s %s'?)\n", what, word, cmd, sugg);
	else if (sugg)
		fprintf(stderr, "[ERR] unknown %s '%s' (did you mean %s?)\n", what, word, sugg);
	else
		fprintf(stderr, "[ERR] unknown %s '%s'%s\n", what, word, hint ? hint : "");
	return 2;
}
