//! Policies fail closed: a misspelt name, a duplicate entry or a malformed code is refused
//! with its JSON path (and the name probably meant), never read as a rule that matches
//! nothing and so is silently switched off.

use std::path::Path;

use custos_policy::{Policy, PolicyError};

const ADA: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const BOB: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn document(rules: &str) -> String {
    format!(
        r#"{{"custos_policy":1,"id":"test","jurisdiction":"XA","name":"Test","effective_from":"2026-01-01T00:00:00+00:00"{rules}}}"#
    )
}

/// `rules` must be refused as `Invalid` at exactly `path`, with a message containing
/// `message`; the same rules with `fixed` for `broken` must be accepted (so the test shows
/// that it is the mistake, not something else, that is refused).
fn refused(rules: &str, path: &str, message: &str, broken: &str, fixed: &str) {
    match Policy::parse(document(rules).as_bytes()) {
        Err(PolicyError::Invalid { path: found, message: text }) => {
            assert_eq!(found, path, "{text}");
            assert!(text.contains(message), "{text}");
        }
        other => panic!("accepted or refused otherwise: {other:?}\n{rules}"),
    }
    assert!(rules.contains(broken), "the test's own mistake: `{broken}` not in {rules}");
    let repaired = rules.replacen(broken, fixed, 1);
    if let Err(e) = Policy::parse(document(&repaired).as_bytes()) {
        panic!("the repaired policy is refused too: {e}\n{repaired}");
    }
}

fn signatures(extra_keys: &str, rest: &str) -> String {
    format!(
        r#","signatures":{{"trusted_keys":[{{"key_id":"{ADA}","principal":"Ada","roles":["examiner"]}},{{"key_id":"{BOB}","principal":"Bob","roles":["evidence_custodian"]}}{extra_keys}],{rest}"cite":"c"}}"#
    )
}

