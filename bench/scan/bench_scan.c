/* SPDX-License-Identifier: MIT */
/* The scan benchmark: workphone's engine against Hyperscan, grep -F and rg -F on one core, for
 * lexicons of 1k, 10k and 100k words; prints a markdown report (see BENCHMARKS.md). */
#include "scan/scan.h"
#include "util/buf.h"
#include "util/error.h"

#include <hs/hs.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_BUILDTYPE
#define BENCH_BUILDTYPE "unknown"
#endif

#define NSIZES 3
static const char *const size_names[NSIZES] = {"1k", "10k", "100k"};

static const char usage[] =
    "usage: bench_scan --data DIR [--reps N] [--cpu N] [--no-tools] [--size S] [--workphone-only]\n"
    "                  [--lexicon FILE]\n"
    "\n"
    "DIR holds corpus.txt, lex-1k.txt, lex-10k.txt, lex-100k.txt and info.txt, as written by\n"
    "bench/scan/gen_data.py. Prints a markdown report on standard output.\n"
    "  --reps N   runs per cell, the best is kept (default 3)\n"
    "  --cpu N    pin the process and its children to CPU N (default 0; -1: do not pin)\n"
    "  --no-tools skip grep and rg\n"
    "  --size S   only the lexicon size S (1k, 10k or 100k), e.g. under perf\n"
    "  --workphone-only  only workphone's engine (no Hyperscan, grep, rg)\n"
    "  --lexicon FILE  also time workphone with this lexicon (regexes and allows included)\n";

/* Engines, in the order of the report's rows. */
enum engine {
    E_WP_ALL,  /* normalization + PII */
    E_WP_NORM, /* normalization, no PII */
    E_WP_RAW,  /* WP_SCAN_NO_NORMALIZE | WP_SCAN_NO_PII */
    E_HS_LINE,
    E_HS_BUF,
    E_GREP,
    E_RG,
    NENGINES
};
static const char *const engine_names[NENGINES] = {
    "workphone, normalization + PII",
    "workphone, normalization, no PII",
    "workphone raw (NO_NORMALIZE, NO_PII)",
    "Hyperscan literal, line by line",
    "Hyperscan literal, whole buffer",
    "`grep -F -c -f` (LC_ALL=C), subprocess",
    "`rg -F -c -f`, subprocess",
};
static const unsigned wp_flags[3] = {0, WP_SCAN_NO_PII, WP_SCAN_NO_NORMALIZE | WP_SCAN_NO_PII};

struct cell {
    bool done;
    char failed[160]; /* why the cell has no figure */
    double secs;      /* best scan time */
    double compile_secs;
    unsigned long long matches, lines_matched;
    size_t memory;       /* wp_scanner_memory, or Hyperscan database + scratch */
    long long rss_delta; /* resident bytes gained by compiling */
};

struct corpus {
    char *text;
    size_t len;
    size_t nlines;
    size_t *start, *end; /* each line, without its '\n' */
};

/* CPU time of this (single) thread: other load on the machine does not inflate it, as it
 * would wall-clock time. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_scan: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static char *path_in(const char *dir, const char *name)
{
    wp_buf b;
    wp_buf_init(&b, 4096);
    if (wp_buf_addf(&b, "%s/%s", dir, name) < 0)
        die("path too long", dir);
    return wp_buf_detach(&b, NULL);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path, strerror(errno));
    wp_buf b;
    wp_buf_init(&b, (size_t)4 << 30);
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (wp_buf_add(&b, chunk, n) < 0)
            die(path, "too large");
    if (ferror(f))
        die(path, strerror(errno));
    fclose(f);
    return wp_buf_detach(&b, len);
}

static void split_lines(struct corpus *c)
{
    size_t cap = 1 << 20;
    c->start = malloc(cap * sizeof *c->start);
    c->end = malloc(cap * sizeof *c->end);
    c->nlines = 0;
    for (size_t i = 0; i < c->len;) {
        const char *nl = memchr(c->text + i, '\n', c->len - i);
        size_t e = nl ? (size_t)(nl - c->text) : c->len;
        if (c->nlines == cap) {
            cap *= 2;
            c->start = realloc(c->start, cap * sizeof *c->start);
            c->end = realloc(c->end, cap * sizeof *c->end);
        }
        if (!c->start || !c->end)
            die("out of memory", NULL);
        c->start[c->nlines] = i;
        c->end[c->nlines] = e;
        c->nlines++;
        i = e + 1;
    }
}

static long long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lld %lld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

/* ---- workphone */

