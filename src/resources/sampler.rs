//! Runs one sampling task per service in the background and gathers their series.
//!
//! Start it just before a measured window and stop it after; the series keep every sample with its
//! timestamp, so the window (and the warm-up to exclude) is chosen afterwards by [`super::summary`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bollard::Docker;
use tokio::task::JoinHandle;

use super::{ResourceSource, Sample, Series, docker_stats, procfs};

/// What to sample, and under which service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A container, by name or ID, through the daemon's stats stream (one document a second, the
    /// daemon's pace: the sampler's interval does not apply).
    Container { service: String, container: String },
    /// Local processes, each with every process under it, read from /proc every interval as one
    /// service (a process under two of them counts once).
    Process { service: String, pids: Vec<u32> },
}

impl Source {
    pub fn service(&self) -> &str {
        match self {
            Source::Container { service, .. } | Source::Process { service, .. } => service,
        }
    }
}

/// Background samplers, one task per source.
pub struct Sampler {
    series: Arc<Mutex<Vec<Series>>>,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl Sampler {
    /// Starts sampling. `docker` is needed only for container sources.
    pub fn start(
        sources: &[Source],
        interval: Duration,
        docker: Option<&Docker>,
    ) -> anyhow::Result<Sampler> {
        let series = Arc::new(Mutex::new(
            sources
                .iter()
                .map(|source| Series {
                    service: source.service().to_string(),
                    source: match source {
                        Source::Container { .. } => ResourceSource::Docker,
                        Source::Process { .. } => ResourceSource::Proc,
                    },
                    samples: Vec::new(),
                    mem_limit_bytes: None,
                })
                .collect::<Vec<_>>(),
        ));
        let mut tasks = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            let push = pusher(series.clone(), index);
            tasks.push(match source.clone() {
                Source::Container { container, .. } => {
                    let docker = docker
                        .context("sampling a container needs a Docker connection")?
                        .clone();
                    tokio::spawn(
                        async move { docker_stats::stream(&docker, &container, push).await },
                    )
                }
                Source::Process { pids, .. } => {
                    tokio::spawn(sample_process(pids.clone(), interval, push))
                }
            });
        }
        Ok(Sampler { series, tasks })
    }

    /// Each source's series so far with only its latest sample (for a live table), in the order
    /// the sources were given.
    pub fn latest(&self) -> Vec<Series> {
        lock(&self.series)
            .iter()
            .map(|s| Series {
                samples: s.samples.last().cloned().into_iter().collect(),
                ..s.clone_empty()
            })
            .collect()
    }

    /// Stops every task and returns the series. Fails if a source failed (a process that died, a
    /// container that went away, the daemon lost), naming it; its samples up to then are lost to
    /// the caller, who should treat the window as broken.
    pub async fn stop(self) -> anyhow::Result<Vec<Series>> {
        for task in &self.tasks {
            if !task.is_finished() {
                task.abort();
            }
        }
        for task in self.tasks {
            match task.await {
                Ok(result) => result?,
                Err(err) if err.is_cancelled() => {}
                Err(err) => anyhow::bail!("a sampler task panicked: {err}"),
            }
        }
        Ok(std::mem::take(&mut *lock(&self.series)))
    }
}

fn lock(series: &Mutex<Vec<Series>>) -> std::sync::MutexGuard<'_, Vec<Series>> {
    // A poisoned lock only means a task panicked while pushing; the data is still usable.
    series
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn pusher(
    series: Arc<Mutex<Vec<Series>>>,
    index: usize,
) -> impl FnMut(Sample, Option<u64>) + Send + 'static {
    move |sample, limit| {
        let mut all = lock(&series);
        all[index].samples.push(sample);
        all[index].mem_limit_bytes = limit.or(all[index].mem_limit_bytes);
    }
}

impl Series {
    fn clone_empty(&self) -> Series {
        Series {
            service: self.service.clone(),
            source: self.source,
            samples: Vec::new(),
            mem_limit_bytes: self.mem_limit_bytes,
        }
    }
}

async fn sample_process(
    pids: Vec<u32>,
    interval: Duration,
    mut push: impl FnMut(Sample, Option<u64>),
) -> anyhow::Result<()> {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut previous = None;
    loop {
        ticker.tick().await;
        let now_ms = super::now_unix_ms();
        let reading = procfs::read_tree(&pids)?;
        push(procfs::sample(reading, previous, now_ms), None);
        previous = Some((reading, now_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn samples_own_process_once_per_interval() {
        let sources = [Source::Process {
            service: "me".into(),
            pids: vec![std::process::id()],
        }];
        let sampler = Sampler::start(&sources, Duration::from_millis(50), None).unwrap();
        tokio::time::sleep(Duration::from_millis(320)).await;
        assert_eq!(sampler.latest()[0].service, "me");
        let series = sampler.stop().await.unwrap();
        let n = series[0].samples.len();
        // 320 ms at 50 ms: about 7; a loaded machine may delay ticks, never add them.
        assert!((2..=8).contains(&n), "{n} samples");
        assert!(series[0].samples[0].cpu_pct.is_none());
        assert!(series[0].samples[1].cpu_pct.is_some());
    }

    #[tokio::test]
    async fn a_dead_process_fails_the_sampler_naming_it() {
        let sources = [Source::Process {
            service: "gone".into(),
            pids: vec![u32::MAX - 1],
        }];
        let sampler = Sampler::start(&sources, Duration::from_millis(10), None).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let err = sampler.stop().await.unwrap_err();
        assert!(format!("{err:#}").contains("/proc/"), "{err:#}");
    }
}
