//! Durability end to end: a server killed with SIGKILL — between requests, during a shell
//! command, inside a store commit — and started again on the same store loses nothing that was
//! committed and applies nothing twice. Each test compares the final states of interrupted
//! instances with those of the same instances driven without interruption.

use std::collections::VecDeque;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value as Json, json};

use super::{Agent, HttpServer, last_step, temp_root};

/// The workflows and inputs the crash tests run, in turn.
fn plan(index: usize) -> (&'static str, Json) {
    match index % 3 {
        0 => ("serve:counter", json!({"iterations": 5 + index % 4})),
        1 => ("serve:fan-out", json!({"count": 2 + index % 3})),
        _ => ("serve:journal", json!({"entries": 2 + index % 2})),
    }
}

/// A scripted agent's answer to a step, the same for interrupted and uninterrupted runs.
fn answer_for(step: &Json) -> Json {
    match step["id"].as_str().unwrap_or_default() {
        "tick" => json!({"by": 2}),
        "compute" => json!({"value": step["definition"]["parameters"]["n"].as_f64().unwrap_or(0.0).powi(2)}),
        "note" => json!(format!("noted {}", step["definition"]["prompt"].as_str().unwrap_or_default())),
        other => panic!("no scripted answer for step `{other}`: {step}"),
    }
}

/// One instance as a client drives it, one request at a time, so it can stop anywhere and go
/// on against another server: the last answer of the workflow and of the task being driven,
/// and the tasks handed out but not yet driven.
struct Cursor {
    id: String,
    main: Option<Json>,
    /// Whether the tasks the workflow's last answer lists were queued already.
    queued: bool,
    tasks: VecDeque<String>,
    task: Option<(String, Json)>,
}

/// A request: its tool, arguments and the task it is for.
struct Request {
    tool: &'static str,
    arguments: Json,
    task: Option<String>,
}

impl Cursor {
    fn new(id: String) -> Cursor {
        Cursor { id, main: None, queued: false, tasks: VecDeque::new(), task: None }
    }

    /// What to do after `answer` (of the workflow or `task`): submit the last step's result,
    /// or ask for the next steps.
    fn follow(&self, answer: &Json, task: Option<&str>) -> Request {
        let mut arguments = json!({"workflow_id": self.id});
        if let Some(task) = task {
            arguments["task_id"] = task.into();
        }
        let step = answer["steps"].as_array().and_then(|s| s.last()).cloned().unwrap_or_default();
        let tool = match step["type"].as_str() {
            None | Some("user_message" | "wait_step" | "parallel_foreach") => "workflow_get_next_step",
            Some(_) => {
                arguments["step_id"] = step["id"].clone();
                arguments["sequence"] = step["sequence"].clone();
                arguments["result"] = answer_for(&step);
                "workflow_submit_result"
            }
        };
        Request { tool, arguments, task: task.map(str::to_owned) }
    }

    /// The next request (made again until its answer is recorded), or `None` once the
    /// workflow has ended.
    fn next(&mut self) -> Option<Request> {
        loop {
            if let Some((task, answer)) = &self.task {
                if answer["status"] == "running" {
                    return Some(self.follow(answer, Some(task)));
                }
                assert_eq!(answer["status"], "completed", "task {task} of {}: {answer}", self.id);
                self.task = None;
            }
            if let Some(task) = self.tasks.front() {
                return Some(Request { tool: "workflow_get_next_step", arguments: json!({"workflow_id": self.id, "task_id": task}), task: Some(task.clone()) });
            }
            let Some(main) = &self.main else {
                return Some(Request { tool: "workflow_get_next_step", arguments: json!({"workflow_id": self.id}), task: None });
            };
            if main["status"] != "running" {
                return None;
            }
            let listed: Vec<String> = last_step(main)["definition"]["tasks"].as_array().into_iter().flatten().filter_map(|t| t["task_id"].as_str().map(str::to_owned)).collect();
            if !self.queued && !listed.is_empty() {
                self.queued = true;
                self.tasks.extend(listed);
                continue;
            }
            return Some(self.follow(main, None));
        }
    }

