//! After shape errors: the workflow without the parts they stand in, so that the check stage can
//! still report what is wrong elsewhere in the same run (a misplaced field in one step does not
//! hide an out-of-scope `loop.iteration` in another).
//!
//! The parts that can go are the ones a workflow is a list or a map of: a step (at any depth,
//! in the workflow or a sub-agent task), a declared input, a computed field, a sub-agent task.
//! An error is taken out with the innermost such part around it; one that stands in none of
//! them (a missing `name`, a wrong `version` type) leaves nothing to recover.

use super::node::{Node, NodeValue};
use super::raw::RawWorkflow;
use super::typed;
use crate::span::{Span, Spanned};

/// The fields of a step that hold steps.
const STEP_LISTS: [&str; 4] = ["body", "then_steps", "else_steps", "steps"];

/// `document` without the parts the errors at `errors` stand in, as a workflow, and the spans
/// of what was taken out; `None` if an error stands outside every part that can go, or if what
/// is left still does not read as a workflow.
pub(crate) fn without_broken_parts(document: &Node, errors: &[Span]) -> Option<(RawWorkflow, Vec<Span>)> {
    let mut pruning = Pruning { errors, removed: Vec::new() };
    let pruned = pruning.workflow(document);
    let covered = |error: &Span| pruning.removed.iter().any(|part| holds(*part, *error));
    if !errors.iter().all(covered) {
        return None;
    }
    let workflow = typed::from_node::<RawWorkflow>(&pruned).ok()?;
    Some((workflow, pruning.removed))
}

/// Whether `error` starts inside `part`.
fn holds(part: Span, error: Span) -> bool {
    part.start <= error.start && error.start < part.end.max(part.start + 1)
}

struct Pruning<'e> {
    errors: &'e [Span],
    removed: Vec<Span>,
}

impl Pruning<'_> {
    fn broken(&self, node: &Node) -> bool {
        self.errors.iter().any(|error| holds(node.span, *error))
    }

    fn workflow(&mut self, root: &Node) -> Node {
        self.map_fields(root, |this, key, value| match key {
            "steps" => Some(this.steps(value)),
            "inputs" => Some(this.entries(value)),
            "state_schema" => Some(this.map_fields(value, |this, key, value| (key == "computed").then(|| this.entries(value)))),
            "sub_agent_tasks" => Some(this.tasks(value)),
            _ => None,
        })
    }

    /// `node` with the fields `rewrite` gives a new value for replaced (a mapping; anything
    /// else as it is).
    fn map_fields(&mut self, node: &Node, mut rewrite: impl FnMut(&mut Self, &str, &Node) -> Option<Node>) -> Node {
        let NodeValue::Map(entries) = &node.value else { return node.clone() };
        let entries = entries.iter().map(|(key, value)| (key.clone(), rewrite(self, &key.value, value).unwrap_or_else(|| value.clone()))).collect();
        Node { value: NodeValue::Map(entries), span: node.span }
    }

    /// A list of steps without the broken ones; a step broken only inside its own step lists
    /// stays, with those lists pruned.
    fn steps(&mut self, list: &Node) -> Node {
        let NodeValue::Seq(steps) = &list.value else { return list.clone() };
        let mut kept = Vec::with_capacity(steps.len());
        for step in steps {
            if !self.broken(step) {
                kept.push(step.clone());
                continue;
            }
            let inner = self.map_fields(step, |this, key, value| STEP_LISTS.contains(&key).then(|| this.steps(value)));
            let outside_lists = self.errors.iter().any(|error| holds(step.span, *error) && !self.within_lists(step, *error));
            if outside_lists {
                self.removed.push(step.span);
            } else {
                kept.push(inner);
            }
        }
        Node { value: NodeValue::Seq(kept), span: list.span }
    }

    /// Whether `error` stands inside one of `step`'s step lists.
    fn within_lists(&self, step: &Node, error: Span) -> bool {
        step.as_map()
            .into_iter()
            .flatten()
            .any(|(key, value): &(Spanned<String>, Node)| STEP_LISTS.contains(&key.value.as_str()) && holds(value.span, error))
    }

    /// A map of named declarations (inputs, computed fields) without the broken entries.
    fn entries(&mut self, map: &Node) -> Node {
        let NodeValue::Map(entries) = &map.value else { return map.clone() };
        let mut kept = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let whole = Span::new(key.span.start, value.span.end.max(key.span.end));
            if self.errors.iter().any(|error| holds(whole, *error)) {
                self.removed.push(whole);
            } else {
                kept.push((key.clone(), value.clone()));
            }
        }
        Node { value: NodeValue::Map(kept), span: map.span }
    }

    /// Sub-agent tasks with their broken steps and inputs taken out; a task broken elsewhere
    /// goes whole.
    fn tasks(&mut self, map: &Node) -> Node {
        let NodeValue::Map(tasks) = &map.value else { return map.clone() };
        let mut kept = Vec::with_capacity(tasks.len());
        for (name, task) in tasks {
            if !self.broken(task) {
                kept.push((name.clone(), task.clone()));
                continue;
            }
            let before = self.removed.len();
            let pruned = self.workflow(task);
            let covered = |this: &Self, error: &Span| this.removed[before..].iter().any(|part| holds(*part, *error));
            if self.errors.iter().filter(|error| holds(task.span, **error)).all(|error| covered(self, error)) {
                kept.push((name.clone(), pruned));
            } else {
                self.removed.truncate(before);
                self.removed.push(Span::new(name.span.start, task.span.end.max(name.span.end)));
            }
        }
        Node { value: NodeValue::Map(kept), span: map.span }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Source;
    use crate::syntax::parse_document;

    const WORKFLOW: &str = r#"name: "test:recover"
description: "d"
version: "1.0.0"
steps:
  - id: each
    type: foreach
    items: "{{ [1] }}"
    body:
      - id: inner
        type: user_message
        message: "in"
  - id: after
    type: user_message
    message: "after"
sub_agent_tasks:
  task:
    description: "t"
    steps:
      - id: work
        type: user_message
        message: "w"
"#;

    /// What is left of [`WORKFLOW`] with errors at the starts of `at` (texts in it), and the
    /// texts taken out.
    fn recover(at: &[&str]) -> Option<(RawWorkflow, Vec<String>)> {
        let source = Source::new("w.yaml", WORKFLOW);
        let document = parse_document(&source).expect("YAML");
        let errors: Vec<Span> = at.iter().map(|text| Span::point(WORKFLOW.find(text).expect("in the workflow") as u32)).collect();
        without_broken_parts(&document, &errors).map(|(workflow, removed)| (workflow, removed.iter().map(|s| source.slice(*s).trim().to_owned()).collect()))
    }

    #[test]
    fn a_broken_step_inside_a_loop_goes_and_the_loop_stays() {
        let (workflow, removed) = recover(&["message: \"in\""]).expect("recovered");
        assert_eq!(workflow.steps.len(), 2);
        assert_eq!(removed, ["id: inner\n        type: user_message\n        message: \"in\""]);
    }

    #[test]
    fn a_task_broken_outside_its_steps_goes_whole() {
        let (workflow, removed) = recover(&["description: \"t\""]).expect("recovered");
        assert!(workflow.sub_agent_tasks.is_none_or(|tasks| tasks.0.is_empty()));
        assert!(removed[0].starts_with("task:"), "{removed:?}");
    }

    #[test]
    fn an_error_outside_every_part_leaves_nothing_to_check() {
        assert!(recover(&["version"]).is_none());
        assert!(recover(&["message: \"after\"", "version"]).is_none());
    }
}
