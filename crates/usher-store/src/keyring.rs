//! The key ring: generates usher's signing keys, rotates them, and answers which key
//! signs and which are published.
//!
//! One active key per algorithm (RS256, ES256, EdDSA). Rotation makes a fresh key
//! active and retires the old one, which stays published (JWKS, SAML metadata) for
//! `publish_retired_for`: long enough that every token or assertion it signed has
//! expired, so relying parties never meet a signature they cannot verify.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::{MessageDigest, hash};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use time::OffsetDateTime;
use usher_core::ports::{Clock, KeyAlgorithm, KeyStatus, KeyStore, SigningKey};
use usher_core::{Error, Result, SecretBytes};

/// How keys are made and how long retired keys stay published.
#[derive(Debug, Clone)]
pub struct KeyRingPolicy {
    /// How long a retired key stays published: at least the longest lifetime of
    /// anything it signs (id tokens, access tokens, SAML assertions).
    pub publish_retired_for: Duration,
    /// Common name of the self-signed SAML certificate (usually the public host).
    pub certificate_common_name: String,
    /// Validity of the self-signed SAML certificate. SAML SPs pin the certificate
    /// from metadata and most ignore its dates, so a long validity avoids outages;
    /// rotation, not expiry, is how it is replaced.
    pub certificate_validity: Duration,
}

impl Default for KeyRingPolicy {
    fn default() -> Self {
        Self {
            publish_retired_for: Duration::from_secs(24 * 3600),
            certificate_common_name: "usher".into(),
            certificate_validity: Duration::from_secs(10 * 365 * 24 * 3600),
        }
    }
}

/// Generates, rotates and lists signing keys over a [`KeyStore`].
#[derive(Clone)]
pub struct KeyRing {
    store: Arc<dyn KeyStore>,
    clock: Arc<dyn Clock>,
    policy: KeyRingPolicy,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What a rotation did for one algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The algorithm rotated.
    pub algorithm: KeyAlgorithm,
    /// The key that was active before, now published until `publish_until`.
    pub retired: Option<String>,
    /// The new active key.
    pub activated: String,
    /// Until when the retired key stays published.
    pub publish_until: OffsetDateTime,
}

impl KeyRing {
    /// A key ring over `store`.
    pub fn new(store: Arc<dyn KeyStore>, clock: Arc<dyn Clock>, policy: KeyRingPolicy) -> Self {
        Self {
            store,
            clock,
            policy,
        }
    }

    /// Makes sure every algorithm has an active key, generating the missing ones
    /// (on first start: all of them). Returns the key ids generated. Fails with
    /// `MasterKeyMismatch` rather than generating over keys it cannot read.
    pub async fn ensure_active_keys(&self) -> Result<Vec<String>> {
        let keys = self.store.list().await?;
        let now = self.clock.now();
        let mut generated = Vec::new();
        for algorithm in KeyAlgorithm::ALL {
            let has_active = keys
                .iter()
                .any(|k| k.algorithm == algorithm && k.status(now) == KeyStatus::Active);
            if !has_active {
                let key = self.generate(algorithm).await?;
                generated.push(key.kid.clone());
                self.store.insert(key).await?;
            }
        }
        Ok(generated)
    }

    /// Replaces the active key of each algorithm in `algorithms` with a new one; the
    /// old one stays published for `publish_retired_for`. Keys whose publication has
    /// ended are deleted.
    pub async fn rotate(&self, algorithms: &[KeyAlgorithm]) -> Result<Vec<Rotation>> {
        let keys = self.store.list().await?;
        let now = self.clock.now();
        let publish_until = now + self.policy.publish_retired_for;
        let mut rotations = Vec::new();
        for &algorithm in algorithms {
            // Insert the new key before retiring the old one, so that a crash in
            // between leaves two active keys (harmless) rather than none.
            let new_key = self.generate(algorithm).await?;
            let activated = new_key.kid.clone();
            self.store.insert(new_key).await?;
            let mut retired = None;
            for old in keys
                .iter()
                .filter(|k| k.algorithm == algorithm && k.status(now) == KeyStatus::Active)
            {
                self.store.retire(&old.kid, now, publish_until).await?;
                retired = Some(old.kid.clone());
            }
            rotations.push(Rotation {
                algorithm,
                retired,
                activated,
                publish_until,
            });
        }
        self.store.purge_expired(now).await?;
        Ok(rotations)
    }

    /// Every stored key with its status now, oldest first.
    pub async fn keys(&self) -> Result<Vec<(SigningKey, KeyStatus)>> {
        let now = self.clock.now();
        Ok(self
            .store
            .list()
            .await?
            .into_iter()
            .map(|k| {
                let status = k.status(now);
                (k, status)
            })
            .collect())
    }

    /// The newest active key of an algorithm: the one that signs.
    pub async fn active(&self, algorithm: KeyAlgorithm) -> Result<SigningKey> {
        let now = self.clock.now();
        self.store
            .list()
            .await?
            .into_iter()
            .filter(|k| k.algorithm == algorithm && k.status(now) == KeyStatus::Active)
            .max_by_key(|k| k.created_at)
            .ok_or_else(|| Error::not_found("active signing key"))
    }

