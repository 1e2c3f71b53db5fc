//! The statements' jobs and their readers.

use std::sync::Arc;

use sqlx::AnyConnection;

use super::error::StatementError;
use super::model::{
    installments, months_ending, CashFlow, DrawEvidence, DrawWinner, FundMonth, LoanPart, Member,
    MemberStatement, MonthLine, HISTORY_MONTHS, MAX_INSTALLMENTS,
};
use super::store::{self, NewStatement, StatementEntry};
use crate::fund::proof::service::proof_of_loan;
use crate::fund::schedule::loan_schedule;
use crate::fund::store as fund_store;
use crate::notify::attachments::{self, StoredFile};
use crate::notify::outbox;
use crate::notify::preferences;
use crate::notify::templates::Notice;
use crate::platform::clock::to_db_time;
use crate::platform::jalali::JalaliMonth;
use crate::platform::lang::Lang;
use crate::platform::money::Amount;
use crate::reports::fund::{statement_of, FundPeriod};
use crate::reports::period::Month;
use crate::Ctx;

/// The statement's PDF, as `saghat-pdf` renders it: given to the job by the worker (the PDF
/// crate builds on this one). Called on a blocking thread: typst's layout is CPU work.
pub trait StatementPdf: Send + Sync + 'static {
    fn render(&self, statement: &MemberStatement) -> Result<Vec<u8>, String>;
}

/// What [`make_statement`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Made {
    /// Made and recorded, its notice written to the outbox.
    Made { statement_id: i64 },
    /// The member has this month's statement already: nothing done.
    Already,
    /// Not (or no longer) in the fund: none made.
    NotInFund,
    /// No such draw, or its month's figures are not kept (`monthly_statements` has not run).
    NoMonth,
}

/// The `monthly_statements` job: reads the fund's month of the draw that made `loan_id` (once:
/// a month kept is not read again) and enqueues every active member's `member_statement`
/// job. Returns the jobs enqueued (none on a second run).
pub async fn prepare_month(ctx: &Ctx, loan_id: &str) -> Result<u64, StatementError> {
    let loan = {
        let mut conn = ctx.db.pool.acquire().await?;
        store::drawn_loan(&mut conn, loan_id).await?
    };
    let Some(loan) = loan else {
        return Ok(0);
    };
    let month = loan.month();
    let kept = {
        let mut conn = ctx.db.pool.acquire().await?;
        store::fund_month(&mut conn, month).await?
    };
    let fund = match kept {
        Some(fund) => fund,
        None => read_fund_month(ctx, &loan).await?,
    };
    let now = to_db_time(ctx.now());
    let mut tx = ctx.db.begin_write().await?;
    store::keep_fund_month(&mut tx, &fund, &now).await?;
    let backend = ctx.db.backend;
    let max_attempts = ctx.config.jobs.max_attempts;
    let queued = store::enqueue_members(&mut tx, backend, loan_id, month, max_attempts).await?;
    tx.commit().await?;
    Ok(queued)
}

/// The fund's month as the ledger and the draw's proof tell it now.
async fn read_fund_month(ctx: &Ctx, loan: &store::DrawnLoan) -> Result<FundMonth, StatementError> {
    // Its own connection: read before ours is taken.
    let proof = proof_of_loan(ctx, &loan.id).await?;
    let month = loan.month();
    let mut conn = ctx.db.pool.acquire().await?;
    let totals = store::ledger_totals(&mut conn, month).await?;
    let opening = store::cash_before(&mut conn, month).await?;
    let winner = match (loan.user_id, loan.amount) {
        (Some(user_id), Some(amount)) => Some(DrawWinner {
            user_id,
            name: name_of(&mut conn, user_id).await?,
            amount,
        }),
        _ => None,
    };
    Ok(FundMonth {
        month,
        loan_id: loan.id.clone(),
        cash: CashFlow::from_ledger(opening, &totals),
        winner,
        evidence: proof.map(|p| DrawEvidence {
            commitment: p.commitment,
            seed: p.seed,
            inputs_digest: p.inputs_digest,
        }),
        as_of: to_db_time(ctx.now()),
    })
}

