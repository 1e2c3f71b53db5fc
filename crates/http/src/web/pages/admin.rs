//! Admin pages (main users only): members and creating one, the fund's settings, and the loan
//! history with the API's Jalali filters.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::{plain, render, Done, DrawView, Page, View};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::{amount_field, int_field, FormErrors};
use crate::web::queries::{self, MemberRow};
use crate::web::session::{
    see_other, AdminSession, CsrfForm, Prefs, Session, WebError, WebForm, WebResult,
};
use saghat_core::auth::service::{self as auth_service, UserChanges, UserDetails};
use saghat_core::auth::Role;
use saghat_core::fund::service::{change_config, ConfigChange, ConfigChanged};
use saghat_core::fund::store::{self, Loan, LoanFilter};
use saghat_core::ledger::store::{fund_summary, FundSummary};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::money::Amount;

fn admin_view(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    path: &'static str,
    key: &'static str,
    notice: Option<&'static str>,
) -> View {
    View::new(
        state,
        prefs,
        Some(session),
        Page {
            path,
            active: key,
            title: key,
            notice,
        },
    )
}

/// The fund's money, from the ledger, shown on every admin page.
async fn fund_money(state: &AppState) -> WebResult<FundSummary> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(fund_summary(&mut conn).await?)
}

// --- members ----------------------------------------------------------------------------------

const MEMBER_FIELDS: &[&str] = &[
    "username",
    "password",
    "first_name",
    "last_name",
    "email",
    "loan_request_amount",
];

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MemberForm {
    pub username: String,
    pub password: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    /// `member`, `accountant` or `admin`.
    pub role: String,
    pub loan_request_amount: String,
    pub csrf: String,
}

impl WebForm for MemberForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "members.html")]
pub struct MembersPage {
    pub v: View,
    pub fund: FundSummary,
    pub month: String,
    pub members: Vec<MemberRow>,
    pub form: MemberForm,
    pub errors: FormErrors,
}

impl MembersPage {
    /// Fund members (not accountants) who are active, and how many of them paid this month.
    pub fn paid_counts(&self) -> (i64, i64) {
        let paying = self.members.iter().filter(|m| m.is_active && m.pays());
        let (mut paid, mut all) = (0, 0);
        for m in paying {
            all += 1;
            paid += i64::from(m.paid.is_some());
        }
        (paid, all)
    }
}

async fn members_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    notice: Option<&'static str>,
    form: MemberForm,
    errors: FormErrors,
) -> WebResult<Response> {
    let month = state.current_month();
    let fund = fund_money(state).await?;
    let mut conn = state.db.pool.acquire().await?;
    let members = queries::members(&mut conn, month, None).await?;
    drop(conn);
    render(&MembersPage {
        v: admin_view(state, prefs, session, "/admin/members", "members", notice),
        fund,
        month: prefs.lang.month(month.year.into(), month.month.into()),
        members,
        form,
        errors,
    })
}

pub async fn members(
    State(state): State<AppState>,
    prefs: Prefs,
    AdminSession(session): AdminSession,
    Query(done): Query<Done>,
) -> WebResult<Response> {
    let form = MemberForm {
        loan_request_amount: prefs.lang.digits("0"),
        role: "member".into(),
        ..Default::default()
    };
    members_page(
        &state,
        prefs,
        &session,
        done.notice(),
        form,
        FormErrors::default(),
    )
    .await
}

/// Creates a member through `auth::service::create_user`, the function behind
/// `POST /api/auth/users`.
pub async fn create_member(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, form): CsrfForm<MemberForm>,
) -> WebResult<Response> {
    if !session.user.is_main {
        return Err(WebError::Forbidden);
    }
    let lang = prefs.lang;
    let mut errors = FormErrors::default();
    let amount = amount_field(
        &mut errors,
        lang,
        "loan_request_amount",
        &form.loan_request_amount,
        false,
    );
    let role = Role::parse(&form.role);
    let body = UserDetails {
        username: form.username.trim().to_string(),
        password: form.password.clone(),
        first_name: form.first_name.trim().to_string(),
        last_name: form.last_name.trim().to_string(),
        email: form.email.trim().to_string(),
        role,
        loan_request_amount: amount.unwrap_or(Amount::ZERO),
    };
    if errors.is_empty() {
        match auth_service::create_user(&state, &session.user, &meta, body).await {
            Ok(_) => return Ok(see_other("/admin/members?done=member")),
            Err(err) => errors = FormErrors::from_api(err, lang, MEMBER_FIELDS)?,
        }
    }
    members_page(&state, prefs, &session, None, form, errors).await
}

