//! The commit the program is built from, for the build identity every signed event carries
//! (custos_manifest::custody::build). Unknown (empty) outside a git checkout.

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .unwrap_or_default();
    println!("cargo:rustc-env=CUSTOS_COMMIT={}", commit.trim());
    // A new commit moves HEAD or the branch it names.
    for path in ["../../.git/HEAD", "../../.git/refs/heads", "../../.git/packed-refs"] {
        println!("cargo:rerun-if-changed={path}");
    }
}
