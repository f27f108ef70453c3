//! One budget's overhead across runs (`tracebench trend`): a point and interval whisker per run
//! in the verdict's colour, the budget's limit as a red line, and a grey line before each run a
//! change point starts at.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::{
    Area, DrawResult, FAIL, FONT, INCONCLUSIVE, LINE_WIDTH, MUTED, NOTE_PX, PASS, categories_chart,
    dot_legend, legend, legend_line, verdict_colour, whisker,
};
use crate::analysis::{Estimate, Verdict};
use crate::trend::Series;

#[derive(Debug, Clone)]
pub struct TrendChart {
    name: String,
    unit: &'static str,
    limit: f64,
    /// One per run: its label, and its overhead with the verdict where judged.
    runs: Vec<(String, Option<(Estimate, Verdict)>)>,
    changes: Vec<usize>,
}

impl TrendChart {
    /// The chart of `series` over runs labelled `labels` (in the series' order).
    pub fn new(series: &Series, labels: &[String]) -> TrendChart {
        TrendChart {
            name: series.name(),
            unit: series.budget.unit(),
            limit: series.limit,
            runs: labels
                .iter()
                .zip(&series.points)
                .map(|(l, p)| (l.clone(), p.map(|p| (p.overhead, p.verdict))))
                .collect(),
            changes: series.changes.clone(),
        }
    }

    pub fn stem(&self) -> String {
        let safe: String = self
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!(
            "trend-{}",
            safe.split('-')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("-")
        )
    }

    pub fn title(&self) -> String {
        format!("Overhead across runs: {}", self.name)
    }

    fn y_range(&self) -> std::ops::Range<f64> {
        let values = self
            .runs
            .iter()
            .filter_map(|(_, p)| p.as_ref())
            .flat_map(|(e, _)| [e.low, e.high, e.value]);
        let (lo, hi) = values
            .chain([0.0, self.limit])
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        let pad = ((hi - lo) * 0.08).max(1e-3);
        (lo - pad)..(hi + pad + (hi - lo) * 0.35)
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, title: &str) -> DrawResult<DB> {
        let labels: Vec<String> = self.runs.iter().map(|(l, _)| l.clone()).collect();
        let y = self.y_range();
        let mut chart = categories_chart(
            root,
            title,
            &labels,
            y.clone(),
            ("run, oldest first", &format!("overhead ({})", self.unit)),
        )?;
        let across = |v: f64| vec![(SegmentValue::Exact(0), v), (SegmentValue::Last, v)];
        chart.draw_series(LineSeries::new(across(0.0), BLACK.stroke_width(1)))?;
        chart
            .draw_series(DashedLineSeries::new(
                across(self.limit),
                10,
                6,
                FAIL.stroke_width(LINE_WIDTH),
            ))?
            .label(format!("budget {} {}", self.limit, self.unit))
            .legend(legend_line(FAIL));
        for (n, &i) in self.changes.iter().enumerate() {
            let series = chart.draw_series(DashedLineSeries::new(
                vec![
                    (SegmentValue::Exact(i as u32), y.start),
                    (SegmentValue::Exact(i as u32), y.end),
                ],
                6,
                4,
                MUTED.stroke_width(LINE_WIDTH),
            ))?;
            if n == 0 {
                series.label("change point").legend(legend_line(MUTED));
            }
        }
        for (i, (_, point)) in self.runs.iter().enumerate() {
            let x = || SegmentValue::CenterOf(i as u32);
            let Some((e, verdict)) = point else {
                continue;
            };
            let colour = verdict_colour(*verdict);
            if e.has_interval() {
                whisker(
                    &mut chart,
                    x(),
                    (e.low, e.high),
                    colour.stroke_width(LINE_WIDTH),
                    16,
                )?;
            }
            chart.draw_series([Circle::new((x(), e.value), 6, colour.filled())])?;
            let dx = if i + 1 == self.runs.len() { -62 } else { 12 };
            chart.draw_series([EmptyElement::at((x(), e.value))
                + Text::new(
                    format!("{:+.3}", e.value),
                    (dx, -20),
                    (FONT, NOTE_PX).into_font().color(&colour),
                )])?;
        }
        dot_legend(
            &mut chart,
            &[
                ("pass", PASS),
                ("inconclusive", INCONCLUSIVE),
                ("fail", FAIL),
            ],
        )?;
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
