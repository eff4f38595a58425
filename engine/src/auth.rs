//! Users, their SCRAM-SHA-256 verifiers and what they may read.
//!
//! A password is never stored: the configuration holds a verifier in
//! PostgreSQL's format (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
//! RFC 5802 / RFC 7677), so a verifier taken from PostgreSQL's `pg_authid`
//! works here and one made by `almasql password` works in PostgreSQL.
//! pgwire's own SCRAM handler needs the salted password itself (which is as
//! good as the password for logging in); this module keeps only the two keys
//! and checks a client's proof against them.

use std::fmt;
use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};

/// The mechanism name and verifier prefix.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";
/// Iterations of new verifiers (PostgreSQL's default).
pub const DEFAULT_ITERATIONS: u32 = 4096;
const SALT_LEN: usize = 16;

/// A SCRAM-SHA-256 verifier: what the server keeps instead of a password.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    /// PBKDF2 iterations.
    pub iterations: u32,
    /// The salt.
    pub salt: Vec<u8>,
    /// `H(HMAC(SaltedPassword, "Client Key"))`.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`.
    pub server_key: Vec<u8>,
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// Why a verifier string was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a SCRAM-SHA-256 verifier ({0}); make one with `almasql password`")]
pub struct BadVerifier(&'static str);

impl ScramVerifier {
    /// Parses PostgreSQL's `SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>`.
    pub fn parse(text: &str) -> Result<Self, BadVerifier> {
        let rest = text
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or(BadVerifier("it must start with `SCRAM-SHA-256$`"))?;
        let (params, keys) = rest
            .split_once('$')
            .ok_or(BadVerifier("missing `$` before the keys"))?;
        let (iterations, salt) = params
            .split_once(':')
            .ok_or(BadVerifier("missing `:` between iterations and salt"))?;
        let (stored_key, server_key) = keys
            .split_once(':')
            .ok_or(BadVerifier("missing `:` between the keys"))?;
        let iterations: u32 = iterations
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(BadVerifier("iterations must be a positive integer"))?;
        let decode = |s: &str, what| BASE64.decode(s).map_err(|_| BadVerifier(what));
        let salt = decode(salt, "the salt is not base64")?;
        let stored_key = decode(stored_key, "StoredKey is not base64")?;
        let server_key = decode(server_key, "ServerKey is not base64")?;
        if stored_key.len() != 32 || server_key.len() != 32 {
            return Err(BadVerifier("the keys must be 32 bytes"));
        }
        Ok(Self {
            iterations,
            salt,
            stored_key,
            server_key,
        })
    }

    /// Makes a verifier for `password` with a random salt.
    pub fn from_password(password: &str, iterations: u32) -> Self {
        let mut salt = vec![0u8; SALT_LEN];
        ring::rand::SystemRandom::new()
            .fill(&mut salt)
            .expect("the system random number generator works");
        Self::with_salt(password, salt, iterations)
    }

    /// Makes a verifier for `password` with the given salt.
    pub fn with_salt(password: &str, salt: Vec<u8>, iterations: u32) -> Self {
        let salted = salted_password(password, &salt, iterations);
        let client_key = hmac_sha256(&salted, b"Client Key");
        Self {
            iterations,
            stored_key: digest::digest(&digest::SHA256, &client_key)
                .as_ref()
                .to_vec(),
            server_key: hmac_sha256(&salted, b"Server Key"),
            salt,
        }
    }

    /// Checks a client proof for `auth_message`; on success returns the
    /// server signature to send back.
    pub fn verify_proof(&self, auth_message: &[u8], client_proof: &[u8]) -> Option<Vec<u8>> {
        if client_proof.len() != self.stored_key.len() {
            return None;
        }
        let client_signature = hmac_sha256(&self.stored_key, auth_message);
        let client_key: Vec<u8> = client_proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let computed = digest::digest(&digest::SHA256, &client_key);
        // compared without an early exit
        let difference = computed
            .as_ref()
            .iter()
            .zip(&self.stored_key)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (difference == 0).then(|| hmac_sha256(&self.server_key, auth_message))
    }
}

impl fmt::Display for ScramVerifier {
    /// PostgreSQL's text form, as stored in `pg_authid.rolpassword`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(&self.stored_key),
            BASE64.encode(&self.server_key)
        )
    }
}

/// `Hi(password, salt, i)` of RFC 5802 (PBKDF2 with HMAC-SHA-256).
///
/// The password is used as given; SASLprep of non-ASCII passwords is not
/// applied (ASCII passwords are unaffected).
fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(iterations).expect("iterations > 0"),
        salt,
        password.as_bytes(),
        &mut out,
    );
    out
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&key, message).as_ref().to_vec()
}

/// A random base64 nonce for the server-first message.
pub fn server_nonce() -> String {
    let mut bytes = [0u8; 18];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random number generator works");
    BASE64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 §3: user "user", password "pencil", salt
    /// "W22ZaJ0SNY7soEsUEjb6gQ==", 4096 iterations; the client proof and
    /// server signature of the example exchange.
    #[test]
    fn rfc7677_example_exchange() {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let verifier = ScramVerifier::with_salt("pencil", salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let proof = BASE64
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .unwrap();
        let signature = verifier
            .verify_proof(auth_message.as_bytes(), &proof)
            .expect("the RFC's proof is accepted");
        assert_eq!(
            BASE64.encode(signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        let mut wrong = proof.clone();
        wrong[0] ^= 1;
        assert!(
            verifier
                .verify_proof(auth_message.as_bytes(), &wrong)
                .is_none()
        );
    }

    #[test]
    fn text_form_round_trips_and_bad_forms_are_named() {
        let v = ScramVerifier::from_password("secret", DEFAULT_ITERATIONS);
        let text = v.to_string();
        assert!(text.starts_with("SCRAM-SHA-256$4096:"));
        assert_eq!(ScramVerifier::parse(&text).unwrap(), v);
        assert!(!format!("{v:?}").contains(&BASE64.encode(&v.stored_key)));
        for bad in [
            "secret",
            "md5abcdef",
            "SCRAM-SHA-256$4096:c2FsdA==",
            "SCRAM-SHA-256$0:c2FsdA==$a:b",
            "SCRAM-SHA-256$4096:c2FsdA==$!!:b",
            "SCRAM-SHA-256$4096:c2FsdA==$YQ==:YQ==",
        ] {
            assert!(ScramVerifier::parse(bad).is_err(), "{bad}");
        }
    }
}
