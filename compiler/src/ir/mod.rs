//! The ir stage: a checked workflow lowered to flat state machines, one
//! [`Program`](program::Program) for the workflow and one per sub-agent task. Steps become
//! numbered operations with explicit jumps; loops become frames at a depth known at build time
//! (so frames live in a fixed-size array); `break`/`continue` become jumps to the innermost
//! loop's exit or test; every expression is compiled; and for every writable field the computed
//! fields to refresh after a write are listed, in dependency order, each once.
//!
//! The machine types are the runtime's (`wfc_runtime::machine::program`), generic over how an
//! expression is evaluated: here every expression is an [`IrExpr`], which the interpreter
//! evaluates and `codegen` turns into a Rust function.

pub mod graph;
mod lower;
mod reads;
mod refresh;

pub use lower::lower;
pub use wfc_runtime::machine::program::{
    Bounds,
    AnswerCondition, AnswerRules, ClientOp, Computed, Handling, Input, LoopKind, OnError, OnFailure, Op, Pc, Program, Refresh, Rules, Segment, ShellOp,
    Source, SourceTier, SpawnOp, StateField, Update, UpdateValue, WritePath, WriteTier,
};

use crate::expr::{Compiled, CompiledTemplate};

/// A workflow lowered.
pub type Workflow = wfc_runtime::machine::program::Workflow<IrExpr>;

/// An expression of a lowered workflow.
#[derive(Clone, Debug, PartialEq)]
pub enum IrExpr {
    /// A bare expression: a condition, `items`, a transform.
    Expr(Compiled),
    /// A string with `{{ }}` templates (a single one keeps its value's type).
    Template(CompiledTemplate),
    /// A structured value with templates inside: a step's definition field, an update value.
    Value(Template),
}

/// A value with templates inside: what the client is handed, parameters, update values.
#[derive(Clone, Debug, PartialEq)]
pub enum Template {
    /// A constant.
    Json(serde_json::Value),
    /// A string with `{{ }}` in it.
    Text(CompiledTemplate),
    /// An array with templates inside.
    Array(Vec<Template>),
    /// An object with templates inside.
    Object(Vec<(String, Template)>),
}
