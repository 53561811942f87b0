/* SPDX-License-Identifier: MIT */
/* Insider alerts (migration 0016; ops_insider.c).
 * Unmasking or exporting (handover.export, media.download) many customers in a short time
 * raises one alert for the admins, counted from the audit log: per actor, within a sliding
 * window; at most one alert per employee, kind and window. */
#ifndef WP_STORE_INSIDER_H
#define WP_STORE_INSIDER_H

#include <stdint.h>

#include "store/audit.h"
#include "store/store.h"
#include "util/id.h"

#define WP_INSIDER_UNMASK_PER_HOUR_DEFAULT 20 /* customer.unmask by one employee in 60 min */
#define WP_INSIDER_EXPORT_PER_DAY_DEFAULT 100 /* exports by one employee in 24 h */
#define WP_INSIDER_MAX 1000000
#define WP_INSIDER_UNMASK_WINDOW_S 3600
#define WP_INSIDER_EXPORT_WINDOW_S 86400

typedef struct wp_insider_settings {
    int64_t unmask_per_hour; /* 0: never alert */
    int64_t export_per_day;  /* 0: never alert */
    int64_t updated_us;      /* 0: the defaults, never set */
} wp_insider_settings;

/* The tenant's thresholds; the defaults when none were set. */
int wp_store_insider_settings_get(wp_store *st, wp_insider_settings *out, const char *tenant_id);

/* Set both thresholds (0..WP_INSIDER_MAX, else WP_EINVAL). */
int wp_store_insider_settings_put(wp_store *st, const char *tenant_id,
                                  const wp_insider_settings *s);

typedef struct wp_insider_result {
    int64_t count; /* the actor's actions of that kind in the window, this one included; 0 when
                    * the action does not count */
    int64_t limit; /* the threshold in force (0: off) */
    char alert_id[WP_ID_LEN + 1]; /* the alert raised now; "" when none */
} wp_insider_result;

/* After an audit row of action by actor was appended in st's transaction: count the actor's
 * unmaskings (mass_unmask, per hour) or exports (mass_export, per day) in the window, and past
 * the threshold raise an open alert about employee_id (kind mass_unmask or mass_export,
 * category "insider", pattern the actor, text the count), with its own audit row (actor
 * "system", action "alert.raise"), unless one of that kind about that employee is already in
 * the window. employee_id NULL or "" (an API key nobody is known to have made): counted, no
 * alert. Run it after the append, in the same transaction: the append's lock on the tenant
 * serializes the counts, so two requests never both raise. Actions that do not count: 0. */
int wp_store_insider_check(wp_store *st, wp_insider_result *out,
                           const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id,
                           const char *actor, const char *employee_id, const char *action);

/* The kind of an alert ("sensitive_word", "mass_unmask", ...). WP_ENOTFOUND. */
int wp_store_alert_kind(wp_store *st, char out[WP_ARCHIVE_WORD_MAX + 1], const char *tenant_id,
                        const char *id);

/* 1 for the kinds only admins and auditors see (mass_unmask, mass_export). */
int wp_alert_kind_is_insider(const char *kind);

#endif
