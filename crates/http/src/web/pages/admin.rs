//! Admin pages (main users only): members and creating one, the fund's settings, and the loan
//! history with the API's Jalali filters.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::leaving::AdminLeaving;
use super::{plain, render, Done, DrawView, Page, View};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::{FormErrors, FormReader};
use crate::web::i18n::Lang;
use crate::web::i18n::UiText;
use crate::web::queries::{self, MemberRow};
use crate::web::session::{see_other, AdminForm, AdminSession, Prefs, Session, WebForm, WebResult};
use saghat_core::auth::service::{self as auth_service, UserChanges, UserDetails};
use saghat_core::auth::Role;
use saghat_core::fund::rules::FundConfig;
use saghat_core::fund::service::{change_config, ConfigChange, ConfigChanged};
use saghat_core::fund::store::{self, Loan, LoanFilter};
use saghat_core::ledger::store::{fund_summary, FundSummary};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::jalali::JalaliMonth;
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

impl MemberForm {
    /// The new member as `auth::service::create_user` takes them, or what to fix first (the
    /// amount asked for, when it is not one).
    fn details(&self, lang: Lang) -> Result<UserDetails, FormErrors> {
        let mut read = FormReader::new(lang);
        let amount = read.amount("loan_request_amount", &self.loan_request_amount, false);
        read.errors.into_result(UserDetails {
            username: self.username.trim().to_string(),
            password: self.password.clone(),
            first_name: self.first_name.trim().to_string(),
            last_name: self.last_name.trim().to_string(),
            email: self.email.trim().to_string(),
            role: Role::parse(&self.role),
            loan_request_amount: amount.unwrap_or(Amount::ZERO),
        })
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
        month: prefs.lang.jalali_month(month),
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
    AdminForm(session, form): AdminForm<MemberForm>,
) -> WebResult<Response> {
    let errors = match form.details(prefs.lang) {
        Ok(details) => match auth_service::create_user(&state, &session.user, &meta, details).await
        {
            Ok(_) => return Ok(see_other("/admin/members?done=member")),
            Err(err) => FormErrors::from_api(err, prefs.lang, MEMBER_FIELDS)?,
        },
        Err(errors) => errors,
    };
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

impl EditForm {
    /// The member's details as `auth::service::update_user` takes them.
    fn changes(&self) -> UserChanges {
        UserChanges {
            first_name: Some(self.first_name.trim().to_string()),
            last_name: Some(self.last_name.trim().to_string()),
            email: Some(self.email.trim().to_string()),
            role: Some(Role::parse(&self.role)),
            ..Default::default()
        }
    }
}

/// The form as the member is now, before the admin changes anything.
impl From<&MemberRow> for EditForm {
    fn from(member: &MemberRow) -> EditForm {
        EditForm {
            first_name: member.first_name.clone(),
            last_name: member.last_name.clone(),
            email: member.email.clone(),
            role: member.role.as_str().into(),
            csrf: String::new(),
        }
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

impl ActiveForm {
    /// Whether the member is to be active; anything but `0` or `1` is a bad request.
    fn active(&self) -> Result<bool, ApiError> {
        match self.active.as_str() {
            "1" => Ok(true),
            "0" => Ok(false),
            _ => Err(ApiError::bad_request("active must be 0 or 1")),
        }
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

impl PasswordForm {
    /// The new password as `auth::service::update_user` takes it; an empty one is not sent.
    fn changes(self, lang: Lang) -> Result<UserChanges, FormErrors> {
        let mut read = FormReader::new(lang);
        if self.password.is_empty() {
            read.missing("password");
        }
        read.errors.into_result(UserChanges {
            password: Some(self.password),
            ..Default::default()
        })
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
    /// Leaving the fund (`super::leaving`): where the member stands, and a refusal.
    pub leaving: Option<AdminLeaving>,
    pub leave_errors: FormErrors,
}

/// What a refused form of the member page puts back on it.
#[derive(Default)]
pub(super) struct MemberEntered {
    edit: Option<(EditForm, FormErrors)>,
    account: FormErrors,
    password: FormErrors,
    leave: FormErrors,
}

impl MemberEntered {
    /// A refusal of the leaving card's forms (`super::leaving`).
    pub(super) fn leaving(leave: FormErrors) -> MemberEntered {
        MemberEntered {
            leave,
            ..Default::default()
        }
    }
}

pub(super) async fn member_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    user_id: i64,
    notice: Option<&'static str>,
    entered: MemberEntered,
) -> WebResult<Response> {
    let month = state.current_month();
    let fund = fund_money(state).await?;
    let member = one_member(state, month, user_id).await?;
    let leaving = AdminLeaving::of(state, &member, prefs.lang).await?;
    let (form, errors) = entered
        .edit
        .unwrap_or_else(|| (EditForm::from(&member), FormErrors::default()));
    let mut v = admin_view(state, prefs, session, "/admin/members", "members", notice);
    v.title = "edit_member";
    v.switch_href = format!("/admin/members/{user_id}?lang={}", other_lang(prefs));
    render(&MemberPage {
        v,
        fund,
        month: prefs.lang.jalali_month(month),
        member,
        form,
        errors,
        account_errors: entered.account,
        password_errors: entered.password,
        leaving,
        leave_errors: entered.leave,
    })
}

/// The member of `/admin/members/{id}`, with this month's payment; 404 when there is none.
async fn one_member(state: &AppState, month: JalaliMonth, user_id: i64) -> WebResult<MemberRow> {
    let mut conn = state.db.pool.acquire().await?;
    let member = queries::members(&mut conn, month, Some(user_id))
        .await?
        .pop();
    member.ok_or_else(|| ApiError::not_found("User not found").into())
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

/// A change to one member from a form of their page.
struct MemberChange {
    user_id: i64,
    changes: UserChanges,
    /// The success message once it is saved.
    done: &'static str,
    /// The fields of the form, where a refusal is shown next to its field.
    fields: &'static [&'static str],
}

impl MemberChange {
    /// Saves it through `auth::service::update_user`, the function behind
    /// `PATCH /api/auth/users/{id}` (audited; every instance forgets the cached account): back
    /// to the member's page, or the page again with the refusal where `shown` puts it.
    async fn save(
        self,
        state: &AppState,
        prefs: Prefs,
        meta: &RequestMeta,
        session: &Session,
        shown: impl FnOnce(FormErrors) -> MemberEntered,
    ) -> WebResult<Response> {
        let user_id = self.user_id;
        match auth_service::update_user(state, &session.user, meta, user_id, self.changes).await {
            Ok(_) => Ok(see_other(&format!(
                "/admin/members/{user_id}?done={}",
                self.done
            ))),
            Err(err) => {
                let errors = FormErrors::from_api(err, prefs.lang, self.fields)?;
                member_page(state, prefs, session, user_id, None, shown(errors)).await
            }
        }
    }
}

/// Saves names, e-mail and role.
pub async fn save_member(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
    AdminForm(session, form): AdminForm<EditForm>,
) -> WebResult<Response> {
    let change = MemberChange {
        user_id,
        changes: form.changes(),
        done: "member_saved",
        fields: EDIT_FIELDS,
    };
    let shown = |errors| MemberEntered {
        edit: Some((form, errors)),
        ..Default::default()
    };
    change.save(&state, prefs, &meta, &session, shown).await
}

/// Deactivates or reactivates a member: a deactivated member can no longer sign in, and their
/// open sessions stop working at once.
pub async fn set_active(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
    AdminForm(session, form): AdminForm<ActiveForm>,
) -> WebResult<Response> {
    let active = form.active()?;
    let change = MemberChange {
        user_id,
        changes: UserChanges {
            is_active: Some(active),
            ..Default::default()
        },
        done: if active { "reactivated" } else { "deactivated" },
        fields: &[],
    };
    let shown = |account| MemberEntered {
        account,
        ..Default::default()
    };
    change.save(&state, prefs, &meta, &session, shown).await
}

/// Resets a member's password (validated, hashed, audited without the password); every session
/// of the member ends.
pub async fn reset_password(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
    AdminForm(session, form): AdminForm<PasswordForm>,
) -> WebResult<Response> {
    let shown = |password| MemberEntered {
        password,
        ..Default::default()
    };
    match form.changes(prefs.lang) {
        Ok(changes) => {
            let change = MemberChange {
                user_id,
                changes,
                done: "password_reset",
                fields: &["password"],
            };
            change.save(&state, prefs, &meta, &session, shown).await
        }
        Err(errors) => member_page(&state, prefs, &session, user_id, None, shown(errors)).await,
    }
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

impl ConfigForm {
    /// The settings as they are, written as the form takes them.
    fn showing(current: &FundConfig, lang: Lang) -> ConfigForm {
        ConfigForm {
            min_membership_fee: lang.digits(&plain(current.min_membership_fee)),
            max_month_for_loan_payment: lang
                .digits(&current.max_month_for_loan_payment.to_string()),
            min_amount_for_loan_payment: lang.digits(&plain(current.min_amount_for_loan_payment)),
            csrf: String::new(),
        }
    }

    /// All three settings as `fund::service::change_config` takes them, or an error next to
    /// each one that is missing, not a number, or not positive.
    fn change(&self, lang: Lang) -> Result<ConfigChange, FormErrors> {
        let mut read = FormReader::new(lang);
        let fee = read.amount("min_membership_fee", &self.min_membership_fee, true);
        let months = read.int(
            "max_month_for_loan_payment",
            &self.max_month_for_loan_payment,
        );
        let installment = read.amount(
            "min_amount_for_loan_payment",
            &self.min_amount_for_loan_payment,
            true,
        );
        if months.is_none() {
            read.missing("max_month_for_loan_payment");
        }
        let mut errors = read.errors;
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
        // Each one missing has an error by now.
        errors.into_result(ConfigChange {
            min_membership_fee: fee,
            max_month_for_loan_payment: months,
            min_amount_for_loan_payment: installment,
            effective_from: None,
        })
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

/// The settings page showing `form`, with the fund's money.
async fn config_page(
    state: &AppState,
    v: View,
    form: ConfigForm,
    errors: FormErrors,
) -> WebResult<Response> {
    let fund = fund_money(state).await?;
    render(&ConfigPage {
        v,
        fund,
        form,
        errors,
    })
}

pub async fn config(
    State(state): State<AppState>,
    prefs: Prefs,
    AdminSession(session): AdminSession,
    Query(done): Query<Done>,
) -> WebResult<Response> {
    let mut conn = state.db.pool.acquire().await?;
    let current = store::config(&mut conn, state.current_month())
        .await?
        .unwrap_or_default();
    drop(conn);
    let form = ConfigForm::showing(&current, prefs.lang);
    let v = admin_view(
        &state,
        prefs,
        &session,
        "/admin/config",
        "config",
        done.notice(),
    );
    config_page(&state, v, form, FormErrors::default()).await
}

/// Saves the settings in one transaction with an audit entry of what changed.
pub async fn save_config(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    AdminForm(session, form): AdminForm<ConfigForm>,
) -> WebResult<Response> {
    match form.change(prefs.lang) {
        Ok(change) => {
            save_settings(&state, &meta, session.user.id, change).await?;
            Ok(see_other("/admin/config?done=config"))
        }
        Err(errors) => {
            let v = admin_view(&state, prefs, &session, "/admin/config", "config", None);
            config_page(&state, v, form, errors).await
        }
    }
}

/// Saves through `fund::service::change_config`, as `saghat setup-fund` does, and tells every
/// instance when the settings changed.
async fn save_settings(
    state: &AppState,
    meta: &RequestMeta,
    actor: i64,
    change: ConfigChange,
) -> WebResult<()> {
    let when = (state.now(), state.current_month());
    let changed = change_config(&state.db, when, meta, Some(actor), "web", change).await;
    match changed {
        Ok(ConfigChanged::Unchanged(_)) => {}
        Ok(_) => state.invalidate("config").await,
        // The fields were checked by the form: a refusal here is the database's.
        Err(e) => return Err(ApiError::from(e).into()),
    }
    Ok(())
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

impl LoanFilters {
    /// The filters as `fund::store::loans` takes them, or an error next to each one that is
    /// not a whole number.
    fn filter(&self, lang: Lang) -> Result<LoanFilter, FormErrors> {
        let mut read = FormReader::new(lang);
        let filter = LoanFilter {
            jalali_year_gt: read.int("jalali_year_gt", &self.jalali_year_gt),
            jalali_year_lt: read.int("jalali_year_lt", &self.jalali_year_lt),
            jalali_month_gt: read.int("jalali_month_gt", &self.jalali_month_gt),
            jalali_month_lt: read.int("jalali_month_lt", &self.jalali_month_lt),
            ..Default::default()
        };
        read.errors.into_result(filter)
    }
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

/// Each loan beside its draw log as people read it.
fn with_draw_logs(loans: Vec<Loan>, lang: Lang) -> Vec<(Loan, DrawView)> {
    loans
        .into_iter()
        .map(|l| {
            let draw = DrawView::new(&l, lang);
            (l, draw)
        })
        .collect()
}

async fn matching_loans(state: &AppState, filter: &LoanFilter) -> WebResult<Vec<Loan>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(store::loans(&mut conn, filter).await?)
}

pub async fn loans(
    State(state): State<AppState>,
    prefs: Prefs,
    AdminSession(session): AdminSession,
    Query(filters): Query<LoanFilters>,
) -> WebResult<Response> {
    // Filters that cannot be read list no loans.
    let (loans, errors) = match filters.filter(prefs.lang) {
        Ok(filter) => (
            matching_loans(&state, &filter).await?,
            FormErrors::default(),
        ),
        Err(errors) => (vec![], errors),
    };
    let v = admin_view(
        &state,
        prefs,
        &session,
        "/admin/loans",
        "loan_history",
        None,
    );
    render(&LoansPage {
        fund: fund_money(&state).await?,
        v,
        filters,
        errors,
        loans: with_draw_logs(loans, prefs.lang),
    })
}
