//! `custos-policy`: jurisdiction policies and their evaluation.
//!
//! A policy is a versioned JSON document for one jurisdiction or court
//! (`docs/formats/policy.md`). The evaluator turns a verified package (its signed manifest,
//! its verified custody events and the keys that validly signed the manifest) and an
//! evaluation time into findings, one or more per rule, each with the rule's citation. A
//! rule the policy leaves out is `not_applicable`, never a silent pass; a rule this version
//! does not know is refused when the policy is read.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod load;
mod policy;
pub mod registry;
mod rules;
pub mod time;
mod vocabulary;

pub use load::{
    read_regular_file, LoadedPolicy, PolicySignature, PolicySigner, MAX_DOCUMENT_BYTES, MAX_SIGNATURE_BYTES,
};
pub use policy::{
    BoundFile, CertificateFile, CustodyRule, DigestRule, LegalBasisRule, NotificationRule, Policy,
    PolicyError, PreservationPeriod, PreservationRule, ProductionRule, RegistryRef, RetentionRule,
    SignatureRule, StorageRule, TimeRule, TimestampRequirement, ToolsRule, TransferRule, TrustedKey,
    POLICY_FORMAT,
};
pub use rules::{
    deadlines, evaluate, rule_title, Deadline, DeadlineKind, Evidence, PolicyFinding, PolicyVerdict,
    TrustedTimes,
};
