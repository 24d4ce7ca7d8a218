//! Features: which attributes a model may use (identifiers never), and how
//! they become a numeric design matrix (log1p of amounts and counts, 0/1
//! flags, one-hot regions). Plain data in, plain data out.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, UInt8Type, UInt32Type};
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

/// Fills one batch's rows of the design matrix `x` (zeros: a region's
/// one-hot cells are written only where they are 1), a tile of `FILL_TILE` rows
/// at a time: each attribute's values are read from the batch's own buffer
/// and written, transformed, straight into the tile's rows (no
/// intermediate column vectors; the tile stays in cache while all its
/// columns are written). perf on the case's read: computing whole columns
/// first and then copying them row by row cost a fifth of the read's CPU.
pub(crate) fn fill_batch(
    batch: &RecordBatch,
    attributes: &[String],
    x: &mut ndarray::ArrayViewMut2<f32>,
) -> Result<()> {
    let sources = attributes
        .iter()
        .map(|a| Source::of(batch, a))
        .collect::<Result<Vec<_>>>()?;
    let d = x.ncols();
    debug_assert_eq!(sources.iter().map(Source::width).sum::<usize>(), d);
    if d == 0 || x.nrows() == 0 {
        return Ok(());
    }
    let flat = x
        .as_slice_mut()
        .expect("a row range of a standard-layout design matrix");
    for (t, tile) in flat.chunks_mut(FILL_TILE * d).enumerate() {
        let rows = t * FILL_TILE..t * FILL_TILE + tile.len() / d;
        let mut j = 0;
        for s in &sources {
            s.fill(tile, d, j, rows.clone());
            j += s.width();
        }
    }
    Ok(())
}

/// Rows per tile of [`fill_batch`] (35 features: 280 KB, within L2).
const FILL_TILE: usize = 2048;

