//! Reports: the experiment report (`report.md`/`report.html`, `experiment`)
//! and the audit report (`audit.md`/`audit.html`, `audit`), each opening
//! with its findings in plain words, their plots (through `plot`), and the
//! output folders they are published in (staged, with manifest and lineage).

pub mod audit;
pub mod enough;
pub mod experiment;
pub mod html;
pub mod lawful;
pub mod lineage;
pub mod plot;
pub mod scale;
pub mod schemas;
pub mod tidy;

pub use audit::{audit_figures, audit_findings, audit_html, audit_markdown};
pub use experiment::{figures, html, markdown};

/// A drawn plot: file stem (in `plots/`), caption, inline SVG.
pub struct Figure {
    /// File stem, e.g. `roc`.
    pub stem: String,
    /// Caption.
    pub caption: String,
    /// The SVG text (embedded in report.html).
    pub svg: String,
}

pub(crate) fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Figures as Markdown image links (PNG, beside the report in `plots/`).
pub(crate) fn md_figures(figures: &[Figure]) -> String {
    let mut s = String::new();
    if !figures.is_empty() {
        s.push_str("\n## Plots\n\n");
    }
    for f in figures {
        s.push_str(&format!(
            "![{}](plots/{}.png)\n\n{}\n\n",
            f.stem, f.stem, f.caption
        ));
    }
    s
}
