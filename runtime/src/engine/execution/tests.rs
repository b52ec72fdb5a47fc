//! The step protocol in process: a small workflow built as a [`Program`], driven through
//! [`Execution`] with the IO played by the test — shell outputs made up, time set by hand —
//! so batching, re-handing, retries, deadlines, fan-out and serial mode are checked without a
//! process, a runtime or a clock.

use std::sync::Arc;

use serde_json::{Value as Json, json};

use super::{Context, Execution, Progress, ShellJob};
use crate::engine::batch::Batch;
use crate::engine::definition::Definition;
use crate::engine::store::{Sqlite, Store};
use crate::engine::{ErrorCode, ToolError};
use crate::machine::program::{
    AnswerRules, ClientOp, Expression, Handling, Input, OnFailure, Op, Program, Refresh, Rules, Segment, ShellOp, SpawnOp, StateField, Workflow, WritePath,
    WriteTier,
};
use crate::machine::answer::InputType;
use crate::machine::update::Operation;
use crate::machine::{ClientWrite, DEFAULT_SERVER_STEP_BUDGET, Event, ShellOutput, Strategy};
use crate::value::{EvalError, Scope, Value};

/// An expression with a fixed value.
#[derive(Debug)]
struct Fixed(Json);

impl Expression for Fixed {
    fn eval(&self, _: &dyn Scope) -> Result<Value, EvalError> {
        Ok(Value::from(&self.0))
    }
}

fn fail() -> OnFailure {
    OnFailure { strategy: Strategy::Fail, max_retries: 0, retry_delay: 0.0, fallback: None, message: None }
}

fn client(step: &str, kind: &'static str, handling: Handling<Fixed>) -> Op<Fixed> {
    Op::Client(ClientOp { step: step.to_owned(), kind, definition: vec![("text".to_owned(), Fixed(json!(step)))], handling })
}

fn shell(step: &str, on_failure: OnFailure) -> Op<Fixed> {
    Op::Shell(ShellOp { step: step.to_owned(), command: Fixed(json!("make")), working_directory: None, timeout_seconds: 60.0, updates: Vec::new(), on_failure })
}

fn ask(step: &str, variable: &str) -> Op<Fixed> {
    let rules = AnswerRules {
        input_type: InputType::String,
        rules: Rules { required: true, ..Rules::default() },
        default: None,
        max_retries: 0,
        variable: Some(variable.to_owned()),
        condition: None,
        updates: Vec::new(),
        on_failure: fail(),
    };
    client(step, "user_input", Handling::Answer(Box::new(rules)))
}

fn program(name: &str, inputs: &[&str], state: &[&str], mut ops: Vec<Op<Fixed>>) -> Arc<Program<Fixed>> {
    ops.push(Op::Done);
    Arc::new(Program {
        name: name.to_owned(),
        inputs: inputs.iter().map(|name| Input { name: (*name).to_owned(), field_type: None, required: false, default: None, rules: None }).collect(),
        state: state.iter().map(|name| StateField { name: (*name).to_owned(), field_type: None, initial: None }).collect(),
        computed: Vec::new(),
        refresh: Refresh::default(),
        ops,
        loop_depth: 0,
        reads: Vec::new(),
        native: None,
    })
}

fn definition(main: Arc<Program<Fixed>>, tasks: Vec<Arc<Program<Fixed>>>) -> Arc<Definition> {
    let workflow = Workflow { name: "test:protocol".to_owned(), description: String::new(), version: "1".to_owned(), timeout_seconds: None, main, tasks };
    Arc::new(Definition::new(&workflow, "test", "in process", "hash"))
}

/// The workflow most tests drive: a message, a required question, a server command, a tool
/// call whose result nothing uses.
fn greeting() -> Arc<Definition> {
    let tool = Handling::ToolResult { store: None, updates: Vec::new(), on_failure: fail() };
    definition(program("main", &[], &["name"], vec![client("hello", "user_message", Handling::Nothing), ask("ask", "name"), shell("build", fail()), client("notify", "mcp_call", tool)]), Vec::new())
}

/// An instance with its store, and the settings a request runs under.
struct Harness {
    store: Sqlite,
    commits: tokio::sync::broadcast::Sender<String>,
    execution: Execution,
    serial: bool,
    now: f64,
}

impl Harness {
    fn new(definition: Arc<Definition>) -> Harness {
        let machine = definition.start(&json!({}), DEFAULT_SERVER_STEP_BUDGET).expect("the test workflow starts");
        let mut harness = Harness { store: Sqlite::in_memory().expect("an in-memory store"), commits: tokio::sync::broadcast::channel(16).0, execution: Execution::new("wf_test".to_owned(), definition, machine, 0.0), serial: false, now: 0.0 };
        let cx = Harness::cx_of(&harness.store, &harness.commits, false, 0.0);
        harness.execution.started(&cx);
        harness
    }

