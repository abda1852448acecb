//! The per-user prelude build cache.
//!
//! evcxr compiles cells in a crate directory of its own, with the prelude and every dependency
//! built under `target/`. Building the prelude takes minutes, so it is done once per
//! (toolchain, prelude source, lock file) into a template directory, and every kernel gets a
//! private copy of that template: big artifacts hard-linked, small bookkeeping files copied so
//! that kernels never share a lock file or write into each other's state.
//!
//! Layout under `~/.cache/trainbook` (or `$TRAINBOOK_CACHE_DIR`), all mode 0700:
//! `prelude/<key>/` templates (`READY` marks a complete one), `prelude/.lock` serialises
//! builds, `kernels/<id>/` per-kernel work directories (removed when the kernel exits; ones
//! whose process died are swept at the next start). A prelude built with cargo features
//! (`TRAINBOOK_FEATURES`, e.g. `cuda`) keeps its templates in `prelude+<features>/`, so that
//! switching between a CPU and a GPU kernel rebuilds neither.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const READY: &str = "READY";
/// The newest modification time of the prelude's files when the template was built.
const SOURCES_MTIME: &str = "SOURCES_MTIME";
/// Files at least this big are hard-linked into kernel directories; smaller ones are copied.
const LINK_THRESHOLD: u64 = 64 * 1024;

/// The prelude crate this binary was built with, unless `TRAINBOOK_PRELUDE_DIR` says otherwise.
pub fn prelude_dir() -> Option<PathBuf> {
    if let Some(dir) = &crate::config::Config::get().prelude_dir {
        if dir.is_empty() {
            return None;
        }
        return Some(PathBuf::from(dir));
    }
    let built_with = Path::new(env!("CARGO_MANIFEST_DIR")).join("../prelude");
    built_with.canonicalize().ok()
}

pub fn cache_root() -> Result<PathBuf> {
    let root = match &crate::config::Config::get().cache_dir {
        Some(dir) => PathBuf::from(dir),
        None => dirs::cache_dir()
            .context("no cache directory: set HOME or TRAINBOOK_CACHE_DIR")?
            .join("trainbook"),
    };
    private_dir(&root)?;
    Ok(root)
}

pub fn kernels_root() -> Result<PathBuf> {
    let dir = cache_root()?.join("kernels");
    private_dir(&dir)?;
    Ok(dir)
}

