/* SPDX-License-Identifier: MIT */
/* The company simulator: a made-up company (org tree, staff, customers), what each of its
 * phones reports (CONTRACT §4 events) and what its people do with their customers in the CRM
 * (stages, deal amounts, grades, tags, notes, the pool, a leaver's handover), deterministic for
 * a seed, pushed into a sink: in process (local.h: store + ingest) or over HTTP (remote.h).
 *
 * Three layers, each usable alone: wp_sim_company_new() plans the company (pure data);
 * wp_sim_stream_new() writes one phone's events and its owner's CRM acts for the whole period
 * (pure data, JSON batches in the device protocol's shape); wp_sim_run() creates the company
 * through a wp_sim_sink and feeds every phone's stream to it day by day. Nothing here does I/O
 * or keeps globals. */
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
    /* stores with field staff: the radius (metres) of the geofence around the store that
     * holds every place its field staff visit, with room to spare; 0: no fence */
    unsigned fence_radius_m;
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
    /* 1: field staff (the salespeople of the trades that visit customers: property and
     * insurance), who drive to their customers and clock in and out with check-ins */
    int field;
    /* how likely it is to break a rule, relative to the company's rate: most rarely, a few
     * often; the mean over the customers' talk is 1 */
    double risk;
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
    int quick;          /* 1: a new lead of the last week who buys at once (every store has some) */
    unsigned traits[8]; /* picks into the trade's word lists (community, product, course, ...) */
} wp_sim_customer;

/* A file the phones send (a photo, a voice note, a call recording, a PDF): made once per
 * company, the same bytes whatever the seed. */
typedef struct wp_sim_media {
    char ref[72];     /* "sha256:<64 hex>" */
    const char *kind; /* "image", "voice", "recording", "file" */
    const char *what; /* image: "house", "plan", "doc", ...; file: "contract", "list", ... */
    const char *mime; /* "image/png", "audio/wav", "application/pdf" */
    unsigned char *bytes;
    size_t len;
} wp_sim_media;

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
    wp_sim_media *media; /* what messages and calls name by index */
    size_t n_media;
    /* a salesperson who leaves: its phone stops after leave_day, and at the end of that day
     * its customers are handed to the successors (-1 for none; periods under a week have no
     * leaver) */
    long leaver;
    unsigned leave_day;
    int64_t leave_us; /* when, that afternoon */
    long successors[2];
    size_t n_successors;
} wp_sim_company;

/* Plan a company. WP_EINVAL (a config value out of range: the message names it), WP_ENOMEM.
 * Caller owns *out; release with wp_sim_company_free(). */
int wp_sim_company_new(wp_sim_company **out, const wp_sim_config *cfg);
void wp_sim_company_free(wp_sim_company *c); /* NULL is a no-op */

/* --- one phone's events -------------------------------------------------------------------- */

enum wp_sim_event_type {
    WP_SIM_MESSAGE = 1,
    WP_SIM_CALL,
    WP_SIM_CONTACT,
    WP_SIM_LOCATION,
    WP_SIM_CHECKIN
};

typedef struct wp_sim_event {
    int64_t seq;   /* 1, 2, 3, ... in ts order */
    int64_t ts_us; /* within [start_us, cfg.end_us) */
    enum wp_sim_event_type type;
    unsigned day;        /* of the period */
    long customer;       /* index in wp_sim_company.customers; -1 for locations, clock-ins */
    int out;             /* 1: the employee's side sent it or called; 0: the customer's */
    const char *channel; /* "wechat", "sms", "phone" */
    /* "text", "link", "transfer", "redpacket", "revoke", "image", "voice", "file",
     * "location", "card" */
    const char *msgtype;
    char *text;  /* text; a link's title; a transfer's memo; a location's address. Owned */
    char *url;   /* links */
    char *title; /* location: the place; card: who it introduces. Owned by the stream */
    char *filename; /* file. Owned by the stream */
    /* image, voice, file: index in company->media; calls: the recording; check-ins: the
     * photo; -1 */
    int media;
    int64_t amount_fen;  /* transfer, redpacket */
    int64_t revoked_seq; /* revoke */
    int64_t duration_s;  /* calls; 0: not answered */
    /* contacts: "added", "deleted", "blocked"; check-ins: their kind, "in", "out", "visit" */
    const char *action;
    double lat, lon, accuracy_m;
    /* what was planted: the rule's category (private_deal, false_promise, contact_leak, ...,
     * "pii" for a leaked number), NULL for a clean message */
    const char *violation;
    int must_alert; /* 1 when the default lexicon must raise an alert for it; 0: masked only */
} wp_sim_event;

