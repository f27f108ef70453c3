//! Overhead per budget: for one budget (say "latency p99"), each mode's overhead against the
//! baseline at each rate as a point with its confidence-interval whisker, the budget's limit as
//! a red line, and the baseline against itself (the noise floor) in grey beside them. The
//! verdict is visible as geometry: a whisker wholly below the line passes, wholly above fails.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::{
    Area, DrawResult, FAIL, FONT, INCONCLUSIVE, LINE_WIDTH, MUTED, NOTE_PX, PASS, categories_chart,
    dot_legend, legend, legend_line, verdict_colour, whisker,
};
use crate::analysis::{BudgetKind, Estimate, Verdict};
use crate::report::{Summary, fmt_rate, unique};

#[derive(Debug, Clone)]
pub struct Overhead {
    budget: BudgetKind,
    limit: f64,
    /// In drawing order: noise floor first at each rate, then each mode.
    points: Vec<Point>,
}

#[derive(Debug, Clone)]
struct Point {
    /// Axis label: `on 100/s`, `A/A 100/s`.
    label: String,
    estimate: Option<Estimate>,
    /// `None` for the noise floor, drawn grey whatever its verdict.
    verdict: Option<Verdict>,
}

/// One chart per budget kind judged in the analysis, in the order the analysis lists them.
pub fn charts(summary: &Summary) -> Vec<Overhead> {
    let analysis = &summary.analysis;
    unique(analysis.budgets.iter().map(|b| &b.budget))
        .into_iter()
        .map(|kind| {
            let judged: Vec<_> = analysis
                .budgets
                .iter()
                .filter(|b| &b.budget == kind)
                .collect();
            let mut rates: Vec<f64> = judged.iter().map(|b| b.rate).collect();
            rates.sort_by(f64::total_cmp);
            rates.dedup();
            let mut points = Vec::new();
            for rate in rates {
                let noise = analysis
                    .noise_floor
                    .iter()
                    .filter(|n| &n.budget == kind && n.rate == rate);
                points.extend(noise.map(|n| Point {
                    label: match crate::results::split_mode(&n.mode).0 {
                        Some(variant) => format!("{variant} A/A {}/s", fmt_rate(rate)),
                        None => format!("A/A {}/s", fmt_rate(rate)),
                    },
                    estimate: Some(n.estimate),
                    verdict: None,
                }));
                points.extend(judged.iter().filter(|b| b.rate == rate).map(|b| Point {
                    label: format!("{} {}/s", b.mode, fmt_rate(rate)),
                    estimate: b.overhead,
                    verdict: Some(b.verdict),
                }));
            }
            Overhead {
                budget: kind.clone(),
                limit: judged[0].limit,
                points,
            }
        })
        .collect()
}

impl Overhead {
    pub fn stem(&self) -> String {
        format!("overhead-{}", self.budget.label().replace(' ', "-"))
    }

    pub fn title(&self) -> String {
        match &self.budget {
            BudgetKind::TraceVolume { service } => {
                format!("Trace volume of {service}: observed / expected")
            }
            BudgetKind::Latency { percentile } => {
                format!("Added latency at {percentile} against the baseline")
            }
            BudgetKind::Cpu { service } => format!("Added CPU of {service} against the baseline"),
            BudgetKind::Memory { service } => {
                format!("Added memory of {service} against the baseline")
            }
            BudgetKind::Errors => "Added errors against the baseline".to_string(),
            BudgetKind::Completeness { service } => {
                format!("Traces of {service} missing a service")
            }
        }
    }

    /// The y value(s) of the budget line(s): the limit, or 1 ± tolerance for trace volume.
    fn limit_lines(&self) -> Vec<f64> {
        match self.budget {
            BudgetKind::TraceVolume { .. } => vec![1.0 - self.limit, 1.0 + self.limit],
            _ => vec![self.limit],
        }
    }

