//! Plots of an experiment (SVG and PNG): the only module that knows
//! plotters. Fonts are bundled (DejaVu Sans, `assets/fonts/`) and drawn with
//! ab_glyph, so plots render the same on a fresh machine without fontconfig.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{NsfError, Result};

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, bytes);
    });
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// A named curve.
pub struct Curve {
    /// Legend label.
    pub name: String,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Optional 95% band (x, low, high), drawn shaded behind the line.
    pub band: Vec<(f64, f64, f64)>,
}

/// An estimate with its 95% interval, for interval charts.
pub struct Estimate {
    /// Label.
    pub name: String,
    /// Point estimate.
    pub mean: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

type SvgDraw<'a> = dyn Fn(&DrawingArea<SVGBackend, Shift>) -> std::result::Result<(), String> + 'a;
type PngDraw<'a> =
    dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> std::result::Result<(), String> + 'a;

fn perr<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn lines_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    range: (std::ops::Range<f64>, std::ops::Range<f64>),
    curves: &[Curve],
    diagonal: bool,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(perr)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(range.0.clone(), range.1.clone())
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(perr)?;
    if diagonal {
        let (x0, x1) = (range.0.start, range.0.end);
        chart
            .draw_series(LineSeries::new(
                vec![(x0, x0), (x1, x1)],
                BLACK.mix(0.3).stroke_width(1),
            ))
            .map_err(perr)?;
    }
    for (i, c) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        if c.band.len() > 1 {
            let mut outline: Vec<(f64, f64)> = c.band.iter().map(|b| (b.0, b.2)).collect();
            outline.extend(c.band.iter().rev().map(|b| (b.0, b.1)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    color.mix(0.18).filled(),
                )))
                .map_err(perr)?;
        }
    }
    draw_curves(&mut chart, curves, SeriesLabelPosition::LowerRight)?;
    root.present().map_err(perr)
}

/// Draws each curve in its color with a legend entry, then the legend.
fn draw_curves<'a, DB: DrawingBackend + 'a, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    curves: &[Curve],
    legend: SeriesLabelPosition,
) -> std::result::Result<(), String>
where
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    for (i, c) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(c.points.clone(), color.stroke_width(2)))
            .map_err(perr)?
            .label(c.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(legend)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(perr)
}

/// The name of the category at an integer axis position (empty elsewhere).
fn category_label(names: &[String], v: f64) -> String {
    let i = v.round();
    if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
        names[i as usize].clone()
    } else {
        String::new()
    }
}

fn interval_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    estimates: &[Estimate],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(perr)?;
    let lo = estimates.iter().map(|e| e.low).fold(0.0f64, f64::min);
    let hi = estimates.iter().map(|e| e.high).fold(0.0f64, f64::max);
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let n = estimates.len();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (lo - pad)..(hi + pad))
        .map_err(perr)?;
    let names: Vec<String> = estimates.iter().map(|e| e.name.clone()).collect();
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| category_label(&names, *x))
        .y_desc(y_desc)
        .label_style(("sans-serif", 13))
        .disable_x_mesh()
        .draw()
        .map_err(perr)?;
    chart
        .draw_series(LineSeries::new(
            vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
            BLACK.mix(0.4),
        ))
        .map_err(perr)?;
    for (i, e) in estimates.iter().enumerate() {
        let x = i as f64;
        let color = COLORS[i % COLORS.len()];
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, e.low), (x, e.high)],
                color.stroke_width(3),
            )))
            .map_err(perr)?;
        chart
            .draw_series(std::iter::once(Circle::new((x, e.mean), 5, color.filled())))
            .map_err(perr)?;
    }
    root.present().map_err(perr)
}

fn render(stem: &Path, svg: &SvgDraw, png: &PngDraw) -> Result<String> {
    register_font();
    let svg_path = stem.with_extension("svg");
    let png_path = stem.with_extension("png");
    // A plot that cannot be written (a full disk, an I/O error of the
    // backend) is a failure during the run, exit 1 like any other file:
    // drawing reads no user input.
    let fail = |path: &Path, message: String| NsfError::io(path, std::io::Error::other(message));
    crate::data::artifact::fault_disk_full(&svg_path);
    crate::data::artifact::fault_disk_full(&png_path);
    {
        let root = SVGBackend::new(&svg_path, (900, 600)).into_drawing_area();
        svg(&root).map_err(|m| fail(&svg_path, m))?;
    }
    {
        let root = BitMapBackend::new(&png_path, (900, 600)).into_drawing_area();
        png(&root).map_err(|m| fail(&png_path, m))?;
    }
    std::fs::read_to_string(&svg_path).map_err(|e| NsfError::io(&svg_path, e))
}

