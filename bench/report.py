"""Turns hyperfine's JSON into docs/benchmarks.md: ratios of medians, per job, against the
fastest reference tool, with the targets from the foundation issue."""
import json
import os
import platform
import statistics
import subprocess
import sys

results = sys.argv[1]


def medians(name):
    with open(os.path.join(results, name + ".json")) as f:
        data = json.load(f)["results"]
    return [(r["command"], statistics.median(r["times"])) for r in data]


def short(command):
    words = command.replace(os.getcwd() + "/", "").split()
    if "custos" in words[0]:
        words[0] = "custos"
    # A pipe inside a table cell ends the cell, even in code: escaped.
    return " ".join(w for w in words if not w.startswith("bench-data/")).replace("  ", " ").replace("|", "\\|")


def audit_section():
    """The audit jobs (bench/audit.sh), when they ran."""
    full = os.path.join(results, "audit-full.json")
    if not os.path.exists(full):
        return
    (hash_cmd, hashed), (audit_cmd, audited) = medians("audit-full")
    ((fast_cmd, fast),) = medians("audit-fast")
    rss = dict(line.split() for line in open(os.path.join(results, "audit-rss.txt")) if line.strip())
    cores = os.cpu_count() or 1
    per_package = fast / 10000 * cores * 1000
    print("## Audits")
    print()
    print("`bench/audit.sh`: 1,000 packages of 2 MiB (2 GiB, sealed with seal's default SHA-256 + BLAKE3)")
    print("and 10,000 packages of 1 KiB, in page cache.")
    print()
    print("| job | reference | reference median | custos | custos median | ratio | target | met |")
    print("|---|---|---|---|---|---|---|---|")
    ratio = audited / hashed
    print(f"| full audit of 1,000 packages vs hashing the same files | `{short(hash_cmd)}` | {hashed:.2f} s | `{short(audit_cmd)}` | {audited:.2f} s | **{ratio:.2f}×** | ≤ 1.10× | {'yes' if ratio <= 1.10 else 'NO'} |")
    print(f"| `--fast` audit of 10,000 packages, per package per core | 2 ms | | `{short(fast_cmd)}` | {fast:.2f} s | **{per_package:.2f} ms** | < 2 ms | {'yes' if per_package < 2 else 'NO'} |")
    if os.path.exists(os.path.join(results, "audit-s3.json")):
        (disk_cmd, on_disk), (s3_cmd, on_s3) = medians("audit-s3")
        ratio = on_s3 / on_disk
        print(f"| full audit of 200 packages (400 MiB) in a local SeaweedFS vs the same on disk | `{short(disk_cmd)}` | {on_disk:.2f} s | `{short(s3_cmd)}` | {on_s3:.2f} s | **{ratio:.2f}×** | ≤ 1.50× | {'yes' if ratio <= 1.5 else 'NO'} |")
    print()
    print("Peak resident memory of the audit: full, 1,000 packages: **{:.1f} MiB**; fast, 1,000 packages: **{:.1f} MiB**; fast, 10,000 packages: **{:.1f} MiB**.".format(
        int(rss["full_1000"]) / 1024, int(rss["fast_1000"]) / 1024, int(rss["fast_10000"]) / 1024))
    print()


if sys.argv[2:] == ["--audit-only"]:
    audit_section()
    sys.exit(0)

size_gib, tree_files, runs = sys.argv[2], sys.argv[3], sys.argv[4]
rss_all, rss_blake3, rss_b3sum, rss_sparse, rss_tree, rss_acquire, rss_verify = sys.argv[5:12]


rows = []


def job(title, name, reference_index, custos_index, target, extra=None):
    m = medians(name)
    ref_cmd, ref = m[reference_index]
    our_cmd, ours = m[custos_index]
    if extra is not None:
        ref_cmd, ref = min((m[i] for i in extra), key=lambda x: x[1])
    ratio = ours / ref
    # A target of None: a ratio to report, with no target set for it.
    met = None if target is None else ratio <= target
    rows.append((title, short(ref_cmd), ref, short(our_cmd), ours, ratio, target, met))


job("SHA-256", "sha256", 0, 1, 1.05)
job("BLAKE3", "blake3", 0, 1, 1.00)
job("MD5+SHA-1+SHA-256 in one pass vs MD5 alone", "legacy", 0, 1, 1.05)
job("SHA-256+BLAKE3+64 MiB segments vs SHA-256 alone", "segments", 0, 1, 1.05)
job(f"tree of {tree_files} files, SHA-256", "tree-sha256", 0, 1, 1.00)
job(f"tree of {tree_files} files, BLAKE3 (fastest b3sum way)", "tree-blake3", 0, 2, 1.00, extra=[0, 1])
job("verify a package (SHA-256+BLAKE3+64 MiB segments) vs hashing the same", "verify", 1, 2, 1.05)
job("verify a package vs SHA-256 alone", "verify", 0, 2, 1.20)
if len(medians("verify")) >= 5:
    job("verify --by-segments (BLAKE3 64 MiB segments, every core) vs b3sum", "verify", 3, 4, 1.05)
    job("verify --by-segments vs the whole-file verify of the same package", "verify", 2, 4, 0.60)
if os.path.exists(os.path.join(results, "verify-legacy.json")):
    job("verify a package sealed with MD5+SHA-1+SHA-256+BLAKE3 vs hashing the same", "verify-legacy", 0, 1, 1.05)
