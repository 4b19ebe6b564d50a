//! The cross-border case end to end (issue "Evidence that crosses borders"): evidence
//! sealed in DE under a preservation order that is extended once, moved to XB, examined
//! under a production order, the enforcing state notified, and disclosed to Cascadia (XC)
//! under a mutual legal assistance request with onward transfer forbidden. The example
//! policies modelled on the instruments and the fictional ones judge it; each variant that
//! breaks a rule fails on that rule.

mod support;

use std::path::Path;

use support::{copy_test_keys, custos_in, write, Run};

/// A date `days` from today (UTC), as `date` prints it: orders are placed around the time
/// the events are signed, which is now.
fn day(days: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("{days} days"), "+%Y-%m-%dT00:00:00Z"])
        .output()
        .expect("date");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

fn ok(d: &Path, args: &[&str]) {
    let done = custos_in(d, args);
    assert_eq!(done.code, 0, "{args:?}: {}{}", done.stdout, done.stderr);
}

/// One order: kind, reference, issued (days from today), valid from and until, extends.
struct Order<'a> {
    kind: &'a str,
    reference: &'a str,
    issued: i64,
    from: i64,
    until: i64,
    extends: Option<&'a str>,
    extra: &'a [&'a str],
}

fn record(d: &Path, order: &Order) {
    let (issued, from, until) = (day(order.issued), day(order.from), day(order.until));
    let mut args = vec![
        "order",
        "add",
        "pkg",
        "--key",
        "rfc8032-test1",
        "--kind",
        order.kind,
        "--reference",
        order.reference,
        "--issuer",
        "Court",
        "--issuing-state",
        "XC",
        "--enforcing-state",
        "DE",
        "--issued-at",
        &issued,
        "--valid-from",
        &from,
        "--valid-until",
        &until,
    ];
    if let Some(old) = order.extends {
        args.extend(["--extends", old]);
    }
    args.extend_from_slice(order.extra);
    ok(d, &args);
}

/// What a variant changes in the genuine case.
#[derive(Default, Clone, Copy)]
struct Variant {
    /// The production order expired before the examination.
    expired_production_order: bool,
    /// The preservation lapsed before its extension was issued.
    late_extension: bool,
    /// The evidence moves to XZ instead of XB.
    moved_to: Option<&'static str>,
    /// The MLA request expired before the disclosure.
    expired_mla: bool,
}

