//! Webhooks' rules as plain Rust: the events, the signature, which addresses an endpoint may
//! have, and what an attempt's answer means for the delivery.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a receiver can subscribe to. A new event is one line in [`Event::ALL`] and its arm in
/// `as_str`, and one `emit` where the change happens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    InvoiceSent,
    InvoicePaid,
    TicketStateChanged,
    LoanAssigned,
    /// An online payment verified with the gateway (`intents::service`).
    PaymentVerified,
}

impl Event {
    pub const ALL: [Event; 5] = [
        Event::InvoiceSent,
        Event::InvoicePaid,
        Event::TicketStateChanged,
        Event::LoanAssigned,
        Event::PaymentVerified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::InvoiceSent => "invoice.sent",
            Event::InvoicePaid => "invoice.paid",
            Event::TicketStateChanged => "ticket.state_changed",
            Event::LoanAssigned => "loan.assigned",
            Event::PaymentVerified => "payment.verified",
        }
    }

    pub fn parse(name: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// The `Saghat-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
/// The timestamp is signed with the body, so a receiver can refuse an old message replayed.
pub fn signature_header(secret: &str, unix_seconds: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{unix_seconds}.{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    format!("t={unix_seconds},v1={}", hex(&digest))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why an endpoint URL is refused; each message is the sentence the API sends.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("Enter a valid URL, such as https://example.com/hooks.")]
    Invalid,
    #[error("Only https:// URLs are accepted.")]
    NotHttps,
    #[error("The URL must be http:// or https://.")]
    NotHttp,
    #[error("The URL may not carry a user name or password.")]
    HasCredentials,
    #[error("The URL's host could not be resolved.")]
    Unresolvable,
    #[error(
        "The URL's host is a loopback, private, link-local or otherwise internal address ({0})."
    )]
    InternalAddress(IpAddr),
}

/// The longest endpoint URL kept.
pub const URL_MAX_CHARS: usize = 2_000;

/// An endpoint URL whose form is acceptable: http(s), no credentials, a host. Whether its
/// addresses are is [`check_addresses`]'s question, asked after resolving it.
pub fn parse_target(url: &str, https_only: bool) -> Result<reqwest::Url, UrlRefusal> {
    if url.chars().count() > URL_MAX_CHARS || url.chars().any(char::is_control) {
        return Err(UrlRefusal::Invalid);
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| UrlRefusal::Invalid)?;
    match parsed.scheme() {
        "https" => {}
        "http" if https_only => return Err(UrlRefusal::NotHttps),
        "http" => {}
        _ if https_only => return Err(UrlRefusal::NotHttps),
        _ => return Err(UrlRefusal::NotHttp),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlRefusal::HasCredentials);
    }
    if parsed.host().is_none() {
        return Err(UrlRefusal::Invalid);
    }
    Ok(parsed)
}

/// Refuses when any address the host resolved to is internal (unless they are allowed): one
/// bad address among good ones is enough for a resolver to hand it to the connection.
pub fn check_addresses(addresses: &[IpAddr], allow_private: bool) -> Result<(), UrlRefusal> {
    if addresses.is_empty() {
        return Err(UrlRefusal::Unresolvable);
    }
    if allow_private {
        return Ok(());
    }
    match addresses.iter().find(|ip| is_internal(**ip)) {
        Some(ip) => Err(UrlRefusal::InternalAddress(*ip)),
        None => Ok(()),
    }
}

/// Loopback, private (RFC 1918, fc00::/7), link-local (which holds the cloud metadata
/// address 169.254.169.254), unspecified, multicast, broadcast, CGNAT (100.64/10, which holds
/// Alibaba's metadata address) and IPv6 forms that carry an IPv4 address (mapped, NAT64).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0 // 0.0.0.0/8, "this network"
        || (a == 100 && (64..128).contains(&b)) // CGNAT, 100.64.0.0/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments, 192.0.0.0/24
        || a >= 240 // reserved, 240.0.0.0/4
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return is_internal_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
}

