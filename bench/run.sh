#!/usr/bin/env bash
# Benchmarks of `custos hash` against the fastest tool per job, with hyperfine, on generated
# data in page cache. Usage: bench/run.sh [IMAGE_GIB=4] [TREE_FILES=20000] [RUNS=5]
# Needs: hyperfine openssl b3sum dc3dd hashdeep (apt-get install hyperfine b3sum dc3dd hashdeep).
# Writes docs/benchmarks.md; raw hyperfine JSON stays in bench-data/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
size_gib=${1:-4}
tree_files=${2:-20000}
runs=${3:-5}
slow_runs=2
data=bench-data
results=$data/results
custos=$PWD/target/release/custos
image=$data/image-${size_gib}g.raw
tree=$data/tree-${tree_files}
sparse=$data/sparse-16g.raw

for tool in hyperfine openssl b3sum dc3dd hashdeep /usr/bin/time python3; do
  command -v "$tool" >/dev/null || { echo "bench: missing $tool (apt-get install hyperfine b3sum dc3dd hashdeep time)" >&2; exit 2; }
done
[ -x "$custos" ] || { echo "bench: build first: cargo build --release" >&2; exit 2; }
mkdir -p "$results"

if [ ! -f "$image" ]; then
  echo "bench: writing a ${size_gib} GiB random image"
  head -c "${size_gib}G" /dev/urandom > "$image.tmp" && mv "$image.tmp" "$image"
fi
if [ ! -d "$tree" ]; then
  echo "bench: writing a tree of ${tree_files} files (2 GiB in all, mixed sizes)"
  python3 bench/make_tree.py "$tree" "$tree_files" $((2 * 1024 * 1024 * 1024))
fi
[ -f "$sparse" ] || truncate -s 16G "$sparse"
# Warm the page cache: these benchmarks measure hashing, not the disk.
cat "$image" > /dev/null
find "$tree" -type f -print0 | xargs -0 cat > /dev/null

bench() { # name runs commands...
  local name=$1 n=$2; shift 2
  hyperfine --style basic --warmup 1 --runs "$n" --export-json "$results/$name.json" "$@"
}

bench sha256 "$runs" -N "openssl dgst -sha256 $image" "$custos hash --quiet --algo sha256 $image"
bench blake3 "$runs" -N "b3sum $image" "$custos hash --quiet --algo blake3 $image"
bench legacy "$runs" -N "openssl dgst -md5 $image" "$custos hash --quiet --algo md5,sha1,sha256 $image"
bench legacy-tools "$slow_runs" -N "dc3dd if=$image of=/dev/null hash=md5 hash=sha1 hash=sha256 log=/dev/null" \
  "hashdeep -c md5,sha1,sha256 $image"
bench segments "$runs" -N "$custos hash --quiet --algo sha256 $image" \
  "$custos hash --quiet --algo sha256,blake3 --segment-size 64M $image"
bench tree-sha256 "$runs" -N "hashdeep -r -c sha256 $tree" "$custos hash --quiet --algo sha256 $tree"
bench tree-blake3 "$runs" "find $tree -type f -print0 | xargs -0 b3sum" \
  "find $tree -type f -print0 | xargs -0 -P2 -n 1000 b3sum --num-threads 1" \
  "$custos hash --quiet --algo blake3 $tree"

# Packages, with the public RFC 8032 test key (never for evidence): verify reads each byte
# once; acquisition writes the image while hashing it, then reads the copy back.
key=docs/formats/vectors/keys/rfc8032-test1
vpkg=$data/verify-pkg-${size_gib}g
acq=$data/acquire
[ -d "$vpkg" ] || "$custos" seal --quiet --key "$key" --case BENCH --legal-basis warrant:BENCH \
  --algo sha256,blake3 --segment-size 64M --out "$vpkg" "$image"
# The references hash the package's own copy: the same file, the same pages in cache.
vcopy=$vpkg/data/$(basename "$image")
bench verify "$runs" -N "openssl dgst -sha256 $vcopy" \
  "$custos hash --quiet --algo sha256,blake3 --segment-size 64M $vcopy" \
  "$custos verify --quiet $vpkg --trust $key.pub" \
  "b3sum $vcopy" \
  "$custos verify --quiet --by-segments $vpkg --trust $key.pub"
# The issue's case: a package sealed with MD5, SHA-1, SHA-256 and BLAKE3 (payload manifests
# md5, sha1, sha256), verified against hashing the file with the same four.
lpkg=$data/verify-legacy-pkg-${size_gib}g
[ -d "$lpkg" ] || "$custos" seal --quiet --key "$key" --case BENCH --legal-basis warrant:BENCH \
  --algo md5,sha1,sha256,blake3 --out "$lpkg" "$image"
bench verify-legacy "$runs" -N "$custos hash --quiet --algo md5,sha1,sha256,blake3 $lpkg/data/$(basename "$image")" \
  "$custos verify --quiet $lpkg --trust $key.pub"
# A fixity check recorded in the custody log reads each item once, with the item's digests.
bench fixity "$runs" -N "$custos hash --quiet --algo sha256,blake3 $vcopy" \
  "$custos custody record $vpkg --action fixity_verified --key $key"
