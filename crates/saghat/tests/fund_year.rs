//! Twelve Jalali months of a fund through the HTTP API, on SQLite and PostgreSQL (Azar 1405 to
//! Aban 1406): the admin and five members asking for different loans. Every month everyone
//! still in the fund pays (a borrower their installment too), the draw runs and its proof is
//! checked three ways (the core's verifier, `/proof/verification`, `docs/verify_draw.py`); in
//! the fifth month a borrower is asked to leave and confirms, getting back what he paid in less
//! what his loan still owed, and sits out every later draw; a higher fee decided in the third
//! month applies from the seventh on, the months before keeping theirs. At the end the books
//! verify and the fund's cash is what the test paid in, lent and refunded.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::{json, Value};

use saghat_core::fund::proof::verify::{verify, DrawProof};
use saghat_core::fund::service::{change_config, ConfigChange};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::money::Amount;
use saghat_test_support::{on_both_databases, Backend, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};

on_both_databases!(a_year_of_the_fund);

/// The month the higher fee applies from: Khordad 1406, the seventh of the year run here.
const HIGHER_FEE_FROM: JalaliMonth = JalaliMonth {
    year: 1406,
    month: 3,
};

fn usdt(n: i64) -> Amount {
    Amount::whole(n)
}

fn amount(value: &Value) -> Amount {
    Amount::parse(
        value
            .as_str()
            .unwrap_or_else(|| panic!("not an amount: {value}")),
    )
    .unwrap()
}

fn plus(a: Amount, b: Amount) -> Amount {
    a.checked_add(b).unwrap()
}

fn minus(a: Amount, b: Amount) -> Amount {
    a.checked_sub(b).unwrap()
}

/// A loan being repaid, as the test follows it.
struct Loan {
    remaining: Amount,
    minimum: Amount,
}

struct Member {
    name: &'static str,
    password: &'static str,
    id: i64,
    /// Fees paid in since they (re)joined: their contributions.
    paid_in: Amount,
    loan: Option<Loan>,
    left: bool,
}

/// What the fund's cash saw, as the test did it.
#[derive(Default)]
struct Books {
    fees: Amount,
    repayments: Amount,
    lent: Amount,
    refunds: Amount,
}

impl Books {
    fn cash(&self) -> Amount {
        minus(
            minus(plus(self.fees, self.repayments), self.lent),
            self.refunds,
        )
    }
}

