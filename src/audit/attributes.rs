//! The court's question, "is the score the same information as the source
//! data?": how well each of the 24 attributes can be inferred from the
//! score (alone, and with public quasi-identifiers), in R², AUC and bits
//! (cross-fitted cell means, Miller–Madow mutual information), and how
//! many people the score singles out.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::audit::{AuditParams, Est, hash_sample};
use crate::data::features::age_band;
use crate::error::Result;
use crate::models::train::LoadedData;
use crate::sim::rng::mix64;
use crate::sim::schema::{ATTRIBUTES, REGIONS, Role};
use crate::stats::interval::ci95;
use crate::stats::metrics;

/// How well one attribute can be inferred.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct AttributeRow {
    /// Attribute name.
    pub attribute: String,
    /// `identifier`, `numeric`, `binary` or `categorical`.
    pub kind: String,
    /// Scale the R² is computed on (`log1p`, `raw`, ...).
    pub scale: String,
    /// R² (held-out half) predicting it from the score alone.
    pub r2_score: Est,
    /// The same R² on the raw scale (KRW, counts) for attributes scored on
    /// log1p: much of the log1p R² is the zero/non-zero split.
    #[serde(default)]
    pub r2_score_raw: Option<Est>,
    /// R² from the quasi-identifiers (age band, region) alone.
    pub r2_quasi: Est,
    /// R² from the score and the quasi-identifiers.
    pub r2_score_quasi: Est,
    /// AUC from the score alone (binary attributes; 0.5 = no information).
    pub auc_score: Option<Est>,
    /// Mutual information between score and attribute (bits, bias-corrected).
    pub mi_bits: f64,
    /// Entropy of the attribute as binned (bits): the information there is.
    pub entropy_bits: f64,
}

/// How many people a key singles out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Uniqueness {
    /// The key (`score`, `age band + region`, ...).
    pub key: String,
    /// Distinct values of the key.
    pub groups: u64,
    /// Users alone in their group.
    pub unique_users: u64,
    /// Their share.
    pub unique_share: f64,
    /// Size of a typical user's group (median over users).
    pub median_group_size: u64,
}

/// The value of every attribute per row, on the scale R² is computed on.
struct AttributeValues {
    name: String,
    kind: &'static str,
    scale: &'static str,
    /// Value per row (category index for `region`).
    values: Vec<f64>,
}

/// One design column's values on `rows`.
fn design_column(data: &LoadedData, name: &str, rows: &[usize]) -> Option<Vec<f64>> {
    let d = &data.design;
    let j = d.names.iter().position(|n| n == name)?;
    let c = d.x.column(j);
    Some(rows.iter().map(|&i| c[i] as f64).collect())
}

/// Region index (0 = the reference region) on `rows`, as values.
fn region_index(data: &LoadedData, rows: &[usize]) -> Vec<f64> {
    let r = data
        .design
        .region_index(rows)
        .expect("region is a full feature");
    r.into_iter().map(|k| k as f64).collect()
}

/// Every attribute's values on `rows` (identifiers from `ids`, already on
/// those rows).
fn attribute_values(
    data: &LoadedData,
    ids: &HashMap<&str, Vec<f64>>,
    rows: &[usize],
) -> Vec<AttributeValues> {
    let col = |name: &str| design_column(data, name, rows);
    let mut out = Vec::new();
    for a in ATTRIBUTES.iter() {
        let name = a.name;
        let (kind, scale, values) = if a.role == Role::Identifier {
            ("identifier", "value", ids[name].clone())
        } else if name == "region" {
            ("categorical", "one-hot", region_index(data, rows))
        } else if name == "device_os" {
            (
                "binary",
                "ios = 1",
                col("device_os=ios").unwrap_or_default(),
            )
        } else if name == "auto_topup" {
            ("binary", "on = 1", col("auto_topup").unwrap_or_default())
        } else if let Some(v) = col(name) {
            ("numeric", "raw", v)
        } else {
            (
                "numeric",
                "log1p",
                col(&format!("log1p({name})")).unwrap_or_default(),
            )
        };
        out.push(AttributeValues {
            name: name.into(),
            kind,
            scale,
            values,
        });
    }
    out
}

