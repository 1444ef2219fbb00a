//! Test-only crate: the tests live in `tests/suite/` (one binary, to save link time).
