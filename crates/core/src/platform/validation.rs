//! Validation problems in the original API's envelope (`{type, loc, msg}`), shared by the
//! services that check their inputs and the HTTP layer that answers them as a 422.

use serde::Serialize;

/// One schema problem, in the original API's validation envelope.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    #[serde(rename = "type")]
    pub kind: String,
    pub loc: Vec<String>,
    pub msg: String,
}

impl FieldError {
    pub fn body(field: &str, kind: &str, msg: impl Into<String>) -> Self {
        FieldError {
            kind: kind.into(),
            loc: vec!["body".into(), field.into()],
            msg: msg.into(),
        }
    }

    pub fn query(field: &str, kind: &str, msg: impl Into<String>) -> Self {
        FieldError {
            kind: kind.into(),
            loc: vec!["query".into(), field.into()],
            msg: msg.into(),
        }
    }
}

/// The original API's (pydantic's) type for a text field whose length is outside
/// `min..=max` characters, or `value_error` when its length is fine (another rule refused it).
pub fn length_kind(text: &str, min: usize, max: usize) -> &'static str {
    let count = text.chars().count();
    if count < min {
        "string_too_short"
    } else if count > max {
        "string_too_long"
    } else {
        "value_error"
    }
}