    /// Takes the answer to `request` (a task's first request takes the task off the queue).
    fn record(&mut self, request: Request, answer: Json) {
        match request.task {
            Some(task) => {
                if self.tasks.front() == Some(&task) {
                    self.tasks.pop_front();
                }
                self.task = Some((task, answer));
            }
            None => {
                self.main = Some(answer);
                self.queued = false;
            }
        }
    }

    /// Makes up to `requests` requests; stops early when the workflow ends or a request fails
    /// (the server died), leaving the failed request to be made again.
    async fn advance(&mut self, agent: &Agent, requests: usize) -> Result<(), String> {
        for _ in 0..requests {
            let Some(request) = self.next() else { return Ok(()) };
            let answer = agent.try_call(request.tool, request.arguments.clone()).await?;
            let answer = answer.unwrap_or_else(|error| panic!("{} {} was refused: {error}", request.tool, request.arguments));
            self.record(request, answer);
        }
        Ok(())
    }

    async fn finish(&mut self, agent: &Agent) {
        self.advance(agent, 1_000).await.unwrap_or_else(|e| panic!("{}: {e}", self.id));
        assert!(self.next().is_none(), "{} did not end: {:?} {:?} {:?}", self.id, self.main, self.task, self.tasks);
    }
}

/// The final `this` of each instance, in order.
async fn final_states(agent: &Agent, cursors: &[Cursor]) -> Vec<Json> {
    let mut states = Vec::new();
    for cursor in cursors {
        let read = agent.ok("workflow_state_read", json!({"workflow_id": cursor.id})).await;
        states.push(read["state"].clone());
    }
    states
}

/// The same instances started and driven to the end without interruption.
async fn uninterrupted(agent: &Agent, count: usize) -> Vec<Json> {
    let mut cursors = Vec::new();
    for index in 0..count {
        let (workflow, inputs) = plan(index);
        let mut cursor = Cursor::new(agent.start(workflow, inputs).await);
        cursor.finish(agent).await;
        cursors.push(cursor);
    }
    final_states(agent, &cursors).await
}

/// A fixed sequence of "random" numbers (a linear congruential generator), so a failure
/// reproduces.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

fn store_args(store: &Path) -> Vec<String> {
    vec!["--store".to_owned(), store.display().to_string()]
}

#[tokio::test]
async fn fifty_instances_survive_a_sigkill_between_requests() {
    let root = temp_root();
    let store = root.path().join("state.db");
    let server = HttpServer::start_with(root.path(), &store_args(&store), &[]).await;
    let agent = server.connect().await;
    let mut dice = Dice(7);
    let mut cursors = Vec::new();
    for index in 0..50 {
        let (workflow, inputs) = plan(index);
        let mut cursor = Cursor::new(agent.start(workflow, inputs).await);
        cursor.advance(&agent, dice.roll(7)).await.expect("the first server answers");
        cursors.push(cursor);
    }
    let unfinished: Vec<String> = cursors.iter_mut().filter_map(|c| c.next().map(|_| c.id.clone())).collect();
    assert!(unfinished.len() > 25, "most instances are stopped midway: {}", unfinished.len());
    server.kill().await;

    let server = HttpServer::start_with(root.path(), &store_args(&store), &[]).await;
    let agent = server.connect().await;
    let active = agent.ok("workflow_list_active", json!({})).await;
    let listed: Vec<&str> = active["workflows"].as_array().expect("workflows").iter().filter_map(|w| w["workflow_id"].as_str()).collect();
    for id in &unfinished {
        assert!(listed.contains(&id.as_str()), "{id} is not listed after the restart");
    }
    assert_eq!(listed.len(), unfinished.len(), "only unfinished instances are active");
    for cursor in &mut cursors {
        cursor.finish(&agent).await;
    }
    let resumed = final_states(&agent, &cursors).await;
    assert_eq!(resumed, uninterrupted(&agent, 50).await);
}

