//! `[upstreams.saml]`: the SAML side of an `[[upstreams]] kind = "saml"` entry.
//! The table is usher-saml's own [`SamlUpstreamSettings`]; this module reads what
//! it names (metadata and certificate files) and resolves it, so that a mistake is
//! a config error naming its key. Metadata from a URL is not fetched here (nor by
//! `usher check-config`): the server fetches it at start and on its schedule
//! (`metadata_refresh`).

use std::time::Duration;

use usher_saml::{SamlUpstream, SamlUpstreamSettings, UpstreamIdentity};

use super::upstreams::{UpstreamConfig, profiles};
use super::{ConfigError, SpSource};

/// Largest metadata or certificate file read, like SP metadata.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One SAML upstream as declared: who it is, its settings, where its metadata
/// comes from and the certificate files' contents, ready to be resolved again
/// whenever its metadata is re-read.
#[derive(Debug, Clone)]
pub struct SamlUpstreamDeclaration {
    /// Its id, name, state and usher's public URL.
    pub who: UpstreamIdentity,
    /// The `[upstreams.saml]` table.
    pub settings: SamlUpstreamSettings,
    /// Fields only, a metadata file or a metadata URL.
    pub source: SpSource,
    /// How often file or URL metadata is re-read.
    pub refresh: Duration,
    /// The contents of `certificate_files`.
    pub certificate_files: Vec<String>,
    index: usize,
}

impl SamlUpstreamDeclaration {
    fn key(&self, field: &str) -> String {
        format!("upstreams[{}].saml.{field}", self.index)
    }

    /// Resolves the upstream with `metadata` (the text of its file or URL, `None`
    /// when declared by fields); the error names the key to fix.
    pub fn resolve(&self, metadata: Option<&str>) -> Result<SamlUpstream, ConfigError> {
        self.settings
            .resolve(&self.who, metadata, &self.certificate_files)
            .map_err(|e| {
                let m = e.message;
                let field =
                    if m.starts_with("no signing certificate") || m.starts_with("a certificate") {
                        "certificates"
                    } else if m.starts_with("IdP metadata") {
                        match &self.source {
                            SpSource::Url(_) => "metadata_url",
                            _ => "metadata_file",
                        }
                    } else if m.contains("idp_entity_id") {
                        "idp_entity_id"
                    } else if m.contains("sso_url") {
                        "sso_url"
                    } else if m.contains("clock_skew_seconds") {
                        "clock_skew_seconds"
                    } else {
                        "metadata_file"
                    };
                ConfigError::invalid(&self.key(field), m)
            })
    }
}

fn read_text(key: &str, path: &std::path::Path) -> Result<String, ConfigError> {
    let too_big = std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_FILE_BYTES);
    if too_big {
        return Err(ConfigError::invalid(
            key,
            format!("{} is larger than 1 MiB", path.display()),
        ));
    }
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError::invalid(key, format!("cannot read {}: {e}", path.display())))
}

/// The SAML upstreams: those declared by fields or a metadata file resolved now
/// (files read), and every declaration (for the metadata refresh; URL ones are
/// resolved only once fetched). `public_url` is usher's.
pub fn saml_upstreams(
    upstreams: &[UpstreamConfig],
    public_url: &str,
) -> Result<(Vec<SamlUpstream>, Vec<SamlUpstreamDeclaration>), ConfigError> {
    let profiles = profiles(upstreams)?;
    let mut resolved = Vec::new();
    let mut declarations = Vec::new();
    for (index, (u, profile)) in upstreams.iter().zip(profiles).enumerate() {
        let Some(settings) = &u.saml else { continue };
        let key = |f: &str| format!("upstreams[{index}].saml.{f}");
        let source = match (&settings.metadata_file, &settings.metadata_url) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    &key("metadata_url"),
                    "give metadata_file or metadata_url, not both",
                ));
            }
            (Some(path), None) => SpSource::File(path.clone()),
            (None, Some(url)) => {
                super::saml::check_metadata_url(&key("metadata_url"), url)?;
                SpSource::Url(url.clone())
            }
            (None, None) => SpSource::Fields,
        };
        if settings.metadata_refresh_seconds == 0 {
            return Err(ConfigError::invalid(
                &key("metadata_refresh_seconds"),
                "must be at least 1 (3600, the default, is usual)",
            ));
        }
        let certificate_files = settings
            .certificate_files
            .iter()
            .map(|p| read_text(&key("certificate_files"), p))
            .collect::<Result<Vec<_>, _>>()?;
        let declaration = SamlUpstreamDeclaration {
            who: UpstreamIdentity {
                id: profile.id,
                display_name: profile.display_name,
                enabled: profile.enabled,
                public_url: public_url.trim_end_matches('/').to_owned(),
            },
            settings: settings.clone(),
            source,
            refresh: Duration::from_secs(settings.metadata_refresh_seconds),
            certificate_files,
            index,
        };
        match &declaration.source {
            SpSource::Fields => resolved.push(declaration.resolve(None)?),
            SpSource::File(path) => {
                let xml = read_text(&key("metadata_file"), path)?;
                resolved.push(declaration.resolve(Some(&xml))?);
            }
            SpSource::Url(_) => {}
        }
        declarations.push(declaration);
    }
    Ok((resolved, declarations))
}
