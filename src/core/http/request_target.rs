//! The request target (RFC 9112 §3.2) of a URL, as the URL wrote it.
//!
//! A pre-signed payload URL's signature covers its path as written, and civic-sip-api (`request`)
//! sent every URL byte for byte. The URL standard (so `url`) removes dot segments (`/a/../b`
//! becomes `/b`); hyper takes a request target as given. So the target is cut from the URL's text
//! here, not from the parsed `Url`.

use url::Url;

/// The request target (path and query) of an absolute http(s) URL, as written up to any
/// fragment: dot segments, doubled slashes and percent-escapes are kept byte for byte. What
/// `request` (Node's legacy `url.parse`) escaped is percent-encoded (spaces, `"`, `'`, `<`,
/// `>`, `^`, a backtick, `{`, `|`, `}`, controls), and non-ASCII as UTF-8; `\` in the path is
/// read as `/`, as every URL parser does for http.
pub(crate) fn request_target(text: &str) -> String {
    let text = text.trim_matches(|c: char| c <= ' ');
    let after_scheme = text.split_once(':').map_or(text, |(_, rest)| rest);
    let authority_and_rest = after_scheme.trim_start_matches(['/', '\\']);
    let rest = authority_and_rest
        .find(['/', '\\', '?', '#'])
        .map_or("", |i| &authority_and_rest[i..]);
    let rest = rest.split('#').next().unwrap_or_default();
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut target = String::with_capacity(rest.len() + 1);
    if !path.starts_with(['/', '\\']) {
        target.push('/');
    }
    encode_into(&mut target, &path.replace('\\', "/"));
    if let Some(query) = query {
        target.push('?');
        encode_into(&mut target, query);
    }
    target
}

/// Appends `text`, percent-encoding the bytes `url.parse` escaped (`'` among them, which a
/// request target could hold) and those a request target cannot hold (`[` and `]` are kept, as
/// `url.parse` kept them and hyper takes them). A pre-signed URL's signature is unaffected:
/// S3's canonical request encodes `'` either way.
fn encode_into(out: &mut String, text: &str) {
    for &b in text.as_bytes() {
        let kept = b.is_ascii_alphanumeric() || b"-._~!$&()*+,;=:@/?%[]".contains(&b);
        if kept {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// The host without IPv6 brackets, as name resolution, TLS and Node's messages want it.
pub(crate) fn bare_host(url: &Url) -> String {
    url.host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_target_is_the_urls_text() {
        for (url, target) in [
            (
                "http://h/bucket/a/../b?X-Amz-Signature=abc",
                "/bucket/a/../b?X-Amz-Signature=abc",
            ),
            ("https://h:8443/./a//b/%2F%2f%7E%7e", "/./a//b/%2F%2f%7E%7e"),
            ("http://h", "/"),
            ("http://h?x=1", "/?x=1"),
            ("http://u:p@h/a#frag", "/a"),
            ("http://h/a b\"é?q=<x>", "/a%20b%22%C3%A9?q=%3Cx%3E"),
            (
                "http://h/'[x]^`{|}?'[y]\\",
                "/%27[x]%5E%60%7B%7C%7D?%27[y]%5C",
            ),
            ("http:\\\\h\\a\\..\\b", "/a/../b"),
            ("  http://h/x  ", "/x"),
            ("http://[::1]:8/p?q", "/p?q"),
        ] {
            assert_eq!(request_target(url), target, "{url}");
        }
    }
}