#[tokio::test]
async fn a_sigkill_during_a_shell_command_reruns_it_and_loses_no_step() {
    let root = temp_root();
    let store = root.path().join("state.db");
    let server = HttpServer::start_with(root.path(), &store_args(&store), &[]).await;
    let agent = server.connect().await;
    let id = agent.start("serve:journal", json!({"entries": 2, "pause": 2})).await;
    let mut cursor = Cursor::new(id.clone());
    // The first request runs `announce` and then the slow command: the server dies during it.
    let request = cursor.next().expect("a first request");
    let call = tokio::spawn(async move { agent.try_call(request.tool, request.arguments).await.map(|_| ()) });
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    server.kill().await;
    // The request in flight died with the server (its HTTP client may not notice for a while).
    call.abort();

    let server = HttpServer::start_with(root.path(), &store_args(&store), &[]).await;
    let agent = server.connect().await;
    let status = agent.ok("workflow_get_status", json!({"workflow_id": id})).await;
    assert_eq!(status["current_step"], "write", "committed before the command ran: {status}");
    assert_eq!((status["loop_iterations"].clone(), status["attempt"].clone()), (json!([1]), json!(1)), "{status}");
    // The retried request runs the command again and hands out the message produced before it.
    let again = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    let ids: Vec<&str> = again["steps"].as_array().expect("steps").iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["announce", "note"], "{again}");
    cursor.record(Request { tool: "workflow_get_next_step", arguments: json!({}), task: None }, again);
    cursor.finish(&agent).await;
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id})).await;
    assert_eq!(state["state"]["lines"], json!(["line-1", "line-2"]));
    assert_eq!(state["state"]["notes"], json!(["noted A note for line-1", "noted A note for line-2"]));
}

#[tokio::test]
async fn a_sigkill_inside_a_commit_keeps_the_last_committed_step() {
    let root = temp_root();
    let store = root.path().join("state.db");
    // The 40th commit dies between writing the row and committing the transaction.
    let server = HttpServer::start_with(root.path(), &store_args(&store), &[("WFC_FAULT_KILL_IN_COMMIT", "40")]).await;
    let agent = server.connect().await;
    let mut cursors = Vec::new();
    let mut died = false;
    'drive: for index in 0..12 {
        let (workflow, inputs) = plan(index);
        let Ok(Ok(started)) = agent.try_call("workflow_start", json!({"workflow": workflow, "inputs": inputs})).await else {
            died = true;
            break;
        };
        cursors.push(Cursor::new(started["workflow_id"].as_str().expect("an id").to_owned()));
        for cursor in &mut cursors {
            if cursor.advance(&agent, 2).await.is_err() {
                died = true;
                break 'drive;
            }
        }
    }
    assert!(died, "the fault was injected");
    server.kill().await;

    let server = HttpServer::start_with(root.path(), &store_args(&store), &[]).await;
    let agent = server.connect().await;
    for cursor in &mut cursors {
        cursor.finish(&agent).await;
    }
    let resumed = final_states(&agent, &cursors).await;
    assert_eq!(resumed, uninterrupted(&agent, cursors.len()).await);
}

#[tokio::test]
async fn a_result_submitted_twice_is_applied_once_and_answered_the_same() {
    let root = temp_root();
    let agent = Agent::fixtures(root.path()).await;
    let id = agent.start("serve:counter", json!({"iterations": 3})).await;
    let first = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    let tick = last_step(&first).clone();
    assert_eq!(tick["sequence"], 1);
    let submit = json!({"workflow_id": id, "step_id": "tick", "sequence": 1, "result": {"by": 1}});
    let answer = agent.ok("workflow_submit_result", submit.clone()).await;
    // The loop hands out `tick` again (sequence 2); the resubmission of sequence 1 is
    // recognised and answered as the first time, not applied to the new step.
    assert_eq!(last_step(&answer)["sequence"], 2);
    assert_eq!(agent.ok("workflow_submit_result", submit.clone()).await, answer);
    let state = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.count"]})).await;
    assert_eq!(state["values"]["this.count"], 1);
    // The step handed out again is applied as usual; a result for a step that is not waiting
    // is refused, naming what the instance waits for (with its sequence).
    agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "sequence": 2, "result": {"by": 1}})).await;
    let (code, message) = agent.refused("workflow_submit_result", json!({"workflow_id": id, "step_id": "nope", "result": 1})).await;
    assert_eq!(code, "INVALID_INPUT");
    assert!(message.contains("sequence 3"), "{message}");
}

