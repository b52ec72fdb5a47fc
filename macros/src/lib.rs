//! `include_workflow!("path.yaml")`: one workflow compiled into the calling crate, for users who
//! embed wfc without a `build.rs`. The path is relative to the calling crate's manifest
//! directory. The macro is an expression of type
//! `&'static wfc_runtime::machine::program::Workflow<ExprFn>`; the crate must depend on
//! `wfc-runtime`. A workflow with errors fails the build with its diagnostics (file, line,
//! column, snippet) at the macro call; editing the file rebuilds the crate.
//!
//! ```ignore
//! let workflow = wfc_macros::include_workflow!("workflows/deps:report.yaml");
//! let machine = wfc_runtime::machine::Instance::start(workflow.main.clone(), &inputs, Default::default())?;
//! ```

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// Compiles the workflow file at the given path (relative to `CARGO_MANIFEST_DIR`).
#[proc_macro]
pub fn include_workflow(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let literal = syn::parse_macro_input!(input as syn::LitStr);
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
    match expand(&manifest_dir.join(literal.value())) {
        Ok(tokens) => tokens.into(),
        Err(message) => syn::Error::new(literal.span(), message).to_compile_error().into(),
    }
}

/// The macro's expansion for the workflow at `path`, or the message to fail the build with.
fn expand(path: &Path) -> Result<TokenStream, String> {
    let report = wfc_compiler::check_paths(&[path.to_path_buf()]).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file = report.files.into_iter().next().ok_or_else(|| format!("{} is not a workflow file", path.display()))?;
    let compiled = file.compiled.ok_or_else(|| format!("{}\n{}", file.diagnostics.render_plain(), "the workflow has errors"))?;
    let module = format_ident!("__wfc_included");
    let generated = wfc_compiler::codegen::workflow_module(&module, &compiled.machines, &quote!(::wfc_runtime));
    let tracked = path.display().to_string();
    Ok(quote!({
        // Rebuild when the workflow changes.
        const _: &str = include_str!(#tracked);
        #generated
        #module::workflow()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn a_valid_workflow_expands_to_its_machines() {
        let tokens = expand(&workspace().join("workflows/deps:report.yaml")).expect("expands").to_string();
        assert!(tokens.contains("pub fn workflow"), "{tokens}");
        assert!(tokens.contains("include_str !"), "{tokens}");
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        let message = expand(&workspace().join("tests/fixtures/invalid/unknown_step_type.yaml")).expect_err("invalid");
        assert!(message.contains("tests/fixtures/invalid/unknown_step_type.yaml:7:11"), "{message}");
        assert!(message.contains("E0107"), "{message}");
        let missing = expand(&workspace().join("no/such.yaml")).expect_err("missing");
        assert!(missing.starts_with("cannot read"), "{missing}");
    }
}
