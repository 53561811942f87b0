/* SPDX-License-Identifier: MIT */
/* The SQLite store's WAL read as bytes, and its pages through SQLite's own checks. */
#include "store/integrity.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAL_HEADER 32
#define WAL_FRAME_HEADER 24

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int wp_store_check_wal(const char *db_path)
{
    char wal[4096];
    unsigned char h[WAL_HEADER];
    struct stat sb;
    int fd, err = 0;

    if (snprintf(wal, sizeof wal, "%s-wal", db_path) >= (int)sizeof wal)
        return wp_error_set(WP_EINVAL, "store path is too long");
    if ((fd = open(wal, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0
                               : wp_error_set(WP_EIO, "cannot read '%s': %s", wal, strerror(errno));
    if (fstat(fd, &sb) != 0) {
        err = wp_error_set(WP_EIO, "cannot read '%s': %s", wal, strerror(errno));
        goto out;
    }
    if (sb.st_size == 0) /* reset after a checkpoint, or never written */
        goto out;
    if (sb.st_size < WAL_HEADER) {
        err = wp_error_set(WP_ECORRUPT, "'%s' is cut: %lld bytes, less than its %d-byte header",
                           wal, (long long)sb.st_size, WAL_HEADER);
        goto out;
    }
    if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h) {
        err = wp_error_set(WP_EIO, "cannot read '%s': %s", wal, strerror(errno));
        goto out;
    }
    uint32_t magic = be32(h), page = be32(h + 8);
    if ((magic & 0xfffffffe) != 0x377f0682 || page < 512 || page > 65536 || (page & (page - 1))) {
        err = wp_error_set(WP_ECORRUPT, "'%s' is damaged: its header is not a SQLite WAL header",
                           wal);
        goto out;
    }
    long long frame = WAL_FRAME_HEADER + (long long)page, body = sb.st_size - WAL_HEADER;
    long sys_page = sysconf(_SC_PAGESIZE);
    /* SQLite appends a frame as two writes, its header then its page, and the kernel may end
     * a write that a kill interrupts at a page of its cache: a process killed while it
     * appended (an unacknowledged transaction: acknowledged ones are synced whole) leaves a
     * tail of exactly a frame header, or one that ends on such a page. Those are SQLite's to
     * drop; any other length is a cut file. */
    if (body % frame != 0 && body % frame != WAL_FRAME_HEADER &&
        (sys_page <= 0 || sb.st_size % sys_page != 0))
        err = wp_error_set(WP_ECORRUPT,
                           "'%s' is cut: %lld bytes is not its %d-byte header and whole "
                           "%lld-byte frames (%lld whole frames end at byte %lld)",
                           wal, (long long)sb.st_size, WAL_HEADER, frame, body / frame,
                           WAL_HEADER + body / frame * frame);
out:
    close(fd);
    return err;
}

/* One line of SQLite's answer: its newlines as "; ". */
static void one_line(char *out, size_t cap, const char *in)
{
    size_t n = 0;
    const char *head = "*** in database main ***";
    if (in && !strncmp(in, head, strlen(head))) /* the only database a store has */
        for (in += strlen(head); *in == '\n' || *in == ' '; in++)
            ;
    for (; in && *in && n + 3 < cap; in++) {
        if (*in == '\n' || *in == '\r') {
            if (n && out[n - 1] != ' ')
                out[n++] = ';', out[n++] = ' ';
            continue;
        }
        out[n++] = *in;
    }
    while (n && (out[n - 1] == ' ' || out[n - 1] == ';'))
        n--;
    out[n] = '\0';
}

int wp_store_check_sqlite(const char *db_path, int full, unsigned max, unsigned *problems,
                          void (*cb)(void *ctx, const char *line), void *ctx)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char line[1024];
    int rc, err = 0;

    *problems = 0;
    if (access(db_path, F_OK) != 0)
        return wp_error_set(WP_EIO, "cannot open '%s': %s", db_path, strerror(errno));
    rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err = wp_error_set(WP_EIO, "cannot open '%s': %s", db_path,
                           db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_busy_timeout(db, 5000);
    /* the last connection to close would checkpoint the WAL into the file and remove it: a
     * check changes nothing it looks at */
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);
    snprintf(line, sizeof line, "PRAGMA %s(%u)", full ? "integrity_check" : "quick_check",
             max ? max : 1);
    if (sqlite3_prepare_v2(db, line, -1, &s, NULL) != SQLITE_OK) {
        rc = sqlite3_errcode(db);
        goto refused;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (r && strcmp(r, "ok") == 0)
            continue;
        one_line(line, sizeof line, r);
        (*problems)++;
        cb(ctx, line);
    }
    /* a check that found damage may stop on it: the damage is said already */
    if (rc == SQLITE_DONE || (*problems && (rc & 0xff) == SQLITE_CORRUPT))
        goto out;
refused:
    one_line(line, sizeof line, sqlite3_errmsg(db));
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
        err = wp_error_set(WP_ECORRUPT, "'%s' is damaged: %s", db_path, line);
    else
        err = wp_error_set(WP_EIO, "cannot check '%s': %s", db_path, line);
out:
    sqlite3_finalize(s);
    sqlite3_close(db);
    return err;
}
