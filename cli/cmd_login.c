/* `isol8 login --host URL --key MASTER [--name NAME] [--ttl DURATION]` and `isol8 logout`: a key
 * of the server's store, minted with its master key (POST /auth/login) and kept in
 * ~/.isol8/credentials.json (0600) for later --host commands (cli/credentials.h). */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/credentials.h"
#include "cli/remote.h"
#include "common/json.h"
#include "common/parse.h"
#include "common/xalloc.h"

static const char login_text[] =
	"Usage: isol8 login --host URL --key MASTER_KEY [--name NAME] [--ttl DURATION]\n"
	"       isol8 logout\n"
	"\n"
	"login asks the server (POST /auth/login, with its master key) for an API key of its key\n"
	"store and keeps it in ~/.isol8/credentials.json (mode 0600); --host commands then use it\n"
	"when neither --key nor ISOL8_API_KEY is given. logout removes the file.\n"
	"  --name NAME     the key's name (default cli-login-<time>)\n"
	"  --ttl DURATION  its lifetime in milliseconds, or 90d, 12h, 30m (default: the server's)\n";

static const char *str(json_object *o, const char *k)
{
	json_object *v;

	return isol8_json_member(o, k, &v) == 1 && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
											    : NULL;
}

int cmd_login(int argc, char **argv)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	const char *host = NULL, *key = NULL, *name = NULL, *tok, *exp, *id;
	char def_name[48];
	uint64_t ttl = 0;
	json_object *a = NULL;
	char *path;

	if (cli_wants_help(argc, argv)) {
		fputs(login_text, stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		bool has = i + 1 < argc;
		if (strcmp(argv[i], "--host") == 0 && has)
			host = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && has)
			key = argv[++i];
		else if (strcmp(argv[i], "--name") == 0 && has)
			name = argv[++i];
		else if (strcmp(argv[i], "--ttl") == 0 && has) {
			if (isol8_parse_duration_ms(argv[++i], &ttl, &err) < 0 || ttl == 0)
				return cli_usage_error("--ttl '%s': milliseconds, or 90d, 12h, 30m", argv[i]);
		} else
			return cli_usage_error("login: unexpected argument '%s' (see isol8 login --help)", argv[i]);
	}
	if (!host || !key)
		return cli_usage_error("login needs --host URL and --key MASTER_KEY");
	if (!name) {
		snprintf(def_name, sizeof def_name, "cli-login-%lld", (long long)time(NULL));
		name = def_name;
	}
	if (remote_login(host, key, name, ttl, &a, &err) < 0)
		return cli_fail(&err);
	tok = str(a, "token");
	exp = str(a, "expiresAt");
	id = str(a, "keyId");
	if (!tok || !exp || !id) {
		json_object_put(a);
		isol8_err_set(&err, ISOL8_E_PROTO, 0, "Authentication failed: malformed answer from %s", host);
		return cli_fail(&err);
	}
	if (credentials_store(host, tok, exp, id, &err) < 0) {
		json_object_put(a);
		return cli_fail(&err);
	}
	printf("[OK] Logged in\n  Host:    %s\n  Expires: %s\n  Stored:  ~/.isol8/credentials.json\n", host, exp);
	(void)path;
	json_object_put(a);
	return 0;
}

int cmd_logout(int argc, char **argv)
{
	char *path = credentials_path();
	int rc = 0;

	(void)argv;
	if (argc > 1) {
		free(path);
		return cli_usage_error("logout takes no arguments");
	}
	if (unlink(path) == 0) {
		puts("[OK] Credentials removed from ~/.isol8/credentials.json");
	} else if (errno == ENOENT) {
		puts("[INFO] No stored credentials found.");
	} else {
		fprintf(stderr, "[ERR] cannot remove %s: %s\n", path, strerror(errno));
		rc = 1;
	}
	free(path);
	return rc;
}