/// Creates `dir` (mode 0700) or checks that an existing one is ours and private: another user
/// who can write there could swap in code that our kernel would run.
pub(crate) fn private_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let meta = fs::metadata(dir)?;
    let uid = unsafe { libc::getuid() };
    if meta.uid() != uid {
        bail!(
            "{} belongs to another user (uid {}); refusing to build or run code there. \
             Remove it or set TRAINBOOK_CACHE_DIR to a directory of your own.",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

pub fn new_private_dir(parent: &Path) -> Result<PathBuf> {
    let dir = parent.join(format!("{}-{}", std::process::id(), uuid::Uuid::new_v4()));
    private_dir(&dir)?;
    Ok(dir)
}

/// The prelude's cargo features this kernel builds with: `TRAINBOOK_FEATURES`, comma or space
/// separated (`install.sh --cuda` puts `cuda` into the kernelspec). Names the prelude's
/// Cargo.toml does not declare are refused here, with the list it does declare, rather than by
/// cargo in the middle of a build.
pub fn prelude_features(prelude: &Path) -> Result<Vec<String>> {
    let requested = crate::config::Config::get().features.clone();
    if requested.trim().is_empty() {
        return Ok(Vec::new());
    }
    let manifest = prelude.join("Cargo.toml");
    let text = fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    checked_features(&requested, &text)
        .with_context(|| format!("the prelude at {}", prelude.display()))
}

/// `requested` split into sorted, unique names, each declared in `manifest`.
fn checked_features(requested: &str, manifest: &str) -> Result<Vec<String>> {
    let mut features: Vec<String> = requested
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    features.sort();
    features.dedup();
    let declared = declared_features(manifest);
    if let Some(unknown) = features.iter().find(|f| !declared.contains(f)) {
        bail!(
            "TRAINBOOK_FEATURES names the feature {unknown:?}, which the prelude does not have \
             (it has: {}). Fix or unset TRAINBOOK_FEATURES; for Jupyter it is in the \
             kernelspec's env, written by `trainbook install`.",
            if declared.is_empty() {
                "none".to_string()
            } else {
                declared.join(", ")
            }
        );
    }
    Ok(features)
}

/// A CUDA prelude links the NVIDIA driver's library (libcuda.so.1): without it no cell can load
/// the prelude (the runner process dies at the first one), so say so before compiling.
fn check_cuda_driver(features: &[String]) -> Result<()> {
    if !features.iter().any(|f| f == "cuda") {
        return Ok(());
    }
    // SAFETY: dlopen/dlclose with a constant name; the handle is not used otherwise.
    let found = unsafe {
        let handle = libc::dlopen(c"libcuda.so.1".as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if !handle.is_null() {
            libc::dlclose(handle);
        }
        !handle.is_null()
    };
    if !found {
        bail!(
            "TRAINBOOK_FEATURES=cuda builds the prelude with CUDA, but this machine has no NVIDIA \
             driver library (libcuda.so.1), so no cell could load it. Install the driver, or \
             reinstall the kernel without --cuda (./install.sh)."
        );
    }
    Ok(())
}

/// The keys of the `[features]` table of a Cargo.toml.
fn declared_features(manifest: &str) -> Vec<String> {
    let mut in_features = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_features = line == "[features]";
        } else if in_features {
            if let Some((name, _)) = line.split_once('=') {
                let name = name.trim();
                if !name.is_empty() && !name.starts_with('#') {
                    names.push(name.to_string());
                }
            }
        }
    }
    names
}

/// How cells' crate and the pinning member depend on the prelude.
pub fn prelude_dependency(prelude: &Path, features: &[String]) -> String {
    let path = format!("{:?}", prelude.display().to_string());
    if features.is_empty() {
        format!("{{ path = {path} }}")
    } else {
        format!("{{ path = {path}, features = {features:?} }}")
    }
}

pub struct PreludeCache {
    prelude: PathBuf,
    template: PathBuf,
    lock_file: PathBuf,
    /// Newest mtime (ns) of the prelude's files now.
    sources_mtime: u128,
}

impl PreludeCache {
    pub fn for_prelude(prelude: &Path) -> Result<PreludeCache> {
        let prelude = prelude.canonicalize().with_context(|| {
            format!(
                "the Trainbook prelude is not at {} (set TRAINBOOK_PRELUDE_DIR to the prelude/ \
                 folder of your Trainbook checkout)",
                prelude.display()
            )
        })?;
        let cargo_lock = project_lock(&prelude);
        let features = prelude_features(&prelude)?;
        check_cuda_driver(&features)?;
        let key = cache_key(&prelude, cargo_lock.as_deref(), &features)?;
        let folder = match features.is_empty() {
            true => "prelude".to_string(),
            false => format!("prelude+{}", features.join("+")),
        };
        let root = cache_root()?.join(folder);
        private_dir(&root)?;
        Ok(PreludeCache {
            template: root.join(key),
            lock_file: root.join(".lock"),
            sources_mtime: newest_mtime(&prelude)?,
            prelude,
        })
    }

    /// Names this build of the prelude: its content key and the age of its files.
    pub fn identity(&self) -> String {
        format!("{} {}", self.template.display(), self.sources_mtime)
    }

    pub fn template_dir(&self) -> &Path {
        &self.template
    }

    /// A complete template whose build is not older than the prelude's files. Same content
    /// (the key) is not enough: cargo rebuilds a path dependency whose files are newer than its
    /// last build, as after a fresh clone, and then every kernel would rebuild it at once.
    pub fn is_built(&self) -> bool {
        self.template.join(READY).exists() && self.built_from_mtime() >= Some(self.sources_mtime)
    }

    fn built_from_mtime(&self) -> Option<u128> {
        fs::read_to_string(self.template.join(SOURCES_MTIME))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Builds the template unless a complete one exists. Concurrent kernels wait for one build.
    pub fn ensure_built(&self, progress: &dyn Fn(&str)) -> Result<()> {
        if self.is_built() {
            return Ok(());
        }
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_file)?;
        use std::os::fd::AsRawFd;
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            progress("Waiting for another Trainbook kernel that is compiling the prelude…");
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
                bail!("cannot lock {}", self.lock_file.display());
            }
        }
        if self.is_built() {
            return Ok(());
        }
        if self.template.join(READY).exists() {
            // Same content, newer files (a fresh checkout): cargo recompiles only the prelude
            // crate itself, once, here, instead of in every kernel.
            progress("The prelude's files are newer than its build (a fresh checkout?); recompiling the prelude crate once…");
            let started = std::time::Instant::now();
            let runner =
                super::Runner::start_for_precompile(self.template.clone(), self.prelude.clone())?;
            drop(runner);
            fs::write(
                self.template.join(SOURCES_MTIME),
                format!("{}\n", self.sources_mtime),
            )?;
            progress(&format!(
                "Prelude refreshed in {:.0} s.",
                started.elapsed().as_secs_f64()
            ));
            return Ok(());
        }
        progress(
            "Compiling the Trainbook prelude and its dependencies. This happens once per \
             toolchain and prelude version (install.sh does it ahead of time) and takes minutes.",
        );
        let started = std::time::Instant::now();
        if self.template.exists() {
            fs::remove_dir_all(&self.template)?;
        }
        private_dir(&self.template)?;
        if let Some(previous) = newest_other_template(&self.template) {
            // Dependencies rarely change when the prelude does: start from the last build so
            // cargo only recompiles what changed (fingerprints decide), not all 300 crates.
            progress("Reusing the previous prelude build; only what changed is recompiled.");
            seed_dir(&previous, &self.template, false, true).with_context(|| {
                format!("cannot copy the previous build {}", previous.display())
            })?;
            // Templates from before the workspace layout kept evcxr's build at the top.
            let (old, new) = (
                self.template.join("target"),
                self.template.join("ctx/target"),
            );
            if old.is_dir() && !new.exists() {
                private_dir(&self.template.join("ctx"))?;
                fs::rename(old, new)?;
            }
        }
        let runner =
            super::Runner::start_for_precompile(self.template.clone(), self.prelude.clone())?;
        drop(runner);
        fs::write(
            self.template.join(SOURCES_MTIME),
            format!("{}\n", self.sources_mtime),
        )?;
        fs::write(
            self.template.join(READY),
            format!("{:?}\n", started.elapsed()),
        )?;
        progress(&format!(
            "Prelude compiled in {:.0} s.",
            started.elapsed().as_secs_f64()
        ));
        sweep_other_templates(&self.template);
        Ok(())
    }

    /// A private work directory for one kernel, seeded from the template.
    pub fn new_work_dir(&self) -> Result<PathBuf> {
        let kernels = kernels_root()?;
        sweep_dead_kernels(&kernels);
        let dir = new_private_dir(&kernels)?;
        fs::write(dir.join("pid"), std::process::id().to_string())?;
        seed_tree(&self.template, &dir)
            .with_context(|| format!("cannot copy the prelude cache into {}", dir.display()))?;
        Ok(dir)
    }
}

