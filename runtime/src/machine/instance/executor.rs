//! The executor's operations as generated server-side steps call them
//! ([`Program::native`](crate::machine::program::Program::native)).

use super::scope::{ResultNames, ToolScope, read_path};
use super::{Instance, LoopFrame, refresh_failure};
use crate::machine::program::{Expression, Pc, SourceTier};
use crate::machine::{State, StepError, Tier, Trace, Yield};
use crate::value::{EvalError, Scope, Value};

/// An instance as a compiled program's generated server-side steps
/// ([`Program::native`](crate::machine::program::Program::native)) run it: the operations they
/// need, each the executor's own, so a step means the same thing whichever runs it. Generated
/// code keeps declared fields in typed structs while it runs and stores them into the state
/// tiers ([`Executor::set`]) before it hands over.
pub struct Executor<'a, X> {
    pub(super) machine: &'a mut Instance<X>,
    /// What is left of the resume's server-step budget.
    pub(super) budget: &'a mut u32,
}

impl<X: Expression> Executor<'_, X> {
    /// The operation the machine stands at.
    #[inline]
    pub fn pc(&self) -> Pc {
        self.machine.pc
    }

    /// Goes on at `pc`.
    #[inline]
    pub fn go(&mut self, pc: Pc) {
        self.machine.pc = pc;
    }

    /// Counts one server-side operation against the resume's budget; an error once a loop of
    /// server steps has spent it.
    #[inline]
    pub fn tick(&mut self) -> Result<(), StepError> {
        self.machine.tick(self.budget)
    }

    /// The state tiers.
    #[inline]
    pub fn state(&self) -> &State {
        &self.machine.state
    }

    /// Sets `this.<name>`.
    #[inline]
    pub fn set(&mut self, name: &str, value: Value) {
        self.machine.state.tier_mut(Tier::State).insert(name, value);
    }

    /// The step of the operation the machine stands at (`""` for a loop's end).
    #[inline]
    pub fn step(&self) -> &str {
        self.machine.current_step()
    }

    /// The error of `step`.
    #[inline]
    pub fn fail(&self, step: &str, message: impl Into<String>) -> StepError {
        self.machine.step_error(step, message)
    }

    /// Whether the engine asked for a trace.
    #[inline]
    pub fn tracing(&self) -> bool {
        self.machine.trace.is_some()
    }

    /// Records that `step` changed `this.<field>` from `old` to `new`.
    #[inline]
    pub fn wrote(&mut self, step: &str, field: &str, old: &Value, new: &Value) {
        let json = |value: &Value| value.to_json().unwrap_or(serde_json::Value::Null);
        self.machine.record(|_| Trace::Write { step: step.to_owned(), path: format!("this.{field}"), old: json(old), new: json(new) });
    }

    /// A conditional: goes on at the next operation if `condition` holds, else at `otherwise`.
    #[inline]
    pub fn branch(&mut self, step: &str, otherwise: Pc, condition: impl FnOnce(&dyn Scope) -> Result<bool, EvalError>) -> Result<(), StepError> {
        self.machine.branch(step, otherwise, condition)
    }

    /// A `while_loop`'s start: opens its frame at `depth`.
    #[inline]
    pub fn open_loop(&mut self, depth: usize) {
        self.machine.open_loop(depth, LoopFrame::default());
    }

    /// A `while_loop`'s test before each iteration (see the executor's).
    #[inline]
    pub fn while_next(
        &mut self,
        step: &str,
        depth: usize,
        max_iterations: u32,
        fail_at_limit: bool,
        exit: Pc,
        condition: impl FnOnce(&dyn Scope) -> Result<bool, EvalError>,
    ) -> Result<Option<Yield>, StepError> {
        self.machine.while_next(step, depth, max_iterations, fail_at_limit, exit, condition)
    }

    /// A `foreach`'s start: opens its frame at `depth` over `items`.
    #[inline]
    pub fn open_foreach(&mut self, step: &str, depth: usize, items: Result<Value, EvalError>, variable_name: &str, index_name: &str) -> Result<(), StepError> {
        self.machine.open_foreach(step, depth, items, variable_name, index_name)
    }

    /// A `foreach`'s next iteration, or its end (see the executor's).
    #[inline]
    pub fn foreach_next(&mut self, step: &str, depth: usize, exit: Pc) -> Result<(), StepError> {
        self.machine.foreach_next(step, depth, exit)
    }

    /// A loop's end: closes its frame at `depth`.
    #[inline]
    pub fn close_loop(&mut self, depth: usize) -> Result<(), StepError> {
        self.machine.close_loop(depth)
    }

    /// What computed field `index` becomes for a write of `step`, given what its sources read
    /// (the executor's computation and `on_error`; its error names the field).
    #[inline]
    pub fn compute(&self, step: &str, index: usize, inputs: Vec<Value>) -> Result<Option<Value>, StepError> {
        self.machine.compute(index, inputs).map_err(|e| self.machine.step_error(step, refresh_failure(e)))
    }

    /// What computed field `index` becomes for a write of `step` when its transform, run by
    /// generated code on its sources in place, gave `transformed`.
    #[inline]
    pub fn settle(&self, step: &str, index: usize, transformed: Result<Value, EvalError>) -> Result<Option<Value>, StepError> {
        self.machine.settle(index, transformed).map_err(|e| self.machine.step_error(step, refresh_failure(e)))
    }

    /// Records that computed field `index` was refreshed.
    #[inline]
    pub fn refreshed(&mut self, index: usize) {
        self.machine.record(|machine| Trace::Computed { field: machine.program.computed[index].name.clone() });
    }

    /// Sets computed field `name`.
    #[inline]
    pub fn set_computed(&mut self, name: &str, value: Value) {
        self.machine.state.tier_mut(Tier::Computed).insert(name, value);
    }

    /// What a computed field's source reads from the tiers (`loop`, `global`, fields not held
    /// typed).
    #[inline]
    pub fn read(&self, tier: SourceTier, path: &[&str]) -> Value {
        read_path(&self.machine.state, self.machine.loop_view.get(&self.machine.frames), tier, path)
    }

    /// What expressions read besides the typed fields: the state tiers, `loop`, a task's names.
    #[inline]
    pub fn scope(&self) -> impl Scope + '_ {
        self.machine.scope(&self.machine.state, None)
    }

    /// What an `mcp_call`'s update values read besides the typed fields: the scope and the
    /// tool's `result` (whose top-level fields are also bare names).
    #[inline]
    pub fn tool_scope(&self, result: &Value) -> impl Scope + '_ {
        ToolScope { machine: self.machine, names: ResultNames::tool(result.clone()) }
    }

    /// An `mcp_call`'s update value that is a bare result path (`result.items`, `success`).
    #[inline]
    pub fn tool_result(&self, result: &Value, path: &[&str]) -> Value {
        ResultNames::tool(result.clone()).read(path)
    }
}

