//! Checks every workflow in `workflows/` at build time, so an invalid workflow fails
//! `cargo build` with its full diagnostics. (Code generation joins this step when the
//! state-machine compiler lands.)

fn main() {
    if let Err(message) = wfc_compiler::Config::new().workflows_dir("workflows").check_for_build() {
        eprintln!("{message}");
        std::process::exit(1);
    }
}