/// The lock file of the project the prelude belongs to. Copied into every build workspace
/// (see `workspace`), it pins the versions the project was tested with and makes the template
/// and every kernel resolve identically, so kernels reuse the template's artifacts.
pub fn project_lock(prelude: &Path) -> Option<PathBuf> {
    prelude
        .parent()
        .map(|p| p.join("Cargo.lock"))
        .filter(|p| p.exists())
}

fn cache_key(prelude: &Path, cargo_lock: Option<&Path>, features: &[String]) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(env!("CARGO_PKG_VERSION"));
    hasher.update(format!("features: {features:?}"));
    // The build layout (see `workspace`); a new layout needs a new template.
    hasher.update("layout: ctx + pin workspace");
    let rustc = std::process::Command::new(std::env::var_os("RUSTC").unwrap_or("rustc".into()))
        .arg("-vV")
        .output()
        .context("cannot run rustc: is the Rust toolchain on PATH?")?;
    hasher.update(&rustc.stdout);
    if let Some(lock) = cargo_lock {
        hasher.update(fs::read(lock)?);
    }
    hasher.update(prelude.to_string_lossy().as_bytes());
    let mut files = Vec::new();
    collect_files(prelude, &mut files)?;
    files.sort();
    for file in files {
        hasher.update(
            file.strip_prefix(prelude)
                .unwrap()
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update(fs::read(&file)?);
    }
    Ok(hex::encode(&hasher.finalize()[..12]))
}

