//! Reports rendered from a synthetic run with known effects (the analysis tests' generator),
//! analysed by the real analysis: every output file is read back and checked for what a
//! reader or a tool relies on. Set TRACEBENCH_KEEP_REPORT=DIR to keep the rendered directory
//! for a look.

mod analysis_support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use analysis_support::{ModeSpec, RunSpec, generate};
use base64::Engine;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use tracebench::analysis::analyze;
use tracebench::compare::load_summary;
use tracebench::report::{self, Summary, charts};
use tracebench::results::{ProbeResults, SCHEMA_VERSION};

const RATES: [f64; 2] = [20.0, 50.0];

/// Three modes at two rates: `on` adds 2 ms, 3 pp of CPU and 15 MB (fails latency and CPU,
/// passes memory), `sampled` adds little (passes). Probes are added, as a real run has them.
fn synthetic_summary() -> Summary {
    let on = ModeSpec {
        added_latency_ms: 2.0,
        added_cpu_pct: 3.0,
        added_memory_mb: 15.0,
        ..ModeSpec::new("on", 1.0)
    };
    let sampled = ModeSpec {
        added_latency_ms: 0.05,
        added_cpu_pct: 0.2,
        added_memory_mb: 2.0,
        ..ModeSpec::new("sampled", 0.1)
    };
    let mut results = generate(&RunSpec {
        modes: vec![ModeSpec::new("off", 0.0), on, sampled],
        rates: RATES.to_vec(),
        rounds: 3,
        seconds: 10,
        ..RunSpec::default()
    });
    results.probes = Some(ProbeResults {
        sent: 5,
        found: 4,
        missing: 1,
        broken: 0,
        ingestion_delay_p50_ms: Some(850.0),
        ingestion_delay_max_ms: Some(1_400.0),
        problems: vec!["0af7651916cd43dd8448eb211c80319c: not found after 30 s".into()],
    });
    let analysis = analyze(&results);
    Summary {
        schema_version: SCHEMA_VERSION,
        results,
        analysis,
    }
}

struct Rendered {
    summary: Summary,
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

/// The synthetic run rendered once per test binary (charts take a moment on a loaded machine).
fn rendered() -> &'static Rendered {
    static RENDERED: OnceLock<Rendered> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let summary = synthetic_summary();
        let (dir, temp) = match std::env::var_os("TRACEBENCH_KEEP_REPORT") {
            Some(dir) => (PathBuf::from(dir), None),
            None => {
                let temp = tempfile::tempdir().unwrap();
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        report::write_all(&dir, &summary).unwrap();
        Rendered {
            summary,
            dir,
            _temp: temp,
        }
    })
}

fn read(name: &str) -> String {
    let path = rendered().dir.join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn summary_json_parses_back_to_the_same_value_with_its_version() {
    let text = read("summary.json");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["results"]["schema_version"], 1);
    let back = load_summary(&rendered().dir.join("summary.json")).unwrap();
    // Exact, floats included (serde_json's float_roundtrip): compare relies on it.
    assert!(
        back == rendered().summary,
        "summary.json does not read back to the same value"
    );
}

#[test]
fn cells_csv_has_one_row_per_cell_under_a_header_with_units() {
    let text = read("cells.csv");
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    for column in [
        "mode",
        "rate",
        "round",
        "ok",
        "errors",
        "latency_p50_ms",
        "latency_p99_ms",
        "partial",
    ] {
        assert!(
            header.contains(&column.to_string()),
            "{column} missing from {header:?}"
        );
    }
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    let cells = &rendered().summary.results.cells;
    assert_eq!(rows.len(), cells.len());
    let ok_col = header.iter().position(|h| h == "ok").unwrap();
    assert_eq!(rows[0][ok_col].parse::<u64>().unwrap(), cells[0].ok);
}

#[test]
fn resources_csv_has_one_row_per_sample() {
    let text = read("resources.csv");
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "mode",
            "rate",
            "round",
            "service",
            "source",
            "unix_ms",
            "offset_s",
            "cpu_pct",
            "mem_bytes",
            "cpu_seconds"
        ]
    );
    let samples: usize = rendered()
        .summary
        .results
        .cells
        .iter()
        .flat_map(|c| &c.resources)
        .map(|r| r.samples.len())
        .sum();
    assert_eq!(csv.records().count(), samples);
}

