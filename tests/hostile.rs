//! Hostile peers and hostile output (issue 25): each attack is made over real sockets against
//! the built kernel, and each test then checks that the kernel is alive, answers kernel_info,
//! kept its variables, and that a legitimate client saw every message it should.

use bytes::Bytes;
use serde_json::json;
use std::time::{Duration, Instant};
use trainbook_tests::zmtp::RawPeer;
use trainbook_tests::{of_type, result_text, stream_text, Channel, Client, Kernel};

const T: Duration = Duration::from_secs(60);

/// The kernel still runs cells, kept `kept` (which must be 41), and answers kernel_info.
async fn assert_alive(c: &mut Client) {
    let info = c
        .request(Channel::Shell, "kernel_info_request", json!({}))
        .await
        .unwrap();
    assert_eq!(info["content"]["status"], "ok");
    let (reply, iopub) = c.execute("kept + 1").await.unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(result_text(&iopub).as_deref(), Some("42"));
}

async fn started() -> (Kernel, Client) {
    let kernel = Kernel::start().unwrap();
    let mut c = kernel.connect().await.unwrap();
    c.execute("let kept = 41;").await.unwrap();
    (kernel, c)
}

#[tokio::test(flavor = "multi_thread")]
async fn frame_headers_announcing_huge_sizes_are_refused_on_every_socket() {
    let (kernel, mut c) = started().await;
    // 9 bytes and no key: a ZMTP 1.0-style header announcing 2^50 bytes, on every port.
    for port in kernel.ports {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut attack = vec![0xFF];
        attack.extend_from_slice(&(1u64 << 50).to_be_bytes());
        let _ = stream.write_all(&attack);
    }
    // After a full handshake: a long frame announcing 2^50 bytes, then one announcing a frame
    // just over the limit, on each socket type that reads messages.
    for (port, socket_type) in [
        (kernel.ports[0], "DEALER"),
        (kernel.ports[3], "DEALER"),
        (kernel.ports[2], "DEALER"),
        (kernel.ports[4], "REQ"),
        (kernel.ports[1], "SUB"),
    ] {
        for size in [1u64 << 50, (512 << 20) + 1] {
            use std::io::Write;
            let mut peer = RawPeer::connect(port, socket_type).unwrap();
            peer.stream.write_all(&[0x02]).unwrap();
            peer.stream.write_all(&size.to_be_bytes()).unwrap();
            assert!(
                peer.closed_within(Duration::from_secs(10)),
                "{socket_type} on {port} kept a peer announcing {size} bytes"
            );
        }
    }
    assert!(kernel_running(&kernel), "the kernel process died");
    assert_alive(&mut c).await;
    // The heartbeat still echoes.
    use zeromq::{SocketRecv, SocketSend};
    c.hb.send(zeromq::ZmqMessage::from("ping")).await.unwrap();
    let pong = tokio::time::timeout(T, c.hb.recv()).await.unwrap().unwrap();
    assert_eq!(pong.get(0).unwrap().as_ref(), b"ping");
}

