//! Latency percentile spectrum: latency at every percentile from 0% out to 99.99%, one
//! line per mode, one chart per rate. The x axis counts "nines" (90%, 99%, 99.9%...), as
//! HdrHistogram's plots do, so the tail where tracing costs show first gets as much room as
//! the median.

use anyhow::Result;
use plotters::prelude::*;

use super::{
    Area, DrawResult, LINE_WIDTH, Line, colour_of, legend, legend_line, mode_label, panel,
    style_mesh, y_top,
};
use crate::report::{Summary, fmt_rate};

/// The deepest percentile drawn: 99.99%, i.e. four nines.
const MAX_NINES: f64 = 4.0;
/// Points per nine.
const STEPS_PER_NINE: u32 = 25;

#[derive(Debug, Clone)]
pub struct Spectrum {
    rate: f64,
    /// Per mode: (nines, latency ms) points.
    lines: Vec<Line<(f64, f64)>>,
}

/// One spectrum per rate, from each mode's latency histograms merged over its rounds.
pub fn charts(summary: &Summary) -> Result<Vec<Spectrum>> {
    let results = &summary.results;
    let mut charts = Vec::new();
    for rate in summary.analysis.rates() {
        let mut lines = Vec::new();
        for mode in &results.modes {
            let mut merged: Option<hdrhistogram::Histogram<u64>> = None;
            for cell in results
                .cells
                .iter()
                .filter(|c| c.mode == mode.name && c.rate == rate)
            {
                let h = cell.latency.to_hdr()?;
                match merged.as_mut() {
                    Some(m) => m.add(&h)?,
                    None => merged = Some(h),
                }
            }
            let Some(h) = merged.filter(|h| !h.is_empty()) else {
                continue;
            };
            let points = (0..=(MAX_NINES as u32 * STEPS_PER_NINE))
                .map(|i| {
                    let nines = f64::from(i) / f64::from(STEPS_PER_NINE);
                    let quantile = 1.0 - 10f64.powf(-nines);
                    (nines, h.value_at_quantile(quantile) as f64 / 1000.0)
                })
                .collect();
            lines.push(Line {
                label: mode_label(summary, &mode.name),
                colour: colour_of(summary, &mode.name),
                points,
            });
        }
        if !lines.is_empty() {
            charts.push(Spectrum { rate, lines });
        }
    }
    Ok(charts)
}

/// The percentile at `nines` on the axis: 0 -> `0%`, 2 -> `99%`, 3.5 -> `99.97%`.
pub fn percentile_label(nines: f64) -> String {
    let pct = 100.0 * (1.0 - 10f64.powf(-nines));
    let text = format!("{pct:.2}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

impl Spectrum {
    pub fn stem(&self) -> String {
        format!("latency-spectrum-{}rps", fmt_rate(self.rate))
    }

    pub fn title(&self) -> String {
        format!(
            "Latency percentile spectrum at {} requests/s",
            fmt_rate(self.rate)
        )
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, title: &str) -> DrawResult<DB> {
        let y_max = y_top(
            self.lines
                .iter()
                .flat_map(|line| line.points.iter().map(|p| p.1)),
            0.001,
            1.1,
        );
        let mut chart = panel(root, title).build_cartesian_2d(0.0..MAX_NINES, 0.0..y_max)?;
        style_mesh(&mut chart.configure_mesh())
            .x_labels(MAX_NINES as usize + 1)
            .x_label_formatter(&|x| percentile_label(*x))
            .x_desc("percentile (log scale: each step is one more nine)")
            .y_desc("corrected latency (ms)")
            .draw()?;
        for Line {
            label,
            colour,
            points,
        } in &self.lines
        {
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(LINE_WIDTH),
                ))?
                .label(label.as_str())
                .legend(legend_line(*colour));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_map_to_percentiles() {
        assert_eq!(percentile_label(0.0), "0%");
        assert_eq!(percentile_label(1.0), "90%");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(4.0), "99.99%");
    }
}
