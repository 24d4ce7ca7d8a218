//! Features: which attributes a model may use (identifiers never), and how
//! they become a numeric design matrix (log1p of amounts and counts, 0/1
//! flags, one-hot regions). Plain data in, plain data out.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt8Type, UInt32Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{NsfError, Result};
use crate::sim::schema::{ATTRIBUTES, REGIONS, Role};

/// The attributes a settlement needs: balance and top-up state, payments,
/// account age. No identifiers, no profile, no remittance or card history.
pub const MINIMAL: [&str; 11] = [
    "account_age_days",
    "balance_krw",
    "balance_avg_30d_krw",
    "balance_min_30d_krw",
    "topup_count_30d",
    "topup_amount_30d_krw",
    "auto_topup",
    "payment_count_30d",
    "payment_amount_30d_krw",
    "topup_count_7d",
    "payment_count_7d",
];

/// Which attributes a model uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureSet {
    /// Every non-identifier attribute (20).
    Full,
    /// `MINIMAL`.
    Minimal,
    /// An explicit list of attribute names.
    List(Vec<String>),
}

impl FeatureSet {
    /// Parses `full`, `minimal` or a comma-separated list of attributes.
    pub fn parse(s: &str) -> Result<FeatureSet> {
        let set = match s {
            "full" => FeatureSet::Full,
            "minimal" => FeatureSet::Minimal,
            list => FeatureSet::List(list.split(',').map(|x| x.trim().to_string()).collect()),
        };
        set.attributes()?;
        Ok(set)
    }

    /// The attribute names, in schema order, validated.
    pub fn attributes(&self) -> Result<Vec<String>> {
        let names: Vec<String> = match self {
            FeatureSet::Full => ATTRIBUTES
                .iter()
                .filter(|c| c.role != Role::Identifier)
                .map(|c| c.name.to_string())
                .collect(),
            FeatureSet::Minimal => MINIMAL.iter().map(|s| s.to_string()).collect(),
            FeatureSet::List(v) => {
                for n in v {
                    match ATTRIBUTES.iter().find(|c| c.name == n) {
                        None => {
                            return Err(NsfError::param(
                                "--features",
                                format!(
                                    "`{n}` is not one of the 24 attributes (see `nsfsim schema`)"
                                ),
                            ));
                        }
                        Some(c) if c.role == Role::Identifier => {
                            return Err(NsfError::param(
                                "--features",
                                format!("`{n}` is an identifier and never a feature"),
                            ));
                        }
                        Some(_) => {}
                    }
                }
                if v.is_empty() {
                    return Err(NsfError::param("--features", "the list is empty"));
                }
                ATTRIBUTES
                    .iter()
                    .filter(|c| v.iter().any(|n| n == c.name))
                    .map(|c| c.name.to_string())
                    .collect()
            }
        };
        Ok(names)
    }
}

/// A numeric design matrix: one row per user, one column per derived feature.
#[derive(Debug, Clone)]
pub struct Design {
    /// Rows × features (not standardized), f32 to halve memory at 40 M rows.
    pub x: Array2<f32>,
    /// Feature names (`log1p(balance_krw)`, `region=Busan`, ...).
    pub names: Vec<String>,
}

/// Age bands shared by `compare`'s subgroups and the audit's
/// quasi-identifiers.
pub const AGE_BANDS: [&str; 6] = ["<20", "20s", "30s", "40s", "50s", "60+"];

/// Index into `AGE_BANDS` of an age in years.
pub fn age_band(age: u32) -> usize {
    match age {
        0..=19 => 0,
        20..=59 => (age / 10 - 1) as usize,
        _ => 5,
    }
}

/// How one attribute becomes feature columns (their names, in order).
pub fn transform_names(attr: &str) -> Vec<String> {
    match attr {
        "region" => REGIONS[1..].iter().map(|r| format!("region={r}")).collect(),
        "device_os" => vec!["device_os=ios".into()],
        "auto_topup" | "age_years" | "account_age_days" => vec![attr.into()],
        _ => vec![format!("log1p({attr})")],
    }
}

