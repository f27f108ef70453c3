//! One run at a time per target. Two runs driving the same service would restart each other's
//! services, adopt each other's containers and measure each other's load, so a run first takes
//! a lock named after the address it loads; a second run on that address is refused, naming the
//! holder, before it builds, binds or touches anything.
//!
//! The lock is `flock(2)` on a file in tracebench's state directory: the kernel releases it when
//! the holder's process ends, however it ends, so a run killed by SIGKILL leaves no stale lock,
//! and the next run takes it over. Beside the lock lies the pointer to the journal of the run in
//! progress ([`RunLock::journal_pointer`]); one left behind names a run that died before
//! restoring its target, which whoever takes the lock next recovers (`run::recovery`).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Who holds a lock: written into the lock file once it is taken.
#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    pid: u32,
    run_dir: String,
    started: String,
    scenario: String,
}

/// Another run holds the target's lock: exit 4, nothing changed.
#[derive(Debug, thiserror::Error)]
#[error(
    "another tracebench run is using {target}: {holder}; wait for it to end (its lock: {})",
    path.display()
)]
pub struct Busy {
    target: String,
    holder: String,
    path: PathBuf,
}

/// A taken lock; released when dropped (or when the process ends).
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of `target` (an address such as `127.0.0.1:8080`) in `state` (see
    /// [`state_dir`]) for the run writing to `run_dir`, or returns [`Busy`] naming the run that
    /// holds it.
    pub fn take(state: &Path, target: &str, run_dir: &Path, scenario: &Path) -> Result<RunLock> {
        let dir = state.join("locks");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{}.lock", file_name(target)));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening the lock {}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(err).with_context(|| format!("locking {}", path.display()));
            }
            let mut text = String::new();
            let _ = file.read_to_string(&mut text);
            let holder = match serde_json::from_str::<Holder>(&text) {
                Ok(h) => format!(
                    "PID {} since {}, writing {} ({})",
                    h.pid, h.started, h.run_dir, h.scenario
                ),
                Err(_) => "a run that is just starting".to_string(),
            };
            return Err(Busy {
                target: target.to_string(),
                holder,
                path,
            }
            .into());
        }
        let holder = Holder {
            pid: std::process::id(),
            run_dir: run_dir.display().to_string(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            scenario: scenario.display().to_string(),
        };
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(serde_json::to_string(&holder)?.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(RunLock { _file: file, path })
    }

    /// The file naming the journal of the run holding this lock, while its target is changed.
    pub fn journal_pointer(&self) -> PathBuf {
        self.path.with_extension("journal")
    }
}

/// Every journal pointer in `state` (one per target a run left changed).
pub fn journal_pointers(state: &Path) -> Result<Vec<PathBuf>> {
    let dir = state.join("locks");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("listing {}", dir.display())),
    };
    let mut pointers: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "journal"))
        .collect();
    pointers.sort();
    Ok(pointers)
}

/// Where tracebench keeps state between runs: `$TRACEBENCH_STATE_DIR`, else
/// `$XDG_STATE_HOME/tracebench`, else `~/.local/state/tracebench`, else the temp directory.
pub fn state_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("TRACEBENCH_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("tracebench");
    }
    if let Some(home) = var("HOME") {
        return PathBuf::from(home).join(".local/state/tracebench");
    }
    std::env::temp_dir().join("tracebench-state")
}

/// The lock's file name for an address: `localhost` and `127.0.0.1` are one target.
fn file_name(target: &str) -> String {
    target
        .replace("localhost", "127.0.0.1")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_target_names_the_holder_and_a_dropped_one_is_free_again() {
        let state = tempfile::tempdir().unwrap();
        let take = |target: &str, run_dir: &str| {
            RunLock::take(
                state.path(),
                target,
                Path::new(run_dir),
                Path::new("q.toml"),
            )
        };
        let first = take("127.0.0.1:8080", "/runs/a").unwrap();
        let err = take("localhost:8080", "/runs/b").err().unwrap();
        let text = err.to_string();
        assert!(err.is::<Busy>(), "{text}");
        assert!(
            text.contains(&format!("PID {}", std::process::id())) && text.contains("/runs/a"),
            "{text}"
        );
        // Another address is another target.
        assert!(take("127.0.0.1:8081", "/runs/c").is_ok());
        drop(first);
        assert!(take("127.0.0.1:8080", "/runs/b").is_ok());
    }
}
