/* SPDX-License-Identifier: MIT */
/* The scanners of the lexicons in force, one per tenant and one per chain of org unit
 * lexicons in use (reloaded when the store's version of that lexicon moves), and the alerts a
 * batch raises. */
#include "ingest/ingest_int.h"
#include "scan/union.h"
#include "store/events.h"
#include "store/policy.h"
#include "store/store.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The compiled scanners kept: one per tenant (its own lexicon), plus at most this many of
 * chains of unit lexicons, across tenants; the least recently used one goes first. */
#define CHAINS_MAX 256

/* The key of a chain: the ids of the units on the path that add entries, top first, each
 * followed by '/'; "" for the tenant's lexicon alone. */
#define KEY_MAX (WP_POLICY_CHAIN_MAX * (WP_ID_LEN + 1) + 1)

struct entry {
    char tenant_id[WP_ID_LEN + 1];
    char key[KEY_MAX];
    wp_scanner *scanner;  /* NULL until the first compile */
    wp_policy_text *text; /* what it was compiled from */
    int64_t version;      /* the lexicon version of scanner and text; 0 when none */
    uint64_t used;        /* the cache's tick when last used */
    struct entry *next;
};

struct wp_policy_cache {
    pthread_mutex_t mu; /* held only to find an entry and copy or swap its pointers */
    struct entry *head;
    size_t nchains; /* entries with a non-empty key */
    uint64_t tick;
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

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    wp_scanner_unref(e->scanner);
    wp_policy__text_unref(e->text);
    free(e);
}

