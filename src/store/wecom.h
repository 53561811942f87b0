/* SPDX-License-Identifier: MIT */
/* WeCom customer contact (migration 0023; ops_wecom.c): which tenants have WeCom settings,
 * employees by their WeCom UserID, the callbacks' replay cache, and the
 * per-customer state of a handover made real in WeCom. docs/internals/wecom.md has the design. */
#ifndef WP_STORE_WECOM_H
#define WP_STORE_WECOM_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/id.h"

#define WP_WECOM_ID_MAX 64        /* bytes of a corp id, a UserID, an external userid */
#define WP_WECOM_SECRET_MAX 512   /* bytes of a token or a secret, in the clear */
#define WP_WECOM_AES_KEY_LEN 43   /* characters of an EncodingAESKey */
#define WP_WECOM_URL_MAX 512      /* bytes of api_base */
#define WP_WECOM_REASON_MAX 256   /* bytes of a transfer's reason */
#define WP_WECOM_API_BASE_DEFAULT "https://qyapi.weixin.qq.com"

/* Tenants with settings, for the jobs. Caller frees *out. */
int wp_store_wecom_tenants(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n);

/* The employee whose wecom_userid is userid: *out its id, *active 1 or 0. WP_ENOTFOUND. */
int wp_store_wecom_employee(wp_store *st, char out[WP_ID_LEN + 1], int *active,
                            const char *tenant_id, const char *userid);

/* An active employee with a WeCom UserID. */
typedef struct wp_wecom_member {
    char employee_id[WP_ID_LEN + 1];
    char userid[WP_WECOM_ID_MAX + 1];
} wp_wecom_member;

/* The tenant's active employees that have a wecom_userid, by UserID. Caller frees *out. */
int wp_store_wecom_members(wp_store *st, wp_wecom_member **out, size_t *n, const char *tenant_id);

/* A WeCom contact of an employee that workphone has already: the customer its external
 * userid (identity "wecom:<external userid>") points at, which the employee has met. */
typedef struct wp_wecom_linked {
    char external_userid[WP_WECOM_ID_MAX + 1];
    char customer_id[WP_ID_LEN + 1];
    char name[WP_ARCHIVE_FIELD_MAX + 1];
} wp_wecom_linked;

/* The employee's linked contacts, by external userid. Caller frees *out. */
int wp_store_wecom_linked(wp_store *st, wp_wecom_linked **out, size_t *n, const char *tenant_id,
                          const char *employee_id);

/* --- the replay cache ----------------------------------------------------------------------- */

/* Note key (at most 200 bytes) as seen until expires_us, dropping the tenant's keys expired at
 * now_us first. @return 0 the first time; WP_EEXISTS when it was seen and has not expired */
int wp_store_wecom_seen(wp_store *st, const char *tenant_id, const char *key, int64_t expires_us,
                        int64_t now_us);

/* Forget a key (the request it came with failed: WeCom may send it again). */
int wp_store_wecom_unsee(wp_store *st, const char *tenant_id, const char *key);

/* --- transfers: a handover made real in WeCom ----------------------------------------------- */

enum wp_wecom_transfer_state {
    WP_WECOM_PENDING = 0, /* not sent yet */
    WP_WECOM_WAITING,     /* WeCom took it; the customer has not decided (transfer_result 2) */
    WP_WECOM_ACCEPTED,    /* done (transfer_result 1) */
    WP_WECOM_REFUSED,     /* WeCom or the customer said no: reason, errcode */
    WP_WECOM_FAILED,      /* workphone gave up: reason */
    WP_WECOM_SKIPPED,     /* not sent: reason (an employee without a wecom_userid) */
};

/* "pending", "waiting", ...; NULL for a value out of range. */
const char *wp_wecom_state_name(enum wp_wecom_transfer_state s);

typedef struct wp_wecom_transfer {
    char tenant_id[WP_ID_LEN + 1];
    char handover_id[WP_ID_LEN + 1];
    char customer_id[WP_ID_LEN + 1];
    char external_userid[WP_WECOM_ID_MAX + 1];
    char handover_userid[WP_WECOM_ID_MAX + 1]; /* "" when the leaver has none */
    char takeover_userid[WP_WECOM_ID_MAX + 1]; /* "" when the successor has none */
    int resigned; /* 1: 离职继承 (departure); 0: 在职继承 (transfer) */
    enum wp_wecom_transfer_state state;
    char reason[WP_WECOM_REASON_MAX + 1];
    int64_t errcode; /* -1: none */
    int64_t attempts;
    int64_t next_us; /* 0: final */
    int64_t created_us, updated_us;
} wp_wecom_transfer;

/* In the handover's transaction: a pending row for each customer of the handover's report that
 * has a WeCom external userid, when the tenant has WeCom settings; skipped (with the reason)
 * when the leaver or its successor has no wecom_userid. A replayed handover adds nothing.
 * *planned (may be NULL) gets how many rows are pending. */
int wp_store_wecom_transfers_plan(wp_store *st, int64_t *planned, const char *tenant_id,
                                  const char *handover_id, int64_t now_us);

/* Rows due at now_us (next_us <= now_us) of every tenant, oldest first, at most limit.
 * Caller frees *out. */
int wp_store_wecom_transfers_due(wp_store *st, wp_wecom_transfer **out, size_t *n,
                                 int64_t now_us, unsigned limit);

/* The rows of a handover for the given customers (NULL: all of them, at most 10000), in
 * customer id order. Caller frees *out. */
int wp_store_wecom_transfers_of(wp_store *st, wp_wecom_transfer **out, size_t *n,
                                const char *tenant_id, const char *handover_id,
                                const char *const *customer_ids, size_t n_ids);

/* Move one row: its state, reason ("" none), errcode (-1 none), next time (0: final), and one
 * more attempt when attempted. A row already final is left alone (WP_ENOTFOUND). */
int wp_store_wecom_transfer_set(wp_store *st, const wp_wecom_transfer *t, int attempted,
                                int64_t now_us);

/* WeCom said a takeover failed (the callback's transfer_fail): the waiting or pending rows of
 * that external userid and takeover userid become refused with reason. *n (may be NULL) gets
 * how many. */
int wp_store_wecom_transfer_refused(wp_store *st, int64_t *n, const char *tenant_id,
                                    const char *takeover_userid, const char *external_userid,
                                    const char *reason, int64_t now_us);

#endif
