//! Kavenegar (SMS) and WhatsApp's Cloud API against wiremock: the documented request shapes
//! (path, form fields or JSON body, authorization) and the mapping of their error answers. The
//! Kavenegar key travels in the URL, so every error's text is checked for it.

use std::time::Duration;

use saghat_core::notify::kavenegar::{KavenegarSender, KavenegarSettings};
use saghat_core::notify::setup::{build_senders, NotifyConfig};
use saghat_core::notify::whatsapp::{WhatsAppSender, WhatsAppSettings};
use saghat_core::notify::{
    Channel, EmailAddress, MobileNumber, Outgoing, Recipient, Secret, SendError, Sender,
    WhatsAppTemplate,
};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "4A6F-KAVENEGAR-SECRET-KEY";
const TOKEN: &str = "EAAG-WHATSAPP-SECRET-TOKEN";
const PHONE_NUMBER_ID: &str = "106540352242922";
const TIMEOUT: Duration = Duration::from_secs(2);

fn to_mobile(text: &str) -> Outgoing {
    Outgoing {
        to: Recipient::Mobile(MobileNumber::parse("0912 123 4567").unwrap()),
        subject: String::new(),
        text: text.into(),
        html: None,
        whatsapp_template: None,
        message_id: None,
        attachments: Vec::new(),
    }
}

fn kavenegar(base_url: &str, sender: Option<&str>) -> KavenegarSender {
    KavenegarSender::new(
        &KavenegarSettings {
            base_url: base_url.into(),
            api_key: Secret::new(KEY),
            sender: sender.map(str::to_string),
            per_second: 50,
        },
        TIMEOUT,
    )
    .unwrap()
}

fn whatsapp(base_url: &str) -> WhatsAppSender {
    WhatsAppSender::new(
        &WhatsAppSettings {
            base_url: base_url.into(),
            api_version: "v21.0".into(),
            phone_number_id: PHONE_NUMBER_ID.into(),
            token: Secret::new(TOKEN),
            per_second: 50,
            template: None,
        },
        TIMEOUT,
    )
    .unwrap()
}

fn form_of(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The error, checked to hold no secret.
fn no_secret(err: SendError) -> SendError {
    for secret in [KEY, TOKEN] {
        assert!(!err.reason().contains(secret), "a secret in {err:?}");
        assert!(!format!("{err:?}").contains(secret), "a secret in {err:?}");
    }
    err
}

/// An address nothing listens on: bound, then released.
fn dead_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

/// A Kavenegar that accepts every message as message `id`.
async fn kavenegar_accepting_as(id: i64) -> MockServer {
    let server = MockServer::start().await;
    let answer = format!(
        r#"{{"return":{{"status":200,"message":"ok"}},"entries":[{{"messageid":{id},"status":1}}]}}"#
    );
    Mock::given(method("POST"))
        .and(path(format!("/v1/{KEY}/sms/send.json")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(answer, "application/json"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn kavenegar_gets_the_documented_form_and_gives_the_message_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/{KEY}/sms/send.json")))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"return":{"status":200,"message":"تایید شد"},"entries":[{"messageid":8792343,
            "message":"پرداخت شما ثبت شد","status":1,"statustext":"در صف ارسال",
            "sender":"10004346","receptor":"09121234567","date":1356619709,"cost":120}]}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let sender = kavenegar(&server.uri(), Some("10004346"));
    assert_eq!(sender.channel(), Channel::Sms);
    let delivered = sender.send(&to_mobile("پرداخت شما ثبت شد")).await.unwrap();
    assert_eq!(delivered.provider_id.as_deref(), Some("8792343"));
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        form_of(&requests[0]),
        [
            ("receptor".to_string(), "09121234567".to_string()),
            ("message".to_string(), "پرداخت شما ثبت شد".to_string()),
            ("sender".to_string(), "10004346".to_string()),
        ]
    );
}

#[tokio::test]
async fn kavenegar_without_a_sender_line_leaves_it_out() {
    let server = kavenegar_accepting_as(1).await;
    kavenegar(&server.uri(), None)
        .send(&to_mobile("hello"))
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    let fields: Vec<String> = form_of(&requests[0]).into_iter().map(|(k, _)| k).collect();
    assert_eq!(fields, ["receptor", "message"]);
}

