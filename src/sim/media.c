/* SPDX-License-Identifier: MIT */
/* The files the simulated phones send: photos (PNG), voice notes and call recordings (WAV),
 * documents (PDF), drawn here so the archive can show and play them. Small, the same bytes for
 * every seed, made once per company. */
#include "sim/sim_int.h"
#include "util/error.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- a byte buffer that only grows ------------------------------------------------------------ */

struct out {
    unsigned char *b;
    size_t n, cap;
    int bad;
};

static void put(struct out *o, const void *p, size_t n)
{
    if (o->bad || !n) /* an empty chunk's data may be NULL */
        return;
    if (o->n + n > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4096;
        while (cap < o->n + n)
            cap *= 2;
        unsigned char *b = realloc(o->b, cap);
        if (!b) {
            o->bad = 1;
            return;
        }
        o->b = b;
        o->cap = cap;
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void put_be32(struct out *o, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    put(o, b, 4);
}

static void put_le(struct out *o, uint32_t v, int bytes)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(o, b, (size_t)bytes);
}

/* --- PNG: RGB, stored (uncompressed) deflate, which needs no zlib --------------------------- */

static uint32_t crc32_of(const unsigned char *p, size_t n, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void chunk(struct out *o, const char *type, const unsigned char *data, size_t n)
{
    put_be32(o, (uint32_t)n);
    size_t at = o->n;
    put(o, type, 4);
    put(o, data, n);
    if (!o->bad)
        put_be32(o, crc32_of(o->b + at, n + 4, 0));
}

struct canvas {
    int w, h;
    unsigned char *px; /* w * h * 3 */
};

static void fill(struct canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb)
{
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < c->h; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < c->w; x++) {
            unsigned char *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
            p[0] = (unsigned char)(rgb >> 16);
            p[1] = (unsigned char)(rgb >> 8);
            p[2] = (unsigned char)rgb;
        }
}

static void frame(struct canvas *c, int x0, int y0, int x1, int y1, int t, uint32_t rgb)
{
    fill(c, x0, y0, x1, y0 + t, rgb);
    fill(c, x0, y1 - t, x1, y1, rgb);
    fill(c, x0, y0, x0 + t, y1, rgb);
    fill(c, x1 - t, y0, x1, y1, rgb);
}

static void disc(struct canvas *c, int cx, int cy, int r, int ring, uint32_t rgb)
{
    for (int y = cy - r; y <= cy + r; y++)
        for (int x = cx - r; x <= cx + r; x++) {
            int d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
            if (d2 <= r * r && (!ring || d2 >= (r - ring) * (r - ring)))
                fill(c, x, y, x + 1, y + 1, rgb);
        }
}

static uint32_t mix(uint32_t a, uint32_t b, int num, int den)
{
    uint32_t out = 0;
    for (int s = 16; s >= 0; s -= 8) {
        int x = (int)((a >> s) & 255), y = (int)((b >> s) & 255);
        out |= (uint32_t)(x + (y - x) * num / den) << s;
    }
    return out;
}

/* Lines of "text": grey bars of varying length, as a document photographed from afar. */
static void text_lines(struct canvas *c, int x0, int y0, int x1, int rows, int seed)
{
    for (int i = 0; i < rows; i++) {
        int len = (x1 - x0) * (60 + (seed * 37 + i * 53) % 40) / 100;
        fill(c, x0, y0 + i * 9, x0 + len, y0 + i * 9 + 3, 0xb8bcc4);
    }
}

/* A picture of what the trade shows its customers; variant picks the colours and layout. */
static void draw(struct canvas *c, const char *what, int variant)
{
    int w = c->w, h = c->h;
    if (!strcmp(what, "house")) { /* a block of flats under the sky */
        static const uint32_t walls[] = {0xe8d8c3, 0xd9dde3, 0xf0e2d0};
        for (int y = 0; y < h * 2 / 3; y++)
            fill(c, 0, y, w, y + 1, mix(0x6fa8dc, 0xd6eaf8, y, h * 2 / 3));
        fill(c, 0, h * 2 / 3, w, h, 0x7a9a5a);
        int bx = 30 + variant * 12, bw = w - 60 - variant * 20;
        fill(c, bx, 20 + variant * 8, bx + bw, h - 18, walls[variant % 3]);
        for (int y = 30 + variant * 8; y < h - 30; y += 14)
            for (int x = bx + 8; x < bx + bw - 12; x += 16)
                fill(c, x, y, x + 9, y + 8, (x + y) % 3 ? 0x4a6a8a : 0xf5d76e);
        fill(c, bx + bw / 2 - 8, h - 34, bx + bw / 2 + 8, h - 18, 0x5b3a29);
    } else if (!strcmp(what, "plan")) { /* a floor plan */
        fill(c, 0, 0, w, h, 0xffffff);
        frame(c, 12, 12, w - 12, h - 12, 4, 0x222222);
        int mx = w / 2 + (variant ? 18 : -10), my = h / 2 + (variant ? -8 : 6);
        fill(c, mx - 2, 12, mx + 2, my + 10, 0x222222);
        fill(c, 12, my - 2, mx - 20, my + 2, 0x222222);
        fill(c, mx + 20, my - 2, w - 12, my + 2, 0x222222);
        fill(c, 16, 16, mx - 2, my - 2, 0xfdebd0);
        fill(c, mx + 2, 16, w - 16, my - 2, 0xd6eaf8);
        fill(c, 16, my + 2, w - 16, h - 16, 0xe8f6f3);
        fill(c, w - 44, h - 40, w - 20, h - 20, 0xaed6f1); /* the bathroom */
    } else if (!strcmp(what, "doc") || !strcmp(what, "receipt")) { /* a page with a seal */
        fill(c, 0, 0, w, h, 0x8a8f98);
        fill(c, 24, 8, w - 24, h - 8, 0xfdfdfb);
        if (!strcmp(what, "receipt"))
            fill(c, 24, 8, w - 24, 30, 0x2da44e);
        text_lines(c, 34, 40, w - 34, (h - 60) / 9, variant);
        disc(c, w - 56, h - 34, 18, 3, 0xd0312d);
        fill(c, w - 64, h - 36, w - 48, h - 32, 0xd0312d);
    } else if (!strcmp(what, "class")) { /* a classroom: the board and the desks */
        fill(c, 0, 0, w, h, 0xf3efe6);
        fill(c, 20, 10, w - 20, 50, variant ? 0x2f4f4f : 0x1e5631);
        text_lines(c, 30, 18, w - 60, 3, variant + 3);
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < 4; k++) {
                int x = 24 + k * (w - 48) / 4, y = 62 + r * 18;
                fill(c, x, y, x + (w - 48) / 4 - 10, y + 9, 0xc49a6c);
                disc(c, x + 12, y - 3, 4, 0, (uint32_t)(0x3366cc + (r * 4 + k) * 0x101010));
            }
    } else if (!strcmp(what, "chart")) { /* scores going up */
        fill(c, 0, 0, w, h, 0xffffff);
        fill(c, 20, 10, 22, h - 20, 0x444444);
        fill(c, 20, h - 22, w - 10, h - 20, 0x444444);
        for (int i = 0; i < 6; i++) {
            int bh = 20 + i * (h - 50) / 8 + (i * 7 + variant * 5) % 11;
            fill(c, 32 + i * (w - 50) / 6, h - 22 - bh, 32 + i * (w - 50) / 6 + (w - 50) / 9,
                 h - 22, i == 5 ? 0xd0312d : 0x1f6feb);
        }
    } else { /* a street photo: the store front */
        for (int y = 0; y < h / 2; y++)
            fill(c, 0, y, w, y + 1, mix(0x9cc3e6, 0xeef4fa, y, h / 2));
        fill(c, 0, h / 2, w, h, 0x9a9a9a);
        fill(c, 20, h / 4, w - 20, h - 24, 0xf4f1ea);
        fill(c, 20, h / 4, w - 20, h / 4 + 16, 0xb3261e);
        fill(c, 34, h / 4 + 26, w / 2 - 6, h - 24, 0x8fb8d8);
        fill(c, w / 2 + 6, h / 4 + 26, w - 34, h - 24, 0x8fb8d8);
    }
}

