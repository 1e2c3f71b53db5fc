//! Where a message goes: a mobile number in E.164 and an e-mail address, each valid by
//! construction, so a sender never has to check them again.

use std::fmt;

use crate::auth::domain::validate_email;

/// A mobile number in E.164: `+`, then 8 to 15 digits, the first not 0 (`+989121234567`).
///
/// [`MobileNumber::parse`] also reads the forms Iranians write: `09121234567`, `9121234567`,
/// `00989121234567`, `+98 912 123 4567`, in Persian (۰–۹) or Arabic (٠–٩) digits, with spaces,
/// dashes, dots or parentheses between them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MobileNumber(String);

/// Why a text is not a mobile number (the sentence a form shows next to the field).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Enter a mobile number such as 09121234567 or +989121234567")]
pub struct InvalidMobileNumber;

/// Iran's country calling code.
const IRAN: &str = "98";

impl MobileNumber {
    pub fn parse(text: &str) -> Result<MobileNumber, InvalidMobileNumber> {
        let text = text.trim();
        let (plus, rest) = match text.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match ascii_digit(c) {
                Some(d) => digits.push(d),
                None if matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}') => {}
                None => return Err(InvalidMobileNumber),
            }
        }
        let international = if plus {
            digits
        } else if let Some(rest) = digits.strip_prefix("00") {
            rest.to_string()
        } else if let Some(rest) = digits.strip_prefix('0') {
            // A national number: the leading 0 is the trunk prefix, Iran's is the only one we know.
            format!("{IRAN}{rest}")
        } else if digits.len() == 10 && digits.starts_with('9') {
            // An Iranian mobile written without its 0 (912 123 4567).
            format!("{IRAN}{digits}")
        } else {
            return Err(InvalidMobileNumber);
        };
        Self::from_e164_digits(&international)
    }

    fn from_e164_digits(digits: &str) -> Result<MobileNumber, InvalidMobileNumber> {
        let valid = (8..=15).contains(&digits.len())
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit());
        // An Iranian mobile is +98 9xx xxx xxxx: anything else under +98 is a typo.
        let iranian_ok = match digits.strip_prefix(IRAN) {
            Some(national) => national.len() == 10 && national.starts_with('9'),
            None => true,
        };
        if valid && iranian_ok {
            Ok(MobileNumber(format!("+{digits}")))
        } else {
            Err(InvalidMobileNumber)
        }
    }

    /// `+989121234567`.
    pub fn as_e164(&self) -> &str {
        &self.0
    }

    /// The digits without the `+` (`989121234567`), as WhatsApp's Cloud API names a recipient.
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The national form of an Iranian number (`09121234567`), `None` for other countries.
    pub fn iranian_national(&self) -> Option<String> {
        self.digits()
            .strip_prefix(IRAN)
            .map(|national| format!("0{national}"))
    }
}

impl fmt::Display for MobileNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for MobileNumber {
    type Err = InvalidMobileNumber;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MobileNumber::parse(s)
    }
}

/// An ASCII, Persian (۰–۹) or Arabic-Indic (٠–٩) digit as its ASCII digit.
fn ascii_digit(c: char) -> Option<char> {
    let value = match c {
        '0'..='9' => c as u32 - '0' as u32,
        '\u{06F0}'..='\u{06F9}' => c as u32 - 0x06F0,
        '\u{0660}'..='\u{0669}' => c as u32 - 0x0660,
        _ => return None,
    };
    char::from_digit(value, 10)
}

/// An e-mail address, valid by the same rule as a user's (`auth::domain::validate_email`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

/// Why a text is not an e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmailAddress(String);

