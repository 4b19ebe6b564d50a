//! The two block-device ioctls that rustix has no safe wrapper for, `BLKROGET` and
//! `BLKROSET`: the only `unsafe` code of the crate, kept to these two calls.
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::io;
use std::os::fd::AsFd;

use rustix::ioctl::{self, opcode, Getter, Opcode, Setter};

/// `BLKROSET`, `_IO(0x12, 93)` in `<linux/fs.h>`: takes a pointer to an `int` (1 = read-only).
const BLKROSET: Opcode = opcode::none(0x12, 93);
/// `BLKROGET`, `_IO(0x12, 94)` in `<linux/fs.h>`: writes the read-only flag to an `int`.
const BLKROGET: Opcode = opcode::none(0x12, 94);

/// Whether the kernel holds the block device read-only (`BLKROGET`).
pub(crate) fn block_read_only<Fd: AsFd>(fd: Fd) -> io::Result<bool> {
    // SAFETY: BLKROGET is a getter that writes one `int` through the pointer it is given,
    // and `Getter<_, c_int>` passes a pointer to a `c_int` it owns; the kernel checks that
    // the descriptor is a block device (ENOTTY otherwise).
    let flag = unsafe { ioctl::ioctl(fd, Getter::<BLKROGET, c_int>::new()) }?;
    Ok(flag != 0)
}

/// Asks the kernel to refuse writes to the block device (`BLKROSET` with 1). Needs
/// `CAP_SYS_ADMIN`; refused with `EACCES`/`EPERM` otherwise.
pub(crate) fn set_block_read_only<Fd: AsFd>(fd: Fd) -> io::Result<()> {
    // SAFETY: BLKROSET reads one `int` through the pointer it is given, and
    // `Setter<_, c_int>` passes a pointer to the `c_int` it owns for the call's duration.
    unsafe { ioctl::ioctl(fd, Setter::<BLKROSET, c_int>::new(1)) }?;
    Ok(())
}
