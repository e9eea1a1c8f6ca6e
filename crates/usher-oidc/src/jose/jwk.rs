//! JWK ↔ openssl keys: RSA (`n`, `e`; RFC 7518 §6.3), EC P-256 (`x`, `y`;
//! RFC 7518 §6.2) and OKP Ed25519 (`x`; RFC 8037 §2).

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::rsa::Rsa;
use serde_json::{Value, json};
use usher_core::ports::KeyAlgorithm;

use super::b64;

/// Smallest RSA modulus accepted from a client (RFC 7518 §3.3).
const MIN_RSA_BITS: u32 = 2048;

/// The key members of a public JWK, before `kid`, `alg` and `use` are added.
#[derive(Debug)]
pub struct PublicJwk(serde_json::Map<String, Value>);

impl PublicJwk {
    /// The JWK of `key`, an `algorithm` key.
    pub fn of(key: &PKey<Public>, algorithm: KeyAlgorithm) -> Result<Self, ErrorStack> {
        let value = match algorithm {
            KeyAlgorithm::RS256 => {
                let rsa = key.rsa()?;
                json!({"kty": "RSA", "n": b64::encode(&rsa.n().to_vec()), "e": b64::encode(&rsa.e().to_vec())})
            }
            KeyAlgorithm::ES256 => {
                let ec = key.ec_key()?;
                let mut ctx = BigNumContext::new()?;
                let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
                ec.public_key()
                    .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)?;
                // RFC 7518 §6.2.1.2: full-length coordinates, left-padded.
                json!({"kty": "EC", "crv": "P-256",
                       "x": b64::encode(&x.to_vec_padded(32)?),
                       "y": b64::encode(&y.to_vec_padded(32)?)})
            }
            KeyAlgorithm::EdDSA => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64::encode(&key.raw_public_key()?)})
            }
        };
        match value {
            Value::Object(map) => Ok(Self(map)),
            _ => unreachable!("json! of an object literal is an object"),
        }
    }

    /// The published JWK: `kid`, `alg`, `use: "sig"` and, for RSA keys with a
    /// certificate, `x5c` (RFC 7517 §4.7: standard base64 of the DER).
    pub fn with_kid(mut self, kid: &str, algorithm: KeyAlgorithm, cert: Option<&[u8]>) -> Value {
        use base64::Engine;
        self.0.insert("kid".into(), json!(kid));
        self.0.insert("alg".into(), json!(algorithm.as_str()));
        self.0.insert("use".into(), json!("sig"));
        if let Some(der) = cert {
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            self.0.insert("x5c".into(), json!([b64]));
        }
        Value::Object(self.0)
    }
}

/// The public key in a JWK and the one algorithm its type may verify, or `None`
/// for anything malformed or of another type (RSA below 2048 bits, other curves).
pub fn public_key_from_jwk(jwk: &Value) -> Option<(KeyAlgorithm, PKey<Public>)> {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).and_then(b64::decode);
    let kty = jwk.get("kty")?.as_str()?;
    let crv = jwk.get("crv").and_then(Value::as_str);
    match (kty, crv) {
        ("RSA", _) => {
            let n = BigNum::from_slice(&member("n")?).ok()?;
            let e = BigNum::from_slice(&member("e")?).ok()?;
            if n.num_bits() < MIN_RSA_BITS as i32 {
                return None;
            }
            let rsa = Rsa::from_public_components(n, e).ok()?;
            Some((KeyAlgorithm::RS256, PKey::from_rsa(rsa).ok()?))
        }
        ("EC", Some("P-256")) => {
            let (x, y) = (member("x")?, member("y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).ok()?;
            let (x, y) = (BigNum::from_slice(&x).ok()?, BigNum::from_slice(&y).ok()?);
            // Checks the point is on the curve (invalid-curve attacks).
            let ec = EcKey::from_public_key_affine_coordinates(&group, &x, &y).ok()?;
            ec.check_key().ok()?;
            Some((KeyAlgorithm::ES256, PKey::from_ec_key(ec).ok()?))
        }
        ("OKP", Some("Ed25519")) => {
            let x = member("x")?;
            if x.len() != 32 {
                return None;
            }
            Some((
                KeyAlgorithm::EdDSA,
                PKey::public_key_from_raw_bytes(&x, Id::ED25519).ok()?,
            ))
        }
        _ => None,
    }
}
