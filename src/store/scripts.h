/* SPDX-License-Identifier: MIT */
/* The scripts library, 话术 (migration 0010; ops_scripts.c). */
#ifndef WP_STORE_SCRIPTS_H
#define WP_STORE_SCRIPTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/id.h"

#define WP_SCRIPTS_MAX 2000        /* scripts of a tenant */
#define WP_SCRIPT_TEXT_MAX 2000    /* characters */
#define WP_SCRIPT_TITLE_MAX 100    /* characters, also of a category */
#define WP_SCRIPT_MATCH_MIN 4      /* a normalized text shorter than this is never counted */

typedef struct wp_script {
    char id[WP_ID_LEN + 1];
    char category[WP_SCRIPT_TITLE_MAX * 4 + 1];
    char title[WP_SCRIPT_TITLE_MAX * 4 + 1];
    char *text;          /* malloc'ed (wp_script_release) */
    int64_t usage_count; /* outgoing messages found using it */
    int64_t created_us, updated_us;
} wp_script;

void wp_script_release(wp_script *s);

/* Text as scripts are matched: Unicode lowercase, without whitespace, punctuation, symbols or
 * control characters. *out malloc'ed (caller frees). */
int wp_script_normalize(char **out, const char *text);

typedef struct wp_script_filter {
    const char *tenant_id;
    const char *category; /* NULL: any */
    const char *q;        /* NULL or "": any; else a substring of title or text (ASCII case
                           * folded) */
    const char *cursor;
    unsigned limit;
} wp_script_filter;

typedef struct wp_script_page {
    wp_script *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
} wp_script_page;

/* By category, then oldest first. Release with wp_script_page_release(). */
int wp_store_scripts_list(wp_store *st, wp_script_page *out, const wp_script_filter *f);
void wp_script_page_release(wp_script_page *p);
int wp_store_script_get(wp_store *st, wp_script *out, const char *tenant_id, const char *id);
/* Create (s->id written back) or change s->id: category, title, text (NULL leaves one as it is
 * on change); id NULL creates. A new text restarts the count at 0. WP_EINVAL; WP_ENOTFOUND;
 * WP_ELIMIT. On success *out is the stored script (release it with wp_script_release()). */
int wp_store_script_put(wp_store *st, wp_script *out, const char *tenant_id, const char *id,
                        const char *category, const char *title, const char *text,
                        int64_t now_us);
int wp_store_script_delete(wp_store *st, const char *tenant_id, const char *id);

/* Count script uses in the messages stored since the last run (every tenant; part of
 * wp_store_crm_rules_run): an outgoing text message uses a script when its normalized text
 * contains the script's (of at least WP_SCRIPT_MATCH_MIN characters). Messages stored in the
 * last WP_ANALYTICS_LAG_S are left for the next run. *uses adds up. */
int wp_store_scripts_count(wp_store *st, int64_t *uses, int64_t now_us);

#endif
