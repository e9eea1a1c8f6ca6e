//! The master key and AES-256-GCM sealing of secrets at rest (signing keys).
//!
//! Sealed form: `version (1) || nonce (12) || ciphertext || tag (16)`. The version
//! byte leaves room for another algorithm or key-wrapping scheme later; the caller's
//! associated data (the key id) is authenticated, so a sealed private key copied
//! into another row fails to open instead of signing under the wrong `kid`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use usher_core::{Error, Result, SecretBytes};

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const VERSION_AES256_GCM: u8 = 1;

/// The 32-byte key that seals secrets at rest. `Debug` shows only its fingerprint.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey(SecretBytes);

impl MasterKey {
    /// Wraps raw key bytes; they must be exactly 32 bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        if bytes.len() != KEY_LEN {
            return Err(Error::Invalid(format!(
                "the master key must be exactly {KEY_LEN} bytes, got {}",
                bytes.len()
            )));
        }
        Ok(Self(SecretBytes::new(bytes)))
    }

    /// Parses standard base64 (surrounding whitespace, such as a file's trailing
    /// newline, is ignored).
    pub fn from_base64(text: &str) -> Result<Self> {
        let invalid = || {
            Error::Invalid(
                "the master key must be 32 bytes in standard base64 \
                 (for example from `openssl rand -base64 32`)"
                    .into(),
            )
        };
        // Decode into a zeroized buffer: the decoded bytes are the secret itself.
        let bytes = SecretBytes::new(STANDARD.decode(text.trim()).map_err(|_| invalid())?);
        if bytes.expose().len() != KEY_LEN {
            return Err(invalid());
        }
        Ok(Self(bytes))
    }

    /// A fresh random key from the OS CSPRNG (through OpenSSL).
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; KEY_LEN];
        // rand_bytes only fails when OpenSSL's CSPRNG cannot be seeded; a key from a
        // broken RNG would be worse than stopping.
        openssl::rand::rand_bytes(&mut bytes).expect("OpenSSL CSPRNG is unavailable");
        Self(SecretBytes::new(bytes))
    }

    /// The key in standard base64, to be written to the master key file.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.expose())
    }

    /// Identifies the key without revealing it: the first 8 bytes of its SHA-256, in
    /// hex (16 characters). Stored next to every sealed secret.
    pub fn fingerprint(&self) -> String {
        let digest = openssl::sha::sha256(self.0.expose());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Encrypts and authenticates `plaintext`, binding it to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        // A random 96-bit nonce per seal: far below the 2^32 seals per key at which
        // NIST SP 800-38D §8.3 starts to worry about collisions.
        openssl::rand::rand_bytes(&mut nonce).map_err(|e| internal("rand", &e))?;
        let mut tag = [0u8; TAG_LEN];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            self.0.expose(),
            Some(&nonce),
            aad,
            plaintext,
            &mut tag,
        )
        .map_err(|e| internal("seal", &e))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len() + TAG_LEN);
        out.push(VERSION_AES256_GCM);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    /// Decrypts what [`seal`](Self::seal) produced with the same `aad`. Fails with
    /// [`Error::Invalid`] when the bytes are malformed, were sealed under another key
    /// or with other associated data, or were tampered with (the three cannot be told
    /// apart, by design of GCM).
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<SecretBytes> {
        let rejected = || Error::Invalid("sealed secret cannot be opened with this key".into());
        let (&version, rest) = sealed.split_first().ok_or_else(rejected)?;
        if version != VERSION_AES256_GCM || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(rejected());
        }
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            self.0.expose(),
            Some(nonce),
            aad,
            ciphertext,
            tag,
        )
        .map(SecretBytes::new)
        .map_err(|_| rejected())
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(fingerprint {})", self.fingerprint())
    }
}

fn internal(what: &str, e: &openssl::error::ErrorStack) -> Error {
    Error::Internal(format!("AES-256-GCM {what} failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"private", b"kid-1").expect("seals");
        assert_eq!(
            key.open(&sealed, b"kid-1").expect("opens").expose(),
            b"private"
        );
        // A sealed key moved to another row (other kid) must not open.
        assert!(key.open(&sealed, b"kid-2").is_err());
        assert!(MasterKey::generate().open(&sealed, b"kid-1").is_err());
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(key.open(&tampered, b"kid-1").is_err());
        assert!(key.open(&[], b"kid-1").is_err());
    }

    #[test]
    fn base64_and_fingerprint() {
        let key = MasterKey::generate();
        let again = MasterKey::from_base64(&format!("{}\n", key.to_base64())).expect("parses");
        assert_eq!(key, again);
        assert_eq!(key.fingerprint().len(), 16);
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_bytes(vec![0; 31]).is_err());
        let shown = format!("{key:?}");
        assert!(!shown.contains(&key.to_base64()));
    }
}
