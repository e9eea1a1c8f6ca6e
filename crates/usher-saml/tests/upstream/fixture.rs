//! A service provider over real storage (SQLite key ring, memory ephemeral
//! store), one upstream `corp`, and a test IdP that signs the responses the
//! tests build: with xmlsec (through samael), RSA-SHA256 unless told otherwise.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use actix_web::http::StatusCode;
use actix_web::{App, test};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use samael::crypto::{Crypto, CryptoProvider};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use usher_core::ports::{Clock, EphemeralStore, KeyStore, SystemClock};
use usher_core::{FederatedLogin, Interactions, UpstreamId};
use usher_saml::{
    SamlSpData, SamlSpDeps, SamlSpState, SamlUpstreamSettings, UpstreamIdentity,
    configure_upstreams,
};
use usher_store::{Database, KeyRing, KeyRingPolicy, MasterKey, MemoryEphemeralStore};

pub const PUBLIC_URL: &str = "https://usher.test";
pub const UPSTREAM: &str = "corp";
pub const IDP_ENTITY: &str = "https://idp.corp.test/metadata";
pub const IDP_SSO: &str = "https://idp.corp.test/sso";
pub const SP_ENTITY: &str = "https://usher.test/federation/corp/saml/metadata";
pub const ACS: &str = "https://usher.test/federation/corp/saml/acs";
pub const COOKIE: &str = "__Host-usher_saml_sp";

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// A signing key and its self-signed certificate.
pub struct Signer {
    pub key_der: Vec<u8>,
    pub cert_der: Vec<u8>,
}

impl Signer {
    fn generate(cn: &str) -> Self {
        let pkey = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", cn).expect("cn");
        let name = name.build();
        let mut b = X509::builder().expect("x509");
        b.set_version(2).expect("version");
        b.set_subject_name(&name).expect("subject");
        b.set_issuer_name(&name).expect("issuer");
        b.set_pubkey(&pkey).expect("pubkey");
        b.set_not_before(&Asn1Time::days_from_now(0).expect("t"))
            .expect("nb");
        b.set_not_after(&Asn1Time::days_from_now(2).expect("t"))
            .expect("na");
        b.sign(&pkey, MessageDigest::sha256()).expect("sign");
        Self {
            key_der: pkey.private_key_to_pkcs8().expect("pkcs8"),
            cert_der: b.build().to_der().expect("der"),
        }
    }

    pub fn cert_pem(&self) -> String {
        let pem = X509::from_der(&self.cert_der)
            .expect("cert")
            .to_pem()
            .expect("pem");
        String::from_utf8(pem).expect("utf8")
    }

    /// A `<ds:Signature>` template for `id`, with this signer's certificate.
    pub fn template(&self, id: &str, sig_alg: &str, digest_alg: &str) -> String {
        format!(
            "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
<ds:SignatureMethod Algorithm=\"{sig_alg}\"/>\
<ds:Reference URI=\"#{id}\"><ds:Transforms>\
<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
<ds:DigestMethod Algorithm=\"{digest_alg}\"/><ds:DigestValue></ds:DigestValue></ds:Reference>\
</ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data>\
<ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
            cert = STANDARD.encode(&self.cert_der)
        )
    }

    /// Signs the first signature template of `xml` (document order).
    pub fn sign(&self, xml: &str) -> String {
        let signed = Crypto::sign_xml(xml, &self.key_der).expect("xmlsec signs");
        match signed.strip_prefix("<?xml") {
            Some(rest) => rest
                .split_once("?>")
                .map_or(rest, |(_, b)| b)
                .trim()
                .to_owned(),
            None => signed.trim().to_owned(),
        }
    }
}

/// The configured IdP's key.
pub fn idp() -> &'static Signer {
    static S: OnceLock<Signer> = OnceLock::new();
    S.get_or_init(|| Signer::generate("idp.corp.test"))
}

/// An attacker's key (its certificate is never configured).
pub fn attacker() -> &'static Signer {
    static S: OnceLock<Signer> = OnceLock::new();
    S.get_or_init(|| Signer::generate("idp.corp.test"))
}

pub fn at(offset_secs: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::seconds(offset_secs))
        .replace_nanosecond(0)
        .expect("ns")
        .format(&Rfc3339)
        .expect("formats")
}

