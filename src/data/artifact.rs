//! Artifact I/O: the filesystem primitives the stages share (the registry's
//! layout is `lineage::registry`'s, plot images are written by
//! `report::plot`, the stream's folders by `stream::shard`). Output folders
//! are staged under a hidden temporary name and renamed into place when
//! complete; data files are hashed (SHA-256) as they are written; Parquet row
//! groups are encoded in parallel in memory and appended in order.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowSchemaConverter;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::data::chunks::{BoundedFile, Chunks, decode_message};
use crate::error::{NsfError, Result};

/// A `Write` that keeps a running SHA-256 and byte count of what passes.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Record of one written data file (goes into manifests).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, schemars::JsonSchema)]
pub struct FileRecord {
    /// File name relative to its folder.
    pub name: String,
    /// Data rows.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
}

/// An output folder being written: a hidden staging folder beside the final
/// path, renamed into place by `commit`. Dropping it without commit removes
/// the staging folder.
pub struct StagedDir {
    final_path: PathBuf,
    staging: PathBuf,
    replace: bool,
    committed: bool,
}

impl StagedDir {
    /// `create_for(out, force, "population")`: the output of `generate`.
    pub fn create(out: &Path, force: bool) -> Result<StagedDir> {
        Self::create_for(out, force, "population")
    }

    /// Checks the destination and creates the staging folder. An existing
    /// destination needs `force`, and is only replaced if it is empty or an
    /// nsfsim output of the same `kind`, recognized by content: its
    /// `manifest.json` has that kind and an nsfsim version, and lists every
    /// file in the folder. Staging folders left by killed runs of the same
    /// output are removed.
    pub fn create_for(out: &Path, force: bool, kind: &str) -> Result<StagedDir> {
        let out_err = |message: String| NsfError::Output {
            path: out.to_path_buf(),
            message,
        };
        let mut replace = false;
        if out.exists() || out.is_symlink() {
            if !force {
                return Err(out_err("already exists (use --force to replace it)".into()));
            }
            if out.is_symlink() || !out.is_dir() {
                return Err(out_err(
                    "exists and is not a folder; refusing to replace it".into(),
                ));
            }
            let empty = fs::read_dir(out)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !empty {
                replaceable_output(out, kind).map_err(out_err)?;
            }
            replace = true;
        }
        let name = out
            .file_name()
            .ok_or_else(|| out_err("needs a folder name".into()))?
            .to_string_lossy()
            .to_string();
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent)
            .map_err(|e| out_err(format!("cannot create parent folder: {e}")))?;
        remove_dead_partials(&parent, &format!(".{name}.partial-"));
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if staging.exists() {
            let _ = fs::remove_dir_all(&staging);
        }
        fs::create_dir(&staging).map_err(|e| out_err(format!("not writable: {e}")))?;
        Ok(StagedDir {
            final_path: out.to_path_buf(),
            staging,
            replace,
            committed: false,
        })
    }

    /// Where the output goes.
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// The staging folder.
    pub fn staging_path(&self) -> &Path {
        &self.staging
    }

    /// Path of a file inside the staging folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// Writes a JSON document into the staging folder.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let path = self.path(name);
        fault_disk_full(&path);
        let mut text = serde_json::to_string_pretty(value).map_err(|e| NsfError::Output {
            path: path.clone(),
            message: e.to_string(),
        })?;
        text.push('\n');
        fs::write(&path, text).map_err(|e| NsfError::io(&path, e))
    }

    /// Writes a text file into the staging folder.
    pub fn write_text(&self, name: &str, text: &str) -> Result<()> {
        let path = self.path(name);
        fault_disk_full(&path);
        fs::write(&path, text).map_err(|e| NsfError::io(&path, e))
    }

    /// Renames the staging folder into place (replacing an old output).
    /// The old output is moved aside first and removed only once the new
    /// one is in place (put back if that fails).
    pub fn commit(mut self) -> Result<PathBuf> {
        let mut old = None;
        if self.replace && self.final_path.exists() {
            let mut aside = self.staging.as_os_str().to_os_string();
            aside.push(".old");
            let aside = PathBuf::from(aside);
            fs::rename(&self.final_path, &aside).map_err(|e| NsfError::io(&self.final_path, e))?;
            fault_point("replace-aside");
            old = Some(aside);
        }
        if let Err(e) = fs::rename(&self.staging, &self.final_path) {
            if let Some(aside) = &old {
                let _ = fs::rename(aside, &self.final_path);
            }
            return Err(NsfError::io(&self.final_path, e));
        }
        self.committed = true;
        fault_point("publish-folder");
        if let Some(aside) = old {
            fs::remove_dir_all(&aside).map_err(|e| NsfError::io(&aside, e))?;
        }
        Ok(self.final_path.clone())
    }
}