/// Builds the case in `d` (keys, evidence, package `pkg`, policies with Cascadia's key
/// trusted).
fn build(d: &Path, variant: Variant) {
    copy_test_keys(d);
    support::party_key(d, "Cascadia Prosecutor", "prosecutor", "xc");
    write(d, "evidence/disk.img", b"a disk image");
    write(d, "evidence/traffic.log", b"10.0.0.1:443 2026-03-01T10:00Z");
    ok(
        d,
        &[
            "seal",
            "--key",
            "rfc8032-test1",
            "--case",
            "X-21",
            "--country",
            "DE",
            "--location",
            "Lab Berlin",
            "--legal-basis",
            "preservation_order:PRES-1",
            "--item-category",
            "data/disk.img=content",
            "--item-category",
            "data/traffic.log=traffic",
            "--out",
            "pkg",
            "evidence/disk.img",
            "evidence/traffic.log",
        ],
    );
    let (pres_from, extension_issued) = if variant.late_extension { (-100, -5) } else { (-20, -1) };
    record(
        d,
        &Order {
            kind: "preservation_order",
            reference: "PRES-1",
            issued: pres_from,
            from: pres_from,
            until: pres_from + 60,
            extends: None,
            extra: &[],
        },
    );
    record(
        d,
        &Order {
            kind: "preservation_order",
            reference: "PRES-1-EXT",
            issued: extension_issued,
            from: pres_from + 60,
            until: pres_from + 150,
            extends: Some("PRES-1"),
            extra: &[],
        },
    );
    let (po_from, po_until) = if variant.expired_production_order { (-30, -10) } else { (-5, 60) };
    record(
        d,
        &Order {
            kind: "production_order",
            reference: "PO-1",
            issued: po_from,
            from: po_from,
            until: po_until,
            extends: None,
            extra: &["--categories", "content,traffic"],
        },
    );
    let (mla_from, mla_until) = if variant.expired_mla { (-60, -1) } else { (-3, 180) };
    record(
        d,
        &Order {
            kind: "mla_request",
            reference: "MLA-1",
            issued: mla_from,
            from: mla_from,
            until: mla_until,
            extends: None,
            extra: &[],
        },
    );
    let to = variant.moved_to.unwrap_or("XB");
    ok(
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
            to,
            "--location",
            "Evidence vault",
        ],
    );
    ok(d, &["custody", "record", "pkg", "--key", "rfc8032-test1", "--action", "examined", "--order", "PO-1"]);
    ok(
        d,
        &[
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
        ],
    );
    let retain = day(365);
    ok(
        d,
        &[
            "custody",
            "disclose",
            "pkg",
            "--key",
            "rfc8032-test1",
            "--to",
            "xc.pub",
            "--order",
            "MLA-1",
            "--purpose",
            "trial of case X-21 in Cascadia",
            "--conditions",
            "no use beyond case X-21",
            "--retain-until",
            &retain,
            "--onward",
            "forbidden",
        ],
    );
    ok(d, &["custody", "accept", "pkg", "--key", "xc"]);
    // Each policy, with Cascadia's prosecutor trusted as a recipient.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/examples");
    for name in [
        "eu-e-evidence-2023-1543",
        "budapest-cets185-224",
        "un-cybercrime-2024",
        "xb-borealia-strict",
        "xc-cascadia-mla",
    ] {
        let file = format!("{name}.json");
        std::fs::copy(examples.join(&file), d.join(&file)).expect("copy a policy");
        if name.starts_with('x') {
            continue;
        }
        ok(
            d,
            &[
                "policy",
                "trust",
                &file,
                "xc.pub",
                "--principal",
                "Cascadia Prosecutor",
                "--roles",
                "prosecutor",
                "--country",
                "XC",
            ],
        );
    }
    // A version 2 policy of a state that keeps evidence in DE or XB only.
    let storage = std::fs::read_to_string(d.join("budapest-cets185-224.json")).expect("policy");
    let mut storage: serde_json::Value = serde_json::from_str(&storage).expect("json");
    storage["id"] = "xd-storage".into();
    storage["storage"] = serde_json::json!({ "allowed_countries": ["DE", "XB"], "cite": "Fictional data-localisation act s. 1" });
    std::fs::write(d.join("xd-storage.json"), serde_json::to_string_pretty(&storage).expect("json"))
        .expect("write");
}

fn judge(d: &Path, policies: &[&str]) -> (Run, serde_json::Value) {
    let mut args = vec!["verify", "pkg", "--trust", "rfc8032-test1.pub", "--trust", "xc.pub", "--json"];
    for policy in policies {
        args.extend(["--policy", policy]);
    }
    let run = custos_in(d, &args);
    let report = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr));
    (run, report)
}

/// The verdict of `rule` under `policy` (the worst of its findings) and the reasons.
fn verdict(report: &serde_json::Value, policy: &str, rule: &str) -> (String, Vec<String>) {
    let findings: Vec<&serde_json::Value> = report["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .filter(|p| p["id"] == policy)
        .flat_map(|p| p["findings"].as_array().expect("findings").iter())
        .filter(|f| f["rule"] == rule)
        .collect();
    assert!(!findings.is_empty(), "no {rule} finding under {policy}: {report:#}");
    let order = ["not_applicable", "pass", "warn", "fail"];
    let worst = findings
        .iter()
        .filter_map(|f| f["verdict"].as_str())
        .max_by_key(|v| order.iter().position(|o| o == v))
        .unwrap_or_default()
        .to_owned();
    (worst, findings.iter().filter_map(|f| f["evidence"].as_str().map(str::to_owned)).collect())
}

const ALL: [&str; 6] = [
    "eu-e-evidence-2023-1543.json",
    "budapest-cets185-224.json",
    "un-cybercrime-2024.json",
    "xb-borealia-strict.json",
    "xc-cascadia-mla.json",
    "xd-storage.json",
];

#[test]
fn the_cross_border_case_is_judged_by_each_instrument() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    build(d, Variant::default());
    let (run, report) = judge(d, &ALL);
    assert_eq!(run.code, 1, "some jurisdictions reject it: {}", run.stdout);
    let rejected: Vec<&str> =
        report["not_acceptable_in"].as_array().expect("list").iter().filter_map(|v| v.as_str()).collect();
    // The Budapest and UN models accept it; the EU model wants EPOCs, not an MLA request;
    // Borealia wants two sealers and custody in XB; Cascadia's v1 rules want an MLA request
    // recorded at sealing for content.
    assert_eq!(rejected, ["EU", "XB", "XC"], "{report:#}");
    for policy in ["budapest-cets185-224-example", "un-cybercrime-2024-example"] {
        for rule in [
            "legal_basis.in_force",
            "preservation.orders",
            "transfer.order",
            "transfer.recipient",
            "transfer.retention",
        ] {
            assert_eq!(verdict(&report, policy, rule).0, "pass", "{policy} {rule}: {report:#}");
        }
    }
    let (_, preservation) = verdict(&report, "budapest-cets185-224-example", "preservation.orders");
    assert!(
        preservation[0].contains("in force until") && preservation[0].contains("extended 1 time(s)"),
        "{preservation:?}"
    );
    let (eu, reasons) = verdict(&report, "eu-e-evidence-2023-1543-example", "legal_basis.in_force");
    assert_eq!(eu, "fail");
    assert!(reasons.iter().any(|r| r.contains("content data needs epoc or epoc_pr")), "{reasons:?}");
    assert_eq!(verdict(&report, "xd-storage", "storage.allowed_countries").0, "pass");
}

