//! What the wallet would send if it computed the score itself: bytes per
//! record of chosen columns of a Parquet file, measured from its column
//! chunks like `volume::user_record_bytes` measures the 24 categories.

use std::path::Path;

use crate::error::{NsfError, Result};

/// Compressed bytes per row of `columns` of the Parquet file `path`
/// (column-chunk sizes summed over row groups, divided by the rows).
pub fn column_bytes_per_row(path: &Path, columns: &[&str]) -> Result<f64> {
    let (bytes, seen, rows) = crate::stream::volume::column_chunk_bytes(path, columns)?;
    if seen == 0 {
        return Err(NsfError::Input {
            path: path.to_path_buf(),
            message: format!("has none of the columns {columns:?}"),
        });
    }
    Ok(bytes as f64 / rows as f64)
}
