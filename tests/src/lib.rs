//! A minimal Jupyter client for end-to-end tests: starts the built `trainbook` binary with a
//! connection file and talks to it over real ZeroMQ sockets with signed messages. Signing is
//! implemented here independently of the kernel, so a symmetric bug cannot hide.

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

pub mod stale;
pub mod zmtp;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The `trainbook` binary under test: `$TRAINBOOK_BIN`, or the release build in the target dir.
pub fn trainbook_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("TRAINBOOK_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("release/trainbook")
}

/// The repository under test. `cargo test` sets `CARGO_MANIFEST_DIR` when it runs a test, and
/// that is read first: the compile-time value can name another clone, because cargo reuses a
/// compiled test crate from a shared target directory when only the clone's path differs.
pub fn repo_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("..")
}

/// A port for a kernel to bind. Not from the ephemeral range that binding port 0 draws from:
/// between this check and the kernel's bind, any outgoing connection (the other tests' clients
/// connect all the time) can be given that port, and the kernel then fails with "address in
/// use". Below the range only an explicit bind takes a port, and the counter keeps this
/// process's picks distinct.
fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768);
    let low = ephemeral_low.saturating_sub(12000).max(1024);
    let span = ephemeral_low - low;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (low + (std::process::id().wrapping_mul(7919).wrapping_add(n)) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Trainbook's build cache: `$TRAINBOOK_CACHE_DIR` or `~/.cache/trainbook`.
pub fn cache_root() -> PathBuf {
    std::env::var_os("TRAINBOOK_CACHE_DIR")
        .map(Into::into)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/trainbook"))
}

/// Standby kernels waiting to be adopted (warm or still warming), by process id.
pub fn waiting_standbys() -> Vec<u32> {
    let mut pids: Vec<u32> = standby_files()
        .iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            name.strip_prefix("ready-")?
                .strip_suffix(".sock")?
                .parse()
                .ok()
        })
        .filter(|pid: &u32| std::path::Path::new(&format!("/proc/{pid}")).exists())
        .collect();
    pids.sort();
    pids
}

/// Waiting standby kernels whose evaluator is ready (their log, `standby-<pid>.log`, says so;
/// it goes away when a standby is adopted or exits).
pub fn warm_standbys() -> usize {
    let waiting = waiting_standbys();
    standby_files()
        .iter()
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            name.strip_prefix("standby-")
                .and_then(|rest| rest.strip_suffix(".log"))
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| waiting.contains(&pid))
        })
        .filter(|path| {
            std::fs::read_to_string(path).is_ok_and(|log| log.contains("evaluator ready"))
        })
        .count()
}

/// Stops every waiting standby kernel (they would otherwise live as long as their "server").
pub fn stop_standbys() {
    for pid in waiting_standbys() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
}

fn standby_files() -> Vec<PathBuf> {
    let Ok(keys) = std::fs::read_dir(cache_root().join("standby")) else {
        return Vec::new();
    };
    keys.flatten()
        .filter_map(|key| std::fs::read_dir(key.path()).ok())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .collect()
}

pub struct Kernel {
    pub child: Child,
    pub key: String,
    pub ports: [u16; 5],
    /// `tcp` or `ipc`, and the address the connection file names.
    pub transport: String,
    pub ip: String,
    _dir: PathBuf,
}

impl Kernel {
    /// A kernel started as a plain process: no Jupyter server above it, so no standby kernels
    /// (see `start_under_jupyter`).
    pub fn start() -> Result<Kernel> {
        let mut command = Command::new(trainbook_bin());
        command
            .args(["kernel", "--connection-file"])
            .env_remove("JPY_PARENT_PID");
        Self::start_command(command)
    }

    /// A kernel launched as Jupyter launches it: `server_pid` stands for the Jupyter server
    /// (`JPY_PARENT_PID`), `cwd` for the notebook's folder, and one standby kernel is kept.
    pub fn start_under_jupyter(server_pid: u32, cwd: &std::path::Path) -> Result<Kernel> {
        let mut command = Self::under_jupyter(server_pid, 1);
        command.current_dir(cwd);
        Self::start_command(command)
    }

