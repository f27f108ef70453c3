//! The journal of what a run does to its target, so that the target can be put back from any
//! point, even after tracebench was killed with SIGKILL.
//!
//! It is `journal.jsonl` in the run directory, one JSON entry per line, each flushed to disk
//! (`fdatasync`) before the step it announces: first who writes it, then every container as it
//! was before the run (what restore returns to), then each step about to be taken (a Docker call,
//! a process spawned, a phase of the run) and each process spawned, and last `restored`. A per-host
//! pointer (beside the run lock, see `run::lock`) names the journal of the run in progress on a
//! target; it is removed once the journal says `restored`, so a pointer left behind means a run
//! died: the next run on that target, or `tracebench restore`, recovers it ([`recover`]).
//!
//! Recovery does not undo the steps one by one: it brings the target to the recorded original
//! state whatever was done (remove every container labelled with the run's label, rename each
//! original back, start it only if it ran before the run; kill what is left of each spawned
//! process group), so a step that was announced but never happened, or happened twice, does no
//! harm. The steps say how far the run got.
//!
//! `TRACEBENCH_FAULT=<signal>@<entry>[+<ms>]` (for the fault-injection tests) makes tracebench
//! send itself `signal` (`kill`, `int` or `term`) once the `entry`-th line (a number, or the
//! first step starting with that text) is on disk, after `ms` milliseconds if given.

use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::error::UsageError;

/// The journal's file name in a run directory.
pub const FILE_NAME: &str = "journal.jsonl";
/// The environment variable of the fault-injection hook.
pub const FAULT_VAR: &str = "TRACEBENCH_FAULT";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
pub enum Entry {
    /// The first line: the run that writes it and the target it changes.
    Begin {
        pid: u32,
        started: String,
        /// The address the run loads: the key of its lock.
        target: String,
        /// The value of the `tracebench.run` label on every container this run creates.
        run_label: String,
    },
    /// A container as it was before the run.
    Container(Original),
    /// A step about to be taken.
    Step { step: String },
    /// A service spawned as the leader of its own process group.
    Process {
        service: String,
        pid: u32,
        /// Its start time in clock ticks since boot, to tell it from a later process with its ID.
        start_ticks: u64,
    },
    /// The target is back as it was.
    Restored,
}

/// A container as it was before the run: what restore returns to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Original {
    pub service: String,
    /// Its name, without the leading '/'.
    pub name: String,
    pub id: String,
    /// Whether it was running (a container stopped before the run stays stopped).
    pub running: bool,
}

/// An open journal, appended to as the run goes.
pub struct Journal {
    path: PathBuf,
    file: File,
    /// The per-host pointer to this journal, removed once the target is restored.
    pointer: Option<PathBuf>,
    run_label: String,
    lines: u64,
    fault: Option<Fault>,
}

impl Journal {
    /// Starts `dir/journal.jsonl` for a run on `target`, and writes `pointer` (when given) to
    /// name it. Reads the fault-injection hook from the environment.
    pub fn create(dir: &Path, target: &str, pointer: Option<PathBuf>) -> Result<Journal> {
        let fault = match std::env::var(FAULT_VAR) {
            Ok(spec) => Some(Fault::parse(&spec)?),
            Err(_) => None,
        };
        let path = dir.join(FILE_NAME);
        let file = File::options()
            .create_new(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("creating the journal {}", path.display()))?;
        let run_label = crate::load::new_run_id();
        let mut journal = Journal {
            path,
            file,
            pointer: None,
            run_label: run_label.clone(),
            lines: 0,
            fault,
        };
        journal.write(&Entry::Begin {
            pid: std::process::id(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            target: target.to_string(),
            run_label,
        })?;
        if let Some(pointer) = pointer {
            let absolute = std::path::absolute(&journal.path)?;
            write_durably(&pointer, absolute.display().to_string().as_bytes())
                .with_context(|| format!("writing the journal pointer {}", pointer.display()))?;
            journal.pointer = Some(pointer);
        }
        Ok(journal)
    }

    /// Appends `entry` and flushes it to disk before returning.
    pub fn write(&mut self, entry: &Entry) -> Result<()> {
        let mut line = serde_json::to_string(entry)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("writing the journal {}", self.path.display()))?;
        self.lines += 1;
        if let Some(fault) = &self.fault
            && fault.due(self.lines, entry)
        {
            fault.fire();
        }
        Ok(())
    }

