/* SPDX-License-Identifier: MIT */
/* conf.c's parser without the file, exposed for its fuzz target (tests/fuzz/fuzz_conf.c). */
#ifndef WP_UTIL_CONF_INT_H
#define WP_UTIL_CONF_INT_H

#include "util/conf.h"

#include <stddef.h>

/* wp_conf_read() of text[0..len) instead of a file; name stands for the file in messages. */
int wp_conf__parse(wp_conf **out, const char *name, const char *text, size_t len);

/* The settings in the order of their first line, for checking them all. */
size_t wp_conf__count(const wp_conf *c);
void wp_conf__at(const wp_conf *c, size_t i, const char **key, const char **value);

#endif
