//! One serde type per request the kernel reads, with the defaults the messaging spec gives.
//! A request whose content has the wrong shape (a number where the code goes, a list for a
//! comm id) is answered with an error reply that names the field, instead of being run with
//! guesses.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Reads a request's content as `T`; the error names the message type and the field.
pub fn parse<T: DeserializeOwned>(msg_type: &str, content: &Value) -> Result<T, String> {
    // An absent or null content is an empty object (all defaults).
    let content = if content.is_null() {
        Value::Object(Default::default())
    } else {
        content.clone()
    };
    serde_json::from_value(content).map_err(|e| format!("{msg_type}: {e}"))
}

#[derive(Debug, Deserialize)]
#[serde(default)]
pub struct ExecuteRequest {
    pub code: String,
    pub silent: bool,
    pub store_history: bool,
    pub user_expressions: BTreeMap<String, String>,
    pub allow_stdin: bool,
    pub stop_on_error: bool,
}

impl Default for ExecuteRequest {
    fn default() -> Self {
        ExecuteRequest {
            code: String::new(),
            silent: false,
            store_history: true,
            user_expressions: BTreeMap::new(),
            allow_stdin: true,
            stop_on_error: true,
        }
    }
}

/// complete_request and inspect_request: code and a cursor (in characters).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CodeAtCursor {
    pub code: String,
    pub cursor_pos: Option<u64>,
    pub detail_level: u8,
}

impl CodeAtCursor {
    /// The cursor, at the end of the code when absent, and never past it.
    pub fn cursor(&self) -> usize {
        let length = self.code.chars().count();
        self.cursor_pos.map_or(length, |c| {
            usize::try_from(c).unwrap_or(usize::MAX).min(length)
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IsCompleteRequest {
    pub code: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShutdownRequest {
    pub restart: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HistoryRequest {
    pub output: bool,
    pub raw: bool,
    pub hist_access_type: Option<String>,
    pub session: Option<i64>,
    pub start: Option<u64>,
    pub stop: Option<u64>,
    pub n: Option<u64>,
    pub pattern: Option<String>,
    pub unique: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CommInfoRequest {
    pub target_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CommOpen {
    pub comm_id: String,
    pub target_name: String,
    pub data: Value,
}

/// comm_msg and comm_close.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CommMessage {
    pub comm_id: String,
    pub data: Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct InputReply {
    pub value: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_errors_that_name_the_field() {
        let request: ExecuteRequest = parse("execute_request", &json!({"code": "1"})).unwrap();
        assert!(request.store_history && request.allow_stdin && request.stop_on_error);
        let request: ExecuteRequest = parse("execute_request", &Value::Null).unwrap();
        assert_eq!(request.code, "");
        let error = parse::<ExecuteRequest>("execute_request", &json!({"code": 5})).unwrap_err();
        assert!(
            error.starts_with("execute_request: invalid type: integer `5`"),
            "{error}"
        );
        assert!(parse::<CommMessage>("comm_msg", &json!({"comm_id": ["x"]})).is_err());
        assert!(parse::<ExecuteRequest>("execute_request", &json!("text")).is_err());
        let at: CodeAtCursor = parse(
            "complete_request",
            &json!({"code": "kept", "cursor_pos": 99999}),
        )
        .unwrap();
        assert_eq!(at.cursor(), 4);
    }
}
