//! Turns the runner process's output lines into kernel outputs: streams (coalesced), rich
//! displays, throttled display updates and panic reports.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trainbook_wire::{Marker, Token};

/// What a cell shows while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Stream {
        name: &'static str,
        text: String,
    },
    Display {
        data: Value,
        metadata: Value,
        display_id: Option<String>,
    },
    UpdateDisplay {
        data: Value,
        metadata: Value,
        display_id: String,
    },
    Clear {
        wait: bool,
    },
}

/// Where outputs go: IOPub for the kernel, cell outputs for `trainbook run`.
pub trait OutputSink: Send + Sync {
    fn emit(&self, output: Output);
}

/// A panic reported by the prelude's panic hook.
#[derive(Debug, Clone)]
pub struct PanicReport {
    pub message: String,
    pub location: String,
}

/// Stream text is sent at most this long after it was printed.
const STREAM_DELAY: Duration = Duration::from_millis(50);
/// Stream text held for one message, at most (a subscriber that stalls holds up to IOPub's
/// queue of these).
const STREAM_BATCH_LIMIT: usize = 1 << 20;
/// New outputs (display_data) one cell may send; redraws of one output are not counted.
const MAX_DISPLAYS_PER_CELL: usize = 1000;
/// A display id is redrawn at most this often; intermediate frames are dropped.
const UPDATE_INTERVAL: Duration = Duration::from_millis(100);

enum Control {
    SetSink(Arc<dyn OutputSink>),
    /// Send everything; with `ran` set, a cell's code ran since the last flush, so wait (up to
    /// a second) for its end marker even if its start marker has not come through yet.
    Flush {
        ack: crossbeam_channel::Sender<()>,
        ran: bool,
    },
}

/// Owns the thread that reads the runner's stdout and stderr lines.
pub struct Forwarder {
    control: crossbeam_channel::Sender<Control>,
    panics: Arc<Mutex<Vec<PanicReport>>>,
    errors: Arc<Mutex<Vec<super::CellError>>>,
}

/// When the current cell's compiled code started running (None while it compiles).
pub type RunningSince = Arc<Mutex<Option<Instant>>>;

impl Forwarder {
    pub fn start(
        stdout: crossbeam_channel::Receiver<String>,
        stderr: crossbeam_channel::Receiver<String>,
        running_since: RunningSince,
        token: Token,
    ) -> Forwarder {
        let (control, control_rx) = crossbeam_channel::unbounded();
        let panics = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let state = ForwardState {
            sink: None,
            streams: Vec::new(),
            stream_since: None,
            pending_updates: HashMap::new(),
            last_update: HashMap::new(),
            panics: panics.clone(),
            errors: errors.clone(),
            running_since,
            runs_started: 0,
            runs_finished: 0,
            runs_flushed: 0,
            token,
            displays_shown: 0,
        };
        std::thread::Builder::new()
            .name("trainbook-forward".into())
            .spawn(move || state.run(stdout, stderr, control_rx))
            .expect("spawn forwarder thread");
        Forwarder {
            control,
            panics,
            errors,
        }
    }

    pub fn set_sink(&self, sink: Arc<dyn OutputSink>) {
        let _ = self.control.send(Control::SetSink(sink));
    }

    /// Waits until every line received so far has been turned into outputs and sent.
    pub fn flush(&self) {
        self.flush_after(false);
    }

    /// Like `flush`, after a cell whose code ran: its output is sent before this returns, even
    /// when evcxr reported the run before the runner's stderr reached us.
    pub fn flush_after_run(&self) {
        self.flush_after(true);
    }

    fn flush_after(&self, ran: bool) {
        let (ack, done) = crossbeam_channel::bounded(1);
        if self.control.send(Control::Flush { ack, ran }).is_ok() {
            let _ = done.recv_timeout(Duration::from_secs(5));
        }
    }

    pub fn take_panics(&self) -> Vec<PanicReport> {
        std::mem::take(&mut self.panics.lock().unwrap())
    }

    /// The errors cells reported since the last call (`Marker::Error`: written on stderr by
    /// evcxr when a `?` in the cell returns, or by the display of a last expression that is an
    /// `Err`).
    pub fn take_errors(&self) -> Vec<super::CellError> {
        std::mem::take(&mut self.errors.lock().unwrap())
    }
}

