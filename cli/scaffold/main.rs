//! The workflows of `workflows/`, checked and compiled into this binary by `build.rs`, with the
//! whole `wfc` command line over them: `serve` hands them to an agent over MCP; check, run,
//! explain, graph, status, history, profile and the rest work on them too (`--help`).
//!
//! This file is `wfc`'s own `main` and the one `wfc new` writes into a team's catalog crate.

/// The allocator `wfc` uses (workflows allocate many small, short-lived values).
#[global_allocator]
static ALLOCATOR: wfc_cli::Allocator = wfc_cli::Allocator;

/// The embedded catalog: `WORKFLOWS`, written by `build.rs`.
mod catalog {
    include!(concat!(env!("OUT_DIR"), "/catalog.rs"));
}

fn main() -> std::process::ExitCode {
    wfc_cli::main(catalog::WORKFLOWS)
}
