//! Two figures per month as a server-rendered SVG bar chart: two bars a month (what was invoiced
//! and what was collected, say), amounts of one currency with `places` decimals or counts (0). Coordinates are integers computed from exact
//! minor units; the axis reads in whole units, shortened (`2.5M`, `۲٫۵ میلیون`).

use std::fmt::Write;

use super::chart::{grid, nice_step, Layout};
use super::i18n::Lang;
use saghat_core::platform::html::escape;

/// (fill colour, pattern id or "" for a plain fill): distinguishable without colour too.
pub const SERIES: [(&str, &str); 2] = [("#1f4e9c", ""), ("#0b6e4f", "hatch")];

/// One month's two values in minor units, and its label (name, year).
pub struct Bar {
    pub label: (String, String),
    pub values: [i128; 2],
}

/// `n` whole units, shortened by thousands.
fn short(lang: Lang, whole: i128) -> String {
    const STEPS: [(i128, &str, &str); 3] = [
        (1_000_000_000, "B", " میلیارد"),
        (1_000_000, "M", " میلیون"),
        (1_000, "K", " هزار"),
    ];
    for (size, en, fa) in STEPS {
        if whole.abs() >= size {
            let tenths = whole * 10 / size;
            let text = if tenths % 10 == 0 {
                format!("{}", tenths / 10)
            } else {
                format!("{}.{}", tenths / 10, (tenths % 10).abs())
            };
            return match lang {
                Lang::En => format!("{text}{en}"),
                Lang::Fa => format!("{}{fa}", lang.digits(&text.replace('.', "٫"))),
            };
        }
    }
    lang.digits(&whole.to_string())
}

/// The SVG markup. `title` labels the image for assistive technology.
pub fn svg(bars: &[Bar], places: u32, lang: Lang, title: &str, layout: Layout) -> String {
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
    let per_unit = 10i128.pow(places);
    let plot_w = width - left - right;
    let plot_h = height - frame_top - frame_bottom;
    let max = bars.iter().flat_map(|b| b.values).max().unwrap_or(0).max(1);
    let min = bars.iter().flat_map(|b| b.values).min().unwrap_or(0).min(0);
    // Round steps of whole units (at least one), four of them covering the largest value.
    let step = nice_step((max.max(-min) + per_unit - 1) / per_unit) * per_unit;
    let top = step * ((max + step - 1) / step).max(1);
    let bottom = -step * ((-min + step - 1) / step);
    let span = top - bottom;
    let y = |v: i128| frame_top + (top - v) * plot_h / span;
    let n = bars.len().max(1) as i128;
    let slot = plot_w / n;
    let bar_w = (slot * 2 / 5).max(1);

    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg class="chart chart-{name}" viewBox="0 0 {width} {height}" role="img" aria-labelledby="bars-title-{name}" direction="ltr" xmlns="http://www.w3.org/2000/svg"><title id="bars-title-{name}">{}</title><defs><pattern id="hatch-{name}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="{}"/><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/></pattern></defs>"##,
        escape(title),
        SERIES[1].0
    );
    grid(&mut out, layout, (bottom, top, step), y, |tick| {
        short(lang, tick / per_unit)
    });
    let every = bars.len().div_ceil(labels).max(1);
    for (i, bar) in bars.iter().enumerate() {
        let x0 = left + i as i128 * slot + (slot - 2 * bar_w) / 2;
        for (s, value) in bar.values.iter().enumerate() {
            let (colour, pattern) = SERIES[s];
            let fill = if pattern.is_empty() {
                colour.to_string()
            } else {
                format!("url(#{pattern}-{name})")
            };
            let (y0, y1) = (y(*value.max(&0)), y(*value.min(&0)));
            let _ = write!(
                out,
                r#"<rect class="series-{s}" x="{}" y="{y0}" width="{bar_w}" height="{}" fill="{fill}" stroke="{colour}" stroke-width="1"/>"#,
                x0 + s as i128 * bar_w,
                (y1 - y0).max(1)
            );
        }
        let last = i + 1 == bars.len();
        // A few labels that never touch, the last month always.
        if last || i % every == 0 && bars.len() - 1 - i >= every {
            let lx = left + i as i128 * slot + slot / 2;
            let ly = height - frame_bottom + font + 6;
            let _ = write!(
                out,
                r##"<text class="month" x="{lx}" y="{ly}" text-anchor="middle" font-size="{font}" fill="#333"><tspan x="{lx}">{}</tspan><tspan x="{lx}" dy="{}">{}</tspan></text>"##,
                escape(&bar.label.0),
                font + 3,
                escape(&bar.label.1)
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::chart::{NARROW, WIDE};

    fn bars(values: &[[i128; 2]]) -> Vec<Bar> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Bar {
                label: (format!("M{i}"), "1405".into()),
                values: *v,
            })
            .collect()
    }

    #[test]
    fn two_bars_a_month_inside_the_frame_with_short_ticks() {
        // EUR cents: 2,500,000.00 and 1,190.00.
        let data = bars(&[[250_000_000, 119_000], [0, 250_000_000], [119_000, 0]]);
        for layout in [WIDE, NARROW] {
            let svg = svg(&data, 2, Lang::En, "<t>", layout);
            assert_eq!(svg.matches("<rect class=\"series-").count(), 6);
            assert!(svg.contains("&lt;t&gt;"));
            assert!(
                svg.contains(">1M</text>") || svg.contains(">2M</text>"),
                "{svg}"
            );
            for rect in svg.split("<rect class=\"series-").skip(1) {
                let attr = |name: &str| -> i128 {
                    let at = rect.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
                    rect[at..].split('"').next().unwrap().parse().unwrap()
                };
                let (x, y, w, h) = (attr("x"), attr("y"), attr("width"), attr("height"));
                assert!(
                    x >= layout.left && x + w <= layout.width - layout.right,
                    "{rect}"
                );
                assert!(
                    y >= layout.top && y + h <= layout.height - layout.bottom + 1,
                    "{rect}"
                );
            }
        }
    }

    #[test]
    fn persian_ticks_use_persian_digits_and_words() {
        assert_eq!(short(Lang::Fa, 2_500_000), "۲٫۵ میلیون");
        assert_eq!(short(Lang::En, 2_500_000), "2.5M");
        assert_eq!(short(Lang::En, 1_000), "1K");
        assert_eq!(short(Lang::En, 500), "500");
        assert_eq!(short(Lang::Fa, 0), "۰");
    }
}