    /// The settings of a request made at `now`; `jitter` 0.5 leaves retry delays at their base.
    fn cx_of<'a>(store: &'a Sqlite, commits: &'a tokio::sync::broadcast::Sender<String>, serial: bool, now: f64) -> Context<'a> {
        Context { store, commits, max_record_bytes: 1 << 20, max_tasks_per_step: 100, max_server_steps: DEFAULT_SERVER_STEP_BUDGET, limit_warning_at: 0.8, max_message_bytes: crate::engine::long_message::DEFAULT_MAX_MESSAGE_BYTES, actor: Default::default(), audit: None, serial, history: true, now, jitter: 0.5 }
    }

    fn next(&mut self, task: Option<&str>) -> Result<Progress, ToolError> {
        let cx = Harness::cx_of(&self.store, &self.commits, self.serial, self.now);
        self.execution.next_step(task, &cx)
    }

    fn submit(&mut self, step: &str, result: Json, task: Option<&str>) -> Result<Progress, ToolError> {
        let cx = Harness::cx_of(&self.store, &self.commits, self.serial, self.now);
        self.execution.submit(step, None, Event::Done(Value::from(&result)), task, &cx)
    }

    /// Plays the command: it ran for a second and exited with `exit_code`.
    fn ran(&mut self, job: ShellJob, exit_code: i32) -> Result<Progress, ToolError> {
        let output = ShellOutput { stdout: "built\n".to_owned(), stderr: String::new(), exit_code: Some(exit_code), failure: None };
        let cx = Harness::cx_of(&self.store, &self.commits, self.serial, self.now);
        self.execution.ran(job, output, 1.0, &cx)
    }

    fn write(&mut self, path: &str, value: Json) {
        let cx = Harness::cx_of(&self.store, &self.commits, self.serial, self.now);
        let write = ClientWrite { path: path.to_owned(), value: Some(value), operation: Operation::Set };
        self.execution.write(&[write], None, &cx).expect("the write is taken");
    }

    fn this(&self) -> Json {
        self.execution.main.machine.state().this().to_json().unwrap_or_default()
    }

    fn stored_version(&self) -> u64 {
        self.store.get("wf_test").expect("the store answers").map_or(0, |stored| stored.version)
    }

    fn history_kinds(&self) -> Vec<String> {
        self.store.history("wf_test", None, 0).expect("the store answers").into_iter().map(|event| event.kind).collect()
    }
}

fn answer(progress: Result<Progress, ToolError>) -> Batch {
    match progress.expect("the request succeeds") {
        Progress::Answer(batch) => batch,
        Progress::Run(job) => panic!("expected an answer, the request needs `{}` run", job.command.command),
        Progress::Parked => panic!("expected an answer, the work was parked"),
    }
}

fn job(progress: Result<Progress, ToolError>) -> ShellJob {
    match progress.expect("the request succeeds") {
        Progress::Run(job) => job,
        Progress::Answer(batch) => panic!("expected a command to run, got the answer {}", batch.to_json()),
        Progress::Parked => panic!("expected a command to run, the work was parked"),
    }
}

fn ids(batch: &Batch) -> Vec<String> {
    batch.steps.iter().flatten().map(|step| step.id.clone()).collect()
}

#[test]
fn a_batch_is_the_messages_up_to_the_first_step_that_needs_the_client() {
    let mut harness = Harness::new(greeting());
    let batch = answer(harness.next(None));
    assert_eq!(ids(&batch), ["hello", "ask"]);
    assert_eq!(batch.steps.as_ref().map(|steps| steps.iter().map(|s| s.sequence).collect::<Vec<_>>()), Some(vec![Some(1), Some(2)]));
    assert_eq!(batch.to_json()["status"], "running");
    assert_eq!(harness.stored_version(), 1, "the answer is committed before it is given");
}

#[test]
fn every_commit_is_told_to_whoever_listens() {
    let mut harness = Harness::new(greeting());
    let mut heard = harness.commits.subscribe();
    answer(harness.next(None));
    assert_eq!(heard.try_recv().as_deref(), Ok("wf_test"));
    assert!(heard.try_recv().is_err(), "one commit, told once");
}

#[test]
fn asking_past_a_question_hands_it_out_again_and_never_completes_it_without_its_answer() {
    let mut harness = Harness::new(greeting());
    answer(harness.next(None));
    for _ in 0..3 {
        let again = answer(harness.next(None));
        assert_eq!(ids(&again), ["ask"]);
        assert_eq!(again.steps.as_ref().and_then(|steps| steps[0].sequence), Some(2), "the same step keeps its sequence");
    }
    assert_eq!(harness.this()["name"], Json::Null);
    assert_eq!(harness.execution.current_step(), Some("ask"));
    let build = job(harness.submit("ask", json!("Ada"), None));
    assert_eq!(harness.this()["name"], "Ada");
    assert_eq!(build.command.step_id, "build");
    assert!(harness.history_kinds().iter().filter(|kind| *kind == "step_handed").count() >= 5, "each hand-out is in the history: {:?}", harness.history_kinds());
}

