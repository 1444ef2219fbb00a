//! The simulator's view of an HTTP exchange: a fully read [`Request`] and the [`Reply`] to it.
//! The bank, the control routes and the callback sink work on these plain values, so they are
//! unit-tested without sockets; [`super::server`] moves them on and off the wire.

/// A parsed request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The query string, without `?`, if any.
    pub query: Option<String>,
    /// Header names in lowercase, values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A `POST` with headers and a body (unit tests build requests with this).
    #[cfg(test)]
    pub(crate) fn post(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Self {
        Self {
            method: "POST".into(),
            path: path.into(),
            query: None,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Response {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`, if there is a body.
    pub content_type: Option<String>,
    /// More headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::with_body(status, "application/json", value.to_string().into_bytes())
    }

    /// A response with a body of `content_type`.
    pub(crate) fn with_body(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self {
            status,
            content_type: Some(content_type.to_owned()),
            headers: Vec::new(),
            body,
        }
    }

    /// A response without a body.
    pub(crate) const fn empty(status: u16) -> Self {
        Self {
            status,
            content_type: None,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// The body as JSON (unit tests read responses with this).
    #[cfg(test)]
    pub(crate) fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What the server does with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Write this response.
    Send(Response),
    /// Close the connection without answering.
    Drop,
}
