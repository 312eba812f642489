//! sentencepiece's precompiled charsmap: a darts-clone double-array trie over UTF-8 byte
//! sequences whose leaves point into a blob of NUL-terminated replacement strings.
//!
//! Layout: `<u32 LE trie size in bytes><trie units (u32 LE)><replacement strings>`.
//! The whole trie is walked once at load ([`CharsMap::parse`]): every reachable transition,
//! leaf and replacement string is checked (in bounds, NUL-terminated, valid UTF-8), and a
//! trie with a cycle or shared node is rejected. Lookups then only follow checked paths, and
//! they still use `get()` so that no input can make them panic.

use alloc::vec;
use alloc::vec::Vec;

use super::error::TokenizerError;

/// A validated precompiled charsmap.
#[derive(Debug, Clone)]
pub(crate) struct CharsMap {
    units: Vec<u32>,
    /// The replacement strings, each terminated by NUL.
    normalized: Vec<u8>,
}

#[inline]
fn has_leaf(unit: u32) -> bool {
    (unit >> 8) & 1 == 1
}

#[inline]
fn value(unit: u32) -> u32 {
    unit & 0x7fff_ffff
}

#[inline]
fn label(unit: u32) -> u32 {
    unit & 0x8000_00ff
}

#[inline]
fn offset(unit: u32) -> u32 {
    (unit >> 10) << ((unit & (1 << 9)) >> 6)
}

fn bad(reason: &'static str) -> TokenizerError {
    TokenizerError::Charsmap { reason }
}

impl CharsMap {
    /// Parses and validates a charsmap blob. An empty blob means "no rules" and is handled
    /// by the caller.
    pub(crate) fn parse(blob: &[u8]) -> Result<Self, TokenizerError> {
        if blob.len() <= 4 {
            return Err(bad("blob shorter than its 4-byte header"));
        }
        let trie_size = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
        let rest = &blob[4..];
        if trie_size > rest.len() {
            return Err(bad("trie size exceeds the blob"));
        }
        if !trie_size.is_multiple_of(4) {
            return Err(bad("trie size is not a multiple of 4"));
        }
        if trie_size == 0 {
            return Err(bad("empty trie"));
        }
        let units: Vec<u32> = rest[..trie_size]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let normalized = rest[trie_size..].to_vec();
        let map = Self { units, normalized };
        map.validate()?;
        Ok(map)
    }

    /// Walks every path from the root, checking every transition and leaf. darts-clone
    /// builds from a DAWG, so different nodes may share one block of children; each block
    /// is walked once, which also bounds the walk for arrays with cycles.
    ///
    /// Instead of probing all 256 labels of each block, the children of every block are
    /// listed up front: unit `i` is child `c` of block `b` exactly when its label is `c`
    /// (bit 31 clear) and `i ^ c == b`, which is the test a lookup makes. This keeps the
    /// walk linear in the size of the array.
    fn validate(&self) -> Result<(), TokenizerError> {
        let n = self.units.len();
        // Blocks are i ^ c < n + 256 (c < 256).
        let blocks = n + 256;
        let mut start = vec![0u32; blocks + 1];
        for (i, &unit) in self.units.iter().enumerate() {
            if unit & 0x8000_0000 == 0 {
                start[(i ^ (unit & 0xff) as usize) + 1] += 1;
            }
        }
        for b in 0..blocks {
            start[b + 1] += start[b];
        }
        let mut fill = start.clone();
        let mut children = vec![0u32; start[blocks] as usize];
        for (i, &unit) in self.units.iter().enumerate() {
            if unit & 0x8000_0000 == 0 {
                let b = i ^ (unit & 0xff) as usize;
                children[fill[b] as usize] = i as u32;
                fill[b] += 1;
            }
        }
        let mut seen_block = vec![false; blocks];
        let root_block = offset(self.units[0]) as usize;
        let mut stack: Vec<usize> = Vec::new();
        if root_block < blocks {
            seen_block[root_block] = true;
            stack.push(root_block);
        }
        while let Some(base) = stack.pop() {
            for &child in &children[start[base] as usize..start[base + 1] as usize] {
                let child = child as usize;
                let unit = self.units[child];
                let child_base = child ^ offset(unit) as usize;
                if has_leaf(unit) {
                    let Some(&leaf) = self.units.get(child_base) else {
                        return Err(bad("leaf outside the trie"));
                    };
                    let s = self
                        .replacement(value(leaf))
                        .ok_or(bad("replacement string out of bounds or without its NUL"))?;
                    core::str::from_utf8(s).map_err(|_| bad("replacement string is not UTF-8"))?;
                }
                if child_base < blocks && !seen_block[child_base] {
                    seen_block[child_base] = true;
                    stack.push(child_base);
                }
            }
        }
        Ok(())
    }

    /// The NUL-terminated replacement string at `offset`.
    fn replacement(&self, offset: u32) -> Option<&[u8]> {
        let tail = self.normalized.get(offset as usize..)?;
        let len = tail.iter().position(|&b| b == 0)?;
        Some(&tail[..len])
    }

    /// Leftmost-longest match at the start of `input` (as darts-clone's
    /// `commonPrefixSearch`, keeping the longest result): `(bytes consumed, replacement)`.
    #[inline]
    pub(crate) fn longest_match(&self, input: &[u8]) -> Option<(usize, &[u8])> {
        let units = &self.units;
        let mut node = offset(*units.first()?) as usize;
        let mut best: Option<(usize, u32)> = None;
        for (i, &b) in input.iter().enumerate() {
            node ^= b as usize;
            let Some(&unit) = units.get(node) else {
                break;
            };
            if label(unit) != u32::from(b) {
                break;
            }
            node ^= offset(unit) as usize;
            if has_leaf(unit)
                && let Some(&leaf) = units.get(node)
            {
                best = Some((i + 1, value(leaf)));
            }
        }
        let (len, v) = best?;
        Some((len, self.replacement(v)?))
    }
}
