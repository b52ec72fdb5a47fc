//! What `workflow_get_next_step` and `workflow_submit_result` answer, as types: a batch of
//! steps and where the workflow (or task) stands. The JSON agents read is these types'
//! serialization, so its shape changes only here.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::execution::Status;

/// One step handed to the client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HandedStep {
    /// The step id.
    pub id: String,
    /// The step type (`user_message`, `mcp_call`, `wait_step`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// The step's fields, templates resolved.
    pub definition: Json,
    /// Numbers the steps one machine handed out, for the client to echo with its result; the
    /// same step handed out again keeps its number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// Above 1 when an answer was refused or a retry was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// A wait step: nothing to report, ask for the next step.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_wait: bool,
    /// Serial mode: the sub-agent task the step belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Serial mode: how to do a task's step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

impl HandedStep {
    /// A wait step with `definition` (its message, and for sub-agent tasks their progress).
    pub(crate) fn wait(id: &str, definition: Json) -> HandedStep {
        HandedStep { id: id.to_owned(), kind: "wait_step".to_owned(), definition, sequence: None, attempt: None, is_wait: true, task_id: None, instructions: None }
    }
}

/// The step that failed a workflow or task, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepFailure {
    /// The step (absent for a cancellation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// Why.
    pub message: String,
}

/// A time limit that is near (`--limit-warning-at` of it has passed), named, with the time left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LimitWarning {
    /// The limit: `config.timeout_seconds` or `parallel_foreach timeout_seconds`.
    pub limit: String,
    /// The step it is about, for a step's limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_id: Option<String>,
    /// Its length, in seconds.
    pub seconds: f64,
    /// Seconds left before it fires.
    pub seconds_left: f64,
    /// In words.
    pub message: String,
}

/// Server-side work still going on when a request had to answer (`--answer-within`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Running {
    /// The shell step.
    pub step_id: String,
    /// Its command.
    pub command: String,
    /// Seconds since it started.
    pub elapsed_seconds: f64,
    /// The last lines it wrote.
    pub output_tail: Vec<String>,
    /// How many lines it wrote so far.
    pub output_lines: u64,
    /// When to ask again, in seconds.
    pub ask_again_after_seconds: f64,
    /// What to do meanwhile.
    pub message: String,
}

/// A step request's answer: the steps to do, in order, and where the workflow or task stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Batch {
    /// The instance.
    pub workflow_id: String,
    /// The sub-agent task, for a task's request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// Where it stands.
    pub status: Status,
    /// The steps to do; absent once it has ended with nothing left to hand out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<HandedStep>>,
    /// `true` once it completed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub completed: bool,
    /// Why it failed or was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StepFailure>,
    /// Server-side work that goes on after this answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<Running>,
    /// Time limits that are near, each said once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<LimitWarning>,
}

impl Batch {
    /// The answer as clients get it.
    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }
}
