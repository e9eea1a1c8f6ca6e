//! Reading a SAML message off the wire (SAML Bindings §3.4 HTTP-Redirect, §3.5
//! HTTP-POST), with every size bounded and every ambiguity refused before the XML
//! is looked at.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::read::DeflateDecoder;

/// Largest query string or form body accepted.
pub const MAX_ENCODED: usize = 128 * 1024;
/// Largest decoded (still deflated, for Redirect) message.
pub const MAX_DEFLATED: usize = 64 * 1024;
/// Largest inflated XML: a deflate bomb stops here, never allocating more.
pub const MAX_INFLATED: usize = 64 * 1024;

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// Too large somewhere along the way.
    #[error("the request is too large")]
    TooLarge,
    /// A parameter appears twice (HTTP parameter pollution: which copy is signed?).
    #[error("the parameter {0} appears more than once")]
    Duplicated(&'static str),
    /// `SAMLRequest` missing.
    #[error("the SAMLRequest parameter is missing")]
    Missing,
    /// Bad percent-encoding, base64, deflate or UTF-8.
    #[error("the request is not correctly encoded")]
    Encoding,
}

/// The parameters of a SAML binding, with the raw (still percent-encoded) values
/// the Redirect signature covers (Bindings §3.4.4.1).
#[derive(Debug, Clone, Default)]
pub struct BindingParams {
    /// `SAMLRequest`, decoded and raw.
    pub saml_request: Option<(String, String)>,
    /// `SAMLResponse` (a LogoutResponse to usher's LogoutRequest), decoded and raw.
    pub saml_response: Option<(String, String)>,
    /// `RelayState`, decoded and raw.
    pub relay_state: Option<(String, String)>,
    /// `SigAlg`, decoded and raw.
    pub sig_alg: Option<(String, String)>,
    /// `Signature`, decoded.
    pub signature: Option<String>,
}

/// Parses `a=b&c=d` (query string or form body): the four SAML parameters must
/// each appear at most once; others are ignored.
pub fn parse_params(encoded: &str) -> Result<BindingParams, InboundError> {
    if encoded.len() > MAX_ENCODED {
        return Err(InboundError::TooLarge);
    }
    let mut p = BindingParams::default();
    for pair in encoded.split('&').filter(|s| !s.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(raw_key)?;
        let slot = match key.as_str() {
            "SAMLRequest" => (&mut p.saml_request, "SAMLRequest"),
            "SAMLResponse" => (&mut p.saml_response, "SAMLResponse"),
            "RelayState" => (&mut p.relay_state, "RelayState"),
            "SigAlg" => (&mut p.sig_alg, "SigAlg"),
            "Signature" => {
                if p.signature.is_some() {
                    return Err(InboundError::Duplicated("Signature"));
                }
                p.signature = Some(percent_decode(raw_value)?);
                continue;
            }
            _ => continue,
        };
        if slot.0.is_some() {
            return Err(InboundError::Duplicated(slot.1));
        }
        *slot.0 = Some((percent_decode(raw_value)?, raw_value.to_owned()));
    }
    if p.saml_request.is_some() && p.saml_response.is_some() {
        return Err(InboundError::Duplicated("SAMLResponse"));
    }
    Ok(p)
}

/// `application/x-www-form-urlencoded` decoding; strict: a `%` must start two hex
/// digits, and the result must be UTF-8.
pub fn percent_decode(s: &str) -> Result<String, InboundError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(InboundError::Encoding)?;
                let hex = std::str::from_utf8(hex).map_err(|_| InboundError::Encoding)?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(InboundError::Encoding);
                }
                out.push(u8::from_str_radix(hex, 16).map_err(|_| InboundError::Encoding)?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| InboundError::Encoding)
}

/// Base64 as SPs send it: line breaks and spaces (some wrap at 76) are dropped.
pub fn base64_decode(value: &str) -> Result<Vec<u8>, InboundError> {
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() / 4 * 3 > MAX_DEFLATED {
        return Err(InboundError::TooLarge);
    }
    STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| InboundError::Encoding)
}

/// Raw DEFLATE (RFC 1951, Bindings §3.4.4.1) inflated up to [`MAX_INFLATED`]:
/// the decoder is read through a cap, so a bomb costs at most that much memory.
pub fn inflate(deflated: &[u8]) -> Result<Vec<u8>, InboundError> {
    let mut out = Vec::new();
    DeflateDecoder::new(deflated)
        .take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| InboundError::Encoding)?;
    if out.len() > MAX_INFLATED {
        return Err(InboundError::TooLarge);
    }
    Ok(out)
}

/// The XML of an HTTP-Redirect `SAMLRequest` or `SAMLResponse` (base64 of raw
/// DEFLATE).
pub fn redirect_message(value: &str) -> Result<Vec<u8>, InboundError> {
    inflate(&base64_decode(value)?)
}

/// The XML of an HTTP-POST `SAMLRequest` or `SAMLResponse` (base64, not deflated).
pub fn post_message(value: &str) -> Result<Vec<u8>, InboundError> {
    let xml = base64_decode(value)?;
    if xml.len() > MAX_INFLATED {
        return Err(InboundError::TooLarge);
    }
    Ok(xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused() {
        assert_eq!(
            parse_params("SAMLRequest=a&SAMLRequest=b").err(),
            Some(InboundError::Duplicated("SAMLRequest"))
        );
        assert_eq!(
            parse_params("SAMLRequest=a&Signature=x&%53ignature=y").err(),
            Some(InboundError::Duplicated("Signature"))
        );
        assert!(parse_params("SAMLRequest=a&RelayState=b&other=1&other=2").is_ok());
    }

    #[test]
    fn bad_percent_encoding_is_refused() {
        assert_eq!(percent_decode("a%2"), Err(InboundError::Encoding));
        assert_eq!(percent_decode("a%zz"), Err(InboundError::Encoding));
        assert_eq!(percent_decode("a%2Fb+c").as_deref(), Ok("a/b c"));
    }
}
