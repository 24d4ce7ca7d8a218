//! Random streams: one independent, portable stream per (seed, user, purpose),
//! so every value depends on the master seed and the user alone — never on
//! thread count, chunk size or the order users are processed in.

use rand::RngCore;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Purposes of a user's streams. Each has its own stream so that changing one
/// part of a preset (say, the consent rate) leaves the other columns intact.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Stream {
    /// Latent traits, profile and the 30-day attributes.
    Attributes = 0,
    /// The consent draw.
    Consent = 1,
    /// The realized outcome path (gives `nsf`).
    Realized = 2,
    /// Replay k of the outcome window for `nsf_prob` (k = 0..prob_paths).
    Replay = 3,
    /// The daily transfer stream (`crate::stream`): index = day number, or
    /// `u32::MAX` for the allocation of the snapshot's 30-day window.
    Daily = 4,
    /// Bootstrap resamples of evaluation statistics (the "user" is the
    /// resample index): never shared with the simulation's streams.
    Bootstrap = 5,
    /// The objective-perturbation noise of a differentially private fit
    /// (`models::dp_logistic`; the "user" is 0, the key the fit seed).
    DpNoise = 6,
}

/// SplitMix64 finalizer: a bijective 64-bit mixer.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator type of every stream.
pub type StreamRng = Xoshiro256PlusPlus;

/// The named generator for a user's stream: xoshiro256++ (rand_xoshiro),
/// its state filled by SplitMix64 from a key mixed out of (seed, user_id,
/// purpose, index).
#[inline]
pub fn user_stream(seed: u64, user_id: u64, stream: Stream, index: u64) -> StreamRng {
    Xoshiro256PlusPlus::seed_from_u64(stream_key(seed, user_id, stream, index))
}

/// The SplitMix64 seed of a user's stream (see `user_stream`).
#[inline]
pub fn stream_key(seed: u64, user_id: u64, stream: Stream, index: u64) -> u64 {
    mix64(seed ^ mix64(user_id ^ mix64(((stream as u64) << 32) | index)))
}

/// A uniform in [0, 1) with 53 bits.
#[inline]
pub fn uniform<R: RngCore>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Logistic function.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Poisson draw by inversion (exact) for mean < 40, normal approximation with
/// continuity correction above (documented in the README).
#[inline]
pub fn poisson<R: RngCore>(rng: &mut R, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean < 40.0 {
        let u = uniform(rng);
        let mut p = (-mean).exp();
        let mut cdf = p;
        let mut k = 0u32;
        while u > cdf && k < 1000 {
            k += 1;
            p *= mean / k as f64;
            cdf += p;
        }
        k
    } else {
        let z: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
        (mean + z * mean.sqrt() + 0.5).max(0.0) as u32
    }
}

/// Binomial(n, p) draw: inversion for n*p < 30, normal approximation above,
/// clamped to [0, n].
#[inline]
pub fn binomial<R: RngCore>(rng: &mut R, n: u32, p: f64) -> u32 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    if p >= 1.0 {
        return n;
    }
    let mean = n as f64 * p;
    if mean < 30.0 {
        let u = uniform(rng);
        let q = 1.0 - p;
        let ratio = p / q;
        let mut pk = q.powi(n as i32);
        let mut cdf = pk;
        let mut k = 0u32;
        while u > cdf && k < n {
            pk *= ratio * (n - k) as f64 / (k + 1) as f64;
            k += 1;
            cdf += pk;
        }
        k
    } else {
        let z: f64 = rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng);
        let sd = (mean * (1.0 - p)).sqrt();
        ((mean + z * sd + 0.5).max(0.0) as u32).min(n)
    }
}

/// A standard normal draw (ziggurat, rand_distr).
#[inline]
pub fn normal<R: RngCore>(rng: &mut R) -> f64 {
    rand_distr::Distribution::sample(&rand_distr::StandardNormal, rng)
}

/// `n` of `rows` chosen by a key drawn per user (`user_stream(seed,
/// user_id, Stream::Replay, index)`), so the choice depends neither on the
/// row order nor on the thread count; all of `rows` when it has at most
/// `n`. In row order. Linear time: the `n` smallest keys are selected, not
/// sorted.
pub fn keyed_subsample(
    user_id: &[u64],
    rows: &[usize],
    n: usize,
    seed: u64,
    index: u64,
) -> Vec<usize> {
    if rows.len() <= n {
        return rows.to_vec();
    }
    if n == 0 {
        return Vec::new();
    }
    let mut keyed: Vec<(u64, usize)> = rows
        .iter()
        .map(|&i| {
            let mut rng = user_stream(seed, user_id[i], Stream::Replay, index);
            (rand::RngCore::next_u64(&mut rng), i)
        })
        .collect();
    keyed.select_nth_unstable(n - 1);
    let mut out: Vec<usize> = keyed[..n].iter().map(|&(_, i)| i).collect();
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The linear-time selection picks exactly the users a full sort of the
    /// keys would (what the size-matched arms did before they shared it),
    /// so arm membership and model IDs do not change.
    #[test]
    fn keyed_subsample_equals_sorting_every_key() {
        let ids: Vec<u64> = (0..20_000u64).map(|i| i * 7_919 + 3).collect();
        let rows: Vec<usize> = (0..20_000).filter(|i| i % 5 != 0).collect();
        for n in [0, 1, 999, 15_999, 16_000, 30_000] {
            let mut keyed: Vec<(u64, usize)> = rows
                .iter()
                .map(|&i| (user_stream(42, ids[i], Stream::Replay, 7).next_u64(), i))
                .collect();
            keyed.sort_unstable();
            let mut want: Vec<usize> = keyed.into_iter().take(n).map(|(_, i)| i).collect();
            want.sort_unstable();
            assert_eq!(keyed_subsample(&ids, &rows, n, 42, 7), want, "n = {n}");
        }
    }

    #[test]
    fn streams_are_distinct_and_reproducible() {
        let a = user_stream(1, 7, Stream::Attributes, 0).next_u64();
        assert_eq!(a, user_stream(1, 7, Stream::Attributes, 0).next_u64());
        assert_ne!(a, user_stream(1, 8, Stream::Attributes, 0).next_u64());
        assert_ne!(a, user_stream(2, 7, Stream::Attributes, 0).next_u64());
        assert_ne!(a, user_stream(1, 7, Stream::Consent, 0).next_u64());
        assert_ne!(
            user_stream(1, 7, Stream::Replay, 0).next_u64(),
            user_stream(1, 7, Stream::Replay, 1).next_u64()
        );
    }

    #[test]
    fn poisson_and_binomial_moments() {
        let mut rng = user_stream(3, 0, Stream::Attributes, 0);
        for &m in &[0.3, 4.0, 25.0, 90.0] {
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| poisson(&mut rng, m) as f64).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            assert!(
                (mean - m).abs() < 0.02 * m + 0.01,
                "poisson mean {mean} vs {m}"
            );
            assert!(
                (var - m).abs() < 0.05 * m + 0.02,
                "poisson var {var} vs {m}"
            );
        }
        for &(k, p) in &[(10u32, 0.2333), (200, 0.2333)] {
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| binomial(&mut rng, k, p) as f64).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let want = k as f64 * p;
            assert!(
                (mean - want).abs() < 0.02 * want,
                "binomial mean {mean} vs {want}"
            );
            assert!(xs.iter().all(|&x| x <= k as f64));
        }
    }
}
