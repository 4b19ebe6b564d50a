# Custos recipes. `just --list` shows them.

# Build the release binary.
build:
    cargo build --release

# Every test, with the interop tests required (they fail if a reference tool is missing).
test:
    CUSTOS_INTEROP=require cargo test --workspace

# The demo on the bundled test images.
demo:
    cargo run --release -- demo

# Lints as CI would want them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks against openssl, b3sum, dc3dd and hashdeep (hyperfine); SIZE in GiB for the
# image, FILES for the tree. Results go to docs/benchmarks.md.
bench SIZE="4" FILES="20000" RUNS="5":
    cargo build --release
    bench/run.sh {{SIZE}} {{FILES}} {{RUNS}}