#[test]
fn each_mode_and_rate_has_an_interval_log_that_reads_back_with_the_same_counts() {
    let results = &rendered().summary.results;
    let mut logs = 0;
    for (mode, rate) in report::mode_rates(results) {
        let name = format!("hlog/{mode}-{}rps.hlog", report::fmt_rate(rate));
        let text = read(&name);
        assert!(text.contains("microseconds"), "{name} must state its unit");
        let mut deserializer = Deserializer::new();
        let (mut intervals, mut total, mut start_time) = (0, 0u64, None);
        for entry in IntervalLogIterator::new(text.as_bytes()) {
            match entry.unwrap() {
                LogEntry::StartTime(t) => start_time = Some(t),
                LogEntry::Interval(i) => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(i.encoded_histogram())
                        .unwrap();
                    let h: hdrhistogram::Histogram<u64> =
                        deserializer.deserialize(&mut bytes.as_slice()).unwrap();
                    total += h.len();
                    intervals += 1;
                }
                LogEntry::BaseTime(_) => {}
            }
        }
        let cells: Vec<_> = results
            .cells
            .iter()
            .filter(|c| c.mode == mode && c.rate == rate)
            .collect();
        let expected: u64 = cells.iter().map(|c| c.latency.count()).sum();
        assert!(expected > 0);
        assert_eq!(total, expected, "{name}");
        assert_eq!(
            intervals,
            cells.iter().map(|c| c.seconds.len()).sum::<usize>()
        );
        assert_eq!(
            start_time.unwrap().as_millis() as i64,
            results.started_unix_ms
        );
        logs += 1;
    }
    assert_eq!(logs, 3 * RATES.len());
}

#[test]
fn markdown_starts_with_the_verdict_table_showing_the_known_effects() {
    let md = read("report.md");
    let first = md
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap();
    assert!(
        first.starts_with("| mode | rate (req/s) | budget |"),
        "{first}"
    );
    // on adds 2 ms against a 1 ms budget; sampled adds 0.05 ms.
    let row = |mode: &str, budget: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {mode} | 50 | {budget} |")))
            .unwrap_or_else(|| panic!("no row for {mode} {budget}"))
            .to_string()
    };
    assert!(
        row("on", "latency p50").contains("| FAIL |"),
        "{}",
        row("on", "latency p50")
    );
    assert!(
        row("sampled", "latency p50").contains("| pass |"),
        "{}",
        row("sampled", "latency p50")
    );
    let order: Vec<usize> = [
        "## Verdicts",
        "## Noise floor",
        "## Latency",
        "## CPU and memory",
        "## Trace volume",
        "## Connectivity probes",
        "## Run and environment",
    ]
    .iter()
    .map(|h| md.find(h).unwrap_or_else(|| panic!("{h} missing")))
    .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "sections out of order: {order:?}"
    );
}

#[test]
fn the_expected_charts_are_drawn() {
    let summary = &rendered().summary;
    let stems: BTreeSet<String> = charts::all(summary)
        .unwrap()
        .iter()
        .map(|c| c.stem())
        .collect();
    for stem in [
        "overhead-latency-p50",
        "overhead-latency-p99",
        "overhead-cpu-gateway",
        "overhead-memory-auth",
        "overhead-traces-gateway",
        "latency-spectrum-20rps",
        "latency-spectrum-50rps",
        "latency-vs-rate",
        "resources-gateway",
        "resources-auth",
        "traces-per-minute-gateway",
    ] {
        assert!(stems.contains(stem), "{stem} missing from {stems:?}");
    }
}

#[test]
fn every_svg_is_well_formed_xml_of_the_stated_size() {
    for chart in charts::all(&rendered().summary).unwrap() {
        let svg = read(&format!("charts/{}.svg", chart.stem()));
        let doc =
            roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: {e}", chart.stem()));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let (w, h) = chart.size();
        assert_eq!(root.attribute("width"), Some(w.to_string().as_str()));
        assert_eq!(root.attribute("height"), Some(h.to_string().as_str()));
        // Titles and axis descriptions are text, not only lines.
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        assert!(
            texts.iter().any(|t| t.contains(&chart.title())),
            "{}: no title",
            chart.stem()
        );
    }
}

