//! The accountability part of a destruction record (who ordered, who
//! carried out, who validates, where, with which tool and method), and the
//! record's digest. Field names follow the certificate of sanitization of
//! NIST SP 800-88 Rev. 1, Appendix G (README maps them).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{NsfError, Result};

/// The literal an operator gives for a field the order does not state.
pub const NOT_GIVEN: &str = "not-given";

/// The order and the people accountable for carrying it out. Every field is
/// required: a value, or the literal `not-given`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Order {
    /// Who issued the order (authority, court, data subject, ...).
    pub issuer: String,
    /// The order's reference.
    pub reference: String,
    /// The date of the order (YYYY-MM-DD) or `not-given`.
    pub date: String,
    /// What the order covers, in its own words.
    pub scope: String,
    /// Who carried out this run (NIST: "sanitized by").
    pub operator: String,
    /// Who validates the result (NIST: "validated by").
    pub validator: String,
}

impl Order {
    /// Every field non-empty; the date a calendar date or `not-given`.
    pub fn check(&self) -> Result<()> {
        let fields = [
            ("--order-issuer", &self.issuer),
            ("--order-ref", &self.reference),
            ("--order-date", &self.date),
            ("--order-scope", &self.scope),
            ("--operator", &self.operator),
            ("--validator", &self.validator),
        ];
        for (flag, v) in fields {
            if v.trim().is_empty() {
                return Err(NsfError::param(
                    flag,
                    format!("is empty; give a value or `{NOT_GIVEN}`"),
                ));
            }
        }
        if self.date != NOT_GIVEN
            && chrono::NaiveDate::parse_from_str(&self.date, "%Y-%m-%d").is_err()
        {
            return Err(NsfError::param(
                "--order-date",
                format!(
                    "`{}` is not a date YYYY-MM-DD (or `{NOT_GIVEN}`)",
                    self.date
                ),
            ));
        }
        Ok(())
    }
}

/// How files are deleted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum DeletionMethod {
    /// Remove the directory entry (NIST "clear" is NOT achieved: the
    /// blocks stay on the disk until reused).
    #[default]
    Unlink,
    /// Overwrite the content with zeros, flush, then unlink.
    Overwrite,
}

impl DeletionMethod {
    /// `unlink` or `overwrite`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "unlink" => Ok(Self::Unlink),
            "overwrite" => Ok(Self::Overwrite),
            o => Err(NsfError::param(
                "--deletion-method",
                format!("`{o}` is not unlink or overwrite"),
            )),
        }
    }

    /// What the method does and does not guarantee (written into the record).
    pub fn statement(self) -> &'static str {
        match self {
            Self::Unlink => {
                "unlink: each file's directory entry is removed after its SHA-256 is checked; \
                 its blocks stay on the storage device until reused and can be recovered \
                 with forensic tools"
            }
            Self::Overwrite => {
                "overwrite then unlink: each file's content is overwritten once with zeros \
                 and flushed, then unlinked; on copy-on-write file systems (btrfs, ZFS, \
                 APFS), snapshots, journaling of data, SSDs and flash (wear levelling) the \
                 old blocks may survive, so this gives no guarantee there"
            }
        }
    }
}

/// Where and with what a run was carried out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Execution {
    /// Host name of the machine (from the kernel).
    pub host: String,
    /// The tool.
    pub tool: String,
    /// Its version.
    pub version: String,
    /// Its build: SHA-256 of the sources it was compiled from (see
    /// ARCHITECTURE.md, "Destruction records").
    pub build: String,
    /// The deletion method.
    pub deletion_method: DeletionMethod,
    /// What the method guarantees and what it does not.
    pub deletion_method_statement: String,
}

impl Execution {
    /// This machine and this build, with `method`.
    pub fn here(method: DeletionMethod) -> Self {
        Execution {
            host: host_name(),
            tool: "nsfsim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            build: env!("NSFSIM_BUILD").into(),
            deletion_method: method,
            deletion_method_statement: method.statement().into(),
        }
    }
}

/// The kernel's host name (`unknown` when it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether the training data set is kept or destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    /// Kept (the record warns that retraining reproduces the model).
    Keep,
    /// Deleted through the same content-checked path as the model.
    Destroy,
}

impl Disposition {
    /// `keep` or `destroy`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "keep" => Ok(Self::Keep),
            "destroy" => Ok(Self::Destroy),
            o => Err(NsfError::param(
                "--data-disposition",
                format!("`{o}` is not keep or destroy"),
            )),
        }
    }
}

/// An Ed25519 signature by the operator's key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct Signature {
    /// Always "ed25519".
    pub algorithm: String,
    /// The public key, hex (32 bytes).
    pub public_key: String,
    /// The signature, hex (64 bytes), over the ASCII hex digest it signs.
    pub signature: String,
}

/// SHA-256 of `value` serialized as JSON after `blank` cleared the fields
/// that hold the digest and the signature.
pub fn digest_of<T: Serialize + Clone>(value: &T, blank: impl FnOnce(&mut T)) -> String {
    let mut c = value.clone();
    blank(&mut c);
    hex::encode(Sha256::digest(
        serde_json::to_vec(&c).expect("record serializes"),
    ))
}
