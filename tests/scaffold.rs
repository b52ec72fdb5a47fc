//! `wfc new`: the scaffold builds and its own tests pass as generated, its binary is the whole
//! command line over its own embedded catalog, and an MCP client drives its example workflow
//! to the end. Built with a target directory of its own under `target/` (kept between runs),
//! offline, with the versions of wfc's `Cargo.lock`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value as Json, json};

fn wfc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wfc")).args(args).output().expect("run wfc")
}

fn text(output: &[u8]) -> String {
    String::from_utf8_lossy(output).into_owned()
}

/// Where the scaffold is built: its own directory beside this test's (Cargo locks a target
/// directory for the build that runs this test).
fn target_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_wfc"));
    bin.ancestors().nth(2).expect("target/<profile>/wfc").join("scaffold")
}

/// `cargo ARGS` in `dir`, as a user would run it there.
fn cargo(dir: &Path, args: &[&str]) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    Command::new(cargo)
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir())
        // insta writes nothing and accepts nothing on its own: the generated snapshot must match.
        .env("CI", "true")
        .env_remove("INSTA_UPDATE")
        .stdin(Stdio::null())
        .output()
        .expect("run cargo")
}

#[test]
fn new_refuses_a_non_empty_directory_and_a_name_cargo_would_refuse() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("keep.txt"), "mine").expect("write");
    let refused = wfc(&["new", dir.path().to_str().expect("utf-8")]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("is not empty; nothing was written"), "{}", text(&refused.stderr));
    assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1, "nothing written beside keep.txt");

    let named = dir.path().join("9lives");
    let refused = wfc(&["new", named.to_str().expect("utf-8")]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("cannot name a crate"), "{}", text(&refused.stderr));
    assert!(!named.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_catalog_crate_builds_passes_its_tests_and_serves_its_workflow() {
    let parent = tempfile::tempdir().expect("temp dir");
    let dir = parent.path().join("acme-flows");
    let created = wfc(&["new", dir.to_str().expect("utf-8")]);
    assert!(created.status.success(), "wfc new: {}", text(&created.stderr));
    for file in ["Cargo.toml", "Cargo.lock", "build.rs", "src/main.rs", "workflows/project:health.yaml", "tests/generated.rs", "tests/snapshots/generated__project_health.snap", ".github/workflows/workflows.yml", ".mcp.json", ".gitignore", "README.md"] {
        assert!(dir.join(file).is_file(), "{file} written");
    }
    let mcp: Json = serde_json::from_str(&std::fs::read_to_string(dir.join(".mcp.json")).expect("read")).expect(".mcp.json is JSON");
    assert_eq!(mcp["mcpServers"]["acme-flows"]["args"], json!(["run", "--release", "--quiet", "--", "serve"]));

    // Its tests as generated: the build checks and compiles workflows/, the snapshot matches.
    let tested = cargo(&dir, &["test", "--offline"]);
    assert!(tested.status.success(), "cargo test in the scaffold:\n{}\n{}", text(&tested.stdout), text(&tested.stderr));
    assert!(text(&tested.stdout).contains("test generated_code ... ok"), "{}", text(&tested.stdout));

    // The binary is the wfc command line over its own catalog.
    let bin = target_dir().join("debug/acme-flows");
    let checked = Command::new(&bin).arg("check").current_dir(&dir).output().expect("acme-flows check");
    assert!(checked.status.success() && text(&checked.stderr).contains("1 workflow, 0 errors, 0 warnings"), "{}", text(&checked.stderr));
    let ran = Command::new(&bin).args(["run", "project:health", "--store", "memory"]).current_dir(&dir).stdin(Stdio::null()).output().expect("acme-flows run");
    assert!(ran.status.success(), "{}\n{}", text(&ran.stdout), text(&ran.stderr));
    assert!(text(&ran.stdout).contains("TODO/FIXME markers"), "the example finds the markers in its own comments: {}", text(&ran.stdout));

    // An agent drives the example to completion over MCP.
    let mut command = tokio::process::Command::new(&bin);
    command.args(["serve", "--store", "memory", "--root"]).arg(&dir).env("RUST_LOG", "warn");
    let (transport, _) = TokioChildProcess::builder(command).stderr(Stdio::inherit()).spawn().expect("spawn acme-flows serve");
    let agent = ().serve(transport).await.expect("MCP initialize");
    let call = async |tool: &str, arguments: Json| -> Json {
        let Json::Object(arguments) = arguments else { unreachable!("object arguments") };
        let result = agent.call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments)).await.expect("tools/call");
        assert!(!result.is_error.unwrap_or(false), "{tool}: {result:?}");
        result.structured_content.expect("structured content")["data"].clone()
    };
    let listed = call("workflow_list", json!({})).await;
    let names: Vec<&str> = listed["workflows"].as_array().expect("workflows").iter().filter_map(|w| w["name"].as_str()).collect();
    assert_eq!(names, ["project:health"], "only the crate's own catalog");
    let started = call("workflow_start", json!({"workflow": "project:health"})).await;
    let id = started["workflow_id"].as_str().expect("an id").to_owned();
    let mut answer = call("workflow_get_next_step", json!({"workflow_id": id})).await;
    for _ in 0..5 {
        if answer["status"] != "running" {
            break;
        }
        answer = call("workflow_get_next_step", json!({"workflow_id": id})).await;
    }
    assert_eq!(answer["status"], "completed", "{answer}");
    let state = call("workflow_state_read", json!({"workflow_id": id})).await;
    assert!(state["state"]["files"].as_array().is_some_and(|files| files.iter().any(|f| f == "./Cargo.toml")), "{state}");
    assert!(state["state"]["busiest"][0][0].as_str().is_some_and(|file| file.starts_with("./")), "{state}");
    agent.cancel().await.expect("close the session");
}
