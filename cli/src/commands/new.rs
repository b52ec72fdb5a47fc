//! `wfc new DIR`: a team's catalog crate, ready to build — its workflows compiled into its own
//! binary by `build.rs`, the whole `wfc` command line over them from one call in `main`, a
//! snapshot test of the generated code, a CI workflow and an MCP config for agents.
//!
//! The wfc crates are named by path to the source this binary was built from (the default:
//! the scaffold builds on this machine as it is, with the exact dependency versions wfc was
//! tested with, from its `Cargo.lock`), or by version with `--wfc-version`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wfc_compiler::{Source, codegen, compile_source};

/// The source tree this binary was built from: `cli/`'s parent.
const SOURCE_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The example workflow, its file and the scaffold's other files (`@NAME@` is the crate's name);
/// `build.rs` and `main.rs` are `wfc`'s own.
const EXAMPLE_PATH: &str = "workflows/project:health.yaml";
const EXAMPLE: &str = include_str!("../../scaffold/workflows/project:health.yaml");
const CARGO_TOML: &str = include_str!("../../scaffold/Cargo.toml.in");
const BUILD_RS: &str = include_str!("../../scaffold/build.rs");
const MAIN_RS: &str = include_str!("../../scaffold/main.rs");
const SNAPSHOT_TEST: &str = include_str!("../../scaffold/tests/generated.rs");
const CI: &str = include_str!("../../scaffold/ci.yml");
const MCP_JSON: &str = include_str!("../../scaffold/mcp.json");
const GITIGNORE: &str = include_str!("../../scaffold/gitignore");
const README: &str = include_str!("../../scaffold/README.md");

/// How `wfc new` was asked to run.
pub(crate) struct Options {
    /// The directory to create (it may exist if empty).
    pub(crate) dir: PathBuf,
    /// The crate's (and binary's) name; by default the directory's.
    pub(crate) name: Option<String>,
    /// Depend on the wfc crates by this version instead of by path to this binary's source.
    pub(crate) wfc_version: Option<String>,
}

/// Where the scaffold's wfc dependencies come from.
enum Wfc {
    /// The source tree this binary was built from.
    Source(PathBuf),
    /// A registry version (with the source tree, if present, for the patched `regress`).
    Version { version: String, source: Option<PathBuf> },
}

pub(crate) fn run(options: Options) -> ExitCode {
    match scaffold(&options) {
        Ok(name) => {
            let dir = options.dir.display();
            println!("Created `{name}` in {dir}. Next:");
            println!("  cd {dir}");
            println!("  cargo run -- run project:health   # drive the example workflow in the terminal");
            println!("  cargo test                         # check the workflows, pin their generated code");
            println!("  cargo run --release -- serve       # serve workflows/ to an agent over MCP (.mcp.json does this)");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("wfc: {message}");
            ExitCode::from(2)
        }
    }
}

/// Writes the scaffold; the crate's name, or why nothing was written.
fn scaffold(options: &Options) -> Result<String, String> {
    let dir = &options.dir;
    let name = match &options.name {
        Some(name) => name.clone(),
        None => dir.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| format!("{} names no directory; pass --name", dir.display()))?,
    };
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(format!("{} exists and is not empty; nothing was written", dir.display()));
    }
    if !is_package_name(&name) {
        return Err(format!("`{name}` cannot name a crate: use ASCII letters, digits, `-` and `_`, starting with a letter (pass --name)"));
    }
    let source = source_root();
    let wfc = match (&options.wfc_version, source) {
        (Some(version), source) => Wfc::Version { version: version.clone(), source },
        (None, Some(source)) => Wfc::Source(source),
        (None, None) => {
            return Err(format!("the wfc source this binary was built from ({SOURCE_ROOT}) is not there any more; pass --wfc-version VERSION to depend on published crates"));
        }
    };
    let mut files = vec![
        ("Cargo.toml".to_owned(), cargo_toml(&name, &wfc)),
        ("build.rs".to_owned(), BUILD_RS.to_owned()),
        ("src/main.rs".to_owned(), MAIN_RS.to_owned()),
        (EXAMPLE_PATH.to_owned(), EXAMPLE.to_owned()),
        ("tests/generated.rs".to_owned(), SNAPSHOT_TEST.to_owned()),
        (snapshot_path(), snapshot()?),
        (".github/workflows/workflows.yml".to_owned(), CI.to_owned()),
        (".mcp.json".to_owned(), MCP_JSON.replace("@NAME@", &name)),
        (".gitignore".to_owned(), GITIGNORE.to_owned()),
        ("README.md".to_owned(), README.replace("@NAME@", &name)),
    ];
    // The versions wfc was built and tested with; Cargo drops what the new crate does not use.
    if let Wfc::Source(source) = &wfc
        && let Ok(lock) = std::fs::read_to_string(source.join("Cargo.lock"))
    {
        files.push(("Cargo.lock".to_owned(), lock));
    }
    for (path, text) in files {
        write(&dir.join(path), &text)?;
    }
    Ok(name)
}

