//! Drawing one chart (plotters) as PNG and SVG from the same description: bars (grouped or
//! stacked) or lines over categories, with a title, labelled axes, a legend, value labels where
//! they fit, optional reference lines (a statutory target, England's figure) and a footnote
//! naming the source and period. The report's chart conventions live here, for every chart
//! (the "How we compare" charts included):
//!
//! - A value is a [`Point`]: shown, **withheld** (suppressed: a small number, or one hidden so a
//!   small number cannot be worked out) or missing. A withheld value is never drawn as a bar of
//!   zero height nor as a point on the line: it is a grey cross-hatched stub on the axis (the
//!   same size whatever the value, not on the scale), and the legend says what the stub means
//!   ([`Chart::withheld_label`]). A line breaks at a withheld point.
//! - Nothing is told by colour alone: series of bars also differ by fill pattern (solid, then
//!   white stripes of different directions), lines by marker shape, comparison lines by dashes;
//!   the legend shows the pattern or marker.
//! - Colours: the Okabe-Ito colour-blind-safe palette, with the three light colours darkened so
//!   every colour has a contrast of at least 3:1 against white (WCAG 2.2, 1.4.11 non-text
//!   contrast); yellow (#F0E442, 1.3:1) is not used ([`PALETTE`], [`contrast_ratio`]). Text is
//!   black or dark grey on white (4.5:1 or more); a label inside a stacked bar sits on a white
//!   chip.
//! - The SVG carries a text alternative: `<title>` (the chart's title) and `<desc>` (what it
//!   shows and every number drawn, [`describe`]), referenced by `aria-labelledby` with
//!   `role="img"`; the page puts the chart's data table beside it (`html::figure`).
//!
//! Text uses DejaVu Sans embedded in the binary, so charts render the same on a bare machine.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

static FONT: Once = Once::new();

const DEJAVU: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const DEJAVU_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

fn register_fonts() {
    FONT.call_once(|| {
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, DEJAVU);
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, DEJAVU_BOLD);
    });
}

/// Okabe-Ito, with orange (#E69F00, 2.2:1 on white), sky blue (#56B4E9, 2.3:1) and reddish
/// purple (#CC79A7, 3.06:1) darkened to at least 3.2:1, and yellow left out: every colour is at
/// least 3:1 against white. Series also differ by pattern or marker, so the order no longer has
/// to carry the greyscale difference on its own.
pub const PALETTE: &[RGBColor] = &[
    RGBColor(0, 114, 178),   // blue #0072B2 (5.2:1)
    RGBColor(196, 130, 0),   // orange, darkened #C48200 (3.2:1)
    RGBColor(0, 158, 115),   // bluish green #009E73 (3.4:1)
    RGBColor(69, 147, 204),  // sky blue, darkened #4593CC (3.3:1)
    RGBColor(213, 94, 0),    // vermillion #D55E00 (3.9:1)
    RGBColor(196, 112, 159), // reddish purple, darkened #C4709F (3.4:1)
    RGBColor(0, 0, 0),       // black (21:1)
];
/// Footnotes, reference lines and the withheld stub's hatching: #5A5A5A, 6.9:1 on white.
pub const GREY: RGBColor = RGBColor(90, 90, 90);

/// The WCAG 2.2 contrast ratio of two colours (1 to 21).
pub fn contrast_ratio(a: RGBColor, b: RGBColor) -> f64 {
    fn lum(c: RGBColor) -> f64 {
        let f = |v: u8| {
            let v = v as f64 / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * f(c.0) + 0.7152 * f(c.1) + 0.0722 * f(c.2)
    }
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// How the series are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bars,
    StackedBars,
    Lines,
}

/// One value of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Point {
    /// Drawn at its value.
    Shown(f64),
    /// Suppressed: drawn as the withheld stub, never as zero.
    Withheld,
    /// No data (nothing drawn).
    Missing,
}

impl Point {
    pub fn value(&self) -> Option<f64> {
        match self {
            Point::Shown(v) => Some(*v),
            _ => None,
        }
    }
    pub fn is_withheld(&self) -> bool {
        matches!(self, Point::Withheld)
    }
}

