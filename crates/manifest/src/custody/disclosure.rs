//! Disclosures to other authorities (`docs/formats/custody.md`, "Disclosures"): who gave
//! which data to whom, under which order, for what, until when, and whether it may go on.
//!
//! A disclosure gives the recipient a copy; the holder keeps the evidence. So a disclosure
//! changes no holder: it opens an obligation of its own, which the recipient's `accepted`
//! (naming the `disclosed` line in `disclosure`) acknowledges and its `returned` or
//! `destroyed` (naming it too) ends. The recipient may pass on what it received only when
//! the disclosure said `onward: authorised` and the discloser then recorded an
//! `onward_authorised` event for that very recipient; its onward disclosure names the
//! authorisation it relies on. Under `onward: forbidden` nothing goes further, whatever
//! anyone signs later.

use crate::custody::{Action, Event, Onward};
use crate::holder::{CustodyState, Party, Violation};

/// A disclosure recorded in the log, and what followed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Disclosure {
    /// The `disclosed` event's number.
    pub sequence: u64,
    /// SHA-256 (hex) of its line: what later events name in `disclosure`.
    #[serde(skip)]
    pub line: String,
    /// Who disclosed.
    pub from: Party,
    /// The recipient's key id.
    pub to: String,
    /// The reference of the order it relies on.
    pub order: String,
    /// The items disclosed (every item, when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Whether the recipient may pass it on.
    pub onward: Onward,
    /// Until when the recipient may keep it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<String>,
    /// The disclosure this one passes on, when its discloser received the data by one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub onward_of: Option<u64>,
    /// The recipient's acceptance, by event number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<u64>,
    /// Onward authorisations the discloser recorded: (reference, recipient key id, event).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorisations: Vec<(String, String, u64)>,
    /// The authorisations relied on, each by the onward disclosure that used it: (reference,
    /// event). An authorisation is for one transfer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub used: Vec<(String, u64)>,
    /// The recipient's return or destruction of its copy: (event, action).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposed: Option<(u64, Action)>,
}

impl Disclosure {
    /// Whether `path` was disclosed.
    pub fn covers(&self, path: &str) -> bool {
        self.items.is_empty() || self.items.iter().any(|item| item == path)
    }
}

fn rule(reason: String) -> Violation {
    Violation { check: "custody.disclosure", reason }
}

fn onward_rule(reason: String) -> Violation {
    Violation { check: "custody.onward", reason }
}

/// Whether a `disclosed` event is a bare record as version 0.2 wrote them (`custody record
/// --action disclosed`): no recipient and none of the terms 0.3 added. It stays valid (a
/// package sealed then must verify now) as a note by the holder; it names nobody, so it
/// opens no disclosure and gives no one any right, and a policy's transfer rule fails it
/// for naming neither order nor recipient.
pub fn is_bare(event: &Event) -> bool {
    event.action == Action::Disclosed
        && event.receiver.is_none()
        && event.onward.is_none()
        && event.disclosure.is_none()
        && event.authorisation.is_none()
        && event.conditions.is_none()
        && event.retain_until.is_none()
}

/// The fields a disclosure's rules give meaning to, on an event they do not belong on: a
/// field that means nothing where it stands would still be shown, and believed.
pub fn misplaced_fields(event: &Event) -> Vec<&'static str> {
    let disclosed = event.action == Action::Disclosed;
    let mut misplaced = Vec::new();
    for (field, present, allowed) in [
        ("conditions", event.conditions.is_some(), disclosed),
        ("retain_until", event.retain_until.is_some(), disclosed),
        ("onward", event.onward.is_some(), disclosed),
        (
            "authorisation",
            event.authorisation.is_some(),
            disclosed || event.action == Action::OnwardAuthorised,
        ),
        (
            "disclosure",
            event.disclosure.is_some(),
            matches!(
                event.action,
                Action::Disclosed
                    | Action::OnwardAuthorised
                    | Action::Accepted
                    | Action::Returned
                    | Action::Destroyed
            ),
        ),
        ("to_state", event.to_state.is_some(), event.action == Action::Notified),
        ("hold", event.hold.is_some(), event.action == Action::HoldLifted),
        ("witnessed", event.witnessed.is_some(), event.action == Action::Witnessed),
    ] {
        if present && !allowed {
            misplaced.push(field);
        }
    }
    misplaced
}

/// Applies an event that concerns a disclosure to `state`; `None` for every other event
/// (the holder rules decide those). `holder` is who holds the evidence before the event.
pub(crate) fn apply(
    state: &mut CustodyState,
    event: &Event,
    line_digest: &str,
    holder: &Party,
) -> Option<Result<(), Violation>> {
    let named = event.disclosure.as_deref();
    let result = match (event.action, named) {
        (Action::Disclosed, _) if is_bare(event) => bare(state, event, holder),
        (Action::Disclosed, _) => disclose(state, event, line_digest, holder),
        (Action::OnwardAuthorised, _) => authorise(state, event),
        (Action::Accepted, Some(line)) => with_disclosure(state, line, |d| accept(d, event)),
        (Action::Returned | Action::Destroyed, Some(line)) => {
            with_disclosure(state, line, |d| dispose(d, event))
        }
        _ => return None,
    };
    Some(result)
}

