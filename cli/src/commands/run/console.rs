//! How `wfc run` looks: steps rendered for a person (messages by their type, questions with
//! their choices, tool calls with their parameters), and server-side commands as they run — a
//! live line with the elapsed time, their output dimmed beneath, a mark for how they ended.
//! Colours and the live line only on a terminal, and colours never under `NO_COLOR`.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use serde_json::Value as Json;
use wfc_runtime::engine::{Observer, Running};
use wfc_runtime::machine::ShellOutput;

/// Lines of a finished command's output shown at most (the last ones).
const SHOWN_OUTPUT_LINES: usize = 20;

/// What the terminal can show.
#[derive(Clone, Copy, Debug)]
pub(super) struct Style {
    /// ANSI colours and dimming.
    color: bool,
    /// A line rewritten in place while a command runs.
    live: bool,
}

impl Style {
    /// Colours when standard output is a terminal and `NO_COLOR` is unset; the live line when
    /// it is a terminal.
    pub(super) fn detect() -> Style {
        let terminal = std::io::stdout().is_terminal();
        Style { color: terminal && std::env::var_os("NO_COLOR").is_none(), live: terminal }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }

    /// A step of a batch, for a person: what it says, and for a step that waits for an answer,
    /// what is asked.
    pub(super) fn step(&self, step: &Json) -> String {
        let definition = &step["definition"];
        let text = |key: &str| definition[key].as_str().unwrap_or_default().trim_end().to_owned();
        let id = step["id"].as_str().unwrap_or_default();
        let mut shown = match step["type"].as_str().unwrap_or_default() {
            "user_message" => match definition["message_type"].as_str() {
                Some("warning") => self.yellow(&format!("⚠ {}", text("message"))),
                Some("error") => self.red(&format!("✘ {}", text("message"))),
                Some("success") => self.green(&format!("✔ {}", text("message"))),
                _ => format!("  {}", text("message")),
            },
            "wait_step" => self.dim(&format!("… {}", text("message"))),
            "user_input" => {
                let mut asked = format!("{} {}", self.bold("?"), text("prompt"));
                match (definition["input_type"].as_str(), definition["choices"].as_array()) {
                    (_, Some(choices)) if !choices.is_empty() => {
                        let listed: Vec<String> = choices.iter().map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned)).collect();
                        asked.push_str(&format!(" [{}]", listed.join("/")));
                    }
                    (Some("boolean"), _) => asked.push_str(" [y/n]"),
                    (Some(kind), _) if kind != "string" => asked.push_str(&self.dim(&format!(" ({kind})"))),
                    _ => {}
                }
                if let Some(default) = definition.get("default").filter(|d| !d.is_null()) {
                    asked.push_str(&self.dim(&format!(" default: {}", default.as_str().map_or_else(|| default.to_string(), str::to_owned))));
                }
                asked
            }
            "mcp_call" => {
                let parameters = serde_json::to_string_pretty(&definition["parameters"]).unwrap_or_default();
                format!("{} call tool {}\n{}", self.bold("→"), self.bold(&text("tool")), self.dim(&indent(&parameters, "    ")))
            }
            "agent_prompt" => {
                let mut prompt = format!("{} {}", self.bold("✎"), text("prompt"));
                if let Some(expected) = definition.get("expected_response") {
                    prompt.push_str(&self.dim(&format!("\n    reply as JSON matching {expected}")));
                }
                prompt
            }
            "agent_response" => {
                let schema = definition.get("response_schema").map_or_else(String::new, |s| format!(" matching {s}"));
                format!("{} the agent's reply, as JSON{}", self.bold("✎"), self.dim(&schema))
            }
            "shell_command" => format!("{} run on your side: {}", self.bold("$"), text("command")),
            kind => format!("[{id}] {kind}: {definition}"),
        };
        if let Some(attempt) = step["attempt"].as_u64() {
            shown.push_str(&self.dim(&format!("  (attempt {attempt})")));
        }
        if let Some(error) = definition["error"].as_str() {
            shown.push_str(&format!("\n  {}", self.red(&format!("! {error}"))));
        }
        shown
    }
}

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|line| format!("{by}{line}")).collect::<Vec<_>>().join("\n")
}

