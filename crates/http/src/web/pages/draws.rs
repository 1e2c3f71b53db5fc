//! A draw's verification, for the fund's members (`fund::access::may_see_draws`): every step
//! of the commit–reveal draw recomputed from its proof (`fund::proof::service::verify_published`)
//! with a ✓ or a ✗, then the data of each step, and the proof as a JSON file to check with
//! `docs/verify_draw.py` without trusting the server.
//!
//! Two statements whatever the number of members: the proof, and the commitment the audit log
//! published; the tables are built from the proof with maps, never a query per member.

use std::collections::{HashMap, HashSet};

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{reason, render, Page, View};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::i18n::{Lang, UiText};
use crate::web::session::{Prefs, Session, WebError, WebResult};
use saghat_core::fund::access::may_see_draws;
use saghat_core::fund::draw::Score;
use saghat_core::fund::proof::service;
use saghat_core::fund::proof::verify::{parse_month, DrawProof, Verification};
use saghat_core::platform::money::Amount;

/// The verification page of the draw that made `loan_id`.
pub fn verify_href(loan_id: &str) -> String {
    format!("/fund/draws/{loan_id}/verify")
}

/// A stored RFC 3339 time as the fund's Jalali date and clock time (`۱۴۰۵/۰۹/۰۱ ۱۴:۰۵`); the
/// text as stored if it is not one.
pub fn when_stored(lang: Lang, tz: Tz, stored: &str) -> String {
    match DateTime::parse_from_rfc3339(stored) {
        Ok(at) => super::tickets::when(lang, tz, at.with_timezone(&Utc)),
        Err(_) => stored.to_string(),
    }
}

/// One step of the verification as the page shows it.
pub struct StepView {
    /// `Step::code()`: the anchor of the step and of its text keys.
    pub code: &'static str,
    pub ok: bool,
    /// What differs, as the verifier says it (English, with ids and hashes); empty when ok.
    pub detail: String,
}

impl StepView {
    /// The id of the section with this step's data.
    pub fn data_id(&self) -> &'static str {
        match self.code {
            "format" | "commitment" | "published" => "data-seed",
            "eligibility" => "data-members",
            "scores" => "data-scores",
            "pool" => "data-pool",
            "inputs" => "data-inputs",
            _ => "data-choice",
        }
    }
}

/// A member as the draw read them, and whether they took part.
pub struct MemberRow {
    /// The member's number, as the canonical inputs name them.
    pub number: String,
    pub name: String,
    pub balance: Amount,
    pub request: Amount,
    pub active_loan: bool,
    pub took_part: bool,
    /// Why not, in plain words (empty for a participant).
    pub why: String,
}

/// A participant's score.
pub struct ScoreRow {
    pub number: String,
    pub name: String,
    pub score: String,
    pub in_pool: bool,
    pub won: bool,
}

/// A number drawn from the seed.
pub struct DrawnRow {
    pub counter: String,
    pub value: String,
    pub accepted: bool,
}

/// How the accepted number picks the winner: its remainder by the pool's size is a place in it.
pub struct Pick {
    pub pool_size: String,
    pub place: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "draw_verify.html")]
pub struct VerifyPage {
    pub v: View,
    /// `Azar 1405`.
    pub month: String,
    pub ok: bool,
    pub steps: Vec<StepView>,
    pub proof_version: String,
    pub commitment: String,
    pub committed_at: String,
    pub seed: String,
    pub available_cash: Amount,
    pub members: Vec<MemberRow>,
    pub participants: Vec<ScoreRow>,
    pub pool: Vec<String>,
    pub inputs: String,
    pub inputs_digest: String,
    pub draws: Vec<DrawnRow>,
    pub pick: Option<Pick>,
    pub winner: Option<String>,
    pub amount: Option<Amount>,
    pub proof_href: String,
    pub file_name: String,
}