/// The newest modification time (ns since the epoch) of the files the cache key covers.
fn newest_mtime(prelude: &Path) -> Result<u128> {
    let mut files = Vec::new();
    collect_files(prelude, &mut files)?;
    let mut newest = 0;
    for file in files {
        let modified = fs::metadata(&file)?.modified()?;
        let ns = modified
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        newest = newest.max(ns);
    }
    Ok(newest)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Copies the template: big build artifacts under `target/` hard-linked, everything else
/// copied with its modification time kept (cargo compares them), evcxr's per-run files left
/// out. Files cargo rewrites in place (Cargo.lock, Cargo.toml) must never be shared: a kernel
/// pruning its lock would prune every other kernel's and the template's.
fn seed_tree(from: &Path, to: &Path) -> Result<()> {
    seed_dir(from, to, false, false)
}

/// `without_prelude`: leave out the prelude's own build outputs, for a new template: the prelude
/// changed, so they are rebuilt anyway, and a rebuild must not write through links into files
/// of the previous template.
fn seed_dir(from: &Path, to: &Path, in_target: bool, without_prelude: bool) -> Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "src" || name == READY || name == "incremental" || name == ".cargo-lock" {
            continue;
        }
        let text = name.to_string_lossy();
        if without_prelude
            && in_target
            && (text.starts_with("libtrainbook") || text.starts_with("trainbook"))
        {
            continue;
        }
        let source = entry.path();
        let target = to.join(&name);
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            fs::DirBuilder::new().mode(0o700).create(&target)?;
            seed_dir(
                &source,
                &target,
                in_target || name == "target",
                without_prelude,
            )?;
        } else if file_type.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&source)?, &target)?;
        } else {
            let meta = entry.metadata()?;
            let link = in_target && meta.len() >= LINK_THRESHOLD;
            if !link || fs::hard_link(&source, &target).is_err() {
                fs::copy(&source, &target)?;
                let file = fs::File::options().write(true).open(&target)?;
                file.set_modified(meta.modified()?)?;
            }
        }
    }
    Ok(())
}

/// The most recently completed template other than `current`, if any.
fn newest_other_template(current: &Path) -> Option<PathBuf> {
    let parent = current.parent()?;
    fs::read_dir(parent)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p != current && p.join(READY).exists())
        .max_by_key(|p| {
            fs::metadata(p.join(READY))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
        })
}

fn sweep_other_templates(keep: &Path) {
    let Some(parent) = keep.parent() else { return };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path != keep && path.is_dir() {
            let _ = fs::remove_dir_all(path);
        }
    }
}

/// Whether process `pid` exists (also when it belongs to another user).
pub(crate) fn process_alive(pid: libc::pid_t) -> bool {
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

fn sweep_dead_kernels(kernels: &Path) {
    let Ok(entries) = fs::read_dir(kernels) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let pid = fs::read_to_string(path.join("pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok());
        if !pid.is_some_and(process_alive) {
            let _ = fs::remove_dir_all(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "[package]\nname = \"trainbook\"\n\n[features]\n# GPU\n\
                            cuda = [\"candle-core/cuda\"]\nextra = []\n\n[dependencies]\n\
                            anyhow = \"1\"\n";

    #[test]
    fn features_are_read_from_the_manifest_and_checked() {
        assert_eq!(declared_features(MANIFEST), ["cuda", "extra"]);
        assert_eq!(checked_features("cuda", MANIFEST).unwrap(), ["cuda"]);
        assert_eq!(
            checked_features(" extra, cuda cuda", MANIFEST).unwrap(),
            ["cuda", "extra"]
        );
        assert!(checked_features("", MANIFEST).unwrap().is_empty());
        let error = checked_features("cuda,metal", MANIFEST)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("\"metal\"") && error.contains("it has: cuda, extra"),
            "{error}"
        );
        let error = checked_features("cuda", "[package]\nname = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("it has: none"), "{error}");
    }

    #[test]
    fn the_dependency_names_the_features() {
        let prelude = Path::new("/src/trainbook/prelude");
        assert_eq!(
            prelude_dependency(prelude, &[]),
            "{ path = \"/src/trainbook/prelude\" }"
        );
        assert_eq!(
            prelude_dependency(prelude, &["cuda".to_string()]),
            "{ path = \"/src/trainbook/prelude\", features = [\"cuda\"] }"
        );
    }

    #[test]
    fn features_change_the_cache_key() {
        let dir = std::env::temp_dir().join(format!("trainbook-key-{}", std::process::id()));
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::write(dir.join("Cargo.toml"), MANIFEST).unwrap();
        fs::write(dir.join("src/lib.rs"), "").unwrap();
        let plain = cache_key(&dir, None, &[]).unwrap();
        let cuda = cache_key(&dir, None, &["cuda".to_string()]).unwrap();
        fs::remove_dir_all(&dir).unwrap();
        assert_ne!(plain, cuda);
    }
}
