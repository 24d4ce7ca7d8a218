//! The credit-industry scorecard: each attribute is cut into bins whose NSF
//! rate is monotone (quantile pre-bins merged by pool-adjacent-violators;
//! categories kept as they are), each bin replaced by its weight of evidence
//! (WoE), a logistic regression fitted on the WoE values, and every bin given
//! the points it adds to the NSF log-odds. Total points → probability →
//! the 0–100 score.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::data::features::transform_names;
use crate::error::{NsfError, Result};
use crate::models::family::{Capabilities, Family, FitData, ScoreModel};
use crate::models::logistic::{self, LogisticParams};
use crate::sim::rng::sigmoid;
use crate::sim::schema::{ATTRIBUTES, Role};

/// Hyperparameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScorecardParams {
    /// Quantile pre-bins per numeric attribute.
    pub max_bins: usize,
    /// Smallest share of training users in a final bin.
    pub min_bin_share: f64,
    /// Points that double the odds of NSF.
    pub pdo: f64,
    /// L2 inverse strength of the logistic regression on WoE.
    pub c: f64,
    /// Attributes with a lower information value get no points (the usual
    /// IV screen: < 0.02 is "not predictive").
    pub min_iv: f64,
}

impl Default for ScorecardParams {
    fn default() -> Self {
        ScorecardParams {
            max_bins: 20,
            min_bin_share: 0.02,
            pdo: 20.0,
            c: 1.0,
            min_iv: 0.02,
        }
    }
}

/// One bin of one attribute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Bin {
    /// Human-readable condition (`balance_krw < 12,000`, `region = Busan`).
    pub label: String,
    /// Lower bound on the model column (inclusive; f64::MIN for the first
    /// bin and for categories).
    pub lower: f64,
    /// Training users in the bin.
    pub users: u64,
    /// Their NSF rate.
    pub nsf_rate: f64,
    /// Weight of evidence: ln(share of non-NSF / share of NSF).
    pub woe: f64,
    /// Points added to the total (higher = riskier).
    pub points: f64,
}

/// The bins of one attribute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AttributeBins {
    /// Attribute name.
    pub attribute: String,
    /// Numeric (ordered bins on one column) or categorical (one-hot columns).
    pub categorical: bool,
    /// First model column of the attribute.
    pub column: usize,
    /// Number of model columns.
    pub width: usize,
    /// Information value.
    pub iv: f64,
    /// Whether the attribute is in the card: it passed the IV screen and its
    /// coefficient runs with its WoE (else its points are 0).
    pub selected: bool,
    /// The bins, ascending for numeric attributes.
    pub bins: Vec<Bin>,
}

/// A fitted scorecard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scorecard {
    /// Per-attribute bins and points.
    pub attributes: Vec<AttributeBins>,
    /// Points every user starts with.
    pub base_points: f64,
    /// Points per unit of NSF log-odds (pdo / ln 2).
    pub factor: f64,
}

fn bin_index(a: &AttributeBins, row: ndarray::ArrayView1<f32>) -> usize {
    if a.categorical {
        if a.width == 1 {
            return (row[a.column] > 0.5) as usize;
        }
        // One-hot: category k+1 when column k is set, else the base (0).
        (0..a.width)
            .find(|&k| row[a.column + k] > 0.5)
            .map_or(0, |k| k + 1)
    } else {
        let v = row[a.column] as f64;
        a.bins.iter().rposition(|b| v >= b.lower).unwrap_or(0)
    }
}

fn woe(good: f64, bad: f64, goods: f64, bads: f64) -> f64 {
    ((good + 0.5) / (goods + 0.5)).ln() - ((bad + 0.5) / (bads + 0.5)).ln()
}

/// A bin before WoE: its lower bound, its users, and the (weighted) count of
/// non-NSF and NSF users in it (the counts themselves without weights).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tally {
    lower: f64,
    users: u64,
    good: f64,
    bad: f64,
}

