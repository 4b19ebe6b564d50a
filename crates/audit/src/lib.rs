//! Custody audits over whole evidence stores: finding every package under a root
//! ([`discover`]), splitting them between machines ([`shard`]), remembering what each run
//! established so that an interrupted audit resumes and unchanged packages are re-hashed on
//! a rotation ([`state`]), and a signed, hash-chained record of every result kept outside
//! the packages ([`ledger`]).
//!
//! The verification itself is not here: an audit judges each package with exactly the code
//! `custos verify` uses, which the caller passes in.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod discover;
mod file;
pub mod ledger;
pub mod shard;
pub mod state;
