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
