//! Every rule with a passing and a failing case, time-dependent rules at their edges,
//! thresholds counted by principal, and one package judged differently by two policies.

use custos_manifest::custody::{Action, Actor, Event};
use custos_manifest::manifest::{Case, Category, Item, LegalBasis, Manifest, Tool};
use custos_policy::{evaluate, Evidence, Policy, PolicyFinding, PolicyVerdict};

const ADA: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const ADA_SPARE: &str = "abababababababababababababababababababababababababababababababab";
const BOB: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn manifest(digests: &[&str], category: Option<Category>, bases: &[&str]) -> Manifest {
    Manifest {
        custos_manifest: 1,
        links: Vec::new(),
        case: Case { reference: "C-1".into(), exhibit: None },
        sealed_at: "2026-03-01T10:00:00+00:00".into(),
        location: None,
        jurisdiction: Some("XA".into()),
        tool: Tool { name: "custos".into(), version: "0.1.0".into() },
        legal_basis: bases.iter().map(|b| LegalBasis::parse(b).expect("basis")).collect(),
        items: vec![Item {
            path: "data/disk.img".into(),
            reference: false,
            size: 1,
            category,
            digests: digests.iter().map(|a| ((*a).to_owned(), "00".into())).collect(),
            segments: None,
            acquisition: None,
            stored_as: None,
            copy_verification: None,
        }],
    }
}

fn event(sequence: u64, action: Action, key: &str, time: &str) -> Event {
    let actor = Actor {
        key_id: key.into(),
        name: key[..3].into(),
        role: "examiner".into(),
        organisation: None,
        jurisdiction: Some("XA".into()),
    };
    Event {
        sequence,
        previous: (sequence > 0).then(|| format!("line-{}", sequence - 1)),
        manifest: "m".into(),
        receiver: (action == Action::Released).then(|| BOB.into()),
        release: (action == Action::Accepted).then(|| format!("line-{}", sequence - 1)),
        ..Event::blank(action, actor, time.into())
    }
}