#[tokio::test]
async fn checkpoints_restore_and_a_changed_definition_needs_force() {
    let root = temp_root();
    let dir = root.path().join("workflows");
    std::fs::create_dir(&dir).expect("a workflow directory");
    let source = std::fs::read_to_string(super::repo().join("tests/fixtures/serve/serve_counter.yaml")).expect("the counter fixture");
    std::fs::write(dir.join("counter.yaml"), &source).expect("write");
    let store = root.path().join("state.db");
    let mut args = store_args(&store);
    args.extend(["--dev".to_owned(), dir.display().to_string()]);
    let server = HttpServer::launch(root.path(), &args).await;
    let agent = server.connect().await;
    let id = agent.start("serve:counter", json!({"iterations": 5})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 1}})).await;
    let checkpoint = agent.ok("workflow_checkpoint", json!({"workflow_id": id, "name": "after-one", "reason": "test"})).await;
    assert_eq!((checkpoint["checkpoint_id"].clone(), checkpoint["step_id"].clone()), (json!("after-one"), json!("tick")));
    agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 10}})).await;
    let resumed = agent.ok("workflow_resume", json!({"workflow_id": id, "checkpoint": "after-one"})).await;
    assert_eq!(resumed["resumed"], true);
    let count = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.count"]})).await;
    assert_eq!(count["values"]["this.count"], 1, "back to the checkpoint");
    let (code, _) = agent.refused("workflow_resume", json!({"workflow_id": id, "checkpoint": "missing"})).await;
    assert_eq!(code, "NOT_FOUND");
    server.kill().await;

    // The workflow changes while the server is down: the instance is held until forced.
    std::fs::write(dir.join("counter.yaml"), source.replace("Counted to", "Counted up to")).expect("edit");
    let server = HttpServer::launch(root.path(), &args).await;
    let agent = server.connect().await;
    let active = agent.ok("workflow_list_active", json!({})).await;
    assert!(active["workflows"][0]["needs_force_resume"].is_string(), "{active}");
    let (code, message) = agent.refused("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(code, "DEFINITION_CHANGED");
    assert!(message.contains("force"), "{message}");
    let (code, _) = agent.refused("workflow_resume", json!({"workflow_id": id})).await;
    assert_eq!(code, "DEFINITION_CHANGED");
    agent.ok("workflow_resume", json!({"workflow_id": id, "force": true})).await;
    // The agent still holds the step it was given before the restart, and reports it.
    let answer = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 2}})).await;
    let mut cursor = Cursor::new(id.clone());
    cursor.record(Request { tool: "workflow_submit_result", arguments: json!({}), task: None }, answer);
    cursor.finish(&agent).await;
    let status = agent.ok("workflow_get_status", json!({"workflow_id": id})).await;
    assert_eq!(status["state"]["count"], 5, "1 at the checkpoint, then ticks of 2: {status}");
    assert_eq!(status["status"], "completed");
}

