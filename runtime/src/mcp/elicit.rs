//! A `user_input` step asked of the person directly. When the client can show a form (it
//! declared MCP's `elicitation` capability) and a step answer ends at a `user_input`, the server
//! asks the person through the client, submits the answer as the agent would have, and goes on
//! until the answer ends elsewhere; the agent gets only what follows, with a note of what was
//! asked (`elicited`). An answer the step refuses is asked for again, with the reason, as the
//! step's `max_retries` allow. A declined or cancelled form is the step's failure, which its
//! `error_handling` decides on. A client that cannot show forms, or a form it fails to show,
//! leaves the step to the agent, as before.

use rmcp::RoleServer;
use rmcp::model::{ElicitRequestParams, ElicitationAction};
use rmcp::service::{ElicitationMode, Peer};
use serde::Deserialize;
use serde_json::{Map, Value as Json, json};

use crate::engine::answers::Elicited;
use crate::engine::{Engine, HandedStep, Observer, ToolError, tools};

/// The form's one field.
const ANSWER: &str = "answer";

/// The most forms one tool call shows: a workflow that asks in a loop hands the agent the
/// rest after this many, so that a tool call ends.
const MAX_FORMS: usize = 20;

/// Whether the client of `peer` can show a form.
pub(super) fn can_ask(peer: &Peer<RoleServer>) -> bool {
    peer.supported_elicitation_modes().contains(&ElicitationMode::Form)
}

/// `answer` (of `workflow_get_next_step` or `workflow_submit_result`) after every `user_input`
/// it ends at was asked of the person (see the module's documentation).
pub(super) async fn ask_person(engine: &Engine, peer: &Peer<RoleServer>, mut answer: Json, observer: Option<&std::sync::Arc<dyn Observer>>) -> Result<Json, ToolError> {
    let mut elicited = Vec::new();
    for _ in 0..MAX_FORMS {
        let Some(Question { shown, step, task_id }) = question(&answer) else { break };
        let form = match serde_json::from_value::<ElicitRequestParams>(form(&shown, &step)) {
            Ok(form) => form,
            Err(error) => {
                tracing::warn!(step = %step.id, %error, "the step cannot be asked as a form; the agent asks it");
                break;
            }
        };
        let reply = match peer.create_elicitation(form).await {
            Ok(reply) => reply,
            Err(error) => {
                tracing::info!(step = %step.id, %error, "the client did not show the form; the agent asks it");
                break;
            }
        };
        let mut submitted = Map::new();
        submitted.insert("workflow_id".into(), answer["workflow_id"].clone());
        submitted.insert("step_id".into(), step.id.clone().into());
        if let Some(sequence) = step.sequence {
            submitted.insert("sequence".into(), sequence.into());
        }
        if let Some(task_id) = task_id {
            submitted.insert("task_id".into(), task_id.into());
        }
        let mut note = Elicited { step_id: step.id.clone(), prompt: step.definition["prompt"].clone(), shown, answer: None, refused: None };
        match reply.action {
            ElicitationAction::Accept => {
                let given = reply.content.as_ref().and_then(|content| content.get(ANSWER)).cloned().unwrap_or(Json::Null);
                note.answer = Some(given.clone());
                submitted.insert("result".into(), given);
            }
            refused => {
                let what = if refused == ElicitationAction::Decline { "declined" } else { "cancelled" };
                note.refused = Some(what.to_owned());
                submitted.insert("error".into(), format!("the person {what} to answer").into());
            }
        }
        elicited.push(note);
        answer = tools::call(engine, "workflow_submit_result", submitted, observer).await?;
    }
    if !elicited.is_empty()
        && let Json::Object(fields) = &mut answer
    {
        fields.insert("elicited".into(), serde_json::to_value(elicited).unwrap_or_default());
    }
    Ok(answer)
}