/// Age band (`features::age_band`, as in `compare`'s subgroups) × region
/// index: the public quasi-identifiers.
fn quasi_key(age: f64, region: f64) -> u32 {
    age_band(age as u32) as u32 * 32 + region as u32
}

/// Smallest cell whose mean is used as a prediction.
const MIN_CELL: u64 = 20;

/// Predictions, for the rows of half B, of `v` by the half-A mean of its
/// cell (`key`, a small dense integer), falling back to `fallback`'s cell and
/// then the half-A mean when a cell has fewer than `MIN_CELL` half-A users.
fn cross_fit(
    v: &[f64],
    key: &[u32],
    fallback: Option<&[u32]>,
    half_a: &[bool],
    rows_b: &[usize],
) -> Vec<f64> {
    let cells_of = |k: &[u32]| {
        let mut c = vec![(0.0f64, 0u64); k.iter().max().map_or(0, |&m| m as usize + 1)];
        for i in (0..v.len()).filter(|&i| half_a[i]) {
            c[k[i] as usize].0 += v[i];
            c[k[i] as usize].1 += 1;
        }
        c
    };
    let cells = cells_of(key);
    let fb = fallback.map(cells_of);
    let (sum, n) = (0..v.len())
        .filter(|&i| half_a[i])
        .fold((0.0, 0u64), |(s, n), i| (s + v[i], n + 1));
    let grand = sum / n.max(1) as f64;
    rows_b
        .iter()
        .map(|&i| match cells[key[i] as usize] {
            (s, c) if c >= MIN_CELL => s / c as f64,
            _ => match (&fb, fallback) {
                (Some(fb), Some(f)) if fb[f[i] as usize].1 >= MIN_CELL => {
                    fb[f[i] as usize].0 / fb[f[i] as usize].1 as f64
                }
                _ => grand,
            },
        })
        .collect()
}

/// Bins of an attribute for mutual information: categories as they are,
/// numeric values in up to 10 quantile bins.
fn bins(a: &AttributeValues) -> Vec<u32> {
    if a.kind == "categorical" || a.kind == "binary" {
        return a.values.iter().map(|&v| v as u32).collect();
    }
    let mut s: Vec<f64> = a.values.iter().step_by(17).copied().collect();
    s.sort_by(f64::total_cmp);
    let mut cuts: Vec<f64> = (1..10).map(|k| s[k * (s.len() - 1) / 10]).collect();
    cuts.dedup();
    a.values
        .iter()
        .map(|&v| cuts.partition_point(|&c| c < v) as u32)
        .collect()
}

/// Plug-in mutual information (bits) with the Miller–Madow correction, and
/// the entropy of `b` (both small dense integers).
fn mutual_information(a: &[u32], b: &[u32]) -> (f64, f64) {
    let n = a.len() as f64;
    let (na, nb) = (
        *a.iter().max().unwrap_or(&0) as usize + 1,
        *b.iter().max().unwrap_or(&0) as usize + 1,
    );
    let mut joint = vec![0u64; na * nb];
    for (&x, &y) in a.iter().zip(b) {
        joint[x as usize * nb + y as usize] += 1;
    }
    let ma: Vec<u64> = (0..na)
        .map(|x| joint[x * nb..(x + 1) * nb].iter().sum())
        .collect();
    let mb: Vec<u64> = (0..nb)
        .map(|y| (0..na).map(|x| joint[x * nb + y]).sum())
        .collect();
    let h = |m: &[u64]| -> f64 {
        m.iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.log2()
            })
            .sum()
    };
    let used = |m: &[u64]| m.iter().filter(|&&c| c > 0).count();
    let (ha, hb, hab) = (h(&ma), h(&mb), h(&joint));
    let bias = ((used(&ma).max(1) - 1) * (used(&mb).max(1) - 1)) as f64
        / (2.0 * n * std::f64::consts::LN_2);
    ((ha + hb - hab - bias).max(0.0), hb)
}