impl Tally {
    fn mass(&self) -> f64 {
        self.good + self.bad
    }

    fn rate(&self) -> f64 {
        let m = self.mass();
        if m > 0.0 { self.bad / m } else { 0.0 }
    }

    fn add(&mut self, o: &Tally) {
        self.users += o.users;
        self.good += o.good;
        self.bad += o.bad;
    }
}

/// Merges adjacent bins until NSF rates are monotone in `increasing`
/// direction and every bin holds at least `min_mass` (weighted users).
fn monotone_merge(mut bins: Vec<Tally>, increasing: bool, min_mass: f64) -> Vec<Tally> {
    loop {
        let violation = (1..bins.len()).find(|&i| {
            let (a, b) = (bins[i - 1].rate(), bins[i].rate());
            (if increasing { b < a } else { b > a })
                || bins[i].mass() < min_mass
                || bins[i - 1].mass() < min_mass
        });
        match violation {
            Some(i) => {
                let right = bins.remove(i);
                bins[i - 1].add(&right);
            }
            None => return bins,
        }
    }
}

impl ScorecardParams {
    /// Validates the parameters.
    pub fn check(&self) -> Result<()> {
        let valid = self.max_bins >= 2
            && (0.0..0.5).contains(&self.min_bin_share)
            && self.pdo > 0.0
            && self.c.is_finite()
            && self.c > 0.0;
        if !valid {
            return Err(NsfError::param(
                "scorecard",
                "max_bins >= 2, min_bin_share in [0, 0.5), pdo > 0, c > 0",
            ));
        }
        Ok(())
    }
}

/// The training rows of a scorecard fit, with their weights (1 without).
struct Training<'a> {
    x: ArrayView2<'a, f32>,
    rows: &'a [usize],
    y: &'a [bool],
    w: Vec<f64>,
    /// No weights were given (every `w` is 1): bin sums are counts.
    unit: bool,
}

impl Training<'_> {
    /// (weighted non-NSF, weighted NSF) of training row `k`.
    fn split(&self, k: usize) -> (f64, f64) {
        if self.y[k] {
            (0.0, self.w[k])
        } else {
            (self.w[k], 0.0)
        }
    }
}

/// Whether the schema calls `attr` categorical (one-hot or flag columns).
fn is_categorical(attr: &str) -> bool {
    ATTRIBUTES
        .iter()
        .any(|c| c.name == attr && c.role == Role::Categorical)
}

/// One bin per category: the base category (no column set) first.
fn categorical_tallies(
    t: &Training,
    attr: &str,
    column: usize,
    width: usize,
) -> Vec<(Tally, String)> {
    let names = transform_names(attr);
    let stub = AttributeBins {
        attribute: attr.into(),
        categorical: true,
        column,
        width,
        iv: 0.0,
        selected: true,
        bins: vec![],
    };
    let zero = Tally {
        lower: f64::MIN,
        users: 0,
        good: 0.0,
        bad: 0.0,
    };
    let mut counts = vec![zero; width.max(1) + 1];
    for (k, &r) in t.rows.iter().enumerate() {
        let b = bin_index(&stub, t.x.row(r));
        let (good, bad) = t.split(k);
        counts[b].add(&Tally {
            users: 1,
            good,
            bad,
            ..zero
        });
    }
    counts
        .into_iter()
        .enumerate()
        .map(|(b, tally)| {
            let label = match (attr, b) {
                ("region", 0) => "region = Seoul".to_string(),
                ("region", k) => names[k - 1].replace('=', " = "),
                ("device_os", 0) => "device_os = android".to_string(),
                ("device_os", _) => "device_os = ios".to_string(),
                (a, 0) => format!("{a} = no"),
                (a, _) => format!("{a} = yes"),
            };
            (tally, label)
        })
        .collect()
}

