//! What expressions of a running machine read: its scopes, and the names a step's result adds.

use std::sync::Arc;

use super::{Instance, LoopFrame, LoopView};
use crate::machine::program::{Expression, SourceTier};
use crate::machine::{ShellOutput, State};
use crate::value::{EvalError, Object, Scope, Value};

/// The names a step's result adds to update values (`stdout`, `result`, `input`, …).
pub(super) struct ResultNames {
    pub(super) names: Vec<(&'static str, Value)>,
    /// An `mcp_call` result, whose top-level fields are readable by bare name.
    pub(super) open: Option<Value>,
}

impl ResultNames {
    /// No result: a server-side write (`workflow_state_update`).
    pub(super) fn none() -> Self {
        ResultNames { names: Vec::new(), open: None }
    }

    pub(super) fn one(name: &'static str, value: Value) -> Self {
        ResultNames { names: vec![(name, value)], open: None }
    }

    pub(super) fn tool(result: Value) -> Self {
        ResultNames { names: vec![("result", result.clone())], open: Some(result) }
    }

    pub(super) fn shell(output: &ShellOutput) -> Self {
        let exit_code = output.exit_code.map_or(Value::Null, |c| Value::Number(f64::from(c)));
        let mut full = Object::new();
        full.insert("stdout", Value::string(output.stdout.as_str()));
        full.insert("stderr", Value::string(output.stderr.as_str()));
        full.insert("exit_code", exit_code.clone());
        ResultNames {
            names: vec![
                ("stdout", Value::string(output.stdout.as_str())),
                ("stderr", Value::string(output.stderr.as_str())),
                ("exit_code", exit_code.clone()),
                ("returncode", exit_code),
                ("full_output", Value::Object(full.into())),
            ],
            open: None,
        }
    }

    /// Every result name reads the fallback value.
    pub(super) fn fallback(value: Value) -> Self {
        let names = ["stdout", "stderr", "exit_code", "returncode", "full_output", "result", "input", "response"];
        ResultNames { names: names.into_iter().map(|n| (n, value.clone())).collect(), open: None }
    }

    pub(super) fn get(&self, name: &str) -> Option<Value> {
        match self.names.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => Some(value.clone()),
            None => self.open.as_ref().and_then(|result| result.get_named(name).ok()),
        }
    }

    /// A bare keyword path (`response.summary.score`); a missing step is `undefined`.
    pub(super) fn read(&self, path: &[impl AsRef<str>]) -> Value {
        below(self.get(path[0].as_ref()).unwrap_or_default(), &path[1..])
    }
}

/// A machine's scope with a tool result's names, owning them ([`Executor::tool_scope`]).
pub(super) struct ToolScope<'a, X> {
    pub(super) machine: &'a Instance<X>,
    pub(super) names: ResultNames,
}

impl<X: Expression> Scope for ToolScope<'_, X> {
    fn root(&self, name: &str) -> Value {
        self.machine.scope(&self.machine.state, Some(&self.names)).root(name)
    }

    fn field(&self, root: &str, name: &str) -> Result<Value, EvalError> {
        self.machine.scope(&self.machine.state, Some(&self.names)).field(root, name)
    }
}

/// What expressions of a running machine read.
pub(super) struct MachineScope<'a> {
    pub(super) state: &'a State,
    pub(super) loop_view: &'a LoopView,
    pub(super) frames: &'a [LoopFrame],
    pub(super) bindings: &'a Object,
    pub(super) result: Option<&'a ResultNames>,
}

impl Scope for MachineScope<'_> {
    fn root(&self, name: &str) -> Value {
        if name == "loop" {
            return self.loop_view.get(self.frames).clone();
        }
        if let Some(value) = self.state.root(name) {
            return value;
        }
        // A task's bare names: its context (`item`, `index`, …), then its inputs.
        if let Some(value) = self.bindings.get(name).or_else(|| self.state.inputs.get(name)) {
            return value.clone();
        }
        self.result.and_then(|r| r.get(name)).unwrap_or_default()
    }

    fn field(&self, root: &str, name: &str) -> Result<Value, EvalError> {
        match self.state.field(root, name) {
            Some(value) => Ok(value),
            None => self.root(root).get_named(name),
        }
    }
}

/// A transform's scope: only `input`.
pub(super) struct InputScope(pub(super) Value);

impl Scope for InputScope {
    fn root(&self, name: &str) -> Value {
        if name == "input" { self.0.clone() } else { Value::Undefined }
    }
}

pub(super) fn read_path(state: &State, loop_view: &Value, tier: SourceTier, path: &[impl AsRef<str>]) -> Value {
    let root = match tier {
        SourceTier::Inputs => Value::Object(Arc::clone(&state.inputs)),
        SourceTier::State => Value::Object(Arc::clone(&state.state)),
        SourceTier::Computed => Value::Object(Arc::clone(&state.computed)),
        SourceTier::Global => Value::Object(Arc::clone(&state.global)),
        SourceTier::Loop => loop_view.clone(),
    };
    below(root, path)
}

/// What a computed field's source reads at `path` below `value` (`undefined` where it is
/// missing).
pub fn below(value: Value, path: &[impl AsRef<str>]) -> Value {
    path.iter().fold(value, |value, segment| value.get_named(segment.as_ref()).unwrap_or_default())
}

