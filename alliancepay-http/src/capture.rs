//! A `tracing` subscriber for tests: every span's and event's fields as text, so a test can
//! check what was traced, and that no secret was.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What was traced on the threads where this subscriber is the default.
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Lines>>);

#[derive(Default)]
struct Lines {
    next_id: u64,
    spans: HashMap<u64, String>,
    events: Vec<String>,
}

struct Writer<'a>(&'a mut String);

impl Visit for Writer<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

impl Capture {
    fn lines(&self) -> std::sync::MutexGuard<'_, Lines> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every event, as `LEVEL field=value...` (the message is the field `message`).
    pub(crate) fn events(&self) -> Vec<String> {
        self.lines().events.clone()
    }

    #[cfg_attr(not(feature = "simulator"), allow(dead_code))]
    /// Every span, as `span NAME field=value...`, with the fields recorded later appended.
    pub(crate) fn spans(&self) -> Vec<String> {
        let lines = self.lines();
        let mut ids: Vec<_> = lines.spans.keys().copied().collect();
        ids.sort_unstable();
        ids.iter().map(|id| lines.spans[id].clone()).collect()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = format!("span {}", span.metadata().name());
        span.record(&mut Writer(&mut text));
        let mut lines = self.lines();
        lines.next_id += 1;
        let id = lines.next_id;
        lines.spans.insert(id, text);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(text) = self.lines().spans.get_mut(&span.into_u64()) {
            values.record(&mut Writer(text));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = event.metadata().level().to_string();
        event.record(&mut Writer(&mut text));
        self.lines().events.push(text);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
