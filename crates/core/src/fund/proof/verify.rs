//! A draw's proof — everything published about it — and its verification: each step of the
//! draw recomputed from the published inputs alone and compared with what was published.
//! Pure: the CLI, the API's page and the tests verify with it; `docs/verify_draw.py` does the
//! same in Python.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::choice::{canonical_inputs, choose, inputs_digest, RandomDraw};
use super::seed::{commitment, Seed};
use crate::fund::draw::{run_draw, MemberStats, NotParticipated, Participated};
use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;

/// The format of [`DrawProof`]; a verifier refuses another.
pub const PROOF_VERSION: u32 = 1;

/// Everything needed to recompute a draw: its inputs (every active member's figures and the
/// fund's cash when it ran), the month's seed and commitment, and what the draw published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DrawProof {
    pub version: u32,
    pub loan_id: String,
    /// `YYYY/MM`, Jalali.
    pub month: String,
    /// SHA-256(seed ‖ year ‖ month), published when the month began.
    pub commitment: String,
    pub committed_at: String,
    /// The month's seed, 64 hex digits, revealed by the draw.
    pub seed: String,
    pub available_cash: Amount,
    /// Every active member as the draw read them.
    pub members: Vec<MemberStats>,
    pub not_participated: Vec<NotParticipated>,
    pub participated: Vec<Participated>,
    pub random_pool: Vec<i64>,
    /// The canonical inputs the choice is derived from (`docs/draw.md`).
    pub inputs: String,
    pub inputs_digest: String,
    pub draws: Vec<RandomDraw>,
    pub selected: Option<i64>,
    pub amount: Option<Amount>,
}

/// The steps of a verification, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The proof's format is one this verifier reads.
    Format,
    /// The revealed seed hashes to the commitment.
    Commitment,
    /// The commitment is the one published when the month began (server side: the audit log).
    Published,
    /// Who took part and who did not, and why.
    Eligibility,
    /// Each participant's score.
    Scores,
    /// The random pool.
    Pool,
    /// The canonical inputs and their digest.
    Inputs,
    /// The numbers drawn from the seed and the winner they give.
    Choice,
}

impl Step {
    pub fn code(self) -> &'static str {
        match self {
            Step::Format => "format",
            Step::Commitment => "commitment",
            Step::Published => "published",
            Step::Eligibility => "eligibility",
            Step::Scores => "scores",
            Step::Pool => "pool",
            Step::Inputs => "inputs",
            Step::Choice => "choice",
        }
    }
}

/// One step's outcome: on a failure `detail` says what differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Check {
    pub step: Step,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Verification {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Verification {
    /// The first step that failed.
    pub fn failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.ok)
    }

    /// Adds a step checked elsewhere (the published commitment, against the audit log).
    pub fn with(mut self, check: Check) -> Verification {
        let at = self
            .checks
            .iter()
            .position(|c| c.step > check.step)
            .unwrap_or(self.checks.len());
        self.ok &= check.ok;
        self.checks.insert(at, check);
        self
    }
}