struct ForwardState {
    sink: Option<Arc<dyn OutputSink>>,
    /// Buffered stream text, in order, merged per stream name while consecutive.
    streams: Vec<(&'static str, String)>,
    stream_since: Option<Instant>,
    pending_updates: HashMap<String, (Value, Value)>,
    last_update: HashMap<String, Instant>,
    panics: Arc<Mutex<Vec<PanicReport>>>,
    errors: Arc<Mutex<Vec<super::CellError>>>,
    running_since: RunningSince,
    /// Cells started and finished, as announced on stderr; a flush waits until they match so
    /// no stderr line of a finished cell is left behind.
    runs_started: u64,
    runs_finished: u64,
    /// `runs_finished` at the last flush.
    runs_flushed: u64,
    /// Marker lines count only with this kernel's token; without it they are the cell's text.
    token: Token,
    /// New outputs the current cell sent (see `MAX_DISPLAYS_PER_CELL`).
    displays_shown: usize,
}

impl ForwardState {
    fn run(
        mut self,
        stdout: crossbeam_channel::Receiver<String>,
        stderr: crossbeam_channel::Receiver<String>,
        control: crossbeam_channel::Receiver<Control>,
    ) {
        let mut stdout_open = true;
        let mut stderr_open = true;
        loop {
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            let mut select = crossbeam_channel::Select::new();
            let i_out = stdout_open.then(|| select.recv(&stdout));
            let i_err = stderr_open.then(|| select.recv(&stderr));
            let i_ctl = select.recv(&control);
            let op = match timeout {
                Some(t) => match select.select_timeout(t) {
                    Ok(op) => op,
                    Err(_) => {
                        self.flush_due();
                        continue;
                    }
                },
                None => select.select(),
            };
            let index = op.index();
            if Some(index) == i_out {
                match op.recv(&stdout) {
                    Ok(line) => self.stdout_line(line),
                    Err(_) => stdout_open = false,
                }
            } else if Some(index) == i_err {
                match op.recv(&stderr) {
                    Ok(line) => self.stderr_line(line),
                    Err(_) => stderr_open = false,
                }
            } else if index == i_ctl {
                match op.recv(&control) {
                    Ok(Control::SetSink(sink)) => {
                        self.flush_all();
                        self.sink = Some(sink);
                        self.displays_shown = 0;
                    }
                    Ok(Control::Flush { ack, ran }) => {
                        // Take whatever is already queued, then send everything.
                        while let Ok(line) = stdout.try_recv() {
                            self.stdout_line(line);
                        }
                        while let Ok(line) = stderr.try_recv() {
                            self.stderr_line(line);
                        }
                        let deadline = Instant::now() + Duration::from_secs(1);
                        let waiting = |state: &Self| {
                            state.runs_finished < state.runs_started
                                || (ran && state.runs_finished == state.runs_flushed)
                        };
                        while waiting(&self) {
                            let left = deadline.saturating_duration_since(Instant::now());
                            match stderr.recv_timeout(left) {
                                Ok(line) => self.stderr_line(line),
                                Err(_) => {
                                    // The runner died mid-cell; it will not report.
                                    self.runs_finished = self.runs_started;
                                    break;
                                }
                            }
                        }
                        self.runs_flushed = self.runs_finished;
                        while let Ok(line) = stdout.try_recv() {
                            self.stdout_line(line);
                        }
                        self.flush_all();
                        let _ = ack.send(());
                    }
                    Err(_) => return,
                }
            }
        }
    }

    fn stdout_line(&mut self, line: String) {
        if let Some(json) = Marker::Part.payload(&line, &self.token) {
            if let Ok(text) = serde_json::from_str::<String>(json) {
                self.push_stream("stdout", text);
                return;
            }
        }
        if let Some(json) = Marker::Display.payload(&line, &self.token) {
            if let Ok(msg) = serde_json::from_str::<Value>(json) {
                self.display_message(msg);
                return;
            }
        }
        if let Some(json) = Marker::Panic.payload(&line, &self.token) {
            if let Ok(msg) = serde_json::from_str::<Value>(json) {
                self.panics.lock().unwrap().push(PanicReport {
                    message: msg["message"].as_str().unwrap_or("").to_owned(),
                    location: msg["location"].as_str().unwrap_or("").to_owned(),
                });
                return;
            }
        }
        self.push_stream("stdout", line + "\n");
    }

    fn stderr_line(&mut self, line: String) {
        if Marker::Running.is(&line, &self.token) {
            self.runs_started += 1;
            *self.running_since.lock().unwrap() = Some(Instant::now());
            return;
        }
        if Marker::StderrSync.is(&line, &self.token) {
            self.runs_finished += 1;
            return;
        }
        if let Some(report) = Marker::Error
            .payload(&line, &self.token)
            .and_then(parse_error_report)
        {
            self.errors.lock().unwrap().push(report);
            return;
        }
        self.push_stream("stderr", line + "\n");
    }

