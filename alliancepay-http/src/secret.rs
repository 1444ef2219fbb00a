//! A string that must not leak: zeroized on drop, redacted in `Debug` and `Display`.

use core::fmt;
use zeroize::Zeroizing;

/// A secret text such as a refresh token. Read it with [`Secret::expose`], which makes every
/// place that handles the value easy to find.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret text.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A merchant's service code: the bank's UUID for the merchant, and the only input of device
/// authorization (bank-api.md §1, §3.1), so a credential. Held as a [`Secret`]: zeroized on
/// drop, `[redacted]` in `Debug` and `Display`; [`ServiceCode::expose`] reads it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceCode(Secret);

impl ServiceCode {
    /// Wraps a service code.
    #[must_use]
    pub fn new(code: impl Into<String>) -> Self {
        Self(Secret::new(code.into()))
    }

    /// The service code's text.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The code as a plain [`Secret`] (session stores bind sessions to one).
    #[must_use]
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }
}

impl From<&str> for ServiceCode {
    fn from(code: &str) -> Self {
        Self::new(code)
    }
}

impl From<String> for ServiceCode {
    fn from(code: String) -> Self {
        Self::new(code)
    }
}

impl fmt::Debug for ServiceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceCode([redacted])")
    }
}

impl fmt::Display for ServiceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_code_is_redacted_and_readable_on_purpose() {
        let code = ServiceCode::new("a51e68aa-c6fa-11ed-afa1-0242ac120005");
        for shown in [format!("{code:?}"), code.to_string()] {
            assert!(!shown.contains("a51e68aa"), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
        }
        assert_eq!(code.expose(), "a51e68aa-c6fa-11ed-afa1-0242ac120005");
        assert_eq!(code.as_secret().expose(), code.expose());
        assert_eq!(ServiceCode::from("x"), ServiceCode::new(String::from("x")));
    }
}