/// Whether `out` (a non-empty folder) is an nsfsim output of `kind` whose
/// manifest lists every file in it; the reason when not.
fn replaceable_output(out: &Path, kind: &str) -> std::result::Result<(), String> {
    let text = fs::read_to_string(out.join("manifest.json")).map_err(|_| {
        "exists and is not an nsfsim output (no manifest.json); refusing to replace it".to_string()
    })?;
    let m: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
        "exists and its manifest.json is not an nsfsim manifest; refusing to replace it".to_string()
    })?;
    let found = m["kind"].as_str().unwrap_or("");
    if found != kind || !m["nsfsim_version"].is_string() {
        return Err(format!(
            "exists and is not an nsfsim {kind} output (its manifest says kind `{found}`); refusing to replace it"
        ));
    }
    let listed = listed_files(&m);
    let files = files_under(out).map_err(|e| e.to_string())?;
    for f in files {
        let rel = f
            .strip_prefix(out)
            .unwrap_or(&f)
            .to_string_lossy()
            .to_string();
        let ok = rel == "manifest.json"
            || listed
                .iter()
                .any(|l| &rel == l || (l.ends_with('/') && rel.starts_with(l.as_str())));
        if !ok {
            return Err(format!(
                "holds `{rel}`, which its manifest does not list; refusing to replace it"
            ));
        }
    }
    Ok(())
}

/// The files a manifest lists: `files` entries as names (`"plots/"` is a
/// folder) or objects with a `name`.
pub fn listed_files(m: &serde_json::Value) -> Vec<String> {
    m["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().or_else(|| f["name"].as_str()).map(String::from))
        .collect()
}

/// Removes staging folders or files in `parent` whose name starts with
/// `prefix` and holds `.partial-<pid>` of a process that is gone (left by a
/// killed run).
pub fn remove_dead_partials(parent: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.starts_with(prefix) {
            continue;
        }
        let Some((_, rest)) = name.rsplit_once(".partial-") else {
            continue;
        };
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let Ok(pid) = digits.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                let _ = fs::remove_dir_all(&p);
            } else {
                let _ = fs::remove_file(&p);
            }
        }
    }
}

/// A publish step for fault-injection tests: with the `fault-injection`
/// feature and `NSFSIM_FAULT_AFTER=k`, the process aborts at the k-th step
/// (1-based), naming it on stderr. Without the feature it compiles to
/// nothing.
#[inline]
pub fn fault_point(step: &str) {
    #[cfg(feature = "fault-injection")]
    {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNT: AtomicU64 = AtomicU64::new(0);
        if let Some(k) = std::env::var("NSFSIM_FAULT_AFTER")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
            if n == k {
                eprintln!("fault injected after step {n} ({step})");
                std::process::abort();
            }
        }
    }
    let _ = step;
}

