//! The MCP tools as data: each tool's name, its description written for an agent, the JSON
//! Schemas of its arguments and of its answer (generated from the argument struct and the
//! answer type, [`super::answers`]), and the engine operation it calls. Nothing here names the
//! MCP library; `crate::mcp` lists and calls these.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::answers::{
    ActiveList, Cancelled, CheckpointTaken, ComputedFields, Graph as GraphAnswer, History as HistoryAnswer, InstanceStatus, Plan, Profile, Resumed, Started,
    StateRead as StateReadAnswer, StateWritten, StepAnswer, Transformed, Validation, WorkflowInfo, WorkflowList,
};
use super::{Engine, Observer, Submit, ToolError};
use crate::machine::ClientWrite;

/// A tool as `tools/list` shows it.
#[derive(Clone, Debug)]
pub struct ToolSpec {
    /// Its name (AroMCP's, where AroMCP has the tool).
    pub name: &'static str,
    /// What an agent is told about it.
    pub description: &'static str,
    /// The JSON Schema of its arguments.
    pub schema: Map<String, Json>,
    /// The JSON Schema of a successful answer: `{"data": …}`, the data of the answer's type.
    pub output_schema: Map<String, Json>,
}

/// Every successful answer: `{"data": …}` (a refusal is `{"error": {code, message}}`).
#[derive(Serialize, JsonSchema)]
pub struct Envelope<T> {
    /// What the tool answers.
    pub data: T,
}

#[derive(Deserialize, JsonSchema)]
struct NoArguments {}

#[derive(Deserialize, JsonSchema)]
struct WorkflowName {
    /// The workflow's name, e.g. `dev:test-fix-loop` (see workflow_list).
    workflow: String,
}

#[derive(Deserialize, JsonSchema)]
struct Start {
    /// The workflow's name, e.g. `dev:test-fix-loop` (see workflow_list).
    workflow: String,
    /// The workflow's inputs by name (see workflow_get_info); declared defaults fill the rest.
    #[serde(default)]
    inputs: Option<Json>,
}

#[derive(Deserialize, JsonSchema)]
struct History {
    /// The instance id workflow_start returned (`wf_…`).
    workflow_id: String,
    /// Only this sub-agent task's entries (and the summary of dropped ones).
    #[serde(default)]
    task_id: Option<String>,
    /// Only entries numbered after this (`seq`), to follow an instance as it runs.
    #[serde(default)]
    since: u64,
}

#[derive(Deserialize, JsonSchema)]
struct Explain {
    /// The workflow's name, e.g. `dev:test-fix-loop` (see workflow_list).
    workflow: String,
    /// Inputs to check: the plan says whether they would start the workflow.
    #[serde(default)]
    inputs: Option<Json>,
}

#[derive(Deserialize, JsonSchema)]
struct Instance {
    /// The instance id workflow_start returned (`wf_…`).
    workflow_id: String,
}

