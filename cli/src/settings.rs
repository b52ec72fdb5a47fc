//! Where `wfc serve`'s settings come from. Every serve flag can be given three ways, and the
//! first found wins: the flag (`--max-active-instances 50`), an environment variable named
//! after it (`WFC_MAX_ACTIVE_INSTANCES=50`), or a key of the `[serve]` table of a configuration
//! file (`max-active-instances = 50` in `wfc.toml`: the file `--config FILE` names, else
//! `wfc.toml` in the current directory). Anything given none of these ways has its default.
//!
//! The environment and the file are turned into the flags they stand for, appended to the
//! command line, and clap parses the result: one parser, one set of checks and messages,
//! whichever way a setting came.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{ArgAction, CommandFactory};

/// The configuration file looked for in the current directory.
pub(crate) const CONFIG_FILE: &str = "wfc.toml";

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The command line.
    Flag,
    /// This environment variable.
    Env(String),
    /// The configuration file.
    File,
    /// Not given: the default, if there is one.
    Default,
}

/// One serve setting as resolved.
#[derive(Clone, Debug)]
pub(crate) struct Setting {
    /// The flag's long name (`max-active-instances`).
    pub(crate) name: String,
    /// Its values as given (several for a repeatable flag, none when unset), or its default.
    pub(crate) values: Vec<String>,
    /// Where they came from.
    pub(crate) source: Source,
    /// Whether the flag may be given several times (its values are a list).
    pub(crate) repeatable: bool,
}

/// `wfc serve`'s arguments with the environment's and the file's settings added.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The serve arguments to parse (without `wfc serve`).
    pub(crate) args: Vec<OsString>,
    /// Every serve setting and where it came from.
    pub(crate) settings: Vec<Setting>,
    /// The configuration file read, if any.
    pub(crate) file: Option<PathBuf>,
}

/// The serve flags a configuration can set: every long option but `--help` and `--config`.
fn serve_flags() -> Vec<clap::Arg> {
    let command = crate::Cli::command();
    let serve = command.find_subcommand("serve").expect("wfc has a serve command");
    serve.get_arguments().filter(|arg| arg.get_long().is_some_and(|long| !matches!(long, "help" | "config"))).cloned().collect()
}

/// The environment variable that stands for flag `long`: `max-active-instances` →
/// `WFC_MAX_ACTIVE_INSTANCES`.
pub(crate) fn env_name(long: &str) -> String {
    format!("WFC_{}", long.replace('-', "_").to_ascii_uppercase())
}

/// Whether `args` give flag `long` (`--long`, `--long=value`).
fn given(args: &[OsString], long: &str) -> bool {
    let flag = format!("--{long}");
    args.iter().filter_map(|a| a.to_str()).any(|a| a == flag || a.strip_prefix(&flag).is_some_and(|rest| rest.starts_with('=')))
}

/// The configuration file `args` name with `--config`, else `wfc.toml` here if there is one.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut args = args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    Path::new(CONFIG_FILE).is_file().then(|| PathBuf::from(CONFIG_FILE))
}

/// The `[serve]` table of the configuration file at `path`, keys spelled as the flags are
/// (`_` read as `-`). A file that cannot be read or parsed, another table, or an unknown key is
/// an error naming the file.
fn read_config(path: &Path, flags: &[clap::Arg]) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read the configuration {}: {e}", path.display()))?;
    let mut file: toml::Table = text.parse().map_err(|e| format!("{} is not valid TOML: {e}", path.display()))?;
    if let Some(other) = file.keys().find(|key| *key != "serve") {
        return Err(format!("{}: `{other}` is not a table wfc reads (settings go under `[serve]`)", path.display()));
    }
    let Some(toml::Value::Table(serve)) = file.remove("serve") else {
        return Ok(toml::Table::new());
    };
    let mut table = toml::Table::new();
    for (key, value) in serve {
        let name = key.replace('_', "-");
        if !flags.iter().any(|flag| flag.get_long() == Some(name.as_str())) {
            let known: Vec<&str> = flags.iter().filter_map(clap::Arg::get_long).collect();
            return Err(format!("{}: `{key}` is not a setting of `wfc serve` (settings: {})", path.display(), known.join(", ")));
        }
        table.insert(name, value);
    }
    Ok(table)
}

/// A configuration value as the flag's values (an array gives one per element).
fn file_values(path: &Path, name: &str, value: &toml::Value) -> Result<Vec<String>, String> {
    let scalar = |value: &toml::Value| match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!("{}: `{name}` cannot be {} (a string, number or boolean)", path.display(), other.type_str())),
    };
    match value {
        toml::Value::Array(items) => items.iter().map(scalar).collect(),
        other => scalar(other).map(|v| vec![v]),
    }
}

