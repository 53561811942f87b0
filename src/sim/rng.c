/* SPDX-License-Identifier: MIT */
/* The simulator's PRNG: xoshiro256** (Blackman and Vigna), seeded through splitmix64. */
#include "sim/sim.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

void wp_sim_rng_seed(wp_sim_rng *r, uint64_t seed, uint64_t stream)
{
    /* mix the stream in through its own splitmix step so nearby streams share no state */
    uint64_t x = seed, y = stream ^ 0x5851f42d4c957f2du;
    x ^= splitmix64(&y);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t wp_sim_rng_next(wp_sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint32_t wp_sim_rng_below(wp_sim_rng *r, uint32_t n)
{
    /* Lemire's multiply-shift with rejection: unbiased, one multiply most of the time */
    uint64_t m = (wp_sim_rng_next(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t floor = (uint32_t)-n % n;
        while (low < floor) {
            m = (wp_sim_rng_next(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

int wp_sim_rng_range(wp_sim_rng *r, int lo, int hi)
{
    return lo + (int)wp_sim_rng_below(r, (uint32_t)(hi - lo) + 1);
}

double wp_sim_rng_unit(wp_sim_rng *r)
{
    return (double)(wp_sim_rng_next(r) >> 11) * 0x1.0p-53;
}

int wp_sim_rng_permille(wp_sim_rng *r, unsigned p)
{
    return wp_sim_rng_below(r, 1000) < p;
}