fn with_disclosure(
    state: &mut CustodyState,
    line: &str,
    then: impl FnOnce(&mut Disclosure) -> Result<(), Violation>,
) -> Result<(), Violation> {
    match state.disclosures.iter_mut().find(|d| d.line == line) {
        Some(disclosure) => then(disclosure),
        None => Err(rule("names a disclosure that is not in this log".into())),
    }
}

/// A 0.2 disclosure record ([`is_bare`]): by the holder, before custody ended, as then.
fn bare(state: &CustodyState, event: &Event, holder: &Party) -> Result<(), Violation> {
    if holder.key_id != event.actor.key_id {
        return Err(Violation {
            check: "custody.holder",
            reason: format!(
                "`disclosed` by {} ({}), but {} ({}) holds the evidence",
                event.actor.name, event.actor.key_id, holder.name, holder.key_id
            ),
        });
    }
    match state.ended {
        Some((sequence, action)) => Err(Violation {
            check: "custody.holder",
            reason: format!(
                "custody ended with `{}` at event {sequence}; only observations may follow",
                action.name()
            ),
        }),
        None => Ok(()),
    }
}

fn disclose(
    state: &mut CustodyState,
    event: &Event,
    line_digest: &str,
    holder: &Party,
) -> Result<(), Violation> {
    let Some(to) = event.receiver.clone() else {
        return Err(rule("a disclosure names its recipient's key".into()));
    };
    if to == event.actor.key_id {
        return Err(rule("a disclosure to the discloser's own key".into()));
    }
    if event.purpose.as_deref().is_none_or(|p| p.trim().is_empty()) {
        return Err(rule("a disclosure states its purpose".into()));
    }
    let Some(order) = event.legal_basis.clone() else {
        return Err(rule("a disclosure names the order it relies on".into()));
    };
    let Some(onward) = event.onward else {
        return Err(rule("a disclosure says whether onward transfer is forbidden or authorised".into()));
    };
    if let Some(until) = &event.retain_until {
        if crate::time::parse_rfc3339(until).is_none() {
            return Err(rule(format!("retain_until `{until}` is not an RFC 3339 time")));
        }
    }
    let onward_of = match event.disclosure.as_deref() {
        // The holder discloses the evidence it holds.
        None => {
            if holder.key_id != event.actor.key_id {
                // A recipient that forgot to cite its authorisation is told what it received
                // and under which terms.
                let received: Vec<String> = state
                    .disclosures
                    .iter()
                    .filter(|d| d.to == event.actor.key_id && d.accepted.is_some())
                    .map(|d| match d.onward {
                        Onward::Forbidden => format!("disclosure {} forbids onward transfer", d.sequence),
                        Onward::Authorised => format!(
                            "disclosure {} may be passed on only under {}'s authorisation, cited by its reference (--authorisation REF)",
                            d.sequence, d.from.name
                        ),
                    })
                    .collect();
                let terms =
                    if received.is_empty() { String::new() } else { format!("; {}", received.join("; ")) };
                return Err(Violation {
                    check: "custody.holder",
                    reason: format!(
                        "`disclosed` by {} ({}), but {} ({}) holds the evidence{terms}",
                        event.actor.name, event.actor.key_id, holder.name, holder.key_id
                    ),
                });
            }
            if let Some((sequence, action)) = state.ended {
                return Err(Violation {
                    check: "custody.holder",
                    reason: format!("custody ended with `{}` at event {sequence}", action.name()),
                });
            }
            if event.authorisation.is_some() {
                return Err(rule("the holder's own disclosure relies on no onward authorisation".into()));
            }
            None
        }
        // A recipient passes on what it received.
        Some(line) => {
            let Some(received) = state.disclosures.iter().find(|d| d.line == line) else {
                return Err(rule("passes on a disclosure that is not in this log".into()));
            };
            check_onward(received, event)?;
            let sequence = received.sequence;
            if let (Some(received), Some(reference)) =
                (state.disclosures.iter_mut().find(|d| d.line == line), event.authorisation.clone())
            {
                received.used.push((reference, event.sequence));
            }
            Some(sequence)
        }
    };
    state.disclosures.push(Disclosure {
        sequence: event.sequence,
        line: line_digest.to_owned(),
        from: Party { key_id: event.actor.key_id.clone(), name: event.actor.name.clone() },
        to,
        order,
        items: event.items.clone(),
        onward,
        retain_until: event.retain_until.clone(),
        onward_of,
        accepted: None,
        authorisations: Vec::new(),
        used: Vec::new(),
        disposed: None,
    });
    Ok(())
}

