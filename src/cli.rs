//! The command line: the only module that knows clap. Parses flags into typed
//! settings, calls the library, and prints results. Errors go back to
//! `main`, which maps them to exit codes.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::error::NsfError;
use crate::generate::{self, Format, GenerateOptions};
use crate::{preset, schema};

/// nsfsim: simulate data minimization in NSF credit-risk scoring.
#[derive(Debug, Parser)]
#[command(name = "nsfsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a synthetic wallet population with NSF outcomes.
    Generate(GenerateArgs),
    /// Print the data schema (24 attributes, flags, outcome).
    Schema {
        /// Print JSON instead of a Markdown table.
        #[arg(long)]
        json: bool,
    },
    /// Print a preset after overrides, as TOML.
    Preset {
        /// Preset name (small, default, case) or path to a TOML file.
        #[arg(long, default_value = "default")]
        preset: String,
        /// Override a field: --set consent.rate=0.5 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Parquet,
    Csv,
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    /// Preset name (small, default, case) or path to a TOML file.
    #[arg(long, default_value = "default")]
    preset: String,
    /// Master seed (overrides the preset's).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of users (overrides the preset's).
    #[arg(long, allow_negative_numbers = true)]
    users: Option<i64>,
    /// Override any preset field: --set consent.rate=0.5 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Output folder (default synthetic/out/<preset name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Data file format.
    #[arg(long, value_enum, default_value = "parquet")]
    format: FormatArg,
    /// Worker threads (default: all cores). Output does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Replace an existing output folder.
    #[arg(long)]
    force: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn thread_pool(threads: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    if threads == Some(0) {
        return Err(NsfError::param("--threads", "must be at least 1").into());
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("cannot start worker threads")
}

fn load_preset(
    name: &str,
    set: &[String],
    seed: Option<u64>,
    users: Option<i64>,
) -> anyhow::Result<preset::ValidPreset> {
    let mut p = preset::load(name, set)?;
    if let Some(s) = seed {
        p.seed = s;
    }
    if let Some(u) = users {
        if u < 1 {
            return Err(NsfError::param("--users", format!("{u}: must be at least 1")).into());
        }
        p.users = u as u64;
    }
    Ok(p.check()?)
}

fn cmd_generate(a: GenerateArgs) -> anyhow::Result<()> {
    let p = load_preset(&a.preset, &a.set, a.seed, a.users)?;
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from("synthetic/out").join(&p.name));
    let format = match a.format {
        FormatArg::Parquet => Format::Parquet,
        FormatArg::Csv => Format::Csv,
    };
    let pool = thread_pool(a.threads)?;
    let bar = if !a.quiet && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(p.users);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} generate [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} users ({per_sec}, eta {eta})",
            )
            .expect("valid template"),
        );
        Some(b)
    } else {
        None
    };
    let started = Instant::now();
    let opts = GenerateOptions {
        out: out.clone(),
        format,
        force: a.force,
    };
    let manifest = pool.install(|| {
        generate::run(&p, &opts, &|done| {
            if let Some(b) = &bar {
                b.set_position(done);
            }
        })
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    let s = &manifest.summary;
    println!(
        "wrote {}: {} users in {:.1} s ({:.0} users/s); registered {:.2}%, consented {:.2}%, nsf {:.2}% (mean nsf_prob {:.2}%)",
        out.display(),
        manifest.users,
        secs,
        manifest.users as f64 / secs,
        100.0 * s.registered_share,
        100.0 * s.consented_share,
        100.0 * s.nsf_rate,
        100.0 * s.mean_nsf_prob,
    );
    Ok(())
}

/// Parses the command line and runs the command.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Generate(a) => cmd_generate(a),
        Command::Schema { json } => {
            if json {
                let cols: Vec<schema::ColumnRecord> = schema::all_columns()
                    .iter()
                    .map(schema::ColumnRecord::from)
                    .collect();
                println!("{}", serde_json::to_string_pretty(&cols)?);
            } else {
                print!("{}", schema::markdown_table());
            }
            Ok(())
        }
        Command::Preset { preset, set } => {
            let p = preset::load(&preset, &set)?;
            let v = p.clone().check()?;
            drop(v);
            print!("{}", toml::to_string(&p)?);
            Ok(())
        }
    }
}
