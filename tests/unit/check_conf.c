#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/run_defaults.h"
#include "common/conf.h"
#include "common/json.h"

/* Parse text as "t.json"; expect failure whose message contains every fragment given. */
static void expect_error(const char *text, const char *frag1, const char *frag2)
{
	struct isol8_config c;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_msg(isol8_config_parse(text, "t.json", &c, &err) == -1, "accepted: %s", text);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_msg(strncmp(err.msg, "t.json: ", 8) == 0, "no source prefix: %s", err.msg);
	ck_assert_msg(strstr(err.msg, frag1) != NULL, "\"%s\" not in \"%s\"", frag1, err.msg);
	if (frag2)
		ck_assert_msg(strstr(err.msg, frag2) != NULL, "\"%s\" not in \"%s\"", frag2, err.msg);
	ck_assert_ptr_null(c.root); /* freed on error */
}

static void parse_ok(const char *text, struct isol8_config *c)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	ck_assert_msg(isol8_config_parse(text, "t.json", c, &err) == 0, "rejected: %s: %s", text, err.msg);
}

static void check_defaults(const struct isol8_config *c)
{
	ck_assert_uint_eq(c->max_concurrent, 10);
	/* The config's defaults are JSON text; they must say what common/run_defaults.h says. */
	ck_assert(c->defaults.timeout_ms == 30000 && c->defaults.timeout_ms == ISOL8_DEFAULT_TIMEOUT_MS);
	ck_assert(c->defaults.memory == 512ULL << 20 && c->defaults.memory == ISOL8_DEFAULT_MEMORY);
	ck_assert_str_eq(c->defaults.memory_str, "512m");
	ck_assert(c->defaults.cpu == 1.0 && c->defaults.cpu * 1000 == ISOL8_DEFAULT_CPU_MILLIS);
	ck_assert_str_eq(c->defaults.network, "none");
	ck_assert(c->defaults.sandbox_size == 512ULL << 20 && c->defaults.sandbox_size == ISOL8_DEFAULT_SANDBOX_SIZE);
	ck_assert(c->defaults.tmp_size == 256ULL << 20 && c->defaults.tmp_size == ISOL8_DEFAULT_TMP_SIZE);
	ck_assert(c->readonly_root_fs);
	ck_assert_uint_eq(c->n_whitelist, 0);
	ck_assert_ptr_nonnull(c->whitelist);
	ck_assert_ptr_null(c->whitelist[0]);
	ck_assert_uint_eq(c->n_blacklist, 0);
	ck_assert(c->auto_prune);
	ck_assert(c->max_container_age_ms == 3600000);
	for (int i = 0; i < ISOL8_CONF_NDEPS; i++)
		ck_assert_uint_eq(c->n_deps[i], 0);
	ck_assert_str_eq(c->seccomp, "strict");
	ck_assert_ptr_null(c->custom_profile_path);
	ck_assert_str_eq(c->pool_strategy, "fast");
	ck_assert_uint_eq(c->pool_clean, 1);
	ck_assert_uint_eq(c->pool_dirty, 1);
	ck_assert(!c->pool_size_single);
	ck_assert(!c->debug);
	ck_assert(!c->remote_code.enabled);
	ck_assert_uint_eq(c->remote_code.n_allowed_schemes, 1);
	ck_assert_str_eq(c->remote_code.allowed_schemes[0], "https");
	ck_assert_uint_eq(c->remote_code.n_allowed_hosts, 0);
	ck_assert_uint_eq(c->remote_code.n_blocked_hosts, 10);
	ck_assert_str_eq(c->remote_code.blocked_hosts[0], "^localhost$");
	ck_assert_str_eq(c->remote_code.blocked_hosts[1], "^127(?:\\.[0-9]{1,3}){3}$");
	ck_assert_str_eq(c->remote_code.blocked_hosts[2], "^\\[::1\\]$");
	ck_assert_str_eq(c->remote_code.blocked_hosts[5], "^172\\.(?:1[6-9]|2[0-9]|3[0-1])(?:\\.[0-9]{1,3}){2}$");
	ck_assert_str_eq(c->remote_code.blocked_hosts[9], "^169\\.254\\.169\\.254$");
	ck_assert(c->remote_code.max_code_size == 10485760);
	ck_assert(c->remote_code.fetch_timeout_ms == 30000);
	ck_assert(!c->remote_code.require_hash);
	ck_assert(c->remote_code.enable_cache);
	ck_assert(c->remote_code.cache_ttl == 3600);
	ck_assert(!c->audit.enabled);
	ck_assert_str_eq(c->audit.destination, "filesystem");
	ck_assert_ptr_null(c->audit.log_dir);
	ck_assert_ptr_null(c->audit.post_log_script);
	ck_assert(c->audit.track_resources);
	ck_assert(c->audit.retention_days == 90);
	ck_assert(!c->audit.include_code && !c->audit.include_output);
	ck_assert(!c->auth.enabled);
	ck_assert_ptr_null(c->auth.connection_string);
	ck_assert(c->auth.default_ttl_ms == 86400000);
	ck_assert(c->auth.cleanup_interval_ms == 3600000);
	ck_assert_uint_eq(c->n_prebuilt, 0);
	ck_assert_ptr_nonnull(c->root);
}