void wp_policy__cache_free(struct wp_policy_cache *c)
{
    if (!c)
        return;
    struct entry *e = c->head;
    while (e) {
        struct entry *next = e->next;
        entry_free(e);
        e = next;
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void wp_ingest_forget(wp_ingest *ing, const char *tenant_id)
{
    struct wp_policy_cache *c = ing->policies;
    struct entry *gone = NULL;
    pthread_mutex_lock(&c->mu);
    for (struct entry **p = &c->head; *p;) {
        struct entry *e = *p;
        if (tenant_id && strcmp(e->tenant_id, tenant_id)) {
            p = &e->next;
            continue;
        }
        *p = e->next;
        c->nchains -= e->key[0] != '\0';
        e->next = gone;
        gone = e;
    }
    pthread_mutex_unlock(&c->mu);
    while (gone) { /* readers hold references of their own: freeing is safe */
        struct entry *next = gone->next;
        entry_free(gone);
        gone = next;
    }
}

int wp_policy__text_new(wp_policy_text **out, const char *text, size_t len)
{
    wp_policy_text *t = malloc(sizeof *t + len + 1);
    if (!t)
        return wp_error_set(WP_ENOMEM, "out of memory");
    atomic_init(&t->refs, 1);
    t->len = len;
    memcpy(t->text, text, len);
    t->text[len] = '\0';
    *out = t;
    return 0;
}

wp_policy_text *wp_policy__text_ref(wp_policy_text *t)
{
    if (t)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void wp_policy__text_unref(wp_policy_text *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        free(t);
}

void wp_policy__now_release(wp_policy_now *p)
{
    wp_scanner_unref(p->scanner);
    wp_policy__text_unref(p->text);
    p->scanner = NULL;
    p->text = NULL;
}

static void chain_key(char key[KEY_MAX], const wp_policy_chain *c)
{
    size_t n = 0;
    key[0] = '\0';
    for (size_t i = 0; i < c->n; i++) {
        if (c->links[i].entries <= 0)
            continue;
        n += (size_t)snprintf(key + n, KEY_MAX - n, "%s/", c->links[i].org_unit_id);
    }
}

void wp_policy__etag(char out[WP_INGEST_ETAG_MAX], const wp_policy_chain *c)
{
    char key[KEY_MAX];
    chain_key(key, c);
    if (!key[0]) {
        snprintf(out, WP_INGEST_ETAG_MAX, "\"%lld\"", (long long)c->version);
        return;
    }
    /* FNV-1a of the chain: the version alone names the content only along one path */
    uint64_t h = 14695981039346656037ULL;
    for (const char *p = key; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(out, WP_INGEST_ETAG_MAX, "\"%lld-%016llx\"", (long long)c->version,
             (unsigned long long)h);
}

/* The entry of (tenant, key) or NULL. Under c->mu. */
static struct entry *find(struct wp_policy_cache *c, const char *tenant_id, const char *key)
{
    for (struct entry *e = c->head; e; e = e->next)
        if (!strcmp(e->key, key) && !strcmp(e->tenant_id, tenant_id))
            return e;
    return NULL;
}

/* Take the installed scanner and text when they are at least of version want. */
static int take(struct wp_policy_cache *c, wp_policy_now *out, const char *tenant_id,
                const char *key, int64_t want)
{
    int got = 0;
    pthread_mutex_lock(&c->mu);
    struct entry *e = find(c, tenant_id, key);
    if (e && e->scanner && e->version >= want) {
        out->scanner = wp_scanner_ref(e->scanner);
        out->text = wp_policy__text_ref(e->text);
        e->used = ++c->tick;
        got = 1;
    }
    pthread_mutex_unlock(&c->mu);
    return got;
}

/* Install a scanner (the cache takes references of its own) unless an equal or newer one is
 * in: a slow compile of an older version never replaces a newer one. out (may be NULL) gets
 * what is installed afterwards. */
static int install(struct wp_policy_cache *c, wp_policy_now *out, const char *tenant_id,
                   const char *key, wp_scanner *s, wp_policy_text *text, int64_t version)
{
    struct entry *evicted = NULL, *fresh = NULL;
    wp_scanner *old_s = NULL;
    wp_policy_text *old_t = NULL;

    pthread_mutex_lock(&c->mu);
    struct entry *e = find(c, tenant_id, key);
    if (!e) {
        if (!(fresh = calloc(1, sizeof *fresh))) {
            pthread_mutex_unlock(&c->mu);
            return wp_error_set(WP_ENOMEM, "out of memory");
        }
        e = fresh;
        memcpy(e->tenant_id, tenant_id, WP_ID_LEN + 1);
        snprintf(e->key, sizeof e->key, "%s", key);
        if (key[0] && c->nchains == CHAINS_MAX) {
            struct entry **lru = NULL;
            for (struct entry **p = &c->head; *p; p = &(*p)->next)
                if ((*p)->key[0] && (!lru || (*p)->used < (*lru)->used))
                    lru = p;
            evicted = *lru;
            *lru = evicted->next;
            c->nchains--;
        }
        e->next = c->head;
        c->head = e;
        c->nchains += key[0] != '\0';
    }
    if (version > e->version) {
        old_s = e->scanner;
        old_t = e->text;
        e->scanner = wp_scanner_ref(s);
        e->text = wp_policy__text_ref(text);
        e->version = version;
    }
    e->used = ++c->tick;
    if (out) {
        out->scanner = wp_scanner_ref(e->scanner);
        out->text = wp_policy__text_ref(e->text);
    }
    pthread_mutex_unlock(&c->mu);
    /* freeing a scanner can take a while: outside the lock */
    wp_scanner_unref(old_s);
    wp_policy__text_unref(old_t);
    entry_free(evicted);
    return 0;
}

int wp_policy__install(wp_ingest *ing, const char *tenant_id, wp_scanner *s, const char *text,
                       size_t len, int64_t lexicon_version)
{
    wp_policy_text *t = NULL;
    int err;
    if ((err = wp_policy__text_new(&t, text, len)) < 0)
        return err;
    err = install(ing->policies, NULL, tenant_id, "", s, t, lexicon_version);
    wp_policy__text_unref(t);
    return err;
}

int wp_policy__union(wp_store *st, wp_buf *out, wp_scan_union_report *rep, int64_t *version,
                     const char *tenant_id, const wp_policy_chain *c, const char *draft_unit,
                     const char *draft, size_t draft_len)
{
    wp_scan_level lv[WP_POLICY_CHAIN_MAX + 2];
    char *texts[WP_POLICY_CHAIN_MAX + 1] = {NULL};
    char labels[WP_POLICY_CHAIN_MAX + 2][WP_ID_LEN + 16];
    size_t n = 0, len = 0;
    int64_t v = 0, max = 0;
    int err, drafted = 0;

    if ((err = wp_store_lexicon_get(st, &max, &texts[0], &len, tenant_id)) < 0)
        goto out;
    lv[n++] = (wp_scan_level){texts[0], len, NULL};
    for (size_t i = 0; i < c->n; i++) {
        const wp_policy_link *l = &c->links[i];
        snprintf(labels[n], sizeof labels[n], "org unit %s", l->org_unit_id);
        if (draft_unit && !strcmp(l->org_unit_id, draft_unit)) {
            lv[n] = (wp_scan_level){draft, draft_len, labels[n]};
            n++;
            drafted = 1;
            continue;
        }
        if (l->entries <= 0)
            continue;
        if ((err = wp_store_unit_lexicon_get(st, &v, &texts[n], &len, tenant_id,
                                             l->org_unit_id)) == WP_ENOTFOUND) {
            wp_error_clear(); /* deleted meanwhile: the next request sees the chain change */
            err = 0;
            continue;
        }
        if (err < 0)
            goto out;
        lv[n] = (wp_scan_level){texts[n], len, labels[n]};
        n++;
        if (v > max)
            max = v;
    }
    if (draft_unit && !drafted) {
        snprintf(labels[n], sizeof labels[n], "org unit %s", draft_unit);
        lv[n] = (wp_scan_level){draft, draft_len, labels[n]};
        n++;
    }
    if ((err = wp_scan_union(out, rep, lv, n)) == 0 && version)
        *version = max;
out:
    for (size_t i = 0; i <= WP_POLICY_CHAIN_MAX; i++)
        free(texts[i]);
    return err;
}

/* Compile what the chain's key names, from the store, and install it. */
static int load(wp_ingest *ing, wp_store *st, wp_policy_now *out, const char *tenant_id,
                const char *key, const wp_policy_chain *c)
{
    wp_scanner *s = NULL;
    wp_policy_text *t = NULL;
    wp_buf b;
    char *text = NULL;
    size_t len = 0;
    int64_t v = 0;
    int err;

    wp_buf_init(&b, WP_SCAN_MAX_LEXICON_BYTES);
    if (!key[0]) {
        if ((err = wp_store_lexicon_get(st, &v, &text, &len, tenant_id)) < 0 ||
            (err = wp_policy__text_new(&t, text, len)) < 0)
            goto out;
    } else {
        if ((err = wp_policy__union(st, &b, NULL, &v, tenant_id, c, NULL, NULL, 0)) < 0 ||
            (err = wp_policy__text_new(&t, b.buf, b.len)) < 0)
            goto out;
    }
    wp_scan_options opts = WP_SCAN_OPTIONS_INIT;
    opts.source_name = "lexicon";
    /* a stored lexicon was compiled once already: only ENOMEM or, for a union, a limit of the
     * engine gets here */
    if ((err = wp_scan_compile(&s, t->text, t->len, &opts)) < 0)
        goto out;
    err = install(ing->policies, out, tenant_id, key, s, t, v);
out:
    wp_scanner_unref(s);
    wp_policy__text_unref(t);
    wp_buf_release(&b);
    free(text);
    return err;
}

int wp_policy__chain(wp_ingest *ing, wp_store *st, wp_policy_chain *c, const char *tenant_id,
                      const char *employee_id, const char *org_unit_id)
{
    int err;
    for (int round = 0;; round++) {
        if (employee_id || org_unit_id) {
            err = wp_store_policy_chain(st, c, tenant_id, employee_id, org_unit_id);
        } else {
            memset(c, 0, sizeof *c);
            if ((err = wp_store_policy_get(st, &c->row, tenant_id)) == 0) {
                c->found = 1;
                c->version = c->row.version;
                c->lexicon_version = c->row.lexicon_version;
            }
        }
        if (err != WP_ENOTFOUND || round > 0)
            return err;
        if ((err = wp_store_policy_init(st, tenant_id, ing->default_lexicon,
                                        ing->default_lexicon_len)) < 0)
            return err;
    }
}

int wp_policy__current(wp_ingest *ing, wp_store *st, wp_policy_now *out, const char *tenant_id,
                       const char *employee_id, const char *org_unit_id)
{
    char key[KEY_MAX];
    int err;

    memset(out, 0, sizeof *out);
    /* the store checks the ids' shape before the cache copies them */
    if ((err = wp_policy__chain(ing, st, &out->chain, tenant_id, employee_id, org_unit_id)) < 0)
        return err;
    chain_key(key, &out->chain);
    if (take(ing->policies, out, tenant_id, key, out->chain.lexicon_version))
        return 0;
    /* Compiled outside any lock: readers of the chain keep the old scanner meanwhile. */
    if ((err = load(ing, st, out, tenant_id, key, &out->chain)) < 0)
        wp_policy__now_release(out);
    return err;
}

int wp_ingest_scanner(wp_ingest *ing, wp_store *st, wp_scanner **out, const char *tenant_id)
{
    wp_policy_now now;
    int err = wp_policy__current(ing, st, &now, tenant_id, NULL, NULL);
    if (err == 0) {
        *out = now.scanner;
        now.scanner = NULL;
        wp_policy__now_release(&now);
    }
    return err;
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
                          const char *tenant_id, const char *employee_id, wp_event *events,
                          size_t n)
{
    wp_ingest_scan *sc = calloc(1, sizeof *sc);
    wp_policy_now now = {0};
    int err;

    if (!sc || !(sc->vb.x = calloc(n ? n : 1, sizeof *sc->vb.x))) {
        free(sc);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    sc->vb.b.events = events;
    sc->vb.b.n = n;
    /* the lexicons of the employee's unit, as its phone is scanned with */
    err = wp_policy__current(ing, st, &now, tenant_id, employee_id, NULL);
    sc->scanner = now.scanner;
    now.scanner = NULL;
    wp_policy__now_release(&now);
    if (err < 0 || (err = wp_ingest__alerts(&sc->vb, sc->scanner, now.chain.row.money_alert_fen)) < 0) {
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