/// A full disk for fault-injection tests: with the `fault-injection`
/// feature and `NSFSIM_FAULT_FULL=<suffix>`, the file about to be written at
/// `path` (when its path ends with the suffix) is made a symbolic link to
/// `/dev/full`, so writing it fails with the kernel's own ENOSPC through the
/// real error path. Without the feature it compiles to nothing.
#[inline]
pub fn fault_disk_full(path: &Path) {
    #[cfg(all(feature = "fault-injection", unix))]
    {
        if let Ok(suffix) = std::env::var("NSFSIM_FAULT_FULL")
            && !suffix.is_empty()
            && path.to_string_lossy().ends_with(&suffix)
        {
            let _ = std::os::unix::fs::symlink("/dev/full", path);
        }
    }
    let _ = path;
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// A row group encoded in memory, ready to append.
pub enum EncodedChunk {
    /// Parquet column chunks of one row group.
    Parquet(Vec<ArrowColumnChunk>),
    /// CSV text (header only in the first chunk).
    Csv(Vec<u8>),
}

/// Streams record batches into one data file (Parquet or CSV), one row group
/// per batch, hashing as it writes.
pub enum TableWriter {
    /// Parquet (zstd).
    Parquet {
        /// The file writer.
        writer: SerializedFileWriter<HashingWriter<BufWriter<File>>>,
        /// Path written.
        path: PathBuf,
        /// Rows written.
        rows: u64,
    },
    /// CSV with a header line.
    Csv {
        /// The file.
        writer: HashingWriter<BufWriter<File>>,
        /// Path written.
        path: PathBuf,
        /// Rows written.
        rows: u64,
    },
}

/// Makes the encoders of each row group; lives apart from the `TableWriter`
/// so that encoding (worker threads) and appending (a writer thread) overlap.
pub struct EncoderFactory {
    parquet: Option<(ArrowRowGroupWriterFactory, SchemaRef, PathBuf)>,
}

impl EncoderFactory {
    /// Encoder for row group `index` (its own column writers).
    pub fn encoder(&self, index: usize) -> Result<ChunkEncoder> {
        match &self.parquet {
            Some((factory, schema, path)) => {
                let writers =
                    factory
                        .create_column_writers(index)
                        .map_err(|e| NsfError::Parquet {
                            path: path.clone(),
                            message: e.to_string(),
                        })?;
                Ok(ChunkEncoder {
                    parquet: Some((writers, Arc::clone(schema))),
                    csv_header: false,
                })
            }
            None => Ok(ChunkEncoder {
                parquet: None,
                csv_header: index == 0,
            }),
        }
    }
}

/// Encoders for one Parquet row group (or nothing for CSV).
pub struct ChunkEncoder {
    parquet: Option<(Vec<ArrowColumnWriter>, SchemaRef)>,
    csv_header: bool,
}

impl ChunkEncoder {
    /// Encodes a batch in memory; CPU only, safe to run on worker threads.
    pub fn encode(self, batch: &RecordBatch) -> std::result::Result<EncodedChunk, String> {
        match self.parquet {
            Some((mut writers, schema)) => {
                let mut w = writers.iter_mut();
                for (array, field) in batch.columns().iter().zip(schema.fields()) {
                    for leaf in compute_leaves(field, array).map_err(|e| e.to_string())? {
                        w.next()
                            .ok_or("column count mismatch")?
                            .write(&leaf)
                            .map_err(|e| e.to_string())?;
                    }
                }
                let chunks = writers
                    .into_iter()
                    .map(|c| c.close().map_err(|e| e.to_string()))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(EncodedChunk::Parquet(chunks))
            }
            None => {
                let mut buf = Vec::new();
                let mut w = arrow_csv::WriterBuilder::new()
                    .with_header(self.csv_header)
                    .build(&mut buf);
                w.write(batch).map_err(|e| e.to_string())?;
                drop(w);
                Ok(EncodedChunk::Csv(buf))
            }
        }
    }
}

/// Columns with (nearly) unique values — identifiers, KRW amounts, the
/// probability: a dictionary never pays there and trying one costs time.
const NO_DICTIONARY: [&str; 15] = [
    "user_id",
    "account_id",
    "customer_no",
    "phone_sha256",
    "email_sha256",
    "balance_krw",
    "balance_avg_30d_krw",
    "balance_min_30d_krw",
    "withdrawal_amount_30d_krw",
    "payment_amount_30d_krw",
    "remit_sent_amount_30d_krw",
    "remit_received_amount_30d_krw",
    "card_payment_amount_30d_krw",
    "nsf_prob",
    "account_age_days",
];

/// SHA-256 digests: random bytes, so compression and min/max statistics
/// only cost time.
const DIGESTS: [&str; 2] = ["phone_sha256", "email_sha256"];

fn create_file(path: &Path) -> Result<HashingWriter<BufWriter<File>>> {
    let f = File::create(path).map_err(|e| NsfError::io(path, e))?;
    Ok(HashingWriter::new(BufWriter::with_capacity(1 << 16, f)))
}

impl TableWriter {
    /// Opens a Parquet file (zstd level 1, one row group per batch).
    pub fn parquet(
        path: &Path,
        schema: SchemaRef,
        row_group_rows: usize,
    ) -> Result<(TableWriter, EncoderFactory)> {
        Self::parquet_with_metadata(path, schema, row_group_rows, &[])
    }

    /// Like [`TableWriter::parquet`], with key-value entries in the file's
    /// footer (how a score file names the model it derives from).
    pub fn parquet_with_metadata(
        path: &Path,
        schema: SchemaRef,
        row_group_rows: usize,
        metadata: &[(&str, String)],
    ) -> Result<(TableWriter, EncoderFactory)> {
        Self::parquet_with_layout(path, schema, row_group_rows, metadata, &[], &[])
    }

    /// Like [`TableWriter::parquet_with_metadata`], with the integer
    /// columns `delta` written DELTA_BINARY_PACKED without compression (no
    /// dictionary), and the columns `raw` without compression: what
    /// `generate` does with `users.parquet` (see `generate::DELTA_COLUMNS`).
    pub fn parquet_with_layout(
        path: &Path,
        schema: SchemaRef,
        row_group_rows: usize,
        metadata: &[(&str, String)],
        delta: &[&str],
        raw: &[&str],
    ) -> Result<(TableWriter, EncoderFactory)> {
        let perr = |e: parquet::errors::ParquetError| NsfError::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).map_err(perr)?))
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_max_row_group_row_count(Some(row_group_rows));
        for c in NO_DICTIONARY {
            props = props.set_column_dictionary_enabled(ColumnPath::from(c), false);
        }
        for c in DIGESTS {
            props = props
                .set_column_compression(ColumnPath::from(c), Compression::UNCOMPRESSED)
                .set_column_statistics_enabled(ColumnPath::from(c), EnabledStatistics::None);
        }
        for &c in delta {
            props = props
                .set_column_dictionary_enabled(ColumnPath::from(c), false)
                .set_column_encoding(ColumnPath::from(c), Encoding::DELTA_BINARY_PACKED)
                .set_column_compression(ColumnPath::from(c), Compression::UNCOMPRESSED);
        }
        for &c in raw {
            props = props.set_column_compression(ColumnPath::from(c), Compression::UNCOMPRESSED);
        }

        if !metadata.is_empty() {
            props = props.set_key_value_metadata(Some(
                metadata
                    .iter()
                    .map(|(k, v)| parquet::file::metadata::KeyValue::new(k.to_string(), v.clone()))
                    .collect(),
            ));
        }
        let props = Arc::new(props.build());
        let parquet_schema = ArrowSchemaConverter::new()
            .with_coerce_types(props.coerce_types())
            .convert(&schema)
            .map_err(perr)?;
        let file = create_file(path)?;
        let writer = SerializedFileWriter::new(file, parquet_schema.root_schema_ptr(), props)
            .map_err(perr)?;
        let factory = ArrowRowGroupWriterFactory::new(&writer, Arc::clone(&schema));
        Ok((
            TableWriter::Parquet {
                writer,
                path: path.to_path_buf(),
                rows: 0,
            },
            EncoderFactory {
                parquet: Some((factory, schema, path.to_path_buf())),
            },
        ))
    }

    /// Opens a CSV file.
    pub fn csv(path: &Path) -> Result<(TableWriter, EncoderFactory)> {
        Ok((
            TableWriter::Csv {
                writer: create_file(path)?,
                path: path.to_path_buf(),
                rows: 0,
            },
            EncoderFactory { parquet: None },
        ))
    }

    /// Appends an encoded chunk of `rows` rows (in order).
    pub fn append(&mut self, chunk: EncodedChunk, rows: u64) -> Result<()> {
        match (self, chunk) {
            (
                TableWriter::Parquet {
                    writer,
                    path,
                    rows: n,
                    ..
                },
                EncodedChunk::Parquet(cols),
            ) => {
                let perr = |e: parquet::errors::ParquetError| NsfError::Parquet {
                    path: path.clone(),
                    message: e.to_string(),
                };
                let mut rg = writer.next_row_group().map_err(perr)?;
                for c in cols {
                    c.append_to_row_group(&mut rg).map_err(perr)?;
                }
                rg.close().map_err(perr)?;
                *n += rows;
                Ok(())
            }
            (
                TableWriter::Csv {
                    writer,
                    path,
                    rows: n,
                },
                EncodedChunk::Csv(buf),
            ) => {
                writer
                    .write_all(&buf)
                    .map_err(|e| NsfError::io(path.as_path(), e))?;
                *n += rows;
                Ok(())
            }
            _ => Err(NsfError::Output {
                path: PathBuf::new(),
                message: "internal: chunk format does not match the file".into(),
            }),
        }
    }

    /// Flushes and closes the file; returns its record.
    pub fn finish(self) -> Result<FileRecord> {
        let (mut hw, path, rows) = match self {
            TableWriter::Parquet {
                writer, path, rows, ..
            } => {
                let hw = writer.into_inner().map_err(|e| NsfError::Parquet {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                (hw, path, rows)
            }
            TableWriter::Csv { writer, path, rows } => (writer, path, rows),
        };
        hw.flush().map_err(|e| NsfError::io(&path, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        Ok(FileRecord {
            name,
            rows,
            bytes: hw.bytes,
            sha256: hex::encode(hw.hasher.finalize()),
        })
    }
}

/// SHA-256 of a file's content, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| NsfError::io(path, e))?;
    sha256_of(&mut f).map_err(|e| NsfError::io(path, e))
}

/// SHA-256 of what `r` reads to its end.
fn sha256_of(r: &mut impl std::io::Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Opens a Parquet file for reading, its footer checked (walked before the
/// crate parses it, `data::chunks::check_footer`; every column chunk must
/// lie inside the file), and every page is read within its
/// chunk, its header checked first (`data::chunks`).
pub fn open_parquet(
    path: &Path,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder<BoundedFile>> {
    let input_err = |message: String| NsfError::Input {
        path: path.to_path_buf(),
        message,
    };
    let file = File::open(path).map_err(|e| input_err(format!("cannot open: {e}")))?;
    let len = file.metadata().map_err(|e| NsfError::io(path, e))?.len();
    let (file, meta) =
        bounded_parquet(file, len).map_err(|(stage, e)| input_err(format!("{stage}: {e}")))?;
    Ok(
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::new_with_metadata(
            file, meta,
        ),
    )
}

/// An open Parquet file's metadata (the file is `len` bytes long), its
/// chunk ranges checked, and the file wrapped to read pages within their
/// chunks; on failure the stage ("not a Parquet file", "not a valid
/// Parquet file") and the reason.
pub fn bounded_parquet(
    file: File,
    len: u64,
) -> std::result::Result<(BoundedFile, ArrowReaderMetadata), (&'static str, String)> {
    let footer = parquet_footer(&file, len)?;
    let chunks = Chunks::of(footer.meta.metadata(), len);
    Ok((BoundedFile::new(file, chunks), footer.meta))
}

/// A Parquet file's footer: its bytes, read once, and the metadata parsed
/// from exactly those bytes (walked first, `data::chunks::walk_footer`;
/// every column chunk inside the file).
pub struct Footer {
    /// Where the footer's bytes start in the file.
    pub at: u64,
    /// The footer's bytes (without the 8-byte length and `PAR1` after them).
    pub bytes: Vec<u8>,
    /// The metadata they hold.
    pub meta: ArrowReaderMetadata,
}

/// Reads and checks the footer of `file` (`len` bytes long); on failure the
/// stage ("not a Parquet file", "not a valid Parquet file") and the reason.
pub fn parquet_footer(
    file: &File,
    len: u64,
) -> std::result::Result<Footer, (&'static str, String)> {
    use crate::data::chunks::{footer_bytes, walk_footer};
    let Some(bytes) = footer_bytes(file, len).map_err(|e| ("not a valid Parquet file", e))? else {
        // No Parquet tail: the crate's own message says what is wrong.
        let e = ArrowReaderMetadata::load(file, ArrowReaderOptions::new())
            .err()
            .map_or_else(|| "it has no Parquet footer".to_string(), |e| e.to_string());
        return Err(("not a Parquet file", e));
    };
    walk_footer(&bytes).map_err(|e| ("not a valid Parquet file", e))?;
    let parsed = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&bytes)
        .and_then(|m| ArrowReaderMetadata::try_new(Arc::new(m), ArrowReaderOptions::new()))
        .map_err(|e| ("not a Parquet file", e.to_string()))?;
    check_chunk_ranges(parsed.metadata(), len).map_err(|e| ("not a valid Parquet file", e))?;
    Ok(Footer {
        at: len - 8 - bytes.len() as u64,
        bytes,
        meta: parsed,
    })
}

/// Refuses a footer whose column chunks lie outside the file (a negative or
/// past-the-end offset or size): the parquet crate asserts on those instead
/// of returning an error (found by `tests/fuzz_stable.rs`; the input is
/// kept in `fuzz/regressions/parquet_data/`).
pub fn check_chunk_ranges(
    meta: &parquet::file::metadata::ParquetMetaData,
    file_len: u64,
) -> std::result::Result<(), String> {
    for (g, rg) in meta.row_groups().iter().enumerate() {
        for c in rg.columns() {
            let start = c.dictionary_page_offset().unwrap_or(c.data_page_offset());
            let len = c.compressed_size();
            let inside =
                start >= 0 && len >= 0 && (start as u64).saturating_add(len as u64) <= file_len;
            if !inside {
                return Err(format!(
                    "row group {g}, column `{}`: chunk at byte {start}, {len} bytes long, lies outside the file ({file_len} bytes)",
                    c.column_path()
                ));
            }
        }
    }
    Ok(())
}

/// Reads the named columns of a Parquet data file as record batches, in row
/// order. Missing columns are an error naming the file.
pub fn read_parquet_columns(path: &Path, columns: &[&str]) -> Result<Vec<RecordBatch>> {
    use parquet::arrow::ProjectionMask;
    let input_err = |message: String| NsfError::Input {
        path: path.to_path_buf(),
        message,
    };
    let builder = open_parquet(path)?;
    let present: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    for c in columns {
        if !present.iter().any(|p| p == c) {
            return Err(input_err(format!(
                "has no column `{c}` (not an nsfsim population?)"
            )));
        }
    }
    // Row groups are decoded in parallel, each by its own reader, and
    // concatenated in file order.
    let row_groups = builder.metadata().num_row_groups();
    drop(builder);
    use rayon::prelude::*;
    let parts: Vec<Result<Vec<RecordBatch>>> = (0..row_groups)
        .into_par_iter()
        .map(|rg| {
            let builder = open_parquet(path)?;
            let mask = ProjectionMask::columns(builder.parquet_schema(), columns.iter().copied());
            builder
                .with_projection(mask)
                .with_row_groups(vec![rg])
                .with_batch_size(1 << 20)
                .build()
                .map_err(|e| input_err(e.to_string()))?
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| input_err(format!("cannot decode: {}", decode_message(&e))))
        })
        .collect();
    let mut out = Vec::new();
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// Writes JSON to `path` through a temporary name and a rename.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let tmp = partial_path(path);
    let mut text = serde_json::to_string_pretty(value).map_err(|e| NsfError::Output {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    text.push('\n');
    fs::write(&tmp, text).map_err(|e| NsfError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| NsfError::io(path, e))?;
    fault_point("write-json");
    Ok(())
}

/// The temporary name `path` is written under before its rename:
/// `<path>.partial-<pid>`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".partial-{}", std::process::id()));
    PathBuf::from(s)
}

/// Every regular file under `dir` (recursively), sorted by path. Symbolic
/// links are not followed (no loops, nothing outside `dir`).
pub fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| NsfError::io(&d, e))?;
        for e in entries {
            let e = e.map_err(|e| NsfError::io(&d, e))?;
            let t = e.file_type().map_err(|err| NsfError::io(e.path(), err))?;
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Removes a staging file or folder left by an interrupted publish (never
/// following a symbolic link).
pub fn remove_staging(p: &Path) -> Result<FileFate> {
    let Ok(m) = fs::symlink_metadata(p) else {
        return Ok(FileFate::AlreadyAbsent);
    };
    if m.is_dir() {
        fs::remove_dir_all(p).map_err(|e| NsfError::io(p, e))?;
    } else {
        fs::remove_file(p).map_err(|e| NsfError::io(p, e))?;
    }
    Ok(FileFate::Deleted)
}

/// Writes text to `path` through a temporary name and a rename.
pub fn write_text_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = partial_path(path);
    fs::write(&tmp, text).map_err(|e| NsfError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| NsfError::io(path, e))
}

/// Size of a file, or `None` when it does not exist.
pub fn file_size(path: &Path) -> Option<u64> {
    fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

/// What happened to a file a destruction order named.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum FileFate {
    /// It had the recorded content and was deleted.
    Deleted,
    /// It was already gone.
    AlreadyAbsent,
    /// A file with other content is at that path now; it was kept.
    ChangedKept,
}

/// Deletes `path` if it is a regular file whose SHA-256 is `sha256`, and
/// never other content: the file is first moved aside (one atomic rename to
/// `aside_path`), hashed through a handle that does not follow symbolic
/// links, and that same file is unlinked only if it has the recorded
/// content; otherwise it is moved back. A file put at `path` meanwhile is
/// not touched. With `overwrite`, the content is first overwritten with
/// zeros through that handle and flushed. A run killed in between leaves
/// the file under the aside name, where running the order again finds it.
/// Then removes `path`'s parent folders up to `levels` up while empty.
/// (`tests/destroy.rs`: `a_file_replaced_while_destroy_checks_it_is_never_deleted`.)
pub fn delete_if_unchanged(
    path: &Path,
    sha256: &str,
    levels: usize,
    overwrite: bool,
) -> Result<FileFate> {
    let aside = aside_path(path);
    let mut fate = FileFate::AlreadyAbsent;
    if fs::symlink_metadata(&aside).is_ok() {
        fate = delete_aside(&aside, path, sha256, overwrite)?;
        // Kept: put back at `path` (checked just now), or left aside beside
        // a file at `path`, which must not be renamed over it.
        if fate == FileFate::ChangedKept {
            return Ok(fate);
        }
    }
    if let Ok(m) = fs::symlink_metadata(path) {
        // A link or a folder in its place is not the recorded file.
        if !m.is_file() {
            return Ok(FileFate::ChangedKept);
        }
        fs::rename(path, &aside).map_err(|e| NsfError::io(path, e))?;
        fate = delete_aside(&aside, path, sha256, overwrite)?;
    }
    if fate == FileFate::Deleted {
        let mut dir = path.parent();
        for _ in 0..levels {
            match dir {
                Some(d) if fs::remove_dir(d).is_ok() => dir = d.parent(),
                _ => break,
            }
        }
    }
    Ok(fate)
}

/// Moves `aside` back to `path` without replacing a file put there
/// meanwhile (which leaves it aside). A hard link is the atomic way; a file
/// system without them gets a rename after a look.
fn put_back(aside: &Path, path: &Path) -> Result<()> {
    let io = |e| NsfError::io(aside, e);
    match fs::hard_link(aside, path) {
        Ok(()) => fs::remove_file(aside).map_err(io),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(_) if fs::symlink_metadata(path).is_err() => fs::rename(aside, path).map_err(io),
        Err(_) => Ok(()),
    }
}

/// Where [`delete_if_unchanged`] moves `path` before checking it: a hidden
/// name beside it.
pub fn aside_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.nsfsim-destroying"))
}

/// Deletes the file moved to `aside` if it is the recorded content, else
/// moves it back to `path` (unless a file is there now: then it stays
/// aside, kept).
fn delete_aside(aside: &Path, path: &Path, sha256: &str, overwrite: bool) -> Result<FileFate> {
    use std::io::{Read, Seek};
    use std::os::unix::fs::OpenOptionsExt;
    let io = |e| NsfError::io(aside, e);
    let opened = fs::OpenOptions::new()
        .read(true)
        .write(overwrite)
        .custom_flags(libc::O_NOFOLLOW)
        .open(aside);
    let opened = match opened {
        Ok(f) => Some(f),
        // A symbolic link put at the aside name.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => None,
        Err(e) => return Err(io(e)),
    };
    let same = match opened {
        Some(f)
            if f.metadata().map_err(io)?.is_file() && sha256_of(&mut &f).map_err(io)? == sha256 =>
        {
            Some(f)
        }
        _ => None,
    };
    let Some(mut f) = same else {
        put_back(aside, path)?;
        return Ok(FileFate::ChangedKept);
    };
    if overwrite {
        let len = f.metadata().map_err(io)?.len();
        f.rewind().map_err(io)?;
        std::io::copy(&mut std::io::repeat(0).take(len), &mut f).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    fs::remove_file(aside).map_err(io)?;
    Ok(FileFate::Deleted)
}

/// Scans every file under `roots` whose size is a key of `targets` and
/// whose SHA-256 is in that key's list; returns (files looked at, matches as
/// (path, sha256)), sorted by path. Missing roots are skipped.
pub fn find_by_content(
    roots: &[PathBuf],
    targets: &std::collections::HashMap<u64, Vec<String>>,
) -> Result<(u64, Vec<(PathBuf, String)>)> {
    use rayon::prelude::*;
    let mut files = Vec::new();
    for r in roots.iter().filter(|r| r.is_dir()) {
        files.extend(files_under(r)?);
    }
    files.sort();
    files.dedup();
    let seen = files.len() as u64;
    let hits: Vec<(PathBuf, String)> = files
        .par_iter()
        .filter_map(|p| {
            let want = targets.get(&file_size(p)?)?;
            let h = sha256_file(p).ok()?;
            want.contains(&h).then(|| (p.clone(), h))
        })
        .collect();
    Ok((seen, hits))
}

/// Removes `dir` and its sub-folders bottom-up while they are empty (a folder
/// that still holds a file stays, with its ancestors).
pub fn remove_empty_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_empty_tree(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

/// The key-value entries of a Parquet file's footer (`None` when it is not
/// a readable Parquet file).
pub fn parquet_key_values(path: &Path) -> Option<Vec<(String, String)>> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    crate::data::chunks::check_footer(&f, len).ok()?;
    let r = SerializedFileReader::new(f).ok()?;
    let kv = r.metadata().file_metadata().key_value_metadata()?;
    Some(
        kv.iter()
            .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
            .collect(),
    )
}

/// The nearest folder at or above `p` whose `manifest.json` has `kind`
/// `population` (a data set), if any.
pub fn enclosing_data_set(p: &Path) -> Option<PathBuf> {
    let mut dir = if p.is_dir() { Some(p) } else { p.parent() };
    while let Some(d) = dir {
        if let Ok(text) = fs::read_to_string(d.join("manifest.json"))
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && v["kind"] == "population"
        {
            return Some(d.to_path_buf());
        }
        dir = d.parent();
    }
    None
}

/// Checks a single-file output path before anything is computed: an
/// existing file needs `force` (a folder or symlink is never replaced), and
/// the file may not lie inside any of `protected` (the registry) or inside
/// a data set folder. `out` must be absolute or relative to the current
/// folder; its parent folder is created.
pub fn check_output_file(out: &Path, force: bool, protected: &[&Path]) -> Result<PathBuf> {
    let err = |message: String| NsfError::Output {
        path: out.to_path_buf(),
        message,
    };
    if out.is_symlink() || out.is_dir() {
        return Err(err(
            "exists and is not a regular file; refusing to replace it".into(),
        ));
    }
    if out.exists() && !force {
        return Err(err("already exists (use --force to replace it)".into()));
    }
    let name = out
        .file_name()
        .ok_or_else(|| err("needs a file name".into()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| err(format!("cannot create the folder: {e}")))?;
    remove_dead_partials(&parent, &format!("{}.partial-", name.to_string_lossy()));
    let abs = fs::canonicalize(&parent)
        .map_err(|e| NsfError::io(&parent, e))?
        .join(name);
    for root in protected {
        if let Ok(r) = fs::canonicalize(root)
            && abs.starts_with(&r)
        {
            return Err(err(format!(
                "lies inside the registry {}; refusing to write there",
                r.display()
            )));
        }
    }
    if let Some(d) = enclosing_data_set(&abs) {
        return Err(err(format!(
            "lies inside the data set {}; refusing to write there",
            d.display()
        )));
    }
    Ok(abs)
}

/// Refuses a preset or experiment `name` that would not stay inside its
/// output root when used as a folder name (`..`, `/`, an absolute path).
pub fn check_output_name(field: &str, name: &str) -> Result<()> {
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(_)), None) if !name.contains(['/', '\\']) => Ok(()),
        _ => Err(NsfError::param(
            field,
            format!(
                "`{name}` cannot be a folder name under the output root (no `/`, `..` or absolute path)"
            ),
        )),
    }
}