#[test]
fn a_step_whose_fields_the_client_wrote_itself_may_be_completed_without_its_result() {
    let mut harness = Harness::new(greeting());
    answer(harness.next(None));
    harness.write("this.name", json!("Grace"));
    let build = job(harness.next(None));
    assert_eq!(build.command.step_id, "build");
    assert_eq!(harness.this()["name"], "Grace");
}

#[test]
fn a_shell_command_is_committed_before_it_runs_and_its_output_moves_the_request_on() {
    let mut harness = Harness::new(greeting());
    answer(harness.next(None));
    let build = job(harness.submit("ask", json!("Ada"), None));
    let before = harness.stored_version();
    assert_eq!(harness.execution.current_step(), Some("build"), "the instance stands at the command while it runs");
    assert_eq!(build.command.command, "make");
    assert!(build.delay.is_zero());
    let batch = answer(harness.ran(build, 0));
    assert_eq!(ids(&batch), ["notify"]);
    assert!(harness.stored_version() > before);
    assert!(harness.history_kinds().contains(&"shell".to_owned()));
    // A tool call whose result nothing uses is completed by the next request (AroMCP's rule).
    let end = answer(harness.next(None));
    assert!(end.completed);
    assert_eq!(end.to_json()["status"], "completed");
}

/// The greeting workflow, its question answered, its command run by a request that stopped
/// waiting for it (`--answer-within` passed).
fn parked_after_build() -> Harness {
    let mut harness = Harness::new(greeting());
    answer(harness.next(None));
    let mut build = job(harness.submit("ask", json!("Ada"), None));
    build.detach();
    assert!(matches!(harness.ran(build, 0), Ok(Progress::Parked)));
    assert_eq!(harness.execution.current_step(), Some("notify"));
    harness
}

#[test]
fn a_command_whose_request_stopped_waiting_keeps_its_steps_for_the_next_request() {
    let mut harness = parked_after_build();
    // The retried submission gets the step produced meanwhile, and the name is set once.
    assert_eq!(ids(&answer(harness.submit("ask", json!("Bob"), None))), ["notify"]);
    assert_eq!(harness.this()["name"], "Ada");
    // So does a next-step request.
    let mut harness = parked_after_build();
    assert_eq!(ids(&answer(harness.next(None))), ["notify"], "handed out, not completed unseen");
}

#[test]
fn a_resubmitted_result_gets_the_first_answer_and_is_not_applied_twice() {
    let mut harness = Harness::new(greeting());
    answer(harness.next(None));
    let build = job(harness.submit("ask", json!("Ada"), None));
    let first = answer(harness.ran(build, 0));
    let again = answer(harness.submit("ask", json!("Bob"), None));
    assert_eq!(first, again);
    assert_eq!(harness.this()["name"], "Ada");
}

#[test]
fn a_failed_command_with_retries_comes_back_with_its_backoff_as_data() {
    let retry = OnFailure { strategy: Strategy::Retry, max_retries: 2, retry_delay: 2.0, fallback: None, message: None };
    let mut harness = Harness::new(definition(program("main", &[], &[], vec![shell("flaky", retry)]), Vec::new()));
    let first = job(harness.next(None));
    assert_eq!(first.command.attempt, 1);
    let second = job(harness.ran(first, 1));
    assert_eq!(second.command.attempt, 2);
    // jitter 0.5 spreads nothing: the delay is the base.
    assert_eq!(second.delay.as_secs_f64(), 2.0);
    let third = job(harness.ran(second, 1));
    assert_eq!(third.delay.as_secs_f64(), 4.0, "each retry doubles the delay");
    let failed = answer(harness.ran(third, 1));
    assert_eq!(failed.to_json()["status"], "failed");
    assert_eq!(failed.error.as_ref().and_then(|e| e.step_id.as_deref()), Some("flaky"));
}

#[test]
fn a_wait_step_past_its_deadline_fails_at_the_time_given_not_the_clock() {
    let wait = Op::Wait { step: "pause".to_owned(), message: Fixed(json!("hold on")), timeout_seconds: Some(5.0) };
    let mut harness = Harness::new(definition(program("main", &[], &[], vec![wait, client("after", "user_message", Handling::Nothing)]), Vec::new()));
    let waiting = answer(harness.next(None));
    assert!(waiting.steps.as_ref().is_some_and(|steps| steps[0].is_wait));
    harness.now = 10.0;
    let failed = answer(harness.next(None));
    assert_eq!(failed.to_json()["status"], "failed");
    assert!(failed.error.is_some_and(|e| e.message.contains("timeout_seconds")));
}

