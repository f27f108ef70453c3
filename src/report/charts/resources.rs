//! CPU and memory over time, one chart per service: every cell's samples on the run's
//! timeline, coloured by mode, CPU above memory. Shows what the summary figures hide: warm-up
//! drift, a leak, or a mode whose memory keeps growing.

use plotters::prelude::*;

use super::{
    Area, DrawResult, LINE_WIDTH, Line, colour_of, legend, legend_line, mode_label, panel,
    style_mesh, two_panels, y_top,
};
use crate::report::{Summary, unique};

#[derive(Debug, Clone)]
pub struct Resources {
    service: String,
    /// One line per cell, labelled and coloured by its mode.
    cells: Vec<Line<Sample>>,
}

#[derive(Debug, Clone)]
struct Sample {
    minutes: f64,
    cpu_pct: Option<f64>,
    mem_mb: Option<f64>,
}

/// One chart per service that has samples, services in the order the cells list them.
pub fn charts(summary: &Summary) -> Vec<Resources> {
    let results = &summary.results;
    let services = results.cells.iter().flat_map(|c| &c.resources);
    let services = services.filter(|s| !s.samples.is_empty());
    unique(services.map(|s| s.service.as_str()))
        .into_iter()
        .map(|service| {
            let cells = results
                .cells
                .iter()
                .filter_map(|cell| {
                    let series = cell.resources.iter().find(|s| s.service == service)?;
                    let samples = series
                        .samples
                        .iter()
                        .map(|s| Sample {
                            minutes: (s.unix_ms - results.started_unix_ms) as f64 / 60_000.0,
                            cpu_pct: s.cpu_pct,
                            mem_mb: s.mem_bytes.map(|b| b as f64 / 1e6),
                        })
                        .collect();
                    Some(Line {
                        label: mode_label(summary, &cell.mode),
                        colour: colour_of(summary, &cell.mode),
                        points: samples,
                    })
                })
                .collect();
            Resources {
                service: service.to_string(),
                cells,
            }
        })
        .collect()
}

impl Resources {
    pub fn stem(&self) -> String {
        format!("resources-{}", self.service)
    }

    pub fn title(&self) -> String {
        format!("CPU and memory of {} over the run", self.service)
    }

    pub fn draw<DB: DrawingBackend>(&self, root: &Area<DB>, title: &str) -> DrawResult<DB> {
        let (top, bottom) = two_panels(root, title, false)?;
        self.draw_panel(&top, "CPU", "CPU (% of one core)", |s| s.cpu_pct)?;
        self.draw_panel(&bottom, "Memory", "memory (MB)", |s| s.mem_mb)
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        name: &str,
        y_desc: &str,
        pick: fn(&Sample) -> Option<f64>,
    ) -> DrawResult<DB> {
        let samples = || self.cells.iter().flat_map(|line| line.points.iter());
        let t_max = y_top(samples().map(|s| s.minutes), 0.1, 1.0);
        let y_max = y_top(samples().filter_map(pick), 0.001, 1.45);
        let mut chart = panel(area, name).build_cartesian_2d(0.0..t_max * 1.02, 0.0..y_max)?;
        style_mesh(&mut chart.configure_mesh())
            .x_desc("time since the run started (min)")
            .y_desc(y_desc)
            .draw()?;
        let mut labelled: Vec<&str> = Vec::new();
        for Line {
            label,
            colour,
            points,
        } in &self.cells
        {
            let points = points
                .iter()
                .filter_map(|s| pick(s).map(|y| (s.minutes, y)));
            let series =
                chart.draw_series(LineSeries::new(points, colour.stroke_width(LINE_WIDTH)))?;
            if !labelled.contains(&label.as_str()) {
                labelled.push(label);
                series.label(label.as_str()).legend(legend_line(*colour));
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}
