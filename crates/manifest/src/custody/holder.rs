//! Who holds the evidence: the holder model over a custody log (`docs/formats/custody.md`).
//!
//! After sealing, the sealer holds the evidence. Only the holder may release it (to someone
//! else, one pending release at a time), return, destroy, copy, move or disclose it (a
//! disclosure gives a copy and changes no holder: [`crate::custody::disclosure`]); the releaser
//! may withdraw a pending release (`withdrawn`); an acceptance by the named receiver makes the receiver the
//! holder. After `returned` or `destroyed` only observations may follow. Observations
//! (`accessed`, `examined`, `fixity_verified`, `preservation_renewed`, `order_recorded`,
//! `notified`) may be
//! recorded by any trusted key: they say something about the evidence, not who has it.
//!
//! The same rules decide what a verifier accepts and what a custody command agrees to sign.

use crate::custody::{Action, Event};

/// A party: a key and the name its key file gives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Party {
    /// The key id.
    pub key_id: String,
    /// The name in the signer's key file.
    pub name: String,
}

/// A release not yet accepted or withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    /// The event number of the release.
    pub sequence: u64,
    /// SHA-256 (hex) of the release line.
    pub release: String,
    /// Who released.
    pub from: Party,
    /// The receiver's key id.
    pub to: String,
}

/// Where custody stands after some events.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CustodyState {
    /// Who holds the evidence (`None` before sealing).
    pub holder: Option<Party>,
    /// A transfer in progress.
    pub pending: Option<Pending>,
    /// The event that ended custody (`returned` or `destroyed`), by number.
    pub ended: Option<(u64, Action)>,
    /// The country the evidence is in, as the last event that stated one said (`None`: no
    /// event has said; never guessed from a key file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
    /// Every disclosure, in order, with what followed it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disclosures: Vec<crate::custody::disclosure::Disclosure>,
    /// Legal holds in place.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<crate::custody::hold::Hold>,
    /// Returns and destructions of the evidence, with their witnesses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disposals: Vec<crate::custody::hold::Disposal>,
}

/// Where the evidence is, and since which event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Place {
    /// ISO 3166-1 alpha-2 (or `XA`–`XZ`).
    pub country: String,
    /// The event that stated it.
    pub since: u64,
}

/// Why an event breaks the rules: the check that fails and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `custody.holder` or `custody.transfer`.
    pub check: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn holder_rule(reason: String) -> Violation {
    Violation { check: "custody.holder", reason }
}

fn transfer_rule(reason: String) -> Violation {
    Violation { check: "custody.transfer", reason }
}

impl Action {
    /// Observations may be recorded by any trusted key; every other action needs the holder.
    pub fn is_observation(self) -> bool {
        matches!(
            self,
            Action::Accessed
                | Action::Examined
                | Action::FixityVerified
                | Action::PreservationRenewed
                | Action::OrderRecorded
                | Action::Notified
                | Action::Seized
                | Action::Transported
                | Action::ReceivedAtLab
                | Action::LegalHold
                | Action::HoldLifted
                | Action::Witnessed
        )
    }
}

impl CustodyState {
    /// Applies `event` (whose line has SHA-256 `line_digest`), or says why the rules forbid
    /// it; a forbidden event leaves the state as it was. An event that states a country puts
    /// the evidence there from then on.
    ///
    /// Only the holder says where the evidence is (the event that makes them holder, such as
    /// an acceptance, included; after custody ended, only the event that ended it): a
    /// country stated by anyone else is refused (`custody.country`), or an examiner's
    /// observation could move the evidence on paper.
    pub fn apply(&mut self, event: &Event, line_digest: &str) -> Result<(), Violation> {
        let mut next = self.clone();
        next.apply_holder_rules(event, line_digest)?;
        if let Some(country) = &event.country {
            if crate::vocabulary::country(country).as_deref() != Ok(country.as_str()) {
                return Err(Violation {
                    check: "custody.country",
                    reason: format!(
                        "`{country}` is not a country code (ISO 3166-1 alpha-2 in capitals, or XA to XZ)"
                    ),
                });
            }
            let holds = next.holder.as_ref().is_some_and(|holder| holder.key_id == event.actor.key_id);
            let ended_before = next.ended.is_some_and(|(sequence, _)| sequence != event.sequence);
            if !holds || ended_before {
                return Err(Violation {
                    check: "custody.country",
                    reason: format!(
                        "states that the evidence is in {country}, but {} {}: only the holder says where the evidence is",
                        event.actor.name,
                        if holds { "recorded it after custody ended" } else { "does not hold it" }
                    ),
                });
            }
            next.place = Some(Place { country: country.clone(), since: event.sequence });
        }
        *self = next;
        Ok(())
    }

