//! The legal side of the report: the orders recorded, the disclosures made under them, and
//! a timeline drawn as inline SVG (no script) that shows who held the evidence where, each
//! order's validity, the deadlines, and each disclosure as an arrow to its recipient.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use custos_manifest::custody::{Action, Event};

use super::html::{esc, person, Context};
use crate::human;
use crate::judge::Judgement;

/// The legal orders recorded in the custody log (docs/formats/orders.md), when there are any:
/// what each authorises, for which data, from when until when, and the document kept.
pub(super) fn orders(html: &mut String, judgement: &Judgement, context: &Context) {
    let recorded: Vec<_> =
        judgement.verification.events.iter().filter_map(|e| e.order.as_ref().map(|o| (e, o))).collect();
    if recorded.is_empty() {
        return;
    }
    html.push_str("<h2>Orders</h2>\n<table><tr><th>Order</th><th>Issued by</th><th>Valid</th><th>Kinds of data</th><th>Recorded</th></tr>\n");
    for (event, order) in recorded {
        let data = match &order.categories {
            None => "all".to_owned(),
            Some(categories) => categories.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
        };
        let extends = order.extends.as_deref().map(|r| format!("<br>extends {}", esc(r))).unwrap_or_default();
        let document = order
            .document
            .as_ref()
            .map(|d| {
                format!(
                    "<br>document <code>{}</code> (SHA-256 <span class=\"mono\">{}</span>)",
                    esc(&d.path),
                    esc(&d.sha256)
                )
            })
            .unwrap_or_default();
        let enforcing =
            order.enforcing_state.as_deref().map(|s| format!(", executed in {}", esc(s))).unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr><td>{} <strong>{}</strong>{extends}{document}</td><td>{} ({}{enforcing}), {}</td><td class=\"when\">{} to {}</td><td>{}</td><td>event {} by {}</td></tr>",
            esc(&order.kind.replace('_', " ")),
            esc(&order.reference),
            esc(&order.issuer),
            esc(&order.issuing_state),
            esc(&human::time(&order.issued_at)),
            esc(&human::time(&order.valid_from)),
            esc(&human::time(&order.valid_until)),
            esc(&data),
            event.sequence,
            person(event, &context.names)
        );
    }
    html.push_str("</table>\n");
}

