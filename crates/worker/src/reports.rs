//! Reports' job: `report_export` writes one long export's file
//! (`saghat_export::register::run`); old exports are swept by `housekeeping`.

use std::sync::Arc;

use riverqueue::{Job, JobArgs, WorkContext, WorkOutcome, Workers};
use saghat_core::Ctx;
use saghat_export::register::{self, Outcome};
use serde::{Deserialize, Serialize};

/// `report_export`: writes export `export_id`'s register to its file, recording progress as
/// it goes. A failure is retried (the file is started again); the last one marks the export
/// failed for its reader to see. Already written: nothing is done.
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "report_export")]
struct ReportExport {
    export_id: String,
}

pub(crate) fn add_workers(workers: &mut Workers, ctx: &Arc<Ctx>) -> anyhow::Result<()> {
    let context = ctx.clone();
    workers.add_fn(move |_work: WorkContext, job: Job<ReportExport>| {
        let ctx = context.clone();
        async move {
            let last = job.row.attempt >= job.row.max_attempts;
            let outcome = register::run(&ctx, &job.args.export_id, last).await?;
            if let Outcome::Written { rows, bytes } = outcome {
                tracing::info!(export = %job.args.export_id, rows, bytes, "export written");
            }
            Ok::<_, register::RunError>(WorkOutcome::Complete)
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use saghat_core::reports::exports::EXPORT_JOB;

    #[test]
    fn the_worker_works_the_kind_exports_enqueue() {
        assert_eq!(ReportExport::KIND, EXPORT_JOB);
        let args = serde_json::to_value(ReportExport {
            export_id: "e1".into(),
        })
        .unwrap();
        assert_eq!(args, serde_json::json!({ "export_id": "e1" }));
    }
}
