//! `tracebench trend` end to end: the real binary over six synthetic runs in a directory, the
//! last three with 2 ms more latency in `on`: one change point, before the fourth run, on `on`'s
//! latency budgets and nowhere else; the charts drawn; bmf.json in Bencher's documented shape
//! (benchmark -> measure -> value, optional lower_value / upper_value); otava.csv read back.

use std::process::Command;

use testkit::analysis::{ModeSpec, RunSpec, generate, write_results};

#[test]
fn six_runs_with_a_shift_in_the_last_three() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    for i in 0..6u32 {
        let added = if i >= 3 { 2.0 } else { 0.0 };
        let mut results = generate(&RunSpec {
            seed: 100 + u64::from(i),
            modes: vec![
                ModeSpec::new("off", 0.0),
                ModeSpec {
                    added_latency_ms: added,
                    ..ModeSpec::new("on", 1.0)
                },
            ],
            ..RunSpec::default()
        });
        results.started_unix_ms += i64::from(i) * 86_400_000;
        results.label = Some(format!("v1.{i}"));
        write_results(&runs, &format!("run-{i}"), results);
    }
    let out = dir.path().join("trend");
    let o = Command::new(env!("CARGO_BIN_EXE_tracebench"))
        .args([
            "trend".as_ref(),
            runs.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ])
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{md}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(md, std::fs::read_to_string(out.join("trend.md")).unwrap());

    // Each budget's section and its change points.
    let sections: Vec<&str> = md.split("\n## ").skip(1).collect();
    let changed: Vec<&str> = sections
        .iter()
        .filter(|s| s.contains("**Change point"))
        .map(|s| s.lines().next().unwrap())
        .collect();
    assert!(
        changed
            .iter()
            .any(|s| s.starts_with("on @ 100 rps latency p50")),
        "{changed:?}\n{md}"
    );
    assert!(
        changed
            .iter()
            .all(|s| s.starts_with("on @ 100 rps latency")),
        "{changed:?}"
    );
    let p50 = sections
        .iter()
        .find(|s| s.starts_with("on @ 100 rps latency p50"))
        .unwrap();
    assert!(
        p50.contains("**Change point before run 4 (v1.3).**"),
        "{p50}"
    );

    // A chart per budget, SVG with its title and PNG.
    let charts: Vec<String> = std::fs::read_dir(out.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let svg = charts
        .iter()
        .find(|c| c.contains("latency-p50") && c.ends_with(".svg"));
    let svg = std::fs::read_to_string(out.join("charts").join(svg.expect("a p50 chart"))).unwrap();
    assert!(svg.contains("Overhead across runs: on @ 100 rps latency p50"));
    assert!(svg.contains("change point") && svg.contains("v1.5"));
    assert!(charts.iter().any(|c| c.ends_with(".png")));
    let html = std::fs::read_to_string(out.join("trend.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Change point before: v1.3"));

    // BMF: an object of benchmarks, each an object of measures with a numeric value.
    let bmf: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("bmf.json")).unwrap()).unwrap();
    let benchmarks = bmf.as_object().unwrap();
    assert!(!benchmarks.is_empty());
    for (name, measures) in benchmarks {
        for (measure, metric) in measures.as_object().unwrap() {
            let metric = metric.as_object().unwrap();
            assert!(metric["value"].is_f64(), "{name} {measure}");
            assert!(
                metric
                    .keys()
                    .all(|k| ["value", "lower_value", "upper_value"].contains(&k.as_str()))
            );
        }
    }
    let p50 = &bmf["on_100rps_latency_p50_ms"]["overhead-ms"]["value"];
    assert!(
        p50.as_f64().unwrap() > 1.5,
        "the newest run's overhead: {p50}"
    );

    // Otava's CSV: a header of time, label and one column per budget; a row per run.
    let mut csv = csv::Reader::from_path(out.join("otava.csv")).unwrap();
    let header = csv.headers().unwrap().clone();
    assert_eq!(&header[0], "time");
    assert_eq!(&header[1], "label");
    let column = header
        .iter()
        .position(|h| h == "on_100rps_latency_p50_ms")
        .unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    let labels: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    assert_eq!(labels, ["v1.0", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5"]);
    let p50: Vec<f64> = rows.iter().map(|r| r[column].parse().unwrap()).collect();
    assert!(
        p50[..3].iter().all(|v| *v < 1.0) && p50[3..].iter().all(|v| *v > 1.5),
        "{p50:?}"
    );
    let yaml = std::fs::read_to_string(out.join("otava.yaml")).unwrap();
    assert!(yaml.contains("file: otava.csv") && yaml.contains("on_100rps_latency_p50_ms"));
}
