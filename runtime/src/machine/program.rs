//! A workflow's machine as data: numbered operations with explicit jumps, loop frames at static
//! depths, computed fields with their refresh plans, and what each client step's report does.
//! The compiler's ir stage builds it; [`Instance`](super::Instance) runs it.
//!
//! Every expression in it is an `X`: the interpreter's IR nodes in dev mode, a generated Rust
//! function ([`ExprFn`]) in compiled workflows. A compiled program also has its server-side
//! steps generated over typed state ([`Program::native`]); they call the executor's own
//! operations ([`Executor`]), and the answers, client results, effects and error handling are the
//! executor's for both, so a workflow means the same thing compiled and interpreted.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Generated programs name it here, with the rest of a step's rules.
pub use super::answer::Bounds;
use super::answer::InputType;
use super::update::Operation;
pub use super::update::WriteTier;
use super::{Event, FieldType, Executor, StepError, Strategy, Yield};
use crate::value::{EvalError, Scope, Value};

/// Something a machine evaluates: a condition, `items`, a transform, a template, a step's
/// definition, an update value, a computed write-path key.
pub trait Expression: fmt::Debug + Send + Sync {
    /// The value against `scope`.
    fn eval(&self, scope: &dyn Scope) -> Result<Value, EvalError>;
}

/// A generated expression.
pub type ExprFn = fn(&dyn Scope) -> Result<Value, EvalError>;

impl Expression for ExprFn {
    fn eval(&self, scope: &dyn Scope) -> Result<Value, EvalError> {
        let evaluation = crate::value::budget::Evaluation::start();
        evaluation.finish(self(scope))
    }
}

/// What a computed field does when its transform throws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Take the `fallback` value.
    UseFallback,
    /// Fail the update that triggered the refresh, leaving state unchanged.
    Propagate,
    /// Remove the field.
    Ignore,
}

impl OnError {
    /// The name as written in a workflow.
    pub fn name(self) -> &'static str {
        match self {
            OnError::UseFallback => "use_fallback",
            OnError::Propagate => "propagate",
            OnError::Ignore => "ignore",
        }
    }
}

/// A workflow's machines: its own and one per sub-agent task.
#[derive(Clone, Debug)]
pub struct Workflow<X> {
    /// `namespace:name`.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its version.
    pub version: String,
    /// Upper bound on the run time in seconds, if any.
    pub timeout_seconds: Option<f64>,
    /// The workflow's own machine.
    pub main: Arc<Program<X>>,
    /// One machine per sub-agent task, in declaration order ([`Op::Spawn`] indexes this).
    pub tasks: Vec<Arc<Program<X>>>,
}

/// The index of an operation in [`Program::ops`].
pub type Pc = u32;

/// One state machine: a workflow's or a sub-agent task's.
#[derive(Clone, Debug)]
pub struct Program<X> {
    /// The workflow's or the task's name.
    pub name: String,
    /// Declared inputs, in declaration order.
    pub inputs: Vec<Input>,
    /// Declared state fields, in declaration order.
    pub state: Vec<StateField>,
    /// Computed fields, each after everything it reads.
    pub computed: Vec<Computed<X>>,
    /// Which computed fields to refresh after which writes.
    pub refresh: Refresh,
    /// The operations; execution starts at 0 and ends at [`Op::Done`].
    pub ops: Vec<Op<X>>,
    /// The deepest loop nesting: the size of the frame array.
    pub loop_depth: usize,
    /// The state each step reads (`this.count`, `inputs.files`, `loop.item`), by step id, in
    /// the order of the operations: found in its expressions when the workflow is compiled,
    /// for `workflow_explain_plan`.
    pub reads: Vec<(String, Vec<String>)>,
    /// The program's server-side steps, and the outcomes of the client steps whose reports
    /// only write typed fields, as generated Rust over its typed state, for a compiled
    /// workflow: run from wherever the machine stands until an operation it leaves to the
    /// executor. `None` when interpreted.
    pub native: Option<Native<X>>,
}