impl PartialOrd for Step {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Step {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

fn check(step: Step, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        step,
        ok,
        detail: if ok { String::new() } else { detail.into() },
    }
}

/// `YYYY/MM` (or `YYYY/M`) as a month.
pub fn parse_month(text: &str) -> Option<JalaliMonth> {
    let (year, month) = text.trim().split_once('/')?;
    let year: i32 = year.parse().ok()?;
    let month: u8 = month.parse().ok()?;
    ((1..=12).contains(&month) && (1..=9999).contains(&year)).then_some(JalaliMonth { year, month })
}

/// Recomputes every step of `proof` from its inputs. Stops at a step whose failure makes the
/// later ones meaningless (an unreadable seed or month).
pub fn verify(proof: &DrawProof) -> Verification {
    let mut checks = vec![];
    let done = |checks: Vec<Check>| Verification {
        ok: checks.iter().all(|c| c.ok),
        checks,
    };
    let version_ok = proof.version == PROOF_VERSION;
    checks.push(check(
        Step::Format,
        version_ok,
        format!(
            "proof version {} (this verifier reads {PROOF_VERSION})",
            proof.version
        ),
    ));
    let (Some(month), Some(seed)) = (parse_month(&proof.month), Seed::from_hex(&proof.seed)) else {
        checks.push(check(
            Step::Commitment,
            false,
            "the month or the seed cannot be read",
        ));
        return done(checks);
    };
    let expected = commitment(&seed, month);
    checks.push(check(
        Step::Commitment,
        expected == proof.commitment.to_ascii_lowercase(),
        format!(
            "SHA-256 of the seed, the year and the month is {expected}, not the commitment {}",
            proof.commitment
        ),
    ));

    // Eligibility, scores and the pool, recomputed by the draw itself from the members.
    let again = run_draw(&proof.members, proof.available_cash, |_, _| 0);
    checks.push(eligibility(
        proof,
        &again.log.not_participated,
        &again.log.participated,
    ));
    checks.push(scores(proof, &again.log.participated));
    checks.push(check(
        Step::Pool,
        again.log.random_pool == proof.random_pool,
        format!(
            "the pool is {:?}, not the published {:?}",
            again.log.random_pool, proof.random_pool
        ),
    ));

    // The canonical inputs, from the recomputed participants and pool.
    let pool = &again.log.random_pool;
    let inputs = canonical_inputs(month, proof.available_cash, &again.entrants, pool);
    let digest = inputs_digest(&inputs);
    let inputs_ok = inputs == proof.inputs && digest == proof.inputs_digest;
    checks.push(check(
        Step::Inputs,
        inputs_ok,
        if inputs != proof.inputs {
            "the canonical inputs differ from the published ones".to_string()
        } else {
            format!(
                "the inputs' SHA-256 is {digest}, not {}",
                proof.inputs_digest
            )
        },
    ));
    checks.push(choice(proof, &seed, &digest, pool));
    done(checks)
}

fn eligibility(proof: &DrawProof, out: &[NotParticipated], took_part: &[Participated]) -> Check {
    let key = |v: &[NotParticipated]| {
        let mut k: Vec<(i64, String)> = v.iter().map(|n| (n.user_id, n.code.clone())).collect();
        k.sort();
        k
    };
    let ids = |v: &[Participated]| {
        let mut k: Vec<i64> = v.iter().map(|p| p.user_id).collect();
        k.sort_unstable();
        k
    };
    let (want_out, got_out) = (key(out), key(&proof.not_participated));
    if want_out != got_out {
        let differs = want_out
            .iter()
            .find(|w| !got_out.contains(w))
            .or_else(|| got_out.iter().find(|g| !want_out.contains(g)));
        return check(
            Step::Eligibility,
            false,
            match differs {
                Some((id, code)) => {
                    format!("member {id} sits out ({code}) in one and not the other")
                }
                None => "who sits out differs".into(),
            },
        );
    }
    check(
        Step::Eligibility,
        ids(took_part) == ids(&proof.participated),
        format!(
            "the participants are {:?}, not the published {:?}",
            ids(took_part),
            ids(&proof.participated)
        ),
    )
}

fn scores(proof: &DrawProof, recomputed: &[Participated]) -> Check {
    let by_id: std::collections::HashMap<i64, &Participated> =
        recomputed.iter().map(|r| (r.user_id, r)).collect();
    for p in &proof.participated {
        let Some(again) = by_id.get(&p.user_id) else {
            continue; // told by the eligibility step
        };
        if again.point != p.point {
            let show = |s| {
                serde_json::to_value(s)
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            };
            return check(
                Step::Scores,
                false,
                format!(
                    "member {}'s score is {}, not the published {}",
                    p.user_id,
                    show(again.point),
                    show(p.point)
                ),
            );
        }
    }
    check(Step::Scores, true, "")
}

fn choice(proof: &DrawProof, seed: &Seed, digest: &str, pool: &[i64]) -> Check {
    let picked = choose(seed, digest, pool.len());
    let draws = picked.as_ref().map(|c| c.draws.clone()).unwrap_or_default();
    let winner = picked.as_ref().and_then(|c| pool.get(c.index)).copied();
    if draws != proof.draws {
        return check(
            Step::Choice,
            false,
            "the numbers drawn from the seed differ from the published ones",
        );
    }
    if winner != proof.selected {
        return check(
            Step::Choice,
            false,
            format!(
                "the seed picks member {}, not the published {}",
                winner.map_or("none".into(), |w| w.to_string()),
                proof.selected.map_or("none".into(), |w| w.to_string())
            ),
        );
    }
    let request = winner
        .and_then(|w| proof.members.iter().find(|m| m.user_id == w))
        .map(|m| m.loan_request);
    check(
        Step::Choice,
        request == proof.amount,
        format!(
            "the winner asked for {}, not the published amount {}",
            request.map_or("nothing".into(), |a| a.to_string()),
            proof.amount.map_or("none".into(), |a| a.to_string())
        ),
    )
}

/// The draw over `members` with `available_cash` for `month`, its winner picked from `seed`,
/// and its proof (what the draw publishes, its `loan_id` left for the caller to fill in).
pub fn prove(
    month: JalaliMonth,
    (seed, committed_at): (&Seed, &str),
    members: Vec<MemberStats>,
    available_cash: Amount,
) -> (crate::fund::draw::DrawOutcome, DrawProof) {
    let mut published = (String::new(), String::new(), vec![]);
    let outcome = run_draw(&members, available_cash, |entrants, pool| {
        let inputs = canonical_inputs(month, available_cash, entrants, pool);
        let digest = inputs_digest(&inputs);
        let chosen = choose(seed, &digest, pool.len()).expect("a pool that is not empty");
        let index = chosen.index;
        published = (inputs, digest, chosen.draws);
        index
    });
    if outcome.log.random_pool.is_empty() {
        let inputs = canonical_inputs(month, available_cash, &outcome.entrants, &[]);
        published = (inputs.clone(), inputs_digest(&inputs), vec![]);
    }
    let (inputs, inputs_digest, draws) = published;
    let proof = DrawProof {
        version: PROOF_VERSION,
        loan_id: String::new(),
        month: format!("{}/{:02}", month.year, month.month),
        commitment: commitment(seed, month),
        committed_at: committed_at.to_string(),
        seed: seed.to_hex(),
        available_cash,
        members,
        not_participated: outcome.log.not_participated.clone(),
        participated: outcome.log.participated.clone(),
        random_pool: outcome.log.random_pool.clone(),
        inputs,
        inputs_digest,
        draws,
        selected: outcome.log.selected,
        amount: outcome.winner.as_ref().map(|w| w.amount),
    };
    (outcome, proof)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: i64, request: i64, balance: i64, borrowed: bool) -> MemberStats {
        MemberStats {
            user_id: id,
            username: format!("m{id}"),
            is_main: false,
            loan_request: Amount::whole(request),
            balance: Amount::whole(balance),
            has_active_loan: false,
            last_payment_total: Some(Amount::whole(20)),
            repayment_count: if borrowed { 5 } else { 0 },
            loans_received_count: i64::from(borrowed),
            loans_received_total: Amount::whole(if borrowed { 100 } else { 0 }),
            last_loan_amount: borrowed.then(|| Amount::whole(100)),
            months_without_repayment: 5,
        }
    }

