//! How the key options' text becomes key bytes: every spelling civic-sip-api reads as the same
//! key, and nothing else. The key types themselves are built from these bytes in `config`.

use zeroize::Zeroizing;

use super::hex;

/// The 32 big-endian bytes of the private scalar written in `prv_key`, as civic-sip-api reads
/// it: jsrsasign hands the text to jsbn's `new BigInteger(text, 16)`, which skips every
/// character that is neither a letter nor a digit (whitespace, a trailing newline, `:` between
/// bytes as OpenSSL prints them, any non-ASCII character), reads hex digits in either case and
/// any number of leading zeros (`00` + 64 digits, a key printed without its leading zeros).
///
/// `None` where civic-sip-api would sign with a key other than the one written, or none: a
/// letter beyond `f` (jsbn reads `x` of `0x` as the digit 33), a `-` before the first digit (a
/// negative number), no digit at all, or a value of more than 256 bits. Whether the value is a
/// valid scalar (not zero, below the group order) is the key type's check.
pub fn private_scalar(prv_key: &str) -> Option<Zeroizing<[u8; 32]>> {
    let mut nibbles = Zeroizing::new(Vec::with_capacity(64));
    let mut seen_digit = false;
    for c in prv_key.chars() {
        match c.to_digit(16) {
            Some(d) => {
                seen_digit = true;
                // Leading zeros carry no value; dropping them accepts any number of them.
                if d != 0 || !nibbles.is_empty() {
                    // More than 256 bits is refused whatever follows; stopping here also keeps
                    // the buffer from growing, which would leave an unwiped copy behind.
                    if nibbles.len() == 64 {
                        return None;
                    }
                    nibbles.push(d as u8);
                }
            }
            None if c.is_ascii_alphanumeric() => return None,
            None if c == '-' && !seen_digit => return None,
            None => {}
        }
    }
    if !seen_digit {
        return None;
    }
    let mut scalar = Zeroizing::new([0u8; 32]);
    // Right-aligned: the last nibble is the low half of the last byte.
    for (i, nibble) in nibbles.iter().rev().enumerate() {
        scalar[31 - i / 2] |= nibble << (4 * (i % 2));
    }
    Some(scalar)
}

/// The SEC1 bytes of the public key written in `civic_public_key`: hex in either case, with
/// surrounding whitespace (a trailing newline from a file or an environment variable) ignored.
/// Whether they are a point on the curve is the key type's check.
pub fn public_key_sec1(civic_public_key: &str) -> Option<Vec<u8>> {
    hex::decode(civic_public_key.trim_matches(is_js_ascii_whitespace)).map(|bytes| bytes.to_vec())
}

/// The ASCII characters JavaScript's `String.prototype.trim` removes: space, tab, line feed,
/// vertical tab, form feed and carriage return.
pub fn is_js_ascii_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "bf5efd7bdde29dc28443614bfee78c3d6ee39c71e55a0437eee02bf7e3647721";

    fn scalar(text: &str) -> Option<[u8; 32]> {
        private_scalar(text).map(|s| *s)
    }

    #[test]
    fn every_spelling_civic_sip_api_reads_as_the_key_gives_its_bytes() {
        let expected = hex::decode_array::<32>(D);
        let colons = D
            .as_bytes()
            .chunks(2)
            .map(|p| std::str::from_utf8(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(":");
        for spelling in [
            D.to_owned(),
            format!("00{D}"),
            format!("0000{D}"),
            format!("{D}\n"),
            format!("{D}\r\n"),
            format!(" \t{D} "),
            D.to_uppercase(),
            format!("{}-{}", &D[..8], &D[8..]),
            format!("{}\n{}", &D[..32], &D[32..]),
            format!("00:{colons}"),
            format!("\u{feff}{D}\u{a0}"),
        ] {
            assert_eq!(scalar(&spelling), expected, "{spelling:?}");
        }
    }

    #[test]
    fn a_key_written_without_its_leading_zeros_is_right_aligned() {
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(scalar("1"), Some(one));
        assert_eq!(scalar("0001"), Some(one));
        let mut short = [0u8; 32];
        short[30] = 0x0a;
        short[31] = 0xbc;
        assert_eq!(scalar("abc"), Some(short));
        assert_eq!(scalar(&D[2..]).map(|s| s[0]), Some(0));
    }

    #[test]
    fn what_civic_sip_api_would_read_as_another_key_or_none_is_refused() {
        for bad in [
            format!("0x{D}"),
            format!("0X{D}"),
            format!("-{D}"),
            format!(" - {D}"),
            format!("zz{D}"),
            "c-secret".to_owned(),
            String::new(),
            " \n".to_owned(),
            format!("1{D}"),
            format!("{D}{D}"),
            format!("{D}1-"),
            "-----BEGIN EC PRIVATE KEY-----".to_owned(),
        ] {
            assert_eq!(scalar(&bad), None, "{bad:?}");
        }
        // Zero is well-formed text; the key type refuses it.
        assert_eq!(scalar(&"0".repeat(64)), Some([0; 32]));
    }

    #[test]
    fn public_keys_take_case_and_surrounding_whitespace() {
        let point = "04aBcD";
        assert_eq!(public_key_sec1(point), Some(vec![4, 0xab, 0xcd]));
        assert_eq!(public_key_sec1(" 04abcd\r\n"), Some(vec![4, 0xab, 0xcd]));
        assert_eq!(public_key_sec1("04ab cd"), None);
        assert_eq!(public_key_sec1("0x04abcd"), None);
    }
}
