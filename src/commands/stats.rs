//! `tracebench stats`: a live table of CPU and memory per container or process, like
//! `docker stats`, then a summary (mean, p95, max) over the whole watch. Useful on its own, and the
//! way to check the samplers against `docker stats` and `ps`.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;

use crate::cli::StatsArgs;
use crate::control::{docker, shutdown_signal};
use crate::error::UsageError;
use crate::exit::Exit;
use crate::resources::{Sampler, Series, Source, WindowSummary};

pub async fn run(args: StatsArgs) -> anyhow::Result<Exit> {
    if args.interval < Duration::from_millis(100) {
        return Err(UsageError(format!(
            "--interval {:?} is too short: give at least 100ms",
            args.interval
        ))
        .into());
    }
    let mut sources: Vec<Source> = args
        .pid
        .iter()
        .map(|&pid| Source::Process {
            service: format!("pid {pid}"),
            pids: vec![pid],
        })
        .collect();
    let docker = if args.container.is_empty() {
        None
    } else {
        let docker = docker::connect().await?;
        for name in &args.container {
            docker
                .inspect_container(name, None)
                .await
                .with_context(|| format!("container '{name}' (`docker ps` lists the names)"))?;
            sources.push(Source::Container {
                service: name.clone(),
                container: name.clone(),
            });
        }
        Some(docker)
    };
    let mut csv = match &args.csv {
        Some(path) => Some(
            csv::Writer::from_path(path)
                .with_context(|| format!("creating the CSV file {}", path.display()))?,
        ),
        None => None,
    };
    let start_ms = chrono::Utc::now().timestamp_millis();
    let sampler = Sampler::start(&sources, args.interval, docker.as_ref())?;
    let live = std::io::stdout().is_terminal();
    let watch = async {
        let mut ticker = tokio::time::interval(args.interval);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            print_table(&sampler.latest(), live);
        }
    };
    let ended_by = tokio::select! {
        _ = watch => unreachable!("the table loop never ends"),
        _ = sleep_or_forever(args.duration) => None,
        signal = shutdown_signal() => Some(signal),
    };
    let series = sampler.stop().await?;
    let end_ms = chrono::Utc::now().timestamp_millis();
    if let Some(csv) = &mut csv {
        write_csv(csv, &series)?;
    }
    print_summary(&series, start_ms, end_ms);
    if let Some(signal) = ended_by {
        eprintln!("tracebench: stopped by {signal}");
    }
    Ok(Exit::Pass)
}

async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn print_table(latest: &[Series], live: bool) {
    let mut out = String::new();
    if live {
        // Clear the screen and go home, as `docker stats` does.
        out.push_str("\x1b[2J\x1b[H");
    }
    out += &format!(
        "{:<28} {:>8} {:>22} {:>7} {:>10}\n",
        "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "CPU TIME"
    );
    for series in latest {
        let name = &series.service;
        let s = series.samples.last();
        let cpu = s
            .and_then(|s| s.cpu_pct)
            .map_or("--".into(), |c| format!("{c:.2}%"));
        let mem = s.and_then(|s| s.mem_bytes).map_or("--".into(), mib);
        let limit = series.mem_limit_bytes.map_or("--".into(), mib);
        let mem_pct = s
            .and_then(|s| Some(s.mem_bytes? as f64 / series.mem_limit_bytes? as f64 * 100.0))
            .map_or("--".into(), |p| format!("{p:.2}%"));
        let cpu_time = s
            .and_then(|s| s.cpu_seconds)
            .map_or("--".into(), |c| format!("{c:.2}s"));
        out += &format!(
            "{name:<28} {cpu:>8} {:>22} {mem_pct:>7} {cpu_time:>10}\n",
            format!("{mem} / {limit}")
        );
    }
    let mut stdout = std::io::stdout().lock();
    // A closed stdout (piped into `head`) is not worth failing the watch over.
    let _ = stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush());
}

fn mib(bytes: u64) -> String {
    format!("{:.1}MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn print_summary(series: &[Series], start_ms: i64, end_ms: i64) {
    println!(
        "\nsummary over {:.1} s:",
        (end_ms - start_ms) as f64 / 1000.0
    );
    println!(
        "{:<28} {:>26} {:>26} {:>12}",
        "NAME", "CPU % mean/p95/max", "MEM MiB mean/p95/max", "CPU % exact"
    );
    for s in series {
        let w = WindowSummary::of(s, start_ms, end_ms);
        let stat = |st: Option<crate::resources::Stat>| {
            st.map_or("--".into(), |st| {
                format!("{:.2}/{:.2}/{:.2}", st.mean, st.p95, st.max)
            })
        };
        let exact = w.cpu_pct_exact.map_or("--".into(), |c| format!("{c:.2}"));
        println!(
            "{:<28} {:>26} {:>26} {exact:>12}",
            s.service,
            stat(w.cpu_pct),
            stat(w.mem_mib)
        );
    }
}

#[derive(serde::Serialize)]
struct CsvRow<'a> {
    service: &'a str,
    source: crate::resources::ResourceSource,
    unix_ms: i64,
    cpu_pct: Option<f64>,
    cpu_seconds: Option<f64>,
    mem_bytes: Option<u64>,
    mem_limit_bytes: Option<u64>,
}

fn write_csv(csv: &mut csv::Writer<std::fs::File>, series: &[Series]) -> anyhow::Result<()> {
    for s in series {
        for sample in &s.samples {
            csv.serialize(CsvRow {
                service: &s.service,
                source: s.source,
                unix_ms: sample.unix_ms,
                cpu_pct: sample.cpu_pct,
                cpu_seconds: sample.cpu_seconds,
                mem_bytes: sample.mem_bytes,
                mem_limit_bytes: s.mem_limit_bytes,
            })?;
        }
    }
    csv.flush().context("writing the CSV file")
}