/// Generated steps (see [`Executor`]): `Some` when they yield (a loop's limit warning). The event
/// is the outcome of the client step the machine waits on, if it waits: the generated code
/// takes it (leaves `None`) when it applied it, and leaves it to the executor otherwise — a
/// step it does not handle, or a report whose writes fail (the executor applies it again and
/// fails it as the step's `error_handling` says).
pub type Native<X> = fn(&mut Executor<'_, X>, &mut Option<Event>) -> Result<Option<Yield>, StepError>;

/// A declared input.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// Its name.
    pub name: String,
    /// Its type, if declared.
    pub field_type: Option<FieldType>,
    /// Whether a start without it is refused.
    pub required: bool,
    /// Its value when not given.
    pub default: Option<serde_json::Value>,
    /// Rules a value given for it (or its default) must satisfy (`validation`).
    pub rules: Option<Rules>,
}

/// A declared state field.
#[derive(Clone, Debug, PartialEq)]
pub struct StateField {
    /// Its name.
    pub name: String,
    /// Its type, if `state_schema` declares one; writes of another type are refused.
    pub field_type: Option<FieldType>,
    /// Its value at start.
    pub initial: Option<serde_json::Value>,
}

/// A computed field.
#[derive(Clone, Debug, PartialEq)]
pub struct Computed<X> {
    /// Its name.
    pub name: String,
    /// What it reads, in `from` order.
    pub from: Vec<Source<X>>,
    /// Whether `input` is the array of the sources' values (a list `from`) or the one value.
    pub from_is_list: bool,
    /// The transform over `input`.
    pub transform: X,
    /// What to do when the transform throws.
    pub on_error: OnError,
    /// The value taken with `use_fallback`.
    pub fallback: serde_json::Value,
}

/// One value a computed field reads.
#[derive(Clone, Debug, PartialEq)]
pub enum Source<X> {
    /// A read of a tier's field and a path below it.
    Path {
        /// The tier (`inputs`, `state`, `computed`, `global`, `loop`).
        tier: SourceTier,
        /// The field and the path below it (empty for the whole `global`/`loop` tier).
        path: Vec<String>,
    },
    /// A `{{ expression }}`, evaluated each time the field is computed.
    Template(X),
}

/// A tier a computed field reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceTier {
    /// `inputs.*`.
    Inputs,
    /// `this.*` state fields.
    State,
    /// Other computed fields.
    Computed,
    /// `global.*`.
    Global,
    /// `loop.*`.
    Loop,
}

/// The computed fields to refresh after a write, as indices into [`Program::computed`] in
/// dependency order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Refresh {
    /// After a write to a state field: by field name (fields no computed field reads are absent).
    pub state: Vec<(String, Vec<usize>)>,
    /// After any write to `global.*`.
    pub global: Vec<usize>,
    /// After a loop starts an iteration or ends.
    pub loops: Vec<usize>,
}

impl Refresh {
    /// What to refresh after writing state field `name`.
    pub fn after_state(&self, name: &str) -> &[usize] {
        self.state.iter().find(|(field, _)| field == name).map_or(&[], |(_, plan)| plan)
    }
}

