//! End to end: `wfc serve` spawned as a child process and driven by rmcp's MCP client over
//! stdio and over streamable HTTP, as an agent would — the embedded catalog (compiled) and,
//! with `--dev`, the fixtures and the AroMCP corpus (interpreted).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value as Json, json};

/// A client connected to one `wfc serve`; `H` hears its notifications (none by default).
struct Agent<H: rmcp::ClientHandler = ()> {
    service: RunningService<RoleClient, H>,
}

#[path = "../compiler/tests/oracle/cases.rs"]
#[allow(dead_code, reason = "only the corpus's location is used here")]
mod cases;
#[path = "mcp/durability.rs"]
mod durability;
#[path = "mcp/hostile.rs"]
mod hostile;
#[path = "mcp/long_work.rs"]
mod long_work;
#[path = "mcp/native.rs"]
mod native;
#[path = "mcp/scenarios.rs"]
mod scenarios;

/// `wfc serve --http 127.0.0.1:0`, killed (SIGKILL) when dropped.
struct HttpServer {
    url: String,
    process: tokio::process::Child,
}

impl HttpServer {
    /// Serving `tests/fixtures/serve` (`--dev`), with shell steps in `root`.
    async fn start(root: &Path) -> HttpServer {
        HttpServer::start_with(root, &[], &[]).await
    }

    /// Serving `tests/fixtures/serve` with more arguments and environment variables.
    async fn start_with(root: &Path, args: &[String], env: &[(&str, &str)]) -> HttpServer {
        let mut all = vec!["--dev".to_owned(), repo().join("tests/fixtures/serve").display().to_string()];
        all.extend_from_slice(args);
        HttpServer::launch_with(root, &all, env).await
    }

    /// `wfc serve --http 127.0.0.1:0 --root ROOT ARGS`.
    async fn launch(root: &Path, args: &[String]) -> HttpServer {
        HttpServer::launch_with(root, args, &[]).await
    }

    async fn launch_with(root: &Path, args: &[String], env: &[(&str, &str)]) -> HttpServer {
        use tokio::io::AsyncBufReadExt;
        let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_wfc"))
            .args(["serve", "--http", "127.0.0.1:0", "--root"])
            .arg(root)
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn wfc serve --http");
        let mut url = String::new();
        tokio::io::BufReader::new(process.stdout.take().expect("stdout")).read_line(&mut url).await.expect("the address line");
        HttpServer { url: url.trim().to_owned(), process }
    }

    /// SIGKILL, and wait until the process is gone.
    async fn kill(mut self) {
        self.process.kill().await.expect("kill wfc serve");
    }

    async fn connect(&self) -> Agent {
        let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(self.url.clone());
        Agent { service: ().serve(transport).await.expect("MCP initialize over HTTP") }
    }
}

/// The repository root (where `workflows/` and `tests/fixtures/` are).
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Agent {
    /// `wfc serve` with `args`, shell steps running in `root`.
    async fn serve(root: &Path, args: &[&str]) -> Agent {
        Agent::serve_with((), root, args).await
    }

    async fn catalog(root: &Path) -> Agent {
        Agent::serve(root, &[]).await
    }

    async fn fixtures(root: &Path) -> Agent {
        let dir = repo().join("tests/fixtures/serve");
        Agent::serve(root, &["--dev", dir.to_str().expect("utf-8 path")]).await
    }
}

impl<H: rmcp::ClientHandler> Agent<H> {
    /// [`Agent::serve`], with `handler` hearing the server's notifications.
    async fn serve_with(handler: H, root: &Path, args: &[&str]) -> Agent<H> {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_wfc"));
        command.arg("serve").arg("--root").arg(root).args(args).env("RUST_LOG", "warn");
        let (transport, _) = TokioChildProcess::builder(command).stderr(Stdio::inherit()).spawn().expect("spawn wfc serve");
        let service = handler.serve(transport).await.expect("MCP initialize");
        Agent { service }
    }

    /// Calls `tool`; the `data` of a success, or the `error` object of a refusal.
    async fn call(&self, tool: &str, arguments: Json) -> Result<Json, Json> {
        self.try_call(tool, arguments).await.unwrap_or_else(|e| panic!("tools/call {tool}: {e}"))
    }

    /// [`Agent::call`], with a transport failure or no answer in 10 s (the server died: an
    /// HTTP client may not notice) as the outer error.
    async fn try_call(&self, tool: &str, arguments: Json) -> Result<Result<Json, Json>, String> {
        let Json::Object(arguments) = arguments else { panic!("arguments must be an object") };
        let call = self.service.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments));
        let result = tokio::time::timeout(Duration::from_secs(10), call).await.map_err(|_| "no answer in 10 s".to_owned())?.map_err(|e| e.to_string())?;
        let text = &result.content.first().and_then(|c| c.as_text()).expect("a text result").text;
        let envelope: Json = serde_json::from_str(text).expect("the envelope is JSON");
        if !result.is_error.unwrap_or(false) {
            // Every answer of every test is its tool's outputSchema's, as structured content too.
            let structured = result.structured_content.as_ref().unwrap_or_else(|| panic!("{tool}: no structuredContent"));
            assert_eq!(structured, &envelope, "{tool}: the text is the structured content serialized");
            if let Err(error) = output_validator(tool).validate(structured) {
                panic!("{tool}: the answer breaks its outputSchema: {error}\n{structured}");
            }
        }
        Ok(match (result.is_error.unwrap_or(false), envelope) {
            (false, Json::Object(mut map)) if map.contains_key("data") => Ok(map.remove("data").unwrap_or_default()),
            (true, Json::Object(mut map)) if map.contains_key("error") => Err(map.remove("error").unwrap_or_default()),
            (is_error, other) => panic!("{tool}: not an envelope (isError {is_error}): {other}"),
        })
    }

    async fn ok(&self, tool: &str, arguments: Json) -> Json {
        self.call(tool, arguments.clone()).await.unwrap_or_else(|e| panic!("{tool} {arguments} failed: {e}"))
    }

    async fn refused(&self, tool: &str, arguments: Json) -> (String, String) {
        let error = self.call(tool, arguments.clone()).await.expect_err(&format!("{tool} {arguments} should be refused"));
        (error["code"].as_str().unwrap_or_default().to_owned(), error["message"].as_str().unwrap_or_default().to_owned())
    }

    async fn start(&self, workflow: &str, inputs: Json) -> String {
        let started = self.ok("workflow_start", json!({"workflow": workflow, "inputs": inputs})).await;
        started["workflow_id"].as_str().expect("an instance id").to_owned()
    }
}