# The same check by SHA-256 segments on every core, against the whole-file SHA-256 verify of
# the same package (sealed with SHA-256 only).
spkg=$data/verify-sha256-pkg-${size_gib}g
[ -d "$spkg" ] || "$custos" seal --quiet --key "$key" --case BENCH --legal-basis warrant:BENCH \
  --algo sha256 --segment-size 64M --segment-algo sha256 --out "$spkg" "$image"
bench verify-sha256 "$runs" -N "$custos verify --quiet $spkg --trust $key.pub" \
  "$custos verify --quiet --by-segments $spkg --trust $key.pub"
mkdir -p "$acq"
# Seal copies the image while hashing it, syncs the copy and reads it back with one digest;
# against copying, syncing and hashing the copy with the same algorithms, and dc3dd hof=.
bench seal "$slow_runs" --prepare "rm -rf $acq/seal $acq/cp.raw $acq/dc3dd.raw" \
  "cp $image $acq/cp.raw && sync $acq/cp.raw && $custos hash --quiet --algo sha256,blake3 $acq/cp.raw > /dev/null" \
  "dc3dd if=$image hof=$acq/dc3dd.raw hash=sha256 log=/dev/null" \
  "$custos seal --quiet --key $key --case BENCH --legal-basis warrant:BENCH --algo sha256,blake3 --out $acq/seal $image"
rm -rf "$acq/seal" "$acq/cp.raw" "$acq/dc3dd.raw"
bench acquire "$slow_runs" --prepare "rm -rf $acq/pkg $acq/dc3dd.raw" -N \
  "dc3dd if=$image hof=$acq/dc3dd.raw hash=md5 hash=sha256 log=/dev/null" \
  "$custos acquire --quiet --key $key --case BENCH --legal-basis warrant:BENCH --algo md5,sha256 --verify none --out $acq/pkg $image" \
  "$custos acquire --quiet --key $key --case BENCH --legal-basis warrant:BENCH --algo md5,sha256 --out $acq/pkg $image"
rm -rf "$acq/pkg" "$acq/dc3dd.raw"
rss_acquire=$( { /usr/bin/time -v "$custos" acquire --quiet --key "$key" --case BENCH --legal-basis warrant:BENCH --algo md5,sha256 --out "$acq/pkg" "$image" > /dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
rss_verify=$( { /usr/bin/time -v "$custos" verify --quiet "$vpkg" --trust "$key.pub" > /dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
rm -rf "$acq/pkg"

# E01: the media of an image libewf wrote (fast deflate), checked against its stored hashes.
e01=$data/e01-${size_gib}g
if [ ! -f "$e01.E01" ] && command -v ewfacquire >/dev/null; then
  ewfacquire -u -q -t "$e01" -f encase6 -c deflate:fast -d sha1 -C BENCH -D bench -E 1 -e bench -N bench "$image" > /dev/null
fi
if [ -f "$e01.E01" ]; then
  bench e01-verify "$runs" -N "ewfverify -q -d sha1 $e01.E01" "$custos hash --quiet --media --algo md5,sha1 $e01.E01"
fi
# E01 output at the same compression level as ewfacquire (fast deflate, MD5+SHA-1 inside).
# ewfacquire neither syncs nor reads back; custos acquire --verify none still syncs and hashes
# each segment file (from the page cache) for the manifest.
if command -v ewfacquire >/dev/null; then
  bench e01-write "$slow_runs" --prepare "rm -rf $acq/pkg $acq/ewf.E0*" -N \
    "ewfacquire -u -q -t $acq/ewf -f encase6 -c deflate:fast -d sha1 -C BENCH -D bench -E 1 -e bench -N bench $image" \
    "$custos acquire --quiet --key $key --case BENCH --legal-basis warrant:BENCH --format e01 --compression fast --algo md5,sha1 --verify none --out $acq/pkg $image"
  rss_e01=$( { /usr/bin/time -v "$custos" acquire --quiet --key "$key" --case BENCH --legal-basis warrant:BENCH --format e01 --algo md5,sha1 --out "$acq/pkg2" "$image" > /dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
  rm -rf "$acq/pkg" "$acq/pkg2" "$acq"/ewf.E0*
  echo "$rss_e01" > "$results/rss-e01.txt"
fi

rss_all=$( { /usr/bin/time -v "$custos" hash --quiet --algo md5,sha1,sha256,sha512,blake3 --segment-size 64M "$image" > /dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
rss_blake3=$( { /usr/bin/time -v "$custos" hash --quiet --algo blake3 "$image" > /dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
rss_b3sum=$( { /usr/bin/time -v b3sum "$image" > /dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
rss_sparse=$( { /usr/bin/time -v "$custos" hash --quiet --algo sha256,blake3 --segment-size 64M "$sparse" > /dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')
rss_tree=$( { /usr/bin/time -v "$custos" hash --quiet --algo sha256,blake3 "$tree" > /dev/null; } 2>&1 | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}')

bench/audit.sh "$slow_runs"
bench/audit-s3.sh "$slow_runs"

python3 bench/report.py "$results" "$size_gib" "$tree_files" "$runs" \
  "$rss_all" "$rss_blake3" "$rss_b3sum" "$rss_sparse" "$rss_tree" "$rss_acquire" "$rss_verify" > docs/benchmarks.md
cat docs/benchmarks.md