/// One operation of a machine. Unless it says otherwise, execution goes on at the next one.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant, reason = "built once per program; never moved in a hot loop")]
pub enum Op<X> {
    /// Hand a step to the client and apply what it reports.
    Client(ClientOp<X>),
    /// Run a shell command on the server (an effect), then apply its output.
    Shell(ShellOp<X>),
    /// Hand the client a wait step.
    Wait {
        /// The step.
        step: String,
        /// What the client is told (a default when the step says nothing).
        message: X,
        /// How long the wait may last.
        timeout_seconds: Option<f64>,
    },
    /// Create a sub-agent task per item and wait for all of them.
    Spawn(SpawnOp<X>),
    /// Apply writes on the server: an `mcp_call` to `workflow_state_update`, which AroMCP
    /// workflows use to update their own state.
    Write {
        /// The step.
        step: String,
        /// Its `updates`, applied in order, all or none.
        updates: Vec<Update<X>>,
    },
    /// Go on at the next operation if the condition holds, else at `otherwise`.
    Branch {
        /// The conditional step.
        step: String,
        /// The condition, evaluated now.
        condition: X,
        /// Where the `else_steps` start (or the step after the conditional).
        otherwise: Pc,
    },
    /// Open a loop frame at `depth` (a `foreach` evaluates its items here, once).
    LoopStart {
        /// The loop step.
        step: String,
        /// Its frame.
        depth: usize,
        /// What kind of loop.
        kind: LoopKind<X>,
    },
    /// Start the next iteration of the loop at `depth`, or leave it (to `exit`). A `while_loop`
    /// evaluates its condition here, before every iteration, against the current state.
    LoopNext {
        /// The loop step.
        step: String,
        /// Its frame.
        depth: usize,
        /// What kind of loop.
        kind: LoopKind<X>,
        /// The loop's [`Op::LoopEnd`].
        exit: Pc,
    },
    /// Close the loop frame at `depth` (the target of `break`).
    LoopEnd {
        /// Its frame.
        depth: usize,
    },
    /// Go on at another operation (the end of a branch or loop body, `break`, `continue`).
    Jump {
        /// Where.
        to: Pc,
        /// The `break`/`continue` step this came from, if any.
        step: Option<String>,
    },
    /// The end.
    Done,
}

impl<X> Op<X> {
    /// The step this operation belongs to, if any.
    pub fn step(&self) -> Option<&str> {
        match self {
            Op::Client(client) => Some(&client.step),
            Op::Shell(shell) => Some(&shell.step),
            Op::Spawn(spawn) => Some(&spawn.step),
            Op::Wait { step, .. } | Op::Write { step, .. } | Op::Branch { step, .. } | Op::LoopStart { step, .. } | Op::LoopNext { step, .. } => Some(step),
            Op::Jump { step, .. } => step.as_deref(),
            Op::LoopEnd { .. } | Op::Done => None,
        }
    }

    /// Every expression the operation evaluates: conditions, items, definition fields,
    /// commands, update values and computed keys of write paths.
    pub fn expressions(&self) -> Vec<&X> {
        let mut found = Vec::new();
        match self {
            Op::Client(client) => {
                found.extend(client.definition.iter().map(|(_, x)| x));
                match &client.handling {
                    Handling::Nothing => {}
                    Handling::ToolResult { store, updates, .. } | Handling::Reply { store, updates, .. } => {
                        found.extend(store.iter().flat_map(WritePath::keys));
                        found.extend(updates.iter().flat_map(Update::expressions));
                    }
                    Handling::Answer(rules) => {
                        found.extend(rules.condition.iter().map(|c| &c.test));
                        found.extend(rules.updates.iter().flat_map(Update::expressions));
                    }
                    Handling::ShellOutput { updates, .. } => found.extend(updates.iter().flat_map(Update::expressions)),
                }
            }
            Op::Shell(shell) => {
                found.push(&shell.command);
                found.extend(&shell.working_directory);
                found.extend(shell.updates.iter().flat_map(Update::expressions));
            }
            Op::Wait { message, .. } => found.push(message),
            Op::Spawn(spawn) => {
                found.push(&spawn.items);
                found.extend(spawn.store.iter().flat_map(WritePath::keys));
            }
            Op::Write { updates, .. } => found.extend(updates.iter().flat_map(Update::expressions)),
            Op::Branch { condition, .. } => found.push(condition),
            Op::LoopStart { kind, .. } | Op::LoopNext { kind, .. } => found.push(match kind {
                LoopKind::While { condition, .. } => condition,
                LoopKind::Foreach { items, .. } => items,
            }),
            Op::LoopEnd { .. } | Op::Jump { .. } | Op::Done => {}
        }
        found
    }
}

impl<X> Update<X> {
    /// The update's value and the computed keys of its path.
    fn expressions(&self) -> impl Iterator<Item = &X> {
        let value = match &self.value {
            Some(UpdateValue::Value(x)) => Some(x),
            _ => None,
        };
        self.path.keys().chain(value)
    }
}

