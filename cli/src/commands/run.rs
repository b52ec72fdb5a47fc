//! `wfc run NAME|FILE`: drive one workflow in the terminal, without an agent. Messages are
//! printed, shell steps run, and every step that needs a client is answered by the person at
//! the terminal — or by `--answers FILE`, a JSON object from step id to its answer (a list for
//! a step answered several times, one item per time).

mod console;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use wfc_runtime::catalog::Entry;
use wfc_runtime::engine::store::{Actor, ActorKind};
use wfc_runtime::engine::{ACTOR, Definition, Engine, Observer, ShellSettings, Store, Submit, shell};
use wfc_runtime::machine::FieldType;

use console::{Console, Style};

/// How `wfc run` was asked to run.
pub(crate) struct Options {
    /// A workflow of the catalog or a YAML file (with `resume`, the one the instance runs, if
    /// not the catalog's workflow of its name).
    pub(crate) workflow: Option<String>,
    /// `name=value` inputs (the value is JSON if it parses as JSON, else text).
    pub(crate) inputs: Vec<String>,
    /// Scripted answers, by step id.
    pub(crate) answers: Option<PathBuf>,
    /// Where shell steps run.
    pub(crate) project_root: Option<PathBuf>,
    /// The instance to continue, instead of starting one.
    pub(crate) resume: Option<String>,
    /// The store (`memory`, a path, or by default `.wfc/state.db` under the project root).
    pub(crate) store: Option<String>,
}

pub(crate) fn run(catalog: &'static [Entry], options: Options) -> ExitCode {
    let Ok(project_root) = super::serve::project_root(options.project_root) else { return ExitCode::from(2) };
    // The project's store, as `wfc serve` uses it: an interrupted run is continued by either.
    let Ok(store) = super::serve::open_store(options.store.as_deref(), &project_root) else { return ExitCode::from(2) };
    let resumed = match options.resume.as_deref().map(|id| store.get(id)).transpose() {
        Ok(resumed) => resumed.map(|stored| stored.ok_or_else(|| format!("no workflow instance `{}` in the store", options.resume.as_deref().unwrap_or_default()))),
        Err(error) => Some(Err(error.to_string())),
    };
    let (workflow, resumed) = match (resumed.transpose(), options.workflow) {
        (Err(message), _) => {
            eprintln!("wfc: {message}");
            return ExitCode::from(2);
        }
        (Ok(Some(stored)), given) => (given.unwrap_or_else(|| stored.workflow.clone()), Some(stored.id)),
        (Ok(None), Some(workflow)) => (workflow, None),
        (Ok(None), None) => {
            eprintln!("wfc: name a workflow to run, or an instance to continue with --resume ID");
            return ExitCode::from(2);
        }
    };
    let definition = match super::load_definition(catalog, &workflow) {
        Ok(definition) => definition,
        Err(code) => return code,
    };
    let inputs = match parse_inputs(&definition, &options.inputs) {
        Ok(inputs) => inputs,
        Err(message) => {
            eprintln!("wfc: {message}");
            return ExitCode::from(2);
        }
    };
    let answers = match options.answers.as_deref().map(Answers::read).transpose() {
        Ok(answers) => answers,
        Err(message) => {
            eprintln!("wfc: {message}");
            return ExitCode::from(2);
        }
    };
    let name = definition.name.clone();
    // A workflow run from a file is continued from that file.
    let from_file = std::path::Path::new(&workflow).is_file().then(|| format!(" {workflow}")).unwrap_or_default();
    let engine = Engine::new(Box::new(vec![Arc::new(definition)]), ShellSettings::new(project_root, shell::DEFAULT_OUTPUT_CAP, shell::DEFAULT_MAX_PROCESSES), Box::new(store));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("wfc: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let style = Style::detect();
    let console: Arc<dyn Observer> = Arc::new(Console::new(style));
    let mut terminal = Terminal { answers, style };
    // What the person does here is recorded as theirs, through the terminal.
    let actor = Actor { kind: ActorKind::Client, client: Some(format!("wfc run {}", env!("CARGO_PKG_VERSION"))), transport: Some("terminal".to_owned()), ..Actor::default() };
    let code = runtime.block_on(ACTOR.scope(actor, async {
        let id = match resumed {
            Some(id) => id,
            None => match engine.start(&name, &inputs).await {
                Ok(started) => started.workflow_id,
                Err(error) => {
                    eprintln!("wfc: {}", error.message);
                    return ExitCode::from(1);
                }
            },
        };
        println!("▶ {name} ({id})");
        let driven = tokio::select! {
            driven = drive(&engine, &id, &mut terminal, &console) => driven,
            _ = tokio::signal::ctrl_c() => {
                println!("\n■ interrupted: the instance stands at its last step in the store; continue it with `wfc run --resume {id}{from_file}` (or from `wfc serve`)");
                return ExitCode::from(130);
            }
        };
        driven.unwrap_or_else(|message| {
            eprintln!("wfc: {message}");
            ExitCode::from(1)
        })
    }));
    // A read of standard input may still be waiting on its thread: it is not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

/// `NAME=VALUE` pairs: the text itself for an input declared `string`, otherwise JSON if it
/// parses (`3`, `true`, `[1, 2]`) and the text if not.
fn parse_inputs(definition: &Definition, pairs: &[String]) -> Result<Json, String> {
    let mut inputs = serde_json::Map::new();
    for pair in pairs {
        let (name, value) = pair.split_once('=').ok_or_else(|| format!("--input `{pair}` is not NAME=VALUE"))?;
        let declared = definition.inputs().iter().find(|i| i.name == name).and_then(|i| i.field_type);
        inputs.insert(name.to_owned(), FieldType::value_of_text(declared, value));
    }
    Ok(Json::Object(inputs))
}

/// Scripted answers: each step's answers, in the order they are asked.
struct Answers(HashMap<String, std::collections::VecDeque<Json>>);

impl Answers {
    fn read(path: &std::path::Path) -> Result<Answers, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let Json::Object(map) = serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))? else {
            return Err(format!("{}: answers are a JSON object from step id to answer", path.display()));
        };
        Ok(Answers(
            map.into_iter()
                .map(|(step, answer)| {
                    let queue = match answer {
                        Json::Array(list) => list.into(),
                        single => [single].into(),
                    };
                    (step, queue)
                })
                .collect(),
        ))
    }
}