/* --- what people do in the CRM ---------------------------------------------------------------- */

enum wp_sim_act_kind {
    WP_SIM_ACT_STAGE = 1, /* PATCH /customers/{id} {"stage"} (deal: with deal_amount_fen) */
    WP_SIM_ACT_GRADE,     /* PATCH /customers/{id} {"grade"}: a grade set by hand */
    WP_SIM_ACT_TAGS,      /* PUT /customers/{id}/tags {"add": [...]} by name of wp_sim_crm */
    WP_SIM_ACT_NOTE,      /* POST /customers/{id}/follow-ups {"text"} */
    WP_SIM_ACT_RELEASE,   /* POST /customers/{id}/release {"reason": "manual", "note"} */
    WP_SIM_ACT_CLAIM,     /* POST /pool/{id}/claim by the colleague `by` (remote: assign) */
};

#define WP_SIM_ACT_TAGS_MAX 3

/* One act on one customer, after its talk of that day. */
typedef struct wp_sim_act {
    int64_t ts_us;
    unsigned day;
    enum wp_sim_act_kind kind;
    long customer;      /* index in wp_sim_company.customers */
    long by;            /* who acts: index in people; -1: the customer's owner at the time */
    const char *stage;  /* STAGE: "contacted", "intent", "deal", "lost" */
    int64_t amount_fen; /* STAGE deal: what the deal is worth */
    const char *grade;  /* GRADE: "A".."D" */
    const char *tags[WP_SIM_ACT_TAGS_MAX]; /* TAGS: names from wp_sim_crm_vocabulary() */
    size_t n_tags;
    char *text; /* NOTE, RELEASE (the note), CLAIM (the claimer's first note). Owned */
} wp_sim_act;

/* The tenant's CRM vocabulary and rules that the company works with (static data). */
typedef struct wp_sim_tag {
    const char *group; /* a group's name; NULL for a group itself */
    const char *name, *color;
} wp_sim_tag;

typedef struct wp_sim_grade_rule { /* POST /grade-rules; -1: not checked, NULL: any */
    const char *grade, *stage, *tag;
    int min_messages, messages_days, contact_within_days, no_contact_days;
} wp_sim_grade_rule;

typedef struct wp_sim_sop_rule { /* POST /sop-rules */
    const char *name, *grade, *stage; /* NULL: any */
    int interval_hours, grace_hours;
} wp_sim_sop_rule;

typedef struct wp_sim_crm {
    const wp_sim_tag *tags; /* groups first, then their tags */
    size_t n_tags;
    const wp_sim_grade_rule *grade_rules;
    size_t n_grade_rules;
    const wp_sim_sop_rule *sop_rules;
    size_t n_sop_rules;
    int claim_daily_max, cooldown_days, reclaim_inactive_days; /* PUT /pool/settings */
} wp_sim_crm;

const wp_sim_crm *wp_sim_crm_vocabulary(void);

typedef struct wp_sim_stream {
    const wp_sim_company *company; /* borrowed */
    size_t person;
    wp_sim_event *events; /* with their texts, owned by the stream */
    size_t n;
    wp_sim_act *acts; /* what happens in the CRM to this phone's customers, in ts order */
    size_t n_acts;
} wp_sim_stream;

/* Write everything the phone of person reports over the period, in ts order, and the CRM acts
 * on its customers (by it, by a colleague who claims one from the pool, by whoever owns one
 * after a handover). The same company and person give the same stream. WP_EINVAL (the person
 * has no device), WP_ENOMEM. Caller owns *out; release with wp_sim_stream_free(). company must
 * outlive it. */
