//! Checks of a run directory's files, shared by the report tests (a synthetic run) and the
//! end-to-end run tests (a real one): what a reader or a tool relies on in each format.

use std::path::Path;

use base64::Engine;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use tracebench::report::{self, Summary, charts};
use tracebench::results::RunResults;

pub fn read(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `cells.csv`: the documented columns, one row per cell; returns the header and rows.
pub fn check_cells_csv(dir: &Path, results: &RunResults) -> (Vec<String>, Vec<csv::StringRecord>) {
    let text = read(dir, "cells.csv");
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    for column in [
        "mode",
        "rate",
        "round",
        "replicate",
        "due",
        "ok",
        "errors",
        "unfinished",
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
    assert_eq!(rows.len(), results.cells.len());
    (header, rows)
}

/// `resources.csv`: the documented header, one row per resource sample.
pub fn check_resources_csv(dir: &Path, results: &RunResults) {
    let text = read(dir, "resources.csv");
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "mode",
            "rate",
            "round",
            "replicate",
            "service",
            "source",
            "unix_ms",
            "offset_s",
            "cpu_pct",
            "mem_bytes",
            "cpu_seconds"
        ]
    );
    let samples: usize = results
        .cells
        .iter()
        .flat_map(|c| &c.resources)
        .map(|r| r.samples.len())
        .sum();
    assert_eq!(csv.records().count(), samples);
}

/// Each mode and rate's interval log reads back (HdrHistogram V2, base64) with the cells'
/// request counts and one interval per recorded second; returns how many logs there are.
pub fn check_hlogs(dir: &Path, results: &RunResults) -> usize {
    let mut logs = 0;
    let mut pairs: Vec<(&str, f64)> = results
        .cells
        .iter()
        .map(|c| (c.mode.as_str(), c.rate))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0).then(a.1.total_cmp(&b.1)));
    pairs.dedup();
    for (mode, rate) in pairs {
        let name = format!("hlog/{mode}-{}rps.hlog", report::fmt_rate(rate));
        let text = read(dir, &name);
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
        let expected: u64 = cells
            .iter()
            .map(|c| c.latency.to_hdr().unwrap().len())
            .sum();
        assert!(expected > 0, "{name}: no requests");
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
    logs
}

/// `report.md` begins, after its title, with the answer at a glance: a sentence per mode and
/// rate ending in its verdict, then the budget matrix; the long verdict table follows.
pub fn check_markdown_starts_with_the_glance(md: &str) {
    let mut lines = md
        .lines()
        .filter(|l| !l.trim().is_empty())
        .skip_while(|l| l.starts_with("# "));
    assert_eq!(lines.next(), Some("## At a glance"));
    let sentence = lines.next().unwrap();
    let matrix = lines.find(|l| l.starts_with('|')).unwrap();
    assert!(matrix.starts_with("| budget | "), "{matrix}");
    assert!(
        [": within budget.", ": over budget on ", ": not decided on "]
            .iter()
            .any(|end| sentence.contains(end)),
        "{sentence}"
    );
    let verdicts = md.find("## Verdicts").unwrap();
    assert!(md[verdicts..].contains("| mode | rate (req/s) | budget |"));
}

/// Every chart's SVG is well-formed XML of the chart's size with its title as text.
pub fn check_svgs(dir: &Path, summary: &Summary) {
    for chart in charts::all(summary).unwrap() {
        let svg = read(dir, &format!("charts/{}.svg", chart.stem()));
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

/// Every chart's PNG decodes at the chart's size and has text and axes drawn.
pub fn check_pngs(dir: &Path, summary: &Summary) {
    for chart in charts::all(summary).unwrap() {
        let path = dir.join(format!("charts/{}.png", chart.stem()));
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

/// `report.html` fetches nothing: no scripts, styles, images or frames from elsewhere, every
/// `src`/`url(` a data: URI or a fragment, and every chart inline as SVG. Links a reader may
/// follow (`<a href>`, to a trace) are the only URLs.
pub fn check_html_self_contained(html: &str, summary: &Summary) {
    let html = &without_links(html);
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
    let charts = charts::all(summary).unwrap();
    assert_eq!(html.matches("<svg").count(), charts.len());
    assert!(html.find("<h2>At a glance</h2>").unwrap() < html.find("<h2>Verdicts</h2>").unwrap());
    assert!(html.find("<h2>Verdicts</h2>").unwrap() < html.find("<svg").unwrap());
}

/// The page with every `<a href="...">` that leaves it replaced by `<a>`.
fn without_links(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(at) = rest.find("<a href=\"http") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('>').expect("the tag ends") + at;
        out.push_str("<a>");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// summary.json against the published JSON Schema (draft 2020-12).
pub fn check_schema(dir: &Path) {
    let path = crate::repo().join("schema/summary.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::draft202012::new(&schema).expect("the schema is valid");
    let summary: serde_json::Value = serde_json::from_str(&read(dir, "summary.json")).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&summary)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "summary.json breaks its schema: {errors:#?}"
    );
}
