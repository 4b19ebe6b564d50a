//! A progress bar with rate and ETA on stderr, shown only on a terminal and never with
//! `--quiet` or when stderr is piped.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar over `total` bytes, or a hidden one.
pub fn bytes_bar(total: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// The bar of `verify` and `report`: its length is set when verification knows how many
/// payload bytes it will read.
#[derive(Debug)]
pub struct PayloadBar(ProgressBar);

impl PayloadBar {
    pub fn new(quiet: bool) -> PayloadBar {
        let bar = bytes_bar(0, quiet);
        bar.set_message("verifying");
        PayloadBar(bar)
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl custos_manifest::verify::VerifyProgress for PayloadBar {
    fn payload(&self, total_bytes: u64) {
        self.0.set_length(total_bytes);
    }

    fn read(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}

/// The bar of `seal` and `acquire`: each evidence file goes through its phases (copying,
/// then reading back; or acquiring, re-reading the source, reading back), and the bar says
/// which phase of which file it is in instead of counting to a multiple of the size.
pub struct SealBar {
    bar: ProgressBar,
    /// Each file's name and size, in sealing order.
    files: Vec<(String, u64)>,
    /// The passes over each file's bytes, in order.
    phases: Vec<&'static str>,
    /// Bytes reported so far, over every phase of every file.
    done: std::sync::atomic::AtomicU64,
}

impl SealBar {
    pub fn new(files: Vec<(String, u64)>, phases: Vec<&'static str>, quiet: bool) -> SealBar {
        let first = files.first().map_or(0, |(_, size)| *size);
        let bar = bytes_bar(first, quiet);
        let seal = SealBar { bar, files, phases, done: std::sync::atomic::AtomicU64::new(0) };
        seal.show(0);
        seal
    }

    /// Counts `bytes` more and shows the phase and file they belong to.
    pub fn advance(&self, bytes: u64) {
        let done = self.done.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed) + bytes;
        self.show(done);
    }

    fn show(&self, done: u64) {
        let count = self.files.len();
        let mut left = done;
        for (index, (name, size)) in self.files.iter().enumerate() {
            for (step, phase) in self.phases.iter().enumerate() {
                let last = index + 1 == count && step + 1 == self.phases.len();
                if left < *size || last {
                    self.bar.set_length(*size);
                    self.bar.set_position(left.min(*size));
                    self.bar.set_message(format!("[{}/{count}] {phase} {name}", index + 1));
                    return;
                }
                left -= size;
            }
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
