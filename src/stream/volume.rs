//! Minimization in volume: rows and bytes of the stream for all users,
//! registered users, consenting users and the minimal categories, measured
//! from the shard manifests of a sample and projected to the case's users
//! and period (`nsfsim stream-volume`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{NsfError, Result};
use crate::sim::preset::parse_date;
use crate::stream::shard::{RowTally, ShardManifest};

/// Records the case reports for the daily transfers (CASE.md: 54.2 B).
pub const CASE_RECORDS: f64 = 54.2e9;

/// Where to project to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scale {
    /// Users of the projected population.
    pub users: u64,
    /// First day of the projected period.
    pub from: String,
    /// Last day (inclusive).
    pub to: String,
    /// Days in the period.
    pub days: u64,
    /// users / sample users.
    pub user_factor: f64,
}

/// What was measured on the sample.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Measured {
    /// The stream folder.
    pub stream: String,
    /// Preset name.
    pub preset: String,
    /// Master seed.
    pub seed: u64,
    /// Users in the sample population.
    pub users: u64,
    /// Of them registered.
    pub users_registered: u64,
    /// Of them consenting.
    pub users_consented: u64,
    /// Shards read.
    pub shards: u64,
    /// First and last day of the sample.
    pub from: String,
    /// See `from`.
    pub to: String,
    /// Days in the sample.
    pub days: u64,
    /// Rows in all day files.
    pub rows: u64,
    /// Bytes of all day files.
    pub bytes: u64,
    /// bytes / rows.
    pub bytes_per_row: f64,
    /// Rows by population and categories, over all days.
    pub totals: RowTally,
    /// Sum of the shards' wall-clock seconds.
    pub shard_seconds: f64,
}

/// Bytes of one user's snapshot record (one `users.parquet` row), measured
/// from the column chunks of a population file: what sending everyone's
/// categories once a day costs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserRecordBytes {
    /// The population file measured.
    pub file: String,
    /// Rows in it.
    pub rows: u64,
    /// Bytes per row of `user_id` and the 24 attributes.
    pub all_categories: f64,
    /// Bytes per row of `user_id` and the minimal attributes.
    pub minimal_categories: f64,
}

/// One way of sending, projected.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// all, registered or consented.
    pub population: String,
    /// all or minimal.
    pub categories: String,
    /// Event rows per day at scale (mean over the sample's days).
    pub rows_per_day: f64,
    /// Bytes per day at scale (rows × measured bytes per row).
    pub bytes_per_day: f64,
    /// Rows over the period.
    pub rows_period: f64,
    /// Bytes over the period.
    pub bytes_period: f64,
    /// rows / rows of "all".
    pub share_of_all: f64,
    /// Users sent each day at scale (the case's unit: one record per user and day).
    pub users_per_day: f64,
    /// User-day records over the period.
    pub user_records_period: f64,
    /// Their bytes over the period, with `user_record_bytes` (when measured).
    pub user_record_bytes_period: Option<f64>,
}

/// `nsfsim stream-volume` output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Volume {
    /// Always "stream-volume".
    pub kind: String,
    /// Version of nsfsim.
    pub nsfsim_version: String,
    /// The sample.
    pub measured: Measured,
    /// The projection target.
    pub scale: Scale,
    /// Per-day snapshot record sizes, when a population was given.
    pub user_record_bytes: Option<UserRecordBytes>,
    /// all / registered / consented × all / minimal categories.
    pub scenarios: Vec<Scenario>,
    /// Measured rows and bytes of each sample day (all shards).
    pub per_day: Vec<DayVolume>,
    /// The case's reported records over its period (reference).
    pub case_records: f64,
}

/// One measured day.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DayVolume {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Bytes of the day's files.
    pub bytes: u64,
    /// Rows by population and categories.
    pub tally: RowTally,
}

