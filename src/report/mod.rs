//! Reports: the experiment report (`report.md`/`report.html`, `experiment`)
//! and the audit report (`audit.md`/`audit.html`, `audit`), each opening
//! with its findings in plain words, their plots (through `plot`), and the
//! output folders they are published in (staged, with manifest and lineage).

pub mod audit;
pub mod experiment;
pub mod plot;

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

/// The start of a self-contained HTML report, up to its first heading.
pub(crate) fn html_head(title: &str, h1: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}}table{{border-collapse:collapse;font-size:0.85em}}td,th{{border:1px solid #bbb;padding:3px 6px;text-align:right}}td:first-child,th:first-child{{text-align:left}}</style></head><body><h1>{}</h1>",
        esc(title),
        esc(h1)
    )
}

/// An HTML table.
pub(crate) fn html_table<H: AsRef<str>>(header: &[H], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><tr>");
    for h in header {
        s.push_str(&format!("<th>{}</th>", esc(h.as_ref())));
    }
    s.push_str("</tr>");
    for row in rows {
        s.push_str("<tr>");
        for c in row {
            s.push_str(&format!("<td>{}</td>", esc(c)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

/// Figures inline (SVG) with their captions.
pub(crate) fn html_figures(figures: &[Figure]) -> String {
    let mut s = String::new();
    if !figures.is_empty() {
        s.push_str("<h2>Plots</h2>");
    }
    for f in figures {
        let svg = f.svg.find("<svg").map_or(f.svg.as_str(), |i| &f.svg[i..]);
        s.push_str(&format!(
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            esc(&f.caption).replace('`', "")
        ));
    }
    s
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
