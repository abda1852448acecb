//! What the Trainbook kernel and the prelude share, defined once for both:
//! - the marker lines the prelude and the runner write on the runner's stdout and stderr, for
//!   the kernel's forwarder to read (this page);
//! - how both replace a file safely ([`files`]).
//!
//! Every marker carries the kernel's token, a random value the kernel makes at start and hands
//! to the runner process only: a line a cell prints (a log file's contents, a test fixture, an
//! attacker's data) cannot pass for a display, an error or an end-of-output mark, because it
//! does not know the token. A marker line is `KIND:TOKEN` then, for kinds with a payload, one
//! space and the payload (JSON).
//!
//! ```
//! use trainbook_wire::{Marker, Token};
//! let token = Token::new("0123456789abcdef0123456789abcdef").unwrap();
//! let line = Marker::Display.line(&token, r#"{"op":"display"}"#);
//! assert_eq!(Marker::Display.payload(&line, &token), Some(r#"{"op":"display"}"#));
//! // The same line without the token is plain text.
//! assert_eq!(Marker::Display.payload(r#"TRAINBOOK_DISPLAY {"op":"display"}"#, &token), None);
//! ```

pub mod files;

/// The environment variable that carries the token from the kernel to its runner process; the
/// runner removes it from its environment before any cell runs.
pub const TOKEN_VARIABLE: &str = "TRAINBOOK_MARKER_TOKEN";

/// Every line kind starts with this; the runner keeps such lines whole (never split across
/// partial-output messages).
pub const PREFIX: &str = "TRAINBOOK_";

/// The kinds of marker line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// stdout, from the prelude: `{"op": "display"|"update"|"clear", "data", "metadata",
    /// "display_id", "wait"}`.
    Display,
    /// stdout, from the prelude's panic hook: `{"message", "location"}`.
    Panic,
    /// stderr, from the prelude: a cell's error (`?` or a displayed `Err`) as
    /// `{"ename", "evalue", "traceback"}`.
    Error,
    /// stdout, from the runner: output without its newline yet, as a JSON string.
    Part,
    /// stderr, from the runner: compiled code starts running (no payload).
    Running,
    /// stderr, from the runner: the cell returned; all its stderr is ahead of this line (no
    /// payload).
    StderrSync,
}

impl Marker {
    pub const ALL: [Marker; 6] = [
        Marker::Display,
        Marker::Panic,
        Marker::Error,
        Marker::Part,
        Marker::Running,
        Marker::StderrSync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Marker::Display => "TRAINBOOK_DISPLAY",
            Marker::Panic => "TRAINBOOK_PANIC",
            Marker::Error => "TRAINBOOK_ERROR",
            Marker::Part => "TRAINBOOK_PART",
            Marker::Running => "TRAINBOOK_RUNNING",
            Marker::StderrSync => "TRAINBOOK_STDERR_SYNC",
        }
    }

    /// The line (without its newline) that carries `payload`; an empty payload makes a bare
    /// marker.
    pub fn line(self, token: &Token, payload: &str) -> String {
        if payload.is_empty() {
            format!("{}:{}", self.name(), token.0)
        } else {
            format!("{}:{} {payload}", self.name(), token.0)
        }
    }

    /// The payload of `line` if it is this marker with this token ("" for a bare marker).
    pub fn payload<'a>(self, line: &'a str, token: &Token) -> Option<&'a str> {
        let rest = line.strip_prefix(self.name())?.strip_prefix(':')?;
        let rest = rest.strip_prefix(token.0.as_str())?;
        if rest.is_empty() {
            Some("")
        } else {
            rest.strip_prefix(' ')
        }
    }

    /// Whether `line` is this marker with this token.
    pub fn is(self, line: &str, token: &Token) -> bool {
        self.payload(line, token).is_some()
    }
}

/// The kernel's secret for marker lines: 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A token from its text; `None` unless it is 32 hex digits.
    pub fn new(text: &str) -> Option<Token> {
        (text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Token(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> Token {
        Token::new("00112233445566778899aabbccddeeff").unwrap()
    }

    #[test]
    fn every_marker_round_trips_and_refuses_forgeries() {
        let token = token();
        let other = Token::new("ffffffffffffffffffffffffffffffff").unwrap();
        for marker in Marker::ALL {
            assert!(marker.name().starts_with(PREFIX));
            let bare = marker.line(&token, "");
            assert_eq!(marker.payload(&bare, &token), Some(""));
            let full = marker.line(&token, "{\"a\":1}");
            assert_eq!(marker.payload(&full, &token), Some("{\"a\":1}"));
            assert_eq!(marker.payload(&full, &other), None, "another token");
            let forged = format!("{} {{\"a\":1}}", marker.name());
            assert_eq!(marker.payload(&forged, &token), None, "no token");
            assert_eq!(
                marker.payload(&format!("{bare}x"), &token),
                None,
                "glued text"
            );
            for other_kind in Marker::ALL.into_iter().filter(|m| *m != marker) {
                assert!(!other_kind.is(&full, &token));
            }
        }
        assert!(Token::new("short").is_none());
        assert!(Token::new("zz112233445566778899aabbccddeeff").is_none());
    }
}
