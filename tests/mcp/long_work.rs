//! Server-side work that outlasts a request, and agents that retry: no request waits past
//! `--answer-within`, the work goes on, and no step whose result the workflow uses is ever
//! completed without it.

use std::sync::Arc;

use super::*;

/// `serve:long_command` with `seconds`, on a server answering within `answer_within` seconds
/// (the default when `None`).
async fn long_command(root: &Path, answer_within: Option<&str>, seconds: u64) -> (Agent, String) {
    let dir = repo().join("tests/fixtures/serve");
    let mut args = vec!["--dev", dir.to_str().expect("utf-8 path")];
    if let Some(seconds) = answer_within {
        args.extend(["--answer-within", seconds]);
    }
    let agent = Agent::serve(root, &args).await;
    let id = agent.start("serve:long_command", json!({"seconds": seconds})).await;
    (agent, id)
}

#[tokio::test]
async fn a_command_past_the_answer_bound_is_reported_running_and_the_question_after_it_is_asked() {
    let root = temp_root();
    let (agent, id) = long_command(root.path(), Some("1"), 4).await;
    let asked = Instant::now();
    let running = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert!(asked.elapsed() < Duration::from_secs(3), "answered within the bound: {:?}", asked.elapsed());
    assert_eq!(running["status"], "running", "{running}");
    assert_eq!(running["steps"], json!([]));
    assert_eq!(running["running"]["step_id"], "build", "{running}");
    assert!(running["running"]["output_tail"].as_array().is_some_and(|lines| lines.contains(&json!("tick-3"))), "{running}");
    // While the command runs, the state is read but not written.
    let status = agent.ok("workflow_get_status", json!({"workflow_id": id})).await;
    assert_eq!(status["running"]["step_id"], "build", "{status}");
    let (code, message) = agent.refused("workflow_update_state", json!({"workflow_id": id, "updates": [{"path": "this.choice", "value": "sneaky"}]})).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("running `build`"), "{message}");
    // The next requests pick up where the command stands, until it is done.
    let mut answer = running;
    for _ in 0..10 {
        if answer["running"].is_null() {
            break;
        }
        answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    }
    assert_eq!(step_names(&answer), ["confirm:user_input"], "{answer}");
    let sequence = last_step(&answer)["sequence"].clone();
    // Asked again and again, the question comes back; it is never skipped.
    for _ in 0..2 {
        let again = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
        assert_eq!(step_names(&again), ["confirm:user_input"], "{again}");
        assert_eq!(last_step(&again)["sequence"], sequence);
    }
    let done = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "confirm", "result": "yes"})).await;
    assert_eq!(done["completed"], true, "{done}");
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id})).await;
    assert_eq!((state["state"]["built"].clone(), state["state"]["choice"].clone()), (json!("built"), json!("yes")));
}

#[tokio::test]
async fn a_client_that_gives_up_on_a_long_call_and_retries_loses_no_step() {
    let root = temp_root();
    // The server's default bound (25 s) is longer than this client's patience (2 s).
    let (agent, id) = long_command(root.path(), None, 5).await;
    let gave_up = tokio::time::timeout(Duration::from_secs(2), agent.try_call("workflow_get_next_step", json!({"workflow_id": id}))).await;
    assert!(gave_up.is_err(), "the first call outlasts the client's timeout");
    let retried = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(step_names(&retried), ["confirm:user_input"], "{retried}");
    let twice = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(step_names(&twice), ["confirm:user_input"], "asking twice does not answer the question: {twice}");
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id})).await;
    assert_eq!(state["state"]["choice"], "");
    let done = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "confirm", "result": "ship"})).await;
    assert_eq!(step_names(&done), ["shipped:user_message"], "{done}");
}

#[tokio::test]
async fn cancelling_stops_the_command_that_runs() {
    let root = temp_root();
    let (agent, id) = long_command(root.path(), Some("1"), 120).await;
    let running = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(running["running"]["step_id"], "build", "{running}");
    agent.ok("workflow_cancel", json!({"workflow_id": id})).await;
    let cancelled = Instant::now();
    let answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(answer["status"], "cancelled", "{answer}");
    assert!(cancelled.elapsed() < Duration::from_secs(5), "the command was stopped, not waited out");
    let history = agent.ok("workflow_history", json!({"workflow_id": id})).await;
    let shell = history["events"].as_array().expect("events").iter().find(|e| e["kind"] == "shell").cloned().unwrap_or_default();
    assert!(shell["detail"]["failure"].as_str().is_some_and(|f| f.starts_with("stopped")), "{history}");
}

