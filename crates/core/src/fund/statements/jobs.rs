//! The statements' job kinds, as the draw and the worker name them.

/// The job a draw enqueues (args `{"loan_id": id}`): the month's figures and every member's job.
pub const MONTHLY_STATEMENTS_JOB: &str = "monthly_statements";

/// One member's statement (args `{"loan_id": id, "user_id": id}`).
pub const MEMBER_STATEMENT_JOB: &str = "member_statement";
