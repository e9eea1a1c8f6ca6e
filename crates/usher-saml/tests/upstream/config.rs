//! Resolving an upstream from settings and IdP metadata.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use usher_core::UpstreamId;
use usher_saml::{
    Binding, SamlUpstreamSettings, SettingsFiles, UpstreamIdentity, parse_idp_metadata,
};

use super::fixture::*;

fn who() -> UpstreamIdentity {
    UpstreamIdentity {
        id: UpstreamId::parse("partner").expect("id"),
        display_name: "Partner".into(),
        enabled: true,
        public_url: "https://usher.test/".into(),
    }
}

/// The fixture's upstream `corp`, as the binary would name it.
fn corp() -> UpstreamIdentity {
    UpstreamIdentity {
        id: UpstreamId::parse(UPSTREAM).expect("id"),
        display_name: "Corp SSO".into(),
        enabled: true,
        public_url: PUBLIC_URL.into(),
    }
}

fn metadata(bindings: &str, with_key: bool) -> String {
    let key = if with_key {
        format!(
            "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n{}\n\
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>bm90\
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
            STANDARD.encode(&idp().cert_der)
        )
    } else {
        String::new()
    };
    format!(
        "<?xml version=\"1.0\"?><md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{IDP_ENTITY}\"><md:IDPSSODescriptor \
protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{key}{bindings}\
</md:IDPSSODescriptor></md:EntityDescriptor>"
    )
}

const POST_SSO: &str = "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://idp.corp.test/post\"/>";
const REDIRECT_SSO: &str = "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://idp.corp.test/redirect\"/>";

#[test]
fn metadata_gives_entity_endpoints_and_signing_certificates_only() {
    let md = parse_idp_metadata(&metadata(&format!("{POST_SSO}{REDIRECT_SSO}"), true), None)
        .expect("parses");
    assert_eq!(md.entity_id, IDP_ENTITY);
    assert_eq!(md.signing_certificates, vec![idp().cert_der.clone()]);
    let u = SamlUpstreamSettings::default()
        .resolve(
            &who(),
            Some(&metadata(&format!("{POST_SSO}{REDIRECT_SSO}"), true)),
            &Default::default(),
        )
        .expect("resolves");
    // Redirect preferred; our URLs derived from the public URL and the id.
    assert_eq!(u.sso_binding, Binding::HttpRedirect);
    assert_eq!(u.sso_url, "https://idp.corp.test/redirect");
    assert_eq!(u.acs_url, "https://usher.test/federation/partner/saml/acs");
    assert_eq!(
        u.sp_entity_id,
        "https://usher.test/federation/partner/saml/metadata"
    );
    // POST when that is all the IdP has.
    let u = SamlUpstreamSettings::default()
        .resolve(&who(), Some(&metadata(POST_SSO, true)), &Default::default())
        .expect("resolves");
    assert_eq!(u.sso_binding, Binding::HttpPost);
}

#[test]
fn upstream_without_a_signing_certificate_is_refused() {
    let e = SamlUpstreamSettings::default()
        .resolve(
            &who(),
            Some(&metadata(REDIRECT_SSO, false)),
            &Default::default(),
        )
        .expect_err("no certificate");
    assert!(e.to_string().contains("no signing certificate"), "{e}");
    let e = SamlUpstreamSettings {
        idp_entity_id: Some(IDP_ENTITY.into()),
        sso_url: Some(IDP_SSO.into()),
        ..SamlUpstreamSettings::default()
    }
    .resolve(&who(), None, &Default::default())
    .expect_err("no certificate");
    assert!(e.to_string().contains("no signing certificate"), "{e}");
    // A certificate that is not one.
    let e = SamlUpstreamSettings {
        certificates: vec!["bm90IGEgY2VydA==".into()],
        ..settings()
    }
    .resolve(&who(), None, &Default::default())
    .expect_err("bad certificate");
    assert!(e.to_string().contains("not a valid X.509"), "{e}");
}

#[test]
fn metadata_for_another_entity_or_with_a_doctype_is_refused() {
    let other = SamlUpstreamSettings {
        idp_entity_id: Some("https://someone-else.example".into()),
        ..SamlUpstreamSettings::default()
    };
    assert!(
        other
            .resolve(
                &who(),
                Some(&metadata(REDIRECT_SSO, true)),
                &Default::default()
            )
            .is_err()
    );
    let dtd = format!("<!DOCTYPE x>{}", metadata(REDIRECT_SSO, true));
    assert!(parse_idp_metadata(&dtd, None).is_err());
    let skew = SamlUpstreamSettings {
        clock_skew_seconds: 3600,
        ..settings()
    };
    assert!(skew.resolve(&who(), None, &Default::default()).is_err());
}

