//! Reading a generated data set's columns row group by row group: the
//! file's metadata is parsed once, row groups are decoded in parallel, each
//! is checked (`validate`), turned into its rows of the result (the design
//! matrix and the per-row columns a model reads, or a sample of identifier
//! values) and dropped. Memory holds the result and a few row groups, never
//! the whole file as Arrow batches (at the case scale those were 5.6 GB
//! beside a 5.7 GB design matrix). Refusals are the ones reading the file
//! whole gives (`validate::check_batches`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use ndarray::{Array2, ArrayViewMut2, Axis};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::data::artifact::FileRecord;
use crate::data::chunks::{BoundedFile, Chunks, decode_message};
use crate::data::features::{Design, fill_batch, transform_names};
use crate::data::validate::{self, ColumnChecks};
use crate::error::{NsfError, Result};
use crate::sim::schema::{TRAILING, USER_ID};

/// A Parquet file opened for reading by row groups: one handle, its
/// footer read once and parsed once, shared by every row group's reader.
pub struct RowGroups {
    path: PathBuf,
    file: File,
    /// Where the footer starts, and its bytes (`meta` was parsed from them).
    footer: (u64, Vec<u8>),
    meta: ArrowReaderMetadata,
    chunks: Chunks,
    /// The columns read (`None`: every column).
    columns: Option<Vec<String>>,
}

impl RowGroups {
    /// Opens `path` to read `columns` (each must be present), the string
    /// columns `region` and `device_os` as dictionaries (what the models
    /// read; see `categories_as_dictionaries`).
    pub fn open(path: &Path, columns: &[&str]) -> Result<RowGroups> {
        Self::open_with(path, Some(columns), true)
    }

    /// Like [`RowGroups::open`], every column with the type it is stored
    /// as (what a reader hands to its user); `None` reads every column.
    pub fn open_as_stored(path: &Path, columns: Option<&[&str]>) -> Result<RowGroups> {
        Self::open_with(path, columns, false)
    }

    fn open_with(path: &Path, columns: Option<&[&str]>, dictionaries: bool) -> Result<RowGroups> {
        let file = File::open(path).map_err(|e| input(path, format!("cannot open: {e}")))?;
        let len = file.metadata().map_err(|e| NsfError::io(path, e))?.len();
        // A file that cannot be read at all (a directory, ...) is an I/O
        // error, as the hash's read would report it, not a bad footer.
        file.read_exact_at(&mut [0u8; 4][..len.min(4) as usize], 0)
            .map_err(|e| NsfError::io(path, e))?;
        let footer = crate::data::artifact::parquet_footer(&file, len)
            .map_err(|(stage, e)| input(path, format!("{stage}: {e}")))?;
        let meta = footer.meta;
        for c in columns.unwrap_or_default() {
            if meta.schema().field_with_name(c).is_err() {
                return Err(input(
                    path,
                    format!("has no column `{c}` (not an nsfsim population?)"),
                ));
            }
        }
        Ok(RowGroups {
            path: path.to_path_buf(),
            file,
            footer: (footer.at, footer.bytes),
            chunks: Chunks::of(meta.metadata(), len),
            meta: match dictionaries {
                true => categories_as_dictionaries(meta).map_err(|e| input(path, e.to_string()))?,
                false => meta,
            },
            columns: columns.map(|cs| cs.iter().map(|c| c.to_string()).collect()),
        })
    }

