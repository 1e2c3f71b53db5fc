//! The fund page, for every member: who has paid this month, the draw's state and its button,
//! this month's draw commitment, the last draws with their logs (and where to verify them), and
//! the chart of the fund over time.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;

use super::draws::{verify_href, when_stored};
use super::{is_month, render, Done, DrawView, Page, PlainForm, View};
use crate::state::AppState;
use crate::web::chart::{self, Point, SERIES};
use crate::web::forms::FormErrors;
use crate::web::queries::{self, MonthFlows, MonthStatus};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebResult};
use saghat_core::fund::access::may_see_draws;
use saghat_core::fund::proof::service as proofs;
use saghat_core::fund::service::run_monthly_draw;
use saghat_core::fund::store::{self, Loan, LoanFilter};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::response_cache::Area;

/// How many past draws the page shows.
const LAST_DRAWS: usize = 6;

#[derive(Template)]
#[template(path = "fund.html")]
pub struct FundPage {
    pub v: View,
    pub month: String,
    pub members: Vec<MonthStatus>,
    pub paid_count: i64,
    /// This month's draw, once it has run.
    pub this_draw: Option<DrawView>,
    pub draws: Vec<DrawView>,
    pub draw_errors: FormErrors,
    /// Whether the viewer may see the draws' commitments and proofs (`may_see_draws`).
    pub sees_draws: bool,
    /// This month's published commitment, for those who see draws.
    pub commitment: Option<CommitmentView>,
    pub chart_svg: String,
    /// The same chart drawn for a phone.
    pub chart_svg_narrow: String,
    pub points: Vec<Point>,
    /// (label, colour, dash) of each line, for the legend.
    pub legend: Vec<(&'static str, &'static str, &'static str)>,
}

/// This month's draw commitment as the page shows it.
pub struct CommitmentView {
    /// SHA-256(seed ‖ year ‖ month), hex.
    pub hash: String,
    /// When it was published: the fund's Jalali date and clock time.
    pub published: String,
    /// Once the month's draw has run (and revealed the seed): its verification page.
    pub verify_href: Option<String>,
}

/// A month's commitment as the page keeps it: never its seed (published only with the proof).
#[derive(serde::Serialize, serde::Deserialize)]
struct CommitmentReads {
    commitment: String,
    committed_at: String,
    loan_id: Option<String>,
}

/// What the fund page reads: the same for every viewer (the page is rendered from it in the
/// viewer's language), so cached whole for the month, shared by the instances (`Area::Fund`).
/// Publishing a commitment and revealing it with the draw both say `Area::Fund` changed.
#[derive(serde::Serialize, serde::Deserialize)]
struct FundReads {
    members: Vec<MonthStatus>,
    loans: Vec<Loan>,
    flows: Vec<(JalaliMonth, MonthFlows)>,
    /// This month's draw commitment, once published.
    commitment: Option<CommitmentReads>,
    /// The loans whose draw has a proof (verifiable draws). Not optional, so that an entry
    /// cached without it reads as a miss.
    proven: Vec<String>,
}

impl FundReads {
    async fn load(state: &AppState, month: JalaliMonth) -> WebResult<Self> {
        let key = format!("page:{}-{}", month.year, month.month);
        state
            .responses
            .get_or_compute(Area::Fund, &key, async || Self::read(state, month).await)
            .await
    }

    async fn read(state: &AppState, month: JalaliMonth) -> WebResult<Self> {
        let (members, loans, flows) = {
            let mut conn = state.db.pool.acquire().await?;
            let members = queries::month_status(&mut conn, month).await?;
            // A fund draws once a month, so every loan is a short list.
            let loans = store::loans(&mut conn, &LoanFilter::default()).await?;
            let flows = queries::monthly_flows(&mut conn).await?;
            (members, loans, flows)
        };
        // One row a month, like the loans: this month's, and which draws have a proof.
        let commitments = proofs::commitments(state.ctx()).await?;
        let this_month = format!("{}/{:02}", month.year, month.month);
        let proven = commitments
            .iter()
            .filter_map(|c| c.loan_id.clone())
            .collect();
        let commitment = commitments
            .into_iter()
            .find(|c| c.month == this_month)
            .map(|c| CommitmentReads {
                commitment: c.commitment,
                committed_at: c.committed_at,
                loan_id: c.loan_id,
            });
        Ok(FundReads {
            members,
            loans,
            flows,
            commitment,
            proven,
        })
    }
}

impl FundPage {
    pub fn everyone_paid(&self) -> bool {
        self.members.iter().all(|m| m.paid.is_some())
    }

    /// Who the draw is waiting for.
    pub fn unpaid(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.paid.is_none())
            .map(|m| m.username.clone())
            .collect()
    }

    fn new(v: View, month: JalaliMonth, reads: FundReads, draw_errors: FormErrors) -> FundPage {
        let lang = v.lang;
        let sees_draws = v.user.as_ref().is_some_and(|u| may_see_draws(u.role));
        // A draw with a proof links to its verification, for those who may see it.
        let view = |l: &Loan| {
            let mut draw = DrawView::new(l, lang);
            if sees_draws && reads.proven.contains(&l.id) {
                draw.proof_href = Some(verify_href(&l.id));
            }
            draw
        };
        let this_draw = reads
            .loans
            .iter()
            .find(|l| is_month(month, l.jalali_year, l.jalali_month))
            .map(view);
        let draws = reads.loans.iter().take(LAST_DRAWS).map(view).collect();
        let commitment = reads
            .commitment
            .as_ref()
            .filter(|_| sees_draws)
            .map(|c| CommitmentView {
                hash: c.commitment.clone(),
                published: when_stored(lang, v.tz, &c.committed_at),
                verify_href: c.loan_id.as_deref().map(verify_href),
            });
        let points = chart::series(&reads.flows, month);
        FundPage {
            chart_svg: chart::svg(&points, lang, v.t("chart_title"), chart::WIDE),
            chart_svg_narrow: chart::svg(&points, lang, v.t("chart_title"), chart::NARROW),
            legend: SERIES.iter().map(|(k, c, d)| (v.t(k), *c, *d)).collect(),
            v,
            month: lang.jalali_month(month),
            paid_count: reads.members.iter().filter(|m| m.paid.is_some()).count() as i64,
            members: reads.members,
            this_draw,
            draws,
            draw_errors,
            sees_draws,
            commitment,
            points,
        }
    }
}

async fn page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    notice: Option<&'static str>,
    draw_errors: FormErrors,
) -> WebResult<Response> {
    let month = state.current_month();
    let reads = FundReads::load(state, month).await?;
    let v = View::new(
        state,
        prefs,
        Some(session),
        Page {
            path: "/fund",
            active: "fund",
            title: "fund",
            notice,
        },
    );
    render(&FundPage::new(v, month, reads, draw_errors))
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(done): Query<Done>,
) -> WebResult<Response> {
    page(
        &state,
        prefs,
        &session,
        done.notice(),
        FormErrors::default(),
    )
    .await
}

/// Starts this month's draw through `fund::service::run_monthly_draw`.
pub async fn draw(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, _): CsrfForm<PlainForm>,
) -> WebResult<Response> {
    match run_monthly_draw(&state, &session.user, &meta).await {
        Ok(_) => Ok(see_other("/fund?done=draw#this-draw")),
        Err(err) => {
            let errors = FormErrors::from_api(err, prefs.lang, &[])?;
            page(&state, prefs, &session, None, errors).await
        }
    }
}
