/* `isol8 run` flag parsing, validation and request building (cli/run_args.c,
 * cli/run_request.c): pure functions, no daemon. */
#include "config.h"

#include <check.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proto.h"
#include "cli/registries.h"
#include "cli/broker_conn.h"
#include "cli/run_args.h"
#include "cli/run_request.h"

static struct run_opts o;
static struct isol8_err err;

/* Parse "run" + the NULL-terminated args with the built-in defaults. */
static int parse_def(const struct run_defaults *def, const char *first, va_list ap)
{
	char *argv[64];
	int argc = 0;

	argv[argc++] = (char *)"run";
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		ck_assert_int_lt(argc, 63);
		argv[argc++] = (char *)a;
	}
	argv[argc] = NULL;
	memset(&err, 0, sizeof err);
	return run_args_parse(argc, argv, def, &o, &err);
}

/* What a user config's network.registries would give (no host lookup in unit tests). */
static char *py_reg[] = {(char *)"^pypi\\.org$", (char *)"^files\\.pythonhosted\\.org$", NULL};
static char *npm_reg[] = {(char *)"^registry\\.npmjs\\.org$", NULL};

static void test_defaults(struct run_defaults *def)
{
	run_defaults_builtin(def);
	def->registries[0] = py_reg;
	def->n_registries[0] = 2;
	def->registries[1] = def->registries[2] = npm_reg;
	def->n_registries[1] = def->n_registries[2] = 1;
}

static int parse(const char *first, ...)
{
	struct run_defaults def;
	va_list ap;
	int r;

	test_defaults(&def);
	va_start(ap, first);
	r = parse_def(&def, first, ap);
	va_end(ap);
	return r;
}

static int parse_with(const struct run_defaults *def, const char *first, ...)
{
	va_list ap;
	int r;

	va_start(ap, first);
	r = parse_def(def, first, ap);
	va_end(ap);
	return r;
}

static void teardown(void)
{
	run_opts_free(&o);
}

#define ck_usage(expect)                                   \
	do {                                               \
		ck_assert_int_eq(err.code, ISOL8_E_USAGE); \
		ck_assert_str_eq(err.msg, (expect));       \
	} while (0)

START_TEST(defaults_and_eval)
{
	ck_assert_int_eq(parse("-e", "print(1)", NULL), 0);
	ck_assert_str_eq(o.eval, "print(1)");
	ck_assert_str_eq(o.runtime, "python");
	ck_assert_str_eq(o.network, "none");
	ck_assert_str_eq(o.workdir, "/sandbox");
	ck_assert_uint_eq(o.timeout_ms, 30000);
	ck_assert_uint_eq(o.memory, 512ull << 20);
	ck_assert_uint_eq(o.sandbox_size, 512ull << 20);
	ck_assert_uint_eq(o.tmp_size, 256ull << 20);
	ck_assert_uint_eq(o.pids, 64);
	ck_assert_uint_eq(o.max_output, 1048576);
	ck_assert(o.cpu == 1.0);
	ck_assert(!o.persistent && !o.persist && !o.no_stream && !o.writable && !o.json);
	ck_assert_ptr_null(o.file_ext);
}
END_TEST

START_TEST(both_forms)
{
	ck_assert_int_eq(parse("--timeout=5000", "--memory", "1g", "--cpu=0.5", "-r", "node", "-eX", "--pids-limit=10",
			       "--max-output", "2k", "--sandbox-size=1g", "--tmp-size", "64m", "--net=host", NULL),
			 0);
	ck_assert_uint_eq(o.timeout_ms, 5000);
	ck_assert_uint_eq(o.memory, 1ull << 30);
	ck_assert(o.cpu == 0.5);
	ck_assert_str_eq(o.runtime, "node");
	ck_assert(o.runtime_explicit);
	ck_assert_str_eq(o.eval, "X");
	ck_assert_uint_eq(o.pids, 10);
	ck_assert_uint_eq(o.max_output, 2048);
	ck_assert_uint_eq(o.sandbox_size, 1ull << 30);
	ck_assert_uint_eq(o.tmp_size, 64ull << 20);
	ck_assert_str_eq(o.network, "host");
	ck_assert(o.network_explicit);
}
END_TEST

START_TEST(value_may_start_with_dash)
{
	ck_assert_int_eq(parse("-e", "-1", "--stdin=--x", NULL), 0);
	ck_assert_str_eq(o.eval, "-1");
	ck_assert_str_eq(o.stdin_data, "--x");
}
END_TEST

START_TEST(booleans)
{
	ck_assert_int_eq(parse("-e", "1", "--no-stream", "--persist", "--writable", "--log-network", "--json",
			       "--timings", "--debug", "--out", "o.txt", "--socket=/tmp/s", NULL),
			 0);
	ck_assert(o.no_stream && o.persist && o.writable && o.log_network && o.json && o.timings && o.debug);
	ck_assert_str_eq(o.out_file, "o.txt");
	ck_assert_str_eq(o.socket_path, "/tmp/s");
}
END_TEST

START_TEST(repeatables)
{
	ck_assert_int_eq(parse("-e", "1", "--secret", "A=1", "--secret=B=x=y", "--env", "E=1", "--env", "E=2",
			       "--install", "numpy", "--install=pandas==2.0", "--allow", "a", "--allow=b", "--deny",
			       "c", "--setup", "echo 1", "--setup=echo 2", NULL),
			 0);
	ck_assert_uint_eq(o.secrets.n, 2);
	ck_assert_str_eq(o.secrets.keys[1], "B");
	ck_assert_str_eq(o.secrets.values[1], "x=y");
	/* a repeated key replaces the earlier value */
	ck_assert_uint_eq(o.env.n, 1);
	ck_assert_str_eq(o.env.values[0], "2");
	ck_assert_uint_eq(o.install.n, 2);
	ck_assert_str_eq(o.install.v[1], "pandas==2.0");
	ck_assert_uint_eq(o.setup.n, 2);
	ck_assert_uint_eq(o.deny.n, 1);
	/* --install with --allow but no --net: filtered + python registries appended */
	ck_assert_str_eq(o.network, "filtered");
	ck_assert_uint_eq(o.allow.n, 4);
	ck_assert_str_eq(o.allow.v[2], "^pypi\\.org$");
	ck_assert_str_eq(o.allow.v[3], "^files\\.pythonhosted\\.org$");
}
END_TEST

