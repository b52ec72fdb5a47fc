//! The real AroMCP workflows (read from `../shared/corpus/aromcp/`, never copied here) and the
//! project's own catalog are valid: no errors from `wfc check`, and valid under both the
//! format's schema as the AroMCP project publishes it and the schema wfc generates.

use std::path::{Path, PathBuf};

use wfc_compiler::{Source, check_source, syntax};

#[path = "../compiler/tests/oracle/cases.rs"]
#[allow(dead_code, reason = "only the corpus's location is used here")]
mod cases;

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Source {
    Source::new(path.display().to_string(), std::fs::read_to_string(path).expect("readable"))
}

fn as_json(source: &Source) -> serde_json::Value {
    syntax::parse_document(source).unwrap_or_else(|d| panic!("{}", d.render_plain())).to_json()
}

#[test]
fn corpus_and_catalog_workflows_have_no_errors() {
    let catalog = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
    let corpus = cases::corpus_dir();
    let files: Vec<PathBuf> = corpus.iter().flat_map(|dir| yaml_files(dir)).chain(yaml_files(&catalog)).collect();
    assert!(files.len() >= if corpus.is_some() { 7 } else { 4 }, "expected the 3 corpus workflows and the catalog, found {files:?}");
    for path in files {
        let source = load(&path);
        let (workflow, diagnostics) = check_source(&source);
        assert!(workflow.is_some() && !diagnostics.has_errors(), "{}", diagnostics.render_plain());
    }
}

#[test]
fn corpus_workflows_are_valid_under_both_schemas() {
    let Some(corpus) = cases::corpus_dir() else { return };
    let published: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(corpus.join("schema.json")).expect("schema.json")).expect("json");
    let published = jsonschema::validator_for(&published).expect("the published schema compiles");
    let ours = jsonschema::validator_for(syntax::format_schema()).expect("our schema compiles");
    let files = yaml_files(&corpus);
    assert_eq!(files.len(), 3);
    for path in files {
        let instance = as_json(&load(&path));
        let errors: Vec<String> = published.iter_errors(&instance).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{} vs published schema: {errors:?}", path.display());
        let errors: Vec<String> = ours.iter_errors(&instance).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{} vs wfc schema: {errors:?}", path.display());
    }
}

#[test]
fn our_schema_rejects_what_the_checker_rejects_for_shape() {
    let ours = jsonschema::validator_for(syntax::format_schema()).expect("our schema compiles");
    let instance = serde_json::json!({
        "name": "a:b", "description": "d", "version": "1.0.0",
        "steps": [{ "id": "s", "type": "user_message", "message": "hi", "tool": "x" }]
    });
    assert!(!ours.is_valid(&instance), "a tool field on a user_message must be refused by the schema");
}