#[test]
fn misspelt_actions_are_refused_with_a_hint() {
    refused(
        &signatures("", r#""roles_per_action":{"Sealed":["examiner"]},"#),
        "$.signatures.roles_per_action.Sealed",
        "did you mean `sealed`?",
        "Sealed",
        "sealed",
    );
    refused(
        &signatures("", r#""roles_per_action":{"fixity_verifed":["examiner"]},"#),
        "$.signatures.roles_per_action.fixity_verifed",
        "did you mean `fixity_verified`?",
        "fixity_verifed",
        "fixity_verified",
    );
    refused(
        &signatures("", r#""roles_per_action":{"seal ed":["examiner"]},"#),
        "$.signatures.roles_per_action[\"seal ed\"]",
        "unknown custody action",
        "seal ed",
        "sealed",
    );
    refused(
        r#","custody":{"start_with":["sealed","Copied"],"cite":"c"}"#,
        "$.custody.start_with[1]",
        "did you mean `copied`?",
        "Copied",
        "copied",
    );
}

#[test]
fn misspelt_categories_and_kinds_are_refused() {
    refused(
        r#","legal_basis":{"per_category":{"content":["warrant"],"trafic":["production_order"]},"cite":"c"}"#,
        "$.legal_basis.per_category.trafic",
        "did you mean `traffic`?",
        "trafic",
        "traffic",
    );
    refused(
        r#","legal_basis":{"per_category":{"content":["MLA request"]},"cite":"c"}"#,
        "$.legal_basis.per_category.content[0]",
        "did you mean `mla_request`?",
        "MLA request",
        "mla_request",
    );
    refused(
        r#","retention":{"max_days":{"Subscriber":30},"cite":"c"}"#,
        "$.retention.max_days.Subscriber",
        "did you mean `subscriber`?",
        "Subscriber",
        "subscriber",
    );
}

#[test]
fn misspelt_digests_are_refused() {
    refused(
        r#","digests":{"required_any":["sha256","SHA-512"],"cite":"c"}"#,
        "$.digests.required_any[1]",
        "did you mean `sha512`?",
        "SHA-512",
        "sha512",
    );
    refused(
        r#","digests":{"never_sole":["md5","sha-1"],"cite":"c"}"#,
        "$.digests.never_sole[1]",
        "did you mean `sha1`?",
        "sha-1",
        "sha1",
    );
}

#[test]
fn duplicates_in_name_lists_are_refused() {
    refused(
        r#","digests":{"never_sole":["md5","sha1","md5"],"cite":"c"}"#,
        "$.digests.never_sole[2]",
        "already listed at $.digests.never_sole[0]",
        r#""md5"],"#,
        r#""blake3"],"#,
    );
    refused(
        r#","custody":{"start_with":["sealed","sealed"],"cite":"c"}"#,
        "$.custody.start_with[1]",
        "already listed",
        r#""sealed","sealed""#,
        r#""sealed","copied""#,
    );
    refused(
        r#","storage":{"allowed_countries":["XB","XB"],"cite":"c"}"#,
        "$.storage.allowed_countries[1]",
        "already listed",
        r#""XB","XB""#,
        r#""XB","XC""#,
    );
    refused(
        &signatures("", r#""roles_per_action":{"sealed":["examiner","examiner"]},"#),
        "$.signatures.roles_per_action.sealed[1]",
        "already listed",
        r#""examiner","examiner""#,
        r#""examiner","judge""#,
    );
}

#[test]
fn a_key_listed_twice_is_refused_even_when_one_entry_revokes_it() {
    let revoked = format!(
        r#",{{"key_id":"{ADA}","principal":"Ada","roles":["examiner"],"revoked_at":"2026-02-01T00:00:00Z"}}"#
    );
    refused(
        &signatures(&revoked, ""),
        "$.signatures.trusted_keys[2].key_id",
        "already listed at $.signatures.trusted_keys[0]",
        &format!(r#"{{"key_id":"{ADA}","principal":"Ada","roles":["examiner"],"revoked_at""#),
        &format!(r#"{{"key_id":"{}","principal":"Ada","roles":["examiner"],"revoked_at""#, "ab".repeat(32)),
    );
}

#[test]
fn one_principal_spelt_two_ways_is_refused() {
    // The threshold counts principals by name: `ada` would count Ada twice.
    let spare = format!(r#",{{"key_id":"{}","principal":"ada ","roles":["examiner"]}}"#, "ab".repeat(32));
    let error = Policy::parse(document(&signatures(&spare, "")).as_bytes()).expect_err("surrounding space");
    assert!(error.to_string().contains("$.signatures.trusted_keys[2].principal"), "{error}");
    refused(
        &signatures(&spare.replace("ada ", "ADA"), ""),
        "$.signatures.trusted_keys[2].principal",
        "only in case or spacing",
        "ADA",
        "Ada",
    );
}

#[test]
fn country_codes_are_checked() {
    let with = |code: &str| {
        format!(
            r#","signatures":{{"trusted_keys":[{{"key_id":"{ADA}","principal":"Ada","jurisdiction":"{code}"}}],"cite":"c"}}"#
        )
    };
    refused(
        &with("de"),
        "$.signatures.trusted_keys[0].jurisdiction",
        "did you mean `DE`?",
        "\"de\"",
        "\"DE\"",
    );
    refused(&with("DEU"), "$.signatures.trusted_keys[0].jurisdiction", "ISO 3166-1 alpha-2", "DEU", "DE");
    refused(&with("É"), "$.signatures.trusted_keys[0].jurisdiction", "ISO 3166-1 alpha-2", "É", "FR");
    refused(
        r#","storage":{"allowed_countries":["xb"],"cite":"c"}"#,
        "$.storage.allowed_countries[0]",
        "did you mean `XB`?",
        "xb",
        "XB",
    );
}

#[test]
fn key_entries_are_checked() {
    let key = |fields: &str| {
        format!(r#","signatures":{{"trusted_keys":[{{"key_id":"{ADA}"{fields}}}],"cite":"c"}}"#)
    };
    refused(
        &key(
            r#","principal":"Ada","valid_from":"2026-03-01T00:00:00Z","valid_until":"2026-02-01T00:00:00Z""#,
        ),
        "$.signatures.trusted_keys[0].valid_until",
        "not after valid_from",
        "2026-02-01",
        "2026-04-01",
    );
    refused(
        &key(r#","principal":"Ada","revoked_at":"2026-02-30T00:00:00Z""#),
        "$.signatures.trusted_keys[0].revoked_at",
        "not an RFC 3339 time",
        "02-30",
        "02-28",
    );
    refused(
        &key(r#","principal":"""#),
        "$.signatures.trusted_keys[0].principal",
        "non-empty",
        r#""principal":"""#,
        r#""principal":"Ada""#,
    );
    refused(
        &key(r#","principal":"Ada","roles":["examiner",""]"#),
        "$.signatures.trusted_keys[0].roles[1]",
        "non-empty",
        r#",""]"#,
        r#","judge"]"#,
    );
}

#[test]
fn registries_named_twice_are_refused() {
    let reference = format!(r#"{{"path":"r.json","issuer_key_id":"{BOB}","issuer_public_key":"AAAA"}}"#);
    refused(
        &format!(r#","signatures":{{"registries":[{reference},{reference}],"cite":"c"}}"#),
        "$.signatures.registries[1].path",
        "already named",
        r#""path":"r.json","issuer_key_id":"bbbb"#,
        r#""path":"s.json","issuer_key_id":"bbbb"#,
    );
}

#[test]
fn the_example_policies_are_valid_and_place_every_key() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&folder).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let policy = Policy::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                policy.trusted_keys().all(|k| k.jurisdiction.is_some()),
                "{}: every trusted key has a jurisdiction",
                path.display()
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 6);
}
