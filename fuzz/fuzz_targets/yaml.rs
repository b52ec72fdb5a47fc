//! Any text as a workflow file: checked, lowered and its diagnostics rendered, without a panic
//! or a stack overflow, whatever it holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wfc_compiler::{Source, compile_source};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let source = Source::new("fuzz.yaml", text.as_ref());
    // A workflow the check accepts always lowers (a site lowering finds uncompiled panics).
    let (_, diagnostics) = compile_source(&source);
    let _ = diagnostics.render_plain();
});