    fn apply_holder_rules(&mut self, event: &Event, line_digest: &str) -> Result<(), Violation> {
        let actor = Party { key_id: event.actor.key_id.clone(), name: event.actor.name.clone() };
        if event.action == Action::Sealed {
            if self.holder.is_some() {
                return Err(holder_rule("the package is already sealed".into()));
            }
            self.holder = Some(actor);
            return Ok(());
        }
        let Some(holder) = self.holder.clone() else {
            return Err(holder_rule("nothing happens before the package is sealed".into()));
        };
        if let Some(result) = crate::custody::disclosure::apply(self, event, line_digest, &holder) {
            return result;
        }
        match crate::custody::hold::apply(self, event, line_digest) {
            Some(Err(violation)) => return Err(violation),
            Some(Ok(())) => return Ok(()),
            None => {}
        }
        if event.action.is_observation() {
            return Ok(());
        }
        if let Some((sequence, action)) = self.ended {
            return Err(holder_rule(format!(
                "custody ended with `{}` at event {sequence}; only observations may follow",
                action.name()
            )));
        }
        match event.action {
            Action::Accepted => {
                let Some(pending) = self.pending.clone() else {
                    return Err(transfer_rule(
                        "an acceptance of no release in this log, or of one already accepted".into(),
                    ));
                };
                if event.release.as_deref() != Some(pending.release.as_str()) {
                    return Err(transfer_rule(format!(
                        "an acceptance of no release in this log: the pending release is event {}",
                        pending.sequence
                    )));
                }
                if pending.to != actor.key_id {
                    return Err(transfer_rule(format!(
                        "accepts release {}, which names receiver {}, but was signed by {}",
                        pending.sequence, pending.to, actor.key_id
                    )));
                }
                self.holder = Some(actor);
                self.pending = None;
                return Ok(());
            }
            Action::Withdrawn => {
                let Some(pending) = self.pending.clone() else {
                    return Err(transfer_rule("a withdrawal, but no release is pending".into()));
                };
                if event.release.as_deref() != Some(pending.release.as_str()) {
                    return Err(transfer_rule(format!(
                        "withdraws another release than the pending one (event {})",
                        pending.sequence
                    )));
                }
                if pending.from.key_id != actor.key_id {
                    return Err(holder_rule(format!(
                        "only {}, who released it, may withdraw release {}",
                        pending.from.name, pending.sequence
                    )));
                }
                self.pending = None;
                return Ok(());
            }
            Action::Released | Action::Returned | Action::Destroyed | Action::Copied | Action::Moved
                if actor.key_id != holder.key_id =>
            {
                return Err(holder_rule(format!(
                    "`{}` by {} ({}), but {} ({}) holds the evidence",
                    event.action.name(),
                    actor.name,
                    actor.key_id,
                    holder.name,
                    holder.key_id
                )));
            }
            _ => {}
        }
        match event.action {
            Action::Released => {
                if let Some(pending) = &self.pending {
                    return Err(holder_rule(format!(
                        "release {} to {} is still pending; one release at a time",
                        pending.sequence, pending.to
                    )));
                }
                let Some(receiver) = event.receiver.clone() else {
                    return Err(transfer_rule("a release must name the receiver's key".into()));
                };
                if receiver == holder.key_id {
                    return Err(holder_rule("released to the holder's own key".into()));
                }
                self.pending = Some(Pending {
                    sequence: event.sequence,
                    release: line_digest.to_owned(),
                    from: actor,
                    to: receiver,
                });
            }
            Action::Returned | Action::Destroyed => {
                if let Some(pending) = &self.pending {
                    return Err(holder_rule(format!(
                        "`{}` while release {} is pending",
                        event.action.name(),
                        pending.sequence
                    )));
                }
                self.ended = Some((event.sequence, event.action));
                self.disposals.push(crate::custody::hold::Disposal {
                    sequence: event.sequence,
                    line: line_digest.to_owned(),
                    action: event.action,
                    by: actor.clone(),
                    witnesses: Vec::new(),
                });
            }
            _ => {}
        }
        Ok(())
    }
}
