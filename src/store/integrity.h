/* SPDX-License-Identifier: MIT */
/* The SQLite store's integrity: its WAL's structure and its pages, checked before the server
 * starts and by `workphone check` (integrity.c; docs/internals/integrity.md). */
#ifndef WP_STORE_INTEGRITY_H
#define WP_STORE_INTEGRITY_H

#include <stddef.h>

#define WP_STORE_SQLITE_FILE "workphone.db" /* the store's file in the data dir */

/* The WAL beside the SQLite file db_path ("<db_path>-wal"), read as bytes, before SQLite opens
 * it (its recovery keeps the valid frames of a cut WAL without a word). 0 when it is absent,
 * empty, or a header (32 bytes) and whole frames (24 bytes and a page each), or ends as a
 * process killed while it appended a frame leaves it (a frame's header alone after the whole
 * frames, or a length that is a multiple of the system's page size); WP_ECORRUPT when its
 * header is not a WAL header, or its length is none of these (a cut file: the message says
 * how many bytes whole frames take, the length SQLite would use);
 * WP_EIO when it cannot be read. The message names the file. */
int wp_store_check_wal(const char *db_path);

/* SQLite's own check of every page of db_path: PRAGMA quick_check when full is 0 (b-trees,
 * page and cell structure, record formats; no index-to-table cross check), integrity_check
 * when it is 1. Opens the file without creating it, reads only, and leaves the WAL as it
 * found it (no checkpoint at close). cb(ctx, line) gets each problem, up to max. *problems
 * counts them. 0 when the check ran (problems or not); WP_ECORRUPT when SQLite refuses the
 * file at once (not a database, a damaged header), with the message naming the file;
 * WP_EIO when it cannot be opened. cb's line is borrowed. */
int wp_store_check_sqlite(const char *db_path, int full, unsigned max, unsigned *problems,
                          void (*cb)(void *ctx, const char *line), void *ctx);

#endif
