//! A trend as files: `trend.md` (one table per budget, change points named), `bmf.json` (the
//! newest run in the Bencher Metric Format, for `bencher run --adapter json`), and `otava.csv`
//! with `otava.yaml` (every run, one column per budget, for Apache Otava's CSV source).

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::{Series, Trend};
use crate::report::fmt_rate;

/// One series' name as a column or benchmark key: `on_200rps_latency_p50_ms`.
fn key(s: &Series) -> String {
    let raw = format!(
        "{}_{}rps_{}_{}",
        s.mode,
        fmt_rate(s.rate),
        s.budget.label(),
        s.budget.unit()
    );
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Markdown: the runs, then per budget its overhead in each run with interval and verdict.
pub fn markdown(t: &Trend) -> String {
    let mut md = String::from("# tracebench trend\n\n");
    let _ = writeln!(md, "{} runs, oldest first:\n", t.runs.len());
    md.push_str("| # | label | started (UTC) | run |\n| ---: | --- | --- | --- |\n");
    for (i, r) in t.runs.iter().enumerate() {
        let started = chrono::DateTime::from_timestamp_millis(r.started_unix_ms)
            .map_or(String::new(), |d| d.format("%Y-%m-%d %H:%M").to_string());
        let _ = writeln!(
            md,
            "| {} | {} | {started} | {} |",
            i + 1,
            r.label,
            r.path.display()
        );
    }
    for s in &t.series {
        let _ = writeln!(
            md,
            "\n## {} (limit {} {})\n",
            s.name(),
            s.limit,
            s.budget.unit()
        );
        if s.changes.is_empty() {
            md.push_str("No change point.\n\n");
        } else {
            let at: Vec<String> = s
                .changes
                .iter()
                .map(|&i| format!("before run {} ({})", i + 1, t.runs[i].label))
                .collect();
            let _ = writeln!(md, "**Change point {}.**\n", at.join("; "));
        }
        md.push_str("| # | label | overhead [95% CI] | verdict |\n| ---: | --- | ---: | --- |\n");
        for (i, p) in s.points.iter().enumerate() {
            let (overhead, verdict) = match p {
                Some(p) => (
                    format!(
                        "{:+.3} [{:+.3}, {:+.3}]",
                        p.overhead.value, p.overhead.low, p.overhead.high
                    ),
                    p.verdict.as_str().to_string(),
                ),
                None => ("not judged".to_string(), String::new()),
            };
            let mark = if s.changes.contains(&i) {
                " ◀ change"
            } else {
                ""
            };
            let _ = writeln!(
                md,
                "| {} | {} | {overhead} | {verdict}{mark} |",
                i + 1,
                t.runs[i].label
            );
        }
    }
    md.push_str(
        "\nA change point is where the series shifts: the split of the runs into two parts of at \
         least two runs whose means differ by the most standard errors (Welch's t), kept when its \
         p-value is below 0.05 over the number of splits tried, then each part searched again.\n",
    );
    md
}

/// The newest run's overheads in the Bencher Metric Format: one benchmark per budget, its
/// measure named for the unit, with the interval as lower and upper values.
pub fn bmf(t: &Trend) -> Value {
    let newest = t.runs.len().saturating_sub(1);
    let mut benchmarks = Map::new();
    for s in &t.series {
        let Some(Some(p)) = s.points.get(newest) else {
            continue;
        };
        let e = p.overhead;
        let mut metric = Map::new();
        metric.insert("value".into(), json!(e.value));
        if e.has_interval() {
            metric.insert("lower_value".into(), json!(e.low));
            metric.insert("upper_value".into(), json!(e.high));
        }
        let measure = format!("overhead-{}", s.budget.unit().to_lowercase());
        benchmarks.insert(key(s), json!({ measure: metric }));
    }
    Value::Object(benchmarks)
}

/// Every run as a row of `time,label,<one column per budget>` (an empty cell where a run did not
/// judge a budget), as Otava's CSV source reads it.
pub fn otava_csv(t: &Trend) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["time".to_string(), "label".to_string()];
    header.extend(t.series.iter().map(key));
    w.write_record(&header)?;
    for (i, r) in t.runs.iter().enumerate() {
        let time = chrono::DateTime::from_timestamp_millis(r.started_unix_ms)
            .map_or(String::new(), |d| {
                d.format("%Y-%m-%d %H:%M:%S %z").to_string()
            });
        let mut row = vec![time, r.label.clone()];
        row.extend(
            t.series
                .iter()
                .map(|s| s.points[i].map_or(String::new(), |p| format!("{}", p.overhead.value))),
        );
        w.write_record(&row)?;
    }
    Ok(w.into_inner()?)
}

/// An Otava configuration reading `otava.csv` from the directory Otava runs in.
pub fn otava_yaml(t: &Trend) -> String {
    let metrics: Vec<String> = t.series.iter().map(key).collect();
    format!(
        "# Apache Otava: otava analyze tracebench.overhead (run where otava.csv is)\n\
         tests:\n  tracebench.overhead:\n    type: csv\n    file: otava.csv\n    \
         time_column: time\n    attributes: [label]\n    metrics: [{}]\n",
        metrics.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{BudgetKind, Estimate, Verdict};
    use crate::trend::{Point, Run};

    fn trend() -> Trend {
        let run = |i: i64| Run {
            label: format!("v0.{i}"),
            started_unix_ms: 1_765_000_000_000 + i * 3_600_000,
            path: format!("reports/run-{i}").into(),
        };
        let point = |v: f64| {
            Some(Point {
                overhead: Estimate::with_se(v, 0.02, 7.0),
                verdict: Verdict::Pass,
            })
        };
        Trend {
            runs: (0..3).map(run).collect(),
            series: vec![Series {
                mode: "on".into(),
                rate: 200.0,
                budget: BudgetKind::Latency {
                    percentile: "p50".into(),
                },
                limit: 1.0,
                points: vec![point(0.05), None, point(0.07)],
                changes: Vec::new(),
            }],
        }
    }

    #[test]
    fn bmf_has_benchmarks_of_measures_with_values() {
        let bmf = bmf(&trend());
        let metric = &bmf["on_200rps_latency_p50_ms"]["overhead-ms"];
        assert!((metric["value"].as_f64().unwrap() - 0.07).abs() < 1e-12);
        assert!(metric["lower_value"].as_f64().unwrap() < 0.07);
        assert!(metric["upper_value"].as_f64().unwrap() > 0.07);
    }

    #[test]
    fn the_otava_csv_reads_back() {
        let t = trend();
        let bytes = otava_csv(&t).unwrap();
        let mut r = csv::Reader::from_reader(bytes.as_slice());
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(header, ["time", "label", "on_200rps_latency_p50_ms"]);
        let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(&rows[0][1], "v0.0");
        assert_eq!(rows[0][2].parse::<f64>().unwrap(), 0.05);
        assert_eq!(&rows[1][2], "", "a run that did not judge it");
        assert!(rows[2][0].ends_with("+0000"), "{}", &rows[2][0]);
        assert!(otava_yaml(&t).contains("metrics: [on_200rps_latency_p50_ms]"));
    }
}
