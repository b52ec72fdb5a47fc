//! The 13 step types and the fields each one takes: one table that both the format's JSON
//! Schema and the check stage read, so the two can never disagree.

use schemars::Schema;
use serde_json::{Value, json};

/// A step type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// Show a message to the user (client; batched with neighbouring messages).
    UserMessage,
    /// Ask the agent to call an MCP tool (client).
    McpCall,
    /// Ask the user a question (client).
    UserInput,
    /// Give the agent an instruction (client).
    AgentPrompt,
    /// Validate and store the agent's reply (client).
    AgentResponse,
    /// Fan a list out to sub-agent tasks (client; the server tracks the tasks).
    ParallelForeach,
    /// Run a shell command (server unless `execution_context: client`).
    ShellCommand,
    /// Choose between two lists of steps (server).
    Conditional,
    /// Repeat steps while a condition holds (server).
    WhileLoop,
    /// Run steps once per item (server).
    Foreach,
    /// Leave the innermost loop (server).
    Break,
    /// Go to the next iteration of the innermost loop (server).
    Continue,
    /// Pause until the client calls again (server).
    WaitStep,
}

/// The fields every step may have, whatever its type.
pub const COMMON_FIELDS: &[&str] = &["id", "type", "description"];

impl StepKind {
    /// Every step type, in the order the format documents them.
    pub const ALL: [StepKind; 13] = [
        StepKind::UserMessage,
        StepKind::McpCall,
        StepKind::UserInput,
        StepKind::AgentPrompt,
        StepKind::AgentResponse,
        StepKind::ParallelForeach,
        StepKind::ShellCommand,
        StepKind::Conditional,
        StepKind::WhileLoop,
        StepKind::Foreach,
        StepKind::Break,
        StepKind::Continue,
        StepKind::WaitStep,
    ];

    /// The step type as written in `type:`.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::UserMessage => "user_message",
            StepKind::McpCall => "mcp_call",
            StepKind::UserInput => "user_input",
            StepKind::AgentPrompt => "agent_prompt",
            StepKind::AgentResponse => "agent_response",
            StepKind::ParallelForeach => "parallel_foreach",
            StepKind::ShellCommand => "shell_command",
            StepKind::Conditional => "conditional",
            StepKind::WhileLoop => "while_loop",
            StepKind::Foreach => "foreach",
            StepKind::Break => "break",
            StepKind::Continue => "continue",
            StepKind::WaitStep => "wait_step",
        }
    }

    /// The step type named `name`, if there is one.
    pub fn from_name(name: &str) -> Option<StepKind> {
        StepKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// Fields this step type must have (besides `id` and `type`).
    pub fn required_fields(self) -> &'static [&'static str] {
        match self {
            StepKind::UserMessage => &["message"],
            StepKind::McpCall => &["tool"],
            StepKind::UserInput | StepKind::AgentPrompt => &["prompt"],
            StepKind::ParallelForeach => &["items", "sub_agent_task"],
            StepKind::ShellCommand => &["command"],
            StepKind::Conditional => &["condition"],
            StepKind::WhileLoop => &["condition", "body"],
            StepKind::Foreach => &["items", "body"],
            StepKind::AgentResponse | StepKind::Break | StepKind::Continue | StepKind::WaitStep => &[],
        }
    }

    /// Fields this step type may have besides its required ones and [`COMMON_FIELDS`].
    pub fn optional_fields(self) -> &'static [&'static str] {
        match self {
            // `execution_context` on the non-shell steps is accepted (the reference's schema allows
            // it there and ignores it) and warned about by the check stage.
            StepKind::UserMessage => &["message_type", "format", "title", "long_message", "execution_context"],
            StepKind::McpCall => &["parameters", "state_update", "state_updates", "store_result", "timeout", "error_handling", "execution_context"],
            StepKind::UserInput => &[
                "instructions",
                "input_type",
                "choices",
                "validation",
                "validation_pattern",
                "validation_message",
                "required",
                "default",
                "max_retries",
                "max_attempts",
                "variable_name",
                "state_update",
                "state_updates",
                "error_handling",
                "long_message",
            ],
            StepKind::AgentPrompt => &["context", "expected_response", "timeout", "max_retries", "long_message", "execution_context"],
            StepKind::AgentResponse => {
                &["response_schema", "state_updates", "store_response", "validation", "error_handling", "execution_context"]
            }
            StepKind::ParallelForeach => &["max_parallel", "timeout_seconds", "wait_for_all", "store_result"],
            StepKind::ShellCommand => &[
                "working_directory",
                "timeout",
                "state_update",
                "state_updates",
                "error_handling",
                "execution_context",
            ],
            StepKind::Conditional => &["then_steps", "else_steps"],
            StepKind::WhileLoop => &["max_iterations", "error_handling"],
            StepKind::Foreach => &["variable_name", "index_name"],
            StepKind::Break | StepKind::Continue => &[],
            StepKind::WaitStep => &["message", "timeout_seconds"],
        }
    }

    /// Whether `field` may be written on this step type.
    pub fn allows(self, field: &str) -> bool {
        COMMON_FIELDS.contains(&field) || self.required_fields().contains(&field) || self.optional_fields().contains(&field)
    }

    /// The step types that take `field`, for "`tool` belongs to mcp_call steps".
    pub fn kinds_with_field(field: &str) -> Vec<StepKind> {
        StepKind::ALL.into_iter().filter(|kind| kind.allows(field)).collect()
    }
}