    fn month() -> JalaliMonth {
        JalaliMonth {
            year: 1405,
            month: 9,
        }
    }

    /// Four members: two newcomers tied on unlimited (the pool), a veteran, one asking for
    /// more than they paid in.
    fn proof() -> DrawProof {
        let members = vec![
            member(4, 30, 60, false),
            member(2, 30, 40, false),
            member(7, 100, 200, true),
            member(9, 500, 40, false),
        ];
        let seed = Seed([42u8; 32]);
        let (_, mut proof) = prove(
            month(),
            (&seed, "2026-11-22T00:00:00Z"),
            members,
            Amount::whole(1000),
        );
        proof.loan_id = "loan-1".into();
        proof
    }

    fn failed_step(proof: &DrawProof) -> (Step, String) {
        let verified = verify(proof);
        assert!(!verified.ok);
        let failure = verified.failure().expect("a failed step");
        (failure.step, failure.detail.clone())
    }

    #[test]
    fn a_proof_verifies_and_its_winner_comes_from_the_pool() {
        let proof = proof();
        let verified = verify(&proof);
        assert!(verified.ok, "{verified:?}");
        assert_eq!(verified.checks.len(), 7, "every step but the published one");
        assert_eq!(proof.random_pool, vec![2, 4]);
        assert!(matches!(proof.selected, Some(2 | 4)));
        assert_eq!(proof.amount, Some(Amount::whole(30)));
        assert_eq!(proof.not_participated[0].user_id, 9);
        assert!(proof.inputs.contains("pool 2,4\n"), "{}", proof.inputs);
        // It reads back from its JSON and still verifies.
        let json = serde_json::to_string(&proof).unwrap();
        let back: DrawProof = serde_json::from_str(&json).unwrap();
        assert_eq!(back, proof);
        assert!(verify(&back).ok);
    }

