//! Latency against request rate: the median and the 99th percentile of each mode (pooled over
//! rounds, with 95% whiskers), side by side, so the rate where tracing starts to hurt, or the
//! stack saturates, stands out.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    DrawResult, LINE_WIDTH, colour_of, legend, legend_line, mode_label, panel, style_mesh,
};
use crate::analysis::{Estimate, LatencySummary};
use crate::report::{Summary, fmt_rate};

#[derive(Debug, Clone)]
pub struct LatencyRate {
    /// Per mode: legend label, colour, (rate, latency summary) ascending in rate.
    lines: Vec<(String, RGBColor, Vec<(f64, LatencySummary)>)>,
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
            (
                mode_label(summary, &mode.name),
                colour_of(summary, &mode.name),
                points,
            )
        })
        .filter(|(_, _, points)| !points.is_empty())
        .collect();
    (!lines.is_empty()).then_some(LatencyRate { lines })
}

impl LatencyRate {
    pub fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, title: &str) -> DrawResult<DB> {
        let panels = root.titled(title, (super::FONT, super::TITLE_PX))?;
        let (left, right) = panels.split_horizontally(panels.dim_in_pixel().0 / 2);
        let pick_p50: fn(&LatencySummary) -> Estimate = |l| l.p50;
        let pick_p99: fn(&LatencySummary) -> Estimate = |l| l.p99;
        self.draw_panel(&left, "median (p50)", pick_p50)?;
        self.draw_panel(&right, "99th percentile (p99)", pick_p99)
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        name: &str,
        pick: fn(&LatencySummary) -> Estimate,
    ) -> DrawResult<DB> {
        let all = || self.lines.iter().flat_map(|(_, _, p)| p.iter());
        let (r_lo, r_hi) = all().fold((f64::MAX, f64::MIN), |(lo, hi), (r, _)| (lo.min(*r), hi.max(*r)));
        let r_pad = ((r_hi - r_lo) * 0.08).max(r_hi * 0.2).max(1.0);
        let y_hi = all().map(|(_, l)| pick(l).high).fold(0.0, f64::max).max(0.001) * 1.15;

        let mut chart = panel(area, name)
            .build_cartesian_2d((r_lo - r_pad).max(0.0)..(r_hi + r_pad), 0.0..y_hi)?;
        style_mesh(&mut chart.configure_mesh())
            .x_label_formatter(&|r| fmt_rate(*r))
            .x_desc("target rate (requests/s)")
            .y_desc("corrected latency (ms), 95% interval")
            .draw()?;
        for (label, colour, points) in &self.lines {
            let style = colour.stroke_width(LINE_WIDTH);
            chart
                .draw_series(LineSeries::new(points.iter().map(|(r, l)| (*r, pick(l).value)), style))?
                .label(label.as_str())
                .legend(legend_line(*colour));
            chart.draw_series(points.iter().map(|(r, l)| Circle::new((*r, pick(l).value), 5, colour.filled())))?;
            chart.draw_series(points.iter().map(|(r, l)| {
                let e = pick(l);
                PathElement::new(vec![(*r, e.low), (*r, e.high)], style)
            }))?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