START_TEST(install_network_rules)
{
	ck_assert_int_eq(parse("-e", "1", "--install", "x", "--net=none", NULL), 0);
	ck_assert_str_eq(o.network, "none");
	ck_assert_uint_eq(o.allow.n, 0);
	run_opts_free(&o);
	ck_assert_int_eq(parse("-e", "1", "-r", "node", "--install", "a", "--install", "b", NULL), 0);
	ck_assert_str_eq(o.network, "filtered");
	ck_assert_uint_eq(o.allow.n, 1); /* deduplicated */
	ck_assert_str_eq(o.allow.v[0], "^registry\\.npmjs\\.org$");
	run_opts_free(&o);
	/* nothing known for deno: say which config key to set */
	ck_assert_int_eq(parse("-e", "1", "-r", "deno", "--install", "npm:chalk", NULL), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_str_eq(err.msg,
			 "--install: no package registry known for deno: set network.registries.deno in "
			 "isol8.config.json");
	/* ... unless --net filtered is explicit: the user's own allowlist is the answer */
	ck_assert_int_eq(
		parse("-e", "1", "-r", "deno", "--install", "npm:chalk", "--net", "filtered", "--allow", "^x$", NULL),
		0);
	ck_assert_uint_eq(o.allow.n, 1);
	run_opts_free(&o);
	/* bash: the worker refuses --install with the better message */
	ck_assert_int_eq(parse("--cmd", "true", "--install", "curl", NULL), 0);
	ck_assert_uint_eq(o.allow.n, 0);
	run_opts_free(&o);
	/* --net host is never overridden and gets no allowlist */
	ck_assert_int_eq(parse("-e", "1", "--install", "x", "--net=host", NULL), 0);
	ck_assert_str_eq(o.network, "host");
	ck_assert_uint_eq(o.allow.n, 0);
}
END_TEST

/* Without a config list, the host's package-manager configuration decides (cli/registries.c). */
START_TEST(install_registries_from_host)
{
	struct run_defaults def;
	struct isol8_reg_paths p = {.npm_registry_env = "https://npm.mirror.example/", .etc = "/nonexistent"};
	char *cfg[] = {(char *)"^cfg\\.example$", NULL};

	run_defaults_builtin(&def);
	def.reg_paths = &p;
	ck_assert_int_eq(parse_with(&def, "-e", "1", "-r", "node", "--install", "a", NULL), 0);
	ck_assert_uint_eq(o.allow.n, 1);
	ck_assert_str_eq(o.allow.v[0], "^npm\\.mirror\\.example$");
	run_opts_free(&o);
	/* an unusable configured URL is not guessed around */
	p.npm_registry_env = "ftp://npm.mirror.example/";
	ck_assert_int_eq(parse_with(&def, "-e", "1", "-r", "bun", "--install", "a", NULL), -1);
	ck_assert(strstr(err.msg, "network.registries.bun") != NULL);
	/* the config list wins over the host's configuration */
	def.registries[1] = cfg;
	def.n_registries[1] = 1;
	ck_assert_int_eq(parse_with(&def, "-e", "1", "-r", "node", "--install", "a", NULL), 0);
	ck_assert_uint_eq(o.allow.n, 1);
	ck_assert_str_eq(o.allow.v[0], "^cfg\\.example$");
	run_opts_free(&o);
	/* pip's index from the environment; PyPI's files host only with PyPI */
	p.pip_index_env = "https://pypi.org/simple/";
	ck_assert_int_eq(parse_with(&def, "-e", "1", "--install", "numpy", NULL), 0);
	ck_assert_uint_eq(o.allow.n, 2);
	ck_assert_str_eq(o.allow.v[1], "^files\\.pythonhosted\\.org$");
}
END_TEST

START_TEST(config_defaults)
{
	char *wl[] = {(char *)"^example\\.com$", NULL};
	char *bl[] = {(char *)"^evil$", NULL};
	struct run_defaults def;

	run_defaults_builtin(&def);
	def.timeout_ms = 1234;
	def.network = "filtered";
	def.whitelist = wl;
	def.n_whitelist = 1;
	def.blacklist = bl;
	def.n_blacklist = 1;
	def.debug = true;
	ck_assert_int_eq(parse_with(&def, "-e", "1", NULL), 0);
	ck_assert_uint_eq(o.timeout_ms, 1234);
	ck_assert_str_eq(o.network, "filtered");
	ck_assert_uint_eq(o.allow.n, 1);
	ck_assert_str_eq(o.deny.v[0], "^evil$");
	ck_assert(o.debug);
	run_opts_free(&o);
	/* flags replace the config lists */
	ck_assert_int_eq(parse_with(&def, "-e", "1", "--allow", "x", "--timeout", "2s", NULL), 0);
	ck_assert_uint_eq(o.allow.n, 1);
	ck_assert_str_eq(o.allow.v[0], "x");
	ck_assert_uint_eq(o.deny.n, 1);
	ck_assert_uint_eq(o.timeout_ms, 2000);
}
END_TEST

START_TEST(bad_values)
{
	ck_assert_int_eq(parse("-e", "1", "--net", "foo", NULL), -1);
	ck_usage("Invalid --net value 'foo': expected none, host or filtered");
	ck_assert_int_eq(parse("-e", "1", "--isolation", "kata", NULL), -1);
	ck_usage("Invalid --isolation value 'kata': expected runc or runsc");
	ck_assert_int_eq(parse("-e", "1", "-r", "ruby", NULL), -1);
	ck_usage("Unknown runtime: \"ruby\". Available: python, node, bun, deno, bash, agent");
	ck_assert_int_eq(parse("-e", "1", "--pids-limit", "0", NULL), -1);
	ck_usage("--pids-limit must be an integer between 1 and 1000000");
	ck_assert_int_eq(parse("-e", "1", "--pids-limit=1000001", NULL), -1);
	ck_usage("--pids-limit must be an integer between 1 and 1000000");
	ck_assert_int_eq(parse("-e", "1", "--pids-limit=12x", NULL), -1);
	ck_usage("--pids-limit must be an integer between 1 and 1000000");
	ck_assert_int_eq(parse("-e", "1", "--max-output", "0", NULL), -1);
	ck_usage("--max-output must be at least 1");
	ck_assert_int_eq(parse("-e", "1", "--timeout", "0", NULL), -1);
	ck_usage("--timeout must be at least 1 ms");
	ck_assert_int_eq(parse("-e", "1", "--memory", "1k", NULL), -1);
	ck_usage("--memory must be at least 6m");
	ck_assert_int_eq(parse("-e", "1", "--session-id", "bad name", NULL), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_int_eq(parse("-e", "1", "--session-id", "", NULL), -1);
	ck_assert_int_eq(parse("-e", "1", "--session-id", "../x", NULL), -1);
	ck_assert_int_eq(parse("-e", "1", "--install", "--index-url=http://evil", NULL), -1);
	ck_usage("Invalid package name '--index-url=http://evil'");
	ck_assert_int_eq(parse("-e", "1", "--install", "a;rm -rf /", NULL), -1);
	ck_assert_int_eq(parse("-e", "1", "--image", "", NULL), -1);
	ck_usage("Invalid --image value ''");
	ck_assert_int_eq(parse("-e", "1", "--socket", "", NULL), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
}
END_TEST

START_TEST(bad_values_from_common_parsers)
{
	/* Messages come from common/parse.c; the flag name is prefixed. */
	const char *bad[][2] = {{"--memory", "lots"},  {"--memory", "-1g"},
				{"--cpu", "0"},        {"--cpu", "abc"},
				{"--timeout", "soon"}, {"--sandbox-size", "1q"},
				{"--tmp-size", ""},    {"--max-output", "99999999999999999999999"}};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(parse("-e", "1", bad[i][0], bad[i][1], NULL), -1);
		ck_assert_int_eq(err.code, ISOL8_E_USAGE);
		ck_assert_msg(strncmp(err.msg, bad[i][0], strlen(bad[i][0])) == 0, "%s", err.msg);
	}
}
END_TEST

START_TEST(kv_values)
{
	ck_assert_int_eq(parse("-e", "1", "--env", "NOEQUALS", NULL), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_int_eq(parse("-e", "1", "--env", "=v", NULL), -1);
	ck_assert_int_eq(parse("-e", "1", "--env", "1A=v", NULL), -1);
	/* the message for a bad secret never repeats its value */
	ck_assert_int_eq(parse("-e", "1", "--secret", "1BAD=hunter2", NULL), -1);
	ck_usage("--secret expects KEY=VALUE with KEY matching [A-Za-z_][A-Za-z0-9_]*");
	ck_assert_ptr_null(strstr(err.msg, "hunter2"));
	ck_assert_int_eq(parse("-e", "1", "--secret", "hunter2", NULL), -1);
	ck_assert_ptr_null(strstr(err.msg, "hunter2"));
	/* empty values are fine */
	ck_assert_int_eq(parse("-e", "1", "--env", "A=", NULL), 0);
	ck_assert_str_eq(o.env.values[0], "");
}
END_TEST

/* --image isol8:<runtime>: the runtime follows the image unless -r says otherwise. */
START_TEST(runtime_from_image)
{
	ck_assert_int_eq(parse("--image", "isol8:node", "-e", "console.log(1)", NULL), 0);
	ck_assert_str_eq(o.runtime, "node");
	run_opts_free(&o);
	ck_assert_int_eq(parse("--image", "isol8:bash-custom-0123456789ab", "-e", "echo 1", NULL), 0);
	ck_assert_str_eq(o.runtime, "bash");
	run_opts_free(&o);
	ck_assert_int_eq(parse("--image", "isol8:nodejs", "-e", "1", NULL), 0);
	ck_assert_str_eq(o.runtime, "python");
	run_opts_free(&o);
	ck_assert_int_eq(parse("-r", "python", "--image", "isol8:node", "-e", "1", NULL), 0);
	ck_assert_str_eq(o.runtime, "python");
}
END_TEST

/* NAME alone: the value comes from the caller's environment (off the command line). */
START_TEST(kv_from_environment)
{
	setenv("I8_TEST_SECRET", "from-env-value", 1);
	setenv("I8_TEST_ENV", "", 1);
	unsetenv("I8_TEST_UNSET");
	ck_assert_int_eq(parse("-e", "1", "--secret", "I8_TEST_SECRET", "--env", "I8_TEST_ENV", NULL), 0);
	ck_assert_str_eq(o.secrets.keys[0], "I8_TEST_SECRET");
	ck_assert_str_eq(o.secrets.values[0], "from-env-value");
	ck_assert_str_eq(o.env.keys[0], "I8_TEST_ENV");
	ck_assert_str_eq(o.env.values[0], "");
	ck_assert_int_eq(parse("-e", "1", "--env", "I8_TEST_UNSET", NULL), -1);
	ck_usage(
		"--env I8_TEST_UNSET: I8_TEST_UNSET is not set in the environment (export it, or use --env-file FILE)");
	ck_assert_int_eq(parse("-e", "1", "--secret", "I8_TEST_UNSET", NULL), -1);
	ck_assert_ptr_null(strstr(err.msg, "I8_TEST_UNSET"));
}
END_TEST

START_TEST(option_syntax_errors)
{
	ck_assert_int_eq(parse("--nope", NULL), -1);
	ck_usage("unknown option '--nope'");
	ck_assert_int_eq(parse("--nope=1", NULL), -1);
	ck_usage("unknown option '--nope'");
	ck_assert_int_eq(parse("-x", NULL), -1);
	ck_usage("unknown option '-x'");
	/* no abbreviations */
	ck_assert_int_eq(parse("--pers", NULL), -1);
	ck_usage("unknown option '--pers' (did you mean --persistent?)");
	ck_assert_int_eq(parse("-e", "1", "--persist=yes", NULL), -1);
	ck_usage("option '--persist' does not take a value");
	ck_assert_int_eq(parse("-e", "1", "--timeout", NULL), -1);
	ck_usage("option '--timeout' requires a value");
	ck_assert_int_eq(parse("-e", NULL), -1);
	ck_usage("option '-e' requires a value");
}
END_TEST

static void args_are(const char *const *want)
{
	size_t n = 0;

	for (; want[n]; n++) {
		ck_assert_uint_gt(o.args.n, n);
		ck_assert_str_eq(o.args.v[n], want[n]);
	}
	ck_assert_uint_eq(o.args.n, n);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

START_TEST(program_arguments)
{
	static const char *const none[] = {NULL};
	char *many[ISOL8_MAX_SCRIPT_ARGS + 4];
	char *big;
	struct run_defaults def;
	int n = 0;

	/* After the file, words are the program's; options are still ours until `--`. */
	ck_assert_int_eq(parse("a.py", "b.py", "x y", "--json", NULL), 0);
	ck_assert_str_eq(o.file, "a.py");
	ck_assert(o.json);
	args_are(ARGS("b.py", "x y"));
	run_opts_free(&o);
	ck_assert_int_eq(parse("a.py", "--", "-v", "--json", "", NULL), 0);
	ck_assert(!o.json);
	args_are(ARGS("-v", "--json", ""));
	run_opts_free(&o);
	ck_assert_int_eq(parse("--", "a.py", "-v", NULL), 0);
	ck_assert_str_eq(o.file, "a.py");
	args_are(ARGS("-v"));
	run_opts_free(&o);
	/* -e and --cmd: arguments after `--`, no file. */
	ck_assert_int_eq(parse("-e", "print(1)", "--", "a", "-b", NULL), 0);
	ck_assert_ptr_null(o.file);
	ck_assert_ptr_null(o.file_ext);
	args_are(ARGS("a", "-b"));
	run_opts_free(&o);
	ck_assert_int_eq(parse("--cmd", "echo $1", "--", "one", NULL), 0);
	args_are(ARGS("one"));
	run_opts_free(&o);
	ck_assert_int_eq(parse("-e", "1", "--", NULL), 0);
	args_are(none);
	run_opts_free(&o);
	/* A bare word before `--` is still a file, which -e and --cmd refuse. */
	ck_assert_int_eq(parse("-e", "1", "x.py", "--", "a", NULL), -1);
	ck_usage("--eval cannot be combined with a file argument");
	ck_assert_int_eq(parse("--cmd", "ls", "a", NULL), -1);
	ck_usage("--cmd cannot be combined with file input, --eval, --url, --github, or --gist.");

	/* Bounds: the count and the total size. */
	test_defaults(&def);
	many[n++] = (char *)"run";
	many[n++] = (char *)"a.py";
	for (unsigned i = 0; i <= ISOL8_MAX_SCRIPT_ARGS; i++)
		many[n++] = (char *)"x";
	many[n] = NULL;
	memset(&err, 0, sizeof err);
	ck_assert_int_eq(run_args_parse(n, many, &def, &o, &err), -1);
	ck_usage("too many program arguments: 33 (at most 32)");
	memset(&err, 0, sizeof err);
	ck_assert_int_eq(run_args_parse(n - 1, many, &def, &o, &err), 0);
	ck_assert_uint_eq(o.args.n, ISOL8_MAX_SCRIPT_ARGS);
	run_opts_free(&o);
	big = malloc(ISOL8_MAX_SCRIPT_ARGS_BYTES + 1);
	memset(big, 'a', ISOL8_MAX_SCRIPT_ARGS_BYTES);
	big[ISOL8_MAX_SCRIPT_ARGS_BYTES] = '\0';
	ck_assert_int_eq(parse("a.py", big, NULL), -1);
	ck_usage("program arguments too long: 16385 bytes (at most 16384)");
	big[ISOL8_MAX_SCRIPT_ARGS_BYTES - 1] = '\0';
	ck_assert_int_eq(parse("a.py", big, NULL), 0);
	free(big);
}
END_TEST

START_TEST(output_paths)
{
	struct run_input in = {.code = (char *)"1", .code_len = 1};
	size_t len;
	char *text;

	ck_assert_int_eq(parse("-e", "1", "--output-path", "a.txt", "--output-path", "/sandbox/d/b", "--output-dir",
			       "out", NULL),
			 0);
	ck_assert_uint_eq(o.output_paths.n, 2);
	ck_assert_str_eq(o.output_paths.v[1], "/sandbox/d/b");
	ck_assert_str_eq(o.output_dir, "out");
	text = run_request_json(&o, &in, &len);
	ck_assert_ptr_nonnull(strstr(text, "\"outputPaths\":[\"a.txt\",\"/sandbox/d/b\"]"));
	free(text);
	run_opts_free(&o);
	ck_assert_int_eq(parse("-e", "1", "--output-path", "a", "--json", NULL), 0);
	run_opts_free(&o);

	ck_assert_int_eq(parse("-e", "1", "--output-path", "../x", "--json", NULL), -1);
	ck_usage("--output-path: empty, '.' and '..' path components are not allowed");
	ck_assert_int_eq(parse("-e", "1", "--output-path", "/etc/passwd", "--json", NULL), -1);
	ck_usage("--output-path: must be inside /sandbox");
	ck_assert_int_eq(parse("-e", "1", "--output-path", "a", NULL), -1);
	ck_usage("--output-path needs --output-dir DIR (to write the files) or --json (to print them)");
	ck_assert_int_eq(parse("-e", "1", "--output-dir", "d", NULL), -1);
	ck_usage("--output-dir needs at least one --output-path");
	ck_assert_int_eq(parse("-e", "1", "--output-dir", "", NULL), -1);
	ck_usage("--output-dir needs a directory");
}
END_TEST

START_TEST(arguments_in_request)
{
	struct run_input in = {.code = (char *)"print(1)", .code_len = 8};
	json_object *root, *req, *a;
	size_t len;
	char *text;

	ck_assert_int_eq(parse("a.py", "x", "", NULL), 0);
	text = run_request_json(&o, &in, &len);
	root = json_tokener_parse(text);
	ck_assert(json_object_object_get_ex(root, "request", &req));
	ck_assert(json_object_object_get_ex(req, "args", &a));
	ck_assert_int_eq(json_object_array_length(a), 2);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(a, 0)), "x");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(a, 1)), "");
	json_object_put(root);
	free(text);
	run_opts_free(&o);
	/* No arguments, no key: older daemons refuse nothing new. */
	ck_assert_int_eq(parse("a.py", NULL), 0);
	text = run_request_json(&o, &in, &len);
	ck_assert_ptr_null(strstr(text, "\"args\""));
	free(text);
}
END_TEST