    /// Announces a step.
    pub fn step(&mut self, step: impl Into<String>) -> Result<()> {
        self.write(&Entry::Step { step: step.into() })
    }

    /// The label value of this run's containers.
    pub fn run_label(&self) -> &str {
        &self.run_label
    }

    /// Records that the target is back as it was, and removes the pointer.
    pub fn restored(&mut self) -> Result<()> {
        self.write(&Entry::Restored)?;
        if let Some(pointer) = self.pointer.take() {
            remove_pointer(&pointer)?;
        }
        Ok(())
    }
}

/// Reads a journal. A last line cut short (the writer died in the middle of it) is left out:
/// its step had not begun.
pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let lines: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", path.display()))?;
    let mut entries = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(entry) => entries.push(entry),
            Err(_) if i + 1 == lines.len() => {}
            Err(err) => anyhow::bail!("{} line {}: {err}", path.display(), i + 1),
        }
    }
    if !matches!(entries.first(), Some(Entry::Begin { .. })) {
        anyhow::bail!("{} is not a tracebench journal", path.display());
    }
    Ok(entries)
}

/// The journal a pointer names, `None` when there is no pointer.
pub fn pointed(pointer: &Path) -> Result<Option<PathBuf>> {
    match std::fs::read_to_string(pointer) {
        Ok(text) => Ok(Some(PathBuf::from(text.trim()))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err).with_context(|| format!("reading {}", pointer.display())),
    }
}

/// Removes a pointer (gone already is fine).
pub fn remove_pointer(pointer: &Path) -> Result<()> {
    match std::fs::remove_file(pointer) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err).with_context(|| format!("removing {}", pointer.display())),
    }
}

/// Puts back the target of the journal at `path` as it was before its run, unless it says it
/// is already; then records `restored`. Returns what was done, one line per action. The caller
/// holds the target's lock, so the run that wrote the journal is not running.
pub async fn recover(path: &Path) -> Result<Vec<String>> {
    let entries = read(path)?;
    if entries.last() == Some(&Entry::Restored) {
        return Ok(Vec::new());
    }
    let Some(Entry::Begin { run_label, .. }) = entries.first() else {
        unreachable!("read checks the first entry")
    };
    let originals: Vec<Original> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Container(original) => Some(original.clone()),
            _ => None,
        })
        .collect();
    let mut done = Vec::new();
    for entry in &entries {
        if let Entry::Process {
            service,
            pid,
            start_ticks,
        } = entry
        {
            done.extend(super::process::end_group(service, *pid, *start_ticks).await);
        }
    }
    if !originals.is_empty() {
        let docker = super::docker::connect().await?;
        done.extend(super::docker::put_back(&docker, &originals, run_label, &mut None).await?);
    }
    let mut file = File::options()
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    // A line the dead run left cut short is ended first, so `restored` stands on its own line.
    file.write_all(b"\n")?;
    let mut line = serde_json::to_string(&Entry::Restored)?;
    line.push('\n');
    file.write_all(line.as_bytes())?;
    file.sync_data()?;
    Ok(done)
}

