//! Drawing one chart (plotters) as PNG and SVG from the same description: bars (grouped or
//! stacked) or lines over categories, with a title, labelled axes, a legend, value labels where
//! they fit, optional reference lines (a statutory target, England's figure) and a footnote
//! naming the source and period.
//!
//! Text uses DejaVu Sans embedded in the binary, so charts render the same on a bare machine.
//! Colours are the Okabe-Ito colour-blind-safe palette, ordered so that neighbouring series also
//! differ in lightness (they stay apart in greyscale); lines also differ by marker.

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

/// Okabe-Ito, reordered dark / light / mid so neighbours differ in greyscale too.
pub const PALETTE: &[RGBColor] = &[
    RGBColor(0, 114, 178),   // blue (dark)
    RGBColor(230, 159, 0),   // orange (light)
    RGBColor(0, 158, 115),   // bluish green (mid)
    RGBColor(86, 180, 233),  // sky blue (light)
    RGBColor(213, 94, 0),    // vermillion (mid-dark)
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(0, 0, 0),       // black
];
const GREY: RGBColor = RGBColor(90, 90, 90);

/// How the series are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bars,
    StackedBars,
    Lines,
}

/// One series: a value per category (None = no data, or suppressed).
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
    /// The label drawn on each bar (e.g. "82%", "c" for a suppressed count); None = no label.
    pub labels: Vec<Option<String>>,
    /// Drawn dashed (a comparison such as England's figure, not the partnership's own).
    pub dashed: bool,
    /// The palette index to draw with (default: the series' position), so a comparison can share
    /// its partner's colour.
    pub colour: Option<usize>,
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

/// The chart as an SVG document (text as text, so titles and labels are searchable).
pub fn render_svg(chart: &Chart) -> Result<String> {
    register_fonts();
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (W, H)).into_drawing_area();
        draw(chart, &root, 1.0)?;
        root.present()
            .map_err(|e| anyhow!("drawing {}: {e}", chart.id))?;
    }
    Ok(out)
}

fn font(size: f64, scale: f64) -> TextStyle<'static> {
    ("sans-serif", size * scale).into_font().color(&BLACK)
}

