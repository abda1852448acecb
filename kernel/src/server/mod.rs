//! Request handling: the five sockets, and what the kernel does with each message.

mod executor;

pub use executor::{Executor, StartHooks};

use crate::history::History;
use crate::is_complete::{is_complete, Completeness};
use crate::protocol::{ConnectionInfo, Message, Signer};
use crate::runner::{CellOutcome, Output, OutputSink};
use anyhow::{Context, Result};
use bytes::Bytes;
use executor::Job;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

/// The comm target this kernel serves: a variable inspector that answers with the names and
/// types of the notebook's variables.
pub const VARIABLES_COMM_TARGET: &str = "trainbook.variables";

pub fn log(line: impl AsRef<str>) {
    eprintln!(
        "[trainbook {}] {}",
        chrono::Local::now().format("%H:%M:%S%.3f"),
        line.as_ref()
    );
}

/// Serves a kernel on `info`'s ports with a started executor, until it is asked to shut down.
pub fn run(info: ConnectionInfo, executor: Executor) -> Result<()> {
    // Jupyter interrupts with a message; a Ctrl-C in the terminal that started Jupyter must not
    // kill the kernel.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(serve(info, executor))
}

#[derive(Clone)]
struct Kernel {
    signer: Signer,
    iopub: mpsc::UnboundedSender<Message>,
    stdin: mpsc::UnboundedSender<InputAsk>,
    executor: Executor,
    history: Arc<Mutex<History>>,
    comms: Arc<Mutex<HashMap<String, String>>>,
    execution_count: Arc<Mutex<u64>>,
    /// Set by an interrupt so a cell blocked on `input()` gives up.
    interrupt_pending: Arc<AtomicBool>,
    shutdown: mpsc::UnboundedSender<()>,
}

struct InputAsk {
    request: Message,
    prompt: String,
    password: bool,
    answer: std::sync::mpsc::Sender<String>,
}

async fn bind<S: Socket>(info: &ConnectionInfo, port: u16) -> Result<S> {
    let mut socket = S::new();
    let endpoint = info.endpoint(port);
    socket
        .bind(&endpoint)
        .await
        .with_context(|| format!("cannot bind {endpoint}"))?;
    Ok(socket)
}

async fn serve(info: ConnectionInfo, executor: Executor) -> Result<()> {
    let signer = info.signer();
    let shell: zeromq::RouterSocket = bind(&info, info.shell_port).await?;
    let control: zeromq::RouterSocket = bind(&info, info.control_port).await?;
    let stdin: zeromq::RouterSocket = bind(&info, info.stdin_port).await?;
    let iopub: zeromq::XPubSocket = bind(&info, info.iopub_port).await?;
    let heartbeat: zeromq::RepSocket = bind(&info, info.hb_port).await?;
    log(format!(
        "listening on {} (shell {}, iopub {}, stdin {}, control {}, hb {})",
        info.ip, info.shell_port, info.iopub_port, info.stdin_port, info.control_port, info.hb_port
    ));

    let (iopub_tx, iopub_rx) = mpsc::unbounded_channel();
    tokio::spawn(iopub_loop(iopub, iopub_rx, signer.clone()));
    tokio::spawn(heartbeat_loop(heartbeat));
    let (stdin_tx, stdin_rx) = mpsc::unbounded_channel();
    tokio::spawn(stdin_loop(stdin, stdin_rx, signer.clone()));

    let _ =
        iopub_tx.send(Message::new("status", json!({"execution_state": "starting"})).into_iopub());

    let (shutdown_tx, mut shutdown_rx) = mpsc::unbounded_channel();
    let kernel = Kernel {
        signer,
        iopub: iopub_tx,
        stdin: stdin_tx,
        executor,
        history: Arc::new(Mutex::new(History::open())),
        comms: Arc::new(Mutex::new(HashMap::new())),
        execution_count: Arc::new(Mutex::new(0)),
        interrupt_pending: Arc::new(AtomicBool::new(false)),
        shutdown: shutdown_tx,
    };
    tokio::spawn(request_loop(kernel.clone(), shell, "shell"));
    tokio::spawn(request_loop(kernel.clone(), control, "control"));
    shutdown_rx.recv().await;
    // Give IOPub a moment to deliver the last status messages.
    tokio::time::sleep(Duration::from_millis(100)).await;
    log("shutting down");
    Ok(())
}

trait IntoIopub {
    fn into_iopub(self) -> Message;
}

