//! Reports rendered from a synthetic run with known effects (the analysis tests' generator),
//! analysed by the real analysis: every output file is read back and checked for what a
//! reader or a tool relies on. Set TRACEBENCH_KEEP_REPORT=DIR to keep the rendered directory
//! for a look.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use testkit::analysis::{ModeSpec, RunSpec, generate};
use testkit::report::{
    check_cells_csv, check_hlogs, check_html_self_contained, check_markdown_starts_with_the_glance,
    check_pngs, check_resources_csv, check_schema, check_svgs,
};
use tracebench::analysis::analyze;
use tracebench::compare::load_summary;
use tracebench::load::SlowRequest;
use tracebench::report::{self, Summary, charts};
use tracebench::results::{Breakdown, ProbeResults, RunResults, SCHEMA_VERSION, SlowTrace};
use tracebench::traces::breakdown::ServiceTime;
use tracebench::traces::link::{GRAFANA_EXPLORE, TraceLink};

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
        rounds: 4,
        seconds: 10,
        ..RunSpec::default()
    });
    add_slowest(&mut results);
    results.environment.cpus = 2;
    results.environment.target_kind = "process".into();
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

/// Three slow requests per cell: at `on` each names a trace, at `sampled` one does, at `off`
/// none; every named trace was found, its time split between the two services.
fn add_slowest(results: &mut RunResults) {
    let link = TraceLink::parse(GRAFANA_EXPLORE).unwrap();
    let mut found = Vec::new();
    for (c, cell) in results.cells.iter_mut().enumerate() {
        cell.load.slowest = (0..3u8)
            .map(|i| {
                let traced = match cell.mode.as_str() {
                    "on" => true,
                    "sampled" => i == 0,
                    _ => false,
                };
                let id = format!("{:02x}{:030x}", c + 1, i + 1);
                SlowRequest {
                    due_ms: 1000.0 * f64::from(i),
                    latency_ms: 9.0 - f64::from(i),
                    service_time_ms: 8.5 - f64::from(i),
                    outcome: "200".into(),
                    trace_id: traced.then(|| id.parse().unwrap()),
                }
            })
            .collect();
        for r in &cell.load.slowest {
            let Some(trace_id) = r.trace_id else { continue };
            found.push(SlowTrace {
                mode: cell.mode.clone(),
                rate: cell.rate,
                round: cell.round,
                replicate: cell.replicate,
                trace_id,
                found: true,
                complete: Some(true),
                breakdown: Some(Breakdown {
                    driver_ms: r.latency_ms - r.service_time_ms,
                    outside_ms: 0.5,
                    services: vec![
                        ServiceTime {
                            service: "gateway".into(),
                            span_ms: r.service_time_ms - 0.5,
                            self_ms: r.service_time_ms - 3.5,
                        },
                        ServiceTime {
                            service: "auth".into(),
                            span_ms: 3.0,
                            self_ms: 3.0,
                        },
                    ],
                    spans: 3,
                }),
            });
        }
    }
    let traces = results
        .traces
        .as_mut()
        .expect("the synthetic run counts traces");
    traces.slow_traces = found;
    traces.link = Some(link);
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
    testkit::report::read(&rendered().dir, name)
}

#[test]
fn summary_json_parses_back_to_the_same_value_with_its_version() {
    let text = read("summary.json");
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["schema_version"], 3);
    assert_eq!(value["results"]["schema_version"], 3);
    // The slowest requests, their traces and links are in the schema too.
    check_schema(&rendered().dir);
    let back = load_summary(&rendered().dir.join("summary.json")).unwrap();
    // Exact, floats included (serde_json's float_roundtrip): compare relies on it.
    assert!(
        back == rendered().summary,
        "summary.json does not read back to the same value"
    );
}

#[test]
fn cells_csv_has_one_row_per_cell_under_a_header_with_units() {
    let cells = &rendered().summary.results.cells;
    let (header, rows) = check_cells_csv(&rendered().dir, &rendered().summary.results);
    let ok_col = header.iter().position(|h| h == "ok").unwrap();
    assert_eq!(rows[0][ok_col].parse::<u64>().unwrap(), cells[0].ok);
}

#[test]
fn resources_csv_has_one_row_per_sample() {
    check_resources_csv(&rendered().dir, &rendered().summary.results);
}

#[test]
fn each_mode_and_rate_has_an_interval_log_that_reads_back_with_the_same_counts() {
    let logs = check_hlogs(&rendered().dir, &rendered().summary.results);
    assert_eq!(logs, 3 * RATES.len());
}

#[test]
fn markdown_starts_with_the_verdict_table_showing_the_known_effects() {
    let md = read("report.md");
    check_markdown_starts_with_the_glance(&md);
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
        "## At a glance",
        "## Verdicts",
        "## Noise floor",
        "## Latency",
        "## CPU and memory",
        "## The driver's own cost",
        "## Trace volume",
        "## Slowest requests and their traces",
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
        "slowest-breakdown",
    ] {
        assert!(stems.contains(stem), "{stem} missing from {stems:?}");
    }
}

#[test]
fn every_svg_is_well_formed_xml_of_the_stated_size() {
    check_svgs(&rendered().dir, &rendered().summary);
}

#[test]
fn every_png_decodes_at_the_stated_size_and_is_not_blank() {
    check_pngs(&rendered().dir, &rendered().summary);
}

