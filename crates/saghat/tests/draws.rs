//! The verifiable draw end to end on both databases (`fund::proof`): a month's commitment
//! published before its draw (by the job or the month's first payment) and in the audit log;
//! the draw's proof and the server's verification of it; the proof checked by
//! `docs/verify_draw.py` and `saghat draw verify` without the server, and each of them failing,
//! with its reason, on a changed input, seed or commitment; a draw refusing to run when the
//! commitment is missing or changed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

use saghat_core::fund::proof::service::commit_current_month;
use saghat_core::fund::proof::verify::{verify, DrawProof};
use saghat_test_support::{on_both_databases, Backend, TestApp, PASSWORD};

on_both_databases!(
    a_draw_publishes_a_proof_that_verifies_everywhere,
    a_changed_proof_fails_with_its_reason,
    the_draw_refuses_a_missing_or_changed_commitment,
    the_commitment_is_made_once_when_the_month_begins,
);

const BIN: &str = env!("CARGO_BIN_EXE_saghat");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> String {
    std::env::var("SAGHAT_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `docs/verify_draw.py` on `proof`, with `args` after the file.
fn python_verifies(proof: &Value, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("proof.json");
    std::fs::write(&file, serde_json::to_vec_pretty(proof).unwrap()).unwrap();
    Command::new(python())
        .arg(repo_root().join("docs/verify_draw.py"))
        .arg(&file)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs (install it: the verifier is for members' own machines)")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `saghat draw <args>` against `app`'s database.
fn saghat(app: &TestApp, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(BIN)
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("APP_ENV", "test")
        .env("SAGHAT_DATA_DIR", dir.path())
        .env("DATABASE_URL", &app.state.config.database_url)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A fund of the admin, sara and omid, everyone paid this month; the draw run. The loan's id,
/// and the commitment as published before the draw.
async fn drawn(app: &TestApp) -> (String, String, String) {
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "30").await;
    app.member(&admin, "omid", "40").await;
    for (token, fee) in [(admin.clone(), "20")] {
        assert_eq!(app.pay(&token, fee, None).await.0, 201);
    }
    let (status, before) = app.get("/api/draws/current", &admin).await;
    assert_eq!(
        status, 200,
        "the month's first payment published it: {before}"
    );
    assert_eq!(
        before["seed"],
        Value::Null,
        "the seed stays secret until the draw"
    );
    assert_eq!(before["month"], "1405/09");
    for name in ["sara", "omid"] {
        let token = app.login(name, PASSWORD).await;
        assert_eq!(app.pay(&token, "40", None).await.0, 201);
    }
    let (status, drawn) = app.post("/api/loans/start", &admin, json!({})).await;
    assert_eq!(status, 201, "{drawn}");
    let loan = drawn["loan"]["id"].as_str().unwrap().to_string();
    (
        loan,
        before["commitment"].as_str().unwrap().to_string(),
        admin,
    )
}

async fn a_draw_publishes_a_proof_that_verifies_everywhere(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (loan, published, admin) = drawn(&app).await;

    // The proof: the commitment published before the draw, the seed now revealed.
    let (status, proof) = app.get(&format!("/api/loans/{loan}/proof"), &admin).await;
    assert_eq!(status, 200, "{proof}");
    assert_eq!(proof["commitment"], published.as_str());
    assert_eq!(proof["loan_id"], loan.as_str());
    assert_eq!(proof["members"].as_array().unwrap().len(), 3);
    let parsed: DrawProof = serde_json::from_value(proof.clone()).unwrap();
    assert!(verify(&parsed).ok);
    // The admin is main and asks for nothing; sara and omid, newcomers, tie on unlimited.
    let ids = |v: &Value| -> Vec<i64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["user_id"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(ids(&proof["participated"]).len(), 2);
    assert_eq!(proof["random_pool"].as_array().unwrap().len(), 2);
    let (_, loan_row) = app.get(&format!("/api/loans/{loan}"), &admin).await;
    assert_eq!(proof["selected"], loan_row["user_id"]);
    assert_eq!(loan_row["log"]["random_pool"], proof["random_pool"]);

    // Revealed in the list; the audit log holds the commitment, published before the draw.
    let (_, months) = app.get("/api/draws", &admin).await;
    assert_eq!(months[0]["seed"], proof["seed"]);
    assert_eq!(months[0]["loan_id"], loan.as_str());
    let (_, audit) = app.get("/api/audit?action=draw_commitment", &admin).await;
    let entries = audit["items"]
        .as_array()
        .or(audit.as_array())
        .unwrap()
        .clone();
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["details"]["commitment"], published.as_str());

    // The server's verification: every step, the published one included.
    let (status, verified) = app
        .get(&format!("/api/loans/{loan}/proof/verification"), &admin)
        .await;
    assert_eq!(status, 200);
    assert_eq!(verified["ok"], true, "{verified}");
    let steps: Vec<&str> = verified["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "format",
            "commitment",
            "published",
            "eligibility",
            "scores",
            "pool",
            "inputs",
            "choice"
        ]
    );

    // A member may check it too; a client may not.
    let sara = app.login("sara", PASSWORD).await;
    assert_eq!(
        app.get(&format!("/api/loans/{loan}/proof"), &sara).await.0,
        200
    );
    let (status, client) = app
        .post(
            "/api/auth/users",
            &admin,
            json!({ "username": "cleo", "password": PASSWORD, "role": "client" }),
        )
        .await;
    assert_eq!(status, 201, "{client}");
    let cleo = app.login("cleo", PASSWORD).await;
    assert_eq!(
        app.get(&format!("/api/loans/{loan}/proof"), &cleo).await.0,
        403
    );
    assert_eq!(app.get("/api/draws", &cleo).await.0, 403);
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        app.get(&format!("/api/loans/{unknown}/proof"), &admin)
            .await
            .0,
        404
    );
    assert_eq!(app.get("/api/loans/not-a-uuid/proof", &admin).await.0, 404);

    // Python, standard library only, with the commitment the member saw before the draw.
    let checked = python_verifies(&proof, &["--commitment", &published]);
    assert!(checked.status.success(), "{}", text(&checked));
    let out = text(&checked);
    assert!(out.contains("the draw verifies"), "{out}");
    for step in [
        "commitment",
        "published",
        "eligibility",
        "scores",
        "pool",
        "inputs",
        "choice",
    ] {
        assert!(out.contains(&format!("ok   {step}")), "{step}: {out}");
    }

    // The CLI, from the database and from the downloaded file.
    let cli = saghat(&app, &["draw", "verify", "1405/09"]);
    assert!(cli.status.success(), "{}", text(&cli));
    assert!(text(&cli).contains("ok   published"), "{}", text(&cli));
    let printed = saghat(&app, &["draw", "proof", "1405/09"]);
    assert!(printed.status.success(), "{}", text(&printed));
    let printed: Value = serde_json::from_slice(&printed.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&printed)));
    assert_eq!(printed, proof);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.json");
    std::fs::write(&file, serde_json::to_vec(&proof).unwrap()).unwrap();
    let from_file = saghat(
        &app,
        &[
            "draw",
            "verify",
            "1405/09",
            "--proof",
            file.to_str().unwrap(),
        ],
    );
    assert!(from_file.status.success(), "{}", text(&from_file));
    let wrong_month = saghat(&app, &["draw", "verify", "1405/08"]);
    assert!(!wrong_month.status.success());
    assert!(
        text(&wrong_month).contains("no verifiable draw"),
        "{}",
        text(&wrong_month)
    );
}

