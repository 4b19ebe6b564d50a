#!/bin/sh
# Regenerates the E01 test vectors (media byte for byte; the containers differ in dates and
# the set GUID). Run from this folder. Needs ewf-tools (ewfacquire 20140813) and cargo.
set -e
python3 -c '
import sys
text = b"".join((b"custos E01 test vector, sector %5d\n" % s * 14)[:512] for s in range(133))
open("compressed.raw", "wb").write(text)
open("stored.raw", "wb").write(text[:9 * 512])
'
ewfacquire -u -q -f encase6 -d sha1 -c deflate:best -C VECTOR-1 -E compressed -D "custos E01 test vector" \
  -e custos -N "made by ewfacquire" -t compressed compressed.raw
ewfacquire -u -q -f encase6 -d sha1 -c deflate:none -C VECTOR-1 -E stored -D "custos E01 test vector" \
  -e custos -N "made by ewfacquire" -t stored stored.raw
rm compressed.raw stored.raw
cargo run -q -p custos-image --example e01_vector -- multi
