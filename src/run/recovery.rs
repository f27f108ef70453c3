//! Putting back a target that a dead run left changed: when the next run on it takes its lock,
//! and on demand with `tracebench restore [RUN_DIR]`. The journal says what the target was
//! (`control::journal`); the lock makes sure the run that wrote it is gone.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::lock::{self, RunLock};
use crate::control::journal::{self, Entry};
use crate::error::UsageError;

/// What one recovery did.
#[derive(Debug)]
pub struct Recovered {
    /// The journal it followed.
    pub journal: PathBuf,
    /// One line per action; empty when the target was already back.
    pub actions: Vec<String>,
}

/// If the run that held `lock` before died with its target changed, puts that target back.
pub async fn after_dead_run(lock: &RunLock) -> Result<Option<Recovered>> {
    let pointer = lock.journal_pointer();
    let Some(journal) = journal::pointed(&pointer)? else {
        return Ok(None);
    };
    let recovered = recover(&journal).await?;
    journal::remove_pointer(&pointer)?;
    Ok(Some(recovered))
}

/// `tracebench restore`: puts back the target of the run in `run_dir`, or of every run that died
/// with its target changed. A run still going is refused ([`lock::Busy`]), nothing touched.
pub async fn restore(state: &Path, run_dir: Option<&Path>) -> Result<Vec<Recovered>> {
    if let Some(dir) = run_dir {
        let path = dir.join(journal::FILE_NAME);
        if !path.exists() {
            return Err(UsageError(format!(
                "{} holds no {}: not the run directory of a run on a process or docker target \
                 (an external target's run changes nothing to restore)",
                dir.display(),
                journal::FILE_NAME
            ))
            .into());
        }
        return Ok(vec![restore_run(state, &path).await?]);
    }
    let mut recovered = Vec::new();
    for pointer in lock::journal_pointers(state)? {
        let Some(path) = journal::pointed(&pointer)? else {
            continue;
        };
        if path.exists() {
            recovered.push(restore_run(state, &path).await?);
        } else {
            // Its run directory was deleted: nothing to follow (a docker target's next run still
            // finds containers set aside, by their names).
            journal::remove_pointer(&pointer)?;
            recovered.push(Recovered {
                journal: path,
                actions: vec![
                    "the journal is gone (its run directory was deleted): nothing to follow; \
                     its pointer removed"
                        .to_string(),
                ],
            });
        }
    }
    Ok(recovered)
}

/// Puts back the target of one journal, holding its target's lock meanwhile.
async fn restore_run(state: &Path, path: &Path) -> Result<Recovered> {
    let entries = journal::read(path)?;
    let Some(Entry::Begin { target, .. }) = entries.first() else {
        unreachable!("read checks the first entry")
    };
    let run_dir = path.parent().unwrap_or(Path::new("."));
    let lock = RunLock::take(state, target, run_dir, Path::new("tracebench restore"))?;
    // The pointer goes only if it names this journal: a later run may have left its own.
    let pointer = lock.journal_pointer();
    let pointed = journal::pointed(&pointer)?;
    let recovered = recover(path).await?;
    if pointed.is_some_and(|p| same_file(&p, path)) {
        journal::remove_pointer(&pointer)?;
    }
    Ok(recovered)
}

async fn recover(journal: &Path) -> Result<Recovered> {
    let actions = journal::recover(journal).await.with_context(|| {
        format!(
            "putting back the target of the run whose journal is {}; once the cause is fixed, \
             run `tracebench restore {}`",
            journal.display(),
            journal.parent().unwrap_or(Path::new(".")).display()
        )
    })?;
    Ok(Recovered {
        journal: journal.to_path_buf(),
        actions,
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_directory_without_a_journal_is_a_usage_error_and_no_pointer_is_nothing_to_do() {
        let state = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = restore(state.path(), Some(dir.path())).await.unwrap_err();
        assert!(err.is::<UsageError>(), "{err:#}");
        assert!(err.to_string().contains(journal::FILE_NAME), "{err:#}");
        assert!(restore(state.path(), None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_pointer_to_a_deleted_run_directory_is_dropped_and_said() {
        let state = tempfile::tempdir().unwrap();
        let run = tempfile::tempdir().unwrap();
        let lock =
            RunLock::take(state.path(), "127.0.0.1:9", run.path(), Path::new("s.toml")).unwrap();
        let pointer = lock.journal_pointer();
        drop(lock);
        journal::Journal::create(run.path(), "127.0.0.1:9", Some(pointer.clone())).unwrap();
        drop(run);
        let recovered = restore(state.path(), None).await.unwrap();
        assert_eq!(recovered.len(), 1);
        assert!(recovered[0].actions[0].contains("journal is gone"));
        assert!(!pointer.exists());
    }
}
