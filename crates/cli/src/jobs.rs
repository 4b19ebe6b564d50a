//! Turning command-line paths into inputs, and hashing many inputs in order: small files
//! several at a time on the rayon pool, large ones (and stdin) one at a time, because each
//! of those already keeps every core busy and two at once would only make a disk seek.

use std::path::{Path, PathBuf};

use custos_hash::{hash_path, hash_reader, walk_tree, Control, EntryKind, Error, HashOptions, HashOutcome};
use rayon::prelude::*;

/// One thing named on the command line or found in a tree.
#[derive(Debug)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file or device to hash; `size` when known up front (for progress and scheduling).
    File { path: PathBuf, size: Option<u64> },
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

/// Expands paths: `-` is stdin, a directory becomes every entry under it, anything else
/// is hashed as given (a missing file fails later, with the others still hashed).
pub fn expand(paths: &[PathBuf]) -> Vec<Input> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_dir() => {
                for entry in walk_tree(path) {
                    inputs.push(match entry {
                        Ok(entry) => match entry.kind {
                            EntryKind::File { size } => Input::File { path: entry.path, size: Some(size) },
                            kind => Input::Skipped { path: entry.path, kind },
                        },
                        Err(error) => Input::WalkFailed { path: walk_error_path(&error, path), error },
                    });
                }
            }
            Ok(metadata) if metadata.is_file() => {
                inputs.push(Input::File { path: path.clone(), size: Some(metadata.len()) })
            }
            _ => inputs.push(Input::File { path: path.clone(), size: None }),
        }
    }
    inputs
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
        Input::File { path, .. } => Some(hash_path(path, options, control)),
        Input::Skipped { .. } | Input::WalkFailed { .. } => None,
    }
}

/// Runs `work` on every item and hands the results to `emit` in the items' order. Items
/// that `is_small` says are small run in parallel batches; the others run alone.
pub fn run_ordered<T, R, E>(
    items: &[T],
    is_small: impl Fn(&T) -> bool + Sync,
    work: impl Fn(&T) -> R + Sync,
    mut emit: impl FnMut(&T, R) -> Result<(), E>,
) -> Result<(), E>
where
    T: Sync,
    R: Send,
{
    // A batch is flushed at this length so that output keeps flowing on huge trees.
    const BATCH: usize = 512;
    let mut start = 0;
    while start < items.len() {
        if !is_small(&items[start]) {
            emit(&items[start], work(&items[start]))?;
            start += 1;
            continue;
        }
        let end = (start..items.len())
            .take(BATCH)
            .find(|&i| !is_small(&items[i]))
            .unwrap_or_else(|| (start + BATCH).min(items.len()));
        let results: Vec<R> = items[start..end].par_iter().map(&work).collect();
        for (item, result) in items[start..end].iter().zip(results) {
            emit(item, result)?;
        }
        start = end;
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
            &items,
            |i| i % 7 != 0,
            |i| i * 2,
            |item, doubled| {
                assert_eq!(doubled, item * 2);
                seen.push(*item);
                Ok(())
            },
        );
        assert!(result.is_ok());
        assert_eq!(seen, items);
    }
}
