//! How the winner is chosen from the random pool: deterministically from the month's seed and
//! the draw's canonical inputs, without modulo bias. `docs/draw.md` describes the same steps
//! for anyone who wants to check them by hand; `docs/verify_draw.py` does them in Python.
//!
//! 1. The canonical inputs are UTF-8 lines, each ending in `\n`:
//!    `saghat-draw 1`, `month <year>/<mm>`, `available_cash <units>`, then one
//!    `participant <user_id> <score> <request units>` per participant in increasing `user_id`
//!    (`score` is `unlimited` or the score's integer points, 10⁻⁸ each), then
//!    `pool <user_id>,<user_id>,…` in increasing order (empty after the space when nobody
//!    can be funded). Amounts are integer units of 10⁻⁸ USDT.
//! 2. `digest = SHA-256(inputs)`.
//! 3. For `counter = 0, 1, …`: `block = SHA-256(seed ‖ digest ‖ counter as 4 bytes
//!    big-endian)`, `x` = its first 8 bytes as an unsigned big-endian integer. With `n` members
//!    in the pool and `limit = 2⁶⁴ − (2⁶⁴ mod n)`, the first `x < limit` gives the index
//!    `x mod n` into the pool; a larger `x` is rejected and the next counter is tried (each
//!    index is then exactly equally likely; a rejection happens with probability below n/2⁶⁴).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::seed::Seed;
use crate::fund::draw::{Entrant, Score};
use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;

/// The canonical inputs' text (see the module's documentation). `entrants` and `pool` are
/// sorted here, so the caller's order does not matter.
pub fn canonical_inputs(
    month: JalaliMonth,
    available_cash: Amount,
    entrants: &[Entrant],
    pool: &[i64],
) -> String {
    let mut entrants = entrants.to_vec();
    entrants.sort_by_key(|e| e.user_id);
    let mut pool = pool.to_vec();
    pool.sort_unstable();
    let mut text = String::from("saghat-draw 1\n");
    let _ = writeln!(text, "month {}/{:02}", month.year, month.month);
    let _ = writeln!(text, "available_cash {}", available_cash.units());
    for e in &entrants {
        let score = match e.score {
            Score::Unlimited => "unlimited".to_string(),
            Score::Finite(points) => points.to_string(),
        };
        let _ = writeln!(
            text,
            "participant {} {score} {}",
            e.user_id,
            e.request.units()
        );
    }
    let ids: Vec<String> = pool.iter().map(i64::to_string).collect();
    let _ = writeln!(text, "pool {}", ids.join(","));
    text
}

/// SHA-256 of the canonical inputs, as 64 hex digits.
pub fn inputs_digest(inputs: &str) -> String {
    hex::encode(Sha256::digest(inputs.as_bytes()))
}

/// One 64-bit number drawn from the seed, and whether it was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RandomDraw {
    pub counter: u32,
    /// The block's first 8 bytes as a decimal number (JSON numbers lose precision past 2⁵³).
    pub value: String,
    pub accepted: bool,
}

/// The choice among `pool_size` members: the index and every number drawn to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub index: usize,
    pub draws: Vec<RandomDraw>,
}

/// The unbiased choice of an index below `pool_size` from `seed` and the inputs' `digest`
/// (hex); `None` for an empty pool or a digest that is not 32 bytes of hex.
pub fn choose(seed: &Seed, digest: &str, pool_size: usize) -> Option<Choice> {
    if pool_size == 0 {
        return None;
    }
    let digest = hex::decode(digest).ok().filter(|d| d.len() == 32)?;
    let n = pool_size as u128;
    let limit = (1u128 << 64) - (1u128 << 64) % n;
    let mut draws = vec![];
    for counter in 0u32.. {
        let mut hash = Sha256::new();
        hash.update(seed.0);
        hash.update(&digest);
        hash.update(counter.to_be_bytes());
        let block = hash.finalize();
        let x = u64::from_be_bytes(block[..8].try_into().expect("8 bytes"));
        let accepted = u128::from(x) < limit;
        draws.push(RandomDraw {
            counter,
            value: x.to_string(),
            accepted,
        });
        if accepted {
            let index = usize::try_from(u128::from(x) % n).expect("below the pool's size");
            return Some(Choice { index, draws });
        }
    }
    unreachable!("a counter below 2³² is accepted: each is rejected with probability < 1/2")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month() -> JalaliMonth {
        JalaliMonth {
            year: 1405,
            month: 9,
        }
    }

    #[test]
    fn the_canonical_inputs_are_sorted_lines_of_integers() {
        let entrants = [
            Entrant {
                user_id: 9,
                score: Score::Finite(5_752_575),
                request: Amount::whole(100),
            },
            Entrant {
                user_id: 2,
                score: Score::Unlimited,
                request: Amount::parse("30.5").unwrap(),
            },
        ];
        let text = canonical_inputs(month(), Amount::whole(1000), &entrants, &[9, 2]);
        assert_eq!(
            text,
            "saghat-draw 1\nmonth 1405/09\navailable_cash 100000000000\n\
             participant 2 unlimited 3050000000\nparticipant 9 5752575 10000000000\npool 2,9\n"
        );
        let empty = canonical_inputs(month(), Amount::ZERO, &[], &[]);
        assert!(empty.ends_with("available_cash 0\npool \n"), "{empty}");
    }

    #[test]
    fn the_choice_follows_the_documented_hash_chain() {
        let seed = Seed([1u8; 32]);
        let digest = inputs_digest("saghat-draw 1\n");
        let choice = choose(&seed, &digest, 3).unwrap();
        // The same steps by hand.
        let mut hash = Sha256::new();
        hash.update([1u8; 32]);
        hash.update(hex::decode(&digest).unwrap());
        hash.update(0u32.to_be_bytes());
        let x = u64::from_be_bytes(hash.finalize()[..8].try_into().unwrap());
        assert_eq!(choice.draws[0].value, x.to_string());
        assert!(choice.draws[0].accepted, "a rejection has odds 1 in 6·10¹⁸");
        assert_eq!(choice.index, (x % 3) as usize);
        assert_eq!(choice.draws.len(), 1);
    }

    #[test]
    fn an_empty_pool_or_a_bad_digest_has_no_choice() {
        let seed = Seed([1u8; 32]);
        assert_eq!(choose(&seed, &inputs_digest(""), 0), None);
        assert_eq!(choose(&seed, "not hex", 2), None);
    }

    #[test]
    fn every_index_comes_up_about_equally_often() {
        // 3 000 seeds over a pool of 3: each index about 1 000 times (a biased or stuck
        // choice would be far off; the bounds are ±5 standard deviations).
        let digest = inputs_digest("saghat-draw 1\n");
        let mut counts = [0u32; 3];
        for i in 0u32..3000 {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&i.to_be_bytes());
            counts[choose(&Seed(bytes), &digest, 3).unwrap().index] += 1;
        }
        for count in counts {
            assert!((870..=1130).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn the_rejection_limit_leaves_a_multiple_of_the_pool() {
        for n in [1u128, 2, 3, 7, 1000, 99_991] {
            let limit = (1u128 << 64) - (1u128 << 64) % n;
            assert_eq!(limit % n, 0);
            assert!((1u128 << 64) - limit < n);
        }
    }
}