    #[test]
    fn another_seed_or_commitment_fails_the_commitment_step() {
        let mut tampered = proof();
        tampered.seed = Seed([43u8; 32]).to_hex();
        let (step, detail) = failed_step(&tampered);
        assert_eq!(step, Step::Commitment);
        assert!(detail.contains("not the commitment"), "{detail}");

        let mut tampered = proof();
        tampered.commitment = "00".repeat(32);
        assert_eq!(failed_step(&tampered).0, Step::Commitment);

        let mut tampered = proof();
        tampered.seed = "not a seed".into();
        let (step, detail) = failed_step(&tampered);
        assert_eq!(step, Step::Commitment);
        assert!(detail.contains("cannot be read"));

        // The right seed for another month.
        let mut tampered = proof();
        tampered.month = "1405/10".into();
        assert_eq!(failed_step(&tampered).0, Step::Commitment);
    }

    #[test]
    fn a_changed_member_fails_the_step_it_changes() {
        // Balance below the request: member 4 would have sat out.
        let mut tampered = proof();
        tampered
            .members
            .iter_mut()
            .find(|m| m.user_id == 4)
            .unwrap()
            .balance = Amount::whole(10);
        let (step, detail) = failed_step(&tampered);
        assert_eq!(step, Step::Eligibility);
        assert!(detail.contains("member 4"), "{detail}");

        // A veteran's history changed: their score differs.
        let mut tampered = proof();
        tampered
            .members
            .iter_mut()
            .find(|m| m.user_id == 7)
            .unwrap()
            .months_without_repayment = 9;
        let (step, detail) = failed_step(&tampered);
        assert_eq!(step, Step::Scores);
        assert!(detail.contains("member 7"), "{detail}");

        // A published score changed.
        let mut tampered = proof();
        let seven = tampered
            .participated
            .iter_mut()
            .find(|p| p.user_id == 7)
            .unwrap();
        seven.point = crate::fund::draw::Score::Unlimited;
        assert_eq!(failed_step(&tampered).0, Step::Scores);
    }

    #[test]
    fn a_changed_pool_cash_inputs_or_winner_fails() {
        let mut tampered = proof();
        tampered.random_pool = vec![2];
        assert_eq!(failed_step(&tampered).0, Step::Pool);

        // Less cash: the pool is the same, the canonical inputs are not.
        let mut tampered = proof();
        tampered.available_cash = Amount::whole(999);
        assert_eq!(failed_step(&tampered).0, Step::Inputs);

        let mut tampered = proof();
        tampered.inputs_digest = "ab".repeat(32);
        let (step, detail) = failed_step(&tampered);
        assert_eq!(step, Step::Inputs);
        assert!(detail.contains("SHA-256"), "{detail}");

        let mut tampered = proof();
        let other = if tampered.selected == Some(2) { 4 } else { 2 };
        tampered.selected = Some(other);
        let (step, detail) = failed_step(&tampered);
        assert_eq!(step, Step::Choice);
        assert!(
            detail.contains(&format!("not the published {other}")),
            "{detail}"
        );

        let mut tampered = proof();
        tampered.draws[0].value = "1".into();
        assert_eq!(failed_step(&tampered).0, Step::Choice);

        let mut tampered = proof();
        tampered.amount = Some(Amount::whole(31));
        assert_eq!(failed_step(&tampered).0, Step::Choice);

        let mut tampered = proof();
        tampered.version = 2;
        assert_eq!(failed_step(&tampered).0, Step::Format);
    }

    #[test]
    fn a_draw_with_nobody_to_fund_still_proves_itself() {
        let seed = Seed([1u8; 32]);
        let members = vec![member(1, 500, 40, false)];
        let (outcome, proof) = prove(month(), (&seed, "t"), members, Amount::whole(10));
        assert_eq!(outcome.winner, None);
        assert!(proof.draws.is_empty());
        assert!(proof.inputs.ends_with("pool \n"));
        assert!(verify(&proof).ok);
    }

    #[test]
    fn a_published_check_takes_its_place_in_order() {
        let verified = verify(&proof()).with(Check {
            step: Step::Published,
            ok: false,
            detail: "x".into(),
        });
        assert!(!verified.ok);
        assert_eq!(verified.checks[2].step, Step::Published);
        assert_eq!(verified.failure().unwrap().step, Step::Published);
    }

    #[test]
    fn months_read_in_either_width() {
        assert_eq!(parse_month("1405/09"), Some(month()));
        assert_eq!(parse_month("1405/9"), Some(month()));
        assert_eq!(parse_month("1405/13"), None);
        assert_eq!(parse_month("1405-09"), None);
    }
}
