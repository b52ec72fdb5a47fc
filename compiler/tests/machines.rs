//! Control-flow and state semantics of lowered workflows, driven through the interpreter with a
//! scripted client: loops, break/continue, loop variables, iteration caps, computed cascades,
//! typed writes, answers, error handling, and the AroMCP corpus.

use std::sync::Arc;

use serde_json::{Value as Json, json};
use wfc_compiler::interp::Interpreted;
use wfc_compiler::ir::{self, Op};
use wfc_compiler::{Source, compile_source};
use wfc_runtime::machine::{Effect, Event, Machine, ShellCommand, ShellOutput, StepError, Yield};
use wfc_runtime::value::{Object, Value};

#[path = "oracle/cases.rs"]
#[allow(dead_code, reason = "only the corpus's location is used here")]
mod cases;

fn lower(yaml: &str) -> ir::Workflow {
    let (compiled, diagnostics) = compile_source(&Source::new("test.yaml", yaml));
    compiled.unwrap_or_else(|| panic!("the workflow checks:\n{}", diagnostics.render_plain())).machines
}

/// What the scripted client saw, one line per yield, and how the run ended.
struct Run {
    log: Vec<String>,
    end: Result<(), StepError>,
    machine: Interpreted,
}

impl Run {
    fn state(&self) -> Json {
        self.machine.state().to_json()
    }

    fn messages(&self) -> Vec<&str> {
        self.log.iter().filter_map(|l| l.strip_prefix("user_message: ")).collect()
    }
}

/// Runs a workflow to its end. `answer` gives the result of each client step and shell command
/// (by step id); user messages and waits are acknowledged.
fn run(yaml: &str, inputs: Json, mut answer: impl FnMut(&str, u32) -> Event) -> Run {
    let workflow = lower(yaml);
    let mut machine = Interpreted::start(workflow.main, &inputs, Object::new()).expect("starts");
    let mut log = Vec::new();
    let mut event = Event::Start;
    for _ in 0..10_000 {
        match machine.resume(event) {
            Ok(Yield::Done) => return Run { log, end: Ok(()), machine },
            Ok(Yield::Client(step)) if step.kind == "user_message" => {
                log.push(format!("user_message: {}", step.definition["message"].as_str().unwrap_or_default()));
                event = Event::Done(Value::Undefined);
            }
            Ok(Yield::Client(step)) => {
                log.push(format!("{} {} #{} {}", step.kind, step.id, step.attempt, step.definition));
                event = answer(&step.id, step.attempt);
            }
            Ok(Yield::Effect(Effect::Shell(ShellCommand { step_id, command, attempt, .. }))) => {
                log.push(format!("shell {step_id} #{attempt}: {command}"));
                event = answer(&step_id, attempt);
            }
            Ok(Yield::Effect(Effect::Wait { step_id, .. })) => {
                log.push(format!("wait {step_id}"));
                event = Event::Waited;
            }
            Err(error) => return Run { log, end: Err(error), machine },
        }
    }
    panic!("the workflow did not finish in 10,000 yields");
}

fn no_client(step: &str, _: u32) -> Event {
    panic!("unexpected client step {step}")
}

fn stdout(text: &str) -> Event {
    Event::Shell(ShellOutput { stdout: text.to_owned(), exit_code: Some(0), ..ShellOutput::default() })
}

const HEADER: &str = "name: \"t:machine\"\ndescription: \"d\"\nversion: \"1.0.0\"\n";

fn workflow(rest: &str) -> String {
    format!("{HEADER}{rest}")
}

#[test]
fn nested_loops_three_deep_bind_their_own_variables() {
    let yaml = workflow(
        r#"
steps:
  - id: outer
    type: foreach
    items: "['a', 'b']"
    variable_name: x
    body:
      - id: middle
        type: while_loop
        condition: "loop.iteration <= 2"
        body:
          - id: inner
            type: foreach
            items: "[10, 20]"
            index_name: i
            body:
              - id: show
                type: user_message
                message: "{{ loop.x }} {{ loop.iteration }} {{ loop.item }} {{ loop.i }}"
"#,
    );
    let run = run(&yaml, json!({}), no_client);
    assert!(run.end.is_ok());
    // `loop.iteration` is the innermost loop's (1-based); `loop.i` its 0-based index;
    // `loop.x` the outer foreach's item, visible through the while loop.
    assert_eq!(
        run.messages(),
        [
            "a 1 10 0", "a 2 20 1", "a 1 10 0", "a 2 20 1", //
            "b 1 10 0", "b 2 20 1", "b 1 10 0", "b 2 20 1",
        ]
    );
}

