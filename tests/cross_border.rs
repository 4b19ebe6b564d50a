//! Evidence that crosses borders (docs/formats/custody.md): where the evidence is at every
//! event, stated in signed events and carried until another event states otherwise.

mod support;

use support::{copy_test_keys, custos_in, write};

#[test]
fn the_country_is_signed_at_every_event_and_carried_until_a_move() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    write(d, "disk.img", b"evidence");
    let sealed = custos_in(
        d,
        &[
            "seal",
            "--key",
            "rfc8032-test1",
            "--case",
            "X-1",
            "--country",
            "de",
            "--location",
            "Lab Berlin",
            "--out",
            "pkg",
            "disk.img",
        ],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let unknown = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    assert!(unknown.stdout.contains("; in DE since event 0"), "{}", unknown.stdout);

    let record = |extra: &[&str]| {
        let mut args = vec!["custody", "record", "pkg", "--key", "rfc8032-test1"];
        args.extend_from_slice(extra);
        custos_in(d, &args)
    };
    support::assert_refused(&record(&["--action", "moved"]), "a move says where to");
    support::assert_refused(
        &record(&["--action", "moved", "--country", "Germany"]),
        "is not an ISO 3166-1 alpha-2",
    );
    support::assert_refused(&record(&["--action", "moved", "--country", "UK"]), "the United Kingdom is GB");
    let moved = record(&["--action", "moved", "--country", "XB", "--location", "Borealia evidence vault"]);
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    assert_eq!(record(&["--action", "examined"]).code, 0);

    let log = custos_in(d, &["custody", "log", "pkg"]);
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert!(lines[0].contains("  DE    sealed") && lines[0].ends_with("at Lab Berlin"), "{}", log.stdout);
    assert!(
        lines[1].contains("  XB    moved") && lines[1].ends_with("at Borealia evidence vault"),
        "{}",
        log.stdout
    );
    assert!(lines[2].contains("  (XB)  examined"), "carried, and said to be: {}", log.stdout);

    let json = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--json"]);
    assert_eq!(json.code, 0, "{}", json.stdout);
    let report: serde_json::Value = serde_json::from_str(json.stdout.trim()).expect("JSON");
    assert_eq!(report["custody"]["place"], serde_json::json!({ "country": "XB", "since": 1 }));
    let events: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == "custody.event")
        .filter_map(|f| f["detail"].as_str())
        .collect();
    assert!(events[0].ends_with(", in DE") && events[1].ends_with(", in XB"), "{events:?}");
    assert!(events[2].ends_with(", in XB (as event 1 stated)"), "{events:?}");

    let made = custos_in(d, &["report", "pkg", "--trust", "rfc8032-test1.pub", "--out", "r.html"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let html = std::fs::read_to_string(d.join("r.html")).expect("report");
    assert!(html.contains("<th>Where the evidence was</th>"), "the report has the column");
    assert!(html.contains("<td class=\"country\">XB (as stated before)</td>"), "carried in the report");
}

#[test]
fn a_package_whose_events_state_no_country_says_so_and_guesses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    // The sealer's key file names a jurisdiction: it says where the signer comes from, not
    // where the evidence is.
    support::seal_content_package(d, "X-2", 1_000);
    let run = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    assert!(run.stdout.contains("country unknown (no event states one)"), "{}", run.stdout);
    let log = custos_in(d, &["custody", "log", "pkg"]);
    assert!(log.stdout.lines().next().is_some_and(|l| l.contains("  ??    sealed")), "{}", log.stdout);
}

#[test]
fn each_item_may_hold_its_own_kind_of_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    write(d, "takeout/mail/inbox.mbox", b"From: a\n");
    write(d, "takeout/logs/dhcp.log", b"10.0.0.7 leased 2026-03-01T10:00:00Z\n");
    let seal = |out: &str, extra: &[&str]| {
        let mut args =
            vec!["seal", "--key", "rfc8032-test1", "--case", "X-3", "--category", "content", "--out", out];
        args.extend_from_slice(extra);
        args.push("takeout");
        custos_in(d, &args)
    };
    support::assert_refused(
        &seal("typo", &["--item-category", "takeout/logs/dchp.log=identification"]),
        "no item has that path",
    );
    assert!(!d.join("typo").exists(), "refused before anything was copied");
    support::assert_refused(
        &seal("bad", &["--item-category", "takeout/logs/dhcp.log=ip"]),
        "is not a category",
    );
    // Red team (round 7): two categories for one item, spelled two ways, took the first.
    let twice = [
        "--item-category",
        "takeout/logs/dhcp.log=traffic",
        "--item-category",
        "data/takeout/logs/dhcp.log=content",
    ];
    support::assert_refused(&seal("twice", &twice), "is given twice (traffic and content)");
    let mut dry = twice.to_vec();
    dry.push("--dry-run");
    support::assert_refused(&seal("twice", &dry), "is given twice");
    let sealed = seal("pkg", &["--item-category", "takeout/logs/dhcp.log=identification"]);
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("pkg/custos/manifest.json")).expect("manifest"))
            .expect("JSON");
    let categories: Vec<(&str, &str)> = manifest["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| (i["path"].as_str().expect("path"), i["category"].as_str().expect("category")))
        .collect();
    assert_eq!(
        categories,
        [("data/takeout/logs/dhcp.log", "identification"), ("data/takeout/mail/inbox.mbox", "content")]
    );
    let verified = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
}

