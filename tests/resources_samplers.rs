//! The samplers against the tools people trust: the docker sampler against `docker stats
//! --no-stream` on the same container under load, and the /proc sampler against `ps`, on a
//! process alone and on a service that a shell starts as its child. And the window CPU read at a
//! window's edges against a known load: the helper burning exactly 3.0% of a core, as a process
//! and as a container.

use std::process::Command;
use std::time::Duration;

use tracebench::resources::{
    CpuCounter, EdgeReader, Sampler, Source, WindowCpu, WindowSummary, docker_stats, procfs,
};

use testkit::net::*;
use testkit::target::*;

const IMAGE: &str = "tracebench-test/resources:latest";

/// "66.2MiB" / "7.6GiB" / "512KiB" / "1.2kB" in bytes.
fn parse_size(text: &str) -> f64 {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap();
    let (number, unit) = text.split_at(split);
    let factor = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => panic!("unit {other}"),
    };
    number.parse::<f64>().unwrap() * factor
}

#[tokio::test]
async fn docker_sampler_agrees_with_docker_stats_under_load() {
    let Some(docker) = docker_or_skip("docker_sampler_agrees_with_docker_stats_under_load").await
    else {
        return;
    };
    // 40% of one core, steady, plus 64 MiB held.
    let env = [("TB_HELPER_BURN_PCT", "40"), ("TB_HELPER_ALLOC_MB", "64")];
    let (name, _port, _cleanup) = one_service(&docker, IMAGE, "tb-stats", &env).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let sources = [Source::Container {
        service: name.clone(),
        container: name.clone(),
    }];
    let sampler = Sampler::start(&sources, Duration::from_secs(1), Some(&docker)).unwrap();
    let mut cli = Vec::new();
    for _ in 0..3 {
        let out = tokio::process::Command::new("docker")
            .args([
                "stats",
                "--no-stream",
                "--format",
                "{{.CPUPerc}};{{.MemUsage}}",
                &name,
            ])
            .output()
            .await
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let (cpu, mem) = text.trim().split_once(';').unwrap();
        let (usage, limit) = mem.split_once(" / ").unwrap();
        let cpu: f64 = cpu.trim_end_matches('%').parse().unwrap();
        cli.push((cpu, parse_size(usage), parse_size(limit)));
    }
    let series = sampler.stop().await.unwrap().remove(0);
    let ours: Vec<_> = series
        .samples
        .iter()
        .filter(|s| s.cpu_pct.is_some())
        .collect();
    assert!(ours.len() >= 3, "{} samples", ours.len());

    let cli_cpu = cli.iter().map(|c| c.0).sum::<f64>() / cli.len() as f64;
    let our_cpu = ours.iter().filter_map(|s| s.cpu_pct).sum::<f64>() / ours.len() as f64;
    // Same counters and formula, but not the same seconds: the burner's share of a core varies
    // from second to second on this loaded 2-core machine (other builds compete), so means over a
    // few seconds can differ by several points. 12 points still tells 40% from 0% or 100%.
    assert!(
        (cli_cpu - our_cpu).abs() < 12.0,
        "docker stats {cli_cpu:.1}% vs ours {our_cpu:.1}%"
    );
    // The idle helper uses ~0%; the burner gets less than its 40% when the machine is overloaded
    // (load averages above 10 were seen here), but never as little as 5%.
    assert!(our_cpu > 5.0, "the load is visible: {our_cpu:.1}%");

    // Memory is steady (64 MiB held) but the readings are not the same instants: each CLI
    // reading must fall within the range of ours, widened by 1% (the CLI prints 3 significant
    // digits) and 1 MiB (what the helper allocates per request between readings).
    let mems: Vec<f64> = ours
        .iter()
        .filter_map(|s| s.mem_bytes)
        .map(|b| b as f64)
        .collect();
    let (lo, hi) = mems
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &m| (lo.min(m), hi.max(m)));
    for (_, usage, limit) in &cli {
        assert!(
            *usage >= lo * 0.99 - 1048576.0 && *usage <= hi * 1.01 + 1048576.0,
            "docker stats {usage} vs ours {lo}..{hi}"
        );
        let our_limit = series.mem_limit_bytes.unwrap() as f64;
        assert!(
            (limit - our_limit).abs() <= limit * 0.01,
            "{limit} vs {our_limit}"
        );
    }
    let our_mem = hi;
    assert!(
        our_mem > 64.0 * 1048576.0,
        "the 64 MiB held are counted: {our_mem}"
    );
    // Cumulative CPU time grows, and the exact window figure agrees with the per-second samples.
    let w = WindowSummary::of(&series, 0, i64::MAX);
    let exact = w.cpu_pct_exact.unwrap();
    assert!(
        (exact - w.cpu_pct.unwrap().mean).abs() < 12.0,
        "{exact} vs {:?}",
        w.cpu_pct
    );
}

