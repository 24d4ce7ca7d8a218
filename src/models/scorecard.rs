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
use crate::models::logistic::{self, LogisticParams};

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
    /// Whether the attribute passed the IV screen (else its points are 0).
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

/// Merges adjacent bins (counts of users and NSF) until NSF rates are
/// monotone in `increasing` direction and every bin holds at least `min_n`.
fn monotone_merge(
    mut bins: Vec<(f64, u64, u64)>,
    increasing: bool,
    min_n: u64,
) -> Vec<(f64, u64, u64)> {
    loop {
        let rate = |b: &(f64, u64, u64)| b.2 as f64 / b.1.max(1) as f64;
        let violation = (1..bins.len()).find(|&i| {
            let (a, b) = (rate(&bins[i - 1]), rate(&bins[i]));
            (if increasing { b < a } else { b > a }) || bins[i].1 < min_n || bins[i - 1].1 < min_n
        });
        match violation {
            Some(i) => {
                let right = bins.remove(i);
                bins[i - 1].1 += right.1;
                bins[i - 1].2 += right.2;
            }
            None => return bins,
        }
    }
}

/// Fits a scorecard on the rows `rows` of the design `x` (columns as
/// produced by `features::design_matrix` for `attributes`).
pub fn fit(
    x: ArrayView2<f32>,
    attributes: &[String],
    rows: &[usize],
    y: &[bool],
    params: &ScorecardParams,
) -> Result<Scorecard> {
    if params.max_bins < 2 || !(0.0..0.5).contains(&params.min_bin_share) || params.pdo <= 0.0 {
        return Err(NsfError::param(
            "scorecard",
            "max_bins >= 2, min_bin_share in [0, 0.5), pdo > 0",
        ));
    }
    let n = rows.len();
    let bads = y.iter().filter(|&&v| v).count() as f64;
    let goods = n as f64 - bads;
    if bads == 0.0 || goods == 0.0 {
        return Err(NsfError::param(
            "data",
            "training needs both NSF and non-NSF users",
        ));
    }
    let min_n = (params.min_bin_share * n as f64).ceil() as u64;
    let mut out = Vec::new();
    let mut column = 0;
    for attr in attributes {
        let width = transform_names(attr).len();
        let categorical = matches!(attr.as_str(), "region" | "device_os" | "auto_topup");
        let names = transform_names(attr);
        let mut bins: Vec<(f64, u64, u64, String)> = Vec::new();
        if categorical {
            let cats = width.max(1) + 1;
            let mut counts = vec![(0u64, 0u64); cats];
            let stub = AttributeBins {
                attribute: attr.clone(),
                categorical,
                column,
                width,
                iv: 0.0,
                selected: true,
                bins: vec![],
            };
            for (k, &r) in rows.iter().enumerate() {
                let b = bin_index(&stub, x.row(r));
                counts[b].0 += 1;
                counts[b].1 += y[k] as u64;
            }
            for (b, (nb, yb)) in counts.into_iter().enumerate() {
                let label = match (attr.as_str(), b) {
                    ("region", 0) => "region = Seoul".to_string(),
                    ("region", k) => names[k - 1].replace('=', " = "),
                    (a, 0) => format!("{a} = no"),
                    (a, _) => format!("{a} = yes"),
                };
                bins.push((f64::MIN, nb, yb, label));
            }
        } else {
            // Quantile pre-bins on the sorted training values.
            let mut vals: Vec<(f32, bool)> = rows
                .iter()
                .zip(y)
                .map(|(&r, &t)| (x[[r, column]], t))
                .collect();
            vals.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            let mut cuts: Vec<f32> = (1..params.max_bins)
                .map(|q| vals[q * n / params.max_bins].0)
                .collect();
            cuts.dedup();
            let mut pre: Vec<(f64, u64, u64)> = Vec::new();
            let mut start = 0usize;
            let mut lower = f64::MIN;
            for c in cuts.iter().chain(std::iter::once(&f32::INFINITY)) {
                let end = vals.partition_point(|v| v.0 < *c);
                if end > start {
                    let nb = (end - start) as u64;
                    let yb = vals[start..end].iter().filter(|v| v.1).count() as u64;
                    pre.push((lower, nb, yb));
                    lower = *c as f64;
                    start = end;
                }
            }
            let first = pre.first().map_or(0.0, |b| b.2 as f64 / b.1.max(1) as f64);
            let last = pre.last().map_or(0.0, |b| b.2 as f64 / b.1.max(1) as f64);
            let merged = monotone_merge(pre, last >= first, min_n);
            let raw = |v: f64| {
                if names[0].starts_with("log1p(") {
                    v.exp_m1()
                } else {
                    v
                }
            };
            for (i, (lo, nb, yb)) in merged.iter().enumerate() {
                let hi = merged.get(i + 1).map(|b| b.0);
                let label = match (i, hi) {
                    (0, Some(h)) => format!("{attr} < {:.0}", raw(h)),
                    (_, Some(h)) => format!("{:.0} <= {attr} < {:.0}", raw(*lo), raw(h)),
                    (0, None) => format!("{attr}: all"),
                    (_, None) => format!("{attr} >= {:.0}", raw(*lo)),
                };
                bins.push((*lo, *nb, *yb, label));
            }
        }
        let mut iv = 0.0;
        let bins: Vec<Bin> = bins
            .into_iter()
            .map(|(lower, nb, yb, label)| {
                let (good, bad) = ((nb - yb) as f64, yb as f64);
                let w = woe(good, bad, goods, bads);
                iv += ((good + 0.5) / (goods + 0.5) - (bad + 0.5) / (bads + 0.5)) * w;
                Bin {
                    label,
                    lower,
                    users: nb,
                    nsf_rate: bad / nb.max(1) as f64,
                    woe: w,
                    points: 0.0,
                }
            })
            .collect();
        out.push(AttributeBins {
            attribute: attr.clone(),
            categorical,
            column,
            width,
            iv,
            selected: iv >= params.min_iv,
            bins,
        });
        column += width;
    }
    // Logistic regression on the WoE values of the selected attributes.
    let chosen: Vec<usize> = (0..out.len()).filter(|&j| out[j].selected).collect();
    if chosen.is_empty() {
        return Err(NsfError::param(
            "scorecard",
            "no attribute passes the information-value screen (min_iv)",
        ));
    }
    let m = chosen.len();
    let mut w = Array2::<f32>::zeros((n, m));
    for (k, &r) in rows.iter().enumerate() {
        let row = x.row(r);
        for (j, &c) in chosen.iter().enumerate() {
            let a = &out[c];
            w[[k, j]] = a.bins[bin_index(a, row)].woe as f32;
        }
    }
    let lr = logistic::fit(
        w.view(),
        y,
        None,
        &LogisticParams {
            c: params.c,
            ..Default::default()
        },
    )?;
    // Unstandardized coefficients: log-odds = a + sum_j b_j * woe_j.
    let b: Vec<f64> = (0..m).map(|j| lr.coef[j] / lr.scale[j]).collect();
    let a = lr.intercept - (0..m).map(|j| b[j] * lr.mean[j]).sum::<f64>();
    let factor = params.pdo / std::f64::consts::LN_2;
    for (j, &c) in chosen.iter().enumerate() {
        for bin in &mut out[c].bins {
            bin.points = factor * b[j] * bin.woe;
        }
    }
    Ok(Scorecard {
        attributes: out,
        base_points: factor * a,
        factor,
    })
}

