/* SPDX-License-Identifier: MIT */
/* Storage usage and limits per tenant (migration 0015; ops_usage.c). Counted in the
 * transactions that store the bytes, so every node agrees; enforced there too: what would pass
 * a limit is not stored. A tenant without a row has used nothing. */
#ifndef WP_STORE_USAGE_H
#define WP_STORE_USAGE_H

#include <stdint.h>

#include "store/store.h"

enum wp_usage_kind {
    WP_USAGE_ARCHIVE = 0, /* raw JSON of stored events, plus message texts */
    WP_USAGE_MEDIA,       /* sizes of the tenant's media files */
    WP_USAGE_QUARANTINE,  /* the kept slices of rejected events (WP_QUARANTINE_RAW_MAX each) */
    WP_USAGE_KINDS
};

/* Default limits, generous for what a tenant means to keep and small for what nobody should
 * send (docs/internals/ingest.md, "Storage limits"): 100 GiB of archive, 1 TiB of media,
 * 256 MiB of quarantine (65,536 full 4 KiB slices). */
#define WP_USAGE_ARCHIVE_DEFAULT (100LL << 30)
#define WP_USAGE_MEDIA_DEFAULT (1LL << 40)
#define WP_USAGE_QUARANTINE_DEFAULT (256LL << 20)
#define WP_USAGE_LIMIT_MAX 9007199254740991LL /* 2^53 - 1: exact in JSON */

/* "archive", "media", "quarantine" */
const char *wp_usage_kind_name(enum wp_usage_kind k);

typedef struct wp_usage {
    int64_t used[WP_USAGE_KINDS];  /* bytes */
    int64_t limit[WP_USAGE_KINDS]; /* in force: the admin's, or the default */
    int is_set[WP_USAGE_KINDS];    /* 1: an admin's value; 0: the default */
} wp_usage;

int wp_store_usage_get(wp_store *st, wp_usage *out, const char *tenant_id);

/* Set one limit (0..WP_USAGE_LIMIT_MAX bytes), or limit -1 to go back to the default. A limit
 * below what is used refuses new bytes of that kind; nothing stored is removed. WP_EINVAL. */
int wp_store_usage_set_limit(wp_store *st, const char *tenant_id, enum wp_usage_kind k,
                             int64_t limit);

/* What passed a limit: its kind, what was used, the limit, and what the write needed. */
typedef struct wp_usage_refusal {
    enum wp_usage_kind kind;
    int64_t used, limit, needed;
    int storage; /* 1: the operator's storage limit of the whole tenant (tenants.storage_limit,
                  * migration 0033): used and needed are all kinds together */
} wp_usage_refusal;

/* Set WP_EQUOTA with a message naming the limit and the numbers ("the tenant's archive limit
 * is reached: 10 of 12 bytes used, this needs 5 more; an admin can raise
 * 'archive_limit_bytes' in the settings"), and remember r as the calling thread's last
 * refusal. Returns WP_EQUOTA. */
int wp_usage_refuse(const wp_usage_refusal *r);
/* The calling thread's last refusal (what its last WP_EQUOTA was about). Borrowed; valid
 * until the thread's next wp_usage_refuse(). */
const wp_usage_refusal *wp_usage_refusal_last(void);

#endif
