//! `docs/diagnostics.md` lists every diagnostic code with its name and severity.

use wfc_compiler::Code;

#[test]
fn every_code_is_documented() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/diagnostics.md");
    let docs = std::fs::read_to_string(&path).expect("docs/diagnostics.md exists");
    for code in Code::ALL {
        let row = format!("| {} | `{}` | {} |", code.id(), code.name(), code.severity().as_str());
        assert!(docs.contains(&row), "docs/diagnostics.md has no row starting `{row}`");
    }
}
