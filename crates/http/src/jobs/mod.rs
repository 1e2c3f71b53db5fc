//! The job queue for admins: the dead letters (jobs that used up their attempts), retried or
//! discarded, and the queue's depth. The page is `web::pages::jobs`.

pub mod api;
