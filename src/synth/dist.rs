//! Sampling helpers for the synthetic generator: one seeded PCG stream per child (or per other unit),
//! weighted picks, banded durations and a few textbook distributions (no `rand_distr` needed).
//!
//! Everything here is deterministic given the seed: `Pcg64Mcg` gives the same sequence on every
//! platform, and the floating-point work (`ln`, `sqrt`, `cos`, `exp`) is only used to shape
//! distributions whose results are then rounded to whole days.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// The generator's random number generator.
pub type SynthRng = Pcg64Mcg;

/// SplitMix64 finaliser: a fast, bijective 64-bit mixer used to derive independent seeds.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An independent stream for unit `key` of the run seeded with `seed`.
pub fn rng_for(seed: u64, key: u64) -> SynthRng {
    SynthRng::seed_from_u64(splitmix64(seed ^ splitmix64(key.wrapping_add(0x5EED))))
}

/// True with probability `p`.
pub fn chance(rng: &mut SynthRng, p: f64) -> bool {
    rng.gen::<f64>() < p
}

/// A uniform integer in `lo..=hi` (returns `lo` when `hi < lo`).
pub fn between(rng: &mut SynthRng, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        lo
    } else {
        rng.gen_range(lo..=hi)
    }
}

/// A weighted pick; weights need not sum to one. Falls back to the last item.
pub fn pick<T: Copy>(rng: &mut SynthRng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| *w).sum();
    let mut x = rng.gen::<f64>() * total;
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= *w;
    }
    items[items.len() - 1].0
}

/// A value from a banded distribution: pick a band `(lo, hi, weight)` by weight, then a uniform
/// integer inside it. Used to reproduce published band counts (DfE C2, C4, D7).
pub fn banded(rng: &mut SynthRng, bands: &[(i64, i64, f64)]) -> i64 {
    let total: f64 = bands.iter().map(|b| b.2).sum();
    let mut x = rng.gen::<f64>() * total;
    for &(lo, hi, w) in bands {
        if x < w {
            return between(rng, lo, hi);
        }
        x -= w;
    }
    let last = bands[bands.len() - 1];
    between(rng, last.0, last.1)
}

/// A standard normal deviate (Box-Muller).
pub fn normal(rng: &mut SynthRng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(1e-12);
    let u2: f64 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A log-normal value with the given median and log-scale spread, clamped to `[lo, hi]`, rounded.
pub fn lognormal_days(rng: &mut SynthRng, median: f64, sigma: f64, lo: i64, hi: i64) -> i64 {
    let v = median * (sigma * normal(rng)).exp();
    (v.round() as i64).clamp(lo, hi)
}

/// A Poisson count (Knuth's method; fine for the small means used here), capped at `cap`.
pub fn poisson(rng: &mut SynthRng, lambda: f64, cap: u32) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let l = (-lambda).exp();
    let mut k = 0u32;
    let mut p = 1.0;
    loop {
        p *= rng.gen::<f64>();
        if p <= l || k >= cap {
            return k;
        }
        k += 1;
    }
}
