//! `execute_request`: runs a cell on the executor, streams its outputs to IOPub, and answers
//! with its status; `input()` inside it goes through the stdin thread.

use super::executor::Job;
use super::{InputAsk, Kernel, Message};
use crate::protocol::replies::ExecuteReply;
use crate::protocol::requests::ExecuteRequest;
use crate::runner::{CellError, CellOutcome, Output, OutputSink};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub fn execute_request(kernel: &Kernel, request: &Message) -> Vec<Message> {
    super::handlers::with_content(request, |asked: ExecuteRequest| {
        vec![kernel.execute(request, asked)]
    })
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

fn output_message(output: Output) -> (&'static str, Value) {
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
    fn execute(&self, request: &Message, asked: ExecuteRequest) -> Message {
        let code = asked.code;
        let silent = asked.silent;
        let store_history = asked.store_history && !silent;
        let allow_stdin = asked.allow_stdin;
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
        let outcome = self.run_cell(request, &code, silent, allow_stdin);
        if store_history {
            self.history.lock().unwrap().record(count, &code);
        }

        let mut user_expressions = serde_json::Map::new();
        for (name, expr) in &asked.user_expressions {
            let value = self.run_cell(request, expr, true, false);
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
                let reply = ExecuteReply::Error {
                    execution_count: count,
                    ename: error.ename,
                    evalue: error.evalue,
                    traceback: error.traceback,
                    user_expressions,
                    payload: Vec::new(),
                };
                request.reply("execute_reply", &reply)
            }
            None => {
                let reply = ExecuteReply::Ok {
                    execution_count: count,
                    user_expressions,
                    payload: Vec::new(),
                };
                request.reply("execute_reply", &reply)
            }
        }
    }

    fn run_cell(
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
                crate::log::warn("input() called but this frontend does not accept input");
                return String::new();
            }
            let (answer, answered) = crossbeam_channel::bounded(1);
            let cancelled = Arc::new(AtomicBool::new(false));
            let _ = stdin.send(InputAsk {
                request: parent.clone(),
                prompt: prompt.to_owned(),
                password,
                answer,
                cancelled: cancelled.clone(),
            });
            loop {
                match answered.recv_timeout(Duration::from_millis(100)) {
                    Ok(value) => return value,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        if pending.load(Ordering::SeqCst) {
                            // The stdin thread stops waiting for this answer and takes the
                            // next ask, so a later input() is asked, not stuck behind this one.
                            cancelled.store(true, Ordering::SeqCst);
                            return String::new();
                        }
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return String::new(),
                }
            }
        });
        let (done, finished) = tokio::sync::oneshot::channel();
        self.executor.submit(Job::Execute {
            code: code.to_owned(),
            sink,
            input,
            done,
        });
        finished.blocking_recv().unwrap_or_else(|_| CellOutcome {
            error: Some(CellError {
                ename: "InternalError".into(),
                evalue: "the kernel hit an internal error running this cell; see the kernel log"
                    .into(),
                traceback: vec![],
            }),
            ..Default::default()
        })
    }
}
