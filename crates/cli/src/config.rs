//! The node's configuration file (TOML), under environment variables and
//! flags.
//!
//! `traceledger --config node.toml up …` (or `TRACELEDGER_CONFIG`). The
//! file's keys are the long names of the subcommand's flags (`-` or `_`):
//! top-level keys apply to every subcommand that has such a flag, and a
//! table named after a subcommand (`[up]`, `[sequencer]`, `[project]`) to
//! that one only. Precedence: flag, then environment variable, then the
//! subcommand's table, then the top level, then the built-in default.
//!
//! Rather than a second description of every option (which would drift
//! from the flags), the file is turned into the flags it stands for, and
//! clap parses and validates them with everything else. `traceledger config
//! check` shows the outcome: every option, its value and where it came from.

use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Environment variable naming the configuration file.
pub const ENV: &str = "TRACELEDGER_CONFIG";

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable.
    #[error("config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML (the message names line and column).
    #[error("config {path}: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A key that is no option.
    #[error("config {path}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Which key, and what is allowed.
        message: String,
    },
}

/// The configuration file named by `--config FILE`, `--config=FILE` or
/// [`ENV`], if any.
pub fn file_of(args: &[OsString]) -> Option<PathBuf> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        }
        if s == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix("--config=") {
            return Some(PathBuf::from(v));
        }
    }
    std::env::var_os(ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Reads and parses the file.
pub fn load(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    text.parse::<toml::Table>().map_err(|e| ConfigError::Toml { path: path.into(), message: e.to_string() })
}

/// Top-level flags that take a value (skipped when looking for the
/// subcommand).
const GLOBAL_WITH_VALUE: &[&str] = &["--config", "--log-format"];

/// Index of the subcommand's name in `args`.
fn subcommand_at(args: &[OsString]) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        let s = args[i].to_string_lossy();
        if GLOBAL_WITH_VALUE.contains(&s.as_ref()) {
            i += 2;
            continue;
        }
        if s.starts_with('-') {
            i += 1;
            continue;
        }
        return Some(i);
    }
    None
}

fn normal(key: &str) -> String {
    key.replace('_', "-")
}

/// Subcommands a configuration file configures.
pub const CONFIGURABLE: &[&str] = &["up", "sequencer", "project"];

/// The flags the file gives subcommand `sub`, leaving out those `given` on
/// the command line or set in the environment. Errors name unknown keys.
pub fn flags_for(
    path: &Path,
    table: &toml::Table,
    sub: &str,
    given: &[OsString],
) -> Result<Vec<OsString>, ConfigError> {
    let root = crate::Cli::command();
    let key_err = |message: String| ConfigError::Key { path: path.into(), message };
    // Every key must be an option of some configurable subcommand (top
    // level) or of its table's subcommand.
    for (k, v) in table {
        if let toml::Value::Table(t) = v {
            let Some(c) = CONFIGURABLE.contains(&k.as_str()).then(|| root.find_subcommand(k)).flatten() else {
                return Err(key_err(format!(
                    "[{k}] is not a subcommand a config file configures ({})",
                    CONFIGURABLE.join(", ")
                )));
            };
            for tk in t.keys() {
                if long_arg(c, tk).is_none() {
                    return Err(key_err(format!("`{tk}` in [{k}] is not an option of `traceledger {k}`")));
                }
            }
        } else if !CONFIGURABLE.iter().filter_map(|s| root.find_subcommand(s)).any(|c| long_arg(c, k).is_some()) {
            return Err(key_err(format!("`{k}` is not an option of {}", CONFIGURABLE.join(", "))));
        }
    }
    let Some(cmd) = root.find_subcommand(sub) else { return Ok(Vec::new()) };
    let mut chosen: Vec<(String, &toml::Value)> = Vec::new();
    let own = table.get(sub).and_then(toml::Value::as_table);
    for (k, v) in own.into_iter().flatten() {
        chosen.push((normal(k), v));
    }
    for (k, v) in table.iter().filter(|(_, v)| !v.is_table()) {
        if !chosen.iter().any(|(c, _)| *c == normal(k)) && long_arg(cmd, k).is_some() {
            chosen.push((normal(k), v));
        }
    }
    let mut out = Vec::new();
    for (k, v) in chosen {
        let Some(arg) = long_arg(cmd, &k) else { continue };
        let long = arg.get_long().unwrap_or_default();
        let on_line = given.iter().any(|a| {
            let a = a.to_string_lossy();
            a == format!("--{long}") || a.starts_with(&format!("--{long}="))
        });
        let in_env = arg.get_env().is_some_and(|e| std::env::var_os(e).is_some_and(|v| !v.is_empty()));
        if on_line || in_env {
            continue;
        }
        let flag = matches!(arg.get_action(), ArgAction::SetTrue);
        let values: Vec<&toml::Value> = match v {
            toml::Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        if matches!(v, toml::Value::Array(_)) && !matches!(arg.get_action(), ArgAction::Append) {
            return Err(key_err(format!("`{k}` takes one value, not a list")));
        }
        for v in values {
            match (flag, v) {
                (true, toml::Value::Boolean(true)) => out.push(OsString::from(format!("--{long}"))),
                (true, toml::Value::Boolean(false)) => {}
                (true, _) => return Err(key_err(format!("`{k}` is a switch: true or false"))),
                (false, toml::Value::String(s)) => out.push(OsString::from(format!("--{long}={s}"))),
                (false, toml::Value::Integer(i)) => out.push(OsString::from(format!("--{long}={i}"))),
                (false, toml::Value::Float(f)) => out.push(OsString::from(format!("--{long}={f}"))),
                (false, toml::Value::Boolean(b)) => out.push(OsString::from(format!("--{long}={b}"))),
                (false, _) => return Err(key_err(format!("`{k}`: a string, number or boolean"))),
            }
        }
    }
    Ok(out)
}

fn long_arg<'a>(cmd: &'a clap::Command, key: &str) -> Option<&'a clap::Arg> {
    let key = normal(key);
    cmd.get_arguments().find(|a| a.get_long() == Some(key.as_str()) && a.get_id() != "help")
}

