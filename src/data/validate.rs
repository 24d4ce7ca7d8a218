//! Checks a data set's file against its manifest when it is read for
//! training, scoring, evaluation or an audit: the file is the one the
//! manifest describes (row count and SHA-256), and its values are ones the
//! generator can write (no nulls, unique `user_id`s, 0/1 flags and labels,
//! probabilities in [0, 1], known categories). Every refusal names the file
//! and the column.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

use crate::data::artifact::FileRecord;
use crate::error::{NsfError, Result};

/// Flag and label columns: 0/1 or boolean.
const FLAGS: [&str; 4] = ["nsf", "apple_registered", "consented", "auto_topup"];

fn bad(path: &Path, message: String) -> NsfError {
    NsfError::Input {
        path: path.to_path_buf(),
        message,
    }
}

/// `got`, the SHA-256 of the file at `path` as read, is the one `record`
/// describes.
pub fn check_digest(path: &Path, record: &FileRecord, got: String) -> Result<String> {
    if got != record.sha256 {
        return Err(bad(
            path,
            format!(
                "SHA-256 {got} differs from the manifest's {}: the data file was changed or replaced after it was generated",
                record.sha256
            ),
        ));
    }
    Ok(got)
}

/// Every column of `batches` that the generator writes has the type it
/// writes (an edited file may store an identifier as text, a digest as an
/// integer, ...).
pub fn check_schema_types(path: &Path, batches: &[RecordBatch]) -> Result<()> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let schema = crate::data::generate::arrow_schema();
    for field in first.schema().fields() {
        if let Ok(want) = schema.field_with_name(field.name())
            && want.data_type() != field.data_type()
        {
            return Err(bad(
                path,
                format!(
                    "column `{}` has type {}, not the {} nsfsim writes",
                    field.name(),
                    field.data_type(),
                    want.data_type()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks the columns read from a data file (see the module doc).
pub fn check_batches(path: &Path, record: &FileRecord, batches: &[RecordBatch]) -> Result<()> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    check_rows(path, record, rows)?;
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let checks: Vec<ColumnChecks> = batches.iter().map(|b| check_values(path, b)).collect();
    first_refusal(path, &first.schema(), checks)?;
    if first.column_by_name("user_id").is_some() {
        check_unique_ids(path, batches)?;
    }
    Ok(())
}

/// The file has the rows its manifest says.
pub(crate) fn check_rows(path: &Path, record: &FileRecord, rows: usize) -> Result<()> {
    if rows as u64 != record.rows {
        return Err(bad(
            path,
            format!("has {rows} rows; its manifest says {}", record.rows),
        ));
    }
    Ok(())
}

/// What the value checks found in one batch, per column (in the batch's
/// schema order): its null count and its first refusal.
pub(crate) struct ColumnChecks(Vec<(usize, Option<NsfError>)>);

impl ColumnChecks {
    /// No nulls and no refusal in any column.
    pub(crate) fn clean(&self) -> bool {
        self.0.iter().all(|(n, e)| *n == 0 && e.is_none())
    }
}

/// Checks the values of every column of one batch (see the module doc),
/// without stopping at the first refusal: [`first_refusal`] merges the
/// checks of every batch of a file, so a file read row group by row group
/// is refused with the message reading it whole gives.
pub(crate) fn check_values(path: &Path, batch: &RecordBatch) -> ColumnChecks {
    ColumnChecks(
        batch
            .columns()
            .iter()
            .zip(batch.schema().fields())
            .map(|(col, field)| {
                let nulls = col.null_count();
                (nulls, check_column(path, field.name(), col.as_ref()).err())
            })
            .collect(),
    )
}

/// The first refusal of a file's batches (`checks` in row order, batches
/// of `schema`), column by column: nulls (counted over every batch), then
/// the first bad value.
pub(crate) fn first_refusal(
    path: &Path,
    schema: &arrow_schema::Schema,
    checks: Vec<ColumnChecks>,
) -> Result<()> {
    let mut per_batch: Vec<std::vec::IntoIter<(usize, Option<NsfError>)>> =
        checks.into_iter().map(|c| c.0.into_iter()).collect();
    for field in schema.fields() {
        let mut nulls = 0;
        let mut refusal = None;
        for b in per_batch.iter_mut() {
            let (n, e) = b.next().expect("one check per column");
            nulls += n;
            if refusal.is_none() {
                refusal = e;
            }
        }
        if nulls > 0 {
            return Err(bad(
                path,
                format!("column `{}` has {nulls} null values", field.name()),
            ));
        }
        if let Some(e) = refusal {
            return Err(e);
        }
    }
    Ok(())
}
fn check_column(path: &Path, name: &str, col: &dyn Array) -> Result<()> {
    let is_flag = FLAGS.contains(&name);
    match (name, col.data_type()) {
        ("user_id", DataType::UInt64) => Ok(()),
        ("user_id", t) => Err(bad(
            path,
            format!("column `user_id` has type {t}, not UInt64"),
        )),
        ("region" | "device_os", DataType::Utf8) => {
            let s = col.as_string::<i32>();
            let first = s.iter().flatten().find(|v| !known_category(name, v));
            unknown_category(path, name, first)
        }
        ("region" | "device_os", DataType::Dictionary(k, v))
            if **k == DataType::Int32 && **v == DataType::Utf8 =>
        {
            // Read so by `columns::RowGroups`: each dictionary value is
            // checked once, and an unknown one is named at its first row.
            let d = col.as_dictionary::<Int32Type>();
            let values = d.values().as_string::<i32>();
            let bad_value: Vec<bool> = values
                .iter()
                .map(|v| v.is_some_and(|v| !known_category(name, v)))
                .collect();
            let first = bad_value.contains(&true).then(|| {
                d.keys()
                    .iter()
                    .flatten()
                    .find(|&k| bad_value.get(k as usize) == Some(&true))
                    .map(|k| values.value(k as usize))
            });
            unknown_category(path, name, first.flatten())
        }
        ("region" | "device_os", t) => Err(bad(
            path,
            format!("column `{name}` has type {t}, not a string"),
        )),
        ("nsf_prob", DataType::Float64) => {
            let v = col.as_primitive::<Float64Type>().values();
            match v.iter().find(|p| !(0.0..=1.0).contains(*p)) {
                Some(p) => Err(bad(
                    path,
                    format!("column `nsf_prob` has {p}, not a probability in [0, 1]"),
                )),
                None => Ok(()),
            }
        }
        ("nsf_prob", t) => Err(bad(
            path,
            format!("column `nsf_prob` has type {t}, not Float64"),
        )),
        ("phone_sha256" | "email_sha256", DataType::FixedSizeBinary(32)) => Ok(()),
        ("phone_sha256" | "email_sha256", t) => Err(bad(
            path,
            format!("column `{name}` has type {t}, not a 32-byte binary digest"),
        )),
        (_, DataType::Boolean) => Ok(()),
        (_, DataType::Float64) => {
            let v = col.as_primitive::<Float64Type>().values();
            match v
                .iter()
                .find(|x| !x.is_finite() || (is_flag && **x != 0.0 && **x != 1.0))
            {
                Some(x) => Err(bad(
                    path,
                    format!("column `{name}` has value {x}{}", flag_note(is_flag)),
                )),
                None => Ok(()),
            }
        }
        (_, t) if t.is_integer() => {
            if !is_flag {
                return Ok(());
            }
            let c = arrow_cast_i128(col);
            match c.into_iter().find(|x| *x != 0 && *x != 1) {
                Some(x) => Err(bad(
                    path,
                    format!("column `{name}` has value {x}{}", flag_note(true)),
                )),
                None => Ok(()),
            }
        }
        (_, t) => Err(bad(
            path,
            format!("column `{name}` has type {t}, which nsfsim does not write"),
        )),
    }
}

/// Whether `v` is a category of column `name` (`region` or `device_os`).
fn known_category(name: &str, v: &str) -> bool {
    if name == "region" {
        crate::data::features::region_index(v).is_some()
    } else {
        v == "ios" || v == "android"
    }
}

/// The refusal of category column `name`'s first unknown value, if any.
fn unknown_category(path: &Path, name: &str, first: Option<&str>) -> Result<()> {
    match first {
        Some(v) => Err(bad(
            path,
            format!("column `{name}` has unknown category `{v}`"),
        )),
        None => Ok(()),
    }
}

fn flag_note(is_flag: bool) -> &'static str {
    if is_flag {
        " outside {0, 1}"
    } else {
        ", not a finite number"
    }
}

/// Integer values of any integer column, widened.
fn arrow_cast_i128(col: &dyn Array) -> Vec<i128> {
    use arrow_array::types::*;
    macro_rules! widen {
        ($t:ty) => {
            col.as_primitive::<$t>()
                .values()
                .iter()
                .map(|&v| v as i128)
                .collect()
        };
    }
    match col.data_type() {
        DataType::Int8 => widen!(Int8Type),
        DataType::Int16 => widen!(Int16Type),
        DataType::Int32 => widen!(Int32Type),
        DataType::Int64 => widen!(Int64Type),
        DataType::UInt8 => widen!(UInt8Type),
        DataType::UInt16 => widen!(UInt16Type),
        DataType::UInt32 => widen!(UInt32Type),
        DataType::UInt64 => widen!(UInt64Type),
        _ => Vec::new(),
    }
}

/// `user_id`s are unique (the generator writes them increasing; anything
/// else is sorted and checked).
fn check_unique_ids(path: &Path, batches: &[RecordBatch]) -> Result<()> {
    let mut ids: Vec<u64> = Vec::new();
    for b in batches {
        let c = b.column_by_name("user_id").expect("checked");
        ids.extend_from_slice(c.as_primitive::<UInt64Type>().values());
    }
    check_unique(path, &ids)
}

/// `user_id`s are unique (increasing, or sorted in a copy and checked).
pub(crate) fn check_unique(path: &Path, ids: &[u64]) -> Result<()> {
    if ids.windows(2).all(|w| w[0] < w[1]) {
        return Ok(());
    }
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    match ids.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(bad(path, format!("column `user_id` repeats user {}", w[0]))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, BooleanArray, FixedSizeBinaryArray, Float64Array, StringArray, UInt8Array,
        UInt64Array,
    };
    use arrow_schema::{Field, Schema};

    use super::*;
    use crate::sim::schema::REGIONS;

    fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = cols
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            cols.into_iter().map(|(_, a)| a).collect(),
        )
        .unwrap()
    }

    fn rec(rows: u64) -> FileRecord {
        FileRecord {
            name: "users.parquet".into(),
            rows,
            bytes: 0,
            sha256: String::new(),
        }
    }

    fn check(cols: Vec<(&str, ArrayRef)>) -> std::result::Result<(), String> {
        let b = batch(cols);
        check_batches(Path::new("users.parquet"), &rec(b.num_rows() as u64), &[b])
            .map_err(|e| e.to_string())
    }

    fn ids(v: &[u64]) -> ArrayRef {
        Arc::new(UInt64Array::from(v.to_vec()))
    }

    #[test]
    fn valid_columns_pass() {
        check(vec![
            ("user_id", ids(&[3, 1, 2])),
            (
                "nsf",
                Arc::new(BooleanArray::from(vec![true, false, false])),
            ),
            (
                "apple_registered",
                Arc::new(UInt8Array::from(vec![0, 1, 1])),
            ),
            (
                "nsf_prob",
                Arc::new(Float64Array::from(vec![0.0, 0.5, 1.0])),
            ),
            (
                "region",
                Arc::new(StringArray::from(vec![REGIONS[0], REGIONS[16], REGIONS[3]])),
            ),
        ])
        .unwrap();
    }

    #[test]
    fn each_bad_value_is_refused_naming_its_column() {
        let cases: Vec<(Vec<(&str, ArrayRef)>, &str)> = vec![
            (
                vec![("user_id", ids(&[5, 2, 5]))],
                "`user_id` repeats user 5",
            ),
            (
                vec![("nsf", Arc::new(UInt8Array::from(vec![0, 2])))],
                "`nsf` has value 2 outside {0, 1}",
            ),
            (
                vec![(
                    "nsf_prob",
                    Arc::new(Float64Array::from(vec![0.1, f64::NAN])),
                )],
                "`nsf_prob` has NaN",
            ),
            (
                vec![(
                    "balance_krw",
                    Arc::new(Float64Array::from(vec![Some(1.0), None])),
                )],
                "`balance_krw` has 1 null",
            ),
            (
                vec![("region", Arc::new(StringArray::from(vec!["Atlantis"])))],
                "`region` has unknown category `Atlantis`",
            ),
            (
                vec![("phone_sha256", Arc::new(StringArray::from(vec!["ab12"])))],
                "`phone_sha256` has type Utf8, not a 32-byte binary digest",
            ),
        ];
        for (cols, needle) in cases {
            let e = check(cols).unwrap_err();
            assert!(e.contains(needle) && e.contains("users.parquet"), "{e}");
        }
        let digest = FixedSizeBinaryArray::try_from_iter([[0u8; 32]].into_iter()).unwrap();
        check(vec![("phone_sha256", Arc::new(digest))]).unwrap();
    }

    #[test]
    fn row_count_must_match_the_manifest() {
        let b = batch(vec![("user_id", ids(&[1, 2]))]);
        let e = check_batches(Path::new("users.parquet"), &rec(3), &[b]).unwrap_err();
        assert!(e.to_string().contains("has 2 rows; its manifest says 3"));
    }
}
