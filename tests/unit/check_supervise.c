/* Unit tests for broker/supervise.c with real children (sleep(1) processes): a SIGKILLed child
 * is reaped and restarted after its back-off, a death asked for restarts at once, a one-shot
 * child is forgotten, children outside the table are never reaped, and the shutdown's
 * SIGTERM -> SIGKILL escalation is bounded. Each test runs in its own forked process. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/supervise.h"
#include "common/clock.h"

struct fake {
	unsigned spawns, reaps;
	int last_status;
	pid_t last_pid;
	bool crash;       /* what reaped returns */
	bool ignore_term; /* the children ignore SIGTERM */
};

static struct fake F;

static int fake_spawn(void *ctx, unsigned idx, pid_t *pid, struct isol8_err *err)
{
	struct fake *f = ctx;
	sigset_t term, old;
	pid_t p;

	(void)idx;
	(void)err;
	/* Check's runner SIGTERM handler (killpg of the test's group) is inherited until exec: a
	 * SIGTERM that reached the child before would kill the test itself. Like the broker (its
	 * signals go to a signalfd), hold it blocked across the fork and reset it in the child. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	p = fork();
	if (p == 0) {
		signal(SIGTERM, f->ignore_term ? SIG_IGN : SIG_DFL); /* kept across exec */
		sigprocmask(SIG_SETMASK, &old, NULL);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	ck_assert_int_ge(p, 0);
	f->spawns++;
	*pid = p;
	return 0;
}

static bool fake_reaped(void *ctx, unsigned idx, pid_t pid, int status, uint64_t now)
{
	struct fake *f = ctx;

	(void)idx;
	(void)now;
	f->reaps++;
	f->last_pid = pid;
	f->last_status = status;
	return f->crash;
}

static const struct supervise_ops worker_ops = {
	.name = "worker",
	.backoff_ms = 100,
	.backoff_max_ms = 30000,
	.reset_ms = 60000,
	.respawn = true,
	.spawn = fake_spawn,
	.reaped = fake_reaped,
};
static const struct supervise_ops oneshot_ops = {
	.name = "fetch",
	.respawn = false,
	.reaped = fake_reaped,
};

static void setup(void)
{
	static const struct supervise_ops *const ops[SV__KINDS] = {
		[SV_WORKER] = &worker_ops,
		[SV_FETCH] = &oneshot_ops,
	};

	F = (struct fake){.crash = true};
	supervise_reset();
	supervise_init(ops, &F);
}

static void teardown(void)
{
	supervise_stop_all(0);
}

/* Reap at a fixed now until the supervisor has seen n deaths (the kill lands asynchronously). */
static void reap_until(unsigned n, uint64_t now)
{
	for (int i = 0; i < 500 && F.reaps < n; i++) {
		supervise_reap(now, false);
		if (F.reaps < n)
			usleep(10000);
	}
	ck_assert_uint_eq(F.reaps, n);
}

START_TEST(test_sigkill_is_reaped_and_respawned_after_backoff)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	pid_t first, second;

	ck_assert_int_eq(supervise_spawn(SV_WORKER, 3, &err), 0);
	first = supervise_pid(SV_WORKER, 3);
	ck_assert_int_gt(first, 0);
	ck_assert_int_eq(supervise_kill(SV_WORKER, 3, SIGKILL), 0);
	reap_until(1, 1000);
	ck_assert_int_eq(F.last_pid, first);
	ck_assert(WIFSIGNALED(F.last_status) && WTERMSIG(F.last_status) == SIGKILL);
	ck_assert_int_eq(supervise_pid(SV_WORKER, 3), 0);
	ck_assert_int_eq(supervise_kill(SV_WORKER, 3, SIGKILL), -1);
	/* First death: 100 << 1 ms. */
	supervise_reap(1199, false);
	ck_assert_uint_eq(F.spawns, 1);
	supervise_reap(1200, false);
	ck_assert_uint_eq(F.spawns, 2);
	second = supervise_pid(SV_WORKER, 3);
	ck_assert_int_gt(second, 0);
	ck_assert_int_ne(second, first);
	ck_assert_int_eq(kill(first, 0), -1); /* reaped, not a zombie left behind */
	/* Second death in a row: 400 ms. */
	supervise_kill(SV_WORKER, 3, SIGKILL);
	reap_until(2, 2000);
	supervise_reap(2399, false);
	ck_assert_uint_eq(F.spawns, 2);
	supervise_reap(2400, false);
	ck_assert_uint_eq(F.spawns, 3);
	/* Alive 60 s past its restart: the count starts again, the next wait is 200 ms. */
	supervise_reap(2400 + 60001, false);
	supervise_kill(SV_WORKER, 3, SIGKILL);
	reap_until(3, 70000);
	supervise_reap(70200, false);
	ck_assert_uint_eq(F.spawns, 4);
}
END_TEST