/// Server-side commands as they run, printed as the engine reports them.
pub(super) struct Console {
    style: Style,
    shown: Mutex<Shown>,
}

/// What the console printed of the command that runs.
#[derive(Default)]
struct Shown {
    /// Output lines printed so far.
    lines: u64,
    /// Whether the live line is on screen (to be cleared before anything else is printed).
    live: bool,
}

impl Console {
    pub(super) fn new(style: Style) -> Console {
        Console { style, shown: Mutex::default() }
    }

    /// Prints `text` (lines), clearing the live line first.
    fn print(&self, shown: &mut Shown, text: &str) {
        let mut out = std::io::stdout().lock();
        if shown.live {
            let _ = write!(out, "\r\x1b[2K");
            shown.live = false;
        }
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    fn output_line(&self, line: &str) -> String {
        self.style.dim(&format!("    │ {line}"))
    }
}

impl Observer for Console {
    fn progress(&self, running: &Running) {
        let Ok(mut shown) = self.shown.lock() else { return };
        let new = running.output_lines.saturating_sub(shown.lines);
        if new > 0 {
            let tail = &running.output_tail;
            let from = tail.len().saturating_sub(new as usize);
            let skipped = new.saturating_sub(tail.len() as u64);
            let mut text: Vec<String> = Vec::new();
            if skipped > 0 {
                text.push(self.output_line(&format!("… {skipped} more line(s)")));
            }
            text.extend(tail[from..].iter().map(|line| self.output_line(line)));
            self.print(&mut shown, &text.join("\n"));
            shown.lines = running.output_lines;
        }
        if self.style.live {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\r\x1b[2K  {} {} {}", self.style.yellow("⠿"), running.step_id, self.style.dim(&format!("{:.0} s", running.elapsed_seconds)));
            let _ = out.flush();
            shown.live = true;
        } else {
            self.print(&mut shown, &self.style.dim(&format!("  … {} still running ({:.0} s)", running.step_id, running.elapsed_seconds)));
        }
    }

    fn shell_started(&self, step_id: &str, command: &str) {
        let Ok(mut shown) = self.shown.lock() else { return };
        shown.lines = 0;
        self.print(&mut shown, &format!("{} {}  {}", self.style.bold("▸"), step_id, self.style.dim(command)));
    }

    fn shell_finished(&self, step_id: &str, seconds: f64, output: &ShellOutput) {
        let Ok(mut shown) = self.shown.lock() else { return };
        let lines: Vec<&str> = output.stdout.lines().chain(output.stderr.lines()).collect();
        let left = lines.len().saturating_sub(shown.lines as usize);
        let mut text: Vec<String> = Vec::new();
        if left > SHOWN_OUTPUT_LINES {
            text.push(self.output_line(&format!("… {} more line(s)", left - SHOWN_OUTPUT_LINES)));
        }
        text.extend(lines[lines.len() - left.min(SHOWN_OUTPUT_LINES)..].iter().map(|line| self.output_line(line)));
        let took = format!("({seconds:.1} s)");
        let mark = match (&output.failure, output.exit_code) {
            (None, Some(0)) => format!("{} {step_id} {}", self.style.green("✔"), self.style.dim(&took)),
            (Some(failure), _) => format!("{} {step_id}: {failure} {}", self.style.red("✘"), self.style.dim(&took)),
            (None, code) => format!("{} {step_id}: exit code {} {}", self.style.red("✘"), code.map_or_else(|| "none".to_owned(), |c| c.to_string()), self.style.dim(&took)),
        };
        text.push(mark);
        self.print(&mut shown, &text.join("\n"));
        shown.lines = 0;
    }
}