/// Writes `path` through a temporary file and a rename, so it is whole or absent.
fn write_durably(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The fault-injection hook: a signal sent to this process at one entry of the journal.
#[derive(Debug, Clone, PartialEq)]
struct Fault {
    signal: libc::c_int,
    at: FaultPoint,
    delay: Duration,
}

#[derive(Debug, Clone, PartialEq)]
enum FaultPoint {
    /// The n-th line (from 1).
    Line(u64),
    /// The first step whose text starts with this.
    Step(String),
}

impl Fault {
    fn parse(spec: &str) -> Result<Fault> {
        let bad = || {
            UsageError(format!(
                "{FAULT_VAR}={spec:?}: expected <kill|int|term>@<line number or step>[+<ms>]"
            ))
        };
        let (signal, rest) = spec.split_once('@').ok_or_else(bad)?;
        let signal = match signal {
            "kill" => libc::SIGKILL,
            "int" => libc::SIGINT,
            "term" => libc::SIGTERM,
            _ => return Err(bad().into()),
        };
        let (at, delay) = match rest.rsplit_once('+') {
            Some((at, ms)) => (at, ms.parse().map_err(|_| bad())?),
            None => (rest, 0),
        };
        let at = match at.parse() {
            Ok(n) => FaultPoint::Line(n),
            Err(_) if !at.is_empty() => FaultPoint::Step(at.to_string()),
            Err(_) => return Err(bad().into()),
        };
        Ok(Fault {
            signal,
            at,
            delay: Duration::from_millis(delay),
        })
    }

    fn due(&self, line: u64, entry: &Entry) -> bool {
        match (&self.at, entry) {
            (FaultPoint::Line(n), _) => *n == line,
            (FaultPoint::Step(text), Entry::Step { step }) => step.starts_with(text.as_str()),
            _ => false,
        }
    }

    fn fire(&self) {
        let (signal, delay) = (self.signal, self.delay);
        let send = move || {
            std::thread::sleep(delay);
            // SAFETY: kill has no memory preconditions; the target is this process.
            unsafe { libc::kill(libc::getpid(), signal) };
        };
        if delay.is_zero() {
            send();
        } else {
            std::thread::spawn(send);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_and_a_last_line_cut_short_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let pointer = dir.path().join("target.journal");
        let mut journal =
            Journal::create(dir.path(), "127.0.0.1:8080", Some(pointer.clone())).expect("created");
        let original = Original {
            service: "gw".into(),
            name: "gw-1".into(),
            id: "abc".into(),
            running: false,
        };
        journal.write(&Entry::Container(original.clone())).unwrap();
        journal.step("stop gw-1").unwrap();
        let path = dir.path().join(FILE_NAME);
        assert_eq!(pointed(&pointer).unwrap(), Some(path.clone()));
        // The writer dies in the middle of a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"entry\":\"st")
            .unwrap();
        let entries = read(&path).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[1], Entry::Container(original));
        assert_eq!(
            entries[2],
            Entry::Step {
                step: "stop gw-1".into()
            }
        );
        assert!(matches!(&entries[0], Entry::Begin { target, run_label, .. }
                if target == "127.0.0.1:8080" && run_label == journal.run_label()));
        journal.restored().unwrap();
        assert_eq!(pointed(&pointer).unwrap(), None, "pointer removed");
    }

    #[test]
    fn a_torn_line_in_the_middle_is_an_error_and_a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "{\"entry\":\"restored\"}\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("not a tracebench journal"), "{err}");
        std::fs::write(&path, "{\"entry\":\"be\n{\"entry\":\"restored\"}\n").unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn recovering_a_restored_journal_does_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), "127.0.0.1:1", None).unwrap();
        journal.restored().unwrap();
        let done = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(recover(&dir.path().join(FILE_NAME)))
            .unwrap();
        assert!(done.is_empty());
    }

    #[test]
    fn fault_specs_parse_or_name_the_variable() {
        assert_eq!(
            Fault::parse("kill@7").unwrap(),
            Fault {
                signal: libc::SIGKILL,
                at: FaultPoint::Line(7),
                delay: Duration::ZERO
            }
        );
        assert_eq!(
            Fault::parse("int@measure off+500").unwrap(),
            Fault {
                signal: libc::SIGINT,
                at: FaultPoint::Step("measure off".into()),
                delay: Duration::from_millis(500)
            }
        );
        for bad in ["kill", "hup@3", "kill@", "int@3+x"] {
            let err = Fault::parse(bad).unwrap_err().to_string();
            assert!(err.contains(FAULT_VAR), "{bad}: {err}");
        }
        let step = Entry::Step {
            step: "measure off at 50 rps".into(),
        };
        let fault = Fault::parse("kill@measure").unwrap();
        assert!(fault.due(9, &step) && !fault.due(9, &Entry::Restored));
    }
}
