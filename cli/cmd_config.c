/* `isol8 config [--json]`: the merged user configuration (original §1.15). */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "common/conf.h"
#include "common/parse.h"
#include "cli/cli.h"

static const char *yes_no(bool b)
{
	return b ? "yes" : "no";
}

static void print_list(const char *label, char **v, size_t n)
{
	printf("  %s", label);
	if (n == 0) {
		puts("(none)");
		return;
	}
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", v[i]);
	putchar('\n');
}

static void print_text(const struct isol8_config *c)
{
	static const char *const dep_names[ISOL8_CONF_NDEPS] = {"python", "node", "bun", "deno", "bash", "agent"};
	char sandbox[32], tmp[32];
	bool any_deps = false;

	isol8_format_size(c->defaults.sandbox_size, sandbox, sizeof sandbox);
	isol8_format_size(c->defaults.tmp_size, tmp, sizeof tmp);
	puts("\nIsol8 Configuration\n");
	if (c->source)
		printf("  Source: %s\n", c->source);
	else
		puts("  Source: defaults (no config file found)");

	puts("\n  ── General ──");
	printf("  Max concurrent: %u\n", c->max_concurrent);

	puts("\n  ── Defaults ──");
	printf("  Timeout:       %llums\n", (unsigned long long)c->defaults.timeout_ms);
	printf("  Memory limit:  %s\n", c->defaults.memory_str ? c->defaults.memory_str : "-");
	printf("  CPU limit:     %g\n", c->defaults.cpu);
	printf("  Network:       %s\n", c->defaults.network ? c->defaults.network : "none");
	printf("  Sandbox size:  %s\n", sandbox);
	printf("  Tmp size:      %s\n", tmp);

	puts("\n  ── Network Filter ──");
	print_list("Whitelist: ", c->whitelist, c->n_whitelist);
	print_list("Blacklist: ", c->blacklist, c->n_blacklist);

	puts("\n  ── Remote Code ──");
	printf("  Enabled:       %s\n", yes_no(c->remote_code.enabled));
	print_list("Schemes:       ", c->remote_code.allowed_schemes, c->remote_code.n_allowed_schemes);
	printf("  Max code size: %llu bytes\n", (unsigned long long)c->remote_code.max_code_size);
	printf("  Fetch timeout: %llums\n", (unsigned long long)c->remote_code.fetch_timeout_ms);
	printf("  Require hash:  %s\n", yes_no(c->remote_code.require_hash));

	puts("\n  ── Cleanup ──");
	printf("  Auto-prune:    %s\n", yes_no(c->auto_prune));
	printf("  Max idle time: %llums (%llumin)\n", (unsigned long long)c->max_container_age_ms,
	       (unsigned long long)(c->max_container_age_ms / 60000));

	puts("\n  ── Dependencies ──");
	for (size_t i = 0; i < ISOL8_CONF_NDEPS; i++) {
		char label[32];
		if (!c->n_deps[i])
			continue;
		snprintf(label, sizeof label, "%-8s ", dep_names[i]);
		print_list(label, c->deps[i], c->n_deps[i]);
		any_deps = true;
	}
	if (!any_deps)
		puts("  (none)");

	puts("\n  ── Pool Defaults (Serve) ──");
	printf("  Pool strategy: %s\n", c->pool_strategy ? c->pool_strategy : "fast");
	if (c->pool_size_single)
		printf("  Pool size:     %u\n", c->pool_clean);
	else
		printf("  Pool size:     %u,%u\n", c->pool_clean, c->pool_dirty);
	putchar('\n');
}

int cmd_config(int argc, char **argv)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	struct isol8_config c;
	bool as_json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage_command("config", stdout);
			return 0;
		}
		if (strcmp(argv[i], "--json") != 0)
			return cli_unknown("option", argv[i], (const char *const[]){"--json", "--help", NULL}, NULL,
					   NULL);
		as_json = true;
	}
	if (isol8_config_load(NULL, &c, &err) < 0)
		return cli_fail(&err);
	if (as_json)
		puts(json_object_to_json_string_ext(
			c.root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		print_text(&c);
	isol8_config_free(&c);
	return 0;
}
