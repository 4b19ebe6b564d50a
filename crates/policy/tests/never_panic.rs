//! Hostile text never panics the policy reader or the evaluator, and the evaluator's work
//! stays linear. Whoever holds a package writes its manifest text, event times and key
//! files; a policy may be anything a mistaken author (or a property test) writes. Short
//! runs here; longer ones with PROPTEST_CASES.

use custos_manifest::custody::{Action, Actor, Event};
use custos_manifest::manifest::{Case, Category, Item, LegalBasis, Manifest, Tool};
use custos_manifest::order::Order;
use custos_policy::{
    evaluate, CustodyRule, DigestRule, Evidence, LegalBasisRule, NotificationRule, Policy, PolicyVerdict,
    PreservationPeriod, PreservationRule, ProductionRule, RetentionRule, SignatureRule, StorageRule,
    ToolsRule, TransferRule, TrustedKey,
};
use proptest::prelude::*;

const ADA: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const BOB: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const XB_POLICY: &str = include_str!("../../../policies/examples/xb-borealia-strict.json");
const XC_POLICY: &str = include_str!("../../../policies/examples/xc-cascadia-mla.json");

const ACTIONS: [Action; 17] = [
    Action::Witnessed,
    Action::LegalHold,
    Action::Seized,
    Action::OrderRecorded,
    Action::Notified,
    Action::OnwardAuthorised,
    Action::Sealed,
    Action::Released,
    Action::Accepted,
    Action::Accessed,
    Action::Examined,
    Action::FixityVerified,
    Action::Copied,
    Action::Disclosed,
    Action::PreservationRenewed,
    Action::Returned,
    Action::Destroyed,
];

/// Text an attacker might write where a time, a name or a code is expected.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        // Valid times, some at the edges of the representable range.
        Just("2026-03-01T10:00:00+00:00".to_owned()),
        Just("0000-01-01T00:00:00Z".to_owned()),
        Just("9999-12-31T23:59:59-23:59".to_owned()),
        // Nearly valid: multi-byte characters where digits or separators belong, huge
        // numbers, truncations.
        Just("２０２６-03-01T10:00:00Z".to_owned()),
        Just("2026-03-01T10:00:00+00:0é".to_owned()),
        Just("2026-03-01T10:00:00Zé".to_owned()),
        Just("99999999999999999999-01-01T00:00:00Z".to_owned()),
        Just("2026-02-30T00:00:00Z".to_owned()),
        Just("2026-03-01T10:00".to_owned()),
        "[0-9T:+Z-]{0,30}",
        "\\PC{0,40}",
        any::<String>(),
        // A valid time with a few characters replaced by anything.
        (proptest::collection::vec((0usize..25, any::<char>()), 1..4)).prop_map(|edits| {
            let mut chars: Vec<char> = "2026-03-01T10:00:00+00:00".chars().collect();
            for (at, c) in edits {
                chars[at % 25] = c;
            }
            chars.into_iter().collect()
        }),
    ]
}

fn key_id() -> impl Strategy<Value = String> {
    prop_oneof![Just(ADA.to_owned()), Just(BOB.to_owned()), hostile()]
}

fn action() -> impl Strategy<Value = Action> {
    (0..ACTIONS.len()).prop_map(|i| ACTIONS[i])
}

fn category() -> impl Strategy<Value = Option<Category>> {
    prop_oneof![
        Just(None),
        Just(Some(Category::Content)),
        Just(Some(Category::Traffic)),
        Just(Some(Category::Subscriber))
    ]
}

/// A name from a vocabulary, or anything.
fn name(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![(0..known.len()).prop_map(move |i| known[i].to_owned()), hostile()]
}

const DIGESTS: &[&str] = &["md5", "sha1", "sha256", "sha512", "blake3"];
const ACTION_NAMES: &[&str] =
    &["sealed", "released", "accepted", "accessed", "preservation_renewed", "destroyed"];
