//! HTML reports rendered from their Markdown (pulldown-cmark), so that
//! `report.html` and `audit.html` hold exactly the sections of `report.md`
//! and `audit.md`; plots are inlined as SVG.

use pulldown_cmark::{Options, Parser, html};

use crate::report::{Figure, esc};

/// The stylesheet: readable tables, a light grid, figures at full width.
const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0 1em}td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}code{font-size:0.9em;background:#f5f5f5;padding:0 2px}figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{font-size:0.9em;color:#444}";

/// A self-contained HTML page of the Markdown `markdown` (tables on; raw
/// HTML blocks, the inline figures, passed through).
pub fn page(title: &str, markdown: &str) -> String {
    let mut body = String::new();
    html::push_html(&mut body, Parser::new_ext(markdown, Options::ENABLE_TABLES));
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n{body}</body></html>\n",
        esc(title)
    )
}

/// The plots as a `## Plots` section of raw HTML figures (inline SVG, one
/// line each so Markdown keeps every block whole).
pub fn figure_blocks(figures: &[Figure]) -> String {
    let mut s = String::new();
    if !figures.is_empty() {
        s.push_str("\n## Plots\n\n");
    }
    for f in figures {
        let svg = f.svg.find("<svg").map_or(f.svg.as_str(), |i| &f.svg[i..]);
        let svg = svg.replace(['\n', '\r'], " ");
        let svg = svg.replacen("<svg", "<svg role=\"img\"", 1);
        s.push_str(&format!(
            "<figure id=\"{}\">{svg}<figcaption>{}</figcaption></figure>\n\n",
            esc(&f.stem),
            esc(&f.caption).replace('`', "")
        ));
    }
    s
}
