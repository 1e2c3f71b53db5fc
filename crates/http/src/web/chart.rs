//! The fund over time as a server-rendered SVG line chart: cash, contributions and outstanding
//! loans at the end of each Jalali month. Coordinates are computed with integers from exact
//! amounts; no floating point touches money.

use std::fmt::Write;

use super::i18n::Lang;
use super::queries::MonthFlows;
use saghat_core::platform::html::escape;
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::money::Amount;

/// The fund's totals at the end of a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub month: JalaliMonth,
    /// Fees + repayments − loans paid out.
    pub cash: Amount,
    /// All membership fees paid so far.
    pub contributions: Amount,
    /// Loans paid out − repayments.
    pub outstanding: Amount,
}

/// At most this many months are drawn (the most recent ones); totals still count from the start.
pub const MAX_POINTS: usize = 36;

/// Running totals per month from the first month with money through `until`, months without
/// movements included.
pub fn series(flows: &[(JalaliMonth, MonthFlows)], until: JalaliMonth) -> Vec<Point> {
    let Some(&(first, _)) = flows.first() else {
        return vec![];
    };
    let last = flows.last().map_or(first, |(m, _)| *m).max(until);
    let (mut fees, mut repaid, mut lent) = (0i128, 0i128, 0i128);
    let mut points = vec![];
    let mut month = first;
    let mut flows = flows.iter().peekable();
    while month <= last {
        while let Some((_, f)) = flows.next_if(|(m, _)| *m <= month) {
            fees += f.fees.units();
            repaid += f.repayments.units();
            lent += f.lent.units();
        }
        points.push(Point {
            month,
            cash: units(fees + repaid - lent),
            contributions: units(fees),
            outstanding: units(lent - repaid),
        });
        month = month.next();
    }
    let skip = points.len().saturating_sub(MAX_POINTS);
    points.split_off(skip)
}

fn units(n: i128) -> Amount {
    Amount::from_split_sum(
        i64::try_from(n / 100_000_000).unwrap_or(i64::MAX),
        (n % 100_000_000) as i64,
    )
}

/// The frame of a chart, in SVG units. The page draws it twice, wide for screens and narrow
/// for phones (CSS shows one), so that on a phone it fits the screen with its axis and
/// readable labels instead of shrinking or scrolling the axis away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub width: i128,
    pub height: i128,
    pub left: i128,
    pub right: i128,
    pub top: i128,
    pub bottom: i128,
    pub font: i128,
    /// About how many months are labelled.
    pub labels: usize,
    /// Distinguishes the two drawings' element ids.
    pub name: &'static str,
}

pub const WIDE: Layout = Layout {
    width: 720,
    height: 300,
    left: 84,
    // Room for half of the last month label.
    right: 48,
    top: 16,
    bottom: 52,
    font: 14,
    labels: 6,
    name: "wide",
};

pub const NARROW: Layout = Layout {
    width: 360,
    height: 300,
    left: 66,
    right: 36,
    top: 14,
    bottom: 56,
    // Drawn at about 0.9 of its size on a 375-pixel phone: still 13 pixels.
    font: 15,
    labels: 3,
    name: "narrow",
};

/// (series name key, stroke colour, dash pattern): distinguishable without colour too.
pub const SERIES: [(&str, &str, &str); 3] = [
    ("cash", "#0b6e4f", ""),
    ("contributions", "#1f4e9c", "8 5"),
    ("outstanding", "#b3261e", "2 4"),
];

fn value(point: &Point, series: usize) -> i128 {
    match series {
        0 => point.cash.units(),
        1 => point.contributions.units(),
        _ => point.outstanding.units(),
    }
}

/// A round step (1, 2 or 5 × 10ⁿ whole units) such that four steps cover `max_units`.
fn tick_step(max_units: i128) -> i128 {
    nice_step((max_units + 99_999_999) / 100_000_000) * 100_000_000
}

/// A round number (1, 2 or 5 × 10ⁿ, at least 1) such that four of it cover `max`.
pub fn nice_step(max: i128) -> i128 {
    let mut magnitude = 1i128;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * magnitude;
            if step * 4 >= max {
                return step;
            }
        }
        magnitude *= 10;
    }
}

