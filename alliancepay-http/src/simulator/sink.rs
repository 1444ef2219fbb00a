//! A stand-in for the merchant's `notificationUrl`: a loopback HTTP endpoint that records every
//! callback body and answers scripted statuses. The demo, the tests and anyone trying the
//! simulator from another language's test suite use it to watch callbacks arrive.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http::{Reply, Response};
use super::lock;
use super::server::{Limits, Server};

/// A running callback endpoint. It stops when dropped.
pub struct CallbackSink {
    url: String,
    bodies: mpsc::Receiver<Vec<u8>>,
    _server: Server,
}

impl std::fmt::Debug for CallbackSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackSink")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl CallbackSink {
    /// An endpoint on a free loopback port that answers every POST with 200.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub fn start() -> io::Result<Self> {
        Self::answering(Vec::new())
    }

    /// An endpoint that answers the `statuses` in turn (to exercise the bank's resend
    /// schedule), then 200 for every later callback.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub fn answering(statuses: Vec<u16>) -> io::Result<Self> {
        let (tx, bodies) = mpsc::channel();
        let tx = Mutex::new(tx);
        let script = Mutex::new(VecDeque::from(statuses));
        let server = Server::start(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            Limits::default(),
            Arc::new(move |request| {
                let status = lock(&script).pop_front().unwrap_or(200);
                // A dropped receiver means nobody is watching any more: answer anyway.
                let _ = lock(&tx).send(request.body.clone());
                Reply::Send(Response::empty(status))
            }),
        )?;
        let url = format!("http://{}/hooks/alliancepay", server.local_addr());
        Ok(Self {
            url,
            bodies,
            _server: server,
        })
    }

    /// The URL to pass as `notificationUrl`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next callback body, waiting at most `timeout`.
    #[must_use]
    pub fn next(&self, timeout: Duration) -> Option<Vec<u8>> {
        self.bodies.recv_timeout(timeout).ok()
    }
}