/// Quantile pre-bins of a numeric column (cut at the values of ranks
/// `q·n / max_bins`), in ascending order; empty bins are skipped and the
/// next bin keeps the lower bound. The rows are sorted by value and each
/// bin's weights summed in that order.
fn sorted_pre_bins(t: &Training, column: usize, params: &ScorecardParams) -> Vec<Tally> {
    let n = t.rows.len();
    let mut vals: Vec<(f32, usize)> = t
        .rows
        .iter()
        .enumerate()
        .map(|(k, &r)| (t.x[[r, column]], k))
        .collect();
    vals.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut cuts: Vec<f32> = (1..params.max_bins)
        .map(|q| vals[q * n / params.max_bins].0)
        .collect();
    cuts.dedup();
    let mut pre: Vec<Tally> = Vec::new();
    let mut start = 0usize;
    let mut lower = f64::MIN;
    for c in cuts.iter().chain(std::iter::once(&f32::INFINITY)) {
        let end = vals.partition_point(|v| v.0 < *c);
        if end > start {
            let mut tally = Tally {
                lower,
                users: (end - start) as u64,
                good: 0.0,
                bad: 0.0,
            };
            for &(_, k) in &vals[start..end] {
                let (g, b) = t.split(k);
                tally.good += g;
                tally.bad += b;
            }
            pre.push(tally);
            lower = *c as f64;
            start = end;
        }
    }
    pre
}

/// [`sorted_pre_bins`] without weights, without sorting: the cut values are
/// selected (`select_nth`, the same order statistics), each row is counted
/// in its bin, and the counts are the sums of unit weights (exact in any
/// order), so the bins are the same. O(n) instead of a sort of n (value,
/// row) pairs per attribute: seconds per attribute at 32 M rows.
fn counted_pre_bins(t: &Training, column: usize, params: &ScorecardParams) -> Vec<Tally> {
    use rayon::prelude::*;
    let n = t.rows.len();
    let mut vals: Vec<f32> = t.rows.par_iter().map(|&r| t.x[[r, column]]).collect();
    let mut cuts: Vec<f32> = Vec::with_capacity(params.max_bins);
    let mut done = 0usize;
    for q in 1..params.max_bins {
        let rank = q * n / params.max_bins;
        let (_, v, _) = vals[done..].select_nth_unstable_by(rank - done, |a, b| a.total_cmp(b));
        cuts.push(*v);
        done = rank;
    }
    cuts.dedup();
    drop(vals);
    // Bin of a value: the number of cuts at or below it.
    let bins = cuts.len() + 1;
    let counts = t
        .rows
        .par_chunks(1 << 16)
        .enumerate()
        .map(|(c, rows)| {
            let mut cnt = vec![[0u64; 2]; bins];
            for (i, &r) in rows.iter().enumerate() {
                let b = cuts.partition_point(|&cut| cut <= t.x[[r, column]]);
                cnt[b][t.y[c * (1 << 16) + i] as usize] += 1;
            }
            cnt
        })
        .reduce(
            || vec![[0u64; 2]; bins],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| {
                    x[0] += y[0];
                    x[1] += y[1];
                });
                a
            },
        );
    let mut pre = Vec::new();
    let mut lower = f64::MIN;
    for (b, [good, bad]) in counts.into_iter().enumerate() {
        if good + bad > 0 {
            pre.push(Tally {
                lower,
                users: good + bad,
                good: good as f64,
                bad: bad as f64,
            });
            lower = cuts.get(b).map_or(f64::INFINITY, |&c| c as f64);
        }
    }
    pre
}

