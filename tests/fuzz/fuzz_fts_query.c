/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the search text that becomes a full-text query (src/store/grams.c). The
 * input is a message's text; a search for the whole of it and for a slice of it (on character
 * boundaries, the slice picked by the input) must be a valid FTS5 MATCH expression that finds
 * the message in an in-memory table made like message_fts (migration 0002), a PostgreSQL
 * text[] literal of quoted grams, and the exact test (wp_grams__find) must find the slice in
 * the text, at offsets in range and without overlap. */
#include "store/grams.h"
#include "util/buf.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "fuzz_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define Q_MAX 1024 /* bytes of a search query (ops_messages.c) */

static sqlite3 *db;
static sqlite3_stmt *ins, *match, *clear;

static void open_db(void)
{
    if (db)
        return;
    FUZZ_ASSERT(sqlite3_open(":memory:", &db) == SQLITE_OK, "sqlite");
    FUZZ_ASSERT(sqlite3_exec(db,
                             "CREATE VIRTUAL TABLE message_fts USING fts5 (tenant_id UNINDEXED,"
                             " grams, content = '', tokenize = 'ascii', detail = 'none',"
                             " columnsize = 0)",
                             NULL, NULL, NULL) == SQLITE_OK,
                "fts5: %s", sqlite3_errmsg(db));
    FUZZ_ASSERT(sqlite3_prepare_v2(db, "INSERT INTO message_fts (rowid, grams) VALUES (1, ?)", -1,
                                   &ins, NULL) == SQLITE_OK &&
                    sqlite3_prepare_v2(db,
                                       "SELECT rowid FROM message_fts WHERE message_fts MATCH ?",
                                       -1, &match, NULL) == SQLITE_OK &&
                    sqlite3_prepare_v2(db,
                                       "INSERT INTO message_fts (message_fts) VALUES"
                                       " ('delete-all')",
                                       -1, &clear, NULL) == SQLITE_OK,
                "prepare: %s", sqlite3_errmsg(db));
}

static void run(sqlite3_stmt *s, const char *text, size_t len)
{
    sqlite3_reset(s);
    if (text)
        sqlite3_bind_text(s, 1, text, (int)len, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    FUZZ_ASSERT(rc == SQLITE_DONE, "step: %d %s", rc, sqlite3_errmsg(db));
}

/* The PostgreSQL form: {"g1","g2"}, grams without quotes or backslashes. */
static void check_pg(const char *text, size_t len, size_t want_n)
{
    wp_buf b;
    wp_buf_init(&b, 32 * len + 64);
    size_t n = 0;
    FUZZ_ASSERT(wp_grams__make(&b, &n, text, len, 1, WP_GRAMS_PG_ARRAY) == 0, "pg form");
    FUZZ_ASSERT(n == want_n, "%zu grams as an array, %zu as a query", n, want_n);
    FUZZ_ASSERT(b.len >= 2 && b.buf[0] == '{' && b.buf[b.len - 1] == '}', "'%s'", b.buf);
    size_t elems = 0;
    for (size_t i = 1; i + 1 < b.len;) {
        FUZZ_ASSERT(b.buf[i] == '"', "element %zu of '%s' unquoted", elems, b.buf);
        size_t j = i + 1;
        while (j < b.len - 1 && b.buf[j] != '"') {
            FUZZ_ASSERT(b.buf[j] != '\\' && b.buf[j] != '{' && b.buf[j] != '}' && b.buf[j] != ',',
                        "'%s'", b.buf);
            j++;
        }
        FUZZ_ASSERT(j > i + 1 && b.buf[j] == '"', "element %zu of '%s'", elems, b.buf);
        elems++;
        i = j + 1;
        if (i + 1 < b.len) {
            FUZZ_ASSERT(b.buf[i] == ',', "'%s'", b.buf);
            i++;
        }
    }
    FUZZ_ASSERT(elems == n, "%zu elements, %zu grams", elems, n);
    wp_buf_release(&b);
}

/* A search for q[0..qlen) (a slice of the indexed text) finds the message. */
static void search(const char *text, size_t len, const char *q, size_t qlen)
{
    if (qlen > Q_MAX)
        return;
    wp_buf b;
    wp_buf_init(&b, 32 * qlen + 64);
    size_t n = 0;
    FUZZ_ASSERT(wp_grams__make(&b, &n, q, qlen, 1, WP_GRAMS_FTS_QUERY) == 0, "query form");
    check_pg(q, qlen, n);
    if (n) {
        sqlite3_reset(match);
        sqlite3_bind_text(match, 1, b.buf, (int)b.len, SQLITE_TRANSIENT);
        int rc = sqlite3_step(match);
        FUZZ_ASSERT(rc == SQLITE_ROW, "MATCH '%s' gave %d (%s) instead of the message", b.buf, rc,
                    sqlite3_errmsg(db));
        FUZZ_ASSERT(sqlite3_column_int64(match, 0) == 1, "another row");
        FUZZ_ASSERT(sqlite3_step(match) == SQLITE_DONE, "more rows");
    }
    wp_buf_release(&b);

    size_t(*hits)[2] = NULL;
    size_t nh = 0;
    FUZZ_ASSERT(wp_grams__find(&hits, &nh, text, len, q, qlen) == 0, "find");
    FUZZ_ASSERT(qlen == 0 || nh >= 1, "a slice of the text not found in it");
    for (size_t i = 0; i < nh; i++) {
        FUZZ_ASSERT(hits[i][0] < hits[i][1] && hits[i][1] <= len, "hit %zu: [%zu,%zu) of %zu", i,
                    hits[i][0], hits[i][1], len);
        FUZZ_ASSERT(i == 0 || hits[i - 1][1] <= hits[i][0], "hits %zu and %zu overlap", i - 1, i);
    }
    free(hits);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    open_db();
    wp_buf b;
    wp_buf_init(&b, 32 * size + 64);
    FUZZ_ASSERT(wp_grams__make(&b, NULL, text, size, 0, WP_GRAMS_SPACED) == 0, "index form");
    FUZZ_ASSERT(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK, "begin");
    run(ins, b.buf ? b.buf : "", b.len);
    wp_buf_release(&b);

    search(text, size, text, size);
    /* the slice: character boundaries as the grams see them (an invalid byte is one) */
    size_t *at = malloc((size + 1) * sizeof *at), nb = 0;
    FUZZ_ASSERT(at != NULL, "out of memory");
    for (size_t i = 0; i < size;) {
        at[nb++] = i;
        utf8proc_int32_t cp;
        utf8proc_ssize_t l = utf8proc_iterate(data + i, (utf8proc_ssize_t)(size - i), &cp);
        i += l > 0 && cp >= 0 ? (size_t)l : 1;
    }
    at[nb++] = size;
    if (nb > 2) {
        size_t a = data[0] % (nb - 1), z = a + 1 + data[size - 1] % (nb - 1 - a);
        search(text, size, text + at[a], at[z] - at[a]);
    }
    free(at);
    run(clear, NULL, 0);
    FUZZ_ASSERT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK, "commit");
    return 0;
}