START_TEST(test_defaults)
{
	struct isol8_config c;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_int_eq(isol8_config_defaults(&c, &err), 0);
	check_defaults(&c);
	ck_assert_ptr_null(c.source);
	isol8_config_free(&c);
	ck_assert_ptr_null(c.root);
	isol8_config_free(&c); /* idempotent */

	parse_ok("{}", &c);
	check_defaults(&c);
	ck_assert_str_eq(c.source, "t.json");
	isol8_config_free(&c);
}
END_TEST

START_TEST(test_deep_merge)
{
	struct isol8_config c;
	json_object *d, *v;

	parse_ok("{\"defaults\": {\"timeoutMs\": 5000, \"cpuLimit\": 2},"
		 " \"network\": {\"whitelist\": [\"^pypi\\\\.org$\"]},"
		 " \"remoteCode\": {\"enabled\": true},"
		 " \"maxConcurrent\": null,"
		 " \"cleanup\": {\"autoPrune\": false}}",
		 &c);
	ck_assert(c.defaults.timeout_ms == 5000);
	ck_assert(c.defaults.cpu == 2.0);
	/* unspecified siblings keep their defaults */
	ck_assert(c.defaults.memory == 512ULL << 20);
	ck_assert_str_eq(c.defaults.network, "none");
	ck_assert(c.defaults.tmp_size == 256ULL << 20);
	ck_assert_uint_eq(c.n_whitelist, 1);
	ck_assert_str_eq(c.whitelist[0], "^pypi\\.org$");
	ck_assert_uint_eq(c.n_blacklist, 0);
	ck_assert(c.remote_code.enabled);
	ck_assert_uint_eq(c.remote_code.n_blocked_hosts, 10);
	ck_assert_uint_eq(c.max_concurrent, 10); /* null means "not set" */
	ck_assert(!c.auto_prune);
	ck_assert(c.max_container_age_ms == 3600000);
	/* the merged document shows both */
	ck_assert(json_object_object_get_ex(c.root, "defaults", &d));
	ck_assert(json_object_object_get_ex(d, "memoryLimit", &v));
	ck_assert_str_eq(json_object_get_string(v), "512m");
	ck_assert(json_object_object_get_ex(d, "timeoutMs", &v));
	ck_assert_int_eq(json_object_get_int(v), 5000);
	isol8_config_free(&c);

	/* arrays replace, never concatenate */
	parse_ok("{\"remoteCode\": {\"blockedHosts\": [\"^evil$\"]}}", &c);
	ck_assert_uint_eq(c.remote_code.n_blocked_hosts, 1);
	ck_assert_str_eq(c.remote_code.blocked_hosts[0], "^evil$");
	isol8_config_free(&c);
}
END_TEST

