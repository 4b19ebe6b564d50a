//! The custody log's tamper suite: transfers need the receiver's signature, and editing,
//! reordering, removing or tearing events is caught.

use std::path::{Path, PathBuf};

use custos_hash::{Algorithm, Control};
use custos_manifest::custody::{
    parse_line_unverified, sha256_hex, signed_line, Action, Actor, Event, NewEvent, CUSTODY_PATH,
};
use custos_manifest::findings::{overall, Finding, Verdict};
use custos_manifest::keys::{KeyPair, Owner, PublicKey};
use custos_manifest::manifest::Case;
use custos_manifest::package::{add_event, seal, verify, SealRequest, Trust};

struct Fixture {
    _dir: tempfile::TempDir,
    package: PathBuf,
    ada: KeyPair,
    bob: KeyPair,
    mallory: KeyPair,
}

fn key(name: &str, role: &str) -> KeyPair {
    let owner =
        Owner { name: name.into(), role: role.into(), organisation: None, jurisdiction: Some("DE".into()) };
    KeyPair::generate(owner, "2026-11-29T13:00:00+00:00".into()).expect("key")
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let evidence = dir.path().join("disk.img");
    std::fs::write(&evidence, vec![7u8; 10_000]).expect("write");
    let ada = key("Ada Examiner", "examiner");
    let evidence = vec![evidence];
    let request = SealRequest {
        evidence: &evidence,
        reference: false,
        case: Case { reference: "CASE-9".into(), exhibit: None },
        jurisdiction: Some("DE".into()),
        category: None,
        item_categories: &[],
        legal_basis: vec![],
        location: None,
        country: None,
        algorithms: vec![Algorithm::Sha256],
        segments: None,
        signer: &ada.secret,
        signer_public: &ada.public,
        sealed_at: "2026-11-29T14:00:00+00:00".into(),
        tsa: None,
        acquired: &[],
        resume: None,
    };
    let package = dir.path().join("pkg");
    seal(&package, &request, &Control::default()).expect("seal");
    Fixture {
        _dir: dir,
        package,
        ada,
        bob: key("Bob Custodian", "evidence_custodian"),
        mallory: key("Mallory", "examiner"),
    }
}

fn release(f: &Fixture, to: &PublicKey) {
    let mut event = NewEvent::new(Action::Released, "2026-11-29T15:00:00+00:00".into());
    event.receiver = Some(to.id().to_string());
    event.purpose = Some("transfer to the evidence store".into());
    add_event(&f.package, event, &f.ada.secret, &f.ada.public, Some(to)).expect("release");
}

fn accept(f: &Fixture, by: &KeyPair) -> Result<(), custos_manifest::Error> {
    let event = NewEvent::new(Action::Accepted, "2026-11-29T16:00:00+00:00".into());
    add_event(&f.package, event, &by.secret, &by.public, None).map(|_| ())
}

fn findings(f: &Fixture) -> Vec<Finding> {
    let trust = Trust {
        keys: vec![f.ada.public.clone(), f.bob.public.clone(), f.mallory.public.clone()],
        allow_untrusted: false,
    };
    verify(&f.package, &trust, false)
}

fn assert_caught(f: &Fixture, check: &str, needle: &str) {
    let findings = findings(f);
    let failed: Vec<String> = findings
        .iter()
        .filter(|x| x.verdict == Verdict::Fail)
        .map(|x| format!("{} {}: {}", x.check, x.subject, x.detail))
        .collect();
    assert!(
        failed.iter().any(|l| l.starts_with(check) && l.contains(needle)),
        "wanted {check} `{needle}`, got {failed:#?}"
    );
}

fn log_lines(package: &Path) -> Vec<String> {
    std::fs::read_to_string(package.join(CUSTODY_PATH)).expect("log").lines().map(str::to_owned).collect()
}

fn write_log(package: &Path, lines: &[String]) {
    std::fs::write(package.join(CUSTODY_PATH), lines.iter().map(|l| format!("{l}\n")).collect::<String>())
        .expect("write log");
}

#[test]
fn a_completed_transfer_verifies_and_a_pending_one_warns() {
    let f = fixture();
    release(&f, &f.bob.public);
    let pending = findings(&f);
    assert_eq!(overall(&pending), Verdict::Warn);
    assert!(pending.iter().any(|x| x.check == "custody.pending" && x.detail.contains("in transit")));
    accept(&f, &f.bob).expect("accept");
    let done = findings(&f);
    assert_eq!(overall(&done), Verdict::Pass, "{done:#?}");
    assert!(done.iter().any(|x| x.check == "custody.transfer" && x.verdict == Verdict::Pass));
    assert_eq!(log_lines(&f.package).len(), 3);
}