/// Reads every shard manifest of a stream folder and checks that they are
/// one run: same seed, users, preset, days and N, every shard 0..N-1 once.
pub fn read_shards(stream: &Path) -> Result<Vec<ShardManifest>> {
    let dir = stream.join("_manifests");
    let input = |path: PathBuf, message: String| NsfError::Input { path, message };
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| input(dir.clone(), format!("no shard manifests: {e}")))?;
    let mut shards: Vec<ShardManifest> = Vec::new();
    for e in entries {
        let path = e
            .map_err(|e| NsfError::io(&dir, e))?
            .path()
            .join("manifest.json");
        let name = path
            .parent()
            .and_then(|p| p.file_name())
            .unwrap_or_default();
        if name.to_string_lossy().starts_with('.') || !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| NsfError::io(&path, e))?;
        let m: ShardManifest = serde_json::from_str(&text)
            .map_err(|e| input(path.clone(), format!("not a stream shard manifest: {e}")))?;
        if let Some(first) = shards.first() {
            let same = m.seed == first.seed
                && m.users == first.users
                && m.preset == first.preset
                && m.from == first.from
                && m.to == first.to
                && m.shard.count == first.shard.count;
            if !same {
                return Err(input(
                    path,
                    format!(
                        "belongs to another run than shard {}/{} (seed, users, preset, days or N differ)",
                        first.shard.index, first.shard.count
                    ),
                ));
            }
        }
        shards.push(m);
    }
    shards.sort_by_key(|m| m.shard.index);
    let n = shards.first().map(|m| m.shard.count).unwrap_or(0);
    if n == 0 {
        return Err(input(dir, "no shard manifest found".into()));
    }
    for k in 0..n {
        if shards.get(k as usize).map(|m| m.shard.index) != Some(k) {
            return Err(input(
                dir,
                format!("shard {k}/{n} is missing or incomplete (no manifest)"),
            ));
        }
    }
    Ok(shards)
}

/// The compressed bytes of the column chunks of `columns` in the Parquet
/// file `path`, summed over row groups; how many chunks matched; the rows.
pub fn column_chunk_bytes(path: &Path, columns: &[&str]) -> Result<(u64, usize, u64)> {
    let reader = crate::data::artifact::open_parquet(path)?;
    let meta = reader.metadata();
    let (mut bytes, mut seen) = (0u64, 0usize);
    for c in meta.row_groups().iter().flat_map(|rg| rg.columns()) {
        if columns.contains(&c.column_path().string().as_str()) {
            bytes += c.compressed_size() as u64;
            seen += 1;
        }
    }
    Ok((bytes, seen, meta.file_metadata().num_rows().max(1) as u64))
}

/// Bytes per row of `user_id` + the 24 attributes and of `user_id` + the
/// minimal attributes, from a Parquet file's column chunk sizes.
pub fn user_record_bytes(path: &Path) -> Result<UserRecordBytes> {
    let attrs: Vec<&str> = std::iter::once("user_id")
        .chain(crate::sim::schema::ATTRIBUTES.iter().map(|c| c.name))
        .collect();
    let minimal: Vec<&str> = std::iter::once("user_id")
        .chain(crate::data::features::MINIMAL.iter().copied())
        .collect();
    let (all, seen, rows) = column_chunk_bytes(path, &attrs)?;
    if seen == 0 {
        return Err(NsfError::Input {
            path: path.to_path_buf(),
            message: "has none of the 24 attribute columns (not users.parquet?)".into(),
        });
    }
    let (minimal, _, _) = column_chunk_bytes(path, &minimal)?;
    Ok(UserRecordBytes {
        file: path.display().to_string(),
        rows,
        all_categories: all as f64 / rows as f64,
        minimal_categories: minimal as f64 / rows as f64,
    })
}

/// Measures a stream sample and projects it to `users` over [from, to].
pub fn volume(
    stream: &Path,
    users: u64,
    from: &str,
    to: &str,
    population: Option<&Path>,
) -> Result<Volume> {
    let shards = read_shards(stream)?;
    let (f, t) = (
        parse_date("--period-from", from)?,
        parse_date("--period-to", to)?,
    );
    if t < f {
        return Err(NsfError::param(
            "--period-to",
            format!("{to} is before {from}"),
        ));
    }
    if users == 0 {
        return Err(NsfError::param("--scale-users", "must be at least 1"));
    }
    let first = &shards[0];
    let mut per_day: Vec<DayVolume> = first
        .days
        .iter()
        .map(|d| DayVolume {
            date: d.date.clone(),
            bytes: 0,
            tally: RowTally::default(),
        })
        .collect();
    let (mut totals, mut bytes, mut reg, mut con, mut secs) = (RowTally::default(), 0, 0, 0, 0.0);
    for s in &shards {
        for (day, d) in per_day.iter_mut().zip(&s.days) {
            day.bytes += d.file.bytes;
            day.tally.add(&d.tally);
        }
        totals.add(&s.totals);
        bytes += s.bytes;
        reg += s.users_registered;
        con += s.users_consented;
        secs += s.seconds;
    }
    let days = per_day.len().max(1) as u64;
    let measured = Measured {
        stream: stream.display().to_string(),
        preset: first.preset.name.clone(),
        seed: first.seed,
        users: first.users,
        users_registered: reg,
        users_consented: con,
        shards: shards.len() as u64,
        from: first.from.clone(),
        to: first.to.clone(),
        days,
        rows: totals.rows,
        bytes,
        bytes_per_row: bytes as f64 / totals.rows.max(1) as f64,
        totals,
        shard_seconds: secs,
    };
    let scale = Scale {
        users,
        from: from.into(),
        to: to.into(),
        days: (t - f + 1) as u64,
        user_factor: users as f64 / first.users as f64,
    };
    let ub = population.map(user_record_bytes).transpose()?;
    let scenarios = scenarios(&measured, &scale, ub.as_ref());
    Ok(Volume {
        kind: "stream-volume".into(),
        nsfsim_version: env!("CARGO_PKG_VERSION").into(),
        measured,
        scale,
        user_record_bytes: ub,
        scenarios,
        per_day,
        case_records: CASE_RECORDS,
    })
}