/// One attribute's values in a batch and how they become feature columns
/// (`transform_names`).
enum Source<'a> {
    /// A number as is (`auto_topup`, ages).
    Plain(Numbers<'a>),
    /// `log1p` of a number (amounts and counts).
    Log1p(Numbers<'a>),
    /// `region`: one-hot, the first region the base (codes: `REGIONS` indices).
    Region(Codes<'a>),
    /// `device_os`: 1 for `ios` (code 1).
    Ios(Codes<'a>),
}

/// A category column's rows as small codes: each string's code, or, when
/// the column was read as a dictionary (`columns::RowGroups` reads
/// `region` and `device_os` so), each key's entry in a table of the
/// dictionary's codes. perf on the case's read: materializing 40 M region
/// strings and finding each one's index cost a tenth of its user CPU.
enum Codes<'a> {
    Strings(&'a arrow_array::StringArray, fn(&str) -> u8),
    /// Keys and the code of each dictionary value. No nulls: `Codes::of`
    /// takes none (the value checks refuse nulls before any fill).
    Keys(&'a [i32], Vec<u8>),
}

/// The code of a null or unknown category.
const NO_CODE: u8 = u8::MAX;

impl<'a> Codes<'a> {
    /// `col`'s codes under `code`; `None` when `col` is neither strings nor
    /// an `Int32` dictionary of strings without nulls.
    fn of(col: &'a arrow_array::ArrayRef, code: fn(&str) -> u8) -> Option<Codes<'a>> {
        if let Some(s) = col.as_string_opt::<i32>() {
            return Some(Codes::Strings(s, code));
        }
        let d = col.as_dictionary_opt::<Int32Type>()?;
        let values = d.values().as_string_opt::<i32>()?;
        let table = values.iter().map(|v| v.map_or(NO_CODE, code)).collect();
        (d.null_count() == 0).then(|| Codes::Keys(d.keys().values(), table))
    }

    /// `f(row, code)` for `out`'s rows, whose batch rows are `rows`.
    fn each<'t>(
        &self,
        out: impl Iterator<Item = &'t mut [f32]>,
        rows: std::ops::Range<usize>,
        mut f: impl FnMut(&mut [f32], u8),
    ) {
        match self {
            Codes::Strings(s, code) => {
                let at = |i| {
                    if s.is_valid(i) {
                        code(s.value(i))
                    } else {
                        NO_CODE
                    }
                };
                out.zip(rows).for_each(|(row, i)| f(row, at(i)));
            }
            Codes::Keys(keys, table) => {
                let code = |k: i32| table.get(k as usize).copied().unwrap_or(NO_CODE);
                out.zip(&keys[rows]).for_each(|(row, &k)| f(row, code(k)));
            }
        }
    }
}

/// A region's `REGIONS` index as a code.
fn region_code(v: &str) -> u8 {
    region_index(v).map_or(NO_CODE, |k| k as u8)
}

/// 1 for `ios`, 0 for anything else.
fn ios_code(v: &str) -> u8 {
    u8::from(v == "ios")
}

/// A numeric column's values (nulls read as their slot's value, as
/// `column_f64` reads them).
enum Numbers<'a> {
    I64(&'a [i64]),
    U32(&'a [u32]),
    U8(&'a [u8]),
    F64(&'a [f64]),
    Bool(&'a arrow_array::BooleanArray),
}

impl<'a> Source<'a> {
    fn of(batch: &'a RecordBatch, attr: &str) -> Result<Source<'a>> {
        let col = column(batch, attr)?;
        let not = |what: &str| not_type(attr, col, what);
        Ok(match attr {
            "region" => Source::Region(Codes::of(col, region_code).ok_or_else(|| not("a string"))?),
            "device_os" => Source::Ios(Codes::of(col, ios_code).ok_or_else(|| not("a string"))?),
            "auto_topup" | "age_years" | "account_age_days" => Source::Plain(numbers(col, &not)?),
            _ => Source::Log1p(numbers(col, &not)?),
        })
    }

    fn width(&self) -> usize {
        match self {
            Source::Region(_) => REGIONS.len() - 1,
            _ => 1,
        }
    }

    /// Writes columns `j..j + width` of `tile` (rows of `d` values), whose
    /// rows are the batch's rows `rows`.
    fn fill(&self, tile: &mut [f32], d: usize, j: usize, rows: std::ops::Range<usize>) {
        let out = tile.chunks_exact_mut(d);
        match self {
            Source::Plain(v) => v.write(out, j, rows, |x| x as f32),
            Source::Log1p(v) => v.write_log1p(out, j, rows),
            // The other cells stay zero (`fill_batch`'s matrix is zeros).
            Source::Region(c) => c.each(out, rows, |row, k| {
                if k != NO_CODE && k > 0 {
                    row[j + k as usize - 1] = 1.0;
                }
            }),
            Source::Ios(c) => c.each(out, rows, |row, k| row[j] = (k == 1) as u8 as f32),
        }
    }
}

/// A numeric column of a batch (the types `column_f64` reads).
fn numbers<'a>(
    col: &'a arrow_array::ArrayRef,
    not: &dyn Fn(&str) -> NsfError,
) -> Result<Numbers<'a>> {
    Ok(match col.data_type() {
        DataType::Int64 => Numbers::I64(col.as_primitive::<Int64Type>().values()),
        DataType::UInt32 => Numbers::U32(col.as_primitive::<UInt32Type>().values()),
        DataType::UInt8 => Numbers::U8(col.as_primitive::<UInt8Type>().values()),
        DataType::Float64 => Numbers::F64(col.as_primitive::<Float64Type>().values()),
        DataType::Boolean => Numbers::Bool(col.as_boolean()),
        _ => return Err(not("numeric")),
    })
}

impl Numbers<'_> {
    /// `f` of each value of `rows` (as `f64`) into column `j` of `out`'s rows.
    fn write<'t>(
        &self,
        out: impl Iterator<Item = &'t mut [f32]>,
        j: usize,
        rows: std::ops::Range<usize>,
        f: impl Fn(f64) -> f32,
    ) {
        fn each<'t, T: Copy>(
            out: impl Iterator<Item = &'t mut [f32]>,
            j: usize,
            v: &[T],
            f: impl Fn(T) -> f32,
        ) {
            for (row, &x) in out.zip(v) {
                row[j] = f(x);
            }
        }
        match self {
            Numbers::I64(v) => each(out, j, &v[rows], |x| f(x as f64)),
            Numbers::U32(v) => each(out, j, &v[rows], |x| f(x as f64)),
            Numbers::U8(v) => each(out, j, &v[rows], |x| f(x as f64)),
            Numbers::F64(v) => each(out, j, &v[rows], f),
            Numbers::Bool(b) => {
                for (row, i) in out.zip(rows) {
                    row[j] = f(b.value(i) as u8 as f64);
                }
            }
        }
    }

    /// [`log1p_f32`] of each value, as `write` would give it; integers
    /// take [`log1p_int`] (no trip through `f64` to find their table
    /// entry: perf put that trip at a third of the read's fill).
    fn write_log1p<'t>(
        &self,
        out: impl Iterator<Item = &'t mut [f32]>,
        j: usize,
        rows: std::ops::Range<usize>,
    ) {
        fn each<'t, T: Copy + Into<i64>>(
            out: impl Iterator<Item = &'t mut [f32]>,
            j: usize,
            v: &[T],
        ) {
            let t = log1p_tables();
            for (row, &x) in out.zip(v) {
                row[j] = log1p_int(x.into(), t);
            }
        }
        match self {
            Numbers::I64(v) => each(out, j, &v[rows]),
            Numbers::U32(v) => each(out, j, &v[rows]),
            Numbers::U8(v) => each(out, j, &v[rows]),
            _ => self.write(out, j, rows, log1p_f32),
        }
    }
}

/// Index into `REGIONS` of a region's name: the one region whose length,
/// first and last byte hash to the name's slot, then one comparison (not
/// 17 per row: perf put the scan at 2.5 % of the case's read).
pub(crate) fn region_index(v: &str) -> Option<usize> {
    static SLOTS: std::sync::OnceLock<[u8; 256]> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        let mut slots = [u8::MAX; 256];
        for (k, r) in REGIONS.iter().enumerate() {
            let slot = &mut slots[region_slot(r.as_bytes())];
            assert_eq!(*slot, u8::MAX, "two regions share a slot");
            *slot = k as u8;
        }
        slots
    });
    let k = slots[region_slot(v.as_bytes())] as usize;
    (REGIONS.get(k)? == &v).then_some(k)
}

