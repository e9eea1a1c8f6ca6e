//! The SP registry: an SP is swapped whole by `replace_service_provider` (as the
//! binary does when an SP's metadata is re-read), and a newly registered SP is
//! usable at once.

use actix_web::http::StatusCode;
use usher_saml::ServiceProvider;

use crate::fixture::*;
use crate::sso::{get, redirect_uri, sp};

const NEW_ACS: &str = "https://sp.example/new-acs";

#[actix_web::test]
async fn replace_service_provider_swaps_the_acs_urls() {
    let idp = Idp::new(vec![sp()]).await;
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let to_new = format!(" AssertionConsumerServiceURL=\"{NEW_ACS}\"");
    let (status, _) = get(
        &idp,
        &redirect_uri(&authn_request("_n1", SP, &to_new)),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "not registered yet");

    let before = idp.state.sp(SP).expect("registered");
    idp.state
        .replace_service_provider(ServiceProvider::new(SP, NEW_ACS));
    assert_eq!(
        before.acs[0].url, ACS,
        "a snapshot taken before is unchanged"
    );
    assert_eq!(idp.state.sp(SP).expect("registered").acs[0].url, NEW_ACS);
    assert_eq!(idp.state.service_provider_ids(), vec![SP.to_owned()]);

    let (status, body) = get(
        &idp,
        &redirect_uri(&authn_request("_n2", SP, &to_new)),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(&format!("action=\"{NEW_ACS}\"")));

    let to_old = format!(" AssertionConsumerServiceURL=\"{ACS}\"");
    let (status, body) = get(
        &idp,
        &redirect_uri(&authn_request("_n3", SP, &to_old)),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the old ACS is gone");
    assert!(!body.contains("<form"));
}

#[actix_web::test]
async fn replace_service_provider_registers_a_new_sp() {
    let idp = Idp::new(Vec::new()).await;
    let (status, _) = get(&idp, &redirect_uri(&authn_request("_m1", SP, "")), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown before");
    idp.state.replace_service_provider(sp());
    let (status, body) = get(&idp, &redirect_uri(&authn_request("_m2", SP, "")), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
}

#[test]
fn replacing_from_many_threads_leaves_one_whole_sp() {
    let rt = actix_web::rt::System::new();
    let idp = rt.block_on(Idp::new(vec![sp()]));
    let state = idp.state.clone();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let state = state.clone();
            scope.spawn(move || {
                for n in 0..200 {
                    let url = format!("https://sp.example/acs-{t}-{n}");
                    let mut next = ServiceProvider::new(SP, url.clone());
                    next.slo_url = Some(url);
                    state.replace_service_provider(next);
                    let seen = state.sp(SP).expect("never dropped");
                    assert_eq!(Some(&seen.acs[0].url), seen.slo_url.as_ref(), "torn SP");
                }
            });
        }
    });
}
