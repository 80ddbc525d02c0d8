//! The charts, drawn with plotters into a PNG (raw pixels encoded by `png`) and an SVG.
//!
//! Text is drawn with the bundled DejaVu Sans (`assets/`), registered with plotters'
//! `ab_glyph` backend, so a bare machine without fonts draws the same pixels. Each chart
//! is a data type implementing [`Chart`]; [`render`] draws it once per backend.

use std::error::Error;
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, RGBColor};

/// DejaVu Sans (Bitstream Vera licence, `assets/DejaVuSans-LICENSE.txt`).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The font family every chart asks for.
const FAMILY: &str = "sans-serif";

type DrawResult = Result<(), Box<dyn Error>>;

/// matplotlib's "tab10" without its grey, which is kept for noise and "other".
pub const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
pub const GREY: RGBColor = RGBColor(150, 150, 150);
const INK: RGBColor = RGBColor(33, 37, 41);

/// Registers the bundled font once per process.
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok()
            && plotters::style::register_font(FAMILY, FontStyle::Bold, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err("the bundled font could not be loaded".to_string())
    }
}

/// A chart that can draw itself on any plotters backend.
pub trait Chart {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static;
}

/// A chart drawn as PNG bytes and SVG text.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub png: Vec<u8>,
    pub svg: String,
    pub width: u32,
    pub height: u32,
}

pub fn render<C: Chart>(chart: &C) -> Result<Rendered, String> {
    register_font()?;
    let (width, height) = chart.size();
    let mut pixels = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        chart.draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        chart.draw(&root).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(Rendered {
        png: png_bytes,
        svg,
        width,
        height,
    })
}

fn caption_font() -> TextStyle<'static> {
    (FAMILY, 22).into_font().color(&INK)
}

fn label_font() -> TextStyle<'static> {
    (FAMILY, 14).into_font().color(&INK)
}

/// Draws a chart's legend in the one style every chart uses.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    mut labels: plotters::chart::SeriesLabelStyle<'a, '_, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    labels
        .label_font(label_font())
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .position(position)
        .draw()?;
    Ok(())
}

/// Lower and upper bounds with a margin, never an empty range.
fn padded(lo: f64, hi: f64, share: f64) -> (f64, f64) {
    // No point to draw (every segment below the publication threshold): an empty frame,
    // not the NaN range plotters refuses.
    if !(lo.is_finite() && hi.is_finite()) {
        return (-1.0, 1.0);
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - span * share, hi + span * share)
}

/// Silhouette and inertia against k, the chosen k marked.
pub struct KSelection {
    /// (k, inertia, silhouette)
    pub rows: Vec<(i64, f64, Option<f64>)>,
    pub chosen: Option<i64>,
}

impl Chart for KSelection {
    fn size(&self) -> (u32, u32) {
        (900, 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let k_lo = self.rows.iter().map(|r| r.0).min().unwrap_or(1);
        let k_hi = self.rows.iter().map(|r| r.0).max().unwrap_or(1);
        let silhouettes: Vec<(i64, f64)> = self
            .rows
            .iter()
            .filter_map(|r| r.2.map(|s| (r.0, s)))
            .collect();
        let (s_lo, s_hi) = padded(
            silhouettes
                .iter()
                .map(|p| p.1)
                .fold(f64::INFINITY, f64::min),
            silhouettes
                .iter()
                .map(|p| p.1)
                .fold(f64::NEG_INFINITY, f64::max),
            0.1,
        );
        let (s_lo, s_hi) = if s_lo.is_finite() {
            (s_lo, s_hi)
        } else {
            (-1.0, 1.0)
        };
        let (i_lo, i_hi) = padded(
            self.rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min),
            self.rows
                .iter()
                .map(|r| r.1)
                .fold(f64::NEG_INFINITY, f64::max),
            0.1,
        );
        let mut chart = ChartBuilder::on(root)
            .caption("Choosing the number of segments", caption_font())
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .right_y_label_area_size(90)
            .build_cartesian_2d((k_lo - 1)..(k_hi + 1), s_lo..s_hi)?
            .set_secondary_coord((k_lo - 1)..(k_hi + 1), i_lo..i_hi);
        chart
            .configure_mesh()
            .x_desc("k, the number of segments")
            .y_desc("mean silhouette (higher is better)")
            .label_style(label_font())
            .axis_desc_style(label_font())
            .x_labels((k_hi - k_lo + 3) as usize)
            .y_label_formatter(&|v| format!("{v:.2}"))
            .light_line_style(WHITE)
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("inertia (lower is tighter)")
            .label_style(label_font())
            .axis_desc_style(label_font())
            .y_label_formatter(&|v| group_count(v.max(0.0).round() as u64))
            .draw()?;
        if let Some(k) = self.chosen {
            chart.draw_series(DashedLineSeries::new(
                vec![(k, s_lo), (k, s_hi)],
                6,
                4,
                GREY.stroke_width(2),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("chosen k = {k}"),
                (k, s_hi),
                label_font().pos(Pos::new(HPos::Left, VPos::Top)),
            )))?;
        }
        let blue = PALETTE[0];
        let orange = PALETTE[1];
        chart
            .draw_series(LineSeries::new(
                silhouettes.iter().copied(),
                blue.stroke_width(3),
            ))?
            .label("silhouette")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(3))
            });
        chart.draw_series(
            silhouettes
                .iter()
                .map(|&p| Circle::new(p, 5, blue.filled())),
        )?;
        chart
            .draw_secondary_series(LineSeries::new(
                self.rows.iter().map(|r| (r.0, r.1)),
                orange.stroke_width(3),
            ))?
            .label("inertia")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], orange.stroke_width(3))
            });
        chart.draw_secondary_series(
            self.rows
                .iter()
                .map(|r| Circle::new((r.0, r.1), 5, orange.filled())),
        )?;
        legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperRight,
        )?;
        Ok(())
    }
}

