/*
 * A tiny check counter for the embedded test programs (C99 and C++11):
 * CHECK(cond, what) counts a pass or prints the failure; check_report()
 * prints "<name>: N passed, N failed" and gives the exit status.
 */
#ifndef DUCQ_EMBEDDED_CHECK_H
#define DUCQ_EMBEDDED_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

#define CHECK(cond, what)                                                        \
	do {                                                                         \
		if (cond) {                                                              \
			check_passed++;                                                      \
		} else {                                                                 \
			check_failed++;                                                      \
			printf("FAILED %s:%d: %s (%s)\n", __FILE__, __LINE__, what, #cond); \
		}                                                                        \
	} while (0)

/* Equal states, both shown when they differ. */
#define CHECK_STATE(got, want, what)                                              \
	do {                                                                          \
		int got_ = (int)(got), want_ = (int)(want);                               \
		if (got_ != want_)                                                        \
			printf("  %s: got %s (%d), want %s (%d)\n", what,                     \
			       ducq_state_short(got_), got_, ducq_state_short(want_), want_); \
		CHECK(got_ == want_, what);                                               \
	} while (0)

static int check_report(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
	return check_failed == 0 && check_passed > 0 ? 0 : 1;
}

#endif
