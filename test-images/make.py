"""Regenerates the test images byte for byte. Run from this folder: python3 make.py"""
import os
import random

r = random.Random(20261129)
data = bytearray(r.randbytes(1024 * 1024))
data += bytes(512 * 1024)
data += (b"Custos test image: not real evidence. " * 14000)[: 512 * 1024]
data += r.randbytes(4321)
open("evidence.raw", "wb").write(data)
os.makedirs("tree/docs", exist_ok=True)
os.makedirs("tree/photos", exist_ok=True)
open("tree/docs/report.txt", "w").write(
    "Examination report (fictional)\nExhibit A-1: laptop, seized 2026-11-02.\n"
)
open("tree/photos/img001.jpg", "wb").write(b"\xff\xd8\xff\xe0" + r.randbytes(70000))
open("tree/photos/img002.jpg", "wb").write(b"\xff\xd8\xff\xe0" + r.randbytes(150000))
open("tree/empty.dat", "wb").write(b"")
open("tree/name with spaces.txt", "w").write("spaces are fine\n")
if not os.path.islink("tree/docs/link-to-empty"):
    os.symlink("../empty.dat", "tree/docs/link-to-empty")

# Checksums, by independent tools:
#   md5sum evidence.raw > MD5SUMS; sha1sum evidence.raw > SHA1SUMS
#   sha256sum evidence.raw > SHA256SUMS; sha512sum evidence.raw > SHA512SUMS; b3sum evidence.raw > B3SUMS
#   find tree -type f | sort | xargs -d '\n' sha256sum > tree.SHA256SUMS
#   find tree -type f | sort | xargs -d '\n' b3sum > tree.B3SUMS