#[test]
fn break_and_continue_leave_only_the_innermost_loop() {
    let yaml = workflow(
        r#"
steps:
  - id: rows
    type: foreach
    items: "[1, 2, 3]"
    variable_name: row
    body:
      - id: cols
        type: foreach
        items: "[1, 2, 3, 4]"
        variable_name: col
        body:
          - id: skip_two
            type: conditional
            condition: "loop.col === 2"
            then_steps:
              - id: next_col
                type: continue
          - id: stop_at_three
            type: conditional
            condition: "loop.col === 3"
            then_steps:
              - id: end_row
                type: break
          - id: show
            type: user_message
            message: "{{ loop.row }}.{{ loop.col }}"
      - id: row_done
        type: user_message
        message: "row {{ loop.row }} done"
"#,
    );
    let run = run(&yaml, json!({}), no_client);
    assert!(run.end.is_ok());
    assert_eq!(run.messages(), ["1.1", "row 1 done", "2.1", "row 2 done", "3.1", "row 3 done"]);
}

#[test]
fn a_loop_whose_condition_reads_state_written_in_its_body_runs_exactly_enough_times() {
    let yaml = workflow(
        r#"
default_state:
  state:
    count: 0
state_schema:
  state:
    count: number
steps:
  - id: until_three
    type: while_loop
    condition: "{{ this.count < 3 }}"
    body:
      - id: bump
        type: mcp_call
        tool: counter
        state_update:
          path: this.count
          value: "{{ result.by }}"
          operation: increment
  - id: done
    type: user_message
    message: "count={{ this.count }}"
"#,
    );
    let run = run(&yaml, json!({}), |_, _| Event::Done(Value::from(&json!({"by": 1}))));
    assert!(run.end.is_ok(), "{:?}", run.end);
    assert_eq!(run.log.iter().filter(|l| l.starts_with("mcp_call bump")).count(), 3);
    assert_eq!(run.messages(), ["count=3"]);
}

#[test]
fn reaching_max_iterations_warns_or_fails() {
    let looping = |handling: &str| {
        workflow(&format!(
            r#"
steps:
  - id: spin
    type: while_loop
    condition: "true"
    max_iterations: 3
{handling}    body:
      - id: tick
        type: user_message
        message: "tick {{{{ loop.iteration }}}}"
"#
        ))
    };
    let warned = run(&looping(""), json!({}), no_client);
    assert!(warned.end.is_ok());
    assert_eq!(warned.messages(), ["tick 1", "tick 2", "tick 3", "`spin` reached its limit of 3 iterations and stopped"]);
    let failed = run(&looping("    error_handling:\n      strategy: fail\n"), json!({}), no_client);
    assert_eq!(failed.end, Err(StepError::new("spin", "`spin` reached its limit of 3 iterations")));
    assert_eq!(failed.messages(), ["tick 1", "tick 2", "tick 3"]);
    // A loop whose condition turns false right after its last allowed iteration did not
    // reach its limit: it ends, without a warning and without failing.
    let exact = |handling: &str| {
        workflow(&format!(
            r#"
steps:
  - id: spin
    type: while_loop
    condition: "{{{{ loop.iteration <= 3 }}}}"
    max_iterations: 3
{handling}    body:
      - id: tick
        type: user_message
        message: "tick {{{{ loop.iteration }}}}"
"#
        ))
    };
    for handling in ["", "    error_handling:\n      strategy: fail\n"] {
        let ended = run(&exact(handling), json!({}), no_client);
        assert!(ended.end.is_ok(), "{:?}", ended.end);
        assert_eq!(ended.messages(), ["tick 1", "tick 2", "tick 3"]);
    }
}

#[test]
fn a_loop_of_server_steps_cannot_spin_the_server() {
    let yaml = workflow(
        r#"
steps:
  - id: a
    type: while_loop
    condition: "true"
    max_iterations: 1000000
    body:
      - id: c
        type: conditional
        condition: "false"
        then_steps:
          - id: never
            type: break
"#,
    );
    let run = run(&yaml, json!({}), no_client);
    let error = run.end.expect_err("the budget stops it");
    assert!(error.message.contains("server-side steps without reaching a client step"), "{error}");
}

