//! The Jupyter wire protocol: connection files, message signing and the message envelope.

pub mod connection;
pub mod message;

pub use connection::{ConnectionInfo, Signer};
pub use message::Message;