START_TEST(double_dash)
{
	ck_assert_int_eq(parse("--", "-weird.py", NULL), 0);
	ck_assert_str_eq(o.file, "-weird.py");
	ck_assert_str_eq(o.runtime, "python");
}
END_TEST

START_TEST(workdir)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{"sub", "/sandbox/sub"},
		{"/sandbox/a/../b", "/sandbox/b"},
		{"/sandbox/", "/sandbox"},
		{"", "/sandbox"},
		{".", "/sandbox"},
		{"a//b/./c/", "/sandbox/a/b/c"},
		{"/x/../sandbox/y", "/sandbox/y"},
		{"/../../sandbox", "/sandbox"},
		{"a/../..//sandbox/z", "/sandbox/z"},
	};
	static const char *const bad[] = {
		"..", "../etc", "/", "/sandboxx", "/sandbox/..", "/etc", "/sandbox/a/../../tmp", "a/../../.."};

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_int_eq(parse("-e", "1", "--workdir", ok[i].in, NULL), 0);
		ck_assert_str_eq(o.workdir, ok[i].out);
		run_opts_free(&o);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(parse("-e", "1", "--workdir", bad[i], NULL), -1);
		ck_usage("Working directory must be inside /sandbox");
	}
}
END_TEST

START_TEST(workdir_too_long)
{
	char *p = malloc(5000);

	memset(p, 'a', 4999);
	p[4999] = '\0';
	ck_assert_int_eq(parse("-e", "1", "--workdir", p, NULL), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	free(p);
}
END_TEST

START_TEST(conflicts)
{
	ck_assert_int_eq(parse("--cmd", "ls", "-e", "1", NULL), -1);
	ck_usage("--cmd cannot be combined with file input, --eval, --url, --github, or --gist.");
	ck_assert_int_eq(parse("--cmd", "ls", "x.py", NULL), -1);
	ck_usage("--cmd cannot be combined with file input, --eval, --url, --github, or --gist.");
	ck_assert_int_eq(parse("-e", "1", "x.py", NULL), -1);
	ck_usage("--eval cannot be combined with a file argument");
	ck_assert_int_eq(parse("--url", "https://x/y.py", "x.py", NULL), -1);
	ck_usage("--url/--github/--gist cannot be used with file input or --eval.");
}
END_TEST

START_TEST(runtime_detection)
{
	static const struct {
		const char *file, *rt, *ext;
	} m[] = {
		{"a.py", "python", ".py"}, {"dir.x/a.js", "node", ".js"}, {"a.mjs", "node", ".mjs"},
		{"a.cjs", "node", ".cjs"}, {"a.ts", "bun", ".ts"},        {"a.mts", "deno", ".mts"},
		{"a.b.sh", "bash", ".sh"},
	};

	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		ck_assert_int_eq(parse(m[i].file, NULL), 0);
		ck_assert_str_eq(o.runtime, m[i].rt);
		ck_assert_str_eq(o.file_ext, m[i].ext);
		ck_assert_str_eq(o.file, m[i].file);
		run_opts_free(&o);
	}
	/* a missing file is said to be missing, not of an unknown runtime */
	ck_assert_int_eq(parse("no-such-file.rb", NULL), -1);
	ck_assert_int_eq(err.code, ISOL8_E_NOTFOUND);
	ck_assert_str_eq(err.msg, "File not found: no-such-file.rb");
	/* .txt is the agent's: a missing one is missing, not short of the agent's network flags */
	ck_assert_int_eq(parse("notes.txt", NULL), -1);
	ck_assert_int_eq(err.code, ISOL8_E_NOTFOUND);
	ck_assert_str_eq(err.msg, "File not found: notes.txt");
	/* but -r agent given: the rule is the user's question, whatever the file */
	ck_assert_int_eq(parse("-r", "agent", "notes.txt", NULL), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	{
		char rb[] = "/tmp/check_run_args_XXXXXX.rb", want[128];
		int fd = mkstemps(rb, 3);
		ck_assert_int_ge(fd, 0);
		close(fd);
		ck_assert_int_eq(parse(rb, NULL), -1);
		snprintf(want, sizeof want, "Cannot detect runtime for %s. Use --runtime to specify.", rb);
		ck_usage(want);
		unlink(rb);
	}
	ck_assert_int_eq(parse("Makefile", NULL), -1);
	ck_assert_int_eq(parse("dir.py/script", NULL), -1);
	/* -r overrides; the extension is still passed */
	ck_assert_int_eq(parse("-r", "deno", "a.ts", NULL), 0);
	ck_assert_str_eq(o.runtime, "deno");
	ck_assert_str_eq(o.file_ext, ".ts");
	run_opts_free(&o);
	ck_assert_int_eq(parse("-r", "bash", "script", NULL), 0);
	ck_assert_ptr_null(o.file_ext);
	ck_assert_ptr_null(run_runtime_from_path("x."));
	ck_assert_ptr_null(run_runtime_from_path(".py/x"));
	ck_assert_str_eq(run_runtime_from_path(".py"), "python");
}
END_TEST

START_TEST(runtime_defaults)
{
	ck_assert_int_eq(parse("--cmd", "ls -la", NULL), 0);
	ck_assert_str_eq(o.runtime, "bash");
	ck_assert_str_eq(o.cmd, "ls -la");
	run_opts_free(&o);
	ck_assert_int_eq(parse("--cmd", "ls", "-r", "python", NULL), 0);
	ck_assert_str_eq(o.runtime, "python");
	run_opts_free(&o);
	ck_assert_int_eq(parse(NULL), 0); /* stdin */
	ck_assert_str_eq(o.runtime, "python");
	ck_assert_ptr_null(o.file);
}
END_TEST

START_TEST(sessions)
{
	ck_assert_int_eq(parse("-e", "1", "--session-id", "my-sess_1.0", NULL), 0);
	ck_assert(o.persistent);
	ck_assert_str_eq(o.session_id, "my-sess_1.0");
	run_opts_free(&o);
	ck_assert_int_eq(parse("-e", "1", "--persistent", NULL), 0);
	ck_assert(o.persistent);
	ck_assert_ptr_null(o.session_id); /* named by cmd_run */
}
END_TEST

START_TEST(unsupported)
{
	/* http: --host is handled by the remote client; --key alone is a usage error. */
	ck_assert_int_eq(parse("-e", "1", "--host", "http://x", NULL), 0);
	ck_assert_str_eq(o.host, "http://x");
	run_opts_free(&o);
	ck_assert_int_eq(parse("-e", "1", "--key=k", NULL), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_str_eq(err.msg, "--key needs --host");
	ck_assert_int_eq(parse("--url", "https://x/y.py", NULL), -1);
	ck_assert_int_eq(err.code, ISOL8_E_POLICY);
	ck_assert_str_eq(err.msg, "Remote code fetching is disabled. Set remoteCode.enabled=true to allow it.");
	ck_assert_int_eq(parse("--github", "o/r/main/x.py", "--hash",
			       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			       "--allow-insecure-code-url", NULL),
			 -1);
	ck_assert_int_eq(err.code, ISOL8_E_POLICY);
	ck_assert_int_eq(parse("--url", "https://x/y.py", "--hash", "ab", NULL), -1);
	ck_usage("--hash must be a SHA-256 digest: 64 hexadecimal digits");
	ck_assert_int_eq(parse("--github", "o/r/x.py", NULL), -1);
	ck_usage("--github format must be owner/repo/ref/path/to/file");
	ck_assert_int_eq(parse("--gist", "nofile", NULL), -1);
	ck_usage("--gist format must be gistId/file.ext");
	ck_assert_int_eq(parse("-e", "1", "--agent-flags", "--x", NULL), -1);
	ck_usage("--agent-flags is for the agent runtime only (runtime is python; add -r agent)");
}
END_TEST

/* The agent runtime (issue 15): network rule, defaults, flags carried as one string. */
START_TEST(agent_runtime)
{
	ck_assert_int_eq(parse("-r", "agent", "-e", "fix it", NULL), -1);
	ck_usage("Agent runtime requires network access. The AI coding agent needs to reach its LLM provider API. "
		 "Use --net filtered --allow \"api.anthropic.com\" (or your provider's domain).");
	ck_assert_int_eq(parse("-r", "agent", "-e", "fix it", "--net", "host", NULL), -1);
	ck_usage("Agent runtime requires --net filtered (not --net host): the agent reaches its LLM provider only "
		 "through the filtering proxy. Use --net filtered --allow \"api.anthropic.com\" (or your provider's "
		 "domain).");
	ck_assert_int_eq(parse("-r", "agent", "-e", "fix it", "--net", "filtered", NULL), -1);
	ck_usage("Agent runtime requires at least one network whitelist entry. Use --allow \"api.anthropic.com\" "
		 "(or your provider's domain).");
	ck_assert_int_eq(parse("-r", "agent", "-e", "x", "--net", "filtered", "--allow", "a.test", "--agent-flags",
			       "--model 'unterminated", NULL),
			 -1);
	ck_usage("--agent-flags: unterminated ' quote at byte 8");

	ck_assert_int_eq(parse("-r", "agent", "-e", "fix it", "--net", "filtered", "--allow", "api.anthropic.com",
			       "--agent-flags", "--model m --thinking", NULL),
			 0);
	ck_assert_str_eq(o.runtime, "agent");
	ck_assert_uint_eq(o.pids, 200);
	ck_assert_uint_eq(o.sandbox_size, 2ull << 30);
	ck_assert_str_eq(o.agent_flags, "--model m --thinking");
	{
		struct run_input in = {.code = (char *)"fix it", .code_len = 6};
		size_t len;
		char *json = run_request_json(&o, &in, &len);
		json_object *root = json_tokener_parse(json), *req, *opt, *v;
		ck_assert(json_object_object_get_ex(root, "request", &req));
		ck_assert(json_object_object_get_ex(req, "agentFlags", &v));
		ck_assert_str_eq(json_object_get_string(v), "--model m --thinking");
		ck_assert(json_object_object_get_ex(root, "options", &opt));
		ck_assert(json_object_object_get_ex(opt, "pidsLimit", &v));
		ck_assert_int_eq(json_object_get_int64(v), 200);
		json_object_put(root);
		free(json);
	}
	run_opts_free(&o);
	/* Explicit flags win over the agent's defaults; .txt is a prompt for the agent. */
	ck_assert_int_eq(parse("--net", "filtered", "--allow", "a.test", "--pids-limit", "30", "--sandbox-size", "1g",
			       "task.txt", NULL),
			 0);
	ck_assert_str_eq(o.runtime, "agent");
	ck_assert_uint_eq(o.pids, 30);
	ck_assert_uint_eq(o.sandbox_size, 1ull << 30);
	run_opts_free(&o);
	/* Other runtimes keep theirs. */
	ck_assert_int_eq(parse("-e", "1", "--net", "filtered", "--allow", "a.test", NULL), 0);
	ck_assert_uint_eq(o.pids, 64);
	ck_assert_uint_eq(o.sandbox_size, 512ull << 20);
}
END_TEST

/* The user's config remoteCode (its defaults here: the original's blocked hosts). */
START_TEST(remote_code_flags)
{
	static char *const blocked[] = {"^localhost$", "^127(?:\\.[0-9]{1,3}){3}$", "^\\[::1\\]$",
					"^::1$",       "^10(?:\\.[0-9]{1,3}){3}$",  "^metadata\\.google\\.internal$"};
	static char *const schemes[] = {"https"};
	struct run_defaults def;

	test_defaults(&def);
	def.remote.enabled = true;
	def.remote.schemes = schemes;
	def.remote.n_schemes = 1;
	def.remote.blocked = blocked;
	def.remote.n_blocked = sizeof blocked / sizeof *blocked;
	def.remote.max_size = 4096;
	ck_assert_int_eq(parse_with(&def, "--github", "o/r/main/src/x.sh", NULL), 0);
	ck_assert_str_eq(o.code_url, "https://raw.githubusercontent.com/o/r/main/src/x.sh");
	ck_assert_str_eq(o.runtime, "bash"); /* from the URL path */
	ck_assert_str_eq(o.file_ext, ".sh");
	ck_assert_uint_eq(o.code_max, 4096);
	run_opts_free(&o);
	ck_assert_int_eq(parse_with(&def, "--gist", "abc/hello.py", "--github", "o/r/main/x.sh", NULL), 0);
	ck_assert_str_eq(o.code_url, "https://raw.githubusercontent.com/o/r/main/x.sh"); /* --github first */
	run_opts_free(&o);
	ck_assert_int_eq(parse_with(&def, "--url", "https://h.test/x.py?token=a.sh", "--gist", "abc/y.js", NULL), 0);
	ck_assert_str_eq(o.code_url, "https://h.test/x.py?token=a.sh"); /* --url first */
	ck_assert_str_eq(o.runtime, "python");                          /* the path, not the query */
	run_opts_free(&o);
	ck_assert_int_eq(parse_with(&def, "--url", "https://h.test/x", NULL), -1);
	ck_usage("Cannot detect runtime from URL path. Use --runtime to specify.");
	ck_assert_int_eq(parse_with(&def, "--url", "https://h.test/x", "-r", "node", NULL), 0);
	ck_assert_str_eq(o.runtime, "node");
	run_opts_free(&o);
	ck_assert_int_eq(parse_with(&def, "--url", "https://h.test/x.py", "-e", "1", NULL), -1);
	ck_usage("--url/--github/--gist cannot be used with file input or --eval.");
	ck_assert_int_eq(parse_with(&def, "--url", "http://h.test/x.py", NULL), -1);
	ck_assert_str_eq(err.msg, "Insecure code URL blocked. Use allowInsecureCodeUrl=true to allow HTTP.");
	ck_assert_int_eq(parse_with(&def, "--url", "http://h.test/x.py", "--allow-insecure-code-url", NULL), -1);
	ck_assert_str_eq(err.msg, "URL scheme not allowed: http");
	ck_assert_int_eq(parse_with(&def, "--url", "https://127.0.0.1:8443/x.py", NULL), -1);
	ck_assert_str_eq(err.msg, "Blocked code URL host: 127.0.0.1");
	ck_assert_int_eq(err.code, ISOL8_E_POLICY);
	ck_assert_int_eq(parse_with(&def, "--url", "https://u:p@LocalHost./x.py", NULL), -1);
	ck_assert_str_eq(err.msg, "Blocked code URL host: localhost");
	ck_assert_int_eq(parse_with(&def, "--url", "https://[::1]/x.py", NULL), -1);
	ck_assert_str_eq(err.msg, "Blocked code URL host: ::1");
	def.remote.require_hash = true;
	ck_assert_int_eq(parse_with(&def, "--url", "https://h.test/x.py", NULL), -1);
	ck_assert_str_eq(err.msg, "Hash verification required: provide codeHash for remote code execution.");
	ck_assert_int_eq(parse_with(&def, "--hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
				    "-e", "1", NULL),
			 -1);
	ck_usage("--hash and --allow-insecure-code-url need --url, --github or --gist");
}
END_TEST

START_TEST(help)
{
	ck_assert_int_eq(parse("--net", "foo", "--help", NULL), 0);
	ck_assert(o.help);
	run_opts_free(&o);
	ck_assert_int_eq(parse("-h", NULL), 0);
	ck_assert(o.help);
}
END_TEST

START_TEST(json_safe)
{
	ck_assert(run_text_is_json_safe("", 0));
	const char *ok = "print('h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80')";
	ck_assert(run_text_is_json_safe(ok, strlen(ok)));
	ck_assert(!run_text_is_json_safe("a\0b", 3));
	ck_assert(!run_text_is_json_safe("\xc0\xaf", 2));         /* overlong '/' */
	ck_assert(!run_text_is_json_safe("\xe0\x80\xaf", 3));     /* overlong */
	ck_assert(!run_text_is_json_safe("\xed\xa0\x80", 3));     /* surrogate */
	ck_assert(!run_text_is_json_safe("\xe2\x82", 2));         /* truncated */
	ck_assert(!run_text_is_json_safe("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	ck_assert(!run_text_is_json_safe("\x80", 1));             /* lone continuation */
	ck_assert(!run_text_is_json_safe("\xff", 1));
}
END_TEST

static json_object *plan(struct run_input *in)
{
	char *text;
	size_t len;
	json_object *j;

	ck_assert_int_eq(run_request_plan(&o, in, &text, &len, &err), 0);
	ck_assert_uint_le(len, RUN_REQUEST_MAX);
	ck_assert_uint_eq(strlen(text), len);
	j = json_tokener_parse(text);
	ck_assert_ptr_nonnull(j);
	free(text);
	return j;
}

static json_object *at(json_object *j, const char *a, const char *b)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(j, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return v;
}

START_TEST(request_inline)
{
	struct run_input in = {0};
	json_object *j;

	ck_assert_int_eq(parse("x.cjs", "--env", "A=1", "--secret", "S=2", "--persist", "--workdir", "w", "--install",
			       "lodash", "--image", "isol8:node", NULL),
			 0);
	in.code = (char *)"console.log(1)";
	in.code_len = strlen(in.code);
	in.stdin_data = (char *)"input\n";
	in.stdin_len = 6;
	in.setup_script = (char *)"echo hi";
	j = plan(&in);
	ck_assert(!in.code_in_bundle && !in.stdin_in_bundle);
	ck_assert_str_eq(json_object_get_string(at(j, "request", "code")), "console.log(1)");
	ck_assert_str_eq(json_object_get_string(at(j, "request", "runtime")), "node");
	ck_assert_str_eq(json_object_get_string(at(j, "request", "fileExtension")), ".cjs");
	ck_assert_str_eq(json_object_get_string(at(j, "request", "stdin")), "input\n");
	ck_assert_str_eq(json_object_get_string(at(j, "request", "workdir")), "/sandbox/w");
	ck_assert_str_eq(json_object_get_string(at(j, "request", "setupScript")), "echo hi");
	ck_assert_int_eq(json_object_get_int64(at(j, "request", "timeoutMs")), 30000);
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(at(j, "request", "installPackages"), 0)),
			 "lodash");
	ck_assert_str_eq(json_object_get_string(at(at(j, "request", "env"), "A", NULL)), "1");
	ck_assert_ptr_null(at(j, "request", "codeInBundle"));
	ck_assert_ptr_null(at(j, "request", "cmd"));
	ck_assert_int_eq(json_object_get_int64(at(j, "options", "memoryLimit")), 512 << 20);
	ck_assert(json_object_get_double(at(j, "options", "cpuLimit")) == 1.0);
	ck_assert_int_eq(json_object_get_int64(at(j, "options", "pidsLimit")), 64);
	ck_assert_int_eq(json_object_get_int64(at(j, "options", "maxOutputSize")), 1048576);
	ck_assert_str_eq(json_object_get_string(at(j, "options", "network")), "filtered");
	ck_assert_str_eq(json_object_get_string(at(j, "options", "image")), "isol8:node");
	ck_assert(json_object_get_boolean(at(j, "options", "persist")));
	ck_assert(json_object_get_boolean(at(j, "options", "readonlyRootFs")));
	ck_assert_str_eq(json_object_get_string(at(at(j, "options", "secrets"), "S", NULL)), "2");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(
				 at(at(j, "options", "networkFilter"), "whitelist", NULL), 0)),
			 "^registry\\.npmjs\\.org$");
	ck_assert_ptr_null(at(j, "sessionId", NULL));
	/* no --isolation: none sent, the policy's tier */
	ck_assert_ptr_null(at(j, "options", "isolation"));
	json_object_put(j);
}
END_TEST