/// Starts the helper as a local process burning CPU and holding memory.
fn burning_process(port: u16) -> std::process::Child {
    let (program, args, env) = testkit::helper::command(&format!("127.0.0.1:{port}"));
    Command::new(program)
        .args(args)
        .envs(env)
        .env("TB_HELPER_BURN_PCT", "30")
        .env("TB_HELPER_ALLOC_MB", "32")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn ps(pid: u32) -> (u64, u64) {
    let out = Command::new("ps")
        .args(["-o", "rss=,cputimes=", "-p", &pid.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().unwrap());
    (fields.next().unwrap() * 1024, fields.next().unwrap())
}

#[tokio::test]
async fn procfs_sampler_agrees_with_ps() {
    let port = free_port();
    let mut child = burning_process(port);
    assert!(wait_http(port, Duration::from_secs(30)));
    let pid = child.id();
    let sources = [Source::Process {
        service: "helper".into(),
        pids: vec![pid],
    }];
    let sampler = Sampler::start(&sources, Duration::from_millis(500), None).unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let series = sampler.stop().await.unwrap().remove(0);
    let before = procfs::read(pid).unwrap();
    let (ps_rss, ps_cpu_seconds) = ps(pid);
    let after = procfs::read(pid).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    // ps reads the same counters: RSS between our two readings (give 1% for pages touched in
    // between), CPU time truncated to whole seconds.
    let (lo, hi) = (
        before.rss_bytes.min(after.rss_bytes),
        before.rss_bytes.max(after.rss_bytes),
    );
    assert!(
        ps_rss as f64 >= lo as f64 * 0.99 && ps_rss as f64 <= hi as f64 * 1.01,
        "ps {ps_rss} vs ours {lo}..{hi}"
    );
    assert!(
        (before.cpu_seconds.floor() as u64..=after.cpu_seconds.ceil() as u64)
            .contains(&ps_cpu_seconds),
        "ps {ps_cpu_seconds} s vs ours {} .. {}",
        before.cpu_seconds,
        after.cpu_seconds
    );
    assert!(
        before.rss_bytes > 32 * 1048576,
        "the 32 MiB held are counted"
    );
    // The series saw the burn. It asks for 30% of a core but gets less on an overloaded machine
    // (8% was seen at load average 14), while an idle helper shows ~0%. The per-sample mean and
    // the exact window figure measure the same thing; 10 ms ticks over 0.5 s samples make each
    // sample 2 points coarse, which averages out over the window.
    let w = WindowSummary::of(&series, 0, i64::MAX);
    let exact = w.cpu_pct_exact.unwrap();
    assert!(exact > 2.0, "CPU {exact:.1}%");
    let mean = w.cpu_pct.unwrap().mean;
    assert!(
        (mean - exact).abs() < 5.0,
        "samples {mean:.1}% vs window {exact:.1}%"
    );
    assert!(w.mem_mib.unwrap().max > 32.0);
}

/// Kills a process group when dropped, whatever the test's outcome.
struct KillGroup(u32);

impl Drop for KillGroup {
    fn drop(&mut self) {
        // SAFETY: kill has no memory preconditions; the group is the test's own child's.
        unsafe { libc::kill(-(self.0 as i32), libc::SIGKILL) };
    }
}

/// A service started the way many are, by a shell that runs it as a child: the sampler on the
/// shell's PID counts the child's CPU and memory (as `docker stats` counts a whole container),
/// where the shell alone holds neither.
#[tokio::test]
async fn procfs_sampler_counts_a_service_that_runs_under_a_shell() {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let (program, args, env) = testkit::helper::command(&format!("127.0.0.1:{port}"));
    let mut shell = Command::new("sh")
        .args(["-c", "\"$0\" \"$@\" & wait"])
        .arg(program)
        .args(args)
        .envs(env)
        .env("TB_HELPER_BURN_PCT", "30")
        .env("TB_HELPER_ALLOC_MB", "32")
        .stdout(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = shell.id();
    let group = KillGroup(pid);
    assert!(wait_http(port, Duration::from_secs(30)));
    let children = Command::new("ps")
        .args(["-o", "pid=", "--ppid", &pid.to_string()])
        .output()
        .unwrap();
    let child: u32 = String::from_utf8_lossy(&children.stdout)
        .trim()
        .parse()
        .expect("one child");
    // The shell and its child both listed (as a scenario's `pids` may): each counted once.
    let sources = [Source::Process {
        service: "helper".into(),
        pids: vec![pid, child],
    }];
    let sampler = Sampler::start(&sources, Duration::from_millis(500), None).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let series = sampler.stop().await.unwrap().remove(0);
    let shell_alone = procfs::read(pid).unwrap();
    let tree = procfs::read_tree(&[pid]).unwrap();
    let (child_rss, _) = ps(child);
    drop(group);
    shell.wait().unwrap();

    let w = WindowSummary::of(&series, 0, i64::MAX);
    let exact = w.cpu_pct_exact.unwrap();
    assert!(exact > 2.0, "CPU {exact:.1}%: the child's burn is counted");
    let max_mib = w.mem_mib.unwrap().max;
    assert!(max_mib > 32.0, "the child's 32 MiB are counted");
    assert!(
        max_mib * 1048576.0 < (child_rss + shell_alone.rss_bytes) as f64 * 1.3,
        "{max_mib} MiB: the child counted twice?"
    );
    assert!(
        shell_alone.rss_bytes < 32 * 1048576 && shell_alone.cpu_seconds < 0.05,
        "the shell alone: {shell_alone:?}"
    );
    // The tree holds the child as ps sees it, and the shell on top.
    assert!(
        tree.rss_bytes as f64 >= child_rss as f64 * 0.99 + shell_alone.rss_bytes as f64 * 0.9,
        "tree {tree:?}, child {child_rss} (ps), shell {shell_alone:?}"
    );
}

/// The burner's share of a core, and how far a window's CPU may be from an independent reading
/// of the same window.
const BURN_PCT: f64 = 3.0;
const WITHIN_PP: f64 = 0.1;

/// A process's time on CPU from the kernel's scheduler statistics, summed over its threads, ns:
/// a second counter, independent of the one under test.
fn schedstat_ns(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// A window's CPU against what another counter read at the same edges says: equal within
/// [`WITHIN_PP`]. Not against [`BURN_PCT`] itself: under the test suite the burner may get less
/// than its share (or catch up on it), which both counters must still agree on.
fn assert_window(w: &WindowCpu, counters: &[CpuCounter], other_pct: f64, other: &str) {
    eprintln!(
        "burner: {:.3}% of a core from {}, {other_pct:.3}% from {other}",
        w.pct, w.counter
    );
    assert!(counters.contains(&w.counter), "{w:?}");
    assert!(
        (w.pct - other_pct).abs() <= WITHIN_PP,
        "{:.3}% from {} against {other_pct:.3}% from {other} ({w:?})",
        w.pct,
        w.counter
    );
    assert!(w.pct > 0.0, "the burner did not run: {w:?}");
}

/// A process using 3.0% of a core (against its own CPU clock) over windows of 3 and 4 s: its CPU
/// clock read at the edges agrees with its threads' scheduler statistics within 0.1 pp. On a
/// quiet machine both read 3.0 ± 0.1 (scripts/bench/burner.toml, README); under the test suite
/// the burner may get less than its share, which the counters must still agree on.
#[tokio::test]
async fn the_window_cpu_of_a_known_burner_process_is_exact() {
    let port = free_port();
    let (program, args, env) = testkit::helper::command(&format!("127.0.0.1:{port}"));
    let mut child = Command::new(program)
        .args(args)
        .envs(env)
        .env("TB_HELPER_BURN_PCT", BURN_PCT.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_http(port, Duration::from_secs(30)));
    let pid = child.id();
    let sources = [Source::Process {
        service: "burner".into(),
        pids: vec![pid],
    }];
    let reader = EdgeReader::resolve(&sources, None).await.unwrap();
    for length in [3000, 4000] {
        let (start, sched_start) = (reader.read().await.unwrap()[0], schedstat_ns(pid));
        tokio::time::sleep(Duration::from_millis(length)).await;
        let (end, sched_end) = (reader.read().await.unwrap()[0], schedstat_ns(pid));
        let w = WindowCpu::between(&start, &end).unwrap();
        let sched_pct =
            (sched_end - sched_start) as f64 / 1e9 / end.at.duration_since(start.at).as_secs_f64()
                * 100.0;
        assert_window(&w, &[CpuCounter::ProcessClock], sched_pct, "schedstat");
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The same burner in a container: its cgroup's counter and the daemon's stats (the fallback)
/// read at the same edges agree within 0.1 pp.
#[tokio::test]
async fn the_window_cpu_of_a_known_burner_container_is_exact() {
    let test = "the_window_cpu_of_a_known_burner_container_is_exact";
    let Some(docker) = docker_or_skip(test).await else {
        return;
    };
    // Not `one_service`: its health check runs bash in the container every 300 ms, CPU that
    // the container's cgroup rightly counts (4-5% of a core here).
    let name = unique("tb-burn");
    let _cleanup = Cleanup {
        containers: vec![name.clone()],
        networks: Vec::new(),
    };
    let run = Command::new("docker")
        .args(["run", "-d", "--no-healthcheck", "--name", &name])
        .args(["-e", "TB_HELPER_LISTEN=127.0.0.1:8080", "-e"])
        .arg(format!("TB_HELPER_BURN_PCT={BURN_PCT}"))
        .arg(testkit::helper::image(IMAGE))
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sources = [Source::Container {
        service: name.clone(),
        container: name.clone(),
    }];
    let reader = EdgeReader::resolve(&sources, Some(&docker)).await.unwrap();
    let daemon = || docker_stats::total_usage_ns(&docker, &name);
    let (start, daemon_start) = (reader.read().await.unwrap()[0], daemon().await.unwrap());
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (end, daemon_end) = (reader.read().await.unwrap()[0], daemon().await.unwrap());
    let cgroup = WindowCpu::between(&start, &end).unwrap();
    // The daemon reads the same counter, a few milliseconds after ours at each edge.
    let daemon_pct =
        (daemon_end - daemon_start) as f64 / 1e9 / end.at.duration_since(start.at).as_secs_f64()
            * 100.0;
    assert_window(
        &cgroup,
        &[CpuCounter::CgroupV2, CpuCounter::CgroupV1],
        daemon_pct,
        "docker stats",
    );
}