/// Runs `tests/python/SCRIPT` with `args` under the official MCP Python SDK (`WFC_TEST_PYTHON`,
/// which `.ci/run` sets), failing the test unless it exits 0: its JSON summary and its stderr.
fn python(script: &str, args: &[&str]) -> (Json, String) {
    let python = std::env::var("WFC_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let has_sdk = std::process::Command::new(&python).args(["-c", "import mcp"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(has_sdk, "{python} lacks the official MCP Python SDK: `pip install mcp==2.3.0`, or set WFC_TEST_PYTHON (.ci/run does)");
    let output = std::process::Command::new(&python).arg(repo().join("tests/python").join(script)).args(args).env("RUST_LOG", "warn").output().expect("python runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{script}: {stderr}");
    (serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{script}: no JSON summary ({e})")), stderr)
}

/// The validator of tool `tool`'s answers: its outputSchema, as the server declares it
/// (`tools/list` gives the same, which a test checks).
fn output_validator(tool: &str) -> &'static jsonschema::Validator {
    static VALIDATORS: std::sync::OnceLock<std::collections::HashMap<String, jsonschema::Validator>> = std::sync::OnceLock::new();
    let validators = VALIDATORS.get_or_init(|| {
        wfc_runtime::engine::tools::specs()
            .into_iter()
            .map(|spec| (spec.name.to_owned(), jsonschema::validator_for(&Json::Object(spec.output_schema)).expect("an output schema that compiles")))
            .collect()
    });
    validators.get(tool).unwrap_or_else(|| panic!("no tool `{tool}`"))
}

/// The ids and types of a batch's steps, `id:type`.
fn step_names(answer: &Json) -> Vec<String> {
    answer["steps"].as_array().map_or_else(Vec::new, |steps| steps.iter().map(|s| format!("{}:{}", s["id"].as_str().unwrap_or(""), s["type"].as_str().unwrap_or(""))).collect())
}

fn last_step(answer: &Json) -> &Json {
    answer["steps"].as_array().and_then(|s| s.last()).unwrap_or_else(|| panic!("no steps in {answer}"))
}

fn temp_root() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Runs `script` with `sh` in `dir`, for test set-up.
fn sh(dir: &Path, script: &str) {
    let status = std::process::Command::new("sh").arg("-c").arg(script).current_dir(dir).status().expect("sh");
    assert!(status.success(), "{script}");
}

fn git_repo() -> tempfile::TempDir {
    let root = temp_root();
    sh(
        root.path(),
        "git init -q -b main . && git config user.email t@example.com && git config user.name t && \
         echo one > a.txt && git add . && git commit -qm one",
    );
    root
}

#[tokio::test]
async fn discovery_lists_every_tool_with_a_schema_and_the_embedded_catalog() {
    let root = temp_root();
    let agent = Agent::catalog(root.path()).await;
    let tools = agent.service.list_all_tools().await.expect("tools/list");
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for expected in [
        "workflow_list",
        "workflow_get_info",
        "workflow_explain_plan",
        "workflow_start",
        "workflow_get_next_step",
        "workflow_submit_result",
        "workflow_update_state",
        "workflow_get_status",
        "workflow_list_active",
        "workflow_state_read",
        "workflow_state_dependencies",
        "workflow_cancel",
        "workflow_checkpoint",
        "workflow_resume",
        "workflow_validate",
        "workflow_test_transformation",
        "workflow_graph",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let declared: std::collections::HashMap<String, Json> =
        wfc_runtime::engine::tools::specs().into_iter().map(|spec| (spec.name.to_owned(), Json::Object(spec.output_schema))).collect();
    for tool in &tools {
        assert_eq!(tool.input_schema.get("type"), Some(&json!("object")), "{}", tool.name);
        assert!(tool.description.as_ref().is_some_and(|d| d.len() > 20), "{} needs a description", tool.name);
        // Each declares the schema its answers are checked against (`output_validator`).
        let output = Json::Object(tool.output_schema.as_deref().cloned().unwrap_or_else(|| panic!("{} has no outputSchema", tool.name)));
        assert_eq!(output["required"], json!(["data"]), "{}: {output}", tool.name);
        assert_eq!(Some(&output), declared.get(tool.name.as_ref()), "{}", tool.name);
    }
    let submit = tools.iter().find(|t| t.name == "workflow_submit_result").expect("submit");
    assert_eq!(submit.input_schema["required"], json!(["workflow_id", "step_id"]));

    let listed = agent.ok("workflow_list", json!({})).await;
    let mut workflows: Vec<&str> = listed["workflows"].as_array().expect("workflows").iter().filter_map(|w| w["name"].as_str()).collect();
    workflows.sort_unstable();
    assert_eq!(workflows, ["approval:request", "code:parallel-review", "data:pipeline", "deps:report", "dev:test-fix-loop", "order:process", "release:checklist"]);
    let info = agent.ok("workflow_get_info", json!({"workflow": "dev:test-fix-loop"})).await;
    assert_eq!(info["inputs"]["max_attempts"], json!({"type": "number", "required": false, "default": 5}));
    assert_eq!(info["source"], "compiled");
    // The plan of a compiled workflow, read off its machine: loops with caps, server and client
    // steps, what they read and write; and whether given inputs would start it.
    let plan = agent.ok("workflow_explain_plan", json!({"workflow": "dev:test-fix-loop", "inputs": {"max_attempts": "many"}})).await;
    let fix_loop = plan["steps"].as_array().expect("steps").iter().find(|s| s["id"] == "fix_loop").expect("the loop").clone();
    assert_eq!((fix_loop["type"].clone(), fix_loop["runs_on"].clone()), (json!("while_loop"), json!("server")));
    assert!(fix_loop["detail"].as_str().is_some_and(|d| d.contains("at most 20 iterations")), "{fix_loop}");
    assert_eq!(fix_loop["reads"], json!(["inputs.max_attempts", "this.attempts", "this.passing"]));
    assert!(plan["inputs_accepted"]["refused"].as_str().is_some_and(|r| r.contains("max_attempts")), "{plan}");
}

/// The protocol below the tools, spoken as raw JSON-RPC lines: ping and an unknown method get
/// answers; a request over the size limit (4 MiB) is dropped unread — there is no id to answer,
/// as rmcp decides — and the connection stays usable.
#[test]
fn raw_protocol_answers_ping_unknown_methods_malformed_lines_and_oversized_requests() {
    use std::io::{BufRead, BufReader, Write};
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["serve", "--store", "memory"])
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn wfc serve");
    let mut stdin = server.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(server.stdout.take().expect("stdout"));
    let send = |stdin: &mut std::process::ChildStdin, request: &str| {
        writeln!(stdin, "{request}").expect("write");
        stdin.flush().expect("flush");
    };
    let mut receive = || -> Json {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };
    send(&mut stdin, r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#);
    assert_eq!(receive()["result"]["serverInfo"]["name"], "wfc");
    send(&mut stdin, r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    send(&mut stdin, r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#);
    assert_eq!(receive(), json!({"jsonrpc": "2.0", "id": 2, "result": {}}));
    send(&mut stdin, r#"{"jsonrpc":"2.0","id":3,"method":"workflows/teleport"}"#);
    let unknown = receive();
    assert_eq!((unknown["id"].clone(), unknown["error"]["code"].clone()), (json!(3), json!(-32601)), "{unknown}");
    send(&mut stdin, &format!(r#"{{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{{"name":"workflow_validate","arguments":{{"yaml":"{}"}}}}}}"#, "x".repeat(5 * 1024 * 1024)));
    let oversized = receive();
    assert_eq!((oversized["id"].clone(), oversized["error"]["code"].clone()), (Json::Null, json!(-32600)), "{oversized}");
    send(&mut stdin, r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"workflow_list","arguments":{}}}"#);
    let listed = receive();
    assert_eq!(listed["id"], 5, "the next request was answered: {listed}");
    // A line that is not JSON, or not UTF-8, is answered -32700 (JSON-RPC's parse error), and
    // the client need not wait for a timeout.
    send(&mut stdin, r#"{"jsonrpc":"2.0","id":6,"method":"#);
    let unparsable = receive();
    assert_eq!((unparsable["id"].clone(), unparsable["error"]["code"].clone()), (Json::Null, json!(-32700)), "{unparsable}");
    stdin.write_all(b"\xff\xfe{}\n").expect("write");
    stdin.flush().expect("flush");
    assert_eq!(receive()["error"]["code"], -32700);
    send(&mut stdin, r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#);
    assert_eq!(receive()["id"], 7);
    drop(stdin);
    assert!(server.wait().expect("exit").success());
}

#[tokio::test]
async fn starting_applies_defaults_and_refuses_bad_inputs() {
    let root = temp_root();
    let agent = Agent::catalog(root.path()).await;
    let started = agent.ok("workflow_start", json!({"workflow": "dev:test-fix-loop"})).await;
    let id = started["workflow_id"].as_str().expect("id");
    assert!(id.starts_with("wf_") && id.len() == 3 + 32 && id[3..].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert_eq!(started["state"]["inputs"], json!({"test_command": "cargo test", "max_attempts": 5}));

    let (code, message) = agent.refused("workflow_start", json!({"workflow": "release:checklist"})).await;
    assert_eq!((code.as_str(), message.contains("needs the input `version`")), ("INVALID_INPUT", true), "{message}");
    let (_, message) = agent.refused("workflow_start", json!({"workflow": "release:checklist", "inputs": {"version": 3}})).await;
    assert!(message.contains("inputs.version") && message.contains("string"), "{message}");
    let (_, message) = agent.refused("workflow_start", json!({"workflow": "release:checklist", "inputs": {"verison": "1"}})).await;
    assert!(message.contains("no input `verison`"), "{message}");
    let (code, message) = agent.refused("workflow_start", json!({"workflow": "nope:missing"})).await;
    assert_eq!(code, "NOT_FOUND");
    assert!(message.contains("dev:test-fix-loop"), "{message}");
    // Agents send collections JSON-encoded; that is accepted, and a broken one is named.
    let started = agent.ok("workflow_start", json!({"workflow": "release:checklist", "inputs": "{\"version\": \"2.0.0\"}"})).await;
    assert_eq!(started["state"]["computed"]["tag"], "v2.0.0");
    let (code, message) = agent.refused("workflow_start", json!({"workflow": "release:checklist", "inputs": "{version"})).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("`inputs` is a string but not JSON"), "{message}");
}

#[tokio::test]
async fn test_fix_loop_hands_failures_to_the_agent_until_green() {
    let root = temp_root();
    let agent = Agent::catalog(root.path()).await;
    // The "test suite" passes once the agent has created `fixed`.
    let id = agent.start("dev:test-fix-loop", json!({"test_command": "test -f fixed || { echo 'test it_works ... FAILED'; exit 1; }"})).await;
    let first = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(step_names(&first), ["announce:user_message", "ask_for_fix:agent_prompt"]);
    let prompt = last_step(&first)["definition"]["prompt"].as_str().expect("prompt");
    assert!(prompt.contains("attempt 1 of 5") && prompt.contains("test it_works ... FAILED"), "{prompt}");

    std::fs::write(root.path().join("fixed"), "").expect("the agent's fix");
    let next = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "ask_for_fix", "result": {"summary": "created the file"}})).await;
    assert_eq!(step_names(&next), ["record_fix:agent_response"]);
    let done = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "record_fix", "result": {"summary": "created fixed"}})).await;
    assert_eq!(step_names(&done), ["green:user_message"]);
    assert_eq!(done["completed"], true);
    assert_eq!(done["steps"][0]["definition"]["message"], "Tests pass after 1 fix attempt(s).");
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.last_fix", "this.passing", "this.exit_code"]})).await;
    assert_eq!(state["values"], json!({"this.last_fix": "created fixed", "this.passing": true, "this.exit_code": 0}));
    // A completed workflow answers with its completion every time after.
    let again = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!((again["completed"].clone(), again["status"].clone()), (json!(true), json!("completed")));
}

#[tokio::test]
async fn release_checklist_validates_answers_and_tags_with_a_tool_result() {
    let root = git_repo();
    let agent = Agent::catalog(root.path()).await;
    let id = agent.start("release:checklist", json!({"version": "1.4.0", "test_command": "true"})).await;
    let first = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(step_names(&first), ["bump_version:agent_prompt"]);
    // A reply that misses the prompt's expected_response is asked for again, with the reason.
    let again = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "bump_version", "result": "done"})).await;
    assert_eq!((step_names(&again), last_step(&again)["attempt"].clone()), (vec!["bump_version:agent_prompt".to_owned()], json!(2)));
    assert!(last_step(&again)["definition"]["error"].as_str().is_some_and(|e| e.contains("response schema")), "{again}");
    let next = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "bump_version", "result": {"files": ["Cargo.toml"]}})).await;
    assert_eq!(step_names(&next), ["record_bump:agent_response"]);
    // A reply that breaks the response schema is asked again, then fails the step (and so the
    // workflow) — tested on another instance below; here the reply is right.
    let sign_off = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "record_bump", "result": {"files": ["Cargo.toml"]}})).await;
    assert_eq!(step_names(&sign_off), ["sign_off:user_input"]);
    assert_eq!(last_step(&sign_off)["definition"]["prompt"], "Tests pass. Approve release v1.4.0?");
    // An answer outside the choices is asked again, with the reason and the attempt.
    let again = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "sign_off", "result": "maybe"})).await;
    assert_eq!(last_step(&again)["attempt"], 2);
    assert!(last_step(&again)["definition"]["error"].as_str().is_some_and(|e| e.contains("approve")), "{again}");
    let tag = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "sign_off", "result": "approve"})).await;
    assert_eq!(step_names(&tag), ["tag_release:mcp_call"]);
    assert_eq!(last_step(&tag)["definition"]["parameters"], json!({"name": "v1.4.0", "message": "Release 1.4.0"}));
    let done = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "tag_release", "result": {"created": "v1.4.0"}})).await;
    assert_eq!(step_names(&done), ["done:user_message"]);
    assert_eq!(done["completed"], true);
    let status = agent.ok("workflow_get_status", json!({"workflow_id": id})).await;
    assert_eq!(status["status"], "completed");
    assert_eq!(status["state"]["approvals"], json!(["approve"]));
    assert_eq!(status["state"]["tag_result"], json!({"created": "v1.4.0"}));
    assert_eq!(status["state"]["bump"], json!({"files": ["Cargo.toml"]}));

    let other = agent.start("release:checklist", json!({"version": "1.5.0", "test_command": "true"})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": other})).await;
    agent.ok("workflow_submit_result", json!({"workflow_id": other, "step_id": "bump_version", "result": {"files": []}})).await;
    // A reply that breaks the response schema is asked for again three times (AroMCP's
    // default max_retries), then fails the step and the workflow.
    for attempt in 2..=4 {
        let again = agent.ok("workflow_submit_result", json!({"workflow_id": other, "step_id": "record_bump", "result": {"changed": []}})).await;
        assert_eq!((step_names(&again), last_step(&again)["attempt"].clone()), (vec!["record_bump:agent_response".to_owned()], json!(attempt)), "{again}");
    }
    let failed = agent.ok("workflow_submit_result", json!({"workflow_id": other, "step_id": "record_bump", "result": {"changed": []}})).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["step_id"], "record_bump");
    assert!(failed["error"]["message"].as_str().is_some_and(|m| m.contains("files")), "{failed}");
    // It stays failed: it never carries on after the failed step.
    let still = agent.ok("workflow_get_next_step", json!({"workflow_id": other})).await;
    assert_eq!((still["status"].clone(), still["error"]["step_id"].clone()), (json!("failed"), json!("record_bump")));
}