/* --isolation goes to options.isolation as given; isol8d decides whether the tenant gets it. */
START_TEST(request_isolation)
{
	struct run_input in = {.code = (char *)"1", .code_len = 1};
	json_object *j;

	ck_assert_int_eq(parse("-e", "1", "--isolation", "runsc", NULL), 0);
	j = plan(&in);
	ck_assert_str_eq(json_object_get_string(at(j, "options", "isolation")), "runsc");
	json_object_put(j);
	ck_assert_int_eq(parse("-e", "1", "--isolation=runc", NULL), 0);
	j = plan(&in);
	ck_assert_str_eq(json_object_get_string(at(j, "options", "isolation")), "runc");
	json_object_put(j);
}
END_TEST

START_TEST(request_cmd_and_session)
{
	struct run_input in = {0};
	json_object *j;

	ck_assert_int_eq(parse("--cmd", "echo $HOME", "--session-id", "s1", NULL), 0);
	j = plan(&in);
	ck_assert_str_eq(json_object_get_string(at(j, "request", "cmd")), "echo $HOME");
	ck_assert_ptr_null(at(j, "request", "code"));
	ck_assert_ptr_null(at(j, "request", "stdin"));
	ck_assert_ptr_null(at(j, "request", "fileExtension"));
	ck_assert_str_eq(json_object_get_string(at(j, "sessionId", NULL)), "s1");
	json_object_put(j);
}
END_TEST

