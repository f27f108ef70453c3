//! One /proc reading of a local service, as the sampler takes it once a second per service: the
//! process alone (`procfs::read`, two small files) against the process tree (`procfs::read_tree`,
//! which reads every process's `stat` to find the children). The tree's cost grows with the
//! number of processes on the machine; the bench prints that number beside its figures.
//! Measured 2026-12-02 (2-core VM, 69 processes): 8.3-8.6 µs alone, 252-269 µs for the tree (about 3.6 µs
//! per process on the machine), so 0.025% of a core per sampled service at one reading a second.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tracebench::resources::procfs;

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
    group.finish();
}

// No plots: criterion's plotters backend needs system fonts this machine may lack.
criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
