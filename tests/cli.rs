//! `wfc check` as a user and a CI job see it: exit codes, the summary line, JSON output, and
//! hostile input (not UTF-8, too large, many files) handled without a panic.

use std::path::Path;
use std::process::{Command, Output};

#[path = "../compiler/tests/oracle/cases.rs"]
#[allow(dead_code, reason = "only the corpus's location is used here")]
mod cases;
#[path = "cli/run.rs"]
mod run;

fn wfc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("wfc runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const VALID: &str = "name: \"t:ok\"\ndescription: d\nversion: \"1.0.0\"\nsteps:\n  - id: a\n    type: user_message\n    message: hi\n";

#[test]
fn valid_catalog_exits_zero_with_a_summary() {
    let output = wfc(&["check"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).trim_end().ends_with("7 workflows, 0 errors, 0 warnings"), "{}", stderr(&output));
}

#[test]
fn errors_exit_one_and_render_like_rustc() {
    let output = wfc(&["check", "tests/fixtures/invalid/unknown_step_type.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("E0107"), "{text}");
    assert!(text.contains("tests/fixtures/invalid/unknown_step_type.yaml:7:11"), "{text}");
    assert!(text.contains("did you mean `shell_command`?"), "{text}");
    assert!(text.trim_end().ends_with("1 workflow, 1 error, 0 warnings"), "{text}");
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(wfc(&["check", "no/such/dir"]).status.code(), Some(2));
    assert_eq!(wfc(&["check", "--format", "xml"]).status.code(), Some(2));
    assert_eq!(wfc(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn json_format_gives_positions_codes_and_hints() {
    let output = wfc(&["check", "--format", "json", "tests/fixtures/invalid/unknown_sub_agent_task.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(document["errors"], 1);
    let diagnostic = &document["diagnostics"][0];
    assert_eq!(diagnostic["file"], "tests/fixtures/invalid/unknown_sub_agent_task.yaml");
    assert_eq!((diagnostic["line"].as_u64(), diagnostic["column"].as_u64()), (Some(9), Some(21)));
    assert_eq!(diagnostic["end_column"], 27);
    assert_eq!(diagnostic["severity"], "error");
    assert_eq!(diagnostic["code"], "E0205");
    assert_eq!(diagnostic["hint"], "did you mean `review`?");
}

#[test]
fn github_format_annotates_each_diagnostic_at_its_line() {
    let output = wfc(&["check", "--format", "github", "tests/fixtures/invalid/unknown_sub_agent_task.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "::error file=tests/fixtures/invalid/unknown_sub_agent_task.yaml,line=9,col=21,endLine=9,endColumn=27,\
         title=E0205 unknown-sub-agent-task::no sub-agent task is called `reveiw`%0Ahelp: did you mean `review`?\n"
    );
    assert!(stderr(&output).contains("1 error"), "{}", stderr(&output));
}

#[test]
fn sarif_format_is_a_code_scanning_log() {
    let output = wfc(&["check", "--format", "sarif", "tests/fixtures/invalid/unknown_sub_agent_task.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let log: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(log["version"], "2.1.0");
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "E0205");
    assert_eq!(result["locations"][0]["physicalLocation"]["region"]["startLine"], 9);
    assert_eq!(log["runs"][0]["tool"]["driver"]["rules"][0]["name"], "unknown-sub-agent-task");
}

#[test]
fn eval_takes_an_expression_that_starts_with_a_minus() {
    let output = wfc(&["eval", "-0"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "-0");
}

#[test]
fn schema_command_prints_the_generated_schema() {
    let output = wfc(&["schema"]);
    assert_eq!(output.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(schema["definitions"]["RawStep"]["properties"]["type"]["enum"].as_array().is_some_and(|e| e.len() == 13));
}

#[test]
fn hostile_files_get_diagnostics_not_panics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).expect("write");
    write("binary.yaml", b"name: \"a:b\"\n\xff\xfe\x00garbage");
    write("huge.yaml", &vec![b'#'; 50 * 1024 * 1024]);
    write("deep.yaml", format!("steps: {}{}", "[".repeat(100_000), "]".repeat(100_000)).as_bytes());
    write("long_line.yaml", format!("name: \"{}\"", "x".repeat(3_000_000)).as_bytes());
    let output = wfc(&["check", "--format", "json", dir.path().to_str().expect("utf-8 temp path")]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let codes: Vec<&str> = document["diagnostics"].as_array().expect("list").iter().map(|d| d["code"].as_str().expect("code")).collect();
    assert!(codes.contains(&"E0111"), "not UTF-8: {codes:?}");
    assert!(codes.iter().filter(|c| **c == "E0110").count() >= 2, "size and depth limits: {codes:?}");
}

#[test]
fn ten_thousand_files_are_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..10_000 {
        let text = VALID.replace("t:ok", &format!("t:w{i}"));
        std::fs::write(dir.path().join(format!("w{i:05}.yaml")), text).expect("write");
    }
    std::fs::write(dir.path().join("w_bad.yaml"), VALID.replace("user_message", "user_mesage")).expect("write");
    let output = wfc(&["check", dir.path().to_str().expect("utf-8 temp path")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).trim_end().ends_with("10001 workflows, 1 error, 0 warnings"), "{}", stderr(&output));
}

#[test]
fn a_named_file_is_checked_whatever_its_extension() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("workflow.txt");
    std::fs::write(&path, VALID).expect("write");
    assert!(Path::new(&path).exists());
    assert_eq!(wfc(&["check", path.to_str().expect("utf-8")]).status.code(), Some(0));
}

#[test]
fn graph_draws_every_catalog_workflow_and_refuses_unknown_names() {
    for name in ["dev:test-fix-loop", "release:checklist", "code:parallel-review", "deps:report", "order:process", "data:pipeline", "approval:request"] {
        let mermaid = wfc(&["graph", name]);
        assert_eq!(mermaid.status.code(), Some(0), "{name}: {}", stderr(&mermaid));
        let text = String::from_utf8_lossy(&mermaid.stdout).into_owned();
        assert!(text.starts_with("flowchart TD\n"), "{text}");
        insta::assert_snapshot!(format!("graph_{}", name.replace(':', "_")), text);
        let dot = wfc(&["graph", name, "--format", "dot"]);
        assert!(String::from_utf8_lossy(&dot.stdout).starts_with("digraph workflow {"), "{name}");
    }
    let missing = wfc(&["graph", "no:such"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("`no:such` is neither a file nor a workflow of the catalog (approval:request, code:parallel-review,"), "{}", stderr(&missing));
    let invalid = wfc(&["graph", "tests/fixtures/invalid/unknown_step_type.yaml"]);
    assert_eq!(invalid.status.code(), Some(1));
    assert!(stderr(&invalid).contains("E0107"));
}

#[test]
fn every_program_of_the_corpus_gets_typed_state_structs() {
    // Asserted, not snapshotted: code generated from another project's files stays out of
    // this repository.
    let Some(corpus) = cases::corpus_dir() else { return };
    for (file, programs) in [("test:simple.yaml", 1), ("test:sub-agents.yaml", 2), ("analyze:dependencies.yaml", 1)] {
        let output = wfc(&["expand", corpus.join(file).to_str().expect("utf-8")]);
        assert_eq!(output.status.code(), Some(0), "{file}: {}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout);
        for item in ["pub struct State", "pub struct Inputs", "pub struct Computed"] {
            assert_eq!(text.matches(item).count(), programs, "{file}: `{item}` once per program");
        }
    }
}

#[test]
fn expand_prints_the_generated_rust_of_every_project_workflow() {
    let mut files: Vec<_> = ["workflows", "tests/fixtures/machines"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).expect("directory"))
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    for path in files {
        let relative = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).expect("inside the repository").display().to_string();
        let output = wfc(&["expand", &relative]);
        assert_eq!(output.status.code(), Some(0), "{relative}: {}", stderr(&output));
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(text.contains("pub fn workflow() -> &'static ::wfc_runtime::machine::program::Workflow<"), "{relative}");
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().replace(':', "_");
        insta::assert_snapshot!(format!("expand_{name}"), text);
    }
    let output = wfc(&["expand", "dev:test-fix-loop"]);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("/// `dev:test-fix-loop` 1.0.0"), "the catalog is searched by name");
}

#[test]
fn run_drives_a_workflow_in_the_terminal_from_scripted_answers() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let git = Command::new("git").args(["init", "-q"]).current_dir(root.path()).status().expect("git");
    assert!(git.success());
    let answers = root.path().join("answers.json");
    // The answers file itself makes the tree dirty: the workflow asks, and is told to go on.
    let script = r#"{"continue_dirty": "yes", "bump_version": ["done", {"files": ["Cargo.toml"]}], "record_bump": {"files": ["Cargo.toml"]}, "sign_off": ["maybe", "approve"], "tag_release": {"created": true}}"#;
    std::fs::write(&answers, script).expect("answers");
    let root_arg = root.path().to_str().expect("utf-8");
    let answers_arg = answers.to_str().expect("utf-8");
    let args = ["run", "release:checklist", "--input", "version=2.0.0", "--input", "test_command=true", "--answers", answers_arg, "--root", root_arg];
    let output = wfc(&args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", stderr(&output));
    assert!(stdout.contains("! `maybe` is not one of: approve, reject"), "the refused answer is shown: {stdout}");
    assert!(stdout.contains("! the response does not match the response schema"), "a reply that misses expected_response is asked for again: {stdout}");
    assert!(stdout.contains("Tagged v2.0.0.") && stdout.contains("✔ completed"), "{stdout}");
    assert!(stdout.contains(r#""release_dirty": true"#), "the final state is printed: {stdout}");

    std::fs::write(&answers, r#"{"continue_dirty": "yes", "bump_version": {"files": ["Cargo.toml"]}}"#).expect("answers");
    let output = wfc(&args);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no (more) answers for step `record_bump`"), "{}", stderr(&output));
}

#[test]
fn explain_lists_what_the_corpus_workflows_and_the_catalog_would_run() {
    if let Some(corpus) = cases::corpus_dir() {
        let mut files: Vec<_> = std::fs::read_dir(&corpus).expect("the corpus").filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "yaml")).collect();
        files.sort();
        assert!(files.len() >= 3, "{files:?}");
        for file in files {
            let output = wfc(&["explain", file.to_str().expect("utf-8")]);
            assert_eq!(output.status.code(), Some(0), "{}: {}", file.display(), stderr(&output));
            let name = file.file_stem().and_then(|s| s.to_str()).expect("a name").replace(':', "_");
            insta::assert_snapshot!(format!("explain_{name}"), String::from_utf8_lossy(&output.stdout));
        }
    }
    let json = wfc(&["explain", "code:parallel-review", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).expect("a JSON plan");
    let fan_out = plan["steps"].as_array().expect("steps").iter().find(|s| s["type"] == "parallel_foreach").expect("a fan-out");
    assert_eq!(fan_out["runs_on"], "client");
    assert!(plan["sub_agent_tasks"][0]["steps"].as_array().is_some_and(|s| !s.is_empty()), "{plan}");
}

#[test]
fn wfc_config_shows_each_serve_setting_and_whether_a_flag_the_environment_or_wfc_toml_set_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("wfc.toml"), "[serve]\nmax-active-instances = 5\nmax_state_bytes = 6\nserial = true\nallowed-origin = [\"https://a.example\"]\n").expect("write");
    let config = |args: &[&str], env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_wfc")).arg("config").args(args).current_dir(dir.path()).envs(env.iter().copied()).output().expect("wfc config")
    };
    let output = config(&["--max-active-instances", "9", "--history-limit=3"], &[("WFC_MAX_ACTIVE_INSTANCES", "7"), ("WFC_MAX_STATE_BYTES", "8")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let line = |name: &str| text.lines().find(|l| l.starts_with(&format!("{name} ="))).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).unwrap_or_default();
    assert_eq!(line("max-active-instances"), "max-active-instances = 9 # flag", "the flag beats the environment and the file:\n{text}");
    assert_eq!(line("max-state-bytes"), "max-state-bytes = 8 # environment WFC_MAX_STATE_BYTES", "the environment beats the file:\n{text}");
    assert_eq!(line("serial"), "serial = true # configuration file");
    assert_eq!(line("allowed-origin"), "allowed-origin = [\"https://a.example\"] # configuration file");
    assert_eq!(line("history-limit"), "history-limit = 3 # flag");
    assert_eq!(line("max-tasks-per-step"), "max-tasks-per-step = 1000 # default");
    assert!(text.starts_with("# The settings of `wfc serve`; configuration file: wfc.toml\n[serve]\n"), "{text}");

    std::fs::write(dir.path().join("wfc.toml"), "[serve]\nmax-actve-instances = 5\n").expect("write");
    let refused = config(&[], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("wfc.toml: `max-actve-instances` is not a setting of `wfc serve`"), "{}", stderr(&refused));
    // A serve that would start with it refuses the same way, before anything else.
    let serve = Command::new(env!("CARGO_BIN_EXE_wfc")).args(["serve", "--store", "memory"]).current_dir(dir.path()).output().expect("wfc serve");
    assert_eq!(serve.status.code(), Some(2));
    assert!(stderr(&serve).contains("`max-actve-instances` is not a setting"), "{}", stderr(&serve));
}
