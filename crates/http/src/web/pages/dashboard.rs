//! The member's dashboard: balance, this month's status and what is due, the current loan,
//! payments and loans; paying this month and changing the loan request.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::leaving::MyLeaving;
use super::statements::StatementLink;
use super::{is_month, plain, render, Done, Page, View};
use crate::error::ApiError;
use crate::extract::Validate;
use crate::fund::api::PayRequest;
use crate::state::AppState;
use crate::web::forms::{amount_field, FormErrors, FormReader};
use crate::web::i18n::Lang;
use crate::web::i18n::UiText;
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebForm, WebResult};
use saghat_core::auth::service::change_loan_request;
use saghat_core::auth::store::{profile_by_id, UserProfile};
use saghat_core::auth::Role;
use saghat_core::fund::access::is_fund_member;
use saghat_core::fund::draw::exclusion;
use saghat_core::fund::rules::FundConfig;
use saghat_core::fund::schedule::{loan_schedule, Schedule};
use saghat_core::fund::service::{current_config, submit_payment};
use saghat_core::fund::statements::{store as statement_store, StatementEntry};
use saghat_core::fund::store::{self, Loan, LoanFilter, Payment};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::money::Amount;

const PAY_FIELDS: &[&str] = &[
    "membership_fee",
    "loan",
    "bitpin_payment_id",
    "loan_request_amount",
];

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct PayForm {
    pub membership_fee: String,
    pub loan: String,
    pub bitpin_payment_id: String,
    pub loan_request_amount: String,
    pub csrf: String,
}

impl WebForm for PayForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl PayForm {
    /// The form as first shown: the minimum fee, and the installment due while a loan is repaid.
    fn suggested(min_fee: Amount, installment: Option<Amount>, lang: Lang) -> PayForm {
        PayForm {
            membership_fee: lang.digits(&plain(min_fee)),
            loan: installment
                .map(|i| lang.digits(&plain(i)))
                .unwrap_or_default(),
            ..Default::default()
        }
    }

