//! `cells.csv` (one row per cell) and `resources.csv` (one row per resource sample), for
//! spreadsheets and ad-hoc plotting. Rows are typed structs, so the columns cannot drift from
//! the data; units are in the column names.

use anyhow::Result;
use serde::Serialize;

use super::{Exporter, Summary};
use crate::results::{CellResult, ResourceSource};

pub struct CellsCsv;
pub struct ResourcesCsv;

#[derive(Serialize)]
struct CellRow<'a> {
    mode: &'a str,
    rate: f64,
    round: u32,
    replicate: u32,
    order: u32,
    window_start_unix_ms: i64,
    window_end_unix_ms: i64,
    achieved_rate: f64,
    due: u64,
    sent: u64,
    completed: u64,
    ok: u64,
    errors: u64,
    dropped: u64,
    unfinished: u64,
    latency_p50_ms: f64,
    latency_p90_ms: f64,
    latency_p99_ms: f64,
    latency_p999_ms: f64,
    latency_max_ms: f64,
    latency_mean_ms: f64,
    service_time_p50_ms: f64,
    service_time_p99_ms: f64,
    driver_lag_p99_ms: f64,
    driver_lag_max_ms: f64,
    partial: bool,
}

impl<'a> From<&'a CellResult> for CellRow<'a> {
    fn from(c: &'a CellResult) -> CellRow<'a> {
        CellRow {
            mode: &c.mode,
            rate: c.rate,
            round: c.round,
            replicate: c.replicate,
            order: c.order,
            window_start_unix_ms: c.window_start_unix_ms,
            window_end_unix_ms: c.window_end_unix_ms,
            achieved_rate: c.load.achieved_rate,
            due: c.load.due,
            sent: c.load.sent,
            completed: c.load.completed,
            ok: c.ok,
            errors: c.load.errors,
            dropped: c.load.dropped,
            unfinished: c.load.unfinished,
            latency_p50_ms: c.load.latency_ms.p50,
            latency_p90_ms: c.load.latency_ms.p90,
            latency_p99_ms: c.load.latency_ms.p99,
            latency_p999_ms: c.load.latency_ms.p999,
            latency_max_ms: c.load.latency_ms.max,
            latency_mean_ms: c.load.latency_ms.mean,
            service_time_p50_ms: c.load.service_time_ms.p50,
            service_time_p99_ms: c.load.service_time_ms.p99,
            driver_lag_p99_ms: c.load.driver_lag_ms.p99,
            driver_lag_max_ms: c.load.driver_lag_ms.max,
            partial: c.load.partial,
        }
    }
}

#[derive(Serialize)]
struct ResourceRow<'a> {
    mode: &'a str,
    rate: f64,
    round: u32,
    replicate: u32,
    service: &'a str,
    source: ResourceSource,
    unix_ms: i64,
    /// Seconds since the cell's window started.
    offset_s: f64,
    cpu_pct: Option<f64>,
    mem_bytes: Option<u64>,
    cpu_seconds: Option<f64>,
}

impl Exporter for CellsCsv {
    fn file_name(&self) -> String {
        "cells.csv".to_string()
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>> {
        write_rows(summary.results.cells.iter().map(CellRow::from))
    }
}

impl Exporter for ResourcesCsv {
    fn file_name(&self) -> String {
        "resources.csv".to_string()
    }

    fn render(&self, summary: &Summary) -> Result<Vec<u8>> {
        let rows = summary.results.cells.iter().flat_map(|cell| {
            cell.resources.iter().flat_map(move |series| {
                series.samples.iter().map(move |s| ResourceRow {
                    mode: &cell.mode,
                    rate: cell.rate,
                    round: cell.round,
                    replicate: cell.replicate,
                    service: &series.service,
                    source: series.source,
                    unix_ms: s.unix_ms,
                    offset_s: (s.unix_ms - cell.window_start_unix_ms) as f64 / 1000.0,
                    cpu_pct: s.cpu_pct,
                    mem_bytes: s.mem_bytes,
                    cpu_seconds: s.cpu_seconds,
                })
            })
        });
        write_rows(rows)
    }
}

/// Serialises rows under a header line (written with the first row: no rows, empty file).
fn write_rows<R: Serialize>(rows: impl Iterator<Item = R>) -> Result<Vec<u8>> {
    let mut out = ::csv::Writer::from_writer(Vec::new());
    for row in rows {
        out.serialize(row)?;
    }
    Ok(out.into_inner().map_err(|err| err.into_error())?)
}