/// The disclosures to other authorities (docs/formats/custody.md, "Disclosures"): to whom,
/// under which order, for what, on which conditions, until when, whether it may go on, and
/// whether the recipient acknowledged, returned or destroyed it.
pub(super) fn disclosures(html: &mut String, judgement: &Judgement, context: &Context) {
    let events = &judgement.verification.events;
    let disclosed: Vec<&Event> = events.iter().filter(|e| e.action == Action::Disclosed).collect();
    if disclosed.is_empty() {
        return;
    }
    let state = &judgement.verification.custody.holder.disclosures;
    html.push_str("<h2>Disclosures</h2>\n<table><tr><th>#</th><th>To</th><th>Under</th><th>Purpose and conditions</th><th>Data</th><th>Keep until</th><th>Onward transfer</th><th>Since</th></tr>\n");
    for event in disclosed {
        let known = state.iter().find(|d| d.sequence == event.sequence);
        let to = event.receiver.as_deref().map(|to| context.names.of(to)).unwrap_or_default();
        let items = if event.items.is_empty() { "every item".to_owned() } else { event.items.join(", ") };
        let onward = match known {
            Some(d) if d.authorisations.is_empty() => d.onward.name().to_owned(),
            Some(d) => format!(
                "{}; authorised: {}",
                d.onward.name(),
                d.authorisations
                    .iter()
                    .map(|(reference, to, sequence)| format!(
                        "{reference} to {} (event {sequence})",
                        context.names.of(to)
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            None => event.onward.map(|o| o.name().to_owned()).unwrap_or_default(),
        };
        let since = match known {
            Some(d) => {
                let mut said = match d.accepted {
                    Some(n) => format!("acknowledged by the recipient (event {n})"),
                    None => "not yet acknowledged by the recipient".to_owned(),
                };
                if let Some((n, action)) = d.disposed {
                    let _ = write!(said, "; {} by the recipient (event {n})", action.name());
                }
                if let Some(of) = d.onward_of {
                    let _ = write!(said, "; passes on disclosure {of}");
                }
                said
            }
            None => String::new(),
        };
        let conditions =
            event.conditions.as_deref().map(|c| format!("<br>conditions: {}", esc(c))).unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}<br><span class=\"id\">by {}</span></td><td>{}</td><td>{}{conditions}</td><td>{}</td><td class=\"when\">{}</td><td>{}</td><td>{}</td></tr>",
            event.sequence,
            esc(&to),
            person(event, &context.names),
            esc(event.legal_basis.as_deref().unwrap_or("")),
            esc(event.purpose.as_deref().unwrap_or("")),
            esc(&items),
            esc(&event.retain_until.as_deref().map(human::time).unwrap_or_else(|| "not stated".into())),
            esc(&onward),
            esc(&since)
        );
    }
    html.push_str("</table>\n");
}

/// Drawing sizes, in SVG user units.
const WIDTH: f64 = 960.0;
const LEFT: f64 = 190.0;
const RIGHT: f64 = 20.0;
const LANE: f64 = 34.0;

/// The custody timeline: one lane per party (the sealer, everyone custody passed to, every
/// recipient), a dot for each event with the country the evidence was in, an arrow for each
/// hand-over and disclosure, a bar for each order's validity, a dashed line for each
/// deadline. Drawn from the verified events only; every text escaped.
pub(super) fn timeline(html: &mut String, judgement: &Judgement, context: &Context) {
    let events = &judgement.verification.events;
    let times: Vec<(usize, i64)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| custos_manifest::time::parse_rfc3339(&e.time).map(|t| (i, t)))
        .collect();
    let (Some(first), Some(last)) = (times.iter().map(|t| t.1).min(), times.iter().map(|t| t.1).max()) else {
        return;
    };
    let orders: Vec<(&custos_manifest::order::Order, i64, i64)> = events
        .iter()
        .filter_map(|e| e.order.as_ref())
        .filter_map(|o| {
            let from = custos_manifest::time::parse_rfc3339(&o.valid_from)?;
            let until = custos_manifest::time::parse_rfc3339(&o.valid_until)?;
            Some((o, from, until))
        })
        .collect();
    let deadlines = &judgement.deadlines;
    // The span shown: every event and order start, and what follows up to a bound, so that
    // an order valid for ten years does not squeeze the events into a point.
    let start = orders.iter().map(|o| o.1).chain([first]).min().unwrap_or(first);
    let span = (last - start).max(86_400 * 90);
    let wanted = orders
        .iter()
        .map(|o| o.2)
        .chain(deadlines.iter().map(|d| d.due_at))
        .chain([last])
        .max()
        .unwrap_or(last);
    let end = wanted.min(last + 2 * span);
    let x = |t: i64| {
        LEFT + (WIDTH - LEFT - RIGHT) * ((t.clamp(start, end) - start) as f64 / (end - start).max(1) as f64)
    };

    // Lanes, in order of appearance.
    let mut lanes: Vec<String> = Vec::new();
    for event in events {
        for key in [Some(event.actor.key_id.as_str()), event.receiver.as_deref()].into_iter().flatten() {
            if !lanes.iter().any(|l| l == key) {
                lanes.push(key.to_owned());
            }
        }
    }
    let lane_y = |key: &str| 48.0 + LANE * lanes.iter().position(|l| l == key).unwrap_or(0) as f64;
    let bars_top = 48.0 + LANE * lanes.len() as f64;
    let height = bars_top + 18.0 * orders.len() as f64 + 40.0;
    let _ = write!(
        html,
        "<h2>Timeline</h2>\n<svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"100%\" role=\"img\" aria-label=\"Custody timeline\" font-family=\"sans-serif\" font-size=\"11\">\n<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\"/></marker></defs>\n"
    );
    let _ = writeln!(
        html,
        "<text x=\"{LEFT}\" y=\"14\">{}</text><text x=\"{:.0}\" y=\"14\" text-anchor=\"end\">{}</text>",
        esc(&day(start)),
        WIDTH - RIGHT,
        esc(&day(end))
    );
    for key in &lanes {
        let y = lane_y(key);
        let name = context.names.of(key);
        let shown: String = name.chars().take(28).collect();
        let _ = writeln!(
            html,
            "<line x1=\"{LEFT}\" y1=\"{y:.0}\" x2=\"{:.0}\" y2=\"{y:.0}\" stroke=\"#bbb\"/><text x=\"4\" y=\"{:.0}\"><title>{}</title>{}</text>",
            WIDTH - RIGHT,
            y + 4.0,
            esc(&name),
            esc(&shown)
        );
    }
    // Arrows first, then dots over them.
    for event in events {
        let (Some(to), Some(t)) =
            (event.receiver.as_deref(), custos_manifest::time::parse_rfc3339(&event.time))
        else {
            continue;
        };
        if !matches!(event.action, Action::Released | Action::Disclosed) {
            continue;
        }
        let dashed = if event.action == Action::Disclosed { " stroke-dasharray=\"4 2\"" } else { "" };
        let _ = writeln!(
            html,
            "<line x1=\"{:.1}\" y1=\"{:.0}\" x2=\"{:.1}\" y2=\"{:.0}\" stroke=\"#555\"{dashed} marker-end=\"url(#arrow)\"><title>event {}: {} to {}</title></line>",
            x(t),
            lane_y(&event.actor.key_id),
            x(t) + 6.0,
            lane_y(to),
            event.sequence,
            event.action.name(),
            esc(&context.names.of(to))
        );
    }
    let mut country: Option<&str> = None;
    // Per lane: where the last country label went, and how many are stacked there.
    let mut last_label: BTreeMap<String, (f64, u32)> = BTreeMap::new();
    for event in events {
        country = event.country.as_deref().or(country);
        let Some(t) = custos_manifest::time::parse_rfc3339(&event.time) else { continue };
        let (cx, cy) = (x(t), lane_y(&event.actor.key_id));
        let _ = writeln!(
            html,
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.0}\" r=\"4\" fill=\"#245\"><title>event {}: {} on {}, in {}</title></circle>",
            event.sequence,
            event.action.name(),
            esc(&human::time(&event.time)),
            esc(country.unwrap_or("an unknown country"))
        );
        // The country where it changes (or first shows), kept apart from the last label.
        if let Some(stated) = event.country.as_deref() {
            // Labels too close to the last one on the lane stack upwards.
            let stack = match last_label.get(&event.actor.key_id) {
                Some((at, stacked)) if cx - at <= 22.0 => stacked + 1,
                _ => 0,
            };
            let _ = writeln!(
                html,
                "<text x=\"{cx:.1}\" y=\"{:.0}\" text-anchor=\"middle\">{}</text>",
                cy - 8.0 - 11.0 * f64::from(stack.min(3)),
                esc(stated)
            );
            last_label.insert(event.actor.key_id.clone(), (cx, stack));
        }
    }
    for (row, (order, from, until)) in orders.iter().enumerate() {
        let y = bars_top + 18.0 * row as f64;
        let (x1, x2) = (x(*from), x(*until));
        let beyond = if *until > end { " \u{2192}" } else { "" };
        let _ = writeln!(
            html,
            "<rect x=\"{x1:.1}\" y=\"{y:.0}\" width=\"{:.1}\" height=\"12\" fill=\"#cde\" stroke=\"#579\"><title>{} {}: valid {} to {}</title></rect><text x=\"4\" y=\"{:.0}\">{} {}{beyond}</text>",
            (x2 - x1).max(1.0),
            esc(&order.kind),
            esc(&order.reference),
            esc(&human::time(&order.valid_from)),
            esc(&human::time(&order.valid_until)),
            y + 10.0,
            esc(&order.kind.replace('_', " ")),
            esc(&order.reference.chars().take(20).collect::<String>())
        );
    }
    for deadline in deadlines.iter().filter(|d| d.due_at <= end) {
        let dx = x(deadline.due_at);
        let _ = writeln!(
            html,
            "<line x1=\"{dx:.1}\" y1=\"20\" x2=\"{dx:.1}\" y2=\"{:.0}\" stroke=\"#b33\" stroke-dasharray=\"3 3\"><title>{}</title></line>",
            height - 20.0,
            esc(&crate::deadlines::describe(deadline))
        );
    }
    let _ = writeln!(
        html,
        "<text x=\"4\" y=\"{:.0}\">dots: events, with the country where one is stated \u{b7} arrows: hand-overs (solid), disclosures (dashed) \u{b7} bars: orders' validity \u{b7} red dashes: deadlines</text>\n</svg>",
        height - 6.0
    );
}

/// A time as a date (`7 December 2026`).
fn day(seconds: i64) -> String {
    custos_manifest::time::date_in_words(seconds.max(0) as u64)
}
