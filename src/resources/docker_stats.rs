//! Container CPU and memory from the daemon's stats stream, computed exactly as the docker CLI does
//! (`cli/command/container/stats_helpers.go`), so figures line up with what users see in
//! `docker stats`.

use bollard::Docker;
use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptionsBuilder;
use futures::StreamExt;

use super::Sample;

/// Turns one stats document into a sample and the memory limit. CPU needs `precpu_stats` (absent
/// from the stream's first document): without it, CPU is "no sample" rather than the CLI's 0.
pub fn sample_from_stats(stats: &ContainerStatsResponse) -> (Sample, Option<u64>) {
    let unix_ms = stats
        .read
        .as_ref()
        .and_then(|read| chrono::DateTime::parse_from_rfc3339(&read.to_string()).ok())
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(super::now_unix_ms);
    let total_usage_ns = stats
        .cpu_stats
        .as_ref()
        .and_then(|cpu| cpu.cpu_usage.as_ref())
        .and_then(|usage| usage.total_usage);
    let memory = stats.memory_stats.as_ref();
    let sample = Sample {
        unix_ms,
        cpu_pct: cpu_percent(stats),
        mem_bytes: memory.and_then(memory_without_cache),
        cpu_seconds: total_usage_ns.map(|ns| ns as f64 / 1e9),
    };
    (sample, memory.and_then(|m| m.limit))
}

/// `calculateCPUPercentUnix`: container CPU delta over system CPU delta, times online CPUs (or the
/// length of `percpu_usage`), times 100; 0 unless both deltas are positive.
fn cpu_percent(stats: &ContainerStatsResponse) -> Option<f64> {
    let cpu = stats.cpu_stats.as_ref()?;
    let pre = stats.precpu_stats.as_ref()?;
    let total = cpu.cpu_usage.as_ref()?.total_usage? as f64;
    let pre_total = pre.cpu_usage.as_ref()?.total_usage? as f64;
    let system = cpu.system_cpu_usage? as f64;
    let pre_system = pre.system_cpu_usage.filter(|&s| s > 0)? as f64;
    let online = match cpu.online_cpus {
        Some(n) if n > 0 => f64::from(n),
        _ => cpu
            .cpu_usage
            .as_ref()
            .and_then(|u| u.percpu_usage.as_ref())
            .map_or(0.0, |per_cpu| per_cpu.len() as f64),
    };
    let (cpu_delta, system_delta) = (total - pre_total, system - pre_system);
    Some(if cpu_delta > 0.0 && system_delta > 0.0 {
        cpu_delta / system_delta * online * 100.0
    } else {
        0.0
    })
}

/// `calculateMemUsageUnixNoCache`: usage minus `total_inactive_file` (cgroup v1) or
/// `inactive_file` (cgroup v2), each only when smaller than usage.
fn memory_without_cache(memory: &bollard::models::ContainerMemoryStats) -> Option<u64> {
    let usage = memory.usage?;
    let stat = |key: &str| memory.stats.as_ref().and_then(|s| s.get(key).copied());
    if let Some(v1) = stat("total_inactive_file") {
        if v1 < usage {
            return Some(usage - v1);
        }
    }
    match stat("inactive_file") {
        Some(v2) if v2 < usage => Some(usage - v2),
        _ => Some(usage),
    }
}

/// Streams one container's stats (the daemon sends about one document a second) and hands each
/// sample to `push`, until the stream ends (container gone) or the task is dropped.
pub async fn stream(
    docker: &Docker,
    container: &str,
    mut push: impl FnMut(Sample, Option<u64>),
) -> anyhow::Result<()> {
    let options = StatsOptionsBuilder::new()
        .stream(true)
        .one_shot(false)
        .build();
    let mut stats = docker.stats(container, Some(options));
    while let Some(doc) = stats.next().await {
        let doc = doc.map_err(|err| anyhow::anyhow!("stats of container '{container}': {err}"))?;
        let (sample, limit) = sample_from_stats(&doc);
        push(sample, limit);
    }
    Ok(())
}

