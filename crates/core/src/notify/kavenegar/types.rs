//! Kavenegar's answer to `sms/send.json` and the rule that reads it.
//!
//! Every answer, success or not, is `{"return":{"status","message"},"entries":[…]}`, and the
//! HTTP status is `return.status`. The codes are those of Kavenegar's REST documentation; a
//! code is permanent when the message itself (its receptor, its text) is at fault, and
//! retryable when the fault is the service's or our account's (key, credit, sender line), which
//! an operator can mend without changing the message.

use serde::Deserialize;

use crate::notify::{Delivered, SendError};

#[derive(Debug, Deserialize)]
pub struct KavenegarAnswer {
    #[serde(rename = "return")]
    pub status: ReturnStatus,
    /// `null` or missing when the request failed.
    #[serde(default)]
    pub entries: Option<Vec<Entry>>,
}

#[derive(Debug, Deserialize)]
pub struct ReturnStatus {
    pub status: u16,
    #[serde(default)]
    pub message: String,
}

/// One message Kavenegar accepted (one per receptor).
#[derive(Debug, Deserialize)]
pub struct Entry {
    pub messageid: serde_json::Value,
    /// The message's state: 1 queued, 2 scheduled, 4/5 sent to the operator, 6 failed,
    /// 10 delivered, 11 undelivered, 13 cancelled, 14 blocked by the receptor, 100 unknown id.
    #[serde(default)]
    pub status: Option<i64>,
    #[serde(default)]
    pub statustext: Option<String>,
}

/// Whether a failure is the message's own (permanent) or can mend (retryable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Message,
    Mendable,
}

/// Kavenegar's documented `return.status` codes other than 200, with what each means.
fn documented(code: u16) -> Option<(Fault, &'static str)> {
    use Fault::{Mendable, Message};
    Some(match code {
        400 | 406 => (Message, "a required parameter is missing or invalid"),
        401 => (Mendable, "the account is deactivated"),
        402 => (Mendable, "the operation failed"),
        403 => (
            Mendable,
            "the API key is not valid (check KAVENEGAR_API_KEY)",
        ),
        404 | 405 => (Message, "no such method"),
        407 => (Mendable, "the account may not use this service"),
        409 => (Mendable, "the server is busy, try again later"),
        411 => (Message, "the receptor is not a valid number"),
        412 => (
            Mendable,
            "the sender line is not valid (check KAVENEGAR_SENDER)",
        ),
        413 => (Message, "the message is empty or too long"),
        414 => (Message, "too many receptors in one request"),
        416 => (
            Mendable,
            "this server's IP address is not allowed for the key",
        ),
        418 => (Mendable, "the account's credit is insufficient"),
        420 => (Message, "links are not allowed in the message"),
        422 => (Message, "the message holds characters that cannot be sent"),
        426..=428 => (Mendable, "the account's plan does not allow this"),
        451 => (Mendable, "too many requests, try again later"),
        501 => (
            Message,
            "a demo account may only send to its owner's number",
        ),
        500..=599 => (Mendable, "the server failed, try again later"),
        _ => return None,
    })
}

/// Reads Kavenegar's answer. `Ok` only when the request succeeded and the message was taken on.
pub fn read_answer(answer: &KavenegarAnswer) -> Result<Delivered, SendError> {
    use SendError::{Permanent, Retryable};
    let code = answer.status.status;
    if code != 200 {
        return Err(match documented(code) {
            Some((Fault::Message, why)) => Permanent(format!("Kavenegar {code}: {why}")),
            Some((Fault::Mendable, why)) => Retryable(format!("Kavenegar {code}: {why}")),
            // Undocumented: retried, so it ends up before an admin rather than dropped.
            None => {
                let said: String = answer.status.message.chars().take(200).collect();
                Retryable(format!("Kavenegar {code}: unexpected answer ({said})"))
            }
        });
    }
    let Some(entry) = answer.entries.as_ref().and_then(|entries| entries.first()) else {
        return Err(Retryable(
            "Kavenegar accepted the request but listed no message".into(),
        ));
    };
    match entry.status {
        Some(14) => Err(Permanent(
            "Kavenegar: the receptor has blocked messages from this line".into(),
        )),
        Some(11 | 13) => Err(Permanent(format!(
            "Kavenegar: the message was refused ({})",
            entry.statustext.as_deref().unwrap_or("undelivered")
        ))),
        Some(6) => Err(Retryable("Kavenegar: sending the message failed".into())),
        _ => Ok(Delivered {
            provider_id: Some(match &entry.messageid {
                serde_json::Value::String(id) => id.clone(),
                other => other.to_string(),
            }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(json: &str) -> KavenegarAnswer {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn an_accepted_message_gives_its_id() {
        let a = answer(
            r#"{"return":{"status":200,"message":"تایید شد"},"entries":[{"messageid":8792343,
            "message":"خدمات پیام کوتاه کاوه نگار","status":1,"statustext":"در صف ارسال",
            "sender":"10004346","receptor":"09123456789","date":1356619709,"cost":120}]}"#,
        );
        assert_eq!(
            read_answer(&a),
            Ok(Delivered {
                provider_id: Some("8792343".into())
            })
        );
    }

    #[test]
    fn documented_codes_are_mapped() {
        for (code, retryable) in [
            (400, false),
            (401, true),
            (403, true),
            (409, true),
            (411, false),
            (412, true),
            (413, false),
            (418, true),
            (422, false),
            (500, true),
            (502, true),
            (599, true),
            (999, true),
        ] {
            let a = answer(&format!(
                r#"{{"return":{{"status":{code},"message":"..."}},"entries":null}}"#
            ));
            let err = read_answer(&a).unwrap_err();
            assert_eq!(err.is_retryable(), retryable, "{code}: {err}");
            assert!(err.reason().contains(&code.to_string()), "{err}");
        }
    }

    #[test]
    fn a_blocked_receptor_is_permanent() {
        let a = answer(
            r#"{"return":{"status":200,"message":"ok"},"entries":[{"messageid":1,"status":14}]}"#,
        );
        assert!(!read_answer(&a).unwrap_err().is_retryable());
        let a = answer(r#"{"return":{"status":200,"message":"ok"},"entries":[]}"#);
        assert!(read_answer(&a).unwrap_err().is_retryable());
    }
}
