//! Decryption: `AesKey::decrypt` over arbitrary `<iv hex><base64>` strings, and the user data's
//! way from a signed, encrypted token to the JSON text the binding parses.
//!
//! Input: one mode byte, then bytes. Mode bits 0-1 pick the AES key length (128/192/256 bits),
//! bits 2-3 the operation:
//! - 0: the bytes, as UTF-8, are the data claim, decrypted directly;
//! - 1: the bytes are the clear text: encrypted and decrypted again, it must come back intact;
//! - 2, 3: the bytes are the clear text: encrypted, put in a token signed by the stand-in Civic
//!   key and read from a reply by the client, which must return exactly the clear text when it
//!   is UTF-8 JSON and a decryption error otherwise.
#![no_main]

use civic_sip_native::core::crypto::cipher::AesKey;
use civic_sip_native::core::error::code;
use civic_sip_native::core::json;
use civic_sip_native::core::ReplyOutcome;
use civic_sip_native_fuzz::{claims, encrypt, sign, ES256_HEADER, SECRETS, SIGNED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let which = usize::from(mode & 3).min(2);
    let secret = SECRETS[which];
    let key = AesKey::from_hex(secret).expect("a valid appSecret");
    // A fixed IV per key length: the IV is not what is under test here.
    let iv = [mode; 16];
    match mode >> 2 & 3 {
        0 => {
            if let Ok(data) = std::str::from_utf8(rest) {
                let _ = key.decrypt(data);
            }
        }
        1 => {
            let back = key.decrypt(&encrypt(secret, iv, rest));
            match std::str::from_utf8(rest) {
                Ok(clear) => assert_eq!(back.as_deref(), Ok(clear)),
                Err(_) => assert!(back.is_err()),
            }
        }
        _ => {
            let token = sign(ES256_HEADER, &claims(&encrypt(secret, iv, rest)));
            let body = format!(r#"{{"data":"{token}","encrypted":true,"userId":"u"}}"#);
            // The client takes JSON nested at most 128 deep (see client.rs).
            let is_json = std::str::from_utf8(rest).is_ok_and(|t| {
                serde_json::from_str::<serde::de::IgnoredAny>(t).is_ok()
                    && !json::nests_deeper_than(t, 128)
            });
            match SIGNED[which].process_payload(200, Some(&body)) {
                Ok(ReplyOutcome::Ready(user)) => {
                    assert!(is_json);
                    assert_eq!(user.data.as_bytes(), rest);
                    assert_eq!(user.user_id.as_deref(), Some("\"u\""));
                }
                Ok(ReplyOutcome::Processed(_)) => panic!("not a processed reply"),
                Err(error) => {
                    assert!(!is_json, "{error}");
                    assert_eq!(error.code(), code::DECRYPTION);
                }
            }
        }
    }
});