/// Step types that existed in AroMCP's docs but not in the format, with what to use instead.
pub fn removed_step_type_advice(name: &str) -> Option<&'static str> {
    Some(match name {
        "state_update" | "batch_state_update" => {
            "the `state_update` step type was removed from the format; write a `state_update` (or `state_updates`) field on the shell_command, mcp_call, user_input or agent_response step whose result you store"
        }
        "agent_task" => "use `agent_prompt` followed by `agent_response`",
        "agent_shell_command" => "use `shell_command` with `execution_context: client`",
        "internal_mcp_call" => "use `mcp_call`",
        "conditional_message" => "use a `conditional` whose branch holds a `user_message`",
        "for_each" => "the step type is spelled `foreach`",
        "parallel" => "use `parallel_foreach` with a sub-agent task",
        "include_workflow" => "workflow composition is not part of the format; copy the steps or use a sub-agent task",
        _ => return None,
    })
}

/// Adds the per-type rules to the generated schema of `RawStep`: `type` must name a step type,
/// and for each type an `if`/`then` pair lists its required fields and forbids the others.
pub(crate) fn add_step_type_rules(schema: &mut Schema) {
    let names: Vec<&str> = StepKind::ALL.iter().map(|k| k.name()).collect();
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        properties.insert("type".into(), json!({ "type": "string", "enum": names, "description": "The step type." }));
    }
    let rules: Vec<Value> = StepKind::ALL
        .iter()
        .map(|kind| {
            let allowed: serde_json::Map<String, Value> = COMMON_FIELDS
                .iter()
                .chain(kind.required_fields())
                .chain(kind.optional_fields())
                .map(|field| (field.to_string(), Value::Bool(true)))
                .collect();
            json!({
                "if": { "properties": { "type": { "const": kind.name() } }, "required": ["type"] },
                "then": { "required": kind.required_fields(), "properties": allowed, "additionalProperties": false }
            })
        })
        .collect();
    schema.insert("allOf".into(), Value::Array(rules));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_in_the_table_is_a_raw_step_field_and_every_raw_field_is_used() {
        let schema = schemars::schema_for!(super::super::raw::RawStep);
        let properties = schema.get("properties").and_then(Value::as_object).expect("RawStep has properties");
        for kind in StepKind::ALL {
            for field in kind.required_fields().iter().chain(kind.optional_fields()) {
                assert!(properties.contains_key(*field), "{field} of {} is not a RawStep field", kind.name());
            }
        }
        for field in properties.keys() {
            assert!(!StepKind::kinds_with_field(field).is_empty(), "RawStep field {field} belongs to no step type");
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in StepKind::ALL {
            assert_eq!(StepKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(StepKind::from_name("state_update"), None);
    }
}
