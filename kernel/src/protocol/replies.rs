//! One serde type per reply the kernel sends, shaped as the messaging spec (5.3) says.

use serde::Serialize;
use serde_json::{Map, Value};

/// `status: "ok"` on every successful reply.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Error,
}

/// Any `<type>_reply` that failed: what went wrong, and nothing else.
#[derive(Debug, Serialize)]
pub struct ErrorReply {
    pub status: Status,
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
}

impl ErrorReply {
    pub fn new(ename: &str, evalue: &str) -> ErrorReply {
        ErrorReply {
            status: Status::Error,
            ename: ename.to_owned(),
            evalue: evalue.to_owned(),
            traceback: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum ExecuteReply {
    Ok {
        execution_count: u64,
        user_expressions: Map<String, Value>,
        payload: Vec<Value>,
    },
    Error {
        execution_count: u64,
        ename: String,
        evalue: String,
        traceback: Vec<String>,
        user_expressions: Map<String, Value>,
        payload: Vec<Value>,
    },
    /// Not run: it was queued behind a failed or interrupted cell.
    Aborted {},
}

#[derive(Debug, Serialize)]
pub struct CompleteReply {
    pub status: Status,
    pub matches: Vec<String>,
    pub cursor_start: usize,
    pub cursor_end: usize,
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct InspectReply {
    pub status: Status,
    pub found: bool,
    /// A MIME bundle (`text/plain`, `text/markdown`), empty when nothing was found.
    pub data: Map<String, Value>,
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum IsCompleteReply {
    Complete,
    Incomplete { indent: String },
    Invalid,
}

#[derive(Debug, Serialize)]
pub struct HistoryReply {
    pub status: Status,
    /// `[session, line, input]` triples.
    pub history: Vec<Value>,
}

#[derive(Debug, Serialize)]
pub struct CommInfoReply {
    pub status: Status,
    /// comm id -> `{"target_name": ...}`.
    pub comms: Map<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct ShutdownReply {
    pub status: Status,
    pub restart: bool,
}

#[derive(Debug, Serialize)]
pub struct InterruptReply {
    pub status: Status,
}

#[derive(Debug, Serialize)]
pub struct KernelInfoReply {
    pub status: Status,
    pub protocol_version: &'static str,
    pub implementation: &'static str,
    pub implementation_version: &'static str,
    pub language_info: LanguageInfo,
    pub banner: String,
    pub debugger: bool,
    pub help_links: Vec<HelpLink>,
}

#[derive(Debug, Serialize)]
pub struct LanguageInfo {
    pub name: &'static str,
    pub version: String,
    pub mimetype: &'static str,
    pub file_extension: &'static str,
    pub pygments_lexer: &'static str,
    pub codemirror_mode: &'static str,
    pub nbconvert_exporter: &'static str,
}

#[derive(Debug, Serialize)]
pub struct HelpLink {
    pub text: &'static str,
    pub url: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replies_serialise_as_the_spec_shapes_them() {
        let aborted = serde_json::to_value(ExecuteReply::Aborted {}).unwrap();
        assert_eq!(aborted, json!({"status": "aborted"}));
        let ok = serde_json::to_value(ExecuteReply::Ok {
            execution_count: 3,
            user_expressions: Map::new(),
            payload: Vec::new(),
        })
        .unwrap();
        assert_eq!(
            ok,
            json!({"status": "ok", "execution_count": 3, "user_expressions": {}, "payload": []})
        );
        let incomplete = IsCompleteReply::Incomplete {
            indent: "    ".into(),
        };
        assert_eq!(
            serde_json::to_value(incomplete).unwrap(),
            json!({"status": "incomplete", "indent": "    "})
        );
        assert_eq!(
            serde_json::to_value(ErrorReply::new("BadRequest", "why")).unwrap(),
            json!({"status": "error", "ename": "BadRequest", "evalue": "why", "traceback": []})
        );
    }
}
