//! Turning command-line paths into inputs, and hashing many inputs in order: small files
//! several at a time on the rayon pool, large ones (and stdin) one at a time, because each
//! of those already keeps every core busy and two at once would only make a disk seek.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use custos_hash::{
    hash_path, hash_reader, hash_tree_file, walk_tree, Control, EntryKind, Error, HashOptions, HashOutcome,
};

/// One thing named on the command line or found in a tree.
#[derive(Debug)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file or device to hash; `size` when known up front (for progress and scheduling).
    /// `in_tree`: found by a walk, so opened without following links (see `hash_tree_file`).
    File { path: PathBuf, size: Option<u64>, in_tree: bool },
    /// Found in a tree and recorded, not hashed.
    Skipped { path: PathBuf, kind: EntryKind },
    /// The walk itself failed here.
    WalkFailed { path: PathBuf, error: Error },
}

impl Input {
    /// The path to print (`-` for stdin).
    pub fn path(&self) -> &Path {
        match self {
            Input::Stdin => Path::new("-"),
            Input::File { path, .. } | Input::Skipped { path, .. } | Input::WalkFailed { path, .. } => path,
        }
    }
}

/// Expands paths on a thread of its own, so that hashing starts with the first entries of a
/// large tree instead of waiting for the whole walk: `-` is stdin, a directory becomes every
/// entry under it, anything else is hashed as given (a missing file fails later, with the
/// others still hashed). Inputs arrive in order on the returned channel.
pub fn expand(paths: Vec<PathBuf>) -> mpsc::Receiver<Input> {
    // Bounded, so that a walk far ahead of hashing cannot hold millions of entries.
    let (sender, inputs) = mpsc::sync_channel(8192);
    std::thread::spawn(move || {
        for path in paths {
            for input in expand_one(path) {
                if sender.send(input).is_err() {
                    return; // The consumer stopped (an error or a closed pipe).
                }
            }
        }
    });
    inputs
}

fn expand_one(path: PathBuf) -> Box<dyn Iterator<Item = Input>> {
    if path.as_os_str() == "-" {
        return Box::new(std::iter::once(Input::Stdin));
    }
    match std::fs::metadata(&path) {
        Ok(metadata) if metadata.is_dir() => Box::new(walk_tree(&path).map(move |entry| match entry {
            Ok(entry) => match entry.kind {
                EntryKind::File { size } => Input::File { path: entry.path, size: Some(size), in_tree: true },
                kind => Input::Skipped { path: entry.path, kind },
            },
            Err(error) => Input::WalkFailed { path: walk_error_path(&error, &path), error },
        })),
        Ok(metadata) if metadata.is_file() => {
            Box::new(std::iter::once(Input::File { size: Some(metadata.len()), path, in_tree: false }))
        }
        _ => Box::new(std::iter::once(Input::File { path, size: None, in_tree: false })),
    }
}

fn walk_error_path(error: &Error, root: &Path) -> PathBuf {
    match error {
        Error::Walk { path, .. } | Error::Open { path, .. } => path.clone(),
        _ => root.to_owned(),
    }
}

/// Hashes one input (stdin or a path).
pub fn hash_input(
    input: &Input,
    options: &HashOptions,
    control: &Control,
) -> Option<Result<HashOutcome, Error>> {
    match input {
        Input::Stdin => Some(hash_reader(std::io::stdin().lock(), Path::new("-"), options, control)),
        Input::File { path, in_tree: true, .. } => Some(hash_tree_file(path, options, control)),
        Input::File { path, .. } => Some(hash_path(path, options, control)),
        Input::Skipped { .. } | Input::WalkFailed { .. } => None,
    }
}

/// Runs `work` on every item and hands the results to `emit` in the items' order. Items
/// that `is_small` says are small run in parallel batches; the others run alone.
pub fn run_ordered<T, R, E>(
    items: impl IntoIterator<Item = T>,
    is_small: impl Fn(&T) -> bool,
    work: impl Fn(&T) -> R + Sync,
    mut emit: impl FnMut(T, R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send + Sync,
    R: Send,
{
    use rayon::prelude::*;
    const BATCH: usize = 512;
    let mut items = items.into_iter().peekable();
    while let Some(first) = items.next() {
        if !is_small(&first) {
            let result = work(&first);
            emit(first, result)?;
            continue;
        }
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match items.next_if(|item| is_small(item)) {
                Some(item) => batch.push(item),
                None => break,
            }
        }
        let results: Vec<R> = batch.par_iter().map(&work).collect();
        for (item, result) in batch.into_iter().zip(results) {
            emit(item, result)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::run_ordered;

    #[test]
    fn results_come_out_in_order_whatever_the_mix() {
        let items: Vec<u32> = (0..2000).collect();
        let mut seen = Vec::new();
        let result: Result<(), ()> = run_ordered(
            items.iter().copied(),
            |i| i % 7 != 0,
            |i| i * 2,
            |item, doubled| {
                assert_eq!(doubled, item * 2);
                seen.push(item);
                Ok(())
            },
        );
        assert!(result.is_ok());
        assert_eq!(seen, items);
    }
}