START_TEST(request_bundle_decisions)
{
	struct run_input in = {0};
	char *big = malloc(200000);
	json_object *j;

	ck_assert_int_eq(parse("-e", "x", "--files", "/tmp", NULL), 0);
	/* binary code -> bundle, small stdin stays inline */
	in.code = (char *)"a\0b";
	in.code_len = 3;
	in.stdin_data = (char *)"ok";
	in.stdin_len = 2;
	in.has_files = true;
	j = plan(&in);
	ck_assert(in.code_in_bundle && !in.stdin_in_bundle);
	ck_assert_ptr_null(at(j, "request", "code"));
	ck_assert(json_object_get_boolean(at(j, "request", "codeInBundle")));
	ck_assert(json_object_get_boolean(at(j, "request", "hasFiles")));
	json_object_put(j);

	/* stdin moves first, then code, when the text is too large */
	memset(big, 'a', 199999);
	big[199999] = '\0';
	in.code = (char *)"print(1)";
	in.code_len = 8;
	in.stdin_data = big;
	in.stdin_len = 40000;
	in.code_in_bundle = in.stdin_in_bundle = false;
	j = plan(&in);
	ck_assert(!in.code_in_bundle);
	ck_assert(!in.stdin_in_bundle); /* 40000 fits */
	json_object_put(j);
	in.code = big;
	in.code_len = 40000;
	j = plan(&in);
	ck_assert(in.stdin_in_bundle && !in.code_in_bundle);
	json_object_put(j);
	in.code_len = 100000;
	in.stdin_len = 10;
	j = plan(&in);
	ck_assert(in.code_in_bundle && !in.stdin_in_bundle);
	json_object_put(j);
	/* a setup script that cannot fit is refused */
	in.setup_script = big;
	ck_assert_int_eq(run_request_plan(&o, &in, &(char *){NULL}, &(size_t){0}, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
	free(big);
}
END_TEST

/* --- replies from isol8d (untrusted input) --- */

static int decode_error(const struct isol8_buf *b)
{
	struct isol8_msg m;

	memset(&m, 0, sizeof m);
	m.type = WK_ERROR;
	m.payload = (uint8_t *)b->data;
	m.len = (uint32_t)b->len;
	for (unsigned i = 0; i < ISOL8_IPC_MAX_FDS; i++)
		m.fds[i] = -1;
	memset(&err, 0, sizeof err);
	return broker_error_from_msg(&m, &err);
}

START_TEST(wk_error_decoding)
{
	struct isol8_buf b = ISOL8_BUF_INIT;

	isol8_put_u16(&b, ISOL8_E_POLICY);
	isol8_put_str(&b, "network host is not allowed");
	ck_assert_int_eq(decode_error(&b), -1);
	ck_assert_int_eq(err.code, ISOL8_E_POLICY);
	ck_assert_str_eq(err.msg, "network host is not allowed");

	isol8_buf_reset(&b);
	isol8_put_u16(&b, ISOL8_E_USAGE);
	isol8_put_str(&b, "bad");
	decode_error(&b);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);

	/* codes out of range become internal errors */
	isol8_buf_reset(&b);
	isol8_put_u16(&b, 0);
	isol8_put_str(&b, "x");
	decode_error(&b);
	ck_assert_int_eq(err.code, ISOL8_E_INTERNAL);
	isol8_buf_reset(&b);
	isol8_put_u16(&b, 0xffff);
	isol8_put_str(&b, "x");
	decode_error(&b);
	ck_assert_int_eq(err.code, ISOL8_E_INTERNAL);

	/* terminal escapes are neutralised */
	isol8_buf_reset(&b);
	isol8_put_u16(&b, ISOL8_E_DOCKER);
	isol8_put_str(&b, "a\x1b[2Jb\rc");
	decode_error(&b);
	ck_assert_str_eq(err.msg, "a?[2Jb?c");

	/* trailing bytes, truncation, empty payload */
	isol8_buf_reset(&b);
	isol8_put_u16(&b, ISOL8_E_DOCKER);
	isol8_put_str(&b, "x");
	isol8_put_u8(&b, 0);
	decode_error(&b);
	ck_assert_int_ne(err.code, ISOL8_E_DOCKER);
	ck_assert_ptr_nonnull(strstr(err.msg, "malformed error reply from isol8d"));
	isol8_buf_reset(&b);
	isol8_put_u16(&b, ISOL8_E_DOCKER);
	isol8_put_u32(&b, 100);
	isol8_buf_append(&b, "short", 5);
	decode_error(&b);
	ck_assert_ptr_nonnull(strstr(err.msg, "malformed error reply from isol8d"));
	isol8_buf_reset(&b);
	decode_error(&b);
	ck_assert_ptr_nonnull(strstr(err.msg, "malformed error reply from isol8d"));
	/* NUL inside the message */
	isol8_buf_reset(&b);
	isol8_put_u16(&b, ISOL8_E_DOCKER);
	isol8_put_u32(&b, 3);
	isol8_buf_append(&b, "a\0b", 3);
	decode_error(&b);
	ck_assert_ptr_nonnull(strstr(err.msg, "malformed error reply from isol8d"));
	isol8_buf_free(&b);
}
END_TEST

START_TEST(recv_paths)
{
	struct isol8_buf b = ISOL8_BUF_INIT;
	struct isol8_msg m;
	int sv[2];

	ck_assert_int_eq(isol8_ipc_socketpair(sv, &err), 0);
	isol8_put_u16(&b, ISOL8_E_LIMIT);
	isol8_put_str(&b, "too many sessions");
	ck_assert_int_eq(isol8_ipc_send_buf(sv[1], WK_ERROR, 0, &b, NULL, 0, &err), 0);
	ck_assert_int_eq(broker_recv(sv[0], &m, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_LIMIT);
	ck_assert_str_eq(err.msg, "too many sessions");

	ck_assert_int_eq(isol8_ipc_send(sv[1], WK_OK, 0, NULL, 0, NULL, 0, &err), 0);
	ck_assert_int_eq(broker_expect(sv[0], WK_RESULT, &m, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_PROTO);

	ck_assert_int_eq(isol8_ipc_send(sv[1], WK_RESULT, 0, "{}", 2, NULL, 0, &err), 0);
	ck_assert_int_eq(broker_expect(sv[0], WK_RESULT, &m, &err), 1);
	ck_assert_uint_eq(m.len, 2);
	isol8_msg_free(&m);

	close(sv[1]);
	ck_assert_int_eq(broker_recv(sv[0], &m, &err), -1);
	ck_assert_str_eq(err.msg, "isol8d closed the connection (worker died?)");
	ck_assert_int_eq(isol8_err_exit_status(err.code), 1);
	close(sv[0]);
	isol8_buf_free(&b);
}
END_TEST

START_TEST(socket_path_and_connect_error)
{
	setenv("ISOL8_SOCKET", "/env.sock", 1);
	ck_assert_str_eq(broker_socket_path("/flag.sock"), "/flag.sock");
	ck_assert_str_eq(broker_socket_path(NULL), "/env.sock");
	setenv("ISOL8_SOCKET", "", 1);
	ck_assert_str_eq(broker_socket_path(NULL), ISOL8_DEFAULT_SOCKET);
	unsetenv("ISOL8_SOCKET");
	ck_assert_str_eq(broker_socket_path(""), ISOL8_DEFAULT_SOCKET);

	ck_assert_int_eq(broker_open("/nonexistent/isol8d.sock", HELLO_RUN, "", &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_UNAVAIL);
	ck_assert_str_eq(err.msg,
			 "cannot reach isol8d at /nonexistent/isol8d.sock: No such file or directory "
			 "(is isol8d running? start it with 'isol8d' or 'systemctl start isol8d')");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("run_args");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, defaults_and_eval);
	tcase_add_test(tc, both_forms);
	tcase_add_test(tc, value_may_start_with_dash);
	tcase_add_test(tc, booleans);
	tcase_add_test(tc, repeatables);
	tcase_add_test(tc, install_network_rules);
	tcase_add_test(tc, install_registries_from_host);
	tcase_add_test(tc, config_defaults);
	tcase_add_test(tc, bad_values);
	tcase_add_test(tc, bad_values_from_common_parsers);
	tcase_add_test(tc, kv_values);
	tcase_add_test(tc, kv_from_environment);
	tcase_add_test(tc, runtime_from_image);
	tcase_add_test(tc, option_syntax_errors);
	tcase_add_test(tc, program_arguments);
	tcase_add_test(tc, arguments_in_request);
	tcase_add_test(tc, output_paths);
	tcase_add_test(tc, double_dash);
	tcase_add_test(tc, workdir);
	tcase_add_test(tc, workdir_too_long);
	tcase_add_test(tc, conflicts);
	tcase_add_test(tc, runtime_detection);
	tcase_add_test(tc, runtime_defaults);
	tcase_add_test(tc, sessions);
	tcase_add_test(tc, unsupported);
	tcase_add_test(tc, help);
	tcase_add_test(tc, remote_code_flags);
	tcase_add_test(tc, json_safe);
	tcase_add_test(tc, request_inline);
	tcase_add_test(tc, request_cmd_and_session);
	tcase_add_test(tc, request_isolation);
	tcase_add_test(tc, request_bundle_decisions);
	suite_add_tcase(s, tc);
	tc = tcase_create("replies");
	tcase_add_test(tc, wk_error_decoding);
	tcase_add_test(tc, agent_runtime);
	tcase_add_test(tc, recv_paths);
	tcase_add_test(tc, socket_path_and_connect_error);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
