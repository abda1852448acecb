//! The five Jupyter sockets on libzmq (through the `zmq` crate).
//!
//! libzmq rather than the pure-Rust `zeromq` crate: `zeromq` (0.6, and 0.7's codec too)
//! reserves whatever length a peer's frame header announces before checking it, so 9 bytes
//! could abort the kernel, and its XPUB send waits on each subscriber in turn, so one frontend
//! that stopped reading froze IOPub for all. libzmq checks a frame's announced size against
//! `ZMQ_MAXMSGSIZE` before reserving memory, queues at most a high-water mark of messages per
//! subscriber and drops the rest for that subscriber only, refuses a second connection that
//! claims an identity already connected to a ROUTER, and speaks the `ipc` transport.

use crate::config::Config;
use crate::log;
use crate::protocol::ConnectionInfo;
use anyhow::{Context, Result};
use bytes::Bytes;

/// Which of the kernel's sockets, for binding and for log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Shell,
    Control,
    Stdin,
    Iopub,
    Heartbeat,
}

impl Channel {
    pub fn name(self) -> &'static str {
        match self {
            Channel::Shell => "shell",
            Channel::Control => "control",
            Channel::Stdin => "stdin",
            Channel::Iopub => "iopub",
            Channel::Heartbeat => "heartbeat",
        }
    }

    fn port(self, info: &ConnectionInfo) -> u16 {
        match self {
            Channel::Shell => info.shell_port,
            Channel::Control => info.control_port,
            Channel::Stdin => info.stdin_port,
            Channel::Iopub => info.iopub_port,
            Channel::Heartbeat => info.hb_port,
        }
    }

    fn kind(self) -> zmq::SocketType {
        match self {
            Channel::Shell | Channel::Control | Channel::Stdin => zmq::ROUTER,
            Channel::Iopub => zmq::XPUB,
            Channel::Heartbeat => zmq::REP,
        }
    }
}

/// One bound socket. libzmq sockets belong to one thread at a time: each is moved to the thread
/// that serves it.
pub struct Socket {
    pub channel: Channel,
    socket: zmq::Socket,
    max_message_bytes: usize,
    max_frames: usize,
}

/// What a receive got.
pub enum Received {
    Frames(Vec<Bytes>),
    /// Nothing arrived in the time given.
    Nothing,
    /// A message over the size or frame limits, read and thrown away.
    TooLarge(String),
}

impl Socket {
    pub fn bind(
        context: &zmq::Context,
        info: &ConnectionInfo,
        channel: Channel,
        config: &Config,
    ) -> Result<Socket> {
        let socket = context.socket(channel.kind())?;
        // Every connection asks `ConnectionLimit` (ZAP) before its handshake completes.
        socket.set_zap_domain(channel.name())?;
        socket.set_maxmsgsize(config.max_message_bytes as i64)?;
        socket.set_handshake_ivl(config.handshake_ms)?;
        socket.set_linger(1000)?;
        match channel {
            Channel::Iopub => {
                socket.set_sndhwm(config.iopub_queue)?;
                // Every subscription reaches us, so every new frontend gets its welcome.
                socket.set_xpub_verbose(true)?;
            }
            Channel::Shell | Channel::Control | Channel::Stdin => {
                // The default, said out loud: a connection that claims an identity already
                // connected is refused, so no client's replies can be taken over.
                socket.set_router_handover(false)?;
            }
            Channel::Heartbeat => {}
        }
        let endpoint = info.endpoint(channel.port(info));
        socket
            .bind(&endpoint)
            .with_context(|| format!("cannot bind the {} socket to {endpoint}", channel.name()))?;
        Ok(Socket {
            channel,
            socket,
            max_message_bytes: config.max_message_bytes,
            max_frames: config.max_frames,
        })
    }

    /// Waits up to `timeout_ms` (-1: forever) for a message and reads all its frames. A message
    /// over the limits is read to its end and dropped, so the next one starts clean.
    pub fn receive(&self, timeout_ms: i64) -> Result<Received> {
        if self.socket.poll(zmq::POLLIN, timeout_ms)? == 0 {
            return Ok(Received::Nothing);
        }
        let mut frames = Vec::new();
        let mut total = 0usize;
        let mut refused = None;
        loop {
            let frame = match self.socket.recv_bytes(zmq::DONTWAIT) {
                Ok(frame) => frame,
                Err(zmq::Error::EAGAIN) if frames.is_empty() => return Ok(Received::Nothing),
                Err(e) => return Err(e.into()),
            };
            total += frame.len();
            if refused.is_none() {
                if total > self.max_message_bytes {
                    refused = Some(format!(
                        "a message of more than {} bytes (TRAINBOOK_MAX_MESSAGE_BYTES)",
                        self.max_message_bytes
                    ));
                    frames = Vec::new();
                } else if frames.len() >= self.max_frames {
                    refused = Some(format!(
                        "a message of more than {} frames (TRAINBOOK_MAX_FRAMES)",
                        self.max_frames
                    ));
                    frames = Vec::new();
                } else {
                    frames.push(Bytes::from(frame));
                }
            }
            if !self.socket.get_rcvmore()? {
                break;
            }
        }
        Ok(match refused {
            Some(why) => Received::TooLarge(why),
            None => Received::Frames(frames),
        })
    }

