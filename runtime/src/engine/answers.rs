//! What each tool answers, as types. The JSON agents read is their serialization, and each
//! tool's `outputSchema` is generated from them (see [`super::tools`]); the step tools answer a
//! [`Batch`](super::Batch). Parts that are the workflow's own data (state, values, defaults)
//! are JSON of any shape.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value as Json;

use super::batch::{Batch, Running, StepFailure};
use super::definition::ComputedInfo;
use super::execution::Status;
use super::store::HistoryEvent;
use crate::machine::plan::PlannedStep;

/// `workflow_list`: the workflows that can be started.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct WorkflowList {
    /// How many.
    pub count: usize,
    /// Each, in the catalog's order.
    pub workflows: Vec<WorkflowSummary>,
    /// Files that cannot be served (`--dev`), with their diagnostics.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid: Vec<InvalidFile>,
}

/// One workflow of [`WorkflowList`].
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct WorkflowSummary {
    /// `namespace:name`.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its version.
    pub version: String,
    /// `compiled` (in the binary), `dev` or `directory` (interpreted from a file).
    pub source: String,
    /// The file it came from.
    pub path: String,
}

/// A workflow file that is not served.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct InvalidFile {
    /// The file.
    pub path: String,
    /// Its diagnostics, rendered.
    pub diagnostics: String,
}

/// `workflow_get_info`: one workflow.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct WorkflowInfo {
    /// `namespace:name`.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its version.
    pub version: String,
    /// Its inputs by name.
    pub inputs: BTreeMap<String, InputInfo>,
    /// Its sub-agent tasks' names.
    pub sub_agent_tasks: Vec<String>,
    /// `compiled`, `dev` or `directory`.
    pub source: String,
    /// The file it came from.
    pub loaded_from: String,
    /// A hash of its YAML.
    pub definition_hash: String,
}

/// A declared input.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct InputInfo {
    /// `string`, `number`, `boolean`, `object`, `array`; `null` when any value is taken.
    #[serde(rename = "type")]
    pub field_type: Option<String>,
    /// Whether a start must give it.
    pub required: bool,
    /// What it is when not given.
    pub default: Option<Json>,
}

/// `workflow_explain_plan`: what a workflow would run.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Plan {
    /// `namespace:name`.
    pub workflow: String,
    /// What it is for.
    pub description: String,
    /// Its version.
    pub version: String,
    /// Its inputs, in declaration order.
    pub inputs: Vec<PlanInput>,
    /// `config.timeout_seconds`.
    pub timeout_seconds: Option<f64>,
    /// Its steps in order, loops and branches flattened with their depth.
    pub steps: Vec<PlannedStep>,
    /// Its computed fields.
    pub computed: Vec<ComputedInfo>,
    /// Each sub-agent task's plan.
    pub sub_agent_tasks: Vec<TaskPlan>,
    /// With inputs given: `true`, or `{"refused": why}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs_accepted: Option<Json>,
}

/// A declared input, in a [`Plan`].
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct PlanInput {
    /// Its name.
    pub name: String,
    /// Its type, as [`InputInfo::field_type`].
    #[serde(rename = "type")]
    pub field_type: Option<String>,
    /// Whether a start must give it.
    pub required: bool,
    /// What it is when not given.
    pub default: Option<Json>,
}

/// A sub-agent task's plan.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct TaskPlan {
    /// The task's name.
    pub name: String,
    /// Its steps.
    pub steps: Vec<PlannedStep>,
    /// Its computed fields.
    pub computed: Vec<ComputedInfo>,
}

/// `workflow_start`: the new instance.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Started {
    /// Its id, for every other call.
    pub workflow_id: String,
    /// The workflow.
    pub workflow_name: String,
    /// `running`.
    pub status: Status,
    /// Its state as it starts (`this`).
    pub state: Json,
}

/// `workflow_update_state`: the state after the writes.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct StateWritten {
    /// `this`: state and computed fields.
    pub state: Json,
    /// `global`.
    pub global: Json,
}

/// `workflow_get_status`: how an instance stands.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct InstanceStatus {
    /// The instance.
    pub workflow_id: String,
    /// Its workflow.
    pub workflow_name: String,
    /// Where it stands.
    pub status: Status,
    /// Seconds since the Unix epoch.
    pub created_at: f64,
    /// When it ended, if it has.
    pub completed_at: Option<f64>,
    /// Why it failed.
    pub error: Option<StepFailure>,
    /// The step it stands at.
    pub current_step: Option<String>,
    /// Steps handed out so far.
    pub steps_handed_out: u64,
    /// The attempt at the current step (above 1 after a refused answer or a retry).
    pub attempt: u32,
    /// The iterations of the loops it stands in, outermost first.
    pub loop_iterations: Vec<u32>,
    /// Sub-agent task counts by status, during a fan-out.
    pub tasks: Option<Json>,
    /// Its state (`this`).
    pub state: Json,
    /// Commits so far.
    pub version: u64,
    /// Server-side work going on.
    pub running: Option<Running>,
}

/// `workflow_list_active`: the instances that have not ended.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ActiveList {
    /// How many.
    pub count: usize,
    /// Each, oldest first.
    pub workflows: Vec<ActiveInstance>,
}