async fn a_changed_proof_fails_with_its_reason(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (loan, published, admin) = drawn(&app).await;
    let (_, proof) = app.get(&format!("/api/loans/{loan}/proof"), &admin).await;
    let sara = proof["members"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["username"] == "sara")
        .unwrap();
    let winner = proof["selected"].as_i64().unwrap();
    let other = proof["random_pool"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .find(|id| *id != winner)
        .unwrap();
    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tamper, &str, &str)> = vec![
        (
            "a member's balance below their request",
            Box::new(move |p| p["members"][sara]["balance"] = json!("1.00000000")),
            "eligibility",
            "sits out (request_above_balance)",
        ),
        (
            "a member's loan history",
            Box::new(move |p| {
                p["members"][sara]["last_payment_total"] = json!("20.00000000");
                p["members"][sara]["repayment_count"] = json!(3);
                p["members"][sara]["loans_received_count"] = json!(1);
                p["members"][sara]["loans_received_total"] = json!("50.00000000");
                p["members"][sara]["last_loan_amount"] = json!("50.00000000");
            }),
            "scores",
            "score is",
        ),
        (
            "another seed",
            Box::new(|p| p["seed"] = json!("11".repeat(32))),
            "commitment",
            "not the commitment",
        ),
        (
            "another commitment",
            Box::new(|p| p["commitment"] = json!("22".repeat(32))),
            "commitment",
            "not the commitment",
        ),
        (
            "the fund's cash",
            Box::new(|p| p["available_cash"] = json!("1.00000000")),
            "pool",
            "the pool is []",
        ),
        (
            "another winner",
            Box::new(move |p| p["selected"] = json!(other)),
            "choice",
            "the seed picks member",
        ),
        (
            "the digest",
            Box::new(|p| p["inputs_digest"] = json!("33".repeat(32))),
            "inputs",
            "SHA-256 is",
        ),
    ];
    for (what, tamper, step, reason) in cases {
        let mut changed = proof.clone();
        tamper(&mut changed);
        let checked = python_verifies(&changed, &[]);
        let out = text(&checked);
        assert_eq!(checked.status.code(), Some(1), "{what}: {out}");
        assert!(out.contains(&format!("FAIL {step}")), "{what}: {out}");
        assert!(out.contains(reason), "{what}: {out}");
        // The server's verifier says the same.
        let parsed: DrawProof = serde_json::from_value(changed).unwrap();
        let verified = verify(&parsed);
        let failure = verified
            .failure()
            .unwrap_or_else(|| panic!("{what} verifies"));
        assert_eq!(failure.step.code(), step, "{what}: {failure:?}");
    }
    // The commitment a member saw before the draw is checked when given.
    let mut seen = published.clone();
    seen.replace_range(0..2, if &published[0..2] == "00" { "11" } else { "00" });
    let checked = python_verifies(&proof, &["--commitment", &seen]);
    assert_eq!(checked.status.code(), Some(1));
    assert!(
        text(&checked).contains("FAIL published"),
        "{}",
        text(&checked)
    );
    // A file that is not JSON.
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "not json").unwrap();
    let status = Command::new(python())
        .arg(repo_root().join("docs/verify_draw.py"))
        .arg(&junk)
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(2));
    // The CLI on a changed downloaded proof.
    let mut changed = proof.clone();
    changed["members"][sara]["balance"] = json!("1.00000000");
    let file = dir.path().join("changed.json");
    std::fs::write(&file, serde_json::to_vec(&changed).unwrap()).unwrap();
    let cli = saghat(
        &app,
        &[
            "draw",
            "verify",
            "1405/09",
            "--proof",
            file.to_str().unwrap(),
        ],
    );
    assert!(!cli.status.success());
    assert!(text(&cli).contains("FAIL eligibility"), "{}", text(&cli));
}

