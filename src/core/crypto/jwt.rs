//! ES256 JWTs (RFC 7519, RFC 7518 §3.4): the compact form's header, and verifying a token's
//! signature and time claims (Civic's response token).

use base64::Engine as _;
use serde_json::{Map, Value};

use super::es256::VerifyingKey;
use crate::core::json::UniqueKeys;

/// base64url of `{"alg":"ES256","typ":"JWT"}`, the header civic-sip-api sends.
pub(crate) const ES256_HEADER: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9";
/// Clock skew allowed on Civic's `exp`, `nbf` and `iat`, as civic-sip-api allows.
pub const GRACE_SECONDS: f64 = 60.0;

/// Lenient about padding (Civic sends none), strict about the alphabet.
const B64URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Why a response token was refused. Every reason surfaces with civic-sip-api's one message;
/// the reason is data (`error.reason` in JS) so a wrong `civicPublicKey` can be told from an
/// expired token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rejected {
    /// Not three base64url segments of JSON objects (each member named once), a time claim that
    /// is not a number, or a reply whose `data` is not a string at all.
    Malformed,
    /// The header's `alg` is not ES256 (RFC 7518 §3.4; `none` and HMAC included).
    Algorithm,
    /// The signature is valid under none of the configured Civic keys: forged, tampered with,
    /// or signed by another key (a wrong `civicPublicKey`).
    Signature,
    /// The claims have no `exp` (civic-sip-api let such a token live forever).
    MissingExpiry,
    /// `exp` (seconds since the epoch) passed more than the grace period ago.
    Expired { exp: f64 },
    /// `nbf` or `iat` (seconds since the epoch) is more than the grace period ahead.
    NotYetValid { not_before: f64 },
}

impl Rejected {
    /// One of each kind, in the order `index.d.ts` lists their names: the binding exports those
    /// names as `VERIFICATION_REASONS`, which `__test__/verification-reasons.test.js` checks the
    /// declared union against.
    pub const EVERY_KIND: [Rejected; 6] = [
        Rejected::Signature,
        Rejected::Expired { exp: 0.0 },
        Rejected::NotYetValid { not_before: 0.0 },
        Rejected::MissingExpiry,
        Rejected::Algorithm,
        Rejected::Malformed,
    ];

    /// The name JS sees as `error.reason`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Rejected::Malformed => "malformed",
            Rejected::Algorithm => "algorithm",
            Rejected::Signature => "signature",
            Rejected::MissingExpiry => "missing-exp",
            Rejected::Expired { .. } => "expired",
            Rejected::NotYetValid { .. } => "not-yet-valid",
        }
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::Malformed => f.write_str("the token is malformed"),
            Rejected::Algorithm => f.write_str("the token is not signed with ES256"),
            Rejected::Signature => {
                f.write_str("the signature is valid under none of the configured Civic keys")
            }
            Rejected::MissingExpiry => f.write_str("the token has no exp claim"),
            Rejected::Expired { exp } => write!(f, "its exp, {exp}, has passed"),
            Rejected::NotYetValid { not_before } => {
                write!(f, "its nbf or iat, {not_before}, is ahead")
            }
        }
    }
}

impl std::error::Error for Rejected {}

/// Verifies a response token and returns its claims. Only ES256 is accepted; `exp` is required
/// (stricter than civic-sip-api, which let a token without one live forever) and may have passed
/// by at most the grace period; `nbf` and `iat` may lie at most that far in the future. `now` is
/// whole seconds, as jsrsasign compares.
pub fn verify_response_token(
    token: &str,
    key: &VerifyingKey,
    now: i64,
) -> Result<Map<String, Value>, Rejected> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Rejected::Malformed);
    };
    let header = decode_object(header_b64)?;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(Rejected::Algorithm);
    }
    let signature = B64URL.decode(signature).map_err(|_| Rejected::Malformed)?;
    let signed = &token.as_bytes()[..header_b64.len() + 1 + payload.len()];
    if !key.verify(signed, &signature) {
        return Err(Rejected::Signature);
    }

    let claims = decode_object(payload)?;
    let now = now as f64;
    let time = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or(Rejected::Malformed),
    };
    let exp = time("exp")?.ok_or(Rejected::MissingExpiry)?;
    if exp + GRACE_SECONDS < now {
        return Err(Rejected::Expired { exp });
    }
    for not_before in [time("nbf")?, time("iat")?].into_iter().flatten() {
        if now < not_before - GRACE_SECONDS {
            return Err(Rejected::NotYetValid { not_before });
        }
    }
    Ok(claims)
}