#[test]
fn html_is_one_self_contained_file_with_every_chart_inline() {
    let html = read("report.html");
    check_html_self_contained(&html, &rendered().summary);
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

/// A schema-2 summary (each cell's and second's latency as a bucket list) still loads, as
/// schema 3.
#[test]
fn a_schema_2_summary_loads_with_its_seconds_encoded() {
    use tracebench::results::{EncodedHistogram, SparseHistogram};
    let mut value: serde_json::Value = serde_json::from_str(&read("summary.json")).unwrap();
    value["schema_version"] = 2.into();
    value["results"]["schema_version"] = 2.into();
    let as_buckets = |latency: &mut serde_json::Value| {
        let encoded: EncodedHistogram = serde_json::from_value(latency.take()).unwrap();
        let buckets = SparseHistogram::from_hdr(&encoded.to_hdr().unwrap());
        *latency = serde_json::to_value(buckets).unwrap();
    };
    let mut seconds = 0;
    for cell in value["results"]["cells"].as_array_mut().unwrap() {
        as_buckets(&mut cell["latency"]);
        for second in cell["seconds"].as_array_mut().unwrap() {
            as_buckets(&mut second["latency_us"]);
            seconds += 1;
        }
    }
    assert!(seconds > 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("summary.json");
    std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    let back = load_summary(&path).unwrap();
    assert!(
        back == rendered().summary,
        "a schema-2 file reads as the same summary"
    );
}

#[test]
fn report_command_rejects_a_missing_or_foreign_summary_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = tracebench(&[dir.path()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("summary.json"));

    std::fs::write(dir.path().join("summary.json"), r#"{"schema_version": 1}"#).unwrap();
    let out = tracebench(&[dir.path()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schema_version 1"));
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

/// The browser the report is checked in: `chromium` (Debian's package), if installed.
fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {name}")])
                .output()
                .ok()?;
            found
                .status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&found.stdout).trim()))
        })
}

/// What the page measures of itself once loaded, posted to the frame around it.
const MEASURE: &str = r#"<script>
window.addEventListener('load', () => {
  const box = e => e.getBoundingClientRect();
  const glance = document.querySelector('h2');
  const lead = document.querySelector('p.lead');
  const fail = document.querySelector('td.fail');
  const wide = [...document.querySelectorAll('div.table, figure svg')].map(e => box(e).right);
  parent.postMessage(JSON.stringify({
    width: innerWidth, height: innerHeight, scroll: document.documentElement.scrollWidth,
    glance: glance.textContent, glance_top: box(glance).top, lead_bottom: box(lead).bottom,
    fail_colour: getComputedStyle(fail).color, widest: Math.max(...wide),
  }), '*');
});
</script>"#;

/// Loads a copy of report.html, measuring itself, in a frame `width` x `height` CSS px wide
/// (headless Chromium's window is at least 500 px wide, so a phone is a frame), and returns what
/// it measured; leaves a screenshot beside it.
fn measure_in_browser(browser: &Path, width: u32, height: u32) -> serde_json::Value {
    let dir = rendered().dir.join(format!("browser-{width}"));
    std::fs::create_dir_all(&dir).unwrap();
    let page = read("report.html").replace("</body>", &format!("{MEASURE}</body>"));
    std::fs::write(dir.join("report.html"), page).unwrap();
    let frame = format!(
        "<!DOCTYPE html><html><body style=\"margin:0\"><pre id=\"out\">pending</pre>\
         <script>addEventListener('message', e => {{ out.textContent = e.data; }});</script>\
         <iframe src=\"report.html\" style=\"width:{width}px;height:{height}px;border:0\">\
         </iframe></body></html>"
    );
    std::fs::write(dir.join("frame.html"), frame).unwrap();
    let url = format!("file://{}", dir.join("frame.html").display());
    let window = format!("--window-size={},{}", width.max(500) + 20, height + 80);
    let run = |extra: &[&str]| {
        let out = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args(["--virtual-time-budget=10000", &window])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shot = format!("--screenshot={}", dir.join("screenshot.png").display());
    run(&[&shot]);
    let dom = run(&["--dump-dom"]);
    let posted = dom
        .split_once("<pre id=\"out\">")
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(text, _)| {
            text.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .unwrap_or_default();
    serde_json::from_str(&posted).unwrap_or_else(|e| panic!("{e}: the page posted {posted:?}"))
}

#[test]
fn the_report_answers_on_its_first_screen_in_a_browser_at_desktop_and_phone_widths() {
    let Some(browser) = chromium() else {
        testkit::skip::missing(
            "the_report_answers_on_its_first_screen_in_a_browser",
            "TRACEBENCH_REQUIRE_BROWSER",
            "no chromium on PATH (Debian package `chromium`)",
        );
        return;
    };
    for (width, height) in [(1280, 900), (390, 844)] {
        let m = measure_in_browser(&browser, width, height);
        let num = |key: &str| m[key].as_f64().unwrap_or_else(|| panic!("{key} in {m}"));
        assert_eq!(num("width"), f64::from(width), "{m}");
        // Nothing makes the page scroll sideways: wide tables scroll in their own box, charts
        // shrink to the page.
        assert!(num("scroll") <= num("width"), "{width} px: {m}");
        assert!(num("widest") <= num("width") + 0.5, "{width} px: {m}");
        // The answer is on the first screen: the glance heading and its first sentence.
        assert_eq!(m["glance"], "At a glance");
        assert!(num("lead_bottom") < num("height"), "{width} px: {m}");
        // Verdicts carry their colour (the fail red of the stylesheet).
        assert_eq!(m["fail_colour"], "rgb(200, 30, 30)", "{m}");
    }
}
