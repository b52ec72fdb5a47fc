//! An instance of a [`Program`]: its state, open loop frames and program counter, behind the
//! [`Machine`] contract. The interpreter and generated code both run workflows through this;
//! they differ in how an expression is evaluated (`X`), and a compiled program's generated
//! server-side steps ([`Program::native`]) run here through [`Executor`], on the same operations.

use std::cell::OnceCell;
use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use super::answer;
use super::program::{
    AnswerRules, ClientOp, Expression, Handling, LoopKind, OnError, OnFailure, Op, Pc, Program, Segment, ShellOp, Source, SpawnOp, Update, UpdateValue,
    WritePath, WriteTier,
};
use super::update::{self, Segment as UpdateSegment};
use super::{ClientStep, Effect, Event, Failure, FieldType, Frame, Machine, MachineStatus, ShellCommand, ShellOutput, Snapshot, State, StepError, Strategy, Tier, Trace, Yield};
use crate::value::{EvalError, Object, Scope, Value};

mod executor;
mod reply;
mod scope;

pub use executor::Executor;
pub use scope::below;
use reply::{check_reply, failure_handling, shell_failure, with_rules};
use scope::{InputScope, MachineScope, ResultNames, read_path};

/// Server-side operations one [`Machine::resume`] may run before it must reach a client step,
/// unless [`Instance::with_server_step_budget`] says otherwise: a loop of server steps only
/// must not spin the server.
pub const DEFAULT_SERVER_STEP_BUDGET: u32 = 100_000;

/// A running workflow or task.
#[derive(Debug)]
pub struct Instance<X> {
    program: Arc<Program<X>>,
    state: State,
    /// Task bindings (`item`, `index`, `total`, `task_id`); empty for a workflow.
    bindings: Object,
    frames: Vec<LoopFrame>,
    loop_view: LoopView,
    pc: Pc,
    /// Whether the operation at `pc` has yielded and waits for its outcome.
    waiting: bool,
    attempt: u32,
    status: MachineStatus,
    failure: Option<StepError>,
    /// What happened since the engine last took it, when it asked for a trace.
    trace: Option<Vec<Trace>>,
    /// Server-side operations one resume may run ([`Instance::with_server_step_budget`]).
    server_steps: u32,
}

#[derive(Clone, Debug, Default)]
struct LoopFrame {
    iteration: u32,
    items: Option<Arc<Vec<Value>>>,
    /// `(variable_name, index_name)` of a `foreach`.
    names: Option<(String, String)>,
}

/// The `loop` root, built from the open frames when something first reads it after a frame
/// changed: a loop whose steps never read `loop.*` never builds it.
#[derive(Debug, Default)]
struct LoopView {
    /// How many frames are open.
    open: usize,
    built: OnceCell<Value>,
}

impl LoopView {
    fn get(&self, frames: &[LoopFrame]) -> &Value {
        self.built.get_or_init(|| {
            if self.open == 0 {
                return Value::Undefined;
            }
            // The key every frame writes, made once rather than at every build.
            static ITERATION: OnceLock<Arc<str>> = OnceLock::new();
            let iteration = ITERATION.get_or_init(|| Arc::from("iteration"));
            let mut view = Object::with_capacity(3);
            for frame in &frames[..self.open] {
                view.insert(Arc::clone(iteration), Value::Number(f64::from(frame.iteration)));
                if let (Some((variable, index)), Some(items)) = (&frame.names, &frame.items) {
                    let at = frame.iteration.saturating_sub(1) as usize;
                    view.insert(variable.as_str(), items.get(at).cloned().unwrap_or_default());
                    view.insert(index.as_str(), Value::Number(at as f64));
                }
            }
            Value::Object(view.into())
        })
    }
}

/// What a batch of writes touched, so the computed fields that read it are refreshed.
#[derive(Default)]
struct Written {
    /// Top-level `this.*` fields.
    state: Vec<Arc<str>>,
    /// Whether anything under `global.*` changed.
    global: bool,
}

/// A write a client asks for (`workflow_update_state`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClientWrite {
    /// `this.count`, `this.results[2].name`, `global.seen`.
    pub path: String,
    /// The value (not needed by `increment`, `decrement` and `delete`).
    #[serde(default)]
    pub value: Option<serde_json::Value>,
    /// How it combines with the current value (default `set`).
    #[serde(default = "set")]
    pub operation: update::Operation,
}

fn set() -> update::Operation {
    update::Operation::Set
}