fn fmt_axis(v: f64, percent: bool) -> String {
    if percent {
        format!("{:.0}%", v * 100.0)
    } else if v.abs() >= 1000.0 {
        format!("{:.0}", v)
    } else if v.fract().abs() < 1e-9 {
        format!("{:.0}", v)
    } else {
        format!("{v:.1}")
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
    for (i, line) in chart.footnote.lines().enumerate() {
        root.draw(&Text::new(
            line.to_string(),
            (px(16.0), h as i32 - px(36.0) + px(15.0) * i as i32),
            font(11.0, s).color(&GREY),
        ))
        .map_err(e)?;
    }
    // Legend: a row (wrapping) under the title when there is more than one series.
    let mut legend_rows = 0;
    if chart.series.len() > 1 {
        let (mut x, mut y) = (px(16.0), px(44.0));
        legend_rows = 1;
        for (j, sr) in chart.series.iter().enumerate() {
            let item_w = px(28.0 + 7.2 * sr.name.chars().count() as f64 + 18.0);
            if x + item_w > w as i32 - px(16.0) && x > px(16.0) {
                x = px(16.0);
                y += px(20.0);
                legend_rows += 1;
            }
            let colour = PALETTE[sr.colour.unwrap_or(j) % PALETTE.len()];
            if chart.kind == Kind::Lines && sr.dashed {
                for k in 0..2 {
                    let x0 = x + px(11.0) * k;
                    root.draw(&Rectangle::new(
                        [(x0, y + px(6.0)), (x0 + px(7.0), y + px(8.0))],
                        colour.filled(),
                    ))
                    .map_err(e)?;
                }
            } else if chart.kind == Kind::Lines {
                root.draw(&Rectangle::new(
                    [(x, y + px(5.0)), (x + px(18.0), y + px(9.0))],
                    colour.filled(),
                ))
                .map_err(e)?;
            } else {
                root.draw(&Rectangle::new(
                    [(x, y), (x + px(14.0), y + px(14.0))],
                    colour.filled(),
                ))
                .map_err(e)?;
            }
            root.draw(&Text::new(
                sr.name.clone(),
                (x + px(22.0), y + px(7.0)),
                font(12.0, s).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(e)?;
            x += item_w;
        }
    }
    let top = 44.0 + 20.0 * legend_rows as f64 + 4.0;
    let body = root.margin(px(top), px(44.0), px(8.0), px(16.0));
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
                .filter_map(|s| s.values.get(i).copied().flatten())
                .sum();
            ymax = ymax.max(t);
        }
    } else {
        for sr in &chart.series {
            for v in sr.values.iter().flatten() {
                ymax = ymax.max(*v);
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
    let slot_chars = (((pw as f64 / s - 90.0) / n as f64) / 7.0).max(4.0) as usize;
    let wrapped: Vec<Vec<String>> = chart
        .categories
        .iter()
        .map(|c| wrap(c, slot_chars))
        .collect();
    let lines = wrapped.iter().map(|l| l.len()).max().unwrap_or(1);
    let x_area = px(26.0 + 15.0 * lines as f64);
    let mut cc = ChartBuilder::on(&plot_area)
        .margin(px(6.0))
        .x_label_area_size(x_area)
        .y_label_area_size(px(64.0))
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
        .axis_desc_style(font(13.0, s))
        .label_style(font(12.0, s))
        .light_line_style(RGBColor(230, 230, 230))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(e)?;
    // Category labels, centred under each slot.
    for (i, ls) in wrapped.iter().enumerate() {
        let (x, y) = cc.backend_coord(&(i as f64 + 0.5, 0.0));
        for (li, l) in ls.iter().enumerate() {
            let y = y + px(6.0) + px(15.0) * li as i32;
            root.draw(&Text::new(
                l.clone(),
                (x, y),
                font(12.0, s).pos(Pos::new(HPos::Center, VPos::Top)),
            ))
            .map_err(e)?;
        }
    }
    let k = chart.series.len().max(1) as f64;
    match chart.kind {
        Kind::Bars | Kind::StackedBars => {
            let stacked = chart.kind == Kind::StackedBars;
            let mut base = vec![0.0; n];
            for (j, sr) in chart.series.iter().enumerate() {
                let colour = PALETTE[sr.colour.unwrap_or(j) % PALETTE.len()];
                for i in 0..n {
                    let Some(v) = sr.values.get(i).copied().flatten() else {
                        if let Some(Some(l)) = sr.labels.get(i) {
                            // A suppressed or missing value: its label alone, on the axis.
                            let x = if stacked {
                                i as f64 + 0.5
                            } else {
                                i as f64 + 0.1 + 0.8 * (j as f64 + 0.5) / k
                            };
                            let (bx, by) = cc.backend_coord(&(x, base[i]));
                            root.draw(&Text::new(
                                l.clone(),
                                (bx, by - px(4.0)),
                                font(11.0, s).pos(Pos::new(HPos::Center, VPos::Bottom)),
                            ))
                            .map_err(e)?;
                        }
                        continue;
                    };
                    let (x0, x1, y0, y1) = if stacked {
                        (i as f64 + 0.15, i as f64 + 0.85, base[i], base[i] + v)
                    } else {
                        let bw = 0.8 / k;
                        (
                            i as f64 + 0.1 + bw * j as f64,
                            i as f64 + 0.1 + bw * (j as f64 + 1.0),
                            0.0,
                            v,
                        )
                    };
                    cc.draw_series(std::iter::once(Rectangle::new(
                        [(x0, y0), (x1, y1)],
                        colour.filled(),
                    )))
                    .map_err(e)?;
                    cc.draw_series(std::iter::once(Rectangle::new(
                        [(x0, y0), (x1, y1)],
                        ShapeStyle::from(&WHITE).stroke_width((0.7 * s).max(1.0) as u32),
                    )))
                    .map_err(e)?;
                    if let Some(Some(l)) = sr.labels.get(i) {
                        let (bx0, by0) = cc.backend_coord(&(x0, y0));
                        let (bx1, by1) = cc.backend_coord(&(x1, y1));
                        let fits = (bx1 - bx0) as f64 >= l.len() as f64 * 6.5 * s;
                        if fits {
                            let (cx, cy, pos, colour) = if stacked {
                                if (by0 - by1) as f64 >= 14.0 * s {
                                    (
                                        (bx0 + bx1) / 2,
                                        (by0 + by1) / 2,
                                        VPos::Center,
                                        if j % 2 == 0 { WHITE } else { BLACK },
                                    )
                                } else {
                                    continue;
                                }
                            } else {
                                ((bx0 + bx1) / 2, by1 - px(3.0), VPos::Bottom, BLACK)
                            };
                            root.draw(&Text::new(
                                l.clone(),
                                (cx, cy),
                                font(11.0, s)
                                    .color(&colour)
                                    .pos(Pos::new(HPos::Center, pos)),
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
        Kind::Lines => {
            for (j, sr) in chart.series.iter().enumerate() {
                let colour = PALETTE[sr.colour.unwrap_or(j) % PALETTE.len()];
                let pts: Vec<(f64, f64)> = sr
                    .values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.map(|v| (i as f64 + 0.5, v)))
                    .collect();
                if sr.dashed {
                    cc.draw_series(DashedLineSeries::new(
                        pts.clone(),
                        (7.0 * s) as u32,
                        (4.0 * s) as u32,
                        colour.stroke_width((2.0 * s) as u32),
                    ))
                    .map_err(e)?;
                } else {
                    cc.draw_series(LineSeries::new(
                        pts.clone(),
                        colour.stroke_width((2.5 * s) as u32),
                    ))
                    .map_err(e)?;
                }
                let r = (4.0 * s) as i32;
                match j % 3 {
                    0 => {
                        cc.draw_series(pts.iter().map(|p| Circle::new(*p, r, colour.filled())))
                            .map_err(e)?;
                    }
                    1 => {
                        cc.draw_series(
                            pts.iter()
                                .map(|p| TriangleMarker::new(*p, r + 1, colour.filled())),
                        )
                        .map_err(e)?;
                    }
                    _ => {
                        cc.draw_series(
                            pts.iter()
                                .map(|p| Cross::new(*p, r, colour.stroke_width((2.0 * s) as u32))),
                        )
                        .map_err(e)?;
                    }
                }
                // Only the latest point is labelled: labels on every point of several lines collide.
                let last = sr.values.iter().rposition(|v| v.is_some());
                for (i, v) in sr.values.iter().enumerate() {
                    if Some(i) != last {
                        continue;
                    }
                    if let (Some(v), Some(Some(l))) = (v, sr.labels.get(i)) {
                        let (bx, by) = cc.backend_coord(&(i as f64 + 0.5, *v));
                        root.draw(&Text::new(
                            l.clone(),
                            (bx, by - px(7.0)),
                            font(10.5, s)
                                .color(&colour)
                                .pos(Pos::new(HPos::Center, VPos::Bottom)),
                        ))
                        .map_err(e)?;
                    }
                }
            }
        }
    }
    for (label, v) in &chart.reference_lines {
        cc.draw_series(DashedLineSeries::new(
            vec![(0.0, *v), (n as f64, *v)],
            (6.0 * s) as u32,
            (4.0 * s) as u32,
            GREY.stroke_width((1.5 * s).max(1.0) as u32),
        ))
        .map_err(e)?;
        let (bx, by) = cc.backend_coord(&(n as f64, *v));
        root.draw(&Text::new(
            label.clone(),
            (bx - px(4.0), by - px(3.0)),
            font(10.5, s)
                .color(&GREY)
                .pos(Pos::new(HPos::Right, VPos::Bottom)),
        ))
        .map_err(e)?;
    }
    Ok(())
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