#[test]
fn only_the_named_receiver_can_accept() {
    let f = fixture();
    release(&f, &f.bob.public);
    assert!(accept(&f, &f.mallory).is_err(), "nothing is pending for Mallory");
    // Mallory asks the library to sign an acceptance naming Bob's release: refused.
    let release_digest = sha256_hex(log_lines(&f.package)[1].as_bytes());
    let mut forged = NewEvent::new(Action::Accepted, "2026-11-29T16:00:00+00:00".into());
    forged.release = Some(release_digest.clone());
    let refused = add_event(&f.package, forged, &f.mallory.secret, &f.mallory.public, None);
    assert!(refused.is_err_and(|e| e.to_string().contains("nothing was signed")));
    // She signs one herself and appends it: the verifier catches it.
    forge(&f, &f.mallory, |event| {
        event.action = Action::Accepted;
        event.release = Some(release_digest);
    });
    assert_caught(&f, "custody.transfer", "names receiver");
}

#[test]
fn an_acceptance_without_a_release_fails() {
    let f = fixture();
    let mut orphan = NewEvent::new(Action::Accepted, "2026-11-29T16:00:00+00:00".into());
    orphan.release = Some("00".repeat(32));
    assert!(add_event(&f.package, orphan, &f.bob.secret, &f.bob.public, None).is_err());
    forge(&f, &f.bob, |event| {
        event.action = Action::Accepted;
        event.release = Some("00".repeat(32));
    });
    assert_caught(&f, "custody.transfer", "acceptance of no release");
}

#[test]
fn only_the_holder_releases_returns_or_destroys() {
    let f = fixture();
    // Bob does not hold the evidence: the library refuses to sign his release.
    let mut release_by_bob = NewEvent::new(Action::Released, "2026-11-29T15:00:00+00:00".into());
    release_by_bob.receiver = Some(f.mallory.public.id().to_string());
    let refused =
        add_event(&f.package, release_by_bob, &f.bob.secret, &f.bob.public, Some(&f.mallory.public));
    assert!(refused.is_err_and(|e| e.to_string().contains("holds the evidence")));
    // Ada may not release to herself, nor twice at once.
    let mut to_herself = NewEvent::new(Action::Released, "2026-11-29T15:00:00+00:00".into());
    to_herself.receiver = Some(f.ada.public.id().to_string());
    assert!(add_event(&f.package, to_herself, &f.ada.secret, &f.ada.public, None)
        .is_err_and(|e| e.to_string().contains("own key")));
    release(&f, &f.bob.public);
    let mut twice = NewEvent::new(Action::Released, "2026-11-29T15:30:00+00:00".into());
    twice.receiver = Some(f.mallory.public.id().to_string());
    assert!(add_event(&f.package, twice, &f.ada.secret, &f.ada.public, Some(&f.mallory.public))
        .is_err_and(|e| e.to_string().contains("still pending")));
    accept(&f, &f.bob).expect("accept");
    // Now Bob holds it; Ada can no longer destroy it, and a forged destruction is caught.
    let destroy = NewEvent::new(Action::Destroyed, "2026-11-29T17:00:00+00:00".into());
    assert!(add_event(&f.package, destroy, &f.ada.secret, &f.ada.public, None).is_err());
    forge(&f, &f.ada, |event| event.action = Action::Destroyed);
    assert_caught(&f, "custody.holder", "Bob Custodian");
}

