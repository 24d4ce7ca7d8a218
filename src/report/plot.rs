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

/// The Okabe–Ito palette, safe for readers with colour-vision deficiency:
/// black, orange, sky blue, bluish green, blue, vermillion, reddish purple,
/// yellow. Every plot takes its colours from it, by arm (or series) index.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 158, 115),
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(204, 121, 167),
    RGBColor(240, 228, 66),
];

/// Grey, for anything past the palette's eight colours (size-matched arms).
pub const GREY: RGBColor = RGBColor(153, 153, 153);

/// The palette's colour number `i` (grey past its end).
fn color(i: usize) -> RGBColor {
    PALETTE.get(i).copied().unwrap_or(GREY)
}

/// The font named in every SVG: the bundled DejaVu Sans first, then
/// look-alikes a viewer is likely to have.
pub const SVG_FONT: &str = "DejaVu Sans, Verdana, Bitstream Vera Sans, sans-serif";

/// A named curve.
pub struct Curve {
    /// Legend label.
    pub name: String,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Optional 95% band (x, low, high), drawn shaded behind the line.
    pub band: Vec<(f64, f64, f64)>,
    /// Palette colour number (one per arm across every plot).
    pub color: usize,
    /// Line style: 0 solid, 1 dashed, 2 dotted (one per model family).
    pub dash: usize,
}

/// An estimate with its 95% interval, for interval charts.
pub struct Estimate {
    /// Label.
    pub name: String,
    /// Group the label belongs to (e.g. a subgroup dimension; drawn as
    /// separated blocks); empty for none.
    pub group: String,
    /// Point estimate.
    pub mean: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Palette colour number.
    pub color: usize,
}

/// How an axis' tick labels read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ticks {
    /// A number with this many decimals.
    Decimal(usize),
    /// Whole numbers only (ticks between them unlabelled).
    Integer,
    /// Whole KRW with thousands separators.
    Krw,
    /// The axis holds log10(x): labels 10³, 10⁴, … at whole powers only.
    PowerOfTen,
}

impl Ticks {
    /// The label of tick value `v`.
    pub fn label(self, v: f64) -> String {
        match self {
            Ticks::Decimal(d) => format!("{v:.d$}"),
            Ticks::Integer if (v - v.round()).abs() < 1e-6 => format!("{}", v.round() as i64),
            Ticks::Integer => String::new(),
            Ticks::Krw => thousands(v.round() as i64),
            Ticks::PowerOfTen if (v - v.round()).abs() < 1e-6 => {
                format!("10{}", superscript(v.round() as i64))
            }
            Ticks::PowerOfTen => String::new(),
        }
    }
}

/// `n` with thousands separators: 12345 → "12,345".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("−{out}") } else { out }
}

fn superscript(n: i64) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s: String = n
        .unsigned_abs()
        .to_string()
        .chars()
        .map(|c| SUP[c.to_digit(10).unwrap_or(0) as usize])
        .collect();
    if n < 0 {
        s.insert(0, '⁻');
    }
    s
}

/// The frame of a line chart: title, axis names, ranges and tick labels.
#[derive(Debug, Clone)]
pub struct Axes {
    /// Chart title.
    pub title: String,
    /// x axis name, in plain units.
    pub x_desc: String,
    /// y axis name, in plain units.
    pub y_desc: String,
    /// x range.
    pub x: std::ops::Range<f64>,
    /// y range.
    pub y: std::ops::Range<f64>,
    /// x tick labels.
    pub x_ticks: Ticks,
    /// y tick labels.
    pub y_ticks: Ticks,
    /// Number of x ticks (plotters' hint).
    pub x_count: usize,
    /// Draw the y = x diagonal.
    pub diagonal: bool,
}

type SvgDraw<'a> = dyn Fn(&DrawingArea<SVGBackend, Shift>) -> std::result::Result<(), String> + 'a;
type PngDraw<'a> =
    dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> std::result::Result<(), String> + 'a;