/// To the first day of the next Jalali month, at the same time of day.
fn next_month(app: &TestApp) {
    let tz = app.state.config.fund_timezone;
    let this = JalaliMonth::containing(app.state.now(), tz);
    let days = (this.next().starts_at(tz) - this.starts_at(tz)).num_days();
    app.advance_days(days);
    assert_eq!(app.state.current_month(), this.next());
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The draw of `loan_id` checked from its proof: by the core's verifier, by the server's
/// verification and by `docs/verify_draw.py` on the downloaded file. Its proof.
async fn verified_draw(app: &TestApp, admin: &str, loan_id: &str, month: JalaliMonth) -> Value {
    let (status, proof) = app.get(&format!("/api/loans/{loan_id}/proof"), admin).await;
    assert_eq!(status, StatusCode::OK, "{month}: {proof}");
    assert_eq!(proof["loan_id"], loan_id);
    let parsed: DrawProof = serde_json::from_value(proof.clone()).unwrap();
    let report = verify(&parsed);
    assert!(report.ok, "{month}: {report:?}");
    let (status, verification) = app
        .get(&format!("/api/loans/{loan_id}/proof/verification"), admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(verification["ok"], true, "{month}: {verification}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proof.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&proof).unwrap()).unwrap();
    let python = std::env::var("SAGHAT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(python)
        .arg(repo_root().join("docs/verify_draw.py"))
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{month}: verify_draw.py: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    proof
}

/// Every user id a draw's proof and log name.
fn named_in_draw(proof: &Value, loan: &Value) -> Vec<i64> {
    let ids = |list: &Value| -> Vec<i64> {
        list.as_array()
            .map(|l| l.iter().filter_map(|m| m["user_id"].as_i64()).collect())
            .unwrap_or_default()
    };
    let mut all = ids(&proof["members"]);
    all.extend(ids(&loan["log"]["participated"]));
    all.extend(ids(&loan["log"]["not_participated"]));
    all
}

async fn a_year_of_the_fund(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let mut members = vec![Member {
        name: ADMIN,
        password: ADMIN_PASSWORD,
        id: app.admin_user().await.id,
        paid_in: Amount::ZERO,
        loan: None,
        left: false,
    }];
    // Loans asked for: 20, 40, 60 and 100; maryam asks for none (and the admin neither).
    for (name, request) in [
        ("sara", "20"),
        ("ali", "40"),
        ("omid", "60"),
        ("reza", "100"),
        ("maryam", "0"),
    ] {
        let (id, _) = app.member(&admin, name, request).await;
        members.push(Member {
            name,
            password: PASSWORD,
            id,
            paid_in: Amount::ZERO,
            loan: None,
            left: false,
        });
    }
    let omid_id = members[3].id;
    let mut books = Books::default();
    let mut winners: Vec<Option<&'static str>> = vec![];

    for n in 1..=12 {
        if n > 1 {
            next_month(&app);
        }
        let month = app.state.current_month();
        // Tokens expire: everyone signs in again each month.
        let admin = app.admin_token().await;
        let (_, config) = app.get("/api/payments/config", &admin).await;
        let fee = if n >= 7 { usdt(30) } else { usdt(20) };
        assert_eq!(amount(&config["min_membership_fee"]), fee, "{month}");

        if n == 3 {
            // Decided now, from the seventh month on: a higher fee.
            let change = ConfigChange {
                min_membership_fee: Some(usdt(30)),
                effective_from: Some(HIGHER_FEE_FROM),
                ..Default::default()
            };
            let when = (app.state.now(), app.state.current_month());
            change_config(
                &app.state.db,
                when,
                &RequestMeta::default(),
                None,
                "test",
                change,
            )
            .await
            .unwrap();
            app.state.invalidate("config").await;
            let (status, history) = app.get("/api/payments/config/history", &admin).await;
            assert_eq!(status, StatusCode::OK);
            let history = history.as_array().unwrap().clone();
            let last = history.last().unwrap();
            assert_eq!(last["from"], "1406/03", "{history:?}");
            assert_eq!(last["min_membership_fee"], "30.00000000");
            let before = &history[history.len() - 2];
            assert_eq!(before["min_membership_fee"], "20.00000000", "{history:?}");
            let (_, now) = app.get("/api/payments/config", &admin).await;
            assert_eq!(now["min_membership_fee"], "20.00000000", "not yet");
        }
        if n == 7 {
            // The old fee is refused from now on.
            let maryam = app.login("maryam", PASSWORD).await;
            let (status, body) = app.pay(&maryam, "20", None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains("less than minimum required 30.00000000"),
                "{body}"
            );
        }

        // Everyone still in the fund pays: the fee, and a borrower at least the installment.
        for m in members.iter_mut().filter(|m| !m.left) {
            let token = app.login(m.name, m.password).await;
            let installment = m.loan.as_ref().map(|l| l.minimum.min(l.remaining));
            let loan_part = installment.map(|i| i.to_string());
            let (status, body) = app
                .pay(&token, &fee.to_string(), loan_part.as_deref())
                .await;
            assert_eq!(status, StatusCode::CREATED, "{month} {}: {body}", m.name);
            books.fees = plus(books.fees, fee);
            m.paid_in = plus(m.paid_in, fee);
            if let (Some(paid), Some(loan)) = (installment, m.loan.as_mut()) {
                books.repayments = plus(books.repayments, paid);
                loan.remaining = minus(loan.remaining, paid);
                if loan.remaining == Amount::ZERO {
                    m.loan = None;
                }
            }
            let (_, me) = app.get("/api/auth/me", &token).await;
            assert_eq!(amount(&me["balance"]), m.paid_in, "{month} {}", m.name);
        }

        if n == 5 {
            // Omid, still repaying the 60 he won in the third month, is asked to leave and
            // confirms: what he paid in settles what his loan owes, the rest comes back.
            let omid = members.iter_mut().find(|m| m.id == omid_id).unwrap();
            let owed = omid.loan.as_ref().map(|l| l.remaining).unwrap();
            assert_eq!(owed, usdt(20), "60 lent, two installments of 20 paid");
            assert_eq!(omid.paid_in, usdt(100));
            let refund = minus(omid.paid_in, owed);
            let (status, asked) = app
                .post(
                    &format!("/api/fund/members/{omid_id}/leave"),
                    &admin,
                    json!({}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{asked}");
            assert_eq!(amount(&asked["would_settle"]["contributions"]), usdt(100));
            assert_eq!(amount(&asked["would_settle"]["owed"]), owed);
            assert_eq!(amount(&asked["would_settle"]["refund"]), refund);
            let token = app.login("omid", PASSWORD).await;
            let (status, left) = app
                .post("/api/fund/my-departures/confirm", &token, json!({}))
                .await;
            assert_eq!(status, StatusCode::OK, "{left}");
            assert_eq!(amount(&left["contributions"]), usdt(100));
            assert_eq!(amount(&left["owed"]), owed);
            assert_eq!(amount(&left["refunded"]), usdt(80));
            // His loan is settled from his contributions: repaid, though not through payments.
            books.refunds = plus(books.refunds, refund);
            omid.loan = None;
            omid.paid_in = Amount::ZERO;
            omid.left = true;
            app.assert_books_verify().await;
            let (_, fund) = app.get("/api/wallet/fund", &admin).await;
            assert_eq!(amount(&fund["cash"]), books.cash(), "{fund}");
            let (_, me) = app.get("/api/auth/me", &token).await;
            assert_eq!(amount(&me["balance"]), Amount::ZERO, "{me}");
        }
        if n == 6 {
            let token = app.login("omid", PASSWORD).await;
            let (status, body) = app.pay(&token, "20", None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "gone: {body}");
        }

        // The draw, checked from its proof; who left is in none from then on.
        let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{month}: {drawn}");
        let loan = &drawn["loan"];
        let loan_id = loan["id"].as_str().unwrap();
        let proof = verified_draw(&app, &admin, loan_id, month).await;
        let named = named_in_draw(&proof, loan);
        assert_eq!(
            named.contains(&omid_id),
            n < 5,
            "{month}: omid in the draw? {named:?}"
        );
        assert_eq!(proof["selected"], loan["user_id"], "{month}");
        let winner = match loan["state"].as_str().unwrap() {
            "active" => {
                let lent = amount(&loan["amount"]);
                books.lent = plus(books.lent, lent);
                let user_id = loan["user_id"].as_i64().unwrap();
                let m = members.iter_mut().find(|m| m.id == user_id).unwrap();
                assert!(m.loan.is_none() && !m.left, "{month}: {} won", m.name);
                m.loan = Some(Loan {
                    remaining: lent,
                    minimum: amount(&loan["min_amount_for_each_payment"]),
                });
                Some(m.name)
            }
            state => {
                assert_eq!(state, "no_one", "{month}: {drawn}");
                None
            }
        };
        winners.push(winner);
        let (_, fund) = app.get("/api/wallet/fund", &admin).await;
        assert_eq!(amount(&fund["cash"]), books.cash(), "{month}: {fund}");
    }

    // Newcomers with a request within their balance win first (their score is unlimited): sara
    // (20) in the first month, ali (40) in the second, omid (60) in the third and reza (100) in
    // the fifth; in the fourth those who had a loan already compete.
    assert_eq!(winners[0], Some("sara"), "{winners:?}");
    assert_eq!(winners[1], Some("ali"), "{winners:?}");
    assert_eq!(winners[2], Some("omid"), "{winners:?}");
    assert!(matches!(winners[3], Some("sara" | "ali")), "{winners:?}");
    assert_eq!(winners[4], Some("reza"), "{winners:?}");
    assert!(!winners.contains(&Some("maryam")) && !winners.contains(&Some(ADMIN)));
    assert_eq!(
        winners[5..].iter().filter(|w| **w == Some("omid")).count(),
        0
    );

    // The payments before the seventh month kept the old fee, those after it the new one.
    let maryam = app.login("maryam", PASSWORD).await;
    let (_, paid) = app.get("/api/payments/my-payments", &maryam).await;
    let fees: Vec<Amount> = paid
        .as_array()
        .unwrap()
        .iter()
        .map(|p| amount(&p["membership_fee"]["amount"]))
        .collect();
    let mut expected = vec![usdt(30); 6];
    expected.extend(vec![usdt(20); 6]);
    assert_eq!(fees, expected, "newest first");

    // The books: they verify, and the fund holds what was paid in, less what was lent and
    // refunded; loans outstanding and contributions are what the test left.
    app.assert_books_verify().await;
    let admin = app.admin_token().await;
    let (status, fund) = app.get("/api/wallet/fund", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(amount(&fund["cash"]), books.cash(), "{fund}");
    let outstanding: Amount = members
        .iter()
        .filter_map(|m| m.loan.as_ref().map(|l| l.remaining))
        .sum();
    assert_eq!(amount(&fund["outstanding_loans"]), outstanding, "{fund}");
    let contributions: Amount = members.iter().map(|m| m.paid_in).sum();
    assert_eq!(
        amount(&fund["total_contributions"]),
        contributions,
        "{fund}"
    );
    assert_eq!(
        books.fees,
        usdt(6 * 20 * 5 + 5 * 20 + 5 * 30 * 6),
        "six paid for five months, five after omid left"
    );
}
