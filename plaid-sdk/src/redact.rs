//! The one redaction of everything a server (or a proxy, or anything in between) controls that
//! the SDK shows: Plaid error fields, excerpts of unexpected bodies, request ids, decode
//! messages, transport errors. Every rendering (`Display`, `Debug`, the source chain, tracing
//! spans, what tools print) shows text that went through here once, when the error was built.
//!
//! What counts as secret: the values the client holds (its secret, a gateway token) and the
//! tokens of the request being sent, compared as the headers send them (trimmed), and
//! anything token-shaped (`access-…`, `processor-…`, `btok_…`) wherever it starts. A text is
//! also read JSON-unescaped and percent-decoded; when one of those views still shows
//! something secret, or a run of 8 characters of a known secret survives (a secret cut in
//! two), the whole text is withheld.

use serde_json::Value;

/// What replaces a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// What replaces a whole text that could not be cleaned word by word.
pub(crate) const WITHHELD: &str = "[withheld: it held something secret-shaped]";

/// Whether `found` holds for `text` as it is or (when it has anything to decode)
/// JSON-unescaped, percent-decoded, or both. A plain text, such as a request id, is read once
/// and nothing is allocated.
fn any_view(text: &str, mut found: impl FnMut(&str) -> bool) -> bool {
    if found(text) {
        return true;
    }
    // Only the views that differ from the text are read: a text without a backslash is its own
    // unescaped view, one without `+` or `%XX` its own percent-decoded view.
    let escaped = text.contains('\\');
    let encoded = |t: &str| {
        t.contains('+')
            || t.match_indices('%').any(|(i, _)| {
                t.as_bytes()
                    .get(i + 1..i + 3)
                    .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
            })
    };
    if !escaped {
        return encoded(text) && found(&percent_decode(text));
    }
    let unescaped = json_unescape(text);
    found(&unescaped)
        || (encoded(text) && found(&percent_decode(text)))
        || (encoded(&unescaped) && found(&percent_decode(&unescaped)))
}

/// The prefixes of Plaid's tokens (and Stripe's bank account tokens).
const TOKEN_PREFIXES: [&str; 6] = [
    "access-",
    "processor-",
    "public-",
    "link-",
    "user-",
    "btok_",
];

/// The shortest run of a secret that must never be shown.
const WINDOW: usize = 8;

/// Secrets shorter than this are not searched for: they would match ordinary words.
const MIN_SECRET: usize = 4;

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Redacts texts against a set of known secrets.
#[derive(Debug, Default)]
pub(crate) struct Redactor<'a> {
    secrets: Vec<&'a str>,
}

impl<'a> Redactor<'a> {
    /// A redactor for these secrets (trimmed, as the headers send them; short ones ignored).
    pub(crate) fn new(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        Redactor {
            secrets: secrets
                .into_iter()
                .map(str::trim)
                .filter(|s| s.len() >= MIN_SECRET)
                .collect(),
        }
    }

    /// `text` with every known secret and token-shaped word replaced, or [`WITHHELD`] when
    /// that is not enough (an escaped or encoded secret, or a part of one).
    pub(crate) fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret) {
                out = out.replace(secret, REDACTED);
            }
        }
        let out = redact_token_words(&out);
        if self.is_clean(&out) {
            out
        } else {
            WITHHELD.to_string()
        }
    }

    /// Whether `text` shows nothing secret: no token-shaped word and no run of a known secret,
    /// read as it is, JSON-unescaped, and percent-decoded.
    pub(crate) fn is_clean(&self, text: &str) -> bool {
        !any_view(text, |view| {
            has_token_word(view)
                || self
                    .secrets
                    .iter()
                    .any(|s| has_window(view, secret_part(s)))
        })
    }

    /// Whether `text` repeats a run of 8 characters of a known secret, read as it is,
    /// JSON-unescaped, or percent-decoded. Token-shaped words alone do not count.
    pub(crate) fn repeats_secret(&self, text: &str) -> bool {
        any_view(text, |view| {
            self.secrets
                .iter()
                .any(|s| has_window(view, secret_part(s)))
        })
    }

    /// A code Plaid sends (`error_type`, `error_code`): shown only when it looks like one of
    /// Plaid's (upper-case letters, digits and `_`) and holds nothing secret.
    pub(crate) fn code(&self, code: &str) -> Option<String> {
        let shaped = code.len() <= 64
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        (shaped && self.is_clean(code)).then(|| code.to_string())
    }

    /// A request id, kept only when it looks like Plaid's and holds nothing secret.
    pub(crate) fn request_id(&self, id: &str) -> Option<String> {
        (request_id_shaped(id) && self.is_clean(id)).then(|| id.to_string())
    }

    /// Every string of a JSON value, keys included, redacted.
    pub(crate) fn json(&self, value: &mut Value) {
        match value {
            Value::String(s) => *s = self.text(s),
            Value::Array(items) => items.iter_mut().for_each(|v| self.json(v)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.json(&mut v);
                    map.insert(self.text(&key), v);
                }
            }
            _ => {}
        }
    }
}