    /// The payment as `POST /api/payments/pay` receives it, or an error next to each field
    /// that is missing or not an amount.
    fn request(&self, lang: Lang) -> Result<PayRequest, FormErrors> {
        let mut read = FormReader::new(lang);
        let fee = read.amount("membership_fee", &self.membership_fee, true);
        let loan = read.amount("loan", &self.loan, false);
        let request = read.amount("loan_request_amount", &self.loan_request_amount, false);
        if self.bitpin_payment_id.trim().is_empty() {
            read.missing("bitpin_payment_id");
        }
        match (read.errors.is_empty(), fee) {
            (true, Some(fee)) => Ok(PayRequest {
                membership_fee: fee,
                loan,
                loan_request_amount: request,
                bitpin_payment_id: self.bitpin_payment_id.clone(),
            }),
            _ => Err(read.errors),
        }
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct LoanRequestForm {
    pub loan_request_amount: String,
    pub csrf: String,
}

impl WebForm for LoanRequestForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl LoanRequestForm {
    /// The form as first shown: the amount the member asks for now.
    fn showing(amount: Amount, lang: Lang) -> LoanRequestForm {
        LoanRequestForm {
            loan_request_amount: lang.digits(&plain(amount)),
            ..Default::default()
        }
    }
}

/// The loan being repaid, with its progress.
pub struct CurrentLoan {
    pub month: String,
    pub amount: Amount,
    pub total_paid: Amount,
    pub remaining: Amount,
    pub percent: i64,
    pub schedule: Option<Schedule>,
}

impl CurrentLoan {
    /// `None` for a loan without an amount.
    fn new(
        loan: &Loan,
        minimum: Amount,
        month: JalaliMonth,
        paid_this_month: bool,
        lang: Lang,
    ) -> Option<CurrentLoan> {
        let amount = loan.amount?;
        let percent = (loan.total_paid.units() * 100)
            .checked_div(amount.units())
            .unwrap_or(0);
        Some(CurrentLoan {
            month: lang.month(loan.jalali_year, loan.jalali_month),
            amount,
            total_paid: loan.total_paid,
            remaining: loan.remaining_balance,
            percent: i64::try_from(percent.clamp(0, 100)).unwrap_or(0),
            schedule: loan_schedule(loan.remaining_balance, minimum, month, paid_this_month),
        })
    }
}

/// Whether the member takes part in this month's draw, as far as it is known before it runs.
pub enum DrawStatus {
    /// The draw has run this month: whether they won.
    Done { won: bool },
    /// They take part, asking for this amount.
    TakesPart(Amount),
    /// They do not, and why: the draw's own reason as a stable code (see [`super::reason_code`]).
    Excluded(&'static str),
}

impl DrawStatus {
    /// This month's draw for the member, from what the dashboard read.
    fn of(reads: &DashboardReads, month: JalaliMonth) -> DrawStatus {
        if reads.drawn {
            let won = reads
                .loans
                .iter()
                .any(|l| is_month(month, l.jalali_year, l.jalali_month));
            return DrawStatus::Done { won };
        }
        let profile = &reads.profile;
        // The draw's own rule, on what the draw will read of this member.
        match exclusion(
            profile.is_main,
            profile.loan_request_amount,
            profile.balance,
            profile.has_active_loan,
        ) {
            Some(excluded) => DrawStatus::Excluded(excluded.code()),
            None => DrawStatus::TakesPart(profile.loan_request_amount),
        }
    }
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub v: View,
    pub profile: UserProfile,
    /// Accountants read the books but pay no fees.
    pub fund_member: bool,
    pub month: String,
    pub paid_this_month: Option<Payment>,
    pub min_fee: Amount,
    /// The installment due this month, while a loan is being repaid.
    pub installment: Option<Amount>,
    pub fee_help: String,
    pub installment_help: String,
    pub loan: Option<CurrentLoan>,
    /// This month's draw and the member (accountants take no part).
    pub draw: Option<DrawStatus>,
    pub payments: Vec<Payment>,
    pub loans: Vec<Loan>,
    pub pay: PayForm,
    pub pay_errors: FormErrors,
    pub request: LoanRequestForm,
    pub request_errors: FormErrors,
    /// Asked to leave the fund, or gone from it; a refusal of its buttons.
    pub leaving: Option<MyLeaving>,
    pub has_left: bool,
    pub leave_errors: FormErrors,
    /// The member's monthly statements, newest first (`templates/statements_list.html`).
    pub statements: Vec<StatementLink>,
}

/// What was typed into the forms, and what was wrong with it, when a form is shown again.
#[derive(Default)]
pub(super) struct Entered {
    pay: Option<(PayForm, FormErrors)>,
    request: Option<(LoanRequestForm, FormErrors)>,
    leave: FormErrors,
}

impl Entered {
    /// A refusal of the request to leave's buttons (`super::leaving`).
    pub(super) fn leaving(leave: FormErrors) -> Entered {
        Entered {
            leave,
            ..Default::default()
        }
    }
}

/// What the dashboard reads of the member and the fund.
struct DashboardReads {
    config: FundConfig,
    profile: UserProfile,
    payments: Vec<Payment>,
    loans: Vec<Loan>,
    /// Whether this month's draw has run.
    drawn: bool,
    /// Asked to leave the fund, or gone from it (`super::leaving`).
    leaving: Option<MyLeaving>,
    /// The monthly statements made for the member.
    statements: Vec<StatementEntry>,
}

impl DashboardReads {
    async fn load(
        state: &AppState,
        user_id: i64,
        month: JalaliMonth,
        lang: Lang,
    ) -> WebResult<Self> {
        // Before taking `conn`: on a cold cache it takes a connection of its own (see
        // fund::service), as reading the requests to leave does.
        let config = current_config(state).await?;
        let leaving = MyLeaving::of(state, user_id, lang).await?;
        let mut conn = state.db.pool.acquire().await?;
        let profile = profile_by_id(&mut conn, user_id)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let payments = store::payments_of(&mut conn, user_id).await?;
        let filter = LoanFilter {
            user_id: Some(user_id),
            ..Default::default()
        };
        let loans = store::loans(&mut conn, &filter).await?;
        let drawn = store::draw_exists(&mut conn, month).await?;
        let statements = statement_store::statements_of(&mut conn, user_id).await?;
        Ok(DashboardReads {
            config,
            profile,
            payments,
            loans,
            drawn,
            leaving,
            statements,
        })
    }

    /// The loan being repaid, if any, and the installment due on it.
    fn repaying(
        &self,
        month: JalaliMonth,
        paid_this_month: bool,
        lang: Lang,
    ) -> (Option<CurrentLoan>, Option<Amount>) {
        let Some(active) = self.loans.iter().find(|l| l.state == "active") else {
            return (None, None);
        };
        let minimum = active
            .min_amount_for_each_payment
            .unwrap_or(self.config.min_amount_for_loan_payment);
        let loan = CurrentLoan::new(active, minimum, month, paid_this_month, lang);
        // As the payment rules say: the last installment may be smaller, to clear the loan exactly.
        (loan, Some(minimum.min(active.remaining_balance)))
    }
}

/// "At least 20.00 USDT", the help under an amount field.
fn at_least(lang: Lang, amount: Amount) -> String {
    format!("{} {} USDT", lang.t("at_least"), lang.amount(amount))
}

impl DashboardPage {
    fn new(
        v: View,
        role: Role,
        month: JalaliMonth,
        reads: DashboardReads,
        entered: Entered,
    ) -> DashboardPage {
        let (lang, config) = (v.lang, reads.config);
        let paid_this_month = reads
            .payments
            .iter()
            .find(|p| is_month(month, p.jalali_year, p.jalali_month))
            .cloned();
        let (loan, installment) = reads.repaying(month, paid_this_month.is_some(), lang);
        let statements = (reads.statements.iter())
            .map(|e| StatementLink::new(e, lang, v.tz))
            .collect();
        let has_left = reads.leaving.as_ref().is_some_and(MyLeaving::has_left);
        // Gone from the fund: not in its draws.
        let draw = (is_fund_member(role) && !has_left).then(|| DrawStatus::of(&reads, month));
        let (pay, pay_errors) = entered.pay.unwrap_or_else(|| {
            let form = PayForm::suggested(config.min_membership_fee, installment, lang);
            (form, FormErrors::default())
        });
        let (request, request_errors) = entered.request.unwrap_or_else(|| {
            let form = LoanRequestForm::showing(reads.profile.loan_request_amount, lang);
            (form, FormErrors::default())
        });
        DashboardPage {
            v,
            profile: reads.profile,
            fund_member: is_fund_member(role),
            month: lang.jalali_month(month),
            paid_this_month,
            min_fee: config.min_membership_fee,
            fee_help: at_least(lang, config.min_membership_fee),
            installment_help: installment.map(|i| at_least(lang, i)).unwrap_or_default(),
            installment,
            loan,
            draw,
            payments: reads.payments,
            loans: reads.loans,
            pay,
            pay_errors,
            request,
            request_errors,
            has_left,
            leaving: reads.leaving,
            leave_errors: entered.leave,
            statements,
        }
    }
}

pub(super) async fn page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    notice: Option<&'static str>,
    entered: Entered,
) -> WebResult<Response> {
    let month = state.current_month();
    let reads = DashboardReads::load(state, session.user.id, month, prefs.lang).await?;
    let v = View::new(
        state,
        prefs,
        Some(session),
        Page {
            path: "/dashboard",
            active: "dashboard",
            title: "dashboard",
            notice,
        },
    );
    render(&DashboardPage::new(
        v,
        session.user.role,
        month,
        reads,
        entered,
    ))
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(done): Query<Done>,
) -> WebResult<Response> {
    // Where signing in and `/` lead: invoicing's own users have no fund account to show.
    match session.user.role {
        Role::Client => return Ok(see_other("/portal")),
        Role::Viewer => return Ok(see_other("/invoices")),
        _ => {}
    }
    page(&state, prefs, &session, done.notice(), Entered::default()).await
}

/// Pays this month, by the API's own rules.
pub async fn pay(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, form): CsrfForm<PayForm>,
) -> WebResult<Response> {
    let errors = match form.request(prefs.lang) {
        Ok(body) => match submit(&state, &session, &meta, body).await {
            Ok(()) => return Ok(see_other("/dashboard?done=paid")),
            Err(err) => FormErrors::from_api(err, prefs.lang, PAY_FIELDS)?,
        },
        Err(errors) => errors,
    };
    let entered = Entered {
        pay: Some((form, errors)),
        ..Default::default()
    };
    page(&state, prefs, &session, None, entered).await
}

/// Checks the payment as `POST /api/payments/pay` checks its body (422), then makes it through
/// `fund::service::submit_payment`.
async fn submit(
    state: &AppState,
    session: &Session,
    meta: &RequestMeta,
    body: PayRequest,
) -> Result<(), ApiError> {
    let problems = body.validate();
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    submit_payment(state, &session.user, meta, body.into())
        .await
        .map(|_| ())
        .map_err(ApiError::from)
}

/// Changes the amount asked for in the coming draws, as `PATCH /api/auth/me/loan-request`.
pub async fn loan_request(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, form): CsrfForm<LoanRequestForm>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let mut errors = FormErrors::default();
    let amount = amount_field(
        &mut errors,
        lang,
        "loan_request_amount",
        &form.loan_request_amount,
        true,
    );
    if let Some(amount) = amount {
        match change_loan_request(&state, &session.user, &meta, amount).await {
            Ok(_) => return Ok(see_other("/dashboard?done=loan_request")),
            Err(err) => errors = FormErrors::from_api(err, lang, &["loan_request_amount"])?,
        }
    }
    let entered = Entered {
        request: Some((form, errors)),
        ..Default::default()
    };
    page(&state, prefs, &session, None, entered).await
}
