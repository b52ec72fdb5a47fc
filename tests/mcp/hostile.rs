//! The server under attack, over loopback only: each test sends what a hostile client would
//! and passes when the answer is a clear refusal and the server still answers the next request.
//! docs/security.md lists what each limit protects.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

use super::{Agent, HttpServer, authority, http_get, temp_root};

/// A token long enough for the server to accept.
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// One raw HTTP/1.1 request to the server at `mcp_url`; the status and the body.
fn raw_request(mcp_url: &str, request: &str) -> (u16, String) {
    let host = authority(mcp_url);
    let mut stream = TcpStream::connect(host).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream.write_all(request.replace("HOST", host).as_bytes()).expect("request");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    (status, response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default())
}

/// `GET /healthz` on a connection of its own.
const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: HOST\r\nConnection: close\r\n\r\n";

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

fn post_initialize(extra_headers: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: HOST\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{INITIALIZE}",
        INITIALIZE.len()
    )
}

#[tokio::test]
async fn every_route_wants_the_token_when_one_is_set() {
    let root = temp_root();
    let server = HttpServer::start_with(root.path(), &[], &[("WFC_AUTH_TOKEN", TOKEN)]).await;
    let url = server.url.clone();
    let checks = tokio::task::spawn_blocking(move || {
        let get = |path: &str, auth: &str| raw_request(&url, &format!("GET {path} HTTP/1.1\r\nHost: HOST\r\n{auth}Connection: close\r\n\r\n")).0;
        assert_eq!(get("/metrics", ""), 401, "no token");
        assert_eq!(get("/metrics", "Authorization: Bearer wrong-token-of-some-length\r\n"), 401, "a wrong token");
        assert_eq!(get("/metrics", &format!("Authorization: Bearer {TOKEN}\r\n")), 200);
        for probe in ["/healthz", "/livez", "/readyz"] {
            assert_eq!(get(probe, ""), 200, "{probe}: probes need no token");
        }
        assert_eq!(raw_request(&url, &post_initialize("")).0, 401, "MCP itself wants it");
        let (status, body) = raw_request(&url, &post_initialize(&format!("Authorization: Bearer {TOKEN}\r\n")));
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"serverInfo\""), "{body}");
    });
    checks.await.expect("checks");
}

#[test]
fn allow_remote_refuses_to_start_without_a_token() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["serve", "--http", "0.0.0.0:0", "--allow-remote", "--store", "memory"])
        .env_remove("WFC_AUTH_TOKEN")
        .output()
        .expect("run wfc");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--auth-token-file") && stderr.contains("WFC_AUTH_TOKEN"), "{stderr}");
    let short = std::process::Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["serve", "--http", "127.0.0.1:0", "--store", "memory"])
        .env("WFC_AUTH_TOKEN", "short")
        .output()
        .expect("run wfc");
    assert_eq!(short.status.code(), Some(2), "a guessable token is refused");
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused_on_every_route() {
    let root = temp_root();
    let server = HttpServer::start(root.path()).await;
    let url = server.url.clone();
    tokio::task::spawn_blocking(move || {
        let (status, _) = raw_request(&url, "GET /healthz HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
        assert_eq!(status, 403, "DNS rebinding: a foreign Host");
        let (status, _) = raw_request(&url, "GET /metrics HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n");
        assert_eq!(status, 403);
        assert_eq!(raw_request(&url, &post_initialize("Origin: http://evil.example\r\n")).0, 403, "a foreign Origin");
        assert_eq!(raw_request(&url, &post_initialize("Origin: null\r\n")).0, 403);
        assert_eq!(raw_request(&url, &post_initialize("Origin: http://localhost:3000\r\n")).0, 200, "a loopback Origin");
    })
    .await
    .expect("checks");
    assert_eq!(http_get(&server.url, "/healthz").await.0, 200, "still serving");
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let root = temp_root();
    let args = ["--header-timeout", "1", "--body-timeout", "1"].map(str::to_owned);
    let server = HttpServer::start_with(root.path(), &args, &[]).await;
    let url = server.url.clone();
    tokio::task::spawn_blocking(move || {
        let host = authority(&url).to_owned();
        // A client that never finishes its headers is cut off at the header timeout.
        let mut slow = TcpStream::connect(&host).expect("connect");
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").expect("half a request");
        slow.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = slow.read_to_end(&mut rest);
        assert!(started.elapsed() < Duration::from_secs(8), "closed after {:?}", started.elapsed());
        // A body that never comes is answered 408.
        let mut stalled = TcpStream::connect(&host).expect("connect");
        stalled.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{").expect("a head");
        stalled.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut answer = String::new();
        let _ = stalled.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        let (status, _) = raw_request(&url, HEALTHZ);
        assert_eq!(status, 200, "still serving");
    })
    .await
    .expect("checks");
}

#[tokio::test]
async fn connections_past_the_cap_are_closed_on_accept() {
    let root = temp_root();
    // A server of its own, so no earlier connection is still giving back its slot, and a header
    // timeout long enough that the held connections outlive a loaded test machine's delays.
    let args = ["--max-connections", "4", "--header-timeout", "30"].map(str::to_owned);
    let server = HttpServer::start_with(root.path(), &args, &[]).await;
    let url = server.url.clone();
    tokio::task::spawn_blocking(move || {
        let host = authority(&url).to_owned();
        let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&host).expect("connect")).collect();
        std::thread::sleep(Duration::from_millis(300));
        let (status, _) = raw_request(&url, HEALTHZ);
        assert_eq!(status, 0, "the fifth connection was refused");
        drop(held);
        // The held connections' slots come back as the server sees them close.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, _) = raw_request(&url, HEALTHZ);
            if status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "not served again after the held connections closed");
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .expect("checks");
}

#[tokio::test]
async fn sessions_are_capped() {
    let root = temp_root();
    let server = HttpServer::start_with(root.path(), &["--max-sessions".to_owned(), "2".to_owned()], &[]).await;
    let first = server.connect().await;
    let _second = server.connect().await;
    let url = server.url.clone();
    let (status, body) = tokio::task::spawn_blocking(move || raw_request(&url, &post_initialize(""))).await.expect("request");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("--max-sessions"), "{body}");
    first.ok("workflow_list", json!({})).await;
}