#[test]
fn after_destruction_only_access_and_witnesses_follow() {
    let f = fixture();
    let destroy = NewEvent::new(Action::Destroyed, "2026-11-29T15:00:00+00:00".into());
    add_event(&f.package, destroy, &f.ada.secret, &f.ada.public, None).expect("destroyed");
    let accessed = NewEvent::new(Action::Accessed, "2026-11-29T15:10:00+00:00".into());
    add_event(&f.package, accessed, &f.bob.secret, &f.bob.public, None).expect("an access");
    let witnessed = NewEvent::new(Action::Witnessed, "2026-11-29T15:11:00+00:00".into());
    add_event(&f.package, witnessed, &f.bob.secret, &f.bob.public, None).expect("a witness");
    // Nothing can be examined once destroyed (0.2 allowed any observation: verify only warns
    // of one, so such a package still verifies).
    let examined = NewEvent::new(Action::Examined, "2026-11-29T15:15:00+00:00".into());
    assert!(add_event(&f.package, examined, &f.bob.secret, &f.bob.public, None)
        .is_err_and(|e| e.to_string().contains("only accessed and witnessed may follow")));
    let mut release = NewEvent::new(Action::Released, "2026-11-29T15:20:00+00:00".into());
    release.receiver = Some(f.bob.public.id().to_string());
    assert!(add_event(&f.package, release, &f.ada.secret, &f.ada.public, Some(&f.bob.public))
        .is_err_and(|e| e.to_string().contains("only accessed and witnessed may follow")));
    let found = findings(&f);
    assert_eq!(overall(&found), Verdict::Warn);
    let warned: Vec<&str> = found.iter().filter(|x| x.verdict == Verdict::Warn).map(|x| x.check).collect();
    assert_eq!(warned, ["custody.destroyed"], "only that the destroyed evidence's bytes remain");
}

/// Appends an event signed by `by` that the library would refuse to sign, the way an
/// insider with the key would: built from the last event, changed by `edit`, chained.
fn forge(f: &Fixture, by: &KeyPair, edit: impl FnOnce(&mut Event)) {
    let lines = log_lines(&f.package);
    let last = lines.last().expect("a log");
    let mut event = parse_line_unverified(last.as_bytes()).expect("an event");
    event.sequence = lines.len() as u64;
    event.previous = Some(sha256_hex(last.as_bytes()));
    event.actor = Actor::of(&by.public);
    event.action = Action::Examined;
    event.time = "2026-11-29T16:30:00+00:00".into();
    (event.receiver, event.release, event.note) = (None, None, None);
    edit(&mut event);
    let line = String::from_utf8(signed_line(&event, &by.secret).expect("sign")).expect("UTF-8");
    let mut all = lines.clone();
    all.push(line);
    write_log(&f.package, &all);
}

#[test]
fn an_edited_event_fails_its_signature() {
    let f = fixture();
    release(&f, &f.bob.public);
    let mut lines = log_lines(&f.package);
    lines[1] = lines[1].replace("evidence store", "evidence st0re");
    write_log(&f.package, &lines);
    assert_caught(&f, "custody.signature", "does not verify");
}

#[test]
fn reordered_or_removed_events_break_the_chain() {
    let f = fixture();
    release(&f, &f.bob.public);
    accept(&f, &f.bob).expect("accept");
    add_event(
        &f.package,
        NewEvent::new(Action::Examined, "2026-11-29T17:00:00+00:00".into()),
        &f.bob.secret,
        &f.bob.public,
        None,
    )
    .expect("examined");
    let lines = log_lines(&f.package);

    let mut reordered = lines.clone();
    reordered.swap(2, 3);
    write_log(&f.package, &reordered);
    assert_caught(&f, "custody.sequence", "removed or reordered");
    assert_caught(&f, "custody.chain", "line before it");

    let mut removed = lines.clone();
    removed.remove(2);
    write_log(&f.package, &removed);
    assert_caught(&f, "custody.sequence", "event 2");
    assert_caught(&f, "custody.chain", "event 2");
}

#[test]
fn a_torn_last_line_is_reported_and_never_built_on() {
    let f = fixture();
    release(&f, &f.bob.public);
    let log = f.package.join(CUSTODY_PATH);
    let bytes = std::fs::read(&log).expect("read");
    std::fs::write(&log, &bytes[..bytes.len() - 20]).expect("tear");
    assert_caught(&f, "custody.torn_line", "incomplete");
    let refused = accept(&f, &f.bob);
    assert!(refused.is_err_and(|e| e.to_string().contains("torn line")));
}

#[test]
fn concurrent_appends_are_serialised() {
    let f = fixture();
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let f = &f;
            scope.spawn(move || {
                for i in 0..5 {
                    let mut event = NewEvent::new(Action::Accessed, "2026-11-29T18:00:00+00:00".into());
                    event.note = Some(format!("worker {worker}, access {i}"));
                    add_event(&f.package, event, &f.ada.secret, &f.ada.public, None).expect("append");
                }
            });
        }
    });
    assert_eq!(log_lines(&f.package).len(), 21);
    let findings = findings(&f);
    assert_eq!(
        overall(&findings),
        Verdict::Pass,
        "{:#?}",
        findings.iter().filter(|x| x.verdict != Verdict::Pass).collect::<Vec<_>>()
    );
}
