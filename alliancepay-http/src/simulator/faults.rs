//! Fault injection: what the next matching request(s) get instead of (or besides) the bank's
//! answer. Faults are consumed in the order they were injected; each matches one path (or any
//! path) and takes effect exactly `times` times. The `/__sim/` control routes are never faulted.

use std::sync::Mutex;
use std::time::Duration;

/// One fault, armed with [`super::Simulator::inject`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The request path it applies to (such as [`crate::protocol::CREATE_ORDER_PATH`]);
    /// `None` matches every bank path.
    pub path: Option<String>,
    /// How many matching requests it affects; then it is spent.
    pub times: u32,
    /// What happens to them.
    pub kind: FaultKind,
}

impl Fault {
    /// A fault on `path` for the next `times` requests.
    #[must_use]
    pub fn on(path: &str, times: u32, kind: FaultKind) -> Self {
        Self {
            path: Some(path.to_owned()),
            times,
            kind,
        }
    }

    /// A fault on any bank path for the next `times` requests.
    #[must_use]
    pub const fn any(times: u32, kind: FaultKind) -> Self {
        Self {
            path: None,
            times,
            kind,
        }
    }
}

/// What a faulted request gets. Unless a variant says otherwise, the request is **not**
/// processed: nothing is created, no session is touched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Wait this long, then process and answer normally (for client timeouts).
    Latency(Duration),
    /// This HTTP status with an empty body (a 5xx from a proxy, say).
    Status(u16),
    /// A bank error body (bank-api.md §4.1) with this code and HTTP status.
    ErrorCode {
        /// HTTP status.
        status: u16,
        /// `msgCode`.
        code: String,
    },
    /// Read the request, then close the connection without a byte of answer.
    DropConnection,
    /// HTTP 401 with an empty body.
    Unauthorized,
    /// HTTP 502 with an HTML page, as a gateway in front of the bank would send.
    Html,
    /// Process the request, then answer 200 `application/json` with the first half of the
    /// real body (a correct `Content-Length` for the cut body, so only the JSON is broken).
    Truncated,
    /// Process the request, then answer with the real body under `Content-Type:
    /// application/octet-stream`.
    WrongContentType,
    /// HTTP 200 `{"token": …}`: a success-looking answer without the `jwe` member.
    MissingJwe,
    /// Process the request (the write happens), then answer 500 `b_unknown_error`: the
    /// client must reconcile by lookup.
    ApplyThenFail,
    /// Process the request (the write happens), then close the connection without a byte of
    /// answer.
    ApplyThenDrop,
    /// Process the request, then answer 200 `{"jwe": ""}`.
    EmptyJwe,
    /// Process the request, then answer 200 with a well-formed JWE encrypted to a key nobody
    /// has.
    UndecryptableJwe,
    /// Process a refund as if the bank had refused it inside the operation: stored and
    /// answered with status `FAIL` and this `errorDetails` (other paths: processed normally).
    ErrorDetails(String),
}

/// The armed faults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    armed: Mutex<Vec<Fault>>,
}

impl Faults {
    /// Arms `fault` behind those already armed; a fault with `times == 0` is ignored.
    pub(crate) fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            super::lock(&self.armed).push(fault);
        }
    }

    /// Takes one use of the first armed fault matching `path`.
    pub(crate) fn take(&self, path: &str) -> Option<FaultKind> {
        let mut armed = super::lock(&self.armed);
        let index = armed
            .iter()
            .position(|f| f.path.as_deref().is_none_or(|p| p == path))?;
        let fault = armed.get_mut(index)?;
        fault.times -= 1;
        let kind = fault.kind.clone();
        if fault.times == 0 {
            armed.remove(index);
        }
        Some(kind)
    }

    /// How many uses are left over all armed faults.
    pub(crate) fn pending(&self) -> u64 {
        super::lock(&self.armed)
            .iter()
            .map(|f| u64::from(f.times))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_exactly_times_times_in_order() {
        let faults = Faults::default();
        faults.inject(Fault::on("/a", 2, FaultKind::Unauthorized));
        faults.inject(Fault::any(1, FaultKind::Html));
        faults.inject(Fault::any(0, FaultKind::DropConnection));
        assert_eq!(faults.pending(), 3);
        assert_eq!(faults.take("/b"), Some(FaultKind::Html));
        assert_eq!(faults.take("/b"), None);
        assert_eq!(faults.take("/a"), Some(FaultKind::Unauthorized));
        assert_eq!(faults.take("/a"), Some(FaultKind::Unauthorized));
        assert_eq!(faults.take("/a"), None);
        assert_eq!(faults.pending(), 0);
    }
}
