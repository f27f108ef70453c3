//! The driver's per-request hot path: computing the next due time, rendering a body, and
//! recording a result into the histograms. Each runs once per request, so their cost bounds the
//! rate one driver thread can sustain.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use tracebench::load::{
    Arrivals, BodyTemplate, Completion, DEFAULT_SLOWEST, Recorder, RequestOutcome, ResponseCode,
    Schedule, TraceId,
};

fn schedule(c: &mut Criterion) {
    let mut group = c.benchmark_group("schedule_next");
    for arrivals in [Arrivals::Uniform, Arrivals::Poisson] {
        let mut schedule = Schedule::new(20_000.0, arrivals, 1);
        group.bench_function(format!("{arrivals:?}"), |b| {
            b.iter(|| black_box(schedule.next()))
        });
    }
    group.finish();
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_body");
    let register = BodyTemplate::default_register();
    group.bench_function("default_register", |b| {
        let mut seq = 0u64;
        b.iter(|| {
            seq += 1;
            black_box(register.render(seq, "0a1b2c3d"))
        })
    });
    let with_uuid = BodyTemplate::parse(r#"{"id":"{uuid}","n":{seq}}"#).unwrap();
    group.bench_function("with_uuid", |b| {
        b.iter(|| black_box(with_uuid.render(7, "r")))
    });
    group.finish();
}

fn record(c: &mut Criterion) {
    let start = Instant::now();
    // Keeping the 10 slowest, as a run does by default; every response names a trace.
    let mut recorder = Recorder::new(start, SystemTime::now(), DEFAULT_SLOWEST);
    let trace = TraceId::from_header(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    // Latencies spread over 0.1..~13 ms, so recording touches many buckets as in a real run.
    let completions: Vec<Completion> = (0..128u64)
        .map(|i| {
            let sent = start + Duration::from_micros(10 + i);
            Completion {
                due: start,
                sent,
                done: sent + Duration::from_micros(100 * (i + 1)),
                outcome: RequestOutcome::Response {
                    code: ResponseCode::Http(200),
                    ok: true,
                    trace,
                },
            }
        })
        .collect();
    let mut i = 0;
    c.bench_function("record_completion", |b| {
        b.iter(|| {
            i = (i + 1) % completions.len();
            recorder.record_completion(black_box(&completions[i]));
        })
    });
}

criterion_group! {
    name = benches;
    // Plots need a system font criterion cannot find here (plotters' ab_glyph feature is on in
    // this workspace); the figures are in the terminal output and target/criterion.
    config = Criterion::default().without_plots();
    targets = schedule, render, record
}
criterion_main!(benches);
