//! Mutated workflows never make the front end panic: dropping a field, swapping a value for one
//! of another type, duplicating a step id or truncating the file always yields either a valid
//! workflow or at least one error, with every span inside the text.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::Value;
use wfc_compiler::{Source, check_source, syntax};

#[path = "oracle/cases.rs"]
#[allow(dead_code, reason = "only the corpus's location is used here")]
mod cases;

/// The valid workflows mutations start from: the AroMCP corpus (read where it lives) and the
/// project's own catalog.
fn seeds() -> &'static [(String, Value)] {
    static SEEDS: std::sync::OnceLock<Vec<(String, Value)>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
        let mut files: Vec<PathBuf> = cases::corpus_dir()
            .into_iter()
            .chain([catalog])
            .flat_map(|dir| std::fs::read_dir(dir).expect("seed directory").map(|e| e.expect("entry").path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|path| {
                let text = std::fs::read_to_string(&path).expect("readable");
                let json = syntax::parse_document(&Source::new("seed", text.clone())).expect("seed parses").to_json();
                (text, json)
            })
            .collect()
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    DropField(usize),
    ReplaceValue(usize, u8),
    DuplicateStepId(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DropField),
        (any::<usize>(), 0u8..7).prop_map(|(at, kind)| Mutation::ReplaceValue(at, kind)),
        any::<usize>().prop_map(Mutation::DuplicateStepId),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// JSON pointers of every node below the root, in document order.
fn pointers(value: &Value, prefix: String, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v)).collect(),
        Value::Array(items) => items.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(),
        _ => return,
    };
    for (key, child) in children {
        let pointer = format!("{prefix}/{key}");
        out.push(pointer.clone());
        pointers(child, pointer, out);
    }
}

fn replacement(kind: u8) -> Value {
    match kind {
        0 => Value::Null,
        1 => Value::Bool(true),
        2 => Value::from(-1),
        3 => Value::from(""),
        4 => Value::from("this..x"),
        5 => serde_json::json!([{}]),
        _ => serde_json::json!({ "type": "break" }),
    }
}

fn apply(text: &str, json: &Value, mutation: &Mutation) -> String {
    let mut json = json.clone();
    let mut all = Vec::new();
    pointers(&json, String::new(), &mut all);
    match *mutation {
        Mutation::Truncate(at) => {
            let mut cut = at % (text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            return text[..cut].to_owned();
        }
        Mutation::DropField(at) => {
            let pointer = &all[at % all.len()];
            let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
            match json.pointer_mut(parent) {
                Some(Value::Object(map)) => {
                    map.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    let index: usize = key.parse().expect("array index");
                    items.remove(index);
                }
                _ => {}
            }
        }
        Mutation::ReplaceValue(at, kind) => {
            if let Some(slot) = json.pointer_mut(&all[at % all.len()]) {
                *slot = replacement(kind);
            }
        }
        Mutation::DuplicateStepId(at) => {
            let ids: Vec<&String> = all.iter().filter(|p| p.ends_with("/id")).collect();
            if ids.len() >= 2 {
                let first = json.pointer(ids[0]).cloned().expect("id exists");
                if let Some(slot) = json.pointer_mut(ids[1 + at % (ids.len() - 1)]) {
                    *slot = first;
                }
            }
        }
    }
    serde_json::to_string_pretty(&json).expect("JSON serializes")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_workflows_are_valid_or_diagnosed(seed in any::<usize>(), mutation in mutation()) {
        let seeds = seeds();
        let (text, json) = &seeds[seed % seeds.len()];
        let mutated = apply(text, json, &mutation);
        let source = Source::new("mutated.yaml", mutated.clone());
        let (workflow, diagnostics) = check_source(&source);
        prop_assert!(workflow.is_some() != diagnostics.has_errors(), "{}", diagnostics.render_plain());
        for diagnostic in &diagnostics {
            let span = diagnostic.primary.span;
            prop_assert!(span.start <= span.end && span.end as usize <= mutated.len());
        }
        prop_assert!(!diagnostics.render_plain().is_empty() || diagnostics.is_empty());
    }
}

/// Fourteen levels of steps nested in steps still check in a 2 MiB thread in a debug build.
#[test]
fn deeply_nested_valid_workflow_checks_in_a_small_stack() {
    let mut steps = "[{\"id\": \"leaf\", \"type\": \"user_message\", \"message\": \"hi\"}]".to_owned();
    for level in 0..14 {
        steps = format!("[{{\"id\": \"c{level}\", \"type\": \"conditional\", \"condition\": \"true\", \"then_steps\": {steps}}}]");
    }
    let text = format!("name: \"t:deep\"\ndescription: d\nversion: \"1.0.0\"\nsteps: {steps}\n");
    let outcome = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let (workflow, diagnostics) = check_source(&Source::new("deep.yaml", text));
            (workflow.is_some(), diagnostics.render_plain())
        })
        .expect("thread")
        .join()
        .expect("no stack overflow");
    assert!(outcome.0, "{}", outcome.1);
}