static void run_workphone(struct cell *cell, const struct corpus *c, const char *lex, size_t lexlen,
                          const char *lexname, unsigned flags, int reps)
{
    wp_scan_options o = WP_SCAN_OPTIONS_INIT;
    o.flags = flags;
    o.source_name = lexname;
    wp_scanner *s = NULL;
    long long rss0 = rss_bytes();
    double t0 = now();
    int rc = wp_scan_compile(&s, lex, lexlen, &o);
    cell->compile_secs = now() - t0;
    cell->rss_delta = rss_bytes() - rss0;
    if (rc < 0) {
        wp_buf b;
        wp_buf_init(&b, sizeof cell->failed - 1);
        if (wp_buf_addf(&b, "compile failed: %s", wp_error_last()) < 0)
            wp_buf_reset(&b);
        memcpy(cell->failed, b.buf, b.len + 1);
        wp_buf_release(&b);
        fprintf(stderr, "bench_scan: %s: %s\n", lexname, wp_error_last());
        return;
    }
    cell->memory = wp_scanner_memory(s);

    wp_scan_result r;
    wp_scan_result_init(&r);
    cell->secs = 1e300;
    for (int rep = 0; rep < reps; rep++) {
        unsigned long long matches = 0, lines = 0;
        double start = now();
        for (size_t i = 0; i < c->nlines; i++) {
            rc = wp_scan_run(s, c->text + c->start[i], c->end[i] - c->start[i], &r);
            if (rc < 0)
                die("wp_scan_run failed", wp_error_last());
            matches += r.n;
            lines += r.n > 0;
        }
        double t = now() - start;
        if (t < cell->secs)
            cell->secs = t;
        cell->matches = matches;
        cell->lines_matched = lines;
    }
    wp_scan_result_release(&r);
    wp_scanner_unref(s);
    cell->done = true;
}

/* ---- Hyperscan */

struct hs_count {
    unsigned long long matches;
};

static int on_hs_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                       void *ctx)
{
    (void)id, (void)from, (void)to, (void)flags;
    ((struct hs_count *)ctx)->matches++;
    return 0;
}

static void run_hyperscan(struct cell *line_cell, struct cell *buf_cell, const struct corpus *c,
                          char *lex, size_t lexlen, int reps)
{
    size_t n = 0;
    for (size_t i = 0; i < lexlen; i++)
        n += lex[i] == '\n';
    const char **exprs = calloc(n + 1, sizeof *exprs);
    size_t *lens = calloc(n + 1, sizeof *lens);
    unsigned *ids = calloc(n + 1, sizeof *ids);
    unsigned *flags = calloc(n + 1, sizeof *flags);
    if (!exprs || !lens || !ids || !flags)
        die("out of memory", NULL);
    unsigned k = 0;
    for (size_t i = 0; i < lexlen;) {
        const char *nl = memchr(lex + i, '\n', lexlen - i);
        size_t e = nl ? (size_t)(nl - lex) : lexlen;
        if (e > i) {
            exprs[k] = lex + i;
            lens[k] = e - i;
            ids[k] = k;
            /* Start offsets, as workphone reports them; free for literals. */
            flags[k] = HS_FLAG_SOM_LEFTMOST;
            k++;
        }
        i = e + 1;
    }

    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    long long rss0 = rss_bytes();
    double t0 = now();
    hs_error_t rc =
        hs_compile_lit_multi(exprs, flags, ids, lens, k, HS_MODE_BLOCK, NULL, &db, &err);
    double compile = now() - t0;
    if (rc != HS_SUCCESS)
        die("hs_compile_lit_multi failed", err ? err->message : "?");
    hs_scratch_t *scratch = NULL;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS)
        die("hs_alloc_scratch failed", NULL);
    size_t dbsize = 0, scratchsize = 0;
    hs_database_size(db, &dbsize);
    hs_scratch_size(scratch, &scratchsize);
    long long rss = rss_bytes() - rss0;
    struct cell *cells[2] = {line_cell, buf_cell};
    for (int j = 0; j < 2; j++) {
        cells[j]->compile_secs = compile;
        cells[j]->memory = dbsize + scratchsize;
        cells[j]->rss_delta = rss;
        cells[j]->secs = 1e300;
    }

    for (int rep = 0; rep < reps; rep++) {
        struct hs_count cnt = {0};
        unsigned long long lines = 0;
        double start = now();
        for (size_t i = 0; i < c->nlines; i++) {
            unsigned long long before = cnt.matches;
            if (hs_scan(db, c->text + c->start[i], (unsigned)(c->end[i] - c->start[i]), 0, scratch,
                        on_hs_match, &cnt) != HS_SUCCESS)
                die("hs_scan failed", NULL);
            lines += cnt.matches > before;
        }
        double t = now() - start;
        if (t < line_cell->secs)
            line_cell->secs = t;
        line_cell->matches = cnt.matches;
        line_cell->lines_matched = lines;

        cnt.matches = 0;
        start = now();
        if (hs_scan(db, c->text, (unsigned)c->len, 0, scratch, on_hs_match, &cnt) != HS_SUCCESS)
            die("hs_scan failed", NULL);
        t = now() - start;
        if (t < buf_cell->secs)
            buf_cell->secs = t;
        buf_cell->matches = cnt.matches;
    }
    line_cell->done = buf_cell->done = true;
    hs_free_scratch(scratch);
    hs_free_database(db);
    free(exprs);
    free(lens);
    free(ids);
    free(flags);
}

