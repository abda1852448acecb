//! The message envelope: identities, delimiter, signature, four JSON frames, buffers.

use super::Signer;
use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use serde_json::{json, Value};
use std::sync::OnceLock;

pub const DELIMITER: &[u8] = b"<IDS|MSG>";
pub const PROTOCOL_VERSION: &str = "5.3";

/// The session id this kernel process signs its headers with.
pub fn kernel_session() -> &'static str {
    static SESSION: OnceLock<String> = OnceLock::new();
    SESSION.get_or_init(|| uuid::Uuid::new_v4().to_string())
}

#[derive(Debug, Clone)]
pub struct Message {
    /// ZeroMQ routing identities (shell, control, stdin) or the topic (iopub).
    pub identities: Vec<Bytes>,
    pub header: Value,
    pub parent_header: Value,
    pub metadata: Value,
    pub content: Value,
    pub buffers: Vec<Bytes>,
    /// The signature it arrived with (empty for messages made here), for replay protection.
    pub signature: Bytes,
}

impl Message {
    /// Parses and verifies a multipart message. Anything malformed or badly signed is an error,
    /// so the caller can drop and log it without touching kernel state.
    pub fn parse(frames: Vec<Bytes>, signer: &Signer) -> Result<Message> {
        let delimiter = frames
            .iter()
            .position(|f| f.as_ref() == DELIMITER)
            .ok_or_else(|| anyhow!("no <IDS|MSG> delimiter in {} frames", frames.len()))?;
        if frames.len() < delimiter + 6 {
            bail!(
                "expected signature and four JSON frames after the delimiter, got {}",
                frames.len() - delimiter - 1
            );
        }
        let signature = &frames[delimiter + 1];
        let parts = [
            frames[delimiter + 2].as_ref(),
            frames[delimiter + 3].as_ref(),
            frames[delimiter + 4].as_ref(),
            frames[delimiter + 5].as_ref(),
        ];
        if !signer.verify(signature, parts) {
            bail!("invalid HMAC signature");
        }
        let parse = |i: usize, name: &str| -> Result<Value> {
            serde_json::from_slice(&frames[delimiter + i])
                .map_err(|e| anyhow!("{name} frame is not JSON: {e}"))
        };
        let header = parse(2, "header")?;
        if !header.is_object() || !header["msg_type"].is_string() {
            bail!("header has no msg_type");
        }
        Ok(Message {
            identities: frames[..delimiter].to_vec(),
            header,
            parent_header: parse(3, "parent_header")?,
            metadata: parse(4, "metadata")?,
            content: parse(5, "content")?,
            buffers: frames[delimiter + 6..].to_vec(),
            signature: frames[delimiter + 1].clone(),
        })
    }

    pub fn to_frames(&self, signer: &Signer) -> Vec<Bytes> {
        let header = serde_json::to_vec(&self.header).unwrap();
        let parent = serde_json::to_vec(&self.parent_header).unwrap();
        let metadata = serde_json::to_vec(&self.metadata).unwrap();
        let content = serde_json::to_vec(&self.content).unwrap();
        let signature = signer.sign([&header, &parent, &metadata, &content]);
        let mut frames = self.identities.clone();
        frames.push(Bytes::from_static(DELIMITER));
        frames.push(Bytes::from(signature));
        frames.push(Bytes::from(header));
        frames.push(Bytes::from(parent));
        frames.push(Bytes::from(metadata));
        frames.push(Bytes::from(content));
        frames.extend(self.buffers.iter().cloned());
        frames
    }

    pub fn msg_type(&self) -> &str {
        self.header["msg_type"].as_str().unwrap_or("")
    }

    /// A fresh message with no parent (e.g. the starting status).
    pub fn new(msg_type: &str, content: Value) -> Message {
        Message {
            identities: Vec::new(),
            header: new_header(msg_type),
            parent_header: json!({}),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
            signature: Bytes::new(),
        }
    }

    /// A reply or side effect of this request: same routing identities, parent = our header.
    /// A reply to this request with typed content (see `replies`).
    pub fn reply<T: serde::Serialize>(&self, msg_type: &str, content: &T) -> Message {
        let content = serde_json::to_value(content).expect("replies serialise to JSON");
        self.child(msg_type, content)
    }

    pub fn child(&self, msg_type: &str, content: Value) -> Message {
        Message {
            identities: self.identities.clone(),
            header: new_header(msg_type),
            parent_header: self.header.clone(),
            metadata: json!({}),
            content,
            buffers: Vec::new(),
            signature: Bytes::new(),
        }
    }
}

pub fn new_header(msg_type: &str) -> Value {
    json!({
        "msg_id": uuid::Uuid::new_v4().to_string(),
        "session": kernel_session(),
        "username": "trainbook",
        "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "msg_type": msg_type,
        "version": PROTOCOL_VERSION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects() {
        let signer = Signer::new("k");
        let mut msg = Message::new("execute_request", json!({"code": "1+1"}));
        msg.identities = vec![Bytes::from_static(b"client")];
        let frames = msg.to_frames(&signer);
        let parsed = Message::parse(frames.clone(), &signer).unwrap();
        assert_eq!(parsed.msg_type(), "execute_request");
        assert_eq!(parsed.content["code"], "1+1");
        assert_eq!(parsed.identities, vec![Bytes::from_static(b"client")]);

        // Wrong key.
        assert!(Message::parse(frames.clone(), &Signer::new("x")).is_err());
        // Junk.
        assert!(Message::parse(vec![Bytes::from_static(b"junk")], &signer).is_err());
        // Truncated.
        assert!(Message::parse(frames[..4].to_vec(), &signer).is_err());
        // Valid signature over a non-JSON header.
        let mut bad = frames.clone();
        let d = bad.iter().position(|f| f.as_ref() == DELIMITER).unwrap();
        bad[d + 2] = Bytes::from_static(b"not json");
        let sig = signer.sign([&bad[d + 2], &bad[d + 3], &bad[d + 4], &bad[d + 5]]);
        bad[d + 1] = Bytes::from(sig);
        assert!(Message::parse(bad, &signer).is_err());
    }
}
