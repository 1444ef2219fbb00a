//! Benchmarks for the alliancepay workspace (filled in by the performance work).