#[test]
fn computed_cascades_recompute_in_dependency_order() {
    let yaml = workflow(
        r#"
default_state:
  state:
    base: 1
state_schema:
  state:
    base: number
  computed:
    tripled:
      from: this.sextupled
      transform: "input / 2"
    doubled:
      from: this.base
      transform: "input * 2"
    sextupled:
      from: this.doubled
      transform: "input * 3"
    summary:
      from: [this.base, this.doubled, this.tripled]
      transform: "input.join(',')"
steps:
  - id: set
    type: mcp_call
    tool: x
    store_result: this.base
  - id: show
    type: user_message
    message: "{{ this.summary }}"
"#,
    );
    let workflow = lower(&yaml);
    let order: Vec<&str> = workflow.main.computed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(order, ["doubled", "sextupled", "tripled", "summary"]);
    assert_eq!(workflow.main.refresh.after_state("base"), [0, 1, 2, 3]);
    let run = run(&yaml, json!({}), |_, _| Event::Done(Value::Number(5.0)));
    assert_eq!(run.messages(), ["5,10,15"]);
    assert_eq!(run.state()["computed"], json!({"doubled": 10, "sextupled": 30, "tripled": 15, "summary": "5,10,15"}));
}

#[test]
fn a_write_of_the_wrong_type_fails_the_step_and_changes_nothing() {
    let yaml = workflow(
        r#"
default_state:
  state:
    count: 1
    note: ""
state_schema:
  state:
    count: number
    note: string
steps:
  - id: write
    type: mcp_call
    tool: x
    state_update:
      path: this.note
      value: "written"
    store_result: this.count
"#,
    );
    let run = run(&yaml, json!({}), |_, _| Event::Done(Value::string("seven")));
    let error = run.end.clone().expect_err("refused");
    assert_eq!(error.step_id, "write");
    assert_eq!(error.message, "`this.count` is declared number, but the value written is string (\"seven\")");
    assert_eq!(run.state()["state"], json!({"count": 1, "note": ""}), "neither write happened");
}

