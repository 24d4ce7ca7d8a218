//! Reading a table from a Parquet or CSV file into plain columns: numbers
//! (f64, `None` = missing) or text, with the SHA-256 of the bytes decoded.
//! Every Parquet codec that pandas, polars, pyarrow, DuckDB and Spark
//! write by default decodes (snappy,
//! gzip, zstd, lz4, brotli; plain and dictionary encodings; nullable
//! columns); CSV needs a header row, its column types are inferred by
//! `arrow-csv` from the first 10,000 rows.

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;

use crate::error::{NsfError, Result};

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Numbers (integers, floats, decimals, booleans as 0/1).
    Number(Vec<Option<f64>>),
    /// Text (strings, dictionary-encoded categories, dates, anything else).
    Text(Vec<Option<String>>),
}

impl Values {
    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            Values::Number(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `i` as text (`None` when missing); numbers print without a
    /// trailing `.0`.
    pub fn text(&self, i: usize) -> Option<String> {
        match self {
            Values::Number(v) => v[i].map(fmt_number),
            Values::Text(v) => v[i].clone(),
        }
    }

    /// Whether row `i` is missing.
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            Values::Number(v) => v[i].is_none(),
            Values::Text(v) => v[i].is_none(),
        }
    }
}

/// A number as text: integers without a decimal point.
pub fn fmt_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Header name.
    pub name: String,
    /// Its values.
    pub values: Values,
}

/// Whether `path` is read as CSV (by its extension; everything else is
/// Parquet).
pub fn is_csv(path: &Path) -> bool {
    path.extension().is_some_and(|e| {
        e.eq_ignore_ascii_case("csv")
            || e.eq_ignore_ascii_case("txt")
            || e.eq_ignore_ascii_case("tsv")
    })
}

/// A table file's columns and the SHA-256 of the bytes they were decoded
/// from (what a model's lineage records).
#[derive(Debug, Clone)]
pub struct TableFile {
    /// Every column, in file order.
    pub columns: Vec<Column>,
    /// SHA-256 of the file as read, lowercase hex.
    pub sha256: String,
}

/// Reads every column of a Parquet or CSV file, hashing the bytes it
/// decodes: a file replaced or rewritten while it is read is refused or
/// read whole as it was hashed (`tests/own_data.rs`,
/// `a_table_swapped_while_read_gives_the_hashed_file_or_a_refusal`).
pub fn read_table(path: &Path) -> Result<TableFile> {
    let (batches, sha256) = if is_csv(path) {
        read_csv(path)?
    } else {
        read_parquet(path)?
    };
    let Some(first) = batches.first() else {
        return Err(input(path, "has no rows".into()));
    };
    let schema = first.schema();
    let mut out = Vec::new();
    for (j, f) in schema.fields().iter().enumerate() {
        let parts: Vec<ArrayRef> = batches.iter().map(|b| b.column(j).clone()).collect();
        out.push(Column {
            name: f.name().clone(),
            values: convert(path, f.name(), &parts)?,
        });
    }
    Ok(TableFile {
        columns: out,
        sha256,
    })
}

fn input(path: &Path, message: String) -> NsfError {
    NsfError::Input {
        path: path.to_path_buf(),
        message,
    }
}

fn read_parquet(path: &Path) -> Result<(Vec<RecordBatch>, String)> {
    let hint = |e: NsfError| match e {
        NsfError::Input { path, message } if message.starts_with("not a") => NsfError::Input {
            path,
            message: format!("{message}; CSV files need a .csv name"),
        },
        e => e,
    };
    let groups = crate::data::columns::RowGroups::open_as_stored(path, None).map_err(hint)?;
    let parts = vec![(); groups.sizes().len()];
    let (digest, batches) = groups.map_hashed(parts, |(), batch| Ok(batch.clone()));
    Ok((batches?, digest?))
}

fn read_csv(path: &Path) -> Result<(Vec<RecordBatch>, String)> {
    use arrow_csv::reader::{Format, ReaderBuilder};
    use sha2::Digest;
    use std::io::Seek;
    let mut file = File::open(path).map_err(|e| NsfError::io(path, e))?;
    let delimiter = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
    {
        b'\t'
    } else {
        b','
    };
    let format = Format::default()
        .with_header(true)
        .with_delimiter(delimiter)
        .with_null_regex(regex_null());
    let (schema, _) = format
        .infer_schema(&mut file, Some(10_000))
        .map_err(|e| input(path, format!("not a CSV file with a header row: {e}")))?;
    file.rewind().map_err(|e| NsfError::io(path, e))?;
    // The rows are parsed from the bytes hashed, in one pass to the end.
    let mut hasher = sha2::Sha256::new();
    let reader = ReaderBuilder::new(std::sync::Arc::new(schema))
        .with_format(format)
        .with_batch_size(65_536)
        .build(HashingReader {
            inner: file,
            hasher: &mut hasher,
        })
        .map_err(|e| input(path, format!("cannot read as CSV: {e}")))?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            input(
                path,
                format!(
                    "cannot parse (a column's type was inferred from the first 10,000 rows): {e}"
                ),
            )
        })?;
    Ok((batches, hex::encode(hasher.finalize())))
}

/// Hashes what it reads.
struct HashingReader<'a, R> {
    inner: R,
    hasher: &'a mut sha2::Sha256,
}

impl<R: std::io::Read> std::io::Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(self.hasher, &buf[..n]);
        Ok(n)
    }
}

/// Empty fields and the usual spellings of a missing value (pandas'
/// `NaN`, R's `NA`, `null`) are missing.
fn regex_null() -> regex::Regex {
    regex::Regex::new("^(|NA|NaN|nan|null|NULL|None)$").expect("valid pattern")
}

/// Converts one column's chunks: numbers and booleans to f64, everything
/// else to text (via `arrow-cast`).
fn convert(path: &Path, name: &str, parts: &[ArrayRef]) -> Result<Values> {
    let ty = parts[0].data_type().clone();
    let numeric = ty.is_numeric() || ty == DataType::Boolean || ty == DataType::Null;
    let target = if numeric {
        DataType::Float64
    } else {
        DataType::Utf8
    };
    let cast_err = |e: arrow_schema::ArrowError| {
        input(
            path,
            format!("column `{name}` of type {ty} cannot be read: {e}"),
        )
    };
    if numeric {
        let mut v = Vec::new();
        for p in parts {
            let c = arrow_cast::cast(p, &target).map_err(cast_err)?;
            let a = c.as_primitive::<Float64Type>();
            v.extend(
                (0..a.len()).map(|i| (a.is_valid(i) && a.value(i).is_finite()).then(|| a.value(i))),
            );
        }
        Ok(Values::Number(v))
    } else {
        let mut v = Vec::new();
        for p in parts {
            let c = arrow_cast::cast(p, &target).map_err(cast_err)?;
            let a = c.as_string::<i32>();
            v.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_string())));
        }
        Ok(Values::Text(v))
    }
}