/// What a test response says; [`Default`] is a valid solicited answer except
/// for `in_response_to`, which the test sets.
#[derive(Clone)]
pub struct Resp {
    pub id: String,
    pub assertion_id: String,
    pub in_response_to: Option<String>,
    pub destination: Option<String>,
    pub recipient: String,
    pub audience: Option<String>,
    pub issuer: String,
    pub name_id: String,
    pub name_id_format: String,
    pub not_before: i64,
    pub not_on_or_after: i64,
    pub status: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub sig_alg: (&'static str, &'static str),
}

impl Default for Resp {
    fn default() -> Self {
        let n = unique();
        Self {
            id: format!("_r{n}"),
            assertion_id: format!("_a{n}"),
            in_response_to: None,
            destination: Some(ACS.into()),
            recipient: ACS.into(),
            audience: Some(SP_ENTITY.into()),
            issuer: IDP_ENTITY.into(),
            name_id: "alice@corp.example".into(),
            name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
            not_before: -30,
            not_on_or_after: 300,
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            attributes: vec![
                ("email".into(), vec!["Alice@Corp.Example".into()]),
                ("groups".into(), vec!["staff".into(), "admins & co".into()]),
            ],
            sig_alg: (RSA_SHA256, SHA256),
        }
    }
}

fn unique() -> String {
    usher_core::random::token()
        .expect("random")
        .replace('-', "x")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

impl Resp {
    /// The assertion, with a signature template by `signer` when given.
    pub fn assertion(&self, signer: Option<&Signer>) -> String {
        let irt = self
            .in_response_to
            .as_ref()
            .map(|i| format!(" InResponseTo=\"{i}\""))
            .unwrap_or_default();
        let sig = signer
            .map(|s| s.template(&self.assertion_id, self.sig_alg.0, self.sig_alg.1))
            .unwrap_or_default();
        let audience = self
            .audience
            .as_ref()
            .map(|a| {
                format!(
                    "<saml:AudienceRestriction><saml:Audience>{}</saml:Audience></saml:AudienceRestriction>",
                    esc(a)
                )
            })
            .unwrap_or_default();
        let attributes: String = self
            .attributes
            .iter()
            .map(|(name, values)| {
                let vs: String = values
                    .iter()
                    .map(|v| format!("<saml:AttributeValue>{}</saml:AttributeValue>", esc(v)))
                    .collect();
                format!(
                    "<saml:Attribute Name=\"{}\">{vs}</saml:Attribute>",
                    esc(name)
                )
            })
            .collect();
        format!(
            "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{aid}\" \
Version=\"2.0\" IssueInstant=\"{now}\"><saml:Issuer>{issuer}</saml:Issuer>{sig}<saml:Subject>\
<saml:NameID Format=\"{fmt}\">{name_id}</saml:NameID><saml:SubjectConfirmation \
Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\"><saml:SubjectConfirmationData{irt} \
NotOnOrAfter=\"{noa}\" Recipient=\"{recipient}\"/></saml:SubjectConfirmation></saml:Subject>\
<saml:Conditions NotBefore=\"{nb}\" NotOnOrAfter=\"{noa}\">{audience}</saml:Conditions>\
<saml:AuthnStatement AuthnInstant=\"{now}\" SessionIndex=\"_s{aid}\"><saml:AuthnContext>\
<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport\
</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>\
<saml:AttributeStatement>{attributes}</saml:AttributeStatement></saml:Assertion>",
            aid = self.assertion_id,
            now = at(0),
            issuer = esc(&self.issuer),
            fmt = self.name_id_format,
            name_id = esc(&self.name_id),
            noa = at(self.not_on_or_after),
            nb = at(self.not_before),
            recipient = esc(&self.recipient),
        )
    }

    /// The Response around `assertion`, with a signature template by `signer`.
    pub fn response(&self, assertion: &str, signer: Option<&Signer>) -> String {
        let irt = self
            .in_response_to
            .as_ref()
            .map(|i| format!(" InResponseTo=\"{i}\""))
            .unwrap_or_default();
        let dest = self
            .destination
            .as_ref()
            .map(|d| format!(" Destination=\"{}\"", esc(d)))
            .unwrap_or_default();
        let sig = signer
            .map(|s| s.template(&self.id, self.sig_alg.0, self.sig_alg.1))
            .unwrap_or_default();
        format!(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
IssueInstant=\"{now}\"{dest}{irt}><saml:Issuer>{issuer}</saml:Issuer>{sig}<samlp:Status>\
<samlp:StatusCode Value=\"{status}\"/></samlp:Status>{assertion}</samlp:Response>",
            id = self.id,
            now = at(0),
            issuer = esc(&self.issuer),
            status = self.status,
        )
    }

    /// Signed by `signer` on the assertion only (the common default).
    pub fn signed_assertion_by(&self, signer: &Signer) -> String {
        let assertion = signer.sign(&self.assertion(Some(signer)));
        self.response(&assertion, None)
    }

    /// Signed by the IdP on the assertion only.
    pub fn signed_assertion(&self) -> String {
        self.signed_assertion_by(idp())
    }

    /// Signed by the IdP on the Response only.
    pub fn signed_response(&self) -> String {
        idp().sign(&self.response(&self.assertion(None), Some(idp())))
    }

    /// Signed by the IdP on both (assertion first).
    pub fn signed_both(&self) -> String {
        let assertion = idp().sign(&self.assertion(Some(idp())));
        idp().sign(&self.response(&assertion, Some(idp())))
    }
}

/// An ephemeral store whose `put_if_absent` always fails, as a Redis that went
/// away would; everything else works (memory).
pub struct ReplayCacheDown(pub MemoryEphemeralStore);

#[async_trait]
impl EphemeralStore for ReplayCacheDown {
    async fn put(&self, k: &str, v: &[u8], t: std::time::Duration) -> usher_core::Result<()> {
        self.0.put(k, v, t).await
    }
    async fn get(&self, k: &str) -> usher_core::Result<Option<Vec<u8>>> {
        self.0.get(k).await
    }
    async fn take(&self, k: &str) -> usher_core::Result<Option<Vec<u8>>> {
        self.0.take(k).await
    }
    async fn put_if_absent(
        &self,
        _: &str,
        _: &[u8],
        _: std::time::Duration,
    ) -> usher_core::Result<bool> {
        Err(usher_core::Error::Unavailable("connection refused".into()))
    }
    async fn increment(&self, k: &str, t: std::time::Duration) -> usher_core::Result<u64> {
        self.0.increment(k, t).await
    }
    async fn add_to_set(&self, k: &str, m: &str, t: std::time::Duration) -> usher_core::Result<()> {
        self.0.add_to_set(k, m, t).await
    }
    async fn remove_from_set(&self, k: &str, m: &str) -> usher_core::Result<bool> {
        self.0.remove_from_set(k, m).await
    }
    async fn set_members(&self, k: &str) -> usher_core::Result<Vec<String>> {
        self.0.set_members(k).await
    }
    async fn delete(&self, k: &str) -> usher_core::Result<bool> {
        self.0.delete(k).await
    }
    async fn ping(&self) -> usher_core::Result<()> {
        self.0.ping().await
    }
}

/// The default upstream settings: assertion signed, the IdP's certificate
/// configured, authoritative for corp.example.
pub fn settings() -> SamlUpstreamSettings {
    SamlUpstreamSettings {
        idp_entity_id: Some(IDP_ENTITY.into()),
        sso_url: Some(IDP_SSO.into()),
        certificates: vec![idp().cert_pem()],
        authoritative_email_domains: vec!["corp.example".into()],
        ..SamlUpstreamSettings::default()
    }
}

pub struct Sp {
    pub state: Arc<SamlSpState>,
    pub data: SamlSpData,
}

/// One browser's result at an endpoint.
pub struct Answer {
    pub status: StatusCode,
    pub location: String,
    pub body: String,
    pub set_cookie: Option<String>,
}

/// What `start` sent to the IdP.
pub struct Started {
    pub browser: String,
    pub request_id: String,
    pub relay_state: String,
    pub authn_request: String,
    pub location: String,
}

impl Sp {
    pub async fn new(settings: SamlUpstreamSettings) -> Self {
        Self::with(settings, true, None).await
    }

    pub async fn with(
        settings: SamlUpstreamSettings,
        enabled: bool,
        ephemeral: Option<Arc<dyn EphemeralStore>>,
    ) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let db = Database::connect("sqlite::memory:")
            .await
            .expect("SQLite opens");
        db.migrate().await.expect("migrations run");
        let keys: Arc<dyn KeyStore> = Arc::new(db.key_store(MasterKey::generate()));
        KeyRing::new(keys.clone(), clock.clone(), KeyRingPolicy::default())
            .ensure_active_keys()
            .await
            .expect("keys generated");
        let ephemeral = ephemeral.unwrap_or_else(|| Arc::new(MemoryEphemeralStore::new(10_000)));
        let who = UpstreamIdentity {
            id: UpstreamId::parse(UPSTREAM).expect("id"),
            display_name: "Corp SSO".into(),
            enabled,
            public_url: PUBLIC_URL.into(),
        };
        let upstream = settings
            .resolve(&who, None, &Default::default())
            .expect("resolves");
        let deps = SamlSpDeps {
            keys,
            ephemeral: ephemeral.clone(),
            interactions: Interactions::new(ephemeral.clone(), Arc::new(db.store()), clock.clone()),
            budget: crate::fixture::budget(ephemeral, clock.clone()),
            clock,
        };
        let state = Arc::new(SamlSpState::new(PUBLIC_URL, vec![upstream], deps));
        let lock = OnceLock::new();
        let _ = lock.set(state.clone());
        Self {
            state,
            data: actix_web::web::Data::new(lock),
        }
    }

    pub async fn get(&self, uri: &str, browser: Option<&str>) -> Answer {
        let app = test::init_service(
            App::new()
                .app_data(self.data.clone())
                .configure(configure_upstreams),
        )
        .await;
        let mut req = test::TestRequest::get().uri(uri);
        if let Some(b) = browser {
            req = req.cookie(actix_web::cookie::Cookie::new(COOKIE, b.to_owned()));
        }
        answer(test::call_service(&app, req.to_request()).await).await
    }

    /// Posts `form` (already encoded) to the ACS.
    pub async fn post_form(&self, form: String, browser: Option<&str>) -> Answer {
        let app = test::init_service(
            App::new()
                .app_data(self.data.clone())
                .configure(configure_upstreams),
        )
        .await;
        let mut req = test::TestRequest::post()
            .uri("/federation/corp/saml/acs")
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(form);
        if let Some(b) = browser {
            req = req.cookie(actix_web::cookie::Cookie::new(COOKIE, b.to_owned()));
        }
        answer(test::call_service(&app, req.to_request()).await).await
    }

    /// Posts `xml` as SAMLResponse (with `relay_state`) to the ACS.
    pub async fn post(
        &self,
        xml: &str,
        relay_state: Option<&str>,
        browser: Option<&str>,
    ) -> Answer {
        let mut form = format!("SAMLResponse={}", urlencode(&STANDARD.encode(xml)));
        if let Some(r) = relay_state {
            form.push_str(&format!("&RelayState={}", urlencode(r)));
        }
        self.post_form(form, browser).await
    }

    /// Starts a sign-in (optionally for login `t`) in `browser` (a new one when
    /// `None`).
    pub async fn start(&self, t: Option<&str>, browser: Option<&str>) -> Started {
        let uri = match t {
            Some(t) => format!("/federation/corp/saml/start?t={t}"),
            None => "/federation/corp/saml/start".to_owned(),
        };
        let a = self.get(&uri, browser).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
        let browser = match browser {
            Some(b) => b.to_owned(),
            None => a.set_cookie.clone().expect("a browser cookie is set"),
        };
        let query = a
            .location
            .strip_prefix(&format!("{IDP_SSO}?"))
            .expect("sent to the IdP");
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .map(urldecode)
                .unwrap_or_else(|| panic!("{name} in {query}"))
        };
        let deflated = STANDARD.decode(param("SAMLRequest")).expect("base64");
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut xml)
            .expect("inflates");
        let request_id = xml
            .split("ID=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("ID")
            .to_owned();
        Started {
            browser,
            request_id,
            relay_state: param("RelayState"),
            authn_request: xml,
            location: a.location,
        }
    }

    /// The FederatedLogin parked behind a `/login/federated?t=` location (left
    /// in place).
    pub async fn parked(&self, location: &str) -> FederatedLogin {
        let t = location
            .strip_prefix("/login/federated?t=")
            .unwrap_or_else(|| panic!("sent to /login/federated, not {location:?}"));
        self.state
            .deps
            .interactions
            .federated(t)
            .await
            .expect("store")
            .expect("parked")
    }
}

async fn answer(resp: actix_web::dev::ServiceResponse) -> Answer {
    let status = resp.status();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    let set_cookie = resp
        .response()
        .cookies()
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned());
    let body = String::from_utf8(test::read_body(resp).await.to_vec()).expect("utf8");
    Answer {
        status,
        location,
        body,
        set_cookie,
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn urldecode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf8")
}

/// Asserts `a` is a refusal page with `status` whose text contains `why`.
pub fn refused(a: &Answer, status: StatusCode, why: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(a.location.is_empty(), "a refusal never redirects");
    assert!(
        a.body.contains("Sign-in with Corp SSO failed"),
        "{}",
        a.body
    );
    assert!(a.body.contains(why), "expected {why:?} in {}", a.body);
}
