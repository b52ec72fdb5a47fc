//! The wfc runtime: JavaScript-semantics values, the sans-IO `Machine` contract that generated
//! workflows implement, the engine that drives machines, and the MCP server.
//!
//! This crate is filled in by the expression, state-machine and MCP stages; see
//! `docs/architecture.md` for the plan. It has no items yet.
#![deny(unreachable_pub)]
#![warn(missing_docs)]
