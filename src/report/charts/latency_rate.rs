//! Latency against request rate: the median and the 99th percentile of each mode (pooled over
//! rounds, with 95% whiskers), side by side, so the rate where tracing starts to hurt, or the
//! stack saturates, stands out.

use plotters::prelude::*;

use super::{
    Area, DrawResult, LINE_WIDTH, Line, colour_of, legend, legend_line, mode_label, panel,
    style_mesh, two_panels, whisker, y_top,
};
use crate::analysis::{Estimate, LatencySummary};
use crate::report::{Summary, fmt_rate};

#[derive(Debug, Clone)]
pub struct LatencyRate {
    /// Per mode: (rate, latency summary) ascending in rate.
    lines: Vec<Line<(f64, LatencySummary)>>,
}

/// The chart, when the analysis has groups.
pub fn charts(summary: &Summary) -> Option<LatencyRate> {
    let lines: Vec<_> = summary
        .results
        .modes
        .iter()
        .map(|mode| {
            let points: Vec<_> = summary
                .analysis
                .groups
                .iter()
                .filter(|g| g.mode == mode.name)
                .map(|g| (g.rate, g.latency_ms))
                .collect();
            Line {
                label: mode_label(summary, &mode.name),
                colour: colour_of(summary, &mode.name),
                points,
            }
        })
        .filter(|line| !line.points.is_empty())
        .collect();
    (!lines.is_empty()).then_some(LatencyRate { lines })
}

impl LatencyRate {
    pub fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, title: &str) -> DrawResult<DB> {
        let (left, right) = two_panels(root, title, true)?;
        let pick_p50: fn(&LatencySummary) -> Estimate = |l| l.p50;
        let pick_p99: fn(&LatencySummary) -> Estimate = |l| l.p99;
        self.draw_panel(&left, "median (p50)", pick_p50)?;
        self.draw_panel(&right, "99th percentile (p99)", pick_p99)
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        name: &str,
        pick: fn(&LatencySummary) -> Estimate,
    ) -> DrawResult<DB> {
        let all = || self.lines.iter().flat_map(|line| line.points.iter());
        let (r_lo, r_hi) = all().fold((f64::MAX, f64::MIN), |(lo, hi), (r, _)| {
            (lo.min(*r), hi.max(*r))
        });
        let r_pad = ((r_hi - r_lo) * 0.08).max(r_hi * 0.2).max(1.0);
        // Room above the data for the legend (upper left).
        let y_hi = y_top(all().map(|(_, l)| pick(l).high), 0.001, 1.35);
        let (x_lo, x_hi) = ((r_lo - r_pad).max(0.0), r_hi + r_pad);
        // Modes at the same rate are shifted apart a little so their whiskers do not hide
        // each other.
        let dodge = (x_hi - x_lo) * 0.012;
        let middle = (self.lines.len() as f64 - 1.0) / 2.0;

        let mut chart = panel(area, name).build_cartesian_2d(x_lo..x_hi, 0.0..y_hi)?;
        style_mesh(&mut chart.configure_mesh())
            .x_label_formatter(&|r| fmt_rate(*r))
            .x_desc("target rate (requests/s)")
            .y_desc("corrected latency (ms), 95% interval")
            .draw()?;
        for (m, line) in self.lines.iter().enumerate() {
            let Line {
                label,
                colour,
                points,
            } = line;
            let shift = (m as f64 - middle) * dodge;
            let at = |r: f64, y: f64| (r + shift, y);
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|(r, l)| at(*r, pick(l).value)),
                    colour.stroke_width(LINE_WIDTH),
                ))?
                .label(label.as_str())
                .legend(legend_line(*colour));
            for (r, l) in points {
                let e = pick(l);
                whisker(
                    &mut chart,
                    r + shift,
                    (e.low, e.high),
                    colour.stroke_width(1),
                    12,
                )?;
                chart.draw_series([Circle::new(at(*r, e.value), 5, colour.filled())])?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
