//! Charts for the reports, drawn with plotters once per backend: SVG (inlined in the HTML) and
//! PNG (for attaching to reviews). Each chart is one file here holding its data, prepared from
//! the summary up front, and a `draw` generic over the backend; this module holds what they
//! share (sizes, fonts, colours) so every chart looks alike.
//!
//! Text is laid out with DejaVu Sans, embedded in the binary (plotters is built without system
//! font lookup): a fresh machine needs no fonts installed.

mod breakdown;
mod latency_rate;
mod overhead;
mod resources;
mod spectrum;
mod traces;
mod trend;

pub use trend::TrendChart;

use std::ops::Range;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord};
use plotters::coord::types::{RangedCoordf64, RangedCoordu32};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::{Exporter, Summary};
use crate::analysis::Verdict;

/// Size of every chart in pixels (SVG user units and PNG pixels alike), except [`TALL`] ones.
pub const SIZE: (u32, u32) = (1000, 600);
/// Size of charts with two panels stacked (CPU above memory).
pub const TALL: (u32, u32) = (1000, 820);

/// The font family charts ask for; DejaVu Sans is registered under this name.
pub const FONT: &str = "sans-serif";
pub const TITLE_PX: u32 = 26;
pub const AXIS_DESC_PX: u32 = 18;
pub const TICK_PX: u32 = 15;
pub const LEGEND_PX: u32 = 16;
/// Small text on the plot itself (value annotations).
pub const NOTE_PX: u32 = 14;
pub const LINE_WIDTH: u32 = 2;

/// Mode colours by the mode's position in the scenario (Okabe-Ito, readable by colour-blind
/// readers), so a mode has the same colour in every chart.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];
pub const GRID: RGBColor = RGBColor(225, 225, 225);
pub const PASS: RGBColor = RGBColor(0, 140, 70);
pub const INCONCLUSIVE: RGBColor = RGBColor(200, 130, 0);
pub const FAIL: RGBColor = RGBColor(200, 30, 30);
pub const MUTED: RGBColor = RGBColor(120, 120, 120);

static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The colour of the mode at `index` in the scenario's list.
pub fn mode_colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// The colour of the mode named `mode` in this run.
fn colour_of(summary: &Summary, mode: &str) -> RGBColor {
    let index = summary.results.modes.iter().position(|m| m.name == mode);
    mode_colour(index.unwrap_or(0))
}

/// A mode's name for legends: `off (baseline)` for the baseline.
fn mode_label(summary: &Summary, mode: &str) -> String {
    if summary.results.is_baseline(mode) {
        format!("{mode} (baseline)")
    } else {
        mode.to_string()
    }
}

/// A mode's series in a chart: its legend label, its colour and its points.
#[derive(Debug, Clone)]
pub struct Line<P> {
    label: String,
    colour: RGBColor,
    points: Vec<P>,
}

type DrawResult<DB, T = ()> =
    std::result::Result<T, DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

type Area<DB> = DrawingArea<DB, Shift>;

/// One chart, with its data.
#[derive(Debug, Clone)]
pub enum Chart {
    Spectrum(spectrum::Spectrum),
    Overhead(overhead::Overhead),
    LatencyRate(latency_rate::LatencyRate),
    Resources(resources::Resources),
    Traces(traces::Traces),
    Breakdown(breakdown::BreakdownChart),
    /// One budget across runs (`tracebench trend`), not part of a run's reports.
    Trend(TrendChart),
}

/// Every chart the summary has data for, in the order the HTML report shows them.
pub fn all(summary: &Summary) -> Result<Vec<Chart>> {
    let mut charts = Vec::new();
    charts.extend(overhead::charts(summary).into_iter().map(Chart::Overhead));
    charts.extend(spectrum::charts(summary)?.into_iter().map(Chart::Spectrum));
    charts.extend(
        latency_rate::charts(summary)
            .into_iter()
            .map(Chart::LatencyRate),
    );
    charts.extend(resources::charts(summary).into_iter().map(Chart::Resources));
    charts.extend(traces::charts(summary).into_iter().map(Chart::Traces));
    charts.extend(breakdown::charts(summary).map(Chart::Breakdown));
    Ok(charts)
}