    /// Sends a whole message. Never blocks: a peer that is not reading loses the message (a
    /// ROUTER or XPUB at its high-water mark drops it), and the rest of the kernel goes on.
    pub fn send(&self, frames: Vec<Bytes>) {
        let count = frames.len();
        for (i, frame) in frames.into_iter().enumerate() {
            let more = if i + 1 < count { zmq::SNDMORE } else { 0 };
            if let Err(e) = self.socket.send(&frame[..], more | zmq::DONTWAIT) {
                if e != zmq::Error::EAGAIN {
                    log::warn(format!("{}: send failed: {e}", self.channel.name()));
                }
                return;
            }
        }
    }
}

/// Refuses connections past `TRAINBOOK_MAX_CONNECTIONS` per socket. libzmq has no such limit of
/// its own; it asks a ZAP handler (the ZeroMQ authentication protocol, on
/// `inproc://zeromq.zap.01`) about every connection whose socket has a ZAP domain, and tells
/// socket monitors when a connection is accepted or closed. One thread does both: it counts
/// each socket's open connections and answers 400 when a new one would exceed the limit.
pub struct ConnectionLimit {
    handler: zmq::Socket,
    monitors: Vec<(Channel, zmq::Socket)>,
    open: std::collections::HashMap<&'static str, i64>,
    limit: i64,
}

impl ConnectionLimit {
    /// Binds the ZAP handler: before any socket is bound, so no connection slips past it.
    pub fn bind(context: &zmq::Context, config: &Config) -> Result<ConnectionLimit> {
        let handler = context.socket(zmq::REP)?;
        handler
            .bind("inproc://zeromq.zap.01")
            .context("cannot start the connection limit (ZAP handler)")?;
        Ok(ConnectionLimit {
            handler,
            monitors: Vec::new(),
            open: Default::default(),
            limit: config.max_connections as i64,
        })
    }

    /// Counts `socket`'s connections.
    pub fn watch(&mut self, context: &zmq::Context, socket: &Socket) -> Result<()> {
        let endpoint = format!("inproc://trainbook-monitor-{}", socket.channel.name());
        let events = zmq::SocketEvent::ACCEPTED as i32 | zmq::SocketEvent::DISCONNECTED as i32;
        socket.socket.monitor(&endpoint, events)?;
        let monitor = context.socket(zmq::PAIR)?;
        monitor.connect(&endpoint)?;
        self.monitors.push((socket.channel, monitor));
        Ok(())
    }

    /// Serves forever (on its own thread).
    pub fn run(mut self) {
        loop {
            let ready: Vec<bool> = {
                let mut items: Vec<zmq::PollItem> = self
                    .monitors
                    .iter()
                    .map(|(_, m)| m.as_poll_item(zmq::POLLIN))
                    .collect();
                items.push(self.handler.as_poll_item(zmq::POLLIN));
                if zmq::poll(&mut items, -1).is_err() {
                    continue;
                }
                items.iter().map(|i| i.is_readable()).collect()
            };
            // Connection events first, so a request is judged on current counts.
            for (i, (channel, monitor)) in self.monitors.iter().enumerate() {
                if !ready[i] {
                    continue;
                }
                while let Ok(event) = monitor.recv_multipart(zmq::DONTWAIT) {
                    let Some(head) = event.first().filter(|h| h.len() >= 2) else {
                        continue;
                    };
                    let id = u16::from_le_bytes([head[0], head[1]]);
                    let open = self.open.entry(channel.name()).or_insert(0);
                    if id == zmq::SocketEvent::ACCEPTED as u16 {
                        *open += 1;
                    } else if id == zmq::SocketEvent::DISCONNECTED as u16 {
                        *open = (*open - 1).max(0);
                        // libzmq does not say why; a frame over the limit is one reason.
                        log::info(format!(
                            "{}: a connection closed (the peer left, or broke the protocol, \
                             e.g. with a frame over TRAINBOOK_MAX_MESSAGE_BYTES); {} open",
                            channel.name(),
                            open
                        ));
                    }
                }
            }
            if ready[self.monitors.len()] {
                self.answer();
            }
        }
    }

    /// One ZAP request: version, request id, domain, address, identity, mechanism, credentials.
    fn answer(&mut self) {
        let Ok(request) = self.handler.recv_multipart(zmq::DONTWAIT) else {
            return;
        };
        let field = |i: usize| request.get(i).cloned().unwrap_or_default();
        let domain = String::from_utf8_lossy(&field(2)).into_owned();
        let address = String::from_utf8_lossy(&field(3)).into_owned();
        let open = self.open.get(domain.as_str()).copied().unwrap_or(0);
        let (status, text) = if open > self.limit {
            log::warn(format!(
                "{domain}: refused a connection from {address}: {} are open already \
                 (TRAINBOOK_MAX_CONNECTIONS)",
                open - 1
            ));
            ("400", "too many connections")
        } else {
            ("200", "OK")
        };
        let reply: [&[u8]; 6] = [
            b"1.0",
            &field(1),
            status.as_bytes(),
            text.as_bytes(),
            b"",
            b"",
        ];
        if let Err(e) = self.handler.send_multipart(reply, 0) {
            log::warn(format!("connection limit: could not answer: {e}"));
        }
    }
}

/// Logs what a receive failure or a refused message means, once per message.
pub fn report_refused(channel: Channel, why: &str) {
    log::warn(format!(
        "{}: dropped {why}; the sender keeps its connection only if it stays under the limit",
        channel.name()
    ));
}
