//! The dead letters of the job queue, on both databases, through the real server: a job that a
//! real River worker failed until it was discarded is listed with its last error, retried (and
//! then run) or discarded, each audited; members are refused, a running job is refused, an
//! unknown one is not found; the summary counts the queue; the `/admin/jobs` page does the same
//! behind its CSRF tokens, in English and Persian.

use saghat_test_support as common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Backend, TestApp, ADMIN, ADMIN_PASSWORD, PASSWORD};
use reqwest::{Method, StatusCode};
use riverqueue::{Job, JobArgs, WorkContext, WorkOutcome, Workers};
use saghat_core::jobs::{enqueue, NewJob};
use saghat_worker::{client, Backoff, JobDatabase, WorkerSettings};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

common::on_both_databases!(
    admins_see_retry_and_discard_dead_jobs,
    the_jobs_page_retries_and_discards_behind_csrf,
);

/// Fails its first `fail_first` attempts ("provider down"), then succeeds.
#[derive(Clone, Debug, Deserialize, Serialize, JobArgs)]
#[river(kind = "test_flaky")]
struct Flaky {
    key: String,
    fail_first: i32,
}

fn workers() -> Workers {
    let mut workers = Workers::new();
    workers
        .add_fn(|_ctx: WorkContext, job: Job<Flaky>| async move {
            if job.row.attempt <= job.args.fail_first {
                return Err::<WorkOutcome, String>(format!(
                    "provider down (attempt {})",
                    job.row.attempt
                ));
            }
            Ok(WorkOutcome::Complete)
        })
        .expect("register");
    workers
}

async fn enqueue_job(app: &TestApp, kind: &str, key: &str, args: Value, max_attempts: i32) {
    let db = &app.state.db;
    let mut tx = db.pool.begin().await.unwrap();
    let job = NewJob {
        kind,
        args,
        unique_key: format!("test:{key}"),
        max_attempts,
    };
    assert!(enqueue(&mut tx, db.backend, &job).await.unwrap());
    tx.commit().await.unwrap();
}

/// A flaky job that fails twice with 2 attempts: River discards it.
async fn enqueue_flaky(app: &TestApp, key: &str) {
    let args = json!({ "key": key, "fail_first": 2 });
    enqueue_job(app, "test_flaky", key, args, 2).await;
}

/// The id of the job with `key`.
async fn job_id(app: &TestApp, key: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM river_job WHERE unique_key = $1")
        .bind(format!("test:{key}").into_bytes())
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap()
}