#[test]
fn each_variant_fails_on_the_rule_it_breaks() {
    let cases: [(Variant, &str, &str, &str); 4] = [
        (
            Variant { expired_production_order: true, ..Variant::default() },
            "budapest-cets185-224-example",
            "legal_basis.in_force",
            "outside the validity of production_order PO-1",
        ),
        (
            Variant { late_extension: true, ..Variant::default() },
            "budapest-cets185-224-example",
            "preservation.orders",
            "the extension PRES-1-EXT was issued after it",
        ),
        (
            Variant { moved_to: Some("XZ"), ..Variant::default() },
            "xd-storage",
            "storage.allowed_countries",
            "the evidence was kept in XZ from ",
        ),
        (
            Variant { expired_mla: true, ..Variant::default() },
            "un-cybercrime-2024-example",
            "transfer.order",
            "outside the validity of mla_request MLA-1",
        ),
    ];
    for (variant, policy, rule, needle) in cases {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        build(d, variant);
        let (run, report) = judge(d, &ALL);
        assert_eq!(run.code, 1);
        let (verdict, reasons) = verdict(&report, policy, rule);
        assert_eq!(verdict, "fail", "{policy} {rule}: {reasons:?}");
        assert!(reasons.iter().any(|r| r.contains(needle)), "{policy} {rule} says {needle}: {reasons:?}");
        let rejected: Vec<&str> =
            report["not_acceptable_in"].as_array().expect("list").iter().filter_map(|v| v.as_str()).collect();
        let jurisdiction = match policy {
            "budapest-cets185-224-example" => "CETS185",
            "un-cybercrime-2024-example" => "UNCC",
            _ => "CETS185",
        };
        assert!(rejected.contains(&jurisdiction), "{rejected:?}");
    }
}

#[test]
fn a_missing_notification_fails_and_an_onward_transfer_without_authorisation_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    build(d, Variant::default());
    // An EPOC for traffic data, disclosed before the enforcing state DE was notified.
    record(
        d,
        &Order {
            kind: "epoc",
            reference: "EPOC-1",
            issued: -2,
            from: -2,
            until: 30,
            extends: None,
            extra: &["--categories", "traffic"],
        },
    );
    ok(
        d,
        &[
            "custody",
            "disclose",
            "pkg",
            "--key",
            "rfc8032-test1",
            "--to",
            "xc.pub",
            "--order",
            "EPOC-1",
            "--purpose",
            "production",
            "--items",
            "data/traffic.log",
        ],
    );
    let (_, report) = judge(d, &ALL);
    let (verdict_, reasons) =
        verdict(&report, "eu-e-evidence-2023-1543-example", "notification.enforcing_state");
    assert_eq!(verdict_, "fail", "{reasons:?}");
    assert!(reasons[0].contains("before DE (the enforcing state) was notified"), "{reasons:?}");
    assert_eq!(verdict(&report, "eu-e-evidence-2023-1543-example", "production.due").0, "pass");
    // Cascadia received MLA-1's disclosure with onward transfer forbidden.
    let onward = custos_in(
        d,
        &[
            "custody",
            "disclose",
            "pkg",
            "--key",
            "xc",
            "--to",
            "rfc8032-test2.pub",
            "--order",
            "MLA-1",
            "--purpose",
            "onward",
        ],
    );
    support::assert_refused(&onward, "disclosure 8 forbids onward transfer");
    // And a disclosure under no recorded order is never signed.
    let unordered = custos_in(
        d,
        &[
            "custody",
            "disclose",
            "pkg",
            "--key",
            "rfc8032-test1",
            "--to",
            "xc.pub",
            "--order",
            "NONE-1",
            "--purpose",
            "x",
        ],
    );
    support::assert_refused(&unordered, "order NONE-1 is not recorded in this package");
}

