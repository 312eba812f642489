//! Constrained decoding to a set of token sequences (a template's answer choices): a trie
//! over the tokenized choices. After a generated prefix, the allowed next tokens are the
//! next tokens of every choice extending it, plus EOS when the prefix is itself a whole
//! choice (a choice tokenized with its EOS simply has EOS as its last edge).
//!
//! ```
//! use t0_core::generate::Trie;
//! let t = Trie::new(&[vec![5, 6, 1], vec![5, 7, 1]]).unwrap();
//! let mut out = Vec::new();
//! t.allowed(&[5], 1, &mut out);
//! assert_eq!(out, [6, 7]);
//! ```

use alloc::vec::Vec;

use super::GenerateError;

#[derive(Debug, Clone, Default)]
struct Node {
    /// `(token, child)`, sorted by token.
    children: Vec<(u32, usize)>,
    /// A choice ends here.
    terminal: bool,
}

/// A trie over token sequences: after a prefix, the allowed next tokens are those of the
/// sequences extending it, plus EOS where the prefix is a whole sequence.
#[derive(Debug, Clone)]
pub struct Trie {
    nodes: Vec<Node>,
}

impl Trie {
    /// Builds the trie. An empty set, or an empty sequence in it, is an error.
    pub fn new<S: AsRef<[u32]>>(choices: &[S]) -> Result<Self, GenerateError> {
        if choices.is_empty() {
            return Err(GenerateError::EmptyConstraints);
        }
        let mut nodes = alloc::vec![Node::default()];
        for (i, c) in choices.iter().enumerate() {
            let c = c.as_ref();
            if c.is_empty() {
                return Err(GenerateError::EmptyConstraint { index: i });
            }
            let mut at = 0;
            for &t in c {
                at = match nodes[at].children.binary_search_by_key(&t, |&(k, _)| k) {
                    Ok(j) => nodes[at].children[j].1,
                    Err(j) => {
                        let id = nodes.len();
                        nodes[at].children.insert(j, (t, id));
                        nodes.push(Node::default());
                        id
                    }
                };
            }
            nodes[at].terminal = true;
        }
        Ok(Trie { nodes })
    }

    /// Writes the allowed next tokens after `prefix` into `out`, sorted and distinct
    /// (empty if no choice extends `prefix`).
    pub fn allowed(&self, prefix: &[u32], eos: u32, out: &mut Vec<u32>) {
        out.clear();
        let mut at = 0;
        for &t in prefix {
            match self.nodes[at]
                .children
                .binary_search_by_key(&t, |&(k, _)| k)
            {
                Ok(j) => at = self.nodes[at].children[j].1,
                Err(_) => return,
            }
        }
        out.extend(self.nodes[at].children.iter().map(|&(k, _)| k));
        if self.nodes[at].terminal
            && let Err(j) = out.binary_search(&eos)
        {
            out.insert(j, eos);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_and_terminals() {
        let t = Trie::new(&[
            alloc::vec![4u32, 5],
            alloc::vec![4, 5, 6, 1],
            alloc::vec![9, 1],
        ])
        .unwrap();
        let mut o = Vec::new();
        t.allowed(&[], 1, &mut o);
        assert_eq!(o, [4, 9]);
        t.allowed(&[4, 5], 1, &mut o);
        assert_eq!(o, [1, 6], "terminal node also allows EOS");
        t.allowed(&[7], 1, &mut o);
        assert!(o.is_empty());
    }

    #[test]
    fn empty_sets_are_errors() {
        assert_eq!(
            Trie::new::<Vec<u32>>(&[]).err(),
            Some(GenerateError::EmptyConstraints)
        );
        assert_eq!(
            Trie::new(&[alloc::vec![3u32], alloc::vec![]]).err(),
            Some(GenerateError::EmptyConstraint { index: 1 })
        );
    }
}
