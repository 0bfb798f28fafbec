//! Hex decoding for key material: the few lines it takes do not earn a dependency.

use zeroize::Zeroizing;

/// Decodes an even-length hex string (either case). `None` for anything else. The bytes are
/// written once into a buffer of their exact size that is wiped when dropped, on failure too:
/// no reallocation leaves a copy of key bytes behind in freed memory.
pub fn decode(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() / 2));
    for pair in bytes.chunks_exact(2) {
        out.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
    }
    Some(out)
}

/// Decodes exactly `N` bytes of hex.
pub fn decode_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    decode(s)?.as_slice().try_into().ok()
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_cases_and_rejects_the_rest() {
        assert_eq!(
            decode("00fFa1").as_deref().map(Vec::as_slice),
            Some(&[0, 255, 161][..])
        );
        assert_eq!(decode("").map(|b| b.len()), Some(0));
        assert_eq!(decode("abc"), None);
        assert_eq!(decode("zz"), None);
        assert_eq!(decode("00zz"), None);
        // Exactly the size needed: filled without reallocating.
        assert_eq!(decode(&"ab".repeat(32)).map(|b| b.capacity()), Some(32));
        assert_eq!(decode_array::<2>("0102"), Some([1, 2]));
        assert_eq!(decode_array::<2>("010203"), None);
    }
}
