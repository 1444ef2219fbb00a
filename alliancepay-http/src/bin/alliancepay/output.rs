//! Text or JSON on stdout, diagnostics on stderr.
//!
//! Stdout is written with `write!` rather than `println!`, which panics when stdout is a closed
//! pipe or a full disk. The first write error is kept; `main` reports it as one line and a
//! non-zero exit, and nothing more is written after it.

use std::cell::RefCell;
use std::io::Write;

use serde_json::Value;

/// Where results go: human-readable lines, or one JSON document per command for scripts.
pub struct Output {
    json: bool,
    failed: RefCell<Option<String>>,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            failed: RefCell::new(None),
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Prints `value` as JSON, or `text` for people.
    pub fn result(&self, text: &str, value: &Value) {
        if self.json {
            self.line(&value.to_string());
        } else {
            self.line(text);
        }
    }

    /// A progress line for people (nothing in JSON mode, where stdout is the document).
    pub fn step(&self, text: &str) {
        if !self.json {
            self.line(text);
        }
    }

    /// One line on stdout, flushed, unless an earlier write failed.
    pub fn line(&self, text: &str) {
        self.bytes(format!("{text}\n").as_bytes());
    }

    /// Raw bytes on stdout, flushed, unless an earlier write failed.
    pub fn bytes(&self, data: &[u8]) {
        if self.failed.borrow().is_some() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout.write_all(data).and_then(|()| stdout.flush()) {
            *self.failed.borrow_mut() = Some(format!("cannot write to stdout: {e}"));
        }
    }

    /// The first write error, if any.
    pub fn failure(&self) -> Option<String> {
        self.failed.borrow().clone()
    }
}

/// A line on stderr; a closed stderr is ignored (there is nowhere left to report it).
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Warnings always (an exposed key file, an ignored session file); more with -v. Events go to
/// stderr as `LEVEL target: message fields`, without colours or timestamps; the library's
/// events carry no secret, so none can reach the terminal.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .finish();
    // Only fails when a subscriber is already set, which main never does twice.
    let _ = tracing::subscriber::set_global_default(subscriber);
}