const CATEGORIES: &[&str] = &["content", "traffic", "subscriber"];
const KINDS: &[&str] = &["warrant", "production_order", "mla_request", "epoc_pr", "preservation_order"];
const REFERENCES: &[&str] = &["R-1", "r-1 ", "R-2"];
const FIELDS: &[&str] = &["seal_number", "occurred_at", "exhibit"];
const ROLES: &[&str] = &["examiner", "evidence_custodian"];
const COUNTRIES: &[&str] = &["XA", "XB", "DE"];

fn number() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..400, Just(u64::MAX), Just(i64::MAX as u64), Just(i64::MAX as u64 + 1), any::<u64>()]
}

prop_compose! {
    fn event()(
        sequence in prop_oneof![0u64..6, Just(u64::MAX), any::<u64>()],
        previous in proptest::option::of(prop_oneof![(0u64..6).prop_map(|n| format!("line-{n}")), hostile()]),
        time in hostile(),
        key in key_id(),
        claims in (hostile(), hostile(), proptest::option::of(hostile())),
        action in action(),
        receiver in proptest::option::of(key_id()),
        release in proptest::option::of(prop_oneof![(0u64..6).prop_map(|n| format!("line-{n}")), hostile()]),
        legal in (
            proptest::option::of(name(REFERENCES)),
            proptest::option::of(order()),
            proptest::option::of(hostile()),
            proptest::option::of(prop_oneof![(0u64..6).prop_map(|n| format!("line-{n}")), hostile()]),
            proptest::option::of(name(COUNTRIES)),
        ),
        form in (proptest::option::of(hostile()), proptest::option::of(hostile())),
        tool in proptest::option::of((prop_oneof![Just("0.1.0".to_owned()), hostile()], proptest::option::of(hostile()))),
    ) -> Event {
        let (legal_basis, order, retain_until, disclosure, to_state) = legal;
        let (occurred_at, seal_number) = form;
        let referred = release.clone();
        let actor = Actor { key_id: key, name: claims.0, role: claims.1, organisation: None, jurisdiction: claims.2 };
        Event {
            sequence,
            previous,
            manifest: "m".into(),
            legal_basis,
            receiver,
            release,
            order,
            retain_until,
            disclosure,
            to_state,
            occurred_at,
            seal_number,
            hold: referred.clone(),
            witnessed: referred,
            tool: tool.map(|(version, binary_sha256)| custos_manifest::custody::build::Build {
                name: "custos".into(),
                version,
                commit: None,
                binary_sha256,
            }),
            ..Event::blank(action, actor, time)
        }
    }
}

prop_compose! {
    fn order()(
        kind in name(KINDS),
        reference in name(REFERENCES),
        times in (hostile(), hostile(), hostile()),
        enforcing_state in proptest::option::of(name(COUNTRIES)),
        extends in proptest::option::of(name(REFERENCES)),
        categories in proptest::option::of(proptest::collection::vec(category(), 0..3)),
    ) -> Order {
        Order {
            kind,
            reference,
            issuer: "I".into(),
            issuing_state: "XA".into(),
            enforcing_state,
            issued_at: times.0,
            valid_from: times.1,
            valid_until: times.2,
            categories: categories.map(|list| list.into_iter().flatten().collect()),
            extends,
            document: None,
        }
    }
}

prop_compose! {
    fn item()(
        path in hostile(),
        size in any::<u64>(),
        category in category(),
        digests in proptest::collection::btree_map(name(DIGESTS), hostile(), 0..4),
    ) -> Item {
        Item { path, reference: false, size, category, digests, segments: None, acquisition: None, stored_as: None, copy_verification: None }
    }
}

prop_compose! {
    fn manifest()(
        sealed_at in hostile(),
        items in proptest::collection::vec(item(), 0..4),
        bases in proptest::collection::vec((name(KINDS), hostile()), 0..3),
    ) -> Manifest {
        Manifest {
            custos_manifest: 1,
            links: Vec::new(),
            case: Case { reference: "C".into(), exhibit: None },
            sealed_at,
            location: None,
            jurisdiction: None,
            tool: Tool { name: "custos".into(), version: "0".into() },
            legal_basis: bases
                .into_iter()
                .map(|(kind, reference)| LegalBasis { kind, reference, authority: None })
                .collect(),
            items,
        }
    }
}

