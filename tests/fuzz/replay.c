/* SPDX-License-Identifier: MIT */
/* Corpus replay without libFuzzer: linked with one fuzz target on the plain and sanitizer
 * builds, it feeds every file named on the command line (a directory: each file in it, in
 * name order, hidden ones skipped) to LLVMFuzzerTestOneInput once. A broken invariant aborts,
 * so a crash found once stays found in `meson test --suite fuzz-replay`. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t n_inputs;

/* One input, in a buffer of exactly its size so that a sanitizer sees a read past its end. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    unsigned char *d = malloc(cap);
    for (size_t got; d && (got = fread(d + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap) {
            unsigned char *bigger = realloc(d, cap *= 2);
            if (!bigger)
                free(d);
            d = bigger;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!d || bad) {
        fprintf(stderr, "%s: cannot read it\n", path);
        free(d);
        return -1;
    }
    unsigned char *exact = malloc(len ? len : 1);
    if (!exact) {
        free(d);
        return -1;
    }
    memcpy(exact, d, len);
    free(d);
    fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    n_inputs++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        perror(dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **more = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
            if (!more) {
                err = -1;
                break;
            }
            names = more;
        }
        if (!(names[n] = strdup(e->d_name))) {
            err = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        if (!err && stat(path, &st) == 0 && S_ISREG(st.st_mode))
            err = replay_file(path);
        free(names[i]);
    }
    free(names);
    return err;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            perror(argv[i]);
            return 1;
        }
        if ((S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(argv[i])) < 0)
            return 1;
    }
    if (!n_inputs) {
        fprintf(stderr, "no inputs: an empty corpus replays nothing\n");
        return 1;
    }
    printf("%zu inputs replayed\n", n_inputs);
    return 0;
}
