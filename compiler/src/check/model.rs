//! The checked workflow: every reference resolved, every default applied, computed fields in
//! dependency order. This is what the `ir` stage lowers; it holds no `Raw*` type, only the
//! format's small enums and free-form [`Node`] values.

use crate::span::Spanned;
use crate::syntax::{ExecutionContext, FieldType, InputType, LongMessage, MessageFormat, MessageType, Node, OnError, Operation, Strategy};

/// A workflow that passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct Workflow {
    /// `namespace:name`.
    pub name: Spanned<String>,
    /// What it is for.
    pub description: String,
    /// `MAJOR.MINOR.PATCH` (or whatever was written, with a warning).
    pub version: String,
    /// Upper bound on the run time in seconds, if any.
    pub timeout_seconds: Option<f64>,
    /// Default retries for `error_handling.strategy: retry`.
    pub max_retries: u32,
    /// Inputs, state and computed fields of the main workflow.
    pub scope: Scope,
    /// The steps.
    pub steps: Vec<Step>,
    /// Sub-agent tasks, in declaration order; [`StepBody::ParallelForeach::task`] indexes this.
    pub tasks: Vec<Task>,
}

/// A sub-agent task.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// Its name in `sub_agent_tasks`.
    pub name: Spanned<String>,
    /// What it does.
    pub description: String,
    /// Inputs, state and computed fields of each task instance.
    pub scope: Scope,
    /// Steps, or a free-form prompt.
    pub body: TaskBody,
}

/// How a sub-agent task is run.
#[derive(Clone, Debug, PartialEq)]
pub enum TaskBody {
    /// The server hands out these steps one at a time.
    Steps(Vec<Step>),
    /// The sub-agent gets this prompt (and the task inputs) and works on its own.
    Prompt {
        /// The prompt template.
        template: Spanned<String>,
        /// Extra context.
        context: Option<Node>,
    },
}

/// The state model of a workflow or a task.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Scope {
    /// Declared inputs, in declaration order.
    pub inputs: Vec<Input>,
    /// Declared `this.*` state fields, in declaration order.
    pub state: Vec<StateField>,
    /// Computed fields in dependency order: each comes after everything it reads.
    pub computed: Vec<Computed>,
}

impl Scope {
    /// The input called `name`.
    pub fn input(&self, name: &str) -> Option<&Input> {
        self.inputs.iter().find(|i| i.name.value == name)
    }

    /// The state field called `name`.
    pub fn state_field(&self, name: &str) -> Option<&StateField> {
        self.state.iter().find(|f| f.name.value == name)
    }

    /// The computed field called `name`.
    pub fn computed_field(&self, name: &str) -> Option<&Computed> {
        self.computed.iter().find(|c| c.name.value == name)
    }
}

/// An input.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// Its name.
    pub name: Spanned<String>,
    /// Its type; `None` when only an initial value declares it (legacy `default_state.inputs`).
    pub value_type: Option<FieldType>,
    /// What it means.
    pub description: String,
    /// Whether `workflow_start` must be given it. An input with a default is never required.
    pub required: bool,
    /// The value used when it is not given.
    pub default: Option<Node>,
    /// Rules a value given for it must satisfy (`validation`).
    pub validation: Validation,
}

/// A `this.*` state field.
#[derive(Clone, Debug, PartialEq)]
pub struct StateField {
    /// Its name.
    pub name: Spanned<String>,
    /// Its declared type, if `state_schema.state` gives one.
    pub value_type: Option<FieldType>,
    /// Its value at start, if `default_state` gives one.
    pub initial: Option<Node>,
}

/// A computed field.
#[derive(Clone, Debug, PartialEq)]
pub struct Computed {
    /// Its name.
    pub name: Spanned<String>,
    /// What it reads, in `from` order.
    pub from: Vec<Dependency>,
    /// Whether `from` was a list (then `input` is an array of the values).
    pub from_is_list: bool,
    /// The JavaScript transform.
    pub transform: Spanned<String>,
    /// What to do when the transform throws.
    pub on_error: OnError,
    /// The value used with `on_error: use_fallback` (null when not written).
    pub fallback: Option<Node>,
}

