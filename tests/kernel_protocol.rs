//! The built kernel, driven over real ZeroMQ with signed messages.

use bytes::Bytes;
use serde_json::json;
use std::time::{Duration, Instant};
use trainbook_tests::{
    cache_root, of_type, result_text, stream_text, waiting_standbys, Channel, Client, Kernel,
};

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn every_request_gets_its_reply_on_the_right_channel() {
    let kernel = Kernel::start().unwrap();
    let mut c = kernel.connect().await.unwrap();

    for channel in [Channel::Shell, Channel::Control] {
        let info = c
            .request(channel, "kernel_info_request", json!({}))
            .await
            .unwrap();
        assert_eq!(info["header"]["msg_type"], "kernel_info_reply");
        let lang = &info["content"]["language_info"];
        assert_eq!(lang["name"], "rust");
        assert_eq!(lang["file_extension"], ".rs");
        assert_eq!(lang["codemirror_mode"], "rust");
        assert_eq!(info["content"]["protocol_version"], "5.3");
    }

    // Heartbeat echoes.
    use zeromq::{SocketRecv, SocketSend};
    c.hb.send(zeromq::ZmqMessage::from("ping")).await.unwrap();
    let pong = tokio::time::timeout(T, c.hb.recv()).await.unwrap().unwrap();
    assert_eq!(pong.get(0).unwrap().as_ref(), b"ping");

    // Execute: busy, execute_input, result, idle; counts go up.
    let (reply, iopub) = c.execute("let a = 40;").await.unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    let first_count = reply["content"]["execution_count"].as_u64().unwrap();
    assert_eq!(iopub[0]["content"]["execution_state"], "busy");
    assert_eq!(iopub[1]["header"]["msg_type"], "execute_input");
    let (reply, iopub) = c.execute("a + 2").await.unwrap();
    assert_eq!(
        reply["content"]["execution_count"].as_u64().unwrap(),
        first_count + 1
    );
    assert_eq!(result_text(&iopub).as_deref(), Some("42"));

    // Compile errors: error on IOPub and in the reply, pointing at the user's code.
    let (reply, iopub) = c.execute("let z: u8 = \"text\";").await.unwrap();
    assert_eq!(reply["content"]["status"], "error");
    assert_eq!(reply["content"]["ename"], "CompileError");
    let traceback = reply["content"]["traceback"].to_string();
    assert!(traceback.contains("mismatched types"), "{traceback}");
    assert!(traceback.contains("cell:1:"), "{traceback}");
    assert_eq!(of_type(&iopub, "error").len(), 1);

    // is_complete.
    for (code, status) in [
        ("fn f() {", "incomplete"),
        ("1 + 1", "complete"),
        ("fn f() }", "invalid"),
    ] {
        let r = c
            .request(Channel::Shell, "is_complete_request", json!({"code": code}))
            .await
            .unwrap();
        assert_eq!(r["content"]["status"], status, "{code}");
    }
    let r = c
        .request(
            Channel::Shell,
            "is_complete_request",
            json!({"code": "fn f() {"}),
        )
        .await
        .unwrap();
    assert_eq!(r["content"]["indent"], "    ");

    // Completion from rust-analyzer, with Jupyter's character offsets.
    let code = "let épée_length = 1; épée_len";
    let r = c
        .request(
            Channel::Shell,
            "complete_request",
            json!({"code": code, "cursor_pos": code.chars().count()}),
        )
        .await
        .unwrap();
    let matches = r["content"]["matches"].to_string();
    assert!(matches.contains("épée_length"), "{matches}");
    assert_eq!(r["content"]["cursor_end"], code.chars().count());

    // Inspect.
    let r = c
        .request(
            Channel::Shell,
            "inspect_request",
            json!({"code": "Vec::new", "cursor_pos": 8, "detail_level": 0}),
        )
        .await
        .unwrap();
    assert_eq!(r["content"]["found"], true);

    // History: tail and search.
    let r = c
        .request(
            Channel::Shell,
            "history_request",
            json!({"hist_access_type": "tail", "n": 2, "output": false, "raw": true}),
        )
        .await
        .unwrap();
    let history = r["content"]["history"].as_array().unwrap().clone();
    assert_eq!(history.last().unwrap()[2], "let z: u8 = \"text\";");
    let r = c
        .request(
            Channel::Shell,
            "history_request",
            json!({"hist_access_type": "search", "pattern": "a + *", "output": false, "raw": true}),
        )
        .await
        .unwrap();
    assert!(!r["content"]["history"].as_array().unwrap().is_empty());

    // Comms: the variables inspector answers; unknown targets are closed.
    let id = c
        .send(
            Channel::Shell,
            "comm_open",
            json!({"comm_id": "c1", "target_name": "trainbook.variables", "data": {}}),
        )
        .await
        .unwrap();
    let iopub = c.iopub_until_idle(&id, T).await.unwrap();
    let msg = of_type(&iopub, "comm_msg")[0];
    assert!(msg["content"]["data"]["variables"]
        .to_string()
        .contains("\"a\""));
    let r = c
        .request(Channel::Shell, "comm_info_request", json!({}))
        .await
        .unwrap();
    assert_eq!(
        r["content"]["comms"]["c1"]["target_name"],
        "trainbook.variables"
    );
    let id = c
        .send(
            Channel::Shell,
            "comm_open",
            json!({"comm_id": "c2", "target_name": "nobody.home", "data": {}}),
        )
        .await
        .unwrap();
    let iopub = c.iopub_until_idle(&id, T).await.unwrap();
    assert_eq!(of_type(&iopub, "comm_close")[0]["content"]["comm_id"], "c2");
    let id = c
        .send(
            Channel::Shell,
            "comm_close",
            json!({"comm_id": "c1", "data": {}}),
        )
        .await
        .unwrap();
    c.iopub_until_idle(&id, T).await.unwrap();
    let r = c
        .request(Channel::Shell, "comm_info_request", json!({}))
        .await
        .unwrap();
    assert!(r["content"]["comms"].as_object().unwrap().is_empty());

    // :opt would be ignored by cargo in the build workspace; the kernel says so instead.
    let (reply, _) = c.execute(":opt 0").await.unwrap();
    assert_eq!(reply["content"]["status"], "error");
    assert!(
        reply["content"]["evalue"]
            .as_str()
            .unwrap()
            .contains("opt-level 2"),
        "{reply}"
    );

    // Shutdown on control: reply, then the process exits.
    let r = c
        .request(
            Channel::Control,
            "shutdown_request",
            json!({"restart": false}),
        )
        .await
        .unwrap();
    assert_eq!(r["content"]["status"], "ok");
    let mut kernel = kernel;
    assert!(
        kernel.wait_exit(Duration::from_secs(20)).is_some(),
        "kernel did not exit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn output_streams_while_the_cell_runs_and_displays_update_in_place() {
    let kernel = Kernel::start().unwrap();
    let mut c = kernel.connect().await.unwrap();
    c.execute("1").await.unwrap();

    // stdout arrives before the cell ends; partial lines and \r come through as written.
    let id = c
        .submit(
            "use std::io::Write; print!(\"step 1\\r\"); std::io::stdout().flush().unwrap(); \
                   std::thread::sleep(std::time::Duration::from_millis(1500)); println!(\"done\");",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut first_stream_at = None;
    let mut text = String::new();
    let ended_at = loop {
        let m = c.next_iopub(T).await.unwrap();
        if m["parent_header"]["msg_id"] != id {
            continue;
        }
        if m["header"]["msg_type"] == "stream" {
            first_stream_at.get_or_insert(started.elapsed());
            text.push_str(m["content"]["text"].as_str().unwrap());
        }
        if m["content"]["execution_state"] == "idle" {
            break started.elapsed();
        }
    };
    c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(text, "step 1\rdone\n");
    // Measured against the end of the cell, not its submission: compiling the cell takes a
    // variable time on a loaded machine, the 1.5 s sleep after the first print does not.
    let first = first_stream_at.unwrap();
    assert!(
        ended_at.saturating_sub(first) >= Duration::from_millis(1000),
        "first output came at {first:?}, only {:?} before the cell ended",
        ended_at.saturating_sub(first)
    );

    // Unterminated output at the end of a cell is flushed before idle.
    let (_, iopub) = c.execute("print!(\"no newline\");").await.unwrap();
    assert_eq!(stream_text(&iopub, "stdout"), "no newline");
    let (_, iopub) = c.execute("eprintln!(\"warn\");").await.unwrap();
    assert_eq!(stream_text(&iopub, "stderr"), "warn\n");

    // display from the middle of a cell, then a handle updated in a fast loop.
    let (reply, iopub) = c
        .execute(
            "display(&Html::new(\"<b>one</b>\"));\n\
             let h = display_handle(&Text::new(\"0\"));\n\
             for i in 0..2000 { h.update(&Text::new(format!(\"{i}\"))); }\n\
             println!(\"after\");",
        )
        .await
        .unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    let displays = of_type(&iopub, "display_data");
    assert_eq!(displays.len(), 2);
    assert_eq!(displays[0]["content"]["data"]["text/html"], "<b>one</b>");
    let display_id = displays[1]["content"]["transient"]["display_id"].clone();
    assert!(display_id.is_string());
    let updates = of_type(&iopub, "update_display_data");
    assert!(!updates.is_empty());
    assert!(
        updates.len() < 100,
        "{} updates were not coalesced",
        updates.len()
    );
    let last = updates.last().unwrap();
    assert_eq!(last["content"]["transient"]["display_id"], display_id);
    assert_eq!(last["content"]["data"]["text/plain"], "1999");
    assert_eq!(stream_text(&iopub, "stdout"), "after\n");

    // clear_output.
    let (_, iopub) = c.execute("clear_output(true);").await.unwrap();
    assert_eq!(of_type(&iopub, "clear_output")[0]["content"]["wait"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_and_junk_messages_are_ignored_while_genuine_ones_run() {
    let kernel = Kernel::start().unwrap();
    let mut c = kernel.connect().await.unwrap();
    c.execute("let mut hits = 0u32;").await.unwrap();

    // A message signed with the wrong key.
    let mut forged = trainbook_tests::Client::message(
        &c,
        "execute_request",
        json!({"code": "hits += 100;", "silent": false}),
    );
    forged.1[1] = Bytes::from(trainbook_tests::sign("wrong-key", &[b"x"]));
    c.send_frames(Channel::Shell, forged.1).await.unwrap();
    // An unsigned one, junk frames, and truncated envelopes on shell and control.
    let (_, mut unsigned) = c.message("execute_request", json!({"code": "hits += 1000;"}));
    unsigned[1] = Bytes::new();
    c.send_frames(Channel::Shell, unsigned).await.unwrap();
    c.send_frames(Channel::Shell, vec![Bytes::from_static(b"junk")])
        .await
        .unwrap();
    c.send_frames(
        Channel::Control,
        vec![Bytes::from_static(b"<IDS|MSG>"), Bytes::from_static(b"x")],
    )
    .await
    .unwrap();
    c.send_frames(Channel::Shell, vec![Bytes::from(vec![0xff, 0x00, 0x13])])
        .await
        .unwrap();

    let (reply, iopub) = c.execute("hits += 1; hits").await.unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    assert_eq!(result_text(&iopub).as_deref(), Some("1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn panics_keep_earlier_variables_and_input_round_trips() {
    let kernel = Kernel::start().unwrap();
    let mut c = kernel.connect().await.unwrap();
    c.execute("let kept = vec![1, 2, 3];").await.unwrap();
    let (reply, iopub) = c
        .execute("let lost = 5; panic!(\"boom {}\", 7);")
        .await
        .unwrap();
    assert_eq!(reply["content"]["status"], "error");
    assert_eq!(reply["content"]["ename"], "Panic");
    assert_eq!(reply["content"]["evalue"], "boom 7");
    assert_eq!(of_type(&iopub, "error").len(), 1);
    assert_eq!(
        stream_text(&iopub, "stderr"),
        "",
        "panic noise leaked to stderr"
    );
    let (_, iopub) = c.execute("kept.len()").await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("3"));

    // input() asks the frontend over stdin.
    let id = c
        .submit("let name = input(\"Name: \"); name.len()")
        .await
        .unwrap();
    let request = c.recv(Channel::Stdin, T).await.unwrap();
    assert_eq!(request["header"]["msg_type"], "input_request");
    assert_eq!(request["content"]["prompt"], "Name: ");
    assert_eq!(request["parent_header"]["msg_id"], id);
    let (_, frames) = c.message("input_reply", json!({"value": "Ferris"}));
    c.send_frames(Channel::Stdin, frames).await.unwrap();
    let reply = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    let iopub = c.iopub_until_idle(&id, T).await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("6"));

    // A crash restarts the runner and says what was lost; the kernel keeps working.
    let (reply, _) = c.execute("std::process::abort();").await.unwrap();
    assert_eq!(reply["content"]["ename"], "RunnerCrashed");
    assert!(reply["content"]["evalue"]
        .as_str()
        .unwrap()
        .contains("kept"));
    let (reply, iopub) = c.execute("2 + 2").await.unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    assert_eq!(result_text(&iopub).as_deref(), Some("4"));
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupts_stop_polling_loops_and_keep_variables() {
    let kernel = Kernel::start().unwrap();
    let mut c = kernel.connect().await.unwrap();
    c.execute("let before = 7;").await.unwrap();

    // A loop that polls interrupted() stops cleanly; its results are kept.
    let id = c.submit("println!(\"running\");\nlet mut steps = 0u64;\nwhile !interrupted() { steps += 1; std::thread::sleep(std::time::Duration::from_millis(1)); }\nsteps > 0").await
        .unwrap();
    // Interrupt once the loop is running (an interrupt during compilation stops it at once).
    let mut early = Vec::new();
    loop {
        let m = c.next_iopub(T).await.unwrap();
        let is_running = m["header"]["msg_type"] == "stream" && m["parent_header"]["msg_id"] == id;
        early.push(m);
        if is_running {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = c
        .request(Channel::Control, "interrupt_request", json!({}))
        .await
        .unwrap();
    assert_eq!(r["content"]["status"], "ok");
    let reply = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    let iopub = c.iopub_until_idle(&id, T).await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("true"));
    assert!(stream_text(&iopub, "stderr").contains("Interrupted"));
    drop(early);
    let (_, iopub) = c.execute("(before, steps > 0)").await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("(7, true)"));

    // A loop that ignores the flag is stopped after the grace period and says what was lost.
    let id = c
        .submit("loop { std::thread::sleep(std::time::Duration::from_millis(10)); }")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.request(Channel::Control, "interrupt_request", json!({}))
        .await
        .unwrap();
    let reply = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(reply["content"]["ename"], "KeyboardInterrupt");
    let evalue = reply["content"]["evalue"].as_str().unwrap();
    assert!(evalue.contains("before"), "{evalue}");
    c.iopub_until_idle(&id, T).await.unwrap();
    let (reply, iopub) = c.execute("40 + 2").await.unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    assert_eq!(result_text(&iopub).as_deref(), Some("42"));
}

/// Waits for cell `id`'s first display, lets it run `wait` longer, interrupts it, checks that
/// the cell still ends with status ok, and returns every iopub message of the cell.
async fn interrupt_after_first_display(
    c: &mut Client,
    id: &str,
    wait: Duration,
) -> Vec<serde_json::Value> {
    let mut seen = Vec::new();
    loop {
        let m = c.next_iopub(T).await.unwrap();
        let first_frame =
            m["header"]["msg_type"] == "display_data" && m["parent_header"]["msg_id"] == id;
        seen.push(m);
        if first_frame {
            break;
        }
    }
    tokio::time::sleep(wait).await;
    c.request(Channel::Control, "interrupt_request", json!({}))
        .await
        .unwrap();
    let reply = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    seen.extend(c.iopub_until_idle(id, T).await.unwrap());
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn fit_redraws_one_display_and_an_interrupt_returns_the_model_trained_so_far() {
    let kernel = Kernel::start().unwrap();
    let mut c = kernel.connect().await.unwrap();
    let (reply, _) = c
        .execute(
            r#"let digits = load_digits();
let train = DataLoader::from_frame(&digits.frame, &digits.feature_names, "target", 64, &Device::Cpu)?.shuffle(0);
let model = Mlp::new(MlpConfig::classifier(64, &[64], 10).device(&Device::Cpu))?;"#,
        )
        .await
        .unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    // The runner puts candle's element-wise ops on the cell's thread (runner/host.rs).
    let (_, iopub) = c
        .execute("std::env::var(\"CANDLE_NUM_THREADS\").unwrap_or_default()")
        .await
        .unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("\"1\""));

    // Far more epochs than the test waits for: only the interrupt ends this cell.
    let id = c
        .submit("let fit = Trainer::new().epochs(100_000).fit(&model, &train, None)?;")
        .await
        .unwrap();
    let seen = interrupt_after_first_display(&mut c, &id, Duration::from_millis(1500)).await;

    // One display, redrawn in place; its last frame says how the run ended.
    assert_eq!(of_type(&seen, "display_data").len(), 1);
    let updates = of_type(&seen, "update_display_data");
    assert!(!updates.is_empty(), "the live display was never redrawn");
    let last = updates.last().unwrap()["content"]["data"]["text/html"]
        .as_str()
        .unwrap();
    assert!(last.contains("interrupted in epoch"), "{last}");
    assert!(last.contains("<progress"), "{last}");

    // The cell finished normally: fit and the model are there and usable.
    let (reply, iopub) = c
        .execute(
            r#"let accuracy = evaluate(&model, &train, &Loss::cross_entropy())?.accuracy.unwrap();
(matches!(fit.stopped, StopReason::Interrupted { .. }), accuracy > 0.5)"#,
        )
        .await
        .unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(result_text(&iopub).as_deref(), Some("(true, true)"));

    // A tuning trial that panics is a failed trial, not the cell's error.
    let (reply, iopub) = c
        .execute(
            r#"let mut study = Study::minimize(Space::new().int("i", 0, 3)).sampler(Sampler::Grid { points: 2 }).live(false);
study.optimize(&mut |t| if t.params.int("i")? == 2 { panic!("boom") } else { Ok(1.0) })?;
study.records.iter().filter(|t| matches!(t.state, TrialState::Failed(_))).count()"#,
        )
        .await
        .unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(result_text(&iopub).as_deref(), Some("1"));

    // An interrupt ends a parallel study cleanly: running trials finish, the live display
    // keeps its final frame, and the trials so far stay, a panicked one recorded as failed.
    let id = c
        .submit(
            r#"let mut endless = Study::minimize(Space::new().uniform("x", 0.0, 1.0)).sampler(Sampler::Random).trials(1_000_000).jobs(2);
endless.optimize_parallel(&|t| {
    std::thread::sleep(std::time::Duration::from_millis(20));
    if t.number == 3 { panic!("boom") }
    t.params.float("x")
})?;"#,
        )
        .await
        .unwrap();
    let seen = interrupt_after_first_display(&mut c, &id, Duration::from_millis(500)).await;
    assert_eq!(of_type(&seen, "display_data").len(), 1);
    let last = of_type(&seen, "update_display_data").last().unwrap()["content"]["data"]
        ["text/html"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(last.contains("finished:"), "{last}");
    let (reply, iopub) = c
        .execute(
            r#"let failed = endless.records.iter().filter(|t| matches!(&t.state, TrialState::Failed(why) if why.contains("boom"))).count();
(endless.records.len() > 5, endless.records.len() < 1_000, failed)"#,
        )
        .await
        .unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(result_text(&iopub).as_deref(), Some("(true, true, 1)"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_on_error_aborts_queued_cells() {
    let kernel = Kernel::start().unwrap();
    let mut c = kernel.connect().await.unwrap();
    c.execute("let mut ran = 0;").await.unwrap();
    let failing = c.submit("ran += 1; panic!(\"stop\")").await.unwrap();
    let queued = c.submit("ran += 10;").await.unwrap();
    let r1 = c.recv(Channel::Shell, T).await.unwrap();
    let r2 = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(r1["parent_header"]["msg_id"], failing);
    assert_eq!(r1["content"]["status"], "error");
    assert_eq!(r2["parent_header"]["msg_id"], queued);
    assert_eq!(r2["content"]["status"], "aborted");
    c.iopub_until_idle(&queued, T).await.unwrap();
    let (_, iopub) = c.execute("ran").await.unwrap();
    // The panicking cell's change to `ran` happened inside it; the queued cell never ran.
    assert_ne!(result_text(&iopub).as_deref(), Some("11"));

    // A `?` that returns an error fails the cell the same way: an error on IOPub and in the
    // reply, named after the error's type, and the queued cell is aborted.
    c.execute("let mut after_question = 0;").await.unwrap();
    let failing = c
        .submit("let n: i32 = \"not a number\".parse()?;\nafter_question += 1;")
        .await
        .unwrap();
    let queued = c.submit("after_question += 10;").await.unwrap();
    let r1 = c.recv(Channel::Shell, T).await.unwrap();
    let r2 = c.recv(Channel::Shell, T).await.unwrap();
    assert_eq!(r1["parent_header"]["msg_id"], failing);
    assert_eq!(r1["content"]["status"], "error");
    assert_eq!(r1["content"]["ename"], "ParseIntError");
    assert_eq!(r1["content"]["evalue"], "invalid digit found in string");
    assert_eq!(r2["parent_header"]["msg_id"], queued);
    assert_eq!(r2["content"]["status"], "aborted");
    let iopub = c.iopub_until_idle(&failing, T).await.unwrap();
    let errors = of_type(&iopub, "error");
    assert_eq!(errors.len(), 1, "{iopub:?}");
    assert_eq!(errors[0]["content"]["ename"], "ParseIntError");
    // The error is not printed on stderr as well.
    assert!(!stream_text(&iopub, "stderr").contains("TRAINBOOK_ERROR"));
    c.iopub_until_idle(&queued, T).await.unwrap();
    let (_, iopub) = c.execute("after_question").await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("0"));
}

/// Every compiled library (rlib) in a directory evcxr builds in, by file name, with its inode,
/// modification time and size.
fn compiled_libraries(
    dir: &std::path::Path,
) -> std::collections::BTreeMap<String, (u64, i64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let Some(deps) = std::fs::read_dir(dir.join("ctx/target"))
        .ok()
        .and_then(|targets| {
            targets.flatten().find_map(|e| {
                let d = e.path().join("debug/deps");
                d.exists().then_some(d)
            })
        })
    else {
        return Default::default();
    };
    std::fs::read_dir(deps)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = e.metadata().unwrap();
            (name.ends_with(".rlib") || name == "libtrainbook.so")
                .then(|| (name, (meta.ino(), meta.mtime(), meta.len())))
        })
        .collect()
}

/// Asserts that a kernel's build directory holds exactly the template's libraries: the same
/// files (hard links) or, for small ones, copies with the template's time and size. Nothing
/// was recompiled, nothing was added.
#[track_caller]
fn assert_reused(
    kernel_dir: &std::path::Path,
    template: &std::collections::BTreeMap<String, (u64, i64, u64)>,
) {
    let libraries = compiled_libraries(kernel_dir);
    let rebuilt: Vec<&String> = libraries
        .iter()
        .filter(|(name, (inode, mtime, size))| match template.get(*name) {
            Some((t_inode, t_mtime, t_size)) => {
                inode != t_inode && (mtime != t_mtime || size != t_size)
            }
            None => true,
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        rebuilt.is_empty(),
        "{} rebuilt or added {} libraries instead of reusing the template's: {rebuilt:?}",
        kernel_dir.display(),
        rebuilt.len()
    );
    assert_eq!(
        libraries.len(),
        template.len(),
        "libraries missing in {}",
        kernel_dir.display()
    );
}

fn kernel_work_dir(pid: u32) -> std::path::PathBuf {
    std::fs::read_dir(cache_root().join("kernels"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{pid}-"))
        })
        .expect("kernel work dir")
}

#[tokio::test(flavor = "multi_thread")]
async fn restarted_and_concurrent_kernels_reuse_the_compiled_prelude() {
    // The template built by `trainbook precompile`.
    let templates: Vec<_> = std::fs::read_dir(cache_root().join("prelude"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("READY").exists())
        .collect();
    assert_eq!(templates.len(), 1, "expected one built prelude template");
    let template = compiled_libraries(&templates[0]);
    assert!(
        template.keys().any(|name| name == "libtrainbook.so")
            && template
                .keys()
                .any(|name| name.starts_with("libpolars_core-")),
        "the template holds the prelude and its dependencies: {template:?}"
    );

    // Two kernels at once.
    let a = Kernel::start().unwrap();
    let b = Kernel::start().unwrap();
    let (mut ca, mut cb) = (a.connect().await.unwrap(), b.connect().await.unwrap());
    let (ra, ia) = ca.execute("trainbook::version()").await.unwrap();
    let (rb, _) = cb.execute("trainbook::version()").await.unwrap();
    assert_eq!(ra["content"]["status"], "ok");
    assert_eq!(rb["content"]["status"], "ok");
    assert!(result_text(&ia).unwrap().contains('.'));
    for kernel in [&a, &b] {
        assert_reused(&kernel_work_dir(kernel.child.id()), &template);
    }

    // Restart (Jupyter's restart is a new process): still no rebuild.
    ca.request(
        Channel::Control,
        "shutdown_request",
        json!({"restart": true}),
    )
    .await
    .unwrap();
    let mut a = a;
    assert!(a.wait_exit(Duration::from_secs(20)).is_some());
    let started = Instant::now();
    let restarted = Kernel::start().unwrap();
    let mut cr = restarted.connect().await.unwrap();
    let (reply, _) = cr.execute("1 + 1").await.unwrap();
    assert_eq!(reply["content"]["status"], "ok");
    assert_reused(&kernel_work_dir(restarted.child.id()), &template);
    eprintln!(
        "restarted kernel answered its first cell after {:?}",
        started.elapsed()
    );
}

async fn wait_until<T>(what: &str, timeout: Duration, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Under a Jupyter server a kernel leaves a warm standby behind, and the next launch (a restart,
/// another notebook) adopts it instead of starting an evaluator: its cells run in the standby's
/// process, in the new launch's folder, and it dies with its launcher as a kernel must.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_launch_adopts_the_warm_standby_kernel() {
    let server = std::process::id();
    let before = waiting_standbys();
    let folder = |name: &str| {
        let dir = std::env::temp_dir().join(format!("trainbook-{name}-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.canonicalize().unwrap()
    };
    let (dir_a, dir_b) = (folder("first"), folder("second"));
    // Nothing to adopt yet: the first kernel starts its own evaluator (its runner is the
    // launcher's child) and starts a standby once it is ready.
    let first = Kernel::start_under_jupyter(server, &dir_a).unwrap();
    let mut c1 = first.connect().await.unwrap();
    assert_eq!(
        where_cells_run(&mut c1).await,
        format!("({}, {:?})", first.child.id(), dir_a.display().to_string())
    );
    let standby = wait_until("a standby kernel", Duration::from_secs(60), || {
        waiting_standbys().into_iter().find(|p| !before.contains(p))
    })
    .await;

    // The second launch adopts it.
    let mut second = Kernel::start_under_jupyter(server, &dir_b).unwrap();
    let mut c2 = second.connect().await.unwrap();
    assert_eq!(
        where_cells_run(&mut c2).await,
        format!("({standby}, {:?})", dir_b.display().to_string()),
        "the cell should run in the standby's runner, in the second launch's folder"
    );
    // The warm-up left nothing behind, and variables work as in any kernel.
    let (_, iopub) = c2.execute("let answer = 40;\nanswer + 2").await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("42"));
    let (reply, _) = c2.execute("trainbook_warm_up").await.unwrap();
    assert_eq!(
        reply["content"]["status"], "error",
        "the warm-up variable leaked"
    );
    // The two kernels share nothing.
    let (reply, _) = c1.execute("answer").await.unwrap();
    assert_eq!(
        reply["content"]["status"], "error",
        "the first kernel saw the second's variable"
    );

    // A replacement waits for the next launch.
    let replacement = wait_until("a replacement standby", Duration::from_secs(30), || {
        waiting_standbys()
            .into_iter()
            .find(|p| !before.contains(p) && *p != standby)
    })
    .await;

    // Jupyter kills a kernel that does not shut down: the adopted standby goes with its launcher.
    second.child.kill().unwrap();
    second.child.wait().unwrap();
    wait_until(
        "the adopted kernel to exit",
        Duration::from_secs(10),
        || (!std::path::Path::new(&format!("/proc/{standby}")).exists()).then_some(()),
    )
    .await;

    drop(c1);
    drop(first);
    // The replacement would exit with the test process (its "server"); stop it now so that it
    // does not share the cores with the other tests.
    let _ = std::process::Command::new("kill")
        .arg(replacement.to_string())
        .status();
    let _ = std::fs::remove_dir_all(&dir_a);
    let _ = std::fs::remove_dir_all(&dir_b);
}

/// The process that runs a kernel's cells (its runner's parent) and the folder they run in.
async fn where_cells_run(client: &mut Client) -> String {
    let code = "(std::os::unix::process::parent_id(), \
                std::env::current_dir().unwrap().display().to_string())";
    let (reply, iopub) = client
        .execute_within(code, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    result_text(&iopub).unwrap()
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dep_cell_shows_build_progress_while_it_compiles() {
    let kernel = Kernel::start().unwrap();
    let mut c = kernel.connect().await.unwrap();
    let fixture = trainbook_tests::repo_root().join("tests/fixtures/slow_crate");
    let code = format!(
        ":dep slow_crate = {{ path = {:?} }}\nslow_crate::answer()",
        fixture.display().to_string()
    );
    let (reply, iopub) = c.execute(&code).await.unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(result_text(&iopub).as_deref(), Some("42"));
    let shown = of_type(&iopub, "display_data");
    let first = shown
        .iter()
        .map(|m| {
            m["content"]["data"]["text/plain"]
                .as_str()
                .unwrap_or_default()
        })
        .find(|t| t.starts_with("Compiling dependencies for :dep"))
        .unwrap_or_else(|| panic!("no build progress among {iopub:#?}"));
    assert!(first.contains("crates built so far"), "{first}");
    let last = of_type(&iopub, "update_display_data");
    let last = last
        .last()
        .expect("the progress display is updated at the end");
    let text = last["content"]["data"]["text/plain"].as_str().unwrap();
    assert!(
        text.starts_with("Compiled ") && text.contains(" crates in "),
        "{text}"
    );
}

/// The last `n` cell builds of a kernel, as its `cargo` front logs them (`rustc`: cargo was
/// skipped; `cargo: why`: it was not).
fn cell_builds(kernel: &Kernel, n: usize) -> Vec<String> {
    let log = kernel_work_dir(kernel.child.id()).join("ctx/target/trainbook-cell-build/builds.log");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// Cells whose dependencies did not change are compiled by rustc directly, as cargo last did,
/// and still report errors as cargo would; a change to a path dependency's source (or
/// anything else cargo watches) sends the next cell through cargo, which rebuilds it.
#[tokio::test(flavor = "multi_thread")]
async fn unchanged_cells_skip_cargo_and_a_changed_dependency_is_rebuilt() {
    let crate_dir = std::env::temp_dir().join(format!("trainbook-local-answer-{}", uuid_like()));
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        "[package]\nname = \"local_answer\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    let source = crate_dir.join("src/lib.rs");
    std::fs::write(&source, "pub fn answer() -> i32 { 41 }\n").unwrap();

    let kernel = Kernel::start().unwrap();
    let mut c = kernel.connect().await.unwrap();
    let code = format!(
        ":dep local_answer = {{ path = {:?} }}\nlocal_answer::answer()",
        crate_dir.display().to_string()
    );
    let (reply, iopub) = c.execute(&code).await.unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(result_text(&iopub).as_deref(), Some("41"));

    for (cell, expected) in [("1 + 1", "2"), ("local_answer::answer() + 1", "42")] {
        let (reply, iopub) = c.execute(cell).await.unwrap();
        assert_eq!(reply["content"]["status"], "ok", "{reply}");
        assert_eq!(result_text(&iopub).as_deref(), Some(expected));
        let last = cell_builds(&kernel, 1);
        assert!(
            last[0].starts_with("rustc "),
            "{cell}: {last:?}, after {:?}",
            cell_builds(&kernel, 4)
        );
    }

    // Errors found by the direct build read as they do through cargo.
    let (reply, _) = c.execute("1 + \"one\"").await.unwrap();
    assert_eq!(reply["content"]["ename"], "CompileError");
    let traceback = reply["content"]["traceback"].to_string();
    assert!(traceback.contains("cannot add"), "{traceback}");
    assert!(traceback.contains("cell:1:"), "{traceback}");
    assert!(cell_builds(&kernel, 1)[0].starts_with("rustc "));

    // Edit the dependency: the next cell goes through cargo and sees the new code.
    std::fs::write(&source, "pub fn answer() -> i32 { 1041 }\n").unwrap();
    let (reply, iopub) = c.execute("local_answer::answer()").await.unwrap();
    assert_eq!(reply["content"]["status"], "ok", "{reply}");
    assert_eq!(result_text(&iopub).as_deref(), Some("1041"));
    let last = cell_builds(&kernel, 1);
    assert!(
        last[0].starts_with("cargo: ") && last[0].contains("lib.rs changed"),
        "{last:?}"
    );
    let (_, iopub) = c.execute("local_answer::answer() * 2").await.unwrap();
    assert_eq!(result_text(&iopub).as_deref(), Some("2082"));
    assert!(cell_builds(&kernel, 1)[0].starts_with("rustc "));
    let _ = std::fs::remove_dir_all(&crate_dir);
}