/// The container's cumulative CPU time now (`cpu_stats.cpu_usage.total_usage`, ns), from one
/// stats document taken without waiting for a second (`one_shot`).
pub async fn total_usage_ns(docker: &Docker, container: &str) -> anyhow::Result<u64> {
    let options = StatsOptionsBuilder::new()
        .stream(false)
        .one_shot(true)
        .build();
    let doc = docker
        .stats(container, Some(options))
        .next()
        .await
        .ok_or_else(|| anyhow::anyhow!("no stats of container '{container}'"))?
        .map_err(|err| anyhow::anyhow!("stats of container '{container}': {err}"))?;
    doc.cpu_stats
        .and_then(|cpu| cpu.cpu_usage?.total_usage)
        .ok_or_else(|| anyhow::anyhow!("the stats of container '{container}' hold no CPU usage"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: serde_json::Value) -> ContainerStatsResponse {
        serde_json::from_value(json).expect("valid stats document")
    }

    #[test]
    fn cpu_and_memory_follow_the_cli_on_cgroup_v2() {
        let stats = doc(serde_json::json!({
            "read": "2026-11-25T10:00:01.000000000Z",
            "cpu_stats": {"cpu_usage": {"total_usage": 3_000_000_000u64}, "system_cpu_usage": 20_000_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000u64}, "system_cpu_usage": 18_000_000_000u64, "online_cpus": 2},
            "memory_stats": {"usage": 10_000_000u64, "limit": 1_000_000_000u64, "stats": {"inactive_file": 4_000_000u64}}
        }));
        let (s, limit) = sample_from_stats(&stats);
        // 0.5 s of container CPU over 2 s of system CPU (both cores), x 2 cores x 100.
        assert_eq!(s.cpu_pct, Some(50.0));
        assert_eq!(s.cpu_seconds, Some(3.0));
        assert_eq!(s.mem_bytes, Some(6_000_000));
        assert_eq!(limit, Some(1_000_000_000));
        assert_eq!(s.unix_ms, 1_795_600_801_000);
    }

    #[test]
    fn cgroup_v1_subtracts_total_inactive_file_and_counts_percpu() {
        let stats = doc(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 200u64, "percpu_usage": [1, 2, 3, 4]}, "system_cpu_usage": 1000u64},
            "precpu_stats": {"cpu_usage": {"total_usage": 100u64}, "system_cpu_usage": 800u64},
            "memory_stats": {"usage": 500u64, "stats": {"total_inactive_file": 100u64, "inactive_file": 50u64}}
        }));
        let (s, _) = sample_from_stats(&stats);
        assert_eq!(s.cpu_pct, Some(100.0 / 200.0 * 4.0 * 100.0));
        assert_eq!(s.mem_bytes, Some(400));
    }

    #[test]
    fn missing_fields_are_no_sample_not_zero() {
        let first = doc(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 200u64}, "system_cpu_usage": 1000u64, "online_cpus": 1},
            "precpu_stats": {"cpu_usage": {}},
            "memory_stats": {}
        }));
        let (s, limit) = sample_from_stats(&first);
        assert_eq!(limit, None);
        assert_eq!(s.cpu_pct, None);
        assert_eq!(s.mem_bytes, None);
        assert_eq!(s.cpu_seconds, Some(200e-9));
        // Idle container: deltas not positive gives the CLI's 0, a real reading.
        let idle = doc(serde_json::json!({
            "cpu_stats": {"cpu_usage": {"total_usage": 100u64}, "system_cpu_usage": 1000u64, "online_cpus": 1},
            "precpu_stats": {"cpu_usage": {"total_usage": 100u64}, "system_cpu_usage": 900u64},
            "memory_stats": {"usage": 10u64, "stats": {"inactive_file": 20u64}}
        }));
        let (s, _) = sample_from_stats(&idle);
        assert_eq!(s.cpu_pct, Some(0.0));
        assert_eq!(s.mem_bytes, Some(10));
    }
}