fn uniqueness(key_name: &str, keys: &[u32]) -> Uniqueness {
    let mut counts = vec![0u64; keys.iter().max().map_or(0, |&m| m as usize + 1)];
    for &k in keys {
        counts[k as usize] += 1;
    }
    let unique = counts.iter().filter(|&&c| c == 1).count() as u64;
    // Median over users of their group size.
    let mut sizes: Vec<u64> = counts.iter().copied().filter(|&c| c > 0).collect();
    sizes.sort_unstable();
    let half = keys.len() as u64 / 2;
    let mut acc = 0;
    let mut median = 0;
    for size in &sizes {
        acc += size;
        if acc > half {
            median = *size;
            break;
        }
    }
    Uniqueness {
        key: key_name.into(),
        groups: sizes.len() as u64,
        unique_users: unique,
        unique_share: unique as f64 / keys.len() as f64,
        median_group_size: median,
    }
}

fn identifier_values(
    dir: &Path,
    data: &LoadedData,
    rows: &[usize],
) -> Result<HashMap<&'static str, Vec<f64>>> {
    let names = ["account_id", "customer_no", "phone_sha256", "email_sha256"];
    let Some(manifest) = &data.manifest else {
        return Err(crate::error::NsfError::Input {
            path: dir.to_path_buf(),
            message: "identifier columns need a generated data set (with its manifest)".into(),
        });
    };
    let path = dir.join(&manifest.files[0].name);
    // Only the sampled rows are kept, row group by row group (not 40 M
    // values and digests of every identifier).
    // The file is checked against the manifest's SHA-256 as it is read.
    let values = crate::data::columns::identifier_values(&path, &manifest.files[0], &names, rows)?;
    Ok(names.into_iter().zip(values).collect())
}

/// Singling out, on every user: how many people the score, the public
/// quasi-identifiers and both together single out. Also returns every
/// user's quasi-identifier key (age band × region).
pub(crate) fn singling_out(data: &LoadedData, score: &[u8]) -> (Vec<Uniqueness>, Vec<u32>) {
    let every: Vec<usize> = (0..data.rows()).collect();
    let age_all = design_column(data, "age_years", &every).expect("age is a full feature");
    let region_all = region_index(data, &every);
    let device_all = design_column(data, "device_os=ios", &every).expect("device_os");
    let quasi_all: Vec<u32> = (0..data.rows())
        .map(|i| quasi_key(age_all[i], region_all[i]))
        .collect();
    let exact_q: Vec<u32> = (0..data.rows())
        .map(|i| (age_all[i] as u32 * 32 + region_all[i] as u32) * 2 + device_all[i] as u32)
        .collect();
    let key_with_score = |k: &[u32]| -> Vec<u32> {
        k.iter()
            .zip(score)
            .map(|(&k, &s)| k * 128 + s as u32)
            .collect()
    };
    let score_all: Vec<u32> = score.iter().map(|&s| s as u32).collect();
    let table = vec![
        uniqueness("score", &score_all),
        uniqueness("age band + region", &quasi_all),
        uniqueness("score + age band + region", &key_with_score(&quasi_all)),
        uniqueness("age + region + device", &exact_q),
        uniqueness("score + age + region + device", &key_with_score(&exact_q)),
    ];
    (table, quasi_all)
}

/// What every attribute's inference shares: the sample's keys, the two
/// halves (learn on A, score on B) and the bootstrap rows of half B.
struct Inference {
    by_score: Vec<u32>,
    quasi: Vec<u32>,
    by_both: Vec<u32>,
    half_a: Vec<bool>,
    rows_b: Vec<usize>,
    /// Bootstrap resamples of the first `m` half-B rows, as multiplicities
    /// (how often each row is drawn): sums over a resample become weighted
    /// sums in row order, with no gathers.
    boot_weights: Vec<Vec<u32>>,
    m: usize,
    /// sqrt(m / |half B|): scales the resampled interval to the full half.
    widen: f64,
}

impl Inference {
    /// A figure's interval from bootstrap values on the first `m` rows,
    /// widened or narrowed to the full half by sqrt(m / n).
    fn interval(&self, point: f64, sub_point: f64, v: Vec<f64>) -> Est {
        let [lo, hi] = ci95(v);
        Est {
            value: point,
            ci95: [
                point - (sub_point - lo) * self.widen,
                point + (hi - sub_point) * self.widen,
            ],
        }
    }

