/* SPDX-License-Identifier: MIT */
/* FUZZ_ASSERT for the targets that do not scan (fuzz_check.h has it with the scan checks): on
 * a broken invariant print what broke and abort(), which libFuzzer records as a crash and the
 * replay (replay.c) as a failed test. */
#ifndef WP_FUZZ_ASSERT_H
#define WP_FUZZ_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_ASSERT
#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#endif

#endif
