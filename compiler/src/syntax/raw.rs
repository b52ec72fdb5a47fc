//! The workflow format as written: `Raw*` structs that mirror the YAML one to one, with a span
//! on every scalar. Their doc comments are the descriptions in the format's JSON Schema
//! (`wfc schema`), which is generated from these types, so the types are the single definition
//! of the format's shape.
//!
//! Steps are one flat struct ([`RawStep`]) holding the fields of every step type, not a tagged
//! enum: serde buffers tagged enums and loses spans. Which fields each step type takes is the
//! table in [`super::step_kind`], enforced by the schema.

use serde::{Deserialize, Deserializer};
use schemars::JsonSchema;

pub use wfc_runtime::machine::answer::InputType;
pub use wfc_runtime::machine::update::Operation;
pub use wfc_runtime::machine::program::OnError;
pub use wfc_runtime::machine::{FieldType, Strategy};

use super::node::{Node, NodeValue};
use crate::span::Spanned;

/// A workflow file.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "wfc workflow", description = "A workflow in the AroMCP format, as wfc reads it.")]
pub struct RawWorkflow {
    /// Unique workflow name, `namespace:name` (for example `code:review`).
    #[schemars(regex(pattern = r"^[a-zA-Z0-9_-]+(:[a-zA-Z0-9_-]+)*$"))]
    pub name: Spanned<String>,
    /// What the workflow is for, shown to agents in `workflow_list`.
    pub description: Spanned<String>,
    /// Version of the workflow, `MAJOR.MINOR.PATCH`.
    pub version: Spanned<String>,
    /// Workflow-wide settings.
    #[serde(default)]
    pub config: Option<RawConfig>,
    /// Inputs the workflow is started with; read-only afterwards.
    #[serde(default)]
    pub inputs: Option<IdentMap<RawInput>>,
    /// Initial values of the state tiers.
    #[serde(default)]
    pub default_state: Option<RawDefaultState>,
    /// Types of state and inputs, and computed fields.
    #[serde(default)]
    pub state_schema: Option<RawStateSchema>,
    /// The steps, run in order.
    #[schemars(length(min = 1))]
    pub steps: Vec<RawStep>,
    /// Tasks that `parallel_foreach` hands to sub-agents, by name.
    #[serde(default)]
    pub sub_agent_tasks: Option<IdentMap<RawSubAgentTask>>,
}

/// Workflow-wide settings.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Upper bound on the whole workflow's run time, in seconds.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub timeout_seconds: Option<Spanned<f64>>,
    /// Default number of retries for steps whose `error_handling` says `retry`.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub max_retries: Option<Spanned<u32>>,
}


/// An input declaration.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawInput {
    /// The input's type.
    #[serde(rename = "type")]
    pub value_type: Spanned<FieldType>,
    /// What the input means, shown to agents.
    pub description: Spanned<String>,
    /// Whether `workflow_start` must be given this input (default `true`).
    #[serde(default)]
    pub required: Option<Spanned<bool>>,
    /// Value used when the input is not given; must have the input's type.
    #[serde(default, deserialize_with = "present")]
    pub default: Option<Node>,
    /// Extra validation rules for the value.
    #[serde(default)]
    pub validation: Option<RawValidation>,
}

/// `default_state`: initial values of the `state` and `inputs` tiers. The legacy flat form
/// (state fields directly under `default_state`) is accepted with a warning.
#[derive(Clone, Debug, PartialEq)]
pub struct RawDefaultState {
    /// Initial `this.*` state fields.
    pub state: Option<Node>,
    /// Initial input values.
    pub inputs: Option<Node>,
    /// Legacy alias of `inputs`.
    pub raw: Option<Node>,
    /// The whole mapping, when written in the legacy flat form.
    pub flat: Option<Node>,
}