/// Each customer's silhouette, sorted within its group, the mean marked: scikit-learn's
/// "silhouette analysis" figure.
pub struct SilhouetteAnalysis {
    /// (group name, colour, silhouettes)
    pub groups: Vec<(String, RGBColor, Vec<f64>)>,
    pub mean: f64,
}

impl Chart for SilhouetteAnalysis {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let total: usize = self.groups.iter().map(|g| g.2.len()).sum();
        let gap = (total as f64 * 0.02).max(1.0);
        let height = total as f64 + gap * (self.groups.len() + 1) as f64;
        let lowest = self
            .groups
            .iter()
            .flat_map(|g| g.2.iter().copied())
            .fold(0.0f64, f64::min);
        let x_lo = (lowest - 0.05).min(-0.1);
        let mut chart = ChartBuilder::on(root)
            .caption("Silhouette of each customer, by segment", caption_font())
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(20)
            .build_cartesian_2d(x_lo..1.0, 0.0..height)?;
        chart
            .configure_mesh()
            .x_desc("silhouette: how much closer a customer is to its own segment than to the next")
            .label_style(label_font())
            .axis_desc_style(label_font())
            .y_labels(0)
            .disable_y_mesh()
            .light_line_style(WHITE)
            .x_label_formatter(&|v| format!("{v:.1}"))
            .draw()?;
        let mut y = gap;
        for (name, colour, values) in &self.groups {
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let mut outline = Vec::with_capacity(sorted.len() + 2);
            outline.push((0.0, y));
            for (i, v) in sorted.iter().enumerate() {
                outline.push((*v, y + i as f64 + 0.5));
            }
            outline.push((0.0, y + sorted.len() as f64));
            chart.draw_series(std::iter::once(Polygon::new(
                outline,
                colour.mix(0.85).filled(),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{name} ({})", sorted.len()),
                (x_lo + 0.01, y + sorted.len() as f64 / 2.0),
                label_font().pos(Pos::new(HPos::Left, VPos::Center)),
            )))?;
            y += sorted.len() as f64 + gap;
        }
        let red = PALETTE[3];
        chart
            .draw_series(DashedLineSeries::new(
                vec![(self.mean, 0.0), (self.mean, height)],
                8,
                5,
                red.stroke_width(2),
            ))?
            .label(format!("mean silhouette {:.3}", self.mean))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (0.0, height)],
            INK.stroke_width(1),
        )))?;
        legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperRight,
        )?;
        Ok(())
    }
}

/// Points of a scatter, (x, y).
pub type Points = Vec<(f64, f64)>;

/// Customers projected on the first two principal components, coloured by group.
pub struct Projection {
    /// (group name, colour, points)
    pub groups: Vec<(String, RGBColor, Points)>,
    pub explained_variance_ratio: [f64; 2],
}

impl Chart for Projection {
    fn size(&self) -> (u32, u32) {
        (900, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let all = || self.groups.iter().flat_map(|g| g.2.iter().copied());
        let (x_lo, x_hi) = padded(
            all().map(|p| p.0).fold(f64::INFINITY, f64::min),
            all().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max),
            0.04,
        );
        let (y_lo, y_hi) = padded(
            all().map(|p| p.1).fold(f64::INFINITY, f64::min),
            all().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max),
            0.04,
        );
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Segments in two dimensions (principal components)",
                caption_font(),
            )
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)?;
        let [first, second] = self.explained_variance_ratio;
        chart
            .configure_mesh()
            .x_desc(format!(
                "first component ({:.1} % of the variance)",
                first * 100.0
            ))
            .y_desc(format!("second component ({:.1} %)", second * 100.0))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .x_label_formatter(&|v| format!("{v:.1}"))
            .y_label_formatter(&|v| format!("{v:.1}"))
            .light_line_style(WHITE)
            .draw()?;
        for (name, colour, points) in &self.groups {
            let colour = *colour;
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|&p| Circle::new(p, 2, colour.mix(0.55).filled())),
                )?
                .label(name.clone())
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, colour.filled()));
        }
        legend(
            chart.configure_series_labels(),
            SeriesLabelPosition::UpperRight,
        )?;
        Ok(())
    }
}

