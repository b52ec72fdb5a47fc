//! Checks every workflow in `workflows/` and compiles them into this binary: an invalid workflow
//! fails `cargo build` with its full diagnostics (file, line, column, a hint).
//!
//! This file is `wfc`'s own build script and the one `wfc new` writes into a team's crate.

fn main() {
    let out_dir = std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts");
    if let Err(message) = wfc_compiler::Config::new().workflows_dir("workflows").compile_for_build(std::path::Path::new(&out_dir)) {
        eprintln!("{message}");
        std::process::exit(1);
    }
}