    fn y_desc(&self) -> String {
        match self.budget {
            BudgetKind::Latency { .. } => {
                "added latency (ms), interval at the deciding look".to_string()
            }
            BudgetKind::Cpu { .. } => {
                "added CPU (percentage points of one core), interval at the deciding look"
                    .to_string()
            }
            BudgetKind::Memory { .. } => {
                "added memory (MB), interval at the deciding look".to_string()
            }
            BudgetKind::Errors => {
                "added errors (percentage points of requests due), interval at the deciding look"
                    .to_string()
            }
            BudgetKind::TraceVolume { .. } => {
                "observed / expected traces, 99% interval".to_string()
            }
            BudgetKind::Completeness { .. } => "incomplete traces (% of counted)".to_string(),
        }
    }

    /// Every interval, value and limit line, and 0, padded, with room above for the legend box
    /// (upper right).
    fn y_range(&self, lines: &[f64]) -> std::ops::Range<f64> {
        let values = self
            .points
            .iter()
            .filter_map(|p| p.estimate)
            .flat_map(|e| [e.low, e.high, e.value])
            .chain(lines.iter().copied())
            .chain([0.0])
            .filter(|v| v.is_finite());
        let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let pad = ((hi - lo) * 0.12).max(1e-3);
        let legend_room = (hi - lo) * 0.45;
        (lo - pad)..(hi + pad + legend_room)
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, title: &str) -> DrawResult<DB> {
        let lines = self.limit_lines();
        let labels: Vec<String> = self.points.iter().map(|p| p.label.clone()).collect();
        let x_desc = if self.points.iter().any(|p| p.verdict.is_none()) {
            "mode and request rate (A/A: baseline against itself, the noise floor)"
        } else {
            "mode and request rate"
        };
        let mut chart = categories_chart(
            root,
            title,
            &labels,
            self.y_range(&lines),
            (x_desc, &self.y_desc()),
        )?;

        let across = |y: f64| vec![(SegmentValue::Exact(0), y), (SegmentValue::Last, y)];
        chart.draw_series(LineSeries::new(across(0.0), BLACK.stroke_width(1)))?;
        let limit_label = match self.budget {
            BudgetKind::TraceVolume { .. } => format!("tolerance ±{}", self.limit),
            _ => format!("budget {} {}", self.limit, self.budget.unit()),
        };
        for (i, y) in lines.into_iter().enumerate() {
            let series = chart.draw_series(DashedLineSeries::new(
                across(y),
                10,
                6,
                FAIL.stroke_width(LINE_WIDTH),
            ))?;
            if i == 0 {
                series.label(limit_label.as_str()).legend(legend_line(FAIL));
            }
        }

        for (i, point) in self.points.iter().enumerate() {
            let x = || SegmentValue::CenterOf(i as u32);
            let colour = point.verdict.map_or(MUTED, verdict_colour);
            let Some(e) = point.estimate else {
                chart.draw_series([EmptyElement::at((x(), 0.0))
                    + Text::new(
                        "no estimate",
                        (-38, -24),
                        (FONT, NOTE_PX).into_font().color(&MUTED),
                    )])?;
                continue;
            };
            whisker(
                &mut chart,
                x(),
                (e.low, e.high),
                colour.stroke_width(LINE_WIDTH),
                20,
            )?;
            chart.draw_series([Circle::new((x(), e.value), 6, colour.filled())])?;
            // The value beside its point (the verdict is the colour); left of the point for
            // the last category, so it is not cut off at the edge.
            let note = format!("{:+.3}", e.value);
            let dx = if i + 1 == self.points.len() { -62 } else { 12 };
            chart.draw_series([EmptyElement::at((x(), e.value))
                + Text::new(note, (dx, -20), (FONT, NOTE_PX).into_font().color(&colour))])?;
        }
        dot_legend(
            &mut chart,
            &[
                ("pass", PASS),
                ("inconclusive", INCONCLUSIVE),
                ("fail", FAIL),
                ("noise floor (A/A)", MUTED),
            ],
        )?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}
