/* CLI output conventions shared by every command (contract in cli.h). */
#include "config.h"
#include "common/clock.h"

#include <time.h>
#include "cli/cli.h"

#include <stdarg.h>
#include <string.h>

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