#[tokio::test]
async fn parallel_review_fans_out_one_sub_agent_per_changed_file() {
    let root = git_repo();
    sh(root.path(), "git checkout -q -b feature && echo two >> a.txt && echo new > b.txt && mkdir vendor && echo v > vendor/c.txt && git add . && git commit -qm two");
    let agent = Agent::catalog(root.path()).await;
    let id = agent.start("code:parallel-review", json!({"base": "main"})).await;
    let first = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(step_names(&first), ["start:user_message", "review_files:parallel_foreach"]);
    let fan_out = &last_step(&first)["definition"];
    let tasks = fan_out["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[1]["inputs"], json!({"file_path": "b.txt", "base": "main"}));
    assert!(tasks[0]["prompt"].as_str().is_some_and(|p| p.contains("review_file.item0")), "{}", tasks[0]);
    for (i, (file, issues)) in [("a.txt", json!([{"line": 2, "problem": "unclear"}])), ("b.txt", json!([]))].into_iter().enumerate() {
        let task_id = format!("review_file.item{i}");
        let step = agent.ok("workflow_get_next_step", json!({"workflow_id": id, "task_id": task_id})).await;
        assert_eq!(step_names(&step), ["review:agent_prompt"]);
        let prompt = last_step(&step)["definition"]["prompt"].as_str().expect("prompt");
        assert!(prompt.contains(&format!("+{}", if file == "a.txt" { "two" } else { "new" })), "the diff is in the prompt: {prompt}");
        agent.ok("workflow_submit_result", json!({"workflow_id": id, "task_id": task_id, "step_id": "review", "result": {"issues": issues}})).await;
        let done = agent.ok("workflow_submit_result", json!({"workflow_id": id, "task_id": task_id, "step_id": "record", "result": {"issues": issues}})).await;
        assert_eq!(done["completed"], true, "{done}");
    }
    let summary = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(step_names(&summary), ["summary:user_message"]);
    assert_eq!(summary["steps"][0]["definition"]["message"], "Reviewed 2 file(s); 1 with findings:\n- a.txt: 1 issue(s)\n");
    assert_eq!(summary["completed"], true);
}

#[tokio::test]
async fn deps_report_runs_its_commands_on_the_server() {
    let root = temp_root();
    std::fs::write(
        root.path().join("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nserde = \"1\"\nregex = \"1\"\n",
    )
    .expect("a manifest");
    std::fs::create_dir(root.path().join("src")).expect("src");
    std::fs::write(root.path().join("src/lib.rs"), "").expect("lib.rs");
    let agent = Agent::catalog(root.path()).await;
    let id = agent.start("deps:report", json!({})).await;
    let report = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(step_names(&report), ["report:user_message"]);
    let message = report["steps"][0]["definition"]["message"].as_str().expect("message");
    assert!(message.starts_with("**2** direct dependencies"), "{message}");
    assert_eq!(report["completed"], true);
    // Without cargo-outdated the report says the versions were not checked, never "0 outdated".
    let has_outdated = std::process::Command::new("cargo").args(["outdated", "--version"]).output().is_ok_and(|o| o.status.success());
    if has_outdated {
        assert!(message.contains(" outdated, **"), "{message}");
    } else {
        assert!(message.contains("outdated versions not checked") && !message.contains("outdated, **"), "{message}");
    }
}

#[tokio::test]
async fn release_checklist_stops_when_the_person_will_not_release_a_dirty_tree() {
    let root = git_repo();
    std::fs::write(root.path().join("wip.txt"), "unfinished").expect("a change");
    let agent = Agent::catalog(root.path()).await;
    let id = agent.start("release:checklist", json!({"version": "2.0.0", "test_command": "touch tests_ran"})).await;
    let asked = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(step_names(&asked), ["dirty_tree:user_message", "continue_dirty:user_input"]);
    let stopped = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "continue_dirty", "result": "no"})).await;
    assert_eq!(step_names(&stopped), ["kept_dirty:user_message"], "{stopped}");
    assert!(stopped["steps"][0]["definition"]["message"].as_str().is_some_and(|m| m.contains("stopped")), "{stopped}");
    assert_eq!(stopped["completed"], true);
    assert!(!root.path().join("tests_ran").exists(), "nothing ran after the refusal");
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id})).await;
    assert_eq!((state["state"]["release_dirty"].clone(), state["state"]["approvals"].clone()), (json!(false), json!([])));
}

