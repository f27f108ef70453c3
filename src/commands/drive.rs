//! `tracebench drive`: one open-loop load run from the command line. Turns the flags into a
//! [`LoadSpec`], wires Ctrl-C to the driver's shutdown, shows a progress line on a terminal,
//! streams the interval log, then prints the summary and writes it as JSON.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cli::DriveArgs;
use crate::error::UsageError;
use crate::exit::Exit;
use crate::load::{
    self, BodyTemplate, Endpoint, GrpcEndpoint, HttpEndpoint, Interval, LoadSpec, LoadSummary, hlog,
};

pub async fn run(args: DriveArgs) -> Result<Exit> {
    let spec = spec_from(&args)?;
    if let Some(path) = &args.json {
        // Fail on a bad path now, not after the run.
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    }
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        crate::control::shutdown_signal().await;
        on_signal.cancel();
    });

    let (interval_tx, mut interval_rx) = mpsc::unbounded_channel::<Interval>();
    let (hlog_tx, hlog_writer) = match &args.hlog {
        Some(path) => {
            let (tx, rx) = std::sync::mpsc::channel();
            (Some(tx), Some(hlog::spawn_file_writer(path, rx)?))
        }
        None => (None, None),
    };
    let progress = progress_bar(spec.duration);
    let total = spec.duration;
    let forwarder = tokio::spawn(async move {
        while let Some(interval) = interval_rx.recv().await {
            if let Some(bar) = &progress {
                bar.set_position(
                    (interval.start + interval.length)
                        .as_secs()
                        .min(total.as_secs()),
                );
                bar.set_message(progress_message(&interval));
            }
            if let Some(tx) = &hlog_tx {
                let _ = tx.send(interval); // the writer's own error is reported when joined
            }
        }
        if let Some(bar) = progress {
            bar.finish_and_clear();
        }
    });

    let outcome = load::run(spec, Some(interval_tx), shutdown).await?;
    forwarder.await.context("the progress task failed")?;
    if let Some(writer) = hlog_writer {
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("the interval log writer panicked"))??;
    }
    report(&outcome.summary, &args)?;
    Ok(Exit::Pass)
}

fn report(summary: &LoadSummary, args: &DriveArgs) -> Result<()> {
    print!("{summary}");
    for warning in summary.warnings() {
        eprintln!("tracebench: warning: {warning}");
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(summary)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("writing the summary to {}", path.display()))?;
    }
    Ok(())
}

/// A live progress line, only when stderr is a terminal.
fn progress_bar(duration: Duration) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(duration.as_secs().max(1));
    let style = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} s  {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    Some(bar)
}

fn progress_message(interval: &Interval) -> String {
    let secs = interval.length.as_secs_f64().max(1e-9);
    format!(
        "{:.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
        interval.completed as f64 / secs,
        interval.latency.value_at_quantile(0.5) as f64 / 1000.0,
        interval.latency.value_at_quantile(0.99) as f64 / 1000.0,
        interval.errors
    )
}

fn spec_from(args: &DriveArgs) -> Result<LoadSpec> {
    let target = match (&args.url, &args.grpc) {
        (Some(url), None) => Endpoint::Http(http_endpoint(url, args)?),
        (None, Some(addr)) => Endpoint::Grpc(grpc_endpoint(addr, args)?),
        _ => return Err(usage("give exactly one of --url and --grpc")),
    };
    let (rate, phase) = match (args.total_rate, args.shard) {
        (Some(total), Some(shard)) => (shard.rate(total), shard.phase(total, args.arrivals)),
        _ => (args.rate, Duration::ZERO),
    };
    Ok(LoadSpec {
        target,
        rate,
        duration: args.duration,
        warmup: args.warmup,
        connections: args.connections as usize,
        max_in_flight: args.max_in_flight as usize,
        arrivals: args.arrivals,
        request_timeout: args.timeout,
        drain_timeout: load::DEFAULT_DRAIN_TIMEOUT,
        run_id: load::new_run_id(),
        first_seq: 0,
        slowest: args.slowest,
        start_at: args.start_at,
        phase,
    })
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

fn http_endpoint(url: &str, args: &DriveArgs) -> Result<HttpEndpoint> {
    let uri: Uri = url.parse().map_err(|e| {
        usage(format!(
            "--url `{url}` is not a URL ({e}); expected http://host:port/path"
        ))
    })?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(usage(format!(
            "--url `{url}`: expected an http:// URL with a host (https is not supported)"
        )));
    }
    let method = Method::from_bytes(args.method.as_bytes())
        .map_err(|_| usage(format!("--method `{}` is not an HTTP method", args.method)))?;
    let body = args
        .body
        .as_deref()
        .map(|body| BodyTemplate::parse(body).map_err(usage))
        .transpose()?;
    let mut headers = HeaderMap::new();
    for raw in &args.headers {
        let (name, value) = parse_header(raw)?;
        headers.insert(name, value);
    }
    let expect = (!args.expect.is_empty())
        .then(|| {
            args.expect
                .iter()
                .map(|s| {
                    s.trim()
                        .parse::<u16>()
                        .ok()
                        .and_then(|n| StatusCode::from_u16(n).ok())
                        .ok_or_else(|| {
                            usage(format!(
                                "--expect `{s}`: expected an HTTP status such as 200"
                            ))
                        })
                })
                .collect::<Result<_>>()
        })
        .transpose()?;
    Ok(HttpEndpoint::new(uri, Some(method), headers, body, expect)
        .with_trace_header(args.trace_header.clone()))
}

