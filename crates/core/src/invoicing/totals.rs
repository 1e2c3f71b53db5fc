//! Invoice totals, in integer minor units, in the order EN 16931 computes them:
//!
//! 1. line net = round(quantity × unit price) − line discount;
//! 2. the invoice-level discount is allocated to the tax categories in proportion to their line
//!    nets, by largest remainder, so the parts add up to the discount exactly;
//! 3. per tax category, tax = round(taxable base × rate), once per category and never per line
//!    (BR-CO-17);
//! 4. total = Σ line nets − discount + Σ category tax.
//!
//! Rounding is half away from zero. With prices that include tax, each category's inclusive
//! amount is split into its net and its tax once, and the nets of its lines are the category's
//! net allocated in proportion to their inclusive amounts (so they add up exactly too).

use std::collections::BTreeMap;

use super::model::{Discount, Invoice, Line, Percent, Quantity, TaxCategory};
use crate::platform::decimal::div_round_half_away;

/// What the totals of one line depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineInput {
    pub quantity: Quantity,
    pub unit_price: i64,
    pub discount: Option<Discount>,
    pub tax: TaxCategory,
}

#[derive(Clone, Copy, Debug)]
pub struct TotalsInput<'a> {
    pub lines: &'a [LineInput],
    pub discount: Option<Discount>,
    pub prices_include_tax: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineTotals {
    /// round(quantity × unit price), as entered (including tax when prices include it).
    pub gross: i64,
    /// The line's own discount, as entered.
    pub discount: i64,
    /// gross − discount, as entered: what the line shows.
    pub amount: i64,
    /// The line's net amount excluding tax (EN 16931 BT-131); equal to `amount` unless prices
    /// include tax.
    pub net: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CategoryTotals {
    pub category: TaxCategory,
    /// Σ the category's line nets, excluding tax.
    pub lines_net: i64,
    /// The part of the invoice-level discount on this category, excluding tax.
    pub discount: i64,
    /// lines_net − discount: the taxable amount (BT-116).
    pub taxable: i64,
    /// The category's tax (BT-117), rounded once.
    pub tax: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    /// In the order of the input lines.
    pub lines: Vec<LineTotals>,
    /// Ordered by category (code, then rate), whatever the order of the lines.
    pub categories: Vec<CategoryTotals>,
    /// Σ line nets (BT-106).
    pub lines_net: i64,
    /// The invoice-level discount, excluding tax (BT-107).
    pub discount: i64,
    /// lines_net − discount (BT-109).
    pub taxable: i64,
    /// Σ category tax (BT-110).
    pub tax: i64,
    /// taxable + tax (BT-112).
    pub total: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TotalsError {
    #[error("line {line}: the quantity must be positive")]
    QuantityNotPositive { line: usize },
    #[error("line {line}: the unit price cannot be negative")]
    NegativePrice { line: usize },
    #[error("line {line}: a discount cannot be negative or above 100%")]
    LineDiscountOutOfRange { line: usize },
    #[error("line {line}: the discount is more than the line's amount")]
    LineDiscountExceedsLine { line: usize },
    #[error("line {line}: a tax rate must be between 0% and 100%, and only the standard category (S) takes a rate above 0%")]
    RateNotAllowed { line: usize },
    #[error("the invoice discount cannot be negative or above 100%")]
    DiscountOutOfRange,
    #[error("the invoice discount is more than the lines' total")]
    DiscountExceedsBase,
    #[error("the amounts are too large")]
    TooLarge,
}

impl Line {
    /// What the line's totals depend on.
    pub fn totals_input(&self) -> LineInput {
        LineInput {
            quantity: self.quantity,
            unit_price: self.unit_price,
            discount: self.discount,
            tax: self.tax,
        }
    }
}

impl Invoice {
    /// The invoice's totals: the one computation every view of the invoice uses.
    pub fn totals(&self) -> Result<Totals, TotalsError> {
        let lines: Vec<LineInput> = self.lines.iter().map(Line::totals_input).collect();
        compute(&TotalsInput {
            lines: &lines,
            discount: self.discount,
            prices_include_tax: self.prices_include_tax,
        })
    }
}

/// The totals of an invoice. Refuses what no invoice can be (a discount above its base, a
/// negative price), so every `Totals` it returns adds up.
pub fn compute(input: &TotalsInput<'_>) -> Result<Totals, TotalsError> {
    let hundred = i128::from(Percent::HUNDRED.0);
    // Step 1: each line, as entered.
    let mut entered = Vec::with_capacity(input.lines.len());
    for (index, line) in input.lines.iter().enumerate() {
        let number = index + 1;
        if line.quantity.0 <= 0 {
            return Err(TotalsError::QuantityNotPositive { line: number });
        }
        if line.unit_price < 0 {
            return Err(TotalsError::NegativePrice { line: number });
        }
        let rate = line.tax.rate.0;
        if !(0..=Percent::HUNDRED.0).contains(&rate) || (rate != 0 && !line.tax.code.takes_a_rate())
        {
            return Err(TotalsError::RateNotAllowed { line: number });
        }
        let gross = div_round_half_away(
            i128::from(line.quantity.0) * i128::from(line.unit_price),
            i128::from(Quantity::ONE.0),
        );
        let discount = match line.discount {
            None => 0,
            Some(Discount::Percent(p)) => {
                if !(0..=Percent::HUNDRED.0).contains(&p.0) {
                    return Err(TotalsError::LineDiscountOutOfRange { line: number });
                }
                div_round_half_away(gross * i128::from(p.0), hundred)
            }
            Some(Discount::Amount(a)) => {
                if a < 0 {
                    return Err(TotalsError::LineDiscountOutOfRange { line: number });
                }
                if i128::from(a) > gross {
                    return Err(TotalsError::LineDiscountExceedsLine { line: number });
                }
                i128::from(a)
            }
        };
        entered.push((gross, discount, gross - discount));
    }

    // The categories, in a fixed order so that the allocation does not depend on line order.
    let mut by_category: BTreeMap<TaxCategory, i128> = BTreeMap::new();
    for (line, &(_, _, amount)) in input.lines.iter().zip(&entered) {
        *by_category.entry(line.tax).or_default() += amount;
    }
    let categories: Vec<(TaxCategory, i128)> = by_category.into_iter().collect();
    let base: i128 = categories.iter().map(|(_, amount)| amount).sum();

    // Step 2: the invoice discount (as entered), and its part on each category.
    let discount = match input.discount {
        None => 0,
        Some(Discount::Percent(p)) => {
            if !(0..=Percent::HUNDRED.0).contains(&p.0) {
                return Err(TotalsError::DiscountOutOfRange);
            }
            div_round_half_away(base * i128::from(p.0), hundred)
        }
        Some(Discount::Amount(a)) => {
            if a < 0 {
                return Err(TotalsError::DiscountOutOfRange);
            }
            if i128::from(a) > base {
                return Err(TotalsError::DiscountExceedsBase);
            }
            i128::from(a)
        }
    };
    let weights: Vec<i128> = categories.iter().map(|(_, amount)| *amount).collect();
    let discount_parts = allocate(discount, &weights);

    // Step 3: per category, the taxable amount and its tax, rounded once.
    let mut category_totals = Vec::with_capacity(categories.len());
    let mut line_nets: Vec<i128> = entered.iter().map(|&(_, _, amount)| amount).collect();
    for (&(category, amount), &part) in categories.iter().zip(&discount_parts) {
        let rate = i128::from(category.rate.0);
        let (lines_net, discount, taxable, tax) = if input.prices_include_tax {
            // The inclusive amounts are split once per category: taxable = round(G / (1 + r)).
            let inclusive = amount - part;
            let taxable = div_round_half_away(inclusive * hundred, hundred + rate);
            let lines_net = div_round_half_away(amount * hundred, hundred + rate);
            // The lines' nets share the category's net in proportion to what they show.
            let members: Vec<usize> = (0..input.lines.len())
                .filter(|&i| input.lines[i].tax == category)
                .collect();
            let shown: Vec<i128> = members.iter().map(|&i| entered[i].2).collect();
            for (&i, net) in members.iter().zip(allocate(lines_net, &shown)) {
                line_nets[i] = net;
            }
            (lines_net, lines_net - taxable, taxable, inclusive - taxable)
        } else {
            let taxable = amount - part;
            let tax = div_round_half_away(taxable * rate, hundred);
            (amount, part, taxable, tax)
        };
        category_totals.push(CategoryTotals {
            category,
            lines_net: fit(lines_net)?,
            discount: fit(discount)?,
            taxable: fit(taxable)?,
            tax: fit(tax)?,
        });
    }

    // Step 4: the invoice's totals.
    let lines_net: i128 = category_totals
        .iter()
        .map(|c| i128::from(c.lines_net))
        .sum();
    let discount: i128 = category_totals.iter().map(|c| i128::from(c.discount)).sum();
    let tax: i128 = category_totals.iter().map(|c| i128::from(c.tax)).sum();
    let taxable = lines_net - discount;
    let lines = entered
        .iter()
        .zip(&line_nets)
        .map(|(&(gross, discount, amount), &net)| {
            Ok(LineTotals {
                gross: fit(gross)?,
                discount: fit(discount)?,
                amount: fit(amount)?,
                net: fit(net)?,
            })
        })
        .collect::<Result<Vec<_>, TotalsError>>()?;
    Ok(Totals {
        lines,
        categories: category_totals,
        lines_net: fit(lines_net)?,
        discount: fit(discount)?,
        taxable: fit(taxable)?,
        tax: fit(tax)?,
        total: fit(taxable + tax)?,
    })
}

/// What is still owed on an invoice: its total less what was paid and credited.
pub fn amount_due(total: i64, paid: i64, credited: i64) -> i64 {
    total - paid - credited
}

/// Splits `total` in proportion to `weights` (non-negative) by the largest-remainder method:
/// each part is the floor of its exact share, and the units left over go one each to the
/// largest remainders (ties to the earlier weight). The parts always add up to `total`. With
/// no weight at all, everything goes to the first part.
pub fn allocate(total: i128, weights: &[i128]) -> Vec<i128> {
    let sum: i128 = weights.iter().sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if sum == 0 {
        let mut parts = vec![0; weights.len()];
        parts[0] = total;
        return parts;
    }
    let mut parts: Vec<i128> = weights.iter().map(|w| total * w / sum).collect();
    let mut left = total - parts.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Remainders of total × w / sum, largest first; the sort is stable, so ties keep order.
    order.sort_by_key(|&i| std::cmp::Reverse((total * weights[i]) % sum));
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

fn fit(value: i128) -> Result<i64, TotalsError> {
    i64::try_from(value).map_err(|_| TotalsError::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::model::TaxCode;

    fn standard(rate: i64) -> TaxCategory {
        TaxCategory {
            code: TaxCode::Standard,
            rate: Percent(rate),
        }
    }

    fn line(quantity: i64, unit_price: i64, tax: TaxCategory) -> LineInput {
        LineInput {
            quantity: Quantity(quantity),
            unit_price,
            discount: None,
            tax,
        }
    }

    fn totals(lines: &[LineInput], discount: Option<Discount>, inclusive: bool) -> Totals {
        compute(&TotalsInput {
            lines,
            discount,
            prices_include_tax: inclusive,
        })
        .unwrap()
    }

    /// EUR, two rates, a line discount and an invoice discount, computed by hand:
    /// - 3 × 19.99 = 59.97 at 19%, minus 10% = 5.997 → 6.00: net 53.97
    /// - 1.5 h × 80.00 = 120.00 at 19%: net 120.00
    /// - 2 × 12.50 = 25.00 at 7%, minus 2.00: net 23.00
    ///
    /// Lines net 196.97; invoice discount 5% = 9.8485 → 9.85, allocated 173.97 : 23.00 →
    /// 8.6993… and 1.1501… → floors 8.69 and 1.15, one cent left to the larger remainder
    /// (0.0093… vs 0.0001…): 8.70 and 1.15. Taxable 165.27 and 21.85; tax 19% of 165.27 =
    /// 31.4013 → 31.40, 7% of 21.85 = 1.5295 → 1.53. Total 187.12 + 32.93 = 220.05.
    #[test]
    fn two_rates_with_line_and_invoice_discounts() {
        let mut first = line(30_000, 1999, standard(1900));
        first.discount = Some(Discount::Percent(Percent(1000)));
        let hours = line(15_000, 8000, standard(1900));
        let mut third = line(20_000, 1250, standard(700));
        third.discount = Some(Discount::Amount(200));
        let t = totals(
            &[first, hours, third],
            Some(Discount::Percent(Percent(500))),
            false,
        );
        assert_eq!(
            t.lines.iter().map(|l| l.net).collect::<Vec<_>>(),
            [5397, 12000, 2300]
        );
        assert_eq!(t.lines[0].discount, 600);
        assert_eq!(t.lines_net, 19697);
        assert_eq!(t.discount, 985);
        // categories come ordered by rate: 7% before 19%
        assert_eq!(t.categories[0].category, standard(700));
        assert_eq!(
            (t.categories[0].discount, t.categories[1].discount),
            (115, 870)
        );
        assert_eq!(
            (t.categories[0].taxable, t.categories[1].taxable),
            (2185, 16527)
        );
        assert_eq!((t.categories[0].tax, t.categories[1].tax), (153, 3140));
        assert_eq!(t.taxable, 18712);
        assert_eq!(t.tax, 3293);
        assert_eq!(t.total, 22005);
    }

    /// BR-CO-17: tax per category, not per line. Three lines of 0.05 at 10% have 0.005 of tax
    /// each (0.01 each when rounded per line: 0.03); on their base of 0.15 it is 0.015 → 0.02.
    #[test]
    fn tax_is_rounded_once_per_category() {
        let lines = [line(10_000, 5, standard(1000)); 3];
        let t = totals(&lines, None, false);
        assert_eq!(t.categories.len(), 1);
        assert_eq!(t.tax, 2);
        assert_eq!(t.total, 17);
    }

    /// IRR has no minor unit: 2.5 × 1,333,333 = 3,333,332.5 → 3,333,333 rials, VAT 10% of it
    /// is 333,333.3 → 333,333.
    #[test]
    fn zero_decimal_rials() {
        let t = totals(&[line(25_000, 1_333_333, standard(1000))], None, false);
        assert_eq!(t.lines_net, 3_333_333);
        assert_eq!(t.tax, 333_333);
        assert_eq!(t.total, 3_666_666);
    }

    /// USDT keeps 8 places: 0.3333 × 1.00000001 USDT = 0.333300003333 → 0.33330000;
    /// 9% of it is 0.0299970000 → 0.02999700.
    #[test]
    fn eight_decimal_usdt() {
        let t = totals(&[line(3333, 100_000_001, standard(900))], None, false);
        assert_eq!(t.lines_net, 33_330_000);
        assert_eq!(t.tax, 2_999_700);
        assert_eq!(t.total, 36_329_700);
    }

    /// Prices including 19% tax: 2 × 11.90 + 1 × 5.95 = 29.75 inclusive; the net is
    /// 29.75 / 1.19 = 25.00 and the tax 4.75, split once for the category. The lines' nets
    /// share 25.00 as 23.80 : 5.95, i.e. 20.00 and 5.00.
    #[test]
    fn prices_including_tax() {
        let t = totals(
            &[
                line(20_000, 1190, standard(1900)),
                line(10_000, 595, standard(1900)),
            ],
            None,
            true,
        );
        assert_eq!(t.taxable, 2500);
        assert_eq!(t.tax, 475);
        assert_eq!(t.total, 2975);
        assert_eq!(
            t.lines
                .iter()
                .map(|l| (l.amount, l.net))
                .collect::<Vec<_>>(),
            [(2380, 2000), (595, 500)]
        );
    }

    /// Inclusive prices with an inclusive discount of 10.00 on 119.00: 109.00 inclusive is
    /// 91.60 net (91.596… → 91.60) and 17.40 tax; the discount excluding tax is 100.00 − 91.60.
    #[test]
    fn prices_including_tax_with_a_discount() {
        let t = totals(
            &[line(10_000, 11_900, standard(1900))],
            Some(Discount::Amount(1000)),
            true,
        );
        assert_eq!(t.lines_net, 10_000);
        assert_eq!(t.discount, 840);
        assert_eq!(t.taxable, 9160);
        assert_eq!(t.tax, 1740);
        assert_eq!(t.total, 10_900);
    }

    #[test]
    fn refuses_what_no_invoice_can_be() {
        let ok = line(10_000, 1000, standard(1900));
        let run = |lines: &[LineInput], discount| {
            compute(&TotalsInput {
                lines,
                discount,
                prices_include_tax: false,
            })
        };
        assert_eq!(
            run(&[ok], Some(Discount::Amount(1001))),
            Err(TotalsError::DiscountExceedsBase)
        );
        assert_eq!(
            run(&[ok], Some(Discount::Percent(Percent(10_001)))),
            Err(TotalsError::DiscountOutOfRange)
        );
        let mut over = ok;
        over.discount = Some(Discount::Amount(1001));
        assert_eq!(
            run(&[ok, over], None),
            Err(TotalsError::LineDiscountExceedsLine { line: 2 })
        );
        let exempt_with_rate = line(
            10_000,
            1000,
            TaxCategory {
                code: TaxCode::Exempt,
                rate: Percent(900),
            },
        );
        assert_eq!(
            run(&[exempt_with_rate], None),
            Err(TotalsError::RateNotAllowed { line: 1 })
        );
        assert_eq!(
            run(&[line(0, 1000, standard(0))], None),
            Err(TotalsError::QuantityNotPositive { line: 1 })
        );
        assert_eq!(
            run(&[line(10_000, -1, standard(0))], None),
            Err(TotalsError::NegativePrice { line: 1 })
        );
        assert_eq!(
            run(&[line(i64::MAX, i64::MAX, standard(0))], None),
            Err(TotalsError::TooLarge)
        );
    }

    #[test]
    fn an_empty_draft_totals_zero() {
        let t = totals(&[], Some(Discount::Percent(Percent(1000))), false);
        assert_eq!((t.total, t.discount, t.categories.len()), (0, 0, 0));
    }

    #[test]
    fn largest_remainder_allocation() {
        assert_eq!(allocate(100, &[1, 1, 1]), [34, 33, 33]);
        assert_eq!(allocate(10, &[0, 5, 0]), [0, 10, 0]);
        assert_eq!(allocate(7, &[0, 0]), [7, 0]);
        assert_eq!(allocate(0, &[3, 4]), [0, 0]);
        assert_eq!(allocate(1, &[1, 3]), [0, 1]);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn category() -> impl Strategy<Value = TaxCategory> {
            prop_oneof![
                (0_i64..=2500).prop_map(standard),
                Just(TaxCategory {
                    code: TaxCode::ZeroRated,
                    rate: Percent(0)
                }),
                Just(TaxCategory {
                    code: TaxCode::Exempt,
                    rate: Percent(0)
                }),
            ]
        }

        fn discount(max_amount: i64) -> impl Strategy<Value = Option<Discount>> {
            prop_oneof![
                Just(None),
                (0_i64..=10_000).prop_map(|p| Some(Discount::Percent(Percent(p)))),
                (0..=max_amount).prop_map(|a| Some(Discount::Amount(a))),
            ]
        }

        fn line_input() -> impl Strategy<Value = LineInput> {
            (
                1_i64..=10_000_000,
                0_i64..=100_000_000,
                category(),
                discount(1_000),
            )
                .prop_map(|(quantity, unit_price, tax, discount)| LineInput {
                    quantity: Quantity(quantity),
                    unit_price,
                    discount,
                    tax,
                })
        }

        proptest! {
            #[test]
            fn totals_add_up(
                lines in prop::collection::vec(line_input(), 0..12),
                invoice_discount in discount(100_000),
                inclusive in any::<bool>(),
            ) {
                let input = TotalsInput { lines: &lines, discount: invoice_discount, prices_include_tax: inclusive };
                let Ok(t) = compute(&input) else { return Ok(()) };
                let sum = |f: fn(&CategoryTotals) -> i64| t.categories.iter().map(f).sum::<i64>();
                prop_assert_eq!(t.lines.iter().map(|l| l.net).sum::<i64>(), t.lines_net);
                prop_assert_eq!(sum(|c| c.lines_net), t.lines_net);
                prop_assert_eq!(sum(|c| c.discount), t.discount);
                prop_assert_eq!(sum(|c| c.taxable), t.taxable);
                prop_assert_eq!(sum(|c| c.tax), t.tax);
                prop_assert_eq!(t.taxable, t.lines_net - t.discount);
                prop_assert_eq!(t.total, t.taxable + t.tax);
                for c in &t.categories {
                    // the tax of each category is its rate on its base, rounded once
                    if !inclusive {
                        let exact = i128::from(c.taxable) * i128::from(c.category.rate.0);
                        prop_assert!((i128::from(c.tax) * 10_000 - exact).abs() <= 5_000);
                    }
                    // discounts never exceed the base
                    prop_assert!(0 <= c.discount && c.discount <= c.lines_net);
                    prop_assert!(c.taxable >= 0 && c.tax >= 0);
                }
                for l in &t.lines {
                    prop_assert!(0 <= l.discount && l.discount <= l.gross);
                    prop_assert!(0 <= l.net && l.net <= l.amount);
                }
                if inclusive {
                    // what the customer pays is what the lines show, less the discount
                    let shown: i64 = t.lines.iter().map(|l| l.amount).sum();
                    let entered_discount = match invoice_discount {
                        None => 0,
                        Some(Discount::Amount(a)) => a,
                        Some(Discount::Percent(p)) => div_round_half_away(i128::from(shown) * i128::from(p.0), 10_000) as i64,
                    };
                    prop_assert_eq!(t.total, shown - entered_discount);
                }
            }

            #[test]
            fn reordered_lines_give_the_same_totals(
                lines in prop::collection::vec(line_input(), 1..10),
                invoice_discount in discount(10_000),
                inclusive in any::<bool>(),
                seed in any::<u64>(),
            ) {
                let mut shuffled = lines.clone();
                // a deterministic permutation from the seed
                let n = shuffled.len();
                for i in (1..n).rev() {
                    shuffled.swap(i, (seed as usize).wrapping_mul(i + 7) % (i + 1));
                }
                let a = compute(&TotalsInput { lines: &lines, discount: invoice_discount, prices_include_tax: inclusive });
                let b = compute(&TotalsInput { lines: &shuffled, discount: invoice_discount, prices_include_tax: inclusive });
                match (a, b) {
                    (Ok(a), Ok(b)) => {
                        prop_assert_eq!(a.categories, b.categories);
                        prop_assert_eq!((a.lines_net, a.discount, a.tax, a.total), (b.lines_net, b.discount, b.tax, b.total));
                    }
                    (Err(_), Err(_)) => {}
                    (a, b) => prop_assert!(false, "one order failed: {:?} vs {:?}", a.err(), b.err()),
                }
            }

            #[test]
            fn allocation_is_exact(
                total in 0_i128..1_000_000_000_000,
                weights in prop::collection::vec(0_i128..1_000_000_000, 1..20),
            ) {
                let parts = allocate(total, &weights);
                prop_assert_eq!(parts.iter().sum::<i128>(), total);
                let sum: i128 = weights.iter().sum();
                for (part, weight) in parts.iter().zip(&weights) {
                    prop_assert!(*part >= 0);
                    if sum > 0 {
                        // each part is within one unit of its exact share
                        let exact = total * weight;
                        prop_assert!((part * sum - exact).abs() < sum);
                    }
                }
            }
        }
    }
}
