//! `wfc check`: every diagnostic of every workflow file, then a one-line summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::{Color, Format};

pub(crate) fn run(paths: &[PathBuf], format: Format, color: Color) -> ExitCode {
    let report = match wfc_compiler::check_paths(paths) {
        Ok(report) => report,
        Err(error) => {
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            eprintln!("wfc: cannot read {}: {error}", names.join(", "));
            return ExitCode::from(2);
        }
    };
    match format {
        Format::Human => {
            let color = match color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            };
            for file in &report.files {
                eprint!("{}", file.diagnostics.render_styled(color));
            }
            eprintln!("{}", report.summary());
        }
        Format::Github => {
            for file in &report.files {
                print!("{}", file.diagnostics.render_github());
            }
            eprintln!("{}", report.summary());
        }
        Format::Sarif => {
            println!("{}", wfc_compiler::sarif(report.files.iter().map(|f| &f.diagnostics)));
            eprintln!("{}", report.summary());
        }
        Format::Json => {
            let diagnostics: Vec<serde_json::Value> = report.files.iter().flat_map(|f| f.diagnostics.to_json()).collect();
            let document = serde_json::json!({
                "workflows": report.files.len(),
                "errors": report.error_count(),
                "warnings": report.warning_count(),
                "diagnostics": diagnostics,
            });
            println!("{document}");
        }
    }
    if report.error_count() > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
