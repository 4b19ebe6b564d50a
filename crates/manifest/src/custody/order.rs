//! Legal orders as signed records (docs/formats/orders.md): a warrant, a production or
//! preservation order, a European Production or Preservation Order Certificate, a mutual
//! legal assistance request, recorded in the custody log by an `order_recorded` event, with
//! the order's document kept in the package and its digest signed in the event. An order is
//! amended or extended by recording a new one that names the old (`extends`), never by
//! editing: the log is append-only.

use serde::{Deserialize, Serialize};

use super::{Action, MAX_CLOCK_SKEW_SECONDS};
use crate::manifest::Category;

pub use crate::layout::ORDERS_DIR;

/// The largest order document kept (a scanned order is a few MiB).
pub const MAX_DOCUMENT_BYTES: u64 = 32 << 20;

/// Kinds of orders (`--kind`): the legal-basis kinds, and the instruments of cross-border
/// requests (EPOC and EPOC-PR of Regulation (EU) 2023/1543, emergency requests).
pub const ORDER_KINDS: [&str; 11] = [
    "warrant",
    "court_order",
    "production_order",
    "preservation_order",
    "epoc",
    "epoc_pr",
    "mla_request",
    "emergency_request",
    "consent",
    "seizure_record",
    "statutory_power",
];

/// One order, as an `order_recorded` event signs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// One of [`ORDER_KINDS`].
    pub kind: String,
    /// The order's reference (its file number), unique among the package's orders.
    pub reference: String,
    /// Who issued it (a court, a prosecutor, an authority).
    pub issuer: String,
    /// The state whose authority issued it (ISO 3166-1 alpha-2, or `XA`–`XZ`).
    pub issuing_state: String,
    /// The state where it is to be executed, when another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcing_state: Option<String>,
    /// When it was issued (RFC 3339).
    pub issued_at: String,
    /// From when it authorises (RFC 3339).
    pub valid_from: String,
    /// Until when (RFC 3339).
    pub valid_until: String,
    /// The kinds of data it covers; all when absent (never empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<Category>>,
    /// The reference of an earlier recorded order this one amends or extends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// The order's document, kept in the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Document>,
}

pub use super::kept::Document;

impl Order {
    /// Why the order cannot be signed or believed as it is, if it cannot: an unknown kind, a
    /// country that is not a code, a time that is not RFC 3339, a validity that ends before
    /// it starts or before the order was issued, a document kept elsewhere than
    /// [`ORDERS_DIR`].
    pub fn check(&self) -> Result<(), String> {
        if !ORDER_KINDS.contains(&self.kind.as_str()) {
            return Err(format!("`{}` is not an order kind: {}", self.kind, ORDER_KINDS.join(", ")));
        }
        for (what, text) in [("reference", &self.reference), ("issuer", &self.issuer)] {
            if text.trim().is_empty() || text.chars().any(char::is_control) {
                return Err(format!("the order's {what} must be one line of text"));
            }
        }
        if self.categories.as_ref().is_some_and(Vec::is_empty) {
            return Err(
                "the order covers no kind of data: list the kinds it covers, or leave categories out for all"
                    .into(),
            );
        }
        for state in std::iter::once(&self.issuing_state).chain(&self.enforcing_state) {
            if crate::vocabulary::country(state).as_deref() != Ok(state.as_str()) {
                return Err(format!(
                    "`{state}` is not a country code (ISO 3166-1 alpha-2 in capitals, or XA to XZ)"
                ));
            }
        }
        let time = |what: &str, text: &str| {
            crate::time::parse_rfc3339(text).ok_or_else(|| format!("{what} `{text}` is not an RFC 3339 time"))
        };
        let issued = time("issued_at", &self.issued_at)?;
        let from = time("valid_from", &self.valid_from)?;
        let until = time("valid_until", &self.valid_until)?;
        if until < from {
            return Err(format!("valid until {} is before valid from {}", self.valid_until, self.valid_from));
        }
        if until < issued {
            return Err(format!(
                "valid until {} is before it was issued, {}",
                self.valid_until, self.issued_at
            ));
        }
        if let Some(document) = &self.document {
            document.check(ORDERS_DIR, "the order's document")?;
        }
        Ok(())
    }

    /// Whether two references name the same order: compared without case and the spaces
    /// around them, as people say them (`PO-1/26` and ` po-1/26` are one order).
    pub fn same_reference(a: &str, b: &str) -> bool {
        a.trim().eq_ignore_ascii_case(b.trim())
    }

