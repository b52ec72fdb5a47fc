//! The sans-IO contract between a workflow and the engine that drives it (DESIGN.md §2).
//!
//! A workflow — generated Rust or the interpreter over the same ir — runs its server-side steps
//! (control flow, state updates, computed fields) inside [`Machine::resume`] and stops at the
//! first thing it cannot do itself: a step for the client, an effect for the engine (a shell
//! command, a wait), or the end. The engine does the IO and resumes the machine with what
//! happened. Nothing here knows MCP, tokio or time, so machines are tested without a runtime.
//!
//! The pieces both back ends share live beside the contract, so a workflow means the same
//! thing compiled and interpreted: [`update`] (write paths and operations), [`answer`]
//! (`user_input` conversion and validation) and [`State`] (the four state tiers).

pub mod answer;
mod instance;
pub mod native;
pub mod plan;
pub mod program;
mod state;
pub mod update;

use serde::{Deserialize, Serialize};

pub use instance::{ClientWrite, DEFAULT_SERVER_STEP_BUDGET, Executor, Instance, StartError, below};
pub use state::{FieldType, State, Tier};

use crate::value::Value;

/// A workflow (or a sub-agent task) as a state machine.
pub trait Machine {
    /// Runs server-side steps from where the machine stands until it needs the outside world.
    /// The first call takes [`Event::Start`]; every later call takes the outcome of the last
    /// [`Yield`]. An error fails the instance: the machine stays failed.
    fn resume(&mut self, event: Event) -> Result<Yield, StepError>;

    /// Everything needed to continue later, as data (the store persists it).
    fn snapshot(&self) -> Snapshot;
}

/// What happened since the machine last yielded.
#[derive(Clone, Debug)]
pub enum Event {
    /// Begin at the first step.
    Start,
    /// The client finished its step. The result is the tool result (`mcp_call`), the answer
    /// (`user_input`), the reply (`agent_response`, `agent_prompt`), the task outcomes
    /// (`parallel_foreach`), or `undefined` for steps that return nothing (`user_message`).
    Done(Value),
    /// The client could not do its step; the step's `error_handling` decides what follows.
    Failed(String),
    /// The client moved on from its step without reporting a result (AroMCP's implicit
    /// completion: it wrote what it had to with `workflow_update_state`). The step's own
    /// writes are not applied.
    Acknowledged,
    /// The engine ran the shell command.
    Shell(ShellOutput),
    /// A wait step is over.
    Waited,
}

/// What a machine did inside one resume, for the execution history (recorded only when the
/// engine asks for it: [`Instance::trace`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Trace {
    /// A conditional's condition was evaluated.
    Branch {
        /// The conditional.
        step: String,
        /// Whether `then_steps` run.
        taken: bool,
    },
    /// A loop started an iteration.
    Iteration {
        /// The loop.
        step: String,
        /// 1-based.
        iteration: u32,
    },
    /// A top-level field of `this` or `global` changed.
    Write {
        /// The step whose write it was (the current step; a client's writes are relabelled by
        /// the engine).
        step: String,
        /// `this.field` or `global.key`.
        path: String,
        /// Before.
        old: serde_json::Value,
        /// After.
        new: serde_json::Value,
    },
    /// A computed field was recomputed.
    Computed {
        /// The field.
        field: String,
    },
}

/// What the machine needs next.
#[derive(Clone, Debug, PartialEq)]
pub enum Yield {
    /// A step for the client, every template resolved against the state of this moment.
    Client(ClientStep),
    /// Work for the engine.
    Effect(Effect),
    /// The workflow finished.
    Done,
}

/// A step handed to the client.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientStep {
    /// The step id (a generated one such as `loop.max_iterations` for notices).
    pub id: String,
    /// The step type as the format names it (`user_message`, `mcp_call`, …).
    pub kind: &'static str,
    /// The step's fields, templates resolved (for `parallel_foreach`: the items and one entry
    /// per task under `tasks`).
    pub definition: serde_json::Value,
    /// 1 on the first attempt; higher when an answer was refused or a retry was asked for.
    pub attempt: u32,
    /// Whether the workflow uses what the client reports (see [`program::ClientOp::records_result`]):
    /// such a step is never completed without its result.
    pub needs_result: bool,
}

/// Work the engine does for the machine.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Run a shell command (server side, in its own process group, killed at the timeout).
    Shell(ShellCommand),
    /// Hand the client a wait step; resume with [`Event::Waited`] on its next request.
    Wait {
        /// The step.
        step_id: String,
        /// What the client is told.
        message: String,
        /// How long the wait may last, if bounded.
        timeout_seconds: Option<f64>,
    },
}

/// A shell command for the engine to run; the engine also keeps it, as data, while it runs
/// (a crash during it runs it again).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShellCommand {
    /// The step.
    pub step_id: String,
    /// The command line for `sh -c`.
    pub command: String,
    /// The directory to run in, if the step names one.
    pub working_directory: Option<String>,
    /// Seconds before the command is killed.
    pub timeout_seconds: f64,
    /// 1 on the first attempt.
    pub attempt: u32,
    /// `error_handling.retry_delay`: seconds before the second attempt (doubling after).
    #[serde(default)]
    pub retry_delay: f64,
}

/// What a shell command did.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ShellOutput {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code; `None` when the process was killed (timeout, signal).
    pub exit_code: Option<i32>,
    /// Why the command did not finish normally (timeout, spawn failure), if it did not.
    pub failure: Option<String>,
}

/// Why a step failed the workflow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepError {
    /// The step (or computed field) that failed.
    pub step_id: String,
    /// The cause.
    pub message: String,
}

impl StepError {
    /// An error at `step_id`.
    pub fn new(step_id: impl Into<String>, message: impl Into<String>) -> Self {
        StepError { step_id: step_id.into(), message: message.into() }
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "step `{}`: {}", self.step_id, self.message)
    }
}

impl std::error::Error for StepError {}

/// A machine at rest, as data: the same shape for compiled and interpreted machines, so the
/// differential tests compare them and the store keeps either. [`Instance::restore`] takes it
/// back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Where the machine stands (an ir state number).
    pub pc: u32,
    /// Whether the operation at `pc` was handed out and waits for its outcome.
    pub waiting: bool,
    /// Attempts made at the current step (0 before the first).
    pub attempt: u32,
    /// One per loop depth of the program, outermost first (closed ones at their defaults).
    pub frames: Vec<Frame>,
    /// What `loop.*` reads at `pc`.
    pub loop_view: serde_json::Value,
    /// Every state tier.
    pub state: serde_json::Value,
    /// A sub-agent task's bare names (`item`, `index`, `total`, `task_id`).
    pub bindings: serde_json::Value,
    /// Whether the machine finished or failed.
    pub status: MachineStatus,
    /// Why it failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// A step failure, as data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The step.
    pub step_id: String,
    /// The cause.
    pub message: String,
}

/// A loop frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Frame {
    /// Iterations started, so `loop.iteration` (1-based) inside the body.
    pub iteration: u32,
    /// The items of a `foreach`, evaluated once when it was entered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<serde_json::Value>,
    /// A `foreach`'s `variable_name` and `index_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<(String, String)>,
}

/// Whether a machine can still run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MachineStatus {
    /// It has more to do.
    #[default]
    Running,
    /// It reached the end.
    Completed,
    /// A step failed it.
    Failed,
}

/// An `error_handling` strategy: what a step does when it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Fail the workflow (default).
    Fail,
    /// Run the step again, up to `max_retries` times, with backoff.
    Retry,
    /// Record the error and go on.
    Continue,
    /// Use `fallback_value` as the step's result.
    Fallback,
}
