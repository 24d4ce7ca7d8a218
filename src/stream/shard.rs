//! Writing one shard of the stream: the shard's users, every requested day,
//! one Parquet file per day in `date=YYYY-MM-DD/shard=K/`, and the shard's
//! manifest in `_manifests/shard=K-of-N/manifest.json` (written last: a shard
//! without it is incomplete). Spark and other engines skip `_` and `.` paths.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::artifact::{EncodedChunk, EncoderFactory, FileRecord, StagedDir, TableWriter};
use crate::error::{NsfError, Result};
use crate::sim::population::{Calibration, calibrate, generate_user};
use crate::sim::preset::{Preset, ValidPreset, days_from_civil, parse_date};
use crate::stream::plan::{CATEGORIES, UserPlan, is_minimal};

/// Users per chunk and per row group of a day file (fixed: part of the format).
pub const CHUNK_USERS: u64 = 16_384;
/// Days whose files are open at once; users are regenerated once per block.
pub const DAY_BLOCK: usize = 128;
/// Revision of what the stream draws (bumped when the same seed gives other rows).
pub const STREAM_REVISION: u32 = 1;
/// Most days one run may write.
pub const MAX_DAYS: i64 = 4_000;

/// Which part of the users one process writes: users
/// [K·users/N, (K+1)·users/N).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    /// K, from 0.
    pub index: u64,
    /// N.
    pub count: u64,
}

impl ShardSpec {
    /// Parses `K/N` (0 <= K < N).
    pub fn parse(s: &str) -> Result<ShardSpec> {
        let bad = |m: &str| NsfError::param("--shard", format!("`{s}`: {m}"));
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| bad("expected K/N, e.g. 0/8"))?;
        let index: u64 = k.trim().parse().map_err(|_| bad("K is not a number"))?;
        let count: u64 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        if count == 0 {
            return Err(bad("N must be at least 1"));
        }
        if index >= count {
            return Err(bad("K must be below N (shards are 0..N-1)"));
        }
        Ok(ShardSpec { index, count })
    }

    /// The shard's users [start, end) out of `users`.
    pub fn users(&self, users: u64) -> (u64, u64) {
        let cut = |k: u64| (k as u128 * users as u128 / self.count as u128) as u64;
        (cut(self.index), cut(self.index + 1))
    }

    /// Folder name of the shard's manifest, `shard=K-of-N`.
    pub fn manifest_folder(&self) -> String {
        format!("shard={}-of-{}", self.index, self.count)
    }
}

/// Formats a day number as `YYYY-MM-DD` (inverse of `days_from_civil`).
pub fn civil_from_days(z: i64) -> String {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    debug_assert_eq!(days_from_civil(y, m as u32, d as u32), z - 719_468);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Options of one `stream` run.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// The stream's root folder (shared by all shards).
    pub out: PathBuf,
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day (inclusive).
    pub to: String,
    /// The part of the users this process writes.
    pub shard: ShardSpec,
    /// Replace this shard's earlier output.
    pub force: bool,
}

/// Rows of one day of one shard, by who they belong to.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct RowTally {
    /// All rows.
    pub rows: u64,
    /// Rows of users registered with Apple.
    pub rows_registered: u64,
    /// Rows of users who consented.
    pub rows_consented: u64,
    /// Rows of the minimal categories (`plan::is_minimal`).
    pub rows_minimal: u64,
    /// Minimal-category rows of registered users.
    pub rows_registered_minimal: u64,
    /// Minimal-category rows of consenting users.
    pub rows_consented_minimal: u64,
    /// Users with at least one row.
    pub users_with_rows: u64,
}

impl RowTally {
    /// Adds another tally.
    pub fn add(&mut self, o: &RowTally) {
        self.rows += o.rows;
        self.rows_registered += o.rows_registered;
        self.rows_consented += o.rows_consented;
        self.rows_minimal += o.rows_minimal;
        self.rows_registered_minimal += o.rows_registered_minimal;
        self.rows_consented_minimal += o.rows_consented_minimal;
        self.users_with_rows += o.users_with_rows;
    }
}

/// One day file of a shard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DayRecord {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The file (name relative to the stream root), rows, bytes, SHA-256.
    pub file: FileRecord,
    /// Rows by population and categories.
    pub tally: RowTally,
}

