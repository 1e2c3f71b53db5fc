//! Zarinpal v4's answers and the pure rules that read them: every answer is
//! `{"data": {...}, "errors": [...]}`; a success has `data.code` 100 (or 101 on a verify that
//! was done before), a failure `errors.code` below zero. Secrets are masked here before an
//! exchange is stored.

use serde_json::Value;

use crate::gateways::{GatewayFailure, InquiryStatus, Verification};

/// What a documented Zarinpal code means, in words a payer or an accountant can act on.
pub fn code_message(code: i64) -> &'static str {
    match code {
        100 => "Paid and verified",
        101 => "Already verified",
        -9 => "The gateway refused the request's data (validation error)",
        -10 => "The merchant id or the server's address is not accepted by the gateway",
        -11 => "The merchant is not active at the gateway",
        -12 => "Too many attempts; try again in a little while",
        -15 => "The merchant is suspended at the gateway",
        -16 => "The merchant's level at the gateway does not allow this",
        -17 => "The merchant's level at the gateway does not allow this payment",
        -35..=-30 => "The gateway refused the payment's fee split",
        -40 => "The gateway refused the payment's extra parameters",
        -50 => "The amount paid does not match the amount being verified",
        -51 => "The payment was not made (cancelled, failed or not completed)",
        -52 => "The gateway had an unexpected error; try again later",
        -53 => "The payment does not belong to this merchant",
        -54 => "The payment's authority is not valid",
        -55 => "The payment request was not found",
        -60 => "The bank cannot reverse this payment",
        -61 => "The payment is not in a state that can be reversed",
        -62 => "The gateway needs this server's address registered to reverse payments",
        -63 => "The time to reverse this payment is over",
        _ => "The gateway refused the request",
    }
}

/// Codes after which the same call may succeed later: the payment's fate is still open.
pub fn is_transient(code: i64) -> bool {
    matches!(code, -12 | -52)
}

