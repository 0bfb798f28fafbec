//! What a message, a `NODE_DEBUG` line or `Debug` output may show of a URL or a secret: the one
//! place the rule is kept, so every path that quotes a URL quotes it the same way.
//!
//! The rule for a URL: its scheme, host, port and path are shown; its user info (user name and
//! password) and its query and fragment never are. The user info is a credential (a proxy's
//! password, one written into `api`), and so is a pre-signed payload URL's query
//! (`X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token`); the host and path are what an
//! operator needs to tell which server and which object failed. Where civic-sip-api's wording
//! quotes a URL (`Invalid URI "<url>"`, `Exceeded maxRedirects. Probably stuck in a redirect loop
//! <url>`), the rest is escaped as its `request` printed it: Node's legacy `url.parse` +
//! `url.format`, which lower-cases the scheme and host, turns `\` before the query into `/`, gives
//! an http(s) URL with a host and no path the path `/`, and percent-encodes the characters of its
//! auto-escape set (tab, CR, LF, space, `"`, `'`, `<`, `>`, `^`, backquote, `{`, `|`, `}`).

use std::fmt;

/// A URL as messages quote it ([`shown_url`]); made only from the text it was given, so a
/// message that holds one cannot hold that URL's user info or query.
#[derive(Clone, PartialEq, Eq)]
pub struct ShownUrl(String);

impl ShownUrl {
    /// The URL `text` as the rule shows it (see the module's docs).
    pub fn of(text: &str) -> Self {
        ShownUrl(shown_url(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShownUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ShownUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// What `Debug` shows of a value it must not print: nothing, or its length in bytes.
pub(crate) enum Redacted {
    /// `[redacted]`: a secret, whose length is nobody's business either.
    Secret,
    /// `[redacted, <n> bytes]`: user data, a token, a user id.
    Bytes(usize),
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Redacted::Secret => f.write_str("[redacted]"),
            Redacted::Bytes(n) => write!(f, "[redacted, {n} bytes]"),
        }
    }
}

/// What `url.parse` trims from both ends of a URL.
const TRIMMED: &[char] = &[
    ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{a0}', '\u{feff}',
];
/// The schemes `url.parse` gives a `/` path when they have a host and no path.
const SLASHED: &[&str] = &["http:", "https:", "ftp:", "gopher:", "file:", "ws:", "wss:"];

/// The URL `text` (valid or not) with its user info, query and fragment left out, escaped as
/// civic-sip-api's `request` printed URLs (see the module's docs). Host names are escaped as
/// paths are: `url.parse` would have cut `exa mple` at the space, which a message should not.
pub fn shown_url(text: &str) -> String {
    let text = text.trim_matches(TRIMMED);
    let text = without_loose_user_info(text);
    let end = text.find(['?', '#']).unwrap_or(text.len());
    let before = text[..end].replace('\\', "/");
    let scheme_end = before.find(':').filter(|&i| {
        i > 0
            && before[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    });
    let (scheme, rest) = match scheme_end {
        Some(i) => (before[..=i].to_ascii_lowercase(), &before[i + 1..]),
        None => (String::new(), before.as_str()),
    };
    let (slashes, after) = match rest.strip_prefix("//") {
        Some(after) => ("//", after),
        None => ("", rest),
    };
    // `url.parse` reads an authority after `//`, or after a scheme that takes none of its own
    // (`mailto:user@host`); `javascript:` has none.
    let has_authority = !slashes.is_empty()
        || !(scheme.is_empty() || scheme == "javascript:" || SLASHED.contains(&scheme.as_str()));
    let (host, mut path) = if has_authority {
        let split = after.find('/').unwrap_or(after.len());
        let authority = &after[..split];
        let host = authority
            .rfind('@')
            .map_or(authority, |at| &authority[at + 1..]);
        (host.to_lowercase(), after[split..].to_owned())
    } else {
        (String::new(), after.to_owned())
    };
    if path.is_empty() && !host.is_empty() && SLASHED.contains(&scheme.as_str()) {
        path.push('/');
    }
    // `url.parse` escapes nothing in `javascript:` URLs, nor in a bare path that has no
    // whitespace and no fragment (its fast path).
    let simple_path = scheme.is_empty()
        && !text.contains('#')
        && !text.contains(char::is_whitespace)
        && (before.starts_with('/') && !before.starts_with("///"));
    let mut out = scheme.clone();
    out.push_str(slashes);
    if scheme == "javascript:" || simple_path {
        out.push_str(&host);
        out.push_str(&path);
    } else {
        escape_into(&mut out, &host);
        escape_into(&mut out, &path);
    }
    out
}

/// `text` without a user info whose password holds a raw `?` or `#` (`user:pa#ss@host`), which
/// URL syntax wants escaped: every parser ends the authority there, so the rule above would show
/// the start of the password as a host. Taken as user info only where a `:` comes before it and
/// an `@` after it, before the first `/`. (A raw `/` in a password cannot be told from a path.)
fn without_loose_user_info(text: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = text.find("//").map(|i| i + 2) else {
        return text.into();
    };
    let region = &text[start..];
    let region = &region[..region.find(['/', '\\']).unwrap_or(region.len())];
    match region.rfind('@') {
        Some(at) if region[..at].contains(':') && region[..at].contains(['?', '#']) => {
            format!("{}{}", &text[..start], &text[start + at + 1..]).into()
        }
        _ => text.into(),
    }
}

/// Appends `text` with `url.parse`'s auto-escape characters percent-encoded.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\t' | '\n' | '\r' | ' ' | '"' | '\'' | '<' | '>' | '\\' | '^' | '`' | '{' | '|'
            | '}' => out.push_str(&format!("%{:02X}", c as u32)),
            c => out.push(c),
        }
    }
}

