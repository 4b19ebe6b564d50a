#!/usr/bin/env python3
"""A FUSE file system with one file, `disk.img`, whose chosen byte ranges fail with EIO.

Used by custos-image's `fuse_eio` test to acquire a file that returns real read errors
through the kernel. Byte i of the file is (i % 251) + 1, never zero, so a zero-filled
sector can never pass for data.

Usage: faulty_fuse.py MOUNTPOINT SIZE [START:END ...]
A read whose requested range touches [START, END) fails as a whole, as a disk fails the
whole request. Runs in the foreground until unmounted (fusermount -u MOUNTPOINT).
"""

import errno
import stat
import sys
import time

from fuse import FUSE, FuseOSError, Operations

NAME = "/disk.img"


class FaultyFile(Operations):
    def __init__(self, size, bad):
        self.size = size
        self.bad = bad
        self.now = time.time()

    def getattr(self, path, fh=None):
        if path == "/":
            return {"st_mode": stat.S_IFDIR | 0o555, "st_nlink": 2,
                    "st_ctime": self.now, "st_mtime": self.now, "st_atime": self.now}
        if path == NAME:
            return {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1, "st_size": self.size,
                    "st_ctime": self.now, "st_mtime": self.now, "st_atime": self.now}
        raise FuseOSError(errno.ENOENT)

    def readdir(self, path, fh):
        return [".", "..", NAME[1:]]

    def open(self, path, flags):
        if path != NAME:
            raise FuseOSError(errno.ENOENT)
        return 0

    def read(self, path, size, offset, fh):
        end = min(offset + size, self.size)
        if offset >= end:
            return b""
        for start, stop in self.bad:
            if start < end and offset < stop:
                raise FuseOSError(errno.EIO)
        return bytes((i % 251) + 1 for i in range(offset, end))


def main():
    mountpoint, size = sys.argv[1], int(sys.argv[2])
    bad = []
    for spec in sys.argv[3:]:
        start, stop = spec.split(":")
        bad.append((int(start), int(stop)))
    FUSE(FaultyFile(size, bad), mountpoint, foreground=True, nothreads=True, ro=True)


if __name__ == "__main__":
    main()