    /// The total sums of squares of `truths` (columns on half B).
    fn sst(&self, truths: &[Vec<f64>]) -> Sst {
        let ones = vec![1u32; self.rows_b.len()];
        Sst {
            point: sst_weighted(truths, &ones),
            sub: sst_weighted(truths, &ones[..self.m]),
            boot: self
                .boot_weights
                .iter()
                .map(|w| sst_weighted(truths, w))
                .collect(),
        }
    }

    /// R² = 1 − ΣSSE / ΣSST of `pred` (per column, on half B) against
    /// `truths`, whose sums of squares are `sst`, with its interval; 0 when
    /// the truths do not vary.
    fn r2(&self, pred: &[Vec<f64>], truths: &[Vec<f64>], sst: &Sst) -> Est {
        // Each row's squared error summed over the columns, once.
        let e: Vec<f64> = (0..self.rows_b.len())
            .map(|k| {
                pred.iter()
                    .zip(truths)
                    .map(|(p, t)| (t[k] - p[k]).powi(2))
                    .sum()
            })
            .collect();
        let r2 = |w: &[u32], sst: f64| {
            if sst <= 0.0 {
                0.0
            } else {
                1.0 - weighted_sum(w, &e, |v| v) / sst
            }
        };
        let ones = vec![1u32; self.rows_b.len()];
        let v: Vec<f64> = self
            .boot_weights
            .iter()
            .zip(&sst.boot)
            .map(|(w, &s)| r2(w, s))
            .collect();
        self.interval(r2(&ones, sst.point), r2(&ones[..self.m], sst.sub), v)
    }

    /// AUC of the score's prediction `ps` for a binary attribute.
    fn auc(&self, ps: &[f64], truth: &[f64]) -> Est {
        let y: Vec<bool> = truth.iter().map(|&t| t > 0.5).collect();
        let m = self.m;
        let ranking = metrics::rank_rows(&ps[..m]);
        let v: Vec<f64> = self
            .boot_weights
            .iter()
            .map(|w| metrics::auc_weighted(&ranking, &y[..m], w))
            .collect();
        self.interval(metrics::auc(ps, &y), metrics::auc(&ps[..m], &y[..m]), v)
    }

    /// One attribute's row of the table.
    fn attribute_row(&self, a: &AttributeValues) -> AttributeRow {
        // A categorical attribute is R²-scored as its one-hot indicators
        // (the multi-class Brier skill score); others as one column.
        let columns: Vec<Vec<f64>> = if a.kind == "categorical" {
            (0..REGIONS.len())
                .map(|k| {
                    a.values
                        .iter()
                        .map(|&v| (v as usize == k) as u8 as f64)
                        .collect()
                })
                .collect()
        } else {
            vec![a.values.clone()]
        };
        let truths: Vec<Vec<f64>> = columns
            .iter()
            .map(|c| self.rows_b.iter().map(|&i| c[i]).collect())
            .collect();
        let preds = |key: &[u32], fb: Option<&[u32]>| -> Vec<Vec<f64>> {
            columns
                .iter()
                .map(|c| cross_fit(c, key, fb, &self.half_a, &self.rows_b))
                .collect()
        };
        let ps_all = preds(&self.by_score, None);
        let pq = preds(&self.quasi, None);
        let pb = preds(&self.by_both, Some(&self.by_score));
        let auc_score = (a.kind == "binary").then(|| self.auc(&ps_all[0], &truths[0]));
        let r2_score_raw = (a.scale == "log1p").then(|| {
            let raw: Vec<f64> = a.values.iter().map(|v| v.exp_m1()).collect();
            let truth: Vec<f64> = self.rows_b.iter().map(|&i| raw[i]).collect();
            let pred = cross_fit(&raw, &self.by_score, None, &self.half_a, &self.rows_b);
            let truth = [truth];
            self.r2(&[pred], &truth, &self.sst(&truth))
        });
        let sst = self.sst(&truths);
        let (mi_bits, entropy_bits) = mutual_information(&self.by_score, &bins(a));
        AttributeRow {
            attribute: a.name.clone(),
            kind: a.kind.into(),
            scale: a.scale.into(),
            r2_score: self.r2(&ps_all, &truths, &sst),
            r2_score_raw,
            r2_quasi: self.r2(&pq, &truths, &sst),
            r2_score_quasi: self.r2(&pb, &truths, &sst),
            auc_score,
            mi_bits,
            entropy_bits,
        }
    }
}