fn perr<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// One curve's stroke: its palette colour, dashed or dotted by family.
fn stroke(c: &Curve) -> ShapeStyle {
    color(c.color).stroke_width(2)
}

fn lines_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    axes: &Axes,
    curves: &[Curve],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(perr)?;
    let mut chart = ChartBuilder::on(root)
        .caption(&axes.title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(75)
        .build_cartesian_2d(axes.x.clone(), axes.y.clone())
        .map_err(perr)?;
    let (xt, yt) = (axes.x_ticks, axes.y_ticks);
    chart
        .configure_mesh()
        .x_desc(axes.x_desc.as_str())
        .y_desc(axes.y_desc.as_str())
        .x_labels(axes.x_count)
        .x_label_formatter(&|v| xt.label(*v))
        .y_label_formatter(&|v| yt.label(*v))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(perr)?;
    if axes.diagonal {
        let (x0, x1) = (axes.x.start, axes.x.end);
        chart
            .draw_series(LineSeries::new(
                vec![(x0, x0), (x1, x1)],
                BLACK.mix(0.3).stroke_width(1),
            ))
            .map_err(perr)?;
    }
    let clamp = |v: f64| v.clamp(axes.y.start, axes.y.end);
    for c in curves.iter().filter(|c| c.band.len() > 1) {
        let mut outline: Vec<(f64, f64)> = c.band.iter().map(|b| (b.0, clamp(b.2))).collect();
        outline.extend(c.band.iter().rev().map(|b| (b.0, clamp(b.1))));
        chart
            .draw_series(std::iter::once(Polygon::new(
                outline,
                color(c.color).mix(0.10).filled(),
            )))
            .map_err(perr)?;
    }
    draw_curves(&mut chart, curves, SeriesLabelPosition::LowerRight)?;
    root.present().map_err(perr)
}

/// Draws each curve in its colour and dash with a legend entry, then the
/// legend.
fn draw_curves<'a, DB: DrawingBackend + 'a, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    curves: &[Curve],
    legend: SeriesLabelPosition,
) -> std::result::Result<(), String>
where
    CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    for c in curves {
        let style = stroke(c);
        let (size, gap) = match c.dash {
            0 => (0, 0),
            1 => (9, 5),
            _ => (2, 4),
        };
        let name = c.name.clone();
        if size == 0 {
            chart
                .draw_series(LineSeries::new(c.points.clone(), style))
                .map_err(perr)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
        } else {
            chart
                .draw_series(DashedLineSeries::new(c.points.clone(), size, gap, style))
                .map_err(perr)?
                .label(name)
                .legend(move |(x, y)| {
                    plotters::element::DashedPathElement::new(
                        vec![(x, y), (x + 24, y)],
                        size,
                        gap,
                        style,
                    )
                });
        }
    }
    chart
        .configure_series_labels()
        .position(legend)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
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

/// Estimates as points with 95% interval bars, one per category along x,
/// grouped: a faint line between groups and the group's name above it.
fn interval_chart<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_desc: &str,
    y_ticks: Ticks,
    estimates: &[Estimate],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(perr)?;
    // Many categories: colours name them in a legend beside the plot (never
    // over a bar) instead of crowded axis labels.
    let legend = estimates.len() > 8;
    let (root, legend_area) = if legend {
        let (plot, side) = root.split_horizontally(root.dim_in_pixel().0.saturating_sub(190));
        (plot, Some(side))
    } else {
        (root.clone(), None)
    };
    let root = &root;
    let lo = estimates.iter().map(|e| e.low).fold(0.0f64, f64::min);
    let hi = estimates.iter().map(|e| e.high).fold(0.0f64, f64::max);
    let pad = ((hi - lo) * 0.12).max(1e-3);
    let n = estimates.len();
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(if n > 8 { 20 } else { 60 })
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), (lo - pad)..(hi + pad))
        .map_err(perr)?;
    let names: Vec<String> = estimates
        .iter()
        .map(|e| {
            if legend {
                String::new()
            } else {
                e.name.clone()
            }
        })
        .collect();
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| category_label(&names, *x))
        .y_desc(y_desc)
        .y_label_formatter(&|v| y_ticks.label(*v))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
        .axis_desc_style(("sans-serif", 16))
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
    group_separators(&mut chart, estimates, lo - pad, hi + pad, pad)?;
    interval_bars(&mut chart, estimates)?;
    if let Some(side) = legend_area {
        category_legend(&side, estimates)?;
    }
    root.present().map_err(perr)
}