    /// Where a document named `name` (its file name as given) is kept: under
    /// [`ORDERS_DIR`], prefixed with the start of its digest.
    pub fn document_path(name: &str, sha256: &str) -> String {
        Document::path_for(ORDERS_DIR, name, sha256)
    }
}

/// An `order_recorded` event holds an order that can be believed, with a reference of its
/// own, extending only an order recorded before it; no other event holds one.
pub(crate) fn check_order(
    action: Action,
    time: &str,
    order: Option<&crate::order::Order>,
    earlier: &[String],
) -> Result<(), String> {
    use crate::order::Order;
    let recorded = |reference: &str| earlier.iter().any(|e| Order::same_reference(e, reference));
    match (action, order) {
        (Action::OrderRecorded, None) => Err("records an order, but holds none".into()),
        (Action::OrderRecorded, Some(order)) => {
            order.check()?;
            // An order is recorded after it was issued, never before.
            let issued = crate::time::parse_rfc3339(&order.issued_at);
            let at = crate::time::parse_rfc3339(time);
            if issued.zip(at).is_some_and(|(issued, at)| issued > at + MAX_CLOCK_SKEW_SECONDS) {
                return Err(format!(
                    "issued at {}, after the event that records it ({time})",
                    order.issued_at
                ));
            }
            if recorded(&order.reference) {
                return Err(format!(
                    "order {} is recorded already: an order is amended or extended by a new one that names it (extends), never recorded twice",
                    order.reference
                ));
            }
            match &order.extends {
                Some(old) if !recorded(old) => {
                    Err(format!("extends order {old}, which is not recorded before it in this log"))
                }
                _ => Ok(()),
            }
        }
        (_, Some(_)) => Err("only an `order_recorded` event holds an order".into()),
        (_, None) => Ok(()),
    }
}

/// A `disclosed` or `notified` event names the order it concerns (in `legal_basis`), and
/// that order is recorded before it in the log: a disclosure under an order nobody recorded
/// cannot be judged against the order's validity, kind or categories.
pub(crate) fn check_order_named(event: &super::Event, earlier: &[String]) -> Result<(), String> {
    let (action, named) = (event.action, event.legal_basis.as_deref());
    // A 0.2 disclosure record names what it likes there, and still verifies.
    if !matches!(action, Action::Disclosed | Action::Notified) || super::disclosure::is_bare(event) {
        return Ok(());
    }
    let Some(reference) = named else {
        return Err(format!("`{}` names the order it concerns", action.name()));
    };
    if earlier.iter().any(|e| Order::same_reference(e, reference)) {
        Ok(())
    } else {
        Err(format!(
            "names order {reference}, which is not recorded before it in this log (custos order add)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        Order {
            kind: "preservation_order".into(),
            reference: "PO-1/26".into(),
            issuer: "Amtsgericht Berlin".into(),
            issuing_state: "DE".into(),
            enforcing_state: Some("XB".into()),
            issued_at: "2026-03-01T09:00:00Z".into(),
            valid_from: "2026-03-01T09:00:00Z".into(),
            valid_until: "2026-05-30T09:00:00Z".into(),
            categories: Some(vec![Category::Traffic]),
            extends: None,
            document: None,
        }
    }

    #[test]
    fn orders_that_cannot_be_believed_are_refused_for_their_reason() {
        assert_eq!(order().check(), Ok(()));
        let refused = |edit: &dyn Fn(&mut Order), needle: &str| {
            let mut order = order();
            edit(&mut order);
            let reason = order.check().expect_err(needle);
            assert!(reason.contains(needle), "{needle}: {reason}");
        };
        refused(&|o| o.kind = "warant".into(), "is not an order kind");
        refused(&|o| o.issuing_state = "Germany".into(), "is not a country code");
        refused(&|o| o.valid_until = "2026-02-01T00:00:00Z".into(), "is before valid from");
        refused(&|o| o.valid_from = "next week".into(), "is not an RFC 3339 time");
        refused(&|o| o.reference = "PO\n2".into(), "must be one line");
        refused(&|o| o.categories = Some(Vec::new()), "covers no kind of data");
        refused(
            &|o| {
                o.document =
                    Some(Document { path: "custos/manifest.json".into(), size: 1, sha256: "0".repeat(64) })
            },
            "must be a file in custos/orders/",
        );
        assert_eq!(
            Order::document_path("../Beschluss 1.pdf", &"ab".repeat(32)),
            "custos/orders/abababababababab-_Beschluss_1.pdf"
        );
    }
}
