//! Notifications over HTTP: each member's preferences, and the delivery log for admins.

pub mod api;

use saghat_core::notify::preferences::PreferencesError;

use crate::error::ApiError;

impl From<PreferencesError> for ApiError {
    fn from(err: PreferencesError) -> Self {
        match err {
            PreferencesError::Store(e) => e.into(),
            PreferencesError::Invalid(problems) => ApiError::Validation(problems),
            // The signed-in user's row is gone: their session is over.
            PreferencesError::UserNotFound => ApiError::Unauthorized,
        }
    }
}