/* ---- grep and rg, as subprocesses whose standard output is the count of matching lines */

static void run_tool(struct cell *cell, char *const argv[], int reps)
{
    cell->secs = 1e300;
    for (int rep = 0; rep < reps; rep++) {
        int out[2];
        char errpath[] = "/tmp/bench_scan_stderr_XXXXXX";
        int errfd = mkstemp(errpath);
        if (errfd < 0 || pipe(out) < 0)
            die("pipe", strerror(errno));
        unlink(errpath);
        pid_t pid = fork();
        if (pid < 0)
            die("fork", strerror(errno));
        if (pid == 0) {
            dup2(out[1], 1);
            dup2(errfd, 2);
            close(out[0]);
            close(out[1]);
            execvp(argv[0], argv);
            _exit(127);
        }
        close(out[1]);
        char buf[256];
        size_t got = 0;
        ssize_t n;
        while ((n = read(out[0], buf + got, sizeof buf - 1 - got)) > 0)
            got += (size_t)n;
        buf[got] = '\0';
        close(out[0]);
        int status = 0;
        struct rusage ru;
        if (wait4(pid, &status, 0, &ru) < 0)
            die("wait4", strerror(errno));
        double t = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        /* grep exits 1 when no line matched; anything else is a failure. */
        if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
            char msg[128] = "";
            ssize_t m = pread(errfd, msg, sizeof msg - 1, 0);
            msg[m > 0 ? m : 0] = '\0';
            msg[strcspn(msg, "\n")] = '\0';
            wp_buf b;
            wp_buf_init(&b, sizeof cell->failed - 1);
            if (wp_buf_addf(&b, "%s failed (status %d): %s", argv[0], status, msg) < 0)
                wp_buf_reset(&b);
            memcpy(cell->failed, b.buf, b.len + 1);
            wp_buf_release(&b);
            close(errfd);
            return;
        }
        close(errfd);
        if (t < cell->secs)
            cell->secs = t;
        cell->lines_matched = strtoull(buf, NULL, 10);
    }
    cell->done = true;
}

/* ---- the report */

static double mbps(const struct cell *cell, size_t bytes)
{
    return (double)bytes / cell->secs / 1e6;
}

static void print_cpu(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    const char *model = "unknown";
    static char found[512];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *p = strchr(line, ':');
            if (p) {
                p += 1 + (p[1] == ' ');
                size_t l = strcspn(p, "\n");
                memcpy(found, p, l);
                found[l] = '\0';
                model = found;
            }
            break;
        }
    }
    if (f)
        fclose(f);
    struct utsname u;
    uname(&u);
    printf("- machine: %s, %ld online CPUs (nproc), Linux %s %s\n", model,
           sysconf(_SC_NPROCESSORS_ONLN), u.release, u.machine);
}