impl RawDefaultState {
    const TIERS: [&'static str; 3] = ["state", "inputs", "raw"];
}

impl<'de> Deserialize<'de> for RawDefaultState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let node = Node::deserialize(deserializer)?;
        let entries = node.as_map().ok_or_else(|| serde::de::Error::custom("default_state must be a mapping"))?;
        if entries.iter().all(|(key, _)| Self::TIERS.contains(&key.value.as_str())) {
            Ok(RawDefaultState {
                state: node.get("state").cloned(),
                inputs: node.get("inputs").cloned(),
                raw: node.get("raw").cloned(),
                flat: None,
            })
        } else {
            Ok(RawDefaultState { state: None, inputs: None, raw: None, flat: Some(node) })
        }
    }
}

impl JsonSchema for RawDefaultState {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawDefaultState".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Initial values of the state tiers: `state` (this.*), `inputs`, and `raw` (legacy alias of inputs). State fields written directly here (the legacy flat form) are accepted with a warning.",
            "type": "object",
            "properties": {
                "state": { "type": "object", "description": "Initial `this.*` state fields." },
                "inputs": { "type": "object", "description": "Initial input values." },
                "raw": { "type": "object", "description": "Legacy alias of `inputs`." }
            }
        })
    }
}

/// Types of the state tiers and the computed fields.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStateSchema {
    /// Types of the inputs tier.
    #[serde(default)]
    pub inputs: Option<IdentMap<Spanned<FieldType>>>,
    /// Types of the `this.*` state fields.
    #[serde(default)]
    pub state: Option<IdentMap<Spanned<FieldType>>>,
    /// Fields computed from others by a JavaScript transform, refreshed when what they read changes.
    #[serde(default)]
    pub computed: Option<IdentMap<RawComputed>>,
}

/// A computed field.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawComputed {
    /// The path (or list of paths) whose value(s) the transform receives as `input`.
    pub from: RawFrom,
    /// A JavaScript expression over `input`.
    pub transform: Spanned<String>,
    /// What to do when the transform throws (default `use_fallback`).
    #[serde(default)]
    pub on_error: Option<Spanned<OnError>>,
    /// The value used when the transform throws and `on_error` is `use_fallback`.
    #[serde(default, deserialize_with = "present")]
    pub fallback: Option<Node>,
}

/// `from` of a computed field: one path (the transform's `input` is its value) or a list of
/// paths (`input` is the array of their values, in order).
#[derive(Clone, Debug, PartialEq)]
pub enum RawFrom {
    /// `from: "this.x"`.
    One(Spanned<String>),
    /// `from: ["this.x", "inputs.y"]`.
    Many(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawFrom {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let node = Node::deserialize(deserializer)?;
        let as_path = |node: &Node| match &node.value {
            NodeValue::String(s) => Ok(Spanned::new(s.clone(), node.span)),
            _ => Err(serde::de::Error::custom("`from` paths must be strings")),
        };
        match &node.value {
            NodeValue::Seq(items) => items.iter().map(as_path).collect::<Result<_, _>>().map(RawFrom::Many),
            _ => as_path(&node).map(RawFrom::One),
        }
    }
}

impl JsonSchema for RawFrom {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawFrom".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A dependency path (`this.x`, `inputs.y`, `global.z`, `loop.item`) or a list of them.",
            "type": ["string", "array"],
            "items": { "type": "string" }
        })
    }
}

/// A sub-agent task: a small workflow of its own, run once per item of a `parallel_foreach`.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = require_one_task_body)]
pub struct RawSubAgentTask {
    /// What the task does.
    pub description: Spanned<String>,
    /// Inputs each task instance receives (`item` is mapped onto them).
    #[serde(default)]
    pub inputs: Option<IdentMap<RawInput>>,
    /// Initial state of each task instance.
    #[serde(default)]
    pub default_state: Option<RawDefaultState>,
    /// State types and computed fields of each task instance.
    #[serde(default)]
    pub state_schema: Option<RawStateSchema>,
    /// A prompt handed to the sub-agent instead of steps.
    #[serde(default)]
    pub prompt_template: Option<Spanned<String>>,
    /// Extra context for the prompt.
    #[serde(default, deserialize_with = "present")]
    pub context_template: Option<Node>,
    /// The steps each task instance runs.
    #[serde(default)]
    pub steps: Option<Vec<RawStep>>,
}