START_TEST(test_all_keys)
{
	struct isol8_config c;
	json_object *v;

	parse_ok("{\"$schema\": \"node_modules/@isol8/core/schema/isol8.config.schema.json\","
		 " \"debug\": true, \"maxConcurrent\": 4,"
		 " \"defaults\": {\"timeoutMs\": 1e4, \"memoryLimit\": \"1.5g\", \"cpuLimit\": 0.5,"
		 "   \"network\": \"filtered\", \"sandboxSize\": \"1g\", \"tmpSize\": \"64mb\", \"readonlyRootFs\": "
		 "false},"
		 " \"network\": {\"whitelist\": [], \"blacklist\": [\".*\\\\.ru$\"]},"
		 " \"cleanup\": {\"autoPrune\": true, \"maxContainerAgeMs\": 60000},"
		 " \"dependencies\": {\"python\": [\"numpy\", \"pandas\"], \"node\": [\"lodash\"], \"agent\": []},"
		 " \"security\": {\"seccomp\": \"custom\", \"customProfilePath\": \"/etc/p.json\"},"
		 " \"poolStrategy\": \"secure\", \"poolSize\": 3,"
		 " \"remoteCode\": {\"enabled\": true, \"allowedSchemes\": [\"https\", \"http\"], \"allowedHosts\": "
		 "[\"x\"],"
		 "   \"blockedHosts\": [], \"maxCodeSize\": 1000, \"fetchTimeoutMs\": 5, \"requireHash\": true,"
		 "   \"enableCache\": false, \"cacheTtl\": 0},"
		 " \"audit\": {\"enabled\": true, \"destination\": \"stdout\", \"logDir\": \"/var/log/i\","
		 "   \"postLogScript\": \"/bin/true\", \"trackResources\": false, \"retentionDays\": 7,"
		 "   \"includeCode\": true, \"includeOutput\": true},"
		 " \"auth\": {\"enabled\": true, \"connectionString\": \"/tmp/a.db\", \"defaultTtlMs\": 1000,"
		 "   \"cleanupIntervalMs\": 2000},"
		 " \"prebuiltImages\": [{\"tag\": \"my-py\", \"runtime\": \"python\", \"installPackages\": [\"numpy\"],"
		 "   \"setupScript\": \"echo hi\"}, {\"tag\": \"b\", \"runtime\": \"bash\", \"installPackages\": []}]}",
		 &c);
	ck_assert(c.debug);
	ck_assert_uint_eq(c.max_concurrent, 4);
	ck_assert(c.defaults.timeout_ms == 10000);
	ck_assert(c.defaults.memory == 3ULL << 29);
	ck_assert_str_eq(c.defaults.memory_str, "1.5g");
	ck_assert(c.defaults.cpu == 0.5);
	ck_assert_str_eq(c.defaults.network, "filtered");
	ck_assert(c.defaults.sandbox_size == 1ULL << 30);
	ck_assert(c.defaults.tmp_size == 64ULL << 20);
	ck_assert(!c.readonly_root_fs);
	ck_assert_uint_eq(c.n_blacklist, 1);
	ck_assert(c.max_container_age_ms == 60000);
	ck_assert_uint_eq(c.n_deps[0], 2);
	ck_assert_str_eq(c.deps[0][1], "pandas");
	ck_assert_ptr_null(c.deps[0][2]);
	ck_assert_uint_eq(c.n_deps[1], 1);
	ck_assert_ptr_null(c.deps[2]);
	ck_assert_ptr_nonnull(c.deps[ISOL8_CONF_DEP_AGENT]);
	ck_assert_uint_eq(c.n_deps[ISOL8_CONF_DEP_AGENT], 0);
	ck_assert_str_eq(c.seccomp, "custom");
	ck_assert_str_eq(c.custom_profile_path, "/etc/p.json");
	ck_assert_str_eq(c.pool_strategy, "secure");
	ck_assert(c.pool_size_single);
	ck_assert_uint_eq(c.pool_clean, 3);
	ck_assert_uint_eq(c.pool_dirty, 3);
	ck_assert(c.remote_code.enabled && c.remote_code.require_hash && !c.remote_code.enable_cache);
	ck_assert_uint_eq(c.remote_code.n_allowed_schemes, 2);
	ck_assert_uint_eq(c.remote_code.n_blocked_hosts, 0);
	ck_assert(c.remote_code.max_code_size == 1000 && c.remote_code.fetch_timeout_ms == 5);
	ck_assert(c.remote_code.cache_ttl == 0);
	ck_assert(c.audit.enabled && !c.audit.track_resources && c.audit.include_code && c.audit.include_output);
	ck_assert_str_eq(c.audit.destination, "stdout");
	ck_assert_str_eq(c.audit.log_dir, "/var/log/i");
	ck_assert_str_eq(c.audit.post_log_script, "/bin/true");
	ck_assert(c.audit.retention_days == 7);
	ck_assert(c.auth.enabled);
	ck_assert_str_eq(c.auth.connection_string, "/tmp/a.db");
	ck_assert(c.auth.default_ttl_ms == 1000 && c.auth.cleanup_interval_ms == 2000);
	ck_assert_uint_eq(c.n_prebuilt, 2);
	ck_assert_str_eq(c.prebuilt[0].tag, "my-py");
	ck_assert_str_eq(c.prebuilt[0].runtime, "python");
	ck_assert_uint_eq(c.prebuilt[0].n_install_packages, 1);
	ck_assert_str_eq(c.prebuilt[0].setup_script, "echo hi");
	ck_assert_ptr_null(c.prebuilt[1].setup_script);
	/* "$schema" is accepted but not part of the resolved configuration */
	ck_assert(!json_object_object_get_ex(c.root, "$schema", &v));
	isol8_config_free(&c);
}
END_TEST

