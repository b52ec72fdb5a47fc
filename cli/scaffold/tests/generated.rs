//! The Rust each workflow compiles to, pinned: a change to a workflow, or to wfc, that changes
//! the generated state machine shows up here as a diff to review (`cargo insta review`, or
//! `INSTA_UPDATE=always cargo test` to accept it).

#[test]
fn generated_code() {
    let report = wfc_compiler::check_paths(&["workflows".into()]).expect("workflows/ is readable");
    assert!(!report.files.is_empty(), "no workflows in workflows/");
    for file in report.files {
        let compiled = file.compiled.unwrap_or_else(|| panic!("{}", file.diagnostics.render_plain()));
        let code = wfc_compiler::codegen::expand(&compiled.machines).expect("generated code parses");
        let name = wfc_compiler::codegen::module_name(&compiled.machines.name).to_string();
        insta::assert_snapshot!(name, code);
    }
}