    /// Rows of each row group, in file order.
    pub fn sizes(&self) -> Vec<usize> {
        self.meta
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows() as usize)
            .collect()
    }

    /// Rows in the file.
    pub fn rows(&self) -> usize {
        self.sizes().iter().sum()
    }

    /// Row group `rg`'s columns, read from `file`, as one batch (`None`
    /// when it has no rows).
    fn read(&self, rg: usize, rows: usize, file: BoundedFile) -> Result<Option<RecordBatch>> {
        let path = &self.path;
        let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone());
        let mask = match &self.columns {
            Some(cs) => {
                ProjectionMask::columns(builder.parquet_schema(), cs.iter().map(|c| c.as_str()))
            }
            None => ProjectionMask::all(),
        };
        let mut batches = builder
            .with_projection(mask)
            .with_row_groups(vec![rg])
            .with_batch_size(rows.max(1))
            .build()
            .map_err(|e| input(path, e.to_string()))?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| input(path, format!("cannot decode: {}", decode_message(&e))))?;
        match batches.len() {
            0 => Ok(None),
            1 => Ok(batches.pop()),
            k => Err(input(
                path,
                format!("row group {rg} decoded as {k} batches, not one"),
            )),
        }
    }

    /// `f` of every row group's batch with its part (`parts[rg]`), in
    /// parallel; results in file order. Row groups without rows are skipped.
    ///
    /// The file must be the one `record` describes (its SHA-256), and what
    /// is decoded is what is hashed: one pass reads each row group's bytes
    /// once, hashes them in file order and hands them to the decoders, and
    /// the footer the metadata came from must be the one hashed. A file
    /// replaced or rewritten while it is read is refused or read as it was
    /// hashed, never a mix (`tests/columns.rs`,
    /// `a_file_swapped_while_read_gives_the_hashed_file_or_a_refusal`).
    pub fn map<P: Send, T: Send>(
        &self,
        record: &FileRecord,
        parts: Vec<P>,
        f: impl Fn(P, &RecordBatch) -> Result<T> + Sync,
    ) -> Result<Vec<T>> {
        let (digest, out) = self.map_hashed(parts, f);
        validate::check_digest(&self.path, record, digest?)?;
        out
    }

    /// Like [`RowGroups::map`] for a file no manifest describes: the
    /// SHA-256 of the bytes decoded, and `f`'s results (the digest is
    /// the file's only if it is `Ok`).
    pub fn map_hashed<P: Send, T: Send>(
        &self,
        parts: Vec<P>,
        f: impl Fn(P, &RecordBatch) -> Result<T> + Sync,
    ) -> (Result<String>, Result<Vec<T>>) {
        let sizes = self.sizes();
        let spans = match self.spans() {
            Ok(spans) => spans,
            Err(e) => return (Err(e), Ok(Vec::new())),
        };
        let slots: Vec<Mutex<Option<P>>> = parts.into_iter().map(|p| Mutex::new(Some(p))).collect();
        let (digest, mut out): (Result<String>, Vec<Decoded<T>>) = std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::sync_channel(2);
            let hashing = s.spawn(|| self.hash(&spans, tx));
            let out = rx
                .into_iter()
                .par_bridge()
                .map(|(rg, bytes, start)| {
                    let part = slots[rg].lock().expect("part").take().expect("read once");
                    let file = BoundedFile::span(bytes, start, self.chunks.clone());
                    let batch = self.read(rg, sizes[rg], file);
                    (rg, batch.transpose().map(|b| b.and_then(|b| f(part, &b))))
                })
                .collect();
            (hashing.join().expect("the hashing thread"), out)
        });
        out.sort_by_key(|(rg, _)| *rg);
        (digest, out.into_iter().filter_map(|(_, r)| r).collect())
    }

    /// Each row group's bytes (`Chunks::row_group_spans`), in file order;
    /// refused unless they follow one another without overlap and end
    /// before the footer (as every Parquet writer we know writes them).
    fn spans(&self) -> Result<Vec<(usize, u64, u64)>> {
        let spans = self.chunks.row_group_spans(self.sizes().len());
        let mut at = 0;
        for &(rg, start, end) in spans.iter().chain([&(usize::MAX, self.footer.0, 0)]) {
            if start < at {
                let what = match rg {
                    usize::MAX => "the footer".to_string(),
                    rg => format!("row group {rg}"),
                };
                return Err(input(
                    &self.path,
                    format!(
                        "{what} starts at byte {start}, inside the row group before it (row groups must follow one another; rewrite the file, e.g. with pyarrow)"
                    ),
                ));
            }
            at = end;
        }
        Ok(spans)
    }

    /// The file's SHA-256, read once from start to end: each span's bytes
    /// are sent to `tx` as they are hashed; the footer's bytes must be
    /// those `meta` was parsed from.
    fn hash(
        &self,
        spans: &[(usize, u64, u64)],
        tx: SyncSender<(usize, bytes::Bytes, u64)>,
    ) -> Result<String> {
        let path = &self.path;
        let io = |e: std::io::Error| NsfError::io(path, e);
        let mut h = Sha256::new();
        let mut at = 0;
        for &(rg, start, end) in spans {
            hash_range(&self.file, &mut h, at, start).map_err(io)?;
            let bytes = read_span(&self.file, start, end).map_err(io)?;
            h.update(&bytes);
            at = end;
            // A closed channel: the decoders stopped; the hash goes on.
            let _ = tx.send((rg, bytes.into(), start));
        }
        drop(tx);
        let (footer_at, footer) = &self.footer;
        hash_range(&self.file, &mut h, at, *footer_at).map_err(io)?;
        let tail = read_span(&self.file, *footer_at, self.chunks.file_len()).map_err(io)?;
        h.update(&tail);
        if !tail.starts_with(footer) {
            return Err(input(
                path,
                "changed while it was read: its footer is not the one read first".into(),
            ));
        }
        Ok(hex::encode(h.finalize()))
    }
}

