//! The verifiable draw's services: publishing a month's commitment, reading a draw's proof
//! and verifying it against what was published.

use serde::Serialize;
use utoipa::ToSchema;

use super::store::{self, CommitmentRow};
use super::verify::{self, Check, DrawProof, Step, Verification};
use crate::platform::audit::RequestMeta;
use crate::platform::jalali::JalaliMonth;
use crate::platform::response_cache::Area;
use crate::Ctx;

/// A month's commitment as members see it: the seed only once revealed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PublishedCommitment {
    /// `YYYY/MM`, Jalali.
    pub month: String,
    /// SHA-256(seed ‖ year as 2 bytes ‖ month as 1 byte), hex.
    pub commitment: String,
    pub committed_at: String,
    /// The seed, hex: after the month's draw, or once the month is over.
    pub seed: Option<String>,
    /// The loan the month's draw made, whose proof is `/api/loans/{id}/proof`.
    pub loan_id: Option<String>,
}

impl PublishedCommitment {
    fn of(row: CommitmentRow, current: JalaliMonth) -> PublishedCommitment {
        let month = row.month();
        let revealed = row.revealed_at.is_some() || month < current;
        PublishedCommitment {
            month: format!("{}/{:02}", month.year, month.month),
            commitment: row.commitment,
            committed_at: row.committed_at,
            seed: revealed.then_some(row.seed),
            loan_id: row.loan_id,
        }
    }
}

/// Publishes the current month's commitment unless it has one (the `draw_commitment` job at
/// the start of each month; a month's first payment does it too). True when it was made now.
pub async fn commit_current_month(ctx: &Ctx) -> Result<bool, sqlx::Error> {
    let month = ctx.current_month();
    let mut tx = ctx.db.begin_write().await?;
    let made = store::ensure_commitment(&mut tx, month, ctx.now(), &RequestMeta::default()).await?;
    tx.commit().await?;
    if made.is_some() {
        tracing::info!(%month, "draw: this month's commitment published");
        ctx.changed(Area::Fund).await;
    }
    Ok(made.is_some())
}

/// `month`'s commitment, if published.
pub async fn commitment_of(
    ctx: &Ctx,
    month: JalaliMonth,
) -> Result<Option<PublishedCommitment>, sqlx::Error> {
    let mut conn = ctx.db.pool.acquire().await?;
    let row = store::commitment_for(&mut conn, month).await?;
    Ok(row.map(|r| PublishedCommitment::of(r, ctx.current_month())))
}

/// Every month's commitment, newest first.
pub async fn commitments(ctx: &Ctx) -> Result<Vec<PublishedCommitment>, sqlx::Error> {
    let mut conn = ctx.db.pool.acquire().await?;
    let current = ctx.current_month();
    Ok(store::commitments(&mut conn)
        .await?
        .into_iter()
        .map(|r| PublishedCommitment::of(r, current))
        .collect())
}

/// The proof of the draw that made `loan_id`; `None` for no such loan, or a draw made before
/// draws were verifiable.
pub async fn proof_of_loan(ctx: &Ctx, loan_id: &str) -> Result<Option<DrawProof>, sqlx::Error> {
    let mut conn = ctx.db.pool.acquire().await?;
    let Some(json) = store::proof_of_loan(&mut conn, loan_id).await? else {
        return Ok(None);
    };
    serde_json::from_str(&json)
        .map(Some)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The proof of `month`'s draw, if it ran with a commitment.
pub async fn proof_of_month(
    ctx: &Ctx,
    month: JalaliMonth,
) -> Result<Option<DrawProof>, sqlx::Error> {
    let loan_id = {
        let mut conn = ctx.db.pool.acquire().await?;
        store::commitment_for(&mut conn, month)
            .await?
            .and_then(|r| r.loan_id)
    };
    match loan_id {
        Some(id) => proof_of_loan(ctx, &id).await,
        None => Ok(None),
    }
}

/// `proof` verified step by step, and its commitment checked against the one the audit log
/// published when the month began.
pub async fn verify_published(ctx: &Ctx, proof: &DrawProof) -> Result<Verification, sqlx::Error> {
    let verified = verify::verify(proof);
    let Some(month) = verify::parse_month(&proof.month) else {
        return Ok(verified);
    };
    let mut conn = ctx.db.pool.acquire().await?;
    let published = store::published_commitment(&mut conn, month).await?;
    let check = match published {
        Some(c) if c.eq_ignore_ascii_case(&proof.commitment) => Check {
            step: Step::Published,
            ok: true,
            detail: String::new(),
        },
        Some(c) => Check {
            step: Step::Published,
            ok: false,
            detail: format!(
                "the audit log published {c} for {}, not {}",
                proof.month, proof.commitment
            ),
        },
        None => Check {
            step: Step::Published,
            ok: false,
            detail: format!("the audit log holds no commitment for {}", proof.month),
        },
    };
    Ok(verified.with(check))
}