#[tokio::test]
async fn shell_values_are_quoted_and_hung_commands_are_killed() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let hostile = "x'; touch pwned; echo '$(touch pwned2)`touch pwned3`\" ; touch pwned4 ; \"";
    let id = agent.start("serve:shell", json!({"name": hostile})).await;
    let started = Instant::now();
    let answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert!(started.elapsed() < Duration::from_secs(10), "the 1 s timeout killed `sleep 30` ({:?})", started.elapsed());
    assert_eq!(step_names(&answer), ["confirm:user_input"]);
    for file in ["pwned", "pwned2", "pwned3", "pwned4"] {
        assert!(!root.path().join(file).exists(), "{file} was created: the value was run as a command");
    }
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id})).await;
    assert_eq!(state["state"]["echoed"], hostile);
    assert_eq!(state["state"]["quoted"], format!("hello {hostile}"), "inside the author's double quotes too");
    assert_eq!(state["state"]["slow_exit"], Json::Null, "a killed command has no exit code");

    // A write of the wrong type is refused, naming the path and both types; nothing changes.
    let (code, message) = agent.refused("workflow_update_state", json!({"workflow_id": id, "updates": [{"path": "this.echoed", "value": "ok"}, {"path": "this.slow_exit", "value": "soon"}]})).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("this.slow_exit") && message.contains("number") && message.contains("string"), "{message}");
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.echoed"]})).await;
    assert_eq!(state["values"]["this.echoed"], hostile);
    let (_, message) = agent.refused("workflow_update_state", json!({"workflow_id": id, "updates": [{"path": "computed.x", "value": 1}]})).await;
    assert!(message.contains("computed field"), "{message}");

    // Implicit completion (AroMCP's way): write the answer, then ask for the next step.
    agent.ok("workflow_update_state", json!({"workflow_id": id, "updates": [{"path": "this.slow_exit", "value": 7}]})).await;
    let done = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(done["completed"], true);
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.slow_exit"]})).await;
    assert_eq!(state["values"]["this.slow_exit"], 7);
}

#[tokio::test]
async fn twenty_sub_agents_run_three_at_a_time_and_share_global_state() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let id = agent.start("serve:fan-out", json!({})).await;
    let first = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    let fan_out = last_step(&first);
    assert_eq!(fan_out["type"], "parallel_foreach");
    let first_wave: Vec<&str> = fan_out["definition"]["tasks"].as_array().expect("tasks").iter().filter_map(|t| t["task_id"].as_str()).collect();
    assert_eq!(first_wave, ["square.item0", "square.item1", "square.item2"]);
    assert_eq!(fan_out["definition"]["progress"]["total"], 20);
    let (code, message) = agent.refused("workflow_get_next_step", json!({"workflow_id": id, "task_id": "square.item3"})).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("not handed out yet"), "{message}");
    let (code, _) = agent.refused("workflow_get_next_step", json!({"workflow_id": id, "task_id": "square.item99"})).await;
    assert_eq!(code, "NOT_FOUND");

    // The parent waits while tasks run; each wait lists the tasks released since.
    let mut queue: Vec<String> = first_wave.iter().map(|t| (*t).to_owned()).collect();
    let mut handed = queue.len();
    while let Some(task_id) = queue.pop() {
        let step = agent.ok("workflow_get_next_step", json!({"workflow_id": id, "task_id": task_id})).await;
        let call = last_step(&step);
        assert_eq!(call["type"], "mcp_call");
        let n = call["definition"]["parameters"]["n"].as_f64().expect("n");
        if task_id == "square.item4" {
            // One sub-agent cannot do its step: its task fails, the others go on.
            let failed = agent.ok("workflow_submit_result", json!({"workflow_id": id, "task_id": task_id, "step_id": "compute", "error": "tool unavailable"})).await;
            assert_eq!((failed["status"].clone(), failed["error"]["message"].clone()), (json!("failed"), json!("tool unavailable")));
        } else {
            let done = agent.ok("workflow_submit_result", json!({"workflow_id": id, "task_id": task_id, "step_id": "compute", "result": {"value": n * n}})).await;
            assert_eq!(done["completed"], true, "{done}");
            let task = agent.ok("workflow_state_read", json!({"workflow_id": id, "task_id": task_id})).await;
            assert_eq!(task["state"]["doubled"].as_f64(), Some(2.0 * n * n), "the task's own computed field");
        }
        let parent = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
        if handed < 20 {
            let wait = last_step(&parent);
            assert_eq!(wait["type"], "wait_step");
            let fresh: Vec<String> = wait["definition"]["tasks"].as_array().expect("tasks").iter().filter_map(|t| t["task_id"].as_str().map(str::to_owned)).collect();
            assert_eq!(fresh.len(), 1, "one task ended, one more is released: {wait}");
            handed += fresh.len();
            queue.extend(fresh);
        } else if !queue.is_empty() {
            assert_eq!(last_step(&parent)["type"], "wait_step");
        } else {
            assert_eq!(step_names(&parent), ["report:user_message"]);
            assert_eq!(parent["steps"][0]["definition"]["message"], "squares: sum=2845, square.item4 failed");
            assert_eq!(parent["completed"], true);
            let results = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.results"]})).await;
            let results = results["values"]["this.results"].as_array().expect("stored outcomes").clone();
            let order: Vec<&str> = results.iter().filter_map(|r| r["task_id"].as_str()).collect();
            assert_eq!(order, (0..20).map(|i| format!("square.item{i}")).collect::<Vec<_>>(), "in item order");
            assert_eq!(results[2]["state"]["square"], 9);
            assert_eq!(results[4]["error"]["step_id"], "compute");
        }
    }
    assert_eq!(handed, 20);
}

#[tokio::test]
async fn unknown_ids_wrong_steps_and_cancelled_instances_get_clear_errors() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let (code, message) = agent.refused("workflow_get_next_step", json!({"workflow_id": "wf_nope"})).await;
    assert_eq!((code.as_str(), message.as_str()), ("NOT_FOUND", "no workflow instance `wf_nope`"));
    let (code, message) = agent.refused("workflow_get_next_step", json!({})).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("missing field `workflow_id`"), "{message}");
    let (code, _) = agent.refused("workflow_unknown", json!({})).await;
    assert_eq!(code, "NOT_FOUND");

    let id = agent.start("serve:fan-out", json!({"count": 2})).await;
    let (_, message) = agent.refused("workflow_submit_result", json!({"workflow_id": id, "step_id": "fan_out", "result": 1})).await;
    assert!(message.contains("call workflow_get_next_step first"), "{message}");
    agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    let (_, message) = agent.refused("workflow_submit_result", json!({"workflow_id": id, "step_id": "report", "result": 1})).await;
    assert!(message.contains("sub-agent tasks of `fan_out`"), "{message}");
    let active = agent.ok("workflow_list_active", json!({})).await;
    assert!(active["workflows"].as_array().expect("list").iter().any(|w| w["workflow_id"] == id.as_str()));
    let deps = agent.ok("workflow_state_dependencies", json!({"workflow_id": id, "field": "sum_label"})).await;
    assert_eq!(deps["computed"][0]["dependencies"], json!(["global.sum"]));
    agent.ok("workflow_cancel", json!({"workflow_id": id})).await;
    let answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(answer["status"], "cancelled");
    let (_, message) = agent.refused("workflow_get_next_step", json!({"workflow_id": id, "task_id": "square.item0"})).await;
    assert!(message.contains("was cancelled; its tasks take no more steps"), "{message}");
    let (_, message) = agent.refused("workflow_cancel", json!({"workflow_id": id})).await;
    assert!(message.contains("already cancelled"), "{message}");
    let active = agent.ok("workflow_list_active", json!({})).await;
    assert!(!active["workflows"].as_array().expect("list").iter().any(|w| w["workflow_id"] == id.as_str()));
}

#[tokio::test]
async fn authoring_tools_validate_evaluate_and_draw() {
    let root = temp_root();
    let agent = Agent::catalog(root.path()).await;
    let invalid = agent.ok("workflow_validate", json!({"yaml": "name: \"a:b\"\ndescription: d\nversion: \"1\"\nsteps:\n  - id: x\n    type: nope\n"})).await;
    assert_eq!(invalid["valid"], false);
    assert!(invalid["diagnostics"].to_string().contains("nope"), "{invalid}");
    let output = agent.ok("workflow_test_transformation", json!({"transform": "input.filter(x => x > 1).length", "input": [1, 2, 3]})).await;
    assert_eq!(output["output"], 2);
    let (code, message) = agent.refused("workflow_test_transformation", json!({"transform": "eval('1')", "input": null})).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("eval"), "{message}");
    let graph = agent.ok("workflow_graph", json!({"workflow": "dev:test-fix-loop"})).await;
    assert!(graph["mermaid"].as_str().is_some_and(|m| m.starts_with("flowchart TD")), "{graph}");
}