#[test]
fn settings_deserialize_with_defaults() {
    let s: SamlUpstreamSettings = serde_json::from_value(serde_json::json!({
        "metadata_url": "https://idp.example/metadata",
        "authoritative_email_domains": ["Example.com"],
    }))
    .expect("deserializes");
    assert!(s.want_assertion_signed && !s.want_response_signed && !s.allow_idp_initiated);
    assert_eq!(s.clock_skew_seconds, 120);
    assert_eq!(s.metadata_refresh_seconds, 3600);
}

#[actix_web::test]
async fn reloading_metadata_swaps_the_upstream_and_garbage_keeps_the_last_good_one() {
    let sp = Sp::new(settings()).await;
    let who = corp();
    let from_metadata = SamlUpstreamSettings::default();
    sp.state
        .reload_upstream(
            &who,
            &from_metadata,
            &metadata(REDIRECT_SSO, true),
            &Default::default(),
        )
        .expect("reloads");
    let u = sp.state.upstream(UPSTREAM).expect("registered");
    assert_eq!(u.sso_url, "https://idp.corp.test/redirect");
    for bad in [
        "garbage".to_owned(),
        format!("<!DOCTYPE x>{}", metadata(REDIRECT_SSO, true)),
        metadata(REDIRECT_SSO, false),
    ] {
        assert!(
            sp.state
                .reload_upstream(&who, &from_metadata, &bad, &Default::default())
                .is_err()
        );
        assert_eq!(
            sp.state.upstream(UPSTREAM).expect("kept"),
            u,
            "last good kept"
        );
    }
}

// ---- metadata_signing_certificate: metadata read only through its signature ----

/// Settings with metadata by URL, pinned to `idp()`'s certificate.
fn pinned() -> (SamlUpstreamSettings, SettingsFiles) {
    (
        SamlUpstreamSettings {
            metadata_url: Some("https://idp.corp.test/metadata".into()),
            metadata_signing_certificate: Some("federation-signer.pem".into()),
            ..SamlUpstreamSettings::default()
        },
        SettingsFiles {
            metadata_signing_certificate: Some(idp().cert_pem()),
            ..SettingsFiles::default()
        },
    )
}

const ATTACKER_SSO: &str = "<md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://evil.example/sso\"/>";

/// `metadata(bindings)` with an `ID` and `signer`'s signature template, empty.
fn with_template(signer: &Signer, bindings: &str) -> String {
    metadata(bindings, true)
        .replacen(
            "<md:EntityDescriptor ",
            "<md:EntityDescriptor ID=\"_md1\" ",
            1,
        )
        .replacen(
            "<md:IDPSSODescriptor",
            &format!(
                "{}<md:IDPSSODescriptor",
                signer.template("_md1", RSA_SHA256, SHA256)
            ),
            1,
        )
}

/// `metadata(bindings)` with an `ID` and an enveloped signature by `signer`.
fn signed_metadata(signer: &Signer, bindings: &str) -> String {
    signer.sign(&with_template(signer, bindings))
}

fn refused_for_the_pin(xml: &str, why: &str) {
    let (settings, files) = pinned();
    let e = settings
        .resolve(&who(), Some(xml), &files)
        .expect_err("refused");
    assert_eq!(e.field, "metadata_signing_certificate", "{e}");
    assert!(e.message.contains(why), "expected {why:?} in {e}");
}

#[test]
fn metadata_signed_by_the_pinned_certificate_is_accepted() {
    let (settings, files) = pinned();
    let u = settings
        .resolve(&who(), Some(&signed_metadata(idp(), REDIRECT_SSO)), &files)
        .expect("resolves");
    assert_eq!(u.sso_url, "https://idp.corp.test/redirect");
    assert_eq!(u.certificates, vec![idp().cert_der.clone()]);
}

#[test]
fn metadata_signed_by_unpinned_key_is_refused() {
    // The attacker's signature carries the attacker's certificate in KeyInfo;
    // only the pinned one is ever used.
    refused_for_the_pin(
        &signed_metadata(attacker(), ATTACKER_SSO),
        "does not verify with that certificate",
    );
}

#[test]
fn unsigned_metadata_is_refused_when_a_signing_certificate_is_pinned() {
    refused_for_the_pin(&metadata(REDIRECT_SSO, true), "no signature");
    // An empty template (stripped signature values) is no signature either.
    let stripped = with_template(idp(), REDIRECT_SSO);
    refused_for_the_pin(&stripped, "does not verify");
}