impl VerifyPage {
    /// The page of `proof`, the draw that made `loan_id` (the id asked for: the links never
    /// come from the proof's own text).
    fn new(v: View, loan_id: &str, proof: &DrawProof, verification: Verification) -> VerifyPage {
        let lang = v.lang;
        let number = |id: i64| lang.digits(&id.to_string());
        let names: HashMap<i64, &str> = proof
            .members
            .iter()
            .map(|m| (m.user_id, m.username.as_str()))
            .chain(
                proof
                    .participated
                    .iter()
                    .map(|p| (p.user_id, p.username.as_str())),
            )
            .collect();
        let name_of = |id: i64| {
            names
                .get(&id)
                .map_or_else(|| format!("#{id}"), |n| (*n).to_string())
        };
        let took_part: HashSet<i64> = proof.participated.iter().map(|p| p.user_id).collect();
        let sat_out: HashMap<i64, String> = proof
            .not_participated
            .iter()
            .map(|n| (n.user_id, reason(Some(&n.code), &n.reason, lang)))
            .collect();
        let pool: HashSet<i64> = proof.random_pool.iter().copied().collect();

        let mut members: Vec<_> = proof.members.iter().collect();
        members.sort_by_key(|m| m.user_id);
        let members = members
            .into_iter()
            .map(|m| MemberRow {
                number: number(m.user_id),
                name: m.username.clone(),
                balance: m.balance,
                request: m.loan_request,
                active_loan: m.has_active_loan,
                took_part: took_part.contains(&m.user_id),
                why: sat_out.get(&m.user_id).cloned().unwrap_or_default(),
            })
            .collect();
        let mut participants: Vec<_> = proof.participated.iter().collect();
        participants.sort_by_key(|p| p.user_id);
        let participants = participants
            .into_iter()
            .map(|p| ScoreRow {
                number: number(p.user_id),
                name: p.username.clone(),
                score: match p.point {
                    Score::Unlimited => lang.t("unlimited").to_string(),
                    Score::Finite(points) => lang.digits(&Amount::from_units(points).to_string()),
                },
                in_pool: pool.contains(&p.user_id),
                won: proof.selected == Some(p.user_id),
            })
            .collect();

        // The place the accepted number gives in the pool, as the verifier computes it.
        let pick = proof
            .draws
            .iter()
            .find(|d| d.accepted)
            .and_then(|d| d.value.parse::<u64>().ok())
            .zip(
                u64::try_from(proof.random_pool.len())
                    .ok()
                    .filter(|n| *n > 0),
            )
            .and_then(|(value, size)| {
                let place = value % size;
                let id = proof.random_pool.get(usize::try_from(place).ok()?)?;
                Some(Pick {
                    pool_size: lang.digits(&size.to_string()),
                    place: lang.digits(&place.to_string()),
                    name: name_of(*id),
                })
            });
        let month = parse_month(&proof.month);
        let file_name = match month {
            Some(m) => format!("saghat-draw-proof-{}-{:02}.json", m.year, m.month),
            None => "saghat-draw-proof.json".to_string(),
        };
        VerifyPage {
            month: month.map_or_else(|| proof.month.clone(), |m| lang.jalali_month(m)),
            ok: verification.ok,
            steps: verification
                .checks
                .into_iter()
                .map(|c| StepView {
                    code: c.step.code(),
                    ok: c.ok,
                    detail: c.detail,
                })
                .collect(),
            proof_version: lang.digits(&proof.version.to_string()),
            commitment: proof.commitment.clone(),
            committed_at: when_stored(lang, v.tz, &proof.committed_at),
            seed: proof.seed.clone(),
            available_cash: proof.available_cash,
            members,
            participants,
            pool: proof.random_pool.iter().map(|id| name_of(*id)).collect(),
            inputs: proof.inputs.clone(),
            inputs_digest: proof.inputs_digest.clone(),
            draws: proof
                .draws
                .iter()
                .map(|d| DrawnRow {
                    counter: lang.digits(&d.counter.to_string()),
                    value: lang.digits(&d.value),
                    accepted: d.accepted,
                })
                .collect(),
            pick,
            winner: proof.selected.map(name_of),
            amount: proof.amount,
            proof_href: format!("/fund/draws/{loan_id}/proof.json"),
            file_name,
            v,
        }
    }