#[tokio::test]
async fn corpus_workflows_are_served_straight_from_the_shared_corpus() {
    let Some(corpus) = cases::corpus_dir() else { return };
    let root = temp_root();
    let agent = Agent::serve(root.path(), &["--dev", corpus.to_str().expect("utf-8")]).await;
    let listed = agent.ok("workflow_list", json!({})).await;
    let names: Vec<&str> = listed["workflows"].as_array().expect("workflows").iter().filter_map(|w| w["name"].as_str()).collect();
    assert!(names.contains(&"test:simple") && names.contains(&"test:sub-agents"), "{listed}");
    assert!(listed["workflows"].as_array().expect("workflows").iter().all(|w| w["source"] == "dev"));

    let (_, message) = agent.refused("workflow_start", json!({"workflow": "test:simple"})).await;
    assert!(message.contains("needs the input `name`"), "{message}");
    let id = agent.start("test:simple", json!({"name": "ada"})).await;
    let answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(step_names(&answer), ["show_counter:user_message"]);
    assert_eq!(answer["steps"][0]["definition"]["message"], "Counter is 5, doubled is 10");
    assert_eq!(answer["completed"], true);
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.message"]})).await;
    assert_eq!(state["values"]["this.message"], "Hello from workflow\n");
}

#[tokio::test]
async fn over_http_many_clients_drive_their_own_instances_at_once() {
    let root = temp_root();
    let server = HttpServer::start(root.path()).await;
    // Eight clients, each driving an instance of its own, at once, through one server: each
    // instance's tasks, answers and shared sum stay its own.
    let mut agents = Vec::new();
    for _ in 0..8 {
        agents.push(server.connect().await);
    }
    let runs = agents.into_iter().zip(1..=8).map(|(agent, count): (Agent, u32)| {
        tokio::spawn(async move {
            let id = agent.start("serve:fan-out", json!({"count": count})).await;
            let first = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
            let mut pending: Vec<String> = last_step(&first)["definition"]["tasks"].as_array().expect("tasks").iter().filter_map(|t| t["task_id"].as_str().map(str::to_owned)).collect();
            let mut answer = Json::Null;
            while let Some(task_id) = pending.pop() {
                let step = agent.ok("workflow_get_next_step", json!({"workflow_id": id, "task_id": task_id})).await;
                let n = last_step(&step)["definition"]["parameters"]["n"].as_f64().expect("n");
                agent.ok("workflow_submit_result", json!({"workflow_id": id, "task_id": task_id, "step_id": "compute", "result": {"value": n * n}})).await;
                answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
                if let Some(fresh) = answer["steps"][0]["definition"]["tasks"].as_array() {
                    pending.extend(fresh.iter().filter_map(|t| t["task_id"].as_str().map(str::to_owned)));
                }
            }
            let expected: u32 = (1..=count).map(|n| n * n).sum();
            assert_eq!(answer["steps"][0]["definition"]["message"], format!("squares: sum={expected}, none failed"), "count {count}: {answer}");
        })
    });
    for run in runs.collect::<Vec<_>>() {
        run.await.expect("a client task");
    }
}

#[test]
fn http_refuses_a_non_loopback_address_without_allow_remote() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wfc")).args(["serve", "--http", "0.0.0.0:0"]).output().expect("run wfc");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address") && stderr.contains("--allow-remote"), "{stderr}");
}

#[tokio::test]
async fn dev_mode_rereads_edited_workflows_and_reports_broken_ones() {
    let root = temp_root();
    let dir = root.path().join("workflows");
    std::fs::create_dir(&dir).expect("a workflow directory");
    let file = dir.join("hello.yaml");
    let workflow = |message: &str| format!("name: \"dev:hello\"\ndescription: d\nversion: \"1\"\nsteps:\n  - id: greet\n    type: user_message\n    message: \"{message}\"\n");
    std::fs::write(&file, workflow("first version")).expect("write");
    let agent = Agent::serve(root.path(), &["--dev", dir.to_str().expect("utf-8")]).await;
    let greeting = |answer: &Json| answer["steps"][0]["definition"]["message"].as_str().unwrap_or_default().to_owned();
    let id = agent.start("dev:hello", json!({})).await;
    assert_eq!(greeting(&agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await), "first version");

    std::fs::write(&file, workflow("the edited, longer version")).expect("edit");
    let id = agent.start("dev:hello", json!({})).await;
    assert_eq!(greeting(&agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await), "the edited, longer version");

    std::fs::write(&file, "name: \"dev:hello\"\ndescription: d\nversion: \"1\"\nsteps:\n  - id: greet\n    type: user_mesage\n").expect("break");
    let listed = agent.ok("workflow_list", json!({})).await;
    assert_eq!(listed["count"], 0, "a broken workflow is not served: {listed}");
    let diagnostics = listed["invalid"][0]["diagnostics"].as_str().expect("diagnostics");
    assert!(diagnostics.contains("hello.yaml:6:11") && diagnostics.contains("user_message"), "{diagnostics}");
    let (code, message) = agent.refused("workflow_start", json!({"workflow": "dev:hello"})).await;
    assert_eq!(code, "NOT_FOUND");
    assert!(message.contains("has errors and is not served"), "{message}");
}

#[tokio::test]
async fn a_task_write_to_global_that_the_workflow_refuses_changes_nothing() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let id = agent.start("serve:guarded-global", json!({})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    let task = json!("worker.item0");
    let write = |value: i32| json!({"workflow_id": id, "task_id": task, "updates": [{"path": "this.note", "value": "set"}, {"path": "global.limit", "value": value}]});
    let (code, message) = agent.refused("workflow_update_state", write(50)).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("refused the write to global") && message.contains("checked_limit"), "{message}");
    let task_state = agent.ok("workflow_state_read", json!({"workflow_id": id, "task_id": task})).await;
    assert_eq!((task_state["state"].clone(), task_state["tiers"]["global"].clone()), (json!({}), json!({})), "the task is as it was");
    agent.ok("workflow_update_state", write(5)).await;
    let workflow = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.checked_limit", "global.limit"]})).await;
    assert_eq!(workflow["values"], json!({"this.checked_limit": 5, "global.limit": 5}), "the workflow sees the task's write to global");
}

/// Sends SIGTERM to `child` and returns how it exited, failing after 10 s.
fn terminate(mut child: std::process::Child) -> std::process::ExitStatus {
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("wfc serve did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_stops_the_server_cleanly_on_both_transports() {
    use std::io::BufRead;
    let mut http = std::process::Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["serve", "--http", "127.0.0.1:0", "--store", "memory"])
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn wfc serve --http");
    let mut url = String::new();
    std::io::BufReader::new(http.stdout.take().expect("stdout")).read_line(&mut url).expect("the address line");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(terminate(http).code(), Some(0));

    // A stdio server that has answered `initialize` (so is serving), its stdin still open.
    let mut stdio = std::process::Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["serve", "--store", "memory"])
        .env("RUST_LOG", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn wfc serve");
    let mut stdin = stdio.stdin.take().expect("stdin");
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}"#;
    std::io::Write::write_all(&mut stdin, format!("{initialize}\n").as_bytes()).expect("write");
    let mut answer = String::new();
    std::io::BufReader::new(stdio.stdout.take().expect("stdout")).read_line(&mut answer).expect("the initialize answer");
    assert!(answer.contains(r#""serverInfo""#), "{answer}");
    assert_eq!(terminate(stdio).code(), Some(0));
    drop(stdin);
}

#[tokio::test]
async fn tasks_past_their_timeout_fail_and_a_workflow_past_its_own_fails_for_good() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let id = agent.start("serve:deadlines", json!({})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    let (_, message) = agent.refused("workflow_submit_result", json!({"workflow_id": id, "task_id": "slow.item0", "step_id": "answer", "result": "early"})).await;
    assert!(message.contains("task `slow.item0` waits for nothing yet"), "{message}");
    agent.ok("workflow_get_next_step", json!({"workflow_id": id, "task_id": "slow.item0"})).await;
    let done = agent.ok("workflow_submit_result", json!({"workflow_id": id, "task_id": "slow.item0", "step_id": "answer", "result": "quick"})).await;
    assert_eq!(done["completed"], true);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // The parallel_foreach's 1 s have passed: the unfinished task failed, the workflow went on.
    let next = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(step_names(&next), ["approve:user_input"]);
    let outcomes = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.outcomes"]})).await["values"]["this.outcomes"].clone();
    assert_eq!((outcomes[0]["status"].clone(), outcomes[1]["status"].clone()), (json!("completed"), json!("failed")));
    assert!(outcomes[1]["error"]["message"].as_str().is_some_and(|m| m.contains("parallel_foreach timeout_seconds")), "{outcomes}");
    tokio::time::sleep(Duration::from_millis(2000)).await;
    // The workflow's own 3 s have passed: it fails, naming the limit that fired.
    let late = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "approve", "result": "yes"})).await;
    assert_eq!(late["status"], "failed");
    assert_eq!(late["error"]["step_id"], "approve");
    assert!(late["error"]["message"].as_str().is_some_and(|m| m.contains("config.timeout_seconds")), "{late}");
}

