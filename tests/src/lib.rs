//! Test-only crate: the tests live in `tests/suite/` (one binary, to save link time). This
//! library holds what several test binaries share.

pub mod peers;
