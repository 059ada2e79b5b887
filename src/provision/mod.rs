//! The declarative provisioning file (TOML) → a validated `Model`, applied atomically.

pub mod demo;
pub mod file;
pub mod validate;

pub use validate::ProvisionError;

use crate::config::line_col;
use crate::model::Model;

/// Parses and validates a provisioning text; every error carries its line and key.
pub fn parse(text: &str) -> Result<Model, Vec<ProvisionError>> {
    let file: file::File = toml::from_str(text).map_err(|e| {
        let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        let msg = e.message().trim().to_string();
        let key = msg
            .split('`')
            .nth(1)
            .map(|k| k.to_string())
            .unwrap_or_else(|| "file".into());
        vec![ProvisionError {
            line,
            col,
            key,
            message: msg,
        }]
    })?;
    validate::to_model(&file, text)
}

/// Reads and validates a file; errors are formatted as `FILE:LINE:COL: key: message`.
pub fn load(path: &std::path::Path) -> Result<Model, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("{}: cannot read: {}", path.display(), e)])?;
    parse(&text).map_err(|errs| {
        errs.iter()
            .map(|e| format!("{}:{}", path.display(), e))
            .collect()
    })
}