/// A header or claims segment: base64url of a JSON object that names each member once.
fn decode_object(segment: &str) -> Result<Map<String, Value>, Rejected> {
    let bytes = B64URL.decode(segment).map_err(|_| Rejected::Malformed)?;
    serde_json::from_slice::<UniqueKeys<Value>>(&bytes)
        .map(|members| members.0.into_iter().collect())
        .map_err(|_| Rejected::Malformed)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::crypto::es256::{Signature, SigningKey};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn every_kind_of_refusal_is_listed_once() {
        // A kind added to `Rejected` fails to compile here until it is placed in `EVERY_KIND`.
        let place = |r: &Rejected| match r {
            Rejected::Signature => 0,
            Rejected::Expired { .. } => 1,
            Rejected::NotYetValid { .. } => 2,
            Rejected::MissingExpiry => 3,
            Rejected::Algorithm => 4,
            Rejected::Malformed => 5,
        };
        for (i, kind) in Rejected::EVERY_KIND.iter().enumerate() {
            assert_eq!(place(kind), i, "{kind:?}");
        }
    }

    pub(crate) const PRV: &str = "bf5efd7bdde29dc28443614bfee78c3d6ee39c71e55a0437eee02bf7e3647721";

    pub(crate) fn key(hex_key: &str) -> SigningKey {
        SigningKey::from_slice(&crate::core::crypto::hex::decode(hex_key).expect("hex"))
            .expect("key")
    }

    /// Signs arbitrary header and claims JSON, for tests.
    pub(crate) fn sign(key: &SigningKey, header: &str, claims: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let sig: Signature = key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    const NOW: i64 = 1_700_000_000;

    fn claims(exp: f64) -> String {
        format!(
            r#"{{"iss":"civic-sip-hosted-service","iat":{},"exp":{exp},"data":"x"}}"#,
            exp - 1800.0
        )
    }

    #[test]
    fn verification_accepts_good_tokens_and_refuses_tampered_and_foreign_ones() {
        let k = key(PRV);
        let good = sign(
            &k,
            r#"{"alg":"ES256","typ":"JWT"}"#,
            &claims(NOW as f64 + 100.0),
        );
        assert!(verify_response_token(&good, k.verifying_key(), NOW).is_ok());

        // Tampered payload: one claim changed after signing.
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(claims(NOW as f64 + 9999.0));
        parts[1] = &forged;
        assert_eq!(
            verify_response_token(&parts.join("."), k.verifying_key(), NOW),
            Err(Rejected::Signature)
        );

        let other = key("0000000000000000000000000000000000000000000000000000000000000007");
        assert_eq!(
            verify_response_token(&good, other.verifying_key(), NOW),
            Err(Rejected::Signature)
        );
    }

    #[test]
    fn only_es256_is_accepted() {
        let k = key(PRV);
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"ES384"}"#,
            r#"{"typ":"JWT"}"#,
        ] {
            let t = sign(&k, header, &claims(NOW as f64 + 100.0));
            assert_eq!(
                verify_response_token(&t, k.verifying_key(), NOW),
                Err(Rejected::Algorithm),
                "{header}"
            );
        }
    }

    #[test]
    fn expiry_has_a_sixty_second_grace_and_is_required() {
        let k = key(PRV);
        let h = r#"{"alg":"ES256","typ":"JWT"}"#;
        let within = sign(&k, h, &claims(NOW as f64 - 59.5));
        assert!(verify_response_token(&within, k.verifying_key(), NOW).is_ok());
        let beyond = sign(&k, h, &claims(NOW as f64 - 61.0));
        assert_eq!(
            verify_response_token(&beyond, k.verifying_key(), NOW),
            Err(Rejected::Expired {
                exp: NOW as f64 - 61.0
            })
        );
        let no_exp = sign(&k, h, r#"{"data":"x"}"#);
        assert_eq!(
            verify_response_token(&no_exp, k.verifying_key(), NOW),
            Err(Rejected::MissingExpiry)
        );
        let future = sign(
            &k,
            h,
            &format!(r#"{{"exp":{},"nbf":{}}}"#, NOW + 5000, NOW + 61),
        );
        assert_eq!(
            verify_response_token(&future, k.verifying_key(), NOW),
            Err(Rejected::NotYetValid {
                not_before: (NOW + 61) as f64
            })
        );
        let string_exp = sign(&k, h, r#"{"exp":"never"}"#);
        assert_eq!(
            verify_response_token(&string_exp, k.verifying_key(), NOW),
            Err(Rejected::Malformed)
        );
    }

    #[test]
    fn malformed_tokens_are_refused_without_panicking() {
        let k = key(PRV);
        let good = sign(&k, r#"{"alg":"ES256"}"#, &claims(NOW as f64 + 100.0));
        let (head, sig) = good.rsplit_once('.').expect("three parts");
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            &format!("{good}."),
            &format!("{head}.{}", &sig[..40]),
            &format!("{head}.{}*", &sig[..85]),
            &good.replacen('.', ".!", 1),
            &sign(
                &k,
                r#"{"alg":"ES256","alg":"none"}"#,
                &claims(NOW as f64 + 100.0),
            ),
            &sign(
                &k,
                r#"{"alg":"ES256"}"#,
                &format!(r#"{{"exp":{},"exp":1}}"#, NOW + 100),
            ),
        ] {
            assert!(
                verify_response_token(bad, k.verifying_key(), NOW).is_err(),
                "{bad}"
            );
        }
    }
}
