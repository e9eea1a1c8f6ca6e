//! The checks on a verified response that need no storage (SAML Profiles
//! §4.1.4.2–4.1.4.3, Core §2.5.1): Issuer, Destination, Audience, validity
//! times with a bounded clock skew, and a bearer SubjectConfirmation whose
//! Recipient is our ACS. The InResponseTo binding and the replay cache follow in
//! [`super::acs`].

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::assertion::{BEARER, Confirmation};
use super::error::Rejection;
use super::settings::SamlUpstream;
use super::verify::Verified;

/// An assertion valid for longer than this is refused: its ID would have to be
/// remembered that long against replay.
pub const MAX_VALIDITY: Duration = Duration::from_secs(24 * 3600);

/// What the later steps need.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The InResponseTo the response answers (`None`: unsolicited).
    pub in_response_to: Option<String>,
    /// How long the assertion ID must be remembered: until it can no longer be
    /// accepted.
    pub replay_ttl: Duration,
}

fn instant(value: &str) -> Result<OffsetDateTime, Rejection> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| Rejection::Malformed(format!("{value:?} is not a valid time")))
}

/// `not_before`, if any, has come (with `skew`).
fn started(not_before: Option<&str>, now: OffsetDateTime, skew: Duration) -> Result<(), Rejection> {
    if let Some(nb) = not_before
        && now + skew < instant(nb)?
    {
        return Err(Rejection::NotYetValid);
    }
    Ok(())
}

/// `not_on_or_after` has not passed (with `skew`).
fn unexpired(
    not_on_or_after: &str,
    now: OffsetDateTime,
    skew: Duration,
) -> Result<OffsetDateTime, Rejection> {
    let end = instant(not_on_or_after)?;
    if now - skew >= end {
        return Err(Rejection::Expired);
    }
    Ok(end)
}

fn confirm(
    c: &Confirmation,
    upstream: &SamlUpstream,
    in_response_to: Option<&str>,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, Rejection> {
    // Profiles §4.1.4.2: Recipient (our ACS), NotOnOrAfter, and the InResponseTo
    // of the request it answers.
    if c.recipient.as_deref() != Some(upstream.acs_url.as_str()) {
        return Err(Rejection::Recipient);
    }
    let Some(noa) = &c.not_on_or_after else {
        return Err(Rejection::Confirmation("NotOnOrAfter is missing"));
    };
    started(c.not_before.as_deref(), now, upstream.clock_skew)?;
    let end = unexpired(noa, now, upstream.clock_skew)?;
    if c.in_response_to.as_deref() != in_response_to {
        return Err(Rejection::InResponseTo);
    }
    Ok(end)
}

/// Runs the checks on `v` at `now`.
pub fn check(
    upstream: &SamlUpstream,
    v: &Verified,
    now: OffsetDateTime,
) -> Result<Checked, Rejection> {
    let a = &v.assertion;
    let skew = upstream.clock_skew;
    // Core §3.2.2 / §2.3.3: both Issuers, when present, name the configured IdP.
    if a.issuer != upstream.idp_entity_id
        || v.wrapper
            .issuer
            .as_deref()
            .is_some_and(|i| i != upstream.idp_entity_id)
    {
        return Err(Rejection::Issuer);
    }
    // Bindings §3.5.5.2: Destination must be our ACS; required when the Response
    // is signed, checked whenever present (also on an unsigned wrapper).
    match &v.wrapper.destination {
        Some(d) if *d != upstream.acs_url => return Err(Rejection::Destination),
        None if v.response_signed => return Err(Rejection::Destination),
        _ => {}
    }
    // Core §2.5.1.4: every AudienceRestriction must name us; at least one must be
    // there (Profiles §4.1.4.2).
    if !a.has_conditions
        || a.audience_restrictions.is_empty()
        || !a
            .audience_restrictions
            .iter()
            .all(|r| r.contains(&upstream.sp_entity_id))
    {
        return Err(Rejection::Audience);
    }
    for issued in [&v.wrapper.issue_instant, &a.issue_instant] {
        if instant(issued)? > now + skew {
            return Err(Rejection::NotYetValid);
        }
    }
    started(a.not_before.as_deref(), now, skew)?;
    let mut end: Option<OffsetDateTime> = None;
    if let Some(noa) = &a.not_on_or_after {
        end = Some(unexpired(noa, now, skew)?);
    }
    if let Some(s) = &a.session_not_on_or_after {
        unexpired(s, now, skew)?;
    }
    let in_response_to = v.wrapper.in_response_to.as_deref();
    let bearers: Vec<&Confirmation> = a
        .confirmations
        .iter()
        .filter(|c| c.method == BEARER)
        .collect();
    if bearers.is_empty() {
        return Err(Rejection::Confirmation(
            "there is no bearer SubjectConfirmation",
        ));
    }
    // Any bearer confirmation that passes will do; otherwise the first one's reason.
    let mut first_error = None;
    let mut confirmed = None;
    for c in bearers {
        match confirm(c, upstream, in_response_to, now) {
            Ok(e) => {
                confirmed = Some(e);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let Some(confirmed_end) = confirmed else {
        return Err(first_error.unwrap_or(Rejection::Confirmation("none is usable")));
    };
    let until = end.map_or(confirmed_end, |e| e.min(confirmed_end)) + skew;
    let remaining = until - now;
    if remaining > MAX_VALIDITY {
        return Err(Rejection::Confirmation(
            "the assertion is valid for more than a day",
        ));
    }
    Ok(Checked {
        in_response_to: in_response_to.map(str::to_owned),
        replay_ttl: Duration::try_from(remaining)
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_secs(1)),
    })
}
