/* Package registry hosts from the host's package-manager configuration (cli/registries.c):
 * URL -> anchored regex, INI and apt sources parsing (hostile input included), and the lookup
 * order per tool, against files in a temporary directory and the environment. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json.h"
#include "cli/registries.h"
#include "common/xalloc.h"

static void re_is(const char *url, const char *want)
{
	char *got = isol8_reg_host_regex(url);
	const char *u = url ? url : "(null)";
	if (!want)
		ck_assert_msg(got == NULL, "%s gave a regex", u);
	else
		ck_assert_msg(got && strcmp(got, want) == 0, "%s gave %s, want %s", u, got ? got : "NULL", want);
	free(got);
}

START_TEST(host_regex)
{
	re_is("https://registry.npmjs.org/", "^registry\\.npmjs\\.org$");
	re_is("http://Mirror.Example.COM:8080/pypi/simple?x#y", "^mirror\\.example\\.com$");
	re_is("  https://user:p@ss:word@npm.corp.internal/", "^npm\\.corp\\.internal$");
	re_is("HTTPS://a_b-c.d", "^a_b-c\\.d$");
	re_is("https://10.0.0.1:3128", "^10\\.0\\.0\\.1$");
	/* hostile or unusable */
	re_is(NULL, NULL);
	re_is("", NULL);
	re_is("registry.npmjs.org", NULL); /* no scheme */
	re_is("ftp://x.org/", NULL);
	re_is("file:///etc/passwd", NULL);
	re_is("https://", NULL);
	re_is("https:///path", NULL);
	re_is("https://@/", NULL);
	re_is("https://[::1]:443/", NULL);
	re_is("https://a.*$|.*/", NULL); /* regex metacharacters are not host bytes */
	re_is("https://a(b)/", NULL);
	re_is("https://a b/", NULL);
	re_is("https://.a/", NULL);
	re_is("https://a../", NULL);
	re_is("https://a..b/", NULL);
	re_is("https://${NPM_HOST}/", NULL);
	{
		char long_host[300];
		memset(long_host, 'a', sizeof long_host);
		memcpy(long_host, "https://", 8);
		long_host[sizeof long_host - 1] = '\0';
		re_is(long_host, NULL);
	}
}
END_TEST

START_TEST(ini_values)
{
	char *v;

	v = isol8_reg_ini_value("; c\n# c\n registry = https://a/ \nfoo=bar\nregistry=\"https://b/\"", NULL, "registry",
				false);
	ck_assert_str_eq(v, "https://b/"); /* last wins, quotes dropped */
	free(v);
	/* npmrc: keys inside a [section] are not top-level; scoped keys are other keys */
	v = isol8_reg_ini_value("@corp:registry=https://c/\n[x]\nregistry=https://d/\n", NULL, "registry", false);
	ck_assert_ptr_null(v);
	/* pip: sections, ':' separator, '_' == '-', case-insensitive keys and sections */
	v = isol8_reg_ini_value("[global]\nindex-url = https://g/\n[Install]\nIndex_URL: https://i/simple\n", "install",
				"index-url", true);
	ck_assert_str_eq(v, "https://i/simple");
	free(v);
	v = isol8_reg_ini_value("[global]\r\nindex-url=https://g/\r\n", "global", "index-url", true);
	ck_assert_str_eq(v, "https://g/");
	free(v);
	/* without colon_too, "key: v" is not an assignment */
	ck_assert_ptr_null(isol8_reg_ini_value("registry: https://x/\n", NULL, "registry", false));
	/* empty value, bare key, unterminated section, lone quote */
	ck_assert_ptr_null(isol8_reg_ini_value("registry=\n", NULL, "registry", false));
	ck_assert_ptr_null(isol8_reg_ini_value("registry\n", NULL, "registry", false));
	ck_assert_ptr_null(isol8_reg_ini_value("[global\nindex-url=x\n", "global", "index-url", true));
	v = isol8_reg_ini_value("registry=\"\n", NULL, "registry", false);
	ck_assert_str_eq(v, "\"");
	free(v);
	ck_assert_ptr_null(isol8_reg_ini_value("", NULL, "registry", false));
	{
		/* one huge line without a newline */
		size_t n = 200000;
		char *big = xmalloc(n + 1);
		memset(big, '=', n);
		big[n] = '\0';
		ck_assert_ptr_null(isol8_reg_ini_value(big, NULL, "registry", false));
		memcpy(big, "registry=https://", 17);
		v = isol8_reg_ini_value(big, NULL, "registry", false);
		ck_assert_ptr_nonnull(v);
		re_is(v, NULL);
		free(v);
		free(big);
	}
}
END_TEST

