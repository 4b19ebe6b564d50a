//! The custody log, `custos/custody.jsonl`: append-only, one signed event per line, each
//! naming the digest of the line before it, so events cannot be edited, removed, reordered
//! or forged without the log failing verification. Format: `docs/formats/custody.md`.
//!
//! A line is a signed envelope whose `payload` is the event's exact JSON text:
//! `{"payload":"{…event…}","payload_type":"…custody-event…","signatures":[…]}`.
//! A transfer is a `released` event naming the receiver's key, then an `accepted` event
//! signed by that receiver naming the release line's digest; until then it is pending.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::envelope::SignedLine as Line;
use crate::findings::{Finding, Verdict};
use crate::keys::PublicKey;
use crate::Error;

mod append;
pub mod build;
pub mod disclosure;
pub mod hold;
pub mod holder;
pub mod kept;
mod log;
pub mod occurrence;
pub mod order;
pub mod receipt;

pub use crate::layout::CUSTODY_PATH;
pub use append::{append, nothing_to_replace, AlongWith, Appended, Replacements};
pub use log::{verify_log, LogInput, LogVerification};

/// The DSSE payload type of custody events.
pub const EVENT_PAYLOAD_TYPE: &str = "application/vnd.custos.custody-event+json; version=1";
/// Format version of events.
pub const EVENT_FORMAT: u64 = 1;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Action {
    Sealed,
    Released,
    Accepted,
    Accessed,
    Examined,
    FixityVerified,
    Copied,
    PreservationRenewed,
    Returned,
    Destroyed,
    /// The releaser takes back a pending release (names it in `release`).
    Withdrawn,
    /// Another principal added a signature over the manifest (`custos cosign`).
    Cosigned,
    /// A fixity check found the bytes differ from the manifest (records what it observed).
    FixityFailed,
    /// The holder moved the evidence (to the event's `country` and `location`) without a
    /// change of holder.
    Moved,
    /// A legal order was recorded (the event's `order`; docs/formats/orders.md).
    OrderRecorded,
    /// Data was disclosed to another authority (the event's `receiver`), under a recorded
    /// order (`legal_basis`), for a purpose, with conditions, a retention date and whether
    /// onward transfer is forbidden or needs the discloser's authorisation.
    Disclosed,
    /// The discloser authorised the recipient of a disclosure (`disclosure`) to pass it on to
    /// `receiver`, under the reference `authorisation`.
    OnwardAuthorised,
    /// The enforcing state (`to_state`) was notified of an order (`legal_basis`).
    Notified,
    /// The physical exhibit was seized (when: `occurred_at`; where, in which bag under which
    /// seal, in what condition: `location`, `seal_number`, `condition`).
    Seized,
    /// The physical exhibit was moved between places.
    Transported,
    /// The physical exhibit arrived at the lab.
    ReceivedAtLab,
    /// The evidence was put on legal hold: nothing may return or destroy it until lifted.
    LegalHold,
    /// The key that placed a hold (`hold`) lifted it.
    HoldLifted,
    /// A second principal witnessed a return or destruction (`witnessed`).
    Witnessed,
}

impl Action {
    /// Every action, in the order the format lists them.
    pub const ALL: [Action; 24] = [
        Action::Sealed,
        Action::Released,
        Action::Accepted,
        Action::Withdrawn,
        Action::Accessed,
        Action::Examined,
        Action::FixityVerified,
        Action::FixityFailed,
        Action::Cosigned,
        Action::Copied,
        Action::Disclosed,
        Action::OnwardAuthorised,
        Action::Notified,
        Action::Seized,
        Action::Transported,
        Action::ReceivedAtLab,
        Action::LegalHold,
        Action::HoldLifted,
        Action::Witnessed,
        Action::PreservationRenewed,
        Action::Returned,
        Action::Destroyed,
        Action::Moved,
        Action::OrderRecorded,
    ];

    /// Parses the snake_case name (`fixity_verified`), exactly.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.name() == name)
    }

    /// The snake_case name, as written in events, policies and typed on the command line.
    /// An exhaustive match: a new action cannot be added without its name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Sealed => "sealed",
            Action::Released => "released",
            Action::Accepted => "accepted",
            Action::Withdrawn => "withdrawn",
            Action::Accessed => "accessed",
            Action::Examined => "examined",
            Action::FixityVerified => "fixity_verified",
            Action::FixityFailed => "fixity_failed",
            Action::Cosigned => "cosigned",
            Action::Copied => "copied",
            Action::Disclosed => "disclosed",
            Action::OnwardAuthorised => "onward_authorised",
            Action::Notified => "notified",
            Action::Seized => "seized",
            Action::Transported => "transported",
            Action::ReceivedAtLab => "received_at_lab",
            Action::LegalHold => "legal_hold",
            Action::HoldLifted => "hold_lifted",
            Action::Witnessed => "witnessed",
            Action::PreservationRenewed => "preservation_renewed",
            Action::Returned => "returned",
            Action::Destroyed => "destroyed",
            Action::Moved => "moved",
            Action::OrderRecorded => "order_recorded",
        }
    }
}