/// Quantile pre-bins of a numeric column merged until monotone and large
/// enough, labelled on the attribute's own scale.
fn numeric_tallies(
    t: &Training,
    attr: &str,
    column: usize,
    params: &ScorecardParams,
    min_mass: f64,
) -> Vec<(Tally, String)> {
    let pre = if t.unit {
        counted_pre_bins(t, column, params)
    } else {
        sorted_pre_bins(t, column, params)
    };
    let first = pre.first().map_or(0.0, Tally::rate);
    let last = pre.last().map_or(0.0, Tally::rate);
    let merged = monotone_merge(pre, last >= first, min_mass);
    let log_scale = transform_names(attr)[0].starts_with("log1p(");
    let raw = |v: f64| if log_scale { v.exp_m1() } else { v };
    merged
        .iter()
        .enumerate()
        .map(|(i, tally)| {
            let hi = merged.get(i + 1).map(|b| b.lower);
            let lo = tally.lower;
            let label = match (i, hi) {
                (0, Some(h)) => format!("{attr} < {:.0}", raw(h)),
                (_, Some(h)) => format!("{:.0} <= {attr} < {:.0}", raw(lo), raw(h)),
                (0, None) => format!("{attr}: all"),
                (_, None) => format!("{attr} >= {:.0}", raw(lo)),
            };
            (*tally, label)
        })
        .collect()
}

/// WoE of each bin and the attribute's information value.
fn woe_bins(tallies: Vec<(Tally, String)>, goods: f64, bads: f64) -> (Vec<Bin>, f64) {
    let mut iv = 0.0;
    let bins = tallies
        .into_iter()
        .map(|(t, label)| {
            let (good, bad) = (t.good, t.bad);
            let w = woe(good, bad, goods, bads);
            iv += ((good + 0.5) / (goods + 0.5) - (bad + 0.5) / (bads + 0.5)) * w;
            Bin {
                label,
                lower: t.lower,
                users: t.users,
                nsf_rate: t.rate(),
                woe: w,
                points: 0.0,
            }
        })
        .collect();
    (bins, iv)
}

/// The logistic regression on the WoE values of the selected attributes;
/// sets each bin's points and returns the base points (or the attributes
/// whose coefficient sign contradicts their WoE, points untouched).
fn fit_points(
    t: &Training,
    out: &mut [AttributeBins],
    weighted: bool,
    params: &ScorecardParams,
) -> Result<Fitted> {
    let chosen: Vec<usize> = (0..out.len()).filter(|&j| out[j].selected).collect();
    if chosen.is_empty() {
        return Err(NsfError::param(
            "scorecard",
            "no attribute passes the information-value screen (min_iv)",
        ));
    }
    let m = chosen.len();
    let mut w = Array2::<f32>::zeros((t.rows.len(), m));
    {
        use ndarray::parallel::prelude::*;
        use rayon::prelude::ParallelSlice;
        let out = &*out;
        w.axis_chunks_iter_mut(ndarray::Axis(0), 1 << 14)
            .into_par_iter()
            .zip(t.rows.par_chunks(1 << 14))
            .for_each(|(mut wb, rows)| {
                for (mut wr, &r) in wb.rows_mut().into_iter().zip(rows) {
                    let row = t.x.row(r);
                    for (j, &c) in chosen.iter().enumerate() {
                        let a = &out[c];
                        wr[j] = a.bins[bin_index(a, row)].woe as f32;
                    }
                }
            });
    }
    let lr = logistic::fit(
        w.view(),
        t.y,
        weighted.then_some(&t.w[..]),
        &LogisticParams {
            c: params.c,
            ..Default::default()
        },
    )?;
    // Unstandardized coefficients: log-odds = a + sum_j b_j * woe_j.
    let b: Vec<f64> = (0..m).map(|j| lr.coef[j] / lr.scale[j]).collect();
    let a = lr.intercept - (0..m).map(|j| b[j] * lr.mean[j]).sum::<f64>();
    // WoE is ln(good share / bad share): a bin with more WoE is safer, so
    // its NSF log-odds must fall (b_j < 0). An attribute whose coefficient
    // flips that sign (collinear with others) leaves the card; the caller
    // refits without it.
    let flipped: Vec<usize> = chosen
        .iter()
        .zip(&b)
        .filter(|&(_, &bj)| bj > 0.0)
        .map(|(&c, _)| c)
        .collect();
    if !flipped.is_empty() {
        return Ok(Fitted::Flipped(flipped));
    }
    let factor = params.pdo / std::f64::consts::LN_2;
    for (j, &c) in chosen.iter().enumerate() {
        for bin in &mut out[c].bins {
            bin.points = factor * b[j] * bin.woe;
        }
    }
    Ok(Fitted::Base(factor * a))
}

