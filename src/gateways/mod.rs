//! Payment gateways.

pub mod bitpin;