/// A row group's index and what `f` made of it (`None`: no rows).
type Decoded<T> = (usize, Option<Result<T>>);

/// Hashes bytes `from..to` of `file` into `h`.
fn hash_range(file: &File, h: &mut Sha256, mut from: u64, to: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; (to.saturating_sub(from)).min(1 << 20) as usize];
    while from < to {
        let n = buf.len().min((to - from) as usize);
        file.read_exact_at(&mut buf[..n], from)?;
        h.update(&buf[..n]);
        from += n as u64;
    }
    Ok(())
}

/// Bytes `from..to` of `file`.
fn read_span(file: &File, from: u64, to: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; (to - from) as usize];
    file.read_exact_at(&mut buf, from)?;
    Ok(buf)
}

/// `meta` reading the string columns `region` and `device_os` as `Int32`
/// dictionaries of strings: Parquet stores them dictionary-encoded, and
/// the keys need no string per row (`features::Codes`,
/// `validate::check_column`). Columns of any other type are left as they
/// are, to be refused with their type.
fn categories_as_dictionaries(
    meta: ArrowReaderMetadata,
) -> parquet::errors::Result<ArrowReaderMetadata> {
    let schema = meta.schema();
    let is_category = |f: &Field| {
        matches!(f.name().as_str(), "region" | "device_os") && f.data_type() == &DataType::Utf8
    };
    if !schema.fields().iter().any(|f| is_category(f)) {
        return Ok(meta);
    }
    let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .map(|f| match is_category(f) {
            true => Arc::new(f.as_ref().clone().with_data_type(dictionary.clone())),
            false => f.clone(),
        })
        .collect();
    let hinted = Schema::new_with_metadata(fields, schema.metadata().clone());
    let options = ArrowReaderOptions::new().with_schema(Arc::new(hinted));
    ArrowReaderMetadata::try_new(meta.metadata().clone(), options)
}

fn input(path: &Path, message: String) -> NsfError {
    NsfError::Input {
        path: path.to_path_buf(),
        message,
    }
}

/// What a model reads of a generated data set: the row key, the flags and
/// the outcome per row, and the design matrix of its attributes.
pub struct ModelColumns {
    /// `user_id` per row.
    pub user_id: Vec<u64>,
    /// `apple_registered` per row.
    pub registered: Vec<bool>,
    /// `consented` per row.
    pub consented: Vec<bool>,
    /// `nsf` per row.
    pub nsf: Vec<bool>,
    /// `nsf_prob` per row.
    pub nsf_prob: Vec<f64>,
    /// Design matrix of the attributes.
    pub design: Design,
}

/// One row group's share of [`ModelColumns`]: disjoint row ranges.
struct Part<'a> {
    x: ArrayViewMut2<'a, f32>,
    user_id: &'a mut [u64],
    flags: [&'a mut [bool]; 3],
    prob: &'a mut [f64],
}

/// `len` zeros (calloc: fresh pages, not yet touched) whose pages the
/// kernel is asked to back with 2 MiB pages before the first write. perf
/// on `train`'s read: the page faults of filling the new design matrix
/// (zeroing every 4 KiB page) were the largest single cost (13 % of a
/// 1 M-user `train`); on huge pages there are 512 times fewer.
fn zeroed_on_huge_pages<T: Copy + Default>(len: usize) -> Vec<T> {
    let v = vec![T::default(); len];
    advise_huge_pages(v.as_ptr().cast(), len * size_of::<T>());
    v
}