/// A points fit: the base points, or the attributes whose coefficient sign
/// contradicts their WoE.
enum Fitted {
    Base(f64),
    Flipped(Vec<usize>),
}

/// Fits the points, dropping attributes whose coefficient sign contradicts
/// their WoE until every coefficient runs with it (each round drops at
/// least one attribute, so at most as many rounds as attributes).
fn fit_signed_points(
    t: &Training,
    out: &mut [AttributeBins],
    weighted: bool,
    params: &ScorecardParams,
) -> Result<f64> {
    loop {
        match fit_points(t, out, weighted, params)? {
            Fitted::Base(a) => return Ok(a),
            Fitted::Flipped(cols) => {
                for c in cols {
                    out[c].selected = false;
                    out[c].bins.iter_mut().for_each(|b| b.points = 0.0);
                }
            }
        }
    }
}

/// Fits a scorecard on the rows `rows` of the design `x` (columns as
/// produced by `features::design_matrix` for `attributes`), with optional
/// sample weights per training row: bin NSF rates, WoE, the IV screen and
/// the minimum bin share use weighted counts (bin cut candidates are the
/// unweighted quantiles; `users` counts users).
pub fn fit<'a>(
    x: ArrayView2<'a, f32>,
    attributes: &[String],
    rows: &'a [usize],
    y: &'a [bool],
    weights: Option<&[f64]>,
    params: &ScorecardParams,
) -> Result<Scorecard> {
    let n = rows.len();
    if y.len() != n || weights.is_some_and(|w| w.len() != n) {
        return Err(NsfError::param(
            "data",
            "features, labels and weights differ in length",
        ));
    }
    let t = Training {
        x,
        rows,
        y,
        w: weights.map_or_else(|| vec![1.0; n], <[f64]>::to_vec),
        unit: weights.is_none(),
    };
    let (goods, bads) = (0..n).fold((0.0, 0.0), |(g, b), k| {
        let (dg, db) = t.split(k);
        (g + dg, b + db)
    });
    if bads == 0.0 || goods == 0.0 {
        return Err(NsfError::param(
            "data",
            "training needs both NSF and non-NSF users",
        ));
    }
    let min_mass = (params.min_bin_share * (goods + bads)).ceil();
    let mut columns = Vec::with_capacity(attributes.len());
    let mut column = 0;
    for attr in attributes {
        let width = transform_names(attr).len();
        columns.push((attr, column, width));
        column += width;
    }
    // Attributes are binned independently: in parallel, in order.
    use rayon::prelude::*;
    let mut out: Vec<AttributeBins> = columns
        .into_par_iter()
        .map(|(attr, column, width)| {
            let categorical = is_categorical(attr);
            let tallies = if categorical {
                categorical_tallies(&t, attr, column, width)
            } else {
                numeric_tallies(&t, attr, column, params, min_mass)
            };
            let (bins, iv) = woe_bins(tallies, goods, bads);
            AttributeBins {
                attribute: attr.clone(),
                categorical,
                column,
                width,
                iv,
                selected: iv >= params.min_iv,
                bins,
            }
        })
        .collect();
    let base_points = fit_signed_points(&t, &mut out, weights.is_some(), params)?;
    Ok(Scorecard {
        attributes: out,
        base_points,
        factor: params.pdo / std::f64::consts::LN_2,
    })
}