#[tokio::test]
async fn kavenegar_errors_are_mapped_and_never_show_the_key() {
    let cases = [
        // (HTTP status, body, retryable, a word of the reason)
        (
            400,
            r#"{"return":{"status":400,"message":"پارامترها ناقص هستند"},"entries":null}"#,
            false,
            "parameter",
        ),
        (
            401,
            r#"{"return":{"status":401,"message":"حساب کاربری غیرفعال شده است"},"entries":null}"#,
            true,
            "deactivated",
        ),
        (
            403,
            r#"{"return":{"status":403,"message":"کد شناسائی API-Key معتبر نمی‌باشد"},"entries":null}"#,
            true,
            "API key",
        ),
        (
            411,
            r#"{"return":{"status":411,"message":"دریافت کننده نامعتبر است"},"entries":null}"#,
            false,
            "receptor",
        ),
        (
            412,
            r#"{"return":{"status":412,"message":"ارسال کننده نامعتبر است"},"entries":null}"#,
            true,
            "KAVENEGAR_SENDER",
        ),
        (
            413,
            r#"{"return":{"status":413,"message":"پیام خالی است و یا طول پیام بیش از حد مجاز می‌باشد"},"entries":null}"#,
            false,
            "too long",
        ),
        (
            418,
            r#"{"return":{"status":418,"message":"اعتبار حساب شما کافی نیست"},"entries":null}"#,
            true,
            "credit",
        ),
        (
            409,
            r#"{"return":{"status":409,"message":"سرور قادر به پاسخگوئی نیست"},"entries":null}"#,
            true,
            "busy",
        ),
        (502, "<html>Bad Gateway</html>", true, "502"),
        (404, "<html>Not Found</html>", false, "404"),
    ];
    for (status, body, retryable, word) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
        let err = no_secret(
            kavenegar(&server.uri(), None)
                .send(&to_mobile("hello"))
                .await
                .unwrap_err(),
        );
        assert_eq!(err.is_retryable(), retryable, "{status}: {err:?}");
        assert!(err.reason().contains(word), "{status}: {err:?}");
    }
}

#[tokio::test]
async fn kavenegar_down_or_slow_is_retryable_and_never_shows_the_key() {
    let err = no_secret(
        kavenegar(&dead_address(), None)
            .send(&to_mobile("hello"))
            .await
            .unwrap_err(),
    );
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.reason().contains("unreachable"), "{err:?}");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(TIMEOUT * 2))
        .mount(&server)
        .await;
    let err = no_secret(
        kavenegar(&server.uri(), None)
            .send(&to_mobile("hello"))
            .await
            .unwrap_err(),
    );
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.reason().contains("timed out"), "{err:?}");
}

#[tokio::test]
async fn an_empty_sms_or_one_to_an_email_address_is_refused_for_good() {
    let sender = kavenegar(&dead_address(), None);
    assert!(!sender
        .send(&to_mobile("  "))
        .await
        .unwrap_err()
        .is_retryable());
    let mut message = to_mobile("hello");
    message.to = Recipient::Email(EmailAddress::parse("a@example.com").unwrap());
    assert!(!sender.send(&message).await.unwrap_err().is_retryable());
}

fn with_template(name: &str, parameters: &[&str]) -> Outgoing {
    Outgoing {
        whatsapp_template: Some(WhatsAppTemplate {
            name: name.into(),
            language_code: "fa".into(),
            parameters: parameters.iter().map(|p| p.to_string()).collect(),
        }),
        ..to_mobile("not sent: the template is")
    }
}

fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(serde_json::json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": "989121234567", "wa_id": "989121234567"}],
        "messages": [{"id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"}],
    }))
}

