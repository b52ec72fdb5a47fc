//! `include_workflow!("path.yaml")`: compile one workflow into the calling crate. The macro
//! arrives with the state-machine compiler (see `docs/architecture.md`); it will take its
//! options from `wfc_compiler::Config`, like `build.rs` does.