prop_compose! {
    fn trusted_key()(
        key_id in key_id(),
        principal in prop_oneof![Just("Ada".to_owned()), Just("Bob".to_owned()), hostile()],
        roles in proptest::collection::vec(name(ROLES), 0..3),
        bounds in (proptest::option::of(hostile()), proptest::option::of(hostile()), proptest::option::of(hostile())),
        jurisdiction in proptest::option::of(name(COUNTRIES)),
    ) -> TrustedKey {
        TrustedKey {
            key_id,
            principal,
            roles,
            valid_from: bounds.0,
            valid_until: bounds.1,
            revoked_at: bounds.2,
            jurisdiction,
        }
    }
}

prop_compose! {
    /// Any policy, validated or not: the evaluator must not rely on validation to be safe.
    fn policy()(
        effective_from in hostile(),
        digests in proptest::option::of((
            proptest::collection::vec(name(DIGESTS), 0..3),
            proptest::collection::vec(name(DIGESTS), 0..3),
        )),
        signatures in proptest::option::of((
            proptest::collection::vec(trusted_key(), 0..4),
            proptest::collection::vec(trusted_key(), 0..2),
            number(),
            proptest::collection::btree_map(name(ACTION_NAMES), proptest::collection::vec(name(ROLES), 0..3), 0..3),
        )),
        custody in proptest::option::of((
            proptest::option::of(number()),
            any::<bool>(),
            proptest::collection::vec(name(ACTION_NAMES), 0..3),
            proptest::collection::btree_map(name(ACTION_NAMES), proptest::collection::vec(name(FIELDS), 0..3), 0..3),
        )),
        legal_basis in proptest::option::of((
            any::<bool>(),
            proptest::collection::btree_map(name(CATEGORIES), proptest::collection::vec(name(KINDS), 0..3), 0..3),
        )),
        preservation in proptest::option::of((
            proptest::option::of(number()),
            any::<bool>(),
            proptest::collection::btree_map(
                name(KINDS),
                (proptest::option::of(number()), number(), proptest::option::of(number()), proptest::option::of(number())),
                0..3,
            ),
        )),
        tools in proptest::option::of(proptest::collection::vec(prop_oneof![Just("0.1.0".to_owned()), hostile()], 0..3)),
        version_2 in (
            1u64..=2,
            any::<bool>(),
            proptest::option::of((proptest::collection::vec(name(KINDS), 0..3), proptest::collection::vec(name(ROLES), 0..2), any::<bool>())),
            proptest::option::of((proptest::collection::vec(name(KINDS), 0..3), proptest::collection::vec(name(CATEGORIES), 0..2))),
            proptest::option::of(proptest::collection::btree_map(name(KINDS), number(), 0..3)),
        ),
        storage in proptest::option::of(proptest::collection::vec(name(COUNTRIES), 0..3)),
        retention in proptest::option::of((
            proptest::collection::btree_map(name(CATEGORIES), number(), 0..3),
            any::<bool>(),
            proptest::collection::btree_map(name(CATEGORIES), number(), 0..3),
            0u64..3,
        )),
    ) -> Policy {
        let cite = || "cite".to_owned();
        let (custos_policy, in_force, transfer, notification, production) = version_2;
        Policy {
            custos_policy,
            id: "p".into(),
            jurisdiction: "XA".into(),
            name: "P".into(),
            effective_from,
            digests: digests.map(|(required_any, never_sole)| DigestRule { required_any, never_sole, cite: cite() }),
            signatures: signatures.map(|(trusted_keys, registry_keys, seal_threshold, roles_per_action)| SignatureRule {
                trusted_keys,
                registries: vec![],
                registry_keys,
                seal_threshold,
                roles_per_action,
                cite: cite(),
            }),
            custody: custody.map(|(max_gap_days, require_acceptance, start_with, required_fields)| CustodyRule {
                max_gap_days,
                require_acceptance,
                start_with,
                required_fields,
                cite: cite(),
            }),
            legal_basis: legal_basis.map(|(required, per_category)| LegalBasisRule { required, in_force, per_category, cite: cite() }),
            preservation: preservation.map(|(max_days, renewable, per_kind)| PreservationRule {
                max_days,
                renewable,
                per_kind: per_kind
                    .into_iter()
                    .map(|(kind, (min_days, max_days, extension_days, max_extensions))| {
                        (kind, PreservationPeriod { min_days, max_days, extension_days, max_extensions })
                    })
                    .collect(),
                cite: cite(),
            }),
            storage: storage.map(|allowed_countries| StorageRule { allowed_countries, cite: cite() }),
            retention: retention.map(|(max_days, disposal_required, min_days, disposal_witnesses)| RetentionRule {
                max_days,
                disposal_required,
                min_days,
                disposal_witnesses,
                cite: cite(),
            }),
            time: None,
            transfer: transfer.map(|(order_kinds, recipient_roles, retention_date_required)| TransferRule {
                order_kinds,
                recipient_roles,
                retention_date_required,
                cite: cite(),
            }),
            notification: notification.map(|(order_kinds, categories)| NotificationRule { order_kinds, categories, cite: cite() }),
            production: production.map(|due_hours| ProductionRule { due_hours, cite: cite() }),
            tools: tools.map(|approved| ToolsRule { approved, cite: cite() }),
        }
    }
}

