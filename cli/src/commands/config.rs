//! `wfc config [SERVE FLAGS]`: the settings `wfc serve` would run with, as the `[serve]` table
//! of a `wfc.toml` — each with its value and, in a comment, where it came from — so that the
//! effective configuration can be read, diffed and pasted.

use std::ffi::OsString;
use std::process::ExitCode;

use crate::settings::{self, Source};

pub(crate) fn run(serve_args: Vec<OsString>) -> ExitCode {
    let resolved = match settings::resolve(serve_args) {
        Ok(resolved) => resolved,
        Err(message) => {
            eprintln!("wfc: {message}");
            return ExitCode::from(2);
        }
    };
    let file = resolved.file.as_ref().map_or_else(|| format!("none ({} not found here)", settings::CONFIG_FILE), |path| path.display().to_string());
    let mut out = format!("# The settings of `wfc serve`; configuration file: {file}\n[serve]\n");
    for setting in &resolved.settings {
        let source = match &setting.source {
            Source::Flag => "flag".to_owned(),
            Source::Env(name) => format!("environment {name}"),
            Source::File => "configuration file".to_owned(),
            Source::Default => "default".to_owned(),
        };
        let line = match setting.values.as_slice() {
            [] if !setting.repeatable => format!("# {} (not set)", setting.name),
            [one] if !setting.repeatable => format!("{} = {}", setting.name, toml_value(one)),
            all => format!("{} = [{}]", setting.name, all.iter().map(|v| toml_value(v)).collect::<Vec<_>>().join(", ")),
        };
        out.push_str(&format!("{line:<48} # {source}\n"));
    }
    super::print_out(&out)
}

/// A value as TOML: numbers and booleans bare, anything else quoted.
fn toml_value(text: &str) -> String {
    if text.parse::<f64>().is_ok_and(f64::is_finite) || matches!(text, "true" | "false") {
        text.to_owned()
    } else {
        toml::Value::String(text.to_owned()).to_string()
    }
}