/// A member's first and last names, else their username.
async fn name_of(conn: &mut AnyConnection, user_id: i64) -> Result<String, sqlx::Error> {
    if let Some(name) = outbox::display_name(conn, user_id).await? {
        return Ok(name);
    }
    let username: Option<String> = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    Ok(username.unwrap_or_default())
}

/// The `member_statement` job: `user_id`'s statement of the month of the draw that made
/// `loan_id`, rendered by `pdf`, kept, and told to them (the PDF attached to the e-mail), once.
pub async fn make_statement(
    ctx: &Ctx,
    loan_id: &str,
    user_id: i64,
    pdf: Arc<dyn StatementPdf>,
) -> Result<Made, StatementError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let Some(loan) = store::drawn_loan(&mut conn, loan_id).await? else {
        return Ok(Made::NoMonth);
    };
    let Some(fund) = store::fund_month(&mut conn, loan.month()).await? else {
        return Ok(Made::NoMonth);
    };
    let month = fund.month;
    if store::statement(&mut conn, user_id, month).await?.is_some() {
        return Ok(Made::Already);
    }
    let Some(member) = store::member(&mut conn, user_id).await? else {
        return Ok(Made::NotInFund);
    };
    if member.in_fund == 0 {
        return Ok(Made::NotInFund);
    }
    let Some(prefs) = preferences::load(&mut conn, user_id).await? else {
        return Ok(Made::NotInFund);
    };
    let member = Member {
        user_id,
        username: member.username,
        name: format!("{} {}", member.first_name.trim(), member.last_name.trim())
            .trim()
            .to_owned(),
    };
    let statement = gather(ctx, &mut conn, member, prefs.language, fund).await?;
    // No connection held while the PDF is laid out.
    drop(conn);
    let lang = statement.lang;
    let bytes = tokio::task::spawn_blocking(move || pdf.render(&statement))
        .await
        .map_err(|e| StatementError::Render(e.to_string()))?
        .map_err(StatementError::Render)?;
    let data_dir = ctx.config.data_dir.clone();
    let stored = tokio::task::spawn_blocking(move || store::keep_pdf(&data_dir, &bytes))
        .await
        .map_err(|e| StatementError::Render(e.to_string()))??;

    let now = to_db_time(ctx.now());
    let mut tx = ctx.db.begin_write().await?;
    let new = NewStatement {
        user_id,
        month,
        loan_id,
        language: lang.code(),
        file: &stored,
        created_at: &now,
    };
    // A run in parallel recorded it first: its notice is the one.
    let Some(statement_id) = store::insert_statement(&mut tx, &new).await? else {
        return Ok(Made::Already);
    };
    let effect = format!("monthly-statement:{user_id}:{}:{}", month.year, month.month);
    let notice = Notice::MonthlyStatement {
        month,
        page: page_url(ctx),
    };
    outbox::notify_user(&mut tx, ctx, user_id, &notice, &effect).await?;
    let file = StoredFile {
        file_name: &file_name(month),
        content_type: "application/pdf",
        path: &stored.path,
        sha256: &stored.sha256,
    };
    attachments::attach_to_email(&mut tx, &format!("{effect}:email"), &file).await?;
    tx.commit().await?;
    Ok(Made::Made { statement_id })
}