// --- one member -------------------------------------------------------------------------------

const EDIT_FIELDS: &[&str] = &["first_name", "last_name", "email", "role"];

/// Names, e-mail and role of a member, as the admin types them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct EditForm {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: String,
    pub csrf: String,
}

impl WebForm for EditForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Deactivates (`active=0`) or reactivates (`active=1`) a member.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActiveForm {
    pub active: String,
    pub csrf: String,
}

impl WebForm for ActiveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A new password for a member, set by an admin.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    pub password: String,
    pub csrf: String,
}

impl WebForm for PasswordForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "member.html")]
pub struct MemberPage {
    pub v: View,
    pub fund: FundSummary,
    pub month: String,
    pub member: MemberRow,
    pub form: EditForm,
    pub errors: FormErrors,
    /// Errors of the activation and password forms, shown above them.
    pub account_errors: FormErrors,
    pub password_errors: FormErrors,
}

/// What a refused form of the member page puts back on it.
#[derive(Default)]
struct MemberEntered {
    edit: Option<(EditForm, FormErrors)>,
    account: FormErrors,
    password: FormErrors,
}

async fn member_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    user_id: i64,
    notice: Option<&'static str>,
    entered: MemberEntered,
) -> WebResult<Response> {
    let month = state.current_month();
    let fund = fund_money(state).await?;
    let mut conn = state.db.pool.acquire().await?;
    let member = queries::members(&mut conn, month, Some(user_id))
        .await?
        .pop()
        .ok_or_else(|| crate::error::ApiError::not_found("User not found"))?;
    drop(conn);
    let (form, errors) = entered.edit.unwrap_or_else(|| {
        let form = EditForm {
            first_name: member.first_name.clone(),
            last_name: member.last_name.clone(),
            email: member.email.clone(),
            role: member.role.as_str().into(),
            csrf: String::new(),
        };
        (form, FormErrors::default())
    });
    let mut v = admin_view(state, prefs, session, "/admin/members", "members", notice);
    v.title = "edit_member";
    v.switch_href = format!("/admin/members/{user_id}?lang={}", other_lang(prefs));
    render(&MemberPage {
        v,
        fund,
        month: prefs.lang.month(month.year.into(), month.month.into()),
        member,
        form,
        errors,
        account_errors: entered.account,
        password_errors: entered.password,
    })
}

fn other_lang(prefs: Prefs) -> &'static str {
    match prefs.lang {
        crate::web::i18n::Lang::En => "fa",
        crate::web::i18n::Lang::Fa => "en",
    }
}

pub async fn member(
    State(state): State<AppState>,
    prefs: Prefs,
    AdminSession(session): AdminSession,
    Path(user_id): Path<i64>,
    Query(done): Query<Done>,
) -> WebResult<Response> {
    member_page(
        &state,
        prefs,
        &session,
        user_id,
        done.notice(),
        MemberEntered::default(),
    )
    .await
}

/// Saves names, e-mail and role through `auth::service::update_user`, the function behind
/// `PATCH /api/auth/users/{id}` (audited; every instance forgets the cached account).
pub async fn save_member(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
    CsrfForm(session, form): CsrfForm<EditForm>,
) -> WebResult<Response> {
    if !session.user.is_main {
        return Err(WebError::Forbidden);
    }
    let changes = UserChanges {
        first_name: Some(form.first_name.trim().to_string()),
        last_name: Some(form.last_name.trim().to_string()),
        email: Some(form.email.trim().to_string()),
        role: Some(Role::parse(&form.role)),
        ..Default::default()
    };
    let errors =
        match auth_service::update_user(&state, &session.user, &meta, user_id, changes).await {
            Ok(_) => {
                return Ok(see_other(&format!(
                    "/admin/members/{user_id}?done=member_saved"
                )))
            }
            Err(err) => FormErrors::from_api(err, prefs.lang, EDIT_FIELDS)?,
        };
    let entered = MemberEntered {
        edit: Some((form, errors)),
        ..Default::default()
    };
    member_page(&state, prefs, &session, user_id, None, entered).await
}