/// One running instance.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ActiveInstance {
    /// The instance.
    pub workflow_id: String,
    /// Its workflow.
    pub workflow_name: String,
    /// `running`.
    pub status: String,
    /// Seconds since the Unix epoch.
    pub created_at: f64,
    /// Commits so far.
    pub version: u64,
    /// Set when its workflow's definition changed since it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_force_resume: Option<String>,
}

/// `workflow_state_read`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct StateRead {
    /// The instance.
    pub workflow_id: String,
    /// The task read, if a task's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// `this`: state and computed fields merged.
    pub state: Json,
    /// Every tier: `inputs`, `state`, `computed`, `global`.
    pub tiers: Json,
    /// The values at the paths asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<serde_json::Map<String, Json>>,
}

/// `workflow_state_dependencies`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ComputedFields {
    /// The instance.
    pub workflow_id: String,
    /// The computed fields asked for.
    pub computed: Vec<ComputedInfo>,
}

/// `workflow_cancel`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Cancelled {
    /// The instance.
    pub workflow_id: String,
    /// `cancelled`.
    pub status: Status,
}

/// `workflow_history` (and `wfc history`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct History {
    /// The instance.
    pub workflow_id: String,
    /// Its workflow.
    pub workflow_name: String,
    /// Where it stands.
    pub status: String,
    /// How many entries follow.
    pub count: usize,
    /// The entries, in order.
    pub events: Vec<HistoryEvent>,
    /// Said when the server keeps no history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `workflow_checkpoint`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct CheckpointTaken {
    /// Its name, for `workflow_resume`.
    pub checkpoint_id: String,
    /// The instance.
    pub workflow_id: String,
    /// The step it stood at.
    pub step_id: Option<String>,
    /// Why it was taken.
    pub reason: Option<String>,
    /// Seconds since the Unix epoch.
    pub created_at: f64,
    /// The instance's commit it keeps.
    pub version: u64,
}

/// `workflow_resume`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Resumed {
    /// `true`.
    pub resumed: bool,
    /// The instance.
    pub workflow_id: String,
    /// Where it stands now.
    pub status: Status,
    /// The step it stands at.
    pub current_step: Option<String>,
    /// Its commits.
    pub version: u64,
    /// The checkpoint it went back to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// What to do next.
    pub message: String,
}

/// `workflow_validate`: a YAML text checked as `wfc check` does.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Validation {
    /// Whether it has no errors.
    pub valid: bool,
    /// Every diagnostic: code, severity, message, line and column.
    pub diagnostics: Vec<Json>,
}

/// `workflow_test_transformation`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Transformed {
    /// What the transform gives.
    pub output: Json,
}

/// `workflow_graph`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Graph {
    /// A Mermaid flowchart.
    pub mermaid: String,
}

/// `workflow_get_next_step` and `workflow_submit_result`: the batch, and the questions the
/// person answered in the client's forms on the way (MCP elicitation; see `crate::mcp`).
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct StepAnswer {
    /// The steps to do and where the workflow stands.
    #[serde(flatten)]
    pub batch: Batch,
    /// The questions asked of the person, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub elicited: Vec<Elicited>,
}

/// A `user_input` step asked of the person through the client.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Elicited {
    /// The step.
    pub step_id: String,
    /// Its prompt.
    pub prompt: Json,
    /// The messages shown with it.
    pub shown: Vec<String>,
    /// What the person answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Json>,
    /// `declined` or `cancelled`, when the person did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// `workflow_profile` (and `wfc profile`): where an instance spent its time.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Profile {
    /// The instance.
    pub workflow_id: String,
    /// Its workflow.
    pub workflow_name: String,
    /// Where it stands.
    pub status: String,
    /// From its first history entry to its last.
    pub wall_seconds: f64,
    /// Who was waited on.
    pub waiting: Waiting,
    /// Each step that ran, the longest in total first.
    pub steps: Vec<StepProfile>,
    /// Each loop, with its slowest iterations.
    pub loops: Vec<LoopProfile>,
}

/// Time spent waiting, by who was waited on.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Waiting {
    /// Running server-side shell commands.
    pub shell_seconds: f64,
    /// On the agent: every client step but `user_input`.
    pub agent_seconds: f64,
    /// On the person: `user_input` steps.
    pub person_seconds: f64,
}

/// One step's runs.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct StepProfile {
    /// The step.
    pub step_id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// How many times it ran (a command: each attempt).
    pub count: u64,
    /// Seconds, in all.
    pub total_seconds: f64,
    /// Seconds, on average.
    pub mean_seconds: f64,
    /// The longest run, in seconds.
    pub max_seconds: f64,
}

/// One loop's iterations.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct LoopProfile {
    /// The loop step.
    pub step_id: String,
    /// The sub-agent task it ran in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// How many iterations it ran.
    pub iterations: usize,
    /// Seconds, in all.
    pub total_seconds: f64,
    /// The slowest iterations, slowest first.
    pub slowest: Vec<SlowIteration>,
}

/// An iteration and how long it took.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SlowIteration {
    /// Its number (1 for the first).
    pub iteration: u64,
    /// Seconds.
    pub seconds: f64,
}