/// The source tree this binary was built from, if it is still there.
fn source_root() -> Option<PathBuf> {
    let root = Path::new(SOURCE_ROOT).canonicalize().ok()?;
    ["cli", "runtime", "compiler", "vendor/regress"].iter().all(|member| root.join(member).join("Cargo.toml").is_file()).then_some(root)
}

/// A crate name Cargo accepts (and that names a binary on every platform).
fn is_package_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') && name.len() <= 64
}

fn cargo_toml(name: &str, wfc: &Wfc) -> String {
    let crate_line = |krate: &str| match wfc {
        Wfc::Source(root) => format!("{krate} = {{ path = {} }}", toml_string(&root.join(krate.trim_start_matches("wfc-")))),
        Wfc::Version { version, .. } => format!("{krate} = \"{version}\""),
    };
    let regress = match wfc {
        Wfc::Source(root) | Wfc::Version { source: Some(root), .. } => format!("regress = {{ path = {} }}", toml_string(&root.join("vendor/regress"))),
        Wfc::Version { source: None, .. } => "# regress = { path = \"<a wfc checkout>/vendor/regress\" }  (required: wfc-runtime needs its step budget)".to_owned(),
    };
    CARGO_TOML
        .replace("@NAME@", name)
        .replace("@DEPENDENCIES@", &format!("{}\n{}", crate_line("wfc-cli"), crate_line("wfc-runtime")))
        .replace("@BUILD_DEPENDENCIES@", &crate_line("wfc-compiler"))
        .replace("@REGRESS_PATCH@", &regress)
}

/// A path as a TOML basic string.
fn toml_string(path: &Path) -> String {
    serde_json::Value::String(path.display().to_string()).to_string()
}

/// Where insta keeps the example's snapshot (`tests/generated.rs`, named by its module).
fn snapshot_path() -> String {
    format!("tests/snapshots/generated__{}.snap", example_module())
}

fn example_module() -> String {
    codegen::module_name("project:health").to_string()
}

/// The example's generated code as insta stores it, so the scaffold's test passes as written.
fn snapshot() -> Result<String, String> {
    let (compiled, diagnostics) = compile_source(&Source::new(EXAMPLE_PATH, EXAMPLE));
    let compiled = compiled.ok_or_else(|| format!("the example workflow does not compile (a bug in wfc):\n{}", diagnostics.render_plain()))?;
    let code = codegen::expand(&compiled.machines)?;
    Ok(format!("---\nsource: tests/generated.rs\nexpression: code\n---\n{code}"))
}

/// Writes `text` to `path`, creating its directory.
fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names() {
        assert!(is_package_name("acme-flows"));
        assert!(is_package_name("acme_flows2"));
        for bad in ["", "2flows", "acme flows", "acme/flows", "-x", "ünï"] {
            assert!(!is_package_name(bad), "{bad}");
        }
    }

    #[test]
    fn by_version_names_published_crates() {
        let text = cargo_toml("acme", &Wfc::Version { version: "0.1.0".to_owned(), source: None });
        assert!(text.contains("wfc-cli = \"0.1.0\"\nwfc-runtime = \"0.1.0\""), "{text}");
        assert!(text.contains("wfc-compiler = \"0.1.0\""), "{text}");
        assert!(text.contains("# regress"), "{text}");
        assert!(!text.contains('@'), "every placeholder filled: {text}");
    }

    #[test]
    fn the_example_snapshot_is_the_expanded_example() {
        let snapshot = snapshot().expect("the example compiles");
        assert!(snapshot.contains(&format!("pub mod {}", example_module())), "{snapshot}");
    }
}
