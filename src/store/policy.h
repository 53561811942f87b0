/* SPDX-License-Identifier: MIT */
/* What a tenant's phones are given (migration 0002; ops_policy.c): the lexicon and the
 * policy with its version, and the media files devices upload. */
#ifndef WP_STORE_POLICY_H
#define WP_STORE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/id.h"

#define WP_MONEY_ALERT_DEFAULT_FEN 500000 /* 5,000 yuan */

/* --- lexicons and the tenant policy ----------------------------------------------------------- */

/* The tenant's policy: its version moves on every change of the lexicon or the settings, so it
 * is a stable ETag. WP_ENOTFOUND when the tenant has no policy row yet (see _policy_init). */
typedef struct wp_policy_row {
    int64_t version;
    int64_t lexicon_version; /* the version of the lexicon in force */
    int64_t money_alert_fen;
    int64_t updated_us;
    int locations_keep; /* locations_off_duty (migration 0028): 1 "keep", 0 "drop" (default):
                         * a location outside the employee's working hours is not stored */
} wp_policy_row;

int wp_store_policy_get(wp_store *st, wp_policy_row *out, const char *tenant_id);

/* Create the tenant's policy with version 1 and this lexicon as lexicon version 1, unless it
 * has one (then nothing changes; either way 0). */
int wp_store_policy_init(wp_store *st, const char *tenant_id, const char *lexicon, size_t len);

/* Store a new lexicon text and move the policy version; *version gets the new version (which
 * is also the lexicon's). The caller has validated the text. */
int wp_store_lexicon_put(wp_store *st, int64_t *version, const char *tenant_id, const char *text,
                         size_t len);

/* The lexicon in force: *text malloc'ed (caller frees), NUL-terminated, *len bytes. */
int wp_store_lexicon_get(wp_store *st, int64_t *version, char **text, size_t *len,
                         const char *tenant_id);

/* Move the policy version because something else it carries changed (the scripts library),
 * so agents fetch it again. *version (may be NULL) gets the new version, 0 when the tenant has
 * no policy yet (nothing to move). */
int wp_store_policy_touch(wp_store *st, int64_t *version, const char *tenant_id);

/* Set the money alert threshold (fen, >= 0) and move the policy version. */
int wp_store_policy_set_money_alert(wp_store *st, int64_t *version, const char *tenant_id,
                                    int64_t fen);

/* Set locations_off_duty ("keep" when keep, else "drop") and move the policy version. */
int wp_store_policy_set_locations_off_duty(wp_store *st, int64_t *version,
                                           const char *tenant_id, int keep);

/* --- lexicons of org units (migration 0017) ------------------------------------------------ */

/* A unit's entries add to those of the tenant and of the units above it (src/scan/union.h).
 * Every version given in a tenant (the tenant policy's, each unit lexicon's) comes from one
 * counter and is above all given before, so the highest version on a path moves whenever
 * anything on it changes. */

#define WP_POLICY_CHAIN_MAX 32 /* org units on a path (org_units.depth) */

/* A unit on the path that has a lexicon of its own. */
typedef struct wp_policy_link {
    char org_unit_id[WP_ID_LEN + 1];
    int64_t version;
    int64_t entries; /* 0: comments only; the unit adds nothing */
} wp_policy_link;

/* The policy as the phones of one org unit get it. */
typedef struct wp_policy_chain {
    wp_policy_row row;                          /* the tenant's */
    wp_policy_link links[WP_POLICY_CHAIN_MAX]; /* top first */
    size_t n;
    int64_t version;         /* the highest of row.version and the links' versions */
    int64_t lexicon_version; /* the highest of row.lexicon_version and the versions of the
                              * links with entries: moves whenever the union's text does */
    int found;
} wp_policy_chain;

/* The tenant's policy row and the lexicons on the path from the top unit down to the unit of
 * employee_id, or to org_unit_id (exactly one of them; one statement). An employee or unit
 * that does not exist has no links. WP_ENOTFOUND when the tenant has no policy row. */
int wp_store_policy_chain(wp_store *st, wp_policy_chain *out, const char *tenant_id,
                          const char *employee_id, const char *org_unit_id);

/* The unit's own lexicon: *text malloc'ed (caller frees), NUL-terminated, *len bytes.
 * WP_ENOTFOUND when it has none. */
int wp_store_unit_lexicon_get(wp_store *st, int64_t *version, char **text, size_t *len,
                              const char *tenant_id, const char *org_unit_id);

