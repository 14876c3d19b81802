/* The one monotonic clock. Every timeout, deadline and duration in isol8 is measured on
 * CLOCK_MONOTONIC (never the wall clock, which an admin or NTP may step), and in one unit per
 * use: milliseconds for deadlines and timings, seconds for human-facing progress. */
#ifndef ISOL8_CLOCK_H
#define ISOL8_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline double clock_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
