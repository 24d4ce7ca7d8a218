//! The AVX2 and AVX-512 replay kernels (`sim::lanes`) against the portable path: the same
//! `nsf_prob` bits for every user, every `prob_paths` (whole, partial and
//! several kernel calls), and streams seeded exactly as `rand_xoshiro` seeds
//! them.

use nsfsim::sim::lanes;
use nsfsim::sim::outcome::{ReplayKernel, nsf_probability_scalar, nsf_probability_using};
use nsfsim::sim::population::{calibrate, draw_pre_window};
use nsfsim::sim::preset::load;
use nsfsim::sim::rng::{Stream, stream_key, user_stream};
use rand::RngCore;

/// xoshiro256++ step on one lane of a `seed_states` table.
fn next_scalar(s: &mut [u64; 4]) -> u64 {
    let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
    let t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3].rotate_left(45);
    result
}

#[test]
#[allow(clippy::needless_range_loop)] // k indexes the stream and a column of the table
fn lane_streams_are_rand_xoshiro_streams() {
    let keys: [u64; lanes::STREAMS] =
        std::array::from_fn(|k| stream_key(20190627, 12_345, Stream::Replay, k as u64));
    let table = lanes::seed_states(&keys);
    for k in 0..lanes::STREAMS {
        let mut mine = [table[0][k], table[1][k], table[2][k], table[3][k]];
        let mut theirs = user_stream(20190627, 12_345, Stream::Replay, k as u64);
        for _ in 0..20 {
            assert_eq!(next_scalar(&mut mine), theirs.next_u64());
        }
    }
}

#[test]
fn simd_replays_equal_the_portable_path_bit_for_bit() {
    let kernels: Vec<ReplayKernel> = [ReplayKernel::Avx2, ReplayKernel::Avx512]
        .into_iter()
        .filter(|k| k.runs_here())
        .collect();
    eprintln!("kernels checked against the portable path: {kernels:?}");
    for paths in [1u32, 4, 15, 16, 17, 40] {
        let mut q = load("small", &[format!("outcome.prob_paths={paths}")]).unwrap();
        q.users = 3_000;
        let q = q.check().unwrap();
        let cal = calibrate(&q, q.seed);
        let mut positive = 0;
        for u in 0..q.users {
            let (_, state) = draw_pre_window(&q, &cal, q.seed, u);
            let want = nsf_probability_scalar(&q, &state, q.seed, u);
            for &k in &kernels {
                let got = nsf_probability_using(k, &q, &state, q.seed, u);
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{k:?}, user {u}, prob_paths {paths}"
                );
            }
            positive += (want > 0.0) as u32;
        }
        assert!(positive > 100, "the replays must see failures: {positive}");
    }
}
