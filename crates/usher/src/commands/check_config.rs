use std::path::Path;

use crate::config::Config;

/// `usher check-config`: the configuration loaded and validated (by the caller),
/// printed with secrets redacted.
pub fn run(config: &Config, file: Option<&Path>) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(config)?);
    match file {
        Some(path) => eprintln!("configuration OK: {}", path.display()),
        None => eprintln!("configuration OK: defaults and USHER_* environment (no file)"),
    }
    Ok(())
}