START_TEST(test_pool_size_object)
{
	struct isol8_config c;

	parse_ok("{\"poolSize\": {\"clean\": 2, \"dirty\": 0}}", &c);
	ck_assert(!c.pool_size_single);
	ck_assert_uint_eq(c.pool_clean, 2);
	ck_assert_uint_eq(c.pool_dirty, 0);
	ck_assert(c.pool_size_set);
	ck_assert(!c.max_concurrent_set && !c.pool_strategy_set);
	isol8_config_free(&c);
	parse_ok("{\"maxConcurrent\": 3, \"poolStrategy\": \"secure\"}", &c);
	ck_assert(c.max_concurrent_set && c.pool_strategy_set && !c.pool_size_set);
	isol8_config_free(&c);
	parse_ok("{\"maxConcurrent\": null, \"poolStrategy\": null}", &c);
	ck_assert(!c.max_concurrent_set && !c.pool_strategy_set && !c.pool_size_set);
	ck_assert_uint_eq(c.max_concurrent, 10);
	isol8_config_free(&c);
	/* Both members are required (schema; the original replaces the object whole). */
	expect_error("{\"poolSize\": {\"clean\": 5}}", "poolSize.dirty: missing required key", NULL);
	expect_error("{\"poolSize\": {\"dirty\": 5}}", "poolSize.clean: missing required key", NULL);
	expect_error("{\"poolSize\": {\"clean\": null, \"dirty\": 1}}", "poolSize.clean: missing required key", NULL);
	expect_error("{\"poolSize\": {}}", "poolSize.clean: missing required key", NULL);
	parse_ok("{\"poolSize\": null}", &c);
	ck_assert_uint_eq(c.pool_clean, 1);
	ck_assert_uint_eq(c.pool_dirty, 1);
	ck_assert(!c.pool_size_set);
	isol8_config_free(&c);
	expect_error("{\"poolSize\": \"3\"}", "poolSize: expected number or object, got string", NULL);
	expect_error("{\"poolSize\": -1}", "poolSize: -1 is out of range", NULL);
	expect_error("{\"poolSize\": 1.5}", "poolSize: expected an integer", NULL);
	expect_error("{\"poolSize\": {\"clean\": 1, \"dity\": 1}}", "poolSize.dity: unknown key", NULL);
	expect_error("{\"poolSize\": {\"clean\": true}}", "poolSize.clean: expected number, got boolean", NULL);
}
END_TEST

START_TEST(test_unknown_keys)
{
	expect_error("{\"foo\": 1}", "t.json: foo: unknown key", NULL);
	expect_error("{\"defaults\": {\"memoryLimt\": \"1g\"}}", "t.json: defaults.memoryLimt: unknown key", NULL);
	expect_error("{\"remoteCode\": {\"enabled\": true, \"x\": 1}}", "remoteCode.x: unknown key", NULL);
	expect_error("{\"audit\": {\"dir\": \"/x\"}}", "audit.dir: unknown key", NULL);
	expect_error("{\"dependencies\": {\"ruby\": []}}", "dependencies.ruby: unknown key", NULL);
	expect_error(
		"{\"prebuiltImages\": [{\"tag\": \"a\", \"runtime\": \"bash\", \"installPackages\": [], \"x\": 1}]}",
		"prebuiltImages[0].x: unknown key", NULL);
	/* hostile key: control bytes are escaped in the message */
	{
		struct isol8_config c;
		struct isol8_err err = ISOL8_ERR_INIT;
		ck_assert_int_eq(isol8_config_parse("{\"\\u001b[31mred\": 1}", "t.json", &c, &err), -1);
		ck_assert_ptr_null(strchr(err.msg, '\x1b'));
		ck_assert_ptr_nonnull(strstr(err.msg, "\\x1b[31mred: unknown key"));
	}
}
END_TEST