/// Asks Linux to back the whole 4 KiB pages of `bytes` bytes at `start`
/// with transparent huge pages (a hint; elsewhere, or when refused,
/// nothing changes).
pub(crate) fn advise_huge_pages(start: *const u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let from = (start as usize).next_multiple_of(PAGE);
        let to = (start as usize + bytes) / PAGE * PAGE;
        if to >= from + (2 << 20) {
            // SAFETY: whole pages inside one live allocation;
            // MADV_HUGEPAGE changes no contents.
            unsafe {
                libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, bytes);
}

/// Splits `v` into consecutive slices of `sizes`.
fn split_slices<'a, T>(mut v: &'a mut [T], sizes: &[usize]) -> Vec<&'a mut [T]> {
    sizes
        .iter()
        .map(|&n| {
            let (head, tail) = std::mem::take(&mut v).split_at_mut(n);
            v = tail;
            head
        })
        .collect()
}

/// Reads the columns a model of `attributes` needs from the data file at
/// `path` (described by `record`), row group by row group, and checks them
/// (rows, values, unique `user_id`s, the SHA-256 against `record`, on the bytes decoded).
pub fn read_model_columns(
    path: &Path,
    record: &FileRecord,
    attributes: &[String],
) -> Result<ModelColumns> {
    let [registered, consented, nsf, nsf_prob] = TRAILING.map(|c| c.name);
    let mut cols: Vec<&str> = vec![USER_ID.name, registered, consented, nsf, nsf_prob];
    cols.extend(attributes.iter().map(|s| s.as_str()));
    let groups = RowGroups::open(path, &cols)?;
    let sizes = groups.sizes();
    let n: usize = sizes.iter().sum();
    validate::check_rows(path, record, n)?;
    let names: Vec<String> = attributes.iter().flat_map(|a| transform_names(a)).collect();
    let d = names.len();
    let mut x =
        Array2::from_shape_vec((n, d), zeroed_on_huge_pages::<f32>(n * d)).expect("n × d values");
    let mut user_id = zeroed_on_huge_pages::<u64>(n);
    let mut flags = [vec![false; n], vec![false; n], vec![false; n]];
    let mut prob = zeroed_on_huge_pages::<f64>(n);
    {
        let mut rest = x.view_mut();
        let mut xs = Vec::new();
        for &k in &sizes {
            let (head, tail) = rest.split_at(Axis(0), k);
            xs.push(head);
            rest = tail;
        }
        let [f0, f1, f2] = &mut flags;
        let parts: Vec<Part> = xs
            .into_iter()
            .zip(split_slices(&mut user_id, &sizes))
            .zip(split_slices(f0, &sizes))
            .zip(split_slices(f1, &sizes))
            .zip(split_slices(f2, &sizes))
            .zip(split_slices(&mut prob, &sizes))
            .map(|(((((x, user_id), a), b), c), prob)| Part {
                x,
                user_id,
                flags: [a, b, c],
                prob,
            })
            .collect();
        let checks = groups.map(record, parts, |mut part, batch| {
            let checks = validate::check_values(path, batch);
            if checks.clean() {
                fill_model_part(batch, attributes, &mut part).map_err(|e| with_path(e, path))?;
            }
            Ok((checks, batch.schema()))
        })?;
        refuse_first(path, checks)?;
    }
    validate::check_unique(path, &user_id)?;
    let [registered, consented, nsf] = flags;
    Ok(ModelColumns {
        user_id,
        registered,
        consented,
        nsf,
        nsf_prob: prob,
        design: Design { x, names },
    })
}

/// The first refusal of a file's row groups (checks in file order, each
/// with its batch's schema; no batch is kept: a zero-length slice would
/// hold its row group's buffers).
fn refuse_first(path: &Path, checks: Vec<(ColumnChecks, SchemaRef)>) -> Result<()> {
    let Some(schema) = checks.first().map(|(_, s)| s.clone()) else {
        return Ok(());
    };
    validate::first_refusal(path, &schema, checks.into_iter().map(|(c, _)| c).collect())
}

/// A fill error (from `features`, without a path) naming the file.
fn with_path(e: NsfError, path: &Path) -> NsfError {
    match e {
        NsfError::Input { path: p, message } if p.as_os_str().is_empty() => input(path, message),
        other => other,
    }
}

