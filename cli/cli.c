/* CLI output conventions shared by every command (contract in cli.h). */
#include "config.h"
#include "common/clock.h"

#include <time.h>
#include "cli/cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

int cli_getopt_error(const char *cmd, char **argv, const struct option *opts)
{
	const char *a = argv[optind - 1], *names[64], *sugg;
	char name[64];
	const char *eq;
	size_t n = 0;

	if (strncmp(a, "--", 2) != 0) {
		fprintf(stderr, "[ERR] isol8 %s: unknown option '-%c'; see 'isol8 %s --help'\n", cmd,
			optopt > 0 && optopt < 256 ? optopt : '?', cmd);
		return 2;
	}
	eq = strchr(a + 2, '=');
	snprintf(name, sizeof name, "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)), a + 2);
	for (const struct option *o = opts; o->name && n < 64; o++) {
		if (strcmp(o->name, name) == 0) {
			fprintf(stderr, "[ERR] isol8 %s: option '--%s' %s; see 'isol8 %s --help'\n", cmd, name,
				o->has_arg == no_argument ? "takes no value" : "needs a value", cmd);
			return 2;
		}
		names[n++] = o->name;
	}
	sugg = isol8_suggest(name, names, n);
	if (sugg)
		fprintf(stderr, "[ERR] isol8 %s: unknown option '--%s' (did you mean --%s?)\n", cmd, name, sugg);
	else
		fprintf(stderr, "[ERR] isol8 %s: unknown option '--%s'; see 'isol8 %s --help'\n", cmd, name, cmd);
	return 2;
}