START_TEST(test_wrong_types)
{
	expect_error("{\"defaults\": {\"memoryLimit\": 512}}",
		     "t.json: defaults.memoryLimit: expected string, got number", NULL);
	expect_error("{\"maxConcurrent\": \"10\"}", "maxConcurrent: expected number, got string", NULL);
	expect_error("{\"maxConcurrent\": 0}", "maxConcurrent: 0 is out of range", NULL);
	expect_error("{\"maxConcurrent\": 1e400}", "t.json: ", NULL);
	expect_error("{\"debug\": 1}", "debug: expected boolean, got number", NULL);
	expect_error("{\"defaults\": 5}", "defaults: expected object, got number", NULL);
	expect_error("{\"defaults\": []}", "defaults: expected object, got array", NULL);
	expect_error("{\"network\": {\"whitelist\": \"x\"}}", "network.whitelist: expected array, got string", NULL);
	expect_error("{\"network\": {\"whitelist\": [\"a\", 1]}}", "network.whitelist[1]: expected string, got number",
		     NULL);
	expect_error("{\"network\": {\"blacklist\": [null]}}", "network.blacklist[0]: expected string, got null", NULL);
	expect_error("{\"network\": {\"blacklist\": [\"a\\u0000b\"]}}", "network.blacklist[0]: string contains a NUL",
		     NULL);
	expect_error("{\"defaults\": {\"cpuLimit\": \"1\"}}", "defaults.cpuLimit: expected number, got string", NULL);
	expect_error("{\"defaults\": {\"cpuLimit\": 0}}", "defaults.cpuLimit: must be greater than 0", NULL);
	expect_error("{\"defaults\": {\"cpuLimit\": 2000}}", "defaults.cpuLimit: 2000 is out of range", NULL);
	expect_error("{\"defaults\": {\"timeoutMs\": -5}}", "defaults.timeoutMs: -5 is out of range", NULL);
	expect_error("{\"defaults\": {\"timeoutMs\": 99999999999999999999}}", "defaults.timeoutMs", NULL);
	expect_error("{\"prebuiltImages\": {}}", "prebuiltImages: expected array, got object", NULL);
	expect_error("{\"prebuiltImages\": [\"x\"]}", "prebuiltImages[0]: expected object, got string", NULL);
	expect_error("{\"prebuiltImages\": [{\"runtime\": \"bash\", \"installPackages\": []}]}",
		     "prebuiltImages[0].tag: missing required key", NULL);
	expect_error("{\"prebuiltImages\": [{\"tag\": \"\", \"runtime\": \"bash\", \"installPackages\": []}]}",
		     "prebuiltImages[0].tag: must not be empty", NULL);
	expect_error("[]", "expected a JSON object at the top level, got array", NULL);
	expect_error("\"str\"", "expected a JSON object at the top level, got string", NULL);
	expect_error("{\"$schema\": 3}", "$schema: expected string, got number", NULL);
}
END_TEST

START_TEST(test_bad_sizes)
{
	expect_error("{\"defaults\": {\"memoryLimit\": \"12x\"}}", "defaults.memoryLimit: invalid size \"12x\"", NULL);
	expect_error("{\"defaults\": {\"memoryLimit\": \"\"}}", "defaults.memoryLimit: invalid size", NULL);
	expect_error("{\"defaults\": {\"memoryLimit\": \"0\"}}", "defaults.memoryLimit: size must be greater than 0",
		     NULL);
	expect_error("{\"defaults\": {\"tmpSize\": \"1 g\"}}", "defaults.tmpSize: invalid size", NULL);
	expect_error("{\"defaults\": {\"sandboxSize\": \"99999999999t\"}}", "defaults.sandboxSize: invalid size",
		     "too large");
}
END_TEST

START_TEST(test_bad_enums)
{
	expect_error("{\"defaults\": {\"network\": \"bridge\"}}", "defaults.network: invalid value \"bridge\"",
		     "none, host, filtered");
	expect_error("{\"security\": {\"seccomp\": \"off\"}}", "security.seccomp: invalid value \"off\"",
		     "strict, unconfined, custom");
	expect_error("{\"poolStrategy\": \"slow\"}", "poolStrategy: invalid value \"slow\"", "fast, secure");
	expect_error("{\"audit\": {\"destination\": \"syslog\"}}", "audit.destination: invalid value", NULL);
	expect_error("{\"prebuiltImages\": [{\"tag\": \"a\", \"runtime\": \"ruby\", \"installPackages\": []}]}",
		     "prebuiltImages[0].runtime: invalid value \"ruby\"", NULL);
	expect_error("{\"security\": {\"seccomp\": \"custom\"}}", "security.customProfilePath: required", NULL);
	expect_error("{\"defaults\": {\"network\": \"NONE\"}}", "defaults.network: invalid value", NULL);
}
END_TEST