/// Whether `text` shares a run of 8 characters with `secret` (a token's public prefix aside),
/// read as it is: enough for a text of plain characters, such as a request id that passed
/// [`request_id_shaped`], which no escape or encoding can hide in.
#[cfg(test)]
fn shares_run(text: &str, secret: &str) -> bool {
    Runs::new(text).shares(secret)
}

/// A short text (a request id, at most 64 bytes) prepared for comparison with secrets: the
/// set of its bytes, so that a secret's windows are ruled out in one pass unless 8 of their
/// bytes in a row occur in the text. Nothing allocates; it runs on every successful call.
pub(crate) struct Runs<'t> {
    text: &'t str,
    /// Every byte of the text, as a set.
    bytes: [u64; 4],
}

impl<'t> Runs<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        let mut bytes = [0u64; 4];
        for &b in text.as_bytes() {
            bytes[usize::from(b >> 6)] |= 1 << (b & 63);
        }
        Runs { text, bytes }
    }

    /// Whether the text shares a run of 8 characters with `secret` (a token's public prefix
    /// aside).
    pub(crate) fn shares(&self, secret: &str) -> bool {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET {
            return false;
        }
        let secret = secret_part(secret);
        let text = self.text.as_bytes();
        if secret.len() <= WINDOW || text.len() > 64 || text.len() < WINDOW {
            return has_window(self.text, secret);
        }
        let bytes = secret.as_bytes();
        // How many bytes in a row, up to `i`, occur in the text: only a window of 8 such
        // bytes can be in it, and only such a window is looked for.
        let mut streak = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if self.bytes[usize::from(b >> 6)] & (1 << (b & 63)) == 0 {
                streak = 0;
                continue;
            }
            streak += 1;
            if streak >= WINDOW {
                let window = &bytes[i + 1 - WINDOW..=i];
                if text.windows(WINDOW).any(|w| w == window) {
                    return true;
                }
            }
        }
        false
    }
}

/// Plaid's request ids: short, letters and digits (with `-` and `_` allowed), and not
/// token-shaped. Cheap, for the hot path; [`Redactor::request_id`] also checks secrets.
pub(crate) fn request_id_shaped(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !has_token_word(id)
}

/// Whether a token prefix followed by a token character starts anywhere in `text`. One pass
/// over the bytes: it runs on every successful call's request id.
fn has_token_word(text: &str) -> bool {
    let bytes = text.as_bytes();
    (0..bytes.len()).any(|i| {
        matches!(bytes[i], b'a' | b'p' | b'l' | b'u' | b'b')
            && TOKEN_PREFIXES.iter().any(|prefix| {
                bytes[i..].starts_with(prefix.as_bytes())
                    && bytes
                        .get(i + prefix.len())
                        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
            })
    })
}

