//! The process target: each service is a local command, started with the mode's overrides.
//!
//! Output goes to `<run dir>/<service>.log` (appended, one header line per start) so a failed
//! start can be diagnosed after the run. Services start in the order given and each must be ready
//! before the next starts, so a gateway comes up after the service it calls. Stopping sends SIGTERM
//! (the demo services flush their spans on it) and SIGKILL after a grace period, to the service's
//! whole process group, so a wrapper script's children stop too; a service is also killed when
//! tracebench dies, even by SIGKILL (Linux's parent-death signal), so no run leaves one behind.
//! Services do not inherit tracebench's Tempo credentials (`TEMPO_*` and the scenario's
//! `token_env`): a scenario that wants a service to have one sets it in the service's `env`.
//! Each spawn is announced in the run's journal and each process group recorded, so that what a
//! wrapper left in the group after tracebench was killed can be ended by recovery (`end_group`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use super::journal::{Entry, Journal};
use super::{ModeEnv, NotReady, Readiness};
use crate::resources::{Source, procfs};
use crate::scenario::ServiceRuns;

/// How to run one service.
#[derive(Debug, Clone)]
pub struct ServiceCommand {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Base environment (added to tracebench's own); the mode's overrides win over it.
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
    pub readiness: Readiness,
}

pub struct ProcessTarget {
    services: Vec<ServiceCommand>,
    run_dir: PathBuf,
    /// How long one service may take to become ready.
    pub ready_timeout: Duration,
    /// How long a service has after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
    /// Variables of tracebench's environment the services do not inherit, besides `TEMPO_*`.
    pub withheld_env: Vec<String>,
    running: Vec<Running>,
    pub(super) journal: Option<Journal>,
}

struct Running {
    name: String,
    child: Child,
}

const LOG_TAIL_LINES: usize = 20;

impl ProcessTarget {
    pub fn new(services: Vec<ServiceCommand>, run_dir: PathBuf) -> ProcessTarget {
        ProcessTarget {
            services,
            run_dir,
            ready_timeout: Duration::from_secs(30),
            stop_grace: Duration::from_secs(5),
            withheld_env: Vec::new(),
            running: Vec::new(),
            journal: None,
        }
    }

    /// Announces every spawn and stop in `journal` and records every process group.
    pub fn with_journal(mut self, journal: Journal) -> ProcessTarget {
        self.journal = Some(journal);
        self
    }

    pub(super) async fn apply(
        &mut self,
        mode: &ModeEnv,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        self.stop_all().await?;
        std::fs::create_dir_all(&self.run_dir)
            .with_context(|| format!("creating the run directory {}", self.run_dir.display()))?;
        for service in self.services.clone() {
            if cancel.is_cancelled() {
                return Ok(());
            }
            let started = self.start(&service, mode, cancel).await;
            if let Err(err) = started {
                // Leave nothing half-started behind; the caller's restore is then a no-op.
                let _ = self.stop_all().await;
                return Err(err);
            }
        }
        Ok(())
    }

    /// Spawns the service (kept in `running` at once, for restore) and waits until it is ready
    /// or `cancel` fires.
    async fn start(
        &mut self,
        service: &ServiceCommand,
        mode: &ModeEnv,
        cancel: &CancellationToken,
    ) -> anyhow::Result<()> {
        let log_path = self.log_path(&service.name);
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        use std::io::Write;
        writeln!(
            log,
            "---- tracebench: starting in mode '{}' ----",
            mode.mode
        )?;
        let mut command = self.command(service, mode, log)?;
        if let Some(journal) = &mut self.journal {
            journal.step(format!("spawn {} in mode {}", service.name, mode.mode))?;
        }
        let child = command.spawn().with_context(|| {
            format!(
                "service '{}': cannot start '{}'",
                service.name,
                command.as_std().get_program().to_string_lossy()
            )
        })?;
        let leader = child
            .id()
            .and_then(|pid| Some((pid, procfs::group_and_start(pid)?)));
        if let (Some(journal), Some((pid, (_, start_ticks)))) = (&mut self.journal, leader) {
            journal.write(&Entry::Process {
                service: service.name.clone(),
                pid,
                start_ticks,
            })?;
        }
        self.running.push(Running {
            name: service.name.clone(),
            child,
        });
        let Some(running) = self.running.last_mut() else {
            unreachable!("just pushed")
        };
        let ready = service.readiness.wait(self.ready_timeout, async || {
            match running.child.try_wait() {
                Ok(None) => Ok(()),
                Ok(Some(status)) => Err(format!("it exited ({status})")),
                Err(err) => Err(format!("cannot check whether it runs: {err}")),
            }
        });
        let waited = tokio::select! {
            waited = ready => waited,
            () = cancel.cancelled() => return Ok(()),
        };
        waited.map_err(|reason| {
            NotReady {
                service: service.name.clone(),
                reason,
                log_tail: log_tail(&log_path, LOG_TAIL_LINES),
            }
            .into()
        })
    }

