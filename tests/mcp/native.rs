//! What MCP offers besides tools, through rmcp's client and the official Python client:
//! resources (every workflow's YAML, diagram and plan, the format's schema, each instance's
//! state and history), subscriptions to an instance, a `--dev` catalog's list changes, and
//! questions asked of the person through the client (elicitation).
#![allow(deprecated, reason = "resources/subscribe is what clients of protocol versions up to 2025-11-25 speak")]

use std::sync::{Arc, Mutex};

use rmcp::model::{ReadResourceRequestParams, ResourceContents, SubscribeRequestParams};

use super::*;

/// A client that keeps what the server tells it unasked.
#[derive(Clone, Default)]
struct Told {
    updated: Arc<Mutex<Vec<String>>>,
    prompts_changed: Arc<Mutex<u32>>,
    resources_changed: Arc<Mutex<u32>>,
}

impl rmcp::ClientHandler for Told {
    async fn on_resource_updated(&self, params: rmcp::model::ResourceUpdatedNotificationParam, _: rmcp::service::NotificationContext<RoleClient>) {
        self.updated.lock().expect("not poisoned").push(params.uri);
    }

    async fn on_prompt_list_changed(&self, _: rmcp::service::NotificationContext<RoleClient>) {
        *self.prompts_changed.lock().expect("not poisoned") += 1;
    }

    async fn on_resource_list_changed(&self, _: rmcp::service::NotificationContext<RoleClient>) {
        *self.resources_changed.lock().expect("not poisoned") += 1;
    }
}

/// Waits up to 10 s for `condition`.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of resource `uri`, and its MIME type.
async fn read<H: rmcp::ClientHandler>(agent: &Agent<H>, uri: &str) -> Result<(String, String), String> {
    let read = agent.service.peer().read_resource(ReadResourceRequestParams::new(uri)).await.map_err(|e| e.to_string())?;
    match read.contents.into_iter().next() {
        Some(ResourceContents::TextResourceContents { text, mime_type, .. }) => Ok((text, mime_type.unwrap_or_default())),
        other => panic!("{uri}: not one text: {other:?}"),
    }
}

#[tokio::test]
async fn every_workflow_is_a_resource_with_its_yaml_diagram_and_plan_and_the_schema_is_one() {
    let root = temp_root();
    let agent = Agent::catalog(root.path()).await;
    let listed = agent.service.peer().list_all_resources().await.expect("resources/list");
    let uris: Vec<&str> = listed.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris.len(), 1 + 3 * 7, "the schema and three per workflow: {uris:?}");
    for uri in uris {
        let (text, mime) = read(&agent, uri).await.unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert!(!text.is_empty(), "{uri} is empty");
        match mime.as_str() {
            "application/yaml" => assert!(text.contains("name:") && text.contains("steps:"), "{uri}: {text}"),
            "text/vnd.mermaid" => assert!(text.starts_with("flowchart"), "{uri}: {text}"),
            "application/json" | "application/schema+json" => drop(serde_json::from_str::<Json>(&text).unwrap_or_else(|e| panic!("{uri}: {e}"))),
            other => panic!("{uri}: unexpected MIME type {other}"),
        }
    }
    let (yaml, _) = read(&agent, "wfc://workflows/release:checklist").await.expect("the YAML");
    assert!(yaml.contains("name: \"release:checklist\"") || yaml.contains("name: release:checklist"), "{yaml}");
    let (plan, _) = read(&agent, "wfc://workflows/release:checklist/plan").await.expect("the plan");
    assert_eq!(serde_json::from_str::<Json>(&plan).expect("JSON")["workflow"], "release:checklist");
    let (schema, _) = read(&agent, "wfc://schema").await.expect("the schema");
    assert!(schema.contains("\"$schema\"") && schema.contains("steps"), "{schema}");

    let templates = agent.service.peer().list_all_resource_templates().await.expect("resources/templates/list");
    let templates: Vec<&str> = templates.iter().map(|t| t.uri_template.as_str()).collect();
    assert_eq!(templates, ["wfc://instances/{workflow_id}/state", "wfc://instances/{workflow_id}/history"]);

    for unknown in ["wfc://workflows/no:such", "wfc://instances/wf_nothing/state", "wfc://elsewhere"] {
        let error = read(&agent, unknown).await.expect_err(unknown);
        assert!(error.contains("no ") || error.contains("not found"), "{unknown}: {error}");
    }
}

