//! The monthly statement's PDF in both languages, read back with poppler's `pdftotext`: every
//! part is there, written in the member's language (Persian digits in Persian), long values
//! (the seed, the page to verify at) whole. `SAGHAT_STATEMENT_SAMPLES=dir` keeps the PDFs.

use std::process::Command;

use saghat_core::fund::statements::model::{
    CashFlow, DrawEvidence, DrawWinner, FundMonth, Installment, LoanPart, Member, MemberStatement,
    MonthLine,
};
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::lang::Lang;
use saghat_core::platform::money::Amount;
use saghat_pdf::statement::statement_pdf;

fn usdt(n: &str) -> Amount {
    Amount::parse(n).unwrap()
}

const AZAR: JalaliMonth = JalaliMonth {
    year: 1405,
    month: 9,
};
const DEY: JalaliMonth = JalaliMonth {
    year: 1405,
    month: 10,
};
const SEED: &str = "9f1c2b7a4d6e8f0a1b3c5d7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a";
const COMMITMENT: &str = "0d4c3b2a19f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170abcd";
const DIGEST: &str = "aa11bb22cc33dd44ee55ff6677889900aabbccddeeff00112233445566778899";

fn sample(lang: Lang) -> MemberStatement {
    MemberStatement {
        lang,
        member: Member {
            user_id: 7,
            username: "sara".into(),
            name: "Sara Ahmadi".into(),
        },
        history: vec![
            MonthLine {
                month: JalaliMonth {
                    year: 1405,
                    month: 8,
                },
                fee: Some(usdt("40")),
                repayment: None,
                paid_at: Some("2026-10-25T09:00:00.000000Z".into()),
                balance: usdt("40"),
                owed: Amount::ZERO,
            },
            MonthLine {
                month: AZAR,
                fee: Some(usdt("40")),
                repayment: None,
                paid_at: Some("2026-11-22T12:00:00.000000Z".into()),
                balance: usdt("80"),
                owed: usdt("70"),
            },
        ],
        loan: Some(LoanPart {
            loan_id: "loan-1".into(),
            month: AZAR,
            amount: usdt("70"),
            repaid: Amount::ZERO,
            remaining: usdt("70"),
            minimum: usdt("20"),
            won_now: true,
            installments: vec![
                Installment {
                    month: DEY,
                    amount: usdt("20"),
                    remaining_after: usdt("50"),
                },
                Installment {
                    month: DEY.next(),
                    amount: usdt("20"),
                    remaining_after: usdt("30"),
                },
            ],
            more: 2,
            last_due: Some(JalaliMonth {
                year: 1406,
                month: 1,
            }),
        }),
        fund: FundMonth {
            month: AZAR,
            loan_id: "loan-1".into(),
            cash: CashFlow {
                opening: usdt("1250.5"),
                fees: usdt("100"),
                repayments: usdt("25"),
                other_in: Amount::ZERO,
                lent: usdt("70"),
                refunds: usdt("12.25"),
                other_out: Amount::ZERO,
            },
            winner: Some(DrawWinner {
                user_id: 7,
                name: "Sara Ahmadi".into(),
                amount: usdt("70"),
            }),
            evidence: Some(DrawEvidence {
                commitment: COMMITMENT.into(),
                seed: SEED.into(),
                inputs_digest: DIGEST.into(),
            }),
            as_of: "2026-11-22T12:00:00.000000Z".into(),
        },
        verify_page: "https://fund.example/fund/draws/loan-1/verify".into(),
        made_at: "2026-11-22T12:00:00.000000Z".into(),
        tz: "UTC".parse().unwrap(),
    }
}

/// The PDF's text (`pdftotext -layout`), or `None` without poppler (outside CI).
fn text(pdf: &[u8], name: &str) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.pdf"));
    std::fs::write(&file, pdf).unwrap();
    if let Ok(samples) = std::env::var("SAGHAT_STATEMENT_SAMPLES") {
        std::fs::create_dir_all(&samples).unwrap();
        std::fs::write(
            std::path::Path::new(&samples).join(format!("{name}.pdf")),
            pdf,
        )
        .unwrap();
    }
    match Command::new("pdftotext")
        .arg("-layout")
        .arg(&file)
        .arg("-")
        .output()
    {
        Ok(out) => {
            assert!(out.status.success());
            Some(String::from_utf8(out.stdout).unwrap())
        }
        Err(_) if std::env::var_os("CI").is_some() => panic!("CI needs pdftotext"),
        Err(_) => {
            eprintln!("SKIPPED: pdftotext (poppler-utils) is not installed");
            None
        }
    }
}

#[test]
fn the_english_statement_holds_every_part() {
    let pdf = statement_pdf(&sample(Lang::En)).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let Some(text) = text(&pdf, "statement-en") else {
        return;
    };
    for needle in [
        "Monthly statement",
        "Azar 1405",
        "Sara Ahmadi",
        "Your payments",
        "Aban 1405",
        "You won this month's draw.",
        "Repayment schedule",
        "Dey 1405",
        "And 2 more installments, the last in Farvardin 1406.",
        "The fund this month",
        "1,250.50",
        "Cash in",
        "125.00",
        "Paid back to members who left",
        "12.25",
        "1,293.25",
        SEED,
        COMMITMENT,
        DIGEST,
        "https://fund.example/fund/draws/loan-1/verify",
        "python3 docs/verify_draw.py proof.json",
    ] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
    assert!(!text.contains("Other money"), "no empty line of others");
}

#[test]
fn the_persian_statement_is_persian_with_persian_digits() {
    let pdf = statement_pdf(&sample(Lang::Fa)).unwrap();
    let Some(text) = text(&pdf, "statement-fa") else {
        return;
    };
    for needle in [SEED, COMMITMENT, DIGEST, "۱٬۲۹۳٫۲۵", "۷۰٫۰۰"] {
        assert!(text.contains(needle), "{needle:?} in:\n{text}");
    }
    // Beyond the codes, the address and the command (and the name the member gave), no Latin
    // letter or digit.
    let mut rest = text.clone();
    for latin in [
        SEED,
        COMMITMENT,
        DIGEST,
        "https://fund.example/fund/draws/loan-1/verify",
        "python3 docs/verify_draw.py proof.json",
        "Sara Ahmadi",
        "sara",
        "Saghat",
    ] {
        rest = rest.replace(latin, "");
    }
    let latin: Vec<char> = rest.chars().filter(char::is_ascii_alphanumeric).collect();
    assert!(latin.is_empty(), "{latin:?} in:\n{text}");
}
