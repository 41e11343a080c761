//! The configuration check: `cargo run --bin check_config -- [options] [FILE]`, or
//! `npm run check-config -- [options] [FILE]`.
//!
//! Reads `EDGE_OIDC_CONFIG` from wrangler.toml (or the TOML block of a recipe page,
//! docs/providers/*.md), the secrets from `.dev.vars` beside it and from the environment (which
//! wins), validates everything with the core's own rules, and with `--online` fetches each
//! provider's discovery document and key set. Exit status: 0 ready, 1 problems found, 2 the input
//! could not be read. No secret's value is ever printed.

mod input;
mod offline;
mod online;
mod report;
#[cfg(test)]
mod tests;

use report::{Level, Report};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str =
    "usage: check_config [--online] [--config-only] [--dev-vars FILE] [wrangler.toml | docs/providers/NAME.md]

  --online       also fetch each provider's discovery document and key set and compare them
  --config-only  check EDGE_OIDC_CONFIG only; list the secrets it needs without reading any
  --dev-vars F   the secrets file (default: .dev.vars beside the configuration file);
                 environment variables of the same names take precedence";

/// The command line.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    file: PathBuf,
    dev_vars: Option<PathBuf>,
    online: bool,
    config_only: bool,
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        file: PathBuf::from("wrangler.toml"),
        dev_vars: None,
        online: false,
        config_only: false,
    };
    let mut file = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--online" => options.online = true,
            "--config-only" => options.config_only = true,
            "--dev-vars" => options.dev_vars = Some(PathBuf::from(it.next().ok_or("--dev-vars needs a file")?)),
            "-h" | "--help" => return Err(String::new()),
            a if a.starts_with('-') => return Err(format!("unknown option {a}")),
            a if file.is_none() => file = Some(PathBuf::from(a)),
            a => return Err(format!("one file only ({a})")),
        }
    }
    if let Some(f) = file {
        options.file = f;
    }
    Ok(options)
}

/// Runs the check; the report and whether the input could be read.
fn run(options: &Options, env: &dyn Fn(&str) -> Option<String>) -> Result<(String, bool), String> {
    let json = input::config_json(&options.file).map_err(|e| e.to_string())?;
    let dev_vars_path = options
        .dev_vars
        .clone()
        .unwrap_or_else(|| options.file.parent().unwrap_or(Path::new(".")).join(".dev.vars"));
    let dev_vars = if options.config_only {
        Default::default()
    } else {
        input::dev_vars(&dev_vars_path).map_err(|e| e.to_string())?
    };
    let real = |name: &str| env(name).or_else(|| dev_vars.get(name).cloned());
    let mut report = Report::default();
    let config = offline::check(&json, &real, options.config_only, &mut report);
    match (&config, options.online) {
        (Some(config), true) => online::check(config, &mut report),
        (None, true) => {
            report.part("online");
            report.add(Level::Info, "--online", "skipped: the configuration is not valid");
        }
        _ => {}
    }
    let secrets = if options.config_only {
        "secrets not read: --config-only".to_owned()
    } else {
        format!("secrets from the environment and {}", dev_vars_path.display())
    };
    let header = format!("edge-oidc configuration check: {} ({secrets})", options.file.display());
    Ok((report.render(&header), report.count(Level::Error) == 0))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(o) => o,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("check_config: {why}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options, &|name| std::env::var(name).ok()) {
        Ok((text, ready)) => {
            print!("{text}");
            if ready {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(why) => {
            eprintln!("check_config: {why}");
            ExitCode::from(2)
        }
    }
}
