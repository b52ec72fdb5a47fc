//! `wfc run` as a person at a terminal sees it: commands shown while they run, steps rendered
//! for reading, and a run interrupted with Ctrl-C continued later.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::*;

fn long_command() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve/serve_long_command.yaml").display().to_string()
}

#[test]
fn in_a_terminal_a_command_shows_a_live_line_its_output_dimmed_and_how_it_ended() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let command = format!("{} run {} --input seconds=2 --root {}", env!("CARGO_BIN_EXE_wfc"), long_command(), root.path().display());
    // `script` runs it in a pseudo-terminal; the answer waits in the terminal's input.
    let mut script = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script runs");
    std::io::Write::write_all(&mut script.stdin.take().expect("stdin"), b"yes\n").expect("the answer");
    let output = script.wait_with_output().expect("script ends");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("▸\x1b[0m build"), "the command is announced: {text:?}");
    assert!(text.contains("\x1b[2m    │ tick-3\x1b[0m"), "its output, dimmed: {text:?}");
    assert!(text.contains("\r\x1b[2K  \x1b[33m⠿\x1b[0m build \x1b[2m1 s"), "a live line with the elapsed time: {text:?}");
    assert!(text.contains("\x1b[32m✔\x1b[0m build"), "a mark for success: {text:?}");
    assert!(text.contains("Ship it?"), "{text:?}");
    assert!(text.contains("Shipped: yes") && text.contains("✔ completed"), "{text:?}");
}

#[test]
fn without_a_terminal_steps_are_plain_text_for_a_person() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let answers = root.path().join("answers.json");
    std::fs::write(&answers, r#"{"confirm": "ok"}"#).expect("answers");
    let output = wfc(&["run", &long_command(), "--input", "seconds=0", "--answers", answers.to_str().expect("utf-8"), "--root", root.path().to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(!text.contains('\x1b'), "no escape codes off a terminal: {text:?}");
    assert!(text.contains("▸ build") && text.contains("    │ built") && text.contains("✔ build"), "{text}");
    assert!(text.contains("? Ship it?\n  ← \"ok\""), "the question is shown before its answer: {text}");
}

#[test]
fn ctrl_c_keeps_the_instance_and_resume_continues_it() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let root_arg = root.path().to_str().expect("utf-8");
    let mut run = Command::new(env!("CARGO_BIN_EXE_wfc"))
        .args(["run", &long_command(), "--input", "seconds=0", "--root", root_arg])
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("wfc run");
    let mut lines = BufReader::new(run.stdout.take().expect("stdout")).lines();
    let mut id = String::new();
    let started = Instant::now();
    for line in lines.by_ref() {
        let line = line.expect("a line");
        if let Some(at) = line.find("wf_") {
            id = line[at..].trim_end_matches(')').to_owned();
        }
        if line.contains("Ship it?") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the question never came");
    }
    let interrupted = Command::new("kill").args(["-INT", &run.id().to_string()]).status().expect("kill");
    assert!(interrupted.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert_eq!(run.wait().expect("it exits").code(), Some(130));
    assert!(rest.iter().any(|l| l.contains(&format!("wfc run --resume {id} {}", long_command()))), "{rest:?}");

    let answers = root.path().join("answers.json");
    std::fs::write(&answers, r#"{"confirm": "later"}"#).expect("answers");
    let output = wfc(&["run", "--resume", &id, &long_command(), "--answers", answers.to_str().expect("utf-8"), "--root", root_arg]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(!text.contains("▸ build"), "the command ran before the interruption: {text}");
    assert!(text.contains("Shipped: later") && text.contains(r#""choice": "later""#), "{text}");

    // What the person did is recorded as theirs, at the terminal.
    let history = wfc(&["history", &id, "--format", "jsonl", "--root", root_arg]);
    let entries: Vec<serde_json::Value> = String::from_utf8_lossy(&history.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let submitted = entries.iter().find(|e| e["kind"] == "step_completed" && e["step_id"] == "confirm").expect("the answer's entry");
    assert_eq!(submitted["actor"]["transport"], "terminal", "{submitted}");
    assert!(submitted["actor"]["client"].as_str().is_some_and(|c| c.starts_with("wfc run ")), "{submitted}");
}

#[test]
fn json_schema_keywords_in_validation_mean_what_they_mean_in_json_schema() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let workflow = root.path().join("keywords.yaml");
    std::fs::write(
        &workflow,
        "name: \"test:json-schema-keywords\"\ndescription: d\nversion: \"1.0.0\"\ninputs:\n  count:\n    type: number\n    description: n\n    \
         required: false\n    default: 3\n    validation:\n      minimum: 1\n      maximum: 10\n      multipleOf: 0.5\n  \
         ratio:\n    type: number\n    description: r\n    required: false\n    default: 0.5\n    validation:\n      exclusiveMinimum: 0\n      exclusiveMaximum: 1\nsteps:\n  - id: ask\n    type: user_input\n    \
         prompt: \"A name\"\n    validation:\n      minLength: 2\n      maxLength: 5\n      enum: [\"ab\", \"abc\"]\n  - id: tags\n    type: user_input\n    prompt: \"Tags\"\n    input_type: json\n    max_retries: 4\n    validation:\n      minItems: 1\n      maxItems: 2\n      uniqueItems: true\n      items:\n        type: string\n",
    )
    .expect("workflow");
    let checked = wfc(&["check", workflow.to_str().expect("utf-8")]);
    assert_eq!(checked.status.code(), Some(0), "{}", stderr(&checked));
    let answers = root.path().join("answers.json");
    std::fs::write(&answers, r#"{"ask": ["x", "abcd", "abc"], "tags": ["[]", "[\"a\", 1]", "[\"a\", \"b\", \"c\"]", "[\"a\", \"a\"]", "[\"a\"]"]}"#).expect("answers");
    let output = wfc(&["run", workflow.to_str().expect("utf-8"), "--store", "memory", "--answers", answers.to_str().expect("utf-8"), "--root", root.path().to_str().expect("utf-8")]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert_eq!(text.matches("is not one of: ab, abc").count(), 2, "`x` and `abcd` refused by `enum`: {text}");
    for refusal in [
        "the list has 0 item(s); at least 1 are needed",
        "item 1 of the list: 1 is not of type \"string\"",
        "the list has 3 item(s); at most 2 are allowed",
        "items 0 and 1 of the list are the same, \"a\"; the items must differ",
    ] {
        assert!(text.contains(refusal), "minItems, items, maxItems and uniqueItems: `{refusal}` in {text}");
    }

    // An input's `minimum`, `maximum`, `multipleOf`, `exclusiveMinimum` and `exclusiveMaximum`
    // are enforced when the workflow starts.
    for (input, refusal) in [
        ("count=50", "50 is more than the maximum, 10"),
        ("count=0", "0 is less than the minimum, 1"),
        ("count=2.25", "2.25 is not a multiple of 0.5"),
        ("ratio=0", "0 is not more than 0"),
        ("ratio=1", "1 is not less than 1"),
    ] {
        let name = input.split('=').next().unwrap_or_default();
        let refused = wfc(&["run", workflow.to_str().expect("utf-8"), "--store", "memory", "--input", input, "--answers", answers.to_str().expect("utf-8"), "--root", root.path().to_str().expect("utf-8")]);
        assert_ne!(refused.status.code(), Some(0));
        let said = stderr(&refused);
        assert!(said.contains(&format!("refuses the input `{name}`")) && said.contains(refusal), "{said}");
    }
}