    /// The command Jupyter runs for a Trainbook kernel, with `standbys` kept waiting.
    pub fn under_jupyter(server_pid: u32, standbys: usize) -> Command {
        let mut command = Command::new(trainbook_bin());
        command
            .args(["kernel", "--connection-file"])
            .env("JPY_PARENT_PID", server_pid.to_string())
            .env("TRAINBOOK_STANDBY", standbys.to_string());
        command
    }

    /// Starts any kernel: `command` gets the connection file's path appended (e.g. evcxr_jupyter
    /// with `--control_file`, for side-by-side benchmarks).
    pub fn start_command(command: Command) -> Result<Kernel> {
        Self::start_with_connection(command, "tcp", &uuid::Uuid::new_v4().to_string())
    }

    /// A kernel on the `ipc` transport: its five sockets are files in a fresh folder.
    pub fn start_ipc() -> Result<Kernel> {
        let mut command = Command::new(trainbook_bin());
        command
            .args(["kernel", "--connection-file"])
            .env_remove("JPY_PARENT_PID");
        Self::start_with_connection(command, "ipc", &uuid::Uuid::new_v4().to_string())
    }

    /// A kernel started as a plain process with `key` (an empty key turns signing off).
    pub fn start_with_key(key: &str, env: &[(&str, &str)]) -> Result<Kernel> {
        let mut command = Command::new(trainbook_bin());
        command
            .args(["kernel", "--connection-file"])
            .env_remove("JPY_PARENT_PID");
        for (name, value) in env {
            command.env(name, value);
        }
        Self::start_with_connection(command, "tcp", key)
    }

