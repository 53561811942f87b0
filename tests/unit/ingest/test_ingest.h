/* SPDX-License-Identifier: MIT */
/* The ingest test binary's two halves: validation (test_event.c) and the whole path
 * (test_ingest.c). */
#ifndef WP_TEST_INGEST_H
#define WP_TEST_INGEST_H

#include "archive_fixture.h"

#include <jansson.h>

/* Parse JSON text, failing the test on error. Caller owns the value. */
json_t *J(const char *text);

extern const struct CMUnitTest event_tests[];
extern const size_t event_tests_n;

#endif
