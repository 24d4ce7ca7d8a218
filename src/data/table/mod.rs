//! Your own data: a table (Parquet or CSV) with a binary label, a consent
//! flag, an optional target-population flag and an optional ID, turned into
//! the same rows, flags and design matrix the simulator's data sets give.
//!
//! `read` (file → columns) → `infer` (column kinds, printed) → this file
//! (roles checked, features chosen, missing values encoded). Missing values:
//! a numeric feature's gaps take the median of its non-missing values in
//! the whole table (no label is used) and add a `<column>=missing` 0/1
//! column; a categorical feature's gaps are a level of their own
//! (`<column>=missing`). The logistic regression gets median + indicator,
//! the scorecard bins the indicator as an attribute of its own (a missing
//! bin with its own points), and the trees read the gap itself: gbdt gets
//! NaN where the median was filled in ([`with_gaps`]), puts it in a
//! missing bin and learns at each split which side it goes to (as XGBoost
//! and LightGBM do), with the indicator still there to split on.

pub mod infer;
pub mod read;

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::data::features::Design;
use crate::error::{NsfError, Result};
pub use infer::{ColumnInfo, Kind, column_table};
pub use read::{Column, TableFile, Values, read_table};

/// Fewer rows than this are refused (a held-out test set of a fifth of the
/// target rows would not hold enough outcomes).
pub const MIN_ROWS: usize = 100;

/// How to read a table: which column plays which role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TableOptions {
    /// The binary outcome column.
    pub label: String,
    /// Its positive value (needed unless the values are 0/1 or false/true).
    pub positive: Option<String>,
    /// The consent ("lawfully usable") flag; `None` with a simulated one.
    pub consent: Option<String>,
    /// Who needs a score (default: every row).
    pub target: Option<String>,
    /// Row ID (integers; default: the row number).
    pub id: Option<String>,
    /// Feature columns (`None`: every usable column).
    pub features: Option<Vec<String>>,
    /// The minimal feature set (a subset of the features), if any.
    pub minimal: Option<Vec<String>>,
    /// Columns forced categorical.
    pub categorical: Vec<String>,
    /// Columns forced numeric.
    pub numeric: Vec<String>,
}

/// How one source column becomes design columns (stored with each model
/// trained on a table, so `score` rebuilds the same columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Encoding {
    /// One column; gaps get `median`, plus `<name>=missing` if `indicator`.
    Numeric {
        /// Source column.
        name: String,
        /// Fill value of missing entries.
        median: f64,
        /// Adds the `<name>=missing` column.
        indicator: bool,
    },
    /// One 0/1 column per level after the first (the base), plus
    /// `<name>=missing` if `indicator`.
    Categorical {
        /// Source column.
        name: String,
        /// Levels, base first.
        levels: Vec<String>,
        /// Adds the `<name>=missing` column.
        indicator: bool,
    },
}

impl Encoding {
    /// Source column.
    pub fn name(&self) -> &str {
        match self {
            Encoding::Numeric { name, .. } | Encoding::Categorical { name, .. } => name,
        }
    }

    /// The design columns it makes.
    pub fn columns(&self) -> Vec<String> {
        let (name, mut cols, indicator) = match self {
            Encoding::Numeric {
                name, indicator, ..
            } => (name, vec![name.clone()], *indicator),
            Encoding::Categorical {
                name,
                levels,
                indicator,
            } => (
                name,
                levels[1..].iter().map(|l| format!("{name}={l}")).collect(),
                *indicator,
            ),
        };
        if indicator {
            cols.push(format!("{name}=missing"));
        }
        cols
    }

