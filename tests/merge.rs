//! Several drivers sharing one schedule (`drive --total-rate R --shard i/N --start-at T`) against
//! the demo stack, as local processes and as containers of the offline image (on the host's
//! network, publishing nothing, reaching the demo on 127.0.0.1), and `tracebench merge` of their
//! outputs: the merged histograms are the inputs' values combined, bucket for bucket (read back by
//! Python's `hdrh`, an independent reader), and the shards add up to the total rate, second by
//! second.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use testkit::compose::build_offline_images;
use testkit::demo::{DemoStack, release_bin};
use testkit::run::{tracebench, tracebench_json};
use testkit::target::{Cleanup, docker_or_skip, unique};
use tracebench::load::merge::MergedSummary;

/// The demo stack and the drivers as release builds: a debug build of the demo carries about
/// 1,500 registrations a second on 2 cores, not the 3,000 sent here.
fn release_stack() -> DemoStack {
    DemoStack::start_with(
        &release_bin("demo", "demo-auth"),
        &release_bin("demo", "demo-gateway"),
        &[],
    )
}

/// Where the drivers run.
enum Drivers {
    /// Local processes of the release build.
    Processes,
    /// Containers of `tracebench/tracebench:offline` on the host's network, each writing into the
    /// test's directory through a bind mount; removed by the `Cleanup` when it is dropped.
    Containers(Cleanup),
}

const IMAGE: &str = "tracebench/tracebench:offline";

impl Drivers {
    /// The command that starts driver `i` writing its summary to `json` (a path in `dir`).
    fn command(&mut self, dir: &Path, i: u32, json: &Path) -> Command {
        match self {
            Drivers::Processes => {
                let mut cmd = Command::new(release_bin("tracebench", "tracebench"));
                cmd.arg("drive").arg("--json").arg(json);
                cmd.arg("--hlog").arg(json.with_extension("hlog"));
                cmd
            }
            Drivers::Containers(cleanup) => {
                let name = unique(&format!("tb-shard{i}"));
                cleanup.containers.push(name.clone());
                let file = json.file_name().unwrap().to_string_lossy().into_owned();
                let mut cmd = Command::new("docker");
                cmd.args(["run", "--name", &name, "--network", "host"])
                    .args([
                        "--user",
                        "65534:65534",
                        "--entrypoint",
                        "/usr/local/bin/tracebench",
                    ])
                    .arg("-v")
                    .arg(format!("{}:/out", dir.display()))
                    .args([IMAGE, "drive", "--json", &format!("/out/{file}")])
                    .args([
                        "--hlog",
                        &format!("/out/{}", file.replace(".json", ".hlog")),
                    ]);
                cmd
            }
        }
    }

    /// Time from spawning the drivers to their shared start: `docker run` takes a second or so.
    fn lead(&self) -> Duration {
        match self {
            Drivers::Processes => Duration::from_secs(2),
            Drivers::Containers(_) => Duration::from_secs(6),
        }
    }
}