    fn display_message(&mut self, msg: Value) {
        let data = msg["data"].clone();
        let metadata = if msg["metadata"].is_object() {
            msg["metadata"].clone()
        } else {
            Value::Object(Default::default())
        };
        let display_id = msg["display_id"].as_str().map(str::to_owned);
        match (msg["op"].as_str(), display_id) {
            (Some("update"), Some(id)) => {
                let due = self
                    .last_update
                    .get(&id)
                    .is_none_or(|t| t.elapsed() >= UPDATE_INTERVAL);
                if due {
                    self.pending_updates.remove(&id);
                    self.send_update(id, data, metadata);
                } else {
                    self.pending_updates.insert(id, (data, metadata));
                }
            }
            (Some("clear"), _) => {
                self.flush_streams();
                let wait = msg["wait"].as_bool().unwrap_or(false);
                self.emit(Output::Clear { wait });
            }
            (_, display_id) => {
                self.displays_shown += 1;
                if self.displays_shown > MAX_DISPLAYS_PER_CELL {
                    if self.displays_shown == MAX_DISPLAYS_PER_CELL + 1 {
                        self.push_stream(
                            "stderr",
                            format!(
                                "Trainbook: this cell showed {MAX_DISPLAYS_PER_CELL} outputs; \
                                 the rest are not sent. To redraw one output in place, use \
                                 display_handle(..) and its update(..).\n"
                            ),
                        );
                    }
                    return;
                }
                self.flush_streams();
                if let Some(id) = &display_id {
                    self.last_update.insert(id.clone(), Instant::now());
                }
                self.emit(Output::Display {
                    data,
                    metadata,
                    display_id,
                });
            }
        }
    }

    fn send_update(&mut self, id: String, data: Value, metadata: Value) {
        self.last_update.insert(id.clone(), Instant::now());
        self.emit(Output::UpdateDisplay {
            data,
            metadata,
            display_id: id,
        });
    }

    fn push_stream(&mut self, name: &'static str, text: String) {
        match self.streams.last_mut() {
            Some((last, buf)) if *last == name => buf.push_str(&text),
            _ => self.streams.push((name, text)),
        }
        self.stream_since.get_or_insert_with(Instant::now);
        // A flood of output goes out in bounded messages, not one that grows for 50 ms.
        if self
            .streams
            .iter()
            .map(|(_, text)| text.len())
            .sum::<usize>()
            > STREAM_BATCH_LIMIT
        {
            self.flush_streams();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let stream = self.stream_since.map(|t| t + STREAM_DELAY);
        let update = self
            .pending_updates
            .keys()
            .filter_map(|id| self.last_update.get(id).map(|t| *t + UPDATE_INTERVAL))
            .min();
        match (stream, update) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn flush_due(&mut self) {
        if self
            .stream_since
            .is_some_and(|t| t.elapsed() >= STREAM_DELAY)
        {
            self.flush_streams();
        }
        let due: Vec<String> = self
            .pending_updates
            .keys()
            .filter(|id| {
                self.last_update
                    .get(*id)
                    .is_none_or(|t| t.elapsed() >= UPDATE_INTERVAL)
            })
            .cloned()
            .collect();
        for id in due {
            if let Some((data, metadata)) = self.pending_updates.remove(&id) {
                self.send_update(id, data, metadata);
            }
        }
    }

    fn flush_streams(&mut self) {
        self.stream_since = None;
        for (name, text) in std::mem::take(&mut self.streams) {
            self.emit(Output::Stream { name, text });
        }
    }

    fn flush_all(&mut self) {
        self.flush_streams();
        for (id, (data, metadata)) in std::mem::take(&mut self.pending_updates) {
            self.send_update(id, data, metadata);
        }
    }

    fn emit(&self, output: Output) {
        if let Some(sink) = &self.sink {
            sink.emit(output);
        }
    }
}

/// A cell's error report: `{"ename": .., "evalue": .., "traceback": [..]}`.
fn parse_error_report(json: &str) -> Option<super::CellError> {
    let report: Value = serde_json::from_str(json).ok()?;
    Some(super::CellError {
        ename: report["ename"].as_str()?.to_owned(),
        evalue: report["evalue"].as_str()?.to_owned(),
        traceback: report["traceback"]
            .as_array()?
            .iter()
            .filter_map(|line| line.as_str().map(str::to_owned))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect(Mutex<Vec<Output>>);

    impl OutputSink for Collect {
        fn emit(&self, output: Output) {
            self.0.lock().unwrap().push(output);
        }
    }

    /// evcxr can report a finished run before the runner's stderr lines reach the forwarder;
    /// the flush after such a cell still sends the cell's stderr before it returns.
    #[test]
    fn a_flush_after_a_run_waits_for_stderr_that_is_still_on_its_way() {
        let (_out_tx, out_rx) = crossbeam_channel::unbounded();
        let (err_tx, err_rx) = crossbeam_channel::unbounded();
        let token = Token::new("00112233445566778899aabbccddeeff").unwrap();
        let forwarder = Forwarder::start(out_rx, err_rx, RunningSince::default(), token.clone());
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        forwarder.set_sink(sink.clone());
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let running = Marker::Running.line(&token, "");
            let sync = Marker::StderrSync.line(&token, "");
            for line in [running.as_str(), "oops", sync.as_str()] {
                err_tx.send(line.to_owned()).unwrap();
            }
            err_tx
        });
        forwarder.flush_after_run();
        let shown = sink.0.lock().unwrap().clone();
        assert_eq!(
            shown,
            vec![Output::Stream {
                name: "stderr",
                text: "oops\n".into()
            }]
        );
        let _err_tx = late.join().unwrap();
        // A plain flush with nothing running returns at once.
        let started = Instant::now();
        forwarder.flush();
        assert!(started.elapsed() < Duration::from_millis(500));
    }
}