#[tokio::test]
async fn whatsapp_sends_the_documented_template_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PHONE_NUMBER_ID}/messages")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "989121234567",
            "type": "template",
            "template": {
                "name": "payment_recorded",
                "language": {"code": "fa"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "علی رضایی"},
                    {"type": "text", "text": "۱۴۰۵/۰۹/۱۰"},
                ]}],
            },
        })))
        .respond_with(accepted())
        .expect(1)
        .mount(&server)
        .await;
    let sender = whatsapp(&server.uri());
    assert_eq!(sender.channel(), Channel::WhatsApp);
    let delivered = sender
        .send(&with_template(
            "payment_recorded",
            &["علی رضایی", "۱۴۰۵/۰۹/۱۰"],
        ))
        .await
        .unwrap();
    assert_eq!(
        delivered.provider_id.as_deref(),
        Some("wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA")
    );
}

#[tokio::test]
async fn whatsapp_without_a_template_sends_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v21.0/{PHONE_NUMBER_ID}/messages")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(serde_json::json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "989121234567",
            "type": "text",
            "text": {"preview_url": false, "body": "پرداخت شما ثبت شد"},
        })))
        .respond_with(accepted())
        .expect(1)
        .mount(&server)
        .await;
    whatsapp(&server.uri())
        .send(&to_mobile("پرداخت شما ثبت شد"))
        .await
        .unwrap();
}

#[tokio::test]
async fn whatsapp_errors_are_mapped_and_never_show_the_token() {
    let error = |code: i64, subcode: Option<i64>, message: &str| {
        serde_json::json!({"error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "error_subcode": subcode,
            "fbtrace_id": "AbCdEf123",
        }})
    };
    let cases = [
        (
            400,
            error(131047, None, "Re-engagement message"),
            false,
            "24 hours",
        ),
        (
            400,
            error(131026, None, "Message undeliverable"),
            false,
            "could not be delivered",
        ),
        (
            401,
            error(
                190,
                Some(463),
                "Error validating access token: Session has expired",
            ),
            true,
            "WHATSAPP_TOKEN",
        ),
        (
            400,
            error(4, None, "(#4) Application request limit reached"),
            true,
            "rate limit",
        ),
        (
            400,
            error(80007, None, "Rate limit issues"),
            true,
            "rate limit",
        ),
        (
            429,
            error(130429, None, "Rate limit hit"),
            true,
            "rate limit",
        ),
        (
            400,
            error(100, Some(2494010), "Invalid parameter"),
            false,
            "invalid parameter",
        ),
        (
            400,
            error(132000, None, "Number of parameters does not match"),
            false,
            "placeholders",
        ),
        (
            404,
            error(
                132001,
                None,
                "Template name does not exist in the translation",
            ),
            false,
            "does not exist",
        ),
        (
            503,
            error(131016, None, "Service unavailable"),
            true,
            "131016",
        ),
    ];
    for (status, body, retryable, word) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).set_body_json(body.clone()))
            .mount(&server)
            .await;
        let err = no_secret(
            whatsapp(&server.uri())
                .send(&with_template("payment_recorded", &[]))
                .await
                .unwrap_err(),
        );
        assert_eq!(err.is_retryable(), retryable, "{body}: {err:?}");
        assert!(err.reason().contains(word), "{body}: {err:?}");
        assert!(err.reason().contains("AbCdEf123"), "{err:?}");
    }
    // Not Meta's answer at all (a proxy's page): retried.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .mount(&server)
        .await;
    let err = whatsapp(&server.uri())
        .send(&to_mobile("hi"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn whatsapp_down_is_retryable() {
    let err = no_secret(
        whatsapp(&dead_address())
            .send(&to_mobile("hi"))
            .await
            .unwrap_err(),
    );
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn the_configured_channels_are_built_and_the_others_are_not() {
    let server = kavenegar_accepting_as(7).await;
    let mut config = NotifyConfig::off();
    assert!(build_senders(&config).unwrap().is_empty());
    config.kavenegar = Some(KavenegarSettings {
        base_url: server.uri(),
        api_key: Secret::new(KEY),
        sender: None,
        per_second: 5,
    });
    let senders = build_senders(&config).unwrap();
    let channels: Vec<Channel> = senders.iter().map(|s| s.channel()).collect();
    assert_eq!(channels, [Channel::Sms]);
    let delivered = senders[0].send(&to_mobile("hi")).await.unwrap();
    assert_eq!(delivered.provider_id.as_deref(), Some("7"));
    assert_eq!(
        config.summary()[1],
        format!("SMS on: Kavenegar at {}", server.uri())
    );
}
