//! `transfer` (version 2): every disclosure relies on an order in force, of a kind the
//! policy allows, goes to a recipient the policy trusts, and is not kept past its retention
//! date; onward transfers rely on the discloser's authorisation (modelled on the data
//! protection safeguards of CETS 224 art. 14).

use custos_manifest::custody::{Action, Event};

use super::orders::Orders;
use super::*;
use crate::policy::TransferRule;

pub(super) fn judge(policy: &Policy, evidence: &Evidence, at: i64, keys: &KeyTable, out: &mut Collected) {
    let Some(rule) = &policy.transfer else {
        out.add("transfer", PolicyVerdict::NotApplicable, "no transfer rule", "");
        return;
    };
    let orders = Orders::new(evidence, keys);
    let disclosures: Vec<&Event> = evidence.events.iter().filter(|e| e.action == Action::Disclosed).collect();
    if disclosures.is_empty() {
        out.add("transfer", PolicyVerdict::NotApplicable, "nothing was disclosed", &rule.cite);
    }
    let numbers = line_numbers(evidence.events);
    for event in disclosures {
        let subject = keys.subject(event);
        if custos_manifest::custody::disclosure::is_bare(event) {
            out.add(
                "transfer.order",
                PolicyVerdict::Fail,
                about(&subject, "a disclosure recorded as version 0.2 recorded them, naming no order and no recipient: neither can be judged"),
                &rule.cite,
            );
            continue;
        }
        let time = evidence
            .trusted_times
            .events
            .get(&event.sequence)
            .copied()
            .or_else(|| parse_rfc3339(&event.time));
        order_in_force(rule, event, time, &orders, &subject, out);
        recipient(rule, event, time, keys, &subject, out);
        retention(rule, event, at, evidence.events, &numbers, &subject, out);
        if let Some(received) = event.disclosure.as_deref() {
            // The verifier refuses an onward disclosure without a matching authorisation;
            // the policy says which one it relied on.
            let of = numbers
                .get(received)
                .map_or_else(|| "a disclosure".to_owned(), |n| format!("disclosure {n}"));
            out.add(
                "transfer.onward",
                PolicyVerdict::Pass,
                about(
                    &subject,
                    format!(
                        "passes on {of} under the discloser's authorisation {}",
                        quoted(event.authorisation.as_deref().unwrap_or("?"))
                    ),
                ),
                &rule.cite,
            );
        }
    }
}

/// `transfer.order`: the order named is recorded, of an allowed kind, and in force (itself
/// or an order extending it) at the disclosure.
fn order_in_force(
    rule: &TransferRule,
    event: &Event,
    time: Option<i64>,
    orders: &Orders,
    subject: &str,
    out: &mut Collected,
) {
    let named = event.legal_basis.as_deref().unwrap_or_default();
    let chain = orders.chain(named);
    let text = match (chain.first(), time) {
        (None, _) => Err(format!(
            "relies on {}, which is not an order recorded by a key this policy trusts",
            quoted(named)
        )),
        (Some(_), None) => Err("its time cannot be read".into()),
        (Some(order), _) if !rule.order_kinds.is_empty() && !rule.order_kinds.contains(&order.order.kind) => {
            Err(format!(
                "relies on {}, a {}; disclosures need {}",
                quoted(named),
                order.order.kind,
                names_with(&rule.order_kinds, " or ")
            ))
        }
        (Some(order), Some(time)) => match chain.iter().find(|o| o.in_force_at(time)) {
            Some(valid) => Ok(format!("under {}, in force on {}", valid.describe(), date(time))),
            None => Err(format!("made on {}, outside the validity of {}", date(time), order.describe())),
        },
    };
    add(out, "transfer.order", subject, text, &rule.cite);
}

/// `transfer.recipient`: the recipient's key is one the policy trusted at the disclosure,
/// in a role it names.
fn recipient(
    rule: &TransferRule,
    event: &Event,
    time: Option<i64>,
    keys: &KeyTable,
    subject: &str,
    out: &mut Collected,
) {
    let to = event.receiver.as_deref().unwrap_or_default();
    let text = match keys.trusted_at(to, time, None) {
        Err(reason) => Err(format!("the recipient (key {}): {reason}", short(to))),
        Ok(key)
            if !rule.recipient_roles.is_empty()
                && !key.roles.iter().any(|r| rule.recipient_roles.contains(r)) =>
        {
            Err(format!(
                "the recipient {} acts as {}; recipients need one of {}",
                quoted(&key.principal),
                if key.roles.is_empty() { "nothing".into() } else { names(&key.roles) },
                names(&rule.recipient_roles)
            ))
        }
        Ok(key) => Ok(format!("to {}, a recipient these rules trust", quoted(&key.principal))),
    };
    add(out, "transfer.recipient", subject, text, &rule.cite);
}

/// `transfer.retention`: a retention date where required, and none passed while the
/// recipient still holds the data (no `returned` or `destroyed` of this disclosure by it).
fn retention(
    rule: &TransferRule,
    event: &Event,
    at: i64,
    events: &[Event],
    numbers: &BTreeMap<&str, u64>,
    subject: &str,
    out: &mut Collected,
) {
    let disposed = events.iter().find(|e| {
        matches!(e.action, Action::Returned | Action::Destroyed)
            && e.actor.key_id == event.receiver.as_deref().unwrap_or_default()
            && e.disclosure.as_deref().and_then(|line| numbers.get(line)) == Some(&event.sequence)
    });
    let text = match (event.retain_until.as_deref(), disposed) {
        (_, Some(disposal)) => {
            Ok(format!("the recipient's copy was {} at event {}", disposal.action.name(), disposal.sequence))
        }
        (None, None) if rule.retention_date_required => {
            Err("states no date until which the recipient may keep the data".into())
        }
        (None, None) => Ok("no retention date stated".into()),
        (Some(until), None) => match parse_rfc3339(until) {
            None => Err(format!("the retention date {} cannot be read", quoted(until))),
            Some(end) if at > end => Err(format!(
                "the recipient may keep the data until {}, and no return or destruction is recorded",
                date(end)
            )),
            Some(end) => {
                Ok(format!("may be kept until {} ({:.1} days left)", date(end), days_between(at, end)))
            }
        },
    };
    add(out, "transfer.retention", subject, text, &rule.cite);
}

/// A finding from a pass text or a failure text.
fn add(out: &mut Collected, rule: &'static str, subject: &str, text: Result<String, String>, cite: &str) {
    match text {
        Ok(text) => out.add(rule, PolicyVerdict::Pass, about(subject, text), cite),
        Err(text) => out.add(rule, PolicyVerdict::Fail, about(subject, text), cite),
    }
}

/// Each line's SHA-256 with its event number (each event names the digest of the line
/// before it).
pub(super) fn line_numbers(events: &[Event]) -> BTreeMap<&str, u64> {
    events.iter().filter_map(|e| Some((e.previous.as_deref()?, e.sequence.checked_sub(1)?))).collect()
}