#[tokio::test]
async fn a_subscriber_to_an_instance_hears_of_each_commit_and_reads_the_new_state() {
    let root = temp_root();
    let dir = repo().join("tests/fixtures/serve");
    let told = Told::default();
    let agent = Agent::serve_with(told.clone(), root.path(), &["--dev", dir.to_str().expect("utf-8 path")]).await;
    let id = agent.start("serve:counter", json!({"iterations": 3})).await;
    let state_uri = format!("wfc://instances/{id}/state");
    let other = agent.start("serve:counter", json!({"iterations": 3})).await;
    agent.service.peer().subscribe(SubscribeRequestParams::new(&state_uri)).await.expect("resources/subscribe");
    let refused = agent.service.peer().subscribe(SubscribeRequestParams::new("wfc://schema")).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("only an instance's state or history")));
    let unknown = agent.service.peer().subscribe(SubscribeRequestParams::new("wfc://instances/wf_nothing/state")).await;
    assert!(unknown.is_err_and(|e| e.to_string().contains("no workflow instance `wf_nothing`")), "only instances that exist");

    agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 2}})).await;
    eventually("an update for the subscribed state", || told.updated.lock().expect("not poisoned").len() >= 2).await;
    let (state, _) = read(&agent, &state_uri).await.expect("the state");
    assert_eq!(serde_json::from_str::<Json>(&state).expect("JSON")["state"]["count"], 2);
    // Another instance's commits are not this subscription's.
    agent.ok("workflow_get_next_step", json!({"workflow_id": other})).await;
    let (history, _) = read(&agent, &format!("wfc://instances/{id}/history")).await.expect("the history");
    assert!(serde_json::from_str::<Json>(&history).expect("JSON")["events"].as_array().is_some_and(|events| !events.is_empty()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(told.updated.lock().expect("not poisoned").iter().all(|uri| *uri == state_uri), "{:?}", told.updated);

    agent.service.peer().unsubscribe(rmcp::model::UnsubscribeRequestParams::new(&state_uri)).await.expect("resources/unsubscribe");
    let heard = told.updated.lock().expect("not poisoned").len();
    agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 1}})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(told.updated.lock().expect("not poisoned").len(), heard, "nothing after unsubscribing");
}

#[tokio::test]
async fn a_dev_catalog_tells_clients_when_its_workflows_change() {
    let root = temp_root();
    let dir = root.path().join("workflows");
    std::fs::create_dir(&dir).expect("a workflow directory");
    let workflow = |name: &str| format!("name: \"dev:{name}\"\ndescription: d\nversion: \"1.0.0\"\nsteps:\n  - id: greet\n    type: user_message\n    message: hi\n");
    std::fs::write(dir.join("one.yaml"), workflow("one")).expect("write");
    let told = Told::default();
    let agent = Agent::serve_with(told.clone(), root.path(), &["--dev", dir.to_str().expect("utf-8")]).await;
    let capabilities = agent.service.peer().peer_info().expect("the server's info").capabilities.clone();
    assert_eq!(capabilities.prompts.and_then(|p| p.list_changed), Some(true));
    assert_eq!(capabilities.resources.as_ref().and_then(|r| r.list_changed), Some(true));
    assert_eq!(capabilities.resources.and_then(|r| r.subscribe), Some(true));
    assert_eq!(agent.service.peer().list_all_prompts().await.expect("prompts/list").len(), 1);

    std::fs::write(dir.join("two.yaml"), workflow("two")).expect("write");
    eventually("prompts/list_changed", || *told.prompts_changed.lock().expect("not poisoned") >= 1).await;
    eventually("resources/list_changed", || *told.resources_changed.lock().expect("not poisoned") >= 1).await;
    let prompts = agent.service.peer().list_all_prompts().await.expect("prompts/list");
    let mut names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["dev-one", "dev-two"]);

    // A compiled catalog never changes, and says so.
    let fixed = Agent::catalog(root.path()).await;
    let capabilities = fixed.service.peer().peer_info().expect("the server's info").capabilities.clone();
    assert_eq!(capabilities.prompts.and_then(|p| p.list_changed), None);
}

#[test]
fn the_official_python_client_lists_and_reads_resources_and_hears_of_a_subscribed_instance() {
    let root = temp_root();
    let fixtures = repo().join("tests/fixtures/serve");
    let (summary, _) = python("resources.py", &[env!("CARGO_BIN_EXE_wfc"), fixtures.to_str().expect("utf-8"), root.path().to_str().expect("utf-8")]);
    assert!(summary["resources"].as_u64().is_some_and(|n| n > 1), "{summary}");
    assert!(summary["prompts"].as_array().is_some_and(|p| p.iter().any(|n| n == "serve-counter")), "{summary}");
    assert_eq!(summary["count"], 2, "{summary}");
    assert!(summary["updated"].as_u64().is_some_and(|n| n >= 1), "{summary}");
}

