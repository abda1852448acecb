//! The Jupyter wire protocol: connection files, message signing, the message envelope, replay
//! protection and the typed requests and replies.

pub mod connection;
pub mod message;
pub mod replay;
pub mod replies;
pub mod requests;

pub use connection::{ConnectionInfo, Signer};
pub use message::Message;
pub use replay::ReplayGuard;