fn parse_header(raw: &str) -> Result<(HeaderName, HeaderValue)> {
    let bad = || usage(format!("--header `{raw}`: expected `Name: value`"));
    let (name, value) = raw.split_once(':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
    Ok((name, value))
}

fn grpc_endpoint(addr: &str, args: &DriveArgs) -> Result<GrpcEndpoint> {
    let expect = &args.expect;
    let url = if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    };
    let uri: Uri = url
        .parse()
        .ok()
        .filter(|uri: &Uri| uri.host().is_some())
        .ok_or_else(|| usage(format!("--grpc `{addr}`: expected host:port")))?;
    let expect = (!expect.is_empty())
        .then(|| {
            expect
                .iter()
                .map(|s| parse_grpc_code(s.trim()))
                .collect::<Result<_>>()
        })
        .transpose()?;
    let body = args
        .body
        .as_deref()
        .map(|body| BodyTemplate::parse(body).map_err(usage))
        .transpose()?;
    Ok(GrpcEndpoint::new(uri, body, expect).with_trace_header(&args.trace_header))
}

/// A gRPC code by canonical name (`ALREADY_EXISTS`) or number (`6`).
fn parse_grpc_code(s: &str) -> Result<tonic::Code> {
    (0..=16)
        .map(tonic::Code::from_i32)
        .find(|code| {
            s == (*code as i32).to_string() || s.eq_ignore_ascii_case(&load::grpc_code_name(*code))
        })
        .ok_or_else(|| {
            usage(format!(
                "--expect `{s}`: expected a gRPC code such as OK or ALREADY_EXISTS"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_parse_by_name_or_number() {
        assert_eq!(
            parse_grpc_code("ALREADY_EXISTS").unwrap(),
            tonic::Code::AlreadyExists
        );
        assert_eq!(parse_grpc_code("0").unwrap(), tonic::Code::Ok);
        assert!(
            parse_grpc_code("NOPE")
                .unwrap_err()
                .to_string()
                .contains("NOPE")
        );
    }

    /// `drive` and a scenario build the same endpoint from the same request (one builder, one
    /// set of defaults): the default body, JSON content type and expected statuses.
    #[test]
    fn drive_builds_the_endpoint_a_scenario_builds() {
        use clap::Parser;
        let url = "http://127.0.0.1:8080/api/auth/register";
        let crate::cli::Command::Drive(args) =
            crate::cli::Cli::parse_from(["tracebench", "drive", "--url", url]).command
        else {
            panic!("not drive")
        };
        let driven = http_endpoint(url, &args).unwrap();
        let text = format!(
            "[target]\nkind = \"external\"\n[[target.services]]\nname = \"svc\"\n\
             [request]\nurl = \"{url}\"\nmethod = \"POST\"\n[load]\nrates = [1]\n"
        );
        let scenario = crate::scenario::Scenario::from_str(&text, "s.toml").unwrap();
        assert_eq!(scenario.request.endpoint, load::Endpoint::Http(driven));
        assert_eq!(scenario.request.connections, args.connections);
        assert_eq!(scenario.request.timeout, args.timeout);
    }

    #[test]
    fn headers_need_a_colon() {
        let (name, value) = parse_header("X-Test: a:b").unwrap();
        assert_eq!((name.as_str(), value.to_str().unwrap()), ("x-test", "a:b"));
        assert!(parse_header("nocolon").is_err());
    }
}