/// `args` with the configuration file's flags added after the subcommand.
pub fn apply(args: Vec<OsString>) -> Result<Vec<OsString>, ConfigError> {
    let Some(path) = file_of(&args) else { return Ok(args) };
    let table = load(&path)?;
    let Some(at) = subcommand_at(&args) else { return Ok(args) };
    let sub = args[at].to_string_lossy().into_owned();
    if !CONFIGURABLE.contains(&sub.as_str()) {
        return Ok(args);
    }
    let extra = flags_for(&path, &table, &sub, &args[at + 1..])?;
    let mut out = args[..=at].to_vec();
    out.extend(extra);
    out.extend_from_slice(&args[at + 1..]);
    Ok(out)
}

/// One option as it stands after flags, environment and file.
#[derive(Debug, serde::Serialize)]
pub struct Effective {
    /// Long flag name.
    pub option: String,
    /// Its value(s), as given.
    pub value: Vec<String>,
    /// `flag`, `env`, `file` or `default`.
    pub source: &'static str,
}

/// The effective options of `sub` under `path`, validated by clap as a run
/// would be (environment variables included).
pub fn effective(path: &Path, sub: &str) -> anyhow::Result<Vec<Effective>> {
    let table = load(path)?;
    let extra = flags_for(path, &table, sub, &[])?;
    let mut argv: Vec<OsString> = vec!["traceledger".into(), sub.into()];
    argv.extend(extra.iter().cloned());
    let matches = crate::Cli::command()
        .try_get_matches_from(&argv)
        .map_err(|e| anyhow::anyhow!("config {}: [{sub}]: {}", path.display(), e.render().to_string().trim()))?;
    let Some(m) = matches.subcommand_matches(sub) else { anyhow::bail!("no subcommand {sub}") };
    let root = crate::Cli::command();
    let Some(cmd) = root.find_subcommand(sub) else { anyhow::bail!("no subcommand {sub}") };
    let mut out = Vec::new();
    for arg in cmd.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else { continue };
        if id == "help" {
            continue;
        }
        let value: Vec<String> =
            m.get_raw(id).map(|vs| vs.map(|v| v.to_string_lossy().into_owned()).collect()).unwrap_or_default();
        let from_file = extra.iter().any(|a| {
            let a = a.to_string_lossy();
            a == format!("--{long}") || a.starts_with(&format!("--{long}="))
        });
        let source = match m.value_source(id) {
            Some(ValueSource::EnvVariable) => "env",
            Some(ValueSource::CommandLine) if from_file => "file",
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::DefaultValue) => "default",
            _ => "unset",
        };
        out.push(Effective { option: long.to_string(), value, source });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn table(s: &str) -> toml::Table {
        s.parse().expect("toml")
    }

    #[test]
    fn the_subcommand_table_beats_the_top_level_and_flags_beat_both() {
        let t = table(
            "partitions = 4\nkafka = \"b:9092\"\n[up]\npartitions = 8\ndemo = true\ntrusted-key = [\"a\", \"b\"]\n",
        );
        let p = Path::new("node.toml");
        let flags = flags_for(p, &t, "up", &os(&["--kafka", "x:1"])).expect("valid");
        let flags: Vec<String> = flags.iter().map(|f| f.to_string_lossy().into_owned()).collect();
        assert!(flags.contains(&"--partitions=8".to_string()), "{flags:?}");
        assert!(!flags.iter().any(|f| f.starts_with("--kafka")), "the command line wins: {flags:?}");
        assert!(flags.contains(&"--demo".to_string()));
        assert_eq!(flags.iter().filter(|f| f.starts_with("--trusted-key=")).count(), 2);
        // `project` has neither --demo nor --partitions; the top level's
        // --kafka applies there.
        let p_flags = flags_for(p, &t, "project", &[]).expect("valid");
        assert_eq!(p_flags, os(&["--kafka=b:9092"]));
    }

    #[test]
    fn unknown_keys_are_named() {
        let p = Path::new("node.toml");
        let e = flags_for(p, &table("partitons = 4\n"), "up", &[]).expect_err("typo");
        assert!(e.to_string().contains("`partitons`"), "{e}");
        let e = flags_for(p, &table("[up]\nonly = \"ledger\"\n"), "up", &[]).expect_err("a project option");
        assert!(e.to_string().contains("`only` in [up]"), "{e}");
        let e = flags_for(p, &table("[verify]\nx = 1\n"), "up", &[]).expect_err("not configurable");
        assert!(e.to_string().contains("[verify]"), "{e}");
        let e = flags_for(p, &table("[up]\ndemo = 3\n"), "up", &[]).expect_err("a switch");
        assert!(e.to_string().contains("switch"), "{e}");
    }

    #[test]
    fn flags_go_after_the_subcommand() {
        let dir = tempfile::tempdir().expect("tmp");
        let f = dir.path().join("n.toml");
        std::fs::write(&f, "[up]\npartitions = 3\n").expect("write");
        let args = os(&["traceledger", "--log-format", "json", "--config", f.to_str().expect("utf-8"), "up", "--once"]);
        let out: Vec<String> = apply(args).expect("valid").iter().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(&out[5..], ["up", "--partitions=3", "--once"]);
    }
}
