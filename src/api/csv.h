/* SPDX-License-Identifier: MIT */
/* CSV exports: the one place a CSV cell is written, so every export quotes cells and defuses
 * spreadsheet formulas the same way (and so a rule for every cell, such as masking personal
 * data, has one place to go). */
#ifndef WP_API_CSV_H
#define WP_API_CSV_H

#include <stddef.h>

#include "http/http.h"
#include "util/buf.h"

/* A CSV document being written: RFC 4180 rows ending in CRLF. */
typedef struct api_csv {
    wp_buf buf;
    size_t cells;     /* in the row being written */
    wp_http_ctx *ctx; /* whose caller reads it: cells are masked as it sees them */
} api_csv;

/* Start an empty document of at most max_bytes (appends past it fail with WP_ELIMIT) for the
 * caller of ctx (borrowed: the request's). */
void api_csv_init(api_csv *w, wp_http_ctx *ctx, size_t max_bytes);
void api_csv_release(api_csv *w);

/* Append one cell to the current row, as the caller sees it (personal data masked like any
 * answer: api_view_text()): always quoted, quotes doubled, and a cell beginning with = + - @
 * TAB or CR (what spreadsheets read as a formula, OWASP "CSV injection") gets a leading ' so
 * that it stays text. NULL is an empty cell.
 * @return 0, WP_ELIMIT or WP_ENOMEM */
__attribute__((warn_unused_result)) int api_csv_cell(api_csv *w, const char *s);

/* The same for a value that is the system's own word, as the reply boundary's clear keys are
 * (an id, a time, a kind, a status, a hash): quoted and defused, but not masked, since the
 * detectors would take a run of digits inside an id for a phone number. Never for what people
 * wrote or are called. @return 0, WP_ELIMIT or WP_ENOMEM */
__attribute__((warn_unused_result)) int api_csv_cell_word(api_csv *w, const char *s);

/* End the current row (CRLF). @return 0, WP_ELIMIT or WP_ENOMEM */
__attribute__((warn_unused_result)) int api_csv_row_end(api_csv *w);

/* Reply 200 with the document as a CSV download named filename (ASCII, no quotes; the
 * Content-Disposition header). Takes the document's bytes (w is left empty). */
int api_csv_reply(wp_http_ctx *ctx, api_csv *w, const char *filename);

#endif