/// Deactivates or reactivates a member through `auth::service::update_user`: a deactivated
/// member can no longer sign in, and their open sessions stop working at once.
pub async fn set_active(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
    CsrfForm(session, form): CsrfForm<ActiveForm>,
) -> WebResult<Response> {
    if !session.user.is_main {
        return Err(WebError::Forbidden);
    }
    let active = match form.active.as_str() {
        "1" => true,
        "0" => false,
        _ => return Err(crate::error::ApiError::bad_request("active must be 0 or 1").into()),
    };
    let changes = UserChanges {
        is_active: Some(active),
        ..Default::default()
    };
    let done = if active { "reactivated" } else { "deactivated" };
    let errors =
        match auth_service::update_user(&state, &session.user, &meta, user_id, changes).await {
            Ok(_) => return Ok(see_other(&format!("/admin/members/{user_id}?done={done}"))),
            Err(err) => FormErrors::from_api(err, prefs.lang, &[])?,
        };
    let entered = MemberEntered {
        account: errors,
        ..Default::default()
    };
    member_page(&state, prefs, &session, user_id, None, entered).await
}

/// Resets a member's password through `auth::service::update_user` (validated, hashed, audited
/// without the password); every session of the member ends.
pub async fn reset_password(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
    CsrfForm(session, form): CsrfForm<PasswordForm>,
) -> WebResult<Response> {
    if !session.user.is_main {
        return Err(WebError::Forbidden);
    }
    let mut errors = FormErrors::default();
    if form.password.is_empty() {
        errors.add(Some("password"), prefs.lang.t("required"));
    } else {
        let changes = UserChanges {
            password: Some(form.password),
            ..Default::default()
        };
        match auth_service::update_user(&state, &session.user, &meta, user_id, changes).await {
            Ok(_) => {
                return Ok(see_other(&format!(
                    "/admin/members/{user_id}?done=password_reset"
                )))
            }
            Err(err) => errors = FormErrors::from_api(err, prefs.lang, &["password"])?,
        }
    }
    let entered = MemberEntered {
        password: errors,
        ..Default::default()
    };
    member_page(&state, prefs, &session, user_id, None, entered).await
}

// --- configuration ----------------------------------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConfigForm {
    pub min_membership_fee: String,
    pub max_month_for_loan_payment: String,
    pub min_amount_for_loan_payment: String,
    pub csrf: String,
}

impl WebForm for ConfigForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[derive(Template)]
#[template(path = "config.html")]
pub struct ConfigPage {
    pub v: View,
    pub fund: FundSummary,
    pub form: ConfigForm,
    pub errors: FormErrors,
}

pub async fn config(
    State(state): State<AppState>,
    prefs: Prefs,
    AdminSession(session): AdminSession,
    Query(done): Query<Done>,
) -> WebResult<Response> {
    let mut conn = state.db.pool.acquire().await?;
    let current = store::config(&mut conn).await?.unwrap_or_default();
    drop(conn);
    let lang = prefs.lang;
    let form = ConfigForm {
        min_membership_fee: lang.digits(&plain(current.min_membership_fee)),
        max_month_for_loan_payment: lang.digits(&current.max_month_for_loan_payment.to_string()),
        min_amount_for_loan_payment: lang.digits(&plain(current.min_amount_for_loan_payment)),
        csrf: String::new(),
    };
    render(&ConfigPage {
        fund: fund_money(&state).await?,
        v: admin_view(
            &state,
            prefs,
            &session,
            "/admin/config",
            "config",
            done.notice(),
        ),
        form,
        errors: FormErrors::default(),
    })
}

