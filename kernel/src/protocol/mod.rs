//! The Jupyter wire protocol: connection files, message signing, the message envelope, replay
//! protection and the typed requests.

pub mod connection;
pub mod message;
pub mod replay;
pub mod requests;

pub use connection::{ConnectionInfo, Signer};
pub use message::Message;
pub use replay::ReplayGuard;
