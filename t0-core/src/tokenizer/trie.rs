//! A byte trie over the vocabulary pieces, for the common-prefix search that the unigram
//! Viterbi pass runs at every character.
//!
//! Nodes with many children (the root, the node after `▁`, ...) get a direct 256-entry
//! table; the others keep a short sorted list of labels that is scanned linearly.

use alloc::vec;
use alloc::vec::Vec;

const NONE: u32 = u32::MAX;
/// Nodes with at least this many children get a 256-entry table.
const DENSE_MIN_CHILDREN: usize = 12;

/// An immutable byte trie mapping keys to `u32` values.
#[derive(Debug, Clone)]
pub(crate) struct Trie {
    values: Vec<u32>,
    edge_start: Vec<u32>,
    edge_len: Vec<u16>,
    labels: Vec<u8>,
    targets: Vec<u32>,
    dense_index: Vec<u32>,
    dense: Vec<u32>,
}

impl Trie {
    /// Builds a trie from distinct, non-empty keys.
    pub(crate) fn build(entries: &[(&[u8], u32)]) -> Self {
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_unstable_by(|&a, &b| entries[a].0.cmp(entries[b].0));
        let mut t = Self {
            values: vec![NONE],
            edge_start: vec![0],
            edge_len: vec![0],
            labels: Vec::new(),
            targets: Vec::new(),
            dense_index: vec![NONE],
            dense: Vec::new(),
        };
        // (node, lo, hi, depth): keys order[lo..hi] share their first `depth` bytes and
        // end at or below `node`.
        let mut stack: Vec<(u32, usize, usize, usize)> = vec![(0, 0, order.len(), 0)];
        while let Some((node, mut lo, hi, depth)) = stack.pop() {
            let key = |i: usize| entries[order[i]].0;
            if lo < hi && key(lo).len() == depth {
                t.values[node as usize] = entries[order[lo]].1;
                lo += 1;
            }
            let start = t.labels.len();
            let mut i = lo;
            while i < hi {
                let b = key(i)[depth];
                let mut j = i + 1;
                while j < hi && key(j)[depth] == b {
                    j += 1;
                }
                let child = t.values.len() as u32;
                t.values.push(NONE);
                t.edge_start.push(0);
                t.edge_len.push(0);
                t.dense_index.push(NONE);
                t.labels.push(b);
                t.targets.push(child);
                stack.push((child, i, j, depth + 1));
                i = j;
            }
            let count = t.labels.len() - start;
            t.edge_start[node as usize] = start as u32;
            t.edge_len[node as usize] = count as u16;
            if count >= DENSE_MIN_CHILDREN || node == 0 {
                let idx = (t.dense.len() / 256) as u32;
                t.dense.resize(t.dense.len() + 256, NONE);
                let table = &mut t.dense[idx as usize * 256..];
                for k in start..start + count {
                    table[t.labels[k] as usize] = t.targets[k];
                }
                t.dense_index[node as usize] = idx;
            }
        }
        t
    }

    /// The root node.
    #[inline]
    pub(crate) fn root(&self) -> u32 {
        0
    }

    /// The child of `node` along byte `b`.
    #[inline]
    pub(crate) fn child(&self, node: u32, b: u8) -> Option<u32> {
        let n = node as usize;
        let dense = *self.dense_index.get(n)?;
        if dense != NONE {
            let c = *self.dense.get(dense as usize * 256 + b as usize)?;
            return (c != NONE).then_some(c);
        }
        let start = *self.edge_start.get(n)? as usize;
        let len = *self.edge_len.get(n)? as usize;
        let labels = self.labels.get(start..start + len)?;
        let k = labels.iter().position(|&l| l == b)?;
        self.targets.get(start + k).copied()
    }

    /// The value stored at `node`, if a key ends there.
    #[inline]
    pub(crate) fn value(&self, node: u32) -> Option<u32> {
        let v = *self.values.get(node as usize)?;
        (v != NONE).then_some(v)
    }

    /// The value of exactly `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<u32> {
        let mut node = self.root();
        for &b in key {
            node = self.child(node, b)?;
        }
        self.value(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_and_prefixes() {
        let keys: Vec<(&[u8], u32)> = vec![
            (b"a", 1),
            (b"ab", 2),
            (b"abc", 3),
            (b"b", 4),
            (b"\xe2\x96\x81the", 5),
        ];
        let t = Trie::build(&keys);
        for (k, v) in &keys {
            assert_eq!(t.get(k), Some(*v));
        }
        assert_eq!(t.get(b"abcd"), None);
        assert_eq!(t.get(b""), None);
        assert_eq!(t.get(b"\xe2\x96"), None);
        let mut many: Vec<Vec<u8>> = (0u8..=255).map(|b| vec![b'x', b]).collect();
        many.push(b"x".to_vec());
        let entries: Vec<(&[u8], u32)> = many
            .iter()
            .enumerate()
            .map(|(i, k)| (&k[..], i as u32))
            .collect();
        let t = Trie::build(&entries);
        for (k, v) in &entries {
            assert_eq!(t.get(k), Some(*v));
        }
    }
}
