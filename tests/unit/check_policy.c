/* Unit tests for policy/: built-in policy, strict file loader (exact messages), matching,
 * ceilings and image checks. */
#include "config.h"
#include "policy/policy.h"

#include <check.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ISOL8_TEST_SRCDIR
#define ISOL8_TEST_SRCDIR "."
#endif

#define MIB (1024ull * 1024ull)
#define GIB (1024ull * MIB)

static const struct isol8_tenant *find(const struct isol8_policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_tenants; i++)
		if (strcmp(p->tenants[i].name, name) == 0)
			return &p->tenants[i];
	return NULL;
}

START_TEST(test_names)
{
	ck_assert_str_eq(isol8_runtime_name(ISOL8_RT_DENO), "deno");
	ck_assert_ptr_null(isol8_runtime_name(ISOL8_RT__MAX));
	ck_assert_ptr_null(isol8_runtime_name(-1));
	ck_assert_int_eq(isol8_runtime_parse("bash"), ISOL8_RT_BASH);
	ck_assert_int_eq(isol8_runtime_parse("Bash"), -1);
	ck_assert_int_eq(isol8_runtime_parse(NULL), -1);
	ck_assert_str_eq(isol8_net_mode_name(ISOL8_NET_HOST), "host");
	ck_assert_ptr_null(isol8_net_mode_name(3));
	ck_assert_int_eq(isol8_net_mode_parse("filtered"), ISOL8_NET_FILTERED);
	ck_assert_int_eq(isol8_net_mode_parse(""), -1);
}
END_TEST

START_TEST(test_builtin)
{
	struct isol8_policy p;
	const struct isol8_tenant *t;
	struct isol8_err err = ISOL8_ERR_INIT;

	isol8_policy_builtin(&p);
	ck_assert_str_eq(p.source, "built-in");
	t = isol8_policy_match_local(&p, 0, 0);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->name, "admin");
	ck_assert(t->ceil.memory == 8 * GIB);
	ck_assert_int_eq(isol8_policy_check_network(t, ISOL8_NET_HOST, &err), 0);
	ck_assert(t->writable_root);

	t = isol8_policy_match_local(&p, 1000, 1000);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->name, "local");
	ck_assert(t->ceil.memory == 512 * MIB);
	ck_assert(t->ceil.cpu == 1.0);
	ck_assert_uint_eq(t->ceil.pids, 64);
	ck_assert(t->ceil.timeout_ms == 30000);
	ck_assert(t->ceil.tmp_size == 256 * MIB);
	ck_assert(t->ceil.max_output == MIB);
	ck_assert(!t->writable_root);
	ck_assert(!t->seccomp_unconfined_ok);
	ck_assert(!t->refuse_on_exceed);
	ck_assert_int_eq(isol8_policy_check_network(t, ISOL8_NET_FILTERED, &err), 0);
	ck_assert_int_eq(isol8_policy_check_network(t, ISOL8_NET_HOST, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_POLICY);
	ck_assert_str_eq(err.msg, "network host is not allowed for tenant local");

	/* gid 0 alone is not admin. */
	t = isol8_policy_match_local(&p, 1000, 0);
	ck_assert_str_eq(t->name, "local");
	/* HTTP keys not listed map to local. */
	ck_assert_str_eq(isol8_policy_match_key(&p, "ci-bot")->name, "local");
	isol8_policy_free(&p);
	isol8_policy_free(&p); /* idempotent */
}
END_TEST

static void tenants_equal(const struct isol8_tenant *a, const struct isol8_tenant *b)
{
	ck_assert_str_eq(a->name, b->name);
	ck_assert_uint_eq(a->n_uids, b->n_uids);
	for (size_t i = 0; i < a->n_uids; i++)
		ck_assert_uint_eq(a->uids[i], b->uids[i]);
	ck_assert_uint_eq(a->n_gids, b->n_gids);
	ck_assert_uint_eq(a->n_keys, b->n_keys);
	ck_assert_int_eq(a->refuse_on_exceed, b->refuse_on_exceed);
	ck_assert(a->ceil.memory == b->ceil.memory);
	ck_assert(a->ceil.cpu == b->ceil.cpu);
	ck_assert_uint_eq(a->ceil.pids, b->ceil.pids);
	ck_assert(a->ceil.timeout_ms == b->ceil.timeout_ms);
	ck_assert(a->ceil.sandbox_size == b->ceil.sandbox_size);
	ck_assert(a->ceil.tmp_size == b->ceil.tmp_size);
	ck_assert(a->ceil.max_output == b->ceil.max_output);
	ck_assert_uint_eq(a->max_sessions, b->max_sessions);
	ck_assert(a->session_idle_ms == b->session_idle_ms);
	ck_assert_uint_eq(a->max_concurrent, b->max_concurrent);
	ck_assert_int_eq(a->persist_ok, b->persist_ok);
	ck_assert_uint_eq(a->max_persist, b->max_persist);
	ck_assert_uint_eq(a->persist_ttl_ms, b->persist_ttl_ms);
	ck_assert_uint_eq(a->runtimes_mask, b->runtimes_mask);
	ck_assert_uint_eq(a->network_mask, b->network_mask);
	ck_assert_int_eq(a->writable_root, b->writable_root);
	ck_assert_int_eq(a->custom_images, b->custom_images);
	ck_assert_uint_eq(a->n_images, b->n_images);
	for (size_t i = 0; i < a->n_images; i++)
		ck_assert_str_eq(a->image_patterns[i], b->image_patterns[i]);
	ck_assert_int_eq(a->seccomp_unconfined_ok, b->seccomp_unconfined_ok);
	ck_assert_int_eq(a->isolation, b->isolation);
	ck_assert_uint_eq(a->host_uid, b->host_uid);
	ck_assert_uint_eq(a->host_gid, b->host_gid);
	ck_assert_uint_eq(a->host_uids, b->host_uids);
	ck_assert_uint_eq(a->net.n_allow, b->net.n_allow);
	for (size_t i = 0; i < a->net.n_allow; i++)
		ck_assert_str_eq(a->net.allow[i], b->net.allow[i]);
	ck_assert_uint_eq(a->net.n_deny, b->net.n_deny);
	ck_assert_uint_eq(a->net.n_ports, b->net.n_ports);
	for (size_t i = 0; i < a->net.n_ports; i++)
		ck_assert_uint_eq(a->net.ports[i], b->net.ports[i]);
	ck_assert_uint_eq(a->net.n_addrs, b->net.n_addrs);
}