if os.path.exists(os.path.join(results, "fixity.json")):
    job("custody record --action fixity_verified (SHA-256+BLAKE3 package) vs hashing the same", "fixity", 0, 1, 1.05)
if os.path.exists(os.path.join(results, "verify-sha256.json")):
    job("verify --by-segments (SHA-256 64 MiB segments, every core) vs the whole-file SHA-256 verify of the same package", "verify-sha256", 0, 1, 0.60)
if os.path.exists(os.path.join(results, "seal.json")):
    job("seal sha256+blake3 (copy, sync, read back with BLAKE3) vs cp + sync + custos hash of the copy", "seal", 0, 2, None)
    job("seal sha256+blake3 vs dc3dd hof= hash=sha256 (which reads back)", "seal", 1, 2, None)
job("acquire md5+sha256 into a raw image, no read-back, vs dc3dd hof= (which reads back)", "acquire", 0, 1, 0.50)
if os.path.exists(os.path.join(results, "e01-verify.json")):
    job("E01 media checked against its stored MD5+SHA-1", "e01-verify", 0, 1, 0.50)
job("acquire md5+sha256, image synced and read back from disk, vs dc3dd hof=", "acquire", 0, 2, 0.50)
if os.path.exists(os.path.join(results, "e01-write.json")):
    job("acquire into E01 (fast deflate, MD5+SHA-1 inside), synced, vs ewfacquire", "e01-write", 0, 1, 1.00)

legacy_tools = medians("legacy-tools")
legacy_ours = medians("legacy")[1][1]

cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    flags = open("/proc/cpuinfo").read()
    features = [f for f in ("sha_ni", "avx2", "avx512f") if f" {f}" in flags]
except OSError:
    features = []
cores = os.cpu_count()
mem = "?"
try:
    mem = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.split("\n")[1].split()[1] + " GiB"
except Exception:
    pass
version = subprocess.run(["target/release/custos", "--version"], capture_output=True, text=True).stdout.strip()

print("# Benchmarks")
print()
print("Made by `just bench` (`bench/run.sh`): hyperfine, medians of", runs, "runs after a warm-up,")
print(f"on a {size_gib} GiB random image and a {tree_files}-file tree (2 GiB, sizes log-uniform 1 KiB to 4 MiB),")
print("both in page cache, so these measure hashing and the I/O path, not the disk.")
print("Ratios are Custos' median over the reference's median **in the same run**; below 1 is faster.")
print()
print(f"Machine: {cpu}, {cores} cores, {mem}, CPU features {', '.join(features) or 'none detected'};")
print(f"{platform.system()} {platform.release()}; {version}.")
print()
print("| job | reference | reference median | custos | custos median | ratio | target | met |")
print("|---|---|---|---|---|---|---|---|")
for title, ref_cmd, ref, our_cmd, ours, ratio, target, met in rows:
    goal = "reported" if target is None else f"≤ {target:.2f}×"
    verdict = "—" if met is None else ("yes" if met else "NO")
    print(f"| {title} | `{ref_cmd}` | {ref:.2f} s | `{our_cmd}` | {ours:.2f} s | **{ratio:.2f}×** | {goal} | {verdict} |")
print()
print("Other tools for the legacy MD5+SHA-1+SHA-256 job (fewer runs; they are slow):")
print()
for command, median in legacy_tools:
    print(f"- `{short(command)}`: {median:.2f} s, Custos is **{legacy_ours / median:.2f}×** its time")
print()
print("Peak resident memory (`/usr/bin/time -v`, maximum RSS; mapped page-cache pages count):")
print()
print(f"- `custos hash --algo md5,sha1,sha256,sha512,blake3 --segment-size 64M` on the {size_gib} GiB image: **{int(rss_all) / 1024:.1f} MiB**")
print(f"- `custos hash --algo blake3` on the same image: **{int(rss_blake3) / 1024:.1f} MiB** (b3sum maps the whole file: {int(rss_b3sum) / 1024:.1f} MiB)")
print(f"- `custos hash --algo sha256,blake3 --segment-size 64M` on a 16 GiB sparse file: **{int(rss_sparse) / 1024:.1f} MiB**")
print(f"- `custos hash --algo sha256,blake3` on the tree: **{int(rss_tree) / 1024:.1f} MiB**")
print(f"- `custos acquire --algo md5,sha256` of the {size_gib} GiB image (read-back included): **{int(rss_acquire) / 1024:.1f} MiB**")
rss_e01_path = os.path.join(results, "rss-e01.txt")
if os.path.exists(rss_e01_path):
    rss_e01 = open(rss_e01_path).read().strip()
    if rss_e01:
        print(f"- `custos acquire --format e01` of the {size_gib} GiB image (read-back included): **{int(rss_e01) / 1024:.1f} MiB**")
print(f"- `custos verify` of a package of the {size_gib} GiB image: **{int(rss_verify) / 1024:.1f} MiB**")
print()
print("Target: under 64 MiB for every case above.")
print()
print("Notes: `dc3dd hof=` writes the image and reads it back (from the page cache); `custos acquire`")
print("by default also fsyncs the image and drops its cached pages before the read-back, so its")
print("read-back comes from the disk; `--verify none` skips it. Packages are signed with the public")
print("RFC 8032 test key.")
print()
audit_section()
# What the numbers above cannot say by themselves: profiles, floors, separate runs.
notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
if os.path.exists(notes):
    print(open(notes).read().rstrip())