/// The slot of a name in `region_index`'s table (distinct for the 17).
fn region_slot(b: &[u8]) -> usize {
    let (first, last) = (b.first().copied(), b.last().copied());
    let h = b.len() + 2 * usize::from(first.unwrap_or(0)) + 3 * usize::from(last.unwrap_or(0));
    h & 0xff
}

/// Small whole numbers whose `log1p` is looked up (counts, zero amounts),
/// and hundreds of won below `100 * LOG1P_TABLE` (amounts: the case's
/// payments and remittances are whole hundreds, most above 65,535).
const LOG1P_TABLE: usize = 1 << 16;

/// `v.max(0).ln_1p()` as `f32`: looked up for whole numbers below
/// `LOG1P_TABLE` and whole hundreds below `100 * LOG1P_TABLE` (the tables
/// hold the same expression's values, so the result is the same bits),
/// computed otherwise.
fn log1p_f32(v: f64) -> f32 {
    // A whole number takes the integer path (one set of table rules).
    let k = v as i64;
    if (k as f64).to_bits() == v.to_bits() {
        return log1p_int(k, log1p_tables());
    }
    v.max(0.0).ln_1p() as f32
}

/// `log1p` of the whole numbers below `LOG1P_TABLE` and of the hundreds
/// below `100 * LOG1P_TABLE`, as `f32`.
fn log1p_tables() -> &'static [Vec<f32>; 2] {
    static TABLES: std::sync::OnceLock<[Vec<f32>; 2]> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        [1, 100].map(|step| {
            (0..LOG1P_TABLE)
                .map(|k| ((k * step) as f64).ln_1p() as f32)
                .collect()
        })
    })
}

/// `(x as f64).max(0).ln_1p()` as `f32`, bit for bit, the table entry
/// found from the integer (`integer_log1p_equals_the_f64_path`).
#[inline]
fn log1p_int(x: i64, [ones, hundreds]: &[Vec<f32>; 2]) -> f32 {
    const N: i64 = LOG1P_TABLE as i64;
    if (0..N).contains(&x) {
        return ones[x as usize];
    }
    if x > 0 && x % 100 == 0 && x / 100 < N {
        return hundreds[(x / 100) as usize];
    }
    (x as f64).max(0.0).ln_1p() as f32
}

/// A boolean or 0/1 column (labels, flags) as `Vec<bool>`.
pub fn flag_column(batches: &[RecordBatch], name: &str) -> Result<Vec<bool>> {
    let mut out = Vec::new();
    for b in batches {
        out.extend(column_f64(b, name)?.into_iter().map(|v| v != 0.0));
    }
    Ok(out)
}

