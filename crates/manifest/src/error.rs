//! The errors of manifests, keys and signatures.

/// Everything that can go wrong reading keys and signatures. Each names what failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A signature file is not strict JSON of the expected shape.
    #[error("the signature file is malformed: {0}")]
    SignatureFileSyntax(#[source] crate::strict_json::StrictJsonError),
    /// A manifest is not strict JSON of the expected shape.
    #[error("the manifest is malformed: {0}")]
    ManifestSyntax(#[source] crate::strict_json::StrictJsonError),
    /// A document of a format version this build does not know.
    #[error("unsupported {what} format version {found}")]
    UnsupportedVersion {
        /// Which kind of document.
        what: &'static str,
        /// The version it states.
        found: u64,
    },
    /// A signature made for another kind of document (a replay across types).
    #[error("the signature is for `{found}` documents, not `{expected}`")]
    WrongPayloadType {
        /// The type the verifier expects.
        expected: String,
        /// The type the signature file states.
        found: String,
    },
    /// A key file that cannot be read.
    #[error("the {what} file is malformed: {reason}")]
    KeyFile {
        /// Which kind of key file.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A key file whose stated key id is not its key's.
    #[error("the key file states key id {stated} but its key has id {actual}")]
    KeyIdMismatch {
        /// The id written in the file.
        stated: String,
        /// The id of the key it carries.
        actual: String,
    },
    /// A field of a key's owner that is not acceptable.
    #[error("invalid {field}: {reason}")]
    InvalidField {
        /// The field.
        field: &'static str,
        /// What is required.
        reason: &'static str,
    },
    /// The secret key is sealed and no passphrase was given.
    #[error("the secret key is protected by a passphrase; give one (--passphrase-file FILE, or type it at the prompt)")]
    PassphraseRequired,
    /// Decryption failed: a wrong passphrase, or a key file that was altered.
    #[error("cannot open the secret key: wrong passphrase, or the key file was altered")]
    WrongPassphrase,
    /// A package could not be sealed.
    #[error("package: {0}")]
    Package(String),
    /// An acquisition stopped after a checkpoint (the medium went away, the destination
    /// filled up, the process was stopped): the unfinished package is kept where it was
    /// built, so that `acquire --resume` can continue it.
    #[error("package: {message}; the unfinished acquisition is kept in {} (continue it with --resume, or remove it)", kept.display())]
    Resumable {
        /// What stopped it.
        message: String,
        /// The unfinished package's folder.
        kept: std::path::PathBuf,
    },
    /// A seal failed after the evidence was safe (an image read whole, or a package complete
    /// but not given its name): what there is, is kept where it was built, never removed.
    #[error("package: {message}; the {what} is kept in {}: {hint}", kept.display())]
    Kept {
        /// What stopped it.
        message: String,
        /// The folder kept.
        kept: std::path::PathBuf,
        /// What it holds.
        what: &'static str,
        /// What to do with it.
        hint: &'static str,
    },
    /// Hashing or copying evidence failed.
    #[error(transparent)]
    Hash(#[from] custos_hash::Error),
    /// A bag could not be written or read.
    #[error("bag: {0}")]
    Bag(String),
    /// The operating system's random source failed.
    #[error("no randomness available from the operating system: {0}")]
    Random(String),
}