/// The member's part of the statement, with the fund's.
async fn gather(
    ctx: &Ctx,
    conn: &mut AnyConnection,
    member: Member,
    lang: Lang,
    fund: FundMonth,
) -> Result<MemberStatement, StatementError> {
    let month = fund.month;
    let user_id = member.user_id;
    // The months up to this one, from the first they paid for.
    let months = months_ending(month, HISTORY_MONTHS);
    let first_paid = store::first_paid(conn, user_id).await?;
    let from = months
        .iter()
        .copied()
        .find(|m| first_paid.is_none_or(|first| key(*m) >= first))
        .unwrap_or(month);
    let period = FundPeriod {
        from: Month {
            year: from.year,
            month: from.month,
        },
        to: Month {
            year: month.year,
            month: month.month,
        },
    };
    let report = statement_of(conn, user_id, period)
        .await
        .map_err(|e| match e {
            crate::reports::ReportError::Store(e) => StatementError::Store(e),
            other => StatementError::Render(other.to_string()),
        })?;
    let history: Vec<MonthLine> = report
        .months
        .iter()
        .zip(months_from(from))
        .map(|(m, jm)| MonthLine {
            month: jm,
            fee: m.fee.map(|f| Amount::from_sum_units(f.units)),
            repayment: m.repayment.map(|r| Amount::from_sum_units(r.units)),
            paid_at: m.paid_at.clone(),
            balance: Amount::from_sum_units(m.balance.units),
            owed: Amount::from_sum_units(m.owed.units),
        })
        .collect();
    let paid_this_month = history
        .last()
        .is_some_and(|l| l.month == month && l.fee.is_some());
    let loan = match store::repaying(conn, user_id).await? {
        Some(l) => {
            let config = fund_store::config(conn, month).await?.unwrap_or_default();
            let minimum = l
                .min_amount_for_each_payment
                .unwrap_or(config.min_amount_for_loan_payment);
            let remaining = Amount::from_sum_units((l.amount.units() - l.repaid.units()).max(0));
            let schedule = loan_schedule(remaining, minimum, month, paid_this_month);
            let (rows, more) = schedule
                .as_ref()
                .map(|s| installments(s, remaining, MAX_INSTALLMENTS))
                .unwrap_or_default();
            Some(LoanPart {
                won_now: l.id == fund.loan_id,
                loan_id: l.id,
                month: JalaliMonth {
                    year: i32::try_from(l.jalali_year).unwrap_or_default(),
                    month: u8::try_from(l.jalali_month).unwrap_or_default(),
                },
                amount: l.amount,
                repaid: l.repaid,
                remaining,
                minimum,
                installments: rows,
                more,
                last_due: schedule.and_then(|s| s.last_due),
            })
        }
        None => None,
    };
    let verify_page = format!(
        "{}/fund/draws/{}/verify",
        base_url(ctx).unwrap_or_default(),
        fund.loan_id
    );
    Ok(MemberStatement {
        lang,
        member,
        history,
        loan,
        fund,
        verify_page,
        made_at: to_db_time(ctx.now()),
        tz: ctx.config.fund_timezone,
    })
}

fn key(month: JalaliMonth) -> i64 {
    i64::from(month.year) * 100 + i64::from(month.month)
}

/// The months from `first` on.
fn months_from(first: JalaliMonth) -> impl Iterator<Item = JalaliMonth> {
    std::iter::successors(Some(first), |m| Some(m.next()))
}

/// `PUBLIC_BASE_URL` without its trailing `/`.
fn base_url(ctx: &Ctx) -> Option<&str> {
    ctx.config
        .public_base_url
        .as_deref()
        .map(|u| u.trim_end_matches('/'))
        .filter(|u| !u.is_empty())
}

/// Where a member reads their statements: their page, when Saghat knows its own address.
pub fn page_url(ctx: &Ctx) -> Option<String> {
    base_url(ctx).map(|base| format!("{base}/dashboard#statements"))
}

/// The statement's file name: `saghat-statement-1405-09.pdf`.
pub fn file_name(month: JalaliMonth) -> String {
    format!("saghat-statement-{:04}-{:02}.pdf", month.year, month.month)
}

/// `user_id`'s statements, newest first.
pub async fn statements_of(ctx: &Ctx, user_id: i64) -> Result<Vec<StatementEntry>, sqlx::Error> {
    let mut conn = ctx.db.pool.acquire().await?;
    store::statements_of(&mut conn, user_id).await
}

/// `user_id`'s statement of `month` with its PDF, checked against what was recorded; `None`
/// when they have none for that month.
pub async fn open(
    ctx: &Ctx,
    user_id: i64,
    month: JalaliMonth,
) -> Result<Option<(StatementEntry, Vec<u8>)>, StatementError> {
    let entry = {
        let mut conn = ctx.db.pool.acquire().await?;
        store::statement(&mut conn, user_id, month).await?
    };
    let Some(entry) = entry else {
        return Ok(None);
    };
    let Some(path) = attachments::under(&ctx.config.data_dir, &entry.file) else {
        return Err(StatementError::Damaged);
    };
    let bytes = tokio::fs::read(&path).await?;
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    if sha != entry.sha256 {
        return Err(StatementError::Damaged);
    }
    Ok(Some((entry, bytes)))
}
