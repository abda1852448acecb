//! Installing and removing the `trainbook` kernelspec.

use anyhow::{bail, Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

pub const KERNEL_NAME: &str = "trainbook";

/// Copied into the kernelspec when `TRAINBOOK_FEATURES` is set: the features, where the CUDA
/// toolkit is (nvcc for candle's kernels, libraries to link), the GPU architecture to compile
/// for, the CUDA version (so cudarc need not run nvcc), and where the CUDA libraries load from.
const FEATURE_ENV: [&str; 5] = [
    "TRAINBOOK_FEATURES",
    "CUDA_HOME",
    "CUDA_COMPUTE_CAP",
    "CUDARC_CUDA_VERSION",
    "LD_LIBRARY_PATH",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// `$JUPYTER_DATA_DIR` or `~/.local/share/jupyter`.
    User,
    /// The active Python environment (`$VIRTUAL_ENV`, `$CONDA_PREFIX`, or `python3`'s prefix).
    SysPrefix,
    Prefix(PathBuf),
}

fn user_data_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("JUPYTER_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    Ok(dirs::data_dir()
        .context("cannot find your data directory: set HOME or JUPYTER_DATA_DIR")?
        .join("jupyter"))
}

fn sys_prefix() -> Result<PathBuf> {
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(dir) = std::env::var_os(var) {
            return Ok(PathBuf::from(dir));
        }
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.prefix)"])
        .output()
        .context("--sys-prefix needs an active Python environment or python3 on PATH")?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

pub fn kernels_dir(location: &Location) -> Result<PathBuf> {
    Ok(match location {
        Location::User => user_data_dir()?.join("kernels"),
        Location::SysPrefix => sys_prefix()?.join("share/jupyter/kernels"),
        Location::Prefix(p) => p.join("share/jupyter/kernels"),
    })
}

pub fn install(location: &Location) -> Result<PathBuf> {
    let exe = std::env::current_exe()?
        .canonicalize()
        .context("cannot resolve the trainbook binary's path")?;
    let dir = kernels_dir(location)?.join(KERNEL_NAME);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut env = serde_json::Map::new();
    if let Some(prelude) = crate::runner::prelude_dir() {
        env.insert(
            "TRAINBOOK_PRELUDE_DIR".into(),
            json!(prelude.display().to_string()),
        );
        // A kernel with prelude features (`install.sh --cuda`) keeps them, and what building
        // and running CUDA code needs, as set now: Jupyter starts kernels with its own env.
        if !crate::runner::prelude_features(&prelude)?.is_empty() {
            for name in FEATURE_ENV {
                if let Ok(value) = std::env::var(name) {
                    env.insert(name.into(), json!(value));
                }
            }
        }
    }
    let spec = json!({
        "argv": [exe.display().to_string(), "kernel", "--connection-file", "{connection_file}"],
        "display_name": "Rust (Trainbook)",
        "language": "rust",
        "interrupt_mode": "message",
        "env": env,
        "metadata": {"debugger": false},
    });
    std::fs::write(
        dir.join("kernel.json"),
        serde_json::to_string_pretty(&spec)? + "\n",
    )?;
    std::fs::write(
        dir.join("logo-32x32.png"),
        include_bytes!("../assets/logo-32x32.png"),
    )?;
    std::fs::write(
        dir.join("logo-64x64.png"),
        include_bytes!("../assets/logo-64x64.png"),
    )?;
    std::fs::write(
        dir.join("logo-svg.svg"),
        include_bytes!("../assets/logo-svg.svg"),
    )?;
    Ok(dir)
}

/// Removes the kernelspec from the given location, or wherever Jupyter would find it.
pub fn uninstall(location: Option<&Location>) -> Result<Vec<PathBuf>> {
    let mut candidates = Vec::new();
    match location {
        Some(l) => candidates.push(kernels_dir(l)?),
        None => {
            if let Some(paths) = std::env::var_os("JUPYTER_PATH") {
                candidates.extend(std::env::split_paths(&paths).map(|p| p.join("kernels")));
            }
            candidates.push(kernels_dir(&Location::User)?);
            if let Ok(dir) = kernels_dir(&Location::SysPrefix) {
                candidates.push(dir);
            }
        }
    }
    let mut removed = Vec::new();
    for dir in candidates {
        let spec = dir.join(KERNEL_NAME);
        if is_our_kernelspec(&spec) {
            std::fs::remove_dir_all(&spec)
                .with_context(|| format!("cannot remove {}", spec.display()))?;
            removed.push(spec);
        }
    }
    if removed.is_empty() {
        bail!("no Trainbook kernelspec found to remove");
    }
    Ok(removed)
}

fn is_our_kernelspec(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("kernel.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["display_name"] == "Rust (Trainbook)")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::process::Command;

    fn executable(path: &Path) {
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// install.sh's `kernel/scripts/on_path.sh`: links `trainbook` next to a rustup-style
    /// cargo and in ~/.local/bin, and names the command a new login shell finds: the bare name
    /// once the profile puts the folder on PATH, the full path (with a note) before.
    #[test]
    fn on_path_links_trainbook_and_names_what_a_new_shell_finds() {
        let home = std::env::temp_dir().join(format!("tb-on-path-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        let cargo_bin = home.join(".cargo/bin");
        std::fs::create_dir_all(&cargo_bin).unwrap();
        executable(&cargo_bin.join("cargo"));
        let binary = home.join("built-trainbook");
        executable(&binary);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/on_path.sh");
        let run = || {
            let out = Command::new(&script)
                .arg(&binary)
                .env("HOME", &home)
                .env("PATH", format!("{}:/usr/bin:/bin", cargo_bin.display()))
                .env("SHELL", "/bin/bash")
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            (
                String::from_utf8(out.stdout).unwrap().trim().to_string(),
                String::from_utf8(out.stderr).unwrap(),
            )
        };
        let (command, note) = run();
        let link = cargo_bin.join("trainbook");
        assert_eq!(command, link.display().to_string());
        assert!(note.contains("export PATH="), "{note}");
        for link in [link, home.join(".local/bin/trainbook")] {
            assert_eq!(std::fs::read_link(&link).unwrap(), binary);
        }
        std::fs::write(home.join(".profile"), "PATH=\"$HOME/.cargo/bin:$PATH\"\n").unwrap();
        let (command, note) = run();
        assert_eq!((command.as_str(), note.as_str()), ("trainbook", ""));
        std::fs::remove_dir_all(&home).unwrap();
    }
}