#[tokio::test]
async fn a_near_time_limit_is_warned_of_once_in_the_next_answer_and_in_the_history() {
    let root = temp_root();
    let dir = repo().join("tests/fixtures/serve");
    // Warned of at a fifth of each limit: the fan-out's 1 s, the workflow's 3 s.
    let agent = Agent::serve(root.path(), &["--dev", dir.to_str().expect("utf-8"), "--limit-warning-at", "0.2"]).await;
    let id = agent.start("serve:deadlines", json!({"tasks": 1})).await;
    let limits = |answer: &Json| answer["warnings"].as_array().into_iter().flatten().map(|w| w["limit"].as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>();
    let first = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert!(limits(&first).is_empty(), "nothing is near yet: {first}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let near = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(limits(&near), ["parallel_foreach timeout_seconds"], "{near}");
    let warning = &near["warnings"][0];
    assert_eq!(warning["step_id"], "fan_out");
    assert!(warning["seconds_left"].as_f64().is_some_and(|left| left > 0.0 && left < 0.8), "{warning}");
    assert!(warning["message"].as_str().is_some_and(|m| m.contains("step `fan_out` has") && m.contains("left of its 1 s")), "{warning}");
    let again = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert!(limits(&again).is_empty(), "each limit is said once: {again}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(limits(&later), ["config.timeout_seconds"], "{later}");
    let history = agent.ok("workflow_history", json!({"workflow_id": id})).await;
    let recorded: Vec<Json> = history["events"].as_array().expect("events").iter().filter(|e| e["kind"] == "limit_near").map(|e| e["detail"]["limit"].clone()).collect();
    assert_eq!(recorded, [json!("parallel_foreach timeout_seconds"), json!("config.timeout_seconds")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_texts_are_split_into_parts_in_order_or_truncated_with_a_note() {
    let root = temp_root();
    let dir = repo().join("tests/fixtures/serve");
    let agent = Agent::serve(root.path(), &["--dev", dir.to_str().expect("utf-8"), "--max-message-bytes", "256"]).await;
    let id = agent.start("serve:long-text", json!({})).await;
    let answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    let steps = answer["steps"].as_array().expect("steps");
    let text = |step: &Json| step["definition"]["message"].as_str().or(step["definition"]["prompt"].as_str()).unwrap_or_default().to_owned();
    // The report in parts, each within the limit, in order, the whole text when joined.
    let report: Vec<&Json> = steps.iter().filter(|s| s["id"] == "report").collect();
    assert!(report.len() > 1 && report.iter().all(|s| text(s).len() <= 256), "{answer}");
    let expected: Vec<String> = (1..=40).map(|i| format!("report line {i}")).collect();
    assert_eq!(report.iter().map(|s| text(s)).collect::<String>(), expected.join("\n"));
    assert_eq!(report.last().map(|s| s["definition"]["part"].clone()), Some(json!({"index": report.len(), "of": report.len()})));
    // The prompt's leading parts come as messages before its step, which holds the last part.
    let brief: Vec<&Json> = steps.iter().filter(|s| s["id"] == "brief").collect();
    assert_eq!(steps.last().map(|s| s["type"].clone()), Some(json!("agent_prompt")), "{answer}");
    assert!(brief[..brief.len() - 1].iter().all(|s| s["type"] == "user_message" && s["definition"]["part_of"] == "prompt"), "{answer}");
    let expected: Vec<String> = (1..=40).map(|i| format!("brief line {i}")).collect();
    assert_eq!(brief.iter().map(|s| text(s)).collect::<String>(), expected.join("\n"));
    let prompt = steps.last().expect("the prompt").clone();
    let answer = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "brief", "sequence": prompt["sequence"], "result": "done"})).await;
    // The log, truncated with a note saying how much was left out.
    let log = &answer["steps"][0];
    assert_eq!(log["definition"]["truncated"], json!({"shown_bytes": 256, "total_bytes": 800}), "{answer}");
    assert!(text(log).starts_with(&"x".repeat(256)) && text(log).contains("256 of 800 bytes shown"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_history_entry_names_its_actor_and_the_audit_log_gets_each_as_a_json_line() {
    let root = temp_root();
    let audit = root.path().join("audit.jsonl");
    let server = HttpServer::start_with(root.path(), &["--audit-log".to_owned(), audit.display().to_string()], &[]).await;
    let agent = server.connect().await;
    let id = agent.start("serve:counter", json!({"iterations": 2})).await;
    assert_eq!(drive_to_end(&agent, &id, None).await["status"], "completed");
    let history = agent.ok("workflow_history", json!({"workflow_id": id})).await;
    let events = history["events"].as_array().expect("events").clone();
    let actor = &events[0]["actor"];
    assert_eq!(actor["kind"], "client", "{actor}");
    assert_eq!(actor["transport"], "http");
    assert!(actor["client"].as_str().is_some_and(|c| c.starts_with("rmcp ")), "the client as it named itself: {actor}");
    assert!(actor["remote_address"].as_str().is_some_and(|a| a.starts_with("127.0.0.1:")), "{actor}");
    assert!(actor["session"].as_str().is_some_and(|s| !s.is_empty()), "{actor}");
    // Every entry committed is in the audit log, in order, led by the instance and workflow.
    let text = std::fs::read_to_string(&audit).expect("the audit log");
    let lines: Vec<Json> = text.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    assert_eq!(lines.len(), events.len(), "{text}");
    for (line, event) in lines.iter().zip(&events) {
        assert_eq!((&line["workflow_id"], &line["workflow_name"]), (&json!(id), &json!("serve:counter")));
        assert_eq!((&line["seq"], &line["kind"], &line["actor"]), (&event["seq"], &event["kind"], &event["actor"]));
    }
    server.kill().await;
    // On stdio there is no session or address, and `wfc run` is the person at the terminal.
    let agent = Agent::fixtures(root.path()).await;
    let id = agent.start("serve:counter", json!({"iterations": 1})).await;
    let history = agent.ok("workflow_history", json!({"workflow_id": id})).await;
    assert_eq!(history["events"][0]["actor"]["transport"], "stdio", "{history}");
    assert!(history["events"][0]["actor"].get("remote_address").is_none(), "{history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_come_from_flags_then_the_environment_then_wfc_toml_and_sighup_reloads_them() {
    use tokio::io::AsyncBufReadExt;
    let root = temp_root();
    let config = root.path().join("wfc.toml");
    let served = root.path().join("served");
    std::fs::create_dir(&served).expect("mkdir");
    std::fs::copy(repo().join("tests/fixtures/serve/serve_counter.yaml"), served.join("counter.yaml")).expect("copy");
    std::fs::write(&config, "[serve]\nmax-active-instances = 1\nmax_tasks_per_step = 7\nstore = \"memory\"\n").expect("write");
    let log = root.path().join("stderr.log");
    // The environment beats the file: two instances, not one.
    let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["serve", "--http", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--workflows")
        .arg(&served)
        .env("WFC_MAX_ACTIVE_INSTANCES", "2")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("the log"))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn wfc serve");
    let mut url = String::new();
    tokio::io::BufReader::new(process.stdout.take().expect("stdout")).read_line(&mut url).await.expect("the address line");
    let server = HttpServer { url: url.trim().to_owned(), process };
    let agent = server.connect().await;
    let first = agent.start("serve:counter", json!({})).await;
    agent.start("serve:counter", json!({})).await;
    let (code, message) = agent.refused("workflow_start", json!({"workflow": "serve:counter"})).await;
    assert_eq!(code, "LIMIT_EXCEEDED", "{message}");

    // SIGHUP after the file changed: a limit the environment does not set (message size), a
    // new workflow in the served directory, and a setting that takes a restart (the store).
    std::fs::write(&config, "[serve]\nmax-active-instances = 1\nmax-tasks-per-step = 7\nstore = \"other.db\"\nmax-message-bytes = 300\n").expect("write");
    std::fs::copy(repo().join("tests/fixtures/serve/serve_long_text.yaml"), served.join("long_text.yaml")).expect("copy");
    let pid = server.process.id().expect("a pid").to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    let started = Instant::now();
    let names = loop {
        let listed = agent.ok("workflow_list", json!({})).await;
        let names: Vec<String> = listed["workflows"].as_array().expect("workflows").iter().filter_map(|w| w["name"].as_str().map(str::to_owned)).collect();
        if names.len() == 2 || started.elapsed() > Duration::from_secs(5) {
            break names;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(names, ["serve:counter", "serve:long-text"], "the directory is read again");
    agent.ok("workflow_cancel", json!({"workflow_id": first})).await;
    let id = agent.start("serve:long-text", json!({})).await;
    let answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    let parts: Vec<usize> = answer["steps"].as_array().expect("steps").iter().filter(|s| s["id"] == "report").map(|s| s["definition"]["message"].as_str().unwrap_or_default().len()).collect();
    assert!(parts.len() > 1 && parts.iter().all(|len| *len <= 300), "the new --max-message-bytes: {parts:?}");
    let text = std::fs::read_to_string(&log).expect("the log");
    assert!(text.contains("SIGHUP: reloaded limits, log filter, 2 workflow(s) from"), "{text}");
    assert!(text.contains("not reloaded, restart to apply: store"), "{text}");
    server.kill().await;
}

/// A scripted agent's answer to a step, by its type (the same shapes the differential test's
/// client gives); a tool call with a number `n` gets its square.
fn scripted_result(step: &Json) -> Json {
    let definition = &step["definition"];
    match (step["type"].as_str().unwrap_or_default(), definition["input_type"].as_str()) {
        ("mcp_call", _) if definition["parameters"]["n"].is_number() => json!({"value": definition["parameters"]["n"].as_f64().unwrap_or(0.0).powi(2)}),
        ("mcp_call", _) => json!({"ok": true, "count": 2, "items": ["x", "y"], "success": true, "data": {"files": ["a.ts"]}}),
        ("user_input", Some("number")) => json!("7"),
        ("user_input", Some("boolean")) => json!("yes"),
        ("user_input", Some("choice")) => definition["choices"][0].clone(),
        ("user_input", _) => json!("an answer"),
        ("agent_prompt" | "agent_response", _) => json!({"summary": {"score": 3, "text": "fine"}, "files": ["a.rs"], "fixed": true, "issues": []}),
        ("shell_command", _) => json!({"stdout": "a.rs\n", "stderr": "", "exit_code": 0}),
        _ => json!("done"),
    }
}

/// How an agent misbehaves: not at all, or as a small deterministic random source (a linear
/// congruential generator) decides — the same seed gives the same duplicated and retried
/// calls, so a failure is reproduced by its seed.
struct Chaos(Option<u64>);

impl Chaos {
    /// Whether to misbehave now, with probability `1/n`.
    fn one_in(&mut self, n: u64) -> bool {
        let Some(state) = &mut self.0 else { return false };
        *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (*state >> 33) % n == 0
    }
}

/// Drives an instance (or one task) to its end with scripted answers, sub-agent tasks included;
/// returns the last answer.
async fn drive_to_end(agent: &Agent, id: &str, task: Option<&str>) -> Json {
    drive_with_chaos(agent, id, task, &mut Chaos(None)).await
}

/// Drives an instance (or task) to its end like [`drive_to_end`], but as a flaky agent would:
/// it asks for the next step again before reporting a result, and reports results twice. A step
/// whose result is used must come back when asked past (same id, same sequence), and a result
/// reported again must get the first answer.
async fn drive_with_chaos(agent: &Agent, id: &str, task: Option<&str>, chaos: &mut Chaos) -> Json {
    let target = |extra: Json| {
        let mut arguments = json!({"workflow_id": id, "task_id": task});
        if task.is_none() {
            arguments.as_object_mut().map(|a| a.remove("task_id"));
        }
        for (key, value) in extra.as_object().into_iter().flatten() {
            arguments[key] = value.clone();
        }
        arguments
    };
    let mut answer = agent.ok("workflow_get_next_step", target(json!({}))).await;
    for _ in 0..2_000 {
        if answer["status"] != "running" {
            return answer;
        }
        let step = last_step(&answer).clone();
        match step["type"].as_str() {
            Some("parallel_foreach" | "wait_step") => {
                let tasks: Vec<String> = step["definition"]["tasks"].as_array().into_iter().flatten().filter_map(|t| t["task_id"].as_str().map(str::to_owned)).collect();
                for task in tasks {
                    let ended = Box::pin(drive_with_chaos(agent, id, Some(&task), chaos)).await;
                    assert_eq!(ended["status"], "completed", "task {task}: {ended}");
                }
                answer = agent.ok("workflow_get_next_step", target(json!({}))).await;
            }
            Some("user_message") | None => answer = agent.ok("workflow_get_next_step", target(json!({}))).await,
            Some(kind) => {
                if chaos.one_in(2) {
                    let again = agent.ok("workflow_get_next_step", target(json!({}))).await;
                    if matches!(kind, "user_input" | "agent_response") {
                        assert_eq!((last_step(&again)["id"].clone(), last_step(&again)["sequence"].clone()), (step["id"].clone(), step["sequence"].clone()), "{kind} asked past: {again}");
                    }
                    if last_step(&again)["id"] != step["id"] || last_step(&again)["sequence"] != step["sequence"] {
                        // Completed without its result: allowed only where nothing is lost.
                        answer = again;
                        continue;
                    }
                }
                let submitted = target(json!({"step_id": step["id"], "sequence": step["sequence"], "result": scripted_result(&step)}));
                answer = agent.ok("workflow_submit_result", submitted.clone()).await;
                if chaos.one_in(3) {
                    let repeated = agent.ok("workflow_submit_result", submitted).await;
                    assert_eq!(repeated, answer, "a result reported twice gets the first answer");
                }
            }
        }
    }
    panic!("{id} {task:?} did not end in 2,000 answers: {answer}");
}

/// The `host:port` of the server at `mcp_url` (`http://host:port/mcp`).
fn authority(mcp_url: &str) -> &str {
    mcp_url.trim_start_matches("http://").trim_end_matches("/mcp")
}

/// A plain HTTP/1.1 GET of `path` on the server at `mcp_url` (`http://host:port/mcp`): the
/// status code and the body.
async fn http_get(mcp_url: &str, path: &str) -> (u16, String) {
    let response = http_get_raw(mcp_url, path).await;
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// The whole HTTP response to `GET path`, status line and headers included.
async fn http_get_raw(mcp_url: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = authority(mcp_url);
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).await.expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("response");
    response
}

#[tokio::test]
async fn liveness_and_readiness_probes_say_whether_the_server_takes_work() {
    let root = temp_root();
    let server = HttpServer::start(root.path()).await;
    let (status, live) = http_get(&server.url, "/livez").await;
    assert_eq!((status, serde_json::from_str::<Json>(&live).expect("JSON")), (200, json!({"status": "live"})));
    let (status, ready) = http_get(&server.url, "/readyz").await;
    assert_eq!(status, 200, "{ready}");
    let ready: Json = serde_json::from_str(&ready).expect("JSON");
    assert_eq!((ready["status"].clone(), ready["running"].clone()), (json!("ready"), json!(0)));
    assert!(ready["workflows"].as_u64().is_some_and(|n| n > 1), "{ready}");

    // A directory whose every workflow is broken serves nothing: alive, not ready.
    let broken = root.path().join("broken");
    std::fs::create_dir(&broken).expect("a directory");
    std::fs::write(broken.join("bad.yaml"), "name: \"dev:bad\"\nsteps: []\n").expect("write");
    let empty = HttpServer::launch(root.path(), &["--dev".to_owned(), broken.display().to_string()]).await;
    assert_eq!(http_get(&empty.url, "/livez").await.0, 200);
    let (status, unready) = http_get(&empty.url, "/readyz").await;
    assert_eq!(status, 503, "{unready}");
    assert!(unready.contains("no workflow is served"), "{unready}");
}

#[tokio::test]
async fn http_exposes_health_and_prometheus_metrics() {
    let root = temp_root();
    let server = HttpServer::start(root.path()).await;
    let (status, body) = http_get(&server.url, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""running":0"#), "{body}");
    let raw = http_get_raw(&server.url, "/healthz").await.to_ascii_lowercase();
    assert!(raw.contains("content-type: application/json"), "JSON labelled as JSON: {raw}");
    let agent = server.connect().await;
    let done = agent.start("serve:shell", json!({"name": "x"})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": done})).await;
    agent.ok("workflow_submit_result", json!({"workflow_id": done, "step_id": "confirm", "result": "3"})).await;
    let running = agent.start("serve:counter", json!({})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": running})).await;
    let (status, metrics) = http_get(&server.url, "/metrics").await;
    assert_eq!(status, 200);
    for expected in [
        r#"wfc_instances_started_total{workflow="serve:shell"} 1"#,
        r#"wfc_instances_ended_total{workflow="serve:shell",status="completed"} 1"#,
        "wfc_instances_active 1",
        r#"wfc_shell_timeouts_total 1"#,
        r#"wfc_step_seconds_count{type="user_input"} 1"#,
        r#"wfc_tool_call_seconds_bucket{tool="workflow_get_next_step","#,
        "wfc_shell_seconds_count 3",
        "wfc_store_commit_seconds_count",
    ] {
        assert!(metrics.contains(expected), "no `{expected}` in\n{metrics}");
    }
}

#[tokio::test]
async fn a_wait_step_past_its_timeout_fails_the_workflow_naming_the_limit() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let prompt = agent.start("serve:wait", json!({})).await;
    assert_eq!(step_names(&agent.ok("workflow_get_next_step", json!({"workflow_id": prompt})).await), ["pause:wait_step"]);
    assert_eq!(step_names(&agent.ok("workflow_get_next_step", json!({"workflow_id": prompt})).await), ["ask:user_input"]);

    let late = agent.start("serve:wait", json!({})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": late})).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let answer = agent.ok("workflow_get_next_step", json!({"workflow_id": late})).await;
    assert_eq!((answer["status"].clone(), answer["error"]["step_id"].clone()), (json!("failed"), json!("pause")));
    assert!(answer["error"]["message"].as_str().is_some_and(|m| m.contains("wait_step timeout_seconds")), "{answer}");
}

#[tokio::test]
async fn a_flaky_shell_command_is_retried_with_backoff_until_it_succeeds() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let id = agent.start("serve:retry", json!({})).await;
    let started = Instant::now();
    let answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    let elapsed = started.elapsed();
    assert_eq!(answer["completed"], true, "{answer}");
    assert_eq!(std::fs::read_to_string(root.path().join("tries")).expect("the command's counter").trim(), "3");
    // Two waits: 0.2 s, then 0.4 s, each within ±20 %.
    assert!(elapsed >= Duration::from_millis(480), "backed off: {elapsed:?}");
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.exit_code"]})).await;
    assert_eq!(state["values"]["this.exit_code"], 0);
}

/// Drives an instance in serial mode to its end: one step per answer, sub-agent tasks' steps
/// among the workflow's (with their `task_id`), every result submitted as the workflow's.
async fn drive_serially(agent: &Agent, id: &str) -> Json {
    let mut answer = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    for _ in 0..5_000 {
        if answer["status"] != "running" {
            return answer;
        }
        let steps = answer["steps"].as_array().cloned().unwrap_or_default();
        assert!(steps.len() <= 1, "serial mode hands out one step at a time: {answer}");
        let step = steps.first().cloned().unwrap_or_default();
        assert_ne!(step["type"], "parallel_foreach", "serial mode never asks for sub-agents");
        if step["task_id"].is_string() {
            assert!(step["instructions"].as_str().is_some_and(|i| i.contains("do not start sub-agents")), "{step}");
        }
        answer = match step["type"].as_str() {
            Some("user_message" | "wait_step") | None => agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await,
            Some(_) => {
                let submit = json!({"workflow_id": id, "step_id": step["id"], "sequence": step["sequence"], "result": scripted_result(&step)});
                agent.ok("workflow_submit_result", submit).await
            }
        };
    }
    panic!("{id} did not end in 5,000 answers: {answer}");
}

/// The workflow's state tiers and every task's, by task id.
async fn all_states(agent: &Agent, id: &str, tasks: &[String]) -> Json {
    let mut states = serde_json::Map::new();
    states.insert("workflow".to_owned(), agent.ok("workflow_state_read", json!({"workflow_id": id})).await["tiers"].clone());
    for task in tasks {
        states.insert(task.clone(), agent.ok("workflow_state_read", json!({"workflow_id": id, "task_id": task})).await["tiers"].clone());
    }
    Json::Object(states)
}

#[tokio::test]
async fn serial_mode_reaches_the_same_states_as_parallel_sub_agents() {
    let mut runs = vec![(repo().join("tests/fixtures/serve"), "serve:fan-out", json!({"count": 5}), (0..5).map(|i| format!("square.item{i}")).collect::<Vec<_>>())];
    runs.extend(cases::corpus_dir().map(|corpus| (corpus, "test:sub-agents", json!({}), Vec::new())));
    for (dir, workflow, inputs, tasks) in runs {
        let root = temp_root();
        let dev = ["--dev", dir.to_str().expect("utf-8")];
        let parallel = Agent::serve(root.path(), &dev).await;
        let serial = Agent::serve(root.path(), &[&dev[..], &["--serial"]].concat()).await;
        let in_parallel = parallel.start(workflow, inputs.clone()).await;
        let ended = drive_to_end(&parallel, &in_parallel, None).await;
        assert_eq!(ended["status"], "completed", "{workflow} in parallel: {ended}");
        let in_serial = serial.start(workflow, inputs).await;
        let ended = drive_serially(&serial, &in_serial).await;
        assert_eq!(ended["status"], "completed", "{workflow} serially: {ended}");
        let tasks = if tasks.is_empty() {
            let total = parallel.ok("workflow_get_status", json!({"workflow_id": in_parallel})).await["tasks"]["total"].as_u64().expect("tasks");
            let name = parallel.ok("workflow_get_info", json!({"workflow": workflow})).await["sub_agent_tasks"][0].as_str().expect("a task").to_owned();
            (0..total).map(|i| format!("{name}.item{i}")).collect()
        } else {
            tasks
        };
        assert!(!tasks.is_empty());
        assert_eq!(all_states(&serial, &in_serial, &tasks).await, all_states(&parallel, &in_parallel, &tasks).await, "{workflow}");
    }
}

#[tokio::test]
async fn a_directory_of_workflows_is_served_without_a_build_and_refused_whole_if_one_is_broken() {
    let root = temp_root();
    let dir = repo().join("tests/fixtures/serve");
    let agent = Agent::serve(root.path(), &["--workflows", dir.to_str().expect("utf-8")]).await;
    let listed = agent.ok("workflow_list", json!({})).await;
    let sources: Vec<&str> = listed["workflows"].as_array().expect("workflows").iter().filter_map(|w| w["source"].as_str()).collect();
    assert!(!sources.is_empty() && sources.iter().all(|s| *s == "directory"), "{listed}");
    let id = agent.start("serve:counter", json!({"iterations": 1})).await;
    let tick = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    let done = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": last_step(&tick)["id"], "result": {"by": 1}})).await;
    assert_eq!(done["completed"], true, "{done}");
    // Drawn from its file, not read as YAML text.
    let graph = agent.ok("workflow_graph", json!({"workflow": "serve:counter"})).await;
    assert!(graph["mermaid"].as_str().is_some_and(|m| m.starts_with("flowchart TD") && m.contains("tick")), "{graph}");

    let broken = std::process::Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["serve", "--store", "memory", "--workflows"])
        .arg(repo().join("tests/fixtures/invalid"))
        .stdin(Stdio::null())
        .output()
        .expect("wfc serve");
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert_eq!(broken.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unknown_step_type.yaml:7:11") && stderr.contains("not serving"), "the diagnostics, then why: {stderr}");
}

#[tokio::test]
async fn every_workflow_is_a_prompt_whose_message_starts_it_with_the_arguments() {
    use rmcp::model::GetPromptRequestParams;
    let root = temp_root();
    let agent = Agent::catalog(root.path()).await;
    let prompts = agent.service.peer().list_all_prompts().await.expect("prompts/list");
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 7, "{names:?}");
    assert!(names.iter().all(|n| !n.contains(':')), "names clients accept as commands: {names:?}");
    let release = prompts.iter().find(|p| p.name == "release-checklist").expect("release:checklist as a prompt");
    let arguments = release.arguments.as_ref().expect("arguments");
    let version = arguments.iter().find(|a| a.name == "version").expect("the version argument");
    assert_eq!(version.required, Some(true));
    assert_eq!(arguments.iter().find(|a| a.name == "test_command").and_then(|a| a.required), Some(false));

    let Json::Object(given) = json!({"version": "1.4.0"}) else { unreachable!() };
    let filled = agent.service.peer().get_prompt(GetPromptRequestParams::new("release-checklist").with_arguments(given)).await.expect("prompts/get");
    let text = serde_json::to_value(&filled.messages[0].content).expect("JSON")["text"].as_str().unwrap_or_default().to_owned();
    assert!(text.contains(r#"workflow_start with {"workflow":"release:checklist","inputs":{"version":"1.4.0"}}"#), "{text}");
    assert!(text.contains("workflow_get_next_step") && text.contains("completed: true"), "{text}");
    // A typed input gets its type; a missing required one is refused.
    let Json::Object(given) = json!({"iterations": "3"}) else { unreachable!() };
    let fixtures = Agent::fixtures(root.path()).await;
    let counter = fixtures.service.peer().get_prompt(GetPromptRequestParams::new("serve-counter").with_arguments(given)).await.expect("prompts/get");
    let text = serde_json::to_value(&counter.messages[0].content).expect("JSON")["text"].as_str().unwrap_or_default().to_owned();
    assert!(text.contains(r#""iterations":3"#), "a number, not text: {text}");
    let refused = agent.service.peer().get_prompt(GetPromptRequestParams::new("release-checklist")).await;
    assert!(refused.is_err_and(|e| e.to_string().contains("needs the argument `version`")));
}