/// Load: 1,000 instances at once over HTTP, driven by 16 clients, every step committed to the
/// SQLite store. No update is lost or doubled (each counter equals its steps times the step's
/// increment), no request fails; throughput and p99 latency are printed (`--nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_instances_from_sixteen_clients_lose_and_double_nothing() {
    const INSTANCES: usize = 1_000;
    const CLIENTS: usize = 16;
    const STEPS: u64 = 4;
    let root = temp_root();
    let store = root.path().join("state.db");
    let server = HttpServer::start_with(root.path(), &store_args(&store), &[]).await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(std::sync::Arc::new(server.connect().await));
    }
    let started = std::time::Instant::now();
    // Every instance starts first, so all 1,000 are active at once; then each client drives
    // its share, one step of each of its instances in turn.
    let mut handles = Vec::new();
    for (client_index, agent) in clients.iter().enumerate() {
        let agent = std::sync::Arc::clone(agent);
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut timed = async |tool: &str, arguments: Json| {
                let at = std::time::Instant::now();
                let answer = agent.ok(tool, arguments).await;
                latencies.push(at.elapsed());
                answer
            };
            let mut ids = Vec::new();
            for _ in (client_index..INSTANCES).step_by(CLIENTS) {
                let started = timed("workflow_start", json!({"workflow": "serve:counter", "inputs": {"iterations": STEPS * 3 + 1}})).await;
                ids.push(started["workflow_id"].as_str().expect("an id").to_owned());
            }
            for id in &ids {
                timed("workflow_get_next_step", json!({"workflow_id": id})).await;
            }
            for _ in 0..STEPS {
                for id in &ids {
                    timed("workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 3}})).await;
                }
            }
            (ids, latencies)
        }));
    }
    let mut ids = Vec::new();
    let mut latencies = Vec::new();
    for handle in handles {
        let (mine, times) = handle.await.expect("a client task");
        ids.extend(mine);
        latencies.extend(times);
    }
    let elapsed = started.elapsed();
    assert_eq!(ids.len(), INSTANCES);
    let agent = &clients[0];
    let active = agent.ok("workflow_list_active", json!({})).await;
    assert_eq!(active["count"], INSTANCES, "every instance is one step from its end");
    for id in &ids {
        let read = agent.ok("workflow_state_read", json!({"workflow_id": id, "paths": ["this.count"]})).await;
        assert_eq!(read["values"]["this.count"], STEPS * 3, "{id}");
    }
    latencies.sort();
    println!(
        "load: {} requests from {CLIENTS} clients over {INSTANCES} instances in {:.2} s: {:.0} requests/s, p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies[latencies.len() / 2].as_secs_f64() * 1e3,
        latencies[latencies.len() * 99 / 100].as_secs_f64() * 1e3
    );
}

#[tokio::test]
async fn limits_refuse_with_their_codes_and_ended_instances_are_swept() {
    let root = temp_root();
    let args: Vec<String> =
        ["--max-active-instances", "3", "--max-state-bytes", "8000", "--max-tasks-per-step", "2", "--keep-finished", "1"].map(str::to_owned).to_vec();
    let server = HttpServer::start_with(root.path(), &args, &[]).await;
    let agent = server.connect().await;

    // Sub-agent tasks per step: three items, two allowed.
    let fan_out = agent.start("serve:fan-out", json!({"count": 3})).await;
    let failed = agent.ok("workflow_get_next_step", json!({"workflow_id": fan_out})).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"]["message"].as_str().is_some_and(|m| m.contains("3 sub-agent tasks") && m.contains("--max-tasks-per-step")), "{failed}");

    // State size: a write that would grow the instance past the limit changes nothing.
    let small = agent.start("serve:fan-out", json!({"count": 1})).await;
    let (code, message) = agent.refused("workflow_update_state", json!({"workflow_id": small, "updates": [{"path": "this.label", "value": "x".repeat(10_000)}]})).await;
    assert_eq!(code, "STATE_TOO_LARGE");
    assert!(message.contains("--max-state-bytes"), "{message}");
    let label = agent.ok("workflow_state_read", json!({"workflow_id": small, "paths": ["this.label"]})).await;
    assert_eq!(label["values"]["this.label"], "squares", "the refused write was not kept");

    // Active instances: three running (the failed one has ended), a fourth is refused until
    // one ends.
    let second = agent.start("serve:counter", json!({})).await;
    agent.start("serve:counter", json!({})).await;
    let (code, message) = agent.refused("workflow_start", json!({"workflow": "serve:counter"})).await;
    assert_eq!(code, "LIMIT_EXCEEDED");
    assert!(message.contains("--max-active-instances"), "{message}");
    agent.ok("workflow_cancel", json!({"workflow_id": second})).await;
    agent.start("serve:counter", json!({})).await;

    // Ended instances are removed once older than --keep-finished.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    for ended in [&fan_out, &second] {
        let (code, _) = agent.refused("workflow_get_status", json!({"workflow_id": ended})).await;
        assert_eq!(code, "NOT_FOUND", "{ended} was swept");
    }
    agent.ok("workflow_get_status", json!({"workflow_id": small})).await;
}

