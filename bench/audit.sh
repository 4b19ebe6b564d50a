#!/usr/bin/env bash
# Audit benchmarks (part of `just bench`; runs alone too): a full audit of 1,000 packages
# holding 2 GiB against `custos hash` over the same files; a fast audit of 10,000 packages
# (time per package per core); peak RSS at 1,000 and 10,000 packages.
# Usage: bench/audit.sh [RUNS=3]. Writes bench-data/results/audit-*.json and audit-rss.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
data=bench-data
results=$data/results
custos=$PWD/target/release/custos
key=docs/formats/vectors/keys/rfc8032-test1
mkdir -p "$results"

# store COUNT BYTES_EACH: COUNT packages of random bytes, sealed two at a time.
store() {
  local count=$1 each=$2 dir=$data/store-$1
  if [ ! -f "$dir/.complete" ]; then
    rm -rf "$dir" && mkdir -p "$dir/evidence" "$dir/packages"
    echo "bench: sealing $count packages of $each bytes into $dir" >&2
    seq 0 $((count - 1)) | xargs -P2 -I{} sh -c "
      head -c $each /dev/urandom > $dir/evidence/e{}.raw &&
      '$custos' seal --quiet --key $key --case BENCH-{} --legal-basis warrant:BENCH --out $dir/packages/p{} $dir/evidence/e{}.raw > /dev/null &&
      rm $dir/evidence/e{}.raw"
    touch "$dir/.complete"
  fi
  echo "$dir/packages"
}

full=$(store 1000 $((2 * 1024 * 1024)))
many=$(store 10000 1024)
# In page cache, as the other jobs: this measures the audit, not the disk.
find "$full" -type f -print0 | xargs -0 cat > /dev/null

# The same algorithms the packages were sealed with (seal's default), over the same files.
algos=$(python3 -c "import json,sys; m=json.load(open('$full/p0/custos/manifest.json')); print(','.join(sorted(m['items'][0]['digests'])))")
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$results/audit-full.json" -N \
  "$custos hash --quiet --algo $algos $full" \
  "$custos audit --quiet --json $full --trust $key.pub"
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$results/audit-fast.json" -N \
  "$custos audit --quiet --json --fast $many --trust $key.pub"

rss() { { /usr/bin/time -v "$@" > /dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}'; }
{
  echo "full_1000 $(rss "$custos" audit --quiet --json "$full" --trust "$key.pub")"
  echo "fast_1000 $(rss "$custos" audit --quiet --json --fast "$full" --trust "$key.pub")"
  echo "fast_10000 $(rss "$custos" audit --quiet --json --fast "$many" --trust "$key.pub")"
} > "$results/audit-rss.txt"
cat "$results/audit-rss.txt"
