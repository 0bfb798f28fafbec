//! Reading the body of a 200 reply of the exchange as civic-sip-api read it: `JSON.parse`, then
//! its fields tested for JavaScript truthiness.

use serde_json::value::RawValue;
use serde_json::Value;

use crate::core::error::{Error, ErrorKind};
use crate::core::json::UniqueKeys;
use crate::core::redact::Redacted;

/// The status a reply came with, as `processPayload` takes it: civic-sip-api read the body only
/// for the number 200 and refused anything else, which JS may pass in any type, so the rest is
/// kept as JS prints it (`String(statusCode)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyStatus {
    /// The number 200.
    Ok,
    /// Any other status: `"201"`, `"200"` (a string), `"undefined"`.
    Other(String),
}

impl From<u16> for ReplyStatus {
    fn from(status: u16) -> Self {
        match status {
            200 => ReplyStatus::Ok,
            other => ReplyStatus::Other(other.to_string()),
        }
    }
}

/// The fields of a 200 reply that decide what comes next.
pub(crate) enum ReplyFields {
    /// The user data is in the reply: `token` is `data` where it is a string (a response token),
    /// `None` where it is truthy but not a string (which no token verifies as).
    Token {
        token: Option<String>,
        encrypted: bool,
        user_id: Option<String>,
    },
    /// `processed` is truthy: the response token waits at the URL in `data`.
    Processed(PendingPayload),
}

/// A `processed: true` reply: the response token waits at `url`.
pub struct PendingPayload {
    /// `data` where it is a string; checked to be a URL only when fetched, as civic-sip-api did.
    pub(crate) url: Option<String>,
    pub(crate) encrypted: bool,
    /// The reply's `userId` as JSON text, `None` where the reply had none.
    pub(crate) user_id: Option<String>,
}

// By hand, as for `UserData`: a response token is a bearer of the user data, a pre-signed URL's
// path and query are a credential, and the user id is the user's; `Debug` shows their shape only.
impl std::fmt::Debug for ReplyFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyFields::Token {
                token,
                encrypted,
                user_id,
            } => f
                .debug_struct("Token")
                .field("token", &token.as_ref().map(|t| Redacted::Bytes(t.len())))
                .field("encrypted", encrypted)
                .field(
                    "user_id",
                    &user_id.as_ref().map(|u| Redacted::Bytes(u.len())),
                )
                .finish(),
            ReplyFields::Processed(pending) => f.debug_tuple("Processed").field(pending).finish(),
        }
    }
}

impl std::fmt::Debug for PendingPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingPayload")
            .field(
                "host",
                &self.url.as_deref().map(crate::core::redact::host_of),
            )
            .field("encrypted", &self.encrypted)
            .field(
                "user_id",
                &self.user_id.as_ref().map(|u| Redacted::Bytes(u.len())),
            )
            .finish()
    }
}

/// Reads the body text of a 200 reply (`None` for a missing body): not JSON, or without a truthy
/// `data`, is `ErrorKind::InvalidResponse` holding the body.
pub(crate) fn read(body: Option<&str>) -> Result<ReplyFields, Error> {
    let invalid = || {
        Error::new(ErrorKind::InvalidResponse {
            body: body.map(str::to_owned),
        })
    };
    // Field values stay raw until needed: V8's JSON.parse, which civic-sip-api used, accepts
    // numbers beyond f64 (as Infinity) and lone surrogates that serde_json's values refuse.
    let reply = match body.map(serde_json::from_str::<UniqueKeys<Box<RawValue>>>) {
        Some(Ok(members)) => members.0,
        _ => return Err(invalid()),
    };
    let field = |name: &str| {
        reply
            .get(name)
            .map(|raw| serde_json::from_str::<Value>(raw.get()))
    };
    let data = field("data").filter(raw_truthy).ok_or_else(invalid)?.ok();
    let encrypted = field("encrypted").is_some_and(|v| raw_truthy(&v));
    let user_id = reply.get("userId").map(|raw| raw.get().to_owned());
    let data = data.as_ref().and_then(Value::as_str).map(str::to_owned);
    if field("processed").is_some_and(|v| raw_truthy(&v)) {
        return Ok(ReplyFields::Processed(PendingPayload {
            url: data,
            encrypted,
            user_id,
        }));
    }
    Ok(ReplyFields::Token {
        token: data,
        encrypted,
        user_id,
    })
}

/// Truthiness of a raw field: a value serde_json cannot hold is a huge number (Infinity in JS)
/// or a string with a lone surrogate, both truthy.
fn raw_truthy(v: &serde_json::Result<Value>) -> bool {
    v.as_ref().map_or(true, truthy)
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthiness_is_javascripts() {
        for (v, t) in [
            ("null", false),
            ("false", false),
            ("0", false),
            ("-0.0", false),
            ("\"\"", false),
            ("1", true),
            ("\"0\"", true),
            ("[]", true),
            ("{}", true),
        ] {
            assert_eq!(truthy(&serde_json::from_str(v).expect("json")), t, "{v}");
        }
    }

    #[test]
    fn fields_beyond_serde_json_values_are_truthy() {
        // 1e400 is Infinity to JSON.parse; a lone surrogate is a string of one code unit.
        let Ok(ReplyFields::Processed(pending)) = read(Some(
            r#"{"data":"u","processed":1e400,"encrypted":"\ud800"}"#,
        )) else {
            panic!("a processed reply");
        };
        assert!(pending.encrypted);
        assert_eq!(pending.url.as_deref(), Some("u"));
        let Ok(ReplyFields::Token { token, .. }) = read(Some(r#"{"data":1e400}"#)) else {
            panic!("a reply with data");
        };
        assert_eq!(token, None);
    }
}