/// The kinds, steps and tasks of an instance's history, `kind step [task]`.
async fn history_lines(agent: &Agent, id: &str) -> Vec<String> {
    let history = agent.ok("workflow_history", json!({"workflow_id": id})).await;
    let events = history["events"].as_array().expect("events").clone();
    let seqs: Vec<u64> = events.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "numbered in order: {seqs:?}");
    events
        .iter()
        .map(|e| {
            let mut line = e["kind"].as_str().unwrap_or_default().to_owned();
            if let Some(step) = e["step_id"].as_str() {
                line.push_str(&format!(" {step}"));
            }
            if let Some(task) = e["task_id"].as_str() {
                line.push_str(&format!(" [{task}]"));
            }
            line
        })
        .collect()
}

#[tokio::test]
async fn the_history_records_every_kind_of_event_in_order() {
    let root = temp_root();
    let store = root.path().join("state.db");
    let server = HttpServer::start_with(root.path(), &store_args(&store), &[]).await;
    let agent = server.connect().await;
    let id = agent.start("serve:history", json!({})).await;
    let asked = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(last_step(&asked)["id"], "ask");
    let fan_out = agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "ask", "result": "yes"})).await;
    assert_eq!(last_step(&fan_out)["type"], "parallel_foreach");
    agent.ok("workflow_get_next_step", json!({"workflow_id": id, "task_id": "worker.item0"})).await;
    agent.ok("workflow_update_state", json!({"workflow_id": id, "updates": [{"path": "this.count", "value": 5}]})).await;
    agent.ok("workflow_submit_result", json!({"workflow_id": id, "task_id": "worker.item0", "step_id": "work", "result": {"ok": true}})).await;
    let failed = agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    assert_eq!(failed["status"], "failed");
    let lines = history_lines(&agent, &id).await;
    let expected = [
        "started",
        "loop_iteration rounds",
        "shell bump",
        "state_write bump",
        "computed_refresh",
        "loop_iteration rounds",
        "shell bump",
        "state_write bump",
        "computed_refresh",
        "branch check",
        "step_handed ask",
        "step_completed ask",
        "step_handed fan_out",
        "tasks_started fan_out",
        "step_handed work [worker.item0]",
        "state_write",
        "computed_refresh",
        "step_completed work [worker.item0]",
        "status [worker.item0]",
        "state_write fan_out",
        "shell boom",
        "error boom",
        "status",
    ];
    assert_eq!(lines, expected, "{lines:#?}");
    // Writes carry the old and new values and who made them.
    let history = agent.ok("workflow_history", json!({"workflow_id": id})).await;
    let writes: Vec<&Json> = history["events"].as_array().expect("events").iter().filter(|e| e["kind"] == "state_write").collect();
    assert_eq!(writes[0]["detail"], json!({"path": "this.count", "old": 0, "new": 1, "by": "step"}));
    assert_eq!(writes[2]["detail"], json!({"path": "this.count", "old": 2, "new": 5, "by": "client"}));
    // One task's entries, and entries after a point.
    let task = agent.ok("workflow_history", json!({"workflow_id": id, "task_id": "worker.item0"})).await;
    assert_eq!(task["count"], 3);
    let since = agent.ok("workflow_history", json!({"workflow_id": id, "since": 20})).await;
    assert_eq!(since["count"], 3);

    // The terminal reads the same history from the store.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wfc")).args(["history", &id, "--store"]).arg(&store).output().expect("wfc history");
    let timeline = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(timeline.contains("state_write") && timeline.contains("this.count 0 → 1 (by step)") && timeline.contains("[worker.item0]"), "{timeline}");
    // And as JSON lines, one per entry, each naming its instance.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wfc")).args(["history", &id, "--format", "jsonl", "--store"]).arg(&store).output().expect("wfc history");
    let lines: Vec<Json> = String::from_utf8_lossy(&output.stdout).lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    assert_eq!(lines.len(), history["events"].as_array().expect("events").len());
    assert!(lines.iter().all(|line| line["workflow_id"] == json!(id) && line["kind"].is_string()), "{lines:?}");
    assert_eq!(lines[0]["seq"], history["events"][0]["seq"]);
}