impl<X> WritePath<X> {
    /// The keys computed when the write happens.
    fn keys(&self) -> impl Iterator<Item = &X> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Key(x) => Some(x),
            _ => None,
        })
    }
}

/// How a loop iterates.
#[derive(Clone, Debug, PartialEq)]
pub enum LoopKind<X> {
    /// `while_loop`.
    While {
        /// Evaluated before every iteration.
        condition: X,
        /// The iteration cap.
        max_iterations: u32,
        /// Whether reaching the cap fails the workflow (else: a warning and the loop ends).
        fail_at_limit: bool,
    },
    /// `foreach`.
    Foreach {
        /// Evaluated once, when the loop starts; must be an array.
        items: X,
        /// `loop.<variable_name>`.
        variable_name: String,
        /// `loop.<index_name>`.
        index_name: String,
    },
}

/// A step the client executes.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientOp<X> {
    /// The step id.
    pub step: String,
    /// The step type as the format names it.
    pub kind: &'static str,
    /// The fields handed to the client, templates resolved when the step is handed out.
    pub definition: Vec<(String, X)>,
    /// What the client's report does to the state.
    pub handling: Handling<X>,
}

impl<X> ClientOp<X> {
    /// Whether the workflow uses what the client reports for this step: an answer
    /// (`user_input`), a checked reply (`agent_response`, or an `agent_prompt` with
    /// `expected_response`), a tool result or client-run command output that is stored or
    /// written. Asking for the next step past such a step hands it out again instead of
    /// completing it without its result.
    pub fn records_result(&self) -> bool {
        match &self.handling {
            Handling::Nothing => false,
            Handling::ToolResult { store, updates, .. } => store.is_some() || !updates.is_empty(),
            Handling::Answer(_) | Handling::Reply { .. } => true,
            Handling::ShellOutput { updates, .. } => !updates.is_empty(),
        }
    }
}

/// What a client step's report does.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant, reason = "built once per program; never moved in a hot loop")]
pub enum Handling<X> {
    /// Nothing (`user_message`, `agent_prompt`).
    Nothing,
    /// `mcp_call`: the tool result.
    ToolResult {
        /// `store_result`.
        store: Option<WritePath<X>>,
        /// `state_update`.
        updates: Vec<Update<X>>,
        /// When the client reports a failure.
        on_failure: OnFailure,
    },
    /// `user_input`: an answer to convert and validate.
    Answer(Box<AnswerRules<X>>),
    /// `agent_response`: a reply to validate.
    Reply {
        /// `response_schema` (a JSON Schema).
        schema: Option<serde_json::Value>,
        /// `validation`.
        rules: Rules,
        /// `state_updates`.
        updates: Vec<Update<X>>,
        /// `store_response`.
        store: Option<WritePath<X>>,
        /// How many times a reply refused by `schema` or `rules` is asked for again, with the
        /// reason, before `on_failure` applies.
        retries: u32,
        /// When the reply is refused past its retries, its writes fail, or the client reports
        /// a failure.
        on_failure: OnFailure,
    },
    /// `shell_command` with `execution_context: client`: `{stdout, stderr, exit_code}`.
    ShellOutput {
        /// `state_update`/`state_updates`.
        updates: Vec<Update<X>>,
        /// On a non-zero exit code or a reported failure.
        on_failure: OnFailure,
    },
}

/// A `user_input` step's handling of answers.
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerRules<X> {
    /// What the answer is converted to.
    pub input_type: InputType,
    /// What it must satisfy.
    pub rules: Rules,
    /// Used when the answer is empty.
    pub default: Option<serde_json::Value>,
    /// Re-asks after a refused answer.
    pub max_retries: u32,
    /// `variable_name`: the answer is also stored at `this.<name>`.
    pub variable: Option<String>,
    /// `validation.expression`: checked after the other rules, with `input` bound.
    pub condition: Option<AnswerCondition<X>>,
    /// `state_update` and `state_updates`, applied all or none.
    pub updates: Vec<Update<X>>,
    /// After the last refused answer, or when the client reports a failure.
    pub on_failure: OnFailure,
}