/// A client that keeps the progress notifications and log messages it gets.
#[derive(Clone, Default)]
struct Listener {
    progress: Arc<std::sync::Mutex<Vec<String>>>,
    logs: Arc<std::sync::Mutex<Vec<Json>>>,
}

impl rmcp::ClientHandler for Listener {
    async fn on_progress(&self, params: rmcp::model::ProgressNotificationParam, _: rmcp::service::NotificationContext<RoleClient>) {
        self.progress.lock().expect("not poisoned").push(params.message.unwrap_or_default());
    }

    #[allow(deprecated, reason = "MCP's logging is deprecated by SEP-2577; the server still speaks it")]
    async fn on_logging_message(&self, params: rmcp::model::LoggingMessageNotificationParam, _: rmcp::service::NotificationContext<RoleClient>) {
        self.logs.lock().expect("not poisoned").push(params.data);
    }
}

#[tokio::test]
async fn a_client_with_a_short_timeout_is_kept_alive_by_progress_and_reaches_the_next_step() {
    use rmcp::model::{CallToolRequest, ClientRequest, ServerResult};
    use rmcp::service::PeerRequestOptions;

    let root = temp_root();
    let dir = repo().join("tests/fixtures/serve");
    let listener = Listener::default();
    let agent = Agent::serve_with(listener.clone(), root.path(), &["--dev", dir.to_str().expect("utf-8 path"), "--answer-within", "3"]).await;
    let id = agent.start("serve:long_command", json!({"seconds": 5})).await;
    // A 2-s request timeout, reset by each progress notification (rmcp sends a progress token
    // with every request): the 3-s answer arrives in time.
    let ask = || {
        let Json::Object(arguments) = json!({"workflow_id": id}) else { unreachable!() };
        let params = CallToolRequestParams::new("workflow_get_next_step").with_arguments(arguments);
        ClientRequest::CallToolRequest(CallToolRequest::new(params))
    };
    let options = || PeerRequestOptions::with_timeout(Duration::from_secs(2)).reset_timeout_on_progress();
    let mut steps = Json::Null;
    for _ in 0..5 {
        let handle = agent.service.peer().send_request_with_option(ask(), options()).await.expect("sent");
        let ServerResult::CallToolResult(result) = handle.await_response().await.expect("answered before the client's timeout") else { panic!("not a tool result") };
        let text = &result.content.first().and_then(|c| c.as_text()).expect("a text result").text;
        let answer: Json = serde_json::from_str::<Json>(text).expect("JSON")["data"].clone();
        if answer["running"].is_null() {
            steps = answer;
            break;
        }
    }
    assert_eq!(step_names(&steps), ["confirm:user_input"], "{steps}");
    let progress = listener.progress.lock().expect("not poisoned").clone();
    assert!(progress.len() >= 2 && progress.iter().all(|m| m.starts_with("`build` running")), "{progress:?}");
    assert!(progress.iter().any(|m| m.contains("tick-3")), "the last output line is shown: {progress:?}");
    // Notifications are sent as they happen, not in step with answers: the last may follow.
    for _ in 0..50 {
        if listener.logs.lock().expect("not poisoned").len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = listener.logs.lock().expect("not poisoned").clone();
    let events: Vec<&str> = logs.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(events, ["shell_started", "shell_finished"], "{logs:?}");
    // Below the level the client asked for, nothing is sent.
    #[allow(deprecated, reason = "MCP's logging is deprecated by SEP-2577; the server still speaks it")]
    agent.service.peer().set_level(rmcp::model::SetLevelRequestParams::new(rmcp::model::LoggingLevel::Error)).await.expect("logging/setLevel");
    let second = agent.start("serve:long_command", json!({"seconds": 0})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": second})).await;
    assert_eq!(listener.logs.lock().expect("not poisoned").len(), 2, "no info messages after setLevel error");
}

/// Every workflow `agent` serves, started with made-up values for its required inputs (and
/// `inputs` on top); the final states of a clean run and of chaotic runs (duplicated, retried
/// and early calls) agree.
async fn chaos_agrees_with_a_clean_run(agent: &Agent, names: &[String], given: &Json) {
    for name in names {
        let info = agent.ok("workflow_get_info", json!({"workflow": name})).await;
        let inputs: serde_json::Map<String, Json> = info["inputs"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, input)| input["required"] == true)
            .map(|(key, input)| (key.clone(), if input["type"] == "number" { json!(3) } else { json!("demo") }))
            .chain(given.as_object().into_iter().flatten().filter(|(key, _)| info["inputs"].get(key.as_str()).is_some()).map(|(key, value)| (key.clone(), value.clone())))
            .collect();
        let clean = agent.start(name, Json::Object(inputs.clone())).await;
        assert_eq!(drive_to_end(agent, &clean, None).await["status"], "completed", "{name}");
        let expected = agent.ok("workflow_state_read", json!({"workflow_id": clean})).await["tiers"].clone();
        for seed in 1..=3 {
            let id = agent.start(name, Json::Object(inputs.clone())).await;
            let end = drive_with_chaos(agent, &id, None, &mut Chaos(Some(seed))).await;
            assert_eq!(end["status"], "completed", "{name}, seed {seed}: {end}");
            let state = agent.ok("workflow_state_read", json!({"workflow_id": id})).await["tiers"].clone();
            assert_eq!(state, expected, "{name}, seed {seed}: the chaotic run ends elsewhere");
        }
    }
}

/// Every corpus workflow runs to completion over MCP, straight from the shared corpus; and
/// driven by a flaky agent, it ends in the same state.
#[tokio::test]
async fn duplicated_and_retried_calls_end_where_a_clean_run_ends() {
    let root = temp_root();
    std::fs::write(root.path().join("package.json"), r#"{"name": "demo", "version": "1.0.0"}"#).expect("package.json");
    if let Some(corpus) = cases::corpus_dir() {
        let agent = Agent::serve(root.path(), &["--dev", corpus.to_str().expect("utf-8")]).await;
        let listed = agent.ok("workflow_list", json!({})).await;
        let names: Vec<String> = listed["workflows"].as_array().expect("workflows").iter().filter_map(|w| w["name"].as_str().map(str::to_owned)).collect();
        chaos_agrees_with_a_clean_run(&agent, &names, &json!({})).await;
    }
    // The serving fixtures whose runs depend on nothing but their steps (no clocks, no files).
    let agent = Agent::fixtures(root.path()).await;
    let names = ["serve:counter", "serve:fan-out", "serve:journal", "serve:guarded-global"].map(str::to_owned);
    chaos_agrees_with_a_clean_run(&agent, &names, &json!({})).await;
    // The embedded catalog, in a git repository of a Rust crate whose tests pass.
    let repository = git_repo();
    std::fs::write(repository.path().join("Cargo.toml"), "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nserde = \"1\"\n")
        .expect("a manifest");
    sh(repository.path(), "mkdir src && touch src/lib.rs && git add . && git commit -qm crate");
    let agent = Agent::catalog(repository.path()).await;
    let listed = agent.ok("workflow_list", json!({})).await;
    let names: Vec<String> = listed["workflows"].as_array().expect("workflows").iter().filter_map(|w| w["name"].as_str().map(str::to_owned)).collect();
    chaos_agrees_with_a_clean_run(&agent, &names, &json!({"test_command": "true", "version": "1.0.0", "base": "main"})).await;
}

#[test]
fn the_official_python_client_is_answered_in_time_and_reaches_the_step_after_a_long_command() {
    let root = temp_root();
    let fixtures = repo().join("tests/fixtures/serve");
    let (summary, _) = python("long_command.py", &[env!("CARGO_BIN_EXE_wfc"), fixtures.to_str().expect("utf-8"), root.path().to_str().expect("utf-8"), "7"]);
    // A 7-s command under a 2-s bound: several answers, each within the client's 4-s timeout.
    assert!(summary["answers"].as_u64().is_some_and(|n| n >= 3), "{summary}");
    assert!(summary["progress"].as_array().is_some_and(|p| !p.is_empty()), "progress while waiting: {summary}");
    assert_eq!(summary["state"], json!({"built": "built", "choice": "python"}));
}