#[tokio::test]
async fn deep_and_runaway_expressions_are_errors_and_the_server_goes_on() {
    let root = temp_root();
    let agent = Agent::catalog(root.path()).await;
    let deep = [format!("{}1{}", "[".repeat(1_500), "]".repeat(1_500)), "!".repeat(5_000), format!("1{}", "+1".repeat(20_000))];
    for transform in &deep {
        let (code, message) = agent.refused("workflow_test_transformation", json!({"transform": transform, "input": null})).await;
        assert_eq!(code, "INVALID_INPUT");
        assert!(message.contains("E0307") || message.contains("64 levels"), "{message}");
        let yaml = format!("name: \"a:b\"\ndescription: d\nversion: \"1.0.0\"\nsteps:\n  - id: s\n    type: user_message\n    message: \"{{{{ {transform} }}}}\"\n");
        let validated = agent.ok("workflow_validate", json!({"yaml": yaml})).await;
        assert_eq!(validated["valid"], false, "{validated}");
    }
    let started = Instant::now();
    for _ in 0..2 {
        let (_, message) = agent.refused("workflow_test_transformation", json!({"transform": "/(a+)+$/.test('a'.repeat(40) + 'b')", "input": null})).await;
        assert!(message.contains("regular expression"), "{message}");
    }
    let (_, message) = agent.refused("workflow_test_transformation", json!({"transform": "Array.from({length: 1e9}).length", "input": null})).await;
    assert!(message.contains("evaluation budget"), "{message}");
    agent.ok("workflow_list", json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(60), "bounded: {:?}", started.elapsed());
}

#[tokio::test]
async fn writes_to_computed_fields_are_refused_not_dropped() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let id = agent.start("serve:guarded-global", json!({})).await;
    let before = agent.ok("workflow_state_read", json!({"workflow_id": id})).await;
    for path in ["this.checked_limit", "computed.checked_limit", "inputs.anything"] {
        let (code, message) = agent.refused("workflow_update_state", json!({"workflow_id": id, "updates": [{"path": path, "value": 3}]})).await;
        assert_eq!(code, "INVALID_INPUT", "{path}: {message}");
    }
    assert_eq!(agent.ok("workflow_state_read", json!({"workflow_id": id})).await, before, "nothing changed");
}