impl Scorecard {
    /// Total points of each row of `x`.
    pub fn points(&self, x: ArrayView2<f32>) -> Vec<f64> {
        use ndarray::parallel::prelude::*;
        use rayon::prelude::ParallelSliceMut;
        let mut out = vec![0.0; x.nrows()];
        // Rows are independent: blocks in parallel.
        out.par_chunks_mut(1 << 14)
            .zip(
                x.axis_chunks_iter(ndarray::Axis(0), 1 << 14)
                    .into_par_iter(),
            )
            .for_each(|(o, xb)| {
                for (t, row) in o.iter_mut().zip(xb.rows()) {
                    *t = self.base_points
                        + self
                            .attributes
                            .iter()
                            .map(|a| a.bins[bin_index(a, row)].points)
                            .sum::<f64>();
                }
            });
        out
    }

    /// P(nsf = 1) of each row: the logistic of total points / factor.
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Vec<f64> {
        self.points(x)
            .into_iter()
            .map(|t| sigmoid(t / self.factor))
            .collect()
    }

    /// The points table as Markdown.
    pub fn points_table(&self) -> String {
        let mut s = format!(
            "Base points {:.2}; {:.2} points double the odds of NSF; P(nsf) = 1 / (1 + exp(-total / {:.4})). Attributes below the IV screen, or whose coefficient would run against their WoE, score 0.\n\n| attribute | IV | bin | users | NSF rate | WoE | points |\n|---|---|---|---|---|---|---|\n",
            self.base_points,
            self.factor * std::f64::consts::LN_2,
            self.factor
        );
        for a in &self.attributes {
            for b in &a.bins {
                s.push_str(&format!(
                    "| {} | {:.3} | {} | {} | {:.4} | {:.3} | {:.2} |\n",
                    a.attribute, a.iv, b.label, b.users, b.nsf_rate, b.woe, b.points
                ));
            }
        }
        s
    }
}

impl ScoreModel for Scorecard {
    fn predict_proba(&self, x: ArrayView2<f32>) -> Result<Vec<f64>> {
        Ok(Scorecard::predict_proba(self, x))
    }

    fn describe(&self) -> Option<String> {
        Some(self.points_table())
    }
}

impl Family for ScorecardParams {
    type Model = Scorecard;
    const CAPABILITIES: Capabilities = Capabilities {
        warm_start: false,
        soft_labels: false,
    };

    fn check(&self) -> Result<()> {
        ScorecardParams::check(self)
    }

    fn fit(&self, d: &FitData, _init: Option<&Scorecard>) -> Result<Scorecard> {
        fit(d.x, d.attributes, d.rows, d.y, d.weights, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_makes_rates_monotone_and_bins_large_enough() {
        let tally = |lower: f64, users: u64, bad: u64| Tally {
            lower,
            users,
            good: (users - bad) as f64,
            bad: bad as f64,
        };
        let pre = vec![
            tally(0.0, 100, 10),
            tally(1.0, 100, 5),
            tally(2.0, 100, 20),
            tally(3.0, 10, 9),
            tally(4.0, 100, 30),
        ];
        let m = monotone_merge(pre, true, 50.0);
        let rates: Vec<f64> = m.iter().map(Tally::rate).collect();
        assert!(rates.windows(2).all(|w| w[0] <= w[1]), "{rates:?}");
        assert!(m.iter().all(|b| b.users >= 50));
        assert_eq!(m.iter().map(|b| b.users).sum::<u64>(), 410);
        assert_eq!(m.iter().map(|b| b.bad).sum::<f64>(), 74.0);
    }

    #[test]
    fn woe_sign_and_points_direction() {
        // Riskier bin: fewer goods per bad → negative WoE.
        assert!(woe(10.0, 10.0, 100.0, 10.0) < 0.0);
        assert!(woe(90.0, 0.0, 100.0, 10.0) > 0.0);
    }
}