    /// Writes column `c`'s values into `x[.., j..]` (rows in order).
    fn fill(&self, c: &Column, x: &mut Array2<f32>, j: usize) {
        let n = c.values.len();
        match self {
            Encoding::Numeric {
                median, indicator, ..
            } => {
                let Values::Number(v) = &c.values else {
                    unreachable!("numeric encodings are of numeric columns")
                };
                for i in 0..n {
                    x[[i, j]] = v[i].unwrap_or(*median) as f32;
                    if *indicator && v[i].is_none() {
                        x[[i, j + 1]] = 1.0;
                    }
                }
            }
            Encoding::Categorical {
                levels, indicator, ..
            } => {
                let w = levels.len() - 1;
                for i in 0..n {
                    match c.values.text(i) {
                        None if *indicator => x[[i, j + w]] = 1.0,
                        None => {}
                        Some(t) => {
                            // An unseen level scores as the base.
                            if let Some(k) = levels[1..].iter().position(|l| *l == t) {
                                x[[i, j + k]] = 1.0;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The design with each numeric feature's gaps as NaN again, for the
/// families that read missing values natively (the trees): where the
/// `<name>=missing` indicator right after column `<name>` is 1, the median
/// fill becomes NaN (the indicator stays, so the columns are the same).
/// `None`, with nothing copied, when no column has gaps (every simulated
/// data set, a complete table).
pub fn with_gaps(x: ArrayView2<f32>, names: &[String]) -> Option<Array2<f32>> {
    if names.len() != x.ncols() {
        return None;
    }
    let pairs: Vec<usize> = (1..names.len())
        .filter(|&k| names[k].strip_suffix("=missing") == Some(names[k - 1].as_str()))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let mut out = x.to_owned();
    for k in pairs {
        for mut row in out.rows_mut() {
            if row[k] == 1.0 {
                row[k - 1] = f32::NAN;
            }
        }
    }
    Some(out)
}

/// Builds the design of `encodings` from `columns` (found by name).
pub fn design(path: &Path, columns: &[Column], encodings: &[Encoding]) -> Result<Design> {
    let names: Vec<String> = encodings.iter().flat_map(|e| e.columns()).collect();
    let n = columns.first().map_or(0, |c| c.values.len());
    let mut x = Array2::<f32>::zeros((n, names.len()));
    let mut j = 0;
    for e in encodings {
        let c = find(path, columns, e.name(), "a feature of the model")?;
        if matches!(e, Encoding::Numeric { .. }) && !matches!(c.values, Values::Number(_)) {
            return Err(NsfError::Input {
                path: path.to_path_buf(),
                message: format!("column `{}` holds text; the model needs numbers", e.name()),
            });
        }
        e.fill(c, &mut x, j);
        j += e.columns().len();
    }
    Ok(Design { x, names })
}

/// Column `name`, or the error naming it and listing a few that exist.
pub fn find<'a>(path: &Path, columns: &'a [Column], name: &str, what: &str) -> Result<&'a Column> {
    columns.iter().find(|c| c.name == name).ok_or_else(|| {
        let have: Vec<&str> = columns.iter().take(12).map(|c| c.name.as_str()).collect();
        NsfError::Input {
            path: path.to_path_buf(),
            message: format!(
                "no column `{name}` ({what}); the file has: {}{}",
                have.join(", "),
                if columns.len() > 12 { ", …" } else { "" }
            ),
        }
    })
}

/// The encoding of a feature column of kind `info.kind`.
fn encoding_of(c: &Column, info: &ColumnInfo) -> Encoding {
    let indicator = info.missing > 0;
    match (info.kind, &c.values) {
        (Kind::Numeric | Kind::IdentifierLike, Values::Number(v)) => {
            let mut present: Vec<f64> = v.iter().flatten().copied().collect();
            present.sort_by(f64::total_cmp);
            let median = if present.is_empty() {
                0.0
            } else {
                let m = present.len() / 2;
                if present.len() % 2 == 1 {
                    present[m]
                } else {
                    0.5 * (present[m - 1] + present[m])
                }
            };
            Encoding::Numeric {
                name: c.name.clone(),
                median,
                indicator,
            }
        }
        _ => Encoding::Categorical {
            name: c.name.clone(),
            levels: if info.levels.is_empty() {
                infer::levels_of(&c.values)
            } else {
                info.levels.clone()
            },
            indicator,
        },
    }
}

/// A 0/1 flag from a column: booleans, 0/1, or `true`/`false`/`yes`/`no`
/// text; `flag` names the option for the error.
pub fn flag_values(path: &Path, c: &Column, flag: &str) -> Result<Vec<bool>> {
    let mut out = Vec::with_capacity(c.values.len());
    for i in 0..c.values.len() {
        let t = c.values.text(i);
        let v = match t.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("1" | "true" | "yes" | "y" | "t") => true,
            Some("0" | "false" | "no" | "n" | "f") => false,
            other => {
                return Err(NsfError::Input {
                    path: path.to_path_buf(),
                    message: format!(
                        "{flag} column `{}` is not boolean: row {} holds {}; give a column of 0/1 or true/false{}",
                        c.name,
                        i + 1,
                        other.map_or("a missing value".into(), |o| format!("`{o}`")),
                        if flag == "--consent" {
                            " (or drop --consent and use --simulate-consent)"
                        } else {
                            ""
                        }
                    ),
                });
            }
        };
        out.push(v);
    }
    Ok(out)
}

/// The label: two distinct values, the positive one named by `positive`
/// or implied by 0/1 / false/true.
pub fn label_values(path: &Path, c: &Column, positive: Option<&str>) -> Result<Vec<bool>> {
    let levels = infer::levels_of(&c.values);
    let err = |message: String| NsfError::Input {
        path: path.to_path_buf(),
        message,
    };
    if let Some(i) = (0..c.values.len()).find(|&i| c.values.is_missing(i)) {
        return Err(err(format!(
            "label `{}` is missing in row {} (and {} rows in all): drop those rows first",
            c.name,
            i + 1,
            (0..c.values.len())
                .filter(|&i| c.values.is_missing(i))
                .count()
        )));
    }
    if levels.len() != 2 {
        let shown: Vec<String> = levels.iter().take(5).map(|l| format!("`{l}`")).collect();
        return Err(err(format!(
            "label `{}` is not binary: it has {} distinct values ({}{}); give a column with two values, e.g. `late = delay > 15`",
            c.name,
            levels.len(),
            shown.join(", "),
            if levels.len() > 5 { ", …" } else { "" }
        )));
    }
    let pos = match positive {
        Some(p) if levels.iter().any(|l| l == p) => p.to_string(),
        Some(p) => {
            return Err(NsfError::param(
                "--positive",
                format!(
                    "`{p}` is not a value of label `{}` (it has `{}` and `{}`)",
                    c.name, levels[0], levels[1]
                ),
            ));
        }
        None => {
            let lower: Vec<String> = levels.iter().map(|l| l.to_ascii_lowercase()).collect();
            match lower.iter().position(|l| l == "1" || l == "true") {
                Some(k) if lower.iter().any(|l| l == "0" || l == "false") => levels[k].clone(),
                _ => {
                    return Err(NsfError::param(
                        "--positive",
                        format!(
                            "label `{}` has the values `{}` and `{}`: name the positive (event) one with --positive",
                            c.name, levels[0], levels[1]
                        ),
                    ));
                }
            }
        }
    };
    Ok((0..c.values.len())
        .map(|i| c.values.text(i).as_deref() == Some(pos.as_str()))
        .collect())
}

/// A table read, its roles checked and its features encoded.
pub struct Table {
    /// The file.
    pub path: PathBuf,
    /// SHA-256 of the file.
    pub sha256: String,
    /// Every column's kind and role.
    pub columns: Vec<ColumnInfo>,
    /// Row IDs.
    pub ids: Vec<u64>,
    /// Label per row.
    pub label: Vec<bool>,
    /// Consent per row (`None` until drawn when simulated).
    pub consent: Option<Vec<bool>>,
    /// Target flag per row.
    pub target: Vec<bool>,
    /// The feature encodings, in table order.
    pub encodings: Vec<Encoding>,
    /// The design of every feature.
    pub design: Design,
    /// Design columns of the minimal feature set (empty without one).
    pub minimal_columns: Vec<String>,
    /// The options read with.
    pub options: TableOptions,
}

impl Table {
    /// Rows.
    pub fn rows(&self) -> usize {
        self.ids.len()
    }
}

mod load;
pub use load::{load, load_file};
