//! Resolving an upstream from settings and IdP metadata.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use usher_core::UpstreamId;
use usher_saml::{Binding, SamlUpstreamSettings, UpstreamIdentity, parse_idp_metadata};

use super::fixture::*;

fn who() -> UpstreamIdentity {
    UpstreamIdentity {
        id: UpstreamId::parse("partner").expect("id"),
        display_name: "Partner".into(),
        enabled: true,
        public_url: "https://usher.test/".into(),
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
            &[],
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
        .resolve(&who(), Some(&metadata(POST_SSO, true)), &[])
        .expect("resolves");
    assert_eq!(u.sso_binding, Binding::HttpPost);
}

#[test]
fn upstream_without_a_signing_certificate_is_refused() {
    let e = SamlUpstreamSettings::default()
        .resolve(&who(), Some(&metadata(REDIRECT_SSO, false)), &[])
        .expect_err("no certificate");
    assert!(e.to_string().contains("no signing certificate"), "{e}");
    let e = SamlUpstreamSettings {
        idp_entity_id: Some(IDP_ENTITY.into()),
        sso_url: Some(IDP_SSO.into()),
        ..SamlUpstreamSettings::default()
    }
    .resolve(&who(), None, &[])
    .expect_err("no certificate");
    assert!(e.to_string().contains("no signing certificate"), "{e}");
    // A certificate that is not one.
    let e = SamlUpstreamSettings {
        certificates: vec!["bm90IGEgY2VydA==".into()],
        ..settings()
    }
    .resolve(&who(), None, &[])
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
            .resolve(&who(), Some(&metadata(REDIRECT_SSO, true)), &[])
            .is_err()
    );
    let dtd = format!("<!DOCTYPE x>{}", metadata(REDIRECT_SSO, true));
    assert!(parse_idp_metadata(&dtd, None).is_err());
    let skew = SamlUpstreamSettings {
        clock_skew_seconds: 3600,
        ..settings()
    };
    assert!(skew.resolve(&who(), None, &[]).is_err());
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
    let who = UpstreamIdentity {
        id: UpstreamId::parse(UPSTREAM).expect("id"),
        display_name: "Corp SSO".into(),
        enabled: true,
        public_url: PUBLIC_URL.into(),
    };
    let from_metadata = SamlUpstreamSettings::default();
    sp.state
        .reload_upstream(&who, &from_metadata, &metadata(REDIRECT_SSO, true), &[])
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
                .reload_upstream(&who, &from_metadata, &bad, &[])
                .is_err()
        );
        assert_eq!(
            sp.state.upstream(UPSTREAM).expect("kept"),
            u,
            "last good kept"
        );
    }
}
