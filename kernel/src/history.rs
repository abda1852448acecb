//! Input history shared by all kernels of a user, for `history_request` (tail, range, search).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    session: u64,
    line: u64,
    input: String,
}

pub struct History {
    file: Option<PathBuf>,
    entries: Vec<Entry>,
    session: u64,
}

/// Only this many entries are kept on disk.
const KEEP: usize = 10_000;

/// The history holds everything a user typed, secrets included: readable by its owner only.
fn keep_private(file: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(file) {
            if metadata.permissions().mode() & 0o077 != 0 {
                let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600));
            }
        }
    }
}

impl History {
    /// Opens `$TRAINBOOK_DATA_DIR/history.jsonl` (default `~/.local/share/trainbook`).
    pub fn open() -> History {
        let file = crate::config::Config::get()
            .data_dir
            .as_ref()
            .map(PathBuf::from)
            .or_else(|| dirs::data_dir().map(|d| d.join("trainbook")))
            .map(|d| d.join("history.jsonl"));
        let mut entries: Vec<Entry> = file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|text| {
                text.lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(f) = &file {
            keep_private(f);
        }
        // Trimmed rarely (at twice the size kept), and never rewritten in place: another
        // kernel reading or appending sees the old file or the new one.
        if entries.len() > 2 * KEEP {
            entries.drain(..entries.len() - KEEP);
            if let Some(f) = &file {
                let text: String = entries
                    .iter()
                    .map(|e| serde_json::to_string(e).unwrap() + "\n")
                    .collect();
                let _ = trainbook_wire::files::replace(f, |t| std::fs::write(t, text));
                keep_private(f);
            }
        }
        let session = entries.iter().map(|e| e.session).max().unwrap_or(0) + 1;
        History {
            file,
            entries,
            session,
        }
    }

    pub fn record(&mut self, line: u64, input: &str) {
        let entry = Entry {
            session: self.session,
            line,
            input: input.to_owned(),
        };
        if let Some(file) = &self.file {
            if let Some(dir) = file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            // One write per entry with O_APPEND, so concurrent kernels do not interleave.
            let mut options = std::fs::OpenOptions::new();
            options.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            if let Ok(mut f) = options.open(file) {
                let _ = f.write_all((serde_json::to_string(&entry).unwrap() + "\n").as_bytes());
            }
        }
        self.entries.push(entry);
    }

    /// Answers a history_request's content with `[session, line, input]` triples.
    pub fn query(&self, request: &Value) -> Vec<Value> {
        let output = request["output"].as_bool().unwrap_or(false);
        let unique = request["unique"].as_bool().unwrap_or(false);
        let n = request["n"].as_u64().map(|n| n as usize);
        let selected: Vec<&Entry> = match request["hist_access_type"].as_str().unwrap_or("tail") {
            "range" => {
                let session = request["session"].as_i64().unwrap_or(0);
                let session = if session <= 0 {
                    (self.session as i64 + session).max(0) as u64
                } else {
                    session as u64
                };
                let start = request["start"].as_u64().unwrap_or(0);
                let stop = request["stop"].as_u64();
                self.entries
                    .iter()
                    .filter(|e| e.session == session && e.line >= start)
                    .filter(|e| stop.is_none_or(|s| e.line < s))
                    .collect()
            }
            "search" => {
                let pattern = request["pattern"].as_str().unwrap_or("*");
                let matched: Vec<&Entry> = self
                    .entries
                    .iter()
                    .filter(|e| glob_match(pattern, &e.input))
                    .collect();
                last_n(dedup(matched, unique), n)
            }
            _ => last_n(dedup(self.entries.iter().collect(), unique), n.or(Some(10))),
        };
        selected
            .into_iter()
            .map(|e| {
                if output {
                    json!([e.session, e.line, [e.input, Value::Null]])
                } else {
                    json!([e.session, e.line, e.input])
                }
            })
            .collect()
    }
}

fn dedup(entries: Vec<&Entry>, unique: bool) -> Vec<&Entry> {
    if !unique {
        return entries;
    }
    // Keep the latest occurrence of each input.
    let mut seen = std::collections::HashSet::new();
    let mut kept: Vec<&Entry> = entries
        .into_iter()
        .rev()
        .filter(|e| seen.insert(e.input.clone()))
        .collect();
    kept.reverse();
    kept
}

fn last_n(entries: Vec<&Entry>, n: Option<usize>) -> Vec<&Entry> {
    match n {
        Some(n) if entries.len() > n => entries[entries.len() - n..].to_vec(),
        _ => entries,
    }
}

/// Shell-style glob: `*` any run, `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        // `*` first: a literal `*` in the text must not consume the wildcard.
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("let *", "let x = 1"));
        assert!(glob_match("*x?1", "let x=1"));
        assert!(!glob_match("let", "let x"));
        assert!(glob_match("6 *", "6 * 7"));
    }

    #[test]
    fn queries() {
        let mut h = History {
            file: None,
            entries: Vec::new(),
            session: 3,
        };
        h.record(1, "a");
        h.record(2, "b");
        h.record(3, "a");
        let tail = h.query(&json!({"hist_access_type": "tail", "n": 2}));
        assert_eq!(tail, vec![json!([3, 2, "b"]), json!([3, 3, "a"])]);
        let unique = h.query(&json!({"hist_access_type": "tail", "n": 10, "unique": true}));
        assert_eq!(unique.len(), 2);
        let range =
            h.query(&json!({"hist_access_type": "range", "session": 0, "start": 2, "stop": 3}));
        assert_eq!(range, vec![json!([3, 2, "b"])]);
        let search = h.query(&json!({"hist_access_type": "search", "pattern": "a*"}));
        assert_eq!(search.len(), 2);
        let with_output = h.query(&json!({"hist_access_type": "tail", "n": 1, "output": true}));
        assert_eq!(with_output, vec![json!([3, 3, ["a", null]])]);
    }
}