/// Where answers come from: the script, else the person at the terminal.
struct Terminal {
    answers: Option<Answers>,
    style: Style,
}

impl Terminal {
    /// The answer to `step` (shown already): from the script, or a line read from standard
    /// input (on a blocking thread, so Ctrl-C is heard while the person thinks).
    async fn answer(&mut self, step: &Json) -> Result<Json, String> {
        let id = step["id"].as_str().unwrap_or_default();
        if let Some(answers) = &mut self.answers {
            let answer = answers.0.get_mut(id).and_then(std::collections::VecDeque::pop_front);
            let answer = answer.ok_or_else(|| format!("the answers file has no (more) answers for step `{id}`"))?;
            println!("  ← {answer}");
            return Ok(answer);
        }
        let kind = step["type"].as_str().unwrap_or_default();
        print!("  {} ", if kind == "user_input" { ">" } else { "result (JSON or text) >" });
        std::io::Write::flush(&mut std::io::stdout()).map_err(|e| e.to_string())?;
        let read = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|read| (read, line))
        });
        let (read, line) = read.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        if read == 0 {
            return Err(format!("no answer for step `{id}` (end of input)"));
        }
        let line = line.trim_end_matches(['\n', '\r']);
        Ok(if kind == "user_input" { Json::String(line.to_owned()) } else { serde_json::from_str(line).unwrap_or_else(|_| Json::String(line.to_owned())) })
    }
}

