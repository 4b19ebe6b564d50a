//! RFC 3339 times, to seconds since the Unix epoch, for comparing validity windows, gaps and
//! deadlines. One parser for the whole toolkit: it lives in `custos-manifest`, which reads
//! event times first.

pub use custos_manifest::time::parse_rfc3339;
