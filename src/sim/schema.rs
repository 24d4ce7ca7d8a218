//! The data schema: the 24 attributes (name, type, unit, reported data
//! category) and the flag/outcome columns around them. This table is the single
//! source of truth for column order in every output file and in `nsfsim schema`.

use serde::Serialize;

/// The `010` mobile-number space: `010` + 8 digits, 10^8 numbers. Phone
/// numbers are a bijection of `user_id` onto it, so it bounds the
/// population size, and `reidentify` enumerates it.
pub const PHONE_SPACE: u64 = 100_000_000;

/// Storage type of a column, as written to Parquet/CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Unsigned 64-bit integer.
    U64,
    /// Unsigned 32-bit integer.
    U32,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 64-bit integer (KRW amounts).
    I64,
    /// Boolean flag.
    Bool,
    /// UTF-8 string.
    Utf8,
    /// A SHA-256 digest: 32 raw bytes in Parquet, lowercase hex in CSV.
    Sha256,
    /// 64-bit float.
    F64,
}

impl ColumnType {
    /// Short name shown in the schema table.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::U64 => "u64",
            ColumnType::U32 => "u32",
            ColumnType::U8 => "u8",
            ColumnType::I64 => "i64",
            ColumnType::Bool => "bool",
            ColumnType::Utf8 => "utf8",
            ColumnType::Sha256 => "sha256",
            ColumnType::F64 => "f64",
        }
    }
}

/// How an attribute may be used by a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A direct identifier: never a model feature.
    Identifier,
    /// A numeric attribute (count, amount, days, years).
    Numeric,
    /// A categorical attribute (region, device OS, on/off flag).
    Categorical,
}

/// One column of the population file.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Column {
    /// Column name in every output file.
    pub name: &'static str,
    /// Storage type.
    #[serde(rename = "type")]
    pub dtype: ColumnType,
    /// Unit of the value.
    pub unit: &'static str,
    /// The reported data category (CASE.md) this column stands for.
    pub category: &'static str,
    /// Role for modelling.
    pub role: Role,
    /// One-line meaning.
    pub description: &'static str,
}

const fn col(
    name: &'static str,
    dtype: ColumnType,
    unit: &'static str,
    category: &'static str,
    role: Role,
    description: &'static str,
) -> Column {
    Column {
        name,
        dtype,
        unit,
        category,
        role,
        description,
    }
}

use ColumnType::*;
use Role::*;

/// The 24 attributes, in file order. Amounts are integer KRW; "30d"/"7d" are
/// the 30 and 7 days before the snapshot date (`population.as_of`).
pub const ATTRIBUTES: [Column; 24] = [
    col(
        "account_id",
        U64,
        "id",
        "Kakao account ID",
        Identifier,
        "wallet account ID (10 digits, random-looking, unique)",
    ),
    col(
        "customer_no",
        U64,
        "id",
        "internal customer number",
        Identifier,
        "processor-side customer number (sequential)",
    ),
    col(
        "phone_sha256",
        Sha256,
        "digest",
        "mobile phone number",
        Identifier,
        "unsalted SHA-256 of \"010XXXXXXXX\", as sent in the case",
    ),
    col(
        "email_sha256",
        Sha256,
        "digest",
        "email address",
        Identifier,
        "unsalted SHA-256 of a synthetic address on example.com/.net/.org",
    ),
    col(
        "account_age_days",
        U32,
        "days",
        "sign-up date and account age",
        Numeric,
        "days from wallet sign-up to the snapshot date",
    ),
    col(
        "age_years",
        U8,
        "years",
        "profile (age)",
        Numeric,
        "user's age in years at the snapshot date",
    ),
    col(
        "region",
        Utf8,
        "code",
        "profile (region)",
        Categorical,
        "one of the 17 provinces/metropolitan cities (romanized)",
    ),
    col(
        "device_os",
        Utf8,
        "code",
        "profile (device OS)",
        Categorical,
        "\"ios\" or \"android\"",
    ),
    col(
        "balance_krw",
        I64,
        "KRW",
        "wallet balance",
        Numeric,
        "wallet (top-up) balance at the snapshot, 0..=2,000,000",
    ),
    col(
        "balance_avg_30d_krw",
        I64,
        "KRW",
        "history of balance",
        Numeric,
        "average end-of-day balance over 30d",
    ),
    col(
        "balance_min_30d_krw",
        I64,
        "KRW",
        "history of balance",
        Numeric,
        "minimum end-of-day balance over 30d (<= current and average)",
    ),
    col(
        "topup_count_30d",
        U32,
        "count",
        "top-ups",
        Numeric,
        "manual and automatic top-ups in 30d",
    ),
    col(
        "topup_amount_30d_krw",
        I64,
        "KRW",
        "top-ups",
        Numeric,
        "top-up total in 30d, a multiple of 10,000",
    ),
    col(
        "auto_topup",
        Bool,
        "flag",
        "top-ups (auto top-up setting)",
        Categorical,
        "automatic top-up from the linked bank account is on",
    ),
    col(
        "withdrawal_amount_30d_krw",
        I64,
        "KRW",
        "withdrawals",
        Numeric,
        "withdrawals from the wallet to a bank account in 30d",
    ),
    col(
        "payment_count_30d",
        U32,
        "count",
        "payments",
        Numeric,
        "wallet payments to merchants in 30d",
    ),
    col(
        "payment_amount_30d_krw",
        I64,
        "KRW",
        "payments",
        Numeric,
        "wallet payment total in 30d",
    ),
    col(
        "remit_sent_amount_30d_krw",
        I64,
        "KRW",
        "remittances (sent)",
        Numeric,
        "remittances sent in 30d",
    ),
    col(
        "remit_received_amount_30d_krw",
        I64,
        "KRW",
        "remittances (received)",
        Numeric,
        "remittances received in 30d",
    ),
    col(
        "registered_cards",
        U8,
        "count",
        "registered cards",
        Numeric,
        "payment cards registered in the wallet (0..=5)",
    ),
    col(
        "card_payment_amount_30d_krw",
        I64,
        "KRW",
        "payment history of registered cards",
        Numeric,
        "payments with registered cards in 30d",
    ),
    col(
        "topup_count_7d",
        U32,
        "count",
        "7-day count of top-ups",
        Numeric,
        "top-ups in the last 7 days (<= 30d count)",
    ),
    col(
        "payment_count_7d",
        U32,
        "count",
        "7-day count of payments",
        Numeric,
        "payments in the last 7 days (<= 30d count)",
    ),
    col(
        "remit_count_7d",
        U32,
        "count",
        "7-day count of remittances",
        Numeric,
        "remittances sent or received in the last 7 days",
    ),
];