    /// The service's command in the mode: its own process group, output to `log`, killed with
    /// tracebench, without the withheld variables.
    fn command(
        &self,
        service: &ServiceCommand,
        mode: &ModeEnv,
        log: std::fs::File,
    ) -> anyhow::Result<Command> {
        let (program, args) = match mode.runs.get(&service.name) {
            Some(ServiceRuns::Command(c)) => (&c.program, &c.args),
            _ => (&service.program, &service.args),
        };
        let mut command = Command::new(program);
        for (name, _) in std::env::vars_os() {
            let secret = name.to_str().is_some_and(|n| {
                n.starts_with("TEMPO_") || self.withheld_env.iter().any(|w| w == n)
            });
            if secret {
                command.env_remove(name);
            }
        }
        command
            .args(args)
            .envs(&service.env)
            .envs(mode.for_service(&service.name))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true);
        die_with_this_process(&mut command);
        if let Some(cwd) = &service.cwd {
            command.current_dir(cwd);
        }
        Ok(command)
    }

    pub(super) async fn restore(&mut self) -> anyhow::Result<()> {
        self.stop_all().await
    }

    pub(super) fn sources(&self) -> Vec<Source> {
        self.running
            .iter()
            .filter_map(|r| {
                Some(Source::Process {
                    service: r.name.clone(),
                    pids: vec![r.child.id()?],
                })
            })
            .collect()
    }

    /// The file a service's output goes to.
    pub fn log_path(&self, service: &str) -> PathBuf {
        self.run_dir.join(format!("{service}.log"))
    }

    /// Stops services in reverse start order (callers before the services they call).
    async fn stop_all(&mut self) -> anyhow::Result<()> {
        let mut failures = Vec::new();
        while let Some(mut running) = self.running.pop() {
            if let Some(journal) = &mut self.journal {
                journal.step(format!("stop {}", running.name))?;
            }
            if let Err(err) = stop(&mut running.child, self.stop_grace).await {
                failures.push(format!("{}: {err:#}", running.name));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("could not stop: {}", failures.join("; "))
        }
    }
}

/// The service gets SIGKILL when tracebench's process ends, however it ends.
#[cfg(target_os = "linux")]
fn die_with_this_process(command: &mut Command) {
    // Only the thread that forked counts as the parent for PR_SET_PDEATHSIG, and runtime threads
    // come and go: the signal is tied to the process by checking, after setting it, that the
    // parent is still this process (it may have died between fork and prctl).
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and calls only async-signal-safe
    // functions (prctl, getppid, _exit), allocating nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_this_process(_command: &mut Command) {}

/// SIGTERM to the service's process group, then SIGKILL to it if the service is still running
/// after `grace`.
async fn stop(child: &mut Child, grace: Duration) -> anyhow::Result<()> {
    let Some(pid) = child.id() else {
        return Ok(());
    };
    let group = libc::pid_t::try_from(pid).context("PID out of range")?;
    // SAFETY: kill has no memory preconditions; the group is our own child's (process_group(0)),
    // and the child is not yet reaped, so its ID cannot have been reused.
    unsafe { libc::kill(-group, libc::SIGTERM) };
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        // SAFETY: as above.
        unsafe { libc::kill(-group, libc::SIGKILL) };
        child
            .wait()
            .await
            .context("waiting for the killed service")?;
    }
    // What the service left in its group (a wrapper's children) goes with it.
    // SAFETY: as above: while a member remains, Linux keeps the group's ID from reuse, and with
    // none left this is a harmless ESRCH.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    Ok(())
}

/// Ends what is left of a service's process group after the run that spawned it died: SIGTERM to
/// each member, SIGKILL after [`RECOVERY_GRACE`] to what remains. The group is the one whose
/// leader `pid` started at `start_ticks`: while a process holds `pid` with another start time, it
/// is someone else's, left alone. Returns what it did (nothing when the group is gone).
pub(super) async fn end_group(service: &str, pid: u32, start_ticks: u64) -> Vec<String> {
    if procfs::group_and_start(pid).is_some_and(|(_, start)| start != start_ticks) {
        return Vec::new();
    }
    let members = || -> Vec<u32> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&p| {
                procfs::group_and_start(p)
                    .is_some_and(|(group, start)| group == pid && start >= start_ticks)
            })
            .collect()
    };
    let signal = |members: &[u32], signal| {
        for &member in members {
            // SAFETY: kill has no memory preconditions; each member was just read from /proc as
            // a live process of the group.
            unsafe { libc::kill(member as libc::pid_t, signal) };
        }
    };
    let found = members();
    if found.is_empty() {
        return Vec::new();
    }
    signal(&found, libc::SIGTERM);
    let deadline = tokio::time::Instant::now() + RECOVERY_GRACE;
    while tokio::time::Instant::now() < deadline && !members().is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(&members(), libc::SIGKILL);
    vec![format!(
        "ended service '{service}': {} process(es) of group {pid}",
        found.len()
    )]
}

/// How long a left-over service has after SIGTERM before SIGKILL, in recovery.
const RECOVERY_GRACE: Duration = Duration::from_secs(5);

/// The last `n` lines of a file (empty if unreadable).
fn log_tail(path: &std::path::Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}