fn require_one_task_body(schema: &mut schemars::Schema) {
    schema.insert(
        "oneOf".into(),
        serde_json::json!([{ "required": ["prompt_template"] }, { "required": ["steps"] }]),
    );
}

/// One step. Which fields a step may and must have depends on its `type`; see
/// [`super::step_kind::StepKind`].
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = super::step_kind::add_step_type_rules)]
pub struct RawStep {
    /// Unique step id.
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"))]
    pub id: Spanned<String>,
    /// The step type.
    #[serde(rename = "type")]
    pub kind: Spanned<String>,
    /// Documentation for readers of the workflow; not shown to agents.
    #[serde(default)]
    pub description: Option<Spanned<String>>,

    /// Text shown to the user.
    #[serde(default)]
    pub message: Option<Spanned<String>>,
    /// Kind of message (default `info`).
    #[serde(default)]
    pub message_type: Option<Spanned<MessageType>>,
    /// How the message is formatted (default `text`).
    #[serde(default)]
    pub format: Option<Spanned<MessageFormat>>,
    /// A title shown above the message.
    #[serde(default)]
    pub title: Option<Spanned<String>>,
    /// What the server does with a message or prompt longer than `--max-message-bytes`
    /// (default `split`).
    #[serde(default)]
    pub long_message: Option<Spanned<LongMessage>>,

    /// The MCP tool the agent calls.
    #[serde(default)]
    pub tool: Option<Spanned<String>>,
    /// Arguments of the tool call; strings may hold templates.
    #[serde(default)]
    pub parameters: Option<RawObject>,
    /// State path that receives the whole tool result.
    #[serde(default)]
    pub store_result: Option<Spanned<String>>,

    /// Question or instruction for the user (`user_input`) or the agent (`agent_prompt`).
    #[serde(default)]
    pub prompt: Option<Spanned<String>>,
    /// Extra guidance shown with the prompt.
    #[serde(default)]
    pub instructions: Option<Spanned<String>>,
    /// Expected type of the user's answer (default `string`).
    #[serde(default)]
    pub input_type: Option<Spanned<InputType>>,
    /// Allowed answers for `input_type: choice`.
    #[serde(default)]
    pub choices: Option<Vec<Node>>,
    /// Rules the answer must satisfy.
    #[serde(default)]
    pub validation: Option<RawValidation>,
    /// Shorthand for `validation.pattern`.
    #[serde(default)]
    pub validation_pattern: Option<Spanned<String>>,
    /// Message shown when the answer does not match the pattern.
    #[serde(default)]
    pub validation_message: Option<Spanned<String>>,
    /// Whether an answer is required (default `true`).
    #[serde(default)]
    pub required: Option<Spanned<bool>>,
    /// Answer used when the user gives none.
    #[serde(default, deserialize_with = "present")]
    pub default: Option<Node>,
    /// How many times to ask again after an invalid answer or a failed attempt.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub max_retries: Option<Spanned<u32>>,
    /// Alias of `max_retries` + 1 used by some AroMCP workflows.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_attempts: Option<Spanned<u32>>,
    /// Name the value is bound to: a `user_input`'s answer, or a `foreach` item (default `item`).
    #[serde(default)]
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"))]
    pub variable_name: Option<Spanned<String>>,

    /// Extra data for the agent.
    #[serde(default)]
    pub context: Option<RawObject>,
    /// Shape of the answer the agent should give (a JSON Schema).
    #[serde(default)]
    pub expected_response: Option<RawObject>,
    /// JSON Schema the agent's response must satisfy.
    #[serde(default)]
    pub response_schema: Option<RawObject>,
    /// State path that receives the whole response.
    #[serde(default)]
    pub store_response: Option<Spanned<String>>,

    /// Expression giving the array to iterate over.
    #[serde(default)]
    pub items: Option<Spanned<String>>,
    /// Name of the sub-agent task run for each item.
    #[serde(default)]
    pub sub_agent_task: Option<Spanned<String>>,
    /// How many sub-agent tasks are handed out at once (default 5).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_parallel: Option<Spanned<u32>>,
    /// Whether the workflow waits for every task before going on (default `true`).
    #[serde(default)]
    pub wait_for_all: Option<Spanned<bool>>,

