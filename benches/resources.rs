//! One /proc reading of a local service, as the sampler takes it once a second per service: the
//! process alone (`procfs::read`, two small files) against the process tree (`procfs::read_tree`,
//! which reads every process's `stat` to find the children). The tree's cost grows with the
//! number of processes on the machine; the bench prints that number beside its figures.
//! Measured 2026-12-02 (2-core VM, 69 processes): 8.3-8.6 µs alone, 252-269 µs for the tree (about 3.6 µs
//! per process on the machine), so 0.025% of a core per sampled service at one reading a second.
//!
//! A window's edge reading of a process service (`EdgeReader::read`: the tree found in /proc, then
//! each member's CPU clock), twice per service and cell, and one CPU clock read alone
//! (`procfs::process_cpu_ns`), whose time is all that lies between the reading's timestamps.
//! Measured 2026-12-07 (same VM, 84 processes, load average 2-3 from other builds): edge reading
//! 1.15-1.24 ms, CPU clock 0.74-0.81 µs; read_tree 1.30-1.38 ms in the same run (the scan of /proc
//! dominates both, and grows with the machine's load).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tracebench::resources::{EdgeReader, Source, procfs};

fn bench(c: &mut Criterion) {
    let processes = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        })
        .count();
    eprintln!("{processes} processes in /proc");
    let pid = std::process::id();
    let mut group = c.benchmark_group("procfs");
    group.bench_function("read_one_process", |b| {
        b.iter(|| black_box(procfs::read(black_box(pid)).unwrap()))
    });
    group.bench_function("read_tree", |b| {
        b.iter(|| black_box(procfs::read_tree(black_box(&[pid])).unwrap()))
    });
    // A window's edge, as a cell reads it twice per service: the tree found in /proc, then each
    // member's CPU clock.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let sources = [Source::Process {
        service: "me".into(),
        pids: vec![pid],
    }];
    let reader = runtime
        .block_on(EdgeReader::resolve(&sources, None))
        .unwrap();
    group.bench_function("edge_reading", |b| {
        b.iter(|| black_box(runtime.block_on(reader.read()).unwrap()))
    });
    group.bench_function("process_cpu_clock", |b| {
        b.iter(|| black_box(procfs::process_cpu_ns(black_box(pid)).unwrap()))
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