/// Starts `count` drivers of `total_rate` for `secs` at the gateway, all beginning at one instant
/// a little ahead; returns each one's summary path (its interval log beside it).
fn drive_shards(
    drivers: &mut Drivers,
    stack: &DemoStack,
    dir: &Path,
    total_rate: u32,
    count: u32,
    secs: u32,
) -> Vec<PathBuf> {
    if let Drivers::Processes = drivers {
        // Built first when missing (minutes on a fresh machine): the start time must follow it.
        release_bin("tracebench", "tracebench");
    }
    let start = SystemTime::now() + drivers.lead();
    let start = start
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        .to_string();
    let url = format!("{}/api/auth/register", stack.gateway_url());
    let children: Vec<(PathBuf, Child)> = (0..count)
        .map(|i| {
            let json = dir.join(format!("shard-{i}.json"));
            let child = drivers
                .command(dir, i, &json)
                .args(["--url", &url, "--start-at", &start])
                .args(["--total-rate", &total_rate.to_string()])
                .args(["--shard", &format!("{i}/{count}")])
                .args(["--duration", &format!("{secs}s"), "--slowest", "0"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (json, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(json, child)| {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            json
        })
        .collect()
}

/// `tracebench merge INPUTS... --hlog DIR/merged.hlog`, its merged summary.
fn merge(inputs: &[PathBuf], dir: &Path) -> MergedSummary {
    let hlog = dir.join("merged.hlog");
    let mut args = vec!["merge"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--hlog", hlog.to_str().unwrap()]);
    tracebench_json(&args).1
}

/// Python's `hdrh` sums every interval of the inputs and of the merged log and compares the two
/// histograms bucket by bucket; prints the total count.
const SAME_BUCKETS: &str = r#"
import sys
from hdrh.log import HistogramLogReader
from hdrh.histogram import HdrHistogram
def total(paths):
    h = HdrHistogram(1, 60000000, 3)
    for path in paths:
        reader = HistogramLogReader(path, HdrHistogram(1, 60000000, 3))
        while True:
            i = reader.get_next_interval_histogram()
            if i is None: break
            h.add(i)
    return h
inputs, merged = total(sys.argv[2:]), total([sys.argv[1]])
buckets = lambda h: [(v.value_iterated_to, v.count_at_value_iterated_to) for v in h.get_recorded_iterator()]
assert buckets(inputs) == buckets(merged), "the merged log's buckets differ from the inputs'"
assert inputs.get_total_count() == merged.get_total_count()
print(merged.get_total_count())
"#;

#[test]
fn merging_two_drivers_adds_their_histograms_bucket_for_bucket() {
    let stack = release_stack();
    let dir = tempfile::tempdir().unwrap();
    let inputs = drive_shards(&mut Drivers::Processes, &stack, dir.path(), 200, 2, 3);
    let merged = merge(&inputs, dir.path());
    let logs: Vec<PathBuf> = inputs.iter().map(|p| p.with_extension("hlog")).collect();
    let out = Command::new("python3")
        .args(["-c", SAME_BUCKETS])
        .arg(dir.path().join("merged.hlog"))
        .args(&logs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Python's hdrh (pip install hdrhistogram): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counted: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(counted, merged.completed, "{merged:?}");
    // The merged rates and counts are the shards' sums.
    let sum = |f: fn(&tracebench::load::merge::DriverShare) -> f64| {
        merged.drivers.iter().map(f).sum::<f64>()
    };
    assert_eq!(merged.drivers.len(), 2);
    assert!((merged.achieved_rate - sum(|d| d.achieved_rate)).abs() < 1e-9);
    assert!((merged.requested_rate - 200.0).abs() < 1e-9);
    assert_eq!(merged.completed, 600);
    stack.stop();
}

#[test]
fn three_shards_of_3000_per_second_send_the_whole_rate_in_every_second() {
    let stack = release_stack();
    let dir = tempfile::tempdir().unwrap();
    let inputs = drive_shards(&mut Drivers::Processes, &stack, dir.path(), 3000, 3, 5);
    let merged = merge(&inputs, dir.path());
    assert_the_whole_rate_in_every_second(&merged);
    stack.stop();
}

#[tokio::test]
async fn three_shards_as_containers_on_the_host_network_send_the_whole_rate_in_every_second() {
    let test = "three_shards_as_containers_on_the_host_network_send_the_whole_rate_in_every_second";
    if docker_or_skip(test).await.is_none() {
        return;
    }
    // The image's binary and the demo's come from one release build.
    build_offline_images();
    let stack = release_stack();
    let dir = tempfile::tempdir().unwrap();
    // The containers run as nobody and write into the test's directory.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let mut drivers = Drivers::Containers(Cleanup::default());
    let inputs = drive_shards(&mut drivers, &stack, dir.path(), 3000, 3, 5);
    let Drivers::Containers(cleanup) = &drivers else {
        unreachable!()
    };
    // Each ran on the host's network and published nothing.
    for name in &cleanup.containers {
        let out = Command::new("docker")
            .args(["inspect", "-f"])
            .arg(
                "{{.HostConfig.NetworkMode}} {{json .HostConfig.PortBindings}} {{.State.ExitCode}}",
            )
            .arg(name)
            .output()
            .unwrap();
        let inspected = String::from_utf8_lossy(&out.stdout);
        assert_eq!(inspected.trim(), "host {} 0", "{name}");
    }
    let merged = merge(&inputs, dir.path());
    assert_the_whole_rate_in_every_second(&merged);
    stack.stop();
}

/// Three shards of 3,000 req/s over 5 s, merged: the whole rate (within 1%), no errors or drops,
/// and each second of the window holds all three.
fn assert_the_whole_rate_in_every_second(merged: &MergedSummary) {
    eprintln!("{merged:#?}");
    assert!(
        (merged.achieved_rate - 3000.0).abs() <= 30.0,
        "achieved {} req/s",
        merged.achieved_rate
    );
    assert_eq!(merged.errors + merged.dropped, 0, "{merged:?}");
    // Each of the window's 5 seconds holds all three shards; a sixth, partial interval may hold
    // responses that came after the window, from whichever drivers had them.
    let window: Vec<_> = merged.seconds.iter().filter(|s| s.start_s < 5).collect();
    assert_eq!(window.len(), 5, "{merged:?}");
    for second in window {
        assert_eq!(second.drivers, 3, "second {second:?} of {merged:?}");
    }
    assert!(merged.seconds.len() <= 6, "{merged:?}");
    let counted: u64 = merged.seconds.iter().map(|s| s.count).sum();
    assert_eq!(counted, merged.completed, "{merged:?}");
}

#[test]
fn outputs_whose_windows_do_not_overlap_are_refused() {
    let stack = release_stack();
    let dir = tempfile::tempdir().unwrap();
    let first = drive_shards(&mut Drivers::Processes, &stack, dir.path(), 100, 1, 1).remove(0);
    let moved = dir.path().join("earlier.json");
    std::fs::rename(&first, &moved).unwrap();
    std::fs::rename(first.with_extension("hlog"), moved.with_extension("hlog")).unwrap();
    let second = drive_shards(&mut Drivers::Processes, &stack, dir.path(), 100, 1, 1).remove(0);
    let out = tracebench(&["merge".as_ref(), moved.as_os_str(), second.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("windows do not overlap") && stderr.contains("--start-at"),
        "{stderr}"
    );
    // A summary without its interval log beside it is named.
    std::fs::remove_file(second.with_extension("hlog")).unwrap();
    let out = tracebench(&["merge".as_ref(), second.as_os_str()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("shard-0.hlog") && stderr.contains("--hlog"),
        "{stderr}"
    );
    stack.stop();
}