impl IntoIopub for Message {
    fn into_iopub(mut self) -> Message {
        let msg_type = self.msg_type().to_owned();
        self.identities = vec![Bytes::from(format!(
            "kernel.{}.{msg_type}",
            crate::protocol::message::kernel_session()
        ))];
        self
    }
}

fn to_zmq(frames: Vec<Bytes>) -> Option<ZmqMessage> {
    ZmqMessage::try_from(frames).ok()
}

async fn iopub_loop(
    mut socket: zeromq::XPubSocket,
    mut outgoing: mpsc::UnboundedReceiver<Message>,
    signer: Signer,
) {
    loop {
        tokio::select! {
            message = outgoing.recv() => {
                let Some(message) = message else { return };
                if let Some(frames) = to_zmq(message.to_frames(&signer)) {
                    if let Err(e) = socket.send(frames).await {
                        log(format!("iopub send failed: {e}"));
                    }
                }
            }
            subscription = socket.recv() => {
                // A new subscriber: greet it so the frontend knows IOPub is connected (JEP 65).
                if let Ok(sub) = subscription {
                    let Some(frame) = sub.get(0) else { continue };
                    if frame.first() == Some(&1) {
                        let topic = Bytes::copy_from_slice(&frame[1..]);
                        let mut welcome = Message::new(
                            "iopub_welcome",
                            json!({"subscription": String::from_utf8_lossy(&topic)}),
                        );
                        welcome.identities = vec![topic];
                        if let Some(frames) = to_zmq(welcome.to_frames(&signer)) {
                            let _ = socket.send(frames).await;
                        }
                    }
                }
            }
        }
    }
}

