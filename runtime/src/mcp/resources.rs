//! What the server offers to read besides tools: each served workflow's YAML, its Mermaid
//! diagram and its explain plan, the format's JSON Schema, and (as templates) each instance's
//! state and history. A client may subscribe to an instance's state or history; it is told
//! (`notifications/resources/updated`) after every commit of that instance.

use rmcp::ErrorData;
use rmcp::model::{ReadResourceResult, Resource, ResourceContents, ResourceTemplate};

use crate::engine::{Engine, ToolError};

const SCHEMA: &str = "wfc://schema";
const WORKFLOWS: &str = "wfc://workflows/";
const INSTANCES: &str = "wfc://instances/";

/// A resource, by what its URI names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Named<'a> {
    /// `wfc://schema`
    Schema,
    /// `wfc://workflows/{name}`: the YAML.
    Source(&'a str),
    /// `wfc://workflows/{name}/graph`: the Mermaid diagram.
    Graph(&'a str),
    /// `wfc://workflows/{name}/plan`: the explain plan.
    Plan(&'a str),
    /// `wfc://instances/{workflow_id}/state`
    State(&'a str),
    /// `wfc://instances/{workflow_id}/history`
    History(&'a str),
}

impl<'a> Named<'a> {
    fn parse(uri: &'a str) -> Option<Named<'a>> {
        if uri == SCHEMA {
            return Some(Named::Schema);
        }
        if let Some(rest) = uri.strip_prefix(WORKFLOWS) {
            return Some(match rest.split_once('/') {
                None => Named::Source(rest),
                Some((name, "graph")) => Named::Graph(name),
                Some((name, "plan")) => Named::Plan(name),
                Some(_) => return None,
            });
        }
        let (id, what) = uri.strip_prefix(INSTANCES)?.split_once('/')?;
        match what {
            "state" => Some(Named::State(id)),
            "history" => Some(Named::History(id)),
            _ => None,
        }
    }
}

/// The URIs a commit of instance `id` changes.
pub(super) fn instance_uris(id: &str) -> [String; 2] {
    [format!("{INSTANCES}{id}/state"), format!("{INSTANCES}{id}/history")]
}

/// The instance whose state or history `uri` names: what a client may subscribe to (nothing
/// else changes while served, but for a `--dev` directory, which says so with `list_changed`).
pub(super) fn subscribable(uri: &str) -> Option<&str> {
    match Named::parse(uri)? {
        Named::State(id) | Named::History(id) => Some(id),
        _ => None,
    }
}

/// Every resource there is now: the schema, and three per served workflow.
pub(super) fn list(engine: &Engine) -> Vec<Resource> {
    let mut resources = Vec::new();
    if engine.format_schema().is_some() {
        resources.push(Resource::new(SCHEMA, "workflow format schema").with_description("The JSON Schema of the workflow format (draft-07), as `wfc schema` prints it.").with_mime_type("application/schema+json"));
    }
    for definition in engine.workflows() {
        let name = &definition.name;
        resources.push(Resource::new(format!("{WORKFLOWS}{name}"), name.clone()).with_description(format!("{}: its YAML ({})", definition.description, definition.path)).with_mime_type("application/yaml"));
        resources.push(Resource::new(format!("{WORKFLOWS}{name}/graph"), format!("{name} graph")).with_description(format!("{name}'s state machine as a Mermaid flowchart")).with_mime_type("text/vnd.mermaid"));
        resources.push(Resource::new(format!("{WORKFLOWS}{name}/plan"), format!("{name} plan")).with_description(format!("What {name} would run: steps, loops and caps, fan-out, reads and writes")).with_mime_type("application/json"));
    }
    resources
}

/// The per-instance resources.
pub(super) fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(format!("{INSTANCES}{{workflow_id}}/state"), "instance state")
            .with_description("A workflow instance's state (as workflow_state_read gives it); subscribe to hear of every change")
            .with_mime_type("application/json"),
        ResourceTemplate::new(format!("{INSTANCES}{{workflow_id}}/history"), "instance history")
            .with_description("What a workflow instance did, in order (as workflow_history gives it); subscribe to hear of every change")
            .with_mime_type("application/json"),
    ]
}

/// The resource at `uri`.
pub(super) async fn read(engine: &Engine, uri: &str) -> Result<ReadResourceResult, ErrorData> {
    let named = Named::parse(uri).ok_or_else(|| ErrorData::resource_not_found(format!("no resource `{uri}` (see resources/list and resources/templates/list)"), None))?;
    let text = |text: String, mime: &str| Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri).with_mime_type(mime)]));
    fn json(uri: &str, answer: Result<impl serde::Serialize, ToolError>) -> Result<ReadResourceResult, ErrorData> {
        let text = serde_json::to_string(&answer.map_err(refused)?).map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri).with_mime_type("application/json")]))
    }
    match named {
        Named::Schema => {
            let schema = engine.format_schema().ok_or_else(|| ErrorData::resource_not_found("this server has no format schema", None))?;
            text(serde_json::to_string_pretty(schema).unwrap_or_default(), "application/schema+json")
        }
        Named::Source(name) => {
            let definition = engine.workflows().into_iter().find(|d| d.name == name).ok_or_else(|| not_served(engine, name))?;
            let yaml = definition.yaml().map_err(|e| ErrorData::internal_error(format!("cannot read {}: {e}", definition.path), None))?;
            text(yaml.into_owned(), "application/yaml")
        }
        Named::Graph(name) => {
            if !engine.workflows().iter().any(|d| d.name == name) {
                return Err(not_served(engine, name));
            }
            let graph = engine.graph(name.to_owned()).await.map_err(refused)?;
            text(graph.mermaid, "text/vnd.mermaid")
        }
        Named::Plan(name) => json(uri, engine.explain(name, None)),
        Named::State(id) => json(uri, engine.read_state(id, &[], None).await),
        Named::History(id) => json(uri, engine.history(id, None, 0).await),
    }
}

fn not_served(engine: &Engine, name: &str) -> ErrorData {
    let names: Vec<String> = engine.workflows().iter().map(|d| d.name.clone()).collect();
    ErrorData::resource_not_found(format!("no workflow `{name}` (served: {})", names.join(", ")), None)
}

/// A refusal of the engine's, as MCP's error for a resource: an unknown instance or workflow
/// is "not found", anything else keeps its code in the message.
fn refused(error: ToolError) -> ErrorData {
    match error.code {
        crate::engine::ErrorCode::NotFound => ErrorData::resource_not_found(error.message, None),
        code => ErrorData::internal_error(format!("{code}: {}", error.message), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_name_what_they_read() {
        assert_eq!(Named::parse("wfc://schema"), Some(Named::Schema));
        assert_eq!(Named::parse("wfc://workflows/dev:test-fix-loop"), Some(Named::Source("dev:test-fix-loop")));
        assert_eq!(Named::parse("wfc://workflows/dev:x/graph"), Some(Named::Graph("dev:x")));
        assert_eq!(Named::parse("wfc://workflows/dev:x/plan"), Some(Named::Plan("dev:x")));
        assert_eq!(Named::parse("wfc://instances/wf_1/state"), Some(Named::State("wf_1")));
        assert_eq!(Named::parse("wfc://instances/wf_1/history"), Some(Named::History("wf_1")));
        for unknown in ["wfc://workflows/x/other", "wfc://instances/wf_1", "wfc://instances/wf_1/log", "file:///etc/passwd"] {
            assert_eq!(Named::parse(unknown), None, "{unknown}");
        }
        assert_eq!((subscribable("wfc://instances/wf_1/state"), subscribable("wfc://schema")), (Some("wf_1"), None));
    }
}
