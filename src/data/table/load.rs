//! `load`: a table file read, its columns typed, roles checked and
//! features encoded, with one clear error per bad input.

use std::path::Path;

use super::infer::{self, ColumnInfo, Kind};
use super::{
    Column, Encoding, MIN_ROWS, Table, TableFile, TableOptions, Values, design, encoding_of, find,
};
use crate::error::{NsfError, Result};

fn input(path: &Path, message: String) -> NsfError {
    NsfError::Input {
        path: path.to_path_buf(),
        message,
    }
}

/// Reads `path` and checks it against `options`.
pub fn load(path: &Path, options: &TableOptions) -> Result<Table> {
    load_file(path, &super::read_table(path)?, options)
}

/// [`load`] of a file already read (`read_table(path)`).
pub fn load_file(path: &Path, file: &TableFile, options: &TableOptions) -> Result<Table> {
    let columns = file.columns.as_slice();
    let rows = columns.first().map_or(0, |c| c.values.len());
    if rows < MIN_ROWS {
        return Err(input(
            path,
            format!(
                "has {rows} rows; at least {MIN_ROWS} are needed (a fifth is held out for testing)"
            ),
        ));
    }
    let mut infos = infer_all(path, columns, options)?;
    let label_col = find(path, columns, &options.label, "--label")?;
    let label = super::label_values(path, label_col, options.positive.as_deref())?;
    let mut roles = vec![(options.label.clone(), "label")];
    let consent = match &options.consent {
        Some(c) => {
            roles.push((c.clone(), "consent"));
            Some(super::flag_values(
                path,
                find(path, columns, c, "--consent")?,
                "--consent",
            )?)
        }
        None => None,
    };
    let target = match &options.target {
        Some(t) => {
            roles.push((t.clone(), "target"));
            super::flag_values(path, find(path, columns, t, "--target")?, "--target")?
        }
        None => vec![true; rows],
    };
    let ids = match &options.id {
        Some(name) => {
            roles.push((name.clone(), "id"));
            id_values(path, find(path, columns, name, "--id")?)?
        }
        None => (0..rows as u64).collect(),
    };
    for (name, role) in &roles {
        if let Some(i) = infos.iter_mut().find(|i| &i.name == name) {
            i.role = role.to_string();
        }
    }
    let features = choose_features(path, &infos, options)?;
    let minimal = check_minimal(&features, options)?;
    let mut encodings = Vec::new();
    for f in &features {
        let k = infos.iter().position(|i| &i.name == f).expect("checked");
        infos[k].role = "feature".into();
        let c = &columns[k];
        encodings.push(encoding_of(c, &infos[k]));
    }
    let design = design(path, columns, &encodings)?;
    let minimal_columns = encodings
        .iter()
        .filter(|e| minimal.iter().any(|m| m == e.name()))
        .flat_map(Encoding::columns)
        .collect();
    Ok(Table {
        path: path.to_path_buf(),
        sha256: file.sha256.clone(),
        columns: infos,
        ids,
        label,
        consent,
        target,
        encodings,
        design,
        minimal_columns,
        options: options.clone(),
    })
}

/// Every column's kind, with the overrides applied (each must name a
/// column).
fn infer_all(path: &Path, columns: &[Column], o: &TableOptions) -> Result<Vec<ColumnInfo>> {
    for (flag, list) in [("--categorical", &o.categorical), ("--numeric", &o.numeric)] {
        for n in list.iter() {
            find(path, columns, n, flag)?;
        }
    }
    columns
        .iter()
        .map(|c| {
            let force = if o.categorical.contains(&c.name) {
                Some(Kind::Categorical)
            } else if o.numeric.contains(&c.name) {
                Some(Kind::Numeric)
            } else {
                None
            };
            infer::infer(c, force)
        })
        .collect()
}

/// The feature columns: the named ones (checked), or every numeric,
/// categorical and binary column without a role.
fn choose_features(path: &Path, infos: &[ColumnInfo], o: &TableOptions) -> Result<Vec<String>> {
    let Some(list) = &o.features else {
        let all: Vec<String> = infos
            .iter()
            .filter(|i| i.role == "unused")
            .filter(|i| matches!(i.kind, Kind::Numeric | Kind::Categorical | Kind::Binary))
            .map(|i| i.name.clone())
            .collect();
        if all.is_empty() {
            return Err(input(
                path,
                "no usable feature column (every other column is constant, identifier-like or free text); name some with --features".into(),
            ));
        }
        return Ok(all);
    };
    for n in list {
        let Some(i) = infos.iter().find(|i| &i.name == n) else {
            return Err(NsfError::param(
                "--features",
                format!("no column `{n}` in {}", path.display()),
            ));
        };
        let why = match (i.kind, i.role.as_str()) {
            (_, role) if role != "unused" => format!("it is the {role} column"),
            (Kind::Constant, _) => "it is constant (one value): it carries no information".into(),
            (Kind::Text, _) => format!(
                "it is free text ({} distinct values); force it with --categorical {n} if it is a category",
                i.distinct
            ),
            (Kind::IdentifierLike, _) if !i.stored_numeric => {
                "it is identifier-like text (a different value in every row)".into()
            }
            _ => continue,
        };
        return Err(NsfError::param(
            "--features",
            format!("column `{n}` cannot be a feature: {why}"),
        ));
    }
    // Table order, whatever the order given.
    Ok(infos
        .iter()
        .filter(|i| list.contains(&i.name))
        .map(|i| i.name.clone())
        .collect())
}

fn check_minimal(features: &[String], o: &TableOptions) -> Result<Vec<String>> {
    let Some(list) = &o.minimal else {
        return Ok(Vec::new());
    };
    for m in list {
        if !features.contains(m) {
            return Err(NsfError::param(
                "--minimal",
                format!("`{m}` is not one of the features ({})", features.join(", ")),
            ));
        }
    }
    if list.is_empty() {
        return Err(NsfError::param("--minimal", "the list is empty"));
    }
    Ok(list.clone())
}

/// Row IDs from an integer column, each unique.
fn id_values(path: &Path, c: &Column) -> Result<Vec<u64>> {
    let Values::Number(v) = &c.values else {
        return Err(input(
            path,
            format!(
                "--id column `{}` holds text; give a column of non-negative integers (or omit --id: rows are then numbered)",
                c.name
            ),
        ));
    };
    let ids: Vec<u64> = v
        .iter()
        .enumerate()
        .map(|(i, x)| match x {
            Some(x) if *x >= 0.0 && x.fract() == 0.0 => Ok(*x as u64),
            _ => Err(input(
                path,
                format!(
                    "--id column `{}` row {} is not a non-negative integer; give such a column (or omit --id)",
                    c.name,
                    i + 1
                ),
            )),
        })
        .collect::<Result<_>>()?;
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(input(
            path,
            format!(
                "--id column `{}` repeats the ID {}: IDs must be unique",
                c.name, w[0]
            ),
        ));
    }
    Ok(ids)
}
