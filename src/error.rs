//! Typed errors of the library. The binary maps every variant to exit code 2
//! (bad input or a refused operation) except `Io` during a run, which is 1.

use std::path::PathBuf;

/// Everything that can go wrong inside nsfsim's library.
#[derive(Debug, thiserror::Error)]
pub enum NsfError {
    /// A preset or experiment file, or one of its fields, is invalid.
    #[error("preset {source_name}: {message}")]
    Preset {
        /// Where the preset came from (a name or a path).
        source_name: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A parameter failed validation (names the field).
    #[error("invalid parameter `{field}`: {message}")]
    Param {
        /// Dotted field name, e.g. `consent.rate`.
        field: String,
        /// Why it was refused.
        message: String,
    },
    /// The output location cannot be used.
    #[error("output {path}: {message}")]
    Output {
        /// The output path.
        path: PathBuf,
        /// Why it cannot be used.
        message: String,
    },
    /// An input data set or artifact is unreadable or inconsistent.
    #[error("input {path}: {message}")]
    Input {
        /// The input path.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An I/O failure while reading or writing `path`. The OS error is part
    /// of this message and deliberately not also reported as the error's
    /// `source()`: the binary prints the whole chain (`{e:#}`), which would
    /// repeat "(os error N)".
    #[error("{path}: {error}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error (shown in the message, not as a source).
        error: std::io::Error,
    },
    /// A destruction order was carried out but cannot be shown complete
    /// (copies found, files kept, lineage not followed): exit code 3.
    #[error("{message}")]
    Incomplete {
        /// What is missing.
        message: String,
    },
    /// Parquet / Arrow encoding failure.
    #[error("parquet {path}: {message}")]
    Parquet {
        /// The file involved.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
}

impl NsfError {
    /// Shorthand for a parameter error.
    pub fn param(field: impl Into<String>, message: impl Into<String>) -> Self {
        NsfError::Param {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for an I/O error on a path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NsfError::Io {
            path: path.into(),
            error: source,
        }
    }

    /// True when the error comes from the user's input (exit code 2), false
    /// for failures of the environment during a run (exit code 1).
    pub fn is_user_error(&self) -> bool {
        !matches!(
            self,
            NsfError::Io { .. } | NsfError::Parquet { .. } | NsfError::Incomplete { .. }
        )
    }

    /// The process exit code for this error: 3 for an incomplete order,
    /// 2 for bad input or a refused operation, 1 for a failure during a run.
    pub fn exit_code(&self) -> u8 {
        match self {
            NsfError::Incomplete { .. } => 3,
            e if e.is_user_error() => 2,
            _ => 1,
        }
    }
}

/// Result alias used across the library.
pub type Result<T> = std::result::Result<T, NsfError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 11): an I/O error printed the way `main` prints
    /// errors (`{:#}`, the whole chain) names the OS error once.
    #[test]
    fn an_io_error_names_its_os_error_once() {
        let e = NsfError::io(
            "/data/users.parquet",
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        );
        let shown = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(
            shown,
            "/data/users.parquet: No space left on device (os error 28)"
        );
        assert_eq!(shown.matches("(os error").count(), 1);
    }
}