/// What one attempt's result means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Try again later (the job queue's backoff).
    Retry,
    /// The last attempt failed: the delivery is failed (a replay may still try again).
    Failed,
}

/// A 2xx answer delivers; anything else (another status, no answer) is retried until the
/// job's last attempt.
pub fn attempt_outcome(status: Option<u16>, attempt: i32, max_attempts: i32) -> AttemptOutcome {
    match status {
        Some(code) if (200..300).contains(&code) => AttemptOutcome::Delivered,
        _ if attempt >= max_attempts => AttemptOutcome::Failed,
        _ => AttemptOutcome::Retry,
    }
}

/// The most of a receiver's answer kept with the delivery.
pub const RESPONSE_KEPT_BYTES: usize = 1024;

/// The start of `text`, at most `max` bytes, cut on a character boundary.
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_the_timestamp_dot_body() {
        // Computed apart, with Python's standard library:
        // hmac.new(b"whsec_test", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
        let header = signature_header("whsec_test", 1_700_000_000, r#"{"a":1}"#);
        assert_eq!(
            header,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn every_event_reads_back_from_its_name() {
        for event in Event::ALL {
            assert_eq!(Event::parse(event.as_str()), Some(event));
        }
        assert_eq!(Event::parse("invoice.deleted"), None);
    }

    #[test]
    fn internal_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::a9fe:a9fe",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_internal(ip), "{ip} should be internal");
            assert_eq!(
                check_addresses(&[ip], false),
                Err(UrlRefusal::InternalAddress(ip))
            );
            assert_eq!(check_addresses(&[ip], true), Ok(()));
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "2606:2800:220:1:248:1893:25c8:1946",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_internal(ip), "{ip} should be public");
        }
        let public: IpAddr = "8.8.8.8".parse().unwrap();
        let private: IpAddr = "10.0.0.1".parse().unwrap();
        // One internal address among public ones is enough to refuse.
        assert_eq!(
            check_addresses(&[public, private], false),
            Err(UrlRefusal::InternalAddress(private))
        );
        assert_eq!(check_addresses(&[], true), Err(UrlRefusal::Unresolvable));
    }

    #[test]
    fn urls_are_http_or_https_with_a_host_and_no_credentials() {
        assert!(parse_target("https://example.com/hooks", true).is_ok());
        assert!(parse_target("http://example.com/hooks", false).is_ok());
        assert_eq!(
            parse_target("http://example.com/hooks", true),
            Err(UrlRefusal::NotHttps)
        );
        assert_eq!(
            parse_target("ftp://example.com/", false),
            Err(UrlRefusal::NotHttp)
        );
        assert_eq!(
            parse_target("https://user:pw@example.com/", true),
            Err(UrlRefusal::HasCredentials)
        );
        assert_eq!(parse_target("not a url", false), Err(UrlRefusal::Invalid));
        assert_eq!(
            parse_target("https://example.com/\n", true),
            Err(UrlRefusal::Invalid)
        );
    }

    #[test]
    fn only_2xx_delivers_and_the_last_failure_fails() {
        assert_eq!(attempt_outcome(Some(200), 1, 3), AttemptOutcome::Delivered);
        assert_eq!(attempt_outcome(Some(204), 3, 3), AttemptOutcome::Delivered);
        assert_eq!(attempt_outcome(Some(500), 1, 3), AttemptOutcome::Retry);
        assert_eq!(attempt_outcome(Some(301), 2, 3), AttemptOutcome::Retry);
        assert_eq!(attempt_outcome(None, 2, 3), AttemptOutcome::Retry);
        assert_eq!(attempt_outcome(Some(500), 3, 3), AttemptOutcome::Failed);
        assert_eq!(attempt_outcome(None, 3, 3), AttemptOutcome::Failed);
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip("abc", 10), "abc");
        assert_eq!(clip("سلام", 3), "س");
        assert_eq!(clip("abcdef", 4), "abcd");
    }
}