/// A valid policy with a few bytes replaced, inserted or removed.
fn mutated(valid: &'static str) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec((any::<u16>(), any::<u8>(), 0u8..3), 1..8).prop_map(move |edits| {
        let mut bytes = valid.as_bytes().to_vec();
        for (at, byte, kind) in edits {
            let at = usize::from(at) % (bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        bytes
    })
}

fn at() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(1_780_000_000i64)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn evaluating_hostile_evidence_never_panics(
        policy in policy(),
        manifest in manifest(),
        events in proptest::collection::vec(event(), 0..6),
        signers in proptest::collection::vec(key_id(), 0..3),
        at in at(),
    ) {
        let findings = evaluate(&policy, &Evidence { manifest: &manifest, events: &events, manifest_signers: &signers, trusted_times: &Default::default() }, at);
        prop_assert!(!findings.is_empty(), "policy.in_force is always judged");
    }

    #[test]
    fn at_values_never_panic(text in hostile()) {
        // `--at` goes through this parser before it reaches the evaluator.
        let _ = custos_policy::time::parse_rfc3339(&text);
    }

    #[test]
    fn parsing_mutated_policies_never_panics(
        bytes in prop_oneof![mutated(XB_POLICY), mutated(XC_POLICY), proptest::collection::vec(any::<u8>(), 0..256)],
        manifest in manifest(),
        events in proptest::collection::vec(event(), 0..4),
        at in at(),
    ) {
        if let Ok(policy) = Policy::parse(&bytes) {
            let signers = vec![ADA.to_owned()];
            let _ = evaluate(&policy, &Evidence { manifest: &manifest, events: &events, manifest_signers: &signers, trusted_times: &Default::default() }, at);
        }
    }
}

/// The evidence of a large case at `scale`: a seal, then `scale` hand-overs (a release and
/// its acceptance each), `scale / 4` items and as many recorded legal bases, and `scale / 2`
/// manifest signers.
struct LargeCase {
    events: Vec<Event>,
    manifest: Manifest,
    signers: Vec<String>,
}

