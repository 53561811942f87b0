/* SPDX-License-Identifier: MIT */
/* The message archive and its search (migration 0002; ops_messages.c). */
#ifndef WP_STORE_MESSAGES_H
#define WP_STORE_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

typedef struct wp_message {
    char id[WP_ID_LEN + 1];
    char device_id[WP_ID_LEN + 1];
    char employee_id[WP_ID_LEN + 1];
    char customer_id[WP_ID_LEN + 1]; /* "" when none */
    int64_t seq, ts_us;
    enum wp_direction direction;
    /* NULL when absent; owned by the page */
    const char *channel, *chat, *group_id, *group_name, *peer_id, *peer_name;
    const char *msgtype, *msgid, *text, *media, *filename, *url, *title, *memo;
    int64_t size, amount_fen; /* -1 when absent */
    int recalled;
    int64_t recalled_us; /* 0 when not recalled */
    /* with a query: byte offsets [start, end) in text of each occurrence of q, in order */
    size_t (*highlights)[2];
    size_t n_highlights;
} wp_message;

typedef struct wp_message_filter {
    const char *tenant_id;
    const char *q;                 /* NULL or "": any; else a substring of the text (ASCII and
                                    * Unicode simple case folded), one character included */
    const char *customer_id;       /* NULL: any */
    const char *employee_id;       /* NULL: any */
    const char *channel;           /* NULL: any */
    int64_t from_us, to_us;        /* ts range [from, to); 0: open */
    const wp_scope *scope;         /* NULL: any; else what its employees had, or was handed
                                    * to them (history grants) */
    const char *cursor;
    unsigned limit;
    const wp_text_view *view; /* NULL: texts as stored; else q is matched in the text as seen,
                               * and the page holds that text */
    const char *id;           /* NULL: any; else that one message */
} wp_message_filter;

typedef struct wp_message_page {
    wp_message *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
    void *mem; /* private: where the items' strings live */
} wp_message_page;

/* Messages, newest first (ts, then id), cursor = the last row's (ts, id). With q, candidates
 * come from the gram index and an exact substring test keeps real hits only, so both backends
 * answer the same rows. WP_EINVAL for a bad cursor or filter. Release with
 * wp_message_page_release(). */
int wp_store_messages_search(wp_store *st, wp_message_page *out, const wp_message_filter *f);
void wp_message_page_release(wp_message_page *p);

#endif