#[derive(Deserialize, JsonSchema)]
struct NextStep {
    /// The instance id workflow_start returned (`wf_…`).
    workflow_id: String,
    /// A sub-agent's task id (`<task>.item<i>`), to get that task's steps instead of the workflow's.
    #[serde(default)]
    task_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct SubmitResult {
    /// The instance id workflow_start returned (`wf_…`).
    workflow_id: String,
    /// The id of the step whose result this is (the last step of the batch you were given).
    step_id: String,
    /// The step's result: the tool's result (mcp_call), the user's answer (user_input), your reply
    /// (agent_prompt, agent_response), the command's {stdout, stderr, exit_code} (client shell_command).
    #[serde(default)]
    result: Option<Json>,
    /// Instead of a result: why the step could not be done. The step's error_handling decides what follows.
    #[serde(default)]
    error: Option<String>,
    /// A sub-agent's task id, when the step was a task's.
    #[serde(default)]
    task_id: Option<String>,
    /// The step's `sequence` as it was handed out. Optional; with it, a result sent twice (say, after a lost
    /// answer) is recognised even when a loop hands out the same step again.
    #[serde(default)]
    sequence: Option<u64>,
}

#[derive(Deserialize, JsonSchema)]
struct CheckpointArguments {
    /// The instance id workflow_start returned (`wf_…`).
    workflow_id: String,
    /// A name for the checkpoint (default `cp_<version>`); a checkpoint of the same name is replaced.
    #[serde(default, alias = "checkpoint_id")]
    name: Option<String>,
    /// Why it is taken (kept with it).
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct Resume {
    /// The instance id workflow_start returned (`wf_…`).
    workflow_id: String,
    /// Go back to this checkpoint (see workflow_checkpoint) instead of the last committed step.
    #[serde(default, alias = "checkpoint_id")]
    checkpoint: Option<String>,
    /// Continue even though the workflow's definition changed since the instance started.
    #[serde(default)]
    force: bool,
}

#[derive(Deserialize, JsonSchema)]
struct UpdateState {
    /// The instance id workflow_start returned (`wf_…`).
    workflow_id: String,
    /// Writes applied together (all or none): `{"path": "this.count", "value": 3}`, with an optional
    /// `operation` (set, increment, decrement, multiply, append, merge, delete).
    updates: Vec<ClientWrite>,
    /// A sub-agent's task id, to write that task's state (its `global.*` is shared with the workflow).
    #[serde(default)]
    task_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct StateRead {
    /// The instance id workflow_start returned (`wf_…`).
    workflow_id: String,
    /// Paths to read, e.g. `this.results[0].name`, `inputs.limit`, `global.seen`.
    #[serde(default)]
    paths: Option<Vec<String>>,
    /// A sub-agent's task id, to read that task's state.
    #[serde(default)]
    task_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct Dependencies {
    /// The instance id workflow_start returned (`wf_…`).
    workflow_id: String,
    /// One computed field (`doubled` or `this.doubled`); all of them when absent.
    #[serde(default)]
    field: Option<String>,
    /// A sub-agent's task id, for that task's computed fields.
    #[serde(default)]
    task_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
struct Validate {
    /// A workflow's YAML text.
    yaml: String,
}

#[derive(Deserialize, JsonSchema)]
struct TestTransformation {
    /// A computed field's transform, e.g. `input.filter(x => x > 1).length`.
    transform: String,
    /// The value bound to `input`.
    #[serde(default)]
    input: Json,
}

#[derive(Deserialize, JsonSchema)]
struct Graph {
    /// A served workflow's name, or a workflow's YAML text.
    workflow: String,
}

/// The tool `name`, taking arguments `A` and answering `O`.
fn spec<A: JsonSchema, O: JsonSchema>(name: &'static str, description: &'static str) -> ToolSpec {
    let arguments = schemars::generate::SchemaSettings::default().into_generator().into_root_schema_for::<A>();
    // An answer is serialized: a field left out when empty is not required of it.
    let answer = schemars::generate::SchemaSettings::default().for_serialize().into_generator().into_root_schema_for::<Envelope<O>>();
    ToolSpec { name, description, schema: tool_schema(arguments), output_schema: tool_schema(answer) }
}

/// A schema as a tool declares it: an object schema, without `$schema` and `title`.
fn tool_schema(schema: schemars::Schema) -> Map<String, Json> {
    let mut schema = serde_json::to_value(schema).unwrap_or_default();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("title");
    }
    schema.as_object().cloned().unwrap_or_default()
}

/// Every tool the server offers.
pub fn specs() -> Vec<ToolSpec> {
    vec![
        spec::<NoArguments, WorkflowList>("workflow_list", "List the workflows this server can run, with their descriptions."),
        spec::<WorkflowName, WorkflowInfo>("workflow_get_info", "Describe one workflow: its inputs (type, required, default), sub-agent tasks and version."),
        spec::<Explain, Plan>(
            "workflow_explain_plan",
            "Show what a workflow would run, without running it: its steps in order (client or server), loops with their \
             caps, sub-agent fan-out, what each step reads and writes, and its computed fields with their dependencies.",
        ),
        spec::<Start, Started>(
            "workflow_start",
            "Start a workflow with its inputs. Returns the instance id; then call workflow_get_next_step to get its first steps.",
        ),
        spec::<NextStep, StepAnswer>(
            "workflow_get_next_step",
            "Get the next steps of a workflow instance (or of one sub-agent task): zero or more user_message steps to show, \
             then at most one step to do. Do them in order. Report the last step's result with workflow_submit_result \
             (preferred), or write results with workflow_update_state and call this again. A step whose result the \
             workflow uses (user_input, agent_response, agent_prompt with expected_response, mcp_call with store_result \
             or state_update) is never completed without it: calling this again hands the same step out again (same \
             sequence) until its result is submitted or its fields are written. When a server-side command outlasts the \
             server's answer bound, the answer has `running` (step, command, elapsed, last output lines) and no steps: \
             call this again to wait on. When your client can show forms (MCP elicitation), user_input steps are asked \
             of the person directly and the answer lists them under `elicited`. `completed: true` means done; \
             `status: failed` carries the error.",
        ),
        spec::<SubmitResult, StepAnswer>(
            "workflow_submit_result",
            "Report the result of the step the workflow waits at. The server applies the step's state updates, \
             validates answers and replies, and answers with the next steps (as workflow_get_next_step does).",
        ),
        spec::<UpdateState, StateWritten>(
            "workflow_update_state",
            "Write workflow state (this.* or global.*), all writes or none; computed fields follow. A value of the wrong \
             declared type is refused and nothing changes.",
        ),
        spec::<Instance, InstanceStatus>("workflow_get_status", "How a workflow instance stands: status, current step, error, sub-agent task counts, state."),
        spec::<NoArguments, ActiveList>("workflow_list_active", "List the running workflow instances."),
        spec::<StateRead, StateReadAnswer>("workflow_state_read", "Read a workflow instance's (or task's) state: the merged `this` view, every tier, and the values at `paths`."),
        spec::<Dependencies, ComputedFields>(
            "workflow_state_dependencies",
            "Show computed fields of an instance: what each reads, which fields read it, on_error and fallback.",
        ),
        spec::<Instance, Cancelled>("workflow_cancel", "Stop a running workflow instance; it takes no more steps."),
        spec::<History, HistoryAnswer>(
            "workflow_history",
            "What an instance did, in order: steps handed out and completed (with durations), branches taken, loop \
             iterations, state writes (path, old and new value, by a step or the client), computed refreshes, shell \
             commands, retries, timeouts, errors, status changes; sub-agent entries carry their task_id.",
        ),
        spec::<Instance, Profile>(
            "workflow_profile",
            "Where an instance spent its time, from its history: per step (count, total, mean, max seconds), time in \
             server-side commands versus waiting on the agent versus waiting on the person, and each loop's slowest iterations.",
        ),
        spec::<CheckpointArguments, CheckpointTaken>(
            "workflow_checkpoint",
            "Keep a named snapshot of a workflow instance as it stands now, for workflow_resume to go back to.",
        ),
        spec::<Resume, Resumed>(
            "workflow_resume",
            "Continue a workflow instance after a server restart (instances are kept across restarts), or go back to a \
             checkpoint. An instance whose workflow definition changed needs force: true. Then call workflow_get_next_step.",
        ),
        spec::<Validate, Validation>("workflow_validate", "Check a workflow's YAML as `wfc check` does; returns every diagnostic with line and column."),
        spec::<TestTransformation, Transformed>(
            "workflow_test_transformation",
            "Evaluate a computed-field transform (JavaScript expression) with `input` bound, as a workflow would.",
        ),
        spec::<Graph, GraphAnswer>("workflow_graph", "Draw a workflow's state machine as a Mermaid flowchart: steps, branches, loops and sub-agent fan-out."),
    ]
}

/// Arguments that are collections: agents often send them JSON-encoded, as strings.
const COLLECTION_ARGUMENTS: [&str; 3] = ["inputs", "updates", "paths"];

fn arguments<A: DeserializeOwned>(tool: &str, mut given: Map<String, Json>) -> Result<A, ToolError> {
    for name in COLLECTION_ARGUMENTS {
        if let Some(Json::String(text)) = given.get(name) {
            let parsed = serde_json::from_str(text).map_err(|e| ToolError::invalid(format!("{tool}: `{name}` is a string but not JSON: {e}")))?;
            given.insert(name.to_owned(), parsed);
        }
    }
    serde_json::from_value(Json::Object(given)).map_err(|e| ToolError::invalid(format!("{tool}: {e}")))
}

/// An answer as the JSON clients read.
fn encode<T: Serialize>(answer: Result<T, ToolError>) -> Result<Json, ToolError> {
    serde_json::to_value(answer?).map_err(|e| ToolError::failed(format!("the answer cannot be encoded: {e}")))
}

/// Calls tool `name` with `given` arguments; `observer` hears of server-side work while a step
/// request waits on it.
pub async fn call(engine: &Engine, name: &str, given: Map<String, Json>, observer: Option<&Arc<dyn Observer>>) -> Result<Json, ToolError> {
    match name {
        "workflow_list" => encode(arguments::<NoArguments>(name, given).map(|_| engine.list())),
        "workflow_get_info" => encode(engine.info(&arguments::<WorkflowName>(name, given)?.workflow)),
        "workflow_explain_plan" => encode({
            let Explain { workflow, inputs } = arguments(name, given)?;
            engine.explain(&workflow, inputs.as_ref())
        }),
        "workflow_start" => encode({
            let Start { workflow, inputs } = arguments(name, given)?;
            engine.start(&workflow, &inputs.unwrap_or(Json::Null)).await
        }),
        "workflow_get_next_step" => encode({
            let NextStep { workflow_id, task_id } = arguments(name, given)?;
            engine.next_step(&workflow_id, task_id.as_deref(), observer).await
        }),
        "workflow_submit_result" => encode({
            let SubmitResult { workflow_id, step_id, result, error, task_id, sequence } = arguments(name, given)?;
            let submitted = Submit { step_id: &step_id, sequence, result: result.as_ref(), error: error.as_deref(), task_id: task_id.as_deref() };
            engine.submit_result(&workflow_id, submitted, observer).await
        }),
        "workflow_update_state" => encode({
            let UpdateState { workflow_id, updates, task_id } = arguments(name, given)?;
            engine.update_state(&workflow_id, &updates, task_id.as_deref()).await
        }),
        "workflow_get_status" => encode(engine.status(&arguments::<Instance>(name, given)?.workflow_id).await),
        "workflow_list_active" => encode({
            arguments::<NoArguments>(name, given)?;
            engine.list_active().await
        }),
        "workflow_state_read" => encode({
            let StateRead { workflow_id, paths, task_id } = arguments(name, given)?;
            engine.read_state(&workflow_id, &paths.unwrap_or_default(), task_id.as_deref()).await
        }),
        "workflow_state_dependencies" => encode({
            let Dependencies { workflow_id, field, task_id } = arguments(name, given)?;
            engine.dependencies(&workflow_id, field.as_deref(), task_id.as_deref()).await
        }),
        "workflow_cancel" => encode(engine.cancel(&arguments::<Instance>(name, given)?.workflow_id).await),
        "workflow_history" => encode({
            let History { workflow_id, task_id, since } = arguments(name, given)?;
            engine.history(&workflow_id, task_id.as_deref(), since).await
        }),
        "workflow_profile" => encode(engine.profile(&arguments::<Instance>(name, given)?.workflow_id).await),
        "workflow_checkpoint" => encode({
            let CheckpointArguments { workflow_id, name: checkpoint, reason } = arguments(name, given)?;
            engine.checkpoint(&workflow_id, checkpoint.as_deref(), reason.as_deref()).await
        }),
        "workflow_resume" => encode({
            let Resume { workflow_id, checkpoint, force } = arguments(name, given)?;
            engine.resume(&workflow_id, checkpoint.as_deref(), force).await
        }),
        "workflow_validate" => encode(engine.validate(arguments::<Validate>(name, given)?.yaml).await),
        "workflow_test_transformation" => encode({
            let TestTransformation { transform, input } = arguments(name, given)?;
            engine.test_transformation(transform, input).await
        }),
        "workflow_graph" => encode(engine.graph(arguments::<Graph>(name, given)?.workflow).await),
        _ => Err(ToolError::not_found(format!("no tool `{name}`"))),
    }
}