/// The interval chart's drawing context (categories along x).
type IntervalChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A faint line between groups of categories and each group's name above it.
fn group_separators<'a, DB: DrawingBackend + 'a>(
    chart: &mut IntervalChart<'a, DB>,
    estimates: &[Estimate],
    y_low: f64,
    y_high: f64,
    pad: f64,
) -> std::result::Result<(), String> {
    let n = estimates.len();
    let mut start = 0;
    for i in 1..=n {
        if i < n && estimates[i].group == estimates[start].group {
            continue;
        }
        let g = &estimates[start].group;
        if !g.is_empty() {
            chart
                .draw_series(std::iter::once(Text::new(
                    g.clone(),
                    (start as f64 - 0.3, y_high - pad * 0.4),
                    ("sans-serif", 14).into_font().color(&BLACK.mix(0.7)),
                )))
                .map_err(perr)?;
        }
        if i < n {
            let x = i as f64 - 0.5;
            chart
                .draw_series(LineSeries::new(
                    vec![(x, y_low), (x, y_high)],
                    BLACK.mix(0.25).stroke_width(1),
                ))
                .map_err(perr)?;
        }
        start = i;
    }
    Ok(())
}

/// Each estimate as a point with its 95% interval bar, in its colour.
fn interval_bars<'a, DB: DrawingBackend + 'a>(
    chart: &mut IntervalChart<'a, DB>,
    estimates: &[Estimate],
) -> std::result::Result<(), String> {
    for (i, e) in estimates.iter().enumerate() {
        let x = i as f64;
        let c = color(e.color);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, e.low), (x, e.high)],
                c.stroke_width(3),
            )))
            .map_err(perr)?;
        chart
            .draw_series(std::iter::once(Circle::new((x, e.mean), 5, c.filled())))
            .map_err(perr)?;
    }
    Ok(())
}

/// A legend naming each category's colour once, drawn in its own area
/// beside the plot (used when there are too many categories to label the
/// x axis).
fn category_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    estimates: &[Estimate],
) -> std::result::Result<(), String> {
    let mut seen: Vec<&str> = Vec::new();
    for e in estimates {
        if seen.contains(&e.name.as_str()) {
            continue;
        }
        let y = 60 + 22 * seen.len() as i32;
        seen.push(&e.name);
        let c = color(e.color);
        area.draw(&Circle::new((14, y), 5, c.filled()))
            .map_err(perr)?;
        area.draw(&Text::new(
            e.name.clone(),
            (26, y - 7),
            ("sans-serif", 13).into_font(),
        ))
        .map_err(perr)?;
    }
    Ok(())
}

/// Names the bundled font (with fallbacks) in an SVG written by plotters.
fn name_font(svg: &str) -> String {
    svg.replace(
        "font-family=\"sans-serif\"",
        &format!("font-family=\"{SVG_FONT}\""),
    )
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
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, PLOT_SIZE).into_drawing_area();
        svg(&root).map_err(|m| fail(&svg_path, m))?;
    }
    let text = name_font(&text);
    std::fs::write(&svg_path, &text).map_err(|e| NsfError::io(&svg_path, e))?;
    let mut pixels = vec![0u8; 3 * PLOT_SIZE.0 as usize * PLOT_SIZE.1 as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, PLOT_SIZE).into_drawing_area();
        png(&root).map_err(|m| fail(&png_path, m))?;
    }
    let bytes = png_bytes(&pixels).map_err(|m| fail(&png_path, m))?;
    std::fs::write(&png_path, bytes).map_err(|e| NsfError::io(&png_path, e))?;
    Ok(text)
}

