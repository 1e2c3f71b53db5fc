//! The tickets' report: applications per month by the state they are in now, approvals and
//! rejections per month and the approval rate, the time from submission to a first response
//! and to a decision (median and 90th percentile, wall-clock hours) beside the SLA's targets
//! (business hours) and the breaches, fraud flags per rule and what became of the tickets they
//! were raised on, the portfolio by days past due with the portfolio at risk, and write-offs.
//!
//! Fixed queries whatever the number of tickets: the period's months are instant spans in the
//! fund's time zone joined by range; percentiles are taken by rank in SQL (window functions,
//! nearest rank); the loans' outstanding comes from their installments grouped per ticket.

use serde::Serialize;
use sqlx::AnyConnection;

use super::access::{may_read, Report};
use super::period::Period;
use super::sql::{fetch, months_cte, units, Binds};
use super::table::Money;
use super::ReportError;
use crate::auth::CurrentUser;
use crate::platform::clock::to_db_time;
use crate::platform::currency::Currency;
use crate::platform::db::{split_sum, Backend};
use crate::Ctx;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TicketMonth {
    pub month: String,
    /// Submitted in the month, whatever has become of them.
    pub submitted: i64,
    /// Of those, by the state they are in now (`submitted`, `approved`, `repaying`, …).
    pub by_state: Vec<StateCount>,
    pub approved: i64,
    pub rejected: i64,
    /// Approved of those decided in the month, in hundredths of a percent; none without one.
    pub approval_rate: Option<i64>,
    /// Tickets whose SLA was first breached in the month.
    pub breaches: i64,
    pub defaulted: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StateCount {
    pub state: String,
    pub tickets: i64,
}

/// A duration's spread over the tickets of the period, in whole minutes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Spread {
    pub tickets: i64,
    pub median_minutes: Option<i64>,
    pub p90_minutes: Option<i64>,
    /// The SLA's target for it, in business minutes.
    pub target_business_minutes: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FlagOutcome {
    /// The fraud rule's code.
    pub rule: String,
    pub severity: String,
    pub flagged: i64,
    /// Approved (and paid out, repaid or defaulted since).
    pub approved: i64,
    pub rejected: i64,
    pub withdrawn: i64,
    /// Still being decided.
    pub pending: i64,
    /// Of those approved, defaulted since.
    pub defaulted: i64,
}

/// Loans being repaid, by days past due of their oldest unpaid installment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DelinquencyRow {
    /// `current`, `1-30`, `31-60`, `61-90`, `90+`.
    pub bucket: String,
    pub loans: i64,
    pub outstanding: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TicketsReport {
    pub calendar: String,
    pub from: String,
    pub to: String,
    pub months: Vec<TicketMonth>,
    pub approved: i64,
    pub rejected: i64,
    pub approval_rate: Option<i64>,
    pub first_response: Spread,
    pub decision: Spread,
    pub breaches: i64,
    pub flags: Vec<FlagOutcome>,
    /// Every bucket, in order, zeros included.
    pub delinquency: Vec<DelinquencyRow>,
    pub outstanding: Money,
    /// Outstanding more than 30 days past due, in hundredths of a percent of all outstanding.
    pub portfolio_at_risk_30: i64,
    /// Loans defaulted (ever) and what they still owed.
    pub written_off: i64,
    pub written_off_amount: Money,
}

pub const BUCKETS: [&str; 5] = ["current", "1-30", "31-60", "61-90", "90+"];

fn rate(approved: i64, rejected: i64) -> Option<i64> {
    let decided = approved + rejected;
    (decided > 0).then(|| approved * 10_000 / decided)
}

/// Seconds from `a` to `b` (stored times) in the backend's SQL.
fn seconds(backend: Backend, a: &str, b: &str) -> String {
    match backend {
        Backend::Sqlite => format!(
            "CAST(ROUND((julianday(replace({b}, 'Z', '')) - julianday(replace({a}, 'Z', ''))) * 86400) AS BIGINT)"
        ),
        Backend::Postgres => format!(
            "CAST(EXTRACT(EPOCH FROM (CAST({b} AS timestamptz) - CAST({a} AS timestamptz))) AS BIGINT)"
        ),
    }
}

pub async fn report(
    ctx: &Ctx,
    actor: &CurrentUser,
    period: &Period,
) -> Result<TicketsReport, ReportError> {
    if !may_read(actor.role, Report::Tickets) {
        return Err(ReportError::Forbidden);
    }
    let tz = ctx.config.fund_timezone;
    // Each month as the instants it spans in the fund's time zone, as stored times.
    let spans: Vec<(String, String, String)> = period
        .months()
        .into_iter()
        .map(|m| {
            let at = |day: chrono::NaiveDate| {
                use chrono::TimeZone;
                let local = day.and_hms_opt(0, 0, 0).expect("midnight");
                let instant = tz
                    .from_local_datetime(&local)
                    .earliest()
                    .map_or_else(|| local.and_utc(), |t| t.with_timezone(&chrono::Utc));
                to_db_time(instant)
            };
            (m.month.clone(), at(m.starts), at(m.ends))
        })
        .collect();
    let sla = &ctx.config.tickets.sla;
    let mut conn = ctx.db.pool.acquire().await?;
    let mut report = read(&mut conn, ctx.db.backend, period, &spans).await?;
    report.first_response.target_business_minutes = sla.first_response_minutes;
    report.decision.target_business_minutes = sla.decision_minutes;
    Ok(report)
}

#[derive(sqlx::FromRow)]
struct CountRow {
    period: String,
    what: String,
    n: i64,
}

#[derive(sqlx::FromRow)]
struct SpreadRow {
    what: String,
    n: Option<i64>,
    median: Option<i64>,
    p90: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct FlagRow {
    code: String,
    severity: String,
    state: String,
    n: i64,
}

#[derive(sqlx::FromRow)]
struct BucketRow {
    state: String,
    delinquency: String,
    n: i64,
    owed_whole: i64,
    owed_fraction: i64,
}

/// The figures for `period`, whose months span `spans` (month, first instant, first instant
/// after), as stored times.
pub async fn read(
    conn: &mut AnyConnection,
    backend: Backend,
    period: &Period,
    spans: &[(String, String, String)],
) -> Result<TicketsReport, ReportError> {
    let (starts, ends) = (
        spans.first().map(|s| s.1.clone()).unwrap_or_default(),
        spans.last().map(|s| s.2.clone()).unwrap_or_default(),
    );
    // Per month: submitted by the state they are in now; decisions, breaches and defaults.
    let mut binds = Binds::default();
    let cte = months_cte(spans.iter().cloned(), &mut binds);
    let sql = format!(
        "{cte} \
         SELECT m.period, t.state AS what, COUNT(*) AS n FROM months m \
           JOIN tickets t ON t.submitted_at >= m.starts AND t.submitted_at < m.ends \
          GROUP BY m.period, t.state \
         UNION ALL \
         SELECT m.period, CAST('decided_' AS TEXT) || h.to_state, COUNT(DISTINCT h.ticket_id) FROM months m \
           JOIN ticket_history h ON h.at >= m.starts AND h.at < m.ends \
          WHERE h.to_state IN ('approved', 'rejected', 'defaulted') GROUP BY m.period, h.to_state \
         UNION ALL \
         SELECT m.period, CAST('breached' AS TEXT), COUNT(*) FROM months m \
           JOIN tickets t ON t.sla_breached_at >= m.starts AND t.sla_breached_at < m.ends \
          GROUP BY m.period"
    );
    let counts: Vec<CountRow> = fetch(&mut *conn, sql, &binds).await?;
    let mut months = vec![];
    for (m, _, _) in spans {
        let of = |what: &str| {
            counts
                .iter()
                .filter(|c| &c.period == m && c.what == what)
                .map(|c| c.n)
                .sum::<i64>()
        };
        let mut by_state: Vec<StateCount> = counts
            .iter()
            .filter(|c| &c.period == m && !c.what.starts_with("decided_") && c.what != "breached")
            .map(|c| StateCount {
                state: c.what.clone(),
                tickets: c.n,
            })
            .collect();
        by_state.sort_by(|a, b| a.state.cmp(&b.state));
        let (approved, rejected) = (of("decided_approved"), of("decided_rejected"));
        months.push(TicketMonth {
            month: m.clone(),
            submitted: by_state.iter().map(|s| s.tickets).sum(),
            by_state,
            approved,
            rejected,
            approval_rate: rate(approved, rejected),
            breaches: of("breached"),
            defaulted: of("decided_defaulted"),
        });
    }

    // Durations of the tickets submitted in the period: first submission to the first review,
    // and to the first decision, from the milestones each ticket keeps; percentiles by
    // nearest rank.
    let mut binds = Binds::default();
    let (s, e) = (binds.push(starts.clone()), binds.push(ends.clone()));
    let minutes = |to: &str| format!("{} / 60", seconds(backend, "t.first_submitted_at", to));
    let sql = format!(
        "WITH d AS ( \
           SELECT CAST('first' AS TEXT) AS what, {responded} AS minutes FROM tickets t \
            WHERE t.submitted_at >= {s} AND t.submitted_at < {e} \
              AND t.first_response_at IS NOT NULL AND t.first_submitted_at IS NOT NULL \
           UNION ALL \
           SELECT CAST('decision' AS TEXT), {decided} FROM tickets t \
            WHERE t.submitted_at >= {s} AND t.submitted_at < {e} \
              AND t.decided_at IS NOT NULL AND t.first_submitted_at IS NOT NULL), \
         r AS (SELECT what, minutes, ROW_NUMBER() OVER (PARTITION BY what ORDER BY minutes) AS rn, \
                      COUNT(*) OVER (PARTITION BY what) AS n FROM d) \
         SELECT what, MAX(n) AS n, \
                MAX(CASE WHEN rn = (n + 1) / 2 THEN minutes END) AS median, \
                MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN minutes END) AS p90 \
           FROM r GROUP BY what",
        responded = minutes("t.first_response_at"),
        decided = minutes("t.decided_at"),
    );
    let spreads: Vec<SpreadRow> = fetch(&mut *conn, sql, &binds).await?;
    let first: Vec<&SpreadRow> = spreads.iter().filter(|r| r.what == "first").collect();
    let decision: Vec<&SpreadRow> = spreads.iter().filter(|r| r.what == "decision").collect();
    let to_spread = |rows: &[&SpreadRow]| {
        let r = rows.first();
        Spread {
            tickets: r.and_then(|r| r.n).unwrap_or(0),
            median_minutes: r.and_then(|r| r.median),
            p90_minutes: r.and_then(|r| r.p90),
            target_business_minutes: 0,
        }
    };

    // Fraud flags of the tickets submitted in the period, by what became of the ticket.
    let mut binds = Binds::default();
    let sql = format!(
        "SELECT f.code, f.severity, t.state, COUNT(*) AS n FROM ticket_flags f \
           JOIN tickets t ON t.id = f.ticket_id \
          WHERE t.submitted_at >= {s} AND t.submitted_at < {e} \
          GROUP BY f.code, f.severity, t.state",
        s = binds.push(starts.clone()),
        e = binds.push(ends.clone()),
    );
    let flag_rows: Vec<FlagRow> = fetch(&mut *conn, sql, &binds).await?;
    let mut flags: Vec<FlagOutcome> = vec![];
    for r in flag_rows {
        let i = match flags
            .iter()
            .position(|f| f.rule == r.code && f.severity == r.severity)
        {
            Some(i) => i,
            None => {
                flags.push(FlagOutcome {
                    rule: r.code.clone(),
                    severity: r.severity.clone(),
                    flagged: 0,
                    approved: 0,
                    rejected: 0,
                    withdrawn: 0,
                    pending: 0,
                    defaulted: 0,
                });
                flags.len() - 1
            }
        };
        let f = &mut flags[i];
        f.flagged += r.n;
        match r.state.as_str() {
            "approved" | "disbursed" | "repaying" | "repaid" => f.approved += r.n,
            "defaulted" => {
                f.approved += r.n;
                f.defaulted += r.n;
            }
            "rejected" => f.rejected += r.n,
            "withdrawn" => f.withdrawn += r.n,
            _ => f.pending += r.n,
        }
    }
    flags.sort_by(|a, b| b.flagged.cmp(&a.flagged).then_with(|| a.rule.cmp(&b.rule)));

    // The portfolio today: what each loan still owes, by its delinquency; and the defaulted.
    let sql = format!(
        "SELECT t.state, t.delinquency, COUNT(*) AS n, {owed} FROM tickets t \
           JOIN (SELECT ticket_id, CAST(SUM(principal + charge - paid) AS BIGINT) AS owed FROM ticket_installments \
                  GROUP BY ticket_id) i ON i.ticket_id = t.id \
          WHERE t.state IN ('disbursed', 'repaying', 'defaulted') \
          GROUP BY t.state, t.delinquency",
        owed = split_sum("i.owed", "owed"),
    );
    let buckets: Vec<BucketRow> = fetch(&mut *conn, sql, &Binds::default()).await?;
    let usdt = |units: i128| Money::new(units, Currency::Usdt);
    let delinquency: Vec<DelinquencyRow> = BUCKETS
        .iter()
        .map(|b| {
            let rows = buckets
                .iter()
                .filter(|r| r.state != "defaulted" && r.delinquency == *b);
            DelinquencyRow {
                bucket: (*b).into(),
                loans: rows.clone().map(|r| r.n).sum(),
                outstanding: usdt(rows.map(|r| units(r.owed_whole, r.owed_fraction)).sum()),
            }
        })
        .collect();
    let outstanding: i128 = delinquency.iter().map(|d| d.outstanding.units).sum();
    let at_risk: i128 = delinquency
        .iter()
        .skip(2)
        .map(|d| d.outstanding.units)
        .sum();
    let defaulted = buckets.iter().filter(|r| r.state == "defaulted");
    let (approved, rejected) = (
        months.iter().map(|m| m.approved).sum(),
        months.iter().map(|m| m.rejected).sum(),
    );
    Ok(TicketsReport {
        calendar: period.calendar.as_str().into(),
        from: period.from.key(),
        to: period.to.key(),
        approved,
        rejected,
        approval_rate: rate(approved, rejected),
        breaches: months.iter().map(|m| m.breaches).sum(),
        months,
        first_response: to_spread(&first),
        decision: to_spread(&decision),
        flags,
        delinquency,
        outstanding: usdt(outstanding),
        portfolio_at_risk_30: if outstanding > 0 {
            i64::try_from(at_risk * 10_000 / outstanding).unwrap_or(0)
        } else {
            0
        },
        written_off: defaulted.clone().map(|r| r.n).sum(),
        written_off_amount: usdt(
            defaulted
                .map(|r| units(r.owed_whole, r.owed_fraction))
                .sum(),
        ),
    })
}
