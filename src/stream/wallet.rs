//! What the wallet would send if it computed the score itself: bytes per
//! record of chosen columns of a Parquet file, measured from its column
//! chunks like `volume::user_record_bytes` measures the 24 categories.

use std::path::Path;

use crate::error::{NsfError, Result};

/// Compressed bytes per row of `columns` of the Parquet file `path`
/// (column-chunk sizes summed over row groups, divided by the rows).
pub fn column_bytes_per_row(path: &Path, columns: &[&str]) -> Result<f64> {
    let input = |message: String| NsfError::Input {
        path: path.to_path_buf(),
        message,
    };
    let meta = crate::data::artifact::open_parquet(path)?
        .metadata()
        .clone();
    let rows = meta.file_metadata().num_rows().max(1) as f64;
    let mut bytes = 0u64;
    let mut seen = 0usize;
    for rg in meta.row_groups() {
        for c in rg.columns() {
            if columns.contains(&c.column_path().string().as_str()) {
                bytes += c.compressed_size() as u64;
                seen += 1;
            }
        }
    }
    if seen == 0 {
        return Err(input(format!("has none of the columns {columns:?}")));
    }
    Ok(bytes as f64 / rows)
}
