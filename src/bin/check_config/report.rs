//! The check's findings and how they are printed: one line per finding, most severe first
//! within each part, then a summary. Findings never hold a secret's value: only names, counts and
//! the core's own messages (which never quote one).

use std::fmt::Write as _;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Must be fixed: the worker would refuse the configuration or fail at login.
    Error,
    /// Works, but probably not as intended.
    Warn,
    /// What was found, for the record.
    Info,
    /// Checked and fine.
    Ok,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Ok => "ok",
        }
    }
}

/// One finding: about what (a key, a secret's name, a provider), and what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How much it matters.
    pub level: Level,
    /// What it is about, e.g. `COOKIE_KEYS` or `providers.main.issuer`.
    pub subject: String,
    /// What was found (and, for problems, the fix).
    pub text: String,
}

/// Findings in the order they were made, in named parts (configuration, secrets, online).
#[derive(Debug, Default)]
pub struct Report {
    parts: Vec<(String, Vec<Finding>)>,
}

impl Report {
    /// Starts a new part; findings go into it until the next.
    pub fn part(&mut self, title: &str) {
        self.parts.push((title.to_owned(), Vec::new()));
    }

    /// Adds a finding to the current part.
    pub fn add(&mut self, level: Level, subject: impl Into<String>, text: impl Into<String>) {
        if self.parts.is_empty() {
            self.part("check");
        }
        if let Some((_, findings)) = self.parts.last_mut() {
            findings.push(Finding {
                level,
                subject: subject.into(),
                text: text.into(),
            });
        }
    }

    /// Every finding.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.parts.iter().flat_map(|(_, f)| f.iter())
    }

    /// How many findings have this level.
    pub fn count(&self, level: Level) -> usize {
        self.findings().filter(|f| f.level == level).count()
    }

    /// The report as printed: parts in order, their findings most severe first.
    pub fn render(&self, header: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{header}");
        let width = self.findings().map(|f| f.subject.len()).max().unwrap_or(0).min(44);
        for (title, findings) in &self.parts {
            let _ = writeln!(out, "\n{title}");
            let mut sorted: Vec<&Finding> = findings.iter().collect();
            sorted.sort_by_key(|f| f.level);
            for f in sorted {
                let _ = writeln!(out, "  {:<5}  {:<width$}  {}", f.level.label(), f.subject, f.text);
            }
        }
        let (errors, warnings) = (self.count(Level::Error), self.count(Level::Warn));
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let verdict = if errors == 0 {
            "ready"
        } else {
            "not ready: fix the errors above"
        };
        let _ = writeln!(
            out,
            "\n{}, {}: {verdict}",
            plural(errors, "error"),
            plural(warnings, "warning")
        );
        out
    }
}
