//! A strict, allocation-free reader for the two JSON objects we accept from others: the JWE
//! protected header and the JWK.
//!
//! Why not `serde-json-core` here (we use it to write JSON): it skips the values of unknown
//! members by scanning to the next `,`, `}` or `]`, so `{"alg":"…","x":tru}` would pass, and serde
//! cannot see a member name twice. RFC 7515 §5.2 and RFC 7517 §4 let a parser reject duplicate
//! names, and a JOSE parser must: if two libraries pick different copies of `alg`, an attacker
//! chooses which one each of them sees. This reader checks the whole RFC 8259 grammar, bounds
//! the nesting depth, and hands each top-level member to the caller exactly once.

use heapless::Vec;

/// Deepest nesting of objects and arrays we read (the header's `epk` is depth 2).
const MAX_DEPTH: usize = 8;
/// Most members one object may have; bounds the duplicate check.
pub const MAX_MEMBERS: usize = 24;

/// Why a JSON text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonError {
    /// Not valid JSON at this byte offset.
    Syntax {
        /// Offset of the first byte that does not fit the grammar.
        offset: usize,
    },
    /// The text is valid JSON but not an object.
    NotAnObject,
    /// Objects or arrays nested deeper than we read.
    TooDeep,
    /// More than 24 members in one object: the fixed capacity of the reader.
    TooManyMembers,
    /// The same member name appears twice in one object.
    DuplicateMember,
    /// A member name uses a backslash escape; we compare names byte for byte, and an escaped
    /// spelling (`"\u0061lg"`) would let one member hide behind another name.
    EscapedMemberName,
}

impl core::fmt::Display for JsonError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Syntax { offset } => write!(f, "invalid JSON at byte {offset}"),
            Self::NotAnObject => f.write_str("JSON text is not an object"),
            Self::TooDeep => write!(f, "JSON nested deeper than {MAX_DEPTH} levels"),
            Self::TooManyMembers => write!(f, "JSON object has more than {MAX_MEMBERS} members"),
            Self::DuplicateMember => f.write_str("JSON object has a duplicate member name"),
            Self::EscapedMemberName => f.write_str("JSON member name contains an escape sequence"),
        }
    }
}

impl core::error::Error for JsonError {}

