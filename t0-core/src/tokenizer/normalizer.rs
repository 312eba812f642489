//! The sentencepiece normalizer (`normalizer.cc`), byte for byte.
//!
//! At each position the longest user-defined symbol is copied through unchanged; otherwise
//! the longest charsmap rule (leftmost-longest over UTF-8 bytes) replaces its key; otherwise
//! one character is copied. With `remove_extra_whitespaces`, leading spaces are dropped
//! (a prefix counts only if its replacement is exactly `" "`), a replacement that follows a
//! space loses its own leading spaces, and trailing spaces are removed at the end. With
//! `add_dummy_prefix` one space is put in front, and with `escape_whitespaces` every space
//! byte becomes `▁` (U+2581).

use alloc::vec::Vec;

use super::charsmap::CharsMap;
use super::trie::Trie;

/// `▁` (U+2581) in UTF-8.
pub(crate) const SPACE_SYMBOL: &[u8] = "\u{2581}".as_bytes();

/// The length of the UTF-8 character starting with byte `b`, as sentencepiece's
/// `OneCharLen` computes it (from the lead byte alone).
#[inline]
pub(crate) fn one_char_len(b: u8) -> usize {
    const TABLE: [u8; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4];
    TABLE[(b >> 4) as usize] as usize
}

/// A configured normalizer.
#[derive(Debug, Clone)]
pub(crate) struct Normalizer {
    pub(crate) charsmap: Option<CharsMap>,
    pub(crate) add_dummy_prefix: bool,
    pub(crate) remove_extra_whitespaces: bool,
    pub(crate) escape_whitespaces: bool,
    /// User-defined symbols: copied through without normalisation (longest match).
    pub(crate) user_defined: Option<Trie>,
}

impl Normalizer {
    /// `NormalizePrefix`: the replacement for the start of `input` and the bytes consumed.
    /// `input` must be non-empty valid UTF-8 (a suffix of a `&str` at a char boundary).
    #[inline]
    fn prefix<'s>(&'s self, input: &'s [u8]) -> (&'s [u8], usize) {
        if let Some(user) = &self.user_defined {
            let mut node = user.root();
            let mut longest = 0;
            for (i, &b) in input.iter().enumerate() {
                match user.child(node, b) {
                    Some(next) => node = next,
                    None => break,
                }
                if user.value(node).is_some() {
                    longest = i + 1;
                }
            }
            if longest > 0 {
                return (&input[..longest], longest);
            }
        }
        if let Some(map) = &self.charsmap
            && let Some((len, replacement)) = map.longest_match(input)
        {
            return (replacement, len);
        }
        let len = one_char_len(input[0]).min(input.len());
        (&input[..len], len)
    }

    /// Normalizes `text` into `out` (cleared first).
    pub(crate) fn normalize_into(&self, text: &str, out: &mut Vec<u8>) {
        out.clear();
        let mut input = text.as_bytes();
        if self.remove_extra_whitespaces {
            while !input.is_empty() {
                let (replacement, consumed) = self.prefix(input);
                if replacement != b" " {
                    break;
                }
                input = &input[consumed..];
            }
        }
        if input.is_empty() {
            return;
        }
        out.reserve(input.len() + input.len() / 2 + 3);
        if self.add_dummy_prefix {
            self.push_space(out);
        }
        let mut is_prev_space = self.remove_extra_whitespaces;
        while !input.is_empty() {
            let (mut replacement, consumed) = self.prefix(input);
            if is_prev_space {
                while let [b' ', rest @ ..] = replacement {
                    replacement = rest;
                }
            }
            if let Some(&last) = replacement.last() {
                if self.escape_whitespaces {
                    for &b in replacement {
                        if b == b' ' {
                            out.extend_from_slice(SPACE_SYMBOL);
                        } else {
                            out.push(b);
                        }
                    }
                } else {
                    out.extend_from_slice(replacement);
                }
                is_prev_space = last == b' ';
            }
            input = &input[consumed..];
            if !self.remove_extra_whitespaces {
                is_prev_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            let space: &[u8] = if self.escape_whitespaces {
                SPACE_SYMBOL
            } else {
                b" "
            };
            while out.ends_with(space) {
                out.truncate(out.len() - space.len());
            }
        }
    }

    fn push_space(&self, out: &mut Vec<u8>) {
        if self.escape_whitespaces {
            out.extend_from_slice(SPACE_SYMBOL);
        } else {
            out.push(b' ');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain() -> Normalizer {
        Normalizer {
            charsmap: None,
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
            user_defined: None,
        }
    }

    fn norm(n: &Normalizer, s: &str) -> alloc::string::String {
        let mut out = Vec::new();
        n.normalize_into(s, &mut out);
        alloc::string::String::from_utf8(out).unwrap()
    }

    #[test]
    fn whitespace_rules() {
        let n = plain();
        assert_eq!(norm(&n, ""), "");
        assert_eq!(norm(&n, "   "), "");
        assert_eq!(norm(&n, "  a  b  "), "▁a▁b");
        assert_eq!(norm(&n, "a▁"), "▁a");
        assert_eq!(norm(&n, "\ta"), "▁\ta");
        let mut keep = plain();
        keep.remove_extra_whitespaces = false;
        keep.add_dummy_prefix = false;
        assert_eq!(norm(&keep, " a  b "), "▁a▁▁b▁");
    }
}
