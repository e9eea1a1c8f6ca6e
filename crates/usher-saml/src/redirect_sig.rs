//! Signatures of the HTTP-Redirect binding (SAML Bindings §3.4.4.1): over the
//! exact bytes `SAMLRequest=v&RelayState=v&SigAlg=v` as they arrived (still
//! URL-encoded), with the SP's registered certificate only (never a key the
//! message names). SHA-1 is refused (downgrade; NIST SP 800-131A).

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::pkey::Id;
use openssl::sign::Verifier;
use openssl::x509::X509;

use crate::inbound::BindingParams;

/// Why a redirect signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Required and absent.
    #[error("the request must be signed")]
    Missing,
    /// SigAlg not on the allow-list (SHA-1, DSA, unknown).
    #[error("the signature algorithm is not allowed")]
    Algorithm,
    /// Does not verify.
    #[error("the request signature does not verify")]
    Invalid,
}

/// The allow-list: SigAlg URI -> (digest, key type).
fn algorithm(uri: &str) -> Option<(MessageDigest, Id)> {
    Some(match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => (MessageDigest::sha256(), Id::RSA),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => (MessageDigest::sha384(), Id::RSA),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => (MessageDigest::sha512(), Id::RSA),
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => (MessageDigest::sha256(), Id::EC),
        _ => return None,
    })
}

/// Verifies the Redirect-binding signature of `p` with `cert_der`.
pub fn verify(p: &BindingParams, cert_der: &[u8]) -> Result<(), SignatureError> {
    let (Some((sig_alg, raw_sig_alg)), Some(signature)) = (&p.sig_alg, &p.signature) else {
        return Err(SignatureError::Missing);
    };
    let (digest, key_type) = algorithm(sig_alg).ok_or(SignatureError::Algorithm)?;
    let mut signed = match (&p.saml_request, &p.saml_response) {
        (Some((_, raw)), None) => format!("SAMLRequest={raw}"),
        (None, Some((_, raw))) => format!("SAMLResponse={raw}"),
        _ => return Err(SignatureError::Missing),
    };
    if let Some((_, raw_relay)) = &p.relay_state {
        signed.push_str("&RelayState=");
        signed.push_str(raw_relay);
    }
    signed.push_str("&SigAlg=");
    signed.push_str(raw_sig_alg);
    let signature = STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::Invalid)?;
    let key = X509::from_der(cert_der)
        .and_then(|c| c.public_key())
        .map_err(|_| SignatureError::Invalid)?;
    // The algorithm must fit the key: no RSA URI with an EC key or the reverse.
    if key.id() != key_type {
        return Err(SignatureError::Algorithm);
    }
    let ok = Verifier::new(digest, &key)
        .and_then(|mut v| {
            v.update(signed.as_bytes())?;
            v.verify(&signature)
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}
