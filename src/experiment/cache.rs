//! Replicate data sets, cached: generated once per (preset, overrides,
//! users, seed) and reused while the generator revision and the data file's
//! checksum still match.

use std::path::{Path, PathBuf};

use crate::data::generate::{self, Format, GenerateOptions};
use crate::error::Result;
use crate::experiment::spec::ExperimentSpec;

/// Where replicate data sets are cached: `<root>/<preset>-<users>-seed<seed>`.
pub fn data_dir(root: &Path, spec: &ExperimentSpec, seed: u64) -> PathBuf {
    let preset = Path::new(&spec.preset)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| spec.preset.clone());
    // Overrides change the population: they get their own cache folder.
    let tag = if spec.preset_overrides.is_empty() {
        String::new()
    } else {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for o in &spec.preset_overrides {
            h.update(o.as_bytes());
            h.update(b"\n");
        }
        format!("-{}", &hex::encode(h.finalize())[..8])
    };
    root.join(format!("{preset}{tag}-{}-seed{seed}", spec.users))
}

/// Generates the replicate's population unless a matching one is cached.
pub fn ensure_data(spec: &ExperimentSpec, root: &Path, seed: u64) -> Result<PathBuf> {
    let dir = data_dir(root, spec, seed);
    let mut preset = crate::sim::preset::load(&spec.preset, &spec.preset_overrides)?;
    preset.users = spec.users;
    preset.seed = seed;
    let p = preset.check()?;
    if let Ok(m) = generate::read_manifest(&dir) {
        let data_ok = crate::data::artifact::sha256_file(&dir.join(&m.files[0].name))
            .ok()
            .as_deref()
            == Some(m.files[0].sha256.as_str());
        if m.preset == *p.preset()
            && m.format == Format::Parquet
            && m.generator_revision == generate::GENERATOR_REVISION
            && data_ok
        {
            return Ok(dir);
        }
    }
    let opts = GenerateOptions {
        out: dir.clone(),
        format: Format::Parquet,
        force: true,
    };
    generate::run(&p, &opts, &|_| {})?;
    Ok(dir)
}
