/* SPDX-License-Identifier: MIT */
/* The customer rules (migration 0010; ops_rules.c): follow-up SOP and its reminders,
 * automatic grading, and the run of every rule that the jobs make. A grade a rule gives is a
 * customer event, written in the same transaction. docs/internals/crm.md has the rules. */
#ifndef WP_STORE_RULES_H
#define WP_STORE_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

/* --- follow-up SOP (ops_rules.c) ----------------------------------------------------------- */

#define WP_RULES_MAX 200          /* SOP or grading rules of a tenant */
#define WP_SOP_HOURS_MAX (365 * 24)

/* Customers not in the pool whose grade and stage match ("" = any) are due interval_h after
 * their base — the latest of creation, change of owner and follow-up — and overdue grace_h
 * after that. */
typedef struct wp_sop_rule {
    char id[WP_ID_LEN + 1];
    char name[404];
    char grade[WP_ARCHIVE_WORD_MAX + 1], stage[WP_ARCHIVE_WORD_MAX + 1];
    int interval_h, grace_h; /* 1..WP_SOP_HOURS_MAX, 0..WP_SOP_HOURS_MAX */
    int active;
    int64_t created_us, updated_us;
} wp_sop_rule;

/* All of a tenant's rules, oldest first. *out malloc'ed (caller frees). */
int wp_store_sop_rules_list(wp_store *st, wp_sop_rule **out, size_t *n, const char *tenant_id);
int wp_store_sop_rule_get(wp_store *st, wp_sop_rule *out, const char *tenant_id, const char *id);
/* Create (r->id "" or not id-shaped: a new id, written back) or replace rule r->id.
 * WP_EINVAL naming the field; WP_ENOTFOUND (update of a missing rule); WP_ELIMIT. */
int wp_store_sop_rule_put(wp_store *st, wp_sop_rule *r, const char *tenant_id, int create,
                          int64_t now_us);
/* Delete a rule and its reminders (alerts it raised stay). WP_ENOTFOUND. */
int wp_store_sop_rule_delete(wp_store *st, const char *tenant_id, const char *id);

typedef struct wp_reminder {
    char id[WP_ID_LEN + 1];
    char rule_id[WP_ID_LEN + 1], customer_id[WP_ID_LEN + 1], employee_id[WP_ID_LEN + 1];
    char rule_name[404], customer_name[WP_ARCHIVE_FIELD_MAX + 1];
    int64_t base_us, due_us, overdue_us, created_us;
    int64_t done_us; /* 0: open */
    char alert_id[WP_ID_LEN + 1]; /* the followup_overdue alert; "" when none */
} wp_reminder;

enum wp_reminder_state { WP_REMINDER_OPEN = 0, WP_REMINDER_OVERDUE, WP_REMINDER_DONE,
                         WP_REMINDER_ANY };

typedef struct wp_reminder_filter {
    const char *tenant_id;
    const char *employee_id;    /* NULL: any */
    const wp_scope *scope;      /* NULL: any; else the employees in it */
    enum wp_reminder_state state; /* open: not done (a follow-up since its base makes one
                                   * done); overdue: open and past overdue_us at now_us */
    int64_t now_us;
    const char *cursor;
    unsigned limit;
} wp_reminder_filter;

typedef struct wp_reminder_page {
    wp_reminder *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
} wp_reminder_page;

/* Reminders by due time, earliest first. Release with free(p->items). */
int wp_store_reminders_list(wp_store *st, wp_reminder_page *out, const wp_reminder_filter *f);
int wp_store_reminder_get(wp_store *st, wp_reminder *out, const char *tenant_id, const char *id);
/* Mark a reminder done at now_us (a done one stays as it was). WP_ENOTFOUND. */
int wp_store_reminder_done(wp_store *st, const char *tenant_id, const char *id, int64_t now_us);

/* --- automatic grading (ops_rules.c) ------------------------------------------------------- */

/* A grading rule: when every condition that is set holds, the customer's grade becomes grade.
 * Rules are tried by position (then age); the first that holds wins, none: the grade stays.
 * A customer whose latest grade change was made by a person (not "rule:<id>") is pinned:
 * rules leave it alone. */
typedef struct wp_grade_rule {
    char id[WP_ID_LEN + 1];
    int position;
    char grade[WP_ARCHIVE_WORD_MAX + 1];
    char stage[WP_ARCHIVE_WORD_MAX + 1]; /* "": any */
    int min_messages, messages_days;     /* -1: not checked; at least min messages (either way)
                                          * in the last messages_days days */
    int contact_within_days;             /* -1: not checked; last contact at most this old */
    int no_contact_days;                 /* -1: not checked; no contact for at least this long */
    char tag_id[WP_ID_LEN + 1];          /* "": not checked; has this tag */
    int active;
    int64_t created_us, updated_us;
} wp_grade_rule;

int wp_store_grade_rules_list(wp_store *st, wp_grade_rule **out, size_t *n,
                              const char *tenant_id);
int wp_store_grade_rule_get(wp_store *st, wp_grade_rule *out, const char *tenant_id,
                            const char *id);
/* Create (a new id written back) or replace r->id. WP_EINVAL naming the field (no condition
 * at all is refused); WP_ENOTFOUND; WP_ELIMIT. */
int wp_store_grade_rule_put(wp_store *st, wp_grade_rule *r, const char *tenant_id, int create,
                            int64_t now_us);
int wp_store_grade_rule_delete(wp_store *st, const char *tenant_id, const char *id);

/* Apply the grading rules at now_us to one customer (customer_id) or to all of a tenant (NULL),
 * each change in the caller's transaction when one is open (which the caller must then roll
 * back on failure), else in one of its own, with an
 * event "grade_changed" by "rule:<id>" and an audit row (actor "system", action
 * "customer.grade_rule"). *changed gets how many changed. */
int wp_store_grade_rules_apply(wp_store *st, int64_t *changed, const unsigned char *audit_key,
                               const char *tenant_id, const char *customer_id, int64_t now_us);

/* --- the run of every rule (ops_rules.c) ----------------------------------------------- */

/* What one run of the rules did. */
typedef struct wp_rules_result {
    int64_t reminders, closed, overdue; /* reminders made, closed by a follow-up, alerts */
    int64_t graded;                     /* customers whose grade a rule changed */
    int64_t script_uses;                /* messages found using a script */
} wp_rules_result;

/* The customer rules of every tenant at now_us, each change in a transaction of its own with
 * its audit row (actor "system"), so a crash loses nothing and a rerun repeats nothing:
 * reminders for customers due under an SOP rule (to their owner), closing reminders whose
 * customer was followed up, a followup_overdue alert for each reminder past its grace,
 * then the grading rules, then the scripts' usage counts. *out adds up. */
int wp_store_crm_rules_run(wp_store *st, wp_rules_result *out, const unsigned char *audit_key,
                           int64_t now_us);

#endif
