//! `tracebench traces count` and `tracebench traces verify`.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use crate::cli::{CountMethodArg, TracesCommand, TracesCountArgs, TracesVerifyArgs};
use crate::error::UsageError;
use crate::exit::Exit;
use crate::traces::count::{CountMethod, CountRequest, TraceCounts, count_traces};
use crate::traces::tempo::{TempoClient, redact_userinfo};
use crate::traces::verify::{ProbeOutcome, VerifyReport, VerifyRequest, verify};

/// The most rows a count prints (and slots it holds per service): a year in one-minute steps.
const MOST_ROWS: u64 = 527_040;

pub async fn run(cmd: TracesCommand) -> anyhow::Result<Exit> {
    match cmd {
        TracesCommand::Count(args) => count(args).await,
        TracesCommand::Verify(args) => verify_probes(args).await,
    }
}

async fn count(args: TracesCountArgs) -> anyhow::Result<Exit> {
    // Windows are half-open; one ending "now" takes in the running second.
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 1;
    let since = |length: u64| (now.saturating_sub(length), now);
    let (start_s, end_s) = match (args.since, args.start, args.end) {
        (Some(length), _, _) => since(length.as_secs()),
        (None, Some(start), end) => (start, end.unwrap_or(now)),
        (None, None, _) => since(600),
    };
    let step_s = args.step.as_secs();
    if start_s >= end_s || step_s == 0 {
        return Err(UsageError(format!(
            "empty window: start {start_s} must be before end {end_s}, and --step at least 1s"
        ))
        .into());
    }
    let rows = (end_s - start_s).div_ceil(step_s);
    if rows > MOST_ROWS {
        return Err(UsageError(format!(
            "the window holds {rows} steps of {step_s} s: at most {MOST_ROWS}; widen --step or \
             narrow the window"
        ))
        .into());
    }
    let client = tempo_client(&args.tempo)?;
    let request = CountRequest {
        services: args.services,
        complete_with: args.complete_with,
        start_s,
        end_s,
        step_s,
        search_limit: args.search_limit.max(1),
        method: match args.method {
            CountMethodArg::Metrics => CountMethod::Metrics,
            CountMethodArg::Search => CountMethod::Search,
        },
    };
    let counts = count_traces(&client, &request)
        .await
        .with_context(|| format!("counting traces in {}", client.url()))?;
    print!("{}", render_counts(&counts));
    if let Some(path) = &args.json {
        write_json(path, &counts)?;
    }
    Ok(Exit::Pass)
}

fn tempo_client(url: &str) -> anyhow::Result<TempoClient> {
    TempoClient::new(url).map_err(|e| {
        let url = redact_userinfo(url);
        UsageError(format!("--tempo {url}: {e}")).into()
    })
}

fn write_json<T: serde::Serialize>(path: &std::path::Path, value: &T) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(value)?;
    std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
}

/// One row per step, one column per service, then the totals.
fn render_counts(counts: &TraceCounts) -> String {
    let mut out = format!("{:<22}", "step start (UTC)");
    for s in &counts.services {
        out.push_str(&format!(" {:>20}", s.service));
    }
    out.push('\n');
    let steps = counts.services.first().map_or(0, |s| s.per_step.len());
    for step in 0..steps {
        let at = counts.start_s + step as u64 * counts.step_s;
        let at = chrono::DateTime::from_timestamp(at as i64, 0).map_or_else(
            || at.to_string(),
            |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
        out.push_str(&format!("{at:<22}"));
        for s in &counts.services {
            out.push_str(&format!(" {:>20}", s.per_step[step]));
        }
        out.push('\n');
    }
    out.push_str(&format!("{:<22}", "total"));
    for s in &counts.services {
        out.push_str(&format!(" {:>20}", s.total));
    }
    if counts.services.iter().any(|s| s.incomplete.is_some()) {
        out.push_str(&format!("\n{:<22}", "incomplete"));
        for s in &counts.services {
            let shown = s.incomplete.map_or("-".to_string(), |n| n.to_string());
            out.push_str(&format!(" {shown:>20}"));
        }
    }
    out.push_str(&format!(
        "\ncounted by {}: {}\n",
        counts.method.describe(),
        counts.counted
    ));
    out
}

async fn verify_probes(args: TracesVerifyArgs) -> anyhow::Result<Exit> {
    if args.probes == 0 || args.services.is_empty() {
        return Err(
            UsageError("--probes must be at least 1 and --services not empty".into()).into(),
        );
    }
    let client = tempo_client(&args.tempo)?;
    client
        .ready()
        .await
        .with_context(|| format!("the trace store at {} is not ready", client.url()))?;
    let request = VerifyRequest {
        gateway: args.gateway,
        path: args.path,
        services: args.services,
        probes: args.probes,
        timeout: args.timeout,
        poll_interval: std::time::Duration::from_millis(250),
    };
    // Ctrl-C or SIGTERM ends the wait for the probes' traces: nothing is left behind to undo.
    let report = tokio::select! {
        report = verify(&client, &request) => report?,
        signal = crate::control::shutdown_signal() => {
            anyhow::bail!("interrupted by {signal} before every probe was found: no verdict");
        }
    };
    print!("{}", render_report(&report));
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    Ok(if report.passed() {
        Exit::Pass
    } else {
        Exit::Fail
    })
}

fn render_report(report: &VerifyReport) -> String {
    let mut out = String::new();
    for r in report
        .results
        .iter()
        .filter(|r| r.outcome != ProbeOutcome::Found)
    {
        out.push_str(&format!("{:?} {}: {}\n", r.outcome, r.trace_id, r.detail));
    }
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.0} ms"));
    out.push_str(&format!(
        "probes {}: found {}, missing {}, broken {}, failed requests {}; \
         ingestion delay p50 {}, max {}\n",
        report.probes,
        report.found,
        report.missing,
        report.broken,
        report.failed_requests,
        ms(report.delay_p50_ms),
        ms(report.delay_max_ms)
    ));
    out
}
