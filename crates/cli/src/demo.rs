//! `custos demo`: the main job on the bundled test images, every result checked. It runs
//! the same commands a user would type, printing each before its output, and ends with a
//! tampered copy being caught.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use crate::{run_words, Status};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The test-images folder [default: the one in the source tree this binary was built from]
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,

    /// JSON lines from every step instead of text
    #[arg(long)]
    pub json: bool,
}

/// One step: what it shows, the command, and the status it must end with.
struct Step {
    title: &'static str,
    words: Vec<String>,
    expect: Status,
}

pub fn run(args: DemoArgs) -> Result<Status> {
    let images = match args.images {
        Some(dir) => dir,
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-images"),
    };
    let images = images.canonicalize().with_context(|| {
        format!("cannot find the test images in {} (give --images DIR)", images.display())
    })?;
    let scratch = std::env::temp_dir().join(format!("custos-demo-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let tampered = scratch.join("evidence-copy.raw");
    let segment_list = scratch.join("evidence.segments.jsonl");
    std::fs::copy(images.join("evidence.raw"), &tampered).context("cannot copy the test image")?;

    // Relative paths in the checksum files are relative to the images folder, as with
    // `sha256sum -c`.
    std::env::set_current_dir(&images).with_context(|| format!("cannot enter {}", images.display()))?;
    let copy = tampered.display().to_string();
    let list = segment_list.display().to_string();
    let steps = vec![
        Step {
            title: "Hash a disk image with five algorithms in one pass, with 256 KiB segments",
            words: words(&[
                "hash",
                "--algo",
                "md5,sha1,sha256,sha512,blake3",
                "--segment-size",
                "256K",
                "evidence.raw",
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "Check it against checksums written by md5sum, sha1sum, sha256sum, sha512sum and b3sum",
            words: words(&["hash", "--check", "MD5SUMS", "SHA1SUMS", "SHA256SUMS", "SHA512SUMS", "B3SUMS"]),
            expect: Status::Ok,
        },
        Step {
            title: "Hash a directory tree (symbolic links are recorded, not followed)",
            words: words(&["hash", "--algo", "blake3", "tree"]),
            expect: Status::Ok,
        },
        Step {
            title: "Check the tree against sha256sum's and b3sum's lists",
            words: words(&["hash", "--check", "tree.SHA256SUMS", "tree.B3SUMS"]),
            expect: Status::Ok,
        },
        Step {
            title: "Record segment digests of a working copy",
            words: words(&["hash", "--algo", "sha256", "--segment-size", "256K", "--segments", &list, &copy]),
            expect: Status::Ok,
        },
    ];
    let mut ok = run_steps(&steps, args.json)?;

    // Tamper: flip one byte in the middle of the copy.
    let mut bytes = std::fs::read(&tampered).context("cannot read the copy")?;
    let offset = 1_300_000;
    bytes[offset] ^= 0x01;
    std::fs::write(&tampered, &bytes).context("cannot tamper with the copy")?;
    if !args.json {
        println!("\n== Flip one bit of byte {offset} in the copy, then check it again ==");
    }
    let tamper_steps = vec![Step {
        title: "The segment list names the damaged range",
        words: words(&["hash", "--check-segments", &list]),
        expect: Status::Failed,
    }];
    ok &= run_steps(&tamper_steps, args.json)?;

    // Evidence packages: seal, transfer custody, verify, and catch a tampered copy.
    let path = |name: &str| scratch.join(name).display().to_string();
    let (ada, bob, package, tampered_package) =
        (path("ada"), path("bob"), path("package"), path("package-tampered"));
    let (ada_pub, bob_pub) = (format!("{ada}.pub"), format!("{bob}.pub"));
    let evidence = images.join("evidence.raw").display().to_string();
    let policies = images.join("../policies/examples");
    // The RFC 8032 test keys (public, never for evidence), which the example policies trust.
    let source = images.join("../docs/formats/vectors/keys");
    for (name, target) in [("rfc8032-test1", &ada), ("rfc8032-test2", &bob)] {
        for suffix in ["key", "pub"] {
            std::fs::copy(source.join(format!("{name}.{suffix}")), format!("{target}.{suffix}"))
                .with_context(|| format!("cannot copy the test key {name}.{suffix}"))?;
        }
    }
    if !args.json {
        println!(
            "\n== Two fictional key holders: the public RFC 8032 test keys (never use them for evidence) =="
        );
    }
    // A third party, the defence, with a key of its own.
    let dana = path("dana");
    let dana_pub = format!("{dana}.pub");
    ok &= run_steps(
        &[Step {
            title: "The defence makes a key of its own (no passphrase: a demo only)",
            words: words(&[
                "keygen",
                "--name",
                "Dana Defence",
                "--role",
                "defence_expert",
                "--out",
                &dana,
                "--no-passphrase",
            ]),
            expect: Status::Ok,
        }],
        args.json,
    )?;
    let now = custos_manifest::time::parse_rfc3339(&custos_manifest::time::now_rfc3339()).unwrap_or_default();
    let days_ago = |days: i64| custos_manifest::time::rfc3339_from_unix((now - days * 86_400).max(0) as u64);
    let (seized_at, arrived_at) = (days_ago(3), days_ago(2));
    let package_steps = vec![
        Step {
            title: "Seal the image into a signed evidence package (a BagIt bag)",
            words: words(&[
                "seal",
                "--key",
                &ada,
                "--case",
                "DEMO-2026-001",
                "--exhibit",
                "A-1",
                "--category",
                "content",
                "--legal-basis",
                "warrant:AG-Demo-1-Gs-1/26:Fictional District Court",
                "--location",
                "Lab 1",
                "--algo",
                "md5,sha1,sha256,blake3",
                "--segment-size",
                "256K",
                "--out",
                &package,
                &evidence,
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "Ada records the phone's seizure three days before, with its bag's seal number",
            words: words(&[
                "custody",
                "record",
                &package,
                "--key",
                &ada,
                "--action",
                "seized",
                "--occurred-at",
                &seized_at,
                "--location",
                "Flat 3, 12 High St",
                "--seal-number",
                "EB-0042",
                "--condition",
                "sealed bag, intact",
                "--exhibit",
                "A-1",
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "and its arrival at the lab the next day, stored in locker 4",
            words: words(&[
                "custody",
                "record",
                &package,
                "--key",
                &ada,
                "--action",
                "received_at_lab",
                "--occurred-at",
                &arrived_at,
                "--seal-number",
                "EB-0042",
                "--storage",
                "locker 4",
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "Ada releases custody to Bob",
            words: words(&[
                "custody",
                "release",
                &package,
                "--key",
                &ada,
                "--to",
                &bob_pub,
                "--purpose",
                "transfer to the evidence store",
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "Bob accepts it, and keeps a receipt of his acceptance outside the package",
            words: words(&["custody", "accept", &package, "--key", &bob, "--receipt", &path("bob-accepted.receipt")]),
            expect: Status::Ok,
        },
        Step {
            title: "Ada no longer holds the evidence: her attempt to release it again is refused before anything is signed",
            words: words(&["custody", "release", &package, "--key", &ada, "--to", &bob_pub]),
            expect: Status::Error,
        },
        Step {
            title: "Bob co-signs the manifest: a second principal vouches for the same bytes (four eyes)",
            words: words(&["cosign", &package, "--key", &bob]),
            expect: Status::Ok,
        },
        Step {
            title: "Bob records the court's order to disclose a copy to the defence",
            words: words(&[
                "order",
                "add",
                &package,
                "--key",
                &bob,
                "--kind",
                "court_order",
                "--reference",
                "AG-Demo-1-Gs-7/26",
                "--issuer",
                "Fictional District Court",
                "--issuing-state",
                "DE",
                "--issued-at",
                "2026-01-01",
                "--valid-from",
                "2026-01-01",
                "--valid-until",
                "2099-12-31",
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "Bob discloses a copy to the defence under that order, and keeps a receipt",
            words: words(&[
                "custody",
                "disclose",
                &package,
                "--key",
                &bob,
                "--to",
                &dana_pub,
                "--order",
                "AG-Demo-1-Gs-7/26",
                "--purpose",
                "disclosure to the defence",
                "--receipt",
                &path("bob-disclosed.receipt"),
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "A court verifies the package, trusting Ada's and Bob's keys",
            words: words(&["verify", &package, "--trust", &ada_pub, "--trust", &bob_pub]),
            expect: Status::Ok,
        },
        Step {
            title: "Three fictional jurisdictions judge the same package by their own rules",
            words: words(&[
                "verify",
                &package,
                "--fast",
                "--policy",
                &policies.join("xa-auria-legacy-court.json").display().to_string(),
                "--policy",
                &policies.join("xb-borealia-strict.json").display().to_string(),
                "--policy",
                &policies.join("xc-cascadia-mla.json").display().to_string(),
            ]),
            // Auria accepts it; Borealia's four-eyes rule is met by the co-signature, but it
            // wants the evidence held in Borealia; Cascadia wants an MLA request for content
            // data. Different verdicts are the point.
            expect: Status::Failed,
        },
    ];
    ok &= run_steps(&package_steps, args.json)?;

    // Another lab's tools read CASE: the package as a CASE 1.5.0 graph, kept after the demo
    // (outside the scratch folder, which is removed) so it can be looked at or validated.
    let case_export = std::env::temp_dir().join(format!("custos-demo-{}.case.jsonld", std::process::id()));
    let case_steps = vec![Step {
        title: "Export the package as CASE 1.5.0 JSON-LD (items, hashes, seal and custody as investigative actions)",
        words: words(&["export", "case", &package, "--out", &case_export.display().to_string()]),
        expect: Status::Ok,
    }];
    ok &= run_steps(&case_steps, args.json)?;
    if !args.json {
        println!("The CASE export is at {} (kept after the demo).", case_export.display());
        validate_case(&case_export);
    }
    copy_dir(Path::new(&package), Path::new(&tampered_package)).context("cannot copy the package")?;
    let victim = Path::new(&tampered_package).join("data/evidence.raw");
    let mut permissions = std::fs::metadata(&victim)?.permissions();
    #[allow(clippy::permissions_set_readonly_false)] // The demo's own scratch copy.
    permissions.set_readonly(false);
    std::fs::set_permissions(&victim, permissions)?;
    let mut bytes = std::fs::read(&victim)?;
    bytes[offset] ^= 0x01;
    std::fs::write(&victim, &bytes)?;
    if !args.json {
        println!("\n== Flip one bit of byte {offset} of the evidence in a copy of the package ==");
    }
    let tamper_package = vec![Step {
        title: "The tampered copy fails, naming the file, the digests and the damaged byte range",
        words: words(&["verify", &tampered_package, "--trust", &ada_pub, "--trust", &bob_pub]),
        expect: Status::Failed,
    }];
    ok &= run_steps(&tamper_package, args.json)?;

    // Whoever holds a package can cut events off the end of its log: the shorter log is
    // still a valid log. The receipt Bob kept shows it.
    let truncated = path("package-truncated");
    copy_dir(Path::new(&package), Path::new(&truncated)).context("cannot copy the package")?;
    drop_last_event(Path::new(&truncated)).context("cannot truncate the copy's log")?;
    if !args.json {
        println!("\n== Cut the disclosure off the end of a copy's custody log (and refresh its unsigned tag manifests) ==");
    }
    let receipt_steps = vec![
        Step {
            title: "On its own, the shorter log verifies: a log proves only what it still holds",
            words: words(&["verify", &truncated, "--fast", "--trust", &ada_pub, "--trust", &bob_pub]),
            expect: Status::Ok,
        },
        Step {
            title: "Against Bob's receipt, the missing event is caught",
            words: words(&[
                "verify",
                &truncated,
                "--fast",
                "--trust",
                &ada_pub,
                "--trust",
                &bob_pub,
                "--receipt",
                &path("bob-disclosed.receipt"),
            ]),
            expect: Status::Failed,
        },
    ];
    ok &= run_steps(&receipt_steps, args.json)?;
    ok &= cross_border(&scratch, &policies, &evidence, &ada, &ada_pub, args.json)?;
    let stamped = timestamped_seal(&scratch, &evidence, &ada, &ada_pub, args.json)?;
    ok &= stamped.unwrap_or(true);
    let _ = std::fs::remove_dir_all(&scratch);

    if args.json {
        crate::render::print_json(&serde_json::json!({ "demo": { "ok": ok } }))?;
    } else if ok {
        println!(
            "\nDemo complete: every digest matched the independent tools, custody passed from Ada to Bob and a release by the former holder was refused, Bob's co-signature met Borealia's four-eyes rule, three jurisdictions judged the package differently, the package was exported as CASE 1.5.0 JSON-LD, both tampered copies were caught, a receipt caught a truncated log, and a cross-border case was judged by three instruments{}.",
            if stamped.is_some() { "; a time-stamped seal verified offline" } else { "" }
        );
    } else {
        println!("\nDemo FAILED: a step did not end as expected (see above).");
    }
    Ok(if ok { Status::Ok } else { Status::Failed })
}

/// The cross-border case (docs/formats/custody.md, policy.md): evidence sealed in DE under
/// a preservation order that is extended once, moved to XB, examined under a production
/// order, the enforcing state notified, disclosed to Cascadia under a mutual legal
/// assistance request with onward transfer forbidden; then judged by the example policies
/// modelled on the Budapest Convention, the UN Convention and the EU e-Evidence Regulation,
/// and its deadlines listed. Orders are dated around today, when the events are signed.
fn cross_border(
    scratch: &Path,
    policies: &Path,
    evidence: &str,
    ada: &str,
    ada_pub: &str,
    json: bool,
) -> Result<bool> {
    let path = |name: &str| scratch.join(name).display().to_string();
    let (package, xc) = (path("package-cross-border"), path("cascadia"));
    let xc_pub = format!("{xc}.pub");
    let now = custos_manifest::time::parse_rfc3339(&custos_manifest::time::now_rfc3339()).unwrap_or_default();
    let day = |days: i64| custos_manifest::time::rfc3339_from_unix((now + days * 86_400).max(0) as u64);
    let (pres_from, pres_until, ext_issued, ext_until) = (day(-20), day(40), day(-1), day(130));
    let (po_from, po_until, mla_from, mla_until, keep) = (day(-5), day(60), day(-3), day(180), day(365));
    let instruments =
        ["budapest-cets185-224.json", "un-cybercrime-2024.json", "eu-e-evidence-2023-1543.json"];
    for name in instruments {
        std::fs::copy(policies.join(name), scratch.join(name))
            .with_context(|| format!("cannot copy {name}"))?;
    }
    if !json {
        println!("\n== The cross-border case: sealed in DE, moved to XB, disclosed to Cascadia (XC) ==");
    }
    let order = |reference: &str, kind: &str, from: &str, until: &str, issued: &str, extra: &[&str]| {
        let mut list = vec![
            "order",
            "add",
            &package,
            "--key",
            ada,
            "--kind",
            kind,
            "--reference",
            reference,
            "--issuer",
            "Fictional Court",
            "--issuing-state",
            "DE",
            "--issued-at",
            issued,
            "--valid-from",
            from,
            "--valid-until",
            until,
        ];
        list.extend_from_slice(extra);
        words(&list)
    };
    let record = |extra: &[&str]| {
        let mut list = vec!["custody", "record", &package, "--key", ada];
        list.extend_from_slice(extra);
        words(&list)
    };
    let mut steps = vec![
        Step {
            title: "Cascadia's prosecutor makes a key (no passphrase: a demo only)",
            words: words(&[
                "keygen",
                "--name",
                "Cascadia Prosecutor",
                "--role",
                "prosecutor",
                "--out",
                &xc,
                "--no-passphrase",
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "Ada seals the image in Germany under a preservation order",
            words: words(&[
                "seal",
                "--key",
                ada,
                "--case",
                "DEMO-XB-21",
                "--country",
                "DE",
                "--category",
                "content",
                "--legal-basis",
                "preservation_order:PRES-1",
                "--out",
                &package,
                evidence,
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "She records the preservation order (60 days)",
            words: order("PRES-1", "preservation_order", &pres_from, &pres_until, &pres_from, &[]),
            expect: Status::Ok,
        },
        Step {
            title: "and its extension, issued before it lapsed",
            words: order(
                "PRES-1-EXT",
                "preservation_order",
                &pres_until,
                &ext_until,
                &ext_issued,
                &["--extends", "PRES-1"],
            ),
            expect: Status::Ok,
        },
        Step {
            title: "a production order",
            words: order("PO-1", "production_order", &po_from, &po_until, &po_from, &[]),
            expect: Status::Ok,
        },
        Step {
            title: "and Cascadia's mutual legal assistance request, executed in Germany",
            words: {
                let mut list = order("MLA-1", "mla_request", &mla_from, &mla_until, &mla_from, &[]);
                let issuing = list.iter().position(|w| w == "--issuing-state").map_or(0, |i| i + 1);
                list[issuing] = "XC".into();
                list.extend(words(&["--enforcing-state", "DE"]));
                list
            },
            expect: Status::Ok,
        },
        Step {
            title: "The evidence moves to Borealia (XB): a signed move, same holder",
            words: record(&["--action", "moved", "--country", "XB", "--location", "Borealia evidence vault"]),
            expect: Status::Ok,
        },
        Step {
            title: "Ada examines it under the production order",
            words: record(&["--action", "examined", "--order", "PO-1"]),
            expect: Status::Ok,
        },
        Step {
            title: "Germany, the enforcing state, is notified of the request",
            words: record(&["--action", "notified", "--order", "MLA-1", "--to-state", "DE"]),
            expect: Status::Ok,
        },
        Step {
            title: "Ada discloses the evidence to Cascadia under the request, onward transfer forbidden",
            words: words(&[
                "custody",
                "disclose",
                &package,
                "--key",
                ada,
                "--to",
                &xc_pub,
                "--order",
                "MLA-1",
                "--purpose",
                "trial of case DEMO-XB-21 in Cascadia",
                "--conditions",
                "no use beyond this case",
                "--retain-until",
                &keep,
                "--onward",
                "forbidden",
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "Cascadia acknowledges it",
            words: words(&["custody", "accept", &package, "--key", &xc]),
            expect: Status::Ok,
        },
        Step {
            title: "Cascadia may not pass it on: refused before anything is signed",
            words: words(&[
                "custody",
                "disclose",
                &package,
                "--key",
                &xc,
                "--to",
                ada_pub,
                "--order",
                "MLA-1",
                "--purpose",
                "onward",
            ]),
            expect: Status::Error,
        },
    ];
    for name in instruments {
        steps.push(Step {
            title: "A court adds Cascadia's prosecutor to its policy as a recipient it trusts",
            words: words(&[
                "policy",
                "trust",
                &path(name),
                &xc_pub,
                "--principal",
                "Cascadia Prosecutor",
                "--roles",
                "prosecutor",
                "--country",
                "XC",
            ]),
            expect: Status::Ok,
        });
    }
    let mut judge = words(&["verify", &package, "--fast", "--trust", ada_pub, "--trust", &xc_pub]);
    for name in instruments {
        judge.extend(words(&["--policy", &path(name)]));
    }
    steps.push(Step {
        title: "Three instruments judge it: the Budapest and UN models accept it; the EU model wants EPOCs, not an MLA request",
        words: judge,
        expect: Status::Failed,
    });
    steps.push(Step {
        title: "What falls due when, soonest first",
        words: words(&[
            "deadlines",
            &package,
            "--trust",
            ada_pub,
            "--trust",
            &xc_pub,
            "--policy",
            &path("budapest-cets185-224.json"),
        ]),
        expect: Status::Ok,
    });
    run_steps(&steps, json)
}

/// Runs case-utils' `case_validate` on the CASE export when it is installed (optional: the
/// demo needs nothing beyond Custos), and says what it found.
fn validate_case(export: &Path) {
    let validated = std::process::Command::new("case_validate")
        .args(["--built-version", "case-1.5.0"])
        .arg(export)
        .output();
    match validated {
        Ok(output) if output.status.success() => {
            println!("case_validate --built-version case-1.5.0: the export conforms to CASE 1.5.0.")
        }
        Ok(output) => println!(
            "!! case_validate found problems:\n{}",
            String::from_utf8_lossy(&output.stdout).lines().take(20).collect::<Vec<_>>().join("\n")
        ),
        Err(_) => println!("(Validate it with case_validate --built-version case-1.5.0, from pip install 'case-utils<0.19'.)"),
    }
}

/// Removes the last line of a package's custody log and refreshes its tag manifests, as
/// anyone holding the package could.
fn drop_last_event(package: &Path) -> Result<()> {
    let log = package.join(custos_manifest::custody::CUSTODY_PATH);
    let mut permissions = std::fs::metadata(&log)?.permissions();
    #[allow(clippy::permissions_set_readonly_false)] // The demo's own scratch copy.
    permissions.set_readonly(false);
    std::fs::set_permissions(&log, permissions)?;
    let text = std::fs::read_to_string(&log)?;
    let kept: Vec<&str> = text.lines().collect();
    let kept = &kept[..kept.len().saturating_sub(1)];
    std::fs::write(&log, kept.iter().map(|l| format!("{l}\n")).collect::<String>())?;
    let store = custos_manifest::store::PackageDir::open(package)?;
    custos_manifest::package::refresh_tag_manifests(&store)?;
    Ok(())
}

/// Seals with a time-stamp from a local RFC 3161 authority (OpenSSL behind a small HTTP
/// server, as in the tests) and verifies the token offline. Needs python3 and openssl; says
/// so and skips without them.
fn timestamped_seal(
    scratch: &Path,
    evidence: &str,
    ada: &str,
    ada_pub: &str,
    json: bool,
) -> Result<Option<bool>> {
    let have = |tool: &str, flag: &str| {
        std::process::Command::new(tool)
            .arg(flag)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !have("python3", "--version") || !have("openssl", "version") {
        if !json {
            println!(
                "\n== Trusted time: skipped (a local time-stamping authority needs python3 and openssl) =="
            );
        }
        return Ok(None);
    }
    let tsa_dir = scratch.join("tsa");
    let script = scratch.join("tsa_server.py");
    std::fs::write(&script, include_str!("../../../tests/support/tsa_server.py"))?;
    let mut server = std::process::Command::new("python3")
        .arg(&script)
        .arg(&tsa_dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot start the local time-stamping authority")?;
    let mut port = String::new();
    if let Some(out) = server.stdout.take() {
        std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut port)?;
    }
    let url = format!("http://127.0.0.1:{}/", port.trim());
    let package = scratch.join("package-timestamped").display().to_string();
    let ca = tsa_dir.join("ca.crt").display().to_string();
    if !json {
        println!("\n== Trusted time: a local RFC 3161 authority at {url} (its test CA: {ca}) ==");
    }
    let steps = vec![
        Step {
            title: "Seal with the manifest signature and the sealed event time-stamped",
            words: words(&[
                "seal",
                "--key",
                ada,
                "--case",
                "DEMO-2026-002",
                "--tsa",
                &url,
                "--out",
                &package,
                evidence,
            ]),
            expect: Status::Ok,
        },
        Step {
            title: "Verify offline: the tokens are checked against the authority's certificate alone",
            words: words(&["verify", &package, "--trust", ada_pub, "--tsa-cert", &ca]),
            expect: Status::Ok,
        },
    ];
    let result = run_steps(&steps, json);
    let _ = server.kill();
    let _ = server.wait();
    result.map(Some)
}

/// Copies a folder tree (the demo's package) without following links.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_owned()).collect()
}

fn run_steps(steps: &[Step], json: bool) -> Result<bool> {
    let mut ok = true;
    for step in steps {
        let mut words: Vec<&OsStr> = step.words.iter().map(OsStr::new).collect();
        if json {
            words.push(OsStr::new("--json"));
        } else {
            println!("\n== {} ==\n$ custos {}", step.title, step.words.join(" "));
        }
        // A refused command is a step too: its error is what the user would see.
        let status = run_words(&words).unwrap_or_else(|error| {
            let message = crate::render::error_chain(error.as_ref());
            if json {
                let _ =
                    crate::render::print_json(&serde_json::json!({ "verdict": "error", "error": message }));
            } else {
                println!("custos: error: {message}");
            }
            Status::Error
        });
        if status != step.expect {
            if !json {
                println!("!! expected exit status {:?}, got {status:?}", step.expect);
            }
            ok = false;
        }
    }
    if steps.is_empty() {
        bail!("no steps");
    }
    Ok(ok)
}
