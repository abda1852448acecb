//! The kernel server: the five sockets, one thread each, and the dispatch of requests to their
//! handlers (one table, in `handlers`), shaped like ipykernel's kernelbase.
//!
//! - shell and control: a ROUTER each, served in arrival order on their own thread; control
//!   takes only what may not wait behind a running cell (kernel_info, interrupt, shutdown, and
//!   the requests that need no evaluator);
//! - IOPub: one thread owns the XPUB socket and sends what every other thread queues for it,
//!   never waiting on a subscriber;
//! - stdin: asks the frontend for `input()` and matches the reply to the ask;
//! - heartbeat: echoes.

mod comms;
mod execute;
mod executor;
mod handlers;
mod transport;

pub use executor::{Executor, StartHooks};

use crate::config::Config;
use crate::history::History;
use crate::protocol::replies::{ErrorReply, ExecuteReply};
use crate::protocol::{requests, ConnectionInfo, Message, ReplayGuard, Signer};
use anyhow::Result;
use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use transport::{Channel, Received, Socket};

pub use crate::log::info as log;

/// Serves a kernel on `info`'s ports with a started executor, until it is asked to shut down.
/// On the way out the runner and everything it started are killed.
pub fn run(info: ConnectionInfo, executor: Executor) -> Result<()> {
    // Jupyter interrupts with a message; a Ctrl-C in the terminal that started Jupyter must not
    // kill the kernel.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let config = Config::get();
    if info.key.is_empty() {
        crate::log::warn(
            "the connection file's key is empty: messages are not signed, so anyone who can \
             reach these ports can run code as you. Jupyter always writes a key; use an empty \
             one only for tests on a private machine.",
        );
    }
    let context = zmq::Context::new();
    let mut limit = transport::ConnectionLimit::bind(&context, config)?;
    let bind = |channel| Socket::bind(&context, &info, channel, config);
    let shell = bind(Channel::Shell)?;
    let control = bind(Channel::Control)?;
    let stdin = bind(Channel::Stdin)?;
    let iopub = bind(Channel::Iopub)?;
    let heartbeat = bind(Channel::Heartbeat)?;
    for socket in [&shell, &control, &stdin, &iopub, &heartbeat] {
        limit.watch(&context, socket)?;
    }
    spawn("connections", move || limit.run());
    log(format!(
        "listening on {}://{} (shell {}, iopub {}, stdin {}, control {}, hb {})",
        info.transport,
        info.ip,
        info.shell_port,
        info.iopub_port,
        info.stdin_port,
        info.control_port,
        info.hb_port
    ));

    let signer = info.signer();
    let replay = Arc::new(Mutex::new(ReplayGuard::new()));
    let (iopub_tx, iopub_rx) = crossbeam_channel::unbounded();
    let (stdin_tx, stdin_rx) = crossbeam_channel::unbounded();
    let (shutdown_tx, shutdown_rx) = crossbeam_channel::bounded(1);
    let iopub_signer = signer.clone();
    spawn("iopub", move || iopub_loop(iopub, iopub_rx, iopub_signer));
    spawn("heartbeat", move || heartbeat_loop(heartbeat));
    let stdin_signer = signer.clone();
    let stdin_replay = replay.clone();
    spawn("stdin", move || {
        stdin_loop(stdin, stdin_rx, stdin_signer, stdin_replay)
    });

    let _ =
        iopub_tx.send(Message::new("status", json!({"execution_state": "starting"})).into_iopub());
    let kernel = Kernel {
        signer,
        replay,
        iopub: iopub_tx,
        stdin: stdin_tx,
        executor: executor.clone(),
        history: Arc::new(Mutex::new(History::open())),
        comms: Arc::new(Mutex::new(HashMap::new())),
        execution_count: Arc::new(Mutex::new(0)),
        interrupt_pending: Arc::new(AtomicBool::new(false)),
        shutdown: shutdown_tx,
    };
    let shell_kernel = kernel.clone();
    spawn("shell", move || request_loop(shell_kernel, shell));
    spawn("control", move || request_loop(kernel, control));
    let _ = shutdown_rx.recv();
    executor.kill_runner_tree();
    // Give IOPub a moment to deliver the last status messages.
    std::thread::sleep(Duration::from_millis(100));
    log("shutting down");
    Ok(())
}

fn spawn(name: &str, body: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name(format!("trainbook-{name}"))
        .spawn(body)
        .expect("spawn a kernel socket thread");
}

