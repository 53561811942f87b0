/* SPDX-License-Identifier: MIT */
/* The company simulator: a made-up company (org tree, staff, customers) and what each of its
 * phones reports (CONTRACT §4 events), deterministic for a seed, pushed into a sink that is
 * in-process today (local.h: store + ingest) and can be the HTTP API tomorrow.
 *
 * Three layers, each usable alone: wp_sim_company_new() plans the company (pure data);
 * wp_sim_stream_new() writes one phone's events for the whole period (pure data, JSON batches
 * in the device protocol's shape); wp_sim_run() creates the company through a wp_sim_sink and
 * feeds every phone's stream to it day by day. Nothing here does I/O or keeps globals. */
#ifndef WP_SIM_H
#define WP_SIM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* --- the PRNG: xoshiro256** seeded through splitmix64 ------------------------------------ */

typedef struct wp_sim_rng {
    uint64_t s[4];
} wp_sim_rng;

/* Seed a generator; (seed, stream) pairs give independent sequences, so each phone's events
 * depend only on the seed and the phone, never on what was generated before. */
void wp_sim_rng_seed(wp_sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t wp_sim_rng_next(wp_sim_rng *r);
uint32_t wp_sim_rng_below(wp_sim_rng *r, uint32_t n); /* uniform in [0, n); n > 0 */
int wp_sim_rng_range(wp_sim_rng *r, int lo, int hi);  /* uniform in [lo, hi]; lo <= hi */
double wp_sim_rng_unit(wp_sim_rng *r);                /* uniform in [0, 1) */
int wp_sim_rng_permille(wp_sim_rng *r, unsigned p);   /* 1 with probability p / 1000 */

/* --- the plan ------------------------------------------------------------------------------ */

#define WP_SIM_WEEKS_MAX 12
#define WP_SIM_REGIONS_MAX 4
#define WP_SIM_STORES_MAX 4 /* per region */
#define WP_SIM_STAFF_MAX 40 /* per store */
#define WP_SIM_CUSTOMERS_MAX 60
#define WP_SIM_TZ_MIN 480 /* Asia/Shanghai, UTC+8 all year */

typedef struct wp_sim_config {
    uint64_t seed;
    int64_t end_us;                /* the simulated weeks end here (the demo: now); required */
    unsigned weeks;                /* 1..WP_SIM_WEEKS_MAX */
    unsigned regions;              /* 1..WP_SIM_REGIONS_MAX */
    unsigned stores_per_region;    /* 1..WP_SIM_STORES_MAX */
    unsigned staff_per_store;      /* a store manager and sales people: 1..WP_SIM_STAFF_MAX */
    unsigned customers_per_sales;  /* on average (a store manager has half): 1..MAX */
    unsigned violation_permille;   /* share of messages that break a rule: 0..300 */
    /* 0: weeks * 7; else the period in days, 1..WP_SIM_WEEKS_MAX * 7 (weeks is then unused) */
    unsigned days;
    /* 0: 1 + regions * (1 + stores_per_region * staff_per_store); else the head count, an
     * auditor and a manager per region included, the rest spread over the stores as evenly as
     * it goes (staff_per_store is then unused): 1 + regions * (1 + stores_per_region) ..
     * 1 + regions * (1 + stores_per_region * WP_SIM_STAFF_MAX) */
    unsigned employees;
} wp_sim_config;
/* clang-format off */
#define WP_SIM_CONFIG_INIT {1, 0, 3, 2, 2, 6, 15, 25, 0, 0}
/* clang-format on */

/* Shape cfg for a head count of employees (WP_SIM_EMPLOYEES_MIN..MAX): regions and stores grow
 * with it (2 regions of 2 stores for 20-59 people, up to 4 of 4 from 160 on), so that every
 * store has a manager and a few to about 30 sales people. Sets regions, stores_per_region and
 * employees; WP_EINVAL outside the range. */
#define WP_SIM_EMPLOYEES_MIN 20
#define WP_SIM_EMPLOYEES_MAX 500
int wp_sim_config_shape(wp_sim_config *cfg, unsigned employees);

enum wp_sim_trade { WP_SIM_PROPERTY = 0, WP_SIM_INSURANCE, WP_SIM_EDUCATION };

typedef struct wp_sim_unit {
    int parent;       /* index of the parent unit; -1 for the top (the tenant's hq) */
    const char *kind; /* "hq", "region", "store" (CONTRACT §5 words) */
    char name[64];    /* 鼎盛控股, 华东区, 上海徐汇店 */
    const char *city; /* stores: 上海 */
    enum wp_sim_trade trade; /* stores: what its staff sell */
    double lat, lon;         /* stores: where it is */
} wp_sim_unit;

typedef struct wp_sim_person {
    int unit;          /* index of the unit */
    const char *role;  /* "manager", "sales", "auditor" (CONTRACT §5 words) */
    const char *title; /* 店长, 置业顾问, 区域经理, 合规专员 */
    char name[16];     /* 王丽娟: surname + given name */
    char username[40]; /* pinyin: lijuan.wang */
    char phone[12];    /* the work phone's number */
    char private_phone[12];
    int has_device;
    char serial[24];
    const char *model;
    double home_lat, home_lon;
    size_t first_customer, n_customers; /* range in wp_sim_company.customers */
} wp_sim_person;

typedef struct wp_sim_customer {
    size_t owner;     /* index of the person who has this customer */
    char name[64];    /* as saved in the employee's contacts: 王女士, 张晓燕, 刘姐-滨江两房 */
    char call[24];    /* how the employee addresses them: 王女士, 张姐, 陈总 */
    char phone[12];   /* a mainland mobile number, unique in the company */
    char wxid[32];    /* WeChat id */
    int female;
    int age;
    char id_card[19]; /* an 18-character resident id with a valid check digit */
    unsigned interest; /* 0 cold, 1 warm, 2 hot: how often they talk */
    unsigned first_day; /* day of the period of the first contact */
    int known_before;   /* 1: already a contact when the period starts (no "added" event) */
    unsigned traits[8]; /* picks into the trade's word lists (community, product, course, ...) */
} wp_sim_customer;

typedef struct wp_sim_company {
    wp_sim_config cfg;
    char name[64];     /* the tenant and its hq */
    int64_t start_us;  /* local midnight of the first day */
    unsigned days;     /* weeks * 7; the last one ends at cfg.end_us */
    wp_sim_unit *units;
    size_t n_units;
    wp_sim_person *people;
    size_t n_people;
    wp_sim_customer *customers;
    size_t n_customers;
} wp_sim_company;

/* Plan a company. WP_EINVAL (a config value out of range: the message names it), WP_ENOMEM.
 * Caller owns *out; release with wp_sim_company_free(). */
int wp_sim_company_new(wp_sim_company **out, const wp_sim_config *cfg);
void wp_sim_company_free(wp_sim_company *c); /* NULL is a no-op */

/* --- one phone's events -------------------------------------------------------------------- */

enum wp_sim_event_type { WP_SIM_MESSAGE = 1, WP_SIM_CALL, WP_SIM_CONTACT, WP_SIM_LOCATION };

typedef struct wp_sim_event {
    int64_t seq;   /* 1, 2, 3, ... in ts order */
    int64_t ts_us; /* within [start_us, cfg.end_us) */
    enum wp_sim_event_type type;
    unsigned day;        /* of the period */
    long customer;       /* index in wp_sim_company.customers; -1 for locations */
    int out;             /* 1: the employee's side sent it or called; 0: the customer's */
    const char *channel; /* "wechat", "sms", "phone" */
    const char *msgtype; /* "text", "link", "transfer", "redpacket", "revoke" */
    char *text;          /* text; a link's title; a transfer's memo. Owned by the stream */
    char *url;           /* links */
    int64_t amount_fen;  /* transfer, redpacket */
    int64_t revoked_seq; /* revoke */
    int64_t duration_s;  /* calls; 0: not answered */
    const char *action;  /* contacts: "added", "deleted", "blocked" */
    double lat, lon, accuracy_m;
    /* what was planted: the rule's category (private_deal, false_promise, contact_leak, ...,
     * "pii" for a leaked number), NULL for a clean message */
    const char *violation;
    int must_alert; /* 1 when the default lexicon must raise an alert for it; 0: masked only */
} wp_sim_event;

typedef struct wp_sim_stream {
    const wp_sim_company *company; /* borrowed */
    size_t person;
    wp_sim_event *events; /* with their texts, owned by the stream */
    size_t n;
} wp_sim_stream;

/* Write everything the phone of person reports over the period, in ts order. The same company
 * and person give the same stream. WP_EINVAL (the person has no device), WP_ENOMEM.
 * Caller owns *out; release with wp_sim_stream_free(). company must outlive it. */
int wp_sim_stream_new(wp_sim_stream **out, const wp_sim_company *c, size_t person);
void wp_sim_stream_free(wp_sim_stream *s); /* NULL is a no-op */

/* The body of POST /api/v1/device/events for events [from, from + n) of the stream:
 * {"events": [...]} in the shape of CONTRACT §4. WP_ENOMEM. Caller owns *out (json_decref). */
int wp_sim_stream_batch(json_t **out, const wp_sim_stream *s, size_t from, size_t n);

/* --- driving a sink -------------------------------------------------------------------------- */

#define WP_SIM_ID_MAX 64

/* Where the company goes. Each function returns 0 or a negative WP_E* (wp_error_set), which
 * stops the run. Ids are the sink's, opaque, at most WP_SIM_ID_MAX - 1 bytes. */
typedef struct wp_sim_sink {
    void *ctx;
    /* POST /api/v1/org-units */
    int (*org_unit)(void *ctx, char out_id[WP_SIM_ID_MAX], const char *parent_id,
                    const char *name, const char *kind);
    /* POST /api/v1/employees (with the password the sink was given for the staff, if any) */
    int (*employee)(void *ctx, char out_id[WP_SIM_ID_MAX], const char *org_unit_id,
                    const wp_sim_person *p);
    /* an enrollment code for the employee, then POST /api/v1/device/enroll with it; *out_dev is
     * the sink's handle of the enrolled device */
    int (*enroll)(void *ctx, void **out_dev, const char *employee_id, const char *serial,
                  const char *model);
    /* POST /api/v1/device/events; *reply is the answer (caller json_decref()s it) */
    int (*events)(void *ctx, void *dev, const json_t *body, json_t **reply);
    void (*device_free)(void *ctx, void *dev); /* NULL dev is a no-op */
} wp_sim_sink;

typedef struct wp_sim_stats {
    size_t units, employees, devices;
    size_t events, messages, calls, contacts, locations;
    size_t violations; /* planted */
    size_t alerts, alerts_sensitive, alerts_deleted, alerts_blocked, alerts_money;
    size_t rejected; /* events the sink refused: 0 when all is well */
} wp_sim_stats;

/* Called once with day 0 when the company is built and its phones enrolled, then after each
 * simulated day; a negative return stops the run with that value. */
typedef int (*wp_sim_progress_fn)(void *ctx, const wp_sim_stats *st, unsigned day,
                                  unsigned days);

typedef struct wp_sim_run_options {
    wp_sim_progress_fn progress; /* NULL: none */
    void *progress_ctx;
    /* how many calls of the sink may run at once: employees are created, phones enrolled and
     * a day's batches sent by this many threads (one phone's batches stay in order, and every
     * phone finishes a day before any starts the next). 0 or 1: one call at a time; more needs
     * a sink whose functions are thread-safe. At most 256. */
    unsigned threads;
} wp_sim_run_options;
#define WP_SIM_RUN_OPTIONS_INIT {NULL, NULL, 1}

/* Create the company under the existing top unit top_id (the tenant's hq), enroll every phone,
 * then feed the streams day by day, every phone in turn, so the archive fills as if the phones
 * had reported as they went. stats (zeroed first) counts what was sent and what came back.
 * opts may be NULL (WP_SIM_RUN_OPTIONS_INIT). Returns 0 or the first error of the sink or of
 * progress; with threads, the first one met (the others are not reported). */
int wp_sim_run(wp_sim_stats *stats, const wp_sim_company *c, const char *top_id,
               const wp_sim_sink *sink, const wp_sim_run_options *opts);

#endif