START_TEST(test_backoff_is_capped)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	uint64_t now = 0;

	ck_assert_int_eq(supervise_spawn(SV_WORKER, 0, &err), 0);
	for (unsigned n = 1; n <= 8; n++) {
		uint64_t wait = n > 6 ? 30000 : 100u << n;
		supervise_kill(SV_WORKER, 0, SIGKILL);
		reap_until(n, now);
		supervise_reap(now + wait - 1, false);
		ck_assert_uint_eq(F.spawns, n);
		now += wait;
		supervise_reap(now, false);
		ck_assert_uint_eq(F.spawns, n + 1);
	}
}
END_TEST

START_TEST(test_asked_for_death_restarts_at_once)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	F.crash = false;
	ck_assert_int_eq(supervise_spawn(SV_WORKER, 1, &err), 0);
	supervise_kill(SV_WORKER, 1, SIGTERM);
	reap_until(1, 500);
	ck_assert(WIFSIGNALED(F.last_status) && WTERMSIG(F.last_status) == SIGTERM);
	ck_assert_uint_eq(F.spawns, 2); /* in the same pass */
}
END_TEST

START_TEST(test_stopping_restarts_nothing)
{
	struct isol8_err err = ISOL8_ERR_INIT;

	ck_assert_int_eq(supervise_spawn(SV_WORKER, 1, &err), 0);
	supervise_kill(SV_WORKER, 1, SIGKILL);
	for (int i = 0; i < 500 && !F.reaps; i++) {
		supervise_reap(100000, true);
		usleep(10000);
	}
	ck_assert_uint_eq(F.reaps, 1);
	supervise_reap(200000, true);
	ck_assert_uint_eq(F.spawns, 1);
}
END_TEST

START_TEST(test_one_shot_is_forgotten)
{
	pid_t p = fork();

	ck_assert_int_ge(p, 0);
	if (p == 0)
		_exit(3);
	supervise_add(SV_FETCH, 5, p);
	ck_assert_uint_eq(supervise_count(SV_FETCH), 1);
	reap_until(1, 0);
	ck_assert(WIFEXITED(F.last_status) && WEXITSTATUS(F.last_status) == 3);
	ck_assert_uint_eq(supervise_count(SV_FETCH), 0);
	ck_assert_int_eq(supervise_pid(SV_FETCH, 5), 0);
}
END_TEST

/* A child forked and awaited by someone else (netns.c's iptables, users.c's useradd) stays
 * theirs: the supervisor never waits for pids outside its table. */
START_TEST(test_other_children_are_not_reaped)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	pid_t other = fork(), r;
	int st = 0;

	ck_assert_int_ge(other, 0);
	if (other == 0)
		_exit(7);
	ck_assert_int_eq(supervise_spawn(SV_WORKER, 0, &err), 0);
	supervise_kill(SV_WORKER, 0, SIGKILL);
	reap_until(1, 0);
	usleep(50000);
	supervise_reap(0, false);
	r = waitpid(other, &st, 0);
	ck_assert_int_eq(r, other);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7);
}
END_TEST

START_TEST(test_stop_all_term_then_kill_bounded)
{
	struct isol8_err err = ISOL8_ERR_INIT;
	pid_t polite, stubborn;
	uint64_t t0, ms;

	ck_assert_int_eq(supervise_spawn(SV_WORKER, 0, &err), 0);
	polite = supervise_pid(SV_WORKER, 0);
	t0 = clock_mono_ms();
	supervise_stop_all(3000);
	ms = clock_mono_ms() - t0;
	ck_assert_msg(ms < 1000, "a child that obeys SIGTERM stops at once (%llu ms)", (unsigned long long)ms);
	ck_assert_int_eq(kill(polite, 0), -1);

	F.ignore_term = true;
	ck_assert_int_eq(supervise_spawn(SV_WORKER, 0, &err), 0);
	stubborn = supervise_pid(SV_WORKER, 0);
	usleep(100000); /* past its signal(SIGTERM, SIG_IGN) */
	t0 = clock_mono_ms();
	supervise_stop_all(300);
	ms = clock_mono_ms() - t0;
	ck_assert_msg(ms >= 300 && ms < 2000, "SIGKILL after the 300 ms given to SIGTERM (%llu ms)",
		      (unsigned long long)ms);
	ck_assert_int_eq(kill(stubborn, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
	ck_assert_uint_eq(supervise_count(SV_WORKER), 0);
	ck_assert_uint_eq(F.reaps, 0); /* shutdown runs no callbacks */
}
END_TEST

static Suite *supervise_suite(void)
{
	Suite *s = suite_create("supervise");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_sigkill_is_reaped_and_respawned_after_backoff);
	tcase_add_test(tc, test_backoff_is_capped);
	tcase_add_test(tc, test_asked_for_death_restarts_at_once);
	tcase_add_test(tc, test_stopping_restarts_nothing);
	tcase_add_test(tc, test_one_shot_is_forgotten);
	tcase_add_test(tc, test_other_children_are_not_reaped);
	tcase_add_test(tc, test_stop_all_term_then_kill_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(supervise_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