/// Who acted: the signer, as their key file describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct Actor {
    pub key_id: String,
    pub name: String,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
}

impl Actor {
    /// The actor described by a public key file.
    pub fn of(key: &PublicKey) -> Actor {
        Actor {
            key_id: key.id().to_string(),
            name: key.owner.name.clone(),
            role: key.owner.role.clone(),
            organisation: key.owner.organisation.clone(),
            jurisdiction: key.owner.jurisdiction.clone(),
        }
    }
}

/// One custody event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Format version, [`EVENT_FORMAT`].
    pub custos_event: u64,
    /// 0 for the first event, then one more for each.
    pub sequence: u64,
    /// SHA-256 (hex) of the previous line's bytes, without its newline; `None` for the first.
    pub previous: Option<String>,
    /// SHA-256 (hex) of `custos/manifest.json`.
    pub manifest: String,
    /// RFC 3339 with offset.
    pub time: String,
    /// Who acted (must be the signer).
    pub actor: Actor,
    /// What they did.
    pub action: Action,
    /// Where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The country the evidence is in at this event (ISO 3166-1 alpha-2, or `XA`–`XZ`): it
    /// stays there until an event states another. Added in 0.3; events without it are
    /// unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The legal basis relied on (a reference from the manifest or another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<String>,
    /// Item paths the event concerns (all, when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Digests observed at the time (path → algorithm → hex), e.g. for `fixity_verified`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub observed_digests: BTreeMap<String, BTreeMap<String, String>>,
    /// `released`: the receiver's key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// `accepted` and `withdrawn`: SHA-256 (hex) of the release line accepted or withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `order_recorded`: the order. Added in 0.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::order::Order>,
    /// `disclosed`: the conditions the recipient must keep to. Added in 0.3, as are the
    /// fields below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<String>,
    /// `disclosed`: until when the recipient may keep the data (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<String>,
    /// `disclosed`: whether the recipient may pass the data on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onward: Option<Onward>,
    /// `onward_authorised`: the authorisation's reference; a `disclosed` event that passes
    /// on what its signer received: the authorisation it relies on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorisation: Option<String>,
    /// SHA-256 (hex) of the `disclosed` line this event concerns: its acceptance by the
    /// recipient, an onward authorisation, an onward disclosure of what it disclosed, its
    /// return or destruction by the recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<String>,
    /// `notified`: the state notified (ISO 3166-1 alpha-2, or `XA`–`XZ`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_state: Option<String>,
    /// When it happened (RFC 3339), when not when it was signed (`time`): a seizure recorded
    /// after sealing, a late record. Added in 0.3, as are the custody-form fields below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    /// The number of the tamper-evident seal or evidence bag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal_number: Option<String>,
    /// The condition of the exhibit or its packaging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Where it is stored (a locker, a room).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    /// The exhibit the event concerns (its number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exhibit: Option<String>,
    /// Files kept with the event (photos, worksheets, tool reports) in `custos/attachments/`,
    /// each with its size and SHA-256.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<kept::Document>,
    /// `hold_lifted`: SHA-256 (hex) of the `legal_hold` line it lifts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<String>,
    /// `witnessed`: SHA-256 (hex) of the `returned` or `destroyed` line witnessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witnessed: Option<String>,
    /// The build of Custos that signed the event (added in 0.3; every event it signs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<build::Build>,
}

/// Whether the recipient of a disclosure may pass it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Onward {
    /// Never.
    Forbidden,
    /// Only to a recipient the discloser authorises (`onward_authorised`).
    Authorised,
}

impl Onward {
    /// The name as events write it.
    pub fn name(self) -> &'static str {
        match self {
            Onward::Forbidden => "forbidden",
            Onward::Authorised => "authorised",
        }
    }
}

