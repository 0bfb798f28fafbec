//! JSON objects read strictly: a member named twice is refused. V8's `JSON.parse` keeps the last
//! one, other parsers the first; a reply or token that says two things at once is not trusted.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};

/// `JSON.stringify` of a string: serde_json escapes exactly the characters V8 does.
pub fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The members of a JSON object, each key once.
pub(crate) struct UniqueKeys<V>(pub(crate) HashMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueKeys<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for Members<V> {
            type Value = UniqueKeys<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = HashMap::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value()?;
                    if members.contains_key(&key) {
                        return Err(A::Error::custom("a member is named twice"));
                    }
                    members.insert(key, value);
                }
                Ok(UniqueKeys(members))
            }
        }

        deserializer.deserialize_map(Members(PhantomData))
    }
}

/// Whether JSON text nests arrays and objects deeper than `limit`, found in one pass without
/// recursion. (Validity is checked separately; this only looks at brackets outside strings.)
pub fn nests_deeper_than(text: &str, limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_escapes_as_v8_does() {
        assert_eq!(json_string("a\u{1}\n\"\\é"), r#""a\u0001\n\"\\é""#);
    }
    use serde_json::value::RawValue;
    use serde_json::Value;

    #[test]
    fn objects_with_distinct_keys_are_read_and_repeated_keys_refused() {
        let ok: UniqueKeys<Value> = serde_json::from_str(r#"{"a":1,"b":{"a":2}}"#).expect("ok");
        assert_eq!(ok.0["a"], 1);
        for twice in [r#"{"a":1,"a":1}"#, r#"{"data":"x","b":0,"data":"y"}"#] {
            assert!(
                serde_json::from_str::<UniqueKeys<Value>>(twice).is_err(),
                "{twice}"
            );
            assert!(serde_json::from_str::<UniqueKeys<Box<RawValue>>>(twice).is_err());
        }
        for not_object in ["[]", "1", "\"a\"", "null"] {
            assert!(serde_json::from_str::<UniqueKeys<Value>>(not_object).is_err());
        }
    }

    #[test]
    fn nesting_depth_is_counted_outside_strings() {
        assert!(!nests_deeper_than(r#"[{"a":[1]}]"#, 3));
        assert!(nests_deeper_than(r#"[{"a":[[1]]}]"#, 3));
        assert!(!nests_deeper_than(
            r#"["[[[[", "\"]", "\\", {"k":"{{{{"}]"#,
            2
        ));
        assert!(nests_deeper_than(&"[".repeat(100_000), 128));
        assert!(!nests_deeper_than("[]".repeat(1000).as_str(), 1));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!(
            r#"{{"data":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(serde_json::from_str::<UniqueKeys<Value>>(&deep).is_err());
        let raw = serde_json::from_str::<UniqueKeys<Box<RawValue>>>(&deep);
        // Raw values are skipped without recursion; reading one as a value is refused.
        if let Ok(members) = raw {
            assert!(serde_json::from_str::<Value>(members.0["data"].get()).is_err());
        }
    }
}