impl EmailAddress {
    pub fn parse(text: &str) -> Result<EmailAddress, InvalidEmailAddress> {
        let text = text.trim();
        validate_email(text).map_err(InvalidEmailAddress)?;
        Ok(EmailAddress(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = InvalidEmailAddress;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EmailAddress::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn iranian_forms_become_e164() {
        for text in [
            "09121234567",
            "9121234567",
            "00989121234567",
            "+989121234567",
            "+98 912 123 4567",
            "0912-123-4567",
            " 0912 123 45 67 ",
            "۰۹۱۲۱۲۳۴۵۶۷",
            "٠٩١٢١٢٣٤٥٦٧",
            "+۹۸ ۹۱۲ ۱۲۳ ۴۵۶۷",
            "(0912) 123.4567",
        ] {
            assert_eq!(
                MobileNumber::parse(text).map(|m| m.to_string()),
                Ok("+989121234567".to_string()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn other_countries_are_kept_in_e164() {
        let m = MobileNumber::parse("+44 7700 900123").unwrap();
        assert_eq!(m.as_e164(), "+447700900123");
        assert_eq!(m.digits(), "447700900123");
        assert_eq!(m.iranian_national(), None);
        assert_eq!(
            MobileNumber::parse("0044 7700 900123").unwrap().as_e164(),
            "+447700900123"
        );
    }

    #[test]
    fn the_forms_providers_want() {
        let m = MobileNumber::parse("09121234567").unwrap();
        assert_eq!(m.digits(), "989121234567");
        assert_eq!(m.iranian_national().as_deref(), Some("09121234567"));
    }

    #[test]
    fn what_is_not_a_mobile_number_is_refused() {
        for text in [
            "",
            "+",
            "0912123456",       // a digit short
            "091212345678",     // a digit too many
            "02112345678",      // a Tehran landline
            "+98 21 1234 5678", // the same, international
            "+0123456789",      // no country code starts with 0
            "+1234567",         // 7 digits
            "+1234567890123456",
            "12345678", // neither national nor international
            "0912123456a",
            "0912_123_4567",
            "+98+9121234567",
            "٠٩١٢١٢٣٤٥٦٧٨",
        ] {
            assert_eq!(
                MobileNumber::parse(text),
                Err(InvalidMobileNumber),
                "{text:?}"
            );
        }
    }

    #[test]
    fn email_addresses_follow_the_users_rule() {
        assert_eq!(
            EmailAddress::parse(" a@example.com ").unwrap().as_str(),
            "a@example.com"
        );
        for bad in ["a", "a@b", "a b@c.com", "a@@b.com", "a@-b.com"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
            assert_eq!(
                validate_email(bad).is_err(),
                EmailAddress::parse(bad).is_err()
            );
        }
    }

    fn persian(digits: &str) -> String {
        digits
            .chars()
            .map(|c| char::from_u32(0x06F0 + c.to_digit(10).unwrap()).unwrap())
            .collect()
    }

    proptest! {
        /// Every Iranian mobile, however it is written, is the same E.164 number.
        #[test]
        fn every_iranian_form_is_one_number(rest in "9[0-9]{9}", dash in prop::bool::ANY) {
            let e164 = format!("+98{rest}");
            let sep = if dash { "-" } else { " " };
            let spaced = format!("0{}{sep}{}{sep}{}", &rest[..3], &rest[3..6], &rest[6..]);
            for text in [
                format!("0{rest}"),
                rest.clone(),
                format!("0098{rest}"),
                e164.clone(),
                spaced,
                persian(&format!("0{rest}")),
            ] {
                prop_assert_eq!(MobileNumber::parse(&text).map(|m| m.to_string()), Ok(e164.clone()));
            }
        }

        /// Whatever parses is E.164 and parses again to itself.
        #[test]
        fn what_parses_is_e164_and_stable(text in "[+0-9 ۰-۹-]{0,20}") {
            if let Ok(m) = MobileNumber::parse(&text) {
                let digits = m.digits();
                prop_assert!(m.as_e164().starts_with('+'));
                prop_assert!((8..=15).contains(&digits.len()));
                prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(MobileNumber::parse(m.as_e164()), Ok(m.clone()));
            }
        }

        /// Any international number of 8–15 digits outside Iran is kept as it is.
        #[test]
        fn international_numbers_are_kept(cc in "[1-7]", rest in "[0-9]{7,14}") {
            let e164 = format!("+{cc}{rest}");
            prop_assert_eq!(MobileNumber::parse(&e164).map(|m| m.to_string()), Ok(e164.clone()));
        }
    }
}
