//! The monthly draw, as plain functions with no I/O: who takes part, each participant's score,
//! and the winner. The storage layer gathers [`MemberStats`] for every active member with a
//! fixed number of queries; everything after that happens here.

use serde::{Deserialize, Serialize};

use crate::platform::money::Amount;

/// What the draw needs to know about one active member (published in the draw's proof).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberStats {
    pub user_id: i64,
    pub username: String,
    pub is_main: bool,
    pub loan_request: Amount,
    /// Total membership fees paid.
    pub balance: Amount,
    pub has_active_loan: bool,
    /// Total (fee + repayment) of the member's most recent payment.
    pub last_payment_total: Option<Amount>,
    /// Loan repayments the member ever made.
    pub repayment_count: i64,
    /// Loans received (active or settled) and their total.
    pub loans_received_count: i64,
    pub loans_received_total: Amount,
    pub last_loan_amount: Option<Amount>,
    /// Months the member paid without a loan repayment.
    pub months_without_repayment: i64,
}

/// A participant's score. `Unlimited` outranks every finite score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Score {
    /// Fixed point with 8 decimals, so ties are exact and the log shows what was compared.
    Finite(i64),
    Unlimited,
}

impl Score {
    /// A score computed in floating point, kept as points of 10⁻⁸ (rounded half away from
    /// zero); one too large for that is unlimited.
    pub fn from_f64(value: f64) -> Score {
        let scaled = (value * 1e8).round();
        if scaled.is_finite() && scaled < i64::MAX as f64 {
            Score::Finite(scaled.max(0.0) as i64)
        } else {
            Score::Unlimited
        }
    }
}

impl<'de> Deserialize<'de> for Score {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Score, D::Error> {
        let text = String::deserialize(d)?;
        if text == "unlimited" {
            return Ok(Score::Unlimited);
        }
        let points = Amount::parse(&text)
            .map_err(serde::de::Error::custom)?
            .units();
        i64::try_from(points)
            .map(Score::Finite)
            .map_err(|_| serde::de::Error::custom("a score out of range"))
    }
}

impl Serialize for Score {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Score::Unlimited => s.serialize_str("unlimited"),
            Score::Finite(points) => s.collect_str(&Amount::from_units(*points)),
        }
    }
}

/// Why a member does not take part in a draw. The log carries both a stable `code` (for
/// clients and the web pages to translate) and the `reason` sentence, which names the
/// original's field as the original did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    ActiveLoan,
    NoRequest,
    RequestAboveBalance,
}

impl Exclusion {
    pub const ALL: [Exclusion; 3] = [
        Exclusion::ActiveLoan,
        Exclusion::NoRequest,
        Exclusion::RequestAboveBalance,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Exclusion::ActiveLoan => "active_loan",
            Exclusion::NoRequest => "no_request",
            Exclusion::RequestAboveBalance => "request_above_balance",
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Exclusion::ActiveLoan => "has an active loan",
            Exclusion::NoRequest => "loan_request_amount is 0",
            Exclusion::RequestAboveBalance => "loan_request_amount exceeds balance",
        }
    }
}

impl Exclusion {
    /// The exclusion a logged `reason` sentence stands for, in today's wording or in the one
    /// draws were logged with before the `code` was added ("loan request amount …").
    pub fn from_reason(sentence: &str) -> Option<Exclusion> {
        match sentence {
            "loan request amount is 0" => Some(Exclusion::NoRequest),
            "loan request amount exceeds balance" => Some(Exclusion::RequestAboveBalance),
            _ => Exclusion::ALL.into_iter().find(|e| e.reason() == sentence),
        }
    }
}

/// Why a member does not take part, or `None` when they do.
pub fn exclusion_reason(m: &MemberStats) -> Option<Exclusion> {
    exclusion(m.is_main, m.loan_request, m.balance, m.has_active_loan)
}

/// The draw's eligibility rule on the only facts it reads: a member with an active loan, or who
/// asks for nothing, or (unless main) asks for more than their balance sits out.
pub fn exclusion(
    is_main: bool,
    loan_request: Amount,
    balance: Amount,
    has_active_loan: bool,
) -> Option<Exclusion> {
    if has_active_loan {
        Some(Exclusion::ActiveLoan)
    } else if !loan_request.is_positive() {
        Some(Exclusion::NoRequest)
    } else if !is_main && loan_request > balance {
        Some(Exclusion::RequestAboveBalance)
    } else {
        None
    }
}