START_TEST(test_default_file_equals_builtin)
{
	struct isol8_policy b, f;
	struct isol8_err err = ISOL8_ERR_INIT;

	isol8_policy_builtin(&b);
	ck_assert_msg(isol8_policy_load_file(ISOL8_TEST_SRCDIR "/policy/default-policy.json", &f, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(b.n_tenants, f.n_tenants);
	ck_assert_int_eq(b.default_tenant, f.default_tenant);
	ck_assert_uint_eq(b.uid_base, f.uid_base);
	ck_assert_uint_eq(b.uid_size, f.uid_size);
	ck_assert_uint_eq(b.uid_per_tenant, f.uid_per_tenant);
	for (size_t i = 0; i < b.n_tenants; i++)
		tenants_equal(&b.tenants[i], &f.tenants[i]);
	isol8_policy_free(&b);
	isol8_policy_free(&f);
}
END_TEST

static void expect_parse_error(const char *json, const char *msg)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_int_eq(isol8_policy_parse(json, "policy.json", &p, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	/* A trailing "..." compares a prefix: the rest comes from another module (parse.c, regerror). */
	if (strlen(msg) > 3 && strcmp(msg + strlen(msg) - 3, "...") == 0)
		ck_assert_msg(strncmp(err.msg, msg, strlen(msg) - 3) == 0, "'%s' does not start with '%s'", err.msg,
			      msg);
	else
		ck_assert_str_eq(err.msg, msg);
	ck_assert_ptr_null(p.tenants);
	ck_assert_uint_eq(p.n_tenants, 0);
}

#define T(body) "{\"tenants\":{\"ci\":" body "}}"

/* "networkFilter": the admin's ceiling for filtered sandboxes (issue 12 #3): host patterns in
 * the same syntax as the caller's (never compiled), ports, permitted non-global ranges. */
START_TEST(test_netfilter)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;
	const struct net_policy *n;

	ck_assert_int_eq(isol8_policy_parse(T("{}"), "p", &p, &err), 0);
	n = &p.tenants[0].net; /* defaults: any host, ports 80 and 443, no non-global address */
	ck_assert_uint_eq(n->n_allow, 1);
	ck_assert_str_eq(n->allow[0], "*");
	ck_assert_uint_eq(n->n_ports, 2);
	ck_assert_uint_eq(n->ports[0], 80);
	ck_assert_uint_eq(n->ports[1], 443);
	ck_assert_uint_eq(n->n_addrs, 0);
	isol8_policy_free(&p);

	ck_assert_msg(isol8_policy_parse(T("{\"networkFilter\":{\"allow\":[\"^pypi\\\\.org$\",\"*.npmjs.org\"],"
					   "\"deny\":[\"evil.test\"],\"ports\":[443],"
					   "\"allowAddresses\":[\"10.1.0.0/16\",\"fd00::/8\"]}}"),
					 "p", &p, &err) == 0,
		      "%s", err.msg);
	n = &p.tenants[0].net;
	ck_assert_uint_eq(n->n_allow, 2);
	ck_assert_str_eq(n->allow[0], "pypi.org"); /* stored canonical */
	ck_assert_str_eq(n->allow[1], "*.npmjs.org");
	ck_assert_str_eq(n->deny[0], "evil.test");
	ck_assert_uint_eq(n->n_ports, 1);
	ck_assert_uint_eq(n->ports[0], 443);
	ck_assert_uint_eq(n->n_addrs, 2);
	isol8_policy_free(&p);

	expect_parse_error(T("{\"networkFilter\":{\"allow\":[\"a+++++\"]}}"),
			   "policy.json: tenants.ci.networkFilter.allow[0]: invalid network pattern...");
	expect_parse_error(T("{\"networkFilter\":{\"ports\":[0]}}"),
			   "policy.json: tenants.ci.networkFilter.ports[0]...");
	expect_parse_error(T("{\"networkFilter\":{\"ports\":[65536]}}"),
			   "policy.json: tenants.ci.networkFilter.ports[0]...");
	expect_parse_error(T("{\"networkFilter\":{\"allowAddresses\":[\"10.0.0.1/8\"]}}"),
			   "policy.json: tenants.ci.networkFilter.allowAddresses[0]: invalid address range...");
	expect_parse_error(T("{\"networkFilter\":{\"port\":[80]}}"),
			   "policy.json: tenants.ci.networkFilter.port: unknown key");
	expect_parse_error(T("{\"networkFilter\":[]}"), "policy.json: tenants.ci.networkFilter: expected object...");
}
END_TEST

/* "remoteCode" (issue 15 item 3): off by default and for the built-in tenants; the keys
 * checked at load with the fetcher's own syntax. */
START_TEST(test_remote_code)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;
	const struct isol8_remote_policy *r;

	isol8_policy_builtin(&p);
	for (size_t i = 0; i < p.n_tenants; i++)
		ck_assert_msg(!p.tenants[i].remote.enabled, "built-in tenant %s fetches remote code",
			      p.tenants[i].name);
	isol8_policy_free(&p);
	ck_assert_int_eq(isol8_policy_parse(T("{}"), "p", &p, &err), 0);
	r = &p.tenants[0].remote;
	ck_assert(!r->enabled && r->https_ok && !r->http_ok && !r->require_hash);
	ck_assert_uint_eq(r->net.n_allow, 1);
	ck_assert_str_eq(r->net.allow[0], "*");
	ck_assert_uint_eq(r->net.n_ports, 2);
	ck_assert_uint_eq(r->net.ports[0], 443);
	ck_assert_uint_eq(r->max_size, 10485760);
	ck_assert_uint_eq(r->timeout_ms, 30000);
	ck_assert_ptr_null(r->ca_file);
	isol8_policy_free(&p);
	ck_assert_msg(
		isol8_policy_parse(T("{\"remoteCode\":{\"enabled\":true,\"allowedSchemes\":[\"http\"],"
				     "\"allowedHosts\":[\"^raw\\\\.githubusercontent\\\\.com$\"],"
				     "\"blockedHosts\":[\"evil.test\"],\"ports\":[8443],"
				     "\"allowAddresses\":[\"10.1.2.3\"],\"maxCodeSize\":4096,"
				     "\"fetchTimeoutMs\":500,\"requireHash\":true,\"caFile\":\"/etc/isol8/ca.pem\"}}"),
				   "p", &p, &err) == 0,
		"%s", err.msg);
	r = &p.tenants[0].remote;
	ck_assert(r->enabled && r->http_ok && !r->https_ok && r->require_hash);
	ck_assert_str_eq(r->net.allow[0], "raw.githubusercontent.com"); /* stored canonical */
	ck_assert_str_eq(r->net.deny[0], "evil.test");
	ck_assert_uint_eq(r->net.ports[0], 8443);
	ck_assert_str_eq(r->net.addrs[0], "10.1.2.3");
	ck_assert_uint_eq(r->max_size, 4096);
	ck_assert_uint_eq(r->timeout_ms, 500);
	ck_assert_str_eq(r->ca_file, "/etc/isol8/ca.pem");
	isol8_policy_free(&p);

	expect_parse_error(
		T("{\"remoteCode\":{\"allowedSchemes\":[\"ftp\"]}}"),
		"policy.json: tenants.ci.remoteCode.allowedSchemes[0]: unsupported scheme \"ftp\" (https, http)");
	expect_parse_error(T("{\"remoteCode\":{\"maxCodeSize\":16777217}}"),
			   "policy.json: tenants.ci.remoteCode.maxCodeSize...");
	expect_parse_error(T("{\"remoteCode\":{\"fetchTimeoutMs\":300001}}"),
			   "policy.json: tenants.ci.remoteCode.fetchTimeoutMs...");
	expect_parse_error(T("{\"remoteCode\":{\"caFile\":\"ca.pem\"}}"),
			   "policy.json: tenants.ci.remoteCode.caFile: must be an absolute path");
	expect_parse_error(T("{\"remoteCode\":{\"allowAddresses\":[\"10.0.0.1/8\"]}}"),
			   "policy.json: tenants.ci.remoteCode.allowAddresses[0]: invalid address range...");
	expect_parse_error(T("{\"remoteCode\":{\"allowedHosts\":[\"a+++\"]}}"),
			   "policy.json: tenants.ci.remoteCode.allowedHosts[0]: invalid network pattern...");
	expect_parse_error(T("{\"remoteCode\":{\"enable\":true}}"),
			   "policy.json: tenants.ci.remoteCode.enable: unknown key");
	expect_parse_error(T("{\"remoteCode\":true}"), "policy.json: tenants.ci.remoteCode: expected object...");
}
END_TEST

START_TEST(test_parse_errors)
{
	expect_parse_error(T("{\"limits\":{\"memroy\":\"1g\"}}"), "policy.json: tenants.ci.limits.memroy: unknown key");
	expect_parse_error("{\"tenant\":{}}", "policy.json: tenant: unknown key");
	expect_parse_error("{}", "policy.json: tenants: required key missing");
	expect_parse_error("{\"tenants\":{}}", "policy.json: tenants: at least one tenant is required");
	expect_parse_error("{\"tenants\":[]}", "policy.json: tenants: expected object, got array");
	expect_parse_error("[1]", "policy.json: <root>: expected object, got array");
	expect_parse_error("{\"tenants\":", "policy.json: line 1, column 12: unexpected end of document");
	expect_parse_error("", "policy.json: empty document");
	expect_parse_error(T("{\"limits\":{\"memory\":\"12x\"}}"),
			   "policy.json: tenants.ci.limits.memory: invalid size \"12x\": ...");
	expect_parse_error(T("{\"limits\":{\"memory\":true}}"),
			   "policy.json: tenants.ci.limits.memory: expected size (string like \"512m\" or number of "
			   "bytes), got boolean");
	expect_parse_error(T("{\"limits\":{\"memory\":0}}"),
			   "policy.json: tenants.ci.limits.memory: 0 is out of range [1, 1125899906842624]");
	expect_parse_error(T("{\"limits\":{\"pids\":1.5}}"),
			   "policy.json: tenants.ci.limits.pids: expected an integer, got 1.5");
	expect_parse_error(T("{\"limits\":{\"pids\":-1}}"),
			   "policy.json: tenants.ci.limits.pids: -1 is out of range [1, 4194304]");
	expect_parse_error(T("{\"limits\":{\"cpu\":\"many\"}}"),
			   "policy.json: tenants.ci.limits.cpu: expected a number of CPUs or \"all\"");
	expect_parse_error(T("{\"limits\":{\"cpu\":0}}"),
			   "policy.json: tenants.ci.limits.cpu: 0 is out of range [0.01, 1024]");
	expect_parse_error(T("{\"onExceed\":\"warn\"}"),
			   "policy.json: tenants.ci.onExceed: unknown value \"warn\" (expected clamp, refuse)");
	expect_parse_error(T("{\"runtimes\":[\"python\",\"ruby\"]}"),
			   "policy.json: tenants.ci.runtimes[1]: unknown runtime \"ruby\" (expected python, node, bun, "
			   "deno, bash, agent)");
	expect_parse_error(T("{\"runtimes\":\"python\"}"),
			   "policy.json: tenants.ci.runtimes: expected array, got string");
	expect_parse_error(
		T("{\"network\":[\"bridge\"]}"),
		"policy.json: tenants.ci.network[0]: unknown network mode \"bridge\" (expected none, filtered, "
		"host)");
	expect_parse_error(T("{\"writableRoot\":\"yes\"}"),
			   "policy.json: tenants.ci.writableRoot: expected boolean, got string");
	expect_parse_error(T("{\"seccomp\":\"off\"}"),
			   "policy.json: tenants.ci.seccomp: unknown value \"off\" (expected strict, unconfined)");
	expect_parse_error(T("{\"images\":[\"myorg/(.*\"]}"),
			   "policy.json: tenants.ci.images[0]: invalid regular expression \"myorg/(.*\": ...");
	expect_parse_error(T("{\"images\":[\"\"]}"),
			   "policy.json: tenants.ci.images[0]: pattern must be 1-512 characters");
	expect_parse_error(T("{\"match\":{\"uids\":[-5]}}"),
			   "policy.json: tenants.ci.match.uids[0]: -5 is out of range [0, 4294967294]");
	expect_parse_error(T("{\"match\":{\"uids\":[4294967295]}}"),
			   "policy.json: tenants.ci.match.uids[0]: 4294967295 is out of range [0, 4294967294]");
	expect_parse_error(T("{\"match\":{\"users\":[1]}}"), "policy.json: tenants.ci.match.users: unknown key");
	expect_parse_error(T("{\"match\":{\"keys\":[\"a b\"]}}"),
			   "policy.json: tenants.ci.match.keys[0]: key names are 1-64 characters of [A-Za-z0-9_.-]");
	expect_parse_error(T("{\"match\":{\"keys\":[\"a\\u0000b\"]}}"),
			   "policy.json: tenants.ci.match.keys[0]: string contains a NUL character");
	expect_parse_error(T("null"), "policy.json: tenants.ci: expected object, got null");
	expect_parse_error("{\"tenants\":{\"bad name\":{}}}",
			   "policy.json: tenants.bad name: tenant names are 1-64 characters of [A-Za-z0-9_.-]");
	expect_parse_error("{\"tenants\":{\"a\":{\"match\":{\"uids\":[5]}},\"b\":{\"match\":{\"uids\":[7,5]}}}}",
			   "policy.json: tenants.b.match.uids: uid 5 is also matched by tenant a");
	expect_parse_error("{\"tenants\":{\"a\":{\"match\":{\"gids\":[5,5]}}}}",
			   "policy.json: tenants.a.match.gids: gid 5 is also matched by tenant a");
	expect_parse_error("{\"tenants\":{\"a\":{}},\"defaultTenant\":\"b\"}",
			   "policy.json: defaultTenant: unknown tenant \"b\"");
	expect_parse_error("{\"tenants\":{\"a\":{}},\"defaultTenant\":1}",
			   "policy.json: defaultTenant: expected string, got number");
	expect_parse_error(T("{\"limits\":{\"timeoutMs\":\"soon\"}}"),
			   "policy.json: tenants.ci.limits.timeoutMs: invalid duration \"soon\": ...");
	/* Nesting bombs and NULs stop in the JSON layer. */
	expect_parse_error(
		"{\"tenants\":{\"a\":{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}}}",
		"policy.json: line 1, column 50: nesting too deep");
}
END_TEST

START_TEST(test_parse_ok)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;
	const struct isol8_tenant *t;
	const char *json = "{\"defaultTenant\": null, \"tenants\": {"
			   " \"ci\": {\"match\": {\"uids\": [1001, 1002], \"keys\": [\"ci-bot\"]},"
			   "  \"onExceed\": \"refuse\","
			   "  \"limits\": {\"memory\": \"1g\", \"cpu\": 2, \"pids\": 128, \"timeoutMs\": \"2m\","
			   "              \"maxOutput\": 65536},"
			   "  \"runtimes\": [\"python\"], \"network\": [\"none\"],"
			   "  \"images\": [\"^myorg/.*$\", \"ghcr.io/acme/[a-z]+:[0-9.]+\"]},"
			   " \"grp\": {\"match\": {\"gids\": [4242]}}}}";

	ck_assert_msg(isol8_policy_parse(json, "t.json", &p, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(p.source, "t.json");
	ck_assert_int_eq(p.default_tenant, -1);
	t = find(&p, "ci");
	ck_assert(t->refuse_on_exceed);
	ck_assert(t->ceil.memory == GIB);
	ck_assert(t->ceil.cpu == 2.0);
	ck_assert(t->ceil.timeout_ms == 120000);
	ck_assert(t->ceil.max_output == 65536);
	/* Unset limits keep the local defaults. */
	ck_assert(t->ceil.tmp_size == 256 * MIB);
	ck_assert_uint_eq(t->runtimes_mask, 1u << ISOL8_RT_PYTHON);
	ck_assert_ptr_eq(isol8_policy_match_local(&p, 1002, 50), t);
	ck_assert_ptr_eq(isol8_policy_match_key(&p, "ci-bot"), t);
	/* default null: unknown callers and keys are refused. */
	ck_assert_ptr_null(isol8_policy_match_local(&p, 4000, 4000));
	ck_assert_ptr_null(isol8_policy_match_key(&p, "other"));
	ck_assert_ptr_null(isol8_policy_match_key(&p, NULL));
	/* primary gid. */
	ck_assert_ptr_eq(isol8_policy_match_local(&p, 4000, 4242), find(&p, "grp"));
	/* uid wins over gid. */
	ck_assert_ptr_eq(isol8_policy_match_local(&p, 1001, 4242), t);
	/* persist: allowed by default, two at once */
	ck_assert(t->persist_ok);
	ck_assert_uint_eq(t->max_persist, 2);
	/* ... for an hour after the run's time limit */
	ck_assert_uint_eq(t->persist_ttl_ms, 3600000);
	isol8_policy_free(&p);

	ck_assert_msg(
		isol8_policy_parse(T("{\"persist\": false, \"limits\": {\"maxPersist\": 0}}"), "t.json", &p, &err) == 0,
		"%s", err.msg);
	ck_assert(!p.tenants[0].persist_ok);
	ck_assert_uint_eq(p.tenants[0].max_persist, 0);
	isol8_policy_free(&p);
	expect_parse_error(T("{\"persist\": 1}"), "policy.json: tenants.ci.persist: expected boolean, got number");
	expect_parse_error(T("{\"limits\": {\"maxPersist\": 1001}}"), "policy.json: tenants.ci.limits.maxPersist...");
	ck_assert_msg(isol8_policy_parse(T("{\"limits\": {\"persistTtlMs\": \"10m\"}}"), "t.json", &p, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(p.tenants[0].persist_ttl_ms, 600000);
	isol8_policy_free(&p);
	{
		struct isol8_tenant ct = {.name = (char *)"ci", .persist_ttl_ms = 3600000};
		uint64_t ttl = 0;
		ck_assert_int_eq(isol8_policy_apply_persist_ttl(&ct, &ttl, &err), 0);
		ck_assert_uint_eq(ttl, 3600000); /* not asked: the ceiling */
		ttl = 60000;
		ck_assert_int_eq(isol8_policy_apply_persist_ttl(&ct, &ttl, &err), 0);
		ck_assert_uint_eq(ttl, 60000); /* less: as asked */
		ttl = 7200000;
		ck_assert_int_eq(isol8_policy_apply_persist_ttl(&ct, &ttl, &err), 0);
		ck_assert_uint_eq(ttl, 3600000); /* more: clamped */
		ct.refuse_on_exceed = true;
		ttl = 7200000;
		ck_assert_int_eq(isol8_policy_apply_persist_ttl(&ct, &ttl, &err), -1);
		ck_assert_int_eq(err.code, ISOL8_E_POLICY);
		ck_assert_str_eq(err.msg, "persist ttl 7200000ms exceeds tenant ci ceiling 3600000ms");
		isol8_err_clear(&err);
	}
	expect_parse_error(T("{\"limits\": {\"persistTtlMs\": 999}}"),
			   "policy.json: tenants.ci.limits.persistTtlMs...");
	expect_parse_error(T("{\"limits\": {\"persistTtlMs\": true}}"),
			   "policy.json: tenants.ci.limits.persistTtlMs...");
}
END_TEST

/* "isolation": the tenant's OCI runtime, runc unless the file says runsc; runsc has no
 * network, so a list naming more is refused and the default list narrows to none. */
START_TEST(test_isolation)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_str_eq(isol8_isolation_name(ISOL8_ISO_RUNC), "runc");
	ck_assert_str_eq(isol8_isolation_name(ISOL8_ISO_RUNSC), "runsc");
	ck_assert_ptr_null(isol8_isolation_name(ISOL8_ISO__MAX));
	ck_assert_ptr_null(isol8_isolation_name(-1));

	isol8_policy_builtin(&p);
	for (size_t i = 0; i < p.n_tenants; i++)
		ck_assert_int_eq(p.tenants[i].isolation, ISOL8_ISO_RUNC);
	isol8_policy_free(&p);

	ck_assert_msg(isol8_policy_parse(T("{}"), "t.json", &p, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(p.tenants[0].isolation, ISOL8_ISO_RUNC);
	isol8_policy_free(&p);
	ck_assert_msg(isol8_policy_parse(T("{\"isolation\": \"runc\", \"network\": [\"host\"]}"), "t.json", &p, &err) ==
			      0,
		      "%s", err.msg);
	ck_assert_int_eq(p.tenants[0].isolation, ISOL8_ISO_RUNC);
	isol8_policy_free(&p);
	ck_assert_msg(isol8_policy_parse(T("{\"isolation\": \"runsc\"}"), "t.json", &p, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(p.tenants[0].isolation, ISOL8_ISO_RUNSC);
	ck_assert_uint_eq(p.tenants[0].network_mask, 1u << ISOL8_NET_NONE);
	isol8_policy_free(&p);
	ck_assert_msg(
		isol8_policy_parse(T("{\"network\": [\"none\"], \"isolation\": \"runsc\"}"), "t.json", &p, &err) == 0,
		"%s", err.msg);
	ck_assert_int_eq(p.tenants[0].isolation, ISOL8_ISO_RUNSC);
	isol8_policy_free(&p);

	expect_parse_error(T("{\"isolation\": \"runsc\", \"network\": [\"none\", \"filtered\"]}"),
			   "policy.json: tenants.ci.network: isolation \"runsc\" allows [\"none\"] only (gVisor "
			   "sandboxes have no network)");
	expect_parse_error(T("{\"isolation\": \"kata\"}"),
			   "policy.json: tenants.ci.isolation: unknown value \"kata\" (expected runc, runsc)");
	expect_parse_error(T("{\"isolation\": true}"),
			   "policy.json: tenants.ci.isolation: expected string, got boolean");
}
END_TEST

/* A run's tier (--isolation, options.isolation): none asked is the policy's; a stronger one
 * is granted, a weaker one refused with the policy's tier named; runsc only without network. */
START_TEST(test_isolation_request)
{
	struct isol8_tenant runc = {.name = "ci", .isolation = ISOL8_ISO_RUNC};
	struct isol8_tenant runsc = {.name = "hostile", .isolation = ISOL8_ISO_RUNSC};
	struct isol8_err err = ISOL8_ERR_INIT;
	int out = -1;

	ck_assert_int_eq(isol8_policy_check_isolation(&runc, ISOL8_ISO_POLICY, ISOL8_NET_FILTERED, &out, &err), 0);
	ck_assert_int_eq(out, ISOL8_ISO_RUNC);
	ck_assert_int_eq(isol8_policy_check_isolation(&runsc, ISOL8_ISO_POLICY, ISOL8_NET_NONE, &out, &err), 0);
	ck_assert_int_eq(out, ISOL8_ISO_RUNSC);
	ck_assert_int_eq(isol8_policy_check_isolation(&runc, ISOL8_ISO_RUNC, ISOL8_NET_HOST, &out, &err), 0);
	ck_assert_int_eq(out, ISOL8_ISO_RUNC);
	/* raised */
	out = -1;
	ck_assert_int_eq(isol8_policy_check_isolation(&runc, ISOL8_ISO_RUNSC, ISOL8_NET_NONE, &out, &err), 0);
	ck_assert_int_eq(out, ISOL8_ISO_RUNSC);
	ck_assert_int_eq(isol8_policy_check_isolation(&runsc, ISOL8_ISO_RUNSC, ISOL8_NET_NONE, &out, &err), 0);
	ck_assert_int_eq(out, ISOL8_ISO_RUNSC);
	/* lowered: refused, *out untouched */
	out = -1;
	ck_assert_int_eq(isol8_policy_check_isolation(&runsc, ISOL8_ISO_RUNC, ISOL8_NET_NONE, &out, &err), -1);
	ck_assert_int_eq(out, -1);
	ck_assert_int_eq(err.code, ISOL8_E_POLICY);
	ck_assert_str_eq(err.msg,
			 "isolation runc refused: the policy's tier for tenant hostile is runsc, which a run "
			 "may raise but never lower (leave out --isolation or options.isolation)");
	/* runsc has no network */
	isol8_err_clear(&err);
	ck_assert_int_eq(isol8_policy_check_isolation(&runc, ISOL8_ISO_RUNSC, ISOL8_NET_FILTERED, &out, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_str_eq(err.msg,
			 "isolation runsc has no network (gVisor sandboxes run with network none), not "
			 "network filtered: use --net none");
	/* out of range */
	isol8_err_clear(&err);
	ck_assert_int_eq(isol8_policy_check_isolation(&runc, ISOL8_ISO__MAX, ISOL8_NET_NONE, &out, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_int_eq(isol8_policy_check_isolation(&runc, -1, ISOL8_NET_NONE, &out, &err), -1);
	ck_assert_int_eq(out, -1);
}
END_TEST

/* "hostUid": all of the tenant's sandboxes run as N:N on the host; outside the host's own
 * accounts and the range, and never the same for two tenants. The others get a block of the
 * range (below). */
START_TEST(test_host_uid)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_msg(
		isol8_policy_parse("{\"tenants\":{\"a\":{\"hostUid\": 20001},\"b\":{\"hostUid\": 20002},\"c\":{}}}",
				   "t.json", &p, &err) == 0,
		"%s", err.msg);
	ck_assert_uint_eq(p.tenants[0].host_uid, 20001);
	ck_assert_uint_eq(p.tenants[0].host_gid, 20001);
	ck_assert_uint_eq(p.tenants[0].host_uids, 1);
	ck_assert_uint_eq(p.tenants[1].host_uid, 20002);
	ck_assert_uint_eq(p.tenants[1].host_uids, 1);
	/* c: FNV-1a("c") % 16384 = 11346 */
	ck_assert_uint_eq(p.tenants[2].host_uid, 1879048192u + 11346u * 1024u);
	ck_assert_uint_eq(p.tenants[2].host_uids, 1024);
	isol8_policy_free(&p);
	expect_parse_error(T("{\"hostUid\": 100}"), "policy.json: tenants.ci.hostUid...");
	expect_parse_error(T("{\"hostUid\": 0}"), "policy.json: tenants.ci.hostUid...");
	expect_parse_error(T("{\"hostUid\": 2147483647}"), "policy.json: tenants.ci.hostUid...");
	expect_parse_error(T("{\"hostUid\": \"20001\"}"), "policy.json: tenants.ci.hostUid...");
	expect_parse_error("{\"tenants\":{\"a\":{\"hostUid\": 20001},\"b\":{\"hostUid\": 20001}}}",
			   "policy.json: tenants.b.hostUid: 20001 is also the hostUid of tenant a");
	expect_parse_error(
		T("{\"hostUid\": 1879048192}"),
		"policy.json: tenants.ci.hostUid: 1879048192 is inside hostUidRange (1879048192-1895825407), "
		"whose uids go to the other tenants; pick one outside it");
}
END_TEST

/* "hostUidRange": by default every tenant has its own block of 1024 host uids, placed by its
 * name (the same whatever the file's order), each sandbox one uid of it; null brings back the
 * images' shared 100:101. */
START_TEST(test_host_uid_range)
{
	struct isol8_policy p, q;
	struct isol8_err err = ISOL8_ERR_INIT;

	isol8_policy_builtin(&p);
	ck_assert_uint_eq(p.uid_base, 1879048192u);
	ck_assert_uint_eq(p.uid_size, 16777216u);
	ck_assert_uint_eq(p.uid_per_tenant, 1024u);
	/* admin: FNV-1a % 16384 = 13844, local: 9992 */
	ck_assert_str_eq(p.tenants[0].name, "admin");
	ck_assert_uint_eq(p.tenants[0].host_uid, 1879048192u + 13844u * 1024u);
	ck_assert_uint_eq(p.tenants[0].host_gid, p.tenants[0].host_uid);
	ck_assert_uint_eq(p.tenants[0].host_uids, 1024);
	ck_assert_str_eq(p.tenants[1].name, "local");
	ck_assert_uint_eq(p.tenants[1].host_uid, 1879048192u + 9992u * 1024u);
	ck_assert_uint_eq(p.tenants[1].host_uids, 1024);
	isol8_policy_free(&p);

	/* Two blocks; "a" and "y" both hash to block 0: the first by name keeps it, in either order. */
	ck_assert_msg(isol8_policy_parse("{\"hostUidRange\":{\"base\":50000,\"size\":20,\"perTenant\":10},"
					 "\"tenants\":{\"y\":{},\"a\":{}}}",
					 "t.json", &p, &err) == 0,
		      "%s", err.msg);
	ck_assert_msg(isol8_policy_parse("{\"hostUidRange\":{\"base\":50000,\"size\":20,\"perTenant\":10},"
					 "\"tenants\":{\"a\":{},\"y\":{}}}",
					 "t.json", &q, &err) == 0,
		      "%s", err.msg);
	ck_assert_str_eq(p.tenants[1].name, "a");
	ck_assert_uint_eq(p.tenants[1].host_uid, 50000);
	ck_assert_uint_eq(p.tenants[0].host_uid, 50010);
	ck_assert_uint_eq(p.tenants[0].host_uids, 10);
	ck_assert_uint_eq(q.tenants[0].host_uid, 50000);
	ck_assert_uint_eq(q.tenants[1].host_uid, 50010);
	isol8_policy_free(&p);
	isol8_policy_free(&q);

	/* perTenant 1: one uid per tenant, shared by its sandboxes */
	ck_assert_msg(isol8_policy_parse("{\"hostUidRange\":{\"base\":50000,\"size\":2,\"perTenant\":1},"
					 "\"tenants\":{\"a\":{},\"b\":{}}}",
					 "t.json", &p, &err) == 0,
		      "%s", err.msg);
	ck_assert_uint_eq(p.tenants[0].host_uid + p.tenants[1].host_uid, 100001);
	ck_assert_uint_eq(p.tenants[0].host_uids, 1);
	isol8_policy_free(&p);

	/* null: tenants without hostUid share the images' user, as before */
	ck_assert_msg(isol8_policy_parse("{\"hostUidRange\":null,\"tenants\":{\"a\":{},\"b\":{\"hostUid\":20001}}}",
					 "t.json", &p, &err) == 0,
		      "%s", err.msg);
	ck_assert_uint_eq(p.uid_size, 0);
	ck_assert_uint_eq(p.tenants[0].host_uid, 100);
	ck_assert_uint_eq(p.tenants[0].host_gid, 101);
	ck_assert_uint_eq(p.tenants[0].host_uids, 1);
	ck_assert_uint_eq(p.tenants[1].host_uid, 20001);
	isol8_policy_free(&p);

	expect_parse_error(
		"{\"hostUidRange\":{\"base\":50000,\"size\":20,\"perTenant\":10},"
		"\"tenants\":{\"a\":{},\"b\":{},\"c\":{}}}",
		"policy.json: hostUidRange: 20 uids make 2 block(s) of perTenant 10, fewer than the 3 tenants "
		"without hostUid; make the range larger or perTenant smaller");
	expect_parse_error("{\"hostUidRange\":{\"base\":100},\"tenants\":{\"a\":{}}}",
			   "policy.json: hostUidRange.base...");
	expect_parse_error("{\"hostUidRange\":{\"base\":2147483000},\"tenants\":{\"a\":{}}}",
			   "policy.json: hostUidRange: base 2147483000 + size 16777216 ends past uid 2147483646; lower "
			   "the base or the size");
	expect_parse_error("{\"hostUidRange\":{\"size\":10,\"perTenant\":11},\"tenants\":{\"a\":{}}}",
			   "policy.json: hostUidRange.perTenant: 11 is more than the size of the range (10)");
	expect_parse_error("{\"hostUidRange\":{\"start\":50000},\"tenants\":{\"a\":{}}}",
			   "policy.json: hostUidRange.start...");
	expect_parse_error("{\"hostUidRange\":[1],\"tenants\":{\"a\":{}}}", "policy.json: hostUidRange...");
}
END_TEST

START_TEST(test_supplementary_groups)
{
	/* Find any user that is a supplementary member of some group; skip when there is none. */
	struct group *g;
	struct passwd *pw = NULL;
	gid_t gid = 0;

	setgrent();
	while ((g = getgrent())) {
		for (char **m = g->gr_mem; m && *m; m++) {
			pw = getpwnam(*m);
			if (pw && pw->pw_gid != g->gr_gid) {
				gid = g->gr_gid;
				break;
			}
			pw = NULL;
		}
		if (pw)
			break;
	}
	endgrent();
	if (!pw)
		return;
	{
		char json[256];
		struct isol8_policy p;
		struct isol8_err err = ISOL8_ERR_INIT;
		uid_t uid = pw->pw_uid;
		gid_t primary = pw->pw_gid;

		snprintf(json, sizeof json, "{\"tenants\":{\"g\":{\"match\":{\"gids\":[%u]}}}}", (unsigned)gid);
		ck_assert_int_eq(isol8_policy_parse(json, "x", &p, &err), 0);
		ck_assert_ptr_eq(isol8_policy_match_local(&p, uid, primary), &p.tenants[0]);
		ck_assert_ptr_null(isol8_policy_match_local(&p, 987654, 987654));
		isol8_policy_free(&p);
	}
}
END_TEST

START_TEST(test_load_file_errors)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;
	char path[] = "/tmp/check_policy_XXXXXX";
	int fd = mkstemp(path);
	const char *doc = "{\"tenants\":{\"a\":{\"limits\":{\"memory\":\"1q\"}}}}";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
	close(fd);
	ck_assert_int_eq(isol8_policy_load_file(path, &p, &err), -1);
	ck_assert(strncmp(err.msg, path, strlen(path)) == 0);
	ck_assert(strstr(err.msg, ": tenants.a.limits.memory: invalid size \"1q\""));
	unlink(path);
	ck_assert_int_eq(isol8_policy_load_file("/nonexistent/policy.json", &p, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_NOTFOUND);
	ck_assert_int_eq(isol8_policy_load_file("/tmp", &p, &err), -1);
}
END_TEST

START_TEST(test_clamp_and_refuse)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_limits l;
	struct isol8_tenant *t;

	isol8_policy_builtin(&p);
	t = &p.tenants[1]; /* local */

	/* clamp */
	isol8_limits_defaults(&l);
	l.memory = 2 * GIB;
	l.cpu = 4;
	l.pids = 10000;
	l.timeout_ms = 600000;
	l.max_output = 8 * MIB;
	ck_assert_int_eq(isol8_policy_apply_limits(t, &l, &err), 0);
	ck_assert(l.memory == 512 * MIB);
	ck_assert(l.cpu == 1.0);
	ck_assert_uint_eq(l.pids, 64);
	ck_assert(l.timeout_ms == 30000);
	ck_assert(l.max_output == MIB);

	/* below the ceiling: untouched; 0 = unset -> default */
	memset(&l, 0, sizeof l);
	l.memory = 100 * MIB;
	l.cpu = 0.5;
	ck_assert_int_eq(isol8_policy_apply_limits(t, &l, &err), 0);
	ck_assert(l.memory == 100 * MIB);
	ck_assert(l.cpu == 0.5);
	ck_assert_uint_eq(l.pids, 64);
	ck_assert(l.sandbox_size == 512 * MIB);
	ck_assert(l.tmp_size == 256 * MIB);
	l.cpu = NAN;
	ck_assert_int_eq(isol8_policy_apply_limits(t, &l, &err), 0);
	ck_assert(l.cpu == 1.0);

	/* refuse, with precise messages */
	t->refuse_on_exceed = true;
	isol8_limits_defaults(&l);
	ck_assert_int_eq(isol8_policy_apply_limits(t, &l, &err), 0);
	l.memory = 2 * GIB;
	ck_assert_int_eq(isol8_policy_apply_limits(t, &l, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_POLICY);
	ck_assert_str_eq(err.msg, "memory 2g exceeds tenant local ceiling 512m");
	isol8_limits_defaults(&l);
	l.cpu = 1.5;
	ck_assert_int_eq(isol8_policy_apply_limits(t, &l, &err), -1);
	ck_assert_str_eq(err.msg, "cpu 1.5 exceeds tenant local ceiling 1");
	isol8_limits_defaults(&l);
	l.pids = 65;
	ck_assert_int_eq(isol8_policy_apply_limits(t, &l, &err), -1);
	ck_assert_str_eq(err.msg, "pids 65 exceeds tenant local ceiling 64");
	isol8_limits_defaults(&l);
	l.timeout_ms = 30001;
	ck_assert_int_eq(isol8_policy_apply_limits(t, &l, &err), -1);
	ck_assert_str_eq(err.msg, "timeout 30001ms exceeds tenant local ceiling 30000ms");
	isol8_limits_defaults(&l);
	l.tmp_size = 256 * MIB + 1024;
	ck_assert_int_eq(isol8_policy_apply_limits(t, &l, &err), -1);
	ck_assert_str_eq(err.msg, "tmp size 262145k exceeds tenant local ceiling 256m");
	isol8_limits_defaults(&l);
	l.max_output = 3 * MIB;
	ck_assert_int_eq(isol8_policy_apply_limits(t, &l, &err), -1);
	ck_assert_str_eq(err.msg, "max output 3m exceeds tenant local ceiling 1m");
	isol8_policy_free(&p);
}
END_TEST

#define A(x) "{\"tenants\":{\"ci\":{}},\"audit\":" x "}"
START_TEST(test_audit_block)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_int_eq(isol8_policy_parse("{\"tenants\":{\"ci\":{}}}", "policy.json", &p, &err), 0);
	ck_assert(p.audit.enabled && !p.audit.path && p.audit.retention_days == 90 && p.audit.max_size == 64u << 20 &&
		  !p.audit.include_code && !p.audit.include_output);
	isol8_policy_free(&p);
	ck_assert_int_eq(isol8_policy_parse(A("{\"enabled\":false,\"logDir\":\"/srv/audit/\",\"retentionDays\":0,"
					      "\"maxSize\":\"1m\",\"includeCode\":true,\"destination\":\"file\","
					      "\"trackResources\":true}"),
					    "policy.json", &p, &err),
			 0);
	ck_assert(!p.audit.enabled && p.audit.retention_days == 0 && p.audit.max_size == 1u << 20 &&
		  p.audit.include_code);
	ck_assert_str_eq(p.audit.path, "/srv/audit/audit.jsonl");
	isol8_policy_free(&p);
	expect_parse_error(A("{\"path\":\"/a\",\"logDir\":\"/b\"}"),
			   "policy.json: audit: give path or logDir, not both");
	expect_parse_error(A("{\"path\":\"rel/a\"}"),
			   "policy.json: audit.path: an absolute path without \"..\" is required");
	expect_parse_error(A("{\"path\":\"/var/log/../etc/shadow\"}"),
			   "policy.json: audit.path: an absolute path without \"..\" is required");
	expect_parse_error(A("{\"path\":\"/var/log/\"}"),
			   "policy.json: audit.path: names a directory; give the file (or use logDir)");
	expect_parse_error(A("{\"maxSize\":100}"), "policy.json: audit.maxSize: at least 4k (or 0: never rotate)");
	expect_parse_error(A("{\"postLogScript\":\"/bin/x\"}"),
			   "policy.json: audit.postLogScript: not supported: isol8d runs no script as root per record; "
			   "follow the file (e.g. tail -F) instead");
	expect_parse_error(
		A("{\"destination\":\"stdout\"}"),
		"policy.json: audit.destination: only \"filesystem\": isol8d writes its audit log to a file (path)");
	expect_parse_error(A("{\"enabled\":1}"), "policy.json: audit.enabled: expected boolean, got number");
	expect_parse_error(A("{\"includeCod\":true}"), "policy.json: audit.includeCod: unknown key");
	expect_parse_error(A("[]"), "policy.json: audit: expected object, got array");
}
END_TEST

START_TEST(test_runtime_check)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_int_eq(isol8_policy_parse(T("{\"runtimes\":[\"python\",\"bash\"]}"), "x", &p, &err), 0);
	ck_assert_int_eq(isol8_policy_check_runtime(&p.tenants[0], ISOL8_RT_BASH, &err), 0);
	ck_assert_int_eq(isol8_policy_check_runtime(&p.tenants[0], ISOL8_RT_NODE, &err), -1);
	ck_assert_str_eq(err.msg, "runtime node is not allowed for tenant ci");
	ck_assert_int_eq(isol8_policy_check_runtime(&p.tenants[0], 99, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_int_eq(isol8_policy_check_network(&p.tenants[0], -1, &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	isol8_policy_free(&p);
}
END_TEST

START_TEST(test_image_check)
{
	struct isol8_policy p;
	struct isol8_err err = ISOL8_ERR_INIT;
	const struct isol8_tenant *local, *admin;

	isol8_policy_builtin(&p);
	admin = &p.tenants[0];
	local = &p.tenants[1];
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:python", &err), 0);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:python-custom-0123456789ab", &err), 0);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:python-custom", &err), 0);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_NODE, "isol8:node", &err), 0);

	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:node", &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_POLICY);
	ck_assert_str_eq(err.msg, "image isol8:node is not allowed for tenant local (runtime python)");
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "evil:latest", &err), -1);
	ck_assert_str_eq(err.msg, "image evil:latest is not allowed for tenant local (runtime python)");
	/* Near misses of the custom form. */
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:python-custom-0123456789AB", &err),
			 -1);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:python-custom-0123456789abc", &err),
			 -1);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:python-custom-", &err), -1);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:python3", &err), -1);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:pythonx", &err), -1);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "docker.io/isol8:python", &err), -1);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:python\n", &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "", &err), -1);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, NULL, &err), -1);
	ck_assert_int_eq(isol8_policy_check_image(local, 42, "isol8:python", &err), -1);
	ck_assert_int_eq(err.code, ISOL8_E_USAGE);

	/* admin: any image. */
	ck_assert_int_eq(isol8_policy_check_image(admin, ISOL8_RT_PYTHON, "evil:latest", &err), 0);
	isol8_policy_free(&p);

	/* patterns are anchored; custom images can be turned off. */
	ck_assert_int_eq(isol8_policy_parse(T("{\"customImages\":false,\"images\":[\"myorg/[a-z]+:[0-9]+\", "
					      "\"^ghcr.io/acme/.*$\"]}"),
					    "x", &p, &err),
			 0);
	local = &p.tenants[0];
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:python-custom-0123456789ab", &err),
			 -1);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "isol8:python", &err), 0);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "myorg/tool:12", &err), 0);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "evil/myorg/tool:12", &err), -1);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "myorg/tool:12-evil", &err), -1);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "ghcr.io/acme/x:1", &err), 0);
	ck_assert_int_eq(isol8_policy_check_image(local, ISOL8_RT_PYTHON, "evil:latest", &err), -1);
	isol8_policy_free(&p);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_builtin);
	tcase_add_test(tc, test_default_file_equals_builtin);
	tcase_add_test(tc, test_netfilter);
	tcase_add_test(tc, test_remote_code);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_parse_ok);
	tcase_add_test(tc, test_isolation);
	tcase_add_test(tc, test_isolation_request);
	tcase_add_test(tc, test_host_uid);
	tcase_add_test(tc, test_host_uid_range);
	tcase_add_test(tc, test_supplementary_groups);
	tcase_add_test(tc, test_load_file_errors);
	tcase_add_test(tc, test_clamp_and_refuse);
	tcase_add_test(tc, test_audit_block);
	tcase_add_test(tc, test_runtime_check);
	tcase_add_test(tc, test_image_check);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