#[test]
fn refused_answers_are_asked_again_then_fail() {
    let yaml = workflow(
        r#"
steps:
  - id: age
    type: user_input
    prompt: "Age?"
    input_type: number
    validation:
      min: 0
      max: 150
    max_retries: 2
    state_update:
      path: this.age
      value: input
"#,
    );
    let answers = ["old", "200", "42"];
    let run_ok = run(&yaml, json!({}), |_, attempt| Event::Done(Value::string(answers[attempt as usize - 1])));
    assert!(run_ok.end.is_ok(), "{:?}", run_ok.end);
    assert_eq!(run_ok.state()["state"], json!({"age": 42}));
    assert!(run_ok.log[1].contains(r#""error":"`old` is not a number""#), "{}", run_ok.log[1]);
    assert!(run_ok.log[2].contains("200 is more than the maximum, 150"), "{}", run_ok.log[2]);
    let run_failed = run(&yaml, json!({}), |_, _| Event::Done(Value::string("old")));
    assert_eq!(run_failed.end, Err(StepError::new("age", "the answer was refused: `old` is not a number")));
    assert_eq!(run_failed.log.len(), 3);
}

#[test]
fn an_answer_must_satisfy_its_validation_expression_and_its_updates_apply_all_or_none() {
    let yaml = workflow(
        r#"
default_state:
  state:
    minimum: 5
    count: 0
    note: ""
    confirmed: false
state_schema:
  state:
    minimum: number
    count: number
    note: string
    confirmed: boolean
steps:
  - id: pick
    type: user_input
    prompt: "How many (at least {{ this.minimum }})?"
    input_type: number
    validation:
      expression: "{{ input >= this.minimum }}"
      message: "at least the minimum, please"
    max_retries: 1
    state_updates:
      - path: this.count
        value: input
      - path: this.note
        value: "{{ 'picked ' + input }}"
"#,
    );
    let answers = ["3", "7"];
    let accepted = run(&yaml, json!({}), |_, attempt| Event::Done(Value::string(answers[attempt as usize - 1])));
    assert!(accepted.end.is_ok(), "{:?}", accepted.end);
    assert!(accepted.log[1].contains(r#""error":"at least the minimum, please""#), "{}", accepted.log[1]);
    assert_eq!(accepted.state()["state"], json!({"minimum": 5, "count": 7, "note": "picked 7", "confirmed": false}));

    let refused = run(&yaml, json!({}), |_, _| Event::Done(Value::string("2")));
    assert_eq!(refused.end, Err(StepError::new("pick", "the answer was refused: at least the minimum, please")));

    // Without a message, the refusal quotes the condition; a write that fails leaves every
    // other write of the answer undone.
    let yaml = yaml.replace("      message: \"at least the minimum, please\"\n", "").replace("path: this.note", "path: this.confirmed");
    let unexplained = run(&yaml, json!({}), |_, _| Event::Done(Value::string("1")));
    assert_eq!(unexplained.end, Err(StepError::new("pick", "the answer was refused: the answer does not satisfy `{{ input >= this.minimum }}`")));
    let half_written = run(&yaml, json!({}), |_, _| Event::Done(Value::string("9")));
    assert!(half_written.end.as_ref().is_err_and(|e| e.message.contains("this.confirmed")), "{:?}", half_written.end);
    assert_eq!(half_written.state()["state"], json!({"minimum": 5, "count": 0, "note": "", "confirmed": false}), "neither write happened");
}

#[test]
fn shell_failures_follow_error_handling() {
    let shell = |strategy: &str| {
        workflow(&format!(
            r#"
steps:
  - id: build
    type: shell_command
    command: "make {{{{ inputs.target }}}}"
    error_handling:
      strategy: {strategy}
      max_retries: 1
      fallback_value: "fallback output"
    state_update:
      path: this.out
      value: stdout
inputs:
  target:
    type: string
    description: "what to make"
    default: all
"#
        ))
    };
    let failing = |_: &str, _: u32| Event::Shell(ShellOutput { stderr: "no rule\n".into(), exit_code: Some(2), ..ShellOutput::default() });
    let failed = run(&shell("fail"), json!({}), failing);
    assert_eq!(failed.end, Err(StepError::new("build", "the command exited with code 2: no rule")));
    assert_eq!(failed.log, ["shell build #1: make 'all'"]);
    let retried = run(&shell("retry"), json!({"target": "test"}), |_, attempt| if attempt == 1 { failing("", 1) } else { stdout("ok") });
    assert!(retried.end.is_ok());
    assert_eq!(retried.log, ["shell build #1: make 'test'", "shell build #2: make 'test'"]);
    assert_eq!(retried.state()["state"], json!({"out": "ok"}));
    let fallback = run(&shell("fallback"), json!({}), failing);
    assert_eq!(fallback.state()["state"], json!({"out": "fallback output"}));
    let continued = run(&shell("continue"), json!({}), failing);
    assert!(continued.end.is_ok());
    assert_eq!(continued.state()["state"], json!({"out": ""}), "under continue, what the failed command printed is still written");
}

#[test]
fn starting_applies_defaults_and_refuses_missing_unknown_or_mistyped_inputs() {
    let yaml = workflow(
        r#"
inputs:
  name:
    type: string
    description: "who"
    required: true
  retries:
    type: number
    description: "how many"
    default: 3
steps:
  - id: hi
    type: user_message
    message: "{{ inputs.name }} {{ inputs.retries }}"
"#,
    );
    let program = lower(&yaml).main;
    let start = |inputs: Json| Interpreted::start(Arc::clone(&program), &inputs, Object::new()).map(|m| m.state().to_json()["inputs"].clone());
    assert_eq!(start(json!({"name": "ada"})), Ok(json!({"name": "ada", "retries": 3})));
    assert_eq!(start(json!({})).map_err(|e| e.0), Err("`t:machine` needs the input `name`".to_owned()));
    assert_eq!(start(json!({"name": "ada", "retry": 1})).map_err(|e| e.0), Err("`t:machine` takes no input `retry` (it takes: name, retries)".to_owned()));
    assert_eq!(
        start(json!({"name": 7})).map_err(|e| e.0),
        Err("`inputs.name` is declared string, but the value written is number (7)".to_owned())
    );
}

#[test]
fn parallel_foreach_hands_out_one_task_per_item() {
    let yaml = workflow(
        r#"
sub_agent_tasks:
  review:
    description: "review one file"
    inputs:
      file_path:
        type: string
        description: "the file"
    steps:
      - id: look
        type: user_message
        message: "reviewing {{ file_path }} ({{ index }} of {{ total }})"
steps:
  - id: fan_out
    type: parallel_foreach
    items: "{{ ['a.rs', 'b.rs', 'c.rs'] }}"
    sub_agent_task: review
    max_parallel: 2
"#,
    );
    let workflow = lower(&yaml);
    let run = run(&yaml, json!({}), |_, _| Event::Done(Value::Undefined));
    assert!(run.end.is_ok());
    let handed: Json = serde_json::from_str(run.log[0].split_once(" #1 ").expect("definition").1).expect("JSON");
    assert_eq!(handed["tasks"].as_array().map(Vec::len), Some(3), "every item gets a task, not just max_parallel");
    assert_eq!(handed["tasks"][2]["task_id"], "review.item2");
    assert_eq!(handed["tasks"][2]["inputs"], json!({"file_path": "c.rs"}));
    // The task runs as a machine of its own, with the task names bound.
    let task = &handed["tasks"][1];
    let bindings: Object = task["context"].as_object().expect("context").iter().map(|(k, v)| (k.as_str().into(), Value::from(v))).collect();
    let mut machine = Interpreted::start(Arc::clone(&workflow.tasks[0]), &task["inputs"], bindings).expect("task starts");
    let Ok(Yield::Client(step)) = machine.resume(Event::Start) else { panic!("a message") };
    assert_eq!(step.definition["message"], "reviewing b.rs (1 of 3)");
}

#[test]
fn every_corpus_and_catalog_workflow_lowers_with_resolved_jumps() {
    let corpus = cases::corpus_dir();
    let expected = if corpus.is_some() { 7 } else { 4 };
    let dirs: Vec<std::path::PathBuf> = corpus.into_iter().chain([std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../workflows"))]).collect();
    let mut lowered = 0;
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).expect("directory") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let workflow = lower(&text);
            for program in std::iter::once(&workflow.main).chain(&workflow.tasks) {
                let len = program.ops.len() as u32;
                assert!(matches!(program.ops.last(), Some(Op::Done)));
                for op in &program.ops {
                    let targets: Vec<u32> = match op {
                        Op::Branch { otherwise, .. } => vec![*otherwise],
                        Op::LoopNext { exit, .. } => vec![*exit],
                        Op::Jump { to, .. } => vec![*to],
                        _ => vec![],
                    };
                    assert!(targets.iter().all(|t| *t > 0 && *t < len), "{}: a jump out of range in {op:?}", path.display());
                }
            }
            lowered += 1;
        }
    }
    assert!(lowered >= expected, "the corpus and the catalog were found");
}

#[test]
fn corpus_test_simple_runs_to_completion() {
    let Some(corpus) = cases::corpus_dir() else { return };
    let yaml = std::fs::read_to_string(corpus.join("test:simple.yaml")).expect("the corpus holds test:simple");
    let run = run(&yaml, json!({"name": "ada"}), |step, _| match step {
        "run_echo" => stdout("Hello from workflow\n"),
        other => panic!("unexpected {other}"),
    });
    assert!(run.end.is_ok(), "{:?}", run.end);
    assert_eq!(run.log, ["user_message: Counter is 5, doubled is 10", "shell run_echo #1: echo 'Hello from workflow'"]);
    assert_eq!(run.state()["state"], json!({"counter": 5, "message": "Hello from workflow\n"}));
}

#[test]
fn a_machine_restored_from_a_snapshot_at_any_yield_finishes_the_same() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/machines/loops.yaml");
    let program = lower(&std::fs::read_to_string(path).expect("fixture")).main;
    let answer = |event: &Result<Yield, StepError>| match event {
        Ok(Yield::Client(_)) => Event::Done(Value::from(&json!({"ok": true}))),
        Ok(Yield::Effect(Effect::Wait { .. })) => Event::Waited,
        Ok(Yield::Effect(Effect::Shell(_))) => stdout("x"),
        other => panic!("unexpected {other:?}"),
    };
    // Uninterrupted, counting yields.
    let mut machine = Interpreted::start(Arc::clone(&program), &json!({}), Object::new()).expect("starts");
    let mut yielded = machine.resume(Event::Start);
    let mut yields = 0;
    while !matches!(yielded, Ok(Yield::Done)) {
        yielded = machine.resume(answer(&yielded));
        yields += 1;
    }
    let expected = machine.state().to_json();
    // Interrupted after each yield in turn: snapshot, through JSON text, restore, go on.
    for stop in 0..yields {
        let mut machine = Interpreted::start(Arc::clone(&program), &json!({}), Object::new()).expect("starts");
        let mut yielded = machine.resume(Event::Start);
        for _ in 0..stop {
            yielded = machine.resume(answer(&yielded));
        }
        let text = serde_json::to_string(&machine.snapshot()).expect("serializes");
        let snapshot = serde_json::from_str(&text).expect("deserializes");
        let mut restored = Interpreted::restore(Arc::clone(&program), &snapshot).expect("restores");
        assert_eq!(restored.snapshot(), machine.snapshot(), "the snapshot survives a round trip (stop {stop})");
        while !matches!(yielded, Ok(Yield::Done)) {
            yielded = restored.resume(answer(&yielded));
        }
        assert_eq!(restored.state().to_json(), expected, "restored after yield {stop}");
    }
    let mut broken = machine.snapshot();
    broken.frames.clear();
    assert!(Interpreted::restore(Arc::clone(&program), &broken).is_err_and(|e| e.0.contains("does not fit")));
    // State that another definition allowed, and this one's declared types refuse.
    let mut retyped = machine.snapshot();
    retyped.state["state"]["rounds"] = json!("3");
    let refused = Interpreted::restore(program, &retyped).map(|_| ()).expect_err("a string in a declared number");
    assert!(refused.0.contains("`this.rounds` is declared number, but the value written is string"), "{}", refused.0);
}

#[test]
fn a_tool_call_to_workflow_state_update_is_applied_on_the_server() {
    let yaml = workflow(
        r#"
default_state:
  state:
    count: 1
state_schema:
  state:
    count: number
  computed:
    doubled:
      from: "this.count"
      transform: "input * 2"
steps:
  - id: save
    type: mcp_call
    tool: workflow_state_update
    parameters:
      updates:
        - path: this.count
          value: "{{ this.count + 4 }}"
        - path: this.seen
          operation: append
          value: "{{ this.doubled }}"
  - id: bad
    type: mcp_call
    tool: workflow_state_update
    parameters:
      updates:
        - path: this.count
          value: "{{ 'five' }}"
"#,
    );
    let run = run(&yaml, json!({}), |_, _| Event::Done(Value::Undefined));
    assert!(run.log.is_empty(), "nothing reached the client: {:?}", run.log);
    let error = run.end.clone().expect_err("a wrong-typed write fails the step");
    assert_eq!(error.step_id, "bad");
    assert!(error.message.contains("`this.count` is declared number"), "{}", error.message);
    assert_eq!(run.state()["state"], json!({"count": 5, "seen": [2]}), "the first call's writes, in order, each read the state before the call");
    assert_eq!(run.state()["computed"], json!({"doubled": 10}));
}

#[test]
fn a_traced_step_reports_each_field_it_changed_once() {
    let yaml = workflow(
        r#"
default_state:
  state:
    a: 0
    b: 0
steps:
  - id: save
    type: mcp_call
    tool: workflow_state_update
    parameters:
      updates:
        - path: this.a
          value: 1
        - path: this.b
          value: 2
        - path: this.a
          value: 3
"#,
    );
    let workflow = lower(&yaml);
    let mut machine = Interpreted::start(workflow.main, &json!({}), Object::new()).expect("starts");
    machine.trace(true);
    assert!(matches!(machine.resume(Event::Start), Ok(Yield::Done)));
    let writes: Vec<String> = machine
        .take_trace()
        .into_iter()
        .filter_map(|trace| match trace {
            wfc_runtime::machine::Trace::Write { path, old, new, .. } => Some(format!("{path} {old} -> {new}")),
            _ => None,
        })
        .collect();
    assert_eq!(writes, ["this.a 0 -> 3", "this.b 0 -> 2"]);
}