/// `_manifests/shard=K-of-N/manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardManifest {
    /// Always "stream-shard".
    pub kind: String,
    /// Version of nsfsim that wrote it.
    pub nsfsim_version: String,
    /// `generate::GENERATOR_REVISION` of the population the rows derive from.
    pub generator_revision: u32,
    /// `STREAM_REVISION`.
    pub stream_revision: u32,
    /// Master seed.
    pub seed: u64,
    /// Users in the whole population.
    pub users: u64,
    /// This shard.
    pub shard: ShardSpec,
    /// The shard's users [start, end).
    pub user_range: [u64; 2],
    /// Registered users in the shard.
    pub users_registered: u64,
    /// Consenting users in the shard.
    pub users_consented: u64,
    /// First day written.
    pub from: String,
    /// Last day written (inclusive).
    pub to: String,
    /// The snapshot date whose 30-day columns the window reproduces.
    pub as_of: String,
    /// Columns of every day file (the partition columns `date`, `shard` come
    /// from the path).
    pub columns: Vec<String>,
    /// The categories, in row order.
    pub categories: Vec<String>,
    /// The categories the minimal feature set needs.
    pub minimal_categories: Vec<String>,
    /// One record per day.
    pub days: Vec<DayRecord>,
    /// Sums over the days.
    pub totals: RowTally,
    /// Bytes of all day files.
    pub bytes: u64,
    /// Wall-clock seconds of the run (not part of the data).
    pub seconds: f64,
    /// Worker threads used (the rows do not depend on it).
    pub threads: usize,
    /// The fully resolved preset.
    pub preset: Preset,
}

/// The Arrow schema of a day file.
pub fn arrow_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::UInt64, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("count", DataType::UInt32, false),
        Field::new("amount_krw", DataType::Int64, false),
    ]))
}

/// Rows of one day of one chunk, as columns.
#[derive(Default)]
struct DayRows {
    user_id: Vec<u64>,
    category: Vec<&'static str>,
    count: Vec<u32>,
    amount: Vec<i64>,
    tally: RowTally,
}

impl DayRows {
    fn batch(&self, schema: &SchemaRef) -> RecordBatch {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(self.user_id.clone())),
            Arc::new(StringArray::from_iter_values(self.category.iter())),
            Arc::new(UInt32Array::from(self.count.clone())),
            Arc::new(Int64Array::from(self.amount.clone())),
        ];
        RecordBatch::try_new(Arc::clone(schema), cols).expect("columns match the schema")
    }
}

/// What a chunk of users contributes to each day of a block.
/// and its (registered, consented) user counts.
type ChunkOut = std::result::Result<(Vec<(Option<EncodedChunk>, RowTally)>, [u64; 2]), String>;

struct Ctx<'a> {
    p: &'a ValidPreset,
    cal: &'a Calibration,
    as_of: i64,
    schema: SchemaRef,
}