/// Runs the workflow to its end; the exit code says how it ended.
async fn drive(engine: &Engine, id: &str, terminal: &mut Terminal, console: &Arc<dyn Observer>) -> Result<ExitCode, String> {
    let mut answer = engine.next_step(id, None, Some(console)).await.map(|batch| batch.to_json()).map_err(|e| e.message)?;
    loop {
        let pending = show(&answer, terminal.style);
        match answer["status"].as_str() {
            Some("completed") => {
                println!("✔ completed");
                print_state(engine, id).await?;
                return Ok(ExitCode::SUCCESS);
            }
            Some("failed" | "cancelled") => {
                println!("✘ {}: {}", answer["status"].as_str().unwrap_or_default(), answer["error"]["message"].as_str().unwrap_or_default());
                print_state(engine, id).await?;
                return Ok(ExitCode::from(1));
            }
            _ => {}
        }
        answer = match pending {
            Some(step) if step["type"] == "parallel_foreach" => run_tasks(engine, id, &step, terminal, console).await?,
            pending => advance(engine, id, None, pending, terminal, console).await?,
        };
    }
}

/// The next answer for the workflow (or `task`): the step waiting for a result is answered
/// from the terminal and submitted; otherwise (messages, a wait) the next steps are asked for.
async fn advance(engine: &Engine, id: &str, task: Option<&str>, pending: Option<Json>, terminal: &mut Terminal, console: &Arc<dyn Observer>) -> Result<Json, String> {
    match pending.filter(|step| step["type"] != "wait_step") {
        Some(step) => {
            let result = terminal.answer(&step).await?;
            let step_id = step["id"].as_str().unwrap_or_default();
            let submitted = Submit { step_id, sequence: step["sequence"].as_u64(), result: Some(&result), error: None, task_id: task };
            engine.submit_result(id, submitted, Some(console)).await.map(|batch| batch.to_json()).map_err(|e| e.message)
        }
        None => engine.next_step(id, task, Some(console)).await.map(|batch| batch.to_json()).map_err(|e| e.message),
    }
}

/// Sub-agent tasks, one after the other, each driven like the workflow; then the workflow's
/// answer once they have all ended.
async fn run_tasks(engine: &Engine, id: &str, fan_out: &Json, terminal: &mut Terminal, console: &Arc<dyn Observer>) -> Result<Json, String> {
    let mut queue: std::collections::VecDeque<String> = task_ids(&fan_out["definition"]);
    let mut waiting = Json::Null;
    while let Some(task) = queue.pop_front() {
        println!("  ▶ task {task}");
        let mut answer = engine.next_step(id, Some(&task), Some(console)).await.map(|batch| batch.to_json()).map_err(|e| e.message)?;
        loop {
            let pending = show(&answer, terminal.style);
            if answer["status"] != "running" {
                println!("  ■ task {task}: {}", answer["status"].as_str().unwrap_or_default());
                break;
            }
            answer = advance(engine, id, Some(&task), pending, terminal, console).await?;
        }
        // While tasks remain, the workflow's wait step lists those released since; once all
        // have ended, the workflow goes on and this is its next batch.
        waiting = engine.next_step(id, None, Some(console)).await.map(|batch| batch.to_json()).map_err(|e| e.message)?;
        match waiting["steps"].as_array().and_then(|s| s.last()).filter(|s| s["type"] == "wait_step") {
            Some(wait) => queue.extend(task_ids(&wait["definition"])),
            None => break,
        }
    }
    Ok(waiting)
}

fn task_ids(definition: &Json) -> std::collections::VecDeque<String> {
    definition["tasks"].as_array().map_or_else(Default::default, |tasks| tasks.iter().filter_map(|t| t["task_id"].as_str().map(str::to_owned)).collect())
}

/// Prints a batch; returns the step that waits for an answer, if any.
fn show(answer: &Json, style: Style) -> Option<Json> {
    let steps = answer["steps"].as_array()?;
    for step in steps {
        println!("{}", style.step(step));
    }
    steps.last().filter(|s| s["type"] != "user_message").cloned()
}

async fn print_state(engine: &Engine, id: &str) -> Result<(), String> {
    let state = engine.read_state(id, &[], None).await.map_err(|e| e.message)?;
    println!("{}", serde_json::to_string_pretty(&json!({"state": state.state})).unwrap_or_default());
    Ok(())
}