#[test]
fn a_result_for_a_step_not_waited_at_is_refused_with_a_typed_code() {
    let mut harness = Harness::new(greeting());
    let refused = harness.submit("notify", json!({}), None).expect_err("refused");
    assert_eq!(refused.code, ErrorCode::InvalidInput);
    assert!(refused.message.contains("call workflow_get_next_step first"), "{}", refused.message);
}

#[test]
fn a_reply_refused_by_its_schema_is_asked_for_again_with_the_reason_then_fails_the_step() {
    let reply = Handling::Reply {
        schema: Some(json!({"type": "object", "required": ["files"]})),
        rules: Rules::default(),
        updates: Vec::new(),
        store: None,
        retries: 1,
        on_failure: fail(),
    };
    let mut harness = Harness::new(definition(program("main", &[], &[], vec![client("bump", "agent_prompt", reply)]), Vec::new()));
    answer(harness.next(None));
    let again = answer(harness.submit("bump", json!("done!"), None));
    let step = &again.steps.as_ref().expect("the step again")[0];
    assert_eq!((step.id.as_str(), step.attempt), ("bump", Some(2)));
    assert!(step.definition["error"].as_str().is_some_and(|e| e.contains("response schema")), "{}", step.definition);
    let failed = answer(harness.submit("bump", json!({"changed": []}), None));
    assert_eq!(failed.to_json()["status"], "failed");
    assert!(failed.error.is_some_and(|e| e.message.starts_with("the reply was refused")));
}

/// A workflow that fans out one task per item; each task asks one question.
fn fan_out() -> Arc<Definition> {
    let spawn = SpawnOp {
        step: "review".to_owned(),
        items: Fixed(json!(["a.rs", "b.rs"])),
        task: 0,
        task_name: "review_file".to_owned(),
        task_inputs: vec!["file".to_owned()],
        max_parallel: 2,
        timeout_seconds: None,
        store: Some(WritePath { text: "this.reviews".to_owned(), tier: WriteTier::State, segments: vec![Segment::Field("reviews".into())] }),
    };
    let task = program("review_file", &["file"], &["verdict"], vec![ask("judge", "verdict")]);
    definition(program("main", &[], &["reviews"], vec![Op::Spawn(spawn), client("done", "user_message", Handling::Nothing)]), vec![task])
}

#[test]
fn sub_agent_tasks_are_handed_out_then_the_workflow_goes_on_with_their_outcomes() {
    let mut harness = Harness::new(fan_out());
    let batch = answer(harness.next(None));
    let step = &batch.steps.as_ref().expect("steps")[0];
    assert_eq!(step.kind, "parallel_foreach");
    let tasks: Vec<String> = step.definition["tasks"].as_array().expect("tasks").iter().map(|t| t["task_id"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(tasks.len(), 2);
    // While tasks run, the workflow answers with a wait step.
    assert!(answer(harness.next(None)).steps.as_ref().is_some_and(|steps| steps[0].is_wait));
    for (task, verdict) in tasks.iter().zip(["good", "bad"]) {
        let asked = answer(harness.next(Some(task)));
        assert_eq!(ids(&asked), ["judge"]);
        // Asking past the question hands it out again for the task too.
        assert_eq!(ids(&answer(harness.next(Some(task)))), ["judge"]);
        let ended = answer(harness.submit("judge", json!(verdict), Some(task)));
        assert!(ended.completed, "{}", ended.to_json());
    }
    let next = answer(harness.next(None));
    assert_eq!(ids(&next), ["done"]);
    let reviews = harness.this()["reviews"].clone();
    assert_eq!(reviews.as_array().map(Vec::len), Some(2));
    assert_eq!(reviews[1]["state"]["verdict"], "bad");
}

#[test]
fn serial_mode_hands_each_task_step_to_the_main_agent_one_at_a_time() {
    let mut harness = Harness::new(fan_out());
    harness.serial = true;
    let first = answer(harness.next(None));
    let step = &first.steps.as_ref().expect("steps")[0];
    assert_eq!(step.id, "judge");
    assert!(step.task_id.is_some() && step.instructions.is_some());
    // Asked past, the task's question comes back: serial mode loses no result either.
    assert_eq!(ids(&answer(harness.next(None))), ["judge"]);
    let second = answer(harness.submit("judge", json!("good"), None));
    assert_eq!(ids(&second), ["judge"]);
    assert_ne!(second.steps.as_ref().and_then(|s| s[0].task_id.clone()), step.task_id);
    let done = answer(harness.submit("judge", json!("fine"), None));
    assert_eq!(ids(&done), ["done"]);
    assert_eq!(harness.this()["reviews"][0]["state"]["verdict"], "good");
}