/// Red team (round 6): the storage rule read only where the signers' keys come from, so
/// evidence moved abroad by a signed `moved` event was still ACCEPTABLE where it must stay;
/// and an observation by someone who does not hold the evidence could state where it is.
#[test]
fn the_storage_rule_reads_the_signed_country_and_only_the_holder_states_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    write(d, "disk.img", b"evidence");
    write(
        d,
        "xb.json",
        br#"{"custos_policy":1,"id":"xb-storage","jurisdiction":"XB","name":"Borealia storage","effective_from":"2026-01-01T00:00:00Z",
            "storage":{"allowed_countries":["XB"],"cite":"art. 1"}}"#,
    );
    let sealed = custos_in(
        d,
        &["seal", "--key", "rfc8032-test1", "--case", "X-4", "--country", "XB", "--out", "pkg", "disk.img"],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let judge = || {
        custos_in(
            d,
            &[
                "verify",
                "pkg",
                "--trust",
                "rfc8032-test1.pub",
                "--trust",
                "rfc8032-test2.pub",
                "--policy",
                "xb.json",
            ],
        )
    };
    let home = judge();
    assert_eq!(home.code, 0, "kept in Borealia: {}", home.stdout);

    // Bob, trusted but not the holder, cannot say where the evidence is.
    let observed = custos_in(
        d,
        &["custody", "record", "pkg", "--key", "rfc8032-test2", "--action", "examined", "--country", "XZ"],
    );
    support::assert_refused(&observed, "only the holder says where the evidence is");

    let moved = custos_in(
        d,
        &[
            "custody",
            "record",
            "pkg",
            "--key",
            "rfc8032-test1",
            "--action",
            "moved",
            "--country",
            "XZ",
            "--location",
            "offshore vault",
        ],
    );
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    let abroad = judge();
    assert_eq!(abroad.code, 1, "{}", abroad.stdout);
    assert!(abroad.stdout.contains("NOT ACCEPTABLE in XB"), "{}", abroad.stdout);
    let json =
        custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--policy", "xb.json", "--json"]);
    let report: serde_json::Value = serde_json::from_str(json.stdout.trim()).expect("JSON");
    let storage: Vec<String> = report["policies"][0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "storage.allowed_countries" && f["verdict"] == "fail")
        .map(|f| f["evidence"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(storage.len(), 1, "{storage:?}");
    assert!(
        storage[0].contains("the evidence was kept in XZ from ")
            && storage[0].ends_with(" on; these rules allow only XB"),
        "{storage:?}"
    );
}

/// Issue 21 (orders as signed records): an order is recorded with its document, listed,
/// extended by a new order naming it (never edited), and verify checks the document against
/// the digest the event signed.
#[test]
fn orders_are_recorded_with_their_documents_and_extended_never_edited() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    support::seal_content_package(d, "X-5", 1_000);
    write(d, "PO-1.pdf", b"%PDF-1.4 preservation order PO-1/26\n");
    let order = |extra: &[&str]| {
        let mut args =
            vec!["order", "add", "pkg", "--key", "rfc8032-test1", "--issuer", "Amtsgericht Berlin"];
        args.extend_from_slice(&[
            "--issuing-state",
            "DE",
            "--issued-at",
            "2026-03-01",
            "--valid-from",
            "2026-03-01",
        ]);
        args.extend_from_slice(extra);
        custos_in(d, &args)
    };
    let first = order(&[
        "--kind",
        "preservation order",
        "--reference",
        "PO-1/26",
        "--valid-until",
        "2026-05-30",
        "--categories",
        "traffic,subscriber",
        "--enforcing-state",
        "XB",
        "--file",
        "PO-1.pdf",
    ]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    support::assert_refused(
        &order(&["--kind", "warant", "--reference", "W", "--valid-until", "2026-05-30"]),
        "did you mean `warrant`",
    );
    support::assert_refused(
        &order(&["--kind", "warrant", "--reference", "W", "--valid-until", "2026-02-01"]),
        "is before valid from",
    );
    support::assert_refused(
        &order(&["--kind", "preservation_order", "--reference", "PO-1/26", "--valid-until", "2026-06-29"]),
        "is recorded already",
    );
    support::assert_refused(
        &order(&[
            "--kind",
            "preservation_order",
            "--reference",
            "PO-2/26",
            "--valid-until",
            "2026-06-29",
            "--extends",
            "PO-9",
        ]),
        "which is not recorded before it",
    );
    support::assert_refused(
        &order(&["--kind", "preservation_order", "--reference", " po-1/26 ", "--valid-until", "2026-06-29"]),
        "is recorded already",
    );
    let future = [
        "--kind",
        "warrant",
        "--reference",
        "W-2031",
        "--issued-at",
        "2031-01-01",
        "--valid-from",
        "2031-01-01",
        "--valid-until",
        "2032-01-01",
    ];
    let mut args =
        vec!["order", "add", "pkg", "--key", "rfc8032-test1", "--issuer", "Court", "--issuing-state", "DE"];
    args.extend_from_slice(&future);
    support::assert_refused(&custos_in(d, &args), "after the event that records it");
    let extended = order(&[
        "--kind",
        "preservation_order",
        "--reference",
        "PO-2/26",
        "--valid-until",
        "2026-06-29",
        "--extends",
        "PO-1/26",
    ]);
    assert_eq!(extended.code, 0, "{}", extended.stderr);

    let listed = custos_in(d, &["order", "list", "pkg", "--json"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let orders: Vec<serde_json::Value> =
        listed.stdout.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(orders.len(), 2, "{}", listed.stdout);
    assert_eq!(orders[0]["order"]["kind"], "preservation_order");
    assert_eq!(orders[0]["order"]["categories"], serde_json::json!(["traffic", "subscriber"]));
    assert_eq!(orders[0]["order"]["valid_until"], "2026-05-30T00:00:00+00:00");
    assert_eq!(orders[1]["order"]["extends"], "PO-1/26");
    let document = orders[0]["order"]["document"]["path"].as_str().expect("a document").to_owned();
    assert!(document.starts_with("custos/orders/") && document.ends_with("-PO-1.pdf"), "{document}");
    assert_eq!(
        std::fs::read(d.join("pkg").join(&document)).expect("kept"),
        b"%PDF-1.4 preservation order PO-1/26\n"
    );

    let verified = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub", "--strict"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    let made = custos_in(d, &["report", "pkg", "--trust", "rfc8032-test1.pub", "--out", "r.html"]);
    assert_eq!(made.code, 0, "{}", made.stderr);
    let html = std::fs::read_to_string(d.join("r.html")).expect("report");
    assert!(html.contains("<h2>Orders</h2>"), "the report lists the orders");
    assert!(html.contains("preservation order <strong>PO-1/26</strong>"), "{html}");
    assert!(html.contains("<br>extends PO-1/26"), "the extension names what it extends");

    // The document changed, and the bag's lists rewritten: the signed digest catches it.
    std::fs::write(d.join("pkg").join(&document), b"%PDF-1.4 another order\n").expect("edit");
    support::recompute_tag_manifests(&d.join("pkg"));
    let changed = custos_in(d, &["verify", "pkg", "--trust", "rfc8032-test1.pub"]);
    assert_eq!(changed.code, 1, "{}", changed.stdout);
    assert!(changed.stdout.contains("FAIL  order.document"), "{}", changed.stdout);
}

/// Issue 21: a court adds the keys it trusts to a policy with a command, not by editing JSON;
/// a signature over the policy's old bytes is said to need renewing.
#[test]
fn a_policy_trusts_a_key_by_command_and_its_old_signature_is_said_to_be_stale() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    copy_test_keys(d);
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies/examples/xb-borealia-strict.json");
    std::fs::copy(example, d.join("xb.json")).expect("copy");
    let signed = custos_in(d, &["policy", "sign", "xb.json", "--key", "rfc8032-test2"]);
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let made = custos_in(
        d,
        &["keygen", "--name", "Carl Court", "--role", "examiner", "--out", "carl", "--no-passphrase"],
    );
    assert_eq!(made.code, 0, "{}", made.stderr);
    let trust = |extra: &[&str]| {
        let mut args = vec!["policy", "trust", "xb.json", "carl.pub", "--principal", "Carl Court"];
        args.extend_from_slice(extra);
        custos_in(d, &args)
    };
    support::assert_refused(
        &trust(&["--roles", "examiner", "--country", "Borealia"]),
        "is not an ISO 3166-1",
    );
    support::assert_refused(&trust(&["--roles", "exmainer"]), "did you mean `examiner`");
    let added = trust(&["--roles", "examiner,evidence custodian", "--country", "xb"]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    assert!(
        added.stderr.contains("xb.json.sig was a signature over the policy before this change"),
        "{}",
        added.stderr
    );
    let policy: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("xb.json")).expect("policy")).expect("JSON");
    let carl = policy["signatures"]["trusted_keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["principal"] == "Carl Court")
        .expect("Carl is trusted")
        .clone();
    assert_eq!(carl["roles"], serde_json::json!(["examiner", "evidence_custodian"]));
    assert_eq!(carl["jurisdiction"], "XB");
    support::assert_refused(&trust(&["--roles", "examiner"]), "already");
    let checked = custos_in(d, &["policy", "check", "xb.json"]);
    assert_eq!(checked.code, 0, "the policy reads as it will be used: {}", checked.stderr);
}

/// A package sealed in DE by Ada (TEST 1) with the order MLA-1 recorded.
fn sealed_with_an_order(d: &std::path::Path) {
    copy_test_keys(d);
    support::party_key(d, "Cascadia Prosecutor", "prosecutor", "xc");
    write(d, "disk.img", b"evidence");
    write(d, "notes.txt", b"notes");
    let sealed = custos_in(
        d,
        &[
            "seal",
            "--key",
            "rfc8032-test1",
            "--case",
            "X-1",
            "--country",
            "DE",
            "--out",
            "pkg",
            "disk.img",
            "notes.txt",
        ],
    );
    assert_eq!(sealed.code, 0, "{}", sealed.stderr);
    let order = custos_in(
        d,
        &[
            "order",
            "add",
            "pkg",
            "--key",
            "rfc8032-test1",
            "--kind",
            "mla_request",
            "--reference",
            "MLA-1",
            "--issuer",
            "Cascadia Ministry of Justice",
            "--issuing-state",
            "XC",
            "--enforcing-state",
            "DE",
            "--issued-at",
            "2026-01-01",
            "--valid-from",
            "2026-01-01",
            "--valid-until",
            "2036-01-01",
        ],
    );
    assert_eq!(order.code, 0, "{}", order.stderr);
}

#[test]
fn a_disclosure_names_its_order_and_onward_transfer_needs_the_disclosers_authorisation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    sealed_with_an_order(d);
    let run = |args: &[&str]| custos_in(d, args);
    let ok = |args: &[&str]| {
        let done = run(args);
        assert_eq!(done.code, 0, "{args:?}: {}", done.stderr);
    };
    let disclose = ["custody", "disclose", "pkg", "--key", "rfc8032-test1", "--to", "rfc8032-test2.pub"];
    fn with<'a>(start: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [start, extra].concat()
    }
    support::assert_refused(&run(&with(&disclose, &["--order", "MLA-1"])), "a disclosure states its purpose");
    support::assert_refused(
        &run(&with(&disclose, &["--order", "MLA-9", "--purpose", "trial"])),
        "order MLA-9 is not recorded in this package",
    );
    support::assert_refused(
        &run(&with(&disclose, &["--order", "MLA-1", "--purpose", "trial", "--items", "data/nothing.bin"])),
        "names items the manifest does not have",
    );
    // Ada discloses one item to Bob, who may pass it on only with her authorisation.
    ok(&with(
        &disclose,
        &[
            "--order",
            "MLA-1",
            "--purpose",
            "trial in XB",
            "--conditions",
            "no use beyond case X-1",
            "--retain-until",
            "2030-01-01",
            "--onward",
            "authorised",
            "--items",
            "data/disk.img",
        ],
    ));
    // Bob, not the holder, cannot disclose before accepting; nor without authorisation after.
    let bob_passes_on = |extra: &[&str]| {
        let mut args = vec![
            "custody",
            "disclose",
            "pkg",
            "--key",
            "rfc8032-test2",
            "--to",
            "xc.pub",
            "--order",
            "MLA-1",
            "--purpose",
            "onward",
            "--items",
            "data/disk.img",
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    support::assert_refused(&bob_passes_on(&[]), "holds the evidence");
    ok(&["custody", "accept", "pkg", "--key", "rfc8032-test2"]);
    support::assert_refused(
        &bob_passes_on(&[]),
        "disclosure 2 may be passed on only under Ada Examiner's authorisation",
    );
    support::assert_refused(
        &run(&[
            "custody",
            "authorise-onward",
            "pkg",
            "--key",
            "rfc8032-test2",
            "--disclosure",
            "2",
            "--to",
            "xc.pub",
            "--reference",
            "AUTH-1",
        ]),
        "only Ada Examiner, who made disclosure 2, may authorise",
    );
    ok(&[
        "custody",
        "authorise-onward",
        "pkg",
        "--key",
        "rfc8032-test1",
        "--disclosure",
        "2",
        "--to",
        "xc.pub",
        "--reference",
        "AUTH-1",
    ]);
    support::assert_refused(&bob_passes_on(&["--authorisation", "AUTH-2"]), "holds the evidence");
    let notes = run(&[
        "custody",
        "disclose",
        "pkg",
        "--key",
        "rfc8032-test2",
        "--to",
        "xc.pub",
        "--order",
        "MLA-1",
        "--purpose",
        "onward",
        "--items",
        "data/notes.txt",
        "--authorisation",
        "AUTH-1",
    ]);
    support::assert_refused(&notes, "passes on data/notes.txt, which disclosure 2 did not disclose");
    let passed = bob_passes_on(&["--authorisation", "AUTH-1"]);
    assert_eq!(passed.code, 0, "{}", passed.stderr);
    // One authorisation, one transfer.
    let again = bob_passes_on(&["--authorisation", "AUTH-1"]);
    support::assert_refused(&again, "authorisation `AUTH-1` of disclosure 2 was relied on already (event 5)");
    ok(&["custody", "accept", "pkg", "--key", "xc"]);
    // Cascadia received it with onward transfer forbidden (the default).
    let onward = run(&[
        "custody",
        "disclose",
        "pkg",
        "--key",
        "xc",
        "--to",
        "rfc8032-test1.pub",
        "--order",
        "MLA-1",
        "--purpose",
        "back",
        "--items",
        "data/disk.img",
    ]);
    support::assert_refused(&onward, "disclosure 5 forbids onward transfer");
    support::assert_refused(
        &run(&[
            "custody",
            "record",
            "pkg",
            "--key",
            "rfc8032-test1",
            "--action",
            "notified",
            "--order",
            "MLA-1",
        ]),
        "give --order REF and --to-state CC",
    );
    ok(&[
        "custody",
        "record",
        "pkg",
        "--key",
        "rfc8032-test1",
        "--action",
        "notified",
        "--order",
        "MLA-1",
        "--to-state",
        "DE",
    ]);
    ok(&["custody", "record", "pkg", "--key", "xc", "--action", "destroyed"]);

    let log = run(&["custody", "log", "pkg"]);
    let lines: Vec<&str> = log.stdout.lines().collect();
    assert!(
        lines[2].contains(
            "under MLA-1, for \"trial in XB\", onward authorised, kept until 2030-01-01T00:00:00+00:00"
        ),
        "{}",
        log.stdout
    );
    assert!(lines[3].ends_with("of disclosure 2"), "{}", log.stdout);
    assert!(lines[4].contains("authorisation AUTH-1 of disclosure 2"), "{}", log.stdout);
    assert!(lines[5].contains("passing on disclosure 2 under authorisation AUTH-1"), "{}", log.stdout);
    assert!(lines[7].ends_with("DE notified of MLA-1"), "{}", log.stdout);
    assert!(lines[8].contains("destroyed") && lines[8].ends_with("of disclosure 5"), "{}", log.stdout);

    let verified = run(&[
        "verify",
        "pkg",
        "--trust",
        "rfc8032-test1.pub",
        "--trust",
        "rfc8032-test2.pub",
        "--trust",
        "xc.pub",
        "--json",
    ]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    let report: serde_json::Value = serde_json::from_str(verified.stdout.trim()).expect("JSON");
    let disclosures = &report["custody"]["disclosures"];
    assert_eq!(disclosures[0]["order"], "MLA-1");
    assert_eq!(disclosures[0]["onward"], "authorised");
    assert_eq!(disclosures[0]["accepted"], 3);
    assert_eq!(disclosures[1]["onward_of"], 2);
    assert_eq!(disclosures[1]["disposed"], serde_json::json!([8, "destroyed"]));
}
