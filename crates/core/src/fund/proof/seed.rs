//! The month's secret seed and its published commitment, `SHA-256(seed ‖ year ‖ month)` with
//! the year as two bytes big-endian and the month as one byte.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::platform::jalali::JalaliMonth;

/// 32 secret random bytes drawn when a Jalali month begins, revealed after its draw.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl std::fmt::Debug for Seed {
    // A seed is secret until its draw: it never goes to a log by accident.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(…)")
    }
}

impl Seed {
    /// A new seed from the operating system's random source.
    pub fn generate() -> Seed {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Seed(bytes)
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// A seed written as 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Seed> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        Some(Seed(bytes))
    }
}

/// What is published for `month` before its draw: binds the server to `seed`.
pub fn commitment(seed: &Seed, month: JalaliMonth) -> String {
    let mut hash = Sha256::new();
    hash.update(seed.0);
    hash.update(u16::try_from(month.year).unwrap_or(0).to_be_bytes());
    hash.update([month.month]);
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commitment_is_sha256_of_seed_year_and_month() {
        let seed = Seed([7u8; 32]);
        let month = JalaliMonth {
            year: 1405,
            month: 9,
        };
        // python3 -c "import hashlib; print(hashlib.sha256(bytes([7]*32) + (1405).to_bytes(2,'big') + bytes([9])).hexdigest())"
        assert_eq!(
            commitment(&seed, month),
            "ac8d118f1f47c76f0da35ea4f611919dd8217e9d1d20cff9f64d99fe53d3cf62"
        );
    }

    #[test]
    fn another_month_or_seed_commits_to_something_else() {
        let seed = Seed([7u8; 32]);
        let azar = JalaliMonth {
            year: 1405,
            month: 9,
        };
        let dey = JalaliMonth {
            year: 1405,
            month: 10,
        };
        assert_ne!(commitment(&seed, azar), commitment(&seed, dey));
        assert_ne!(commitment(&seed, azar), commitment(&Seed([8u8; 32]), azar));
    }

    #[test]
    fn a_seed_reads_back_from_its_hex_and_hides_in_debug() {
        let seed = Seed::generate();
        assert_eq!(Seed::from_hex(&seed.to_hex()), Some(seed));
        assert_eq!(Seed::from_hex("zz"), None);
        assert_eq!(Seed::from_hex(&"ab".repeat(31)), None, "31 bytes");
        assert_eq!(format!("{seed:?}"), "Seed(…)");
    }
}
