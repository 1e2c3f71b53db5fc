-- River 0.5.0's claim of available jobs, as its producer runs it (riverqueue-0.5.0
-- src/client/producer.rs, standard_claim_sql, with job_projection from src/client/record.rs;
-- the schema is the connection's own, so the tables are unqualified). bench/jobs.sh runs it with
-- `pgbench -M prepared`, so its variables are bound parameters as River binds them:
-- $1 the queue (:queue), $2 the limit (:limit, the worker's free slots), $3 the client id
-- (here one per pgbench client), $4 ATTEMPTED_BY_MAX (100 in River's client/mod.rs).
-- $5, the kinds filter, is NULL for a client that works every kind (as Saghat's does); pgbench
-- cannot bind a NULL, so it is written as the NULL literal.
WITH locked AS (SELECT id FROM river_job WHERE state = 'available' AND queue = :queue AND scheduled_at <= now() AND (NULL::text[] IS NULL OR kind = any(NULL::text[])) AND NOT EXISTS (SELECT 1 FROM river_queue WHERE name = :queue AND paused_at IS NOT NULL) ORDER BY priority, scheduled_at, id LIMIT :limit FOR UPDATE SKIP LOCKED) UPDATE river_job AS job SET state = 'running', attempt = job.attempt + 1, attempted_at = now(), attempted_by = array_append(CASE WHEN array_length(job.attempted_by, 1) >= :max_attempted_by THEN job.attempted_by[array_length(job.attempted_by, 1) + 2 - :max_attempted_by:] ELSE job.attempted_by END, 'pgbench-' || :client_id) FROM locked WHERE job.id = locked.id RETURNING job.id, job.attempt, job.attempted_at, job.attempted_by, job.created_at, job.args AS encoded_args, coalesce(job.errors, '{}'::jsonb[]) AS errors, job.finalized_at, job.kind, job.max_attempts, job.metadata, job.priority, job.queue, job.scheduled_at, job.state::text AS state, job.tags::text[] AS tags, job.unique_key, job.unique_states::text AS unique_states, false AS unique_skipped_as_duplicate;