/// The fill of a series' bars: its colour, then white stripes (nothing by colour alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Solid,
    /// White stripes rising to the right.
    Rising,
    Horizontal,
    Vertical,
    /// White stripes falling to the right.
    Falling,
    /// Both diagonals.
    Crossed,
}

/// The marker of a line series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Triangle,
    Square,
    Diamond,
    Cross,
}

/// Series `j`'s bar pattern (distinct for the first six series).
pub fn pattern(j: usize) -> Pattern {
    [
        Pattern::Solid,
        Pattern::Rising,
        Pattern::Horizontal,
        Pattern::Vertical,
        Pattern::Falling,
        Pattern::Crossed,
    ][j % 6]
}

/// Series `j`'s line marker (distinct for the first five series).
pub fn marker(j: usize) -> Marker {
    [
        Marker::Circle,
        Marker::Triangle,
        Marker::Square,
        Marker::Diamond,
        Marker::Cross,
    ][j % 5]
}

/// One series: a value per category.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
    /// The label drawn on each bar (e.g. "82%"); None = no label. Withheld points carry none:
    /// the stub and the legend say it.
    pub labels: Vec<Option<String>>,
    /// Drawn dashed, without markers (a comparison such as England's figure, not the
    /// partnership's own).
    pub dashed: bool,
    /// The palette index to draw with (default: the series' position), so a comparison can share
    /// its partner's colour.
    pub colour: Option<usize>,
}

impl Series {
    /// A series with no labels.
    pub fn new(name: &str, points: Vec<Point>) -> Series {
        let n = points.len();
        Series {
            name: name.to_string(),
            points,
            labels: vec![None; n],
            dashed: false,
            colour: None,
        }
    }
}

/// A chart, ready to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    /// File stem, e.g. `03-timeliness`.
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub footnote: String,
    pub categories: Vec<String>,
    pub series: Vec<Series>,
    pub kind: Kind,
    /// Values are fractions drawn as percentages (axis 0-100%).
    pub percent: bool,
    /// Horizontal reference lines: (label, value).
    pub reference_lines: Vec<(String, f64)>,
    /// When set, the chart says this instead of drawing misleading bars.
    pub too_little: Option<String>,
    /// The one-line plain-English reading shown under the chart in the report.
    pub reading: String,
    /// What the legend says a withheld stub is ([`withheld_label`]).
    pub withheld_label: String,
    /// Notes printed under the chart (e.g. which categories "Other categories" combines).
    pub notes: Vec<String>,
}

impl Chart {
    /// An empty chart of `kind`.
    pub fn new(id: &str, title: &str, kind: Kind) -> Chart {
        Chart {
            id: id.into(),
            title: title.into(),
            x_label: String::new(),
            y_label: String::new(),
            footnote: String::new(),
            categories: vec![],
            series: vec![],
            kind,
            percent: false,
            reference_lines: vec![],
            too_little: None,
            reading: String::new(),
            withheld_label: withheld_label(crate::suppress::DEFAULT_THRESHOLD as u64),
            notes: vec![],
        }
    }

    /// Whether any series has a withheld point.
    pub fn has_withheld(&self) -> bool {
        self.series
            .iter()
            .any(|s| s.points.iter().any(Point::is_withheld))
    }
}

/// The legend's words for the withheld stub, from the suppression threshold.
pub fn withheld_label(threshold: u64) -> String {
    format!(
        "Withheld: fewer than {}, or hidden so one cannot be worked out (not zero; not to scale)",
        threshold + 1
    )
}

