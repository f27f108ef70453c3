//! Where the slowest requests' time went, per mode and rate: one stacked bar each, the mean of
//! its slowest requests' breakdowns (the driver's lag, time outside any span, each service's self
//! time), so the parts stack up to their mean latency.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::{Area, DrawResult, FONT, NOTE_PX, PALETTE, categories_chart, legend, y_top};

/// Width of a bar, px.
const BAR_PX: u32 = 60;
use crate::report::{Summary, fmt_rate, unique};

#[derive(Debug, Clone)]
pub struct BreakdownChart {
    /// Part names, bottom to top: `driver`, `outside spans`, then the services.
    parts: Vec<String>,
    bars: Vec<Bar>,
}

#[derive(Debug, Clone)]
struct Bar {
    label: String,
    /// One value per part, ms.
    values: Vec<f64>,
    requests: usize,
}

/// The chart, when any mode's slowest requests have a breakdown.
pub fn charts(summary: &Summary) -> Option<BreakdownChart> {
    let groups: Vec<_> = summary
        .analysis
        .slowest
        .iter()
        .filter_map(|g| Some((g, g.mean.as_ref()?)))
        .collect();
    if groups.is_empty() {
        return None;
    }
    let services = unique(
        groups
            .iter()
            .flat_map(|(_, m)| m.services.iter().map(|s| s.service.as_str())),
    );
    let mut parts = vec!["driver".to_string(), "outside spans".to_string()];
    parts.extend(services.iter().map(|s| format!("{s} self")));
    let bars = groups
        .iter()
        .map(|(g, m)| {
            let mut values = vec![m.driver_ms, m.outside_ms];
            values.extend(services.iter().map(|s| {
                m.services
                    .iter()
                    .find(|t| t.service == *s)
                    .map_or(0.0, |t| t.self_ms)
            }));
            Bar {
                label: format!("{} {}/s", g.mode, fmt_rate(g.rate)),
                values,
                requests: g.requests.iter().filter(|r| r.breakdown.is_some()).count(),
            }
        })
        .collect();
    Some(BreakdownChart { parts, bars })
}

impl BreakdownChart {
    pub fn stem(&self) -> String {
        "slowest-breakdown".to_string()
    }

    pub fn title(&self) -> String {
        "Slowest requests: where their latency went (mean per mode)".to_string()
    }

    fn colour(part: usize) -> RGBColor {
        match part {
            0 => RGBColor(90, 90, 90),
            1 => RGBColor(190, 190, 190),
            n => PALETTE[(n - 2) % PALETTE.len()],
        }
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, title: &str) -> DrawResult<DB> {
        // Parts below zero (a root span a little longer than the driver saw) are drawn from 0.
        let total = |b: &Bar| b.values.iter().map(|v| v.max(0.0)).sum::<f64>();
        let y_max = y_top(self.bars.iter().map(total), 0.1, 1.35);
        let labels: Vec<String> = self.bars.iter().map(|b| b.label.clone()).collect();
        let mut chart = categories_chart(
            root,
            title,
            &labels,
            0.0..y_max,
            ("mode and request rate", "mean latency of the slowest, ms"),
        )?;
        for (i, bar) in self.bars.iter().enumerate() {
            let x = SegmentValue::CenterOf(i as u32);
            let mut bottom = 0.0;
            for (part, value) in bar.values.iter().enumerate() {
                let top = bottom + value.max(0.0);
                // A bar as a thick vertical line: a category has no width of its own.
                chart.draw_series([PathElement::new(
                    vec![(x.clone(), bottom), (x.clone(), top)],
                    Self::colour(part).stroke_width(BAR_PX),
                )])?;
                bottom = top;
            }
            let note = format!("{bottom:.2} ms, {} traces", bar.requests);
            chart.draw_series([EmptyElement::at((x, bottom))
                + Text::new(note, (-50, -20), (FONT, NOTE_PX).into_font().color(&BLACK))])?;
        }
        for (part, name) in self.parts.iter().enumerate() {
            let colour = Self::colour(part);
            chart
                .draw_series(std::iter::empty::<Circle<(SegmentValue<u32>, f64), i32>>())?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 18, y + 6)], colour.filled())
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