#[derive(Clone)]
struct Kernel {
    signer: Signer,
    replay: Arc<Mutex<ReplayGuard>>,
    iopub: Sender<Message>,
    stdin: Sender<InputAsk>,
    executor: Executor,
    history: Arc<Mutex<History>>,
    comms: Arc<Mutex<HashMap<String, String>>>,
    execution_count: Arc<Mutex<u64>>,
    /// Set by an interrupt so a cell blocked on `input()` gives up.
    interrupt_pending: Arc<AtomicBool>,
    shutdown: Sender<()>,
}

/// A cell's `input()`: the stdin thread asks the frontend and answers here.
struct InputAsk {
    request: Message,
    prompt: String,
    password: bool,
    answer: Sender<String>,
    /// Set when the cell stopped waiting (an interrupt): the stdin thread moves on.
    cancelled: Arc<AtomicBool>,
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

/// How long the IOPub thread waits for outgoing messages before it looks for new subscribers.
const IOPUB_POLL: Duration = Duration::from_millis(20);

fn iopub_loop(socket: Socket, outgoing: Receiver<Message>, signer: Signer) {
    loop {
        match outgoing.recv_timeout(IOPUB_POLL) {
            Ok(message) => {
                socket.send(message.to_frames(&signer));
                // A burst goes out together, but new subscribers are still greeted during it.
                for message in outgoing.try_iter().take(1000) {
                    socket.send(message.to_frames(&signer));
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        }
        // A new subscriber: greet it so the frontend knows IOPub is connected (JEP 65).
        while let Ok(Received::Frames(subscription)) = socket.receive(0) {
            let Some(frame) = subscription.first() else {
                continue;
            };
            if frame.first() == Some(&1) {
                let topic = Bytes::copy_from_slice(&frame[1..]);
                let mut welcome = Message::new(
                    "iopub_welcome",
                    json!({"subscription": String::from_utf8_lossy(&topic)}),
                );
                welcome.identities = vec![topic];
                socket.send(welcome.to_frames(&signer));
            }
        }
    }
}

fn heartbeat_loop(socket: Socket) {
    loop {
        match socket.receive(-1) {
            Ok(Received::Frames(ping)) => socket.send(ping),
            Ok(Received::Nothing) => {}
            Ok(Received::TooLarge(why)) => transport::report_refused(socket.channel, &why),
            Err(e) => {
                crate::log::warn(format!("heartbeat: receive failed: {e}"));
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn stdin_loop(
    socket: Socket,
    asks: Receiver<InputAsk>,
    signer: Signer,
    replay: Arc<Mutex<ReplayGuard>>,
) {
    loop {
        let ask = match asks.recv_timeout(Duration::from_millis(200)) {
            Ok(ask) => ask,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                // Replies nobody waits for (the ask was cancelled) are read and dropped.
                while let Ok(Received::Frames(_)) = socket.receive(0) {}
                continue;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        };
        let request = ask.request.child(
            "input_request",
            json!({"prompt": ask.prompt, "password": ask.password}),
        );
        let asked = request.header["msg_id"].clone();
        // Whatever waits on the socket now cannot answer an ask not yet made.
        while let Ok(Received::Frames(_)) = socket.receive(0) {}
        socket.send(request.to_frames(&signer));
        while !ask.cancelled.load(Ordering::SeqCst) {
            let frames = match socket.receive(100) {
                Ok(Received::Frames(frames)) => frames,
                Ok(Received::Nothing) => continue,
                Ok(Received::TooLarge(why)) => {
                    transport::report_refused(socket.channel, &why);
                    continue;
                }
                Err(e) => {
                    crate::log::warn(format!("stdin: receive failed: {e}"));
                    let _ = ask.answer.send(String::new());
                    break;
                }
            };
            match accept(frames, &signer, &replay) {
                // jupyter_client sends input_reply without a parent; JupyterLab parents it on
                // the ask. A reply parented on another (an earlier, cancelled) ask is stale.
                Ok(reply)
                    if reply.msg_type() == "input_reply"
                        && reply
                            .parent_header
                            .get("msg_id")
                            .is_none_or(|id| *id == asked) =>
                {
                    let value =
                        requests::parse::<requests::InputReply>("input_reply", &reply.content)
                            .map(|r| r.value)
                            .unwrap_or_default();
                    let _ = ask.answer.send(value);
                    break;
                }
                Ok(other) => log(format!(
                    "stdin: ignored a {} that answers no open input request",
                    other.msg_type()
                )),
                Err(e) => crate::log::warn(format!("stdin: dropped a message: {e}")),
            }
        }
    }
}

/// Parses and verifies a message, and refuses one whose signature was seen before.
fn accept(
    frames: Vec<Bytes>,
    signer: &Signer,
    replay: &Mutex<ReplayGuard>,
) -> anyhow::Result<Message> {
    let message = Message::parse(frames, signer)?;
    if !replay.lock().unwrap().first_time(&message.signature) {
        anyhow::bail!(
            "a {} whose signature was already used (a replayed message)",
            message.msg_type()
        );
    }
    Ok(message)
}

fn request_loop(kernel: Kernel, socket: Socket) {
    loop {
        if let Some(request) = kernel.next_request(&socket, -1) {
            kernel.dispatch(&socket, request);
        }
    }
}

impl Kernel {
    /// The next genuine request on `socket` within `timeout_ms`; anything malformed, badly
    /// signed, replayed or too large is logged and skipped.
    fn next_request(&self, socket: &Socket, timeout_ms: i64) -> Option<Message> {
        let channel = socket.channel.name();
        match socket.receive(timeout_ms) {
            Ok(Received::Frames(frames)) => match accept(frames, &self.signer, &self.replay) {
                Ok(request) => Some(request),
                Err(e) => {
                    crate::log::warn(format!("{channel}: dropped a message: {e}"));
                    None
                }
            },
            Ok(Received::Nothing) => None,
            Ok(Received::TooLarge(why)) => {
                transport::report_refused(socket.channel, &why);
                None
            }
            Err(e) => {
                crate::log::warn(format!("{channel}: receive failed: {e}"));
                std::thread::sleep(Duration::from_millis(50));
                None
            }
        }
    }

    /// Runs one request: busy, the handler's replies, idle. Every request of a known or unknown
    /// type gets its busy and idle, and a handler that panics still answers with an error reply.
    fn dispatch(&self, socket: &Socket, request: Message) {
        let msg_type = request.msg_type().to_owned();
        self.status(&request, "busy");
        let replies = match handlers::handler(&msg_type) {
            None => {
                log(format!(
                    "{}: ignored unknown message type {msg_type:?}",
                    socket.channel.name()
                ));
                Vec::new()
            }
            Some(handler) if socket.channel == Channel::Control && !handler.on_control => {
                vec![error_reply(
                    &request,
                    "WrongChannel",
                    &format!(
                        "{msg_type} belongs on the shell channel; the control channel takes \
                         only kernel_info, interrupt, shutdown and requests that never wait \
                         for a cell"
                    ),
                )]
            }
            Some(handler) => {
                let run = std::panic::AssertUnwindSafe(|| (handler.run)(self, &request));
                std::panic::catch_unwind(run).unwrap_or_else(|panic| {
                    let what = panic_text(&*panic);
                    crate::log::warn(format!("internal error handling {msg_type}: {what}"));
                    vec![error_reply(
                        &request,
                        "InternalError",
                        &format!("the kernel failed handling {msg_type}: {what}"),
                    )]
                })
            }
        };
        // After a failed cell (with stop_on_error) or an interrupt, the execute requests that
        // are already waiting were sent before the reply: they are aborted, as ipykernel does.
        // Which ones is decided by arrival, not by the client's clock.
        let queued = if msg_type == "execute_request" && self.stops_the_queue(&request, &replies) {
            self.waiting_requests(socket)
        } else {
            Vec::new()
        };
        self.status(&request, "idle");
        for reply in replies {
            socket.send(reply.to_frames(&self.signer));
        }
        for waiting in queued {
            if waiting.msg_type() == "execute_request" {
                self.status(&waiting, "busy");
                let reply = waiting.reply("execute_reply", &ExecuteReply::Aborted {});
                self.status(&waiting, "idle");
                socket.send(reply.to_frames(&self.signer));
            } else {
                self.dispatch(socket, waiting);
            }
        }
        if msg_type == "shutdown_request" {
            let _ = self.shutdown.send(());
        }
    }

    /// The requests already waiting on `socket`, read without waiting.
    fn waiting_requests(&self, socket: &Socket) -> Vec<Message> {
        let mut waiting = Vec::new();
        loop {
            match socket.receive(0) {
                Ok(Received::Nothing) | Err(_) => return waiting,
                Ok(Received::TooLarge(why)) => transport::report_refused(socket.channel, &why),
                Ok(Received::Frames(frames)) => match accept(frames, &self.signer, &self.replay) {
                    Ok(request) => waiting.push(request),
                    Err(e) => crate::log::warn(format!(
                        "{}: dropped a message: {e}",
                        socket.channel.name()
                    )),
                },
            }
        }
    }

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

/// `<type>_reply` with status error.
fn error_reply(request: &Message, ename: &str, evalue: &str) -> Message {
    let reply_type = match request.msg_type().strip_suffix("_request") {
        Some(stem) => format!("{stem}_reply"),
        None => format!("{}_reply", request.msg_type()),
    };
    request.reply(&reply_type, &ErrorReply::new(ename, evalue))
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}