/// How a value is said in the text alternative and labels.
pub fn fmt_value(v: f64, percent: bool) -> String {
    if percent {
        format!("{:.1}%", v * 100.0)
    } else if v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The chart's text alternative (the SVG `<desc>`): what kind of chart, its axes, and every
/// value drawn, by series ("withheld" where a value is suppressed), the reference lines, and
/// the reading.
pub fn describe(chart: &Chart) -> String {
    let kind = match chart.kind {
        Kind::Bars => "Bar chart",
        Kind::StackedBars => "Stacked bar chart",
        Kind::Lines => "Line chart",
    };
    let mut s = format!(
        "{kind}: {}. Horizontal axis: {}; vertical axis: {}.",
        chart.title, chart.x_label, chart.y_label
    );
    if let Some(msg) = &chart.too_little {
        s.push_str(&format!(" {msg}."));
    } else {
        for sr in &chart.series {
            let parts: Vec<String> = chart
                .categories
                .iter()
                .zip(&sr.points)
                .filter_map(|(c, p)| match p {
                    Point::Shown(v) => Some(format!("{c} {}", fmt_value(*v, chart.percent))),
                    Point::Withheld => Some(format!("{c} withheld")),
                    Point::Missing => None,
                })
                .collect();
            if !parts.is_empty() {
                s.push_str(&format!(" {}: {}.", sr.name, parts.join(", ")));
            }
        }
        for (label, _) in &chart.reference_lines {
            s.push_str(&format!(" Reference line: {label}."));
        }
        if chart.has_withheld() {
            s.push_str(&format!(" {}.", chart.withheld_label));
        }
    }
    if !chart.reading.is_empty() {
        s.push(' ');
        s.push_str(&chart.reading);
    }
    s
}

const W: u32 = 900;
const H: u32 = 560;

/// Writes the chart as a PNG (2700 x 1680 px: 9 x 5.6 inches at 300 dpi).
pub fn render_png(chart: &Chart, path: &Path) -> Result<()> {
    register_fonts();
    let scale = 3.0;
    let root = BitMapBackend::new(path, ((W as f64 * scale) as u32, (H as f64 * scale) as u32))
        .into_drawing_area();
    draw(chart, &root, scale)?;
    root.present()
        .map_err(|e| anyhow!("drawing {}: {e}", path.display()))?;
    Ok(())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart as an SVG document (text as text, so titles and labels are searchable), with its
/// text alternative: `role="img"`, `aria-labelledby` naming its `<title>` (the chart's title)
/// and `<desc>` ([`describe`]). The ids are `<chart id>-title` and `<chart id>-desc`, unique
/// on a page that shows each chart once.
pub fn render_svg(chart: &Chart) -> Result<String> {
    register_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        draw(chart, &root, 1.0)?;
        root.present()
            .map_err(|e| anyhow!("drawing {}: {e}", chart.id))?;
    }
    let start = out
        .find("<svg")
        .ok_or_else(|| anyhow!("{}: no <svg> element drawn", chart.id))?;
    let close = start
        + out[start..]
            .find('>')
            .ok_or_else(|| anyhow!("{}: unterminated <svg> tag", chart.id))?;
    let id = xml_escape(&chart.id);
    let head = format!(
        " role=\"img\" aria-labelledby=\"{id}-title {id}-desc\">\n<title id=\"{id}-title\">{}</title>\n<desc id=\"{id}-desc\">{}</desc>",
        xml_escape(&chart.title),
        xml_escape(&describe(chart))
    );
    let mut svg = String::with_capacity(out.len() + head.len());
    svg.push_str(&out[start..close]);
    svg.push_str(&head);
    svg.push_str(&out[close + 1..]);
    Ok(svg)
}

fn font(size: f64, scale: f64) -> TextStyle<'static> {
    ("sans-serif", size * scale).into_font().color(&BLACK)
}

fn fmt_axis(v: f64, percent: bool) -> String {
    if percent {
        format!("{:.0}%", v * 100.0)
    } else if v.abs() >= 1000.0 || v.fract().abs() < 1e-9 {
        format!("{:.0}", v)
    } else {
        format!("{v:.1}")
    }
}

type Px = (i32, i32);