/// `Σₖ wₖ·f(vₖ)` over the rows of `w` in eight interleaved partial sums,
/// added in a fixed order: the same bits every time, and the adds need not
/// wait on each other (they vectorize).
fn weighted_sum(w: &[u32], v: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let (wc, vc) = (w.chunks_exact(8), v[..w.len()].chunks_exact(8));
    let (wr, vr) = (wc.remainder(), vc.remainder());
    for (w8, v8) in wc.zip(vc) {
        (0..8).for_each(|l| acc[l] += w8[l] as f64 * f(v8[l]));
    }
    for (l, (&w, &v)) in wr.iter().zip(vr).enumerate() {
        acc[l] += w as f64 * f(v);
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// Σ over the columns of `truths` of Σₖ wₖ (tₖ − t̄)², t̄ the weighted mean,
/// on the first `w.len()` rows (row `k` counted `w[k]` times).
fn sst_weighted(truths: &[Vec<f64>], w: &[u32]) -> f64 {
    let total = weighted_sum(w, &vec![1.0; w.len()], |v| v);
    truths
        .iter()
        .map(|t| {
            let mt = weighted_sum(w, t, |v| v) / total;
            weighted_sum(w, t, |v| (v - mt).powi(2))
        })
        .sum()
}

/// The total sum of squares of one attribute's truths on half B: on all
/// its rows, on the first `m`, and on each bootstrap resample. It is the
/// same for every predictor of the attribute, so it is computed once.
struct Sst {
    point: f64,
    sub: f64,
    boot: Vec<f64>,
}

/// The users attribute inference runs on: every user, or a seeded sample
/// of `attribute_users` (users are i.i.d.; memory stays bounded at 40 M).
fn attribute_sample(data: &LoadedData, params: &AuditParams) -> Vec<usize> {
    let every: Vec<usize> = (0..data.rows()).collect();
    if data.rows() <= params.attribute_users {
        return every;
    }
    let mut v = hash_sample(data, &every, params.seed ^ 0xA77, params.attribute_users);
    v.sort_unstable();
    v
}

/// Attribute inference from the score (`score`, `quasi_all` per user) on a
/// generated data set. Returns the sample size and one row per attribute.
pub(crate) fn attribute_inference(
    data_dir: &Path,
    data: &LoadedData,
    score: &[u8],
    quasi_all: Vec<u32>,
    params: &AuditParams,
) -> Result<(u64, Vec<AttributeRow>)> {
    let sample = attribute_sample(data, params);
    let idv = identifier_values(data_dir, data, &sample)?;
    let values = attribute_values(data, &idv, &sample);
    let quasi: Vec<u32> = sample.iter().map(|&i| quasi_all[i]).collect();
    drop(quasi_all);
    let rows = infer(data, &sample, &values, score, quasi, params);
    Ok((sample.len() as u64, rows))
}

/// Attribute inference on a table: every design column of the model (a
/// numeric value, a one-hot level or a missing-value indicator) from the
/// score. A table has no known public quasi-identifiers: their key is one
/// cell (r2_quasi is 0, r2_score_quasi equals r2_score), and singling out
/// counts the score's own groups only. Returns the uniqueness table, the
/// sample size and one row per column.
pub(crate) fn table_inference(
    data: &LoadedData,
    score: &[u8],
    params: &AuditParams,
) -> (Vec<Uniqueness>, u64, Vec<AttributeRow>) {
    let sample = attribute_sample(data, params);
    let values: Vec<AttributeValues> = data
        .design
        .names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let c = data.design.x.column(j);
            let v: Vec<f64> = sample.iter().map(|&i| c[i] as f64).collect();
            let binary = v.iter().all(|&x| x == 0.0 || x == 1.0);
            AttributeValues {
                name: name.clone(),
                kind: if binary { "binary" } else { "numeric" },
                scale: "column",
                values: v,
            }
        })
        .collect();
    let rows = infer(data, &sample, &values, score, vec![0; sample.len()], params);
    let score_all: Vec<u32> = score.iter().map(|&s| s as u32).collect();
    (
        vec![uniqueness("score", &score_all)],
        sample.len() as u64,
        rows,
    )
}

