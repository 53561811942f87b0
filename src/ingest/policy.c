/* SPDX-License-Identifier: MIT */
/* Tenant policies: one wp_scan_slot per tenant holding the scanner of its current lexicon
 * (reloaded when the store's lexicon version moves), and the alerts a batch raises. */
#include "ingest/ingest_int.h"
#include "store/events.h"
#include "store/policy.h"
#include "store/store.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

struct tenant_entry {
    char tenant_id[WP_ID_LEN + 1];
    wp_scan_slot *slot;
    int64_t lexicon_version; /* of the scanner in the slot; 0 when none */
    struct tenant_entry *next;
};

struct wp_policy_cache {
    pthread_mutex_t mu;
    struct tenant_entry *head;
};

int wp_policy__cache_new(struct wp_policy_cache **out)
{
    struct wp_policy_cache *c = calloc(1, sizeof *c);
    if (!c)
        return wp_error_set(WP_ENOMEM, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

void wp_policy__cache_free(struct wp_policy_cache *c)
{
    if (!c)
        return;
    struct tenant_entry *t = c->head;
    while (t) {
        struct tenant_entry *next = t->next;
        wp_scan_slot_free(t->slot);
        free(t);
        t = next;
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* The tenant's entry, created empty on first use. Entries live until the cache is freed (one
 * per tenant: a handful). */
static int entry_of(struct wp_policy_cache *c, struct tenant_entry **out, const char *tenant_id)
{
    int err = 0;
    pthread_mutex_lock(&c->mu);
    struct tenant_entry *t;
    for (t = c->head; t; t = t->next)
        if (strcmp(t->tenant_id, tenant_id) == 0)
            break;
    if (!t) {
        if (!(t = calloc(1, sizeof *t))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
        } else if ((err = wp_scan_slot_new(&t->slot)) < 0) {
            free(t);
            t = NULL;
        } else {
            memcpy(t->tenant_id, tenant_id, WP_ID_LEN + 1);
            t->next = c->head;
            c->head = t;
        }
    }
    pthread_mutex_unlock(&c->mu);
    *out = t;
    return err;
}

int wp_policy__install(wp_ingest *ing, const char *tenant_id, wp_scanner *s,
                       int64_t lexicon_version)
{
    struct tenant_entry *t;
    int err;
    if ((err = entry_of(ing->policies, &t, tenant_id)) < 0)
        return err;
    pthread_mutex_lock(&ing->policies->mu);
    /* never go back: a slow compile of an older version must not replace a newer one */
    if (lexicon_version > t->lexicon_version) {
        wp_scan_slot_set(t->slot, s);
        t->lexicon_version = lexicon_version;
    }
    pthread_mutex_unlock(&ing->policies->mu);
    return 0;
}

static int64_t installed_version(wp_ingest *ing, struct tenant_entry *t)
{
    pthread_mutex_lock(&ing->policies->mu);
    int64_t v = t->lexicon_version;
    pthread_mutex_unlock(&ing->policies->mu);
    return v;
}

int wp_policy__current(wp_ingest *ing, wp_store *st, wp_scanner **scanner, wp_policy_row *row,
                       const char *tenant_id)
{
    struct tenant_entry *t;
    wp_scanner *s = NULL;
    char *text = NULL;
    size_t len = 0;
    int64_t v = 0;
    int err;

    /* wp_store_policy_get checks the id's shape before entry_of copies it */
    if ((err = wp_store_policy_get(st, row, tenant_id)) == WP_ENOTFOUND) {
        if ((err = wp_store_policy_init(st, tenant_id, ing->default_lexicon,
                                        ing->default_lexicon_len)) < 0)
            return err;
        err = wp_store_policy_get(st, row, tenant_id);
    }
    if (err < 0)
        return err;
    if ((err = entry_of(ing->policies, &t, tenant_id)) < 0)
        return err;
    if (installed_version(ing, t) < row->lexicon_version) {
        /* Compiled outside any lock: readers keep scanning with the old scanner meanwhile. */
        if ((err = wp_store_lexicon_get(st, &v, &text, &len, tenant_id)) < 0)
            goto out;
        wp_scan_options opts = WP_SCAN_OPTIONS_INIT;
        opts.source_name = "lexicon";
        if ((err = wp_scan_compile(&s, text, len, &opts)) < 0)
            goto out; /* a stored lexicon was compiled once already: only ENOMEM gets here */
        if ((err = wp_policy__install(ing, tenant_id, s, v)) < 0)
            goto out;
    }
    *scanner = wp_scan_slot_get(t->slot);
    if (!*scanner)
        err = wp_error_set(WP_EIO, "tenant '%s' has no scanner", tenant_id);
out:
    wp_scanner_unref(s);
    free(text);
    return err;
}

int wp_ingest_scanner(wp_ingest *ing, wp_store *st, wp_scanner **out, const char *tenant_id)
{
    wp_policy_row row;
    return wp_policy__current(ing, st, out, &row, tenant_id);
}

/* --- the alerts a batch raises -----------------------------------------------------------------
 */

static int add_draft(struct wp_ingest_extra *x, wp_event *e, size_t *cap, wp_alert_draft d)
{
    if (e->n_alerts == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        wp_alert_draft *v = realloc(x->alerts, c * sizeof *v);
        if (!v)
            return wp_error_set(WP_ENOMEM, "out of memory");
        x->alerts = v;
        *cap = c;
    }
    x->alerts[e->n_alerts++] = d;
    e->alerts = x->alerts;
    return 0;
}

static wp_alert_draft draft(const char *kind, const char *category)
{
    wp_alert_draft d;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    d.category = category;
    d.start = d.end = -1;
    return d;
}

/* One alert per distinct pattern that alerts or blocks, at its first match: a word said three
 * times in a message is one thing to review. Mask-only matches (personal data) raise none. */
static int word_alerts(struct wp_ingest_extra *x, wp_event *e, size_t *cap, const wp_scan_result *r)
{
    int err;
    for (size_t i = 0; i < r->n; i++) {
        const wp_scan_match *m = &r->matches[i];
        if (m->action < WP_SCAN_ALERT)
            continue;
        int seen = 0;
        for (size_t j = 0; j < e->n_alerts && !seen; j++)
            seen = e->alerts[j].pattern == m->pattern ||
                   (e->alerts[j].pattern && strcmp(e->alerts[j].pattern, m->pattern) == 0);
        if (seen)
            continue;
        wp_alert_draft d = draft("sensitive_word", m->category);
        d.pattern = m->pattern;
        d.action = wp_scan_action_name(m->action);
        d.matched = e->text + m->start;
        d.matched_len = m->end - m->start;
        d.start = (int64_t)m->start;
        d.end = (int64_t)m->end;
        if ((err = add_draft(x, e, cap, d)) < 0)
            return err;
    }
    return 0;
}

int wp_ingest__alerts(wp_ingest_batch *b, const wp_scanner *scanner, int64_t money_alert_fen)
{
    wp_scan_result r;
    int err = 0;
    wp_scan_result_init(&r);
    for (size_t i = 0; i < b->b.n && err == 0; i++) {
        wp_event *e = &b->b.events[i];
        struct wp_ingest_extra *x = &b->x[i];
        size_t cap = 0;
        e->n_alerts = 0;
        if (e->type == WP_EVENT_MESSAGE) {
            if (scanner && e->text && *e->text &&
                (err = wp_scan_run(scanner, e->text, strlen(e->text), &r)) == 0)
                err = word_alerts(x, e, &cap, &r);
            if (err == 0 && e->amount_fen >= 0 && e->amount_fen >= money_alert_fen &&
                (strcmp(e->msgtype, "redpacket") == 0 || strcmp(e->msgtype, "transfer") == 0))
                err = add_draft(x, e, &cap, draft("money", e->msgtype));
        } else if (e->type == WP_EVENT_CONTACT) {
            if (strcmp(e->action, "deleted") == 0)
                err = add_draft(x, e, &cap, draft("customer_deleted", NULL));
            else if (strcmp(e->action, "blocked") == 0)
                err = add_draft(x, e, &cap, draft("customer_blocked", NULL));
        }
    }
    wp_scan_result_release(&r);
    return err;
}

/* --- events made elsewhere (the WeCom archive) ------------------------------------------------ */

struct wp_ingest_scan {
    wp_ingest_batch vb; /* b.events borrowed from the caller */
    wp_scanner *scanner;
};

int wp_ingest_scan_events(wp_ingest *ing, wp_store *st, wp_ingest_scan **out,
                          const char *tenant_id, wp_event *events, size_t n)
{
    wp_ingest_scan *sc = calloc(1, sizeof *sc);
    wp_policy_row row;
    int err;

    if (!sc || !(sc->vb.x = calloc(n ? n : 1, sizeof *sc->vb.x))) {
        free(sc);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    sc->vb.b.events = events;
    sc->vb.b.n = n;
    if ((err = wp_policy__current(ing, st, &sc->scanner, &row, tenant_id)) < 0 ||
        (err = wp_ingest__alerts(&sc->vb, sc->scanner, row.money_alert_fen)) < 0) {
        wp_ingest_scan_free(sc);
        return err;
    }
    *out = sc;
    return 0;
}

void wp_ingest_scan_free(wp_ingest_scan *sc)
{
    if (!sc)
        return;
    for (size_t i = 0; sc->vb.x && i < sc->vb.b.n; i++)
        free(sc->vb.x[i].alerts);
    free(sc->vb.x);
    wp_scanner_unref(sc->scanner);
    free(sc);
}
