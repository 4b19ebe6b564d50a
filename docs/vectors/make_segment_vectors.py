"""Segment-list test vectors, computed independently of Custos: Python's hashlib for
SHA-256 and the `b3sum` binary for BLAKE3. Run from this folder: python3 make_segment_vectors.py
It writes segments.json, which crates/hash/tests/segment_vectors.rs reads."""
import hashlib
import json
import subprocess


def blake3(data: bytes) -> bytes:
    out = subprocess.run(["b3sum", "--raw", "-"], input=data, capture_output=True, check=True).stdout
    return out


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


HASHES = {"sha256": sha256, "blake3": blake3}


def merkle_root(h, leaves):
    """RFC 6962 section 2.1 with domain-separated leaves (0x00) and nodes (0x01)."""
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + merkle_root(h, leaves[:k]) + merkle_root(h, leaves[k:]))


def pattern(n):
    return bytes(i % 251 for i in range(n))


cases = []
for algorithm in ("sha256", "blake3"):
    for length, segment_size in [(0, 1024), (1, 1024), (1023, 1024), (1024, 1024), (1025, 1024),
                                 (3 * 1024, 1024), (5 * 1024 + 7, 1024), (10_000, 3000), (100_000, 4096)]:
        h = HASHES[algorithm]
        data = pattern(length)
        segments = [h(data[i:i + segment_size]) for i in range(0, length, segment_size)]
        cases.append({
            "input_len": length,
            "segment_size": segment_size,
            "algorithm": algorithm,
            "segments": [s.hex() for s in segments],
            "root": merkle_root(h, segments).hex(),
        })

doc = {
    "_comment": "Custos segment lists (docs/segments.md), format 1. Input bytes are the BLAKE3 "
                "test-vector pattern: byte i is i mod 251. Computed with hashlib and b3sum.",
    "cases": cases,
}
with open("segments.json", "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