/// Runs `sql` with the commitments' triggers out of the way (an attacker with the database
/// can do as much), on either database.
async fn tamper(app: &TestApp, sql: &str) {
    let pool = &app.state.db.pool;
    let run = |q: &str| sqlx::query(sqlx::AssertSqlSafe(q.to_string())).execute(pool);
    match app.backend {
        Backend::Sqlite => {
            for t in [
                "draw_commitments_fixed",
                "draw_commitments_revealed_once",
                "draw_commitments_kept",
            ] {
                run(&format!("DROP TRIGGER IF EXISTS {t}")).await.unwrap();
            }
        }
        Backend::Postgres => {
            run("ALTER TABLE draw_commitments DISABLE TRIGGER draw_commitments_fixed")
                .await
                .unwrap();
        }
    }
    run(sql).await.unwrap();
}

async fn a_fund_ready_to_draw(app: &TestApp) -> String {
    let admin = app.admin_token().await;
    let (_, sara) = app.member(&admin, "sara", "30").await;
    assert_eq!(app.pay(&admin, "20", None).await.0, 201);
    assert_eq!(app.pay(&sara, "40", None).await.0, 201);
    admin
}

async fn the_draw_refuses_a_missing_or_changed_commitment(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = a_fund_ready_to_draw(&app).await;
    // The triggers refuse a change or a removal of a published commitment.
    let pool = &app.state.db.pool;
    let changed = sqlx::query("UPDATE draw_commitments SET commitment = 'x'")
        .execute(pool)
        .await;
    assert!(changed.is_err(), "a published commitment is fixed");
    assert!(sqlx::query("DELETE FROM draw_commitments")
        .execute(pool)
        .await
        .is_err());

    let start = || app.post("/api/loans/start", &admin, json!({}));
    // A seed changed behind the commitment's back.
    let (_, original) = app.get("/api/draws/current", &admin).await;
    let seed: String = sqlx::query_scalar("SELECT seed FROM draw_commitments")
        .fetch_one(pool)
        .await
        .unwrap();
    let other_seed = "ab".repeat(32);
    tamper(
        &app,
        &format!("UPDATE draw_commitments SET seed = '{other_seed}'"),
    )
    .await;
    let (status, body) = start().await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("does not match the one published"),
        "{body}"
    );
    // Seed and commitment both replaced, consistently: the audit log still holds the original.
    let month = saghat_core::platform::jalali::JalaliMonth {
        year: 1405,
        month: 9,
    };
    let forged = saghat_core::fund::proof::seed::commitment(
        &saghat_core::fund::proof::seed::Seed::from_hex(&other_seed).unwrap(),
        month,
    );
    tamper(
        &app,
        &format!("UPDATE draw_commitments SET commitment = '{forged}'"),
    )
    .await;
    let (status, body) = start().await;
    assert_eq!(status, 409, "{body}");
    // Put back, the draw runs.
    let original = original["commitment"].as_str().unwrap();
    tamper(
        &app,
        &format!("UPDATE draw_commitments SET seed = '{seed}', commitment = '{original}'"),
    )
    .await;
    // Missing altogether.
    tamper(&app, "DELETE FROM draw_commitments").await;
    let (status, body) = start().await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("No draw commitment was published"),
        "{body}"
    );
    assert_eq!(
        app.count("loans").await,
        0,
        "nothing drawn, nothing written"
    );
    assert_eq!(app.get("/api/draws/current", &admin).await.0, 404);
}