    async fn generate(&self, algorithm: KeyAlgorithm) -> Result<SigningKey> {
        let now = self.clock.now();
        let policy = self.policy.clone();
        // RSA key generation takes tens to hundreds of milliseconds of CPU: keep it
        // off the async executor.
        tokio::task::spawn_blocking(move || generate_key(algorithm, now, &policy))
            .await
            .map_err(|e| Error::Internal(format!("key generation task failed: {e}")))?
    }
}

/// Generates a key of `algorithm`; its `kid` is the RFC 7638 JWK thumbprint, so the
/// same public key always gets the same id and ids never collide by accident.
pub fn generate_key(
    algorithm: KeyAlgorithm,
    now: OffsetDateTime,
    policy: &KeyRingPolicy,
) -> Result<SigningKey> {
    let pkey: PKey<Private> = match algorithm {
        KeyAlgorithm::RS256 => PKey::from_rsa(Rsa::generate(2048).map_err(crypto)?),
        KeyAlgorithm::ES256 => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(crypto)?;
            PKey::from_ec_key(EcKey::generate(&group).map_err(crypto)?)
        }
        KeyAlgorithm::EdDSA => PKey::generate_ed25519(),
    }
    .map_err(crypto)?;
    let certificate = match algorithm {
        KeyAlgorithm::RS256 => Some(self_signed_certificate(&pkey, now, policy)?),
        _ => None,
    };
    Ok(SigningKey {
        kid: jwk_thumbprint(&pkey, algorithm)?,
        algorithm,
        private_key: SecretBytes::new(pkey.private_key_to_pkcs8().map_err(crypto)?),
        public_key: pkey.public_key_to_der().map_err(crypto)?,
        certificate,
        created_at: now,
        retired_at: None,
        publish_until: None,
    })
}

/// RFC 7638 §3: SHA-256 over the required JWK members in lexicographic order, no
/// whitespace, base64url without padding.
fn jwk_thumbprint(pkey: &PKey<Private>, algorithm: KeyAlgorithm) -> Result<String> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let canonical = match algorithm {
        KeyAlgorithm::RS256 => {
            let rsa = pkey.rsa().map_err(crypto)?;
            format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                b64(&rsa.e().to_vec()),
                b64(&rsa.n().to_vec())
            )
        }
        KeyAlgorithm::ES256 => {
            let ec = pkey.ec_key().map_err(crypto)?;
            let mut ctx = BigNumContext::new().map_err(crypto)?;
            let (mut x, mut y) = (
                BigNum::new().map_err(crypto)?,
                BigNum::new().map_err(crypto)?,
            );
            ec.public_key()
                .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                .map_err(crypto)?;
            // RFC 7518 §6.2.1.2: coordinates are the full 32 bytes, left-padded.
            let x = x.to_vec_padded(32).map_err(crypto)?;
            let y = y.to_vec_padded(32).map_err(crypto)?;
            format!(
                r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
                b64(&x),
                b64(&y)
            )
        }
        KeyAlgorithm::EdDSA => {
            let raw = pkey.raw_public_key().map_err(crypto)?;
            format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, b64(&raw))
        }
    };
    Ok(b64(
        &hash(MessageDigest::sha256(), canonical.as_bytes()).map_err(crypto)?
    ))
}

fn self_signed_certificate(
    pkey: &PKey<Private>,
    now: OffsetDateTime,
    policy: &KeyRingPolicy,
) -> Result<Vec<u8>> {
    let mut name = X509NameBuilder::new().map_err(crypto)?;
    name.append_entry_by_nid(Nid::COMMONNAME, &policy.certificate_common_name)
        .map_err(crypto)?;
    let name = name.build();
    let mut serial = BigNum::new().map_err(crypto)?;
    // RFC 5280 §4.1.2.2: positive, at most 20 octets; 128 random bits.
    serial
        .rand(128, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .map_err(crypto)?;
    let not_before = openssl::asn1::Asn1Time::from_unix(now.unix_timestamp()).map_err(crypto)?;
    let not_after =
        openssl::asn1::Asn1Time::from_unix((now + policy.certificate_validity).unix_timestamp())
            .map_err(crypto)?;
    let mut builder = X509::builder().map_err(crypto)?;
    builder.set_version(2).map_err(crypto)?;
    let serial = serial.to_asn1_integer().map_err(crypto)?;
    builder.set_serial_number(&serial).map_err(crypto)?;
    builder.set_subject_name(&name).map_err(crypto)?;
    builder.set_issuer_name(&name).map_err(crypto)?;
    builder.set_not_before(&not_before).map_err(crypto)?;
    builder.set_not_after(&not_after).map_err(crypto)?;
    builder.set_pubkey(pkey).map_err(crypto)?;
    builder
        .sign(pkey, MessageDigest::sha256())
        .map_err(crypto)?;
    builder.build().to_der().map_err(crypto)
}

fn crypto(e: openssl::error::ErrorStack) -> Error {
    Error::Internal(format!("cryptography failed: {e}"))
}
