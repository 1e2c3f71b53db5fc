//! Where a member stands with leaving the fund (`fund::membership`), as their admin page and
//! their own page show it: the request with what it would settle, a refusal in the page's
//! language, and afterwards that they have left. The forms that act on it are in
//! `leaving_actions`.

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::FormErrors;
use crate::web::i18n::{Lang, UiText};
use crate::web::queries::MemberRow;
use crate::web::session::WebResult;
use saghat_core::fund::membership::service::{self, DepartureView};
use saghat_core::fund::membership::{settle, store as membership_store, MembershipError};
use saghat_core::fund::membership::{store::Departure, Settlement};
use saghat_core::fund::store as fund_store;
use saghat_core::platform::money::Amount;

/// What leaving now would settle for `user_id`, read as `confirm_leaving` reads it: their
/// contributions against what their active loan still owes; refused when it owes more.
pub(super) async fn settlement_now(
    state: &AppState,
    user_id: i64,
) -> WebResult<Result<Settlement, MembershipError>> {
    let mut conn = state.db.pool.acquire().await?;
    let contributions = membership_store::contributions(&mut conn, user_id).await?;
    let owed = fund_store::active_loan(&mut conn, user_id)
        .await?
        .and_then(|l| l.amount.checked_sub(l.total_paid))
        .unwrap_or(Amount::ZERO);
    Ok(settle(contributions, owed))
}

/// [`settlement_now`], or why leaving is refused, in the page's language.
pub(super) async fn preview(
    state: &AppState,
    user_id: i64,
    lang: Lang,
    admin: bool,
) -> WebResult<Result<Settlement, String>> {
    Ok(match settlement_now(state, user_id).await? {
        Ok(s) => Ok(s),
        Err(e) => Err(refusal(e, lang, admin)?),
    })
}

/// A refusal of `fund::membership` in the page's language; `admin` when an admin asked for it
/// (about the member), else the member (about themselves). Not about the request (no such
/// user, the database): answered like the API.
pub(super) fn refusal(err: MembershipError, lang: Lang, admin: bool) -> Result<String, ApiError> {
    let key = match &err {
        MembershipError::OwesMore {
            owed,
            contributions,
        } => {
            let key = if admin {
                "lv_err_owes_more"
            } else {
                "lv_err_you_owe_more"
            };
            return Ok(lang
                .t(key)
                .replace("{owed}", &lang.amount(*owed))
                .replace("{paid}", &lang.amount(*contributions)));
        }
        MembershipError::NotAMember => "lv_err_not_member",
        MembershipError::AlreadyLeft => "lv_err_already_left",
        MembershipError::AlreadyAsked => "lv_err_already_asked",
        MembershipError::NothingAsked if admin => "lv_err_nothing_open",
        MembershipError::NothingAsked => "lv_err_nothing_asked",
        MembershipError::NotLeft => "lv_err_not_left",
        MembershipError::NoSuchUser | MembershipError::Store(_) | MembershipError::Internal(_) => {
            return Err(ApiError::from(err))
        }
    };
    Ok(lang.t(key).to_string())
}

/// One refusal, for the form as a whole.
pub(super) fn refused(err: MembershipError, lang: Lang, admin: bool) -> WebResult<FormErrors> {
    let mut errors = FormErrors::default();
    errors.add(None, refusal(err, lang, admin)?);
    Ok(errors)
}

/// The sentence of text `key` with its `{date}` (a stored time, as a Jalali date) and
/// `{amount}`: "Left the fund on 1405/09/01; 20.00 USDT paid back."
pub(super) fn sentence(
    state: &AppState,
    lang: Lang,
    key: &str,
    at: &str,
    amount: Amount,
) -> String {
    lang.t(key)
        .replace("{date}", &lang.date(at, state.config.fund_timezone))
        .replace("{amount}", &lang.amount(amount))
}

/// A request that was confirmed, as it settled.
pub struct Left {
    /// The sentence saying when, and what was paid back.
    pub line: String,
    pub settled: Settlement,
}

impl Left {
    fn new(state: &AppState, d: &Departure, key: &str, lang: Lang) -> Left {
        let on = d.decided_at.as_deref().unwrap_or(&d.asked_at);
        let settled = Settlement {
            contributions: d.contributions.unwrap_or(Amount::ZERO),
            owed: d.owed.unwrap_or(Amount::ZERO),
            refund: d.refunded.unwrap_or(Amount::ZERO),
        };
        Left {
            line: sentence(state, lang, key, on, settled.refund),
            settled,
        }
    }
}

/// The member's requests to leave, newest first.
pub(super) async fn departures(state: &AppState, user_id: i64) -> WebResult<Vec<DepartureView>> {
    Ok(service::departures_of(state.ctx(), user_id)
        .await
        .map_err(ApiError::from)?)
}

/// Where a member stands with leaving, as their admin page shows it.
pub enum AdminLeaving {
    /// In the fund: what leaving now would give back, or why they cannot leave yet.
    Ask(Result<Settlement, String>),
    /// Asked, not yet answered: since when, and what confirming now would give back.
    Asked {
        line: String,
        settle: Result<Settlement, String>,
    },
    Left(Left),
}

impl AdminLeaving {
    /// `None` for who is not in the fund and never left it (accountants, clients, inactive
    /// accounts).
    pub async fn of(
        state: &AppState,
        member: &MemberRow,
        lang: Lang,
    ) -> WebResult<Option<AdminLeaving>> {
        let views = departures(state, member.id).await?;
        if let Some(open) = views.iter().find(|v| v.departure.state == "asked") {
            let at = &open.departure.asked_at;
            return Ok(Some(AdminLeaving::Asked {
                line: sentence(state, lang, "lv_asked_on", at, Amount::ZERO),
                settle: preview(state, member.id, lang, true).await?,
            }));
        }
        if member.left_fund_at.is_some() {
            let left = views
                .iter()
                .find(|v| v.departure.state == "confirmed" && v.departure.rejoined_at.is_none());
            return Ok(left.map(|v| {
                AdminLeaving::Left(Left::new(state, &v.departure, "lv_they_left_on", lang))
            }));
        }
        if !member.is_active || !member.pays() {
            return Ok(None);
        }
        Ok(Some(AdminLeaving::Ask(
            preview(state, member.id, lang, true).await?,
        )))
    }
}

/// Where the member stands with leaving, as their own page shows it.
pub enum MyLeaving {
    /// An admin asked them to leave: since when, and what they would get back (or why not
    /// yet).
    Asked {
        line: String,
        settle: Result<Settlement, String>,
    },
    Left(Left),
}

impl MyLeaving {
    pub async fn of(state: &AppState, user_id: i64, lang: Lang) -> WebResult<Option<MyLeaving>> {
        let views = departures(state, user_id).await?;
        if let Some(open) = views.iter().find(|v| v.departure.state == "asked") {
            let settle = preview(state, user_id, lang, false).await?;
            let at = &open.departure.asked_at;
            return Ok(Some(MyLeaving::Asked {
                line: sentence(state, lang, "lv_you_asked_on", at, Amount::ZERO),
                settle,
            }));
        }
        // Newest first: once gone, they cannot be asked again until they rejoin.
        Ok(views
            .first()
            .filter(|v| v.departure.state == "confirmed" && v.departure.rejoined_at.is_none())
            .map(|v| MyLeaving::Left(Left::new(state, &v.departure, "lv_you_left_on", lang))))
    }

    pub fn has_left(&self) -> bool {
        matches!(self, MyLeaving::Left(_))
    }
}
