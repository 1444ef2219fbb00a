//! A stand-in for the merchant's `notificationUrl`: a loopback HTTP endpoint that records every
//! callback body and answers scripted statuses. The demo, the tests and anyone trying the
//! simulator from another language's test suite use it to watch callbacks arrive.

use std::collections::VecDeque;
use std::io;
use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http::{self, Reply, Response};
use super::lock;

/// A running callback endpoint. It stops accepting when dropped (after its next connection).
#[derive(Debug)]
pub struct CallbackSink {
    url: String,
    bodies: mpsc::Receiver<Vec<u8>>,
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
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/hooks/alliancepay", listener.local_addr()?);
        let (tx, bodies) = mpsc::channel();
        let script = Arc::new(Mutex::new(VecDeque::from(statuses)));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (tx, script) = (tx.clone(), Arc::clone(&script));
                std::thread::spawn(move || {
                    http::serve_connection(stream, &|request| {
                        let status = lock(&script).pop_front().unwrap_or(200);
                        // A dropped receiver means nobody is watching any more: answer anyway.
                        let _ = tx.send(request.body.clone());
                        Reply::Send(Response::empty(status))
                    });
                });
            }
        });
        Ok(Self { url, bodies })
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
