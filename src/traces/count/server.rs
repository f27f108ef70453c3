//! What kind of server answers, read once from `/api/status/buildinfo`: how it places TraceQL
//! metrics samples in time, and how soon after a trace it answers for it. Facts from Tempo's source
//! (github:grafana/tempo; cited in `tests/tempo/double`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::super::tempo::{TempoClient, TempoError};

/// Tempo 3 clamps the end of searches and metrics queries to this long before now
/// (`query_frontend.query_end_cutoff`, default 30 s: `modules/frontend/config.go` at v3.0.3).
/// Ingest delays: `modules/ingester/config.go` (2.6.1, 2.9.5), `modules/livestore/config.go`
/// (3.0.3).
pub const END_CUTOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Server {
    /// No build info: not a Tempo (the built-in sink), which answers every window as asked.
    NotTempo,
    /// A Tempo, with the version it reports; `None` when that is not `major.minor...`.
    Tempo {
        reported: String,
        version: Option<(u32, u32)>,
    },
}

/// Where a TraceQL metrics sample sits in its interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamping {
    /// Before 2.9: the sample stamped `t` counts spans starting in `[t, t + step)`.
    AtStart,
    /// From 2.9 (PR #5366, "BREAKING CHANGE"): it counts `(t - step, t]`, and one interval
    /// before the start is added.
    AtEnd,
}

impl Server {
    pub async fn read(client: &TempoClient) -> Result<Server, TempoError> {
        Ok(match client.build_info().await? {
            None => Server::NotTempo,
            Some(info) => Server::from_version(&info.version),
        })
    }

    pub fn from_version(reported: &str) -> Server {
        let mut parts = reported.trim_start_matches('v').split(['.', '-']);
        let mut number = || parts.next().and_then(|p| p.parse::<u32>().ok());
        let version = number().zip(number());
        Server::Tempo {
            reported: reported.to_string(),
            version,
        }
    }

    /// How long until a window ending at `end_s` is answered whole: a Tempo searches a trace
    /// only once it has been idle and cut into a block, and Tempo 3 answers nothing newer than
    /// [`END_CUTOFF`] before now.
    pub fn ready_in(&self, end_s: u64) -> Duration {
        let Some(delay) = self.answers_after() else {
            return Duration::ZERO;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        (Duration::from_secs(end_s) + delay + Duration::from_secs(1)).saturating_sub(now)
    }

    /// How long after a trace's last span Tempo answers for it, at its default settings: the
    /// idle time plus one period of the loop that cuts idle traces into searched blocks (2.6:
    /// `trace_idle_period` 10 s + `flush_check_period` 10 s; 2.9: 5 s + 10 s; 3.0's live-store:
    /// 5 s + 5 s, under its 30 s end cutoff). `None`: answers at once (not a Tempo).
    fn answers_after(&self) -> Option<Duration> {
        let secs = match self {
            Server::NotTempo => return None,
            Server::Tempo {
                version: Some(v), ..
            } if *v < (2, 9) => 20,
            Server::Tempo {
                version: Some((2, _)),
                ..
            } => 15,
            // 3 and later, or a version that cannot be read: the longest.
            Server::Tempo { .. } => END_CUTOFF.as_secs(),
        };
        Some(Duration::from_secs(secs))
    }

    /// How this server stamps metrics samples; `Err` when it cannot be told.
    pub fn stamping(&self) -> Result<Stamping, String> {
        match self {
            Server::Tempo {
                version: Some(version),
                ..
            } => Ok(if *version < (2, 9) {
                Stamping::AtStart
            } else {
                Stamping::AtEnd
            }),
            Server::Tempo { reported, .. } => Err(format!(
                "Tempo reports version {reported:?}, so how it places samples in time is \
                 unknown: count by search"
            )),
            Server::NotTempo => {
                Err("the server has no /api/status/buildinfo (not a Tempo): count by search".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_decide_stamping_and_cutoff() {
        let v = Server::from_version;
        assert_eq!(v("2.6.1").stamping(), Ok(Stamping::AtStart));
        assert_eq!(v("v2.9.0-rc.0").stamping(), Ok(Stamping::AtEnd));
        assert_eq!(v("3.0.3").stamping(), Ok(Stamping::AtEnd));
        assert!(v("main-1a2b3c").stamping().is_err());
        assert!(Server::NotTempo.stamping().is_err());
        let long_ago = 1_000_000;
        assert_eq!(v("3.0.3").ready_in(long_ago), Duration::ZERO);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let secs = |server: Server| server.ready_in(now).as_secs();
        assert!((20..=21).contains(&secs(v("2.6.1"))));
        assert!((15..=16).contains(&secs(v("2.9.5"))));
        assert!((30..=31).contains(&secs(v("3.0.3"))));
        assert!((30..=31).contains(&secs(v("main-1a2b3c"))));
        assert_eq!(Server::NotTempo.ready_in(now), Duration::ZERO);
    }
}
