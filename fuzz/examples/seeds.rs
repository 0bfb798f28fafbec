//! Writes the committed seed corpora, fuzz/seeds/<target>/, from the same helpers the targets
//! use: `cargo run --example seeds` in fuzz/. ECDSA signing is deterministic (RFC 6979), so the
//! files come out the same every time.

use std::fs;
use std::path::Path;

use civic_sip_native::core::crypto::jwt::verify_response_token;
use civic_sip_native::core::ReplyOutcome;
use civic_sip_native_fuzz::{
    claims, encrypt, sign, CIVIC_PUBLIC, ES256_HEADER, NOW, RECORDED as RECORDED_CLIENT, SECRETS,
    SIGNED,
};

const RECORDED: &str = include_str!("../../__test__/fixtures/civic-recorded-2018.json");
const USER_DATA: &str = r#"[{"label":"contact.personal.email","value":"user@example.com","isValid":true,"isOwner":true},{"label":"contact.personal.phoneNumber","value":"+1 555 0100","isValid":true,"isOwner":true}]"#;
const IV: [u8; 16] = *b"0123456789abcdef";

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let write = |target: &str, name: &str, mode: u8, text: &[u8]| {
        let dir = root.join(target);
        fs::create_dir_all(&dir)?;
        let mut bytes = vec![mode];
        bytes.extend_from_slice(text);
        fs::write(dir.join(name), bytes)
    };
    let recorded: serde_json::Value =
        serde_json::from_str(RECORDED).map_err(std::io::Error::other)?;
    let data = encrypt(SECRETS[0], IV, USER_DATA.as_bytes());
    let token = sign(ES256_HEADER, &claims(&data));

    // reply: Civic's recorded reply (verifies and decrypts at NOW), its processed and error
    // shapes, and templates whose claims the target signs.
    let reply = |target: &str, name: &str, mode: u8, body: String| {
        write(target, name, mode, body.as_bytes())
    };
    reply("reply", "recorded", 0, recorded["reply"].to_string())?;
    reply(
        "reply",
        "processed",
        0,
        r#"{"data":"https://s3.amazonaws.com/x/payload","processed":true,"encrypted":true,"userId":"u"}"#.into(),
    )?;
    reply(
        "reply",
        "not-json",
        0,
        "<html>502 Bad Gateway</html>".into(),
    )?;
    reply(
        "reply",
        "no-data",
        0,
        r#"{"message":"Unauthorized"}"#.into(),
    )?;
    let template = r#"{"data":"TOKEN","userId":"0eb98e188597a61ee90969a42555ded28dcdddccc6ffa8d5023d8867e00090a","encrypted":true,"alg":"aes","processed":false}"#;
    reply(
        "reply",
        "signed-encrypted",
        1,
        format!("{template}\n{}", claims(&data)),
    )?;
    for (mode, secret) in [(3, SECRETS[1]), (5, SECRETS[2])] {
        let data = encrypt(secret, IV, USER_DATA.as_bytes());
        reply(
            "reply",
            &format!("signed-encrypted-{}", secret.len() * 4),
            mode,
            format!("{template}\n{}", claims(&data)),
        )?;
    }
    reply(
        "reply",
        "signed-clear",
        1,
        format!(
            "{}\n{}",
            template.replace("true", "false"),
            claims(USER_DATA)
        ),
    )?;

    // token: a valid token as is, and header/claims pairs the target signs.
    write("token", "valid", 0, token.as_bytes())?;
    write(
        "token",
        "recorded-foreign-key",
        0,
        recorded["reply"]["data"].as_str().unwrap_or("").as_bytes(),
    )?;
    let pair = |header: &str, claims: &str| format!("{header}\n{claims}");
    write(
        "token",
        "signed",
        1,
        pair(ES256_HEADER, &claims(&data)).as_bytes(),
    )?;
    let times = format!(r#"{{"exp":{},"nbf":{},"iat":{}.5}}"#, NOW + 1, NOW - 1, NOW);
    write(
        "token",
        "signed-times",
        1,
        pair(ES256_HEADER, &times).as_bytes(),
    )?;
    write(
        "token",
        "signed-none",
        1,
        pair(r#"{"alg":"none"}"#, &claims("x")).as_bytes(),
    )?;

    // decrypt: ciphertexts under each key length, and clear texts the target encrypts.
    for (mode, secret) in SECRETS.iter().enumerate() {
        let bits = secret.len() * 4;
        let ciphertext = encrypt(secret, IV, USER_DATA.as_bytes());
        write(
            "decrypt",
            &format!("ciphertext-{bits}"),
            mode as u8,
            ciphertext.as_bytes(),
        )?;
        write(
            "decrypt",
            &format!("round-trip-{bits}"),
            4 | mode as u8,
            USER_DATA.as_bytes(),
        )?;
        write(
            "decrypt",
            &format!("client-{bits}"),
            8 | mode as u8,
            USER_DATA.as_bytes(),
        )?;
    }
    write("decrypt", "client-not-json", 8, b"[{\"label\":")?;

    // The valid seeds must get to the end of the path, or the fuzzer starts shallow.
    let opened = RECORDED_CLIENT.process_payload(200, Some(&recorded["reply"].to_string()));
    assert!(matches!(opened, Ok(ReplyOutcome::Ready(_))), "{opened:?}");
    let opened = SIGNED[0].process_payload(200, Some(&template.replacen("TOKEN", &token, 1)));
    assert!(matches!(opened, Ok(ReplyOutcome::Ready(u)) if u.data == USER_DATA));
    assert!(verify_response_token(&token, &CIVIC_PUBLIC, NOW).is_ok());
    Ok(())
}
