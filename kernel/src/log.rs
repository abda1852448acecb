//! The kernel's one logger: timestamped lines on stderr, which Jupyter shows in its server log.

/// An event worth knowing about in the kernel log.
pub fn info(line: impl AsRef<str>) {
    write("", line.as_ref());
}

/// Something went wrong, or a setting was ignored; the kernel carries on.
pub fn warn(line: impl AsRef<str>) {
    write("warning: ", line.as_ref());
}

fn write(level: &str, line: &str) {
    eprintln!(
        "[trainbook {}] {level}{line}",
        chrono::Local::now().format("%H:%M:%S%.3f"),
    );
}
