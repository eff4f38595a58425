//! Cancel requests that reach their query.
//!
//! A client sends a cancel request (on a new connection) while it waits for
//! a statement it has sent. pgwire's `ConnectionHandle` keeps the sender of
//! the last query that started: a cancel that arrives while the statement
//! is still queued, parsed or planned fires that stale sender and is lost,
//! and the query then runs until it ends. Under load (64 clients on 2
//! cores) that window is easily longer than the 50 ms after which a client
//! may cancel, and a runaway join so cancelled ran for good.
//!
//! A [`CancelSlot`] per connection holds the running query's sender, set
//! from the statement's `Parse` (or simple `Query`) on; a cancel that finds
//! no query running is kept as pending and stops the next statement that
//! starts within [`PENDING_FOR`] (PostgreSQL documents the same race: a
//! cancel may take effect on a later statement).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use datafusion_postgres::pgwire;
use futures::channel::oneshot;
use pgwire::api::ConnectionManager;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;

/// How long a cancel that found no running query waits for one.
pub const PENDING_FOR: Duration = Duration::from_secs(5);

#[derive(Default)]
struct SlotState {
    /// The sender of the statement running (from its `Parse` on).
    running: Option<oneshot::Sender<()>>,
    /// The receiver registered at `Parse`, for its `Execute`.
    parsed: Option<oneshot::Receiver<()>>,
    /// When a cancel arrived while no statement was running.
    pending: Option<Instant>,
}

/// One connection's cancel state.
#[derive(Default)]
pub struct CancelSlot(Mutex<SlotState>);

impl CancelSlot {
    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.0.lock().expect("lock")
    }

    /// A statement starts: its receiver, already fired if a cancel is
    /// pending.
    pub fn start(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut state = self.state();
        state.parsed = None;
        if state
            .pending
            .take()
            .is_some_and(|at| at.elapsed() < PENDING_FOR)
        {
            let _ = tx.send(());
        } else {
            state.running = Some(tx);
        }
        rx
    }

    /// A statement is parsed: it counts as running from now, and its
    /// `Execute` takes the receiver ([`CancelSlot::for_execute`]).
    pub fn start_at_parse(&self) {
        let rx = self.start();
        self.state().parsed = Some(rx);
    }

    /// The receiver of the statement about to execute: the one of its
    /// `Parse`, else a new one.
    pub fn for_execute(&self) -> oneshot::Receiver<()> {
        if let Some(rx) = self.state().parsed.take() {
            return rx;
        }
        self.start()
    }

    /// The statement ended: a later cancel waits for the next one.
    pub fn finish(&self) {
        let mut state = self.state();
        state.running = None;
        state.parsed = None;
    }

    /// A cancel request for this connection.
    pub fn cancel(&self) {
        let mut state = self.state();
        let delivered = state.running.take().is_some_and(|tx| tx.send(()).is_ok());
        if !delivered {
            state.pending = Some(Instant::now());
        }
    }
}

/// The cancel slots of the open connections, by backend pid and secret.
#[derive(Default)]
pub struct CancelRegistry(RwLock<HashMap<(i32, Bytes), Arc<CancelSlot>>>);

impl CancelRegistry {
    /// Registers a connection; it is removed when the guard is dropped.
    pub fn register(
        self: &Arc<Self>,
        pid: i32,
        secret: &SecretKey,
    ) -> (Arc<CancelSlot>, CancelGuard) {
        let key = (pid, secret.to_bytes());
        let slot = Arc::new(CancelSlot::default());
        self.0
            .write()
            .expect("lock")
            .insert(key.clone(), slot.clone());
        (
            slot,
            CancelGuard {
                registry: self.clone(),
                key,
            },
        )
    }

    fn cancel(&self, pid: i32, secret: &SecretKey) {
        let slot = self
            .0
            .read()
            .expect("lock")
            .get(&(pid, secret.to_bytes()))
            .cloned();
        if let Some(slot) = slot {
            slot.cancel();
        }
    }
}

/// Removes a connection from the [`CancelRegistry`] when it ends.
pub struct CancelGuard {
    registry: Arc<CancelRegistry>,
    key: (i32, Bytes),
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        self.registry.0.write().expect("lock").remove(&self.key);
    }
}

/// Routes cancel requests to our slots, and to pgwire's handles (which
/// its default `Execute` of row-limited portals listens to).
pub struct AlmaCancel {
    pub registry: Arc<CancelRegistry>,
    pub connections: Arc<ConnectionManager>,
}

#[async_trait]
impl CancelHandler for AlmaCancel {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.registry.cancel(request.pid, &request.secret_key);
        self.connections
            .cancel(request.pid, &request.secret_key)
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(rx: &mut oneshot::Receiver<()>) -> bool {
        matches!(rx.try_recv(), Ok(Some(())))
    }

    #[test]
    fn a_cancel_reaches_the_running_statement() {
        let slot = CancelSlot::default();
        let mut rx = slot.start();
        assert!(!fired(&mut rx));
        slot.cancel();
        assert!(fired(&mut rx));
    }

    #[test]
    fn a_cancel_before_the_statement_starts_is_kept_for_it() {
        let slot = CancelSlot::default();
        slot.finish();
        slot.cancel();
        let mut rx = slot.start();
        assert!(
            fired(&mut rx),
            "the pending cancel stops the next statement"
        );
        // and only that one
        slot.finish();
        let mut next = slot.start();
        assert!(!fired(&mut next));
    }

    #[test]
    fn a_cancel_while_parsing_stops_the_execute() {
        let slot = CancelSlot::default();
        slot.start_at_parse();
        slot.cancel();
        let mut rx = slot.for_execute();
        assert!(fired(&mut rx));
        slot.finish();
        // an Execute with no Parse before it registers afresh
        let mut rx = slot.for_execute();
        assert!(!fired(&mut rx));
    }
}