async fn heartbeat_loop(mut socket: zeromq::RepSocket) {
    loop {
        match socket.recv().await {
            Ok(ping) => {
                if let Err(e) = socket.send(ping).await {
                    log(format!("heartbeat send failed: {e}"));
                }
            }
            Err(e) => {
                log(format!("heartbeat receive failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn stdin_loop(
    mut socket: zeromq::RouterSocket,
    mut asks: mpsc::UnboundedReceiver<InputAsk>,
    signer: Signer,
) {
    while let Some(ask) = asks.recv().await {
        let request = ask.request.child(
            "input_request",
            json!({"prompt": ask.prompt, "password": ask.password}),
        );
        let Some(frames) = to_zmq(request.to_frames(&signer)) else {
            continue;
        };
        if socket.send(frames).await.is_err() {
            let _ = ask.answer.send(String::new());
            continue;
        }
        loop {
            let Ok(reply) = socket.recv().await else {
                let _ = ask.answer.send(String::new());
                break;
            };
            match Message::parse(reply.into_vec(), &signer) {
                Ok(msg) if msg.msg_type() == "input_reply" => {
                    let value = msg.content["value"].as_str().unwrap_or("").to_owned();
                    let _ = ask.answer.send(value);
                    break;
                }
                Ok(msg) => log(format!("stdin: ignored unexpected {}", msg.msg_type())),
                Err(e) => log(format!("stdin: dropped message: {e}")),
            }
        }
    }
}

async fn request_loop(kernel: Kernel, mut socket: zeromq::RouterSocket, channel: &'static str) {
    // After a cell fails (with stop_on_error) or is interrupted, execute requests sent before
    // its reply went out were queued behind it: they are aborted, as ipykernel does. Requests
    // sent later, as reactions to the reply, run normally.
    let mut abort_sent_before: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        let frames = match socket.recv().await {
            Ok(m) => m.into_vec(),
            Err(e) => {
                log(format!("{channel}: receive failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let request = match Message::parse(frames, &kernel.signer) {
            Ok(m) => m,
            Err(e) => {
                log(format!("{channel}: dropped message: {e}"));
                continue;
            }
        };
        let msg_type = request.msg_type().to_owned();
        if msg_type == "execute_request"
            && abort_sent_before.is_some_and(|t| sent_before(&request, t))
        {
            kernel.status(&request, "busy");
            let reply = request.child("execute_reply", json!({"status": "aborted"}));
            kernel.status(&request, "idle");
            send_replies(&kernel, &mut socket, channel, vec![reply]).await;
            continue;
        }
        // Each request runs as its own task so that a bug in a handler is reported, not a hang.
        let task = tokio::spawn(handle_request(kernel.clone(), request.clone(), channel));
        let replies = match task.await {
            Ok(replies) => replies,
            Err(e) => {
                log(format!(
                    "{channel}: internal error handling {msg_type}: {e}"
                ));
                let reply_type = msg_type.replace("_request", "_reply");
                vec![request.child(
                    &reply_type,
                    json!({"status": "error", "ename": "InternalError",
                           "evalue": format!("the kernel failed handling {msg_type}: {e}"),
                           "traceback": []}),
                )]
            }
        };
        // Requests sent before this moment cannot be reactions to the reply.
        let replied_at = chrono::Utc::now();
        if msg_type == "execute_request" && kernel.stops_the_queue(&request, &replies) {
            abort_sent_before = Some(replied_at);
        }
        send_replies(&kernel, &mut socket, channel, replies).await;
        if msg_type == "shutdown_request" {
            let _ = kernel.shutdown.send(());
        }
    }
}

impl Kernel {
    fn publish(&self, parent: &Message, msg_type: &str, content: Value) {
        let _ = self
            .iopub
            .send(parent.child(msg_type, content).into_iopub());
    }

    fn status(&self, parent: &Message, state: &str) {
        self.publish(parent, "status", json!({"execution_state": state}));
    }

    /// Whether this execute request's outcome aborts the requests queued behind it: an error
    /// with stop_on_error (the default), or an interrupt.
    fn stops_the_queue(&self, request: &Message, replies: &[Message]) -> bool {
        let interrupted = self.interrupt_pending.swap(false, Ordering::SeqCst);
        let failed = replies.iter().any(|r| r.content["status"] == "error");
        let stop_on_error = request.content["stop_on_error"].as_bool().unwrap_or(true);
        interrupted || (failed && stop_on_error)
    }
}

/// Whether the client sent `request` before `moment` (by its header date; undated counts).
fn sent_before(request: &Message, moment: chrono::DateTime<chrono::Utc>) -> bool {
    request.header["date"]
        .as_str()
        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
        .is_none_or(|d| d <= moment)
}

async fn send_replies(
    kernel: &Kernel,
    socket: &mut zeromq::RouterSocket,
    channel: &str,
    replies: Vec<Message>,
) {
    for reply in replies {
        if let Some(frames) = to_zmq(reply.to_frames(&kernel.signer)) {
            if let Err(e) = socket.send(frames).await {
                log(format!("{channel}: send failed: {e}"));
            }
        }
    }
}

async fn handle_request(kernel: Kernel, request: Message, channel: &'static str) -> Vec<Message> {
    let msg_type = request.msg_type().to_owned();
    // Unknown requests get no reply and no status (as ipykernel), so nothing waits on them.
    let known = matches!(
        msg_type.as_str(),
        "kernel_info_request"
            | "execute_request"
            | "complete_request"
            | "inspect_request"
            | "is_complete_request"
            | "history_request"
            | "comm_info_request"
            | "comm_open"
            | "comm_msg"
            | "comm_close"
            | "shutdown_request"
            | "interrupt_request"
    );
    if !known {
        log(format!(
            "{channel}: ignored unknown message type {msg_type}"
        ));
        return Vec::new();
    }
    kernel.status(&request, "busy");
    let content = &request.content;
    let reply: Option<Message> = match msg_type.as_str() {
        "kernel_info_request" => Some(request.child("kernel_info_reply", kernel_info())),
        "execute_request" => Some(kernel.execute(&request).await),
        "complete_request" => {
            let code = content["code"].as_str().unwrap_or("").to_owned();
            let cursor = content["cursor_pos"]
                .as_u64()
                .unwrap_or(code.chars().count() as u64) as usize;
            let (tx, rx) = oneshot::channel();
            kernel.executor.submit(Job::Complete {
                code,
                cursor,
                done: tx,
            });
            let (matches, start, end) = rx.await.unwrap_or((Vec::new(), cursor, cursor));
            Some(request.child(
                "complete_reply",
                json!({"status": "ok", "matches": matches, "cursor_start": start,
                       "cursor_end": end, "metadata": {}}),
            ))
        }
        "inspect_request" => {
            let code = content["code"].as_str().unwrap_or("").to_owned();
            let cursor = content["cursor_pos"]
                .as_u64()
                .unwrap_or(code.chars().count() as u64) as usize;
            let (tx, rx) = oneshot::channel();
            kernel.executor.submit(Job::Inspect {
                code,
                cursor,
                done: tx,
            });
            let found = rx.await.ok().flatten();
            Some(request.child(
                "inspect_reply",
                match found {
                    Some((text, markdown)) => json!({"status": "ok", "found": true,
                        "data": {"text/plain": text, "text/markdown": markdown}, "metadata": {}}),
                    None => json!({"status": "ok", "found": false, "data": {}, "metadata": {}}),
                },
            ))
        }
        "is_complete_request" => {
            let code = content["code"].as_str().unwrap_or("");
            Some(request.child(
                "is_complete_reply",
                match is_complete(code) {
                    Completeness::Complete => json!({"status": "complete"}),
                    Completeness::Incomplete(indent) => {
                        json!({"status": "incomplete", "indent": indent})
                    }
                    Completeness::Invalid => json!({"status": "invalid"}),
                },
            ))
        }
        "history_request" => {
            let history = kernel.history.lock().unwrap().query(content);
            Some(request.child("history_reply", json!({"status": "ok", "history": history})))
        }
        "comm_info_request" => {
            let target = content["target_name"].as_str();
            let comms: serde_json::Map<String, Value> = kernel
                .comms
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, t)| target.is_none_or(|want| want == t.as_str()))
                .map(|(id, t)| (id.clone(), json!({"target_name": t})))
                .collect();
            Some(request.child("comm_info_reply", json!({"status": "ok", "comms": comms})))
        }
        "comm_open" => {
            kernel.comm_open(&request).await;
            None
        }
        "comm_msg" => {
            kernel.comm_msg(&request).await;
            None
        }
        "comm_close" => {
            let id = content["comm_id"].as_str().unwrap_or("");
            kernel.comms.lock().unwrap().remove(id);
            None
        }
        "shutdown_request" => {
            let restart = content["restart"].as_bool().unwrap_or(false);
            Some(request.child(
                "shutdown_reply",
                json!({"status": "ok", "restart": restart}),
            ))
        }
        "interrupt_request" => {
            kernel.interrupt_pending.store(true, Ordering::SeqCst);
            kernel.executor.interrupt();
            Some(request.child("interrupt_reply", json!({"status": "ok"})))
        }
        _ => None,
    };
    kernel.status(&request, "idle");
    reply.into_iter().collect()
}

fn kernel_info() -> Value {
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

/// Sends a cell's outputs to IOPub with the request as parent.
struct IopubSink {
    kernel: Kernel,
    request: Message,
    silent: bool,
}

impl OutputSink for IopubSink {
    fn emit(&self, output: Output) {
        if self.silent {
            return;
        }
        let (msg_type, content) = output_message(output);
        self.kernel.publish(&self.request, msg_type, content);
    }
}

pub fn output_message(output: Output) -> (&'static str, Value) {
    match output {
        Output::Stream { name, text } => ("stream", json!({"name": name, "text": text})),
        Output::Display {
            data,
            metadata,
            display_id,
        } => {
            let transient = match display_id {
                Some(id) => json!({"display_id": id}),
                None => json!({}),
            };
            (
                "display_data",
                json!({"data": data, "metadata": metadata, "transient": transient}),
            )
        }
        Output::UpdateDisplay {
            data,
            metadata,
            display_id,
        } => (
            "update_display_data",
            json!({"data": data, "metadata": metadata, "transient": {"display_id": display_id}}),
        ),
        Output::Clear { wait } => ("clear_output", json!({"wait": wait})),
    }
}

impl Kernel {
    async fn execute(&self, request: &Message) -> Message {
        let content = &request.content;
        let code = content["code"].as_str().unwrap_or("").to_owned();
        let silent = content["silent"].as_bool().unwrap_or(false);
        let store_history = content["store_history"].as_bool().unwrap_or(true) && !silent;
        let allow_stdin = content["allow_stdin"].as_bool().unwrap_or(true);
        let count = {
            let mut count = self.execution_count.lock().unwrap();
            if store_history {
                *count += 1;
            }
            *count
        };
        if !silent {
            self.publish(
                request,
                "execute_input",
                json!({"code": code, "execution_count": count}),
            );
        }
        self.interrupt_pending.store(false, Ordering::SeqCst);
        let outcome = self.run_cell(request, &code, silent, allow_stdin).await;
        if store_history {
            self.history.lock().unwrap().record(count, &code);
        }

        let mut user_expressions = serde_json::Map::new();
        if let Some(expressions) = content["user_expressions"].as_object() {
            for (name, expr) in expressions {
                let expr = expr.as_str().unwrap_or("").to_owned();
                let value = self.run_cell(request, &expr, true, false).await;
                user_expressions.insert(
                    name.clone(),
                    match (value.error, value.result) {
                        (Some(e), _) => json!({"status": "error", "ename": e.ename,
                            "evalue": e.evalue, "traceback": e.traceback}),
                        (None, data) => json!({"status": "ok",
                            "data": data.unwrap_or_else(|| json!({})), "metadata": {}}),
                    },
                );
            }
        }

        if !outcome.timing.is_empty() && !silent {
            let text: String = outcome
                .timing
                .iter()
                .map(|(phase, d)| format!("{phase}: {:.0} ms\n", d.as_secs_f64() * 1000.0))
                .collect();
            self.publish(request, "stream", json!({"name": "stderr", "text": text}));
        }
        if let Some(result) = &outcome.result {
            if !silent {
                self.publish(
                    request,
                    "execute_result",
                    json!({"execution_count": count, "data": result, "metadata": {}}),
                );
            }
        }
        if outcome.interrupted && outcome.error.is_none() && !silent {
            self.publish(
                request,
                "stream",
                json!({"name": "stderr",
                       "text": "Interrupted: the cell stopped early at your request; its variables are kept.\n"}),
            );
        }
        match outcome.error {
            Some(error) => {
                self.publish(
                    request,
                    "error",
                    json!({"ename": error.ename, "evalue": error.evalue, "traceback": error.traceback}),
                );
                request.child(
                    "execute_reply",
                    json!({"status": "error", "execution_count": count, "ename": error.ename,
                           "evalue": error.evalue, "traceback": error.traceback,
                           "user_expressions": user_expressions, "payload": []}),
                )
            }
            None => request.child(
                "execute_reply",
                json!({"status": "ok", "execution_count": count,
                       "user_expressions": user_expressions, "payload": []}),
            ),
        }
    }

    async fn run_cell(
        &self,
        request: &Message,
        code: &str,
        silent: bool,
        allow_stdin: bool,
    ) -> CellOutcome {
        let sink = Arc::new(IopubSink {
            kernel: self.clone(),
            request: request.clone(),
            silent,
        });
        let stdin = self.stdin.clone();
        let parent = request.clone();
        let pending = self.interrupt_pending.clone();
        let input = Box::new(move |prompt: &str, password: bool| -> String {
            if !allow_stdin {
                eprintln!("[trainbook] input() called but this frontend does not accept input");
                return String::new();
            }
            let (tx, rx) = std::sync::mpsc::channel();
            let _ = stdin.send(InputAsk {
                request: parent.clone(),
                prompt: prompt.to_owned(),
                password,
                answer: tx,
            });
            loop {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(value) => return value,
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        if pending.load(Ordering::SeqCst) {
                            return String::new();
                        }
                    }
                    Err(_) => return String::new(),
                }
            }
        });
        let (tx, rx) = oneshot::channel();
        self.executor.submit(Job::Execute {
            code: code.to_owned(),
            sink,
            input,
            done: tx,
        });
        rx.await.unwrap_or_else(|_| CellOutcome {
            error: Some(crate::runner::CellError {
                ename: "InternalError".into(),
                evalue: "the kernel hit an internal error running this cell; see the kernel log"
                    .into(),
                traceback: vec![],
            }),
            ..Default::default()
        })
    }

    async fn comm_open(&self, request: &Message) {
        let id = request.content["comm_id"].as_str().unwrap_or("").to_owned();
        let target = request.content["target_name"].as_str().unwrap_or("");
        if target == VARIABLES_COMM_TARGET {
            self.comms
                .lock()
                .unwrap()
                .insert(id.clone(), target.to_owned());
            self.send_variables(request, &id).await;
        } else {
            // Unknown target: the protocol says to close the comm straight away.
            self.publish(request, "comm_close", json!({"comm_id": id, "data": {}}));
        }
    }

    async fn comm_msg(&self, request: &Message) {
        let id = request.content["comm_id"].as_str().unwrap_or("").to_owned();
        let known = self.comms.lock().unwrap().contains_key(&id);
        if known {
            self.send_variables(request, &id).await;
        } else {
            log(format!("comm_msg for unknown comm {id}"));
        }
    }

    async fn send_variables(&self, request: &Message, id: &str) {
        let (tx, rx) = oneshot::channel();
        self.executor.submit(Job::Variables { done: tx });
        let variables: Vec<Value> = rx
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(name, ty)| json!({"name": name, "type": ty}))
            .collect();
        self.publish(
            request,
            "comm_msg",
            json!({"comm_id": id, "data": {"variables": variables}}),
        );
    }
}