/// One path a computed field reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Dependency {
    /// The path as written.
    pub path: Spanned<String>,
    /// What it resolved to.
    pub source: DependencySource,
}

/// What a computed field's `from` path resolved to.
#[derive(Clone, Debug, PartialEq)]
pub enum DependencySource {
    /// An input, and the rest of the path below it.
    Input(String, Vec<String>),
    /// A state field, and the rest of the path below it.
    State(String, Vec<String>),
    /// Another computed field, and the rest of the path below it.
    Computed(String, Vec<String>),
    /// A `global.*` path.
    Global(Vec<String>),
    /// A `loop.*` variable.
    Loop(Vec<String>),
    /// A `{{ expression }}` evaluated once when the instance starts.
    Template(String),
}

/// Where a state write goes.
#[derive(Clone, Debug, PartialEq)]
pub struct WritePath {
    /// The path as written.
    pub text: Spanned<String>,
    /// The tier written to.
    pub scope: WriteScope,
    /// The path below the tier; the first segment names the field.
    pub segments: Vec<PathSegment>,
}

/// A tier that can be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteScope {
    /// `this.*` (or the legacy `state.*`).
    State,
    /// `global.*`, shared by a workflow and its sub-agent tasks.
    Global,
}

/// One segment of a path.
#[derive(Clone, Debug, PartialEq)]
pub enum PathSegment {
    /// `.name` or `['name']`.
    Field(String),
    /// `[3]`.
    Index(usize),
    /// `[{{ expr }}]` or `[expr]`, computed when the write happens.
    Dynamic {
        /// The key's template.
        key: String,
        /// Where it stands in the path as written (a byte offset): where its compiled form is
        /// kept and its diagnostics point.
        at: usize,
    },
}

/// A state write from a step's result.
#[derive(Clone, Debug, PartialEq)]
pub struct StateUpdate {
    /// Where.
    pub path: WritePath,
    /// What (absent for operations that need none).
    pub value: Option<Node>,
    /// How.
    pub operation: Operation,
}

/// What happens when a step fails.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorHandling {
    /// The strategy.
    pub strategy: Strategy,
    /// Retries with `retry` (the workflow's `config.max_retries` when not written).
    pub max_retries: u32,
    /// Seconds before the first retry.
    pub retry_delay: f64,
    /// The result used with `fallback`.
    pub fallback_value: Option<Node>,
    /// Message recorded on failure.
    pub error_message: Option<Spanned<String>>,
}

/// Rules an answer must satisfy.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Validation {
    /// Regular expression (ECMAScript syntax, checked at build time).
    pub pattern: Option<Spanned<String>>,
    /// Message shown on failure.
    pub message: Option<Spanned<String>>,
    /// Lengths, numbers and list sizes (`multiple_of` > 0).
    pub bounds: crate::ir::Bounds,
    /// The only values allowed.
    pub allowed_values: Option<Vec<Node>>,
    /// A JSON Schema each item of a list must satisfy (checked at build time).
    pub items: Option<Node>,
    /// A condition over `input` and the state (`user_input` only).
    pub expression: Option<Spanned<String>>,
}

/// A step.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Its id, unique in its workflow or task.
    pub id: Spanned<String>,
    /// Documentation.
    pub description: Option<String>,
    /// What the server does with its text (message or prompt) when it is too long.
    pub long_message: LongMessage,
    /// What it does.
    pub body: StepBody,
}

/// The tool an `mcp_call` names to update its workflow's own state (AroMCP's); the server
/// applies its `parameters.updates` instead of handing the call to the client.
pub const STATE_UPDATE_TOOL: &str = "workflow_state_update";

