//! Legal holds and witnessed disposals (`docs/formats/custody.md`, "Holds and disposal").
//!
//! A `legal_hold` event puts the evidence on hold: while any hold is in place, nothing may
//! return or destroy it. Only the key that placed a hold lifts it (`hold_lifted`, naming the
//! hold's line in `hold`), so an insider cannot lift another's hold and then destroy. A
//! `witnessed` event by another key names a `returned` or `destroyed` line in `witnessed`:
//! a second principal vouches for the disposal (a policy may require it).

use crate::custody::{Action, Event};
use crate::holder::{CustodyState, Party, Violation};

/// A hold in place.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hold {
    /// The `legal_hold` event's number.
    pub sequence: u64,
    /// SHA-256 (hex) of its line.
    #[serde(skip)]
    pub line: String,
    /// Who placed it.
    pub by: Party,
}

fn rule(reason: String) -> Violation {
    Violation { check: "custody.hold", reason }
}

/// Applies an event that concerns holds or witnesses to `state`; `None` for every other.
/// Returns and destructions are checked against the holds here, then left to the holder
/// rules.
pub(crate) fn apply(
    state: &mut CustodyState,
    event: &Event,
    line_digest: &str,
) -> Option<Result<(), Violation>> {
    let by = Party { key_id: event.actor.key_id.clone(), name: event.actor.name.clone() };
    match event.action {
        Action::LegalHold if !says_why(event) => {
            Some(Err(rule("a legal hold says why: a note, or the order it rests on (legal_basis)".into())))
        }
        Action::LegalHold => {
            state.holds.push(Hold { sequence: event.sequence, line: line_digest.to_owned(), by });
            Some(Ok(()))
        }
        Action::HoldLifted => Some(lift(state, event, &by)),
        Action::Witnessed => Some(witness(state, event)),
        Action::Returned | Action::Destroyed if event.disclosure.is_none() => state.holds.first().map(|hold| {
            Err(rule(format!(
                "`{}` while the evidence is on legal hold (event {}, placed by {}): nothing may be returned or destroyed until it is lifted",
                event.action.name(),
                hold.sequence,
                hold.by.name
            )))
        }),
        _ => None,
    }
}

fn lift(state: &mut CustodyState, event: &Event, by: &Party) -> Result<(), Violation> {
    let Some(line) = event.hold.as_deref() else {
        return Err(rule("a lifting names the hold it lifts".into()));
    };
    let Some(at) = state.holds.iter().position(|h| h.line == line) else {
        return Err(rule("lifts a hold that is not in place".into()));
    };
    let hold = &state.holds[at];
    if hold.by.key_id != by.key_id {
        return Err(rule(format!(
            "only {}, who placed the hold at event {}, may lift it",
            hold.by.name, hold.sequence
        )));
    }
    state.holds.remove(at);
    Ok(())
}

fn witness(state: &mut CustodyState, event: &Event) -> Result<(), Violation> {
    let Some(line) = event.witnessed.as_deref() else {
        return Err(rule("a witness names the return or destruction it witnessed".into()));
    };
    let Some(disposal) = state.disposals.iter_mut().find(|d| d.line == line) else {
        return Err(rule("witnesses a return or destruction that is not in this log".into()));
    };
    if disposal.by.key_id == event.actor.key_id {
        return Err(rule(format!(
            "{} witnesses the {} they signed themselves (event {}): a witness is a second principal",
            event.actor.name,
            disposal.action.name(),
            disposal.sequence
        )));
    }
    if disposal.witnesses.iter().any(|w| w.key_id == event.actor.key_id) {
        return Err(rule(format!("{} witnessed event {} already", event.actor.name, disposal.sequence)));
    }
    disposal.witnesses.push(Party { key_id: event.actor.key_id.clone(), name: event.actor.name.clone() });
    Ok(())
}

/// A return or destruction of the evidence (not of a disclosed copy), and who witnessed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Disposal {
    /// The event's number.
    pub sequence: u64,
    /// SHA-256 (hex) of its line.
    #[serde(skip)]
    pub line: String,
    /// `returned` or `destroyed`.
    pub action: Action,
    /// Who signed it.
    pub by: Party,
    /// Who witnessed it, each once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<Party>,
}

/// Whether a hold says why: a note or a legal basis with something visible in it.
fn says_why(event: &Event) -> bool {
    [event.note.as_deref(), event.legal_basis.as_deref()]
        .into_iter()
        .flatten()
        .any(|text| text.chars().any(|c| !c.is_whitespace() && !crate::safe_text::is_unsafe(c)))
}
