// The runner process (this same binary, re-executed by evcxr) exports a few C symbols that the
// prelude finds with dlsym: the interrupt flag and the stdout-flush registration. Executables do
// not export symbols by default, so name them for the dynamic symbol table.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=trainbook_runtime_*");
}