/// Columns written beside the attributes: the row key, the flags, the outcome.
pub const USER_ID: Column = col(
    "user_id",
    U64,
    "id",
    "simulator row key",
    Identifier,
    "0..N-1, the simulator's own key (not a case data item)",
);
/// Flags and outcome, in file order after the attributes.
pub const TRAILING: [Column; 4] = [
    col(
        "apple_registered",
        Bool,
        "flag",
        "Apple registration",
        Categorical,
        "registered the wallet as an Apple payment method",
    ),
    col(
        "consented",
        Bool,
        "flag",
        "consent",
        Categorical,
        "agreed to the overseas transfer",
    ),
    col(
        "nsf",
        U8,
        "0/1",
        "outcome",
        Categorical,
        "1 when a grouped charge in the outcome window could not be covered",
    ),
    col(
        "nsf_prob",
        F64,
        "probability",
        "ground truth",
        Numeric,
        "estimated P(nsf = 1) given the user's pre-window state (see README)",
    ),
];

/// Every column of `users.parquet` in order: user_id, 24 attributes, flags, outcome.
pub fn all_columns() -> Vec<Column> {
    let mut v = Vec::with_capacity(1 + ATTRIBUTES.len() + TRAILING.len());
    v.push(USER_ID);
    v.extend_from_slice(&ATTRIBUTES);
    v.extend_from_slice(&TRAILING);
    v
}

/// An owned, serializable copy of a `Column` (what manifests record).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ColumnRecord {
    /// Column name.
    pub name: String,
    /// Storage type (`u64`, `i64`, `utf8`, ...).
    #[serde(rename = "type")]
    pub dtype: String,
    /// Unit.
    pub unit: String,
    /// Reported data category.
    pub category: String,
    /// identifier / numeric / categorical.
    pub role: String,
    /// Meaning.
    pub description: String,
}

impl From<&Column> for ColumnRecord {
    fn from(c: &Column) -> Self {
        ColumnRecord {
            name: c.name.into(),
            dtype: c.dtype.as_str().into(),
            unit: c.unit.into(),
            category: c.category.into(),
            role: c.role.as_str().into(),
            description: c.description.into(),
        }
    }
}

impl Role {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Identifier => "identifier",
            Numeric => "numeric",
            Categorical => "categorical",
        }
    }
}

/// The 17 regions (romanized), in the order of `population.region_shares`.
pub const REGIONS: [&str; 17] = [
    "Seoul",
    "Busan",
    "Daegu",
    "Incheon",
    "Gwangju",
    "Daejeon",
    "Ulsan",
    "Sejong",
    "Gyeonggi",
    "Gangwon",
    "Chungbuk",
    "Chungnam",
    "Jeonbuk",
    "Jeonnam",
    "Gyeongbuk",
    "Gyeongnam",
    "Jeju",
];

/// The schema as a Markdown table (what `nsfsim schema` prints).
pub fn markdown_table() -> String {
    let mut s = String::from(
        "| # | column | type | unit | reported category | role | meaning |\n|---|---|---|---|---|---|---|\n",
    );
    for (i, c) in all_columns().iter().enumerate() {
        let idx = if (1..=ATTRIBUTES.len()).contains(&i) {
            i.to_string()
        } else {
            "-".into()
        };
        let role = c.role.as_str();
        s.push_str(&format!(
            "| {idx} | `{}` | {} | {} | {} | {role} | {} |\n",
            c.name,
            c.dtype.as_str(),
            c.unit,
            c.category,
            c.description
        ));
    }
    s
}