/// Saves the settings in one transaction with an audit entry of what changed.
pub async fn save_config(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, form): CsrfForm<ConfigForm>,
) -> WebResult<Response> {
    if !session.user.is_main {
        return Err(WebError::Forbidden);
    }
    let lang = prefs.lang;
    let mut errors = FormErrors::default();
    let fee = amount_field(
        &mut errors,
        lang,
        "min_membership_fee",
        &form.min_membership_fee,
        true,
    );
    let months = int_field(
        &mut errors,
        lang,
        "max_month_for_loan_payment",
        &form.max_month_for_loan_payment,
    );
    let installment = amount_field(
        &mut errors,
        lang,
        "min_amount_for_loan_payment",
        &form.min_amount_for_loan_payment,
        true,
    );
    if months.is_none() && errors.field("max_month_for_loan_payment").is_none() {
        errors.add(Some("max_month_for_loan_payment"), lang.t("required"));
    }
    // The schema's CHECKs: every setting is positive.
    for (field, positive) in [
        ("min_membership_fee", fee.map(Amount::is_positive)),
        ("max_month_for_loan_payment", months.map(|m| m > 0)),
        (
            "min_amount_for_loan_payment",
            installment.map(Amount::is_positive),
        ),
    ] {
        if positive == Some(false) {
            errors.add(Some(field), lang.t("must_be_positive"));
        }
    }
    if let (true, Some(fee), Some(months), Some(installment)) =
        (errors.is_empty(), fee, months, installment)
    {
        let change = ConfigChange {
            min_membership_fee: Some(fee),
            max_month_for_loan_payment: Some(months),
            min_amount_for_loan_payment: Some(installment),
        };
        let actor = Some(session.user.id);
        let changed = change_config(&state.db, state.now(), &meta, actor, "web", change).await;
        match changed {
            Ok(ConfigChanged::Unchanged(_)) => {}
            Ok(_) => state.invalidate("config").await,
            // The fields were checked above: a refusal here is the database's.
            Err(e) => return Err(ApiError::from(e).into()),
        }
        return Ok(see_other("/admin/config?done=config"));
    }
    render(&ConfigPage {
        fund: fund_money(&state).await?,
        v: admin_view(&state, prefs, &session, "/admin/config", "config", None),
        form,
        errors,
    })
}

// --- loan history -----------------------------------------------------------------------------

/// The filters of `GET /api/loans/history`, as typed.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoanFilters {
    pub jalali_year_gt: String,
    pub jalali_year_lt: String,
    pub jalali_month_gt: String,
    pub jalali_month_lt: String,
}

#[derive(Template)]
#[template(path = "loans.html")]
pub struct LoansPage {
    pub v: View,
    pub fund: FundSummary,
    pub filters: LoanFilters,
    pub errors: FormErrors,
    /// Each loan with its readable draw log.
    pub loans: Vec<(Loan, DrawView)>,
}

pub async fn loans(
    State(state): State<AppState>,
    prefs: Prefs,
    AdminSession(session): AdminSession,
    Query(filters): Query<LoanFilters>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let mut errors = FormErrors::default();
    let filter = LoanFilter {
        jalali_year_gt: int_field(&mut errors, lang, "jalali_year_gt", &filters.jalali_year_gt),
        jalali_year_lt: int_field(&mut errors, lang, "jalali_year_lt", &filters.jalali_year_lt),
        jalali_month_gt: int_field(
            &mut errors,
            lang,
            "jalali_month_gt",
            &filters.jalali_month_gt,
        ),
        jalali_month_lt: int_field(
            &mut errors,
            lang,
            "jalali_month_lt",
            &filters.jalali_month_lt,
        ),
        ..Default::default()
    };
    let loans = if errors.is_empty() {
        let mut conn = state.db.pool.acquire().await?;
        store::loans(&mut conn, &filter).await?
    } else {
        vec![]
    };
    render(&LoansPage {
        fund: fund_money(&state).await?,
        v: admin_view(
            &state,
            prefs,
            &session,
            "/admin/loans",
            "loan_history",
            None,
        ),
        filters,
        errors,
        loans: loans
            .into_iter()
            .map(|l| {
                let draw = DrawView::new(&l, lang);
                (l, draw)
            })
            .collect(),
    })
}
