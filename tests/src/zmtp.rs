//! Raw ZMTP 3.0 over TCP, for tests that must send what no ZeroMQ library would: frame headers
//! announcing absurd sizes, subscribers that never read. Written from the ZMTP 3.0 spec
//! (rfc.zeromq.org/spec/23), NULL mechanism only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A TCP connection that finished the ZMTP handshake as a `socket_type` peer.
pub struct RawPeer {
    pub stream: TcpStream,
}

impl RawPeer {
    pub fn connect(port: u16, socket_type: &str) -> std::io::Result<RawPeer> {
        let mut stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut greeting = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0];
        let mut mechanism = b"NULL".to_vec();
        mechanism.resize(20, 0);
        greeting.extend_from_slice(&mechanism);
        greeting.push(0); // as-server
        greeting.resize(64, 0);
        stream.write_all(&greeting)?;
        let mut theirs = [0u8; 64];
        stream.read_exact(&mut theirs)?;
        // READY with Socket-Type (and an empty Identity for ROUTER peers).
        let mut body = vec![5];
        body.extend_from_slice(b"READY");
        for (name, value) in [("Socket-Type", socket_type.as_bytes()), ("Identity", b"")] {
            body.push(name.len() as u8);
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(&(value.len() as u32).to_be_bytes());
            body.extend_from_slice(value);
        }
        stream.write_all(&[0x04, body.len() as u8])?;
        stream.write_all(&body)?;
        // Their READY command.
        let mut header = [0u8; 2];
        stream.read_exact(&mut header)?;
        let mut theirs = vec![0u8; header[1] as usize];
        stream.read_exact(&mut theirs)?;
        Ok(RawPeer { stream })
    }

    /// Sends one message frame (the last of its message).
    pub fn send_frame(&mut self, body: &[u8]) -> std::io::Result<()> {
        if body.len() < 256 {
            self.stream.write_all(&[0x00, body.len() as u8])?;
        } else {
            self.stream.write_all(&[0x02])?;
            self.stream.write_all(&(body.len() as u64).to_be_bytes())?;
        }
        self.stream.write_all(body)
    }

    /// Whether the other side closed the connection within `wait`.
    pub fn closed_within(&mut self, wait: Duration) -> bool {
        let _ = self.stream.set_read_timeout(Some(wait));
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return false,
                Err(_) => return true,
            }
        }
    }
}

impl RawPeer {
    /// Reads one whole message (every frame), skipping ZMTP commands.
    pub fn read_message(&mut self) -> std::io::Result<Vec<Vec<u8>>> {
        let mut frames = Vec::new();
        loop {
            let mut flags = [0u8; 1];
            self.stream.read_exact(&mut flags)?;
            let size = if flags[0] & 0x02 != 0 {
                let mut size = [0u8; 8];
                self.stream.read_exact(&mut size)?;
                u64::from_be_bytes(size) as usize
            } else {
                let mut size = [0u8; 1];
                self.stream.read_exact(&mut size)?;
                size[0] as usize
            };
            let mut body = vec![0u8; size];
            self.stream.read_exact(&mut body)?;
            if flags[0] & 0x04 != 0 {
                continue; // a command
            }
            frames.push(body);
            if flags[0] & 0x01 == 0 {
                return Ok(frames);
            }
        }
    }
}