/// A recipient's disclosure of what it received by `received`: only by that recipient,
/// after accepting it and before giving it back, only where onward transfer was
/// authorised, only to the recipient an authorisation names, only of items it received.
fn check_onward(received: &Disclosure, event: &Event) -> Result<(), Violation> {
    let n = received.sequence;
    if received.to != event.actor.key_id {
        return Err(onward_rule(format!("passes on disclosure {n}, which was made to another key")));
    }
    if received.accepted.is_none() {
        return Err(onward_rule(format!("passes on disclosure {n} before accepting it")));
    }
    if let Some((sequence, action)) = received.disposed {
        return Err(onward_rule(format!(
            "passes on disclosure {n} after its copy was {} (event {sequence})",
            action.name()
        )));
    }
    if received.onward == Onward::Forbidden {
        return Err(onward_rule(format!("disclosure {n} forbids onward transfer")));
    }
    let Some(reference) = event.authorisation.as_deref() else {
        return Err(onward_rule(format!(
            "disclosure {n} allows onward transfer only with the discloser's authorisation, and this event cites none"
        )));
    };
    let receiver = event.receiver.as_deref().unwrap_or_default();
    if !received.authorisations.iter().any(|(r, to, _)| r == reference && to == receiver) {
        return Err(onward_rule(format!(
            "cites authorisation `{reference}`, but {} recorded no such authorisation of disclosure {n} to this recipient",
            received.from.name
        )));
    }
    if let Some((_, first)) = received.used.iter().find(|(r, _)| r == reference) {
        return Err(onward_rule(format!(
            "authorisation `{reference}` of disclosure {n} was relied on already (event {first}): each authorises one transfer"
        )));
    }
    if let Some(item) = event.items.iter().find(|item| !received.covers(item)) {
        return Err(onward_rule(format!("passes on {item}, which disclosure {n} did not disclose")));
    }
    if event.items.is_empty() && !received.items.is_empty() {
        return Err(onward_rule(format!(
            "passes on every item, but disclosure {n} disclosed only some: name them"
        )));
    }
    Ok(())
}

fn authorise(state: &mut CustodyState, event: &Event) -> Result<(), Violation> {
    let Some(line) = event.disclosure.as_deref() else {
        return Err(rule("an onward authorisation names the disclosure it concerns".into()));
    };
    let (Some(reference), Some(to)) = (event.authorisation.clone(), event.receiver.clone()) else {
        return Err(rule(
            "an onward authorisation names its reference and the onward recipient's key".into(),
        ));
    };
    with_disclosure(state, line, |disclosure| {
        let n = disclosure.sequence;
        if disclosure.from.key_id != event.actor.key_id {
            return Err(onward_rule(format!(
                "only {}, who made disclosure {n}, may authorise its onward transfer",
                disclosure.from.name
            )));
        }
        if disclosure.onward == Onward::Forbidden {
            return Err(onward_rule(format!("disclosure {n} forbids onward transfer")));
        }
        if disclosure.authorisations.iter().any(|(r, _, _)| *r == reference) {
            return Err(onward_rule(format!(
                "authorisation `{reference}` of disclosure {n} is recorded already"
            )));
        }
        if to == disclosure.to {
            return Err(onward_rule(format!("authorises onward transfer to disclosure {n}'s own recipient")));
        }
        disclosure.authorisations.push((reference, to, event.sequence));
        Ok(())
    })
}

fn accept(disclosure: &mut Disclosure, event: &Event) -> Result<(), Violation> {
    let n = disclosure.sequence;
    if disclosure.to != event.actor.key_id {
        return Err(rule(format!("accepts disclosure {n}, which was made to another key")));
    }
    if event.release.is_some() {
        return Err(rule("accepts a disclosure and a release at once".into()));
    }
    if let Some(first) = disclosure.accepted {
        return Err(rule(format!("disclosure {n} was accepted already (event {first})")));
    }
    disclosure.accepted = Some(event.sequence);
    Ok(())
}

fn dispose(disclosure: &mut Disclosure, event: &Event) -> Result<(), Violation> {
    let n = disclosure.sequence;
    if disclosure.to != event.actor.key_id {
        return Err(rule(format!(
            "`{}` of disclosure {n}, which was made to another key",
            event.action.name()
        )));
    }
    if disclosure.accepted.is_none() {
        return Err(rule(format!("`{}` of disclosure {n}, which was never accepted", event.action.name())));
    }
    if let Some((sequence, action)) = disclosure.disposed {
        return Err(rule(format!("disclosure {n}'s copy was {} already (event {sequence})", action.name())));
    }
    disclosure.disposed = Some((event.sequence, event.action));
    Ok(())
}

/// Which disclosure an event by `signer` concerns when the command leaves it out: the one
/// made to `signer` that is awaiting what `action` does (an acceptance: not yet accepted; a
/// return or destruction: accepted, not yet disposed of), when there is exactly one; for an
/// onward disclosure, the received disclosure holding the `authorisation` cited.
pub fn awaiting<'a>(
    state: &'a CustodyState,
    signer: &str,
    action: Action,
    authorisation: Option<&str>,
) -> Vec<&'a Disclosure> {
    state
        .disclosures
        .iter()
        .filter(|d| d.to == signer)
        .filter(|d| match action {
            Action::Accepted => d.accepted.is_none(),
            Action::Returned | Action::Destroyed => d.accepted.is_some() && d.disposed.is_none(),
            Action::Disclosed => {
                authorisation.is_some_and(|reference| d.authorisations.iter().any(|(r, _, _)| r == reference))
            }
            _ => false,
        })
        .collect()
}
