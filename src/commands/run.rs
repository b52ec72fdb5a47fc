//! `wfc run NAME|FILE`: drive one workflow in the terminal, without an agent. Messages are
//! printed, shell steps run, and every step that needs a client is answered by the person at
//! the terminal — or by `--answers FILE`, a JSON object from step id to its answer (a list for
//! a step answered several times, one item per time).

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use wfc_runtime::engine::{Definition, Engine, ShellSettings, Submit, shell};
use wfc_runtime::machine::FieldType;


/// How `wfc run` was asked to run.
pub(crate) struct Options {
    /// A workflow of the catalog or a YAML file.
    pub(crate) workflow: String,
    /// `name=value` inputs (the value is JSON if it parses as JSON, else text).
    pub(crate) inputs: Vec<String>,
    /// Scripted answers, by step id.
    pub(crate) answers: Option<PathBuf>,
    /// Where shell steps run.
    pub(crate) project_root: Option<PathBuf>,
}

pub(crate) fn run(options: Options) -> ExitCode {
    let Ok(project_root) = super::serve::project_root(options.project_root) else { return ExitCode::from(2) };
    let definition = match super::load_definition(&options.workflow) {
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
    // Nothing of a terminal run outlives it: the store is in memory.
    let Ok(store) = super::serve::open_store(Some("memory"), &project_root) else { return ExitCode::from(2) };
    let engine = Engine::new(Box::new(vec![Arc::new(definition)]), ShellSettings::new(project_root, shell::DEFAULT_OUTPUT_CAP, shell::DEFAULT_MAX_PROCESSES), Box::new(store));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("wfc: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let mut terminal = Terminal { answers, stdin: std::io::stdin().lock() };
    match runtime.block_on(drive(&engine, &name, &inputs, &mut terminal)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("wfc: {message}");
            ExitCode::from(1)
        }
    }
}

/// `NAME=VALUE` pairs: the text itself for an input declared `string`, otherwise JSON if it
/// parses (`3`, `true`, `[1, 2]`) and the text if not.
fn parse_inputs(definition: &Definition, pairs: &[String]) -> Result<Json, String> {
    let mut inputs = serde_json::Map::new();
    for pair in pairs {
        let (name, value) = pair.split_once('=').ok_or_else(|| format!("--input `{pair}` is not NAME=VALUE"))?;
        let declared_text = definition.inputs().iter().any(|i| i.name == name && i.field_type == Some(FieldType::String));
        let value = if declared_text { Json::String(value.to_owned()) } else { serde_json::from_str(value).unwrap_or_else(|_| Json::String(value.to_owned())) };
        inputs.insert(name.to_owned(), value);
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
struct Terminal<'a> {
    answers: Option<Answers>,
    stdin: std::io::StdinLock<'a>,
}

impl Terminal<'_> {
    fn answer(&mut self, step: &Json) -> Result<Json, String> {
        let id = step["id"].as_str().unwrap_or_default();
        if let Some(answers) = &mut self.answers {
            let answer = answers.0.get_mut(id).and_then(std::collections::VecDeque::pop_front);
            let answer = answer.ok_or_else(|| format!("the answers file has no (more) answers for step `{id}`"))?;
            println!("  ← {answer}");
            return Ok(answer);
        }
        let kind = step["type"].as_str().unwrap_or_default();
        let hint = if kind == "user_input" { "your answer" } else { "the result, as JSON (or text)" };
        print!("  {hint}> ");
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        let mut line = String::new();
        if self.stdin.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err(format!("no answer for step `{id}` (end of input)"));
        }
        let line = line.trim_end_matches(['\n', '\r']);
        Ok(if kind == "user_input" { Json::String(line.to_owned()) } else { serde_json::from_str(line).unwrap_or_else(|_| Json::String(line.to_owned())) })
    }
}

