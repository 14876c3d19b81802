/* isol8: the command-line frontend. Dispatches to one cmd_* per command; every command talks
 * to isol8d over its socket (only the image commands use Docker directly, see cmd_setup.c). */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/log.h"
#include "common/suggest.h"
#include "cli/cli.h"
#include "images/commands_images.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage_command("version", stdout);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "[ERR] isol8 version takes no arguments (got '%s')\n", argv[1]);
		return 2;
	}
	printf("isol8 %s\n", PACKAGE_VERSION);
	return 0;
}

static const struct command commands[] = {
	{"run", cmd_run},       {"session", cmd_session}, {"file", cmd_file},
	{"cp", cmd_cp},         {"config", cmd_config},   {"setup", cmd_setup},
	{"build", cmd_build},   {"cleanup", cmd_cleanup}, {"version", cmd_version},
	{"serve", cmd_serve}, /* http: the HTTP frontend */
	{"mcp", cmd_mcp},     /* mcp: Model Context Protocol over stdio */
	{"audit", cmd_audit},   {"doctor", cmd_doctor},   {"list-custom", cmd_list_custom},
	{"status", cmd_status}, {"keys", cmd_keys},       {"login", cmd_login},
	{"logout", cmd_logout}, {"rm", cmd_rm},
};

static const struct command *find(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int unknown(const char *name)
{
	{
		const char *names[sizeof commands / sizeof commands[0] + 1], *sugg;
		size_t n = 0;
		for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
			names[n++] = commands[i].name;
		names[n++] = "help";
		sugg = isol8_suggest(name, names, n);
		if (sugg) {
			fprintf(stderr, "[ERR] unknown command '%s' (did you mean 'isol8 %s'?)\n", name, sugg);
			return 2;
		}
	}
	fprintf(stderr, "[ERR] unknown command '%s'; run 'isol8 help' for the list of commands\n", name);
	return 2;
}

static int help(int argc, char **argv)
{
	const struct command *c;
	char *args[] = {NULL, (char *)"--help", NULL};

	if (argc < 2) {
		usage_main(stdout);
		return 0;
	}
	if (usage_command(argv[1], stdout) == 0)
		return 0;
	c = find(argv[1]);
	if (!c)
		return unknown(argv[1]);
	/* Commands that keep their own help text (setup, build, cleanup). */
	args[0] = argv[1];
	return c->fn(2, args);
}

static void debug_banner(const char *cmd)
{
	struct utsname u;

	fprintf(stderr, "[DEBUG] [CLI] Command: %s\n", cmd);
	fprintf(stderr, "[DEBUG] [CLI] Version: %s\n", PACKAGE_VERSION);
	if (uname(&u) == 0)
		fprintf(stderr, "[DEBUG] [CLI] Platform: %s %s\n", u.sysname, u.machine);
}

int main(int argc, char **argv)
{
	const struct command *c;
	int i = 1;

#ifdef ISOL8_LEAN
	cli_orig_argv = argv;
#endif
	setlocale(LC_ALL, "");
	isol8_log_init("isol8", ISOL8_LOG_WARN, false);
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0)
			return cmd_version(0, NULL);
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage_main(stdout);
			return 0;
		}
		if (strcmp(a, "--debug") == 0) {
			cli_debug = true;
			isol8_log_set_level(ISOL8_LOG_DEBUG);
			continue;
		}
		fprintf(stderr,
			"[ERR] unknown option '%s'; isol8 takes -V, --version, -h, --help and --debug before the "
			"command\n",
			a);
		return 2;
	}
	if (i >= argc) {
		usage_main(stdout);
		return 0;
	}
	if (strcmp(argv[i], "help") == 0)
		return help(argc - i, argv + i);
	c = find(argv[i]);
	if (!c)
		return unknown(argv[i]);
	if (cli_debug)
		debug_banner(argv[i]);
	return c->fn(argc - i, argv + i);
}