int wp_sim_stream_new(wp_sim_stream **out, const wp_sim_company *c, size_t person);
void wp_sim_stream_free(wp_sim_stream *s); /* NULL is a no-op */

/* The body of POST /api/v1/device/events for events [from, from + n) of the stream:
 * {"events": [...]} in the shape of CONTRACT §4. WP_ENOMEM. Caller owns *out (json_decref). */
int wp_sim_stream_batch(json_t **out, const wp_sim_stream *s, size_t from, size_t n);

/* --- driving a sink -------------------------------------------------------------------------- */

#define WP_SIM_ID_MAX 64

/* An act as the driver hands it to a sink: the customer (found by its phone number) and who
 * acts. */
typedef struct wp_sim_act_call {
    const wp_sim_act *act;
    const wp_sim_customer *customer;
    const char *employee_id; /* the sink's id of act->by; "" for the customer's owner then */
} wp_sim_act_call;

typedef struct wp_sim_stats wp_sim_stats;

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
    /* POST /api/v1/device/events, as the phone would have sent it at at_us (a sink in process
     * stores it with that time; a server has its own clock); *reply is the answer (caller
     * json_decref()s it) */
    int (*events)(void *ctx, void *dev, const json_t *body, int64_t at_us, json_t **reply);
    void (*device_free)(void *ctx, void *dev); /* NULL dev is a no-op */

    /* The rest may be NULL: a sink without them gets the phones' events only. */
    /* PUT /api/v1/device/media/<ref>: a file the phone names in its next batch, once per phone */
    int (*media)(void *ctx, void *dev, const wp_sim_media *m);
    /* POST /api/v1/geofences: a circle of radius_m around (lat, lon), WGS-84, for the unit,
     * with no schedule of its own (the working hours), made at at_us (the start of the
     * period), after the org tree and before any event */
    int (*geofence)(void *ctx, const char *org_unit_id, const char *name, double lat,
                    double lon, unsigned radius_m, int64_t at_us);
    /* The tenant's tag groups and tags, grading and SOP rules, pool settings, as they were at
     * at_us (the start of the period), before any act; what the tenant has already is kept */
    int (*crm_setup)(void *ctx, const wp_sim_crm *crm, int64_t at_us);
    /* One day's CRM acts on one phone's customers, in order (in process: at each act's time,
     * in one transaction; over HTTP: at the server's time). An act the store refuses for the
     * state it finds (a release of a customer the reclaim job pooled first, a claim past the
     * daily limit) is skipped and counted, not an error. */
    int (*acts)(void *ctx, const wp_sim_act_call *v, size_t n, wp_sim_stats *st);
    /* POST /api/v1/handovers {"reason": "departure"}: the leaver's customers split over the
     * successors, its phone and logins stopped */
    int (*handover)(void *ctx, const char *from_id, const char *const *to_ids, size_t n_to,
                    int64_t at_us);
    /* A simulated day ended at at_us: in process, the jobs a server runs (reclaim to the pool,
     * follow-up reminders and overdue alerts, grading rules) run at that time */
    int (*day_end)(void *ctx, unsigned day, int64_t at_us);
} wp_sim_sink;

struct wp_sim_stats {
    size_t units, employees, devices;
    size_t events, messages, calls, contacts, locations;
    size_t checkins, checkins_in, checkins_out, visits; /* visits: check-ins of kind visit */
    size_t media; /* files uploaded (once per phone and file) */
    /* CRM acts by kind (stage changes, deals of them, grades, tag changes, notes, releases to
     * the pool, claims from it) and handovers */
    size_t acts, stages, deals, grades, tagged, notes, released, claimed, handovers;
    int64_t deal_amount_fen;
    size_t violations; /* planted */
    size_t alerts, alerts_sensitive, alerts_deleted, alerts_blocked, alerts_money;
    size_t alerts_geofence;
    size_t geofences; /* fences made around the stores with field staff */
    size_t rejected; /* events the sink refused: 0 when all is well */
    size_t acts_skipped; /* acts the store refused for the state it found */
    int64_t acts_us;     /* wall time spent on the acts (microseconds) */
};

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