/// Runs the workflow to its end; the exit code says how it ended.
async fn drive(engine: &Engine, name: &str, inputs: &Json, terminal: &mut Terminal<'_>) -> Result<ExitCode, String> {
    let started = engine.start(name, inputs).await.map_err(|e| e.message)?;
    let id = started["workflow_id"].as_str().unwrap_or_default().to_owned();
    println!("▶ {name} ({id})");
    let mut answer = engine.next_step(&id, None, None).await.map_err(|e| e.message)?;
    loop {
        let pending = show(&answer);
        match answer["status"].as_str() {
            Some("completed") => {
                println!("✔ completed");
                print_state(engine, &id).await?;
                return Ok(ExitCode::SUCCESS);
            }
            Some("failed" | "cancelled") => {
                println!("✘ {}: {}", answer["status"].as_str().unwrap_or_default(), answer["error"]["message"].as_str().unwrap_or_default());
                print_state(engine, &id).await?;
                return Ok(ExitCode::from(1));
            }
            _ => {}
        }
        answer = match pending {
            Some(step) if step["type"] == "parallel_foreach" => run_tasks(engine, &id, &step, terminal).await?,
            pending => advance(engine, &id, None, pending, terminal).await?,
        };
    }
}

/// The next answer for the workflow (or `task`): the step waiting for a result is answered
/// from the terminal and submitted; otherwise (messages, a wait) the next steps are asked for.
async fn advance(engine: &Engine, id: &str, task: Option<&str>, pending: Option<Json>, terminal: &mut Terminal<'_>) -> Result<Json, String> {
    match pending.filter(|step| step["type"] != "wait_step") {
        Some(step) => {
            let result = terminal.answer(&step)?;
            let step_id = step["id"].as_str().unwrap_or_default();
            let submitted = Submit { step_id, sequence: step["sequence"].as_u64(), result: Some(&result), error: None, task_id: task };
            engine.submit_result(id, submitted, None).await.map_err(|e| e.message)
        }
        None => engine.next_step(id, task, None).await.map_err(|e| e.message),
    }
}

/// Sub-agent tasks, one after the other, each driven like the workflow; then the workflow's
/// answer once they have all ended.
async fn run_tasks(engine: &Engine, id: &str, fan_out: &Json, terminal: &mut Terminal<'_>) -> Result<Json, String> {
    let mut queue: std::collections::VecDeque<String> = task_ids(&fan_out["definition"]);
    let mut waiting = Json::Null;
    while let Some(task) = queue.pop_front() {
        println!("  ▶ task {task}");
        let mut answer = engine.next_step(id, Some(&task), None).await.map_err(|e| e.message)?;
        loop {
            let pending = show(&answer);
            if answer["status"] != "running" {
                println!("  ■ task {task}: {}", answer["status"].as_str().unwrap_or_default());
                break;
            }
            answer = advance(engine, id, Some(&task), pending, terminal).await?;
        }
        // While tasks remain, the workflow's wait step lists those released since; once all
        // have ended, the workflow goes on and this is its next batch.
        waiting = engine.next_step(id, None, None).await.map_err(|e| e.message)?;
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
fn show(answer: &Json) -> Option<Json> {
    let steps = answer["steps"].as_array()?;
    for step in steps {
        let definition = &step["definition"];
        match step["type"].as_str().unwrap_or_default() {
            "user_message" => println!("  {}", definition["message"].as_str().unwrap_or_default().trim_end()),
            "wait_step" => println!("  … {}", definition["message"].as_str().unwrap_or_default()),
            kind => {
                let shown = definition.get("prompt").or_else(|| definition.get("tool")).cloned().unwrap_or_else(|| definition.clone());
                let text = shown.as_str().map_or_else(|| shown.to_string(), str::to_owned);
                println!("  [{}] {kind}: {}", step["id"].as_str().unwrap_or_default(), text.trim_end());
                if let Some(error) = definition["error"].as_str() {
                    println!("  ! {error}");
                }
            }
        }
    }
    steps.last().filter(|s| s["type"] != "user_message").cloned()
}

async fn print_state(engine: &Engine, id: &str) -> Result<(), String> {
    let state = engine.read_state(id, &[], None).await.map_err(|e| e.message)?;
    println!("{}", serde_json::to_string_pretty(&json!({"state": state["state"]})).unwrap_or_default());
    Ok(())
}
