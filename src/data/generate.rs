//! The generation driver: splits N users into fixed-size chunks, generates and
//! encodes chunks in parallel (rayon), appends them in order, and writes the
//! manifest. Output bytes depend on (preset, seed) only, never on threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, FixedSizeBinaryArray, Float64Array, Int64Array, RecordBatch,
    StringArray, UInt8Array, UInt32Array, UInt64Array,
};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crate::data::artifact::{EncodedChunk, EncoderFactory, FileRecord, StagedDir, TableWriter};
use crate::error::{NsfError, Result};
use crate::sim::population::{Calibration, User, calibrate, generate_user};
use crate::sim::preset::{Preset, ValidPreset};
use crate::sim::schema::{ATTRIBUTES, ColumnRecord, ColumnType, REGIONS, all_columns};

/// Users per chunk and per Parquet row group. Part of the file format: fixed
/// so that files are byte-identical at any thread count.
pub const CHUNK_USERS: u64 = 131_072;
/// How many chunks workers may run ahead of the writer (bounds memory).
const CHUNKS_AHEAD: usize = 8;

thread_local! {
    static COLUMN_BUFFERS: std::cell::RefCell<ColumnBuffers> = std::cell::RefCell::new(ColumnBuffers::default());
}

/// Declares `ColumnBuffers` with one `Vec` per plain column (the `User`
/// field of the same name) beside the columns that need a conversion.
macro_rules! column_buffers {
    ($($field:ident: $ty:ty => $array:ident),* $(,)?) => {
        /// A chunk's columns, appended to one user at a time while the user
        /// is still in cache, then moved into Arrow arrays: no row buffer of
        /// the whole chunk to transpose column by column. Gives the same
        /// arrays as `column_array` on the rows (tested).
        #[derive(Default)]
        struct ColumnBuffers {
            $($field: Vec<$ty>,)*
            phone_sha256: Vec<u8>,
            email_sha256: Vec<u8>,
            region: Vec<u8>,
            ios: Vec<bool>,
            auto_topup: Vec<bool>,
            apple_registered: Vec<bool>,
            consented: Vec<bool>,
            nsf: Vec<u8>,
            tally: Tally,
        }

        impl ColumnBuffers {
            fn reserve(&mut self, n: usize) {
                $(self.$field.reserve(n);)*
                self.phone_sha256.reserve(32 * n);
                self.email_sha256.reserve(32 * n);
                for v in [&mut self.region, &mut self.nsf] {
                    v.reserve(n);
                }
                for v in [&mut self.ios, &mut self.auto_topup, &mut self.apple_registered, &mut self.consented] {
                    v.reserve(n);
                }
            }

            fn push(&mut self, u: &User) {
                $(self.$field.push(u.$field);)*
                self.phone_sha256.extend_from_slice(&u.phone_sha256);
                self.email_sha256.extend_from_slice(&u.email_sha256);
                self.region.push(u.region);
                self.ios.push(u.ios);
                self.auto_topup.push(u.auto_topup);
                self.apple_registered.push(u.apple_registered);
                self.consented.push(u.consented);
                self.nsf.push(u.nsf as u8);
                self.tally.add_user(u);
            }

            /// Moves column `name` out as an Arrow array (None: not a
            /// column of the schema).
            fn take(&mut self, name: &str) -> Option<ArrayRef> {
                let flag = |v: &mut Vec<bool>| -> ArrayRef {
                    let a = BooleanArray::from_iter(v.iter().map(|&b| Some(b)));
                    v.clear();
                    Arc::new(a)
                };
                let digest = |v: &mut Vec<u8>| -> ArrayRef {
                    let bytes = Buffer::from_vec(std::mem::take(v));
                    Arc::new(FixedSizeBinaryArray::new(32, bytes, None))
                };
                Some(match name {
                    $(stringify!($field) => Arc::new($array::from(std::mem::take(&mut self.$field))) as ArrayRef,)*
                    "phone_sha256" => digest(&mut self.phone_sha256),
                    "email_sha256" => digest(&mut self.email_sha256),
                    "region" => {
                        let a = StringArray::from_iter_values(self.region.iter().map(|&r| REGIONS[r as usize]));
                        self.region.clear();
                        Arc::new(a)
                    }
                    "device_os" => {
                        let a = StringArray::from_iter_values(self.ios.iter().map(|&i| if i { "ios" } else { "android" }));
                        self.ios.clear();
                        Arc::new(a)
                    }
                    "auto_topup" => flag(&mut self.auto_topup),
                    "apple_registered" => flag(&mut self.apple_registered),
                    "consented" => flag(&mut self.consented),
                    "nsf" => Arc::new(UInt8Array::from(std::mem::take(&mut self.nsf))),
                    _ => return None,
                })
            }
        }
    };
}

