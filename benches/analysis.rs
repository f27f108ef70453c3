//! `analysis::analyze` on a run of realistic size: 3 modes x 2 rates x 3 rounds x 60 s, about
//! 300 distinct latency buckets per second, two services sampled every second. The analysis runs
//! once per run and once more after every cell (summary.json is rewritten), so this is the wait
//! it adds. Measured 2026-12-01: 0.41 ms per analysis (95% CI 0.37-0.46 ms, 2-core VM): figures
//! per cell and t intervals over rounds, no resampling. 2026-12-07, with the crossover model and
//! the sequential looks: 0.33 ms for that run; a look of 8 modes x 4 rates x 64 rounds (2,304
//! cells, 4 looks, every look's fits redone) 20.4 ms [19.6, 21.7] (31 ms before the fits were
//! accumulated from the sparse rows and the boundaries memoized), above the 10 ms aimed at; with
//! each look's model built once and shared by every measure taken in the same cells, 5.2 ms
//! [4.8, 5.6] without the machine's speed, 6.4 ms [6.1, 6.6] with it (every cell's driver CPU set).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tracebench::analysis::analyze;
use tracebench::results::Design;

use testkit::analysis::{ModeSpec, RunSpec, generate};

fn bench(c: &mut Criterion) {
    let spec = RunSpec {
        modes: vec![
            ModeSpec::new("off", 0.0),
            ModeSpec::new("on", 1.0),
            ModeSpec::new("sampled", 0.1),
        ],
        rates: vec![300.0, 600.0],
        rounds: 3,
        seconds: 60,
        latency_tail_ms: 2.0,
        ..RunSpec::default()
    };
    let results = generate(&spec);
    let seconds = results.cells.iter().flat_map(|c| &c.seconds);
    let (n, bytes) = seconds.fold((0, 0), |(n, b), s| (n + 1, b + s.latency_us.0.len()));
    eprintln!(
        "{n} seconds, {:.0} bytes of encoded histogram per second",
        bytes as f64 / n as f64
    );
    let mut group = c.benchmark_group("analyze");
    group.sample_size(10);
    group.bench_function("3 modes x 2 rates x 3 rounds x 60 s", |b| {
        b.iter(|| black_box(analyze(black_box(&results))))
    });
    // A look of a large sequential run: 8 modes x 4 rates x 64 rounds (2,304 cells), looks
    // after 16, 32, 48 and 64 rounds, every look's crossover fit redone.
    let mut modes = vec![ModeSpec::new("off", 0.0)];
    modes.extend(
        ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]
            .into_iter()
            .map(|name| ModeSpec::new(name, 1.0)),
    );
    let mut large = generate(&RunSpec {
        modes,
        rates: vec![100.0, 200.0, 300.0, 400.0],
        rounds: 64,
        seconds: 1,
        count_traces: false,
        ..RunSpec::default()
    });
    // The driver's CPU measured in every cell, as a run records it: latency and CPU are then
    // fitted with the machine's speed as a term, memory without, so two models a look and rate.
    for c in &mut large.cells {
        let wobble = f64::from((c.order * 7919) % 13) / 13.0;
        c.load.driver_cpu_s = Some(0.05 + 0.01 * wobble);
    }
    large.design = Some(Design {
        min_rounds: 16,
        max_rounds: 64,
        square: 16,
    });
    group.bench_function("8 modes x 4 rates x 64 rounds, 4 looks", |b| {
        b.iter(|| black_box(analyze(black_box(&large))))
    });
    group.finish();
}

// No plots: criterion's plotters backend needs system fonts this machine may lack.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
