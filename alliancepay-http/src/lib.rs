//! The AlliancePay HTTP flow (work in progress).