#[tokio::test]
async fn a_write_that_a_computed_field_multiplies_past_the_state_limit_is_refused_whole() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let id = agent.start("serve:amplify", json!({})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    agent.ok("workflow_update_state", json!({"workflow_id": id, "updates": [{"path": "this.text", "value": "small"}]})).await;
    let before = agent.ok("workflow_state_read", json!({"workflow_id": id})).await;
    let megabyte = "x".repeat(1024 * 1024);
    let (code, message) = agent.refused("workflow_update_state", json!({"workflow_id": id, "updates": [{"path": "this.text", "value": megabyte}]})).await;
    assert_eq!(code, "STATE_TOO_LARGE", "{message}");
    assert!(message.contains("--max-state-bytes"), "{message}");
    assert_eq!(agent.ok("workflow_state_read", json!({"workflow_id": id})).await, before, "the instance is as it was");
    let (code, _) = agent.refused("workflow_submit_result", json!({"workflow_id": id, "step_id": "wait", "result": "y".repeat(1024 * 1024)})).await;
    assert_eq!(code, "STATE_TOO_LARGE");
    assert_eq!(agent.ok("workflow_state_read", json!({"workflow_id": id})).await, before, "still as it was");
    agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "wait", "result": "fine"})).await;
}

#[tokio::test]
async fn deep_paths_and_deep_values_are_refused() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let id = agent.start("serve:amplify", json!({})).await;
    let long_path = format!("this.text{}", ".a".repeat(10_000));
    let (code, message) = agent.refused("workflow_update_state", json!({"workflow_id": id, "updates": [{"path": long_path, "value": 1}]})).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("segments"), "{message}");
    let mut deep = json!(1);
    for _ in 0..110 {
        deep = json!([deep]);
    }
    let (code, message) = agent.refused("workflow_update_state", json!({"workflow_id": id, "updates": [{"path": "global.deep", "value": deep}]})).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("levels deep"), "{message}");
    // At the bound exactly: a value 100 levels deep may be set, not appended (the array it is
    // pushed onto is one level more); one a level less may be appended.
    let nested = |levels: usize| (0..levels).fold(json!(1), |inner, _| json!([inner]));
    let write = |path: &str, operation: &str, value: Json| json!({"workflow_id": id, "updates": [{"path": path, "operation": operation, "value": value}]});
    agent.ok("workflow_update_state", write("global.at_bound", "set", nested(100))).await;
    let (code, message) = agent.refused("workflow_update_state", write("global.pushed", "append", nested(100))).await;
    assert_eq!(code, "INVALID_INPUT", "{message}");
    agent.ok("workflow_update_state", write("global.pushed", "append", nested(99))).await;
    agent.ok("workflow_state_read", json!({"workflow_id": id})).await;
}

/// A workflow whose message holds `expression`.
fn workflow_with(expression: &str) -> String {
    format!("name: \"a:b\"\ndescription: d\nversion: \"1.0.0\"\nsteps:\n  - id: s\n    type: user_message\n    message: \"{{{{ {expression} }}}}\"\n")
}

#[tokio::test]
async fn a_deep_expression_in_a_file_is_a_diagnostic_for_check_dev_and_graph() {
    let root = temp_root();
    // `wfc check` on 400 KB of nesting: a diagnostic, not a stack overflow of the main thread.
    let file = root.path().join("deep.yaml");
    std::fs::write(&file, workflow_with(&format!("{}1{}", "[".repeat(200_000), "]".repeat(200_000)))).expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wfc")).arg("check").arg(&file).output().expect("wfc check");
    assert_eq!(output.status.code(), Some(1));
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(report.contains("E0307") && report.contains("1 error"), "{}", &report[..report.len().min(300)]);
    // `--dev` serves the directory, the deep file listed as broken, and keeps serving.
    let dir = root.path().join("workflows");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("deep.yaml"), workflow_with(&"!".repeat(5_000))).expect("write");
    let agent = Agent::serve(root.path(), &["--dev", dir.to_str().expect("utf-8"), "--store", "memory"]).await;
    let listed = agent.ok("workflow_list", json!({})).await;
    assert!(listed["invalid"][0]["diagnostics"].as_str().is_some_and(|d| d.contains("E0307")), "{listed}");
    let (_, message) = agent.refused("workflow_graph", json!({"workflow": workflow_with(&format!("1{}", "+1".repeat(20_000)))})).await;
    assert!(message.contains("E0307"), "{}", &message[..message.len().min(300)]);
    agent.ok("workflow_list", json!({})).await;
}
