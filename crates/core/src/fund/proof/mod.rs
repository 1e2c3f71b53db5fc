//! A draw any member can verify (commit–reveal): when a Jalali month begins Saghat draws a
//! secret seed and publishes its commitment; the draw derives its choice from the seed and the
//! draw's canonical inputs; afterwards the seed is revealed with everything needed to
//! recompute the draw. `docs/draw.md` is the description for members.

pub mod choice;
pub mod seed;
pub mod service;
pub mod store;
pub mod verify;