#[tokio::test]
async fn the_history_is_bounded_and_says_what_it_dropped() {
    let root = temp_root();
    let mut args = store_args(&root.path().join("state.db"));
    args.extend(["--history-limit".to_owned(), "20".to_owned()]);
    let server = HttpServer::start_with(root.path(), &args, &[]).await;
    let agent = server.connect().await;
    let id = agent.start("serve:counter", json!({"iterations": 30})).await;
    let mut cursor = Cursor::new(id.clone());
    cursor.finish(&agent).await;
    let history = agent.ok("workflow_history", json!({"workflow_id": id})).await;
    let events = history["events"].as_array().expect("events");
    // Entries are dropped a commit's worth at a time (one step's: up to five here).
    assert!(events.len() <= 20 + 2 + 5 + 1, "at most the limit, a tenth, a commit's worth and the summary: {}", events.len());
    let summary = &events[0];
    assert_eq!((summary["seq"].clone(), summary["kind"].clone()), (json!(0), json!("summary")));
    let dropped = summary["detail"]["dropped"].as_u64().expect("a count");
    let last = events.last().and_then(|e| e["seq"].as_u64()).expect("entries");
    assert_eq!(dropped + events.len() as u64 - 1, last, "every entry is kept or counted: {summary}");
    assert!(summary["detail"]["kinds"]["state_write"].as_u64().is_some_and(|n| n > 0), "{summary}");
}

#[tokio::test]
async fn a_profile_says_where_the_time_went_over_mcp_and_from_the_store() {
    let root = temp_root();
    let store = root.path().join("state.db");
    let server = HttpServer::start_with(root.path(), &store_args(&store), &[]).await;
    let agent = server.connect().await;
    let id = agent.start("serve:counter", json!({"iterations": 3})).await;
    agent.ok("workflow_get_next_step", json!({"workflow_id": id})).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        agent.ok("workflow_submit_result", json!({"workflow_id": id, "step_id": "tick", "result": {"by": 1}})).await;
    }
    let profile = agent.ok("workflow_profile", json!({"workflow_id": id})).await;
    let tick = profile["steps"].as_array().expect("steps").iter().find(|s| s["step_id"] == "tick").cloned().unwrap_or_default();
    assert_eq!((tick["type"].clone(), tick["count"].clone()), (json!("mcp_call"), json!(3)), "{profile}");
    assert!(tick["total_seconds"].as_f64().is_some_and(|t| t >= 0.05) && tick["max_seconds"].as_f64() >= tick["mean_seconds"].as_f64(), "{profile}");
    assert!(profile["waiting"]["agent_seconds"].as_f64().is_some_and(|t| t >= 0.05), "the tool calls were the agent's: {profile}");
    assert_eq!(profile["waiting"]["person_seconds"], 0.0);
    let loop_ = &profile["loops"][0];
    assert_eq!((loop_["step_id"].clone(), loop_["iterations"].clone()), (json!("count_up"), json!(3)), "{profile}");
    assert_eq!(loop_["slowest"].as_array().map(Vec::len), Some(3));

    // The terminal reads the same from the store.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wfc")).args(["profile", &id, "--store"]).arg(&store).output().expect("wfc profile");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(table.contains("tick") && table.contains("mcp_call") && table.contains("loop count_up: 3 iterations"), "{table}");
}