/// SHA-256 hex of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a new event needs; sequence, previous digest and manifest digest are filled in.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// What happened.
    pub action: Action,
    /// When (RFC 3339 with offset).
    pub time: String,
    /// Where.
    pub location: Option<String>,
    /// In which country the evidence is (a code [`crate::vocabulary::country`] accepts).
    pub country: Option<String>,
    /// Why.
    pub purpose: Option<String>,
    /// Legal basis reference.
    pub legal_basis: Option<String>,
    /// Items concerned.
    pub items: Vec<String>,
    /// Digests observed.
    pub observed_digests: BTreeMap<String, BTreeMap<String, String>>,
    /// For `released`.
    pub receiver: Option<String>,
    /// For `accepted`: filled in by [`append`] from the pending release to this signer.
    pub release: Option<String>,
    /// Free text.
    pub note: Option<String>,
    /// For `order_recorded`: the order.
    pub order: Option<crate::order::Order>,
    /// For `disclosed`: conditions.
    pub conditions: Option<String>,
    /// For `disclosed`: retention date (RFC 3339).
    pub retain_until: Option<String>,
    /// For `disclosed`: onward transfer.
    pub onward: Option<Onward>,
    /// For `onward_authorised` (its reference) and an onward `disclosed` (the one relied on).
    pub authorisation: Option<String>,
    /// The number of the `disclosed` event concerned; [`append`] writes its line's digest.
    /// Left out, [`append`] finds it where only one can be meant (an acceptance of the one
    /// disclosure awaiting this signer's acceptance, a return of the one copy it holds, an
    /// onward disclosure under the authorisation it cites).
    pub disclosure: Option<u64>,
    /// For `notified`: the state notified.
    pub to_state: Option<String>,
    /// When it happened, when not now.
    pub occurred_at: Option<String>,
    /// Seal or bag number.
    pub seal_number: Option<String>,
    /// Condition.
    pub condition: Option<String>,
    /// Storage place.
    pub storage: Option<String>,
    /// Exhibit number.
    pub exhibit: Option<String>,
    /// Kept files ([`crate::package::add_event_with_attachments`] fills them in).
    pub attachments: Vec<kept::Document>,
    /// For `hold_lifted`: the hold's event number (written as its line's digest; left out,
    /// the one hold this signer placed).
    pub hold: Option<u64>,
    /// For `witnessed`: the disposal's event number (written as its line's digest; left
    /// out, the last return or destruction).
    pub witnessed: Option<u64>,
}

impl Event {
    /// An event with an action, a signer and a time and nothing else (the first of its log,
    /// naming no manifest yet): a start for building events in code, the other fields set
    /// with struct update syntax (`Event { sequence: 3, ..Event::blank(…) }`).
    pub fn blank(action: Action, actor: Actor, time: String) -> Event {
        Event {
            custos_event: EVENT_FORMAT,
            sequence: 0,
            previous: None,
            manifest: String::new(),
            time,
            actor,
            action,
            location: None,
            country: None,
            purpose: None,
            legal_basis: None,
            items: Vec::new(),
            observed_digests: BTreeMap::new(),
            receiver: None,
            release: None,
            note: None,
            order: None,
            conditions: None,
            retain_until: None,
            onward: None,
            authorisation: None,
            disclosure: None,
            to_state: None,
            occurred_at: None,
            seal_number: None,
            condition: None,
            storage: None,
            exhibit: None,
            attachments: Vec::new(),
            hold: None,
            witnessed: None,
            tool: None,
        }
    }
}

impl NewEvent {
    /// An event with only an action and a time.
    pub fn new(action: Action, time: String) -> NewEvent {
        NewEvent {
            action,
            time,
            location: None,
            country: None,
            purpose: None,
            legal_basis: None,
            items: Vec::new(),
            observed_digests: BTreeMap::new(),
            receiver: None,
            release: None,
            note: None,
            order: None,
            conditions: None,
            retain_until: None,
            onward: None,
            authorisation: None,
            disclosure: None,
            to_state: None,
            occurred_at: None,
            seal_number: None,
            condition: None,
            storage: None,
            exhibit: None,
            attachments: Vec::new(),
            hold: None,
            witnessed: None,
        }
    }
}

/// Events may be dated at most this many seconds after the time of verification (clocks of
/// the machines that signed them differ a little): 300.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;
/// The most events a log may hold: 1,000,000 (the log is also capped at
/// [`crate::store::MAX_TAG_FILE_BYTES`]).
pub const MAX_EVENTS: usize = 1_000_000;

/// The log line of `event` signed by `key` (without its newline): a signed envelope whose
/// payload is the event's exact JSON text.
pub fn signed_line(event: &Event, key: &SigningKey) -> Result<Vec<u8>, Error> {
    let payload = serde_json::to_string(event).map_err(|e| Error::Package(e.to_string()))?;
    Line::sign(EVENT_PAYLOAD_TYPE, payload, key).to_bytes()
}

/// The raw bytes of a log line's (single) signature: what a time-stamp token stamps.
pub fn signature_of(line: &[u8]) -> Result<Vec<u8>, Error> {
    let stored: Line =
        serde_json::from_slice(line).map_err(|e| Error::Package(format!("not a custody line: {e}")))?;
    match stored.signatures.as_slice() {
        [entry] => entry.bytes().ok_or_else(|| Error::Package("a signature that is not base64".into())),
        _ => Err(Error::Package("a custody line carries exactly one signature".into())),
    }
}

/// The event inside a log line, parsed without checking its signature: for tools that
/// build on a line already verified (and for tests that forge one).
pub fn parse_line_unverified(line: &[u8]) -> Option<Event> {
    let stored: Line = serde_json::from_slice(line).ok()?;
    serde_json::from_str(&stored.payload).ok()
}

/// Whether any finding failed.
pub fn failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.verdict == Verdict::Fail)
}