#[tokio::test]
async fn the_official_python_client_ends_an_http_session_without_a_complaint() {
    let root = temp_root();
    let server = HttpServer::launch(root.path(), &[]).await;
    let url = server.url.clone();
    let (summary, stderr) = tokio::task::spawn_blocking(move || python("http_session.py", &[&url])).await.expect("python ran");
    assert!(stderr.trim().is_empty(), "the SDK logged: {stderr}");
    assert_eq!(summary["workflows"], 7, "{summary}");
}

#[tokio::test]
async fn each_http_session_hears_only_of_what_it_subscribed_to() {
    let root = temp_root();
    let server = HttpServer::start(root.path()).await;
    let connect = || async {
        let told = Told::default();
        let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(server.url.clone());
        (told.clone(), Agent { service: told.serve(transport).await.expect("MCP initialize over HTTP") })
    };
    let ((first_told, first), (second_told, second)) = (connect().await, connect().await);
    let id = first.start("serve:counter", json!({"iterations": 3})).await;
    first.service.peer().subscribe(SubscribeRequestParams::new(format!("wfc://instances/{id}/history"))).await.expect("resources/subscribe");
    second.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    eventually("the subscriber hears of the other client's step", || !first_told.updated.lock().expect("not poisoned").is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(second_told.updated.lock().expect("not poisoned").is_empty(), "the other session subscribed to nothing");
}

/// A client that shows forms (MCP elicitation): it gives the scripted replies in order and
/// keeps the forms it was shown.
#[derive(Clone, Default)]
struct Person {
    replies: Arc<Mutex<std::collections::VecDeque<rmcp::model::ElicitResult>>>,
    forms: Arc<Mutex<Vec<Json>>>,
}

impl Person {
    fn replying(replies: Vec<rmcp::model::ElicitResult>) -> Person {
        Person { replies: Arc::new(Mutex::new(replies.into())), forms: Arc::default() }
    }

    fn accept(answer: Json) -> rmcp::model::ElicitResult {
        rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Accept).with_content(json!({"answer": answer}))
    }
}

impl rmcp::ClientHandler for Person {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        let capabilities = rmcp::model::ClientCapabilities::builder().enable_elicitation().build();
        rmcp::model::ClientConfig::new(capabilities, rmcp::model::Implementation::new("person", "1"))
    }

    async fn create_elicitation(
        &self,
        request: rmcp::model::ElicitRequestParams,
        _: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ElicitResult, rmcp::ErrorData> {
        self.forms.lock().expect("not poisoned").push(serde_json::to_value(&request).expect("JSON"));
        let reply = self.replies.lock().expect("not poisoned").pop_front();
        Ok(reply.unwrap_or_else(|| rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Cancel)))
    }
}

#[tokio::test]
async fn a_question_is_asked_of_the_person_through_the_client_and_the_agent_gets_what_follows() {
    let root = git_repo();
    let person = Person::replying(vec![Person::accept(json!("maybe")), Person::accept(json!("approve"))]);
    let agent = Agent::serve_with(person.clone(), root.path(), &[]).await;
    let id = agent.start("release:checklist", json!({"version": "1.4.0", "test_command": "true"})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "bump_version", "result": {"files": ["Cargo.toml"]}})).await;
    // The sign-off goes to the person: a refused answer is asked again with the reason, and the
    // agent's next step is the one after the question.
    let next = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "record_bump", "result": {"files": ["Cargo.toml"]}})).await;
    assert_eq!(step_names(&next), ["tag_release:mcp_call"], "{next}");
    let elicited: Vec<Json> = next["elicited"].as_array().expect("what was asked").iter().map(|e| json!([e["step_id"], e["answer"]])).collect();
    assert_eq!(elicited, [json!(["sign_off", "maybe"]), json!(["sign_off", "approve"])]);
    let forms = person.forms.lock().expect("not poisoned").clone();
    assert_eq!(forms.len(), 2);
    assert_eq!(forms[0]["message"], "Tests pass. Approve release v1.4.0?");
    assert_eq!(forms[0]["requestedSchema"]["properties"]["answer"]["enum"], json!(["approve", "reject"]));
    assert!(forms[1]["message"].as_str().is_some_and(|m| m.contains("The last answer was refused") && m.contains("approve")), "{}", forms[1]);
    let status = agent.ok("workflow_get_status", json!({"workflow_id": id})).await;
    assert_eq!(status["state"]["approvals"], json!(["approve"]));
}