impl LargeCase {
    fn new(scale: u64) -> LargeCase {
        let mut events = Vec::new();
        let mut push = |action: Action, key: &str, release: Option<String>| {
            let sequence = events.len() as u64;
            let actor = Actor {
                key_id: key.into(),
                name: "x".into(),
                role: "x".into(),
                organisation: None,
                jurisdiction: None,
            };
            events.push(Event {
                sequence,
                previous: sequence.checked_sub(1).map(|n| format!("line-{n}")),
                manifest: "m".into(),
                receiver: (action == Action::Released).then(|| CUSTODIAN.to_owned()),
                release,
                ..Event::blank(action, actor, "2026-03-01T10:00:00+00:00".into())
            });
        };
        push(Action::Sealed, EXAMINER, None);
        for i in 0..scale {
            push(Action::Released, EXAMINER, None);
            let released = format!("line-{}", 2 * i + 1);
            push(Action::Accepted, CUSTODIAN, Some(released));
        }
        let manifest = Manifest {
            custos_manifest: 1,
            links: Vec::new(),
            case: Case { reference: "C".into(), exhibit: None },
            sealed_at: "2026-03-01T10:00:00+00:00".into(),
            location: None,
            jurisdiction: None,
            tool: Tool { name: "custos".into(), version: "0".into() },
            legal_basis: (0..scale / 4)
                .map(|i| LegalBasis { kind: format!("kind_{i}"), reference: "r".into(), authority: None })
                .collect(),
            items: (0..scale / 4)
                .map(|i| Item {
                    path: format!("data/{i}"),
                    reference: false,
                    size: 1,
                    category: Some(Category::Content),
                    digests: [("sha256".to_owned(), "00".to_owned())].into_iter().collect(),
                    segments: None,
                    acquisition: None,
                    stored_as: None,
                    copy_verification: None,
                })
                .collect(),
        };
        LargeCase { events, manifest, signers: vec![EXAMINER.to_owned(); (scale / 2) as usize] }
    }
}

// The example policy's keys (the RFC 8032 test keys): Ada seals and releases, Bob accepts.
const EXAMINER: &str = "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9";
const CUSTODIAN: &str = "39f713d0a644253f04529421b9f51b9b08979d08295959c4f3990ee617f5139f";

/// Many events and many legal bases: the work stays linear and every finding's text stays
/// short. Acceptance checks were releases × acceptances × events, and every item's finding
/// listed every recorded basis (items × bases of text).
///
/// Linear is shown by the clock without a deadline: the same evaluation at n and at 4n, on
/// the same machine in the same test, the best of several runs each. Linear work takes about
/// 4 times as long at 4n, quadratic work 16 times; the bar is between the two.
#[test]
fn large_logs_are_judged_in_linear_work_with_bounded_text() {
    let mut legal = Policy::parse(XB_POLICY.as_bytes()).expect("example policy");
    legal.legal_basis = Some(LegalBasisRule {
        required: true,
        in_force: false,
        per_category: [("content".to_owned(), vec!["mla_request".to_owned()])].into_iter().collect(),
        cite: "c".into(),
    });
    let best_of = |runs: usize, case: &LargeCase| {
        (0..runs)
            .map(|_| {
                let started = std::time::Instant::now();
                let evidence = Evidence {
                    manifest: &case.manifest,
                    events: &case.events,
                    manifest_signers: &case.signers,
                    trusted_times: &Default::default(),
                };
                let findings = evaluate(&legal, &evidence, 1_780_000_000);
                (started.elapsed(), findings)
            })
            .min_by_key(|(elapsed, _)| *elapsed)
            .expect("at least one run")
    };
    const SMALL: u64 = 5_000;
    let (small, _) = best_of(5, &LargeCase::new(SMALL));
    let (large, findings) = best_of(3, &LargeCase::new(4 * SMALL));
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    eprintln!("evaluated in {small:?} at n, {large:?} at 4n: {ratio:.1} times");
    assert!(ratio < 8.0, "{large:?} at 4n against {small:?} at n: {ratio:.1} times the work, not linear");

    let acceptance =
        findings.iter().find(|f| f.rule == "custody.require_acceptance").expect("acceptance finding");
    assert_eq!(acceptance.verdict, PolicyVerdict::Pass, "{}", acceptance.evidence);
    let all = format!("all {} release(s) accepted", 4 * SMALL);
    assert!(acceptance.evidence.contains(&all), "{}", acceptance.evidence);
    let longest = findings.iter().map(|f| f.evidence.len()).max().unwrap_or_default();
    assert!(longest < 2_000, "a finding of {longest} bytes");
    let threshold = findings.iter().find(|f| f.rule == "signatures.seal_threshold").expect("threshold");
    assert!(threshold.evidence.starts_with("1 trusted principal(s)"), "{}", threshold.evidence);
}