fn policy(rules: &str) -> Policy {
    let text = format!(
        r#"{{"custos_policy":1,"id":"test","jurisdiction":"XA","name":"Test","effective_from":"2026-01-01T00:00:00+00:00"{rules}}}"#
    );
    Policy::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn keys(extra: &str) -> String {
    format!(
        r#","signatures":{{"trusted_keys":[{{"key_id":"{ADA}","principal":"Ada","roles":["examiner"]{extra}}},{{"key_id":"{ADA_SPARE}","principal":"Ada","roles":["examiner"]}},{{"key_id":"{BOB}","principal":"Bob","roles":["evidence_custodian"]}}],"seal_threshold":SEAL,"cite":"test"}}"#
    )
}

fn run(policy: &Policy, manifest: &Manifest, events: &[Event], signers: &[&str]) -> Vec<PolicyFinding> {
    run_at(policy, manifest, events, signers, "2026-06-01T00:00:00+00:00")
}

fn run_at(
    policy: &Policy,
    manifest: &Manifest,
    events: &[Event],
    signers: &[&str],
    at: &str,
) -> Vec<PolicyFinding> {
    judge(policy, manifest, events, signers, at, &Default::default())
}

/// Evaluates at `at` with `times` established by time-stamp tokens.
fn judge(
    policy: &Policy,
    manifest: &Manifest,
    events: &[Event],
    signers: &[&str],
    at: &str,
    times: &custos_policy::TrustedTimes,
) -> Vec<PolicyFinding> {
    let signers: Vec<String> = signers.iter().map(|s| (*s).to_owned()).collect();
    let at = custos_policy::time::parse_rfc3339(at).expect("time");
    evaluate(policy, &Evidence { manifest, events, manifest_signers: &signers, trusted_times: times }, at)
}

fn verdict(findings: &[PolicyFinding], rule: &str) -> PolicyVerdict {
    findings
        .iter()
        .filter(|f| f.rule == rule)
        .map(|f| f.verdict)
        .max()
        .unwrap_or_else(|| panic!("no finding for {rule}: {findings:#?}"))
}

fn sealed_by(key: &str) -> Vec<Event> {
    vec![event(0, Action::Sealed, key, "2026-03-01T10:00:00+00:00")]
}

#[test]
fn digests_required_any_and_never_sole() {
    let rule = policy(
        r#","digests":{"required_any":["sha256","sha512"],"never_sole":["md5","sha1"],"cite":"X art. 1"}"#,
    );
    let good = run(&rule, &manifest(&["md5", "sha256"], None, &[]), &[], &[]);
    assert_eq!(verdict(&good, "digests.required_any"), PolicyVerdict::Pass);
    assert_eq!(verdict(&good, "digests.never_sole"), PolicyVerdict::Pass);
    let legacy = run(&rule, &manifest(&["md5", "sha1"], None, &[]), &[], &[]);
    assert_eq!(verdict(&legacy, "digests.required_any"), PolicyVerdict::Fail);
    assert_eq!(verdict(&legacy, "digests.never_sole"), PolicyVerdict::Fail);
    assert!(legacy.iter().any(|f| f.citation == "X art. 1"));
}

#[test]
fn thresholds_count_principals_not_keys() {
    let rule = policy(&keys("").replace("SEAL", "2"));
    let m = manifest(&["sha256"], None, &[]);
    // Ada's two keys are one principal.
    let one_principal = run(&rule, &m, &sealed_by(ADA), &[ADA, ADA_SPARE]);
    assert_eq!(verdict(&one_principal, "signatures.seal_threshold"), PolicyVerdict::Fail);
    let two_principals = run(&rule, &m, &sealed_by(ADA), &[ADA, BOB]);
    assert_eq!(verdict(&two_principals, "signatures.seal_threshold"), PolicyVerdict::Pass);
    let stranger =
        run(&policy(&keys("").replace("SEAL", "1")), &m, &sealed_by(ADA), &["cc".repeat(32).as_str()]);
    assert_eq!(verdict(&stranger, "signatures.seal_threshold"), PolicyVerdict::Fail);
}

#[test]
fn key_validity_windows_at_the_second() {
    let m = manifest(&["sha256"], None, &[]);
    // The seal is at 10:00:00; a key valid until 10:00:00 (exclusive) no longer counts.
    let expired = policy(&keys(r#","valid_until":"2026-03-01T10:00:00+00:00""#).replace("SEAL", "1"));
    assert_eq!(
        verdict(&run(&expired, &m, &sealed_by(ADA), &[ADA]), "signatures.seal_threshold"),
        PolicyVerdict::Fail
    );
    let still_valid = policy(&keys(r#","valid_until":"2026-03-01T10:00:01+00:00""#).replace("SEAL", "1"));
    assert_eq!(
        verdict(&run(&still_valid, &m, &sealed_by(ADA), &[ADA]), "signatures.seal_threshold"),
        PolicyVerdict::Pass
    );
    let revoked = policy(&keys(r#","revoked_at":"2026-02-01T00:00:00+00:00""#).replace("SEAL", "1"));
    let findings = run(&revoked, &m, &sealed_by(ADA), &[ADA]);
    assert_eq!(verdict(&findings, "signatures.seal_threshold"), PolicyVerdict::Fail);
    assert_eq!(verdict(&findings, "signatures.custody_signer"), PolicyVerdict::Fail);
    let not_yet = policy(&keys(r#","valid_from":"2026-03-01T10:00:01+00:00""#).replace("SEAL", "1"));
    assert_eq!(
        verdict(&run(&not_yet, &m, &sealed_by(ADA), &[ADA]), "signatures.seal_threshold"),
        PolicyVerdict::Fail
    );
}

#[test]
fn roles_per_action() {
    let text = keys("").replace("SEAL", "1").replace(
        r#""cite":"test"}"#,
        r#""roles_per_action":{"accepted":["evidence_custodian"]},"cite":"test"}"#,
    );
    let rule = policy(&text);
    let m = manifest(&["sha256"], None, &[]);
    let mut events = sealed_by(ADA);
    events.push(event(1, Action::Released, ADA, "2026-03-02T10:00:00+00:00"));
    events.push(event(2, Action::Accepted, BOB, "2026-03-03T10:00:00+00:00"));
    assert_eq!(verdict(&run(&rule, &m, &events, &[ADA]), "signatures.custody_signer"), PolicyVerdict::Pass);
    events[2].actor.key_id = ADA.into();
    let findings = run(&rule, &m, &events, &[ADA]);
    assert_eq!(verdict(&findings, "signatures.roles"), PolicyVerdict::Fail);
}

#[test]
fn custody_acceptance_gaps_and_start() {
    let rule = policy(
        r#","custody":{"max_gap_days":30,"require_acceptance":true,"start_with":["sealed"],"cite":"Y s. 2"}"#,
    );
    let m = manifest(&["sha256"], None, &[]);
    let mut events = sealed_by(ADA);
    events.push(event(1, Action::Released, ADA, "2026-03-31T10:00:00+00:00"));
    // Exactly 30 days: allowed.
    let pending = run(&rule, &m, &events, &[]);
    assert_eq!(verdict(&pending, "custody.max_gap_days"), PolicyVerdict::Pass);
    assert_eq!(verdict(&pending, "custody.require_acceptance"), PolicyVerdict::Fail);
    assert_eq!(verdict(&pending, "custody.start_with"), PolicyVerdict::Pass);
    events.push(event(2, Action::Accepted, BOB, "2026-05-01T10:00:01+00:00"));
    let late = run(&rule, &m, &events, &[]);
    assert_eq!(verdict(&late, "custody.require_acceptance"), PolicyVerdict::Pass);
    assert_eq!(verdict(&late, "custody.max_gap_days"), PolicyVerdict::Fail, "31 days and a second");
    let unsealed = run(&rule, &m, &events[1..], &[]);
    assert_eq!(verdict(&unsealed, "custody.start_with"), PolicyVerdict::Fail);
}

#[test]
fn legal_basis_per_category() {
    let rule = policy(
        r#","legal_basis":{"required":true,"per_category":{"content":["warrant","mla_request"],"subscriber":["production_order"]},"cite":"Budapest art. 18, 31"}"#,
    );
    let with_warrant =
        run(&rule, &manifest(&["sha256"], Some(Category::Content), &["warrant:W-1"]), &[], &[]);
    assert_eq!(verdict(&with_warrant, "legal_basis.per_category"), PolicyVerdict::Pass);
    let only_order =
        run(&rule, &manifest(&["sha256"], Some(Category::Content), &["production_order:P-1"]), &[], &[]);
    assert_eq!(verdict(&only_order, "legal_basis.per_category"), PolicyVerdict::Fail);
    let none = run(&rule, &manifest(&["sha256"], Some(Category::Subscriber), &[]), &[], &[]);
    assert_eq!(verdict(&none, "legal_basis.required"), PolicyVerdict::Fail);
    let uncategorised = run(&rule, &manifest(&["sha256"], None, &["warrant:W-1"]), &[], &[]);
    assert_eq!(verdict(&uncategorised, "legal_basis.per_category"), PolicyVerdict::Warn);
}

#[test]
fn absent_rules_are_not_applicable() {
    let empty = run(&policy(""), &manifest(&["sha256"], None, &[]), &[], &[]);
    for rule in [
        "digests.required_any",
        "signatures.seal_threshold",
        "custody",
        "legal_basis",
        "preservation",
        "storage",
        "retention",
    ] {
        assert_eq!(verdict(&empty, rule), PolicyVerdict::NotApplicable, "{rule}");
    }
}

/// Sealed 2026-03-01T10:00:00; 90 days later is 2026-05-30T10:00:00.
#[test]
fn preservation_day_90_versus_91_and_renewals() {
    let renewable =
        policy(r#","preservation":{"max_days":90,"renewable":true,"cite":"Budapest art. 16(2)"}"#);
    let m = manifest(&["sha256"], None, &[]);
    let sealed = sealed_by(ADA);
    let on_day_90 = run_at(&renewable, &m, &sealed, &[], "2026-05-30T10:00:00+00:00");
    assert_eq!(verdict(&on_day_90, "preservation.period"), PolicyVerdict::Pass);
    let a_second_later = run_at(&renewable, &m, &sealed, &[], "2026-05-30T10:00:01+00:00");
    assert_eq!(verdict(&a_second_later, "preservation.period"), PolicyVerdict::Fail);

    let mut renewed = sealed.clone();
    renewed.push(event(1, Action::PreservationRenewed, ADA, "2026-05-29T10:00:00+00:00"));
    let on_day_91 = run_at(&renewable, &m, &renewed, &[], "2026-05-31T10:00:00+00:00");
    assert_eq!(verdict(&on_day_91, "preservation.period"), PolicyVerdict::Pass);

    let mut too_late = sealed.clone();
    too_late.push(event(1, Action::PreservationRenewed, ADA, "2026-05-31T10:00:00+00:00"));
    let findings = run_at(&renewable, &m, &too_late, &[], "2026-06-01T10:00:00+00:00");
    assert!(
        findings.iter().any(|f| f.rule == "preservation.period" && f.evidence.contains("already expired")),
        "{findings:#?}"
    );

    let fixed = policy(r#","preservation":{"max_days":90,"cite":"fixed"}"#);
    let findings = run_at(&fixed, &m, &renewed, &[], "2026-05-31T10:00:00+00:00");
    assert_eq!(verdict(&findings, "preservation.period"), PolicyVerdict::Fail);

    // Returned in time: preservation ended there.
    let mut returned = sealed.clone();
    returned.push(event(1, Action::Returned, ADA, "2026-04-01T10:00:00+00:00"));
    assert_eq!(
        verdict(&run_at(&fixed, &m, &returned, &[], "2027-01-01T00:00:00+00:00"), "preservation.period"),
        PolicyVerdict::Pass
    );
}

/// The country comes from the policy's entry for the signing key, never from the event:
/// the event's `actor` is copied from a key file its holder writes.
#[test]
fn storage_allowed_countries() {
    let m = manifest(&["sha256"], None, &[]);
    let home = policy(&format!(
        r#","signatures":{{"trusted_keys":[{{"key_id":"{ADA}","principal":"Ada","roles":["examiner"],"jurisdiction":"XA"}},{{"key_id":"{ADA_SPARE}","principal":"Ada","roles":["examiner"]}},{{"key_id":"{BOB}","principal":"Bob","roles":["evidence_custodian"],"jurisdiction":"XB"}}],"cite":"test"}},"storage":{{"allowed_countries":["XA"],"cite":"localisation"}}"#
    ));
    let mut events = sealed_by(ADA);
    assert_eq!(verdict(&run(&home, &m, &events, &[]), "storage.allowed_countries"), PolicyVerdict::Pass);
    // Ada's event claims another country: her policy entry decides.
    events[0].actor.jurisdiction = Some("ZZ".into());
    assert_eq!(verdict(&run(&home, &m, &events, &[]), "storage.allowed_countries"), PolicyVerdict::Pass);

    // Bob, whom the policy places in XB, claims XA in his key file: still held in XB.
    events.push(event(1, Action::Accessed, BOB, "2026-03-02T10:00:00+00:00"));
    events[1].actor.jurisdiction = Some("XA".into());
    let findings = run(&home, &m, &events, &[]);
    assert!(
        findings.iter().any(|f| f.verdict == PolicyVerdict::Fail && f.evidence.contains("held in XB")),
        "{findings:#?}"
    );

    // A trusted key without a jurisdiction in the policy fails, whatever the event says.
    events[1] = event(1, Action::Accessed, ADA_SPARE, "2026-03-02T10:00:00+00:00");
    events[1].actor.jurisdiction = Some("XA".into());
    let findings = run(&home, &m, &events, &[]);
    assert!(
        findings.iter().any(|f| f.verdict == PolicyVerdict::Fail
            && f.evidence.contains("the policy records no jurisdiction for this key")),
        "{findings:#?}"
    );

    // A key the policy does not trust fails, however it describes itself.
    events[1] = event(1, Action::Accessed, &"cc".repeat(32), "2026-03-02T10:00:00+00:00");
    events[1].actor.jurisdiction = Some("XA".into());
    events[1].actor.name = "Ada".into();
    let findings = run(&home, &m, &events, &[]);
    assert!(
        findings.iter().any(|f| f.rule == "storage.allowed_countries"
            && f.verdict == PolicyVerdict::Fail
            && f.evidence.contains("does not trust")),
        "{findings:#?}"
    );

    // A storage rule without trusted keys can place nobody.
    let no_keys = policy(r#","storage":{"allowed_countries":["XA"],"cite":"localisation"}"#);
    assert_eq!(
        verdict(&run(&no_keys, &m, &sealed_by(ADA), &[]), "storage.allowed_countries"),
        PolicyVerdict::Fail
    );
}

/// Roles come from the policy's entry: an event claiming a role its key does not have in the
/// policy gains nothing.
#[test]
fn roles_claimed_by_the_event_are_ignored() {
    let text = keys("").replace("SEAL", "1").replace(
        r#""cite":"test"}"#,
        r#""roles_per_action":{"accepted":["evidence_custodian"]},"cite":"test"}"#,
    );
    let rule = policy(&text);
    let m = manifest(&["sha256"], None, &[]);
    let mut events = sealed_by(ADA);
    events.push(event(1, Action::Released, ADA, "2026-03-02T10:00:00+00:00"));
    events.push(event(2, Action::Accepted, ADA, "2026-03-03T10:00:00+00:00"));
    events[2].actor.role = "evidence_custodian".into();
    events[2].actor.name = "Bob".into();
    let findings = run(&rule, &m, &events, &[ADA]);
    assert_eq!(verdict(&findings, "signatures.roles"), PolicyVerdict::Fail, "{findings:#?}");
    let roles = findings.iter().find(|f| f.rule == "signatures.roles").expect("roles finding");
    assert!(
        roles.evidence.contains("(accepted by Ada)"),
        "the policy's principal is shown: {}",
        roles.evidence
    );
}

/// An acceptance counts only when signed by the receiver the release names.
#[test]
fn acceptance_by_someone_else_does_not_count() {
    let rule = policy(r#","custody":{"require_acceptance":true,"cite":"Y s. 2"}"#);
    let m = manifest(&["sha256"], None, &[]);
    let mut events = sealed_by(ADA);
    events.push(event(1, Action::Released, ADA, "2026-03-02T10:00:00+00:00"));
    events.push(event(2, Action::Accepted, BOB, "2026-03-03T10:00:00+00:00"));
    assert_eq!(verdict(&run(&rule, &m, &events, &[]), "custody.require_acceptance"), PolicyVerdict::Pass);
    // Ada accepts her own release to Bob.
    events[2].actor.key_id = ADA.into();
    assert_eq!(verdict(&run(&rule, &m, &events, &[]), "custody.require_acceptance"), PolicyVerdict::Fail);
}

/// An event whose time cannot be read could hide a gap: the gap rule fails.
#[test]
fn an_unreadable_event_time_fails_the_gap_rule() {
    let rule = policy(r#","custody":{"max_gap_days":30,"cite":"Y s. 2"}"#);
    let m = manifest(&["sha256"], None, &[]);
    let mut events = sealed_by(ADA);
    events.push(event(1, Action::Accessed, ADA, "2026-03-02T10:00:00+00:00"));
    events.push(event(2, Action::Accessed, ADA, "2026-03-03T10:00:00+00:00"));
    assert_eq!(verdict(&run(&rule, &m, &events, &[]), "custody.max_gap_days"), PolicyVerdict::Pass);
    events[1].time = "2026-13-02T10:00:00+00:00".into();
    assert_eq!(verdict(&run(&rule, &m, &events, &[]), "custody.max_gap_days"), PolicyVerdict::Fail);
}

#[test]
fn retention_limits_and_disposal() {
    let rule = policy(
        r#","retention":{"max_days":{"traffic":30},"disposal_required":true,"cite":"data minimisation"}"#,
    );
    let m = manifest(&["sha256"], Some(Category::Traffic), &[]);
    let sealed = sealed_by(ADA);
    assert_eq!(
        verdict(&run_at(&rule, &m, &sealed, &[], "2026-03-31T10:00:00+00:00"), "retention.max_days"),
        PolicyVerdict::Pass
    );
    assert_eq!(
        verdict(&run_at(&rule, &m, &sealed, &[], "2026-03-31T10:00:01+00:00"), "retention.max_days"),
        PolicyVerdict::Fail
    );
    let mut destroyed = sealed.clone();
    destroyed.push(event(1, Action::Destroyed, ADA, "2026-03-20T10:00:00+00:00"));
    assert_eq!(
        verdict(&run_at(&rule, &m, &destroyed, &[], "2027-01-01T00:00:00+00:00"), "retention.max_days"),
        PolicyVerdict::Pass
    );
    let content = manifest(&["sha256"], Some(Category::Content), &[]);
    assert!(
        run(&rule, &content, &sealed, &[]).iter().all(|f| f.rule != "retention.max_days"),
        "no limit for content"
    );
}

#[test]
fn one_package_two_jurisdictions() {
    let legacy = policy(r#","digests":{"required_any":["md5","sha1","sha256"],"cite":"legacy"}"#);
    let strict = policy(
        r#","digests":{"required_any":["sha256","sha512","blake3"],"never_sole":["md5","sha1"],"cite":"strict"},"custody":{"require_acceptance":true,"cite":"strict"}"#,
    );
    let m = manifest(&["md5", "sha1"], None, &[]);
    let mut events = sealed_by(ADA);
    events.push(event(1, Action::Released, ADA, "2026-03-02T10:00:00+00:00"));
    let worst =
        |f: &[PolicyFinding]| f.iter().map(|x| x.verdict).max().unwrap_or(PolicyVerdict::NotApplicable);
    assert_eq!(worst(&run(&legacy, &m, &events, &[])), PolicyVerdict::Pass);
    let judged = run(&strict, &m, &events, &[]);
    assert_eq!(verdict(&judged, "digests.never_sole"), PolicyVerdict::Fail);
    assert_eq!(verdict(&judged, "custody.require_acceptance"), PolicyVerdict::Fail);
}

#[test]
fn policy_mistakes_are_explained() {
    let duplicate = br#"{"custos_policy":1,"id":"a","id":"b","jurisdiction":"XA","name":"n","effective_from":"2026-01-01T00:00:00Z"}"#;
    let error = Policy::parse(duplicate).expect_err("duplicate").to_string();
    assert!(error.contains("duplicate key `id`") && error.contains("line 1"), "{error}");
    let unknown = br#"{"custos_policy":1,"id":"a","jurisdiction":"XA","name":"n","effective_from":"2026-01-01T00:00:00Z","digest":{}}"#;
    let error = Policy::parse(unknown).expect_err("unknown rule").to_string();
    assert!(error.contains("unknown field `digest`"), "{error}");
    let future = br#"{"custos_policy":3,"id":"a","jurisdiction":"XA","name":"n","effective_from":"2026-01-01T00:00:00Z"}"#;
    assert!(Policy::parse(future).expect_err("version").to_string().contains("version 3"));
    let bad_key = br#"{"custos_policy":1,"id":"a","jurisdiction":"XA","name":"n","effective_from":"2026-01-01T00:00:00Z","signatures":{"trusted_keys":[{"key_id":"XYZ","principal":"p"}],"cite":"c"}}"#;
    let error = Policy::parse(bad_key).expect_err("key id").to_string();
    assert!(error.contains("$.signatures.trusted_keys[0].key_id"), "{error}");
}

/// Evaluates with trusted times from time-stamp tokens.
fn run_with_times(
    policy: &Policy,
    manifest: &Manifest,
    events: &[Event],
    signers: &[&str],
    times: &custos_policy::TrustedTimes,
) -> Vec<PolicyFinding> {
    judge(policy, manifest, events, signers, "2026-06-01T00:00:00+00:00", times)
}

#[test]
fn backdating_with_a_revoked_key_fails_and_a_trusted_time_decides() {
    // Ada's key is revoked on 1 April; the manifest claims 1 March.
    let revoked = policy(&keys(r#","revoked_at":"2026-04-01T00:00:00+00:00""#).replace("SEAL", "1"));
    let m = manifest(&["sha256"], None, &[]);
    let events = sealed_by(ADA);
    // No trusted time: a thief holding the revoked key could claim any earlier date.
    let claimed_only = run_with_times(&revoked, &m, &events, &[ADA], &Default::default());
    assert_eq!(verdict(&claimed_only, "signatures.seal_threshold"), PolicyVerdict::Fail);
    let text =
        &claimed_only.iter().find(|f| f.rule == "signatures.seal_threshold").expect("finding").evidence;
    assert!(text.contains("without a trusted time-stamp"), "{text}");

    let at = |t: &str| custos_policy::time::parse_rfc3339(t).expect("time");
    // A token shows the signature existed on 1 March: it counts.
    let mut before = custos_policy::TrustedTimes::default();
    before.manifest.insert(ADA.into(), at("2026-03-01T10:00:05+00:00"));
    before.events.insert(0, at("2026-03-01T10:00:05+00:00"));
    let findings = run_with_times(&revoked, &m, &events, &[ADA], &before);
    assert_eq!(verdict(&findings, "signatures.seal_threshold"), PolicyVerdict::Pass);
    assert_eq!(verdict(&findings, "signatures.custody_signer"), PolicyVerdict::Pass);
    // A token shows it was made in May, after the revocation, whatever the manifest claims.
    let mut after = custos_policy::TrustedTimes::default();
    after.manifest.insert(ADA.into(), at("2026-05-01T00:00:00+00:00"));
    let findings = run_with_times(&revoked, &m, &events, &[ADA], &after);
    assert_eq!(verdict(&findings, "signatures.seal_threshold"), PolicyVerdict::Fail);
}

#[test]
fn the_time_rule_requires_tokens_and_limits_skew() {
    let rule = |skew: &str| {
        policy(&format!(
            r#","time":{{"trusted_timestamps":"required"{skew},"cite":"Fictional Evidence Act s. 9"}}"#
        ))
    };
    let m = manifest(&["sha256"], None, &[]);
    let events = sealed_by(ADA);
    let none = run_with_times(&rule(""), &m, &events, &[ADA], &Default::default());
    assert_eq!(verdict(&none, "time.trusted_timestamps"), PolicyVerdict::Fail);
    let at = |t: &str| custos_policy::time::parse_rfc3339(t).expect("time");
    let mut times = custos_policy::TrustedTimes::default();
    times.manifest.insert(ADA.into(), at("2026-03-01T10:00:30+00:00"));
    times.events.insert(0, at("2026-03-01T10:00:30+00:00"));
    let close = run_with_times(&rule(r#","max_skew_seconds":60"#), &m, &events, &[ADA], &times);
    assert_eq!(verdict(&close, "time.trusted_timestamps"), PolicyVerdict::Pass);
    let tight = run_with_times(&rule(r#","max_skew_seconds":10"#), &m, &events, &[ADA], &times);
    assert_eq!(verdict(&tight, "time.trusted_timestamps"), PolicyVerdict::Fail);
    assert!(Policy::parse(br#"{"custos_policy":1,"id":"t","jurisdiction":"XA","name":"T","effective_from":"2026-01-01T00:00:00Z","time":{"trusted_timestamps":"Required","cite":"x"}}"#).is_err());
}

/// Every rule id the evaluator emits has a title of its own for reports.
#[test]
fn every_rule_has_a_title() {
    // Every module under src/rules, read when the test runs: a rule module added later is
    // checked without editing this list.
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rules");
    let source: String = std::fs::read_dir(&folder)
        .expect("src/rules")
        .map(|entry| std::fs::read_to_string(entry.expect("entry").path()).expect("a rule module"))
        .collect();
    let mut rules: Vec<&str> = source
        .split("out.add(")
        .skip(1)
        .filter_map(|call| call.trim_start().strip_prefix('"')?.split('"').next())
        .collect();
    rules.sort();
    rules.dedup();
    assert!(rules.len() > 10, "found the rule ids: {rules:?}");
    for rule in rules {
        assert_ne!(custos_policy::rule_title(rule), "A rule of this policy", "{rule} has no title");
    }
}

/// A disposal counts for the items it names (all, when it names none), and a recipient's
/// destruction of its disclosed copy is no disposal of the evidence.
#[test]
fn retention_reads_which_items_a_disposal_names_and_ignores_disclosed_copies() {
    let rule = policy(r#","retention":{"max_days":{"content":1},"disposal_required":true,"cite":"t"}"#);
    let mut m = manifest(&["sha256"], Some(Category::Content), &[]);
    let mut second = m.items[0].clone();
    second.path = "data/b.img".into();
    m.items.push(second);
    let sealed = event(0, Action::Sealed, ADA, "2026-03-01T10:00:00+00:00");
    let mut partial = event(1, Action::Destroyed, ADA, "2026-03-01T12:00:00+00:00");
    partial.items = vec!["data/disk.img".into()];
    let findings = run(&rule, &m, &[sealed.clone(), partial], &[ADA]);
    let said: Vec<(PolicyVerdict, &str)> = findings
        .iter()
        .filter(|f| f.rule == "retention.max_days")
        .map(|f| (f.verdict, f.evidence.as_str()))
        .collect();
    assert_eq!(said[0], (PolicyVerdict::Pass, "data/disk.img disposed of within 1 days"));
    assert_eq!(
        said[1],
        (PolicyVerdict::Fail, "data/b.img held past its 1-day limit and no disposal is recorded")
    );

    let mut copy = event(1, Action::Destroyed, BOB, "2026-03-01T12:00:00+00:00");
    copy.disclosure = Some("ab".repeat(32));
    let findings = run(&rule, &m, &[sealed, copy], &[ADA]);
    assert!(
        findings.iter().filter(|f| f.rule == "retention.max_days").all(|f| f.verdict == PolicyVerdict::Fail),
        "a recipient's copy destroyed disposes of nothing: {findings:#?}"
    );
}