#[tokio::test]
async fn a_declined_form_fails_the_step_as_its_error_handling_says() {
    let root = git_repo();
    std::fs::write(root.path().join("untracked.txt"), "dirty").expect("write");
    let person = Person::replying(vec![rmcp::model::ElicitResult::new(rmcp::model::ElicitationAction::Decline)]);
    let agent = Agent::serve_with(person.clone(), root.path(), &[]).await;
    let id = agent.start("release:checklist", json!({"version": "1.4.0", "test_command": "true"})).await;
    // The dirty tree's warning is shown on the form, before the question.
    let answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(answer["status"], "failed", "{answer}");
    assert_eq!(answer["error"]["step_id"], "continue_dirty");
    assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("declined")), "{answer}");
    assert_eq!(answer["elicited"][0]["refused"], "declined");
    let form = person.forms.lock().expect("not poisoned")[0].clone();
    assert!(form["message"].as_str().is_some_and(|m| m.contains("uncommitted changes") && m.contains("dirty tree anyway?")), "{form}");
    assert_eq!(form["requestedSchema"]["properties"]["answer"]["type"], "boolean");
}

#[tokio::test]
async fn without_the_capability_the_agent_asks_as_before() {
    let root = git_repo();
    let agent = Agent::catalog(root.path()).await;
    let id = agent.start("release:checklist", json!({"version": "1.4.0", "test_command": "true"})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "bump_version", "result": {"files": []}})).await;
    let question = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "record_bump", "result": {"files": []}})).await;
    assert_eq!(step_names(&question), ["sign_off:user_input"]);
    assert!(question.get("elicited").is_none());
}

#[test]
fn the_official_python_client_answers_a_question_in_its_form_or_cancels_it() {
    let root = git_repo();
    let (summary, _) = python("elicitation.py", &[env!("CARGO_BIN_EXE_wfc"), root.path().to_str().expect("utf-8")]);
    assert_eq!(summary["forms"], json!(["Tests pass. Approve release v2.0.0?", "Tests pass. Approve release v2.0.0?"]), "{summary}");
    assert_eq!(summary["accepted_next"], json!(["tag_release"]), "{summary}");
    assert_eq!(summary["accepted_elicited"][0]["answer"], "approve", "{summary}");
    assert_eq!(summary["cancelled_status"], "failed", "{summary}");
    assert!(summary["cancelled_error"]["message"].as_str().is_some_and(|m| m.contains("cancelled")), "{summary}");
}

#[tokio::test]
async fn a_sub_agent_task_asks_the_person_the_same_way_in_parallel_and_in_serial_mode() {
    let dir = repo().join("tests/fixtures/serve");
    for serial in [false, true] {
        let root = temp_root();
        let person = Person::replying(vec![Person::accept(json!("nothing more"))]);
        let mut args = vec!["--dev", dir.to_str().expect("utf-8")];
        if serial {
            args.push("--serial");
        }
        let agent = Agent::serve_with(person.clone(), root.path(), &args).await;
        let id = agent.start("serve:guarded-global", json!({})).await;
        let mut answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
        if !serial {
            // The fan-out hands the task to a sub-agent; the task's question goes to the person.
            let task = agent.ok("workflow_get_next_step", json!({"workflow_id": id, "task_id": "worker.item0"})).await;
            assert_eq!(task["status"], "completed", "serial {serial}: {task}");
            assert_eq!(task["elicited"][0]["answer"], "nothing more", "{task}");
            answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
        } else {
            assert_eq!(answer["elicited"][0]["step_id"], "ask", "serial mode: {answer}");
        }
        assert_eq!(answer["completed"], true, "serial {serial}: {answer}");
        assert_eq!(person.forms.lock().expect("not poisoned").len(), 1, "serial {serial}");
    }
}

#[tokio::test]
async fn a_session_subscribes_to_at_most_a_thousand_resources() {
    let root = temp_root();
    let dir = repo().join("tests/fixtures/serve");
    let agent = Agent::serve(root.path(), &["--dev", dir.to_str().expect("utf-8 path"), "--store", "memory"]).await;
    let subscribe = |uri: String| agent.service.peer().subscribe(SubscribeRequestParams::new(uri));
    for _ in 0..500 {
        let id = agent.start("serve:counter", json!({})).await;
        subscribe(format!("wfc://instances/{id}/state")).await.expect("subscribed");
        subscribe(format!("wfc://instances/{id}/history")).await.expect("subscribed");
    }
    let id = agent.start("serve:counter", json!({})).await;
    let refused = subscribe(format!("wfc://instances/{id}/state")).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("at most 1000 resources")));
}
