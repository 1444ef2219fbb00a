//! A minimal HTTP/1.1 server over `std::net`: one thread per connection, keep-alive,
//! `Content-Length` bodies only, bounded head and body sizes, and a plain-text 400 for anything
//! it cannot read. Enough for loopback clients in any language; not a general web server.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Longest request line plus headers.
pub(crate) const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Most header lines.
pub(crate) const MAX_HEADERS: usize = 100;
/// Largest request body; the bank's requests are a few KiB.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;
/// How long an idle keep-alive connection stays open.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed the connection before a new request began (normal end of keep-alive).
    Closed,
    /// The socket failed or timed out.
    Io(io::Error),
    /// The bytes are not a request we accept; answer 400 with this text and close.
    Malformed(&'static str),
    /// The head or body is larger than we accept; answer with this status and text and close.
    TooLarge(u16, &'static str),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

/// Reads one line (up to `\n`) charging it to `budget`; `Ok(None)` at end of stream.
fn read_line<R: BufRead>(reader: &mut R, budget: &mut usize) -> Result<Option<String>, ReadError> {
    let mut line = Vec::new();
    let limit = u64::try_from(*budget).unwrap_or(u64::MAX).saturating_add(1);
    let n = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget {
        return Err(ReadError::TooLarge(431, "request head too large"));
    }
    *budget -= n;
    if line.last() != Some(&b'\n') {
        return Err(ReadError::Malformed(
            "request head ends before its blank line",
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| ReadError::Malformed("request head is not UTF-8"))
}

/// Reads one request; the returned flag says whether the connection may stay open after it.
pub(crate) fn read_request<R: BufRead>(reader: &mut R) -> Result<(Request, bool), ReadError> {
    let mut budget = MAX_HEAD_BYTES;
    let line = loop {
        // RFC 9112 §2.2: a server should ignore empty lines before the request line.
        match read_line(reader, &mut budget)? {
            None => return Err(ReadError::Closed),
            Some(l) if l.is_empty() => {}
            Some(l) => break l,
        }
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed(
            "request line is not METHOD TARGET VERSION",
        ));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ReadError::Malformed("method is not an uppercase token"));
    }
    if !target.starts_with('/') {
        return Err(ReadError::Malformed(
            "request target is not an absolute path",
        ));
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => {
            return Err(ReadError::Malformed(
                "only HTTP/1.0 and HTTP/1.1 are served",
            ));
        }
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader, &mut budget)? else {
            return Err(ReadError::Malformed(
                "connection closed inside the request head",
            ));
        };
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(ReadError::TooLarge(431, "too many header lines"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Malformed("header line without a colon"));
        };
        if name.is_empty()
            || name
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(ReadError::Malformed(
                "header name is empty or contains whitespace",
            ));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut request = Request {
        method: method.to_owned(),
        path,
        query,
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Err(ReadError::Malformed(
            "Transfer-Encoding is not supported; send a Content-Length body",
        ));
    }
    let lengths: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v.as_str())
        .collect();
    let length = match lengths.as_slice() {
        [] => 0,
        [one] => one
            .parse::<usize>()
            .map_err(|_| ReadError::Malformed("Content-Length is not a number"))?,
        _ => return Err(ReadError::Malformed("more than one Content-Length header")),
    };
    if length > MAX_BODY_BYTES {
        return Err(ReadError::TooLarge(413, "request body too large"));
    }
    request.body = vec![0; length];
    reader
        .read_exact(&mut request.body)
        .map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                ReadError::Malformed("connection closed inside the request body")
            }
            _ => ReadError::Io(e),
        })?;
    let connection = request
        .header("connection")
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let keep_alive = if http11 {
        !connection.contains("close")
    } else {
        connection.contains("keep-alive")
    };
    Ok((request, keep_alive))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Writes `response` in one buffer (one syscall for small answers).
pub(crate) fn write_response<W: Write>(
    out: &mut W,
    response: &Response,
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    if let Some(ct) = &response.content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: {}\r\n\r\n",
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&response.body);
    out.write_all(&bytes)?;
    out.flush()
}

/// Serves one connection until the peer closes it, an error, or a [`Reply::Drop`].
pub(crate) fn serve_connection(stream: TcpStream, handle: &dyn Fn(&Request) -> Reply) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut writer = io::BufWriter::new(write_half);
    let mut reader = BufReader::new(stream);
    loop {
        let (request, keep_alive) = match read_request(&mut reader) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Io(e)) => return log::debug!("simulator: connection ended: {e}"),
            Err(ReadError::Malformed(text)) => {
                let _ = write_response(&mut writer, &plain(400, text), false);
                return;
            }
            Err(ReadError::TooLarge(status, text)) => {
                let _ = write_response(&mut writer, &plain(status, text), false);
                return;
            }
        };
        match handle(&request) {
            Reply::Send(response) => {
                if write_response(&mut writer, &response, keep_alive).is_err() || !keep_alive {
                    return;
                }
            }
            Reply::Drop => {
                let _ = reader.get_ref().shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

fn plain(status: u16, text: &str) -> Response {
    Response::with_body(
        status,
        "text/plain; charset=utf-8",
        format!("{text}\n").into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<(Request, bool), ReadError> {
        read_request(&mut io::Cursor::new(bytes))
    }

    #[test]
    fn reads_a_post_with_a_body_and_keep_alive() {
        let (r, keep) = read(b"POST /a/b?x=1 HTTP/1.1\r\nHost: h\r\nX-Request_Id: abc\r\nContent-Length: 4\r\n\r\nbodyNEXT").unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.query.as_deref()),
            ("POST", "/a/b", Some("x=1"))
        );
        assert_eq!(r.header("x-request_id"), Some("abc"));
        assert_eq!(r.body, b"body");
        assert!(keep);
        let (_, keep) = read(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!keep);
        let (_, keep) = read(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!keep);
    }

    #[test]
    fn malformed_requests_are_refused() {
        for bad in [
            &b"POST /a\r\n\r\n"[..],
            b"post /a HTTP/1.1\r\n\r\n",
            b"POST a HTTP/1.1\r\n\r\n",
            b"POST /a HTTP/2\r\n\r\n",
            b"POST /a HTTP/1.1\r\nNoColon\r\n\r\n",
            b"POST /a HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            b"POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na",
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
            b"POST /a HTTP/1.1\r\nHost: h",
        ] {
            assert!(
                matches!(read(bad), Err(ReadError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(matches!(read(b""), Err(ReadError::Closed)));
    }

    #[test]
    fn sizes_are_bounded() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
        assert!(matches!(
            read(long.as_bytes()),
            Err(ReadError::TooLarge(431, _))
        ));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(matches!(
            read(many.as_bytes()),
            Err(ReadError::TooLarge(431, _))
        ));
        let big = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY_BYTES + 1
        );
        assert!(matches!(
            read(big.as_bytes()),
            Err(ReadError::TooLarge(413, _))
        ));
    }

    #[test]
    fn responses_state_their_length() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            &Response::with_body(200, "application/json", b"{}".to_vec()),
            true,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}"
        );
    }
}