impl Scorecard {
    /// Total points of each row of `x`.
    pub fn points(&self, x: ArrayView2<f32>) -> Vec<f64> {
        x.rows()
            .into_iter()
            .map(|row| {
                self.base_points
                    + self
                        .attributes
                        .iter()
                        .map(|a| a.bins[bin_index(a, row)].points)
                        .sum::<f64>()
            })
            .collect()
    }

    /// P(nsf = 1) of each row: the logistic of total points / factor.
    pub fn predict_proba(&self, x: ArrayView2<f32>) -> Vec<f64> {
        self.points(x)
            .into_iter()
            .map(|t| 1.0 / (1.0 + (-t / self.factor).exp()))
            .collect()
    }

    /// The points table as Markdown.
    pub fn points_table(&self) -> String {
        let mut s = format!(
            "Base points {:.2}; {:.2} points double the odds of NSF; P(nsf) = 1 / (1 + exp(-total / {:.4})). Attributes below the IV screen score 0.\n\n| attribute | IV | bin | users | NSF rate | WoE | points |\n|---|---|---|---|---|---|---|\n",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_makes_rates_monotone_and_bins_large_enough() {
        let pre = vec![
            (0.0, 100, 10),
            (1.0, 100, 5),
            (2.0, 100, 20),
            (3.0, 10, 9),
            (4.0, 100, 30),
        ];
        let m = monotone_merge(pre, true, 50);
        let rates: Vec<f64> = m.iter().map(|b| b.2 as f64 / b.1 as f64).collect();
        assert!(rates.windows(2).all(|w| w[0] <= w[1]), "{rates:?}");
        assert!(m.iter().all(|b| b.1 >= 50));
        assert_eq!(m.iter().map(|b| b.1).sum::<u64>(), 410);
        assert_eq!(m.iter().map(|b| b.2).sum::<u64>(), 74);
    }

    #[test]
    fn woe_sign_and_points_direction() {
        // Riskier bin: fewer goods per bad → negative WoE.
        assert!(woe(10.0, 10.0, 100.0, 10.0) < 0.0);
        assert!(woe(90.0, 0.0, 100.0, 10.0) > 0.0);
    }
}
