/* Unit tests for broker/usage.c: a sandbox's counters read from its cgroup, in cgroup v1 and
 * v2 and in both of Docker's layouts (cgroupfs: docker/ID, systemd: system.slice/docker-ID.scope),
 * over a fake tree of the files the kernel would show. This host's engine has one layout; the
 * others are only here. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/usage.h"

static char root[] = "/tmp/check_usage_XXXXXX";

static void mkdirs(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	ck_assert_int_eq(mkdir(p, 0755) == 0 || access(p, F_OK) == 0, 1);
}

/* Write a file as the kernel would show it (truncating: a new value, same inode). */
static void put(const char *dir, const char *name, const char *text)
{
	char p[PATH_MAX];
	int fd;
	snprintf(p, sizeof p, "%s/%s/%s", root, dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void get(const char *dir, const char *name, char *buf, size_t n)
{
	char p[PATH_MAX];
	FILE *f;
	size_t r;
	snprintf(p, sizeof p, "%s/%s/%s", root, dir, name);
	f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	r = fread(buf, 1, n - 1, f);
	buf[r] = '\0';
	fclose(f);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(root));
	usage_set_cgroup_root(root);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
	memcpy(root + strlen(root) - 6, "XXXXXX", 6);
}

static void v2_files(const char *dir)
{
	mkdirs(dir);
	put(dir, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
	put(dir, "memory.current", "4096\n");
	put(dir, "memory.peak", "8192\n");
}

START_TEST(v2_cgroupfs)
{
	struct usage_sample u;
	char buf[64];

	v2_files("docker/aaa");
	ck_assert_int_eq(usage_read("aaa", false, &u), 0);
	ck_assert_uint_eq(u.known, USAGE_K_CPU | USAGE_K_MEM | USAGE_K_PEAK);
	ck_assert_uint_eq(u.cpu_us, 1500);
	ck_assert_uint_eq(u.mem, 4096);
	ck_assert_uint_eq(u.peak, 8192);
	/* A reset is the kernel's "reset" written to memory.peak through a descriptor the broker
	 * keeps: later reads go through it and count from the reset. */
	ck_assert_int_eq(usage_read("aaa", true, &u), 0);
	get("docker/aaa", "memory.peak", buf, sizeof buf);
	ck_assert_str_eq(buf, "reset\n");
	put("docker/aaa", "memory.peak", "100\n");
	ck_assert_int_eq(usage_read("aaa", false, &u), 0);
	ck_assert_uint_eq(u.known, USAGE_K_CPU | USAGE_K_MEM | USAGE_K_PEAK | USAGE_K_PEAK_RESET);
	ck_assert_uint_eq(u.peak, 100);
	usage_forget("aaa");
}
END_TEST

START_TEST(v2_systemd)
{
	struct usage_sample u;

	v2_files("system.slice/docker-bbb.scope");
	ck_assert_int_eq(usage_read("bbb", false, &u), 0);
	ck_assert_uint_eq(u.known, USAGE_K_CPU | USAGE_K_MEM | USAGE_K_PEAK);
	ck_assert_uint_eq(u.cpu_us, 1500);
	ck_assert_uint_eq(u.peak, 8192);
	usage_forget("bbb");
}
END_TEST

/* A v2 kernel before memory.peak (5.19): no peak, the rest still read. */
START_TEST(v2_without_peak)
{
	struct usage_sample u;

	mkdirs("docker/ccc");
	put("docker/ccc", "cpu.stat", "user_usec 1\nusage_usec 7\n");
	put("docker/ccc", "memory.current", "1\n");
	ck_assert_int_eq(usage_read("ccc", false, &u), 0);
	ck_assert_uint_eq(u.known, USAGE_K_CPU | USAGE_K_MEM);
	ck_assert_uint_eq(u.cpu_us, 7);
	usage_forget("ccc");
}
END_TEST

static void v1_files(const char *cpu, const char *mem)
{
	mkdirs(cpu);
	mkdirs(mem);
	put(cpu, "cpuacct.usage", "2500000\n"); /* ns */
	put(mem, "memory.usage_in_bytes", "65536\n");
	put(mem, "memory.max_usage_in_bytes", "131072\n");
}

START_TEST(v1_cgroupfs)
{
	struct usage_sample u;
	char buf[64];

	v1_files("cpu,cpuacct/docker/ddd", "memory/docker/ddd");
	ck_assert_int_eq(usage_read("ddd", true, &u), 0);
	ck_assert_uint_eq(u.known, USAGE_K_CPU | USAGE_K_MEM | USAGE_K_PEAK | USAGE_K_PEAK_RESET);
	ck_assert_uint_eq(u.cpu_us, 2500);
	ck_assert_uint_eq(u.mem, 65536);
	ck_assert_uint_eq(u.peak, 131072);
	/* v1 resets the peak with a write of "0" at the start (a regular file keeps the rest) */
	get("memory/docker/ddd", "memory.max_usage_in_bytes", buf, sizeof buf);
	ck_assert_str_eq(buf, "031072\n");
	usage_forget("ddd");
}
END_TEST

START_TEST(v1_systemd)
{
	struct usage_sample u;

	v1_files("cpuacct/system.slice/docker-eee.scope", "memory/system.slice/docker-eee.scope");
	ck_assert_int_eq(usage_read("eee", false, &u), 0);
	ck_assert_uint_eq(u.known, USAGE_K_CPU | USAGE_K_MEM | USAGE_K_PEAK | USAGE_K_PEAK_RESET);
	ck_assert_uint_eq(u.cpu_us, 2500);
	ck_assert_uint_eq(u.peak, 131072);
	usage_forget("eee");
}
END_TEST

START_TEST(unknown_container)
{
	struct usage_sample u;

	mkdirs("docker/other");
	ck_assert_int_eq(usage_read("fff", false, &u), -1);
	ck_assert_uint_eq(u.known, 0);
	/* found once it appears: a miss is not remembered */
	v2_files("docker/fff");
	ck_assert_int_eq(usage_read("fff", false, &u), 0);
	ck_assert_uint_eq(u.mem, 4096);
	usage_forget("fff");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("usage");
	TCase *tc = tcase_create("cgroups");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, v2_cgroupfs);
	tcase_add_test(tc, v2_systemd);
	tcase_add_test(tc, v2_without_peak);
	tcase_add_test(tc, v1_cgroupfs);
	tcase_add_test(tc, v1_systemd);
	tcase_add_test(tc, unknown_container);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