/// Column `name` of `batch`, or the error naming it as missing.
fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a arrow_array::ArrayRef> {
    batch.column_by_name(name).ok_or_else(|| NsfError::Input {
        path: Default::default(),
        message: format!("column `{name}` missing from the data"),
    })
}

/// The error for column `name` (`col`) not being `what`.
fn not_type(name: &str, col: &arrow_array::ArrayRef, what: &str) -> NsfError {
    NsfError::Input {
        path: Default::default(),
        message: format!("column `{name}` has type {}, not {what}", col.data_type()),
    }
}

/// A boolean or 0/1 column's rows written into `out` (as [`flag_column`]
/// reads them: non-zero is true), without a copy of the column.
pub(crate) fn flags_into(batch: &RecordBatch, name: &str, out: &mut [bool]) -> Result<()> {
    let col = column(batch, name)?;
    let not = |what: &str| not_type(name, col, what);
    fn each<T: Copy>(out: &mut [bool], v: &[T], f: impl Fn(T) -> bool) {
        for (o, &x) in out.iter_mut().zip(v) {
            *o = f(x);
        }
    }
    match numbers(col, &not)? {
        Numbers::I64(v) => each(out, v, |x| x as f64 != 0.0),
        Numbers::U32(v) => each(out, v, |x| x != 0),
        Numbers::U8(v) => each(out, v, |x| x != 0),
        Numbers::F64(v) => each(out, v, |x| x != 0.0),
        Numbers::Bool(b) => out
            .iter_mut()
            .enumerate()
            .for_each(|(i, o)| *o = b.value(i)),
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The looked-up `log1p` is the computed one, bit for bit, on whole
    /// numbers, whole hundreds, the tables' edges and other values.
    #[test]
    fn looked_up_log1p_equals_the_computed_one() {
        let computed = |v: f64| v.max(0.0).ln_1p() as f32;
        let mut values: Vec<f64> = vec![-1.0, -0.0, 0.0, 0.5, 99.5, f64::NAN, 1e12];
        for k in (0..8_000_000u64)
            .step_by(97)
            .chain([65_535, 65_536, 6_553_500, 6_553_600])
        {
            values.extend([k as f64, (k * 100) as f64, k as f64 + 0.25]);
        }
        for v in values {
            assert_eq!(log1p_f32(v).to_bits(), computed(v).to_bits(), "{v}");
        }
    }

    /// The integer path gives `log1p_f32` of the integer as `f64`, bit for
    /// bit: the tables' edges, negatives, integers past 2^53 (which `f64`
    /// rounds) and a sweep of whole numbers and hundreds.
    #[test]
    fn integer_log1p_equals_the_f64_path() {
        let t = log1p_tables();
        let mut xs: Vec<i64> = vec![
            i64::MIN,
            -6_553_600,
            -1,
            0,
            1,
            65_535,
            65_536,
            65_600,
            6_553_500,
            6_553_600,
            6_553_700,
            (1 << 53) - 1,
            1 << 53,
            (1 << 53) + 1,
            i64::MAX,
        ];
        for k in (0..8_000_000i64).step_by(97) {
            xs.extend([k, k * 100, k * 10, k * 100 + 1]);
        }
        for x in xs {
            // The expression the tables hold, computed: independent of both paths.
            let want = (x as f64).max(0.0).ln_1p() as f32;
            assert_eq!(log1p_int(x, t).to_bits(), want.to_bits(), "{x}");
            assert_eq!(log1p_f32(x as f64).to_bits(), want.to_bits(), "{x}");
        }
        for v in [0.5, 99.99, 1e6 + 0.25, -0.0, -3.5, 1e300, f64::MAX] {
            let want = v.max(0.0).ln_1p() as f32;
            assert_eq!(log1p_f32(v).to_bits(), want.to_bits(), "{v}");
        }
    }

    #[test]
    fn every_region_is_found_and_nothing_else() {
        for (k, r) in REGIONS.iter().enumerate() {
            assert_eq!(region_index(r), Some(k));
        }
        for v in ["", "Atlantis", "seoul", "Seoulx", "Jeju ", "Gyeong", "ios"] {
            assert_eq!(region_index(v), None, "{v}");
        }
    }
}