column_buffers! {
    user_id: u64 => UInt64Array,
    account_id: u64 => UInt64Array,
    customer_no: u64 => UInt64Array,
    account_age_days: u32 => UInt32Array,
    age_years: u8 => UInt8Array,
    balance_krw: i64 => Int64Array,
    balance_avg_30d_krw: i64 => Int64Array,
    balance_min_30d_krw: i64 => Int64Array,
    topup_count_30d: u32 => UInt32Array,
    topup_amount_30d_krw: i64 => Int64Array,
    withdrawal_amount_30d_krw: i64 => Int64Array,
    payment_count_30d: u32 => UInt32Array,
    payment_amount_30d_krw: i64 => Int64Array,
    remit_sent_amount_30d_krw: i64 => Int64Array,
    remit_received_amount_30d_krw: i64 => Int64Array,
    registered_cards: u8 => UInt8Array,
    card_payment_amount_30d_krw: i64 => Int64Array,
    topup_count_7d: u32 => UInt32Array,
    payment_count_7d: u32 => UInt32Array,
    remit_count_7d: u32 => UInt32Array,
    nsf_prob: f64 => Float64Array,
}

impl ColumnBuffers {
    /// The chunk as a record batch with the `users.parquet` schema, and its
    /// tally; leaves the buffers empty for the next chunk.
    fn take_batch(&mut self, schema: &SchemaRef) -> (RecordBatch, Tally) {
        let cols: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .map(|f| {
                self.take(f.name())
                    .unwrap_or_else(|| panic!("column `{}` has no generator", f.name()))
            })
            .collect();
        let batch =
            RecordBatch::try_new(Arc::clone(schema), cols).expect("columns match the schema");
        (batch, std::mem::take(&mut self.tally))
    }
}

/// How far the writer got, shared with the workers.
#[derive(Default)]
struct Written {
    appended: usize,
    failed: bool,
}

type Encoded = std::result::Result<(EncodedChunk, Tally, u64), String>;

/// Generates chunk `c` and encodes it in memory.
fn encode_chunk(
    p: &ValidPreset,
    cal: &Calibration,
    schema: &SchemaRef,
    factory: &EncoderFactory,
    c: usize,
) -> Encoded {
    let start = c as u64 * CHUNK_USERS;
    let end = (start + CHUNK_USERS).min(p.users);
    let enc = factory.encoder(c).map_err(|e| e.to_string())?;
    // Each worker keeps one set of column buffers (a user goes straight into
    // them, while it is in cache); the batch takes their contents.
    COLUMN_BUFFERS.with_borrow_mut(|cols| {
        cols.reserve((end - start) as usize);
        for u in start..end {
            cols.push(&generate_user(p, cal, p.seed, u));
        }
        let (batch, t) = cols.take_batch(schema);
        enc.encode(&batch).map(|e| (e, t, end - start))
    })
}

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `users.parquet` (zstd).
    Parquet,
    /// `users.csv` with a header.
    Csv,
}

impl Format {
    /// Data file name in the output folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Parquet => "users.parquet",
            Format::Csv => "users.csv",
        }
    }
}