/// A `user_input` a step answer ends at.
struct Question {
    /// The texts of the messages handed out before it.
    shown: Vec<String>,
    step: HandedStep,
    /// The task whose step it is (serial mode names it on the step, a task's request on the
    /// answer).
    task_id: Option<String>,
}

/// The `user_input` `answer` (a [`Batch`](crate::engine::Batch), as the client reads it) ends
/// at, if any: only that step is read back into its type, so an answer that asks nothing of the
/// person costs nothing more here.
fn question(answer: &Json) -> Option<Question> {
    let (last, before) = answer["steps"].as_array()?.split_last()?;
    if last["type"] != "user_input" {
        return None;
    }
    let step = HandedStep::deserialize(last).ok()?;
    let shown = before.iter().filter(|s| s["type"] == "user_message").filter_map(|s| s["definition"]["message"].as_str().map(str::to_owned)).collect();
    let task_id = step.task_id.clone().or_else(|| answer["task_id"].as_str().map(str::to_owned));
    Some(Question { shown, step, task_id })
}

/// The form for `step`: the messages before it, its prompt and instructions, why the last answer
/// was refused; one field typed by its `input_type` (choices as an enum), with its default.
fn form(shown: &[String], step: &HandedStep) -> Json {
    let definition = &step.definition;
    let mut message: Vec<String> = shown.to_vec();
    message.extend(["prompt", "instructions"].iter().filter_map(|key| definition[*key].as_str().map(str::to_owned)));
    if let Some(error) = definition["error"].as_str() {
        message.push(format!("The last answer was refused: {error}"));
    }
    let mut field = match definition["input_type"].as_str().unwrap_or("string") {
        "number" => json!({"type": "number"}),
        "boolean" => json!({"type": "boolean"}),
        "choice" => {
            let choices: Vec<String> = definition["choices"].as_array().into_iter().flatten().map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned)).collect();
            json!({"type": "string", "enum": choices})
        }
        "json" => json!({"type": "string", "description": "a JSON value"}),
        _ => json!({"type": "string"}),
    };
    field["title"] = definition["prompt"].clone();
    if let Some(default) = definition.get("default").filter(|d| !d.is_null()) {
        field["default"] = default.clone();
    }
    let required: Vec<&str> = if definition["required"].as_bool().unwrap_or(true) { vec![ANSWER] } else { vec![] };
    json!({
        "mode": "form",
        "message": message.join("\n\n"),
        "requestedSchema": {"type": "object", "properties": {ANSWER: field}, "required": required},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(definition: Json) -> HandedStep {
        HandedStep { id: "ask".into(), kind: "user_input".into(), definition, sequence: Some(2), attempt: None, is_wait: false, task_id: None, instructions: None }
    }

    #[test]
    fn a_question_becomes_a_form_with_one_typed_field() {
        let choice = step(json!({"prompt": "Approve?", "input_type": "choice", "choices": ["approve", "reject"], "required": true, "error": "not one of the choices"}));
        let form = form(&["Tests pass.".to_owned()], &choice);
        assert_eq!(form["message"], "Tests pass.\n\nApprove?\n\nThe last answer was refused: not one of the choices");
        assert_eq!(form["requestedSchema"]["properties"]["answer"], json!({"type": "string", "enum": ["approve", "reject"], "title": "Approve?"}));
        assert_eq!(form["requestedSchema"]["required"], json!(["answer"]));
        assert!(serde_json::from_value::<ElicitRequestParams>(form).is_ok(), "rmcp reads it as a form");
        let number = self::form(&[], &step(json!({"prompt": "How many?", "input_type": "number", "required": false, "default": 3})));
        assert_eq!(number["requestedSchema"]["properties"]["answer"], json!({"type": "number", "title": "How many?", "default": 3}));
        assert_eq!(number["requestedSchema"]["required"], json!([]));
        assert!(serde_json::from_value::<ElicitRequestParams>(number).is_ok());
    }
}
