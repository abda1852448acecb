//! The Jupyter wire protocol: connection files, message signing, the message envelope and
//! replay protection.

pub mod connection;
pub mod message;
pub mod replay;

pub use connection::{ConnectionInfo, Signer};
pub use message::Message;
pub use replay::ReplayGuard;