/// `host:port` of a URL (the port where one is written), nothing else of it: what the
/// `NODE_DEBUG` lines say of a URL (less than [`shown_url`]: they never show a path either).
/// `an invalid URL` where it does not parse.
pub(crate) fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(url) => {
            let host = url.host_str().unwrap_or("");
            match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            }
        }
        Err(_) => "an invalid URL".to_owned(),
    }
}

/// A proxy URL as `Debug` shows it: [`shown_url`], and a proxy written without a scheme
/// (`user:password@host:port`, which is plain HTTP) as its host and port.
pub(crate) fn shown_proxy(text: &str) -> String {
    if text.contains("://") {
        shown_url(text)
    } else {
        shown_url(&format!("//{}", text.trim_matches(TRIMMED)))
            .trim_start_matches('/')
            .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case's expected text is what `url.format(url.parse(text))` gives in Node 20, with
    /// the auth, search and hash left out (checked against Node for these inputs).
    #[test]
    fn a_url_is_shown_as_request_printed_it_without_user_info_or_query() {
        for (text, shown) in [
            ("not a url", "not%20a%20url"),
            (
                "not a url/prod/scopeRequest/authCode",
                "not%20a%20url/prod/scopeRequest/authCode",
            ),
            ("not-a-url", "not-a-url"),
            (
                "file:///tmp/prod/scopeRequest/authCode",
                "file:///tmp/prod/scopeRequest/authCode",
            ),
            ("//127.0.0.1:1/prod/x", "//127.0.0.1:1/prod/x"),
            ("javascript:alert(1)", "javascript:alert(1)"),
            ("javascript:a b?q=1", "javascript:a b"),
            (
                "http://U:P@Ex.COM:80/a b/\"q\"<>^{|}`'x?X-Amz-Signature=a b#f g",
                "http://ex.com:80/a%20b/%22q%22%3C%3E%5E%7B%7C%7D%60%27x",
            ),
            ("HTTP://h", "http://h/"),
            ("http://h/a\\b?c\\d", "http://h/a/b"),
            ("http:///x", "http:///x"),
            ("  http://h/x  ", "http://h/x"),
            ("http://h/%zz/é?q=é", "http://h/%zz/é"),
            ("http://:pw@h/x", "http://h/x"),
            ("http://u@h/x", "http://h/x"),
            ("http://[::1]:9/x", "http://[::1]:9/x"),
            ("file://u:p@/x", "file:///x"),
            ("/a\"b?q=1", "/a\"b"),
            (
                "https://bucket.s3.amazonaws.com/p/a?X-Amz-Signature=abc&X-Amz-Credential=AKIA",
                "https://bucket.s3.amazonaws.com/p/a",
            ),
        ] {
            assert_eq!(shown_url(text), shown, "{text:?}");
            assert_eq!(ShownUrl::of(text).to_string(), shown, "{text:?}");
        }
    }

    #[test]
    fn no_user_name_password_or_query_value_is_ever_shown() {
        for text in [
            "http://USERMARK:PASSMARK@exa mple/dev/scopeRequest/authCode",
            "http://USERMARK:PASSMARK@h:1/p?a=QUERYMARK&b=QUERYMARK#QUERYMARK",
            "https://USERMARK:PASS@MARK@h/x?QUERYMARK",
            "//USERMARK:PASSMARK@h/x?q=QUERYMARK",
            "mailto:USERMARK:PASSMARK@h?q=QUERYMARK",
            "http:\\\\USERMARK:PASSMARK@h\\x?QUERYMARK",
            "  HTTP://USERMARK:PASSMARK@H/x\t?QUERYMARK",
            "not a url?QUERYMARK",
            "http://USERMARK:PASS#MARK@exa mple/x?QUERYMARK",
            "http://USERMARK:PASS?MARK@h/x?QUERYMARK",
        ] {
            let shown = shown_url(text);
            for marker in ["USERMARK", "PASSMARK", "MARK@", "QUERYMARK"] {
                assert!(!shown.contains(marker), "{text:?} shown as {shown:?}");
            }
        }
        assert_eq!(
            shown_url("http://user:pw@exa mple/dev/scopeRequest/authCode"),
            "http://exa%20mple/dev/scopeRequest/authCode"
        );
        assert_eq!(shown_url("http://user:pa#ss@h:1/x"), "http://h:1/x");
        // An `@` in a query is no user info.
        assert_eq!(shown_url("http://h?email=a@b"), "http://h/");
        assert_eq!(shown_url("http://h/p?email=a@b#x:y@z"), "http://h/p");
    }

    #[test]
    fn a_proxy_is_shown_without_its_user_info() {
        for (text, shown) in [
            ("http://user:s3cret@proxy:8080/", "http://proxy:8080/"),
            ("http://user:p@ss@proxy:8080", "http://proxy:8080/"),
            ("http://user@proxy:8080", "http://proxy:8080/"),
            ("http://proxy:8080/a@b", "http://proxy:8080/a@b"),
            ("u:pw@proxy:1", "proxy:1"),
            ("proxy:3128", "proxy:3128"),
        ] {
            assert_eq!(shown_proxy(text), shown, "{text:?}");
        }
    }

    #[test]
    fn redacted_values_show_their_length_at_most() {
        assert_eq!(format!("{:?}", Redacted::Secret), "[redacted]");
        assert_eq!(format!("{:?}", Redacted::Bytes(3)), "[redacted, 3 bytes]");
    }

    #[test]
    fn a_host_never_carries_the_user_info_path_or_query() {
        assert_eq!(
            host_of("https://user:pw@bucket.s3.amazonaws.com/p/a?X-Amz-Signature=abc"),
            "bucket.s3.amazonaws.com"
        );
        assert_eq!(host_of("http://127.0.0.1:8080/sip/prod"), "127.0.0.1:8080");
        assert_eq!(host_of("http://[::1]:9/x"), "[::1]:9");
        assert_eq!(host_of("not a url"), "an invalid URL");
    }
}