static int png(struct out *o, const char *what, int variant)
{
    struct canvas c = {160, 120, NULL};
    size_t row = (size_t)c.w * 3 + 1, raw_len = row * (size_t)c.h;
    unsigned char *raw = malloc(raw_len);
    if (!(c.px = calloc((size_t)c.w * (size_t)c.h, 3)) || !raw) {
        free(c.px);
        free(raw);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    draw(&c, what, variant);
    for (int y = 0; y < c.h; y++) { /* filter 0 (none) on every row */
        raw[(size_t)y * row] = 0;
        memcpy(raw + (size_t)y * row + 1, c.px + (size_t)y * (size_t)c.w * 3, row - 1);
    }
    /* zlib: header, stored blocks of at most 65535 bytes, Adler-32 */
    struct out z = {0};
    unsigned char hdr[2] = {0x78, 0x01};
    put(&z, hdr, 2);
    uint32_t a = 1, b = 0;
    for (size_t at = 0; at < raw_len;) {
        size_t n = raw_len - at > 65535 ? 65535 : raw_len - at;
        unsigned char bh[5] = {at + n == raw_len, (unsigned char)n, (unsigned char)(n >> 8),
                               (unsigned char)~n, (unsigned char)(~n >> 8)};
        put(&z, bh, 5);
        put(&z, raw + at, n);
        for (size_t i = at; i < at + n; i++) {
            a = (a + raw[i]) % 65521;
            b = (b + a) % 65521;
        }
        at += n;
    }
    put_be32(&z, b << 16 | a);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char ihdr[13] = {0, 0, 0, 160, 0, 0, 0, 120, 8, 2, 0, 0, 0};
    put(o, sig, 8);
    chunk(o, "IHDR", ihdr, sizeof ihdr);
    if (!z.bad)
        chunk(o, "IDAT", z.b, z.n);
    chunk(o, "IEND", NULL, 0);
    int bad = z.bad;
    free(z.b);
    free(raw);
    free(c.px);
    return bad ? wp_error_set(WP_ENOMEM, "out of memory") : 0;
}

/* --- WAV: 8 kHz, 8-bit mono; a voice-like hum of syllables, quiet ------------------------- */

static int wav(struct out *o, double seconds, int variant)
{
    const uint32_t rate = 8000, n = (uint32_t)(seconds * rate);
    put(o, "RIFF", 4);
    put_le(o, 36 + n, 4);
    put(o, "WAVEfmt ", 8);
    put_le(o, 16, 4);
    put_le(o, 1, 2); /* PCM */
    put_le(o, 1, 2); /* mono */
    put_le(o, rate, 4);
    put_le(o, rate, 4); /* bytes a second */
    put_le(o, 1, 2);
    put_le(o, 8, 2);
    put(o, "data", 4);
    put_le(o, n, 4);
    double phase = 0, base = variant % 2 ? 210 : 130; /* a higher and a lower voice */
    uint32_t noise = 12345u + (uint32_t)variant;
    for (uint32_t i = 0; i < n && !o->bad; i++) {
        double t = (double)i / rate;
        double syl = sin(2 * M_PI * (3.1 + variant * 0.4) * t);
        double env = syl > 0 ? syl * syl : 0;
        if (fmod(t, 2.3 + variant * 0.3) > 1.9) /* a pause between phrases */
            env = 0;
        double f0 = base * (1 + 0.12 * sin(2 * M_PI * 0.7 * t) + 0.05 * sin(2 * M_PI * 2.3 * t));
        phase += 2 * M_PI * f0 / rate;
        noise = noise * 1103515245u + 12345u;
        double v = env * (0.55 * sin(phase) + 0.3 * sin(2 * phase) + 0.15 * sin(3 * phase)) +
                   ((double)(noise >> 16 & 0xff) - 127.5) / 127.5 * 0.02;
        unsigned char s = (unsigned char)(128 + (int)lround(v * 46));
        put(o, &s, 1);
    }
    return o->bad ? wp_error_set(WP_ENOMEM, "out of memory") : 0;
}

/* --- PDF: one page of text (ASCII: a PDF's base fonts have no Chinese) ---------------------- */

static int pdf(struct out *o, const char *title, const char *const *lines, size_t n_lines)
{
    char text[2048], obj[2400];
    size_t at = 0, off[6];
    at += (size_t)snprintf(text + at, sizeof text - at, "BT /F1 16 Tf 56 780 Td (%s) Tj ET\n",
                           title);
    for (size_t i = 0; i < n_lines && at < sizeof text - 200; i++)
        at += (size_t)snprintf(text + at, sizeof text - at,
                               "BT /F1 11 Tf 56 %d Td (%s) Tj ET\n", 740 - (int)i * 20,
                               lines[i]);
    put(o, "%PDF-1.4\n", 9);
    const char *objs[5] = {"<< /Type /Catalog /Pages 2 0 R >>",
                           "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                           "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
                           " /Resources << /Font << /F1 5 0 R >> >> >>",
                           NULL, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
    for (int i = 0; i < 5; i++) {
        off[i] = o->n;
        int len = i == 3 ? snprintf(obj, sizeof obj, "4 0 obj\n<< /Length %zu >>\nstream\n%s"
                                                     "endstream\nendobj\n",
                                    strlen(text), text)
                         : snprintf(obj, sizeof obj, "%d 0 obj\n%s\nendobj\n", i + 1, objs[i]);
        put(o, obj, (size_t)len);
    }
    size_t xref = o->n;
    int len = snprintf(obj, sizeof obj, "xref\n0 6\n0000000000 65535 f \n");
    put(o, obj, (size_t)len);
    for (int i = 0; i < 5; i++) {
        len = snprintf(obj, sizeof obj, "%010zu 00000 n \n", off[i]);
        put(o, obj, (size_t)len);
    }
    len = snprintf(obj, sizeof obj, "trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%zu\n%%%%EOF\n",
                   xref);
    put(o, obj, (size_t)len);
    return o->bad ? wp_error_set(WP_ENOMEM, "out of memory") : 0;
}

/* --- the library -------------------------------------------------------------------------------- */

struct item {
    const char *kind, *what;
    int variant;
    double seconds; /* voice, recording */
};

static const struct item items[] = {
    {"image", "house", 0, 0},     {"image", "house", 1, 0},   {"image", "house", 2, 0},
    {"image", "plan", 0, 0},      {"image", "plan", 1, 0},    {"image", "doc", 0, 0},
    {"image", "doc", 1, 0},       {"image", "receipt", 0, 0}, {"image", "class", 0, 0},
    {"image", "class", 1, 0},     {"image", "chart", 0, 0},   {"image", "photo", 0, 0},
    {"voice", "voice", 0, 2.5},   {"voice", "voice", 1, 5},   {"voice", "voice", 2, 9},
    {"recording", "call", 0, 20}, {"recording", "call", 1, 34},
    {"file", "contract", 0, 0},   {"file", "list", 0, 0},     {"file", "plan", 0, 0},
    {"file", "report", 0, 0},
};

static int make(struct out *o, const struct item *it)
{
    static const char *const contract[] = {
        "Party A: Dingsheng Group (the company)", "Party B: the customer",
        "1. Object and price as agreed in the annex.", "2. Payment to the company's account only.",
        "3. Either party may end this contract as the law provides.", "Signatures:"};
    static const char *const list[] = {"1. ID card (original and copy)",
                                       "2. Household register", "3. Marriage certificate",
                                       "4. Proof of income, bank statements (6 months)",
                                       "5. This list, signed"};
    static const char *const plan[] = {"Customer needs and budget", "Recommended plan",
                                       "Cost per year and term", "What it covers, what it does not",
                                       "Next steps"};
    static const char *const report[] = {"Period summary", "Attendance: 100%",
                                         "Scores: up 12 points", "Teacher's notes",
                                         "Plan for next term"};
    if (!strcmp(it->kind, "image"))
        return png(o, it->what, it->variant);
    if (!strcmp(it->kind, "voice") || !strcmp(it->kind, "recording"))
        return wav(o, it->seconds, it->variant);
    if (!strcmp(it->what, "contract"))
        return pdf(o, "Dingsheng Service Contract (draft)", contract, 6);
    if (!strcmp(it->what, "list"))
        return pdf(o, "Documents checklist", list, 5);
    if (!strcmp(it->what, "plan"))
        return pdf(o, "Proposal", plan, 5);
    return pdf(o, "Progress report", report, 5);
}

int wp_sim__media_new(wp_sim_company *c)
{
    size_t n = sizeof items / sizeof items[0];
    if (!(c->media = calloc(n, sizeof *c->media)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct out o = {0};
        int err = make(&o, &items[i]);
        if (err < 0) {
            free(o.b);
            return err;
        }
        wp_sim_media *m = &c->media[c->n_media++];
        unsigned char h[crypto_hash_sha256_BYTES];
        crypto_hash_sha256(h, o.b, o.n);
        memcpy(m->ref, "sha256:", 7);
        sodium_bin2hex(m->ref + 7, sizeof m->ref - 7, h, sizeof h);
        m->kind = items[i].kind;
        m->what = items[i].what;
        m->mime = !strcmp(m->kind, "image") ? "image/png"
                  : !strcmp(m->kind, "file") ? "application/pdf"
                                             : "audio/wav";
        m->bytes = o.b;
        m->len = o.n;
    }
    return 0;
}

void wp_sim__media_free(wp_sim_company *c)
{
    for (size_t i = 0; c->media && i < c->n_media; i++)
        free(c->media[i].bytes);
    free(c->media);
}

int wp_sim__media_pick(const wp_sim_company *c, const char *kind, const char *what,
                       wp_sim_rng *r)
{
    int found[16], n = 0;
    for (size_t i = 0; i < c->n_media && n < 16; i++)
        if (!strcmp(c->media[i].kind, kind) && (!what || !strcmp(c->media[i].what, what)))
            found[n++] = (int)i;
    return n ? found[wp_sim_rng_below(r, (uint32_t)n)] : -1;
}