/// The flags for `values` of `flag`: `--name value` per value, or `--name` for a switch that is
/// on (`true`, `1`, `yes`).
fn as_flags(flag: &clap::Arg, values: &[String]) -> Vec<OsString> {
    let long = flag.get_long().unwrap_or_default();
    if matches!(flag.get_action(), ArgAction::SetTrue) {
        let on = values.iter().any(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on"));
        return if on { vec![format!("--{long}").into()] } else { Vec::new() };
    }
    values.iter().map(|value| OsString::from(format!("--{long}={value}"))).collect()
}

/// `wfc serve`'s arguments `args` with what the environment and the configuration file set
/// for every flag they do not give.
pub(crate) fn resolve(args: Vec<OsString>) -> Result<Resolved, String> {
    let flags = serve_flags();
    let file = config_path(&args);
    let table = match &file {
        Some(path) => read_config(path, &flags)?,
        None => toml::Table::new(),
    };
    let mut resolved = Resolved { args: args.clone(), settings: Vec::new(), file: file.clone() };
    for flag in &flags {
        let long = flag.get_long().unwrap_or_default();
        let env = env_name(long);
        let (values, source) = if given(&args, long) {
            (given_values(&args, long), Source::Flag)
        } else if let Some(value) = std::env::var_os(&env) {
            let value = value.into_string().map_err(|_| format!("{env} is not UTF-8"))?;
            let values: Vec<String> = if matches!(flag.get_action(), ArgAction::Append) { value.split(',').map(str::to_owned).collect() } else { vec![value] };
            resolved.args.extend(as_flags(flag, &values));
            (values, Source::Env(env))
        } else if let (Some(value), Some(path)) = (table.get(long), &file) {
            let values = file_values(path, long, value)?;
            resolved.args.extend(as_flags(flag, &values));
            (values, Source::File)
        } else if matches!(flag.get_action(), ArgAction::SetTrue) {
            (vec!["false".to_owned()], Source::Default)
        } else {
            (flag.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect(), Source::Default)
        };
        let repeatable = matches!(flag.get_action(), ArgAction::Append);
        resolved.settings.push(Setting { name: long.to_owned(), values, source, repeatable });
    }
    Ok(resolved)
}

/// The values `args` give flag `long`, as written (`--long value`, `--long=value`; a switch
/// reads `true`).
fn given_values(args: &[OsString], long: &str) -> Vec<String> {
    let flag = format!("--{long}");
    let args: Vec<&str> = args.iter().filter_map(|a| a.to_str()).collect();
    let mut values = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        if let Some(value) = arg.strip_prefix(&flag).and_then(|rest| rest.strip_prefix('=')) {
            values.push(value.to_owned());
        } else if *arg == flag {
            match args.get(i + 1) {
                Some(next) if !next.starts_with("--") => values.push((*next).to_owned()),
                _ => values.push("true".to_owned()),
            }
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn environment_names_follow_the_flags() {
        assert_eq!(env_name("max-active-instances"), "WFC_MAX_ACTIVE_INSTANCES");
        assert_eq!(env_name("http"), "WFC_HTTP");
    }

    #[test]
    fn a_flag_is_given_with_a_space_or_an_equals_sign_and_not_by_a_longer_name() {
        assert!(given(&args(&["--store", "memory"]), "store"));
        assert!(given(&args(&["--store=memory"]), "store"));
        assert!(!given(&args(&["--store-x=1"]), "store"));
        assert_eq!(given_values(&args(&["--serial", "--store", "memory", "--allowed-origin=a", "--allowed-origin", "b"]), "allowed-origin"), ["a", "b"]);
        assert_eq!(given_values(&args(&["--serial", "--store", "memory"]), "serial"), ["true"]);
    }

    #[test]
    fn the_file_names_only_serve_settings() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("wfc.toml");
        let flags = serve_flags();
        std::fs::write(&path, "[serve]\nmax_active_instances = 5\nserial = true\n").expect("write");
        let table = read_config(&path, &flags).expect("valid");
        assert_eq!(table.get("max-active-instances").and_then(toml::Value::as_integer), Some(5));
        std::fs::write(&path, "[serve]\nmax-actve-instances = 5\n").expect("write");
        assert!(read_config(&path, &flags).expect_err("unknown").contains("`max-actve-instances` is not a setting of `wfc serve`"));
        std::fs::write(&path, "[check]\nformat = \"json\"\n").expect("write");
        assert!(read_config(&path, &flags).expect_err("other table").contains("settings go under `[serve]`"));
        std::fs::write(&path, "[serve\n").expect("write");
        assert!(read_config(&path, &flags).expect_err("not TOML").contains("is not valid TOML"));
    }
}