    fn start_with_connection(mut command: Command, transport: &str, key: &str) -> Result<Kernel> {
        let key = key.to_owned();
        let ports = [
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        ];
        let dir = std::env::temp_dir().join(format!("trainbook-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("connection.json");
        let ip = match transport {
            "ipc" => dir.join("kernel").to_string_lossy().into_owned(),
            _ => "127.0.0.1".to_owned(),
        };
        let info = json!({
            "transport": transport, "ip": ip,
            "shell_port": ports[0], "iopub_port": ports[1], "stdin_port": ports[2],
            "control_port": ports[3], "hb_port": ports[4],
            "key": key, "signature_scheme": "hmac-sha256", "kernel_name": "trainbook"
        });
        std::fs::write(&file, info.to_string())?;
        let child = command
            .arg(&file)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {:?}", command.get_program()))?;
        Ok(Kernel {
            child,
            key,
            ports,
            transport: transport.to_owned(),
            ip,
            _dir: dir,
        })
    }

    /// Where a client connects for `port`.
    pub fn endpoint(&self, port: u16) -> String {
        match self.transport.as_str() {
            "ipc" => format!("ipc://{}-{port}", self.ip),
            transport => format!("{transport}://{}:{port}", self.ip),
        }
    }

    pub async fn connect(&self) -> Result<Client> {
        self.connect_with(true).await
    }

    /// Connects all five channels. Kernels that do not send `iopub_welcome` (evcxr_jupyter) are
    /// waited for with kernel_info requests instead.
    pub async fn connect_with(&self, welcome: bool) -> Result<Client> {
        self.connect_as(&uuid::Uuid::new_v4().to_string(), welcome)
            .await
    }

    /// Connects with the ROUTER identity `identity` on shell, control and stdin.
    pub async fn connect_as(&self, identity: &str, welcome: bool) -> Result<Client> {
        let endpoint = |p: u16| self.endpoint(p);
        let identity = identity.to_owned();
        let options = || {
            let mut o = zeromq::SocketOptions::default();
            o.peer_identity(identity.clone().into_bytes().try_into().unwrap());
            o
        };
        let mut shell = zeromq::DealerSocket::with_options(options());
        let mut control = zeromq::DealerSocket::with_options(options());
        let mut stdin = zeromq::DealerSocket::with_options(options());
        let mut iopub = zeromq::SubSocket::new();
        let mut hb = zeromq::ReqSocket::new();
        // The kernel binds as it starts; retry until it is there.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if shell.connect(&endpoint(self.ports[0])).await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!("kernel did not open its shell port");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        iopub.connect(&endpoint(self.ports[1])).await?;
        iopub.subscribe("").await?;
        stdin.connect(&endpoint(self.ports[2])).await?;
        control.connect(&endpoint(self.ports[3])).await?;
        hb.connect(&endpoint(self.ports[4])).await?;
        let mut client = Client {
            shell,
            control,
            stdin,
            iopub,
            hb,
            key: self.key.clone(),
            session: uuid::Uuid::new_v4().to_string(),
            pending_iopub: Vec::new(),
        };
        if !welcome {
            // Without a welcome there is no way to know the subscription is live: ask until
            // a reply's status messages arrive on IOPub.
            loop {
                let id = client
                    .send(Channel::Shell, "kernel_info_request", json!({}))
                    .await?;
                client.recv(Channel::Shell, Duration::from_secs(60)).await?;
                if client
                    .iopub_until_idle(&id, Duration::from_secs(2))
                    .await
                    .is_ok()
                {
                    return Ok(client);
                }
                if Instant::now() > deadline {
                    bail!("no IOPub status from the kernel");
                }
            }
        }
        // Wait for the IOPub welcome, so no output is missed.
        let welcome = client.next_iopub(Duration::from_secs(30)).await?;
        if welcome["header"]["msg_type"] != "iopub_welcome" {
            bail!("first IOPub message was {}", welcome["header"]["msg_type"]);
        }
        Ok(client)
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Channel {
    Shell,
    Control,
    Stdin,
}

pub struct Client {
    pub shell: zeromq::DealerSocket,
    pub control: zeromq::DealerSocket,
    pub stdin: zeromq::DealerSocket,
    pub iopub: zeromq::SubSocket,
    pub hb: zeromq::ReqSocket,
    pub key: String,
    pub session: String,
    pending_iopub: Vec<Value>,
}

/// A message's frames from the delimiter on: `<IDS|MSG>`, the signature of `parts` (header,
/// parent header, metadata, content) with `key`, then the parts, whatever they hold.
pub fn signed_frames(key: &str, parts: [Vec<u8>; 4]) -> Vec<Bytes> {
    let signature = sign(key, &[&parts[0], &parts[1], &parts[2], &parts[3]]);
    let mut frames = vec![Bytes::from_static(b"<IDS|MSG>"), Bytes::from(signature)];
    frames.extend(parts.into_iter().map(Bytes::from));
    frames
}

pub fn sign(key: &str, parts: &[&[u8]]) -> String {
    let mut mac = HmacSha256::new_from_slice(key.as_bytes()).unwrap();
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

impl Client {
    pub fn message(&self, msg_type: &str, content: Value) -> (String, Vec<Bytes>) {
        self.message_dated(msg_type, content, Some(&chrono::Utc::now().to_rfc3339()))
    }

    /// A signed message whose header carries `date` (or no date at all), as a client with a
    /// wrong clock or none would send it.
    pub fn message_dated(
        &self,
        msg_type: &str,
        content: Value,
        date: Option<&str>,
    ) -> (String, Vec<Bytes>) {
        let msg_id = uuid::Uuid::new_v4().to_string();
        let mut header = json!({
            "msg_id": msg_id, "session": self.session, "username": "test",
            "msg_type": msg_type, "version": "5.3"
        });
        if let Some(date) = date {
            header["date"] = json!(date);
        }
        let parts = [
            header.to_string(),
            "{}".into(),
            "{}".into(),
            content.to_string(),
        ];
        (
            msg_id,
            signed_frames(&self.key, parts.map(String::into_bytes)),
        )
    }

    pub async fn send_frames(&mut self, channel: Channel, frames: Vec<Bytes>) -> Result<()> {
        let msg = ZmqMessage::try_from(frames).map_err(|e| anyhow!("{e:?}"))?;
        match channel {
            Channel::Shell => self.shell.send(msg).await?,
            Channel::Control => self.control.send(msg).await?,
            Channel::Stdin => self.stdin.send(msg).await?,
        }
        Ok(())
    }

    pub async fn send(
        &mut self,
        channel: Channel,
        msg_type: &str,
        content: Value,
    ) -> Result<String> {
        let (id, frames) = self.message(msg_type, content);
        self.send_frames(channel, frames).await?;
        Ok(id)
    }

    fn parse(&self, msg: ZmqMessage) -> Result<Value> {
        let frames = msg.into_vec();
        let d = frames
            .iter()
            .position(|f| f.as_ref() == b"<IDS|MSG>")
            .context("no delimiter")?;
        let parts: Vec<&[u8]> = frames[d + 2..d + 6].iter().map(|f| f.as_ref()).collect();
        let expected = sign(&self.key, &parts);
        if frames[d + 1].as_ref() != expected.as_bytes() {
            bail!("kernel sent a message with a bad signature");
        }
        let j = |i: usize| serde_json::from_slice::<Value>(&frames[d + 2 + i]);
        Ok(json!({
            "header": j(0)?, "parent_header": j(1)?, "metadata": j(2)?, "content": j(3)?,
            "topic": String::from_utf8_lossy(frames.first().map(|f| f.as_ref()).unwrap_or(b"")),
        }))
    }

    pub async fn recv(&mut self, channel: Channel, timeout: Duration) -> Result<Value> {
        let fut = async {
            match channel {
                Channel::Shell => self.shell.recv().await,
                Channel::Control => self.control.recv().await,
                Channel::Stdin => self.stdin.recv().await,
            }
        };
        let msg = tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| anyhow!("no reply on {channel:?} within {timeout:?}"))??;
        self.parse(msg)
    }

    pub async fn next_iopub(&mut self, timeout: Duration) -> Result<Value> {
        if !self.pending_iopub.is_empty() {
            return Ok(self.pending_iopub.remove(0));
        }
        let msg = tokio::time::timeout(timeout, self.iopub.recv())
            .await
            .map_err(|_| anyhow!("no IOPub message within {timeout:?}"))??;
        self.parse(msg)
    }

    /// IOPub messages whose parent is `msg_id`, up to and including its idle status.
    pub async fn iopub_until_idle(
        &mut self,
        msg_id: &str,
        timeout: Duration,
    ) -> Result<Vec<Value>> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        let mut others = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.next_iopub(left).await?;
            if msg["parent_header"]["msg_id"] != msg_id {
                others.push(msg);
                continue;
            }
            let idle = msg["header"]["msg_type"] == "status"
                && msg["content"]["execution_state"] == "idle";
            out.push(msg);
            if idle {
                self.pending_iopub.extend(others);
                return Ok(out);
            }
        }
    }

    /// Sends a cell for execution as a notebook does, without waiting; returns its msg_id.
    pub async fn submit(&mut self, code: &str) -> Result<String> {
        self.send(
            Channel::Shell,
            "execute_request",
            json!({"code": code, "silent": false, "store_history": true,
                   "user_expressions": {}, "allow_stdin": true, "stop_on_error": true}),
        )
        .await
    }

    /// Runs a cell; returns the execute_reply and the IOPub messages it caused.
    pub async fn execute(&mut self, code: &str) -> Result<(Value, Vec<Value>)> {
        self.execute_within(code, Duration::from_secs(120)).await
    }

    /// Runs a cell that may take up to `timeout` (e.g. one that compiles dependencies).
    pub async fn execute_within(
        &mut self,
        code: &str,
        timeout: Duration,
    ) -> Result<(Value, Vec<Value>)> {
        let id = self.submit(code).await?;
        let reply = self.recv(Channel::Shell, timeout).await?;
        let iopub = self.iopub_until_idle(&id, Duration::from_secs(30)).await?;
        Ok((reply, iopub))
    }

    pub async fn request(
        &mut self,
        channel: Channel,
        msg_type: &str,
        content: Value,
    ) -> Result<Value> {
        let id = self.send(channel, msg_type, content).await?;
        let reply = self.recv(channel, Duration::from_secs(60)).await?;
        self.iopub_until_idle(&id, Duration::from_secs(30)).await?;
        Ok(reply)
    }
}

/// The concatenated text of a cell's `stream` outputs with the given name.
pub fn stream_text(iopub: &[Value], name: &str) -> String {
    iopub
        .iter()
        .filter(|m| m["header"]["msg_type"] == "stream" && m["content"]["name"] == name)
        .map(|m| m["content"]["text"].as_str().unwrap_or("").to_owned())
        .collect()
}

pub fn of_type<'a>(iopub: &'a [Value], msg_type: &str) -> Vec<&'a Value> {
    iopub
        .iter()
        .filter(|m| m["header"]["msg_type"] == msg_type)
        .collect()
}

pub fn result_text(iopub: &[Value]) -> Option<String> {
    of_type(iopub, "execute_result").first().and_then(|m| {
        m["content"]["data"]["text/plain"]
            .as_str()
            .map(str::to_owned)
    })
}