/// Stripes of `pattern` inside the pixel rectangle `a`-`b` (corners in any order), clipped to it.
fn stripes(pattern: Pattern, a: Px, b: Px, gap: i32) -> Vec<(Px, Px)> {
    let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
    let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
    let gap = gap.max(2);
    let mut out = vec![];
    let mut diag = |rising: bool| {
        // Lines x + y = c (rising on screen) or x - y = c (falling), clipped to the box.
        let (lo, hi) = if rising {
            (x0 + y0, x1 + y1)
        } else {
            (x0 - y1, x1 - y0)
        };
        let mut c = lo + gap / 2;
        while c < hi {
            let mut pts = vec![];
            for x in [x0, x1] {
                let y = if rising { c - x } else { x - c };
                if (y0..=y1).contains(&y) {
                    pts.push((x, y));
                }
            }
            for y in [y0, y1] {
                let x = if rising { c - y } else { c + y };
                if (x0..=x1).contains(&x) {
                    pts.push((x, y));
                }
            }
            pts.sort();
            pts.dedup();
            if pts.len() >= 2 {
                out.push((pts[0], pts[pts.len() - 1]));
            }
            c += gap;
        }
    };
    match pattern {
        Pattern::Solid => {}
        Pattern::Rising => diag(true),
        Pattern::Falling => diag(false),
        Pattern::Crossed => {
            diag(true);
            diag(false);
        }
        Pattern::Horizontal => {
            let mut y = y0 + gap / 2;
            while y < y1 {
                out.push(((x0, y), (x1, y)));
                y += gap;
            }
        }
        Pattern::Vertical => {
            let mut x = x0 + gap / 2;
            while x < x1 {
                out.push(((x, y0), (x, y1)));
                x += gap;
            }
        }
    }
    out
}

/// A filled box with its pattern, in pixels.
fn patterned_box<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: Px,
    b: Px,
    colour: RGBColor,
    pat: Pattern,
    s: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.draw(&Rectangle::new([a, b], colour.filled()))?;
    for (p, q) in stripes(pat, a, b, (6.0 * s) as i32) {
        root.draw(&PathElement::new(
            vec![p, q],
            WHITE.stroke_width((1.6 * s).max(1.0) as u32),
        ))?;
    }
    Ok(())
}

/// The withheld stub: white, grey cross-hatching, a grey outline.
fn withheld_box<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    a: Px,
    b: Px,
    s: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.draw(&Rectangle::new([a, b], WHITE.filled()))?;
    for (p, q) in stripes(Pattern::Crossed, a, b, (5.0 * s) as i32) {
        root.draw(&PathElement::new(
            vec![p, q],
            GREY.stroke_width((1.0 * s).max(1.0) as u32),
        ))?;
    }
    root.draw(&Rectangle::new(
        [a, b],
        GREY.stroke_width((1.2 * s).max(1.0) as u32),
    ))?;
    Ok(())
}

fn draw_marker<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    m: Marker,
    at: Px,
    r: i32,
    colour: RGBColor,
    s: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (x, y) = at;
    match m {
        Marker::Circle => root.draw(&Circle::new(at, r, colour.filled())),
        Marker::Triangle => root.draw(&Polygon::new(
            vec![(x, y - r - 1), (x - r - 1, y + r), (x + r + 1, y + r)],
            colour.filled(),
        )),
        Marker::Square => root.draw(&Rectangle::new(
            [(x - r + 1, y - r + 1), (x + r - 1, y + r - 1)],
            colour.filled(),
        )),
        Marker::Diamond => root.draw(&Polygon::new(
            vec![
                (x, y - r - 1),
                (x + r + 1, y),
                (x, y + r + 1),
                (x - r - 1, y),
            ],
            colour.filled(),
        )),
        Marker::Cross => {
            let st = colour.stroke_width((2.2 * s) as u32);
            root.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], st))?;
            root.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], st))
        }
    }
}