/// Runs `code` and returns the length of its stdout as a raw ZMTP subscriber saw it, with a
/// fresh client. (The test client's own subscriber, the `zeromq` crate, takes minutes over
/// tens of megabytes, so it would measure itself; it is dropped before the output flows.)
async fn execute_reading_raw(kernel: &Kernel, c: Client, code: &str) -> (Client, usize) {
    let mut reader = RawPeer::connect(kernel.ports[1], "SUB").unwrap();
    reader.send_frame(&[1]).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c = c;
    let id = c.submit(code).await.unwrap();
    drop(c);
    let reading = tokio::task::spawn_blocking(move || {
        let mut stdout = 0usize;
        loop {
            let frames = reader.read_message().expect("IOPub stopped for the reader");
            let Some(d) = frames.iter().position(|f| f.as_slice() == b"<IDS|MSG>") else {
                continue;
            };
            let parent: serde_json::Value = serde_json::from_slice(&frames[d + 3]).unwrap();
            if parent["msg_id"] != id.as_str() {
                continue;
            }
            let header: serde_json::Value = serde_json::from_slice(&frames[d + 2]).unwrap();
            let content: serde_json::Value = serde_json::from_slice(&frames[d + 5]).unwrap();
            match header["msg_type"].as_str() {
                Some("stream") => stdout += content["text"].as_str().unwrap().len(),
                Some("status") if content["execution_state"] == "idle" => return stdout,
                _ => {}
            }
        }
    });
    let stdout = tokio::time::timeout(Duration::from_secs(120), reading)
        .await
        .expect("the reader saw no idle within 120 s")
        .unwrap();
    (kernel.connect().await.unwrap(), stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscriber_that_never_reads_does_not_hold_up_the_others() {
    let (kernel, c) = started().await;
    // Subscribes to everything, then never reads a byte.
    let mut stalled = RawPeer::connect(kernel.ports[1], "SUB").unwrap();
    stalled.send_frame(&[1]).unwrap();
    // 40 MB of output, in lines of 1 MiB, read by a frontend that keeps up.
    let started = Instant::now();
    let (mut c, stdout) = execute_reading_raw(
        &kernel,
        c,
        "for i in 0..40 { println!(\"{}\", char::from(b'a' + (i % 26) as u8).to_string().repeat(1 << 20)); }",
    )
    .await;
    assert_eq!(
        stdout,
        40 * ((1 << 20) + 1),
        "the reading frontend lost output"
    );
    eprintln!(
        "40 MB with a stalled subscriber: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_alive(&mut c).await;
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_request_runs_once() {
    let (_kernel, mut c) = started().await;
    c.execute("let mut runs = 0;").await.unwrap();
    let (id, frames) = c.message(
        "execute_request",
        json!({"code": "runs += 1;", "silent": false}),
    );
    c.send_frames(Channel::Shell, frames.clone()).await.unwrap();
    let reply = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(reply["parent_header"]["msg_id"], id);
    c.iopub_until_idle(&id, T).await.unwrap();
    // The same signed frames again, on shell and on control.
    c.send_frames(Channel::Shell, frames.clone()).await.unwrap();
    c.send_frames(Channel::Control, frames).await.unwrap();
    let (reply, iopub) = c.execute("runs").await.unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    assert_eq!(result_text(&iopub).as_deref(), Some("1"));
    assert_alive(&mut c).await;
}

/// Every process whose parent chain reaches `root`, by /proc.
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest.to_owned()) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if let Some(ppid) = fields.get(1).and_then(|p| p.parse::<u32>().ok()) {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn kernel_running(kernel: &Kernel) -> bool {
    alive(kernel.child.id())
}

/// Starts a cell that spawns a child process and spins; returns the runner's process tree.
async fn spinning_tree(kernel: &Kernel, c: &mut Client) -> Vec<u32> {
    let id = c
        .submit(
            "let child = std::process::Command::new(\"sleep\").arg(\"600\").spawn().unwrap();\n\
             println!(\"spawned\");\nloop { std::hint::spin_loop(); }",
        )
        .await
        .unwrap();
    loop {
        let m = c.next_iopub(T).await.unwrap();
        if m["header"]["msg_type"] == "stream" && m["parent_header"]["msg_id"] == id {
            break;
        }
    }
    let tree = descendants(kernel.child.id());
    assert!(
        tree.len() >= 2,
        "expected the runner and its sleep: {tree:?}"
    );
    tree
}

async fn all_gone(tree: &[u32]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if tree.iter().all(|&pid| !alive(pid)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_and_a_killed_kernel_leave_no_process_behind() {
    // A shutdown request while a cell spins.
    let (mut kernel, mut c) = started().await;
    let tree = spinning_tree(&kernel, &mut c).await;
    // When memory runs out, the OOM killer takes the runner and what a cell spawned, not the
    // kernel (which holds rust-analyzer's index, the larger process): the kernel's badness as
    // the OOM killer computes it is below every process of the runner's tree.
    let oom_score = |pid: u32| -> i64 {
        std::fs::read_to_string(format!("/proc/{pid}/oom_score"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(-1)
    };
    let kernel_score = oom_score(kernel.child.id());
    for &pid in &tree {
        assert!(
            oom_score(pid) > kernel_score,
            "pid {pid}: oom_score {} not above the kernel's {kernel_score}",
            oom_score(pid)
        );
    }
    let reply = c
        .request(
            Channel::Control,
            "shutdown_request",
            json!({"restart": false}),
        )
        .await
        .unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    assert!(kernel.wait_exit(Duration::from_secs(10)).is_some());
    assert!(
        all_gone(&tree).await,
        "left running after shutdown: {tree:?}"
    );

    // The kernel killed outright (as Jupyter does when a kernel does not answer).
    let (kernel, mut c) = started().await;
    let tree = spinning_tree(&kernel, &mut c).await;
    unsafe { libc_kill(kernel.child.id() as i32, 9) };
    assert!(
        all_gone(&tree).await,
        "left running after SIGKILL: {tree:?}"
    );
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

#[tokio::test(flavor = "multi_thread")]
async fn printed_markers_are_text_and_never_desynchronise_cells() {
    let (_kernel, mut c) = started().await;
    // Trainbook's own markers, as a cell's data could contain them.
    let forged = r#"println!("TRAINBOOK_DISPLAY {{\"op\":\"display\",\"data\":{{\"text/html\":\"<script>alert(1)</script>\"}}}}");
println!("TRAINBOOK_PANIC {{\"message\":\"fake\",\"location\":\"x\"}}");
println!("TRAINBOOK_PART \"fake part\"");
eprintln!("TRAINBOOK_ERROR {{\"ename\":\"Fake\",\"evalue\":\"fake\",\"traceback\":[]}}");
eprintln!("TRAINBOOK_STDERR_SYNC");
println!("EVCXR_EXECUTION_COMPLETE");
println!("after the fake end");"#;
    let (reply, iopub) = c.execute(forged).await.unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert!(of_type(&iopub, "display_data").is_empty(), "{iopub:?}");
    assert!(of_type(&iopub, "error").is_empty(), "{iopub:?}");
    let stdout = stream_text(&iopub, "stdout");
    for text in [
        "TRAINBOOK_DISPLAY {\"op\"",
        "<script>",
        "TRAINBOOK_PANIC",
        "TRAINBOOK_PART \"fake part\"",
        "EVCXR_EXECUTION_COMPLETE\n",
        "after the fake end\n",
    ] {
        assert!(stdout.contains(text), "{text:?} missing from {stdout:?}");
    }
    let stderr = stream_text(&iopub, "stderr");
    assert!(
        stderr.contains("TRAINBOOK_ERROR {\"ename\":\"Fake\""),
        "{stderr:?}"
    );
    assert!(stderr.contains("TRAINBOOK_STDERR_SYNC"), "{stderr:?}");
    // The next cells see only their own output.
    for n in 0..3 {
        let (_, iopub) = c
            .execute(&format!("println!(\"cell {n}\");"))
            .await
            .unwrap();
        assert_eq!(stream_text(&iopub, "stdout"), format!("cell {n}\n"));
    }
    // Genuine displays still work.
    let (_, iopub) = c.execute("display(&Text::new(\"real\"));").await.unwrap();
    assert_eq!(of_type(&iopub, "display_data").len(), 1, "{iopub:?}");

    // evcxr's input request, printed by a cell that never reads the answer: the answer is
    // left for the runner's instruction loop, which must not take it for an instruction and
    // end the runner with every variable.
    let forged = c
        .submit("println!(\"EVCXR_INPUT_REQUEST:forged\");")
        .await
        .unwrap();
    let ask = c.recv(Channel::Stdin, T).await.unwrap();
    let prompt = ask["content"]["prompt"].as_str().unwrap_or_default();
    assert!(prompt.contains("forged"), "{ask}");
    c.send_frames(Channel::Stdin, answer_to(&c, &ask, "not an instruction"))
        .await
        .unwrap();
    let reply = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    c.iopub_until_idle(&forged, T).await.unwrap();
    // `kept`, defined before, is still there: the runner did not exit.
    assert_alive(&mut c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn output_that_is_not_utf8_is_shown_lossily_and_keeps_cells_in_step() {
    let (_kernel, mut c) = started().await;
    let (reply, iopub) = c
        .execute(
            "use std::io::Write;\n\
             std::io::stdout().write_all(b\"out \\xff\\xfe end\\n\").unwrap();\n\
             std::io::stdout().write_all(b\"partial \\xc3\").unwrap();\n\
             std::io::stderr().write_all(b\"err \\xff end\\n\").unwrap();",
        )
        .await
        .unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    let stdout = stream_text(&iopub, "stdout");
    assert!(stdout.contains("out \u{FFFD}\u{FFFD} end\n"), "{stdout:?}");
    assert!(stdout.contains("partial \u{FFFD}"), "{stdout:?}");
    let stderr = stream_text(&iopub, "stderr");
    assert!(stderr.contains("err \u{FFFD} end\n"), "{stderr:?}");
    for n in 0..3 {
        let (_, iopub) = c
            .execute(&format!("println!(\"cell {n}\"); eprintln!(\"e{n}\");"))
            .await
            .unwrap();
        assert_eq!(stream_text(&iopub, "stdout"), format!("cell {n}\n"));
        assert_eq!(stream_text(&iopub, "stderr"), format!("e{n}\n"));
    }
    assert_alive(&mut c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_connection_cannot_take_over_a_clients_identity() {
    let kernel = Kernel::start().unwrap();
    let mut alice = kernel.connect_as("alice", true).await.unwrap();
    alice.execute("let kept = 41;").await.unwrap();
    // Mallory connects with Alice's identity on every ROUTER socket (the kernel drops those
    // connections; whether Mallory's library notices is its own affair).
    let mallory =
        tokio::time::timeout(Duration::from_secs(20), kernel.connect_as("alice", true)).await;
    let mut mallory = match mallory {
        Ok(Ok(mallory)) => Some(mallory),
        _ => None,
    };
    if let Some(mallory) = mallory.as_mut() {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            mallory.send(Channel::Shell, "kernel_info_request", json!({})),
        )
        .await;
    }
    // Alice's replies still reach Alice.
    let id = alice.submit("kept + 1").await.unwrap();
    let reply = alice.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(reply["parent_header"]["msg_id"], id);
    let iopub = alice.iopub_until_idle(&id, T).await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("42"));
    // And Mallory's request got nothing.
    if let Some(mallory) = mallory.as_mut() {
        assert!(mallory
            .recv(Channel::Shell, Duration::from_secs(2))
            .await
            .is_err());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ipc_transport_serves_a_notebook() {
    let kernel = Kernel::start_ipc().unwrap();
    let mut c = kernel.connect().await.unwrap();
    c.execute("let kept = 41;").await.unwrap();
    assert_alive(&mut c).await;
}

/// A signed input_reply parented on `ask`.
fn answer_to(c: &Client, ask: &serde_json::Value, value: &str) -> Vec<Bytes> {
    let mut answer = c.message("input_reply", json!({ "value": value })).1;
    answer[3] = Bytes::from(ask["header"].to_string());
    answer[1] = Bytes::from(trainbook_tests::sign(
        &c.key,
        &[&answer[2], &answer[3], &answer[4], &answer[5]],
    ));
    answer
}

#[tokio::test(flavor = "multi_thread")]
async fn after_an_interrupted_input_the_next_input_is_asked() {
    let (_kernel, mut c) = started().await;
    let first = c.submit("let a = input(\"first: \");").await.unwrap();
    let ask = c.recv(Channel::Stdin, T).await.unwrap();
    assert_eq!(ask["content"]["prompt"], "first: ");
    // Never answered: the user presses stop.
    c.request(Channel::Control, "interrupt_request", json!({}))
        .await
        .unwrap();
    c.recv(Channel::Shell, T).await.unwrap();
    c.iopub_until_idle(&first, T).await.unwrap();
    let second = c
        .submit("let b = input(\"second: \"); b.len()")
        .await
        .unwrap();
    let second_ask = c.recv(Channel::Stdin, T).await.unwrap();
    assert_eq!(second_ask["content"]["prompt"], "second: ");
    // A late answer to the first ask (parented on it, as JupyterLab does) is not taken for
    // the second.
    let late = answer_to(&c, &ask, "late");
    c.send_frames(Channel::Stdin, late).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = answer_to(&c, &second_ask, "yes");
    c.send_frames(Channel::Stdin, answer).await.unwrap();
    let reply = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    let iopub = c.iopub_until_idle(&second, T).await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("3"));
    assert_alive(&mut c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_gets_busy_and_idle_and_control_takes_only_control_requests() {
    let (_kernel, mut c) = started().await;
    // An unknown message type: busy and idle, no reply.
    let id = c
        .send(Channel::Shell, "frobnicate_request", json!({}))
        .await
        .unwrap();
    let iopub = c.iopub_until_idle(&id, T).await.unwrap();
    let states: Vec<_> = of_type(&iopub, "status")
        .iter()
        .map(|m| m["content"]["execution_state"].clone())
        .collect();
    assert_eq!(states, [json!("busy"), json!("idle")]);

    // A request of the wrong shape is refused with a reply that names the field.
    let reply = c
        .request(Channel::Shell, "execute_request", json!({"code": 5}))
        .await
        .unwrap();
    assert_eq!(reply["content"]["ename"], "BadRequest");
    let evalue = reply["content"]["evalue"].as_str().unwrap();
    assert!(
        evalue.contains("execute_request: invalid type: integer `5`"),
        "{evalue}"
    );

    // While a cell runs, an execute_request on control is refused at once.
    let running = c
        .submit("std::thread::sleep(std::time::Duration::from_secs(3));")
        .await
        .unwrap();
    let asked = Instant::now();
    let reply = c
        .request(Channel::Control, "execute_request", json!({"code": "kept"}))
        .await
        .unwrap();
    assert_eq!(reply["content"]["status"], "error");
    assert_eq!(reply["content"]["ename"], "WrongChannel");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "waited for the cell"
    );
    // kernel_info on control does not wait either.
    let info = c
        .request(Channel::Control, "kernel_info_request", json!({}))
        .await
        .unwrap();
    assert_eq!(info["content"]["status"], "ok");
    c.recv(Channel::Shell, T).await.unwrap();
    c.iopub_until_idle(&running, T).await.unwrap();
    assert_alive(&mut c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_on_error_decides_by_arrival_not_by_the_clients_clock() {
    let (_kernel, mut c) = started().await;
    c.execute("let mut ran = 0;").await.unwrap();
    // Queued behind a failing cell: a request dated in the future and one with no date.
    let failing = c.submit("panic!(\"stop\")").await.unwrap();
    let (future, frames) = c.message_dated(
        "execute_request",
        json!({"code": "ran += 10;"}),
        Some("2999-01-01T00:00:00Z"),
    );
    c.send_frames(Channel::Shell, frames).await.unwrap();
    let (undated, frames) =
        c.message_dated("execute_request", json!({"code": "ran += 100;"}), None);
    c.send_frames(Channel::Shell, frames).await.unwrap();
    let r1 = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(r1["parent_header"]["msg_id"], failing);
    assert_eq!(r1["content"]["status"], "error");
    for queued in [&future, &undated] {
        let r = c.recv(Channel::Shell, T).await.unwrap();
        assert_eq!(&r["parent_header"]["msg_id"], queued);
        assert_eq!(r["content"]["status"], "aborted");
    }
    // Sent after the reply, by a client whose clock is an hour slow, or that sends no date:
    // both run.
    let (slow, frames) = c.message_dated(
        "execute_request",
        json!({"code": "ran += 1000;"}),
        Some(&(chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339()),
    );
    c.send_frames(Channel::Shell, frames).await.unwrap();
    let r = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(r["parent_header"]["msg_id"], slow);
    assert_eq!(r["content"]["status"], "ok");
    let (_, frames) = c.message_dated("execute_request", json!({"code": "ran += 1000;"}), None);
    c.send_frames(Channel::Shell, frames).await.unwrap();
    assert_eq!(
        c.recv(Channel::Shell, T).await.unwrap()["content"]["status"],
        "ok"
    );
    let (_, iopub) = c.execute("ran").await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("2000"));
}

/// xorshift64*: a fixed seed makes a failing run repeatable (the seed is printed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max as u64 + 1) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// One hostile message: random frames, valid signatures over garbage, mutations of a genuine
/// message, truncations, wrong frame counts, and now and then a frame over the kernel's limit.
fn fuzzed_message(rng: &mut Rng, c: &Client) -> Vec<Bytes> {
    let requests = [
        ("kernel_info_request", json!({})),
        ("is_complete_request", json!({"code": "fn f() {"})),
        ("complete_request", json!({"code": "kep", "cursor_pos": 3})),
        (
            "inspect_request",
            json!({"code": "kept", "cursor_pos": 99999}),
        ),
        (
            "history_request",
            json!({"hist_access_type": "tail", "n": -5}),
        ),
        ("comm_info_request", json!({"target_name": 7})),
        (
            "comm_open",
            json!({"comm_id": "", "target_name": "trainbook.variables"}),
        ),
        ("comm_msg", json!({"comm_id": ["x"]})),
        ("frobnicate", json!(null)),
        ("input_reply", json!({"value": 5})),
    ];
    let (msg_type, content) = &requests[rng.below(requests.len() as u64) as usize];
    let (_, genuine) = c.message(msg_type, content.clone());
    match rng.below(8) {
        0 => (0..1 + rng.below(8))
            .map(|_| Bytes::from(rng.bytes(200)))
            .collect(),
        1 => {
            // A valid signature over four frames of garbage.
            let parts = [rng.bytes(64), rng.bytes(64), rng.bytes(64), rng.bytes(64)];
            trainbook_tests::signed_frames(&c.key, parts)
        }
        2 => {
            // One byte of one frame changed.
            let mut frames = genuine;
            let i = rng.below(frames.len() as u64) as usize;
            let mut frame = frames[i].to_vec();
            if !frame.is_empty() {
                let j = rng.below(frame.len() as u64) as usize;
                frame[j] ^= 1 + rng.below(255) as u8;
            }
            frames[i] = Bytes::from(frame);
            frames
        }
        3 => {
            let keep = rng.below(genuine.len() as u64) as usize;
            genuine[..keep].to_vec()
        }
        4 => {
            // Extra frames: a second delimiter, identities, buffers.
            let mut frames = genuine;
            let at = rng.below(frames.len() as u64 + 1) as usize;
            frames.insert(at, Bytes::from_static(b"<IDS|MSG>"));
            frames
        }
        5 if rng.below(40) == 0 => vec![Bytes::from(vec![b'x'; 2 << 20])],
        6 => {
            // Valid and signed, with JSON of the wrong shapes in the header.
            let header = json!({"msg_id": rng.next(), "msg_type": msg_type, "session": [],
                                "date": "yesterday", "version": 5});
            let parts = [
                header.to_string(),
                "[]".into(),
                "7".into(),
                content.to_string(),
            ];
            trainbook_tests::signed_frames(&c.key, parts.map(String::into_bytes))
        }
        _ => genuine,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn thousands_of_fuzzed_messages_on_every_socket_leave_the_kernel_working() {
    use zeromq::{Socket, SocketSend};
    // A 1 MB limit, so frames over it are cheap to send.
    let kernel =
        Kernel::start_with_key(&uuid_key(), &[("TRAINBOOK_MAX_MESSAGE_BYTES", "1000000")]).unwrap();
    let mut c = kernel.connect().await.unwrap();
    c.execute("let kept = 41;").await.unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("fuzz seed {seed}");
    let mut rng = Rng(seed);
    let endpoint = |port: u16| format!("tcp://127.0.0.1:{port}");
    let ports = [
        kernel.ports[0],
        kernel.ports[3],
        kernel.ports[2],
        kernel.ports[4],
    ];
    let mut sockets = Vec::new();
    for port in ports {
        let mut socket = zeromq::DealerSocket::new();
        socket.connect(&endpoint(port)).await.unwrap();
        sockets.push((port, socket));
    }
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut sent = 0;
    while sent < 5000 && Instant::now() < deadline {
        let message = fuzzed_message(&mut rng, &c);
        let which = rng.below(sockets.len() as u64 + 1) as usize;
        if which == sockets.len() {
            // IOPub: random subscription traffic, or raw garbage on a random port.
            if let Ok(mut peer) = RawPeer::connect(kernel.ports[1], "XSUB") {
                let _ = peer.send_frame(&rng.bytes(64));
            }
            if let Ok(mut stream) =
                std::net::TcpStream::connect(("127.0.0.1", kernel.ports[rng.below(5) as usize]))
            {
                use std::io::Write;
                let _ = stream.write_all(&rng.bytes(300));
            }
        } else if let Ok(frames) = zeromq::ZmqMessage::try_from(message) {
            let (port, socket) = &mut sockets[which];
            let send = tokio::time::timeout(Duration::from_secs(2), socket.send(frames)).await;
            if !matches!(send, Ok(Ok(()))) {
                // The kernel dropped this connection (a frame over the limit): a new one.
                let mut fresh = zeromq::DealerSocket::new();
                fresh.connect(&endpoint(*port)).await.unwrap();
                *socket = fresh;
            }
        }
        sent += 1;
    }
    eprintln!("sent {sent} fuzzed messages");
    assert!(sent >= 1000, "only {sent} messages in the time given");
    drop(sockets);
    assert!(kernel_running(&kernel), "the kernel process died");
    assert_alive(&mut c).await;
}

fn uuid_key() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// VmRSS of a process, in MB.
fn resident_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn soak_a_thousand_cells_ten_megabytes_and_ten_thousand_updates() {
    let (kernel, mut c) = started().await;
    c.execute("let mut total = 0u64;").await.unwrap();
    for i in 0..20 {
        c.execute(&format!("total += {i};")).await.unwrap();
    }
    let kernel_pid = kernel.child.id();
    let kernel_before = resident_mb(kernel_pid);
    let started_at = Instant::now();
    for i in 20..1000 {
        let (reply, _) = c.execute(&format!("total += {i};")).await.unwrap();
        assert_eq!(reply["content"]["status"], "ok", "cell {i}: {reply}");
    }
    let cells_seconds = started_at.elapsed().as_secs_f64();
    // 10 MB of output in one cell.
    let (mut c, stdout) = execute_reading_raw(
        &kernel,
        c,
        "for _ in 0..10 { println!(\"{}\", \"z\".repeat(1 << 20)); }",
    )
    .await;
    assert_eq!(stdout, 10 * ((1 << 20) + 1));
    // 10,000 updates of one display: throttled, and the last one is what stays.
    let (_, iopub) = c
        .execute(
            "let shown = display_handle(&Text::new(\"0\"));\n\
             for i in 1..=10_000 { shown.update(&Text::new(format!(\"{i}\"))); }",
        )
        .await
        .unwrap();
    let updates = of_type(&iopub, "update_display_data");
    assert!(updates.len() < 500, "{} updates were sent", updates.len());
    assert_eq!(
        updates.last().unwrap()["content"]["data"]["text/plain"],
        "10000"
    );
    let kernel_after = resident_mb(kernel_pid);
    let (_, iopub) = c.execute("total").await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("499500"));
    eprintln!(
        "soak: 980 cells in {cells_seconds:.0} s; kernel resident {kernel_before:.0} MB before, \
         {kernel_after:.0} MB after; runner {:.0} MB",
        descendants(kernel_pid)
            .iter()
            .map(|&p| resident_mb(p))
            .fold(0.0, f64::max)
    );
    assert!(
        kernel_after < kernel_before + 200.0,
        "the kernel grew from {kernel_before:.0} MB to {kernel_after:.0} MB"
    );
    assert_alive(&mut c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_past_the_limit_are_refused_and_the_kernel_keeps_serving() {
    let kernel =
        Kernel::start_with_key(&uuid_key(), &[("TRAINBOOK_MAX_CONNECTIONS", "8")]).unwrap();
    let mut c = kernel.connect().await.unwrap();
    c.execute("let kept = 41;").await.unwrap();
    // The client holds one shell connection; twelve more try.
    let mut kept_open = 0;
    let mut peers = Vec::new();
    for _ in 0..12 {
        // A refused connection fails its handshake or is closed right after it.
        if let Ok(mut peer) = RawPeer::connect(kernel.ports[0], "DEALER") {
            if !peer.closed_within(Duration::from_millis(500)) {
                kept_open += 1;
                peers.push(peer);
            }
        }
    }
    assert_eq!(kept_open, 7, "8 connections in all may be open");
    assert_alive(&mut c).await;
    // Closed connections free their places.
    drop(peers);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut second = kernel.connect().await.unwrap();
    assert_alive(&mut second).await;
}
