//! Service providers: what usher knows about each downstream SAML app. Plain
//! structs; the binary fills them from configuration or SP metadata
//! ([`crate::parse_sp_metadata`]).

use std::time::Duration;

/// SAML bindings (SAML Bindings §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// `urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST` (§3.5).
    HttpPost,
    /// `urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect` (§3.4).
    HttpRedirect,
}

impl Binding {
    /// The binding's URI.
    pub fn uri(self) -> &'static str {
        match self {
            Binding::HttpPost => "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
            Binding::HttpRedirect => "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
        }
    }

    /// Parses a binding URI; `None` for bindings usher does not speak.
    pub fn parse(uri: &str) -> Option<Self> {
        [Binding::HttpPost, Binding::HttpRedirect]
            .into_iter()
            .find(|b| b.uri() == uri)
    }
}

/// An assertion consumer service endpoint (SAML Metadata §2.4.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs {
    /// Where responses are posted.
    pub url: String,
    /// Its binding; usher delivers responses over HTTP-POST only.
    pub binding: Binding,
    /// `index`, named by `AssertionConsumerServiceIndex`.
    pub index: u16,
    /// `isDefault`.
    pub default: bool,
}

/// What usher signs in its responses to an SP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignWhat {
    /// The `<samlp:Response>` only.
    Response,
    /// The `<saml:Assertion>` only.
    Assertion,
    /// Both (assertion first, then the response around it).
    Both,
}

/// NameID formats usher issues (SAML Core §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameIdFormat {
    /// The user's primary email.
    EmailAddress,
    /// Stable, opaque and different for every SP.
    Persistent,
    /// Random for every response.
    Transient,
    /// The username.
    Unspecified,
}

impl NameIdFormat {
    /// Every format, as advertised in the metadata.
    pub const ALL: [NameIdFormat; 4] = [
        NameIdFormat::EmailAddress,
        NameIdFormat::Persistent,
        NameIdFormat::Transient,
        NameIdFormat::Unspecified,
    ];

    /// The format's URI.
    pub fn uri(self) -> &'static str {
        match self {
            NameIdFormat::EmailAddress => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            NameIdFormat::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            NameIdFormat::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
            NameIdFormat::Unspecified => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        }
    }

    /// Parses a format URI.
    pub fn parse(uri: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.uri() == uri)
    }
}

/// User claims an attribute can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Primary email.
    Email,
    /// Given name.
    GivenName,
    /// Family name.
    FamilyName,
    /// Display name.
    Name,
    /// Username.
    Username,
    /// Group names (multi-valued).
    Groups,
}

impl Claim {
    /// Parses a claim name as written in configuration.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "email" => Claim::Email,
            "given_name" => Claim::GivenName,
            "family_name" => Claim::FamilyName,
            "name" => Claim::Name,
            "username" => Claim::Username,
            "groups" => Claim::Groups,
            _ => return None,
        })
    }
}

/// A registered service provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProvider {
    /// Its entity id (the AuthnRequest `Issuer`, the assertion's audience).
    pub entity_id: String,
    /// Its ACS endpoints; responses go only to one of these.
    pub acs: Vec<Acs>,
    /// Its single logout endpoint.
    pub slo_url: Option<String>,
    /// Certificate (DER) its requests are signed with; when set, requests must be signed.
    pub signing_cert_der: Option<Vec<u8>>,
    /// Certificate (DER) whose RSA public key assertions are encrypted to; when set,
    /// every assertion goes out as a `<saml:EncryptedAssertion>` (AES-256-GCM, key
    /// transported with RSA-OAEP).
    pub encryption_cert_der: Option<Vec<u8>>,
    /// Requests must be signed even when usher's metadata does not ask for it
    /// (needs `signing_cert_der`).
    pub want_signed_requests: bool,
    /// What to sign.
    pub sign: SignWhat,
    /// The NameID format it receives.
    pub name_id_format: NameIdFormat,
    /// Attributes: (SAML attribute name, claim).
    pub attributes: Vec<(String, Claim)>,
    /// Whether `/saml/sso/init` may start a login for it.
    pub allow_idp_initiated: bool,
    /// How long its assertions are valid.
    pub assertion_lifetime: Duration,
    /// How long the SP may keep its own session from this sign-in (the
    /// AuthnStatement's `SessionNotOnOrAfter`, SAML Core §2.7.2), never past the
    /// SSO session's absolute end; `None`: until that end.
    pub session_lifetime: Option<Duration>,
}

impl ServiceProvider {
    /// Checks the endpoints usher sends to: every ACS (which receives the signed
    /// assertion, a bearer credential) and the SLO URL must be https, or plain http
    /// to a loopback host (the rule of `usher_core::transport`, the same as for OIDC
    /// redirect URIs: RFC 9700 §2.1, RFC 8252 §7.3). Anyone on the path of a plain
    /// http ACS reads the assertion and signs in as the user. `development` lifts
    /// the https rule only (an SP on a test network). The error names the field
    /// (`acs_urls[N]` or `slo_url`) and says what to do.
    pub fn check_endpoints(&self, development: bool) -> Result<(), (String, String)> {
        let acs = self
            .acs
            .iter()
            .enumerate()
            .map(|(n, acs)| (format!("acs_urls[{n}]"), acs.url.as_str()));
        for (field, url) in acs.chain(self.slo_url.iter().map(|u| ("slo_url".into(), u.as_str()))) {
            check_endpoint(url, development).map_err(|why| (field, why))?;
        }
        Ok(())
    }

    /// An SP with one HTTP-POST ACS and defaults: sign the response, unspecified
    /// NameID, no attributes, SP-initiated only, 5-minute assertions, SP sessions bounded only by the SSO
    /// session, no encryption.
    pub fn new(entity_id: impl Into<String>, acs_url: impl Into<String>) -> Self {
        Self {
            entity_id: entity_id.into(),
            acs: vec![Acs {
                url: acs_url.into(),
                binding: Binding::HttpPost,
                index: 0,
                default: true,
            }],
            slo_url: None,
            signing_cert_der: None,
            encryption_cert_der: None,
            want_signed_requests: false,
            sign: SignWhat::Response,
            name_id_format: NameIdFormat::Unspecified,
            attributes: Vec::new(),
            allow_idp_initiated: false,
            assertion_lifetime: Duration::from_secs(300),
            session_lifetime: None,
        }
    }

    /// The default ACS: the one marked default, else the lowest index (SAML
    /// Metadata §2.2.3), among HTTP-POST endpoints.
    pub fn default_acs(&self) -> Option<&Acs> {
        let post = || self.acs.iter().filter(|a| a.binding == Binding::HttpPost);
        post()
            .find(|a| a.default)
            .or_else(|| post().min_by_key(|a| a.index))
    }
}

/// One endpoint URL, parsed as a browser will parse it (the `url` crate, WHATWG),
/// so `http://127.0.0.1@evil.example/` is judged by the host it reaches.
fn check_endpoint(url: &str, development: bool) -> Result<(), String> {
    let parsed = url::Url::parse(url)
        .map_err(|_| "not an absolute URL: expected https://HOST/PATH".to_owned())?;
    let Some(host) = parsed.host_str() else {
        return Err("not an absolute URL with a host: expected https://HOST/PATH".into());
    };
    if development && parsed.scheme() == "http"
        || usher_core::transport::is_protected(parsed.scheme(), host)
    {
        return Ok(());
    }
    Err(
        "expected an https:// URL (plain http only to localhost or a loopback address): \
         assertions posted over plain http can be read on the way and replayed; use \
         https, or set `development = true` on a service provider that only a test \
         network reaches"
            .into(),
    )
}