/// How a heatmap colours its cells.
#[derive(Debug, Clone, Copy)]
pub enum Scale {
    /// Blue below zero, red above, white at zero; saturated at ± `limit`.
    Diverging { limit: f64 },
    /// White at 0 to dark blue at `max`.
    Sequential { max: f64 },
}

impl Scale {
    fn colour(self, value: f64) -> RGBColor {
        let blend = |a: (f64, f64, f64), b: (f64, f64, f64), t: f64| {
            let t = t.clamp(0.0, 1.0);
            RGBColor(
                (a.0 + (b.0 - a.0) * t).round() as u8,
                (a.1 + (b.1 - a.1) * t).round() as u8,
                (a.2 + (b.2 - a.2) * t).round() as u8,
            )
        };
        let white = (247.0, 247.0, 247.0);
        match self {
            Scale::Diverging { limit } => {
                let t = value / limit.max(f64::MIN_POSITIVE);
                if t < 0.0 {
                    blend(white, (59.0, 76.0, 192.0), -t)
                } else {
                    blend(white, (180.0, 4.0, 38.0), t)
                }
            }
            Scale::Sequential { max } => blend(
                white,
                (8.0, 69.0, 148.0),
                value / max.max(f64::MIN_POSITIVE),
            ),
        }
    }
}

/// A table of values drawn as coloured cells with the value written in each.
pub struct Heatmap {
    pub title: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// `values[row][column]`
    pub values: Vec<Vec<f64>>,
    pub scale: Scale,
    pub format: fn(f64) -> String,
}

impl Chart for Heatmap {
    fn size(&self) -> (u32, u32) {
        let label = self
            .rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(4) as u32;
        let width = (label * 8 + 60 + self.columns.len() as u32 * 110).max(600);
        let height = 150 + self.rows.len() as u32 * 26;
        (width, height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let label = self
            .rows
            .iter()
            .map(|r| r.chars().count())
            .max()
            .unwrap_or(4) as u32;
        let (columns, rows) = (self.columns.len() as i32, self.rows.len() as i32);
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, caption_font())
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(label * 8 + 20)
            // A segmented range holds its end as a segment too.
            .build_cartesian_2d(
                (0..columns - 1).into_segmented(),
                (0..rows - 1).into_segmented(),
            )?;
        // Row 0 is drawn at the top, as a table reads.
        let row_name = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(r) => self
                .rows
                .get((rows - 1 - r) as usize)
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        };
        let column_name = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(c) => self.columns.get(*c as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(self.columns.len() + 1)
            .y_labels(self.rows.len() + 1)
            .x_label_formatter(&column_name)
            .y_label_formatter(&row_name)
            .label_style(label_font())
            .draw()?;
        let cell = |c: i32, r: i32| {
            [
                (SegmentValue::Exact(c), SegmentValue::Exact(rows - 1 - r)),
                (SegmentValue::Exact(c + 1), SegmentValue::Exact(rows - r)),
            ]
        };
        let cells = || {
            self.values.iter().enumerate().flat_map(|(r, row)| {
                row.iter()
                    .enumerate()
                    .map(move |(c, v)| (c as i32, r as i32, *v))
            })
        };
        chart.draw_series(
            cells().map(|(c, r, v)| Rectangle::new(cell(c, r), self.scale.colour(v).filled())),
        )?;
        chart.draw_series(cells().map(|(c, r, v)| {
            let fill = self.scale.colour(v);
            let dark = 0.299 * fill.0 as f64 + 0.587 * fill.1 as f64 + 0.114 * fill.2 as f64;
            let ink = if dark < 128.0 { WHITE } else { INK };
            Text::new(
                (self.format)(v),
                (
                    SegmentValue::CenterOf(c),
                    SegmentValue::CenterOf(rows - 1 - r),
                ),
                (FAMILY, 13)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )
        }))?;
        Ok(())
    }
}

/// Customers per group, as bars.
pub struct Sizes {
    /// (group name, colour, customers)
    pub groups: Vec<(String, RGBColor, u64)>,
}