/// The inference shared by data sets and tables: `values` and `quasi` on
/// the `sample` rows, `score` on every row.
fn infer(
    data: &LoadedData,
    sample: &[usize],
    values: &[AttributeValues],
    score: &[u8],
    quasi: Vec<u32>,
    params: &AuditParams,
) -> Vec<AttributeRow> {
    let score: Vec<u8> = sample.iter().map(|&i| score[i]).collect();
    let by_score: Vec<u32> = score.iter().map(|&s| s as u32).collect();
    let by_both: Vec<u32> = (0..sample.len())
        .map(|i| quasi[i] * 128 + score[i] as u32)
        .collect();
    let half_a: Vec<bool> = sample
        .iter()
        .map(|&i| mix64(params.seed ^ 0x5EED ^ mix64(data.user_id[i])) & 1 == 0)
        .collect();
    let rows_b: Vec<usize> = (0..sample.len()).filter(|&i| !half_a[i]).collect();
    // Intervals: bootstrap on the first m half-B rows (users are i.i.d.),
    // widened or narrowed to the full half by sqrt(m / n).
    let m = rows_b.len().min(200_000);
    let widen = (m as f64 / rows_b.len().max(1) as f64).sqrt();
    let boot_weights: Vec<Vec<u32>> = (0..params.bootstrap.min(100) as u64)
        .into_par_iter()
        .map(|b| {
            let mut w = vec![0u32; m];
            for k in 0..m as u64 {
                w[(mix64(params.seed ^ mix64(b + 0xB00) ^ k) % m as u64) as usize] += 1;
            }
            w
        })
        .collect();
    let inf = Inference {
        by_score,
        quasi,
        by_both,
        half_a,
        rows_b,
        boot_weights,
        m,
        widen,
    };
    values.par_iter().map(|a| inf.attribute_row(a)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R² on a materialized resample, the way a reader would compute it.
    fn r2_on(pred: &[Vec<f64>], truths: &[Vec<f64>], ix: &[usize]) -> f64 {
        let (mut sse, mut sst) = (0.0, 0.0);
        for (p, t) in pred.iter().zip(truths) {
            let mt = ix.iter().map(|&k| t[k]).sum::<f64>() / ix.len() as f64;
            for &k in ix {
                sse += (t[k] - p[k]).powi(2);
                sst += (t[k] - mt).powi(2);
            }
        }
        1.0 - sse / sst
    }

    #[test]
    fn weighted_r2_equals_r2_on_the_materialized_resample() {
        let n = 5_003;
        let col = |salt: u64| -> Vec<f64> {
            (0..n as u64)
                .map(|k| (mix64(k ^ salt) % 1000) as f64 / 7.0)
                .collect()
        };
        let truths = vec![col(1), col(2), col(3)];
        let pred: Vec<Vec<f64>> = truths
            .iter()
            .zip([col(4), col(5), col(6)])
            .map(|(t, noise)| {
                t.iter()
                    .zip(&noise)
                    .map(|(a, b)| 0.7 * a + 0.3 * b)
                    .collect()
            })
            .collect();
        for b in 0..5u64 {
            let ix: Vec<usize> = (0..n as u64)
                .map(|k| (mix64(b << 32 ^ k) % n as u64) as usize)
                .collect();
            let mut w = vec![0u32; n];
            ix.iter().for_each(|&k| w[k] += 1);
            let e: Vec<f64> = (0..n)
                .map(|k| {
                    pred.iter()
                        .zip(&truths)
                        .map(|(p, t)| (t[k] - p[k]).powi(2))
                        .sum()
                })
                .collect();
            let weighted = 1.0 - weighted_sum(&w, &e, |v| v) / sst_weighted(&truths, &w);
            let direct = r2_on(&pred, &truths, &ix);
            assert!((weighted - direct).abs() < 1e-12, "{weighted} vs {direct}");
            assert!(direct > 0.1 && direct < 0.99, "a meaningful R²: {direct}");
        }
    }
}