/* Store the unit's lexicon (the caller has validated it and counted its entries) with the
 * tenant's next version, *version. WP_ENOTFOUND for a unit not in the tenant, or a tenant
 * without a policy row (wp_store_policy_init first). */
int wp_store_unit_lexicon_put(wp_store *st, int64_t *version, const char *tenant_id,
                              const char *org_unit_id, const char *text, size_t len,
                              int64_t entries);

typedef struct wp_unit_lexicon_info {
    char org_unit_id[WP_ID_LEN + 1];
    char path[1024]; /* the unit's materialized path (org.h), for scope checks */
    int64_t version, entries, updated_us;
} wp_unit_lexicon_info;

/* The units of the tenant that have a lexicon, in tree order. Caller frees *out. */
int wp_store_unit_lexicons_list(wp_store *st, wp_unit_lexicon_info **out, size_t *n,
                                const char *tenant_id);

/* --- media ------------------------------------------------------------------------------- */

/* Record that the tenant has the media file with this hex SHA-256 and that device_id uploaded
 * it (migration 0014). *created is 0 when this device had uploaded it before, else 1 (also
 * when another device had: the answer tells nothing of other devices). A file new to the
 * tenant counts its size in the tenant's media usage, in the same transaction; WP_EQUOTA
 * (wp_usage_refuse) and nothing recorded when that would pass the media limit. */
int wp_store_media_add(wp_store *st, int *created, const char *tenant_id, const char *device_id,
                       const char sha256[65], int64_t size);
/* The same, for a file whose name under the media root is name (64 hex: the keyed hash of an
 * encrypted file, docs/internals/keys.md), recorded in media.path (also when the tenant had
 * the file already, plain). NULL: named by sha256. */
int wp_store_media_add_named(wp_store *st, int *created, const char *tenant_id,
                             const char *device_id, const char sha256[65], int64_t size,
                             const char *name);
/* The tenant's file is now named name (`keys encrypt-media`). @return 0, WP_ENOTFOUND */
int wp_store_media_set_name(wp_store *st, const char *tenant_id, const char sha256[65],
                            const char name[65]);
/* Every tenant's media rows: cb(ctx, tenant_id, sha256, size), by hash then tenant. A cb that
 * returns < 0 stops the walk with its error. */
int wp_store_media_each_row(wp_store *st,
                            int (*cb)(void *ctx, const char *tenant_id, const char *sha256,
                                      int64_t size),
                            void *ctx);

/* Every tenant's encrypted media rows (media.path a keyed name, not the sha256):
 * cb(ctx, tenant_id, name, sha256, size) in name order; for `workphone check`, which
 * authenticates each one. A cb that returns < 0 stops the walk with its error. */
int wp_store_media_each_keyed(wp_store *st,
                              int (*cb)(void *ctx, const char *tenant_id, const char *name,
                                        const char *sha256, int64_t size),
                              void *ctx);

/* WP_ENOTFOUND unless the tenant has it; *size gets its size. */
int wp_store_media_get(wp_store *st, int64_t *size, const char *tenant_id, const char sha256[65]);

/* Who a stored media file belongs to: the (employee, customer) of up to max messages and calls
 * that name ref ("sha256:<hex>") and whose own device uploaded it (media_uploads: naming a
 * hash one's device never sent gives no way to the file), for scope checks of console
 * downloads (ops_access.c; migration 0011 indexes them). customer "" when none. *n gets how
 * many. */
typedef struct wp_media_ref {
    char employee_id[WP_ID_LEN + 1];
    char customer_id[WP_ID_LEN + 1];
} wp_media_ref;

/* Every media file the store lists, of any tenant, once per file on disk: cb(ctx, name,
 * sha256, size) in name order, name the file's name under the media root's ab/cd/ (the
 * sha256 for a plain file, shared by the tenants that have it; a tenant's keyed name for an
 * encrypted one, docs/internals/keys.md), size the plaintext's (the largest recorded). A cb
 * that returns < 0 stops the walk with its error. For `workphone check` (a listed file must be
 * on disk) and backups. */
int wp_store_media_each(wp_store *st,
                        int (*cb)(void *ctx, const char *name, const char *sha256, int64_t size),
                        void *ctx);

int wp_store_media_refs(wp_store *st, wp_media_ref *out, size_t max, size_t *n,
                        const char *tenant_id, const char *ref);

#endif