fn scenarios(m: &Measured, s: &Scale, ub: Option<&UserRecordBytes>) -> Vec<Scenario> {
    let t = &m.totals;
    let rows = [
        ("all", "all", t.rows, m.users),
        ("registered", "all", t.rows_registered, m.users_registered),
        ("consented", "all", t.rows_consented, m.users_consented),
        ("all", "minimal", t.rows_minimal, m.users),
        (
            "registered",
            "minimal",
            t.rows_registered_minimal,
            m.users_registered,
        ),
        (
            "consented",
            "minimal",
            t.rows_consented_minimal,
            m.users_consented,
        ),
    ];
    rows.iter()
        .map(|&(pop, cats, r, u)| {
            let rows_per_day = r as f64 / m.days as f64 * s.user_factor;
            let users_per_day = u as f64 * s.user_factor;
            let per_record = ub.map(|b| {
                if cats == "all" {
                    b.all_categories
                } else {
                    b.minimal_categories
                }
            });
            Scenario {
                name: format!("{pop} users, {cats} categories"),
                population: pop.into(),
                categories: cats.into(),
                rows_per_day,
                bytes_per_day: rows_per_day * m.bytes_per_row,
                rows_period: rows_per_day * s.days as f64,
                bytes_period: rows_per_day * m.bytes_per_row * s.days as f64,
                share_of_all: r as f64 / t.rows.max(1) as f64,
                users_per_day,
                user_records_period: users_per_day * s.days as f64,
                user_record_bytes_period: per_record.map(|b| b * users_per_day * s.days as f64),
            }
        })
        .collect()
}

/// The projection as a Markdown table.
pub fn markdown(v: &Volume) -> String {
    let m = &v.measured;
    let mut s = format!(
        "Sample: preset `{}`, {} users, {} shards, {} → {} ({} days): {} rows, {} bytes ({:.2} bytes/row).\n\
         Projection: {} users over {} → {} ({} days).\n\n\
         | scenario | rows/day | MB/day | rows, period | GB, period | share | users/day | user-day records, period | GB as user-day records |\n|---|---|---|---|---|---|---|---|---|\n",
        m.preset,
        m.users,
        m.shards,
        m.from,
        m.to,
        m.days,
        m.rows,
        m.bytes,
        m.bytes_per_row,
        v.scale.users,
        v.scale.from,
        v.scale.to,
        v.scale.days
    );
    for c in &v.scenarios {
        s.push_str(&format!(
            "| {} | {:.0} | {:.1} | {:.3e} | {:.1} | {:.3} | {:.0} | {:.3e} | {} |\n",
            c.name,
            c.rows_per_day,
            c.bytes_per_day / 1e6,
            c.rows_period,
            c.bytes_period / 1e9,
            c.share_of_all,
            c.users_per_day,
            c.user_records_period,
            c.user_record_bytes_period
                .map(|b| format!("{:.0}", b / 1e9))
                .unwrap_or_else(|| "-".into())
        ));
    }
    if let Some(b) = &v.user_record_bytes {
        s.push_str(&format!(
            "\nOne user's daily record (`{}`): {:.1} bytes with all 24 categories, {:.1} with the minimal ones.\n",
            b.file, b.all_categories, b.minimal_categories
        ));
    }
    s.push_str(&format!(
        "\nThe case reports {:.1e} records over its period (one per user and day).\n",
        v.case_records
    ));
    s
}