async fn the_commitment_is_made_once_when_the_month_begins(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let ctx = app.state.ctx();
    assert!(commit_current_month(ctx).await.unwrap(), "made");
    let admin = app.admin_token().await;
    let (_, first) = app.get("/api/draws/current", &admin).await;
    assert!(!commit_current_month(ctx).await.unwrap(), "kept");
    assert_eq!(app.pay(&admin, "20", None).await.0, 201);
    let (_, again) = app.get("/api/draws/current", &admin).await;
    assert_eq!(again, first, "a payment keeps the month's commitment");
    assert!(!first["committed_at"].as_str().unwrap().is_empty());
    // The next month gets its own.
    app.advance_days(31);
    assert!(commit_current_month(ctx).await.unwrap());
    let admin = app.admin_token().await;
    let (_, months) = app.get("/api/draws", &admin).await;
    let months = months.as_array().unwrap();
    assert_eq!(months.len(), 2);
    assert_eq!(months[0]["month"], "1405/10");
    assert_ne!(months[0]["commitment"], first["commitment"]);
    // 1405/09 is over: its seed is shown, though it never had a draw.
    assert_eq!(months[1]["month"], "1405/09");
    assert!(months[1]["seed"].is_string());
    assert_eq!(months[0]["seed"], Value::Null);
}