START_TEST(apt_sources)
{
	char **v = NULL;
	size_t n = 0;

	isol8_reg_apt_hosts("# deb http://commented.example/ x\n"
			    "deb http://deb.debian.org/debian bookworm main\n"
			    "deb-src http://src.example/ bookworm main\n"
			    "deb [arch=amd64 signed-by=/k.gpg] https://Mirror.Example/debian bookworm main\n"
			    "deb [trusted=yes]http://glued.example/ x\n"
			    "deb http://deb.debian.org/debian bookworm-updates main\n"
			    "deb mirror+file:///etc/apt/mirrors.txt bookworm main\n"
			    "deb [unterminated http://u.example/\n"
			    "deb\n",
			    false, &v, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(v[0], "^deb\\.debian\\.org$");
	ck_assert_str_eq(v[1], "^mirror\\.example$");
	ck_assert_str_eq(v[2], "^glued\\.example$");
	ck_assert_ptr_null(v[3]);
	isol8_strv_free(v);

	v = NULL;
	n = 0;
	isol8_reg_apt_hosts("Types: deb\n"
			    "# a comment\n"
			    "URIs: http://deb.debian.org/debian\n"
			    "Suites: bookworm\n"
			    "\n"
			    "Types: deb deb-src\n"
			    "URIs: https://a.example/ https://b.example/\n"
			    "Enabled: no\n"
			    "\n"
			    "Types: deb-src\n"
			    "URIs: https://src.example/\n"
			    "\n"
			    "URIs: https://notypes.example/\n"
			    "\n"
			    "types: deb\n"
			    "uris: https://c.example/ ftp://d.example/\n",
			    true, &v, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(v[0], "^deb\\.debian\\.org$");
	ck_assert_str_eq(v[1], "^c\\.example$");
	isol8_strv_free(v);

	/* bounded: many distinct hosts stop at the cap */
	{
		char text[8192] = "";
		v = NULL;
		n = 0;
		for (int i = 0; i < 100; i++) {
			char line[64];
			snprintf(line, sizeof line, "deb http://h%d.example/ x\n", i);
			strcat(text, line);
		}
		isol8_reg_apt_hosts(text, false, &v, &n);
		ck_assert_uint_eq(n, ISOL8_REG_MAX_HOSTS);
		isol8_strv_free(v);
	}
}
END_TEST

static char tmp[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmp, rel);
	for (char *s = strchr(path + strlen(tmp) + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(path, 0700);
		*s = '/';
	}
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char *sub(const char *rel)
{
	return xasprintf("%s/%s", tmp, rel);
}

static void setup_tmp(void)
{
	strcpy(tmp, "/tmp/check_registries.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static void teardown_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	ck_assert_int_eq(system(cmd), 0);
}

static size_t defaults(const char *rt, const struct isol8_reg_paths *p, char ***v)
{
	return isol8_reg_host_defaults(rt, p, v);
}

START_TEST(npm_order)
{
	char *home = sub("home"), *etc = sub("etc"), *prefix = sub("prefix");
	struct isol8_reg_paths p = {.home = home, .etc = etc, .npm_prefix = prefix};
	char **v;

	/* nothing configured: npm's own built-in default */
	ck_assert_uint_eq(defaults("node", &p, &v), 1);
	ck_assert_str_eq(v[0], "^registry\\.npmjs\\.org$");
	isol8_strv_free(v);

	put("etc/npmrc", "registry=https://etc.example/\n");
	ck_assert_uint_eq(defaults("bun", &p, &v), 1);
	ck_assert_str_eq(v[0], "^etc\\.example$");
	isol8_strv_free(v);
	put("prefix/etc/npmrc", "registry=https://prefix.example/\n");
	ck_assert_uint_eq(defaults("node", &p, &v), 1);
	ck_assert_str_eq(v[0], "^prefix\\.example$");
	isol8_strv_free(v);
	put("home/.npmrc", "; user\nregistry = https://user.example/npm/\n");
	ck_assert_uint_eq(defaults("deno", &p, &v), 1);
	ck_assert_str_eq(v[0], "^user\\.example$");
	isol8_strv_free(v);
	p.npm_registry_env = "https://env.example:4873";
	ck_assert_uint_eq(defaults("node", &p, &v), 1);
	ck_assert_str_eq(v[0], "^env\\.example$");
	isol8_strv_free(v);
	/* a configured value that is not a usable URL yields nothing rather than a guess */
	p.npm_registry_env = "not a url";
	ck_assert_uint_eq(defaults("node", &p, &v), 0);
	ck_assert_ptr_null(v);
	free(home);
	free(etc);
	free(prefix);
}
END_TEST

START_TEST(pip_order)
{
	char *home = sub("home"), *etc = sub("etc");
	struct isol8_reg_paths p = {.home = home, .etc = etc};
	char **v;

	/* pip's built-in default index is PyPI, whose files live on files.pythonhosted.org */
	ck_assert_uint_eq(defaults("python", &p, &v), 2);
	ck_assert_str_eq(v[0], "^pypi\\.org$");
	ck_assert_str_eq(v[1], "^files\\.pythonhosted\\.org$");
	isol8_strv_free(v);

	put("etc/pip.conf", "[global]\nindex-url = https://etc.example/simple\n");
	ck_assert_uint_eq(defaults("python", &p, &v), 1); /* not PyPI: no files host */
	ck_assert_str_eq(v[0], "^etc\\.example$");
	isol8_strv_free(v);
	put("home/.pip/pip.conf", "[global]\nindex-url = https://legacy.example/simple\n");
	ck_assert_uint_eq(defaults("python", &p, &v), 1);
	ck_assert_str_eq(v[0], "^legacy\\.example$");
	isol8_strv_free(v);
	put("home/.config/pip/pip.conf",
	    "[global]\nindex-url = https://g.example/\n[install]\nindex-url: https://pypi.org/simple\n");
	ck_assert_uint_eq(defaults("python", &p, &v), 2);
	ck_assert_str_eq(v[0], "^pypi\\.org$");
	isol8_strv_free(v);
	p.pip_index_env = "https://env.example/simple";
	ck_assert_uint_eq(defaults("python", &p, &v), 1);
	ck_assert_str_eq(v[0], "^env\\.example$");
	isol8_strv_free(v);
	free(home);
	free(etc);
}
END_TEST

START_TEST(apt_dir_and_limits)
{
	char *etc = sub("etc");
	struct isol8_reg_paths p = {.etc = etc};
	char **v;

	ck_assert_uint_eq(defaults("bash", &p, &v), 0);
	ck_assert_ptr_null(v);
	put("etc/apt/sources.list", "deb http://one.example/debian bookworm main\n");
	put("etc/apt/sources.list.d/b.sources", "Types: deb\nURIs: http://three.example/\n");
	put("etc/apt/sources.list.d/a.list", "deb http://two.example/ x\ndeb http://one.example/ y\n");
	put("etc/apt/sources.list.d/c.list.disabled", "deb http://off.example/ x\n");
	ck_assert_uint_eq(defaults("bash", &p, &v), 3);
	ck_assert_str_eq(v[0], "^one\\.example$");
	ck_assert_str_eq(v[1], "^two\\.example$");
	ck_assert_str_eq(v[2], "^three\\.example$");
	isol8_strv_free(v);
	/* unknown runtime: nothing */
	ck_assert_uint_eq(defaults("ruby", &p, &v), 0);
	/* a file over the cap or holding NUL is ignored, like an unreadable one */
	{
		char *big = xmalloc(ISOL8_REG_MAX_FILE + 64);
		memset(big, '#', ISOL8_REG_MAX_FILE + 63);
		big[ISOL8_REG_MAX_FILE + 63] = '\0';
		memcpy(big, "registry=https://big.example/\n", 30);
		put("etc/npmrc", big);
		free(big);
	}
	ck_assert_uint_eq(defaults("node", &p, &v), 1);
	ck_assert_str_eq(v[0], "^registry\\.npmjs\\.org$");
	isol8_strv_free(v);
	free(etc);
}
END_TEST

START_TEST(paths_from_env)
{
	struct isol8_reg_paths p;

	setenv("HOME", "/h", 1);
	unsetenv("NPM_CONFIG_PREFIX");
	setenv("PREFIX", "/p", 1);
	unsetenv("NPM_CONFIG_REGISTRY");
	setenv("npm_config_registry", "https://lower.example/", 1);
	setenv("PIP_INDEX_URL", "https://pip.example/", 1);
	isol8_reg_paths_from_env(&p);
	ck_assert_str_eq(p.home, "/h");
	ck_assert_str_eq(p.etc, "/etc");
	ck_assert_str_eq(p.npm_prefix, "/p");
	ck_assert_str_eq(p.npm_registry_env, "https://lower.example/");
	ck_assert_str_eq(p.pip_index_env, "https://pip.example/");
	setenv("NPM_CONFIG_PREFIX", "/np", 1);
	setenv("NPM_CONFIG_REGISTRY", "https://upper.example/", 1);
	isol8_reg_paths_from_env(&p);
	ck_assert_str_eq(p.npm_prefix, "/np");
	ck_assert_str_eq(p.npm_registry_env, "https://upper.example/");
}
END_TEST

static Suite *registries_suite(void)
{
	Suite *s = suite_create("registries");
	TCase *tc = tcase_create("parse");
	TCase *tf = tcase_create("files");

	tcase_add_test(tc, host_regex);
	tcase_add_test(tc, ini_values);
	tcase_add_test(tc, apt_sources);
	tcase_add_test(tc, paths_from_env);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tf, setup_tmp, teardown_tmp);
	tcase_add_test(tf, npm_order);
	tcase_add_test(tf, pip_order);
	tcase_add_test(tf, apt_dir_and_limits);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(registries_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
