//! The user data's encryption: `<32 hex IV><base64 ciphertext>`, AES-CBC with PKCS#7 padding,
//! keyed with the hex-decoded appSecret (CryptoJS's choice of AES-128/192/256 by key length).

use aes::{Aes128, Aes192, Aes256};
use base64::Engine as _;
use cbc::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
use zeroize::Zeroizing;

use super::hex;

/// The AES key: the appSecret's bytes, wiped when dropped.
pub struct AesKey(Zeroizing<Vec<u8>>);

// Its one field wipes itself on drop.
impl zeroize::ZeroizeOnDrop for AesKey {}

const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

impl AesKey {
    /// 32, 48 or 64 hex characters.
    pub fn from_hex(app_secret: &str) -> Option<AesKey> {
        let bytes = hex::decode(app_secret)?;
        matches!(bytes.len(), 16 | 24 | 32).then(|| AesKey(bytes))
    }

    /// Decrypts Civic's `data` claim to its clear text. The error says what was wrong with the
    /// input, never anything about the key.
    pub fn decrypt(&self, data: &str) -> Result<String, &'static str> {
        let (iv_hex, ciphertext) = data
            .split_at_checked(32)
            .ok_or("the data claim is shorter than its 32 hex character IV")?;
        let iv = hex::decode_array::<16>(iv_hex).ok_or("the IV is not 32 hex characters")?;
        let mut buf = BASE64
            .decode(ciphertext)
            .map_err(|_| "the ciphertext is not valid base64")?;
        let key = &self.0[..];
        let clear = match key.len() {
            16 => cbc::Decryptor::<Aes128>::new_from_slices(key, &iv)
                .ok()
                .and_then(|d| d.decrypt_padded::<Pkcs7>(&mut buf).ok().map(<[u8]>::len)),
            24 => cbc::Decryptor::<Aes192>::new_from_slices(key, &iv)
                .ok()
                .and_then(|d| d.decrypt_padded::<Pkcs7>(&mut buf).ok().map(<[u8]>::len)),
            _ => cbc::Decryptor::<Aes256>::new_from_slices(key, &iv)
                .ok()
                .and_then(|d| d.decrypt_padded::<Pkcs7>(&mut buf).ok().map(<[u8]>::len)),
        };
        let len = clear.ok_or("bad padding (is the appSecret the one of this app?)")?;
        buf.truncate(len);
        String::from_utf8(buf)
            .map_err(|_| "the clear text is not UTF-8 (is the appSecret the one of this app?)")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cbc::cipher::BlockModeEncrypt;

    /// Encrypts as Civic does, for tests: the IV is given so results are fixed.
    pub(crate) fn encrypt(key_hex: &str, iv: [u8; 16], clear: &str) -> String {
        let key = hex::decode(key_hex).expect("hex key");
        let mut buf = clear.as_bytes().to_vec();
        let n = buf.len();
        buf.resize(n + 16, 0);
        let ct = match key.len() {
            16 => cbc::Encryptor::<Aes128>::new_from_slices(&key, &iv)
                .expect("key")
                .encrypt_padded::<Pkcs7>(&mut buf, n)
                .expect("room")
                .to_vec(),
            _ => cbc::Encryptor::<Aes256>::new_from_slices(&key, &iv)
                .expect("key")
                .encrypt_padded::<Pkcs7>(&mut buf, n)
                .expect("room")
                .to_vec(),
        };
        let iv_hex: String = iv.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{iv_hex}{}",
            base64::engine::general_purpose::STANDARD.encode(ct)
        )
    }

    const K128: &str = "44bbae32d1e02bf481074177002bbdef";
    const K256: &str = "44bbae32d1e02bf481074177002bbdef44bbae32d1e02bf481074177002bbdef";

    #[test]
    fn round_trips_with_16_and_32_byte_keys() {
        for key in [K128, K256] {
            let data = encrypt(key, [7; 16], r#"[{"label":"x","value":"ü"}]"#);
            let k = AesKey::from_hex(key).expect("key");
            assert_eq!(
                k.decrypt(&data),
                Ok(r#"[{"label":"x","value":"ü"}]"#.to_owned())
            );
        }
    }

    #[test]
    fn a_wrong_key_is_bad_padding_or_not_utf8() {
        let data = encrypt(K128, [1; 16], "[1,2,3]");
        let wrong = AesKey::from_hex("00112233445566778899aabbccddeeff").expect("key");
        let err = wrong.decrypt(&data).expect_err("wrong key");
        assert!(
            err.starts_with("bad padding") || err.starts_with("the clear text is not UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn bad_padding_bad_iv_and_bad_base64_are_refused() {
        let k = AesKey::from_hex(K128).expect("key");
        let data = encrypt(K128, [1; 16], "[1,2,3]");
        // Last block of ciphertext altered: the padding no longer checks out (almost surely).
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(&data[32..])
            .expect("b64");
        let last = raw.len() - 1;
        raw[last] ^= 0x55;
        let tampered = format!(
            "{}{}",
            &data[..32],
            base64::engine::general_purpose::STANDARD.encode(&raw)
        );
        assert!(k.decrypt(&tampered).is_err());
        // A correct decryption whose clear text ends in a 0 byte: structurally invalid padding.
        let mut block = [0u8; 16];
        let ct =
            cbc::Encryptor::<Aes128>::new_from_slices(&hex::decode(K128).expect("hex"), &[0; 16])
                .expect("key")
                .encrypt_padded::<cbc::cipher::block_padding::NoPadding>(&mut block, 16)
                .expect("one block");
        let zero_padded = format!(
            "{}{}",
            "0".repeat(32),
            base64::engine::general_purpose::STANDARD.encode(ct)
        );
        assert_eq!(
            k.decrypt(&zero_padded),
            Err("bad padding (is the appSecret the one of this app?)")
        );

        let bad_iv = format!("zz{}", &data[2..]);
        assert_eq!(k.decrypt(&bad_iv), Err("the IV is not 32 hex characters"));
        assert_eq!(
            k.decrypt("0011"),
            Err("the data claim is shorter than its 32 hex character IV")
        );
        let bad_b64 = format!("{}!!!!", &data[..32]);
        assert_eq!(
            k.decrypt(&bad_b64),
            Err("the ciphertext is not valid base64")
        );
        assert_eq!(
            k.decrypt(&format!("{}{}", &data[..32], "AAAA")),
            Err("bad padding (is the appSecret the one of this app?)")
        );
    }

    #[test]
    fn key_lengths() {
        assert!(AesKey::from_hex(K128).is_some());
        assert!(AesKey::from_hex(&K256[..48]).is_some());
        assert!(AesKey::from_hex(K256).is_some());
        assert!(AesKey::from_hex("b").is_none());
        assert!(AesKey::from_hex(&K128[..30]).is_none());
        assert!(AesKey::from_hex(&"g".repeat(32)).is_none());
    }
}