async fn state_of(app: &TestApp, id: i64) -> Option<String> {
    sqlx::query_scalar("SELECT CAST(state AS TEXT) FROM river_job WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.state.db.pool)
        .await
        .unwrap()
}

/// Runs a real River client over the app's database until every job in `ids` is in `want`.
async fn run_river_until(app: &TestApp, ids: &[i64], want: &str) {
    let river = JobDatabase::open(&app.state.config.database_url, 2)
        .await
        .expect("river");
    let fast = WorkerSettings {
        concurrency: 2,
        backoff: Backoff {
            first: Duration::from_millis(50),
            max: Duration::from_millis(200),
        },
        ..WorkerSettings::default()
    };
    let queue = client(river, workers(), Vec::new(), &fast).expect("client");
    let mut running = queue.start().expect("start");
    running.wait_ready().await.expect("ready");
    let start = Instant::now();
    loop {
        let mut done = true;
        for id in ids {
            done &= state_of(app, *id).await.as_deref() == Some(want);
        }
        if done {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "jobs {ids:?} did not become {want}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    running.stop().await.expect("graceful stop");
}

/// Marks a job as a worker holding it would (the test runs no worker for its kind).
async fn hold_as_running(app: &TestApp, id: i64) {
    let sql = match app.backend {
        Backend::Postgres => {
            "UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now() WHERE id = $1"
        }
        Backend::Sqlite => {
            "UPDATE river_job SET state = 'running', attempt = 1, \
             attempted_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE id = $1"
        }
    };
    sqlx::query(sql)
        .bind(id)
        .execute(&app.state.db.pool)
        .await
        .unwrap();
}

async fn audited(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/api/audit?action={action}"), admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn admins_see_retry_and_discard_dead_jobs(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    let (_, member) = app.member(&admin, "sara", "0").await;
    enqueue_flaky(&app, "again").await;
    enqueue_flaky(&app, "gone").await;
    let (again, gone) = (job_id(&app, "again").await, job_id(&app, "gone").await);
    run_river_until(&app, &[again, gone], "discarded").await;
    // With River stopped: one waiting job and one a worker holds.
    enqueue_job(&app, "test_waiting", "waiting", json!({"n": 1}), 3).await;
    enqueue_job(&app, "test_busy", "busy", json!({"n": 2}), 3).await;
    let busy = job_id(&app, "busy").await;
    hold_as_running(&app, busy).await;

    // The dead letters, by default, with River's own error of their last attempt.
    let (status, list) = app.get("/api/admin/jobs", &admin).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 2, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], gone, "newest first");
    let first = items.iter().find(|j| j["id"] == again).unwrap();
    assert_eq!(first["kind"], "test_flaky");
    assert_eq!(first["state"], "discarded");
    assert_eq!(
        (first["attempt"].as_i64(), first["max_attempts"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(first["last_error"], "provider down (attempt 2)");
    assert_eq!(first["args"], json!({ "key": "again", "fail_first": 2 }));
    assert!(
        first["finalized_at"].as_str().unwrap().ends_with('Z'),
        "{first}"
    );

    // One job: every attempt's error, oldest first.
    let (status, job) = app.get(&format!("/api/admin/jobs/{again}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let errors: Vec<_> = job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["attempt"].as_i64().unwrap(),
                e["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (1, "provider down (attempt 1)".to_string()),
            (2, "provider down (attempt 2)".to_string())
        ]
    );

    // Filters: by state and kind; an unknown state is a 422.
    let (_, waiting) = app.get("/api/admin/jobs?state=available", &admin).await;
    assert_eq!(waiting["total"], 1, "{waiting}");
    assert_eq!(waiting["items"][0]["kind"], "test_waiting");
    let (_, none) = app
        .get("/api/admin/jobs?state=discarded&kind=test_waiting", &admin)
        .await;
    assert_eq!(none["total"], 0, "{none}");
    let (_, paged) = app.get("/api/admin/jobs?limit=1&offset=1", &admin).await;
    assert_eq!(
        (paged["total"].as_i64(), paged["items"][0]["id"].as_i64()),
        (Some(2), Some(again))
    );
    let (status, body) = app.get("/api/admin/jobs?state=dead", &admin).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // The queue's depth: every state, and the waiting job's age.
    let (status, summary) = app.get("/api/admin/jobs/summary", &admin).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let counts: HashMap<String, i64> = summary["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["state"].as_str().unwrap().to_string(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected: HashMap<String, i64> = [
        ("pending", 0),
        ("scheduled", 0),
        ("available", 1),
        ("running", 1),
        ("retryable", 0),
        ("completed", 0),
        ("cancelled", 0),
        ("discarded", 2),
    ]
    .into_iter()
    .map(|(s, n)| (s.to_string(), n))
    .collect();
    assert_eq!(counts, expected);
    let age = summary["oldest_available_secs"].as_i64().expect("an age");
    assert!((0..600).contains(&age), "{summary}");

    // Members are refused everything; unknown jobs are not found; a running job is left alone.
    for (method, path) in [
        (Method::GET, "/api/admin/jobs".to_string()),
        (Method::GET, "/api/admin/jobs/summary".to_string()),
        (Method::GET, format!("/api/admin/jobs/{again}")),
        (Method::POST, format!("/api/admin/jobs/{again}/retry")),
        (Method::DELETE, format!("/api/admin/jobs/{again}")),
    ] {
        let (status, body) = app.call(method.clone(), &path, Some(&member), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
    }
    for (method, path) in [
        (Method::GET, "/api/admin/jobs/999999"),
        (Method::POST, "/api/admin/jobs/999999/retry"),
        (Method::DELETE, "/api/admin/jobs/999999"),
        (Method::GET, "/api/admin/jobs/abc"),
    ] {
        let (status, body) = app.call(method.clone(), path, Some(&admin), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["detail"], "Job not found");
    }
    for method in [Method::POST, Method::DELETE] {
        let path = if method == Method::POST {
            format!("/api/admin/jobs/{busy}/retry")
        } else {
            format!("/api/admin/jobs/{busy}")
        };
        let (status, body) = app.call(method, &path, Some(&admin), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {body}");
        assert_eq!(
            body["detail"],
            "The job is running; wait until its attempt ends"
        );
    }
    assert_eq!(state_of(&app, busy).await.as_deref(), Some("running"));
    assert!(audited(&app, &admin, "job_retried").await.is_empty());
    assert!(audited(&app, &admin, "job_discarded").await.is_empty());

    // Retry: available now, attempts and errors kept, one more attempt granted, audited.
    let (status, retried) = app
        .call(
            Method::POST,
            &format!("/api/admin/jobs/{again}/retry"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    assert_eq!(retried["state"], "available");
    assert_eq!(
        (
            retried["attempt"].as_i64(),
            retried["max_attempts"].as_i64()
        ),
        (Some(2), Some(3))
    );
    assert_eq!(retried["finalized_at"], Value::Null);
    assert_eq!(retried["errors"].as_array().unwrap().len(), 2);
    let entries = audited(&app, &admin, "job_retried").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["target"], format!("job:{again}"));
    assert_eq!(entries[0]["details"]["kind"], "test_flaky");
    assert_eq!(entries[0]["details"]["state"], "discarded");
    assert_eq!(entries[0]["details"]["new_max_attempts"], 3);
    // And River runs it: its third attempt succeeds.
    run_river_until(&app, &[again], "completed").await;

    // Discard: gone for good, audited.
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/admin/jobs/{gone}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(state_of(&app, gone).await, None);
    let (status, _) = app.get(&format!("/api/admin/jobs/{gone}"), &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let entries = audited(&app, &admin, "job_discarded").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["target"], format!("job:{gone}"));
    assert_eq!(
        entries[0]["details"]["last_error"],
        "provider down (attempt 2)"
    );

    let (_, summary) = app.get("/api/admin/jobs/summary", &admin).await;
    let count = |state: &str| {
        summary["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["state"] == state)
            .unwrap()["count"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(
        (count("discarded"), count("completed")),
        (0, 1),
        "{summary}"
    );
}

async fn the_jobs_page_retries_and_discards_behind_csrf(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.admin_token().await;
    app.member(&admin, "sara", "0").await;
    enqueue_flaky(&app, "again").await;
    enqueue_flaky(&app, "gone").await;
    let (again, gone) = (job_id(&app, "again").await, job_id(&app, "gone").await);
    run_river_until(&app, &[again, gone], "discarded").await;
    enqueue_job(&app, "test_busy", "busy", json!({}), 3).await;
    let busy = job_id(&app, "busy").await;
    hold_as_running(&app, busy).await;

    let mut boss = app.browser();
    boss.sign_in(ADMIN, ADMIN_PASSWORD).await;
    // Linked from the admin navigation.
    let members = boss.get("/admin/members").await;
    assert!(
        members.body.contains("<a href=\"/admin/jobs\">Jobs</a>"),
        "{}",
        members.body
    );

    // English: the summary, the dead jobs with their last error, and their buttons.
    let page = boss.get("/admin/jobs").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for text in [
        "Background jobs",
        "<option value=\"discarded\" selected>Failed</option>",
        "provider down (attempt 2)",
        "test_flaky",
        "2 / 2",
        &format!("action=\"/admin/jobs/{again}/retry?state=discarded\""),
        &format!("action=\"/admin/jobs/{gone}/discard?state=discarded\""),
        "data-confirm=\"Discard this job for good? It will not run again.\"",
        "aria-current=\"page\">Jobs</a>",
    ] {
        assert!(page.body.contains(text), "{text} in {}", page.body);
    }
    assert!(page.body.contains("id=\"count-discarded\""));
    let csrf = page.csrf();

    // Without the CSRF token (or with a made-up one) nothing happens.
    let retry = format!("/admin/jobs/{again}/retry?state=discarded");
    let discard = format!("/admin/jobs/{gone}/discard?state=discarded");
    for path in [&retry, &discard] {
        assert_eq!(
            boss.post(path, &[]).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            boss.post(path, &[("csrf", "00")]).await.status,
            StatusCode::FORBIDDEN
        );
    }
    assert_eq!(state_of(&app, again).await.as_deref(), Some("discarded"));
    assert_eq!(state_of(&app, gone).await.as_deref(), Some("discarded"));

    // A member cannot open the page or use its forms, even with a token of their own.
    let mut sara = app.browser();
    sara.sign_in("sara", PASSWORD).await;
    assert_eq!(
        sara.send(Method::GET, "/admin/jobs", None).await.status,
        StatusCode::FORBIDDEN
    );
    let sara_csrf = sara.get("/dashboard").await.csrf();
    assert_eq!(
        sara.post(&retry, &[("csrf", &sara_csrf)]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(state_of(&app, again).await.as_deref(), Some("discarded"));

    // Retry and Discard with the token.
    let done = boss.post(&retry, &[("csrf", &csrf)]).await;
    assert_eq!(
        (done.status, done.location.as_str()),
        (
            StatusCode::SEE_OTHER,
            "/admin/jobs?state=discarded&done=job_retried"
        )
    );
    assert_eq!(state_of(&app, again).await.as_deref(), Some("available"));
    let shown = boss.get(&done.location).await;
    assert!(shown.body.contains("The job will run again shortly."));
    assert!(
        !shown.body.contains(&format!("id=\"job-{again}\"")),
        "no longer dead"
    );
    let done = boss.post(&discard, &[("csrf", &csrf)]).await;
    assert_eq!(
        (done.status, done.location.as_str()),
        (
            StatusCode::SEE_OTHER,
            "/admin/jobs?state=discarded&done=job_discarded"
        )
    );
    assert_eq!(state_of(&app, gone).await, None);
    assert_eq!(audited(&app, &admin, "job_retried").await.len(), 1);
    assert_eq!(audited(&app, &admin, "job_discarded").await.len(), 1);

    // A running job is refused with why, on the page; it stays running.
    let refused = boss
        .post(
            &format!("/admin/jobs/{busy}/discard?state=running"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::OK, "{}", refused.body);
    assert!(refused
        .body
        .contains("The job is running; wait until its attempt ends."));
    assert_eq!(state_of(&app, busy).await.as_deref(), Some("running"));

    // Persian: right to left, Persian words and digits.
    let fa = boss.get("/admin/jobs?state=available&lang=fa").await;
    assert_eq!(fa.status, StatusCode::OK);
    for text in [
        "dir=\"rtl\"",
        "کارهای پس‌زمینه",
        "در انتظار اجرا",
        "۲ / ۳",
        "اجرای دوباره",
        "دور انداختن",
        "provider down (attempt 2)",
    ] {
        assert!(fa.body.contains(text), "{text} in {}", fa.body);
    }
}