/// Why an instance could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl<X: Expression> Instance<X> {
    /// A new instance: declared defaults applied, required inputs and input types enforced,
    /// initial state set, every computed field computed. `bindings` are a task's bare names.
    pub fn start(program: Arc<Program<X>>, inputs: &serde_json::Value, bindings: Object) -> Result<Instance<X>, StartError> {
        let given = match inputs {
            serde_json::Value::Object(map) => map,
            serde_json::Value::Null => &serde_json::Map::new(),
            other => return Err(StartError(format!("inputs must be an object, not {other}"))),
        };
        if let Some(unknown) = given.keys().find(|k| !program.inputs.iter().any(|i| &i.name == *k)) {
            let declared: Vec<&str> = program.inputs.iter().map(|i| i.name.as_str()).collect();
            let takes = if declared.is_empty() { "no inputs".to_owned() } else { declared.join(", ") };
            return Err(StartError(format!("`{}` takes no input `{unknown}` (it takes: {takes})", program.name)));
        }
        let mut state = State::default();
        for input in &program.inputs {
            let value = match (given.get(&input.name), &input.default) {
                (Some(value), _) => Value::from(value),
                (None, Some(default)) => Value::from(default),
                (None, None) if input.required => {
                    return Err(StartError(format!("`{}` needs the input `{}`", program.name, input.name)));
                }
                (None, None) => continue,
            };
            if let Some(refused) = FieldType::refusal(input.field_type, || format!("inputs.{}", input.name), &value) {
                return Err(StartError(refused));
            }
            if let Some(rules) = &input.rules {
                with_rules(rules, |r| answer::validate(&value, r)).map_err(|reason| StartError(format!("`{}` refuses the input `{}`: {reason}", program.name, input.name)))?;
            }
            state.tier_mut(Tier::Inputs).insert(input.name.as_str(), value);
        }
        for field in &program.state {
            if let Some(initial) = &field.initial {
                state.tier_mut(Tier::State).insert(field.name.as_str(), Value::from(initial));
            }
        }
        let mut machine = Instance {
            frames: vec![LoopFrame::default(); program.loop_depth],
            program,
            state,
            bindings,
            loop_view: LoopView::default(),
            pc: 0,
            waiting: false,
            attempt: 0,
            status: MachineStatus::Running,
            failure: None,
            trace: None,
            server_steps: DEFAULT_SERVER_STEP_BUDGET,
        };
        let all: Vec<usize> = (0..machine.program.computed.len()).collect();
        let mut state = machine.state.clone();
        machine.refresh(&mut state, &all).map_err(|e| StartError(refresh_failure(e)))?;
        machine.state = state;
        Ok(machine)
    }

    /// An instance back from a [`Snapshot`] of the same program (the store checks the
    /// definition hash before this is called); a snapshot that cannot belong to the program is
    /// refused.
    pub fn restore(program: Arc<Program<X>>, snapshot: &Snapshot) -> Result<Instance<X>, StartError> {
        if snapshot.pc as usize >= program.ops.len() || snapshot.frames.len() != program.loop_depth {
            return Err(StartError(format!(
                "the snapshot does not fit `{}`: it stands at operation {} with {} loop frames; the program has {} operations and {} frames",
                program.name,
                snapshot.pc,
                snapshot.frames.len(),
                program.ops.len(),
                program.loop_depth
            )));
        }
        let object = |json: &serde_json::Value| match Value::from(json) {
            Value::Object(object) => (*object).clone(),
            _ => Object::new(),
        };
        let frames = snapshot
            .frames
            .iter()
            .map(|f| LoopFrame {
                iteration: f.iteration,
                items: f.items.as_ref().and_then(|items| match Value::from(items) {
                    Value::Array(items) => Some(items),
                    _ => None,
                }),
                names: f.names.clone(),
            })
            .collect();
        let state = State::from_json(&snapshot.state);
        // Compiled code relies on declared types holding (a declared number is a number, `null`
        // or nothing): state written under another definition (a forced resume) must fit this one.
        let declared_state = program.state.iter().map(|f| ("this", &f.name, f.field_type, &state.state));
        let declared_inputs = program.inputs.iter().map(|i| ("inputs", &i.name, i.field_type, &state.inputs));
        for (root, name, field_type, tier) in declared_state.chain(declared_inputs) {
            if let Some(value) = tier.get(name)
                && let Some(refused) = FieldType::refusal(field_type, || format!("{root}.{name}"), value)
            {
                return Err(StartError(format!("the snapshot does not fit `{}`: {refused}", program.name)));
            }
        }
        Ok(Instance {
            program,
            state,
            bindings: object(&snapshot.bindings),
            frames,
            loop_view: LoopView {
                open: 0,
                built: OnceCell::from(if snapshot.loop_view.is_null() { Value::Undefined } else { Value::from(&snapshot.loop_view) }),
            },
            pc: snapshot.pc,
            waiting: snapshot.waiting,
            attempt: snapshot.attempt,
            status: snapshot.status,
            failure: snapshot.failure.as_ref().map(|f| StepError::new(&f.step_id, &f.message)),
            trace: None,
            server_steps: DEFAULT_SERVER_STEP_BUDGET,
        })
    }

    /// How many server-side operations one resume may run before it must reach a client step
    /// (at least one): a server's limit (`wfc serve --max-server-steps`), not a workflow's, so
    /// it is not part of the snapshot.
    pub fn with_server_step_budget(mut self, budget: u32) -> Self {
        self.server_steps = budget.max(1);
        self
    }

    /// The instance's state tiers.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Starts (or stops) recording what the machine does, for the execution history.
    pub fn trace(&mut self, on: bool) {
        match (on, &self.trace) {
            (true, None) => self.trace = Some(Vec::new()),
            (false, Some(_)) => self.trace = None,
            _ => {}
        }
    }

    /// What was recorded since the last call.
    pub fn take_trace(&mut self) -> Vec<Trace> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }

    #[inline]
    fn record(&mut self, event: impl FnOnce(&Self) -> Trace) {
        if self.trace.is_some() {
            let event = event(self);
            self.trace.get_or_insert_default().push(event);
        }
    }

    fn step_error(&self, step: &str, message: impl Into<String>) -> StepError {
        StepError::new(step, message)
    }

    fn scope<'a>(&'a self, state: &'a State, result: Option<&'a ResultNames>) -> MachineScope<'a> {
        MachineScope { state, loop_view: &self.loop_view, frames: &self.frames, bindings: &self.bindings, result }
    }

    fn run(&mut self, event: Event) -> Result<Yield, StepError> {
        // The outcome of the step the machine waits on; generated code may apply it first.
        let mut outcome = std::mem::take(&mut self.waiting).then_some(event);
        let mut budget = self.server_steps;
        loop {
            if let Some(native) = self.program.native
                && let Some(yielded) = native(&mut Executor { machine: self, budget: &mut budget }, &mut outcome)?
            {
                return Ok(yielded);
            }
            if let Some(event) = outcome.take() {
                if let Some(yielded) = self.outcome(event)? {
                    return Ok(yielded);
                }
                continue;
            }
            self.tick(&mut budget)?;
            if let Some(yielded) = self.execute()? {
                return Ok(yielded);
            }
        }
    }

    /// Counts one server-side operation against what is left of the resume's `budget`.
    #[inline]
    fn tick(&self, budget: &mut u32) -> Result<(), StepError> {
        match budget.checked_sub(1) {
            Some(left) => {
                *budget = left;
                Ok(())
            }
            None => Err(self.spinning()),
        }
    }

    /// The error of a resume that spent its budget.
    #[cold]
    fn spinning(&self) -> StepError {
        let limit = self.server_steps;
        self.step_error(
            self.current_step(),
            format!("ran {limit} server-side steps without reaching a client step (--max-server-steps); a loop of server steps is spinning"),
        )
    }

    fn current_step(&self) -> &str {
        self.program.ops[self.pc as usize].step().unwrap_or("")
    }

    /// Runs the operation at `pc`; `Some` when it yields.
    fn execute(&mut self) -> Result<Option<Yield>, StepError> {
        let program = Arc::clone(&self.program);
        let op = &program.ops[self.pc as usize];
        match op {
            Op::Client(client) => {
                self.attempt = 1;
                return self.hand_out(client).map(Some);
            }
            Op::Shell(shell) => {
                self.attempt = 1;
                return self.shell_effect(shell).map(Some);
            }
            Op::Wait { step, message, timeout_seconds } => {
                let message = message.eval(&self.scope(&self.state, None)).map_err(|e| self.step_error(step, e.to_string()))?;
                self.waiting = true;
                let effect = Effect::Wait { step_id: step.clone(), message: message.to_js_string(), timeout_seconds: *timeout_seconds };
                return Ok(Some(Yield::Effect(effect)));
            }
            Op::Spawn(spawn) => return self.spawn(spawn).map(Some),
            Op::Write { step, updates } => {
                self.apply(updates, None, &ResultNames::none()).map_err(|cause| self.step_error(step, cause))?;
                self.pc += 1;
            }
            Op::Branch { step, condition, otherwise } => self.branch(step, *otherwise, |scope| condition.eval(scope).map(|v| v.truthy()))?,
            Op::LoopStart { step, depth, kind } => match kind {
                LoopKind::While { .. } => self.open_loop(*depth, LoopFrame::default()),
                LoopKind::Foreach { items, variable_name, index_name } => {
                    let items = items.eval(&self.scope(&self.state, None));
                    self.open_foreach(step, *depth, items, variable_name, index_name)?;
                }
            },
            Op::LoopNext { step, depth, kind, exit } => match kind {
                LoopKind::While { condition, max_iterations, fail_at_limit } => {
                    return self.while_next(step, *depth, *max_iterations, *fail_at_limit, *exit, |scope| condition.eval(scope).map(|v| v.truthy()));
                }
                LoopKind::Foreach { .. } => self.foreach_next(step, *depth, *exit)?,
            },
            Op::LoopEnd { depth } => self.close_loop(*depth)?,
            Op::Jump { to, .. } => self.pc = *to,
            Op::Done => {
                self.status = MachineStatus::Completed;
                return Ok(Some(Yield::Done));
            }
        }
        Ok(None)
    }

    /// Goes on at the next operation if `condition` holds, else at `otherwise`.
    #[inline]
    fn branch(&mut self, step: &str, otherwise: Pc, condition: impl FnOnce(&dyn Scope) -> Result<bool, EvalError>) -> Result<(), StepError> {
        let holds = self.test(step, condition)?;
        self.record(|_| Trace::Branch { step: step.to_owned(), taken: holds });
        self.pc = if holds { self.pc + 1 } else { otherwise };
        Ok(())
    }

    /// Whether `condition` holds (is truthy) against the current state.
    #[inline]
    fn test(&self, step: &str, condition: impl FnOnce(&dyn Scope) -> Result<bool, EvalError>) -> Result<bool, StepError> {
        condition(&self.scope(&self.state, None)).map_err(|e| self.step_error(step, e.to_string()))
    }

    /// Opens the loop frame at `depth` and goes on.
    #[inline]
    fn open_loop(&mut self, depth: usize, frame: LoopFrame) {
        self.frames[depth] = frame;
        self.pc += 1;
    }

    /// Starts the next iteration of the `while_loop` at `depth` if `condition`, evaluated now
    /// against the current state, holds and the cap allows; else leaves it (to `exit`), with a
    /// warning step when the cap stopped a loop that would have gone on.
    #[inline]
    fn while_next(
        &mut self,
        step: &str,
        depth: usize,
        max_iterations: u32,
        fail_at_limit: bool,
        exit: Pc,
        condition: impl FnOnce(&dyn Scope) -> Result<bool, EvalError>,
    ) -> Result<Option<Yield>, StepError> {
        let iteration = self.frames[depth].iteration;
        self.frames[depth].iteration = iteration + 1;
        self.loop_changed(depth + 1)?;
        if !self.test(step, condition)? {
            self.pc = exit;
            return Ok(None);
        }
        // The cap is reached only by a loop that would go on: one whose condition turns false
        // right after its last allowed iteration simply ends.
        if iteration >= max_iterations {
            return self.loop_limit(step, max_iterations, fail_at_limit).map(Some);
        }
        self.record(|_| Trace::Iteration { step: step.to_owned(), iteration: iteration + 1 });
        self.pc += 1;
        Ok(None)
    }

    /// A `while_loop` that would go on past its cap: failed, or ended with a warning step.
    #[cold]
    fn loop_limit(&mut self, step: &str, max_iterations: u32, fail_at_limit: bool) -> Result<Yield, StepError> {
        let message = format!("`{step}` reached its limit of {max_iterations} iterations");
        if fail_at_limit {
            return Err(self.step_error(step, message));
        }
        self.waiting = true;
        self.attempt = 1;
        let definition = serde_json::json!({"message": format!("{message} and stopped"), "message_type": "warning", "format": "text"});
        Ok(Yield::Client(ClientStep { id: format!("{step}.max_iterations"), kind: "user_message", definition, attempt: 1, needs_result: false }))
    }

    /// Opens the frame of the `foreach` at `depth` over `items`, evaluated once, here.
    fn open_foreach(&mut self, step: &str, depth: usize, items: Result<Value, EvalError>, variable_name: &str, index_name: &str) -> Result<(), StepError> {
        match items.map_err(|e| self.step_error(step, e.to_string()))? {
            Value::Array(items) => {
                let frame = LoopFrame { iteration: 0, items: Some(items), names: Some((variable_name.to_owned(), index_name.to_owned())) };
                self.open_loop(depth, frame);
                Ok(())
            }
            other => Err(self.step_error(step, format!("foreach items must be an array, got {}", update::describe(&other)))),
        }
    }

    /// Starts the next iteration of the `foreach` at `depth`, or leaves it after its last item.
    fn foreach_next(&mut self, step: &str, depth: usize, exit: Pc) -> Result<(), StepError> {
        let iteration = self.frames[depth].iteration;
        let count = self.frames[depth].items.as_ref().map_or(0, |items| items.len());
        if iteration as usize >= count {
            self.pc = exit;
            return Ok(());
        }
        self.frames[depth].iteration = iteration + 1;
        self.loop_changed(depth + 1)?;
        self.record(|_| Trace::Iteration { step: step.to_owned(), iteration: iteration + 1 });
        self.pc += 1;
        Ok(())
    }

    /// Closes the loop frame at `depth` and goes on.
    #[inline]
    fn close_loop(&mut self, depth: usize) -> Result<(), StepError> {
        self.frames[depth] = LoopFrame::default();
        self.loop_changed(depth)?;
        self.pc += 1;
        Ok(())
    }

    /// Marks the `loop` root as changed (`open` frames, inner names shadowing outer ones) and
    /// refreshes the computed fields that read `loop`.
    #[inline]
    fn loop_changed(&mut self, open: usize) -> Result<(), StepError> {
        self.loop_view.open = open;
        // Most loops never build the view: nothing to drop then.
        if self.loop_view.built.get().is_some() {
            self.loop_view.built.take();
        }
        if self.program.refresh.loops.is_empty() { Ok(()) } else { self.refresh_loop_readers() }
    }

    /// Refreshes the computed fields that read `loop`.
    fn refresh_loop_readers(&mut self) -> Result<(), StepError> {
        let plan = self.program.refresh.loops.clone();
        let mut state = self.state.clone();
        self.refresh(&mut state, &plan)?;
        self.state = state;
        Ok(())
    }

    fn eval(&self, step: &str, expression: &X) -> Result<Value, StepError> {
        expression.eval(&self.scope(&self.state, None)).map_err(|e| self.step_error(step, e.to_string()))
    }

    fn hand_out(&mut self, client: &ClientOp<X>) -> Result<Yield, StepError> {
        let scope = self.scope(&self.state, None);
        let mut definition = serde_json::Map::with_capacity(client.definition.len());
        for (name, template) in &client.definition {
            let value = template.eval(&scope).map_err(|e| self.step_error(&client.step, format!("`{name}`: {e}")))?;
            if let Some(json) = value.to_json() {
                definition.insert(name.clone(), json);
            }
        }
        self.waiting = true;
        Ok(Yield::Client(ClientStep { id: client.step.clone(), kind: client.kind, definition: definition.into(), attempt: self.attempt, needs_result: client.records_result() }))
    }

    fn shell_effect(&mut self, shell: &ShellOp<X>) -> Result<Yield, StepError> {
        let scope = self.scope(&self.state, None);
        let text = |template: &X| template.eval(&scope).map(|v| v.to_js_string()).map_err(|e| self.step_error(&shell.step, e.to_string()));
        let command = text(&shell.command)?;
        let working_directory = shell.working_directory.as_ref().map(text).transpose()?;
        self.waiting = true;
        Ok(Yield::Effect(Effect::Shell(ShellCommand {
            step_id: shell.step.clone(),
            command,
            working_directory,
            timeout_seconds: shell.timeout_seconds,
            attempt: self.attempt,
            retry_delay: shell.on_failure.retry_delay,
        })))
    }

    fn spawn(&mut self, spawn: &SpawnOp<X>) -> Result<Yield, StepError> {
        let items = match self.eval(&spawn.step, &spawn.items)? {
            Value::Array(items) => items,
            other => return Err(self.step_error(&spawn.step, format!("parallel_foreach items must be an array, got {}", update::describe(&other)))),
        };
        let total = items.len();
        let tasks: Vec<serde_json::Value> = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let task_id = format!("{}.item{index}", spawn.task_name);
                let inputs = task_inputs(&spawn.task_inputs, item);
                serde_json::json!({
                    "task_id": task_id,
                    "context": {"item": item.to_json(), "index": index, "total": total, "task_id": task_id},
                    "inputs": Value::Object(inputs.into()).to_json(),
                })
            })
            .collect();
        let mut definition = serde_json::json!({
            "items": Value::Array(items.clone()).to_json(),
            "sub_agent_task": spawn.task_name,
            "max_parallel": spawn.max_parallel,
            "tasks": tasks,
        });
        if let Some(timeout) = spawn.timeout_seconds {
            definition["timeout_seconds"] = timeout.into();
        }
        self.waiting = true;
        self.attempt = 1;
        Ok(Yield::Client(ClientStep { id: spawn.step.clone(), kind: "parallel_foreach", definition, attempt: 1, needs_result: false }))
    }

    /// Applies what happened to the operation at `pc`; `Some` when the step is handed out
    /// again (a refused answer, a retry).
    fn outcome(&mut self, event: Event) -> Result<Option<Yield>, StepError> {
        let program = Arc::clone(&self.program);
        let op = &program.ops[self.pc as usize];
        let step = op.step().unwrap_or_default().to_owned();
        let unexpected = |event: &Event| StepError::new(&step, format!("step `{step}` was answered with {}", event_name(event)));
        match (op, event) {
            (Op::Client(client), Event::Done(result)) => self.client_result(client, result),
            // The client did the step and wrote its results itself (AroMCP's implicit
            // completion): nothing of the step's own writes is applied.
            (Op::Client(_) | Op::Spawn(_), Event::Acknowledged) => self.advance(),
            (Op::Client(client), Event::Failed(cause)) => {
                let (on_failure, updates) = failure_handling(&client.handling);
                self.failed(&client.step, on_failure, cause, updates)
            }
            (Op::Shell(shell), Event::Shell(output)) => match shell_failure(&output) {
                // A command that failed under `continue` still recorded what it printed and
                // its exit code (a test run that fails is worth keeping); writes that cannot
                // be made are dropped together, as a skipped step's are.
                Some(_) if shell.on_failure.strategy == Strategy::Continue => {
                    let _ = self.apply(&shell.updates, None, &ResultNames::shell(&output));
                    self.advance()
                }
                Some(cause) => self.failed(&shell.step, &shell.on_failure, cause, &shell.updates),
                None => self.finish_with(&shell.step, &shell.updates, None, ResultNames::shell(&output)),
            },
            // The warning that a loop reached its cap was shown: leave the loop.
            (Op::LoopNext { exit, .. }, Event::Done(_) | Event::Acknowledged) => {
                self.pc = *exit;
                Ok(None)
            }
            (Op::Wait { .. }, Event::Waited) => self.advance(),
            (Op::Spawn(spawn), Event::Done(outcomes)) => {
                let store = spawn.store.as_ref().map(|path| (path, outcomes));
                self.apply(&[], store, &ResultNames::one("result", Value::Undefined)).map_err(|cause| self.step_error(&spawn.step, cause))?;
                self.advance()
            }
            (_, event) => Err(unexpected(&event)),
        }
    }

    fn client_result(&mut self, client: &ClientOp<X>, result: Value) -> Result<Option<Yield>, StepError> {
        let step = client.step.as_str();
        match &client.handling {
            Handling::Nothing => {
                self.pc += 1;
                Ok(None)
            }
            Handling::ToolResult { store, updates, on_failure } => {
                match self.apply(updates, store.as_ref().map(|s| (s, result.clone())), &ResultNames::tool(result)) {
                    Ok(()) => self.advance(),
                    Err(cause) => self.failed(step, on_failure, cause, &[]),
                }
            }
            Handling::Answer(rules) => {
                let answer = match (&result, &rules.default) {
                    (Value::Undefined | Value::Null, Some(default)) => Value::from(default),
                    (Value::String(s), Some(default)) if s.trim().is_empty() => Value::from(default),
                    _ => result,
                };
                let checked = answer::convert(rules.input_type, &answer)
                    .and_then(|value| with_rules(&rules.rules, |r| answer::validate(&value, r)).map(|()| value))
                    .and_then(|value| self.satisfies(rules, value));
                let value = match checked {
                    Ok(value) => value,
                    Err(reason) if self.attempt <= rules.max_retries => return self.ask_again(client, &reason).map(Some),
                    Err(reason) => return self.failed(step, &rules.on_failure, format!("the answer was refused: {reason}"), &[]),
                };
                let variable = rules.variable.as_ref().map(|name| WritePath {
                    text: format!("this.{name}"),
                    tier: WriteTier::State,
                    segments: vec![Segment::Field(name.as_str().into())],
                });
                let store = variable.as_ref().map(|path| (path, value.clone()));
                match self.apply(&rules.updates, store, &ResultNames::one("input", value)) {
                    Ok(()) => self.advance(),
                    Err(cause) => self.failed(step, &rules.on_failure, cause, &[]),
                }
            }
            Handling::Reply { schema, rules, updates, store, retries, on_failure } => {
                match check_reply(schema.as_ref(), rules, &result) {
                    Ok(()) => {}
                    Err(reason) if self.attempt <= *retries => return self.ask_again(client, &reason).map(Some),
                    Err(reason) => return self.failed(step, on_failure, format!("the reply was refused: {reason}"), &[]),
                }
                let outcome = self.apply(updates, store.as_ref().map(|s| (s, result.clone())), &ResultNames::one("response", result.clone()));
                match outcome {
                    Ok(()) => self.advance(),
                    Err(cause) => self.failed(step, on_failure, cause, &[]),
                }
            }
            Handling::ShellOutput { updates, on_failure } => {
                let output = ShellOutput {
                    stdout: result.get_named("stdout").ok().filter(|v| !matches!(v, Value::Undefined)).map(|v| v.to_js_string()).unwrap_or_default(),
                    stderr: result.get_named("stderr").ok().filter(|v| !matches!(v, Value::Undefined)).map(|v| v.to_js_string()).unwrap_or_default(),
                    exit_code: result.get_named("exit_code").ok().and_then(|v| if let Value::Number(n) = v { Some(n as i32) } else { None }),
                    failure: None,
                };
                match shell_failure(&output) {
                    Some(cause) => self.failed(step, on_failure, cause, updates),
                    None => self.finish_with(step, updates, None, ResultNames::shell(&output)),
                }
            }
        }
    }

    fn advance(&mut self) -> Result<Option<Yield>, StepError> {
        self.pc += 1;
        Ok(None)
    }

    /// `value` if it satisfies the answer's `validation.expression` (there is none, or it is
    /// truthy with `input` bound to it); the refusal's reason if not: the step's
    /// `validation.message`, else the condition as written.
    fn satisfies(&self, rules: &AnswerRules<X>, value: Value) -> Result<Value, String> {
        let Some(condition) = &rules.condition else { return Ok(value) };
        let names = ResultNames::one("input", value.clone());
        let verdict = condition.test.eval(&self.scope(&self.state, Some(&names))).map_err(|e| format!("`{}` could not be checked: {e}", condition.text))?;
        if !verdict.truthy() {
            return Err(rules.rules.message.clone().unwrap_or_else(|| format!("the answer does not satisfy `{}`", condition.text.trim())));
        }
        Ok(value)
    }

    fn finish_with(&mut self, step: &str, updates: &[Update<X>], store: Option<(&WritePath<X>, Value)>, names: ResultNames) -> Result<Option<Yield>, StepError> {
        self.apply(updates, store, &names).map_err(|cause| self.step_error(step, cause))?;
        self.advance()
    }

    /// A failed step, by its `error_handling`: fail, retry (hand it out again), continue
    /// (skip its updates) or fallback (apply `updates` as if it had produced the fallback).
    fn failed(&mut self, step: &str, on_failure: &OnFailure, cause: String, fallback_updates: &[Update<X>]) -> Result<Option<Yield>, StepError> {
        match on_failure.strategy {
            Strategy::Retry if self.attempt <= on_failure.max_retries => {
                let program = Arc::clone(&self.program);
                match &program.ops[self.pc as usize] {
                    Op::Shell(shell) => {
                        self.attempt += 1;
                        self.shell_effect(shell).map(Some)
                    }
                    // Counts the attempt itself.
                    Op::Client(client) => self.ask_again(client, &cause).map(Some),
                    _ => Err(self.step_error(step, cause)),
                }
            }
            Strategy::Continue => self.advance(),
            Strategy::Fallback => {
                let value = on_failure.fallback.as_ref().map(Value::from).unwrap_or(Value::Null);
                let names = ResultNames::fallback(value);
                self.apply(fallback_updates, None, &names).map_err(|cause| self.step_error(step, cause))?;
                self.advance()
            }
            Strategy::Fail | Strategy::Retry => Err(self.step_error(step, on_failure.message.clone().unwrap_or(cause))),
        }
    }

    fn ask_again(&mut self, client: &ClientOp<X>, reason: &str) -> Result<Yield, StepError> {
        self.attempt += 1;
        let attempt = self.attempt;
        let mut yielded = self.hand_out(client)?;
        if let Yield::Client(step) = &mut yielded {
            step.attempt = attempt;
            if let serde_json::Value::Object(definition) = &mut step.definition {
                definition.insert("error".to_owned(), reason.into());
            }
        }
        Ok(yielded)
    }

    /// Applies a step's writes all or nothing: into a copy of the state, with the computed
    /// fields they affect refreshed; the copy replaces the state only if every write and
    /// refresh succeeded.
    fn apply(&mut self, updates: &[Update<X>], store: Option<(&WritePath<X>, Value)>, names: &ResultNames) -> Result<(), String> {
        let mut next = self.state.clone();
        let mut written = Written::default();
        let mut write = |next: &mut State, path: &WritePath<X>, operation, value: Value| -> Result<(), String> {
            let scope = self.scope(&self.state, Some(names));
            let segments = path
                .segments
                .iter()
                .map(|segment| match segment {
                    Segment::Field(name) => Ok(UpdateSegment::Field(Arc::clone(name))),
                    Segment::Index(i) => Ok(UpdateSegment::Index(*i)),
                    Segment::Key(key) => key.eval(&scope).map(|k| UpdateSegment::from_value(&k)).map_err(|e| e.to_string()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.write_into(next, &mut written, path.tier, &segments, operation, value, &path.text)
        };
        if let Some((path, value)) = &store {
            write(&mut next, path, update::Operation::Set, value.clone())?;
        }
        for update in updates {
            let value = match &update.value {
                None => Value::Undefined,
                Some(UpdateValue::Result(path)) => names.read(path),
                Some(UpdateValue::Value(template)) => template.eval(&self.scope(&self.state, Some(names))).map_err(|e| e.to_string())?,
            };
            write(&mut next, &update.path, update.operation, value)?;
        }
        self.adopt_state(next, &written)
    }

    /// Applies a client's writes (`workflow_update_state`) all or nothing, as a step's writes
    /// are: declared types enforced, affected computed fields refreshed. Paths are
    /// `this.<field>…` (or the legacy `state.<field>…`) and `global.<field>…`; `computed.*`,
    /// `inputs.*` and `loop.*` are not writable.
    pub fn write(&mut self, writes: &[ClientWrite]) -> Result<(), String> {
        let mut next = self.state.clone();
        let mut written = Written::default();
        for write in writes {
            let (tier, segments) = update::parse_path(&write.path)?;
            // `this.<computed field>` reads the computed value, so a write there would be
            // accepted and never seen: refuse it, as `computed.*` is refused.
            if let (WriteTier::State, Some(UpdateSegment::Field(field))) = (tier, segments.first())
                && self.program.computed.iter().any(|c| *c.name == **field)
            {
                return Err(format!("`{}` is a computed field: write the state it is computed from", write.path));
            }
            let value = write.value.as_ref().map(Value::from).unwrap_or_default();
            self.write_into(&mut next, &mut written, tier, &segments, write.operation, value, &write.path)?;
        }
        self.adopt_state(next, &written)
    }

    /// Puts back a state this instance had (taken from [`Instance::state`]): a write that a
    /// second party refused — the workflow a task shares `global.*` with — is undone whole.
    pub fn rewind(&mut self, earlier: State) {
        self.state = earlier;
    }

    /// Takes `global` as the `global.*` tier (sub-agent tasks share it with their workflow),
    /// refreshing the computed fields that read it.
    pub fn adopt_global(&mut self, global: Arc<Object>) -> Result<(), String> {
        if Arc::ptr_eq(&self.state.global, &global) {
            return Ok(());
        }
        let mut next = self.state.clone();
        next.global = global;
        self.adopt_state(next, &Written { state: Vec::new(), global: true })
    }

    /// One write into `next` (`text` is its path as written, for messages), checked against
    /// the declared type of the field it lands in.
    #[allow(clippy::too_many_arguments, reason = "one write's parts; a struct would only be unpacked here")]
    fn write_into(
        &self,
        next: &mut State,
        written: &mut Written,
        tier: WriteTier,
        segments: &[UpdateSegment],
        operation: update::Operation,
        value: Value,
        text: &str,
    ) -> Result<(), String> {
        let target = match tier {
            WriteTier::State => Tier::State,
            WriteTier::Global => Tier::Global,
        };
        // A loop that wraps a field in itself (`[this.x]`) nests it one level deeper each time;
        // past the bound, every walk of the state would risk the stack. Every earlier write was
        // held to the bound, so only what this one adds is walked (not the whole field, which a
        // loop appending to an array would walk again at every step): the value, below the
        // levels its path goes down, and one more inside the array an append pushes onto.
        let below = segments.len() - 1 + usize::from(operation == update::Operation::Append);
        if !value.nests_within(update::MAX_VALUE_DEPTH.saturating_sub(below)) {
            return Err(format!("writing `{text}`: the value would nest more than {} levels deep", update::MAX_VALUE_DEPTH));
        }
        update::apply(next.tier_mut(target), segments, operation, value).map_err(|e| format!("writing `{text}`: {e}"))?;
        match (tier, segments.first()) {
            (WriteTier::State, Some(UpdateSegment::Field(field))) => {
                if let Some(declared) = self.program.state.iter().find(|f| *f.name == **field)
                    && let Some(value) = next.state.get(field)
                    && let Some(refused) = FieldType::refusal(declared.field_type, || format!("this.{field}"), value)
                {
                    return Err(refused);
                }
                written.state.push(field.clone());
            }
            _ => written.global = true,
        }
        Ok(())
    }

    /// Refreshes the computed fields that read what was written, then makes `next` the state.
    fn adopt_state(&mut self, mut next: State, written: &Written) -> Result<(), String> {
        let mut plan: Vec<usize> = written.state.iter().flat_map(|field| self.program.refresh.after_state(field).iter().copied()).collect();
        if written.global {
            plan.extend(&self.program.refresh.global);
        }
        plan.sort_unstable();
        plan.dedup();
        self.refresh(&mut next, &plan).map_err(refresh_failure)?;
        if self.trace.is_some() {
            self.trace_changes(&next, written, &plan);
        }
        self.state = next;
        Ok(())
    }

    /// Records the fields `written` changed on the way to `next`, and the computed fields
    /// refreshed after them.
    fn trace_changes(&mut self, next: &State, written: &Written, plan: &[usize]) {
        let json = |value: Option<&Value>| value.and_then(Value::to_json).unwrap_or(serde_json::Value::Null);
        let step = self.current_step().to_owned();
        // Each changed path once, however many writes it took: old is before the step, new after.
        let mut changes: Vec<(String, serde_json::Value, serde_json::Value)> = Vec::new();
        let mut note = |path: String, old, new| {
            if !changes.iter().any(|(seen, ..)| *seen == path) {
                changes.push((path, old, new));
            }
        };
        for field in &written.state {
            note(format!("this.{field}"), json(self.state.state.get(field)), json(next.state.get(field)));
        }
        if written.global {
            let keys: Vec<Arc<str>> = next.global.entries().chain(self.state.global.entries()).map(|(key, _)| Arc::clone(key)).collect();
            for key in keys {
                let key: &str = &key;
                let (old, new) = (json(self.state.global.get(key)), json(next.global.get(key)));
                if old != new {
                    note(format!("global.{key}"), old, new);
                }
            }
        }
        for (path, old, new) in changes {
            self.record(|_| Trace::Write { step: step.clone(), path, old, new });
        }
        for &index in plan {
            self.record(|machine| Trace::Computed { field: machine.program.computed[index].name.clone() });
        }
    }

    /// Recomputes the computed fields at `plan` (indices in dependency order) into `state`.
    fn refresh(&self, state: &mut State, plan: &[usize]) -> Result<(), StepError> {
        for &index in plan {
            let field = &self.program.computed[index];
            let inputs: Vec<Value> = field
                .from
                .iter()
                .map(|source| match source {
                    Source::Path { tier, path } => Ok(read_path(state, self.loop_view.get(&self.frames), *tier, path)),
                    Source::Template(template) => template.eval(&self.scope(state, None)),
                })
                .collect::<Result<_, _>>()
                .map_err(|e| StepError::new(&field.name, e.to_string()))?;
            let computed = state.tier_mut(Tier::Computed);
            match self.compute(index, inputs)? {
                Some(value) => computed.insert(field.name.as_str(), value),
                None => drop(computed.remove(&field.name)),
            }
        }
        Ok(())
    }

    /// Computed field `index` of the values its sources read, in `from` order: its transform's
    /// value, the fallback, or `None` (removed) as its `on_error` says.
    fn compute(&self, index: usize, inputs: Vec<Value>) -> Result<Option<Value>, StepError> {
        let field = &self.program.computed[index];
        let input = if field.from_is_list { Value::array(inputs) } else { inputs.into_iter().next().unwrap_or_default() };
        self.settle(index, field.transform.eval(&InputScope(input)))
    }

    /// What computed field `index` becomes when its transform gave `transformed`.
    #[inline]
    fn settle(&self, index: usize, transformed: Result<Value, EvalError>) -> Result<Option<Value>, StepError> {
        let field = &self.program.computed[index];
        match (transformed, field.on_error) {
            (Ok(value), _) => Ok(Some(value)),
            (Err(_), OnError::UseFallback) => Ok(Some(Value::from(&field.fallback))),
            (Err(_), OnError::Ignore) => Ok(None),
            (Err(error), OnError::Propagate) => Err(StepError::new(&field.name, error.to_string())),
        }
    }
}

/// Why a refresh made a write fail: the computed field and its error.
fn refresh_failure(error: StepError) -> String {
    format!("computed field `{}`: {}", error.step_id, error.message)
}

impl<X: Expression> Machine for Instance<X> {
    fn resume(&mut self, event: Event) -> Result<Yield, StepError> {
        match self.status {
            MachineStatus::Completed => return Ok(Yield::Done),
            MachineStatus::Failed => return Err(self.failure.clone().unwrap_or_else(|| StepError::new("", "the workflow failed"))),
            MachineStatus::Running => {}
        }
        let outcome = self.run(event);
        if let Err(error) = &outcome {
            self.status = MachineStatus::Failed;
            self.failure = Some(error.clone());
        }
        outcome
    }

    fn snapshot(&self) -> Snapshot {
        let json = |value: Value| value.to_json().unwrap_or_default();
        Snapshot {
            pc: self.pc,
            waiting: self.waiting,
            attempt: self.attempt,
            frames: self
                .frames
                .iter()
                .map(|f| Frame {
                    iteration: f.iteration,
                    items: f.items.as_ref().map(|items| json(Value::Array(items.clone()))),
                    names: f.names.clone(),
                })
                .collect(),
            loop_view: json(self.loop_view.get(&self.frames).clone()),
            state: self.state.to_json(),
            bindings: json(Value::Object(self.bindings.clone().into())),
            status: self.status,
            failure: self.failure.as_ref().map(|f| Failure { step_id: f.step_id.clone(), message: f.message.clone() }),
        }
    }
}


fn event_name(event: &Event) -> &'static str {
    match event {
        Event::Start => "a start",
        Event::Done(_) => "a result",
        Event::Failed(_) => "a failure",
        Event::Shell(_) => "shell output",
        Event::Waited => "the end of a wait",
        Event::Acknowledged => "an acknowledgement",
    }
}

/// A sub-agent task's inputs from its item: the declared names read from an object item, or a
/// plain item as the first declared input.
fn task_inputs(declared: &[String], item: &Value) -> Object {
    let mut inputs = Object::new();
    for (i, name) in declared.iter().enumerate() {
        match item {
            Value::Object(fields) if fields.get(name).is_some() => inputs.insert(name.as_str(), fields.get(name).cloned().unwrap_or_default()),
            Value::Object(_) => {}
            other if i == 0 => inputs.insert(name.as_str(), other.clone()),
            _ => {}
        }
    }
    inputs
}