START_TEST(test_malformed_json)
{
	expect_error("{", "line 1, column 2", "unexpected end");
	expect_error("", "empty document", NULL);
	expect_error("   \n ", "empty document", NULL);
	expect_error("{\"a\": 1,}", "line 1", NULL);
	expect_error("{\n  \"debug\": true\n  \"x\": 1\n}", "line 3", NULL);
	expect_error("{} {}", "trailing data", NULL);
	expect_error("{} x", "line 1, column 4", "trailing data");
	expect_error("{/* c */}", "line 1", NULL);
	/* json-c's strict mode still reads NaN/Infinity; the typed getters refuse them. */
	expect_error("{\"debug\": NaN}", "debug: expected boolean, got number", NULL);
	expect_error("{\"defaults\": {\"cpuLimit\": NaN}}", "defaults.cpuLimit: NaN is out of range", NULL);
	expect_error("{\"defaults\": {\"cpuLimit\": -Infinity}}", "defaults.cpuLimit", "out of range");
	expect_error("{\"maxConcurrent\": Infinity}", "maxConcurrent: expected an integer", NULL);
	expect_error("{\"debug\": tru}", "line 1", NULL);
	expect_error("null", "null", NULL);
	expect_error("5", "expected a JSON object at the top level, got number", NULL);
	expect_error(" true ", "expected a JSON object at the top level, got boolean", NULL);
	expect_error("{\"a\": \"\xff\xfe\"}", "line 1", NULL);
	/* nesting beyond the tokener depth */
	{
		char deep[200];
		size_t i = 0;
		for (; i < 90; i++)
			deep[i] = '[';
		deep[i] = '\0';
		expect_error(deep, "line 1", NULL);
	}
	{
		/* a huge document is refused before parsing */
		size_t n = ISOL8_CONF_MAX_BYTES + 10;
		char *big = malloc(n + 1);
		memset(big, ' ', n);
		big[0] = '{';
		big[n - 1] = '}';
		big[n] = '\0';
		expect_error(big, "too large", NULL);
		free(big);
	}
}
END_TEST

/* --- discovery: each test runs in its own forked process (CK_FORK), so chdir/setenv are local --- */

