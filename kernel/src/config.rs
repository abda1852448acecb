//! Every `TRAINBOOK_*` setting the kernel reads, read once, in one place.
//!
//! A limit that does not parse is reported in the kernel log and the default is used, so a
//! typo in a kernelspec never stops a kernel from starting. Settings whose meaning belongs to
//! one part (the standby counts, the cell-build mode, the features) are kept as given here and
//! checked by that part, which says what is wrong with them.
//!
//! Not here: `TRAINBOOK_MARKER_TOKEN`, which is no setting but the kernel's handover of its
//! marker token to its runner (see `trainbook_wire`), read and removed once by the runner.

use std::sync::OnceLock;

/// Limits on what peers may send, and on what the kernel keeps for slow ones.
#[derive(Debug, Clone)]
pub struct Config {
    /// `TRAINBOOK_MAX_MESSAGE_BYTES`: the largest frame, and the largest whole message, a peer
    /// may send (default 512 MiB). libzmq disconnects a peer whose frame announces more, before
    /// reserving any memory for it.
    pub max_message_bytes: usize,
    /// `TRAINBOOK_IOPUB_QUEUE`: messages queued for one IOPub subscriber that is not reading
    /// (default 1,000, libzmq's own default). Past that, that subscriber misses messages; the
    /// others do not wait for it.
    pub iopub_queue: i32,
    /// `TRAINBOOK_HANDSHAKE_MS`: how long a connection may take to finish the ZeroMQ handshake
    /// before it is dropped (default 10 s).
    pub handshake_ms: i32,
    /// `TRAINBOOK_MAX_FRAMES`: frames in one message (default 1,000: a Jupyter message has
    /// routing identities, six protocol frames and its buffers).
    pub max_frames: usize,
    /// `TRAINBOOK_MAX_CONNECTIONS`: open connections per socket (default 256; a frontend
    /// opens one per socket, a notebook open in several tabs one per tab).
    pub max_connections: usize,
    /// `TRAINBOOK_PRELUDE_DIR`: the prelude crate to load (empty: none).
    pub prelude_dir: Option<std::ffi::OsString>,
    /// `TRAINBOOK_CACHE_DIR`: the build cache (default `~/.cache/trainbook`).
    pub cache_dir: Option<std::ffi::OsString>,
    /// `TRAINBOOK_DATA_DIR`: where the input history lives (default `~/.local/share/trainbook`).
    pub data_dir: Option<std::ffi::OsString>,
    /// `TRAINBOOK_FEATURES`: the prelude's cargo features, comma or space separated.
    pub features: String,
    /// `TRAINBOOK_STANDBY` and `TRAINBOOK_STANDBY_TTL`, as given (see `standby`).
    pub standby: Option<String>,
    pub standby_ttl: Option<String>,
    /// `TRAINBOOK_CELL_BUILD`: `cargo` sends every cell through cargo.
    pub cell_build: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_bytes: 512 << 20,
            iopub_queue: 1000,
            handshake_ms: 10_000,
            max_frames: 1000,
            max_connections: 256,
            prelude_dir: None,
            cache_dir: None,
            data_dir: None,
            features: String::new(),
            standby: None,
            standby_ttl: None,
            cell_build: None,
        }
    }
}

impl Config {
    /// The settings of this process, read from the environment the first time.
    pub fn get() -> &'static Config {
        static CONFIG: OnceLock<Config> = OnceLock::new();
        CONFIG.get_or_init(|| {
            let path = |name: &str| std::env::var_os(name);
            Config {
                prelude_dir: path("TRAINBOOK_PRELUDE_DIR"),
                cache_dir: path("TRAINBOOK_CACHE_DIR"),
                data_dir: path("TRAINBOOK_DATA_DIR"),
                ..Config::from_lookup(|name| std::env::var(name).ok())
            }
        })
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Config {
        let defaults = Config::default();
        Config {
            features: lookup("TRAINBOOK_FEATURES").unwrap_or_default(),
            standby: lookup("TRAINBOOK_STANDBY"),
            standby_ttl: lookup("TRAINBOOK_STANDBY_TTL"),
            cell_build: lookup("TRAINBOOK_CELL_BUILD"),
            max_message_bytes: number(
                &lookup,
                "TRAINBOOK_MAX_MESSAGE_BYTES",
                defaults.max_message_bytes,
            ),
            iopub_queue: number(&lookup, "TRAINBOOK_IOPUB_QUEUE", defaults.iopub_queue),
            handshake_ms: number(&lookup, "TRAINBOOK_HANDSHAKE_MS", defaults.handshake_ms),
            max_frames: number(&lookup, "TRAINBOOK_MAX_FRAMES", defaults.max_frames),
            max_connections: number(
                &lookup,
                "TRAINBOOK_MAX_CONNECTIONS",
                defaults.max_connections,
            ),
            ..defaults
        }
    }
}

fn number<T: std::str::FromStr + PartialOrd + Default + Copy + std::fmt::Display>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> T {
    match lookup(name) {
        None => default,
        Some(text) => match text.trim().parse::<T>() {
            Ok(value) if value > T::default() => value,
            _ => {
                crate::log::warn(format!(
                    "{name}={text:?} is not a positive whole number; using {default}"
                ));
                default
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_typos() {
        let config = Config::from_lookup(|_| None);
        assert_eq!(config.max_message_bytes, 512 << 20);
        let config = Config::from_lookup(|name| match name {
            "TRAINBOOK_MAX_MESSAGE_BYTES" => Some("1000".into()),
            "TRAINBOOK_IOPUB_QUEUE" => Some("ten".into()),
            "TRAINBOOK_HANDSHAKE_MS" => Some("-5".into()),
            _ => None,
        });
        assert_eq!(config.max_message_bytes, 1000);
        assert_eq!(config.iopub_queue, 1000, "a typo keeps the default");
        assert_eq!(
            config.handshake_ms, 10_000,
            "a negative value keeps the default"
        );
    }
}