/// Generates the users of one chunk and encodes their rows for the days
/// [first, first + factories.len()).
fn chunk_rows(ctx: &Ctx, users: (u64, u64), first: i64, factories: &[EncoderFactory]) -> ChunkOut {
    let n_days = factories.len();
    let last = first + n_days as i64 - 1;
    let mut days: Vec<DayRows> = (0..n_days).map(|_| DayRows::default()).collect();
    let seed = ctx.p.seed;
    let mut flags = [0u64; 2];
    for id in users.0..users.1 {
        let u = generate_user(ctx.p, ctx.cal, seed, id);
        flags[0] += u.apple_registered as u64;
        flags[1] += u.consented as u64;
        let plan = UserPlan::new(ctx.p, seed, ctx.as_of, &u, first, last);
        if !plan.active() {
            continue;
        }
        for (i, rows) in days.iter_mut().enumerate() {
            let cells = plan.day(seed, first + i as i64);
            let mut any = false;
            for (c, cell) in cells.iter().enumerate().filter(|(_, c)| c.count > 0) {
                any = true;
                rows.user_id.push(id);
                rows.category.push(CATEGORIES[c]);
                rows.count.push(cell.count);
                rows.amount.push(cell.amount);
                let t = &mut rows.tally;
                let m = is_minimal(c) as u64;
                t.rows += 1;
                t.rows_registered += plan.registered as u64;
                t.rows_consented += plan.consented as u64;
                t.rows_minimal += m;
                t.rows_registered_minimal += m * plan.registered as u64;
                t.rows_consented_minimal += m * plan.consented as u64;
            }
            rows.tally.users_with_rows += any as u64;
        }
    }
    let encoded = days
        .iter()
        .zip(factories)
        .map(|(rows, f)| {
            if rows.tally.rows == 0 {
                return Ok((None, rows.tally));
            }
            let enc = f.encoder(0).map_err(|e| e.to_string())?;
            Ok((Some(enc.encode(&rows.batch(&ctx.schema))?), rows.tally))
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    Ok((encoded, flags))
}

/// Checks the dates; returns (from, to) as day numbers.
fn day_range(opts: &StreamOptions) -> Result<(i64, i64)> {
    let from = parse_date("--from", &opts.from)?;
    let to = parse_date("--to", &opts.to)?;
    if to < from {
        return Err(NsfError::param(
            "--to",
            format!("{} is before --from {}", opts.to, opts.from),
        ));
    }
    if to - from + 1 > MAX_DAYS {
        return Err(NsfError::param(
            "--to",
            format!(
                "{} days requested; at most {MAX_DAYS} per run",
                to - from + 1
            ),
        ));
    }
    if civil_from_days(from) != opts.from || civil_from_days(to) != opts.to {
        return Err(NsfError::param(
            "--from/--to",
            format!(
                "`{}`..`{}` is not a calendar date range",
                opts.from, opts.to
            ),
        ));
    }
    Ok((from, to))
}

/// Refuses to overwrite another run's files of this shard without `force`;
/// with `remove`, deletes them.
fn clear_shard(opts: &StreamOptions, from: i64, to: i64, remove: bool) -> Result<()> {
    for d in from..=to {
        let dir = opts
            .out
            .join(format!("date={}", civil_from_days(d)))
            .join(format!("shard={}", opts.shard.index));
        if dir.exists() {
            if !opts.force {
                return Err(NsfError::Output {
                    path: dir,
                    message: "already exists (use --force to replace this shard)".into(),
                });
            }
            if remove {
                std::fs::remove_dir_all(&dir).map_err(|e| NsfError::io(&dir, e))?;
            }
        }
    }
    Ok(())
}

/// Writes the rows of one block of days into the staging folder.
fn write_block(
    ctx: &Ctx,
    staged: &StagedDir,
    users: (u64, u64),
    days: (i64, i64),
    shard: u64,
    flags: &mut [u64; 2],
) -> Result<Vec<DayRecord>> {
    let mut writers = Vec::new();
    let mut factories = Vec::new();
    let mut names = Vec::new();
    for d in days.0..=days.1 {
        let name = format!(
            "date={}/shard={shard}/part-00000.parquet",
            civil_from_days(d)
        );
        let path = staged.path(&name);
        let parent = path.parent().expect("has a folder");
        std::fs::create_dir_all(parent).map_err(|e| NsfError::io(parent, e))?;
        let (w, f) = TableWriter::parquet(&path, Arc::clone(&ctx.schema), 1 << 20)?;
        writers.push(w);
        factories.push(f);
        names.push((d, name, path));
    }
    let chunks: Vec<(u64, u64)> = (users.0..users.1)
        .step_by(CHUNK_USERS as usize)
        .map(|s| (s, (s + CHUNK_USERS).min(users.1)))
        .collect();
    let mut tallies = vec![RowTally::default(); writers.len()];
    let wave = 2 * rayon::current_num_threads();
    for group in chunks.chunks(wave) {
        let outs: Vec<ChunkOut> = group
            .par_iter()
            .map(|&c| chunk_rows(ctx, c, days.0, &factories))
            .collect();
        for out in outs {
            let (out, f) = out.map_err(|message| NsfError::Parquet {
                path: staged.path(""),
                message,
            })?;
            flags[0] += f[0];
            flags[1] += f[1];
            for (i, (enc, t)) in out.into_iter().enumerate() {
                if let Some(enc) = enc {
                    writers[i].append(enc, t.rows)?;
                }
                tallies[i].add(&t);
            }
        }
    }
    let mut records = Vec::new();
    for ((w, (d, name, _)), tally) in writers.into_iter().zip(names).zip(tallies) {
        let mut file = w.finish()?;
        file.name = name;
        records.push(DayRecord {
            date: civil_from_days(d),
            file,
            tally,
        });
    }
    Ok(records)
}

/// Moves the staged day folders into the stream root.
fn publish(staged: &StagedDir, out: &Path, days: &[DayRecord], shard: u64) -> Result<()> {
    for d in days {
        let rel = format!("date={}/shard={shard}", d.date);
        let (from, to) = (staged.path(&rel), out.join(&rel));
        let parent = to.parent().expect("has a folder");
        std::fs::create_dir_all(parent).map_err(|e| NsfError::io(parent, e))?;
        std::fs::rename(&from, &to).map_err(|e| NsfError::io(&to, e))?;
        let _ = std::fs::remove_dir(staged.path(&format!("date={}", d.date)));
    }
    Ok(())
}

/// Writes one shard of the stream described by `p` (see the module doc).
pub fn run(p: &ValidPreset, opts: &StreamOptions) -> Result<ShardManifest> {
    let started = std::time::Instant::now();
    let (from, to) = day_range(opts)?;
    if opts.shard.count > p.users {
        return Err(NsfError::param(
            "--shard",
            format!(
                "{} shards for {} users: at most one shard per user",
                opts.shard.count, p.users
            ),
        ));
    }
    let as_of = parse_date("population.as_of", &p.population.as_of)?;
    let manifest_dir = opts
        .out
        .join("_manifests")
        .join(opts.shard.manifest_folder());
    let staged = StagedDir::create_for(&manifest_dir, opts.force, "stream-shard")?;
    clear_shard(opts, from, to, false)?;
    let cal = calibrate(p, p.seed);
    let ctx = Ctx {
        p,
        cal: &cal,
        as_of,
        schema: arrow_schema(),
    };
    let users = opts.shard.users(p.users);
    let mut days = Vec::new();
    let mut d = from;
    let mut flags = [0u64; 2];
    while d <= to {
        let end = (d + DAY_BLOCK as i64 - 1).min(to);
        let mut block_flags = [0u64; 2];
        let block = (d, end);
        days.extend(write_block(
            &ctx,
            &staged,
            users,
            block,
            opts.shard.index,
            &mut block_flags,
        )?);
        flags = block_flags;
        d = end + 1;
    }
    let [reg, con] = flags;
    let mut totals = RowTally::default();
    for r in &days {
        totals.add(&r.tally);
    }
    let manifest = ShardManifest {
        kind: "stream-shard".into(),
        nsfsim_version: env!("CARGO_PKG_VERSION").into(),
        generator_revision: crate::data::generate::GENERATOR_REVISION,
        stream_revision: STREAM_REVISION,
        seed: p.seed,
        users: p.users,
        shard: opts.shard,
        user_range: [users.0, users.1],
        users_registered: reg,
        users_consented: con,
        from: opts.from.clone(),
        to: opts.to.clone(),
        as_of: p.population.as_of.clone(),
        columns: arrow_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
        categories: CATEGORIES.iter().map(|s| s.to_string()).collect(),
        minimal_categories: (0..CATEGORIES.len())
            .filter(|&c| is_minimal(c))
            .map(|c| CATEGORIES[c].to_string())
            .collect(),
        bytes: days.iter().map(|r| r.file.bytes).sum(),
        totals,
        days,
        seconds: started.elapsed().as_secs_f64(),
        threads: rayon::current_num_threads(),
        preset: p.preset().clone(),
    };
    // An earlier manifest of this shard goes first: no manifest ever
    // describes files it did not write.
    let old = manifest_dir.join("manifest.json");
    if old.is_file() {
        std::fs::remove_file(&old).map_err(|e| NsfError::io(&old, e))?;
    }
    clear_shard(opts, from, to, true)?;
    publish(&staged, &opts.out, &manifest.days, opts.shard.index)?;
    staged.write_json("manifest.json", &manifest)?;
    staged.commit()?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_across_leap_years() {
        let start = days_from_civil(2015, 1, 1);
        for z in start..start + 4_000 {
            let s = civil_from_days(z);
            assert_eq!(parse_date("d", &s).unwrap(), z, "{s}");
        }
        assert_eq!(civil_from_days(days_from_civil(2020, 2, 29)), "2020-02-29");
        assert_eq!(civil_from_days(days_from_civil(2024, 5, 21)), "2024-05-21");
    }

    #[test]
    fn shards_cover_the_users_once() {
        for (users, n) in [(10u64, 3u64), (40_450_000, 256), (7, 7)] {
            let mut next = 0;
            for k in 0..n {
                let (lo, hi) = ShardSpec { index: k, count: n }.users(users);
                assert_eq!(lo, next);
                assert!(hi > lo);
                next = hi;
            }
            assert_eq!(next, users);
        }
        assert!(ShardSpec::parse("2/2").is_err() && ShardSpec::parse("1/0").is_err());
        assert_eq!(
            ShardSpec::parse("3/8").unwrap(),
            ShardSpec { index: 3, count: 8 }
        );
    }
}