/// Draws curves into `<stem>.svg` and `<stem>.png`; returns the SVG text.
pub fn lines(
    stem: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    range: (std::ops::Range<f64>, std::ops::Range<f64>),
    curves: &[Curve],
    diagonal: bool,
) -> Result<String> {
    render(
        stem,
        &|root| lines_chart(root, title, x_desc, y_desc, range.clone(), curves, diagonal),
        &|root| lines_chart(root, title, x_desc, y_desc, range.clone(), curves, diagonal),
    )
}

/// Draws estimates with 95% intervals into `<stem>.svg` / `.png`.
pub fn intervals(stem: &Path, title: &str, y_desc: &str, estimates: &[Estimate]) -> Result<String> {
    render(
        stem,
        &|root| interval_chart(root, title, y_desc, estimates),
        &|root| interval_chart(root, title, y_desc, estimates),
    )
}

fn loglog_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    curves: &[Curve],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(perr)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d((1e-4f64..1.0).log_scale(), (1e-4f64..1.0).log_scale())
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(perr)?;
    chart
        .draw_series(LineSeries::new(
            vec![(1e-4, 1e-4), (1.0, 1.0)],
            BLACK.mix(0.4).stroke_width(1),
        ))
        .map_err(perr)?
        .label("chance")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.4)));
    draw_curves(&mut chart, curves, SeriesLabelPosition::UpperLeft)?;
    root.present().map_err(perr)
}

/// Draws curves on log-log axes from 1e-4 to 1 with the chance diagonal
/// (membership-inference ROC) into `<stem>.svg` / `.png`.
pub fn loglog(
    stem: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    curves: &[Curve],
) -> Result<String> {
    render(
        stem,
        &|root| loglog_chart(root, title, x_desc, y_desc, curves),
        &|root| loglog_chart(root, title, x_desc, y_desc, curves),
    )
}

/// One row of a horizontal bar chart: a label and one value per series.
pub struct BarRow {
    /// Row label.
    pub name: String,
    /// One value per series.
    pub values: Vec<f64>,
}

fn hbar_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    series: &[String],
    rows: &[BarRow],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(perr)?;
    let n = rows.len();
    let k = series.len().max(1);
    let hi = rows
        .iter()
        .flat_map(|r| r.values.iter().copied())
        .fold(0.05f64, f64::max)
        * 1.05;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(230)
        .build_cartesian_2d(0f64..hi.min(1.05), -0.5f64..(n as f64 - 0.5))
        .map_err(perr)?;
    // Rows run top to bottom: category i sits at y = n - 1 - i.
    let names: Vec<String> = rows.iter().rev().map(|r| r.name.clone()).collect();
    chart
        .configure_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| category_label(&names, *y))
        .x_desc(x_desc)
        .label_style(("sans-serif", 12))
        .disable_y_mesh()
        .draw()
        .map_err(perr)?;
    let h = 0.8 / k as f64;
    for (s, name) in series.iter().enumerate() {
        let color = COLORS[s % COLORS.len()];
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let y = (n - 1 - i) as f64 + 0.4 - h * (s as f64 + 1.0);
                let v = r.values.get(s).copied().unwrap_or(0.0).max(0.0);
                Rectangle::new([(0.0, y), (v, y + h)], color.filled())
            }))
            .map_err(perr)?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(perr)?;
    root.present().map_err(perr)
}

/// Draws a horizontal grouped bar chart (rows top to bottom, one bar per
/// series) into `<stem>.svg` / `.png`.
pub fn hbars(
    stem: &Path,
    title: &str,
    x_desc: &str,
    series: &[String],
    rows: &[BarRow],
) -> Result<String> {
    render(
        stem,
        &|root| hbar_chart(root, title, x_desc, series, rows),
        &|root| hbar_chart(root, title, x_desc, series, rows),
    )
}