impl Chart {
    /// The file name without extension, unique within a run.
    pub fn stem(&self) -> String {
        match self {
            Chart::Spectrum(c) => c.stem(),
            Chart::Overhead(c) => c.stem(),
            Chart::LatencyRate(_) => "latency-vs-rate".to_string(),
            Chart::Resources(c) => c.stem(),
            Chart::Traces(c) => c.stem(),
            Chart::Breakdown(c) => c.stem(),
            Chart::Trend(c) => c.stem(),
        }
    }

    pub fn title(&self) -> String {
        match self {
            Chart::Spectrum(c) => c.title(),
            Chart::Overhead(c) => c.title(),
            Chart::LatencyRate(_) => "Latency against request rate".to_string(),
            Chart::Resources(c) => c.title(),
            Chart::Traces(c) => c.title(),
            Chart::Breakdown(c) => c.title(),
            Chart::Trend(c) => c.title(),
        }
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        match self {
            Chart::Resources(_) => TALL,
            _ => SIZE,
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        root.fill(&WHITE)?;
        let title = self.title();
        match self {
            Chart::Spectrum(c) => c.draw(root, &title),
            Chart::Overhead(c) => c.draw(root, &title),
            Chart::LatencyRate(c) => c.draw(root, &title),
            Chart::Resources(c) => c.draw(root, &title),
            Chart::Traces(c) => c.draw(root, &title),
            Chart::Breakdown(c) => c.draw(root, &title),
            Chart::Trend(c) => c.draw(root, &title),
        }?;
        root.present()
    }

    pub fn svg(&self) -> Result<String> {
        register_fonts();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size()).into_drawing_area();
            self.draw(&root)
                .map_err(|err| anyhow!("drawing {} as SVG: {err:?}", self.stem()))?;
        }
        Ok(svg)
    }

    pub fn png(&self) -> Result<Vec<u8>> {
        register_fonts();
        let (width, height) = self.size();
        let mut rgb = vec![0u8; width as usize * height as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            self.draw(&root)
                .map_err(|err| anyhow!("drawing {} as PNG: {err:?}", self.stem()))?;
        }
        let mut png = Vec::new();
        let mut encoder = png::Encoder::new(&mut png, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&rgb)?;
        Ok(png)
    }
}

/// Registers DejaVu Sans for every style plotters may ask for, once per process.
fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is compiled in and known to parse; a failure here would show as missing
            // text in every chart, caught by the chart tests.
            let _ = register_font(FONT, style, DEJAVU_SANS);
        }
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

/// A chart written to `charts/<stem>.svg` or `.png`.
pub struct ChartFile {
    pub chart: Chart,
    pub format: Format,
}

impl Exporter for ChartFile {
    fn file_name(&self) -> String {
        let ext = match self.format {
            Format::Svg => "svg",
            Format::Png => "png",
        };
        format!("charts/{}.{ext}", self.chart.stem())
    }

    fn render(&self, _summary: &Summary) -> Result<Vec<u8>> {
        match self.format {
            Format::Svg => Ok(self.chart.svg()?.into_bytes()),
            Format::Png => self.chart.png(),
        }
    }
}

/// The top of a y axis from 0: the largest value (at least `floor`, so an all-zero chart still
/// has an axis) with `headroom` above it (a legend sits there).
fn y_top(values: impl IntoIterator<Item = f64>, floor: f64, headroom: f64) -> f64 {
    values.into_iter().fold(floor, f64::max) * headroom
}

/// A titled chart split into two panels, side by side or one above the other.
fn two_panels<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
    side_by_side: bool,
) -> DrawResult<DB, (Area<DB>, Area<DB>)> {
    let panels = root.titled(title, (FONT, TITLE_PX))?;
    let (width, height) = panels.dim_in_pixel();
    Ok(if side_by_side {
        panels.split_horizontally(width / 2)
    } else {
        panels.split_vertically(height / 2)
    })
}

/// Caption, margins and label areas shared by every panel.
fn panel<'a, 'b, DB: DrawingBackend>(area: &'a Area<DB>, title: &str) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, (FONT, TITLE_PX))
        .margin(16)
        .margin_right(44)
        .x_label_area_size(56)
        .y_label_area_size(80);
    builder
}

