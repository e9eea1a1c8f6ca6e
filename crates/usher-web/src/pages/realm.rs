//! Choosing an upstream: which ones the login page offers (enabled, and allowed by
//! the app), which one a hint names, which one an email's domain belongs to.

use usher_core::{LoginRequest, UpstreamProfile};

use crate::context::Ctx;

/// The upstreams offered for `request`: enabled, and in the app's allowed list
/// when it has one.
pub(crate) fn offered<'a>(
    ctx: &'a Ctx,
    request: Option<&LoginRequest>,
) -> Vec<&'a UpstreamProfile> {
    let Some(federation) = &ctx.state.federation else {
        return Vec::new();
    };
    let allowed = request.and_then(|r| r.allowed_upstreams.as_ref());
    federation
        .upstreams
        .iter()
        .filter(|u| u.enabled)
        .filter(|u| allowed.is_none_or(|list| list.iter().any(|a| a == u.id.as_str())))
        .collect()
}

/// The upstream whose home realm is `domain` (case-insensitive, exact).
fn by_domain<'a>(offered: &[&'a UpstreamProfile], domain: &str) -> Option<&'a UpstreamProfile> {
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    if domain.is_empty() {
        return None;
    }
    offered
        .iter()
        .find(|u| u.domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)))
        .copied()
}

/// The upstream an email address's domain belongs to.
pub(crate) fn for_email<'a>(
    ctx: &'a Ctx,
    request: Option<&LoginRequest>,
    email: &str,
) -> Option<&'a UpstreamProfile> {
    let (_, domain) = email.rsplit_once('@')?;
    by_domain(&offered(ctx, request), domain)
}

/// The upstream the app's hints pick: `kc_idp_hint`/`domain_hint` (an upstream id
/// or one of its domains), else the domain of `login_hint`.
pub(crate) fn hinted<'a>(
    ctx: &'a Ctx,
    request: Option<&LoginRequest>,
) -> Option<&'a UpstreamProfile> {
    let request = request?;
    let offered = offered(ctx, Some(request));
    if let Some(hint) = request.upstream_hint.as_deref() {
        if let Some(up) = offered.iter().find(|u| u.id.as_str() == hint) {
            return Some(up);
        }
        if let Some(up) = by_domain(&offered, hint) {
            return Some(up);
        }
    }
    let (_, domain) = request.login_hint.as_deref()?.rsplit_once('@')?;
    by_domain(&offered, domain)
}