/// Width and height of every plot (SVG and PNG), in pixels.
const PLOT_SIZE: (u32, u32) = (900, 600);

/// The PNG file of an RGB picture of [`PLOT_SIZE`]: the bytes plotters'
/// own file target writes (the `image` crate's PNG encoder, default
/// settings). The file is written by `render`, so a failure to write it is
/// an ordinary I/O error naming the file: plotters' file target reported
/// it in debug form (`ImageError(IoError(Os { code: 28, .. }))`).
fn png_bytes(rgb: &[u8]) -> std::result::Result<Vec<u8>, String> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgb, PLOT_SIZE.0, PLOT_SIZE.1, image::ColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Draws curves into `<stem>.svg` and `<stem>.png`; returns the SVG text.
pub fn lines(stem: &Path, axes: &Axes, curves: &[Curve]) -> Result<String> {
    render(stem, &|root| lines_chart(root, axes, curves), &|root| {
        lines_chart(root, axes, curves)
    })
}

/// Draws estimates with 95% intervals into `<stem>.svg` / `.png`.
pub fn intervals(
    stem: &Path,
    title: &str,
    y_desc: &str,
    y_ticks: Ticks,
    estimates: &[Estimate],
) -> Result<String> {
    render(
        stem,
        &|root| interval_chart(root, title, y_desc, y_ticks, estimates),
        &|root| interval_chart(root, title, y_desc, y_ticks, estimates),
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
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((1e-4f64..1.0).log_scale(), (1e-4f64..1.0).log_scale())
        .map_err(perr)?;
    let pow = |v: &f64| Ticks::PowerOfTen.label(v.log10());
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&pow)
        .y_label_formatter(&pow)
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
        .axis_desc_style(("sans-serif", 16))
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
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], BLACK.mix(0.4)));
    draw_curves(&mut chart, curves, SeriesLabelPosition::UpperLeft)?;
    root.present().map_err(perr)
}

