//! Helpers shared by the policy crate's integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// How long a refusal may take: it is immediate, so this only has to outlast a loaded machine.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Runs `call` (which is given a FIFO at `fifo`) on a thread of its own and returns what it
/// returned, or fails the test when it is still running after [`DEADLINE`]: a refusal that
/// first blocks in `open` (a FIFO opened for reading the plain way waits for a writer
/// forever) is a hang, not a refusal. On a timeout the FIFO's writing end is opened, so that
/// a call stuck in `open` returns and its thread ends.
pub fn within_deadline<T: Send + 'static>(fifo: &Path, call: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    match receiver.recv_timeout(DEADLINE) {
        Ok(result) => result,
        Err(_) => {
            let writer_end = fifo.to_owned();
            // Opening the writing end waits for a reader: the stuck call is one.
            std::thread::spawn(move || drop(std::fs::OpenOptions::new().write(true).open(writer_end)));
            panic!(
                "still blocked after {DEADLINE:?} on the FIFO {}: it must be refused without waiting",
                fifo.display()
            );
        }
    }
}
