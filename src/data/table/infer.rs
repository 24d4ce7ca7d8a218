//! Column types of a table, inferred once and printed before training:
//! numeric, categorical (with its levels), binary, identifier-like (a
//! different value in every row), constant, or text (too many levels to be
//! a category). `--categorical` / `--numeric` override the guess.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::data::table::read::{Column, Values};
use crate::error::{NsfError, Result};

/// More distinct text values than this (and not one per row) make a
/// column `text`, not `categorical`.
pub const MAX_LEVELS: usize = 50;

/// The inferred kind of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Numbers with more than two values.
    Numeric,
    /// Text with at most `MAX_LEVELS` levels.
    Categorical,
    /// Exactly two values.
    Binary,
    /// A different value in every row (an ID, a name): refused as a feature
    /// unless named in `--features`.
    IdentifierLike,
    /// One value: never a feature.
    Constant,
    /// Text with more than `MAX_LEVELS` levels: refused as a feature unless
    /// named in `--categorical`.
    Text,
}

impl Kind {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Numeric => "numeric",
            Kind::Categorical => "categorical",
            Kind::Binary => "binary",
            Kind::IdentifierLike => "identifier-like",
            Kind::Constant => "constant",
            Kind::Text => "text",
        }
    }
}

/// One row of the column table (recorded in the run manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Stored as numbers (else text).
    pub stored_numeric: bool,
    /// Inferred (or overridden) kind.
    pub kind: Kind,
    /// Set by `--categorical` / `--numeric`.
    pub overridden: bool,
    /// Distinct non-missing values.
    pub distinct: u64,
    /// Missing values.
    pub missing: u64,
    /// Levels of a categorical or binary column, most frequent first (ties
    /// by name); empty otherwise.
    pub levels: Vec<String>,
    /// Role in the run: label, consent, target, id, feature, or unused.
    pub role: String,
}

/// Counts of each distinct value (as text), for levels.
fn counts(v: &Values) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for i in 0..v.len() {
        if let Some(t) = v.text(i) {
            *m.entry(t).or_insert(0) += 1;
        }
    }
    m
}

/// Levels most frequent first, ties by name.
pub fn levels_of(v: &Values) -> Vec<String> {
    let mut l: Vec<(String, u64)> = counts(v).into_iter().collect();
    l.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    l.into_iter().map(|(k, _)| k).collect()
}

/// Infers one column's kind; `force` is `Some(Numeric | Categorical)` for
/// an override.
pub fn infer(c: &Column, force: Option<Kind>) -> Result<ColumnInfo> {
    let n = c.values.len();
    let missing = (0..n).filter(|&i| c.values.is_missing(i)).count();
    let m = counts(&c.values);
    let distinct = m.len();
    let stored_numeric = matches!(c.values, Values::Number(_));
    let guessed = match distinct {
        0 | 1 => Kind::Constant,
        2 => Kind::Binary,
        d if d == n - missing && n >= 20 && (!stored_numeric || is_integer(&c.values)) => {
            Kind::IdentifierLike
        }
        _ if stored_numeric => Kind::Numeric,
        d if d <= MAX_LEVELS => Kind::Categorical,
        _ => Kind::Text,
    };
    let kind = match force {
        Some(Kind::Numeric) if !stored_numeric => {
            return Err(NsfError::param(
                "--numeric",
                format!(
                    "column `{}` holds text (e.g. `{}`), not numbers",
                    c.name,
                    m.keys().next().cloned().unwrap_or_default()
                ),
            ));
        }
        Some(k) => k,
        None => guessed,
    };
    let levels = if matches!(kind, Kind::Categorical | Kind::Binary) {
        levels_of(&c.values)
    } else {
        Vec::new()
    };
    Ok(ColumnInfo {
        name: c.name.clone(),
        stored_numeric,
        kind,
        overridden: force.is_some(),
        distinct: distinct as u64,
        missing: missing as u64,
        levels,
        role: "unused".into(),
    })
}

fn is_integer(v: &Values) -> bool {
    match v {
        Values::Number(x) => x.iter().flatten().all(|v| v.fract() == 0.0),
        Values::Text(_) => false,
    }
}

/// The column table as Markdown-like text (printed before training).
pub fn column_table(cols: &[ColumnInfo]) -> String {
    let w = cols.iter().map(|c| c.name.len()).max().unwrap_or(4).max(6);
    let mut s = format!(
        "{:<w$}  {:<15}  {:>8}  {:>7}  {:<8}  levels\n",
        "column", "kind", "distinct", "missing", "role"
    );
    for c in cols {
        let mut levels = c
            .levels
            .iter()
            .take(6)
            .cloned()
            .collect::<Vec<_>>()
            .join(" | ");
        if c.levels.len() > 6 {
            levels.push_str(&format!(" | … ({} levels)", c.levels.len()));
        }
        s.push_str(&format!(
            "{:<w$}  {:<15}  {:>8}  {:>7}  {:<8}  {}\n",
            c.name,
            format!("{}{}", c.kind.as_str(), if c.overridden { "*" } else { "" }),
            c.distinct,
            c.missing,
            c.role,
            levels
        ));
    }
    s
}
