//! Connection files and HMAC message signing.

use anyhow::{bail, Context, Result};
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use std::path::Path;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The connection file Jupyter writes for a kernel: where to bind and how to sign.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ConnectionInfo {
    #[serde(default = "default_transport")]
    pub transport: String,
    pub ip: String,
    pub shell_port: u16,
    pub iopub_port: u16,
    pub stdin_port: u16,
    pub control_port: u16,
    pub hb_port: u16,
    #[serde(default)]
    pub key: String,
    #[serde(default = "default_scheme")]
    pub signature_scheme: String,
    #[serde(default)]
    pub kernel_name: String,
}

fn default_transport() -> String {
    "tcp".into()
}

fn default_scheme() -> String {
    "hmac-sha256".into()
}

impl ConnectionInfo {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read connection file {}", path.display()))?;
        let info: ConnectionInfo = serde_json::from_str(&text).with_context(|| {
            format!(
                "connection file {} is not a valid Jupyter connection file",
                path.display()
            )
        })?;
        if info.transport != "tcp" && info.transport != "ipc" {
            bail!(
                "connection file {} asks for transport {:?}; Trainbook supports \"tcp\" and \"ipc\"",
                path.display(),
                info.transport
            );
        }
        if !info.key.is_empty() && info.signature_scheme != "hmac-sha256" {
            bail!(
                "connection file {} asks for signature scheme {:?}; Trainbook supports only \"hmac-sha256\"",
                path.display(),
                info.signature_scheme
            );
        }
        Ok(info)
    }

    /// `tcp://IP:PORT`, or for `ipc` the path `IP-PORT` (jupyter_client's convention).
    pub fn endpoint(&self, port: u16) -> String {
        match self.transport.as_str() {
            "ipc" => format!("ipc://{}-{}", self.ip, port),
            transport => format!("{transport}://{}:{}", self.ip, port),
        }
    }

    pub fn signer(&self) -> Signer {
        Signer::new(&self.key)
    }
}

/// Signs outgoing messages and verifies incoming ones (HMAC-SHA256 over the four JSON frames).
#[derive(Clone)]
pub struct Signer {
    mac: Option<HmacSha256>,
}

impl Signer {
    /// An empty key disables signing, as the protocol specifies.
    pub fn new(key: &str) -> Self {
        let mac = if key.is_empty() {
            None
        } else {
            Some(HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length"))
        };
        Signer { mac }
    }

    pub fn sign(&self, parts: [&[u8]; 4]) -> String {
        match &self.mac {
            None => String::new(),
            Some(mac) => {
                let mut mac = mac.clone();
                for part in parts {
                    mac.update(part);
                }
                hex::encode(mac.finalize().into_bytes())
            }
        }
    }

    /// Constant-time check of a received hex signature.
    pub fn verify(&self, signature: &[u8], parts: [&[u8]; 4]) -> bool {
        match &self.mac {
            None => true,
            Some(mac) => {
                let Ok(expected) = hex::decode(signature) else {
                    return false;
                };
                let mut mac = mac.clone();
                for part in parts {
                    mac.update(part);
                }
                mac.verify_slice(&expected).is_ok()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip_and_tamper() {
        let signer = Signer::new("secret");
        let parts: [&[u8]; 4] = [b"{}", b"{}", b"{}", b"{\"code\":\"1\"}"];
        let sig = signer.sign(parts);
        assert_eq!(sig.len(), 64);
        assert!(signer.verify(sig.as_bytes(), parts));
        let tampered: [&[u8]; 4] = [b"{}", b"{}", b"{}", b"{\"code\":\"2\"}"];
        assert!(!signer.verify(sig.as_bytes(), tampered));
        assert!(!signer.verify(b"zz", parts));
        assert!(!signer.verify(b"", parts));
        assert!(!Signer::new("other").verify(sig.as_bytes(), parts));
    }

    #[test]
    fn known_vector() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") split over frames.
        let signer = Signer::new("key");
        let sig = signer.sign([
            b"The quick ",
            b"brown fox ",
            b"jumps over ",
            b"the lazy dog",
        ]);
        assert_eq!(
            sig,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn empty_key_disables_signing() {
        let signer = Signer::new("");
        assert_eq!(signer.sign([b"a", b"b", b"c", b"d"]), "");
        assert!(signer.verify(b"", [b"a", b"b", b"c", b"d"]));
    }
}
