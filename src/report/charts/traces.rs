//! Traces per minute, observed against expected, one chart per counted service: for each mode
//! and rate, the expected rate (ok requests x sampling ratio) with its 99% binomial interval as
//! a grey whisker, and the observed rate as a dot. A dot outside its whisker means traces were
//! lost (or duplicated) between the services and the store.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::{
    Area, DrawResult, FONT, MUTED, NOTE_PX, categories_chart, colour_of, legend, whisker, y_top,
};
use crate::report::{Summary, fmt_rate, unique};

#[derive(Debug, Clone)]
pub struct Traces {
    service: String,
    points: Vec<Point>,
}

#[derive(Debug, Clone)]
struct Point {
    label: String,
    colour: RGBColor,
    observed: f64,
    expected: f64,
    expected_low: f64,
    expected_high: f64,
}

/// One chart per service with trace counts in the analysis.
pub fn charts(summary: &Summary) -> Vec<Traces> {
    let groups = &summary.analysis.groups;
    unique(
        groups
            .iter()
            .flat_map(|g| &g.traces)
            .map(|t| t.service.as_str()),
    )
    .into_iter()
    .map(|service| {
        let points = groups
            .iter()
            .filter_map(|g| {
                let t = g.traces.iter().find(|t| t.service == service)?;
                // The interval is in traces over the pooled window: scale it like the rate.
                let minutes = f64::from(g.seconds) / 60.0;
                let per_minute = |count: f64| if minutes > 0.0 { count / minutes } else { 0.0 };
                Some(Point {
                    label: format!("{} {}/s", g.mode, fmt_rate(g.rate)),
                    colour: colour_of(summary, &g.mode),
                    observed: t.observed_per_minute,
                    expected: t.expected_per_minute,
                    expected_low: per_minute(t.expected.low),
                    expected_high: per_minute(t.expected.high),
                })
            })
            .collect();
        Traces {
            service: service.to_string(),
            points,
        }
    })
    .collect()
}

impl Traces {
    pub fn stem(&self) -> String {
        format!("traces-per-minute-{}", self.service)
    }

    pub fn title(&self) -> String {
        format!(
            "Traces per minute rooted at {}: observed against expected",
            self.service
        )
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, title: &str) -> DrawResult<DB> {
        let y_max = y_top(
            self.points
                .iter()
                .flat_map(|p| [p.observed, p.expected_high]),
            1.0,
            1.2,
        );
        let labels: Vec<String> = self.points.iter().map(|p| p.label.clone()).collect();
        let mut chart = categories_chart(
            root,
            title,
            &labels,
            0.0..y_max,
            ("mode and request rate", "traces per minute"),
        )?;
        let grey = MUTED.stroke_width(3);
        for (i, p) in self.points.iter().enumerate() {
            let x = || SegmentValue::CenterOf(i as u32);
            whisker(&mut chart, x(), (p.expected_low, p.expected_high), grey, 24)?;
            chart.draw_series([EmptyElement::at((x(), p.expected))
                + PathElement::new(vec![(-18, 0), (18, 0)], BLACK.stroke_width(2))])?;
            chart.draw_series([Circle::new((x(), p.observed), 7, p.colour.filled())])?;
            let note = format!("{:.0} seen / {:.0} expected", p.observed, p.expected);
            chart.draw_series([EmptyElement::at((x(), p.expected_high.max(p.observed)))
                + Text::new(note, (-60, -24), (FONT, NOTE_PX).into_font().color(&BLACK))])?;
        }
        chart
            .draw_series(std::iter::empty::<Circle<(SegmentValue<u32>, f64), i32>>())?
            .label("observed (colour: mode)")
            .legend(|(x, y)| Circle::new((x + 11, y), 7, MUTED.filled()));
        chart
            .draw_series(std::iter::empty::<Circle<(SegmentValue<u32>, f64), i32>>())?
            .label("expected, with 99% binomial interval")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], grey));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)
    }
}
