//! `[upstreams.jit] link_by_external_id = { claim = "{oid}", scim_client = "entra" }`:
//! link a new upstream identity to the user one named SCIM client pushed with that
//! `externalId`. The rule itself (`usher_core::jit::ExternalIdLink`) and why it is
//! scoped live in usher-core; here the configuration is read, the bare string of
//! earlier versions is refused with what to write instead, and at start the SCIM
//! client's name is resolved against the clients usher knows.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use usher_core::UpstreamProfile;
use usher_core::jit::{ExternalIdLink, Template};

use super::ConfigError;

/// `link_by_external_id`, as written.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ExternalIdConfig {
    /// `link_by_external_id = "{oid}"`: read only to be refused, since it does
    /// not say whose users it may link.
    Bare(String),
    /// `link_by_external_id = { claim = "{oid}", scim_client = "entra" }`.
    Scoped(ScopedExternalId),
}

/// The table form.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScopedExternalId {
    /// Mapping template whose value is the `externalId` (`"{oid}"` for Entra ID).
    pub claim: String,
    /// The `[[scim.clients]]` (or `usher scim-tokens`) name whose users it links.
    pub scim_client: String,
}

impl<'de> Deserialize<'de> for ExternalIdConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = ExternalIdConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table { claim = \"{oid}\", scim_client = \"NAME\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ExternalIdConfig::Bare(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                ScopedExternalId::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ExternalIdConfig::Scoped)
            }
        }
        deserializer.deserialize_any(Either)
    }
}

impl ExternalIdConfig {
    /// The rule, or an error naming the key (`key`: `upstreams[i].jit`).
    pub fn rule(&self, key: &str) -> Result<ExternalIdLink, ConfigError> {
        let key = format!("{key}.link_by_external_id");
        match self {
            ExternalIdConfig::Bare(claim) => Err(ConfigError::invalid(
                &key,
                format!(
                    "must name the one SCIM client whose users this upstream may link to (an \
                     externalId is no secret: any other upstream asserting it would take over \
                     the account); write link_by_external_id = {{ claim = {claim:?}, \
                     scim_client = \"NAME\" }}, NAME being a [[scim.clients]] name or one from \
                     `usher scim-tokens list`"
                ),
            )),
            ExternalIdConfig::Scoped(c) => {
                let claim = Template::parse(&c.claim)
                    .map_err(|e| ConfigError::invalid(&format!("{key}.claim"), e.to_string()))?;
                ExternalIdLink::new(claim, &c.scim_client).map_err(|e| {
                    let message = match e {
                        usher_core::Error::Invalid(m) => m,
                        other => other.to_string(),
                    };
                    ConfigError::invalid(&format!("{key}.scim_client"), message)
                })
            }
        }
    }
}

/// At start, with the SCIM clients usher knows (`[[scim.clients]]` and those made
/// with `usher scim-tokens create`): every `link_by_external_id` must name one,
/// or a typo would silently link nobody (or, later, the wrong client's users).
/// `profiles` are in `[[upstreams]]` order.
pub fn check_scim_clients(
    profiles: &[UpstreamProfile],
    known: &[String],
) -> Result<(), ConfigError> {
    for (i, profile) in profiles.iter().enumerate() {
        let Some(rule) = &profile.jit.link_by_external_id else {
            continue;
        };
        let name = rule.scim_client();
        if !known.iter().any(|k| k == name) {
            let listed = if known.is_empty() {
                "there are none".to_owned()
            } else {
                format!("known: {}", known.join(", "))
            };
            return Err(ConfigError::invalid(
                &format!("upstreams[{i}].jit.link_by_external_id.scim_client"),
                format!(
                    "no SCIM client is named {name:?} ({listed}); declare it in \
                     [[scim.clients]] or create it with `usher scim-tokens create {name}` \
                     before starting usher"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(toml: &str) -> Result<ExternalIdConfig, String> {
        #[derive(Deserialize)]
        struct Wrap {
            link_by_external_id: ExternalIdConfig,
        }
        use figment::providers::Format;
        figment::Figment::from(figment::providers::Toml::string(toml))
            .extract::<Wrap>()
            .map(|w| w.link_by_external_id)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_table_names_a_claim_and_a_scim_client() {
        let c = read(r#"link_by_external_id = { claim = "{oid}", scim_client = "entra" }"#)
            .expect("reads");
        let rule = c.rule("upstreams[0].jit").expect("valid");
        assert_eq!(rule.scim_client(), "entra");
    }

    #[test]
    fn the_bare_string_is_refused_with_what_to_write() {
        let c = read(r#"link_by_external_id = "{oid}""#).expect("reads");
        let err = c
            .rule("upstreams[0].jit")
            .expect_err("ambiguous")
            .to_string();
        assert!(
            err.contains("upstreams[0].jit.link_by_external_id"),
            "{err}"
        );
        assert!(
            err.contains(r#"link_by_external_id = { claim = "{oid}", scim_client = "NAME" }"#),
            "{err}"
        );
    }

    #[test]
    fn mistakes_name_their_key() {
        let err = read(r#"link_by_external_id = { claim = "{oid|nope}", scim_client = "entra" }"#)
            .expect("reads")
            .rule("upstreams[0].jit")
            .expect_err("bad template")
            .to_string();
        assert!(err.contains("link_by_external_id.claim"), "{err}");
        let err = read(r#"link_by_external_id = { claim = "{oid}", scim_client = "entra prod" }"#)
            .expect("reads")
            .rule("upstreams[0].jit")
            .expect_err("bad name")
            .to_string();
        assert!(err.contains("link_by_external_id.scim_client"), "{err}");
        // Missing or unknown fields of the table are refused when read.
        assert!(read(r#"link_by_external_id = { claim = "{oid}" }"#).is_err());
        let err = read(r#"link_by_external_id = { claim = "{oid}", scim_client = "e", x = 1 }"#)
            .expect_err("unknown key");
        assert!(err.contains('x'), "{err}");
        assert!(read("link_by_external_id = 3").is_err());
    }

    #[test]
    fn an_unknown_scim_client_is_refused_at_start() {
        let mut profile = UpstreamProfile {
            id: usher_core::UpstreamId::parse("corp").expect("id"),
            kind: usher_core::UpstreamKind::Oidc,
            display_name: "Corp".into(),
            enabled: true,
            domains: vec![],
            jit: usher_core::jit::JitPolicy::default(),
        };
        let plain = profile.clone();
        profile.jit.link_by_external_id =
            Some(ExternalIdLink::new(Template::parse("{oid}").expect("t"), "entra").expect("rule"));
        let known = ["okta".to_owned(), "entra".to_owned()];
        assert!(check_scim_clients(&[plain.clone(), profile.clone()], &known).is_ok());
        let err = check_scim_clients(&[plain, profile], &known[..1])
            .expect_err("unknown")
            .to_string();
        assert!(
            err.contains("upstreams[1].jit.link_by_external_id.scim_client"),
            "{err}"
        );
        assert!(
            err.contains("\"entra\"") && err.contains("known: okta"),
            "{err}"
        );
        assert!(err.contains("usher scim-tokens create entra"), "{err}");
    }
}