fn column_f64(batch: &RecordBatch, name: &str) -> Result<Vec<f64>> {
    let col = batch.column_by_name(name).ok_or_else(|| NsfError::Input {
        path: Default::default(),
        message: format!("column `{name}` missing from the data"),
    })?;
    let v: Vec<f64> = match col.data_type() {
        DataType::Int64 => col
            .as_primitive::<Int64Type>()
            .values()
            .iter()
            .map(|&x| x as f64)
            .collect(),
        DataType::UInt32 => col
            .as_primitive::<UInt32Type>()
            .values()
            .iter()
            .map(|&x| x as f64)
            .collect(),
        DataType::UInt8 => col
            .as_primitive::<UInt8Type>()
            .values()
            .iter()
            .map(|&x| x as f64)
            .collect(),
        DataType::Float64 => col.as_primitive::<Float64Type>().values().to_vec(),
        DataType::Boolean => {
            let b = col.as_boolean();
            (0..b.len()).map(|i| b.value(i) as u8 as f64).collect()
        }
        other => {
            return Err(NsfError::Input {
                path: Default::default(),
                message: format!("column `{name}` has type {other}, not numeric"),
            });
        }
    };
    Ok(v)
}

/// Builds the design matrix of `attributes` from record batches; batches
/// fill disjoint row ranges in parallel.
pub fn design_matrix(batches: &[RecordBatch], attributes: &[String]) -> Result<Design> {
    use rayon::prelude::*;
    let names: Vec<String> = attributes.iter().flat_map(|a| transform_names(a)).collect();
    let d = names.len();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut x = Array2::<f32>::zeros((rows, d));
    let mut chunks: Vec<(&RecordBatch, ndarray::ArrayViewMut2<f32>)> = Vec::new();
    let mut rest = x.view_mut();
    for batch in batches {
        let (head, tail) = rest.split_at(ndarray::Axis(0), batch.num_rows());
        chunks.push((batch, head));
        rest = tail;
    }
    chunks
        .into_par_iter()
        .map(|(batch, mut xb)| fill_batch(batch, attributes, &mut xb))
        .collect::<Result<Vec<()>>>()?;
    Ok(Design { x, names })
}

/// Fills one batch's rows of the design matrix: each feature column is
/// computed whole, then the rows are written one at a time (contiguous
/// writes; filling the row-major matrix column by column touched every
/// row's cache lines once per column).
pub(crate) fn fill_batch(
    batch: &RecordBatch,
    attributes: &[String],
    x: &mut ndarray::ArrayViewMut2<f32>,
) -> Result<()> {
    let mut cols: Vec<Vec<f32>> = Vec::with_capacity(x.ncols());
    for attr in attributes {
        cols.extend(feature_columns(batch, attr)?);
    }
    debug_assert_eq!(cols.len(), x.ncols());
    for (i, mut row) in x.rows_mut().into_iter().enumerate() {
        for (t, c) in row.iter_mut().zip(&cols) {
            *t = c[i];
        }
    }
    Ok(())
}

/// The feature columns of one attribute (`transform_names`) on a batch.
fn feature_columns(batch: &RecordBatch, attr: &str) -> Result<Vec<Vec<f32>>> {
    let n = batch.num_rows();
    Ok(match attr {
        "region" | "device_os" => {
            let col = batch.column_by_name(attr).ok_or_else(|| NsfError::Input {
                path: Default::default(),
                message: format!("column `{attr}` missing from the data"),
            })?;
            let s = col.as_string::<i32>();
            if attr == "region" {
                let mut out = vec![vec![0f32; n]; REGIONS.len() - 1];
                for (i, v) in s.iter().enumerate() {
                    let v = v.unwrap_or_default();
                    if let Some(k) = REGIONS[1..].iter().position(|r| *r == v) {
                        out[k][i] = 1.0;
                    }
                }
                out
            } else {
                vec![(0..n).map(|i| (s.value(i) == "ios") as u8 as f32).collect()]
            }
        }
        "auto_topup" | "age_years" | "account_age_days" => {
            vec![
                column_f64(batch, attr)?
                    .into_iter()
                    .map(|v| v as f32)
                    .collect(),
            ]
        }
        _ => vec![
            column_f64(batch, attr)?
                .into_iter()
                .map(log1p_f32)
                .collect(),
        ],
    })
}

/// Small whole numbers whose `log1p` is looked up (counts, zero amounts).
const LOG1P_TABLE: usize = 1 << 16;

/// `v.max(0).ln_1p()` as `f32`: looked up for whole numbers below
/// `LOG1P_TABLE` (the table holds the same expression's values), computed
/// otherwise.
fn log1p_f32(v: f64) -> f32 {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..LOG1P_TABLE)
            .map(|k| (k as f64).ln_1p() as f32)
            .collect()
    });
    let k = v as usize;
    if k < LOG1P_TABLE && (k as f64).to_bits() == v.to_bits() {
        table[k]
    } else {
        v.max(0.0).ln_1p() as f32
    }
}

