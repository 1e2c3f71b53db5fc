//! Admin pages (main users only): members and creating one, the fund's settings, and the loan
//! history with the API's Jalali filters.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{plain, render, Done, DrawView, Page, View};
use crate::app::AppState;
use crate::auth::service::{self as auth_service, CreateUserRequest};
use crate::auth::store::{self as auth_store, UserProfile};
use crate::auth::Role;
use crate::fund::rules::FundConfig;
use crate::fund::store::{self, Loan, LoanFilter};
use crate::platform::audit::{self, AuditEntry};
use crate::platform::extract::RequestMeta;
use crate::platform::money::Amount;
use crate::web::forms::{amount_field, int_field, FormErrors};
use crate::web::session::{
    see_other, AdminSession, CsrfForm, Prefs, Session, WebError, WebForm, WebResult,
};

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
    pub members: Vec<UserProfile>,
    pub form: MemberForm,
    pub errors: FormErrors,
}

async fn members_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    notice: Option<&'static str>,
    form: MemberForm,
    errors: FormErrors,
) -> WebResult<Response> {
    let members = auth_store::list_profiles(&state.db).await?;
    render(&MembersPage {
        v: admin_view(state, prefs, session, "/admin/members", "members", notice),
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
        loan_request_amount: "0".into(),
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
    let body = CreateUserRequest {
        username: form.username.trim().to_string(),
        password: form.password.clone(),
        first_name: form.first_name.trim().to_string(),
        last_name: form.last_name.trim().to_string(),
        email: form.email.trim().to_string(),
        is_main: role == Role::Admin,
        loan_request_amount: amount.unwrap_or(Amount::ZERO),
        role: Some(role),
    };
    if errors.is_empty() {
        match auth_service::create_user(&state, &session.user, &meta, body).await {
            Ok(_) => return Ok(see_other("/admin/members?done=member")),
            Err(err) => errors = FormErrors::from_api(err, lang, MEMBER_FIELDS)?,
        }
    }
    members_page(&state, prefs, &session, None, form, errors).await
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
    let form = ConfigForm {
        min_membership_fee: plain(current.min_membership_fee),
        max_month_for_loan_payment: current.max_month_for_loan_payment.to_string(),
        min_amount_for_loan_payment: plain(current.min_amount_for_loan_payment),
        csrf: String::new(),
    };
    render(&ConfigPage {
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
        let new = FundConfig {
            min_membership_fee: fee,
            max_month_for_loan_payment: months,
            min_amount_for_loan_payment: installment,
        };
        let now = state.now();
        let mut tx = state.db.begin_write().await?;
        let old = store::config(&mut tx).await?.unwrap_or_default();
        store::save_config(&mut tx, &new, now).await?;
        let entry = AuditEntry {
            actor_user_id: Some(session.user.id),
            action: "config_changed",
            target: "fund_config".into(),
            details: json!({ "before": config_json(&old), "after": config_json(&new) }),
        };
        audit::record(&mut tx, now, &meta, entry).await?;
        tx.commit().await?;
        state.invalidate("config").await;
        return Ok(see_other("/admin/config?done=config"));
    }
    render(&ConfigPage {
        v: admin_view(&state, prefs, &session, "/admin/config", "config", None),
        form,
        errors,
    })
}

fn config_json(config: &FundConfig) -> serde_json::Value {
    json!({
        "min_membership_fee": config.min_membership_fee,
        "max_month_for_loan_payment": config.max_month_for_loan_payment,
        "min_amount_for_loan_payment": config.min_amount_for_loan_payment,
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
