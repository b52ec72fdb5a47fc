//! Every invalid fixture in `tests/fixtures/invalid/` produces exactly the diagnostics its
//! `# error: CODE` / `# warning: CODE` comments announce, on the lines that carry them, and its
//! rendered diagnostics are a snapshot a reviewer can read.

use std::path::Path;

use wfc_compiler::{Source, check_source};

/// `(line, code)` for every annotation in `text`.
fn expected_codes(text: &str) -> Vec<(usize, String)> {
    let mut expected = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for marker in ["# error:", "# warning:"] {
            if let Some(at) = line.find(marker) {
                let codes = line[at + marker.len()..].split_whitespace().map(str::to_owned);
                expected.extend(codes.map(|code| (index + 1, code)));
            }
        }
    }
    expected.sort();
    expected
}

fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

#[test]
fn invalid_fixtures_report_what_they_announce() {
    insta::glob!("fixtures/invalid/*.yaml", |path| {
        let text = std::fs::read_to_string(path).expect("fixture is readable");
        let source = Source::new(relative(path), text.clone());
        let (workflow, diagnostics) = check_source(&source);
        assert!(!diagnostics.is_empty(), "{}: no diagnostics", source.name());
        assert!(workflow.is_none() || !diagnostics.has_errors());
        let mut actual: Vec<(usize, String)> = diagnostics
            .iter()
            .map(|d| (source.line_column(d.primary.span.start).0, d.code.id().to_owned()))
            .collect();
        actual.sort();
        assert_eq!(actual, expected_codes(&text), "{}: (line, code) of diagnostics vs annotations", source.name());
        insta::assert_snapshot!(diagnostics.render_plain());
    });
}
