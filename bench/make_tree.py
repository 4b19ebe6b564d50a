"""Writes a tree of N files totalling about TOTAL bytes, sizes log-uniform between 1 KiB
and 4 MiB (scaled to the total), in nested folders. Usage: make_tree.py DIR N TOTAL"""
import math
import os
import random
import sys

root, count, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
raw = [math.exp(rng.uniform(math.log(1024), math.log(4 << 20))) for _ in range(count)]
scale = total / sum(raw)
for i, weight in enumerate(raw):
    folder = os.path.join(root, f"d{i % 20:02d}", f"s{i % 7}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"f{i:06d}.bin"), "wb") as out:
        out.write(os.urandom(max(0, int(weight * scale))))