/// Horizontal grid lines from `bottom` to `top` every `step` (the zero line darker), each with
/// its value written by `label`, at the heights `y` gives.
pub fn grid(
    out: &mut String,
    layout: Layout,
    (bottom, top, step): (i128, i128, i128),
    y: impl Fn(i128) -> i128,
    label: impl Fn(i128) -> String,
) {
    let Layout {
        width,
        left,
        right,
        font,
        ..
    } = layout;
    let mut tick = bottom;
    while tick <= top {
        let ty = y(tick);
        let _ = write!(
            out,
            r##"<line x1="{left}" y1="{ty}" x2="{}" y2="{ty}" stroke="{}" stroke-width="1"/><text class="tick" x="{}" y="{}" text-anchor="end" font-size="{font}" fill="#333">{}</text>"##,
            width - right,
            if tick == 0 { "#555" } else { "#d5d9de" },
            left - 6,
            ty + 4,
            escape(&label(tick))
        );
        tick += step;
    }
}

/// The SVG markup. `title` labels the image for assistive technology.
pub fn svg(points: &[Point], lang: Lang, title: &str, layout: Layout) -> String {
    let Layout {
        width,
        height,
        left,
        right,
        top: frame_top,
        bottom: frame_bottom,
        font,
        labels,
        name,
    } = layout;
    let plot_w = width - left - right;
    let plot_h = height - frame_top - frame_bottom;
    let max = points
        .iter()
        .flat_map(|p| (0..3).map(move |s| value(p, s)))
        .max()
        .unwrap_or(0)
        .max(1);
    let min = points
        .iter()
        .flat_map(|p| (0..3).map(move |s| value(p, s)))
        .min()
        .unwrap_or(0)
        .min(0);
    let step = tick_step(max.max(-min));
    let top = step * ((max + step - 1) / step).max(1);
    let bottom = -step * ((-min + step - 1) / step);
    let span = top - bottom;
    let y = |v: i128| frame_top + (top - v) * plot_h / span;
    let n = points.len() as i128;
    let x = |i: i128| {
        if n <= 1 {
            left + plot_w / 2
        } else {
            left + i * plot_w / (n - 1)
        }
    };

    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart chart-{name}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title-{name}" direction="ltr" xmlns="http://www.w3.org/2000/svg"><title id="chart-title-{name}">{}</title>"#,
        escape(title)
    );
    // Horizontal grid lines with their values.
    grid(&mut out, layout, (bottom, top, step), y, |tick| {
        lang.int(i64::try_from(tick / 100_000_000).unwrap_or(i64::MAX))
    });
    // Month labels, named as on the rest of the page (name above year): a few, so they never
    // overlap.
    let every = points.len().div_ceil(labels).max(1) as i128;
    for (i, p) in points.iter().enumerate() {
        let i = i as i128;
        if i % every == 0 || i == n - 1 {
            if i != n - 1 && n - 1 - i < every {
                // The last label is always drawn; skip one that would touch it.
                continue;
            }
            let month = lang.jalali_month(p.month);
            let (month_name, year) = month.rsplit_once(' ').unwrap_or((&month, ""));
            let lx = x(i);
            let ly = height - frame_bottom + font + 6;
            let _ = write!(
                out,
                r##"<text class="month" x="{lx}" y="{ly}" text-anchor="middle" font-size="{font}" fill="#333"><tspan x="{lx}">{}</tspan><tspan x="{lx}" dy="{}">{}</tspan></text>"##,
                escape(month_name),
                font + 3,
                escape(year)
            );
        }
    }
    for (s, (_, colour, dash)) in SERIES.iter().enumerate() {
        let coords: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{},{}", x(i as i128), y(value(p, s))))
            .collect();
        let dash = if dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{dash}""#)
        };
        let _ = write!(
            out,
            r#"<polyline class="series-{s}" points="{}" fill="none" stroke="{colour}" stroke-width="3"{dash} stroke-linejoin="round"/>"#,
            coords.join(" ")
        );
        if points.len() <= 24 {
            // Shrinking markers: where lines meet, every one stays visible as a ring.
            let radius = 7 - 2 * s;
            for (i, p) in points.iter().enumerate() {
                let _ = write!(
                    out,
                    r##"<circle cx="{}" cy="{}" r="{radius}" fill="{colour}" stroke="#fff" stroke-width="1"/>"##,
                    x(i as i128),
                    y(value(p, s))
                );
            }
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(year: i32, month: u8) -> JalaliMonth {
        JalaliMonth { year, month }
    }

    fn flows(fees: i64, repayments: i64, lent: i64) -> MonthFlows {
        MonthFlows {
            fees: Amount::whole(fees),
            repayments: Amount::whole(repayments),
            lent: Amount::whole(lent),
        }
    }

    #[test]
    fn running_totals_fill_quiet_months_and_reach_the_current_one() {
        let data = [
            (m(1405, 11), flows(60, 0, 50)),
            (m(1406, 1), flows(60, 20, 0)),
        ];
        let points = series(&data, m(1406, 2));
        let months: Vec<_> = points
            .iter()
            .map(|p| (p.month.year, p.month.month))
            .collect();
        assert_eq!(months, [(1405, 11), (1405, 12), (1406, 1), (1406, 2)]);
        assert_eq!(points[0].cash, Amount::whole(10));
        assert_eq!(points[0].outstanding, Amount::whole(50));
        assert_eq!(
            points[1],
            Point {
                month: m(1405, 12),
                ..points[0]
            }
        );
        assert_eq!(points[2].contributions, Amount::whole(120));
        assert_eq!(points[2].cash, Amount::whole(90));
        assert_eq!(points[2].outstanding, Amount::whole(30));
        assert!(series(&[], m(1405, 1)).is_empty());
    }

    #[test]
    fn long_histories_keep_the_latest_months() {
        let data = [(m(1400, 1), flows(20, 0, 0))];
        let points = series(&data, m(1405, 1));
        assert_eq!(points.len(), MAX_POINTS);
        assert_eq!(points.last().unwrap().month, m(1405, 1));
        assert_eq!(points[0].contributions, Amount::whole(20));
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            tick_step(Amount::whole(100).units()),
            Amount::whole(50).units()
        );
        assert_eq!(
            tick_step(Amount::whole(7).units()),
            Amount::whole(2).units()
        );
        assert_eq!(tick_step(1), Amount::whole(1).units());
        assert_eq!(
            tick_step(Amount::whole(1800).units()),
            Amount::whole(500).units()
        );
    }

    #[test]
    fn the_svg_has_one_line_per_series_inside_the_frame() {
        let data = [
            (m(1405, 9), flows(40, 0, 30)),
            (m(1405, 10), flows(40, 20, 0)),
        ];
        for layout in [WIDE, NARROW] {
            let svg = svg(&series(&data, m(1405, 10)), Lang::Fa, "<chart>", layout);
            assert!(svg.starts_with("<svg"));
            assert_eq!(svg.matches("<polyline").count(), 3);
            assert!(svg.contains("&lt;chart&gt;"));
            // Months named as on the page, the year below.
            assert!(
                svg.contains(">آذر</tspan>") && svg.contains(">۱۴۰۵</tspan>"),
                "{svg}"
            );
            assert!(svg.contains(&format!(
                "viewBox=\"0 0 {} {}\"",
                layout.width, layout.height
            )));
            for pair in svg.split("points=\"").skip(1) {
                for xy in pair.split('"').next().unwrap().split(' ') {
                    let (x, y) = xy.split_once(',').unwrap();
                    let (x, y): (i128, i128) = (x.parse().unwrap(), y.parse().unwrap());
                    assert!(
                        (layout.left..=layout.width - layout.right).contains(&x)
                            && (layout.top..=layout.height - layout.bottom).contains(&y)
                    );
                }
            }
        }
    }

    #[test]
    fn month_labels_are_few_and_include_the_last_month() {
        let data = [(m(1404, 1), flows(20, 0, 0))];
        let points = series(&data, m(1405, 9));
        let wide = svg(&points, Lang::En, "t", WIDE);
        let narrow = svg(&points, Lang::En, "t", NARROW);
        assert!((5..=7).contains(&wide.matches("class=\"month\"").count()));
        assert!((2..=4).contains(&narrow.matches("class=\"month\"").count()));
        for svg in [wide, narrow] {
            assert!(svg.contains(">Azar</tspan><tspan") && svg.contains(">Farvardin</tspan>"));
        }
    }
}
