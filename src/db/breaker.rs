//! A circuit breaker in front of the connection pool. When the database
//! cannot be reached, requests would otherwise queue for a connection until
//! the pool's timeout (10 s by default) before getting their 503. Once a
//! connection attempt has failed, the breaker is open: requests are turned
//! away at once with `503` and `Retry-After` for a cool-down; then one
//! request (or `/readyz`) is let through to try the database again, and its
//! success closes the breaker. Nothing needs restarting when the database
//! comes back.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Why and for how long requests are being turned away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tripped {
    /// Until the breaker lets a request try again.
    pub retry_after: Duration,
    /// The last connection error, as the driver told it.
    pub reason: String,
}

#[derive(Debug)]
enum State {
    Closed,
    /// Turning requests away until `until`; after that, one probe at a time.
    Open {
        until: Instant,
        reason: String,
        probe_since: Option<Instant>,
    },
}

/// Shared by every request of one pool.
#[derive(Debug)]
pub struct Breaker {
    state: Mutex<State>,
    cool_down: Duration,
    /// How long a probe may take before another request may probe instead.
    probe_timeout: Duration,
}

impl Breaker {
    pub fn new(cool_down: Duration, probe_timeout: Duration) -> Breaker {
        Breaker { state: Mutex::new(State::Closed), cool_down, probe_timeout }
    }

    /// `Ok` when the caller may use the database: the breaker is closed, or
    /// the cool-down is over and this caller is the one probe.
    pub fn admit(&self) -> Result<(), Tripped> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Result<(), Tripped> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *state {
            State::Closed => Ok(()),
            State::Open { until, reason, .. } if now < *until => {
                Err(Tripped { retry_after: *until - now, reason: reason.clone() })
            }
            State::Open { reason, probe_since, .. } => match probe_since {
                Some(since) if now.duration_since(*since) < self.probe_timeout => {
                    Err(Tripped { retry_after: Duration::from_secs(1), reason: reason.clone() })
                }
                _ => {
                    *probe_since = Some(now);
                    Ok(())
                }
            },
        }
    }

    /// Whether requests are being turned away right now (without claiming the probe).
    pub fn tripped(&self) -> Option<Tripped> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match &*state {
            State::Open { until, reason, .. } => {
                let retry_after = until.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
                Some(Tripped { retry_after, reason: reason.clone() })
            }
            State::Closed => None,
        }
    }

    /// The database could not be reached: open (again) for a cool-down.
    /// Logged once per outage, when the breaker opens.
    pub fn failure(&self, reason: &str) {
        self.failure_at(Instant::now(), reason);
    }

    fn failure_at(&self, now: Instant, reason: &str) {
        let reason = first_line(reason);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*state, State::Closed) {
            tracing::error!(%reason, cool_down_ms = self.cool_down.as_millis() as u64,
                "the database cannot be reached: answering 503 until it can");
        }
        *state = State::Open { until: now + self.cool_down, reason, probe_since: None };
    }

    /// A connection was had: close.
    pub fn success(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(*state, State::Closed) {
            tracing::info!("the database answers again");
            *state = State::Closed;
        }
    }
}

/// The first line of a driver's message (libpq adds hints on further lines).
fn first_line(message: &str) -> String {
    let line = message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("unknown error");
    line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(Duration::from_secs(2), Duration::from_secs(1))
    }

    #[test]
    fn a_closed_breaker_admits_everyone() {
        let b = breaker();
        assert_eq!(b.admit(), Ok(()));
        assert_eq!(b.admit(), Ok(()));
        assert_eq!(b.tripped(), None);
    }

    #[test]
    fn a_failure_turns_requests_away_for_the_cool_down_with_the_reason() {
        let b = breaker();
        let t0 = Instant::now();
        b.failure_at(t0, "connection refused\n\tIs the server running?");
        let tripped = b.admit_at(t0 + Duration::from_millis(500)).expect_err("open");
        assert_eq!(tripped.reason, "connection refused");
        assert_eq!(tripped.retry_after, Duration::from_millis(1500));
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_through_and_its_success_closes() {
        let b = breaker();
        let t0 = Instant::now();
        b.failure_at(t0, "down");
        let later = t0 + Duration::from_secs(3);
        assert_eq!(b.admit_at(later), Ok(()), "the first caller probes");
        assert!(b.admit_at(later).is_err(), "others wait while it probes");
        b.success();
        assert_eq!(b.admit_at(later), Ok(()));
    }

    #[test]
    fn a_failed_probe_opens_again_and_a_stuck_probe_is_replaced() {
        let b = breaker();
        let t0 = Instant::now();
        b.failure_at(t0, "down");
        let t1 = t0 + Duration::from_secs(3);
        assert_eq!(b.admit_at(t1), Ok(()));
        // The probe never reported: after the probe timeout another may try.
        assert_eq!(b.admit_at(t1 + Duration::from_millis(1500)), Ok(()));
        b.failure_at(t1 + Duration::from_secs(2), "still down");
        assert!(b.admit_at(t1 + Duration::from_secs(3)).is_err());
    }
}