#[test]
fn deadlines_are_listed_soonest_first_and_audits_warn_of_those_due_soon() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    build(d, Variant::default());
    let trust =
        ["--trust", "rfc8032-test1.pub", "--trust", "xc.pub", "--policy", "budapest-cets185-224.json"];
    let listed = custos_in(d, &[&["deadlines", "pkg", "--json"][..], &trust[..]].concat());
    assert_eq!(listed.code, 0, "{}{}", listed.stdout, listed.stderr);
    let record: serde_json::Value = serde_json::from_str(listed.stdout.trim()).expect("JSON");
    let deadlines = record["deadlines"].as_array().expect("deadlines");
    let said: Vec<(String, String)> = deadlines
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or_default().to_owned(),
                d["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // PO-1 ends in 60 days, PRES-1 (extended) lapses in 130 (as the extension ends: the
    // lapse first), MLA-1 ends in 183, the disclosure's retention in 365.
    let expected = [
        ("order_end", "production_order PO-1"),
        ("preservation_lapse", "preservation_order PRES-1"),
        ("order_end", "preservation_order PRES-1"),
        ("order_end", "mla_request MLA-1"),
        ("retention_end", "disclosure 8 to key"),
    ];
    assert_eq!(said.len(), expected.len(), "{said:?}");
    for ((kind, subject), (want_kind, want_subject)) in said.iter().zip(expected) {
        assert!(kind == want_kind && subject.starts_with(want_subject), "{said:?}");
    }
    assert_eq!(deadlines[1]["policy"], "budapest-cets185-224-example");
    let days: Vec<f64> = deadlines.iter().filter_map(|d| d["days_left"].as_f64()).collect();
    assert!(days.windows(2).all(|w| w[0] <= w[1]), "soonest first: {days:?}");

    let soon = custos_in(d, &[&["deadlines", "pkg", "--within", "61d"][..], &trust[..]].concat());
    assert_eq!(soon.code, 0, "{}", soon.stderr);
    let lines: Vec<&str> = soon.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", soon.stdout);
    assert!(
        lines[1].trim_start().starts_with("order ends") && lines[1].contains("production_order PO-1"),
        "{}",
        soon.stdout
    );
    support::assert_refused(&custos_in(d, &["deadlines", "pkg", "--within", "soon"]), "not a duration");
    support::assert_refused(&custos_in(d, &["deadlines", "pkg"]), "no --trust key");

    let audit =
        custos_in(d, &[&["audit", ".", "--json", "--deadline-warning", "61"][..], &trust[..]].concat());
    let record: serde_json::Value =
        serde_json::from_str(audit.stdout.lines().next().expect("a record")).expect("JSON");
    assert_eq!(record["deadlines"].as_array().map(Vec::len), Some(5), "{record:#}");
    let quiet =
        custos_in(d, &[&["audit", ".", "--json", "--deadline-warning", "1"][..], &trust[..]].concat());
    let calm: serde_json::Value =
        serde_json::from_str(quiet.stdout.lines().next().expect("a record")).expect("JSON");
    assert_eq!(
        record["warnings"].as_u64(),
        calm["warnings"].as_u64().map(|w| w + 1),
        "one deadline within 61 days"
    );
}