/// A boolean or 0/1 column (labels, flags) as `Vec<bool>`.
pub fn flag_column(batches: &[RecordBatch], name: &str) -> Result<Vec<bool>> {
    let mut out = Vec::new();
    for b in batches {
        out.extend(column_f64(b, name)?.into_iter().map(|v| v != 0.0));
    }
    Ok(out)
}

/// A numeric column as `Vec<f64>`.
pub fn numeric_column(batches: &[RecordBatch], name: &str) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for b in batches {
        out.extend(column_f64(b, name)?);
    }
    Ok(out)
}

impl Design {
    /// The columns of `attributes`, in that order (a subset of `all`, the
    /// attributes this design was built from, in its order).
    pub fn select_attributes(&self, all: &[String], attributes: &[String]) -> Design {
        self.select(None, all, attributes)
    }

    /// The rows `rows` (all if `None`) and the columns of `attributes`, in
    /// one copy.
    pub fn select(&self, rows: Option<&[usize]>, all: &[String], attributes: &[String]) -> Design {
        let mut start = std::collections::HashMap::new();
        let mut j = 0;
        for a in all {
            let w = transform_names(a).len();
            start.insert(a.as_str(), (j, w));
            j += w;
        }
        let mut cols = Vec::new();
        for a in attributes {
            let (j, w) = start[a.as_str()];
            cols.extend(j..j + w);
        }
        Design {
            x: gather(self.x.view(), rows, Some(&cols)),
            names: cols.iter().map(|&c| self.names[c].clone()).collect(),
        }
    }

    /// Region of each row as an index into `schema::REGIONS` (0 = the
    /// one-hot base); `None` when the design has no region columns.
    pub fn region_index(&self, rows: &[usize]) -> Option<Vec<usize>> {
        use rayon::prelude::*;
        let cols: Vec<(usize, usize)> = REGIONS[1..]
            .iter()
            .enumerate()
            .filter_map(|(k, r)| {
                let name = format!("region={r}");
                self.names
                    .iter()
                    .position(|n| *n == name)
                    .map(|j| (j, k + 1))
            })
            .collect();
        if cols.is_empty() {
            return None;
        }
        // One pass over each row's own (contiguous) values.
        Some(
            rows.par_iter()
                .map(|&i| {
                    let row = self.x.row(i);
                    cols.iter()
                        .find(|&&(j, _)| row[j] > 0.5)
                        .map_or(0, |&(_, k)| k)
                })
                .collect(),
        )
    }

    /// `f` (a row-wise function, e.g. a model's predictions) of the rows
    /// `rows`, gathered and computed a block of rows at a time: the same
    /// values as `f` of `select_rows(rows)`, without copying every row.
    pub fn by_row_blocks(
        &self,
        rows: &[usize],
        f: impl Fn(ndarray::ArrayView2<f32>) -> Result<Vec<f64>>,
    ) -> Result<Vec<f64>> {
        let mut out = Vec::with_capacity(rows.len());
        for block in rows.chunks(ROW_BLOCK) {
            out.extend(f(gather(self.x.view(), Some(block), None).view())?);
        }
        Ok(out)
    }

    /// The rows `rows` of this design (all columns).
    pub fn select_rows(&self, rows: &[usize]) -> Design {
        Design {
            x: gather(self.x.view(), Some(rows), None),
            names: self.names.clone(),
        }
    }
}

/// Rows per block of [`Design::by_row_blocks`] (35 features: 73 MB).
const ROW_BLOCK: usize = 1 << 19;

/// Copies the given rows (all if `None`) and columns (all if `None`) of `x`
/// in parallel. (ndarray's `select` copies element by element: seconds at
/// 10 M rows.)
pub fn gather(
    x: ndarray::ArrayView2<f32>,
    rows: Option<&[usize]>,
    cols: Option<&[usize]>,
) -> Array2<f32> {
    use rayon::prelude::*;
    let all_cols: Vec<usize>;
    let cols = match cols {
        Some(c) => c,
        None => {
            all_cols = (0..x.ncols()).collect();
            &all_cols
        }
    };
    let n = rows.map_or(x.nrows(), |r| r.len());
    let d = cols.len();
    let mut out = vec![0f32; n * d];
    out.par_chunks_mut(d.max(1) * 4096)
        .enumerate()
        .for_each(|(chunk, o)| {
            for (k, dst) in o.chunks_mut(d.max(1)).enumerate() {
                let i = chunk * 4096 + k;
                let src = x.row(rows.map_or(i, |r| r[i]));
                for (t, &c) in dst.iter_mut().zip(cols) {
                    *t = src[c];
                }
            }
        });
    Array2::from_shape_vec((n, d), out).expect("shape matches")
}