/// A chart whose x axis is a list of named categories (`on 100/s`, ...), centred on ticks.
type Categories<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<SegmentedCoord<RangedCoordu32>, RangedCoordf64>>;

fn categories_chart<'a, DB: DrawingBackend>(
    area: &'a Area<DB>,
    title: &str,
    labels: &[String],
    y: Range<f64>,
    (x_desc, y_desc): (&str, &str),
) -> std::result::Result<Categories<'a, DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let last = labels.len().saturating_sub(1) as u32;
    let mut chart = panel(area, title).build_cartesian_2d((0u32..last).into_segmented(), y)?;
    let label_of = |x: &SegmentValue<u32>| match x {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => {
            labels.get(*i as usize).cloned().unwrap_or_default()
        }
        SegmentValue::Last => String::new(),
    };
    style_mesh(&mut chart.configure_mesh())
        .disable_x_mesh()
        .x_labels(labels.len())
        .x_label_formatter(&label_of)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()?;
    Ok(chart)
}

/// A vertical interval from `low` to `high` at `x`, with caps `cap_px` wide.
fn whisker<DB: DrawingBackend, X: Ranged, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    x: X::ValueType,
    (low, high): (f64, f64),
    style: ShapeStyle,
    cap_px: i32,
) -> DrawResult<DB>
where
    X::ValueType: Clone + 'static,
{
    let half = cap_px / 2;
    let cap = |y: f64| {
        EmptyElement::at((x.clone(), y)) + PathElement::new(vec![(-half, 0), (half, 0)], style)
    };
    chart.draw_series([PathElement::new(
        vec![(x.clone(), low), (x.clone(), high)],
        style,
    )])?;
    chart.draw_series([cap(low), cap(high)])?;
    Ok(())
}

/// Tick labels, axis descriptions and grid lines alike in every panel.
fn style_mesh<'m, 'a, 'b, X: Ranged, Y: Ranged<ValueType = f64>, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.y_label_formatter(&|y| tick(*y))
        .label_style((FONT, TICK_PX))
        .axis_desc_style((FONT, AXIS_DESC_PX))
        .bold_line_style(GRID)
        .light_line_style(GRID.mix(0.4))
}

/// A y tick label without needless digits: `3500`, `2.5`, `0.125`.
pub fn tick(value: f64) -> String {
    if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.3}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text == "-0" {
            "0".to_string()
        } else {
            text.to_string()
        }
    }
}

/// The legend box, drawn where it hides the least.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(MUTED)
        .label_font((FONT, LEGEND_PX))
        .draw()
}

/// The colour of a verdict, the same in every chart.
fn verdict_colour(verdict: Verdict) -> RGBColor {
    match verdict {
        Verdict::Pass => PASS,
        Verdict::Inconclusive => INCONCLUSIVE,
        Verdict::Fail => FAIL,
    }
}

/// Legend entries for the colours of points (label and colour), drawn as dots.
fn dot_legend<DB: DrawingBackend>(
    chart: &mut Categories<'_, DB>,
    entries: &[(&str, RGBColor)],
) -> DrawResult<DB> {
    for &(label, colour) in entries {
        chart
            .draw_series(std::iter::empty::<Circle<(SegmentValue<u32>, f64), i32>>())?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 11, y), 6, colour.filled()));
    }
    Ok(())
}

/// A short horizontal line as the legend mark of a series.
fn legend_line(colour: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], colour.stroke_width(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_drop_needless_digits() {
        assert_eq!(tick(3500.0), "3500");
        assert_eq!(tick(2.5), "2.5");
        assert_eq!(tick(2.0), "2");
        assert_eq!(tick(0.125), "0.125");
        assert_eq!(tick(-0.0001), "0");
    }

    #[test]
    fn mode_colours_are_distinct_within_the_palette() {
        let colours: Vec<_> = (0..PALETTE.len()).map(mode_colour).collect();
        for (i, a) in colours.iter().enumerate() {
            assert!(colours[i + 1..].iter().all(|b| b != a));
        }
        assert_eq!(mode_colour(PALETTE.len()), mode_colour(0));
    }
}
