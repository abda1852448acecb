//! The cargo workspace evcxr builds cells in.
//!
//! evcxr's crate (`ctx/`, its EVCXR_TMPDIR) is one member; the other, `pin/`, depends on the
//! prelude and nothing else. evcxr checks every `:dep` by writing a throwaway manifest in its
//! crate and running `cargo metadata`, which rewrites the lock file to that manifest's few
//! dependencies; the next build then resolved the prelude's ~300 crates afresh, to the newest
//! releases, and recompiled all of them. With `pin/` in the workspace the lock always keeps
//! the prelude's tested versions, so a `:dep` compiles only the new crate.

use super::cache::private_dir;
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// Cargo reads profiles only from the workspace root, so evcxr's own profile (what it writes
/// into `ctx/Cargo.toml`) is repeated here.
const ROOT_MANIFEST: &str = r#"# Written by Trainbook: evcxr's crate plus a member that pins the prelude's dependencies.
[workspace]
resolver = "2"
members = ["ctx", "pin"]

[profile.dev]
opt-level = 2
debug = false
strip = "debuginfo"
rpath = true
lto = false
debug-assertions = true
codegen-units = 16
panic = 'unwind'
incremental = true
overflow-checks = true
"#;

/// Lays out the workspace in `work_dir` and returns evcxr's crate directory. Without a
/// prelude there is nothing to pin and evcxr's crate stands alone.
pub fn prepare(work_dir: &Path, prelude: Option<&Path>) -> Result<PathBuf> {
    let crate_dir = work_dir.join("ctx");
    private_dir(&crate_dir)?;
    let Some(prelude) = prelude else {
        return Ok(crate_dir);
    };
    fs::write(work_dir.join("Cargo.toml"), ROOT_MANIFEST)?;
    let pin = work_dir.join("pin");
    private_dir(&pin)?;
    let dependency =
        super::cache::prelude_dependency(prelude, &super::cache::prelude_features(prelude)?);
    fs::write(
        pin.join("Cargo.toml"),
        format!(
            "[package]\nname = \"trainbook-pin\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             publish = false\n\n[lib]\npath = \"lib.rs\"\n\n[dependencies]\n\
             trainbook = {dependency}\n"
        ),
    )?;
    fs::write(pin.join("lib.rs"), "")?;
    if let Some(lock) = super::cache::project_lock(prelude) {
        // A fresh file: never written through a hard link another kernel shares.
        let root_lock = work_dir.join("Cargo.lock");
        let _ = fs::remove_file(&root_lock);
        fs::copy(&lock, &root_lock)
            .with_context(|| format!("cannot copy {} into the build", lock.display()))?;
    }
    Ok(crate_dir)
}