/// ln of an amount in whole USDT; amounts ≤ 0 have no logarithm and give `None`.
fn ln(amount: Amount) -> Option<f64> {
    amount.is_positive().then(|| amount.to_f64().ln())
}

/// score = numerator / denominator, where
/// denominator = last payment × repayments × ln(loans received total) × loans received × ln(request)
/// (any factor ≤ 0, or no payment history → unlimited), and
/// numerator = ln(last loan) × ln(balance) × months without repayment (a factor ≤ 0 counts as 0).
pub fn score(m: &MemberStats) -> Score {
    let Some(last_payment) = m.last_payment_total else {
        return Score::Unlimited;
    };
    let denominator_factors = [
        last_payment.to_f64(),
        m.repayment_count as f64,
        ln(m.loans_received_total).unwrap_or(0.0),
        m.loans_received_count as f64,
        ln(m.loan_request).unwrap_or(0.0),
    ];
    if denominator_factors.iter().any(|f| *f <= 0.0) {
        return Score::Unlimited;
    }
    let numerator_factors = [
        m.last_loan_amount.and_then(ln).unwrap_or(0.0),
        ln(m.balance).unwrap_or(0.0),
        m.months_without_repayment as f64,
    ];
    let numerator: f64 = numerator_factors.iter().map(|f| f.max(0.0)).product();
    let denominator: f64 = denominator_factors.iter().product();
    Score::from_f64(numerator / denominator)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct NotParticipated {
    pub user_id: i64,
    pub username: String,
    pub reason: String,
    /// `active_loan`, `no_request` or `request_above_balance` (added to the original's shape).
    pub code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Participated {
    pub user_id: i64,
    pub username: String,
    /// `unlimited`, or the score with 8 decimals.
    #[schema(value_type = String)]
    pub point: Score,
}

/// The draw's log, stored with the loan and returned as the loan's `log`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DrawLog {
    pub not_participated: Vec<NotParticipated>,
    pub participated: Vec<Participated>,
    pub selected: Option<i64>,
    pub random_pool: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Winner {
    pub user_id: i64,
    pub username: String,
    pub amount: Amount,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DrawOutcome {
    pub winner: Option<Winner>,
    pub log: DrawLog,
    /// The participants as the choice saw them, by increasing id.
    pub entrants: Vec<Entrant>,
}

/// One participant as the choice of the winner sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entrant {
    pub user_id: i64,
    pub score: Score,
    pub request: Amount,
}

/// Runs the draw over every active member. Only participants whose request fits in
/// `available_cash` can win; among them the top group (the random pool, by increasing id) is
/// every `unlimited` score if there is one, else every score equal to the maximum, and
/// `pick(participants, pool)` says which of the pool wins (`fund::proof::choice` does it
/// from the month's committed seed). It is called only for a pool that is not empty.
pub fn run_draw(
    members: &[MemberStats],
    available_cash: Amount,
    pick: impl FnOnce(&[Entrant], &[i64]) -> usize,
) -> DrawOutcome {
    let mut log = DrawLog {
        not_participated: vec![],
        participated: vec![],
        selected: None,
        random_pool: vec![],
        note: None,
    };
    let mut fundable: Vec<(&MemberStats, Score)> = vec![];
    let mut entrants: Vec<Entrant> = vec![];
    let mut unfundable: Vec<&str> = vec![];
    for member in members {
        if let Some(exclusion) = exclusion_reason(member) {
            log.not_participated.push(NotParticipated {
                user_id: member.user_id,
                username: member.username.clone(),
                reason: exclusion.reason().into(),
                code: exclusion.code().into(),
            });
            continue;
        }
        let point = score(member);
        entrants.push(Entrant {
            user_id: member.user_id,
            score: point,
            request: member.loan_request,
        });
        log.participated.push(Participated {
            user_id: member.user_id,
            username: member.username.clone(),
            point,
        });
        if member.loan_request <= available_cash {
            fundable.push((member, point));
        } else {
            unfundable.push(&member.username);
        }
    }
    let mut notes = vec![];
    if !unfundable.is_empty() {
        notes.push(format!(
            "requests above the fund's available cash of {available_cash}: {}",
            unfundable.join(", ")
        ));
    }
    let best = fundable.iter().map(|(_, s)| *s).max();
    let mut pool: Vec<&MemberStats> = match best {
        Some(best) => fundable
            .iter()
            .filter(|(_, s)| *s == best)
            .map(|(m, _)| *m)
            .collect(),
        None => vec![],
    };
    pool.sort_by_key(|m| m.user_id);
    log.random_pool = pool.iter().map(|m| m.user_id).collect();
    entrants.sort_by_key(|e| e.user_id);
    let chosen = (!pool.is_empty()).then(|| pick(&entrants, &log.random_pool));
    let winner = chosen.and_then(|i| pool.get(i)).map(|m| Winner {
        user_id: m.user_id,
        username: m.username.clone(),
        amount: m.loan_request,
    });
    log.selected = winner.as_ref().map(|w| w.user_id);
    if winner.is_none() {
        notes.push(if log.participated.is_empty() {
            "no member was eligible this month".into()
        } else {
            "no participant's request fits in the fund's available cash".into()
        });
    }
    log.note = (!notes.is_empty()).then(|| notes.join("; "));
    DrawOutcome {
        winner,
        log,
        entrants,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Picks the pool's first member.
    fn first(_: &[Entrant], _: &[i64]) -> usize {
        0
    }

    fn usdt(n: &str) -> Amount {
        Amount::parse(n).unwrap()
    }

    /// A member who has paid `months` fees of 20 and never borrowed.
    fn newcomer(id: i64, request: &str, months: i64) -> MemberStats {
        MemberStats {
            user_id: id,
            username: format!("m{id}"),
            is_main: false,
            loan_request: usdt(request),
            balance: Amount::whole(20 * months),
            has_active_loan: false,
            last_payment_total: Some(Amount::whole(20)),
            repayment_count: 0,
            loans_received_count: 0,
            loans_received_total: Amount::ZERO,
            last_loan_amount: None,
            months_without_repayment: months,
        }
    }

    /// A member who borrowed 100 once, repaid it in 5 payments, and paid fees for 10 months.
    fn veteran(id: i64) -> MemberStats {
        MemberStats {
            loan_request: Amount::whole(100),
            balance: Amount::whole(200),
            last_payment_total: Some(Amount::whole(20)),
            repayment_count: 5,
            loans_received_count: 1,
            loans_received_total: Amount::whole(100),
            last_loan_amount: Some(Amount::whole(100)),
            months_without_repayment: 5,
            ..newcomer(id, "100", 10)
        }
    }

    #[test]
    fn a_member_without_loan_history_scores_unlimited() {
        assert_eq!(score(&newcomer(1, "50", 3)), Score::Unlimited);
    }

    #[test]
    fn no_payment_history_scores_unlimited() {
        let m = MemberStats {
            last_payment_total: None,
            ..veteran(1)
        };
        assert_eq!(score(&m), Score::Unlimited);
    }

    #[test]
    fn a_request_of_at_most_one_usdt_makes_ln_non_positive_and_the_score_unlimited() {
        let m = MemberStats {
            loan_request: usdt("1"),
            ..veteran(1)
        };
        assert_eq!(score(&m), Score::Unlimited);
    }

    #[test]
    fn finite_score_matches_the_hand_computation() {
        // numerator   = ln(100) × ln(200) × 5 = 4.605170186 × 5.298317367 × 5 = 121.9985...
        // denominator = 20 × 5 × ln(100) × 1 × ln(100) = 100 × 21.2075924 = 2120.75924...
        // score       = 5 × ln(200) / (100 × ln(100)) = 26.4915868 / 460.5170186 = 0.05752575
        let expected =
            (100f64.ln() * 200f64.ln() * 5.0) / (20.0 * 5.0 * 100f64.ln() * 1.0 * 100f64.ln());
        assert!((expected - 0.05752575).abs() < 1e-8);
        assert_eq!(
            score(&veteran(1)),
            Score::Finite((expected * 1e8).round() as i64)
        );
        assert_eq!(
            serde_json::to_value(score(&veteran(1))).unwrap(),
            "0.05752575"
        );
    }

    #[test]
    fn a_zero_numerator_factor_gives_score_zero() {
        let m = MemberStats {
            months_without_repayment: 0,
            ..veteran(1)
        };
        assert_eq!(score(&m), Score::Finite(0));
        // A balance of at most 1 USDT has ln ≤ 0, which counts as 0.
        let poor = MemberStats {
            balance: usdt("0.5"),
            is_main: true,
            ..veteran(2)
        };
        assert_eq!(score(&poor), Score::Finite(0));
    }

    #[test]
    fn logged_reasons_are_read_back_in_either_wording() {
        for exclusion in Exclusion::ALL {
            assert_eq!(Exclusion::from_reason(exclusion.reason()), Some(exclusion));
        }
        assert_eq!(
            Exclusion::from_reason("loan request amount exceeds balance"),
            Some(Exclusion::RequestAboveBalance)
        );
        assert_eq!(
            Exclusion::from_reason("loan request amount is 0"),
            Some(Exclusion::NoRequest)
        );
        assert_eq!(Exclusion::from_reason("a rule we never had"), None);
    }

    #[test]
    fn eligibility_rules_and_their_reasons() {
        let active = MemberStats {
            has_active_loan: true,
            ..newcomer(1, "10", 2)
        };
        assert_eq!(exclusion_reason(&active), Some(Exclusion::ActiveLoan));
        assert_eq!(
            exclusion_reason(&newcomer(2, "0", 2)),
            Some(Exclusion::NoRequest)
        );
        let greedy = newcomer(3, "40.00000001", 2);
        assert_eq!(
            exclusion_reason(&greedy),
            Some(Exclusion::RequestAboveBalance)
        );
        let main = MemberStats {
            is_main: true,
            ..greedy.clone()
        };
        assert_eq!(
            exclusion_reason(&main),
            None,
            "main members may request more than their balance"
        );
        assert_eq!(exclusion_reason(&newcomer(4, "40", 2)), None);
    }

    #[test]
    fn unlimited_scores_form_the_random_pool_and_the_winner_comes_from_it() {
        let members = vec![veteran(1), newcomer(2, "30", 2), newcomer(3, "30", 3)];
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let outcome = run_draw(&members, Amount::whole(1000), |_, pool| seed % pool.len());
            assert_eq!(outcome.log.random_pool, vec![2, 3]);
            let winner = outcome.winner.unwrap();
            assert!(winner.user_id == 2 || winner.user_id == 3);
            assert_eq!(winner.amount, Amount::whole(30));
            assert_eq!(outcome.log.selected, Some(winner.user_id));
            seen.insert(winner.user_id);
        }
        assert_eq!(seen.len(), 2, "both tied members win for some seed");
    }

    #[test]
    fn ties_on_the_maximum_finite_score_share_the_pool() {
        let lower = MemberStats {
            months_without_repayment: 1,
            ..veteran(3)
        };
        let members = vec![veteran(1), veteran(2), lower];
        let outcome = run_draw(&members, Amount::whole(1000), first);
        assert_eq!(outcome.log.random_pool, vec![1, 2]);
        assert_eq!(outcome.log.participated.len(), 3);
    }

    #[test]
    fn requests_above_the_available_cash_cannot_win() {
        let big = newcomer(1, "500", 30); // unlimited score, but the fund holds only 100
        let small = veteran(2); // finite score, requests 100
        let outcome = run_draw(&[big, small], Amount::whole(100), first);
        assert_eq!(outcome.winner.unwrap().user_id, 2);
        assert_eq!(outcome.log.random_pool, vec![2]);
        assert_eq!(
            outcome.log.participated.len(),
            2,
            "the unfundable member still took part"
        );
        assert!(outcome.log.note.unwrap().contains("m1"));
    }

    #[test]
    fn nobody_fundable_or_nobody_eligible_means_no_one() {
        let outcome = run_draw(&[newcomer(1, "500", 30)], Amount::whole(100), first);
        assert_eq!(outcome.winner, None);
        assert_eq!(outcome.log.selected, None);
        assert!(outcome.log.random_pool.is_empty());

        let outcome = run_draw(&[newcomer(1, "0", 3)], Amount::whole(100), first);
        assert_eq!(outcome.winner, None);
        assert!(outcome.log.participated.is_empty());
        assert_eq!(outcome.log.not_participated.len(), 1);
        assert_eq!(
            outcome.log.note.as_deref(),
            Some("no member was eligible this month")
        );

        let outcome = run_draw(&[], Amount::ZERO, first);
        assert_eq!(outcome.winner, None);
    }

    #[test]
    fn the_log_has_the_original_shape() {
        let outcome = run_draw(
            &[newcomer(1, "20", 1), newcomer(2, "0", 1)],
            Amount::whole(40),
            first,
        );
        let log = serde_json::to_value(&outcome.log).unwrap();
        assert_eq!(log["participated"][0]["point"], "unlimited");
        assert_eq!(
            log["not_participated"][0],
            serde_json::json!({ "user_id": 2, "username": "m2", "reason": "loan_request_amount is 0", "code": "no_request" })
        );
        assert_eq!(log["selected"], 1);
        assert_eq!(log["random_pool"], serde_json::json!([1]));
        assert!(log.get("note").is_none());
    }
}
