//! The dispatch table: every message type the kernel answers, its handler, and whether it may
//! come on the control channel. A type not in the table gets busy, idle and a log line.

use super::{Kernel, Message};
use crate::is_complete::{is_complete, Completeness};
use crate::protocol::replies::{
    CompleteReply, HelpLink, HistoryReply, InspectReply, InterruptReply, IsCompleteReply,
    KernelInfoReply, LanguageInfo, ShutdownReply, Status,
};
use crate::protocol::requests::{
    self, CodeAtCursor, HistoryRequest, IsCompleteRequest, ShutdownRequest,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Map};
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
    vec![request.reply("kernel_info_reply", &kernel_info_content())]
}

fn shutdown(_: &Kernel, request: &Message) -> Vec<Message> {
    with_content(request, |asked: ShutdownRequest| {
        let reply = ShutdownReply {
            status: Status::Ok,
            restart: asked.restart,
        };
        vec![request.reply("shutdown_reply", &reply)]
    })
}

fn interrupt(kernel: &Kernel, request: &Message) -> Vec<Message> {
    kernel.interrupt_pending.store(true, Ordering::SeqCst);
    kernel.executor.interrupt();
    let reply = InterruptReply { status: Status::Ok };
    vec![request.reply("interrupt_reply", &reply)]
}

fn is_complete_request(_: &Kernel, request: &Message) -> Vec<Message> {
    with_content(request, |asked: IsCompleteRequest| {
        let reply = match is_complete(&asked.code) {
            Completeness::Complete => IsCompleteReply::Complete,
            Completeness::Incomplete(indent) => IsCompleteReply::Incomplete { indent },
            Completeness::Invalid => IsCompleteReply::Invalid,
        };
        vec![request.reply("is_complete_reply", &reply)]
    })
}

fn history(kernel: &Kernel, request: &Message) -> Vec<Message> {
    // Checked for shape here; the history reads the fields it knows.
    with_content(request, |_: HistoryRequest| {
        let reply = HistoryReply {
            status: Status::Ok,
            history: kernel.history.lock().unwrap().query(&request.content),
        };
        vec![request.reply("history_reply", &reply)]
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
        let (matches, cursor_start, cursor_end) =
            answer
                .blocking_recv()
                .unwrap_or((Vec::new(), cursor, cursor));
        let reply = CompleteReply {
            status: Status::Ok,
            matches,
            cursor_start,
            cursor_end,
            metadata: Map::new(),
        };
        vec![request.reply("complete_reply", &reply)]
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
        let found = answer.blocking_recv().ok().flatten();
        let mut data = Map::new();
        if let Some((text, markdown)) = &found {
            data.insert("text/plain".into(), json!(text));
            data.insert("text/markdown".into(), json!(markdown));
        }
        let reply = InspectReply {
            status: Status::Ok,
            found: found.is_some(),
            data,
            metadata: Map::new(),
        };
        vec![request.reply("inspect_reply", &reply)]
    })
}

fn kernel_info_content() -> KernelInfoReply {
    KernelInfoReply {
        status: Status::Ok,
        protocol_version: crate::protocol::message::PROTOCOL_VERSION,
        implementation: "trainbook",
        implementation_version: env!("CARGO_PKG_VERSION"),
        language_info: LanguageInfo {
            name: "rust",
            version: rustc_version(),
            mimetype: "text/rust",
            file_extension: ".rs",
            pygments_lexer: "rust",
            codemirror_mode: "rust",
            nbconvert_exporter: "rust",
        },
        banner: format!(
            "Trainbook {} — Rust notebooks for machine learning (evcxr {}).\n\
             The prelude (datasets, models, training, metrics, charts) is in scope in every cell.",
            env!("CARGO_PKG_VERSION"),
            "0.22"
        ),
        debugger: false,
        help_links: vec![
            HelpLink {
                text: "Trainbook README",
                url: "https://github.com/trainbook/trainbook#readme",
            },
            HelpLink {
                text: "The Rust standard library",
                url: "https://doc.rust-lang.org/std/",
            },
            HelpLink {
                text: "candle",
                url: "https://docs.rs/candle-core",
            },
            HelpLink {
                text: "polars",
                url: "https://docs.rs/polars",
            },
        ],
    }
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
