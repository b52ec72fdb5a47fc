//! Long texts handed to the agent. A `user_message`'s message or a `user_input`'s or
//! `agent_prompt`'s prompt longer than `--max-message-bytes` is, as the step's `long_message`
//! says, split into parts handed out in order (the default), or truncated with a note that says
//! how much was left out. Nothing is cut silently: every part says which it is
//! (`part: {index, of}`), and a truncated text carries `truncated: {shown_bytes, total_bytes}`.
//!
//! A message's parts are copies of its step, each with one part. A prompt's step needs a
//! result, so its leading parts come first as `user_message`s (`part_of: "prompt"`) and the step
//! itself carries the last part: an agent that shows the batch in order shows the whole text.

use serde_json::{Value as Json, json};

use super::batch::HandedStep;

/// The default of `--max-message-bytes`.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// The field holding a step's text, by step type.
fn text_field(kind: &str) -> Option<&'static str> {
    match kind {
        "user_message" => Some("message"),
        "user_input" | "agent_prompt" => Some("prompt"),
        _ => None,
    }
}

/// `steps` with every text longer than `max` bytes split or truncated.
pub(crate) fn fit(steps: Vec<HandedStep>, max: usize) -> Vec<HandedStep> {
    let max = max.max(1);
    if !steps.iter().any(|step| too_long(step, max).is_some()) {
        return steps;
    }
    let mut fitted = Vec::with_capacity(steps.len() + 1);
    for step in steps {
        fit_one(step, max, &mut fitted);
    }
    fitted
}

/// The step's text field and its text, if it is longer than `max`.
fn too_long(step: &HandedStep, max: usize) -> Option<(&'static str, &str)> {
    let field = text_field(&step.kind)?;
    let text = step.definition.get(field)?.as_str()?;
    (text.len() > max).then_some((field, text))
}

fn fit_one(mut step: HandedStep, max: usize, fitted: &mut Vec<HandedStep>) {
    let Some((field, text)) = too_long(&step, max) else { return fitted.push(step) };
    let text = text.to_owned();
    if step.definition.get("long_message").and_then(Json::as_str) == Some("truncate") {
        let shown = floor_boundary(&text, max);
        let note = format!("\n\n[truncated by the server: {shown} of {} bytes shown (long_message: truncate)]", text.len());
        step.definition[field] = json!(format!("{}{note}", &text[..shown]));
        step.definition["truncated"] = json!({"shown_bytes": shown, "total_bytes": text.len()});
        return fitted.push(step);
    }
    let parts = parts(&text, max);
    let of = parts.len();
    for (index, part) in (1..).zip(parts) {
        let mut piece = if index == of || step.kind == "user_message" {
            step.clone()
        } else {
            let definition = json!({"message": "", "message_type": "info", "format": "text", "part_of": field});
            HandedStep { kind: "user_message".to_owned(), definition, sequence: None, attempt: None, ..step.clone() }
        };
        let target = if piece.kind == step.kind { field } else { "message" };
        piece.definition[target] = json!(part);
        piece.definition["part"] = json!({"index": index, "of": of});
        fitted.push(piece);
    }
}

/// `text` in consecutive parts of at most `max` bytes, each ending at a line break where one is
/// in its second half, else at a character boundary.
fn parts(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let limit = floor_boundary(rest, max);
        let cut = match rest[..limit].rfind('\n') {
            Some(at) if at + 1 > limit / 2 => at + 1,
            _ => limit,
        };
        // A first character wider than `max` still goes out whole.
        let cut = if cut == 0 { rest.chars().next().map_or(rest.len(), char::len_utf8) } else { cut };
        parts.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    parts.push(rest);
    parts
}

/// The largest character boundary of `text` at or below `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: &str, definition: Json) -> HandedStep {
        HandedStep { id: "s".into(), kind: kind.into(), definition, sequence: Some(3), attempt: None, is_wait: false, task_id: None, instructions: None }
    }

    #[test]
    fn a_short_text_is_handed_out_as_it_is() {
        let steps = vec![step("user_message", json!({"message": "hi"})), step("mcp_call", json!({"tool": "x".repeat(100)}))];
        assert_eq!(fit(steps.clone(), 10), steps);
    }

    #[test]
    fn a_long_message_is_split_at_line_breaks_into_parts_that_say_which_they_are() {
        let text = "line one\nline two\nline three\n";
        let fitted = fit(vec![step("user_message", json!({"message": text, "format": "text"}))], 12);
        let shown: Vec<&str> = fitted.iter().map(|s| s.definition["message"].as_str().unwrap_or_default()).collect();
        assert_eq!(shown, ["line one\n", "line two\n", "line three\n"]);
        assert_eq!(shown.concat(), text, "nothing lost");
        assert_eq!(fitted[1].definition["part"], json!({"index": 2, "of": 3}));
        assert!(fitted.iter().all(|s| s.kind == "user_message" && s.definition["format"] == "text"));
    }

    #[test]
    fn a_long_prompt_comes_as_messages_before_its_step_which_keeps_the_last_part() {
        // Twenty bytes in two-byte characters, at most seven a part: three characters each.
        let prompt = "é".repeat(10);
        let fitted = fit(vec![step("agent_prompt", json!({"prompt": prompt, "context": {}}))], 7);
        let kinds: Vec<&str> = fitted.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["user_message", "user_message", "user_message", "agent_prompt"]);
        assert_eq!(fitted[0].definition["part_of"], "prompt");
        assert_eq!(fitted[0].sequence, None, "only the step itself is reported on");
        assert_eq!(fitted[3].sequence, Some(3));
        assert_eq!(fitted[3].definition["part"], json!({"index": 4, "of": 4}));
        let text: String = fitted.iter().map(|s| s.definition.get("prompt").or(s.definition.get("message")).and_then(Json::as_str).unwrap_or_default()).collect();
        assert_eq!(text, prompt, "split at character boundaries, nothing lost");
    }

    #[test]
    fn truncate_cuts_at_the_limit_and_says_how_much_was_left_out() {
        let fitted = fit(vec![step("user_message", json!({"message": "abcdefghij", "long_message": "truncate"}))], 4);
        assert_eq!(fitted.len(), 1);
        let message = fitted[0].definition["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("abcd\n\n[truncated by the server: 4 of 10 bytes shown"), "{message}");
        assert_eq!(fitted[0].definition["truncated"], json!({"shown_bytes": 4, "total_bytes": 10}));
    }
}