    /// A step's name.
    pub fn title(&self, step: &StepView) -> &'static str {
        self.v.t(&format!("vd_step_{}", step.code))
    }

    /// What a step checks.
    pub fn what(&self, step: &StepView) -> &'static str {
        self.v.t(&format!("vd_step_{}_what", step.code))
    }

    /// The command that checks the downloaded proof.
    pub fn command(&self) -> String {
        format!("python3 docs/verify_draw.py {}", self.file_name)
    }
}

/// The proof of the draw that made `loan_id`, for a viewer who may see draws, with the loan's
/// id as stored; a 404 page for an id that is no loan's or a draw made before draws were
/// verifiable.
async fn proof_for(
    state: &AppState,
    session: &Session,
    loan_id: &str,
) -> WebResult<(String, DrawProof)> {
    if !may_see_draws(session.user.role) {
        return Err(WebError::Refused(StatusCode::FORBIDDEN, "vd_forbidden"));
    }
    let not_found = || WebError::from(ApiError::not_found("No proof for this draw"));
    let id = uuid::Uuid::parse_str(loan_id)
        .map_err(|_| not_found())?
        .to_string();
    let proof = service::proof_of_loan(state.ctx(), &id)
        .await?
        .ok_or_else(not_found)?;
    Ok((id, proof))
}

/// `GET /fund/draws/{loan_id}/verify`: the draw's verification, step by step.
pub async fn verify(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Path(loan_id): Path<String>,
) -> WebResult<Response> {
    let (loan_id, proof) = proof_for(&state, &session, &loan_id).await?;
    let verification = service::verify_published(state.ctx(), &proof).await?;
    let mut v = View::new(
        &state,
        prefs,
        Some(&session),
        Page {
            path: "/fund",
            active: "fund",
            title: "vd_title",
            notice: None,
        },
    );
    let other = match prefs.lang {
        Lang::En => Lang::Fa,
        Lang::Fa => Lang::En,
    };
    v.switch_href = format!("{}?lang={}", verify_href(&loan_id), other.code());
    render(&VerifyPage::new(v, &loan_id, &proof, verification))
}

/// `GET /fund/draws/{loan_id}/proof.json`: the proof as `/api/loans/{id}/proof` gives it, to
/// save and check with `docs/verify_draw.py`.
pub async fn proof_file(
    State(state): State<AppState>,
    session: Session,
    Path(loan_id): Path<String>,
) -> WebResult<Response> {
    let (_, proof) = proof_for(&state, &session, &loan_id).await?;
    let mut json = serde_json::to_vec_pretty(&proof)
        .map_err(|e| WebError::from(ApiError::Internal(e.into())))?;
    json.push(b'\n');
    let name = match parse_month(&proof.month) {
        Some(m) => format!("saghat-draw-proof-{}-{:02}.json", m.year, m.month),
        None => "saghat-draw-proof.json".to_string(),
    };
    Ok((
        [
            (CONTENT_TYPE, "application/json".to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        json,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_a_name_an_explanation_and_a_section() {
        use saghat_core::fund::proof::verify::Step;
        for step in [
            Step::Format,
            Step::Commitment,
            Step::Published,
            Step::Eligibility,
            Step::Scores,
            Step::Pool,
            Step::Inputs,
            Step::Choice,
        ] {
            for lang in [Lang::En, Lang::Fa] {
                for key in [
                    format!("vd_step_{}", step.code()),
                    format!("vd_step_{}_what", step.code()),
                ] {
                    assert_ne!(lang.t(&key), "?", "{key} in {lang:?}");
                }
            }
            let view = StepView {
                code: step.code(),
                ok: true,
                detail: String::new(),
            };
            assert!(view.data_id().starts_with("data-"));
        }
    }

    #[test]
    fn stored_times_are_the_funds_date_and_clock() {
        let tz: Tz = "Asia/Tehran".parse().unwrap();
        let at = "2026-11-22T12:00:00.000000Z";
        assert_eq!(when_stored(Lang::En, tz, at), "1405/09/01 15:30");
        assert_eq!(when_stored(Lang::Fa, tz, at), "۱۴۰۵/۰۹/۰۱ ۱۵:۳۰");
        assert_eq!(when_stored(Lang::En, tz, "later"), "later");
    }
}