/// Fills one row group's rows of [`ModelColumns`] from its checked batch.
fn fill_model_part(batch: &RecordBatch, attributes: &[String], part: &mut Part) -> Result<()> {
    let ids = batch
        .column_by_name(USER_ID.name)
        .expect("projected")
        .as_primitive::<UInt64Type>();
    part.user_id.copy_from_slice(ids.values());
    let [registered, consented, nsf, nsf_prob] = TRAILING.map(|c| c.name);
    for (out, name) in part.flags.iter_mut().zip([registered, consented, nsf]) {
        crate::data::features::flags_into(batch, name, out)?;
    }
    let p = batch
        .column_by_name(nsf_prob)
        .expect("projected")
        .as_primitive::<Float64Type>();
    part.prob.copy_from_slice(p.values());
    fill_batch(batch, attributes, &mut part.x)
}

/// `columns` of a generated data set's file, every one as stored, one
/// batch per row group, checked against `record` on the bytes decoded (the
/// SHA-256 and rows; see `validate::check_batches` and
/// `validate::check_schema_types` for the values and types).
pub fn read_checked(
    path: &Path,
    record: &FileRecord,
    columns: &[&str],
) -> Result<Vec<RecordBatch>> {
    let groups = RowGroups::open_as_stored(path, Some(columns))?;
    let parts = vec![(); groups.sizes().len()];
    let batches = groups.map(record, parts, |(), batch| Ok(batch.clone()))?;
    validate::check_batches(path, record, &batches)?;
    validate::check_schema_types(path, &batches)?;
    Ok(batches)
}

/// Values of identifier columns (`u64`, or a SHA-256 digest as its first 8
/// bytes read as a little-endian `u64`) at the rows `rows`, as `f64`, one
/// vector per name, read row group by row group and checked like
/// [`read_checked`] (the SHA-256 against `record`, on the bytes decoded).
pub fn identifier_values(
    path: &Path,
    record: &FileRecord,
    names: &[&str],
    rows: &[usize],
) -> Result<Vec<Vec<f64>>> {
    let groups = RowGroups::open(path, names)?;
    let sizes = groups.sizes();
    validate::check_rows(path, record, sizes.iter().sum())?;
    // Rows in increasing order, and where each goes back.
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by_key(|&k| rows[k]);
    let sorted: Vec<usize> = order.iter().map(|&k| rows[k]).collect();
    let mut parts = Vec::with_capacity(sizes.len());
    let (mut start, mut at) = (0usize, 0usize);
    for &k in &sizes {
        let end = at + sorted[at..].partition_point(|&r| r < start + k);
        parts.push((start, &sorted[at..end]));
        (start, at) = (start + k, end);
    }
    let read = groups.map(record, parts, |(first, wanted), batch| {
        let checks = validate::check_values(path, batch);
        let one = std::slice::from_ref(batch);
        let types = validate::check_schema_types(path, one).err();
        let values: Vec<Vec<f64>> = if checks.clean() && types.is_none() {
            names
                .iter()
                .map(|name| identifier_at(batch, name, first, wanted))
                .collect()
        } else {
            Vec::new()
        };
        Ok(((checks, batch.schema()), (types, values)))
    })?;
    let (checks, values): (Vec<_>, Vec<_>) = read.into_iter().unzip();
    refuse_first(path, checks)?;
    // Types after values, as `read_checked` refuses them.
    let (types, values): (Vec<_>, Vec<_>) = values.into_iter().unzip();
    if let Some(e) = types.into_iter().flatten().next() {
        return Err(e);
    }
    let mut out: Vec<Vec<f64>> = vec![vec![0.0; rows.len()]; names.len()];
    for (j, column) in out.iter_mut().enumerate() {
        let mut k = 0;
        for v in &values {
            for &x in &v[j] {
                column[order[k]] = x;
                k += 1;
            }
        }
    }
    Ok(out)
}

/// One identifier column's values at `wanted` (file rows, increasing) of a
/// row group starting at row `first`.
fn identifier_at(batch: &RecordBatch, name: &str, first: usize, wanted: &[usize]) -> Vec<f64> {
    let c = batch.column_by_name(name).expect("projected");
    if let Some(p) = c.as_primitive_opt::<UInt64Type>() {
        wanted.iter().map(|&r| p.value(r - first) as f64).collect()
    } else {
        let f = c.as_fixed_size_binary();
        wanted
            .iter()
            .map(|&r| {
                let bytes: [u8; 8] = f.value(r - first)[..8].try_into().expect("32-byte digest");
                u64::from_le_bytes(bytes) as f64
            })
            .collect()
    }
}
