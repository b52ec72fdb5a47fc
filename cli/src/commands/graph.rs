//! `wfc graph NAME|FILE`: the state machine of one workflow as a Mermaid or dot diagram.

use std::process::ExitCode;

use wfc_compiler::ir::graph;
use wfc_runtime::catalog::Entry;

use super::{load_workflow, print_out};

pub(crate) fn run(catalog: &[Entry], workflow: &str, format: graph::Format) -> ExitCode {
    match load_workflow(catalog, workflow) {
        Ok(compiled) => print_out(&graph::render(&compiled.machines, format)),
        Err(code) => code,
    }
}
