//! When events happened (`occurred_at`), beside when they were signed (`time`): the physical
//! exhibit's seizure, transport and arrival at the lab happen before the package exists and
//! are recorded after it is sealed; anything else may be recorded late, and is shown so.
//!
//! Chronology applies to both times. An event never happened after it was signed; an event
//! about the evidence never happened before the seal; and on each track (the physical
//! exhibit; the evidence itself) what the log records later never happened earlier than
//! what it recorded before, so a late record cannot be slipped in as an earlier step.

use super::{Action, Event, MAX_CLOCK_SKEW_SECONDS};
use crate::time::parse_rfc3339;

impl Action {
    /// Actions on the physical exhibit (`seized`, `transported`, `received_at_lab`): they
    /// may have happened before sealing, and say when with `occurred_at`.
    pub fn is_about_the_exhibit(self) -> bool {
        matches!(self, Action::Seized | Action::Transported | Action::ReceivedAtLab)
    }
}

/// When an event happened: its `occurred_at`, else when it was signed. `None` when the time
/// it gives cannot be read.
pub fn occurred(event: &Event) -> Option<i64> {
    parse_rfc3339(event.occurred_at.as_deref().unwrap_or(&event.time))
}

/// How long after it happened an event was signed, in seconds (0 when it says nothing else).
pub fn recorded_after(event: &Event) -> i64 {
    match (event.occurred_at.as_deref().and_then(parse_rfc3339), parse_rfc3339(&event.time)) {
        (Some(happened), Some(signed)) => signed.saturating_sub(happened).max(0),
        _ => 0,
    }
}

/// The last occurrence seen on each track, as events are read in log order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Chronology {
    exhibit: Option<(u64, i64)>,
    evidence: Option<(u64, i64)>,
}

impl Chronology {
    /// What is wrong with `event`'s occurrence, given the events before it (then remembered):
    /// each (check, reason).
    pub(crate) fn check(&mut self, event: &Event, sealed_at: Option<i64>) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let exhibit = event.action.is_about_the_exhibit();
        if exhibit && event.occurred_at.is_none() {
            problems.push((
                "custody.occurred",
                format!(
                    "`{}` says when it happened (occurred_at): it is recorded after sealing",
                    event.action.name()
                ),
            ));
        }
        let Some(happened) = occurred(event) else {
            if event.occurred_at.is_some() {
                problems.push(("custody.occurred", "occurred_at is not RFC 3339".into()));
            }
            return problems;
        };
        if let Some(signed) = parse_rfc3339(&event.time) {
            if happened > signed.saturating_add(MAX_CLOCK_SKEW_SECONDS) {
                problems.push((
                    "custody.occurred",
                    "happened after it was signed: nothing is recorded in advance".into(),
                ));
            }
        }
        if !exhibit
            && sealed_at.is_some_and(|sealed| happened < sealed.saturating_sub(MAX_CLOCK_SKEW_SECONDS))
        {
            problems.push((
                "custody.occurred",
                "happened before the package was sealed: only seized, transported and received_at_lab may"
                    .into(),
            ));
        }
        let track = if exhibit { &mut self.exhibit } else { &mut self.evidence };
        if let Some((before, at)) = *track {
            if happened < at {
                problems.push((
                    "custody.occurred",
                    format!(
                        "happened before event {before}, which is recorded before it: a late record cannot be slipped in as an earlier step"
                    ),
                ));
            }
        }
        if problems.is_empty() {
            *track = Some((event.sequence, happened));
        }
        problems
    }
}