    /// Shell command, run with `sh -c`.
    #[serde(default)]
    pub command: Option<Spanned<String>>,
    /// Directory the command runs in, relative to the project root.
    #[serde(default)]
    pub working_directory: Option<Spanned<String>>,
    /// Where the command runs (default `server`).
    #[serde(default)]
    pub execution_context: Option<Spanned<ExecutionContext>>,

    /// Seconds before the step times out.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub timeout: Option<Spanned<f64>>,
    /// Seconds before the step (or its tasks, or the wait) times out.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub timeout_seconds: Option<Spanned<f64>>,

    /// One state write made from the step's result.
    #[serde(default)]
    pub state_update: Option<RawStateUpdate>,
    /// State writes made from the step's result, in order, all or none.
    #[serde(default)]
    pub state_updates: Option<Vec<RawStateUpdate>>,
    /// What happens when the step fails.
    #[serde(default)]
    pub error_handling: Option<RawErrorHandling>,

    /// JavaScript condition.
    #[serde(default)]
    pub condition: Option<Spanned<String>>,
    /// Steps run when the condition is truthy.
    #[serde(default)]
    pub then_steps: Option<Vec<RawStep>>,
    /// Steps run when the condition is falsy.
    #[serde(default)]
    pub else_steps: Option<Vec<RawStep>>,
    /// Steps of each loop iteration.
    #[serde(default)]
    pub body: Option<Vec<RawStep>>,
    /// Most iterations a `while_loop` runs (default 100).
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_iterations: Option<Spanned<u32>>,
    /// Name of the loop variable holding the 0-based index (default `index`).
    #[serde(default)]
    #[schemars(regex(pattern = r"^[a-zA-Z_][a-zA-Z0-9_]*$"))]
    pub index_name: Option<Spanned<String>>,
}

/// A mapping whose values are free-form: tool parameters, agent context, JSON Schemas.
#[derive(Clone, Debug, PartialEq)]
pub struct RawObject(pub Node);

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Node::deserialize(deserializer).map(RawObject)
    }
}

impl JsonSchema for RawObject {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawObject".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "object" })
    }
}

/// Kind of a `user_message`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    /// Plain information.
    Info,
    /// Something to be careful about.
    Warning,
    /// Something went wrong.
    Error,
    /// Something went right.
    Success,
}

/// Format of a `user_message`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageFormat {
    /// Plain text.
    Text,
    /// Markdown.
    Markdown,
    /// A code block.
    Code,
}

/// What is done with a `user_message` or a prompt longer than the server's
/// `--max-message-bytes`; nothing is cut silently.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LongMessage {
    /// Handed out in parts, in order, each within the limit (a prompt's leading parts as
    /// messages before its step).
    #[default]
    Split,
    /// Cut at the limit, with a note saying how much was left out.
    Truncate,
}

/// Where a `shell_command` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionContext {
    /// On the wfc server (default).
    Server,
    /// Handed to the agent to run.
    Client,
}