/// A Zarinpal authority: `A` or `S` and 35 more letters and digits (36 in all). Anything else
/// arriving on a callback is not looked up at all.
pub fn is_authority(text: &str) -> bool {
    text.len() == 36
        && matches!(text.as_bytes()[0], b'A' | b'S')
        && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The `data` of a successful answer, or why it is not one.
pub fn read_answer(status: u16, body: &Value) -> Result<&Value, GatewayFailure> {
    let data = &body["data"];
    if let Some(code) = data["code"].as_i64() {
        if code == 100 || code == 101 {
            return Ok(data);
        }
        return Err(failure(code));
    }
    let errors = &body["errors"];
    if let Some(code) = errors["code"].as_i64() {
        return Err(failure(code));
    }
    Err(GatewayFailure::Unavailable(format!(
        "Zarinpal answered {status} without a result code"
    )))
}

fn failure(code: i64) -> GatewayFailure {
    let message = code_message(code).to_string();
    if is_transient(code) {
        GatewayFailure::Unavailable(format!("{message} (code {code})"))
    } else {
        GatewayFailure::Refused { code, message }
    }
}

pub fn authority_of(data: &Value) -> Result<String, GatewayFailure> {
    match data["authority"].as_str() {
        Some(a) if is_authority(a) => Ok(a.to_string()),
        _ => Err(GatewayFailure::Unavailable(
            "Zarinpal's answer carried no valid authority".into(),
        )),
    }
}

pub fn verification_of(data: &Value) -> Result<Verification, GatewayFailure> {
    let ref_id = match &data["ref_id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => {
            return Err(GatewayFailure::Unavailable(
                "Zarinpal verified the payment without a reference number".into(),
            ))
        }
    };
    let text = |key: &str| {
        data[key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    Ok(Verification {
        ref_id,
        card_pan: text("card_pan").map(|pan| mask_pan(&pan)),
        card_hash: text("card_hash"),
        fee: data["fee"].as_i64(),
        already: data["code"].as_i64() == Some(101),
    })
}

pub fn inquiry_of(data: &Value) -> Result<InquiryStatus, GatewayFailure> {
    Ok(match data["status"].as_str().unwrap_or_default() {
        "PAID" => InquiryStatus::Paid,
        "VERIFIED" => InquiryStatus::Verified,
        "IN_BANK" => InquiryStatus::InBank,
        "FAILED" => InquiryStatus::Failed,
        "REVERSED" => InquiryStatus::Reversed,
        other => {
            return Err(GatewayFailure::Unavailable(format!(
                "Zarinpal gave an unknown payment status {other:?}"
            )))
        }
    })
}

pub fn unverified_of(data: &Value) -> Vec<String> {
    data["authorities"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|a| a["authority"].as_str())
                .filter(|a| is_authority(a))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// A card number with only its first six and last four characters, whatever the gateway sent
/// (it sends `502229******5995`; a full number is masked the same way).
pub fn mask_pan(pan: &str) -> String {
    let chars: Vec<char> = pan.chars().filter(|c| !c.is_whitespace()).collect();
    if chars.len() < 10 {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < 6 || i >= chars.len() - 4 {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// A body as it may be stored: the merchant id cut to its last four characters, card
/// numbers masked.
pub fn masked(mut body: Value) -> Value {
    mask_in(&mut body);
    body
}

fn mask_in(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match (key.as_str(), &*v) {
                    ("merchant_id", Value::String(id)) => {
                        let tail: String = id
                            .chars()
                            .rev()
                            .take(4)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect();
                        *v = Value::String(format!("…{tail}"));
                    }
                    ("card_pan", Value::String(pan)) => *v = Value::String(mask_pan(pan)),
                    _ => mask_in(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_in),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn success_codes_are_100_and_101() {
        let ok = json!({"data": {"code": 100, "authority": "A00000000000000000000000000000000001"}, "errors": []});
        assert!(read_answer(200, &ok).is_ok());
        let again = json!({"data": {"code": 101, "ref_id": 7}, "errors": []});
        let v = verification_of(read_answer(200, &again).unwrap()).unwrap();
        assert!(v.already);
        assert_eq!(v.ref_id, "7");
    }

    #[test]
    fn error_codes_have_their_meaning_and_transient_ones_are_unavailable() {
        let refused = json!({"data": [], "errors": {"code": -50, "message": "Session is not valid, amounts values is not the same.", "validations": []}});
        assert_eq!(
            read_answer(200, &refused).unwrap_err(),
            GatewayFailure::Refused {
                code: -50,
                message: code_message(-50).into()
            }
        );
        let busy = json!({"data": [], "errors": {"code": -12, "message": "Too many attempts"}});
        assert!(matches!(
            read_answer(429, &busy),
            Err(GatewayFailure::Unavailable(m)) if m.contains("-12")
        ));
        assert!(matches!(
            read_answer(500, &json!({"oops": 1})),
            Err(GatewayFailure::Unavailable(_))
        ));
        for code in [-9, -10, -11, -51, -53, -54, -55, -60, -61, -62, -63] {
            assert_ne!(code_message(code), code_message(-999), "{code}");
        }
    }

    #[test]
    fn only_well_formed_authorities_are_accepted() {
        assert!(is_authority("A0000000000000000000000000000wwOGYpd"));
        assert!(is_authority("S0000000000000000000000000000000abcd"));
        assert!(!is_authority("A000' OR 1=1 --00000000000000000000"));
        assert!(!is_authority("A0000"));
        assert!(!is_authority("B00000000000000000000000000000000001"));
    }

    #[test]
    fn secrets_are_masked_before_storing() {
        let body = json!({"merchant_id": "1344b5d4-0048-11e8-94db-005056a205be", "amount": 1000,
            "data": {"card_pan": "5022291083818920", "card_hash": "h"}});
        let m = masked(body);
        assert_eq!(m["merchant_id"], "…05be");
        assert_eq!(m["data"]["card_pan"], "502229******8920");
        assert_eq!(m["amount"], 1000);
        assert_eq!(mask_pan("502229******5995"), "502229******5995");
        assert_eq!(mask_pan("1234"), "****");
    }

    #[test]
    fn statuses_and_unverified_lists_are_read() {
        assert_eq!(
            inquiry_of(&json!({"status": "PAID"})).unwrap(),
            InquiryStatus::Paid
        );
        assert!(inquiry_of(&json!({"status": "??"})).is_err());
        let list = json!({"authorities": [
            {"authority": "A00000000000000000000000000000000001", "amount": 1000},
            {"authority": "not-one"}]});
        assert_eq!(
            unverified_of(&list),
            vec!["A00000000000000000000000000000000001".to_string()]
        );
    }
}