static char tmpdir[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void setup_dirs(void)
{
	char p[256];

	snprintf(tmpdir, sizeof tmpdir, "/tmp/isol8-conf-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(p, sizeof p, "%s/home", tmpdir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof p, "%s/home/.isol8", tmpdir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof p, "%s/proj", tmpdir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof p, "%s/home", tmpdir);
	ck_assert_int_eq(setenv("HOME", p, 1), 0);
	snprintf(p, sizeof p, "%s/proj", tmpdir);
	ck_assert_int_eq(chdir(p), 0);
}

static void teardown_dirs(void)
{
	char cmd[128];

	if (chdir("/") != 0)
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", tmpdir);
}

START_TEST(test_discovery_order)
{
	struct isol8_config c;
	struct isol8_err err = ISOL8_ERR_INIT;
	char home_cfg[256], cwd_cfg[256], other[256];

	setup_dirs();
	snprintf(home_cfg, sizeof home_cfg, "%s/home/.isol8/config.json", tmpdir);
	snprintf(cwd_cfg, sizeof cwd_cfg, "%s/proj/isol8.config.json", tmpdir);
	snprintf(other, sizeof other, "%s/other.json", tmpdir);

	/* nothing: defaults */
	ck_assert_int_eq(isol8_config_load(NULL, &c, &err), 0);
	ck_assert_ptr_null(c.source);
	check_defaults(&c);
	isol8_config_free(&c);

	/* home only */
	write_file(home_cfg, "{\"maxConcurrent\": 2}");
	ck_assert_int_eq(isol8_config_load(NULL, &c, &err), 0);
	ck_assert_str_eq(c.source, home_cfg);
	ck_assert_uint_eq(c.max_concurrent, 2);
	isol8_config_free(&c);

	/* cwd wins; files are not layered */
	write_file(cwd_cfg, "{\"debug\": true}");
	ck_assert_int_eq(isol8_config_load(NULL, &c, &err), 0);
	ck_assert_str_eq(c.source, cwd_cfg);
	ck_assert(c.debug);
	ck_assert_uint_eq(c.max_concurrent, 10);
	isol8_config_free(&c);

	/* explicit path overrides discovery */
	write_file(other, "{\"maxConcurrent\": 7}");
	ck_assert_int_eq(isol8_config_load(other, &c, &err), 0);
	ck_assert_str_eq(c.source, other);
	ck_assert_uint_eq(c.max_concurrent, 7);
	ck_assert(!c.debug);
	isol8_config_free(&c);

	/* an error names the file found */
	write_file(cwd_cfg, "{\"defaults\": {\"memoryLimit\": 1}}");
	ck_assert_int_eq(isol8_config_load(NULL, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, cwd_cfg));
	ck_assert_ptr_nonnull(strstr(err.msg, "defaults.memoryLimit: expected string, got number"));

	write_file(cwd_cfg, "{\"debug\": tru");
	ck_assert_int_eq(isol8_config_load(NULL, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, cwd_cfg));
	ck_assert_ptr_nonnull(strstr(err.msg, "line 1"));

	/* HOME unset or empty falls back to the password database, and does not crash */
	ck_assert_int_eq(unlink(cwd_cfg), 0);
	ck_assert_int_eq(setenv("HOME", "", 1), 0);
	ck_assert_int_eq(isol8_config_load(NULL, &c, &err), 0);
	isol8_config_free(&c);
	teardown_dirs();
}
END_TEST

START_TEST(test_discovery_errors)
{
	struct isol8_config c;
	struct isol8_err err = ISOL8_ERR_INIT;
	char p[256];

	setup_dirs();
	snprintf(p, sizeof p, "%s/missing.json", tmpdir);
	ck_assert_int_eq(isol8_config_load(p, &c, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, p));

	/* a directory in place of the file is an error, not a silent skip */
	snprintf(p, sizeof p, "%s/proj/isol8.config.json", tmpdir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(isol8_config_load(NULL, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
	ck_assert_int_eq(rmdir(p), 0);

	/* oversized file */
	{
		FILE *f = fopen(p, "w");
		ck_assert_ptr_nonnull(f);
		fputc('{', f);
		for (int i = 0; i < ISOL8_CONF_MAX_BYTES; i++)
			fputc(' ', f);
		fputc('}', f);
		fclose(f);
		ck_assert_int_eq(isol8_config_load(NULL, &c, &err), -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "too large"));
	}
	/* NUL byte in the file */
	{
		int fd = open(p, O_WRONLY | O_TRUNC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, "{\"debug\"\0: true}", 16), 16);
		close(fd);
		ck_assert_int_eq(isol8_config_load(NULL, &c, &err), -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "NUL byte"));
	}
	teardown_dirs();
}
END_TEST

/* json helpers used by other loaders */
START_TEST(test_json_merge)
{
	json_object *a = json_tokener_parse("{\"x\": {\"y\": 1, \"z\": [1, 2]}, \"k\": 1, \"n\": 5}");
	json_object *b = json_tokener_parse("{\"x\": {\"z\": [3], \"w\": {\"q\": 1}}, \"k\": {\"o\": 1}, \"n\": null}");
	json_object *m = isol8_json_merge(a, b, true);

	ck_assert_str_eq(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
			 "{\"x\":{\"y\":1,\"z\":[3],\"w\":{\"q\":1}},\"k\":{\"o\":1},\"n\":5}");
	json_object_put(m);
	m = isol8_json_merge(a, b, false);
	ck_assert_str_eq(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
			 "{\"x\":{\"y\":1,\"z\":[3],\"w\":{\"q\":1}},\"k\":{\"o\":1},\"n\":null}");
	json_object_put(m);
	/* inputs untouched */
	ck_assert_str_eq(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
			 "{\"x\":{\"y\":1,\"z\":[1,2]},\"k\":1,\"n\":5}");
	m = isol8_json_merge(NULL, a, true);
	ck_assert(json_object_equal(m, a));
	json_object_put(m);
	m = isol8_json_merge(a, NULL, true);
	ck_assert(json_object_equal(m, a));
	json_object_put(m);
	json_object_put(a);
	json_object_put(b);
}
END_TEST

START_TEST(test_json_paths)
{
	char p[ISOL8_JSON_PATH_MAX];
	char small[8];

	isol8_json_path_key(p, sizeof p, "", "a");
	ck_assert_str_eq(p, "a");
	isol8_json_path_key(p, sizeof p, "a", "b\n");
	ck_assert_str_eq(p, "a.b\\x0a");
	isol8_json_path_index(p, sizeof p, p, 12);
	ck_assert_str_eq(p, "a.b\\x0a[12]");
	isol8_json_path_key(small, sizeof small, "abcdef", "ghijkl");
	ck_assert_uint_lt(strlen(small), sizeof small);
	{
		char *longkey = malloc(5000);
		memset(longkey, 'k', 4999);
		longkey[4999] = '\0';
		isol8_json_path_key(p, sizeof p, "x", longkey);
		ck_assert_uint_lt(strlen(p), sizeof p);
		free(longkey);
	}
}
END_TEST

START_TEST(test_json_u64)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint64_t u;
	json_object *v;

	v = json_tokener_parse("18446744073709551615");
	ck_assert_int_eq(isol8_json_as_u64(v, "n", 0, UINT64_MAX, &u, &err), 0);
	ck_assert(u == UINT64_MAX);
	json_object_put(v);
	v = json_tokener_parse("-9223372036854775808");
	ck_assert_int_eq(isol8_json_as_u64(v, "n", 0, UINT64_MAX, &u, &err), -1);
	json_object_put(v);
	v = json_tokener_parse("3.0");
	ck_assert_int_eq(isol8_json_as_u64(v, "n", 0, 10, &u, &err), 0);
	ck_assert(u == 3);
	json_object_put(v);
	v = json_tokener_parse("1e30");
	ck_assert_int_eq(isol8_json_as_u64(v, "n", 0, UINT64_MAX, &u, &err), -1);
	json_object_put(v);
}
END_TEST

/* network.registries.<runtime>: lists of host patterns, validated at load (issues 7, 12). */
START_TEST(test_registries)
{
	struct isol8_config c;

	parse_ok("{}", &c);
	for (int i = 0; i < ISOL8_CONF_NREG; i++)
		ck_assert_ptr_null(c.registries[i]); /* absent: the host's package managers decide */
	isol8_config_free(&c);

	parse_ok("{\"network\": {\"registries\": {\"python\": [\"^pypi\\\\.corp$\", \"^files\\\\.corp$\"],"
		 " \"bash\": []}}}",
		 &c);
	ck_assert_uint_eq(c.n_registries[0], 2);
	ck_assert_str_eq(c.registries[0][0], "pypi.corp"); /* stored as host patterns */
	ck_assert_str_eq(c.registries[0][1], "files.corp");
	ck_assert_ptr_null(c.registries[1]);
	ck_assert_ptr_nonnull(c.registries[4]); /* present but empty: used as is */
	ck_assert_uint_eq(c.n_registries[4], 0);
	isol8_config_free(&c);

	expect_error("{\"network\": {\"registries\": {\"agent\": []}}}", "network.registries.agent", "unknown key");
	expect_error("{\"network\": {\"registries\": {\"ruby\": []}}}", "network.registries.ruby", "unknown key");
	expect_error("{\"network\": {\"registries\": []}}", "network.registries", "expected object");
	expect_error("{\"network\": {\"registries\": {\"node\": \"^a$\"}}}", "network.registries.node", NULL);
	expect_error("{\"network\": {\"registries\": {\"node\": [1]}}}", "network.registries.node", NULL);
	expect_error("{\"network\": {\"registries\": {\"node\": [\"^a$\", \"(\"]}}}", "network.registries.node[1]",
		     "invalid network pattern '('");
	expect_error("{\"network\": {\"registries\": {\"deno\": [\"\"]}}}", "network.registries.deno[0]",
		     "must not be empty");
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");
	TCase *td = tcase_create("discovery");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_deep_merge);
	tcase_add_test(tc, test_all_keys);
	tcase_add_test(tc, test_pool_size_object);
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_bad_sizes);
	tcase_add_test(tc, test_bad_enums);
	tcase_add_test(tc, test_malformed_json);
	tcase_add_test(tc, test_json_merge);
	tcase_add_test(tc, test_json_paths);
	tcase_add_test(tc, test_json_u64);
	tcase_add_test(tc, test_registries);
	suite_add_tcase(s, tc);
	tcase_add_test(td, test_discovery_order);
	tcase_add_test(td, test_discovery_errors);
	suite_add_tcase(s, td);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
