//! The catalog a binary embeds: every workflow `build.rs` checked and compiled, with what
//! discovery tools (`workflow_list`, `workflow_get_info`) report about it.

use crate::machine::program::{ExprFn, Workflow};

/// One embedded workflow.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// `namespace:name`.
    pub name: &'static str,
    /// What it is for.
    pub description: &'static str,
    /// Its version.
    pub version: &'static str,
    /// The file it was compiled from, relative to the crate.
    pub path: &'static str,
    /// The YAML it was compiled from.
    pub source: &'static str,
    /// A hash of the source: an instance started under one definition is not resumed under
    /// another without being asked to.
    pub definition_hash: &'static str,
    /// Its compiled machines (built on first use).
    pub machines: fn() -> &'static Workflow<ExprFn>,
}

/// The entry called `name`.
pub fn find<'a>(catalog: &'a [Entry], name: &str) -> Option<&'a Entry> {
    catalog.iter().find(|entry| entry.name == name)
}