/// What a step does, by type, with every default applied.
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs, reason = "the fields are the format's, documented on the Raw types and in docs/format.md")]
pub enum StepBody {
    UserMessage { message: Spanned<String>, message_type: MessageType, format: MessageFormat, title: Option<Spanned<String>> },
    McpCall {
        tool: Spanned<String>,
        parameters: Option<Node>,
        store_result: Option<WritePath>,
        updates: Vec<StateUpdate>,
        timeout: Option<f64>,
        error_handling: ErrorHandling,
    },
    UserInput {
        prompt: Spanned<String>,
        instructions: Option<Spanned<String>>,
        input_type: InputType,
        choices: Vec<Node>,
        validation: Validation,
        required: bool,
        default: Option<Node>,
        max_retries: u32,
        variable_name: Option<Spanned<String>>,
        updates: Vec<StateUpdate>,
        error_handling: ErrorHandling,
    },
    AgentPrompt { prompt: Spanned<String>, context: Option<Node>, expected_response: Option<Node>, timeout: f64, max_retries: u32 },
    AgentResponse {
        response_schema: Option<Node>,
        updates: Vec<StateUpdate>,
        store_response: Option<WritePath>,
        validation: Validation,
        error_handling: ErrorHandling,
        /// How many times a refused reply is asked for again: `error_handling.max_retries` when
        /// written, else [`defaults::MAX_RETRIES`].
        reply_retries: u32,
    },
    /// `store_result`: where every task's outcome (`{task_id, status, state, error?}`) is
    /// stored, in item order, once all have ended.
    ParallelForeach {
        items: Spanned<String>,
        task: usize,
        max_parallel: u32,
        timeout_seconds: Option<f64>,
        wait_for_all: bool,
        store_result: Option<WritePath>,
    },
    ShellCommand {
        command: Spanned<String>,
        working_directory: Option<Spanned<String>>,
        timeout: f64,
        updates: Vec<StateUpdate>,
        error_handling: ErrorHandling,
        execution_context: ExecutionContext,
    },
    Conditional { condition: Spanned<String>, then_steps: Vec<Step>, else_steps: Vec<Step> },
    /// `fail_at_limit`: `error_handling.strategy: fail` makes reaching `max_iterations` fail the
    /// workflow instead of leaving the loop with a warning.
    WhileLoop { condition: Spanned<String>, body: Vec<Step>, max_iterations: u32, fail_at_limit: bool },
    Foreach { items: Spanned<String>, variable_name: String, index_name: String, body: Vec<Step> },
    Break,
    Continue,
    WaitStep { message: Option<Spanned<String>>, timeout_seconds: Option<f64> },
}

impl StepBody {
    /// The state updates of a step, and the path its whole result is stored at
    /// (`store_result`, `store_response`), if any.
    pub fn writes(&self) -> (&[StateUpdate], Option<&WritePath>) {
        match self {
            StepBody::McpCall { updates, store_result, .. } => (updates, store_result.as_ref()),
            StepBody::ParallelForeach { store_result, .. } => (&[], store_result.as_ref()),
            StepBody::AgentResponse { updates, store_response, .. } => (updates, store_response.as_ref()),
            StepBody::UserInput { updates, .. } | StepBody::ShellCommand { updates, .. } => (updates, None),
            _ => (&[], None),
        }
    }
}

/// Calls `visit` with every step of `steps` and every step inside them (a conditional's branches,
/// a loop's body), each before the steps inside it, in file order.
pub(crate) fn each_step<'a>(steps: &'a [Step], visit: &mut impl FnMut(&'a Step)) {
    for step in steps {
        visit(step);
        match &step.body {
            StepBody::Conditional { then_steps, else_steps, .. } => {
                each_step(then_steps, visit);
                each_step(else_steps, visit);
            }
            StepBody::WhileLoop { body, .. } | StepBody::Foreach { body, .. } => each_step(body, visit),
            _ => {}
        }
    }
}

/// Defaults the format gives when a field is not written.
pub mod defaults {
    /// `while_loop.max_iterations`.
    pub const MAX_ITERATIONS: u32 = 100;
    /// `parallel_foreach.max_parallel`.
    pub const MAX_PARALLEL: u32 = 5;
    /// `shell_command.timeout`, seconds (the schema's 60, not the reference code's 30).
    pub const SHELL_TIMEOUT: f64 = 60.0;
    /// `agent_prompt.timeout`, seconds.
    pub const AGENT_TIMEOUT: f64 = 300.0;
    /// `user_input.max_retries` and `agent_prompt.max_retries`.
    pub const MAX_RETRIES: u32 = 3;
    /// `error_handling.retry_delay`, seconds.
    pub const RETRY_DELAY: f64 = 1.0;
}
