//! What the check reads: `EDGE_OIDC_CONFIG` from wrangler.toml (or from the TOML block of a
//! recipe page, docs/providers/*.md), and secrets from `.dev.vars` and the environment.

use std::collections::BTreeMap;
use std::path::Path;

/// Why the input could not be read (the check then stops with exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("cannot read {path}: {why}")]
    Read {
        /// The file.
        path: String,
        /// The operating system's reason.
        why: String,
    },
    /// The file is not TOML (the parser's message names the line).
    #[error("{path} is not valid TOML: {why}")]
    Toml {
        /// The file.
        path: String,
        /// The parser's message.
        why: String,
    },
    /// A Markdown file without a ```toml block.
    #[error("{0} has no ```toml block")]
    NoTomlBlock(String),
    /// No `[vars]` entry `EDGE_OIDC_CONFIG`, or one of the wrong type.
    #[error("{0} has no [vars.EDGE_OIDC_CONFIG] table (or EDGE_OIDC_CONFIG JSON string in [vars])")]
    NoConfig(String),
}

/// The text of the first ```toml block of a Markdown page (a recipe), else `None`.
pub fn toml_block(markdown: &str) -> Option<String> {
    let mut lines = markdown.lines();
    lines.by_ref().find(|l| l.trim_end() == "```toml")?;
    let block: Vec<&str> = lines.take_while(|l| l.trim_end() != "```").collect();
    Some(block.join("\n"))
}

/// `EDGE_OIDC_CONFIG` as the JSON text the worker receives: wrangler turns a
/// `[vars.EDGE_OIDC_CONFIG]` table into a JSON object, and passes a string as it is.
pub fn config_json(path: &Path) -> Result<String, InputError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| InputError::Read {
        path: name.clone(),
        why: e.to_string(),
    })?;
    let toml_text = if path.extension().is_some_and(|e| e == "md") {
        toml_block(&text).ok_or_else(|| InputError::NoTomlBlock(name.clone()))?
    } else {
        text
    };
    let table: toml::Table = toml::from_str(&toml_text).map_err(|e| InputError::Toml {
        path: name.clone(),
        why: e.to_string(),
    })?;
    let value = table
        .get("vars")
        .and_then(|v| v.get("EDGE_OIDC_CONFIG"))
        .ok_or_else(|| InputError::NoConfig(name.clone()))?;
    match value {
        toml::Value::String(json) => Ok(json.clone()),
        toml::Value::Table(t) => serde_json::to_string(t).map_err(|_| InputError::NoConfig(name)),
        _ => Err(InputError::NoConfig(name)),
    }
}

/// The secrets in a `.dev.vars` file (dotenv lines `NAME=value`, `#` comments, values in single
/// quotes taken literally, in double quotes with `\n` escapes); none when there is no file.
pub fn dev_vars(path: &Path) -> Result<BTreeMap<String, String>, InputError> {
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = std::fs::read_to_string(path).map_err(|e| InputError::Read {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    Ok(parse_dev_vars(&text))
}

/// The `NAME=value` lines of a `.dev.vars` file.
pub fn parse_dev_vars(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = if let Some(v) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            v.to_owned()
        } else if let Some(v) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            v.replace("\\n", "\n")
        } else {
            // An unquoted value ends at a comment.
            value.split(" #").next().unwrap_or_default().trim_end().to_owned()
        };
        out.insert(name.trim().to_owned(), value);
    }
    out
}