/// Draws curves on log-log axes from 10⁻⁴ to 1 with the chance diagonal
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
        .x_label_area_size(50)
        .y_label_area_size(230)
        .build_cartesian_2d(0f64..hi.min(1.05), -0.5f64..(n as f64 - 0.5))
        .map_err(perr)?;
    // Rows run top to bottom: category i sits at y = n - 1 - i.
    let names: Vec<String> = rows.iter().rev().map(|r| r.name.clone()).collect();
    chart
        .configure_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| category_label(&names, *y))
        .x_label_formatter(&|v| Ticks::Decimal(2).label(*v))
        .x_desc(x_desc)
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 12))
        .disable_y_mesh()
        .draw()
        .map_err(perr)?;
    let h = 0.8 / k as f64;
    for (s, name) in series.iter().enumerate() {
        let c = color(s + 1);
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                let y = (n - 1 - i) as f64 + 0.4 - h * (s as f64 + 1.0);
                let v = r.values.get(s).copied().unwrap_or(0.0).max(0.0);
                Rectangle::new([(0.0, y), (v, y + h)], c.filled())
            }))
            .map_err(perr)?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], c.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_read_in_plain_units() {
        assert_eq!(Ticks::Krw.label(1234567.4), "1,234,567");
        assert_eq!(Ticks::Krw.label(-1500.0), "−1,500");
        assert_eq!(Ticks::Krw.label(999.0), "999");
        assert_eq!(Ticks::Integer.label(4.0), "4");
        assert_eq!(Ticks::Integer.label(4.5), "");
        assert_eq!(Ticks::PowerOfTen.label(3.0), "10³");
        assert_eq!(Ticks::PowerOfTen.label(-4.0), "10⁻⁴");
        assert_eq!(Ticks::PowerOfTen.label(3.5), "");
        assert_eq!(Ticks::Decimal(2).label(0.125), "0.12");
    }

    /// A PNG that could not be written was reported in plotters' debug form
    /// (`backend error: Drawing backend error: ImageError(IoError(Os {
    /// code: 21, kind: IsADirectory, .. }))`): now one line naming the file
    /// and the OS error once, and the PNG itself is the bytes plotters' file
    /// target wrote.
    #[test]
    fn a_png_that_cannot_be_written_is_one_line_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let axes = Axes {
            title: "t".into(),
            x_desc: "x".into(),
            y_desc: "y".into(),
            x: 0.0..1.0,
            y: 0.0..1.0,
            x_ticks: Ticks::Decimal(1),
            y_ticks: Ticks::Decimal(1),
            x_count: 5,
            diagonal: true,
        };
        let curves = [Curve {
            name: "c".into(),
            points: vec![(0.0, 0.0), (0.5, 0.7), (1.0, 1.0)],
            band: Vec::new(),
            color: 1,
            dash: 0,
        }];
        let stem = dir.path().join("roc");
        std::fs::create_dir(stem.with_extension("png")).unwrap();
        let e = lines(&stem, &axes, &curves).unwrap_err();
        let shown = e.to_string();
        assert!(matches!(e, NsfError::Io { .. }), "{shown}");
        assert!(
            shown.starts_with(&format!("{}: ", stem.with_extension("png").display())),
            "{shown}"
        );
        assert_eq!(shown.lines().count(), 1, "{shown}");
        assert_eq!(shown.matches("(os error").count(), 1, "{shown}");
        assert!(
            !shown.contains("Os {") && !shown.contains("IoError"),
            "{shown}"
        );
        // Written where it can be: plotters' own file target, same bytes.
        let (a, b) = (dir.path().join("a"), dir.path().join("b.png"));
        lines(&a, &axes, &curves).unwrap();
        {
            let root = BitMapBackend::new(&b, PLOT_SIZE).into_drawing_area();
            lines_chart(&root, &axes, &curves).unwrap();
        }
        assert_eq!(
            std::fs::read(a.with_extension("png")).unwrap(),
            std::fs::read(&b).unwrap()
        );
    }

    /// The AUC-change chart's legend covered a gbdt bar (issue 15): with
    /// many categories the legend is drawn in its own area right of the
    /// plot, so every bar lies left of every legend entry.
    #[test]
    fn legend_never_covers_an_interval_bar() {
        let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let estimates: Vec<Estimate> = ["logistic", "gbdt"]
            .iter()
            .flat_map(|g| {
                names.iter().enumerate().map(move |(k, n)| Estimate {
                    name: format!("arm-{n}"),
                    group: g.to_string(),
                    mean: -(k as f64),
                    low: -(k as f64) - 1.0,
                    high: -(k as f64) + 1.0,
                    color: k,
                })
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let svg = intervals(
            &dir.path().join("c"),
            "t",
            "y",
            Ticks::Decimal(1),
            &estimates,
        )
        .unwrap();
        let attr = |el: &str, name: &str| -> f64 {
            let at = el.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            el[at..].split('"').next().unwrap().parse().unwrap()
        };
        let circles: Vec<f64> = svg
            .split("<circle")
            .skip(1)
            .map(|el| attr(el, "cx"))
            .collect();
        let legend_x: Vec<f64> = svg
            .split("<text")
            .skip(1)
            .filter(|el| el.split("</text>").next().unwrap().contains("arm-"))
            .map(|el| attr(el, "x"))
            .collect();
        assert_eq!(legend_x.len(), names.len(), "one legend entry per arm");
        let left_of_legend = legend_x.iter().cloned().fold(f64::MAX, f64::min) - 20.0;
        let bars: Vec<&f64> = circles.iter().filter(|&&x| x < left_of_legend).collect();
        assert_eq!(
            bars.len(),
            estimates.len(),
            "every bar left of the legend: {circles:?}"
        );
    }
}
