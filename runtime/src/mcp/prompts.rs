//! Every served workflow as an MCP prompt, so clients list it as a slash command: its
//! description, its inputs as the prompt's arguments (the required ones marked), and a message
//! telling the agent to start it with those inputs and follow the step loop.

use rmcp::ErrorData;
use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::{Map, Value as Json};

use crate::engine::Definition;
use crate::machine::FieldType;

/// The prompt name of workflow `name`: `release:checklist` → `release-checklist` (clients take
/// prompt names into command names, where `:` is not accepted).
pub(super) fn prompt_name(workflow: &str) -> String {
    workflow.replace(':', "-")
}

/// The prompt of `definition`.
pub(super) fn prompt(definition: &Definition) -> Prompt {
    let arguments = definition
        .inputs()
        .iter()
        .map(|input| {
            let kind = input.field_type.map_or("any value", FieldType::name);
            let default = input.default.as_ref().map_or(String::new(), |d| format!(", default {d}"));
            PromptArgument::new(&input.name).with_description(format!("{kind}{default}")).with_required(input.required)
        })
        .collect();
    Prompt::new(prompt_name(&definition.name), Some(definition.description.clone()), Some(arguments))
}

/// The prompt of `definition` filled with `arguments`: the inputs, typed as the workflow
/// declares them, and what the agent is to do.
pub(super) fn get(definition: &Definition, arguments: &Map<String, Json>) -> Result<GetPromptResult, ErrorData> {
    let declared = definition.inputs();
    if let Some(unknown) = arguments.keys().find(|name| !declared.iter().any(|input| &input.name == *name)) {
        let names: Vec<&str> = declared.iter().map(|input| input.name.as_str()).collect();
        return Err(ErrorData::invalid_params(format!("`{}` takes no argument `{unknown}` (it takes: {})", definition.name, names.join(", ")), None));
    }
    let mut inputs = Map::new();
    for input in declared {
        match arguments.get(&input.name) {
            Some(Json::String(text)) => {
                inputs.insert(input.name.clone(), FieldType::value_of_text(input.field_type, text));
            }
            Some(given) => {
                inputs.insert(input.name.clone(), given.clone());
            }
            None if input.required => {
                return Err(ErrorData::invalid_params(format!("`{}` needs the argument `{}`", definition.name, input.name), None));
            }
            None => {}
        }
    }
    let start = serde_json::json!({"workflow": definition.name, "inputs": inputs});
    let text = format!(
        "Run the wfc workflow `{name}`: {description}\n\n\
         1. Call the tool workflow_start with {start}.\n\
         2. Then repeat: call workflow_get_next_step with the workflow_id it returned; do the steps of the answer in order; \
         report the last step's result with workflow_submit_result (it answers with the next steps). If an answer says \
         `running`, a command is still running on the server: call workflow_get_next_step again.\n\
         3. Stop when an answer says `completed: true`, and tell me how it ended; if its status is `failed`, tell me the error.",
        name = definition.name,
        description = definition.description,
    );
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).with_description(definition.description.clone()))
}