impl Chart for Sizes {
    fn size(&self) -> (u32, u32) {
        ((200 + self.groups.len() as u32 * 120).max(600), 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let n = self.groups.len() as i32;
        let most = self.groups.iter().map(|g| g.2).max().unwrap_or(1).max(1);
        let mut chart = ChartBuilder::on(root)
            .caption("Customers per segment", caption_font())
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0u64..(most + most / 8 + 1))?;
        let names: Vec<String> = self.groups.iter().map(|g| g.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(WHITE)
            .x_labels(self.groups.len() + 1)
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_desc("customers")
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()?;
        chart.draw_series(self.groups.iter().enumerate().map(|(i, g)| {
            let i = i as i32;
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0),
                    (SegmentValue::Exact(i + 1), g.2),
                ],
                g.1.filled(),
            );
            bar.set_margin(0, 0, 14, 14);
            bar
        }))?;
        chart.draw_series(self.groups.iter().enumerate().map(|(i, g)| {
            Text::new(
                group_count(g.2),
                (SegmentValue::CenterOf(i as i32), g.2),
                label_font().pos(Pos::new(HPos::Center, VPos::Bottom)),
            )
        }))?;
        Ok(())
    }
}

/// Precision and recall against k, one line per list (the blend and each method).
pub struct PrecisionRecall {
    pub ks: Vec<usize>,
    /// (list name, precision at each k, recall at each k)
    pub lists: Vec<(String, Vec<f64>, Vec<f64>)>,
}

impl Chart for PrecisionRecall {
    fn size(&self) -> (u32, u32) {
        (1000, 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled("Precision and recall at k, by method", caption_font())?;
        let panels = root.split_evenly((1, 2));
        let k_lo = self.ks.iter().copied().min().unwrap_or(1) as i64;
        let k_hi = self.ks.iter().copied().max().unwrap_or(1) as i64;
        for (panel, (what, pick)) in panels
            .iter()
            .zip([("precision", 0usize), ("recall", 1usize)])
        {
            let value = |list: &(String, Vec<f64>, Vec<f64>), i: usize| {
                if pick == 0 {
                    list.1[i]
                } else {
                    list.2[i]
                }
            };
            let top = self
                .lists
                .iter()
                .flat_map(|l| (0..self.ks.len()).map(move |i| value(l, i)))
                .fold(0.0f64, f64::max);
            let mut chart = ChartBuilder::on(panel)
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(56)
                .build_cartesian_2d((k_lo - 1)..(k_hi + 1), 0.0..(top * 1.1).clamp(0.05, 1.0))?;
            chart
                .configure_mesh()
                .x_desc("k, products recommended")
                .y_desc(what)
                .x_labels((k_hi - k_lo + 3) as usize)
                .y_label_formatter(&|v| format!("{v:.2}"))
                .label_style(label_font())
                .axis_desc_style(label_font())
                .light_line_style(WHITE)
                .draw()?;
            for (index, list) in self.lists.iter().enumerate() {
                let blend = index == 0;
                let colour = if blend {
                    INK
                } else {
                    PALETTE[(index - 1) % PALETTE.len()]
                };
                let style = colour.stroke_width(if blend { 4 } else { 2 });
                let points: Vec<(i64, f64)> = self
                    .ks
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| (k as i64, value(list, i)))
                    .collect();
                let series = chart.draw_series(LineSeries::new(points.iter().copied(), style))?;
                if pick == 0 {
                    series
                        .label(list.0.clone())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
                chart.draw_series(
                    points
                        .iter()
                        .map(|&p| Circle::new(p, if blend { 5 } else { 3 }, colour.filled())),
                )?;
            }
            if pick == 0 {
                legend(
                    chart.configure_series_labels(),
                    SeriesLabelPosition::LowerLeft,
                )?;
            }
        }
        Ok(())
    }
}

/// A group's name short enough for an axis: its number and the first words of its label.
pub fn short_name(index: usize, name: &str) -> String {
    let first = name.split(" · ").next().unwrap_or(name);
    let first: String = first.chars().take(22).collect();
    format!("{}: {first}", index + 1)
}

/// 12345 as "12,345".
pub fn group_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_range_is_a_frame_not_nan() {
        assert_eq!(padded(f64::INFINITY, f64::NEG_INFINITY, 0.1), (-1.0, 1.0));
        assert_eq!(padded(0.0, 10.0, 0.1), (-1.0, 11.0));
        assert_eq!(padded(2.0, 2.0, 0.5), (1.0, 3.0));
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(group_count(0), "0");
        assert_eq!(group_count(999), "999");
        assert_eq!(group_count(1000), "1,000");
        assert_eq!(group_count(1234567), "1,234,567");
    }

    #[test]
    fn the_diverging_scale_is_white_at_zero_and_saturates() {
        let scale = Scale::Diverging { limit: 2.0 };
        assert_eq!(scale.colour(0.0), RGBColor(247, 247, 247));
        assert_eq!(scale.colour(5.0), RGBColor(180, 4, 38));
        assert_eq!(scale.colour(-2.0), RGBColor(59, 76, 192));
    }
}
