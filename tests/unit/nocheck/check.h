/* Stand-in for Check's <check.h> when configure did not find Check: the unit tests still
 * compile (so their code keeps building everywhere) and each one skips (exit 77) when run.
 * Only what the suites use is here; a new Check call needs a line below. */
#ifndef ISOL8_NOCHECK_CHECK_H
#define ISOL8_NOCHECK_CHECK_H

#include <stdio.h>
#include <stdlib.h>

typedef struct nocheck Suite;
typedef struct nocheck TCase;
typedef struct nocheck SRunner;
enum { CK_SILENT, CK_MINIMAL, CK_NORMAL, CK_VERBOSE };
#define CK_FORK "CK_FORK"

static inline void nocheck_sink(int unused, ...)
{
	(void)unused;
}

#define START_TEST(name)         \
	static void name(int _i) \
	{                        \
		(void)_i;
#define END_TEST }
#define suite_create(name) (nocheck_sink(0, name), (Suite *)NULL)
#define tcase_create(name) (nocheck_sink(0, name), (TCase *)NULL)
#define suite_add_tcase(...) nocheck_sink(0, __VA_ARGS__)
#define tcase_add_test(tc, fn) nocheck_sink(0, tc, fn)
#define tcase_add_loop_test(tc, fn, ...) nocheck_sink(0, tc, fn, __VA_ARGS__)
#define tcase_add_checked_fixture(...) nocheck_sink(0, __VA_ARGS__)
#define tcase_set_timeout(...) nocheck_sink(0, __VA_ARGS__)
#define srunner_create(s) (nocheck_sink(0, s), (SRunner *)NULL)
#define srunner_free(...) nocheck_sink(0, __VA_ARGS__)
#define srunner_ntests_failed(...) (nocheck_sink(0, __VA_ARGS__), 0)
#define srunner_run_all(...) \
	(nocheck_sink(0, __VA_ARGS__), puts("1..0 # SKIP built without Check (apt-get install check)"), exit(77))

#define ck_assert(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_msg(...) nocheck_sink(0, __VA_ARGS__)
#define ck_abort_msg(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_int_eq(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_int_ne(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_int_lt(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_int_gt(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_int_ge(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_int_le(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_uint_eq(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_uint_lt(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_uint_le(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_uint_gt(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_uint_ge(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_str_eq(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_str_ne(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_ptr_eq(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_ptr_ne(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_ptr_null(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_ptr_nonnull(...) nocheck_sink(0, __VA_ARGS__)
#define ck_assert_mem_eq(...) nocheck_sink(0, __VA_ARGS__)
#define mark_point() ((void)0)

#endif