/// Replaces each token-shaped word, wherever it starts, by its prefix and [`REDACTED`].
fn redact_token_words(text: &str) -> String {
    if !has_token_word(text) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for prefix in TOKEN_PREFIXES {
            if let Some(after) = rest.strip_prefix(prefix)
                && after.chars().next().is_some_and(is_token_char)
            {
                out.push_str(prefix);
                out.push_str(REDACTED);
                let end = after
                    .find(|c: char| !is_token_char(c))
                    .unwrap_or(after.len());
                rest = &after[end..];
                continue 'scan;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The part of a secret that is secret: a token's `kind-environment-` prefix (such as
/// `access-sandbox-`) is public, and shared by every token of its kind.
fn secret_part(secret: &str) -> &str {
    let mut dashes = secret
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'-')
        .map(|(i, _)| i);
    if let (Some(_), Some(second)) = (dashes.next(), dashes.next())
        && secret[..second]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-')
        && secret.len() - second > WINDOW
    {
        return &secret[second + 1..];
    }
    secret
}

/// Whether `text` holds `secret`, or any run of [`WINDOW`] bytes of it (starting and ending
/// on character boundaries). One pass over the longer of the two: each of its 8-byte windows,
/// read as a word, is looked up among the shorter's (a 1,024-bit filter first, then a binary
/// search).
/// A window of valid UTF-8 matched in valid UTF-8 starts and ends on boundaries there too.
fn has_window(text: &str, secret: &str) -> bool {
    if secret.len() <= WINDOW {
        return text.contains(secret);
    }
    if text.len() < WINDOW {
        return false;
    }
    // Sharing a run is symmetric: the shorter side's runs are the ones to sort and look up
    // (a request id against a whole request body, say).
    let (text, secret) = if text.len() < secret.len() {
        (secret, text)
    } else {
        (text, secret)
    };
    let word = |run: &[u8]| {
        let mut bytes = [0u8; WINDOW];
        bytes.copy_from_slice(&run[..WINDOW]);
        u64::from_le_bytes(bytes)
    };
    let bucket = |word: u64| (word.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize;
    let mut runs: Vec<u64> = (0..=secret.len() - WINDOW)
        .filter(|&i| secret.is_char_boundary(i) && secret.is_char_boundary(i + WINDOW))
        .map(|i| word(&secret.as_bytes()[i..]))
        .collect();
    runs.sort_unstable();
    runs.dedup();
    let mut filter = [0u64; 16];
    for &run in &runs {
        let b = bucket(run);
        filter[b / 64] |= 1 << (b % 64);
    }
    text.as_bytes().windows(WINDOW).any(|window| {
        let w = word(window);
        let b = bucket(w);
        filter[b / 64] & (1 << (b % 64)) != 0 && runs.binary_search(&w).is_ok()
    })
}

/// `text` with JSON string escapes (`\n`, `\"`, `\u0061`, ...) decoded; anything malformed is
/// kept as it is.
fn json_unescape(text: &str) -> String {
    if !text.contains('\\') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.clone().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(decoded) if hex.len() == 4 => {
                        out.push(decoded);
                        for _ in 0..4 {
                            chars.next();
                        }
                    }
                    _ => out.push_str("\\u"),
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// `text` with `%XX` sequences (and `+`) decoded; invalid UTF-8 becomes U+FFFD.
fn percent_decode(text: &str) -> String {
    if !text.contains('%') && !text.contains('+') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The redaction the SDK applies to what servers send, for logs and errors of your own (the
/// gateway logs through it): known secrets and token-shaped words replaced, and a text that
/// still shows something secret once JSON-unescaped or percent-decoded withheld whole.
pub mod public {
    use super::Redactor;

    /// `text` with every secret of `secrets` (and any run of 8 characters of one) and every
    /// token-shaped word (`access-…`, `processor-…`, `btok_…`) removed.
    pub fn redact(text: &str, secrets: &[&str]) -> String {
        Redactor::new(secrets.iter().copied()).text(text)
    }

    /// Whether `text` repeats a run of 8 characters of any of `secrets` (or a whole one, if
    /// shorter), as it is or once JSON-unescaped or percent-decoded: a server echoing what it
    /// was sent.
    pub fn repeats_secret(text: &str, secrets: &[&str]) -> bool {
        Redactor::new(secrets.iter().copied()).repeats_secret(text)
    }

    /// `id` if it looks like one of Plaid's request ids (letters, digits, `-` and `_`, at most
    /// 64) and shares no run of 8 characters with any of `secrets`.
    pub fn plaid_request_id<'a>(id: &'a str, secrets: &[&str]) -> Option<&'a str> {
        (super::request_id_shaped(id) && Redactor::new(secrets.iter().copied()).is_clean(id))
            .then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcd";

    #[test]
    fn known_secrets_and_token_words_are_replaced_wherever_they_start() {
        let r = Redactor::new([SECRET]);
        assert_eq!(
            r.text(&format!("key {SECRET} and access-sandbox-1234")),
            "key [redacted] and access-[redacted]"
        );
        // After an escape sequence or a percent-encoded quote: still a token.
        assert_eq!(r.text("x\\naccess-sandbox-1"), "x\\naccess-[redacted]");
        assert_eq!(
            r.text("%22processor-sandbox-9%22"),
            "%22processor-[redacted]%22"
        );
        assert_eq!(r.text("preaccess-x"), "preaccess-[redacted]");
        // Ordinary prose stays.
        assert_eq!(
            r.text("the access token is invalid"),
            "the access token is invalid"
        );
    }

    #[test]
    fn escaped_encoded_or_partial_secrets_withhold_the_whole_text() {
        let r = Redactor::new([SECRET]);
        for text in [
            // JSON-escaped first letter.
            "\\u0061ccess-sandbox-1".to_string(),
            // Percent-encoded dash.
            "access%2Dsandbox-1".to_string(),
            // A run of 8 characters of the secret, as a cut would leave it.
            format!("…{}", &SECRET[..12]),
            // The secret percent-encoded letter by letter.
            SECRET
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>(),
        ] {
            assert_eq!(r.text(&text), WITHHELD, "{text}");
        }
        assert_eq!(r.text("no secret here"), "no secret here");
    }

    /// The definition `has_window` implements: some run of 8 bytes (on character boundaries)
    /// of the shorter is in the longer.
    fn has_window_by_definition(text: &str, secret: &str) -> bool {
        if secret.len() <= WINDOW {
            return text.contains(secret);
        }
        let (short, long) = if text.len() < secret.len() {
            (text, secret)
        } else {
            (secret, text)
        };
        short.len() >= WINDOW
            && (0..=short.len() - WINDOW)
                .filter(|&i| short.is_char_boundary(i) && short.is_char_boundary(i + WINDOW))
                .any(|i| long.contains(&short[i..i + WINDOW]))
    }

    #[test]
    fn the_one_pass_window_search_agrees_with_the_definition() {
        // Texts and secrets from a small alphabet (multi-byte letters among it), so that
        // shared runs are common; a fixed seed keeps every run the same.
        const ALPHABET: [&str; 6] = ["a", "b", "-", "é", "ß", "\u{1F600}"];
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let mut draw = |len: usize| -> String {
            (0..len)
                .map(|_| ALPHABET[rng.usize(..ALPHABET.len())])
                .collect()
        };
        let mut found = 0;
        for round in 0..20_000 {
            let secret = draw(4 + round % 20);
            let text = draw(round % 40);
            let expected = has_window_by_definition(&text, &secret);
            assert_eq!(has_window(&text, &secret), expected, "{text:?} {secret:?}");
            found += usize::from(expected);
        }
        assert!(
            found > 1_000 && found < 19_000,
            "both outcomes covered: {found}"
        );
    }

    #[test]
    fn shared_runs_are_found_the_fast_way_as_the_slow_way_finds_them() {
        let secret = "access-sandbox-e1d2c3b4-a596-4877-8899";
        for (text, expected) in [
            ("xrQNYZ7Zoh6R7gV", false),
            ("e1d2c3b4", true),
            ("xxe1d2c3b4yy", true),
            ("4877-889", true),
            ("4877-88", false),
            ("-sandbox-1", false),
            ("", false),
        ] {
            assert_eq!(shares_run(text, secret), expected, "{text}");
            assert_eq!(has_window(text, secret_part(secret)), expected, "{text}");
        }
        assert!(
            shares_run("abc-secret-x", " secret "),
            "short secrets compare whole"
        );
        assert!(!shares_run("abc", "ab"), "too short to be a secret");
    }

    #[test]
    fn shared_runs_agree_with_the_slow_way_on_many_texts() {
        // A small alphabet, so that shared runs are common and start at any position.
        let mut rng = fastrand::Rng::with_seed(7);
        let word = |rng: &mut fastrand::Rng, len: usize| -> String {
            (0..len).map(|_| ['a', 'b', '-'][rng.usize(..3)]).collect()
        };
        let mut shared = 0;
        for _ in 0..20_000 {
            let id_len = rng.usize(0..=64);
            let id = word(&mut rng, id_len);
            let secret_len = rng.usize(MIN_SECRET..=40);
            let secret = word(&mut rng, secret_len);
            let expected = has_window(&id, secret_part(secret.trim()));
            shared += usize::from(expected);
            assert_eq!(shares_run(&id, &secret), expected, "{id} / {secret}");
        }
        assert!(
            shared > 500,
            "the texts exercise both answers ({shared} shared)"
        );
    }

    #[test]
    fn a_tokens_public_prefix_is_not_a_secret_run() {
        let r = Redactor::new(["access-sandbox-e1d2c3b4-a596"]);
        assert!(!r.repeats_secret("processor-sandbox-0123"));
        assert!(r.repeats_secret("e1d2c3b4"));
        assert_eq!(secret_part("access-sandbox-e1d2c3b4-a596"), "e1d2c3b4-a596");
        assert_eq!(secret_part("sEcReT-0f1e2d3c"), "sEcReT-0f1e2d3c");
        assert_eq!(
            secret_part("a-b-c"),
            "a-b-c",
            "too short a tail to stand alone"
        );
    }

    #[test]
    fn secrets_are_compared_trimmed_and_short_ones_ignored() {
        let r = Redactor::new([" padded-secret-value \n", "abc"]);
        assert_eq!(r.text("padded-secret-value"), REDACTED);
        assert_eq!(r.text("abc"), "abc");
    }

    #[test]
    fn codes_and_request_ids_must_look_like_plaids() {
        let r = Redactor::new([SECRET]);
        assert_eq!(
            r.code("INVALID_ACCESS_TOKEN").as_deref(),
            Some("INVALID_ACCESS_TOKEN")
        );
        assert_eq!(r.code("access-sandbox-1"), None);
        assert_eq!(r.code("lower_case"), None);
        assert_eq!(
            r.code("ITEM_LOGIN_REQUIRED").as_deref(),
            Some("ITEM_LOGIN_REQUIRED")
        );
        assert_eq!(r.code("X_01234567"), None, "a run of the secret's digits");
        let upper = Redactor::new(["ABCDEFGHIJKL"]);
        assert_eq!(upper.code("X_ABCDEFGHIJ"), None, "a run of a secret");
        assert_eq!(
            r.request_id("xrQNYZ7Zoh6R7gV").as_deref(),
            Some("xrQNYZ7Zoh6R7gV")
        );
        assert_eq!(r.request_id(&SECRET[2..14]), None);
        assert_eq!(r.request_id("processor-sandbox-1"), None);
        assert_eq!(r.request_id("a b"), None);
        assert_eq!(r.request_id(""), None);
    }

    #[test]
    fn json_values_are_redacted_keys_and_all() {
        let r = Redactor::new([SECRET]);
        let mut v = serde_json::json!({"error_message": format!("saw {SECRET}"), "access-sandbox-1": [1, "btok_abc"]});
        r.json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"error_message": "saw [redacted]", "access-[redacted]": [1, "btok_[redacted]"]})
        );
    }

    #[test]
    fn decoders_survive_any_input() {
        for text in ["%", "%4", "%zz", "\\", "\\u12", "\\uZZZZ", "é%C3%A9", "+"] {
            let _ = percent_decode(text);
            let _ = json_unescape(text);
        }
        assert_eq!(percent_decode("a%2Db+c"), "a-b c");
        assert_eq!(json_unescape("a\\u002Db\\n"), "a-b\n");
    }
}
