/* SPDX-License-Identifier: MIT */
/* Retention (issue 20; migration 0034, ops_retention.c): how long each channel and alert
 * category is kept, legal holds that stop every purge of what they cover, and the purge
 * itself. docs/internals/retention.md */
#ifndef WP_STORE_RETENTION_H
#define WP_STORE_RETENTION_H

#include "store/audit.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define WP_RETENTION_DAYS_MIN 1
#define WP_RETENTION_DAYS_MAX 36500 /* a hundred years */
#define WP_RETENTION_RULES_MAX 100  /* rules of one tenant */
#define WP_RETENTION_NAME_MAX 32    /* characters of a channel or category name */
#define WP_RETENTION_BATCH 500 /* rows a purge deletes in one transaction */
#define WP_HOLD_SUBJECTS_MAX 200    /* customers and employees one hold names, in all */
#define WP_HOLDS_MAX 1000           /* holds of one tenant, lifted ones included */
#define WP_HOLD_TEXT_MAX 500        /* characters of a hold's name or of a reason */

enum wp_retention_kind { WP_RETENTION_CHANNEL = 1, WP_RETENTION_CATEGORY };

typedef struct wp_retention_rule {
    enum wp_retention_kind kind;
    char name[4 * WP_RETENTION_NAME_MAX + 1]; /* "wechat", "call", "finance" ... */
    int days;                                 /* WP_RETENTION_DAYS_MIN..MAX */
    int64_t updated_us;
} wp_retention_rule;

/* The tenant's rules, channels first, each by name. Caller frees *out (NULL when none). */
int wp_store_retention_get(wp_store *st, wp_retention_rule **out, size_t *n,
                           const char *tenant_id);

/* Replace the tenant's rules with v (n of them, at most WP_RETENTION_RULES_MAX; a rule whose
 * kind, name and days did not change keeps its updated_us). WP_EINVAL naming the field:
 * "rules[2].days must be a whole number 1-36500", a name twice, an empty name. */
int wp_store_retention_put(wp_store *st, const char *tenant_id, const wp_retention_rule *v,
                           size_t n, int64_t now_us);

typedef struct wp_legal_hold {
    char id[WP_ID_LEN + 1];
    char *name, *reason, *created_by, *lifted_by, *lift_reason; /* owned; lifted_*: NULL while on */
    int64_t created_us, lifted_us; /* lifted_us 0: in force */
    char (*customers)[WP_ID_LEN + 1], (*employees)[WP_ID_LEN + 1]; /* owned */
    size_t n_customers, n_employees;
} wp_legal_hold;

/* Every hold of the tenant, those in force first, newest first. Release with
 * wp_legal_holds_free(*out, *n). */
int wp_store_legal_holds_list(wp_store *st, wp_legal_hold **out, size_t *n,
                              const char *tenant_id);

/* One hold: WP_ENOTFOUND. Release with wp_legal_hold_release(out). */
int wp_store_legal_hold_get(wp_store *st, wp_legal_hold *out, const char *tenant_id,
                            const char *id);

/* What a hold owns (not h itself); then every hold of v, and v. NULL v is a no-op. */
void wp_legal_hold_release(wp_legal_hold *h);
void wp_legal_holds_free(wp_legal_hold *v, size_t n);

/* A new hold in force on the customers and employees named (at least one in all, at most
 * WP_HOLD_SUBJECTS_MAX). WP_EINVAL naming the field ('name', 'reason', 'customer_ids',
 * 'employee_ids': an id of the tenant's that does not exist is WP_EINVAL too), WP_ELIMIT. */
int wp_store_legal_hold_create(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                               const char *name, const char *reason,
                               const char (*customers)[WP_ID_LEN + 1], size_t n_customers,
                               const char (*employees)[WP_ID_LEN + 1], size_t n_employees,
                               const char *actor, int64_t now_us);

/* Lift a hold: WP_ENOTFOUND; WP_EBUSY (409) when it was lifted already; WP_EINVAL ('reason'). */
int wp_store_legal_hold_lift(wp_store *st, const char *tenant_id, const char *id,
                             const char *reason, const char *actor, int64_t now_us);

typedef struct wp_retention_result {
    int64_t messages, calls, alerts, media, tenants; /* purged; tenants audited */
} wp_retention_result;

/* The purge of every tenant: what is older than its channel's rule (by the event's time; a
 * message with an alert of a category whose rule is longer is kept by that rule), not under a
 * hold in force, goes with its search grams, its alerts and, once no row names it, its media
 * row and file (<data_dir>/media/ab/cd/<hex>, unlinked after the commit). Batches of
 * WP_RETENTION_BATCH rows, each a transaction of its own with its counts kept in the store;
 * a tenant's run ends with one audit row "retention.purge" (actor "system"; details: per
 * channel the rows, alerts and media purged and the range of their times; no content) that
 * takes those counts, so a run killed in between is finished, and audited once, by the next.
 * @param media_dir  the media root (DIR/media, or the shared directory of media_dir=)
 * @param out       adds what was purged
 * @return 0 or the first error (the batches before it stay) */
int wp_store_retention_purge(wp_store *st, wp_retention_result *out,
                             const unsigned char key[WP_AUDIT_KEY_LEN], const char *media_dir,
                             int64_t now_us);

/* Inside the store (ops_pipl.c): delete every message and call of the customer, in the open
 * transaction, as the purge deletes them (their search grams, their alerts, and each media
 * file once no row of the tenant names it, queued for wp_store__retention_drain_files());
 * no hold is looked at (the caller did). Adds to out's messages, calls, alerts and media. */
int wp_store__retention_erase_customer(wp_store *st, wp_retention_result *out,
                                       const char *tenant_id, const char *customer_id);

/* Unlink the queued media files (<media_dir>/ab/cd/<hex>, media_dir the media root) no tenant
 * names any more; after the commit that queued them. */
int wp_store__retention_drain_files(wp_store *st, const char *media_dir);

#endif