#[test]
fn every_png_decodes_at_the_stated_size_and_is_not_blank() {
    for chart in charts::all(&rendered().summary).unwrap() {
        let path = rendered().dir.join(format!("charts/{}.png", chart.stem()));
        let decoder = png::Decoder::new(std::fs::File::open(&path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(
            (info.width, info.height),
            chart.size(),
            "{}",
            path.display()
        );
        let dark = pixels
            .chunks(3)
            .filter(|p| p.iter().all(|&c| c < 100))
            .count();
        assert!(
            dark > 1000,
            "{}: only {dark} dark pixels (no text or axes?)",
            path.display()
        );
    }
}

#[test]
fn html_is_one_self_contained_file_with_every_chart_inline() {
    let html = read("report.html");
    for forbidden in [
        "<link", "@import", "<script", "<img", "<iframe", "<object", "xmlns",
    ] {
        assert!(
            !html.contains(forbidden),
            "report.html contains {forbidden}"
        );
    }
    // A URL may appear as text (the load target), never where a browser would fetch it.
    for scheme in ["http:", "https:", "file:", "//"] {
        for quote in ["\"", "'", "("] {
            let pattern = format!("{quote}{scheme}");
            assert!(!html.contains(&pattern), "report.html references {pattern}");
        }
    }
    for attr in ["src=", "href=", "url("] {
        for (i, _) in html.match_indices(attr) {
            let value = &html[i + attr.len()..];
            let local = ["\"data:", "\"#", "data:", "'data:"]
                .iter()
                .any(|p| value.starts_with(p));
            assert!(
                local,
                "report.html: {attr} not a data: URI or fragment at byte {i}"
            );
        }
    }
    let charts = charts::all(&rendered().summary).unwrap();
    assert_eq!(html.matches("<svg").count(), charts.len());
    assert!(html.find("<h2>Verdicts</h2>").unwrap() < html.find("<svg").unwrap());
    assert!(html.contains("<td class=\"fail\">FAIL</td>"));
}

fn tracebench(args: &[&Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tracebench"))
        .arg("report")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn report_command_rerenders_a_run_directory_from_its_summary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("summary.json"), read("summary.json")).unwrap();
    let out = tracebench(&[dir.path()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("outcome: fail"));
    for name in [
        "report.md",
        "report.html",
        "cells.csv",
        "resources.csv",
        "hlog/on-50rps.hlog",
        "charts/latency-vs-rate.png",
    ] {
        assert!(dir.path().join(name).is_file(), "{name} not written");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("report.md")).unwrap(),
        read("report.md")
    );
    let back = load_summary(dir.path()).unwrap();
    assert!(
        back == rendered().summary,
        "re-rendered summary.json differs"
    );
}

#[test]
fn report_command_rejects_a_missing_or_foreign_summary_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = tracebench(&[dir.path()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("summary.json"));

    std::fs::write(dir.path().join("summary.json"), r#"{"schema_version": 2}"#).unwrap();
    let out = tracebench(&[dir.path()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema_version 2"));
}

#[test]
fn a_run_stopped_before_its_first_cell_still_renders_every_text_report() {
    let mut results = generate(&RunSpec {
        rounds: 0,
        ..RunSpec::default()
    });
    results.partial = true;
    results.stop_reason = Some("interrupted (Ctrl-C)".into());
    let analysis = analyze(&results);
    let summary = Summary {
        schema_version: SCHEMA_VERSION,
        results,
        analysis,
    };
    let dir = tempfile::tempdir().unwrap();
    report::write_all(dir.path(), &summary).unwrap();
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("PARTIAL"), "{md}");
    assert!(md.contains("Ctrl-C"), "{md}");
    for name in ["summary.json", "report.html", "cells.csv", "resources.csv"] {
        assert!(dir.path().join(name).is_file(), "{name} not written");
    }
}
