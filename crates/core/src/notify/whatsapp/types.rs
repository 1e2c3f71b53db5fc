//! The Cloud API's message request, its answers, and the rule that reads an error.
//!
//! Success: `{"messaging_product":"whatsapp","contacts":[…],"messages":[{"id":"wamid.…"}]}`.
//! Failure: `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`, the `code` being
//! one of Meta's documented error codes. As for SMS, a code is permanent when the message itself
//! cannot be delivered (its recipient, its template, its parameters) and retryable when the
//! fault is throughput, Meta's service or our account (token, phone number), which can mend.

use serde::{Deserialize, Serialize};

use crate::notify::{SendError, WhatsAppTemplate};

/// The body of `POST /{version}/{phone_number_id}/messages`.
#[derive(Debug, Serialize)]
pub struct MessageRequest<'a> {
    pub messaging_product: &'static str,
    pub recipient_type: &'static str,
    /// The recipient's number, digits only (`989121234567`).
    pub to: &'a str,
    #[serde(flatten)]
    pub content: Content<'a>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Content<'a> {
    Text { text: Text<'a> },
    Template { template: Template<'a> },
}

#[derive(Debug, Serialize)]
pub struct Text<'a> {
    pub preview_url: bool,
    pub body: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Template<'a> {
    pub name: &'a str,
    pub language: Language<'a>,
    /// Left out when the template has no parameters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Language<'a> {
    pub code: &'a str,
}

#[derive(Debug, Serialize)]
pub struct Component<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub parameters: Vec<Parameter<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Parameter<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: &'a str,
}

impl<'a> MessageRequest<'a> {
    /// A template message when there is a template (needed outside the 24-hour window), plain
    /// text otherwise.
    pub fn new(to: &'a str, text: &'a str, template: Option<&'a WhatsAppTemplate>) -> Self {
        let content = match template {
            None => Content::Text {
                text: Text {
                    preview_url: false,
                    body: text,
                },
            },
            Some(template) => {
                let parameters: Vec<Parameter<'a>> = template
                    .parameters
                    .iter()
                    .map(|text| Parameter { kind: "text", text })
                    .collect();
                let components = if parameters.is_empty() {
                    vec![]
                } else {
                    vec![Component {
                        kind: "body",
                        parameters,
                    }]
                };
                Content::Template {
                    template: Template {
                        name: &template.name,
                        language: Language {
                            code: &template.language_code,
                        },
                        components,
                    },
                }
            }
        };
        MessageRequest {
            messaging_product: "whatsapp",
            recipient_type: "individual",
            to,
            content,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct MessageAnswer {
    #[serde(default)]
    pub messages: Vec<MessageId>,
}

#[derive(Debug, Deserialize)]
pub struct MessageId {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct ErrorAnswer {
    pub error: GraphError,
}

#[derive(Debug, Deserialize)]
pub struct GraphError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

/// The error Meta answered, as a retryable or permanent reason.
pub fn read_error(error: &GraphError) -> SendError {
    use SendError::{Permanent, Retryable};
    let kind: fn(String) -> SendError = match error.code {
        // Throughput: the app, the account, the phone number, or one recipient too often.
        4 | 80007 | 130429 | 131048 | 131056 => Retryable,
        // Meta's side: unknown, temporary or unavailable.
        1 | 2 | 131000 | 131016 => Retryable,
        // Our account: the token expired or lacks a permission, the number is not registered,
        // the account is locked or restricted.
        190 | 10 | 200..=299 | 133010 | 131031 | 368 | 131042 => Retryable,
        // The message: outside the 24-hour window without a template, an undeliverable or
        // unknown recipient, a bad parameter, a template that does not exist or does not fit.
        131047 | 131026 | 131021 | 131051 | 131052 | 131053 => Permanent,
        100 | 131008 | 131009 => Permanent,
        132000..=132999 => Permanent,
        // Anything else is retried, so it ends before an admin rather than dropped.
        _ => Retryable,
    };
    let what = match error.code {
        131047 => "more than 24 hours since the member last wrote: only a template can be sent",
        131026 => "the message could not be delivered to this number",
        190 => "the access token expired or is invalid (renew WHATSAPP_TOKEN)",
        4 | 80007 | 130429 | 131048 | 131056 => "rate limit reached, try again later",
        100 => "invalid parameter",
        132000 => "the template's parameters do not match its placeholders",
        132001 => "the template does not exist in this language",
        133010 => "the phone number is not registered (check WHATSAPP_PHONE_NUMBER_ID)",
        _ => "",
    };
    let said: String = error.message.chars().take(200).collect();
    let detail = if what.is_empty() {
        said
    } else {
        format!("{what}; {said}")
    };
    // Meta's support asks for the trace id.
    let trace = error
        .fbtrace_id
        .as_deref()
        .map(|id| format!(" (fbtrace_id {id})"))
        .unwrap_or_default();
    kind(format!("WhatsApp error {}: {detail}{trace}", error.code))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: i64) -> GraphError {
        GraphError {
            message: "meta says".into(),
            kind: Some("OAuthException".into()),
            code,
            error_subcode: None,
            fbtrace_id: Some("trace".into()),
        }
    }

    #[test]
    fn documented_codes_are_mapped() {
        for (code, retryable) in [
            (131047, false),
            (131026, false),
            (190, true),
            (4, true),
            (80007, true),
            (130429, true),
            (131056, true),
            (100, false),
            (132000, false),
            (132001, false),
            (132012, false),
            (131000, true),
            (133010, true),
            (987654, true),
        ] {
            let err = read_error(&error(code));
            assert_eq!(err.is_retryable(), retryable, "{code}: {err}");
            assert!(err.reason().contains(&code.to_string()), "{err}");
        }
    }

    #[test]
    fn a_template_message_is_the_documented_shape() {
        let template = WhatsAppTemplate {
            name: "payment_recorded".into(),
            language_code: "fa".into(),
            parameters: vec!["علی".into(), "۱۴۰۵/۰۹/۱۰".into()],
        };
        let body = serde_json::to_value(MessageRequest::new(
            "989121234567",
            "ignored",
            Some(&template),
        ))
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "989121234567",
                "type": "template",
                "template": {
                    "name": "payment_recorded",
                    "language": {"code": "fa"},
                    "components": [{"type": "body", "parameters": [
                        {"type": "text", "text": "علی"},
                        {"type": "text", "text": "۱۴۰۵/۰۹/۱۰"},
                    ]}],
                },
            })
        );
    }

    #[test]
    fn without_a_template_it_is_text() {
        let body = serde_json::to_value(MessageRequest::new("989121234567", "سلام", None)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "989121234567",
                "type": "text",
                "text": {"preview_url": false, "body": "سلام"},
            })
        );
    }
}