/// Population-level figures recorded in the manifest.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Summary {
    /// Users generated.
    pub users: u64,
    /// Share with `apple_registered`.
    pub registered_share: f64,
    /// Share with `consented`.
    pub consented_share: f64,
    /// Share with `nsf` = 1.
    pub nsf_rate: f64,
    /// Mean of `nsf_prob`.
    pub mean_nsf_prob: f64,
    /// NSF rate among registered users.
    pub nsf_rate_registered: f64,
    /// NSF rate among unregistered users.
    pub nsf_rate_unregistered: f64,
    /// Share of iPhone users.
    pub ios_share: f64,
    /// Share with automatic top-up on.
    pub auto_topup_share: f64,
    /// Share with a zero balance.
    pub zero_balance_share: f64,
    /// Share with no payment, remittance or top-up in 30d.
    pub inactive_share: f64,
    /// Mean balance (KRW).
    pub mean_balance_krw: f64,
}

/// Exact integer tallies of one chunk; summed in chunk order.
#[derive(Debug, Clone, Default)]
struct Tally {
    users: u64,
    registered: u64,
    consented: u64,
    nsf: u64,
    nsf_registered: u64,
    ios: u64,
    auto_topup: u64,
    zero_balance: u64,
    inactive: u64,
    balance_sum: i128,
    prob_sum: f64,
}

impl Tally {
    /// Counts one user (`prob_sum` adds in user order, as before).
    fn add_user(&mut self, u: &User) {
        let t = self;
        t.users += 1;
        t.registered += u.apple_registered as u64;
        t.consented += u.consented as u64;
        t.nsf += u.nsf as u64;
        t.nsf_registered += (u.nsf && u.apple_registered) as u64;
        t.ios += u.ios as u64;
        t.auto_topup += u.auto_topup as u64;
        t.zero_balance += (u.balance_krw == 0) as u64;
        t.inactive += (u.payment_count_30d == 0
            && u.topup_count_30d == 0
            && u.remit_sent_amount_30d_krw == 0
            && u.remit_received_amount_30d_krw == 0) as u64;
        t.balance_sum += u.balance_krw as i128;
        t.prob_sum += u.nsf_prob;
    }

    fn add(&mut self, o: &Tally) {
        self.users += o.users;
        self.registered += o.registered;
        self.consented += o.consented;
        self.nsf += o.nsf;
        self.nsf_registered += o.nsf_registered;
        self.ios += o.ios;
        self.auto_topup += o.auto_topup;
        self.zero_balance += o.zero_balance;
        self.inactive += o.inactive;
        self.balance_sum += o.balance_sum;
        self.prob_sum += o.prob_sum;
    }

    fn summary(&self) -> Summary {
        let n = self.users.max(1) as f64;
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        Summary {
            users: self.users,
            registered_share: self.registered as f64 / n,
            consented_share: self.consented as f64 / n,
            nsf_rate: self.nsf as f64 / n,
            mean_nsf_prob: self.prob_sum / n,
            nsf_rate_registered: ratio(self.nsf_registered, self.registered),
            nsf_rate_unregistered: ratio(
                self.nsf - self.nsf_registered,
                self.users - self.registered,
            ),
            ios_share: self.ios as f64 / n,
            auto_topup_share: self.auto_topup as f64 / n,
            zero_balance_share: self.zero_balance as f64 / n,
            inactive_share: self.inactive as f64 / n,
            mean_balance_krw: self.balance_sum as f64 / n,
        }
    }
}

/// Revision of what the generator draws: bumped whenever the same preset and
/// seed would give other data (the golden file changes). Cached data sets
/// (`compare`) are reused only at the same revision.
pub const GENERATOR_REVISION: u32 = 4;

/// `manifest.json` of a generated data set.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct PopulationManifest {
    /// Always "population".
    pub kind: String,
    /// Version of nsfsim that wrote it.
    pub nsfsim_version: String,
    /// `GENERATOR_REVISION` of the generator that drew it (0: before it
    /// was recorded).
    #[serde(default)]
    pub generator_revision: u32,
    /// Master seed used.
    pub seed: u64,
    /// Users generated.
    pub users: u64,
    /// File format.
    pub format: Format,
    /// Users per row group / chunk.
    pub chunk_users: u64,
    /// The fully resolved preset (after overrides).
    pub preset: Preset,
    /// The 24 attributes in order, with type, unit and category.
    pub attributes: Vec<ColumnRecord>,
    /// Every column of the data file in order.
    pub columns: Vec<String>,
    /// Data files with row counts and SHA-256.
    pub files: Vec<FileRecord>,
    /// Population figures.
    pub summary: Summary,
    /// Constants solved on the pilot sample.
    pub calibration: CalibrationRecord,
}

