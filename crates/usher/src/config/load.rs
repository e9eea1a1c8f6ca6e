use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};

use super::{Config, ConfigError};

/// Top-level keys the environment may set. Other `USHER_*` variables (`USHER_CONFIG`,
/// `USHER_LOG_FORMAT`, test settings) belong to the CLI and are not config keys.
const SECTIONS: [&str; 12] = [
    "data_dir",
    "server",
    "database",
    "redis",
    "ephemeral",
    "keys",
    "sessions",
    "passwords",
    "login_throttle",
    "pending_sign_ins",
    "oidc",
    "saml",
];

/// Loads defaults, then `file` (when given), then the `USHER_` environment, and
/// validates the result.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::Load(format!(
                "config file {} does not exist (pass an existing file with --config, or none \
                 to run on defaults)",
                path.display()
            )));
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    let env = Env::prefixed("USHER_")
        .filter(|key| {
            let section = key.as_str().split("__").next().unwrap_or_default();
            SECTIONS.iter().any(|s| s.eq_ignore_ascii_case(section))
        })
        .split("__");
    figment = figment.merge(env);
    let config: Config = figment.extract().map_err(describe)?;
    config.validate()?;
    Ok(config)
}

/// One line per problem, each naming the key and where its value came from.
fn describe(errors: figment::Error) -> ConfigError {
    let lines: Vec<String> = errors
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let source = match e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
                Some(source) => format!(" in {source}"),
                None => match &e.metadata {
                    Some(m) => format!(" in {}", m.name),
                    None => String::new(),
                },
            };
            let hint = expected(&key).map_or_else(String::new, |h| format!(" (expected {h})"));
            let key = if key.is_empty() {
                String::new()
            } else {
                format!("`{key}`: ")
            };
            format!("invalid configuration{source}: {key}{}{hint}", e.kind)
        })
        .collect();
    ConfigError::Load(lines.join("\n"))
}

/// What a value should look like, for keys whose parse errors alone don't say.
fn expected(key: &str) -> Option<&'static str> {
    Some(match key {
        "server.bind" => "HOST:PORT, such as 127.0.0.1:8080 or [::]:8080",
        "server.trusted_proxies" => "a list of CIDRs, such as [\"10.0.0.0/8\"]",
        "server.shutdown_timeout" | "keys.publish_retired_for" | "pending_sign_ins.window" => {
            "a duration, such as \"30s\", \"15m\" or \"24h\""
        }
        "server.workers"
        | "ephemeral.max_entries"
        | "ephemeral.max_bytes"
        | "pending_sign_ins.per_ip"
        | "pending_sign_ins.per_ipv6_48" => "a positive whole number",
        _ => return None,
    })
}
