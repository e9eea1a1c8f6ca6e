//! `[upstreams.saml]`: the SAML side of an `[[upstreams]] kind = "saml"` entry.
//! The table is usher-saml's own [`SamlUpstreamSettings`]; this module reads what
//! it names (metadata and certificate files) and resolves it, so that a mistake is
//! a config error naming its key. Metadata from a URL is not fetched here (nor by
//! `usher check-config`): the server fetches it at start and on its schedule
//! (`metadata_refresh`).

use std::time::Duration;

use usher_saml::{SamlUpstream, SamlUpstreamSettings, SettingsFiles, UpstreamIdentity};

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
    /// The contents of `certificate_files` and `metadata_signing_certificate`.
    pub files: SettingsFiles,
    index: usize,
}

impl SamlUpstreamDeclaration {
    /// The full key of one of its fields (`upstreams[2].saml.metadata_url`).
    pub fn key(&self, field: &str) -> String {
        format!("upstreams[{}].saml.{field}", self.index)
    }

    /// Resolves the upstream with `metadata` (the text of its file or URL, `None`
    /// when declared by fields); the error names the key to fix.
    pub fn resolve(&self, metadata: Option<&str>) -> Result<SamlUpstream, ConfigError> {
        self.settings
            .resolve(&self.who, metadata, &self.files)
            .map_err(|e| ConfigError::invalid(&self.key(e.field), e.message))
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
                usher_saml::check_metadata_url(url)
                    .map_err(|e| ConfigError::invalid(&key("metadata_url"), e))?;
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
        let files = SettingsFiles {
            certificate_files: settings
                .certificate_files
                .iter()
                .map(|p| read_text(&key("certificate_files"), p))
                .collect::<Result<Vec<_>, _>>()?,
            metadata_signing_certificate: settings
                .metadata_signing_certificate
                .as_ref()
                .map(|p| read_text(&key("metadata_signing_certificate"), p))
                .transpose()?,
        };
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
            files,
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

#[cfg(test)]
mod tests {
    use super::*;

    use figment::providers::Format;
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509NameBuilder};

    #[derive(serde::Deserialize)]
    struct Wrap {
        upstreams: Vec<UpstreamConfig>,
    }

    fn parse(toml: &str) -> Result<Vec<UpstreamConfig>, String> {
        figment::Figment::from(figment::providers::Toml::string(toml))
            .extract::<Wrap>()
            .map(|w| w.upstreams)
            .map_err(|e| e.to_string())
    }

    fn cert_pem() -> String {
        let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", "idp.test").expect("cn");
        let name = name.build();
        let mut cert = X509::builder().expect("builder");
        cert.set_subject_name(&name).expect("subject");
        cert.set_issuer_name(&name).expect("issuer");
        cert.set_pubkey(&key).expect("pubkey");
        cert.set_not_before(&Asn1Time::days_from_now(0).expect("now"))
            .expect("nbf");
        cert.set_not_after(&Asn1Time::days_from_now(1).expect("later"))
            .expect("naf");
        cert.sign(&key, MessageDigest::sha256()).expect("signs");
        String::from_utf8(cert.build().to_pem().expect("pem")).expect("utf8")
    }

    fn fields(extra: &str) -> String {
        format!(
            r#"
[[upstreams]]
id = "partner"
kind = "saml"
[upstreams.saml]
idp_entity_id = "https://idp.partner.example"
sso_url = "https://idp.partner.example/sso"
{extra}
"#
        )
    }

    fn error(toml: &str) -> String {
        let ups = parse(toml).expect("parses");
        saml_upstreams(&ups, "https://login.example.com/")
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn an_upstream_declared_by_fields_resolves_with_usher_urls() {
        let pem = cert_pem().replace('\n', "\\n");
        let ups = parse(&fields(&format!("certificates = [\"{pem}\"]"))).expect("parses");
        let (resolved, declarations) =
            saml_upstreams(&ups, "https://login.example.com/").expect("valid");
        assert_eq!(declarations.len(), 1);
        assert_eq!(
            resolved[0].acs_url,
            "https://login.example.com/federation/partner/saml/acs"
        );
        assert_eq!(
            resolved[0].sp_entity_id,
            "https://login.example.com/federation/partner/saml/metadata"
        );
    }

    #[test]
    fn a_missing_signing_certificate_names_the_key() {
        let err = error(&fields(""));
        assert!(err.contains("upstreams[0].saml.certificates"), "{err}");
        assert!(err.contains("no signing certificate"), "{err}");
    }

    #[test]
    fn kind_saml_needs_the_saml_table() {
        let toml = "[[upstreams]]\nid = \"partner\"\nkind = \"saml\"\n";
        let err = error(toml);
        assert!(err.contains("upstreams[0].saml"), "{err}");
        assert!(err.contains("[upstreams.saml]"), "{err}");
    }

    #[test]
    fn unknown_keys_in_the_saml_table_are_refused() {
        let err = parse(&fields("want_assertions_sigend = true")).expect_err("refused");
        assert!(err.contains("want_assertions_sigend"), "{err}");
    }

    #[test]
    fn unreadable_files_name_their_key() {
        let err = error(&fields("certificate_files = [\"/nonexistent/idp.crt\"]"));
        assert!(err.contains("upstreams[0].saml.certificate_files"), "{err}");
        let toml = "[[upstreams]]\nid = \"p\"\nkind = \"saml\"\n[upstreams.saml]\n\
                    metadata_file = \"/nonexistent/idp.xml\"\n";
        let err = error(toml);
        assert!(err.contains("upstreams[0].saml.metadata_file"), "{err}");
    }

    #[test]
    fn garbage_metadata_names_the_metadata_file() {
        let dir = std::env::temp_dir().join(format!("usher-upsaml-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("idp.xml");
        std::fs::write(&file, "<not-metadata/>").expect("write");
        let toml = format!(
            "[[upstreams]]\nid = \"p\"\nkind = \"saml\"\n[upstreams.saml]\nmetadata_file = \"{}\"\n",
            file.display()
        );
        let err = error(&toml);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(err.contains("upstreams[0].saml.metadata_file"), "{err}");
    }

    #[test]
    fn a_metadata_url_is_checked_but_not_fetched() {
        // Nothing listens there: check-config must not need the IdP to be up.
        let toml = "[[upstreams]]\nid = \"p\"\nkind = \"saml\"\n[upstreams.saml]\n\
                    metadata_url = \"https://127.0.0.1:9/metadata\"\n";
        let ups = parse(toml).expect("parses");
        let (resolved, declarations) = saml_upstreams(&ups, "https://u.example").expect("valid");
        assert!(resolved.is_empty());
        assert_eq!(
            declarations[0].source,
            SpSource::Url("https://127.0.0.1:9/metadata".into())
        );
        let bad = toml.replace("https://127.0.0.1:9/metadata", "ftp://idp/metadata");
        assert!(error(&bad).contains("upstreams[0].saml.metadata_url"));
        let both = format!("{toml}metadata_file = \"x.xml\"\n");
        assert!(error(&both).contains("give metadata_file or metadata_url"));
    }
}
