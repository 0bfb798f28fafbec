//! What the fuzz targets and the seed writer share: fixed keys, a fixed clock, and Civic's side
//! of the exchange (signing a response token, encrypting user data), so that structured inputs
//! get past the signature and the padding checks and reach the code behind them.

use std::sync::LazyLock;

use aes::{Aes128, Aes192, Aes256};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use cbc::cipher::{block_padding::Pkcs7, BlockModeEncrypt, KeyIvInit};
use civic_sip_native::core::crypto::es256::VerifyingKey;
use civic_sip_native::core::{Client, Options};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};

/// 2018-03-01T19:35:00Z: inside the validity of Civic's recorded reply, and the time every
/// token signed here is checked at.
pub const NOW: i64 = 1_519_932_900;

/// The recorded app's keys (public test vectors from civic-sip-api's tests, not secrets).
pub const APP_ID: &str = "HyhaWO1SG";
pub const PRV_KEY: &str = "bf5efd7bdde29dc28443614bfee78c3d6ee39c71e55a0437eee02bf7e3647721";
/// appSecrets of the three AES key lengths the cipher accepts; the first is the recorded app's.
pub const SECRETS: [&str; 3] = [
    "44bbae32d1e02bf481074177002bbdef",
    "44bbae32d1e02bf481074177002bbdef0011223344556677",
    "44bbae32d1e02bf481074177002bbdef00112233445566778899aabbccddeeff",
];

/// Stands in for Civic's signing key in the signed variants (any P-256 key will do; this one is
/// already public).
pub const CIVIC_STAND_IN: &str = "0000000000000000000000000000000000000000000000000000000000000007";

/// `{"alg":"ES256","typ":"JWT"}`, the header Civic sends.
pub const ES256_HEADER: &str = r#"{"alg":"ES256","typ":"JWT"}"#;

/// The stand-in Civic signing key.
pub static CIVIC: LazyLock<SigningKey> = LazyLock::new(|| {
    SigningKey::from_slice(&from_hex(CIVIC_STAND_IN)).expect("a valid P-256 scalar")
});

/// [`CIVIC`]'s public key as the client reads one, for calling the verifier directly.
pub static CIVIC_PUBLIC: LazyLock<VerifyingKey> = LazyLock::new(|| {
    VerifyingKey::from_sec1_bytes(CIVIC.verifying_key().to_sec1_point(false).as_bytes())
        .expect("a point on P-256")
});

/// The recorded app with Civic's production key and the clock at [`NOW`]: Civic's recorded
/// 2018 reply verifies and decrypts with it.
pub static RECORDED: LazyLock<Client> = LazyLock::new(|| client(SECRETS[0], None));

/// One client per AES key length, trusting [`CIVIC`] instead of Civic's production key.
pub static SIGNED: LazyLock<[Client; 3]> = LazyLock::new(|| {
    let civic = to_hex(CIVIC.verifying_key().to_sec1_point(false).as_bytes());
    SECRETS.map(|secret| client(secret, Some(civic.clone())))
});

fn client(app_secret: &str, civic_public_key: Option<String>) -> Client {
    Client::new(Options {
        app_id: Some(APP_ID.to_owned()),
        app_secret: Some(app_secret.to_owned()),
        prv_key: Some(PRV_KEY.to_owned()),
        civic_public_keys: civic_public_key.map(|key| vec![key]),
        ..Options::default()
    })
    .expect("a complete configuration")
    .with_clock(|| NOW)
}

/// A compact JWS over arbitrary header and claims text, signed by [`CIVIC`].
pub fn sign(header: &str, claims: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature: Signature = CIVIC.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

/// Claims as Civic sends them, valid at [`NOW`], carrying `data`.
pub fn claims(data: &str) -> String {
    format!(
        r#"{{"jti":"5963 5d6c","iat":{},"exp":{},"iss":"civic-sip-hosted-service","aud":"https://api.civic.com/sip/","sub":"{APP_ID}","data":{}}}"#,
        NOW - 300,
        NOW + 1500,
        serde_json::Value::from(data)
    )
}

/// `<32 hex IV><base64 ciphertext>`: AES-CBC with PKCS#7 under the hex-decoded appSecret, as
/// Civic encrypts the user data.
pub fn encrypt(app_secret: &str, iv: [u8; 16], clear: &[u8]) -> String {
    let key = from_hex(app_secret);
    let mut buf = clear.to_vec();
    buf.resize(clear.len() + 16, 0);
    let ciphertext = match key.len() {
        16 => cbc::Encryptor::<Aes128>::new_from_slices(&key, &iv)
            .expect("key and IV lengths")
            .encrypt_padded::<Pkcs7>(&mut buf, clear.len())
            .expect("room for the padding"),
        24 => cbc::Encryptor::<Aes192>::new_from_slices(&key, &iv)
            .expect("key and IV lengths")
            .encrypt_padded::<Pkcs7>(&mut buf, clear.len())
            .expect("room for the padding"),
        _ => cbc::Encryptor::<Aes256>::new_from_slices(&key, &iv)
            .expect("key and IV lengths")
            .encrypt_padded::<Pkcs7>(&mut buf, clear.len())
            .expect("room for the padding"),
    };
    format!("{}{}", to_hex(&iv), STANDARD.encode(ciphertext))
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Vec<u8> {
    civic_sip_native::core::crypto::hex::decode(s)
        .expect("hex constant")
        .to_vec()
}

/// Splits a fuzz input into its mode byte and the rest as UTF-8 text; `None` when there is no
/// mode byte or the rest is not UTF-8.
pub fn mode_and_text(input: &[u8]) -> Option<(u8, &str)> {
    let (&mode, rest) = input.split_first()?;
    Some((mode, std::str::from_utf8(rest).ok()?))
}
