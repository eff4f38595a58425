//! Scheduled refreshes: one tokio task per view with a refresh interval.
//!
//! A view is refreshed when its interval has passed since its last
//! successful refresh (at once if it was never populated), plus a random
//! jitter of up to 10% of the interval so views do not all fire together.
//! A failed refresh is retried after an exponential backoff (1 s, 2 s, 4 s,
//! … capped at the interval). Refreshes of one view never overlap: they
//! take the view's refresh lock, which a manual `REFRESH MATERIALIZED VIEW`
//! also takes (so it waits for a scheduled one, then refreshes). The tasks
//! stop on [`SchedulerHandle::shutdown`], when the handle is dropped, when
//! the [`MaterializedViews`] are dropped, or when their view is dropped.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::table::MvState;
use super::{Inner, MaterializedViews};

/// The first retry delay after a failed refresh; it doubles with every
/// failure, up to the refresh interval.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The running scheduler; see the module documentation. Dropping it stops
/// the scheduler too (without waiting for a running refresh to end).
#[derive(Debug)]
pub struct SchedulerHandle {
    token: CancellationToken,
    inner: Weak<Inner>,
}

impl SchedulerHandle {
    pub(crate) fn new(token: CancellationToken, inner: Weak<Inner>) -> Self {
        Self { token, inner }
    }

    /// Stops scheduling and waits until the tasks have ended. A refresh
    /// that is running is abandoned; its leftovers are removed by the next
    /// refresh of the view or the next start.
    pub async fn shutdown(self) {
        self.token.cancel();
        let tasks: Vec<JoinHandle<()>> = match self.inner.upgrade() {
            Some(inner) => std::mem::take(&mut *inner.tasks.lock().expect("not poisoned")),
            None => vec![],
        };
        for task in tasks {
            let _ = task.await;
        }
    }
}

impl Drop for SchedulerHandle {
    fn drop(&mut self) {
        self.token.cancel();
    }
}

/// Starts the task that refreshes `view` on its interval.
pub(crate) fn spawn(inner: &Arc<Inner>, view: Arc<MvState>, token: CancellationToken) {
    if view.options.refresh.is_none() {
        return;
    }
    let weak = Arc::downgrade(inner);
    let task = tokio::spawn(run(weak, view, token));
    let mut tasks = inner.tasks.lock().expect("not poisoned");
    tasks.retain(|t| !t.is_finished());
    tasks.push(task);
}

async fn run(inner: Weak<Inner>, view: Arc<MvState>, token: CancellationToken) {
    let interval = view
        .options
        .refresh
        .as_ref()
        .map(|r| r.duration())
        .expect("only views with an interval are scheduled");
    // The plan for the next refresh, kept while what it was computed from
    // (the last refresh and the failure count) is unchanged.
    let mut planned: Option<((Option<i64>, u32), i64)> = None;
    loop {
        if token.is_cancelled() || view.is_dropped() {
            break;
        }
        let status = view.status();
        let basis = (status.last_refresh_us, status.failures);
        let due_us = match planned {
            Some((b, due)) if b == basis => due,
            _ => {
                let due = next_due(basis.0, basis.1, interval);
                planned = Some((basis, due));
                view.update_status(|s| s.next_refresh_us = Some(due));
                due
            }
        };
        let wait = due_us - now_us();
        if wait > 0 {
            tokio::select! {
                _ = token.cancelled() => break,
                _ = view.wake.notified() => continue,
                _ = tokio::time::sleep(Duration::from_micros(wait as u64)) => continue,
            }
        }
        let Some(inner) = inner.upgrade() else {
            break;
        };
        let views = MaterializedViews { inner };
        let result = tokio::select! {
            _ = token.cancelled() => break,
            result = views.refresh_state(&view) => result,
        };
        drop(views);
        if let Err(e) = result {
            tracing::warn!(view = %view.name, error = %e, "scheduled refresh failed");
        }
    }
    view.update_status(|s| s.next_refresh_us = None);
}

/// When the next refresh is due (µs since the epoch).
fn next_due(last_refresh_us: Option<i64>, failures: u32, interval: Duration) -> i64 {
    let now = now_us();
    if failures > 0 {
        let backoff = FIRST_RETRY
            .saturating_mul(1u32 << (failures - 1).min(20))
            .min(interval);
        return now + backoff.as_micros() as i64 + jitter_us(backoff);
    }
    match last_refresh_us {
        None => now,
        Some(last) => {
            let due = last + interval.as_micros() as i64 + jitter_us(interval);
            due.max(now)
        }
    }
}

/// A random delay of up to 10% of `span`.
fn jitter_us(span: Duration) -> i64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
    (span.as_micros() as f64 * 0.1 * unit) as i64
}

pub(crate) fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_follow_interval_jitter_and_backoff() {
        let interval = Duration::from_secs(100);
        let now = now_us();
        // Never refreshed: due now.
        assert!((next_due(None, 0, interval) - now).abs() < 1_000_000);
        // Refreshed just now: due after the interval plus at most 10%.
        for _ in 0..50 {
            let due = next_due(Some(now), 0, interval) - now;
            assert!((100_000_000..=110_000_000).contains(&due), "{due}");
        }
        // Long overdue: due now, not in the past.
        assert!(next_due(Some(now - 1_000_000_000), 0, interval) >= now);
        // Backoff: 1 s, 2 s, 4 s, ... capped at the interval.
        let backoff = |n| next_due(Some(now), n, interval) - now_us();
        assert!(
            (900_000..=1_200_000).contains(&backoff(1)),
            "{}",
            backoff(1)
        );
        assert!(
            (3_900_000..=4_500_000).contains(&backoff(3)),
            "{}",
            backoff(3)
        );
        assert!(
            (99_000_000..=110_000_000).contains(&backoff(12)),
            "{}",
            backoff(12)
        );
    }
}
