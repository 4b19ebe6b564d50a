//! `custos-manifest`: keys, detached signatures and (to come) the evidence manifest and
//! custody log of Custos.
//!
//! Everything signed is signed as the exact bytes written, under a DSSE-style
//! pre-authentication encoding that names the kind of document ([`envelope`]); everything
//! read back is parsed strictly ([`strict_json`]) and only after its signature verified.
//! Keys are Ed25519, identified by the SHA-256 of the raw public key ([`keys`]).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod bagit;
pub mod custody;
pub mod envelope;
mod error;
pub mod export;
pub mod findings;
pub mod keys;
pub mod layout;
pub mod manifest;
pub mod package;
pub mod parts;
pub mod safe_text;
pub mod store;
pub mod strict_json;
pub mod time;
pub mod verify;
pub mod vocabulary;

pub use custody::{holder, order, receipt};
pub use error::Error;