#[test]
fn the_report_draws_the_timeline_and_lists_the_disclosures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    build(d, Variant::default());
    let made = custos_in(
        d,
        &[
            "report",
            "pkg",
            "--trust",
            "rfc8032-test1.pub",
            "--trust",
            "xc.pub",
            "--policy",
            "budapest-cets185-224.json",
            "--out",
            "report.html",
        ],
    );
    assert_eq!(made.code, 0, "{}{}", made.stdout, made.stderr);
    let html = std::fs::read_to_string(d.join("report.html")).expect("report");
    assert!(!html.contains("<script"), "no script");
    let svg = &html
        [html.find("<svg class=\"timeline\"").expect("a timeline")..html.find("</svg>").expect("its end")];
    // Two lanes (Ada, Cascadia), a disclosure arrow between them, one bar per order, the
    // countries where they are stated, and the deadlines as dashed lines.
    assert!(svg.contains(">Ada Examiner</text>") && svg.contains(">Cascadia Prosecutor</text>"), "{svg}");
    assert!(svg.contains("stroke-dasharray=\"4 2\" marker-end=\"url(#arrow)\"><title>event 8: disclosed to Cascadia Prosecutor"), "{svg}");
    assert_eq!(svg.matches("<rect ").count(), 4, "one bar per order: {svg}");
    assert!(svg.contains(">DE</text>") && svg.contains(">XB</text>"), "{svg}");
    assert!(svg.contains("preservation lapses") && svg.contains("stroke=\"#b33\""), "{svg}");
    let disclosures = &html[html.find("<h2>Disclosures</h2>").expect("a Disclosures section")..];
    assert!(
        disclosures.contains(
            "<td>MLA-1</td><td>trial of case X-21 in Cascadia<br>conditions: no use beyond case X-21</td>"
        ),
        "{disclosures}"
    );
    assert!(disclosures.contains("acknowledged by the recipient (event 9)"), "{disclosures}");
    assert!(
        html.contains("<td>disclosed to Cascadia Prosecutor</td>"),
        "the custody table names the recipient"
    );
}

#[test]
fn the_case_export_has_each_order_as_an_authorization_with_its_validity() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    build(d, Variant::default());
    let exported = custos_in(d, &["export", "case", "pkg", "--out", "pkg.jsonld"]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let graph: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("pkg.jsonld")).expect("graph")).expect("JSON");
    let nodes = graph["@graph"].as_array().expect("@graph");
    let mla = nodes
        .iter()
        .find(|n| {
            n["@type"] == "case-investigation:Authorization"
                && n["case-investigation:authorizationIdentifier"] == "MLA-1"
        })
        .expect("the MLA request is an Authorization");
    assert_eq!(mla["case-investigation:authorizationType"], "mla_request");
    assert_eq!(mla["uco-core:startTime"]["@type"], "xsd:dateTime");
    assert_eq!(mla["uco-core:startTime"]["@value"], day(-3).replace('Z', "+00:00"));
    assert!(mla["uco-core:description"].as_str().is_some_and(|t| t.contains("executed in DE")), "{mla:#}");
    let orders = nodes.iter().filter(|n| n["@type"] == "case-investigation:Authorization").count();
    assert_eq!(orders, 5, "the seal's legal basis and four recorded orders");
    let disclosed = nodes
        .iter()
        .find(|n| n["@type"] == "case-investigation:InvestigativeAction" && n["uco-core:name"] == "disclosed")
        .expect("the disclosure is an InvestigativeAction");
    let about = disclosed["uco-core:description"].as_str().expect("description");
    assert!(about.contains("legal basis: MLA-1") && about.contains("onward transfer: forbidden"), "{about}");

    // Text from input leaves through the one escaping boundary in the export too.
    record(
        d,
        &Order {
            kind: "court_order",
            reference: "R-\u{202e}LIVE\u{2066}",
            issued: -1,
            from: -1,
            until: 10,
            extends: None,
            extra: &["--categories", "content"],
        },
    );
    let hostile = custos_in(d, &["export", "case", "pkg", "--out", "hostile.jsonld"]);
    assert_eq!(hostile.code, 0, "{}", hostile.stderr);
    let text = std::fs::read_to_string(d.join("hostile.jsonld")).expect("graph");
    assert!(!text.contains('\u{202e}') && !text.contains('\u{2066}'), "no raw bidi characters");
    assert!(text.contains("R-\\u202eLIVE\\u2066"), "escaped, and nothing lost");
    let back: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert!(back["@graph"]
        .as_array()
        .expect("graph")
        .iter()
        .any(|n| n["case-investigation:authorizationIdentifier"] == "R-\u{202e}LIVE\u{2066}"));

    let Some(case_validate) = support::tool("case_validate") else { return };
    let valid = support::run(std::process::Command::new(&case_validate).current_dir(d).args([
        "--built-version",
        "case-1.5.0",
        "pkg.jsonld",
    ]));
    assert_eq!(valid.code, 0, "case_validate: {}{}", valid.stdout, valid.stderr);
    assert!(valid.stdout.contains("Conforms: True"), "{}", valid.stdout);
}