/// Rules a user's answer (or an agent's response text) must satisfy.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawValidation {
    /// Regular expression the text must match.
    #[serde(default)]
    pub pattern: Option<Spanned<String>>,
    /// Message shown when validation fails.
    #[serde(default)]
    pub message: Option<Spanned<String>>,
    /// Fewest characters allowed (JSON Schema's `minLength` means the same).
    #[serde(default, alias = "minLength")]
    pub min_length: Option<Spanned<u32>>,
    /// Most characters allowed (JSON Schema's `maxLength` means the same).
    #[serde(default, alias = "maxLength")]
    pub max_length: Option<Spanned<u32>>,
    /// Smallest number allowed (JSON Schema's `minimum` means the same).
    #[serde(default, alias = "minimum")]
    pub min: Option<Spanned<f64>>,
    /// Largest number allowed (JSON Schema's `maximum` means the same).
    #[serde(default, alias = "maximum")]
    pub max: Option<Spanned<f64>>,
    /// The only values allowed (JSON Schema's `enum` means the same).
    #[serde(default, alias = "enum")]
    pub allowed_values: Option<Vec<Node>>,
    /// Numbers must be greater than this (JSON Schema's `exclusiveMinimum` means the same).
    #[serde(default, alias = "exclusiveMinimum")]
    pub exclusive_min: Option<Spanned<f64>>,
    /// Numbers must be less than this (JSON Schema's `exclusiveMaximum` means the same).
    #[serde(default, alias = "exclusiveMaximum")]
    pub exclusive_max: Option<Spanned<f64>>,
    /// Numbers must be a whole multiple of this (JSON Schema's `multipleOf` means the same).
    #[serde(default, alias = "multipleOf")]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub multiple_of: Option<Spanned<f64>>,
    /// No two items of a list may be equal (JSON Schema's `uniqueItems` means the same).
    #[serde(default, alias = "uniqueItems")]
    pub unique_items: Option<Spanned<bool>>,
    /// Fewest items of a list (JSON Schema's `minItems` means the same).
    #[serde(default, alias = "minItems")]
    pub min_items: Option<Spanned<u32>>,
    /// Most items of a list (JSON Schema's `maxItems` means the same).
    #[serde(default, alias = "maxItems")]
    pub max_items: Option<Spanned<u32>>,
    /// A JSON Schema every item of a list must satisfy, as JSON Schema's `items`.
    #[serde(default)]
    pub items: Option<RawObject>,
    /// A condition the answer must satisfy (`user_input`), over `input` (the answer, converted
    /// to its `input_type`) and the workflow's state: `"{{ input >= this.minimum }}"`.
    #[serde(default)]
    pub expression: Option<Spanned<String>>,
}

/// A state write.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStateUpdate {
    /// Where to write: `this.x`, `this.x.y`, `global.x`.
    pub path: Spanned<String>,
    /// What to write; a template or a result keyword (`stdout`, `result`, `input`, `response.a`).
    #[serde(default, deserialize_with = "present")]
    pub value: Option<Node>,
    /// How to combine the value with what is there (default `set`).
    #[serde(default)]
    pub operation: Option<Spanned<Operation>>,
}

/// What happens when a step fails.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawErrorHandling {
    /// `fail` (default), `retry`, `continue` or `fallback`.
    #[serde(default)]
    pub strategy: Option<Spanned<Strategy>>,
    /// Retries before giving up, with `strategy: retry`.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub max_retries: Option<Spanned<u32>>,
    /// Seconds before the first retry; later retries back off exponentially.
    #[serde(default)]
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub retry_delay: Option<Spanned<f64>>,
    /// The step's result when it fails, with `strategy: fallback`.
    #[serde(default, deserialize_with = "present")]
    pub fallback_value: Option<Node>,
    /// Message recorded when the step fails.
    #[serde(default)]
    pub error_message: Option<Spanned<String>>,
}

/// A mapping from identifiers to `T`, in source order, with the span of every key.
#[derive(Clone, Debug, PartialEq)]
pub struct IdentMap<T>(pub Vec<(Spanned<String>, T)>);

impl<T> IdentMap<T> {
    /// The entries in source order.
    pub fn iter(&self) -> impl Iterator<Item = (&Spanned<String>, &T)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The value under `name`.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k.value == name).map(|(_, v)| v)
    }
}

impl<T> Default for IdentMap<T> {
    fn default() -> Self {
        IdentMap(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for IdentMap<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for MapVisitor<T> {
            type Value = IdentMap<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<IdentMap<T>, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    entries.push((key, map.next_value::<T>()?));
                }
                Ok(IdentMap(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for IdentMap<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("IdentMap_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "propertyNames": { "pattern": r"^[a-zA-Z_][a-zA-Z0-9_]*$" },
            "additionalProperties": generator.subschema_for::<T>(),
        })
    }
}

/// Deserializes a field that may be `null` as `Some(Node::Null)`, so that "written as null"
/// and "not written" stay distinct (`fallback: null` is a real fallback).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Node>, D::Error> {
    Node::deserialize(deserializer).map(Some)
}
