//! BLAKE3 over whole windows in parallel: each window of a power-of-two number of chunks,
//! starting at a multiple of its size, is a complete subtree of the BLAKE3 tree, so several
//! threads can hash different windows at once (each single-threaded, with SIMD) and the
//! subtree chaining values are merged in order. This beats forking and joining inside every
//! window (`update_rayon`), which leaves cores idle at each window's end.
//!
//! Only used for inputs longer than one window (a single window is the root itself).

use std::collections::BTreeMap;
use std::sync::Mutex;

use blake3::hazmat::{merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode};

use crate::Digest;

/// Whether windows of this size are complete subtrees: a power of two number of chunks.
pub(crate) fn window_is_subtree(window_size: usize) -> bool {
    window_size.is_power_of_two() && window_size >= blake3::CHUNK_LEN
}

/// The chaining value of one window at `offset` (a multiple of the window size).
pub(crate) fn window_chaining_value(offset: u64, bytes: &[u8]) -> ChainingValue {
    blake3::Hasher::new().set_input_offset(offset).update(bytes).finalize_non_root()
}

/// Collects window chaining values, which may arrive out of order, and merges them.
#[derive(Debug, Default)]
pub(crate) struct SubtreeStack {
    state: Mutex<StackState>,
}

#[derive(Debug, Default)]
struct StackState {
    /// Index of the next window to push onto the stack.
    next: u64,
    /// Windows finished early, waiting for their predecessors (at most the windows in flight).
    pending: BTreeMap<u64, ChainingValue>,
    /// Merged subtrees, largest first, as in BLAKE3's own incremental hasher.
    stack: Vec<ChainingValue>,
}

impl SubtreeStack {
    /// Records window `index`'s chaining value.
    pub(crate) fn insert(&self, index: u64, cv: ChainingValue) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.pending.insert(index, cv);
        loop {
            let next = state.next;
            let Some(cv) = state.pending.remove(&next) else { break };
            // Merge completed subtrees lazily: keep one entry per set bit of the number of
            // windows already pushed, so that the final merges can still be the root.
            while state.stack.len() > next.count_ones() as usize {
                let right = state.stack.pop().unwrap_or_else(|| unreachable!("length checked"));
                let left = state.stack.pop().unwrap_or_else(|| unreachable!("length checked"));
                state.stack.push(merge_subtrees_non_root(&left, &right, Mode::Hash));
            }
            state.stack.push(cv);
            state.next += 1;
        }
    }

    /// The root hash, once at least two windows were inserted in full.
    pub(crate) fn finish(self) -> Option<Digest> {
        let mut state = self.state.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !state.pending.is_empty() || state.next < 2 {
            return None;
        }
        let mut right = state.stack.pop()?;
        while let Some(left) = state.stack.pop() {
            if state.stack.is_empty() {
                return Some(Digest(merge_subtrees_root(&left, &right, Mode::Hash).as_bytes().to_vec()));
            }
            right = merge_subtrees_non_root(&left, &right, Mode::Hash);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_windows_give_the_one_shot_hash() {
        const WINDOW: usize = 4096;
        for length in [WINDOW + 1, 2 * WINDOW, 3 * WINDOW - 1, 5 * WINDOW, 8 * WINDOW + 1000, 17 * WINDOW] {
            let input: Vec<u8> = (0..length).map(|i| (i % 251) as u8).collect();
            let windows: Vec<(u64, &[u8])> =
                input.chunks(WINDOW).enumerate().map(|(i, w)| (i as u64, w)).collect();
            let stack = SubtreeStack::default();
            // Insert in a scrambled order.
            let mut order: Vec<usize> = (0..windows.len()).collect();
            order.reverse();
            order.swap(0, windows.len() / 2);
            for i in order {
                let (index, bytes) = windows[i];
                stack.insert(index, window_chaining_value(index * WINDOW as u64, bytes));
            }
            let expected = blake3::hash(&input);
            assert_eq!(stack.finish().map(|d| d.0), Some(expected.as_bytes().to_vec()), "length {length}");
        }
    }

    #[test]
    fn a_missing_window_gives_no_root() {
        let stack = SubtreeStack::default();
        stack.insert(0, window_chaining_value(0, &[0; 1024]));
        stack.insert(2, window_chaining_value(2048, &[0; 1024]));
        assert!(stack.finish().is_none());
    }
}
