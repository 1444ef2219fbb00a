//! Bounded memory: how long finished orders and ended sessions are kept, and how many at most.
//! Both live in insertion-ordered queues, so eviction looks only at the oldest entries and
//! costs O(evicted) per new order or session.

use super::State;
use crate::time::UtcTime;

/// How long what is finished is kept, and how much at most.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retention {
    /// Seconds an order is kept after its expiry.
    pub order_secs: i64,
    /// Most orders.
    pub max_orders: usize,
    /// Seconds a session is kept after it stopped being usable.
    pub session_secs: i64,
    /// Most sessions.
    pub max_sessions: usize,
}

/// What eviction has forgotten so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Evicted {
    pub sessions: u64,
    pub orders: u64,
}

impl State {
    /// Forgets sessions beyond the cap and those unusable for longer than the retention.
    /// Only the oldest are looked at, so each authorization does O(evicted) work.
    pub(super) fn evict_sessions(&mut self, retention: &Retention, now: UtcTime, now_ms: i64) {
        // Over the cap, sessions that can no longer be used (superseded, forgotten, expired)
        // go first, oldest first: a live session of another service code must not be dropped
        // while dead ones are held. The scan is O(sessions), like the superseding that
        // precedes it, and runs only over the cap.
        while self.sessions.len() > retention.max_sessions {
            let sessions = &self.sessions;
            let Some(at) = self.session_queue.iter().position(|id| {
                sessions
                    .get(id)
                    .is_some_and(|s| s.ended_ms.is_some() || now.since(s.expires_at) >= 0)
            }) else {
                break;
            };
            if let Some(id) = self.session_queue.remove(at)
                && self.sessions.remove(&id).is_some()
            {
                self.evicted.sessions += 1;
            }
        }
        while let Some(id) = self.session_queue.front() {
            let done = match self.sessions.get(id) {
                None => true,
                Some(_) if self.sessions.len() > retention.max_sessions => true,
                Some(s) => {
                    let keep_ms = retention.session_secs.saturating_mul(1000);
                    let ended = s
                        .ended_ms
                        .is_some_and(|t| now_ms.saturating_sub(t) > keep_ms);
                    let expired = now.since(s.expires_at) > retention.session_secs;
                    ended || expired
                }
            };
            if !done {
                break;
            }
            if let Some(id) = self.session_queue.pop_front()
                && self.sessions.remove(&id).is_some()
            {
                self.evicted.sessions += 1;
            }
        }
    }

    /// Forgets orders (and their operations) beyond the cap and those expired for longer than
    /// the retention, oldest first.
    pub(super) fn evict_orders(&mut self, retention: &Retention, now_ms: i64) {
        let keep_ms = retention.order_secs.saturating_mul(1000);
        while let Some(id) = self.order_queue.front() {
            let done = match self.orders.get(id) {
                None => true,
                Some(_) if self.orders.len() > retention.max_orders => true,
                Some(o) => now_ms.saturating_sub(o.expires_ms) > keep_ms,
            };
            if !done {
                break;
            }
            let Some(id) = self.order_queue.pop_front() else {
                break;
            };
            let Some(order) = self.orders.remove(&id) else {
                continue;
            };
            self.evicted.orders += 1;
            self.order_request_ids
                .remove(&(order.merchant_id.clone(), order.merchant_request_id.clone()));
            for op_id in &order.operation_ids {
                if let Some(op) = self.operations.remove(op_id)
                    && let Some(request_id) = op.text("merchantRequestId")
                {
                    let key = (op.merchant_id.clone(), request_id.to_owned());
                    if self.operation_request_ids.get(&key) == Some(op_id) {
                        self.operation_request_ids.remove(&key);
                    }
                }
            }
        }
    }
}