/// A condition an answer must satisfy (`validation.expression`).
#[derive(Clone, Debug, PartialEq)]
pub struct AnswerCondition<X> {
    /// Evaluated with `input` bound to the converted answer; a falsy value refuses it.
    pub test: X,
    /// As written, for the refusal's message.
    pub text: String,
}

/// Rules an answer or reply must satisfy.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Rules {
    /// Whether an empty answer is refused.
    pub required: bool,
    /// `choices`.
    pub choices: Vec<serde_json::Value>,
    /// `allowed_values`.
    pub allowed_values: Vec<serde_json::Value>,
    /// A pattern text answers must match (ECMAScript syntax, checked at build time).
    pub pattern: Option<String>,
    /// Lengths, numbers and list sizes.
    pub bounds: Bounds,
    /// `items`: a JSON Schema each item must satisfy.
    pub items: Option<serde_json::Value>,
    /// The message for a pattern mismatch.
    pub message: Option<String>,
}

/// `error_handling`.
#[derive(Clone, Debug, PartialEq)]
pub struct OnFailure {
    /// What to do.
    pub strategy: Strategy,
    /// Retries with [`Strategy::Retry`].
    pub max_retries: u32,
    /// Seconds before the first retry (the engine doubles it for each next one).
    pub retry_delay: f64,
    /// The result taken with [`Strategy::Fallback`].
    pub fallback: Option<serde_json::Value>,
    /// The message recorded on failure, instead of the cause.
    pub message: Option<String>,
}

/// A server-side shell command.
#[derive(Clone, Debug, PartialEq)]
pub struct ShellOp<X> {
    /// The step.
    pub step: String,
    /// The command line.
    pub command: X,
    /// Where to run it.
    pub working_directory: Option<X>,
    /// Seconds before it is killed.
    pub timeout_seconds: f64,
    /// `state_update`/`state_updates`.
    pub updates: Vec<Update<X>>,
    /// On a non-zero exit code, a timeout or a spawn failure.
    pub on_failure: OnFailure,
}

/// A `parallel_foreach`.
#[derive(Clone, Debug, PartialEq)]
pub struct SpawnOp<X> {
    /// The step.
    pub step: String,
    /// The items, one task each.
    pub items: X,
    /// The task (an index into [`Workflow::tasks`]).
    pub task: usize,
    /// The task's name.
    pub task_name: String,
    /// The task's declared inputs: an object item fills those it has fields for; any other
    /// item is the first input.
    pub task_inputs: Vec<String>,
    /// How many tasks the client runs at once.
    pub max_parallel: u32,
    /// Seconds the tasks may take, if bounded.
    pub timeout_seconds: Option<f64>,
    /// Where the tasks' outcomes are stored, in item order, once all have ended.
    pub store: Option<WritePath<X>>,
}

/// A state write from a step's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Update<X> {
    /// Where.
    pub path: WritePath<X>,
    /// What (`None` for operations without a value).
    pub value: Option<UpdateValue<X>>,
    /// How.
    pub operation: Operation,
}

/// The value of a state update.
#[derive(Clone, Debug, PartialEq)]
pub enum UpdateValue<X> {
    /// A bare result keyword and a path below it: `stdout`, `exit_code`, `result`, `input`,
    /// `response.summary.score`.
    Result(Vec<String>),
    /// A literal or templated value.
    Value(X),
}

/// Where a write goes.
#[derive(Clone, Debug, PartialEq)]
pub struct WritePath<X> {
    /// The path as written, for messages.
    pub text: String,
    /// The tier.
    pub tier: WriteTier,
    /// The field and the path below it; the first segment is a field name.
    pub segments: Vec<Segment<X>>,
}

/// One segment of a write path.
#[derive(Clone, Debug, PartialEq)]
pub enum Segment<X> {
    /// A property name (shared: each write hands it on without copying it).
    Field(Arc<str>),
    /// An array index.
    Index(usize),
    /// A key computed when the write happens.
    Key(X),
}