static void print_cell_mbps(const struct cell *cell, size_t bytes)
{
    if (cell->done)
        printf(" %.0f |", mbps(cell, bytes));
    else
        printf(" n/a |");
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int reps = 3, cpu = 0;
    bool tools = true, others = true;
    const char *only = NULL, *extra = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--cpu") == 0 && i + 1 < argc) {
            cpu = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--no-tools") == 0) {
            tools = false;
        } else if (strcmp(argv[i], "--lexicon") == 0 && i + 1 < argc) {
            extra = argv[++i];
        } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--workphone-only") == 0) {
            others = tools = false;
        } else {
            fputs(usage, strcmp(argv[i], "--help") == 0 ? stdout : stderr);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (!dir || reps < 1) {
        fputs(usage, stderr);
        return 2;
    }
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            die("sched_setaffinity", strerror(errno));
    }

    struct corpus c = {0};
    char *corpus_path = path_in(dir, "corpus.txt");
    c.text = read_all(corpus_path, &c.len);
    split_lines(&c);

    static struct cell cells[NENGINES][NSIZES];
    for (int z = 0; z < NSIZES; z++) {
        if (only && strcmp(only, size_names[z]) != 0)
            continue;
        wp_buf name;
        wp_buf_init(&name, 64);
        if (wp_buf_addf(&name, "lex-%s.txt", size_names[z]) < 0)
            die("name", NULL);
        char *lexpath = path_in(dir, name.buf);
        size_t lexlen;
        char *lex = read_all(lexpath, &lexlen);
        fprintf(stderr, "bench_scan: %s words\n", size_names[z]);
        for (int e = E_WP_ALL; e <= E_WP_RAW; e++)
            run_workphone(&cells[e][z], &c, lex, lexlen, name.buf, wp_flags[e], reps);
        if (others)
            run_hyperscan(&cells[E_HS_LINE][z], &cells[E_HS_BUF][z], &c, lex, lexlen, reps);
        if (tools) {
            setenv("LC_ALL", "C", 1);
            char *grep[] = {"grep", "-F", "-c", "-f", lexpath, corpus_path, NULL};
            run_tool(&cells[E_GREP][z], grep, reps);
            char *rg[] = {"rg", "--no-config", "-F", "-c", "-f", lexpath, corpus_path, NULL};
            run_tool(&cells[E_RG][z], rg, reps);
        }
        free(lex);
        free(lexpath);
        wp_buf_release(&name);
    }

    /* A real lexicon (regexes, allows, categories) as a company would run it. */
    static struct cell extra_cells[3];
    size_t extra_entries = 0, extra_regexes = 0;
    if (extra) {
        size_t lexlen;
        char *lex = read_all(extra, &lexlen);
        for (size_t i = 0; i < lexlen;) {
            const char *nl = memchr(lex + i, '\n', lexlen - i);
            size_t e = nl ? (size_t)(nl - lex) : lexlen;
            if (e > i && lex[i] != '#')
                extra_entries++;
            if (e - i > 3 && memcmp(lex + i, "re:", 3) == 0)
                extra_regexes++;
            i = e + 1;
        }
        fprintf(stderr, "bench_scan: %s\n", extra);
        for (int e = E_WP_ALL; e <= E_WP_RAW; e++)
            run_workphone(&extra_cells[e], &c, lex, lexlen, extra, wp_flags[e], reps);
        free(lex);
    }

    /* The report. */
    char date[64];
    time_t t = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M %z", localtime(&t));
    printf("## Scan throughput\n\n");
    printf("- date: %s\n", date);
    print_cpu();
    printf("- pinned to: %s; build type: %s; Hyperscan %s (hs_compile_lit_multi, "
           "HS_FLAG_SOM_LEFTMOST, block mode)\n",
           cpu >= 0 ? "one CPU (sched_setaffinity, children included)" : "no CPU (not pinned)",
           BENCH_BUILDTYPE, hs_version());
    char *info_path = path_in(dir, "info.txt");
    size_t infolen;
    char *info = read_all(info_path, &infolen);
    for (char *line = strtok(info, "\n"); line; line = strtok(NULL, "\n"))
        printf("- %s\n", line);
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    printf("- MB/s = corpus bytes (%zu, newlines included) / 10^6 / CPU seconds (the scanning "
           "thread's CPU clock; for grep and rg the child's user + system time, which includes "
           "starting it and compiling the patterns); best of %d runs per cell. workphone and "
           "\"line by line\" scan each of the %zu lines as one message. Load average at the end: "
           "%.2f.\n\n",
           c.len, reps, c.nlines, load[0]);

    printf("### MB/s\n\n"
           "| engine | 1k words | 10k words | 100k words |\n"
           "| --- | ---: | ---: | ---: |\n");
    for (int e = 0; e < NENGINES; e++) {
        if (!tools && (e == E_GREP || e == E_RG))
            continue;
        printf("| %s |", engine_names[e]);
        for (int z = 0; z < NSIZES; z++)
            print_cell_mbps(&cells[e][z], c.len);
        printf("\n");
    }
    if (extra) {
        printf("\n### MB/s with `%s` (%zu entries, %zu of them regexes)\n\n"
               "| engine | MB/s | compile ms | lines / matches |\n| --- | ---: | ---: | ---: |\n",
               extra, extra_entries, extra_regexes);
        for (int e = E_WP_ALL; e <= E_WP_RAW; e++) {
            const struct cell *cell = &extra_cells[e];
            if (cell->done)
                printf("| %s | %.0f | %.1f | %llu / %llu |\n", engine_names[e], mbps(cell, c.len),
                       cell->compile_secs * 1e3, cell->lines_matched, cell->matches);
            else
                printf("| %s | n/a: %s | | |\n", engine_names[e], cell->failed);
        }
    }
    printf("\n### Time relative to Hyperscan line by line (lower is better)\n\n"
           "| engine | 1k words | 10k words | 100k words |\n| --- | ---: | ---: | ---: |\n");
    for (int e = E_WP_ALL; e <= E_WP_RAW; e++) {
        printf("| %s |", engine_names[e]);
        for (int z = 0; z < NSIZES; z++) {
            const struct cell *w = &cells[e][z], *h = &cells[E_HS_LINE][z];
            if (w->done && h->done)
                printf(" %.2fx |", w->secs / h->secs);
            else
                printf(" n/a |");
        }
        printf("\n");
    }

    printf("\n### Compile time (ms) and memory\n\n"
           "| engine | | 1k words | 10k words | 100k words |\n"
           "| --- | --- | ---: | ---: | ---: |\n");
    for (int e = E_WP_ALL; e <= E_HS_LINE; e++) {
        const char *rows[3] = {"compile ms", "memory KiB", "RSS delta KiB"};
        for (int k = 0; k < 3; k++) {
            printf("| %s | %s%s |", k == 0 ? engine_names[e] : "", rows[k],
                   k == 1 ? (e == E_HS_LINE ? " (database + scratch)" : " (wp_scanner_memory)")
                          : "");
            for (int z = 0; z < NSIZES; z++) {
                const struct cell *cell = &cells[e][z];
                if (!cell->done)
                    printf(" n/a |");
                else if (k == 0)
                    printf(" %.1f |", cell->compile_secs * 1e3);
                else if (k == 1)
                    printf(" %zu |", cell->memory / 1024);
                else
                    printf(" %lld |", cell->rss_delta / 1024);
            }
            printf("\n");
        }
    }

    printf("\n### Matches (sanity check: engines that match the same bytes agree)\n\n"
           "| engine | | 1k words | 10k words | 100k words |\n"
           "| --- | --- | ---: | ---: | ---: |\n");
    for (int e = 0; e < NENGINES; e++) {
        if (!tools && (e == E_GREP || e == E_RG))
            continue;
        bool lines_only = e == E_GREP || e == E_RG, matches_only = e == E_HS_BUF;
        printf("| %s | %s |", engine_names[e],
               lines_only     ? "lines"
               : matches_only ? "matches"
                              : "lines / matches");
        for (int z = 0; z < NSIZES; z++) {
            const struct cell *cell = &cells[e][z];
            if (!cell->done)
                printf(" n/a |");
            else if (lines_only)
                printf(" %llu |", cell->lines_matched);
            else if (matches_only)
                printf(" %llu |", cell->matches);
            else
                printf(" %llu / %llu |", cell->lines_matched, cell->matches);
        }
        printf("\n");
    }
    for (int e = 0; e < NENGINES; e++)
        for (int z = 0; z < NSIZES; z++)
            if (!cells[e][z].done && cells[e][z].failed[0])
                printf("\n- %s, %s words: %s\n", engine_names[e], size_names[z],
                       cells[e][z].failed);

    printf("\n### Targets\n\n");
    const struct cell *raw = &cells[E_WP_RAW][1], *hs = &cells[E_HS_LINE][1];
    if (raw->done && hs->done) {
        double ratio = raw->secs / hs->secs;
        printf("- raw engine within 2x of Hyperscan (line by line) at 10k words: %.2fx: %s\n",
               ratio, ratio <= 2.0 ? "met" : "**MISSED**");
    }
    printf("- all normalization on (normalization + PII) >= 300 MB/s:");
    for (int z = 0; z < NSIZES; z++) {
        const struct cell *w = &cells[E_WP_ALL][z];
        if (w->done)
            printf(" %s words %.0f MB/s %s;", size_names[z], mbps(w, c.len),
                   mbps(w, c.len) >= 300 ? "met" : "**MISSED**");
    }
    printf("\n");
    if (extra && extra_cells[E_WP_ALL].done) {
        double v = mbps(&extra_cells[E_WP_ALL], c.len);
        printf("- the same with `%s`: %.0f MB/s %s\n", extra, v, v >= 300 ? "met" : "**MISSED**");
    }

    free(info);
    free(info_path);
    free(corpus_path);
    free(c.text);
    free(c.start);
    free(c.end);
    return 0;
}
