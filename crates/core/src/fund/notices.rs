//! The fund's scheduled notices, sent once a day by the `fund_daily_notices` job: what is due
//! ([`super::reminders`], a pure rule) written to the outbox in one transaction.

use crate::ctx::Ctx;
use crate::notify::outbox::notify_user;
use crate::notify::templates::Notice;
use chrono::Timelike;

use crate::platform::jalali::jalali_date;

use sqlx::AnyConnection;

use crate::platform::jalali::JalaliMonth;

use super::reminders::{draw_ready_key, due_today, DueKind, FundDay};
use super::store;

/// Writes today's due notices to the outbox; returns how many notices were due. A notice already
/// sent (its effect key taken) is not sent again, so running this twice a day is harmless.
pub async fn send_due_notices(ctx: &Ctx) -> Result<usize, sqlx::Error> {
    // One instant for the day, the hour and the month, so a run at midnight sees one day.
    let now = ctx.now();
    let tz = ctx.config.fund_timezone;
    let (_, _, day) = jalali_date(now, tz);
    let hour = now.with_timezone(&tz).hour();
    let month = JalaliMonth::containing(now, tz);
    let mut tx = ctx.db.begin_write().await?;
    let audience = store::notice_audience(&mut tx, month).await?;
    let today = FundDay {
        month,
        day,
        hour,
        members: audience.members,
        unpaid: audience.unpaid,
        admins: audience.admins,
        drawn: store::draw_exists(&mut tx, month).await?,
    };
    let due = due_today(&today, &ctx.config.fund_notices);
    if due.is_empty() {
        return Ok(0);
    }
    let min_fee = store::config(&mut tx, month)
        .await?
        .unwrap_or_default()
        .min_membership_fee;
    for notice in &due {
        let rendered = match notice.kind {
            DueKind::FeeReminder => Notice::FeeReminder {
                month,
                min_fee,
                day: u32::from(day),
            },
            DueKind::FewLeftToPay { left } => Notice::FewLeftToPay {
                month,
                left: i64::from(left),
            },
            DueKind::DrawReady => Notice::DrawReady { month },
        };
        notify_user(&mut tx, ctx, notice.user_id, &rendered, &notice.effect_key).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// Called in a payment's transaction: when it was the month's last one, the admins are told
/// the draw can run (once per admin and month; the day's job says it too if this was missed).
pub async fn tell_admins_if_draw_ready(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    month: JalaliMonth,
) -> Result<(), sqlx::Error> {
    if store::anyone_unpaid(conn, month).await? || store::draw_exists(conn, month).await? {
        return Ok(());
    }
    for admin in store::admins(conn).await? {
        let notice = Notice::DrawReady { month };
        notify_user(conn, ctx, admin, &notice, &draw_ready_key(admin, month)).await?;
    }
    Ok(())
}