/// A member value as the caller sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A string without escape sequences, between its quotes.
    Str(&'a str),
    /// A string that contains escape sequences (the raw text between the quotes). None of the
    /// values we interpret ever needs one.
    EscapedStr(&'a str),
    /// A nested object, braces included: read it with [`for_each_member`].
    Object(&'a [u8]),
    /// Anything else: number, `true`, `false`, `null` or an array.
    Other,
}

/// Checks that `input` is exactly one JSON object (whitespace around it allowed) and calls
/// `on_member` once per member, in document order, after the whole text has been validated.
///
/// # Errors
/// A [`JsonError`] (converted into `E`) for invalid JSON, or whatever `on_member` returns.
pub fn for_each_member<'a, E: From<JsonError>>(
    input: &'a [u8],
    mut on_member: impl FnMut(&'a str, Value<'a>) -> Result<(), E>,
) -> Result<(), E> {
    let mut reader = Reader { input, pos: 0 };
    let mut members: Vec<(&'a str, Value<'a>), MAX_MEMBERS> = Vec::new();
    reader.skip_ws();
    if reader.peek() != Some(b'{') {
        // Tell "not JSON" from "JSON, but not an object".
        let mut check = Reader { input, pos: 0 };
        check.skip_ws();
        return Err(match check.value(0).and_then(|_| check.end()) {
            Ok(()) => JsonError::NotAnObject.into(),
            Err(e) => e.into(),
        });
    }
    reader.object(1, Some(&mut members))?;
    reader.end()?;
    for (i, (name, _)) in members.iter().enumerate() {
        if members[..i].iter().any(|(seen, _)| seen == name) {
            return Err(JsonError::DuplicateMember.into());
        }
    }
    for (name, value) in members {
        on_member(name, value)?;
    }
    Ok(())
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn syntax(&self) -> JsonError {
        JsonError::Syntax { offset: self.pos }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn consume(&mut self, byte: u8) -> Result<(), JsonError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    fn end(&mut self) -> Result<(), JsonError> {
        self.skip_ws();
        if self.pos == self.input.len() {
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    /// Reads an object starting at `{`; collects the members when `members` is given.
    fn object(
        &mut self,
        depth: usize,
        mut members: Option<&mut Vec<(&'a str, Value<'a>), MAX_MEMBERS>>,
    ) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.consume(b'{')?;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            let (name, escaped) = self.string()?;
            self.skip_ws();
            self.consume(b':')?;
            self.skip_ws();
            let value = self.value(depth)?;
            if let Some(members) = members.as_deref_mut() {
                if escaped {
                    return Err(JsonError::EscapedMemberName);
                }
                members
                    .push((name, value))
                    .map_err(|_| JsonError::TooManyMembers)?;
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.consume(b'[')?;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            self.value(depth)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    /// Reads any value; `depth` is the depth of the container holding it.
    fn value(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        match self.peek() {
            Some(b'"') => {
                let (text, escaped) = self.string()?;
                Ok(if escaped {
                    Value::EscapedStr(text)
                } else {
                    Value::Str(text)
                })
            }
            Some(b'{') => {
                let start = self.pos;
                self.object(depth + 1, None)?;
                Ok(Value::Object(&self.input[start..self.pos]))
            }
            Some(b'[') => self.array(depth + 1).map(|()| Value::Other),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.syntax()),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<Value<'a>, JsonError> {
        if self.input.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(Value::Other)
        } else {
            Err(self.syntax())
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.syntax()),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.syntax());
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.syntax());
            }
        }
        Ok(Value::Other)
    }

    /// Reads a string starting at `"`; returns its raw text and whether it has escapes.
    fn string(&mut self) -> Result<(&'a str, bool), JsonError> {
        self.consume(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return Err(self.syntax()),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            for _ in 0..4 {
                                if !self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                    return Err(self.syntax());
                                }
                                self.pos += 1;
                            }
                        }
                        _ => return Err(self.syntax()),
                    }
                }
                // RFC 8259 §7: control characters must be escaped.
                Some(0x00..=0x1f) => return Err(self.syntax()),
                Some(_) => self.pos += 1,
            }
        }
        let raw = &self.input[start..self.pos];
        let text = core::str::from_utf8(raw).map_err(|e| JsonError::Syntax {
            offset: start + e.valid_up_to(),
        })?;
        self.pos += 1; // closing quote
        Ok((text, escaped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(input: &str) -> Result<std::vec::Vec<(std::string::String, Value<'_>)>, JsonError> {
        let mut out = std::vec::Vec::new();
        for_each_member::<JsonError>(input.as_bytes(), |name, value| {
            out.push((name.into(), value));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn reads_members_in_order() {
        let got = members(r#" {"a":"x","b":{"c":[1,-2.5e+3,true,null]},"d":"\n"} "#).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].1, Value::Str("x"));
        assert_eq!(got[1].1, Value::Object(br#"{"c":[1,-2.5e+3,true,null]}"#));
        assert_eq!(got[2].1, Value::EscapedStr("\\n"));
    }

    #[test]
    fn rejects_what_lenient_parsers_accept() {
        for bad in [
            r#"{"a":tru}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":"x",}"#,
            r#"{"a":"x"} x"#,
            "{\"a\":\"\u{1}\"}",
            r#"{"a":"\x"}"#,
            r#"{'a':1}"#,
            r#"{"a":[1,]}"#,
        ] {
            assert!(
                matches!(members(bad), Err(JsonError::Syntax { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            members(r#"{"a":1,"a":2}"#).unwrap_err(),
            JsonError::DuplicateMember
        );
        assert_eq!(
            members(r#"{"\u0061":1}"#).unwrap_err(),
            JsonError::EscapedMemberName
        );
        assert_eq!(members("[1]").unwrap_err(), JsonError::NotAnObject);
        assert_eq!(
            members(r#"{"a":[[[[[[[[[1]]]]]]]]]}"#).unwrap_err(),
            JsonError::TooDeep
        );
    }
}