#[test]
fn metadata_altered_after_signing_is_refused() {
    let altered = signed_metadata(idp(), REDIRECT_SSO)
        .replace("https://idp.corp.test/redirect", "https://evil.example/sso");
    assert!(altered.contains("evil.example"));
    refused_for_the_pin(&altered, "does not verify");
}

#[test]
fn metadata_signature_wrapping_is_refused() {
    let signed = signed_metadata(idp(), REDIRECT_SSO);
    let genuine = signed
        .split_once("<md:EntityDescriptor")
        .map(|(_, rest)| format!("<md:EntityDescriptor{rest}"))
        .expect("the signed entity");
    let from = signed.find("<ds:Signature").expect("signature");
    let to = signed.find("</ds:Signature>").expect("signature end") + "</ds:Signature>".len();
    let signature = &signed[from..to];
    let unsigned_genuine = genuine.replacen(signature, "", 1);
    // A new root naming the attacker's SSO URL, the genuine entity (which the
    // signature's Reference names) tucked away in its Extensions.
    let evil_root = |root_signature: &str, hidden: &str| {
        format!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" \
xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" ID=\"_evil\" entityID=\"{IDP_ENTITY}\">\
{root_signature}<md:Extensions>{hidden}</md:Extensions><md:IDPSSODescriptor \
protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{ATTACKER_SSO}\
</md:IDPSSODescriptor></md:EntityDescriptor>"
        )
    };
    // The genuine signature moved up to the new root.
    refused_for_the_pin(
        &evil_root(signature, &unsigned_genuine),
        "does not name its parent element",
    );
    // Left in place, deep inside.
    refused_for_the_pin(&evil_root("", &genuine), "not a child of the root element");
    // Copied up, so there are two.
    refused_for_the_pin(&evil_root(signature, &genuine), "more than one signature");
    // An EntitiesDescriptor holding the genuine signed entity beside the
    // attacker's own.
    let aggregate = format!(
        "<md:EntitiesDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ID=\"_agg\">\
{genuine}<md:EntityDescriptor entityID=\"https://evil.example\"><md:IDPSSODescriptor \
protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{ATTACKER_SSO}\
</md:IDPSSODescriptor></md:EntityDescriptor></md:EntitiesDescriptor>"
    );
    refused_for_the_pin(&aggregate, "not a child of the root element");
}

#[test]
fn metadata_declared_in_another_encoding_is_refused() {
    let latin1 = metadata(REDIRECT_SSO, true).replace(
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>",
    );
    let e = SamlUpstreamSettings::default()
        .resolve(&who(), Some(&latin1), &SettingsFiles::default())
        .expect_err("refused");
    assert!(e.message.contains("only UTF-8"), "{e}");
    refused_for_the_pin(
        &signed_metadata(idp(), REDIRECT_SSO).replacen(
            "<md:EntityDescriptor",
            "<?xml version=\"1.0\" encoding=\"UTF-7\"?><md:EntityDescriptor",
            1,
        ),
        "only UTF-8",
    );
}

#[test]
fn a_pin_without_metadata_is_refused_naming_the_field() {
    let (_, files) = pinned();
    let e = SamlUpstreamSettings {
        metadata_signing_certificate: Some("pin.pem".into()),
        ..settings()
    }
    .resolve(&who(), None, &files)
    .expect_err("refused");
    assert_eq!(e.field, "metadata_signing_certificate");
    assert!(e.message.contains("only applies"), "{e}");
}

#[actix_web::test]
async fn pinned_metadata_refresh_that_is_unsigned_or_forged_keeps_the_last_good_one() {
    let sp = Sp::new(settings()).await;
    let who = corp();
    let (settings, files) = pinned();
    sp.state
        .reload_upstream(
            &who,
            &settings,
            &signed_metadata(idp(), REDIRECT_SSO),
            &files,
        )
        .expect("reloads");
    let good = sp.state.upstream(UPSTREAM).expect("registered");
    assert_eq!(good.sso_url, "https://idp.corp.test/redirect");
    for bad in [
        metadata(ATTACKER_SSO, true),
        signed_metadata(attacker(), ATTACKER_SSO),
        signed_metadata(idp(), REDIRECT_SSO)
            .replace("https://idp.corp.test/redirect", "https://evil.example/sso"),
    ] {
        let e = sp
            .state
            .reload_upstream(&who, &settings, &bad, &files)
            .expect_err("refused");
        assert_eq!(e.field, "metadata_signing_certificate", "{e}");
        assert_eq!(sp.state.upstream(UPSTREAM).expect("kept"), good);
    }
}
