//! The dispatch table: every message type the kernel answers, its handler, and whether it may
//! come on the control channel. A type not in the table gets busy, idle and a log line.

use super::{Kernel, Message};
use crate::is_complete::{is_complete, Completeness};
use crate::protocol::requests::{
    self, CodeAtCursor, HistoryRequest, IsCompleteRequest, ShutdownRequest,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

/// A handler: the request in, its replies out (IOPub output goes through the kernel).
pub type Run = fn(&Kernel, &Message) -> Vec<Message>;

pub struct Handler {
    pub run: Run,
    /// Allowed on control: requests that must not wait behind a running cell, and those that
    /// never touch the evaluator. Anything else there gets an error reply at once.
    pub on_control: bool,
}

/// The one list of message types the kernel handles.
pub fn handler(msg_type: &str) -> Option<Handler> {
    let (run, on_control): (Run, bool) = match msg_type {
        "kernel_info_request" => (kernel_info, true),
        "shutdown_request" => (shutdown, true),
        "interrupt_request" => (interrupt, true),
        "is_complete_request" => (is_complete_request, true),
        "history_request" => (history, true),
        "comm_info_request" => (super::comms::comm_info, true),
        "execute_request" => (super::execute::execute_request, false),
        "complete_request" => (complete, false),
        "inspect_request" => (inspect, false),
        "comm_open" => (super::comms::comm_open, false),
        "comm_msg" => (super::comms::comm_msg, false),
        "comm_close" => (super::comms::comm_close, false),
        _ => return None,
    };
    Some(Handler { run, on_control })
}

/// Runs `answer` on the request's typed content; content of the wrong shape gets an error reply
/// naming the field (requests) or a log line (comm messages, which have no reply).
pub fn with_content<T: DeserializeOwned>(
    request: &Message,
    answer: impl FnOnce(T) -> Vec<Message>,
) -> Vec<Message> {
    match requests::parse::<T>(request.msg_type(), &request.content) {
        Ok(content) => answer(content),
        Err(why) => {
            crate::log::warn(format!("refused a malformed request: {why}"));
            if request.msg_type().ends_with("_request") {
                vec![super::error_reply(request, "BadRequest", &why)]
            } else {
                Vec::new()
            }
        }
    }
}

fn kernel_info(_: &Kernel, request: &Message) -> Vec<Message> {
    vec![request.child("kernel_info_reply", kernel_info_content())]
}

fn shutdown(_: &Kernel, request: &Message) -> Vec<Message> {
    with_content(request, |asked: ShutdownRequest| {
        vec![request.child(
            "shutdown_reply",
            json!({"status": "ok", "restart": asked.restart}),
        )]
    })
}

fn interrupt(kernel: &Kernel, request: &Message) -> Vec<Message> {
    kernel.interrupt_pending.store(true, Ordering::SeqCst);
    kernel.executor.interrupt();
    vec![request.child("interrupt_reply", json!({"status": "ok"}))]
}

fn is_complete_request(_: &Kernel, request: &Message) -> Vec<Message> {
    with_content(request, |asked: IsCompleteRequest| {
        let content = match is_complete(&asked.code) {
            Completeness::Complete => json!({"status": "complete"}),
            Completeness::Incomplete(indent) => {
                json!({"status": "incomplete", "indent": indent})
            }
            Completeness::Invalid => json!({"status": "invalid"}),
        };
        vec![request.child("is_complete_reply", content)]
    })
}

fn history(kernel: &Kernel, request: &Message) -> Vec<Message> {
    // Checked for shape here; the history reads the fields it knows.
    with_content(request, |_: HistoryRequest| {
        let history = kernel.history.lock().unwrap().query(&request.content);
        vec![request.child("history_reply", json!({"status": "ok", "history": history}))]
    })
}

fn complete(kernel: &Kernel, request: &Message) -> Vec<Message> {
    with_content(request, |asked: CodeAtCursor| {
        let cursor = asked.cursor();
        let code = asked.code;
        let (done, answer) = tokio::sync::oneshot::channel();
        kernel
            .executor
            .submit(super::executor::Job::Complete { code, cursor, done });
        let (matches, start, end) = answer
            .blocking_recv()
            .unwrap_or((Vec::new(), cursor, cursor));
        vec![request.child(
            "complete_reply",
            json!({"status": "ok", "matches": matches, "cursor_start": start,
                   "cursor_end": end, "metadata": {}}),
        )]
    })
}

fn inspect(kernel: &Kernel, request: &Message) -> Vec<Message> {
    with_content(request, |asked: CodeAtCursor| {
        let cursor = asked.cursor();
        let code = asked.code;
        let (done, answer) = tokio::sync::oneshot::channel();
        kernel
            .executor
            .submit(super::executor::Job::Inspect { code, cursor, done });
        let content = match answer.blocking_recv().ok().flatten() {
            Some((text, markdown)) => json!({"status": "ok", "found": true,
                "data": {"text/plain": text, "text/markdown": markdown}, "metadata": {}}),
            None => json!({"status": "ok", "found": false, "data": {}, "metadata": {}}),
        };
        vec![request.child("inspect_reply", content)]
    })
}

fn kernel_info_content() -> Value {
    json!({
        "status": "ok",
        "protocol_version": crate::protocol::message::PROTOCOL_VERSION,
        "implementation": "trainbook",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": "rust",
            "version": rustc_version(),
            "mimetype": "text/rust",
            "file_extension": ".rs",
            "pygments_lexer": "rust",
            "codemirror_mode": "rust",
            "nbconvert_exporter": "rust",
        },
        "banner": format!(
            "Trainbook {} — Rust notebooks for machine learning (evcxr {}).\n\
             The prelude (datasets, models, training, metrics, charts) is in scope in every cell.",
            env!("CARGO_PKG_VERSION"), "0.22"
        ),
        "debugger": false,
        "help_links": [
            {"text": "Trainbook README", "url": "https://github.com/trainbook/trainbook#readme"},
            {"text": "The Rust standard library", "url": "https://doc.rust-lang.org/std/"},
            {"text": "candle", "url": "https://docs.rs/candle-core"},
            {"text": "polars", "url": "https://docs.rs/polars"},
        ],
    })
}

fn rustc_version() -> String {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            std::process::Command::new("rustc")
                .arg("--version")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(|s| s.split_whitespace().nth(1).map(str::to_owned))
                .unwrap_or_else(|| "unknown".into())
        })
        .clone()
}
