//! The monthly statements' jobs (`saghat_core::fund::statements`): `monthly_statements`, which a
//! draw enqueues, reads the fund's month and enqueues every member's `member_statement`; that
//! one renders the member's PDF here, where `saghat-pdf` is (it builds on the core).

use std::sync::Arc;

use riverqueue::{Job, JobArgs, WorkContext, WorkOutcome, Workers};
use saghat_core::fund::statements::{self, Made, StatementError, StatementPdf};
use saghat_core::Ctx;
use serde::{Deserialize, Serialize};

/// `monthly_statements`: after the draw that made `loan_id`, the fund's month is read once and
/// kept, and every active member's statement job enqueued (each keyed per member and month, so
/// a second run enqueues none).
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "monthly_statements")]
struct MonthlyStatements {
    loan_id: String,
}

/// `member_statement`: one member's statement of that month, rendered, kept and e-mailed (the
/// PDF attached) once; a member who has one, or left the fund, gets nothing more.
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "member_statement")]
struct MemberStatement {
    loan_id: String,
    user_id: i64,
}

pub(crate) fn add_workers(workers: &mut Workers, ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, job: Job<MonthlyStatements>| {
        let ctx = context.clone();
        async move {
            let queued = statements::prepare_month(&ctx, &job.args.loan_id).await?;
            tracing::info!(loan_id = %job.args.loan_id, queued, "monthly statements: members' jobs enqueued");
            Ok::<_, StatementError>(WorkOutcome::Complete)
        }
    })?;
    let context = ctx.clone();
    let pdf: Arc<dyn StatementPdf> = Arc::new(saghat_pdf::statement::Printer);
    workers.add_fn(move |_work: WorkContext, job: Job<MemberStatement>| {
        let ctx = context.clone();
        let pdf = pdf.clone();
        async move {
            let args = &job.args;
            let made = statements::make_statement(&ctx, &args.loan_id, args.user_id, pdf).await?;
            if let Made::Made { statement_id } = made {
                tracing::info!(
                    user_id = args.user_id,
                    statement_id,
                    "monthly statement made"
                );
            }
            Ok::<_, StatementError>(WorkOutcome::Complete)
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use saghat_core::fund::service::ANNOUNCE_DRAW_JOB;

    #[test]
    fn the_workers_work_the_kinds_the_draw_and_its_job_enqueue() {
        assert_eq!(MonthlyStatements::KIND, statements::MONTHLY_STATEMENTS_JOB);
        assert_eq!(MemberStatement::KIND, statements::MEMBER_STATEMENT_JOB);
        assert_ne!(MonthlyStatements::KIND, ANNOUNCE_DRAW_JOB);
        let args = serde_json::to_value(MemberStatement {
            loan_id: "l1".into(),
            user_id: 7,
        })
        .unwrap();
        assert_eq!(args, serde_json::json!({ "loan_id": "l1", "user_id": 7 }));
    }
}