/// Serializable copy of the pilot calibration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct CalibrationRecord {
    /// iPhone registration rate at z_act = 0.
    pub reg_ios_rate: f64,
    /// Consent logit intercept.
    pub consent_intercept: f64,
    /// Pilot users used.
    pub pilot_users: u64,
}

/// The Arrow schema of `users.parquet`, from `schema::all_columns`.
pub fn arrow_schema() -> SchemaRef {
    let fields: Vec<Field> = all_columns()
        .iter()
        .map(|c| {
            let dt = match c.dtype {
                ColumnType::U64 => DataType::UInt64,
                ColumnType::U32 => DataType::UInt32,
                ColumnType::U8 => DataType::UInt8,
                ColumnType::I64 => DataType::Int64,
                ColumnType::Bool => DataType::Boolean,
                ColumnType::Utf8 => DataType::Utf8,
                ColumnType::Sha256 => DataType::FixedSizeBinary(32),
                ColumnType::F64 => DataType::Float64,
            };
            Field::new(c.name, dt, false)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn digest_column(users: &[User], f: impl Fn(&User) -> &[u8; 32]) -> ArrayRef {
    let mut bytes = Vec::with_capacity(users.len() * 32);
    for u in users {
        bytes.extend_from_slice(f(u));
    }
    Arc::new(FixedSizeBinaryArray::new(32, Buffer::from_vec(bytes), None))
}

/// One column of a chunk as an Arrow array (panics on a name not in the schema;
/// a unit test covers every schema column).
fn column_array(name: &str, us: &[User]) -> ArrayRef {
    macro_rules! prim {
        ($ty:ident, $field:ident) => {
            Arc::new($ty::from_iter_values(us.iter().map(|u| u.$field))) as ArrayRef
        };
    }
    macro_rules! flag {
        ($e:expr) => {
            Arc::new(BooleanArray::from_iter(us.iter().map(|u| Some($e(u))))) as ArrayRef
        };
    }
    match name {
        "user_id" => prim!(UInt64Array, user_id),
        "account_id" => prim!(UInt64Array, account_id),
        "customer_no" => prim!(UInt64Array, customer_no),
        "phone_sha256" => digest_column(us, |u| &u.phone_sha256),
        "email_sha256" => digest_column(us, |u| &u.email_sha256),
        "account_age_days" => prim!(UInt32Array, account_age_days),
        "age_years" => prim!(UInt8Array, age_years),
        "region" => Arc::new(StringArray::from_iter_values(
            us.iter().map(|u| REGIONS[u.region as usize]),
        )),
        "device_os" => Arc::new(StringArray::from_iter_values(
            us.iter().map(|u| if u.ios { "ios" } else { "android" }),
        )),
        "balance_krw" => prim!(Int64Array, balance_krw),
        "balance_avg_30d_krw" => prim!(Int64Array, balance_avg_30d_krw),
        "balance_min_30d_krw" => prim!(Int64Array, balance_min_30d_krw),
        "topup_count_30d" => prim!(UInt32Array, topup_count_30d),
        "topup_amount_30d_krw" => prim!(Int64Array, topup_amount_30d_krw),
        "auto_topup" => flag!(|u: &User| u.auto_topup),
        "withdrawal_amount_30d_krw" => prim!(Int64Array, withdrawal_amount_30d_krw),
        "payment_count_30d" => prim!(UInt32Array, payment_count_30d),
        "payment_amount_30d_krw" => prim!(Int64Array, payment_amount_30d_krw),
        "remit_sent_amount_30d_krw" => prim!(Int64Array, remit_sent_amount_30d_krw),
        "remit_received_amount_30d_krw" => prim!(Int64Array, remit_received_amount_30d_krw),
        "registered_cards" => prim!(UInt8Array, registered_cards),
        "card_payment_amount_30d_krw" => prim!(Int64Array, card_payment_amount_30d_krw),
        "topup_count_7d" => prim!(UInt32Array, topup_count_7d),
        "payment_count_7d" => prim!(UInt32Array, payment_count_7d),
        "remit_count_7d" => prim!(UInt32Array, remit_count_7d),
        "apple_registered" => flag!(|u: &User| u.apple_registered),
        "consented" => flag!(|u: &User| u.consented),
        "nsf" => Arc::new(UInt8Array::from_iter_values(us.iter().map(|u| u.nsf as u8))),
        "nsf_prob" => prim!(Float64Array, nsf_prob),
        other => panic!("column `{other}` has no generator"),
    }
}

/// Converts users into a record batch with the `users.parquet` schema.
pub fn to_record_batch(schema: &SchemaRef, users: &[User]) -> RecordBatch {
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| column_array(f.name(), users))
        .collect();
    RecordBatch::try_new(Arc::clone(schema), cols).expect("columns match the schema")
}

/// `to_record_batch` through the column buffers `generate` fills (the same
/// batch; for the test that says so).
pub fn to_record_batch_streamed(schema: &SchemaRef, users: &[User]) -> RecordBatch {
    let mut cols = ColumnBuffers::default();
    cols.reserve(users.len());
    users.iter().for_each(|u| cols.push(u));
    cols.take_batch(schema).0
}

/// Generates users [start, end) in memory (all of them; for tests, benches
/// and small experiments).
pub fn generate_range(p: &ValidPreset, cal: &Calibration, start: u64, end: u64) -> Vec<User> {
    (start..end)
        .map(|u| generate_user(p, cal, p.seed, u))
        .collect()
}

/// How `users.parquet` encodes its columns (since revision 4): every
/// integer column DELTA_BINARY_PACKED without compression (identifiers,
/// counts, KRW amounts: zstd level 1 on their plain 8 bytes was a fifth of
/// the CPU of `generate`, and reading them back decompressed them), and
/// `nsf_prob` uncompressed (random mantissas: zstd saved 10 % of its bytes
/// at 5x the encoding time); flags and categories keep zstd and their
/// dictionaries, digests stay uncompressed. Returns (delta, uncompressed).
pub fn population_layout() -> (Vec<&'static str>, Vec<&'static str>) {
    let cols = all_columns();
    let delta = cols
        .iter()
        .filter(|c| {
            matches!(
                c.dtype,
                ColumnType::U64 | ColumnType::U32 | ColumnType::U8 | ColumnType::I64
            )
        })
        .map(|c| c.name)
        .collect();
    let raw = cols
        .iter()
        .filter(|c| c.dtype == ColumnType::F64)
        .map(|c| c.name)
        .collect();
    (delta, raw)
}

/// Options of one `generate` run.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Output folder.
    pub out: PathBuf,
    /// File format.
    pub format: Format,
    /// Replace an existing output.
    pub force: bool,
}

/// Generates the population described by `p` into `opts.out`: the data file
/// and `manifest.json`, staged and renamed into place when complete.
/// `progress` is called with the number of users done so far.
pub fn run(
    p: &ValidPreset,
    opts: &GenerateOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PopulationManifest> {
    let staged = StagedDir::create(&opts.out, opts.force)?;
    let cal = calibrate(p, p.seed);
    let schema = arrow_schema();
    let data_path = staged.path(opts.format.file_name());
    let (mut table, factory) = match opts.format {
        Format::Parquet => {
            let (delta, raw) = population_layout();
            TableWriter::parquet_with_layout(
                &data_path,
                Arc::clone(&schema),
                CHUNK_USERS as usize,
                &[],
                &delta,
                &raw,
            )?
        }
        Format::Csv => TableWriter::csv(&data_path)?,
    };
    let n_chunks = p.users.div_ceil(CHUNK_USERS) as usize;
    // Worker threads take chunks in order from a counter, generate and encode
    // them, and send them to a writer thread that appends them in chunk
    // order. A worker may run at most CHUNKS_AHEAD chunks ahead of the
    // writer, which bounds memory; no batch barrier leaves a core idle.
    let next_chunk = AtomicUsize::new(0);
    let progress_state = (Mutex::new(Written::default()), Condvar::new());
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Encoded)>();
    let (record, tally) = std::thread::scope(|scope| -> Result<(FileRecord, Tally)> {
        let data_path = &data_path;
        let state = &progress_state;
        let writer = scope.spawn(move || -> Result<(FileRecord, Tally)> {
            let result = (|| {
                let mut tally = Tally::default();
                let mut waiting = BTreeMap::new();
                let mut wanted = 0usize;
                let mut done = 0u64;
                for (c, encoded) in rx {
                    waiting.insert(c, encoded);
                    while let Some(encoded) = waiting.remove(&wanted) {
                        let (chunk, t, rows) = encoded.map_err(|message| NsfError::Parquet {
                            path: data_path.clone(),
                            message,
                        })?;
                        table.append(chunk, rows)?;
                        tally.add(&t);
                        done += rows;
                        wanted += 1;
                        state.0.lock().expect("lock").appended = wanted;
                        state.1.notify_all();
                        progress(done);
                    }
                }
                Ok((table.finish()?, tally))
            })();
            if result.is_err() {
                state.0.lock().expect("lock").failed = true;
                state.1.notify_all();
            }
            result
        });
        rayon::scope(|workers| {
            for _ in 0..rayon::current_num_threads() {
                let tx = tx.clone();
                let (next_chunk, factory, schema, cal) = (&next_chunk, &factory, &schema, &cal);
                workers.spawn(move |_| {
                    loop {
                        let c = next_chunk.fetch_add(1, Ordering::Relaxed);
                        if c >= n_chunks {
                            break;
                        }
                        {
                            let mut w = state.0.lock().expect("lock");
                            while c >= w.appended + CHUNKS_AHEAD && !w.failed {
                                w = state.1.wait(w).expect("lock");
                            }
                            if w.failed {
                                break;
                            }
                        }
                        let encoded = encode_chunk(p, cal, schema, factory, c);
                        if tx.send((c, encoded)).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        drop(tx);
        writer.join().expect("writer thread panicked")
    })?;
    let manifest = population_manifest(p, opts, &cal, record, tally);
    staged.write_json("manifest.json", &manifest)?;
    staged.commit()?;
    Ok(manifest)
}

/// The population manifest of a finished run (no timestamp: the same
/// preset and seed give the same bytes).
fn population_manifest(
    p: &ValidPreset,
    opts: &GenerateOptions,
    cal: &Calibration,
    record: FileRecord,
    tally: Tally,
) -> PopulationManifest {
    PopulationManifest {
        kind: "population".into(),
        nsfsim_version: env!("CARGO_PKG_VERSION").into(),
        generator_revision: GENERATOR_REVISION,
        seed: p.seed,
        users: p.users,
        format: opts.format,
        chunk_users: CHUNK_USERS,
        preset: p.preset().clone(),
        attributes: ATTRIBUTES.iter().map(ColumnRecord::from).collect(),
        columns: all_columns().iter().map(|c| c.name.to_string()).collect(),
        files: vec![record],
        summary: tally.summary(),
        calibration: CalibrationRecord {
            reg_ios_rate: cal.reg_ios_rate,
            consent_intercept: cal.consent_intercept,
            pilot_users: p.users.min(crate::sim::population::PILOT_USERS),
        },
    }
}

/// Reads a population manifest from a data folder.
pub fn read_manifest(dir: &Path) -> Result<PopulationManifest> {
    read_manifest_hashed(dir).map(|(m, _)| m)
}

/// [`read_manifest`], and the SHA-256 of the bytes it was parsed from (what
/// a model's lineage records: a manifest replaced after it was parsed
/// cannot be recorded in its place).
pub fn read_manifest_hashed(dir: &Path) -> Result<(PopulationManifest, String)> {
    use sha2::{Digest, Sha256};
    let path = dir.join("manifest.json");
    let cannot = |e: &dyn std::fmt::Display| NsfError::Input {
        path: path.clone(),
        message: format!("cannot read: {e}"),
    };
    let bytes = std::fs::read(&path).map_err(|e| cannot(&e))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| cannot(&e))?;
    let manifest = serde_json::from_str(text).map_err(|e| NsfError::Input {
        path: path.clone(),
        message: format!("not a population manifest: {e}"),
    })?;
    Ok((manifest, hex::encode(Sha256::digest(&bytes))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_column_has_a_generator() {
        let p = crate::sim::preset::load("small", &["users=50".into()])
            .unwrap()
            .check()
            .unwrap();
        let cal = calibrate(&p, p.seed);
        let users = generate_range(&p, &cal, 0, 50);
        let batch = to_record_batch(&arrow_schema(), &users);
        assert_eq!(batch.num_columns(), 1 + 24 + 4);
        assert_eq!(batch.num_rows(), 50);
    }

    /// Revision 4 changed how `users.parquet` encodes its columns, not
    /// what they hold: the same users written with the layout and with
    /// the writer's defaults (zstd everywhere, revision 3's file) read back
    /// as equal batches, and the file says DELTA_BINARY_PACKED and
    /// UNCOMPRESSED where `population_layout` says so.
    #[test]
    fn population_layout_keeps_every_value() {
        use parquet::basic::{Compression, Encoding};
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let p = crate::sim::preset::load("small", &["users=5000".into()])
            .unwrap()
            .check()
            .unwrap();
        let cal = calibrate(&p, p.seed);
        let schema = arrow_schema();
        let batch = to_record_batch(&schema, &generate_range(&p, &cal, 0, 5000));
        let dir = tempfile::tempdir().unwrap();
        let (delta, raw) = population_layout();
        let write = |name: &str, delta: &[&str], raw: &[&str]| {
            let path = dir.path().join(name);
            let (mut w, f) =
                TableWriter::parquet_with_layout(&path, schema.clone(), 2048, &[], delta, raw)
                    .unwrap();
            for (i, off) in (0..5000).step_by(2048).enumerate() {
                let part = batch.slice(off, 2048.min(5000 - off));
                let enc = f.encoder(i).unwrap().encode(&part).unwrap();
                w.append(enc, part.num_rows() as u64).unwrap();
            }
            w.finish().unwrap();
            path
        };
        let (old, new) = (
            write("old.parquet", &[], &[]),
            write("new.parquet", &delta, &raw),
        );
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        for path in [&old, &new] {
            let mut off = 0;
            for part in crate::data::artifact::read_parquet_columns(path, &names).unwrap() {
                assert_eq!(
                    part,
                    batch.slice(off, part.num_rows()),
                    "{path:?} at row {off}"
                );
                off += part.num_rows();
            }
            assert_eq!(off, 5000);
        }
        assert_eq!(delta.len(), 21, "every integer column: {delta:?}");
        assert_eq!(raw, ["nsf_prob"]);
        let file = SerializedFileReader::new(std::fs::File::open(&new).unwrap()).unwrap();
        for c in file.metadata().row_group(0).columns() {
            let name = c.column_path().string();
            let (d, r) = (delta.contains(&name.as_str()), raw.contains(&name.as_str()));
            let has_delta = c.encodings().any(|e| e == Encoding::DELTA_BINARY_PACKED);
            assert_eq!(has_delta, d, "{name}");
            let plain = c.compression() == Compression::UNCOMPRESSED;
            assert_eq!(plain, d || r || name.ends_with("sha256"), "{name}");
        }
    }

    /// The column buffers `run` fills give the batch the row conversion
    /// gives, column for column (values, types, null buffers).
    #[test]
    fn column_buffers_equal_the_row_conversion() {
        let p = crate::sim::preset::load("small", &["users=3000".into()])
            .unwrap()
            .check()
            .unwrap();
        let cal = calibrate(&p, p.seed);
        let users = generate_range(&p, &cal, 0, 3000);
        let schema = arrow_schema();
        let (a, b) = (
            to_record_batch(&schema, &users),
            to_record_batch_streamed(&schema, &users),
        );
        for (i, f) in schema.fields().iter().enumerate() {
            assert_eq!(a.column(i).to_data(), b.column(i).to_data(), "{}", f.name());
            assert_eq!(a.column(i).nulls(), b.column(i).nulls(), "{}", f.name());
        }
        let mut t = Tally::default();
        users.iter().for_each(|u| t.add_user(u));
        let mut cols = ColumnBuffers::default();
        users.iter().for_each(|u| cols.push(u));
        let (_, t2) = cols.take_batch(&schema);
        assert_eq!(t.summary(), t2.summary());
    }
}