fn draw<DB: DrawingBackend>(chart: &Chart, root: &DrawingArea<DB, Shift>, s: f64) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{}: {x:?}", chart.id);
    root.fill(&WHITE).map_err(e)?;
    let (w, h) = root.dim_in_pixel();
    let px = |v: f64| (v * s) as i32;
    // Title, footnote.
    root.draw(&Text::new(
        chart.title.clone(),
        (px(16.0), px(12.0)),
        ("sans-serif", 21.0 * s)
            .into_font()
            .style(FontStyle::Bold)
            .color(&BLACK),
    ))
    .map_err(e)?;
    // Footnote and notes, wrapped to the width (about 7 px a character at 11.5 px).
    let width_chars = ((w as f64 / s - 32.0) / 5.9) as usize;
    let foot: Vec<String> = chart
        .footnote
        .lines()
        .chain(chart.notes.iter().map(String::as_str))
        .flat_map(|l| wrap_all(l, width_chars))
        .collect();
    let foot_lines = foot.len() as i32;
    for (i, line) in foot.iter().enumerate() {
        root.draw(&Text::new(
            line.clone(),
            (
                px(16.0),
                h as i32 - px(8.0) - px(15.0) * (foot_lines - i as i32),
            ),
            font(11.5, s).color(&GREY),
        ))
        .map_err(e)?;
    }
    // Legend: a row (wrapping) under the title when there is more than one series or a withheld
    // value; each item shows the series' pattern or marker as well as its colour.
    let withheld = chart.too_little.is_none() && chart.has_withheld();
    let mut items: Vec<(Option<usize>, String)> = vec![];
    if chart.series.len() > 1 {
        items.extend(
            chart
                .series
                .iter()
                .enumerate()
                .map(|(j, sr)| (Some(j), sr.name.clone())),
        );
    }
    if withheld {
        items.push((None, chart.withheld_label.clone()));
    }
    let mut legend_rows = 0;
    if !items.is_empty() {
        let (mut x, mut y) = (px(16.0), px(44.0));
        legend_rows = 1;
        for (j, name) in &items {
            let item_w = px(30.0 + 7.0 * name.chars().count() as f64 + 18.0);
            if x + item_w > w as i32 - px(16.0) && x > px(16.0) {
                x = px(16.0);
                y += px(22.0);
                legend_rows += 1;
            }
            match j {
                None => withheld_box(root, (x, y), (x + px(18.0), y + px(15.0)), s).map_err(e)?,
                Some(j) => {
                    let sr = &chart.series[*j];
                    let colour = PALETTE[sr.colour.unwrap_or(*j) % PALETTE.len()];
                    if chart.kind == Kind::Lines && sr.dashed {
                        for k in 0..3 {
                            let x0 = x + px(8.0) * k;
                            root.draw(&Rectangle::new(
                                [(x0, y + px(6.0)), (x0 + px(5.0), y + px(9.0))],
                                colour.filled(),
                            ))
                            .map_err(e)?;
                        }
                    } else if chart.kind == Kind::Lines {
                        root.draw(&Rectangle::new(
                            [(x, y + px(6.5)), (x + px(22.0), y + px(9.0))],
                            colour.filled(),
                        ))
                        .map_err(e)?;
                        draw_marker(
                            root,
                            marker(*j),
                            (x + px(11.0), y + px(8.0)),
                            px(4.5),
                            colour,
                            s,
                        )
                        .map_err(e)?;
                    } else {
                        patterned_box(
                            root,
                            (x, y),
                            (x + px(18.0), y + px(15.0)),
                            colour,
                            pattern(*j),
                            s,
                        )
                        .map_err(e)?;
                    }
                }
            }
            root.draw(&Text::new(
                name.clone(),
                (x + px(27.0), y + px(8.0)),
                font(12.5, s).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(e)?;
            x += item_w;
        }
    }
    let top = 44.0 + 22.0 * legend_rows as f64 + 4.0;
    let bottom = 14.0 + 15.0 * foot_lines as f64;
    let body = root.margin(px(top), px(bottom), px(8.0), px(16.0));
    if let Some(msg) = &chart.too_little {
        let (bw, bh) = body.dim_in_pixel();
        body.draw(&Rectangle::new(
            [(0, 0), (bw as i32 - 1, bh as i32 - 1)],
            ShapeStyle::from(&GREY).stroke_width(s as u32),
        ))
        .map_err(e)?;
        body.draw(&Text::new(
            msg.clone(),
            (bw as i32 / 2, bh as i32 / 2),
            font(15.0, s).pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(e)?;
        return Ok(());
    }
    let plot_area = body;
    let n = chart.categories.len().max(1);
    let mut ymax: f64 = 0.0;
    if chart.kind == Kind::StackedBars {
        for i in 0..n {
            let t: f64 = chart
                .series
                .iter()
                .filter_map(|s| s.points.get(i).and_then(Point::value))
                .sum();
            ymax = ymax.max(t);
        }
    } else {
        for sr in &chart.series {
            for v in sr.points.iter().filter_map(Point::value) {
                ymax = ymax.max(v);
            }
        }
    }
    for (_, v) in &chart.reference_lines {
        ymax = ymax.max(*v);
    }
    // Percentages: the axis reaches the next 10% above the data (+20% headroom), at most 100%.
    let ymax = if chart.percent {
        ((ymax * 1.2 * 10.0).ceil() / 10.0).clamp(0.1, 1.0) * 1.04
    } else {
        (ymax * 1.15).max(1.0)
    };
    // Category labels wrap onto lines that fit their slot (no rotated text).
    let (pw, _) = plot_area.dim_in_pixel();
    let slot_chars = (((pw as f64 / s - 90.0) / n as f64) / 7.5).max(4.0) as usize;
    let wrapped: Vec<Vec<String>> = chart
        .categories
        .iter()
        .map(|c| wrap(c, slot_chars))
        .collect();
    let lines = wrapped.iter().map(|l| l.len()).max().unwrap_or(1);
    let x_area = px(28.0 + 16.0 * lines as f64);
    let mut cc = ChartBuilder::on(&plot_area)
        .margin(px(6.0))
        .x_label_area_size(x_area)
        .y_label_area_size(px(66.0))
        .build_cartesian_2d(0f64..n as f64, 0f64..ymax)
        .map_err(e)?;
    let percent = chart.percent;
    cc.configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(6)
        .y_label_formatter(&|v| fmt_axis(*v, percent))
        .y_desc(chart.y_label.clone())
        .x_desc(chart.x_label.clone())
        .axis_desc_style(font(13.5, s))
        .label_style(font(12.5, s))
        .axis_style(BLACK.stroke_width(s.max(1.0) as u32))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()
        .map_err(e)?;
    // Category labels, centred under each slot.
    for (i, ls) in wrapped.iter().enumerate() {
        let (x, y) = cc.backend_coord(&(i as f64 + 0.5, 0.0));
        for (li, l) in ls.iter().enumerate() {
            let y = y + px(6.0) + px(15.5) * li as i32;
            root.draw(&Text::new(
                l.clone(),
                (x, y),
                font(12.5, s).pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(e)?;
        }
    }
    let k = chart.series.len().max(1) as f64;
    // The withheld stub's height: fixed, not on the value scale.
    let stub = px(16.0);
    match chart.kind {
        Kind::Bars | Kind::StackedBars => {
            let stacked = chart.kind == Kind::StackedBars;
            // Stacked: the top of each stack in pixels (shown values first, then stubs above).
            let mut base = vec![0.0; n];
            let mut stub_top: Vec<Option<i32>> = vec![None; n];
            for (j, sr) in chart.series.iter().enumerate() {
                let colour = PALETTE[sr.colour.unwrap_or(j) % PALETTE.len()];
                #[allow(clippy::needless_range_loop)] // i is the category: base, x and points
                for i in 0..n {
                    let (x0, x1) = if stacked {
                        (i as f64 + 0.15, i as f64 + 0.85)
                    } else {
                        let bw = 0.8 / k;
                        (
                            i as f64 + 0.1 + bw * j as f64,
                            i as f64 + 0.1 + bw * (j as f64 + 1.0),
                        )
                    };
                    match sr.points.get(i).copied().unwrap_or(Point::Missing) {
                        Point::Missing => {}
                        Point::Withheld if !stacked => {
                            // In the series' place in the group, outlined in its colour.
                            let (bx0, by) = cc.backend_coord(&(x0, 0.0));
                            let (bx1, _) = cc.backend_coord(&(x1, 0.0));
                            withheld_box(root, (bx0 + 1, by - stub), (bx1 - 1, by), s)
                                .map_err(e)?;
                            root.draw(&Rectangle::new(
                                [(bx0 + 1, by - stub), (bx1 - 1, by)],
                                colour.stroke_width((2.0 * s) as u32),
                            ))
                            .map_err(e)?;
                            // Said in words above it where the word fits.
                            if (bx1 - bx0) as f64 >= 58.0 * s {
                                root.draw(&Text::new(
                                    "withheld".to_string(),
                                    ((bx0 + bx1) / 2, by - stub - px(3.0)),
                                    font(11.0, s)
                                        .color(&GREY)
                                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                                ))
                                .map_err(e)?;
                            }
                        }
                        Point::Withheld => {
                            // Drawn once the shown values of the stack are in (below).
                            let _ = x0;
                        }
                        Point::Shown(v) => {
                            let (y0, y1) = if stacked {
                                (base[i], base[i] + v)
                            } else {
                                (0.0, v)
                            };
                            let a = cc.backend_coord(&(x0, y0));
                            let b = cc.backend_coord(&(x1, y1));
                            if v > 0.0 {
                                patterned_box(
                                    root,
                                    (a.0 + 1, a.1),
                                    (b.0 - 1, b.1),
                                    colour,
                                    pattern(j),
                                    s,
                                )
                                .map_err(e)?;
                                root.draw(&Rectangle::new(
                                    [(a.0 + 1, a.1), (b.0 - 1, b.1)],
                                    colour.stroke_width(s.max(1.0) as u32),
                                ))
                                .map_err(e)?;
                            }
                            if let Some(Some(l)) = sr.labels.get(i) {
                                let fits = (b.0 - a.0) as f64 >= l.len() as f64 * 6.8 * s;
                                if fits && stacked {
                                    if (a.1 - b.1) as f64 >= 17.0 * s {
                                        let (cx, cy) = ((a.0 + b.0) / 2, (a.1 + b.1) / 2);
                                        let half = px(3.6 * l.len() as f64 + 4.0);
                                        root.draw(&Rectangle::new(
                                            [(cx - half, cy - px(8.0)), (cx + half, cy + px(8.0))],
                                            WHITE.filled(),
                                        ))
                                        .map_err(e)?;
                                        root.draw(&Text::new(
                                            l.clone(),
                                            (cx, cy),
                                            font(11.5, s).pos(Pos::new(HPos::Center, VPos::Center)),
                                        ))
                                        .map_err(e)?;
                                    }
                                } else if fits {
                                    root.draw(&Text::new(
                                        l.clone(),
                                        ((a.0 + b.0) / 2, b.1 - px(3.0)),
                                        font(11.5, s).pos(Pos::new(HPos::Center, VPos::Bottom)),
                                    ))
                                    .map_err(e)?;
                                }
                            }
                            if stacked {
                                base[i] += v;
                            }
                        }
                    }
                }
            }
            if stacked {
                // Withheld parts of a stack: a stub each, on top of the shown parts, outlined in
                // the series' colour.
                for i in 0..n {
                    for (j, sr) in chart.series.iter().enumerate() {
                        if !sr.points.get(i).is_some_and(Point::is_withheld) {
                            continue;
                        }
                        let colour = PALETTE[sr.colour.unwrap_or(j) % PALETTE.len()];
                        let (bx0, by) = cc.backend_coord(&(i as f64 + 0.15, base[i]));
                        let (bx1, _) = cc.backend_coord(&(i as f64 + 0.85, base[i]));
                        let top = stub_top[i].unwrap_or(by);
                        withheld_box(root, (bx0 + 1, top - stub), (bx1 - 1, top), s).map_err(e)?;
                        root.draw(&Rectangle::new(
                            [(bx0 + 1, top - stub), (bx1 - 1, top)],
                            colour.stroke_width((2.0 * s) as u32),
                        ))
                        .map_err(e)?;
                        stub_top[i] = Some(top - stub - px(2.0));
                    }
                }
            }
        }
        Kind::Lines => {
            let mut end_labels: Vec<(i32, i32, String)> = vec![];
            for (j, sr) in chart.series.iter().enumerate() {
                let colour = PALETTE[sr.colour.unwrap_or(j) % PALETTE.len()];
                // Runs of consecutive shown points: the line breaks at a withheld or missing one.
                let mut runs: Vec<Vec<(f64, f64)>> = vec![vec![]];
                for (i, p) in sr.points.iter().enumerate() {
                    match p {
                        Point::Shown(v) => {
                            runs.last_mut().expect("a run").push((i as f64 + 0.5, *v))
                        }
                        _ => runs.push(vec![]),
                    }
                }
                // A run of one point is its marker alone.
                for run in runs.iter().filter(|r| r.len() > 1) {
                    if sr.dashed {
                        cc.draw_series(DashedLineSeries::new(
                            run.clone(),
                            (7.0 * s) as u32,
                            (4.0 * s) as u32,
                            colour.stroke_width((2.0 * s) as u32),
                        ))
                        .map_err(e)?;
                    } else {
                        cc.draw_series(LineSeries::new(
                            run.clone(),
                            colour.stroke_width((2.5 * s) as u32),
                        ))
                        .map_err(e)?;
                    }
                }
                if !sr.dashed {
                    for run in &runs {
                        for p in run {
                            let at = cc.backend_coord(p);
                            draw_marker(root, marker(j), at, px(4.5), colour, s).map_err(e)?;
                        }
                    }
                }
                for (i, p) in sr.points.iter().enumerate() {
                    if p.is_withheld() {
                        // The stub on the axis, with the series' marker above it; the stubs of
                        // several series at one category side by side, centred.
                        let at_i: Vec<usize> = (0..chart.series.len())
                            .filter(|&jj| {
                                chart.series[jj]
                                    .points
                                    .get(i)
                                    .is_some_and(Point::is_withheld)
                            })
                            .collect();
                        let pos = at_i.iter().position(|&jj| jj == j).unwrap_or(0) as f64;
                        let (bx, by) = cc.backend_coord(&(i as f64 + 0.5, 0.0));
                        let dx = px(15.0 * (pos - (at_i.len() as f64 - 1.0) / 2.0));
                        withheld_box(
                            root,
                            (bx + dx - px(6.0), by - stub),
                            (bx + dx + px(6.0), by),
                            s,
                        )
                        .map_err(e)?;
                        draw_marker(
                            root,
                            marker(j),
                            (bx + dx, by - stub - px(7.0)),
                            px(3.5),
                            colour,
                            s,
                        )
                        .map_err(e)?;
                    }
                }
                // Only the latest point is labelled (labels on every point of several lines
                // collide): to its right, placed below.
                let last = sr.points.iter().rposition(|p| p.value().is_some());
                if let Some(i) = last {
                    if let (Some(v), Some(Some(l))) = (sr.points[i].value(), sr.labels.get(i)) {
                        let (bx, by) = cc.backend_coord(&(i as f64 + 0.5, v));
                        end_labels.push((by, bx + px(9.0), l.clone()));
                    }
                }
            }
            // End labels a line apart at least, in the order of their points.
            end_labels.sort_by_key(|l| l.0);
            let mut prev: Option<i32> = None;
            for (y, x, l) in end_labels {
                let y = prev.map_or(y, |p| y.max(p + px(14.0)));
                root.draw(&Text::new(
                    l,
                    (x, y),
                    font(11.0, s).pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(e)?;
                prev = Some(y);
            }
        }
    }
    // Reference lines, labelled at the right; a label that would overlap the one above goes
    // under its line instead.
    let mut refs: Vec<&(String, f64)> = chart.reference_lines.iter().collect();
    refs.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut last_label: Option<i32> = None;
    for (label, v) in refs {
        cc.draw_series(DashedLineSeries::new(
            vec![(0.0, *v), (n as f64, *v)],
            (6.0 * s) as u32,
            (4.0 * s) as u32,
            GREY.stroke_width((1.5 * s).max(1.0) as u32),
        ))
        .map_err(e)?;
        let (bx, by) = cc.backend_coord(&(n as f64, *v));
        let above = last_label.is_none_or(|y| by - px(3.0) - y >= px(14.0));
        let (ty, vpos) = if above {
            (by - px(3.0), VPos::Bottom)
        } else {
            (by + px(3.0), VPos::Top)
        };
        root.draw(&Text::new(
            label.clone(),
            (bx - px(4.0), ty),
            font(11.0, s).color(&GREY).pos(Pos::new(HPos::Right, vpos)),
        ))
        .map_err(e)?;
        last_label = Some(if above { ty } else { ty + px(14.0) });
    }
    Ok(())
}

/// Greedy word wrap to `width` characters, as many lines as it takes.
fn wrap_all(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Greedy word wrap to `width` characters, at most 3 lines (the last one may run over).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    let mut cur = String::new();
    for word in text.split_whitespace() {
        if !cur.is_empty()
            && cur.chars().count() + 1 + word.chars().count() > width
            && lines.len() < 2
        {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    lines.push(cur);
    lines
}
