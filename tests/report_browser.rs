//! The HTML court report in a real browser: headless Chromium renders it to a PNG and a PDF,
//! the rendered DOM holds every verdict, and the page is not blank.

mod support;

use std::path::Path;
use std::process::Command;

use support::{custos_in, run, tool};

fn chromium(program: &Path, profile: &Path, args: &[&str]) -> support::Run {
    run(Command::new(program)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args))
}

#[test]
fn the_report_renders_in_chromium_with_every_verdict() {
    let Some(chromium_path) = tool("chromium") else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    support::seal_content_package(d, "R-<1>", 50_000);
    let xa = root.join("policies/examples/xa-auria-legacy-court.json").display().to_string();
    let xc = root.join("policies/examples/xc-cascadia-mla.json").display().to_string();
    let made = custos_in(d, &["report", "pkg", "--policy", &xa, "--policy", &xc, "--out", "report.html"]);
    assert_eq!(made.code, 1, "XC rejects it, so the run fails: {}", made.stderr);
    let html = std::fs::read_to_string(d.join("report.html")).expect("report");
    assert!(
        !html.contains("<script") && !html.contains("http://") && !html.contains("https://"),
        "self-contained, no scripts"
    );
    assert!(html.contains("R-&lt;1&gt;"), "case text is escaped");

    let url = format!("file://{}", d.join("report.html").display());
    let dom = chromium(&chromium_path, &d.join("profile-dom"), &["--dump-dom", &url]);
    assert!(
        dom.stdout.contains(r#"id="integrity-verdict" class="verdict pass">VERIFIED<"#),
        "{}",
        dom.stdout
    );
    assert!(dom.stdout.contains(r#"data-jurisdiction="XA">ACCEPTABLE<"#), "{}", dom.stdout);
    assert!(dom.stdout.contains(r#"data-jurisdiction="XC">NOT ACCEPTABLE<"#), "{}", dom.stdout);
    assert!(dom.stdout.contains("which needs mla_request"), "the reason is rendered");

    let png = d.join("report.png");
    chromium(
        &chromium_path,
        &d.join("profile-png"),
        &[&format!("--screenshot={}", png.display()), "--window-size=1200,1600", &url],
    );
    let image = std::fs::read(&png).expect("a screenshot");
    assert!(image.starts_with(b"\x89PNG"), "a PNG");
    // A blank 1200x1600 page compresses to a few KiB; tables of text do not.
    assert!(image.len() > 40_000, "the page looks blank ({} bytes)", image.len());

    let pdf = d.join("report.pdf");
    chromium(
        &chromium_path,
        &d.join("profile-pdf"),
        &[&format!("--print-to-pdf={}", pdf.display()), "--no-pdf-header-footer", &url],
    );
    let document = std::fs::read(&pdf).expect("a PDF");
    assert!(
        document.starts_with(b"%PDF") && document.len() > 10_000,
        "a printed report ({} bytes)",
        document.len()
    );
}
