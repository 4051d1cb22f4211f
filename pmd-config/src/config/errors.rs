//! [`ConfigError`] and the rendering of TOML errors as configuration errors.

use std::collections::HashMap;

/// Why a configuration cannot be used. Every message starts with the origin (file name),
/// names the field and says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read the configuration file: {source}; {fix}")]
    Read {
        origin: String,
        #[source]
        source: std::io::Error,
        fix: String,
    },
    /// The text is not TOML or does not have the shape of a configuration (unknown key, wrong
    /// value type). `message` is toml's own, with line, column and the offending text.
    #[error("{origin}: {field}: {message}\nfix: {fix}")]
    Parse {
        origin: String,
        field: String,
        message: String,
        fix: String,
    },
    /// A field has a value the dataplane cannot use.
    #[error("{origin}: {field}: {problem}; {fix}")]
    Invalid {
        origin: String,
        field: String,
        problem: String,
        fix: String,
    },
}

impl ConfigError {
    /// The file name (or other origin) the error is about.
    pub fn origin(&self) -> &str {
        match self {
            ConfigError::Read { origin, .. }
            | ConfigError::Parse { origin, .. }
            | ConfigError::Invalid { origin, .. } => origin,
        }
    }

    /// The field path, e.g. `port[1] "vm2": path` or `bridge.static_mac[0].mac`; `None` when
    /// the file could not be read at all.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Parse { field, .. } | ConfigError::Invalid { field, .. } => Some(field),
        }
    }

    /// How to fix it.
    pub fn fix(&self) -> &str {
        match self {
            ConfigError::Read { fix, .. }
            | ConfigError::Parse { fix, .. }
            | ConfigError::Invalid { fix, .. } => fix,
        }
    }
}

/// Builds [`ConfigError::Invalid`] values for one origin.
pub(super) struct Errs<'a> {
    pub(super) origin: &'a str,
}

impl Errs<'_> {
    pub(super) fn invalid(
        &self,
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.to_string(),
            field: field.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Turns a toml error into [`ConfigError::Parse`], naming the field at the error's position.
pub(super) fn parse_error(e: &toml::de::Error, text: &str, origin: &str) -> ConfigError {
    let message = e.to_string().trim_end().to_string();
    let field = e
        .span()
        .map(|span| field_at(text, span.start, e.message()))
        .unwrap_or_else(|| "(file)".to_string());
    let m = e.message();
    let fix = if m.contains("unknown field") {
        "remove the key or correct its spelling; every key is listed in the \
         configuration reference (README.md)"
    } else if m.contains("invalid type") || m.contains("invalid value") {
        "give the value the type named after \"expected\" (a quoted string, a number, or a \
         [list])"
    } else if m.contains("duplicate key") {
        "keep only one of the definitions"
    } else if m.contains("too large") {
        "use a smaller number"
    } else {
        "correct the TOML syntax at the line and column shown"
    };
    ConfigError::Parse {
        origin: origin.to_string(),
        field,
        message,
        fix: fix.to_string(),
    }
}

/// Best-effort field path (`port[1].nmae`, `bridge.static_mac[0]`, `bridge[1].vni`,
/// `vtep.neighbor[0].mac`, `bridge`) for the byte
/// `offset` of `text`, from the table headers before it. Only a label: toml's message carries
/// the exact line and column.
pub(super) fn field_at(text: &str, offset: usize, message: &str) -> String {
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut section = String::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let end = pos + line.len();
        let t = line.trim();
        let is_error_line = offset < end || end == text.len();
        if let Some(h) = t.strip_prefix("[[").and_then(|h| h.split_once("]]")) {
            let name = dotted(h.0);
            // A new element starts its own sub-arrays: `[[bridge]]` restarts the count of
            // `[[bridge.static_mac]]`.
            let sub = format!("{name}.");
            counts.retain(|k, _| !k.starts_with(&sub));
            *counts.entry(name.clone()).or_insert(0) += 1;
            section = indexed(&name, &counts);
            if is_error_line {
                return section;
            }
        } else if let Some(h) = t.strip_prefix('[') {
            // Also a malformed header such as `[bridge`: label it with what is there.
            section = indexed(&dotted(h.split(']').next().unwrap_or("")), &counts);
            if is_error_line {
                return section;
            }
        } else if is_error_line {
            // An unknown key is named by the message; any other error by the line's key.
            let key = unknown_key(message).or_else(|| {
                t.split_once('=')
                    .map(|(k, _)| k.trim().trim_matches('"').to_string())
                    .filter(|k| !k.is_empty())
            });
            return match (section.is_empty(), key) {
                (true, Some(k)) => k,
                (true, None) => "(top level)".to_string(),
                (false, Some(k)) => format!("{section}.{k}"),
                (false, None) => section,
            };
        }
        pos = end;
    }
    if section.is_empty() {
        "(top level)".to_string()
    } else {
        section
    }
}

/// A header's dotted key without the spaces TOML allows around the dots.
fn dotted(header: &str) -> String {
    header
        .split('.')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(".")
}

/// `bridge[1].static_mac[0]` for the header `bridge.static_mac`: every prefix that is an array
/// of tables gets the index of its current element.
fn indexed(name: &str, counts: &HashMap<String, usize>) -> String {
    let mut out = String::new();
    let mut prefix = String::new();
    for part in name.split('.') {
        if !prefix.is_empty() {
            prefix.push('.');
            out.push('.');
        }
        prefix.push_str(part);
        out.push_str(part);
        if let Some(n) = counts.get(&prefix) {
            out.push_str(&format!("[{}]", n - 1));
        }
    }
    out
}

/// `x` from toml's "unknown field `x`, expected ...".
fn unknown_key(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split_once('`')?.0.to_string())
}
