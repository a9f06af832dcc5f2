//! Identity and access: argon2id passwords for people, API keys for systems, and short-lived
//! JWTs signed with Ed25519 (algorithm pinned, `iss`, `aud`, `exp` and `nbf` enforced).

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::audit::{NoteSigner, VerifierKey};

/// The `iss` of every token.
pub const ISSUER: &str = "sluis";
/// The `aud` of every token.
pub const AUDIENCE: &str = "sluis-api";
/// How long a token lives, in seconds.
pub const TOKEN_TTL_SECS: i64 = 900;

/// What can go wrong with credentials or keys. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong user, password, key or token; deliberately not more specific.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The signing key file is unusable.
    #[error("signing key: {0}")]
    BadKey(String),
    /// Hashing failed.
    #[error("password hashing failed")]
    Hash,
}

/// A password or API key secret in memory. Wiped on drop, never printed.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret string.
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// What one password of a person becomes in the client (the browser, or `sluis` on the
/// command line), as a password manager stretches its master password: the **login
/// credential**, the only thing sent to the broker (which keeps an argon2id hash of it), and the
/// **seed of the person's own age identity**, which unwraps the organisation's identity and is
/// never sent anywhere. `k = scrypt(password, "sluis-person-v1:" ‖ login name, N=2^15, r=8, p=1)`;
/// the credential is `HKDF-SHA256(k, info "sluis login v1")` (base64url) and the seed
/// `HKDF-SHA256(k, info "sluis unwrap v1")`: independent outputs, so the credential yields
/// nothing of the seed. `web/src/person.ts` derives the same.
pub struct PersonSecrets {
    /// What the broker checks at login, in place of the password.
    pub login: Secret,
    seed: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for PersonSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PersonSecrets(<redacted>)")
    }
}

/// The salt prefix of [`PersonSecrets`]; the login name follows it.
pub const PERSON_SALT: &str = "sluis-person-v1:";

impl PersonSecrets {
    /// Stretches `password` of the person who logs in as `username`.
    pub fn derive(username: &str, password: &Secret) -> Result<Self, AuthError> {
        let params = scrypt::Params::new(15, 8, 1, 32).map_err(|_| AuthError::Hash)?;
        let mut stretched = Zeroizing::new([0u8; 32]);
        let salt = format!("{PERSON_SALT}{username}");
        scrypt::scrypt(
            password.expose().as_bytes(),
            salt.as_bytes(),
            &params,
            stretched.as_mut(),
        )
        .map_err(|_| AuthError::Hash)?;
        let expand = |info: &str| -> Result<Zeroizing<[u8; 32]>, AuthError> {
            let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &[]).extract(&*stretched);
            let mut out = Zeroizing::new([0u8; 32]);
            prk.expand(&[info.as_bytes()], ring::hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(out.as_mut()))
                .map_err(|_| AuthError::Hash)?;
            Ok(out)
        };
        let login = expand("sluis login v1")?;
        Ok(Self {
            login: Secret::new(B64URL.encode(*login)),
            seed: expand("sluis unwrap v1")?,
        })
    }

    /// The seed of the person's own age identity (`sealing::Identity::from_seed`).
    pub fn seed(&self) -> &[u8; 32] {
        &self.seed
    }
}

/// Hashes a password with argon2id (the crate's defaults: m=19 MiB, t=2, p=1) and a random salt.
pub fn hash_password(password: &Secret) -> Result<String, AuthError> {
    use argon2::PasswordHasher as _;
    use argon2::password_hash::SaltString;
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| AuthError::Hash)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| AuthError::Hash)?;
    argon2::Argon2::default()
        .hash_password(password.expose().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AuthError::Hash)
}

/// Checks a password against a stored hash. With no hash (unknown user) it still spends the
/// time of one verification, so timing does not tell which user names exist.
pub fn verify_password(password: &Secret, stored: Option<&str>) -> bool {
    use argon2::PasswordVerifier as _;
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2x1aXMtZHVtbXktc2FsdA$Z0d1v6t9n3Zb8cXo1m0bW7E2rQ0Qp8k9y0m6yQm0P5U";
    let hash = stored.unwrap_or(DUMMY);
    let Ok(parsed) = argon2::PasswordHash::new(hash) else {
        return false;
    };
    let ok = argon2::Argon2::default()
        .verify_password(password.expose().as_bytes(), &parsed)
        .is_ok();
    ok && stored.is_some()
}

/// Limits on failed logins against credential stuffing, counted per user and per source
/// address over a sliding window (from the access log, so every replica counts the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// The window failures are counted over, in seconds.
    pub window_secs: u64,
    /// From this many failures on, each attempt is slowed down.
    pub slow_after: i64,
    /// From this many failures on, attempts are refused until the window passes.
    pub refuse_after: i64,
    /// How long a slowed attempt waits, in milliseconds.
    pub delay_ms: u64,
    /// An address counts this many times the failures of one user before it is slowed and
    /// refused: an office behind one NAT address is not locked out by one person's typos,
    /// while a spray over many user names from one address still is.
    pub address_factor: i64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            window_secs: 900,
            slow_after: 5,
            refuse_after: 10,
            delay_ms: 1000,
            address_factor: 10,
        }
    }
}

/// What to do with a login attempt, given earlier failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginGate {
    /// Check the credentials.
    Open,
    /// Wait this long, then check them.
    Slow(std::time::Duration),
    /// Refuse without checking; try again after this many seconds.
    Refuse(u64),
}

impl LoginLimits {
    /// The gate for an attempt after `by_user` failures of the user and `by_source` failures
    /// from the address, within the window.
    pub fn gate(&self, by_user: i64, by_source: i64) -> LoginGate {
        let factor = self.address_factor.max(1);
        let reaches = |limit: i64| by_user >= limit || by_source >= limit.saturating_mul(factor);
        if reaches(self.refuse_after) {
            LoginGate::Refuse(self.window_secs)
        } else if reaches(self.slow_after) {
            LoginGate::Slow(std::time::Duration::from_millis(self.delay_ms))
        } else {
            LoginGate::Open
        }
    }
}

/// A freshly made API key: the id is stored in the clear, the secret only as a SHA-256 digest.
pub struct NewApiKey {
    /// Public key id (`key_id` column).
    pub id: String,
    /// The whole key as handed to the user once: `sluis_<id>_<secret>`.
    pub token: Secret,
    /// SHA-256 of the secret part, hex.
    pub digest: String,
}

impl fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewApiKey({}, <redacted>)", self.id)
    }
}

/// Makes a new API key with 256 bits of secret.
#[expect(
    clippy::expect_used,
    reason = "enrolment by an operator (CLI, demo), never a request path: without system randomness no key may be made at all"
)]
pub fn new_api_key() -> NewApiKey {
    let rng = SystemRandom::new();
    let mut id = [0u8; 8];
    let mut secret = Zeroizing::new([0u8; 32]);
    rng.fill(&mut id).expect("system randomness");
    rng.fill(secret.as_mut()).expect("system randomness");
    let id = id.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let secret = Zeroizing::new(B64URL.encode(secret.as_ref()));
    NewApiKey {
        digest: api_key_digest(&secret),
        token: Secret::new(format!("sluis_{id}_{}", secret.as_str())),
        id,
    }
}

/// Splits `sluis_<id>_<secret>` into the id and the digest of the secret.
pub fn parse_api_key(token: &Secret) -> Option<(String, String)> {
    let rest = token.expose().strip_prefix("sluis_")?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) || secret.len() < 32 {
        return None;
    }
    Some((id.to_owned(), api_key_digest(secret)))
}

fn api_key_digest(secret: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, secret.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares two digests in constant time.
pub fn digests_equal(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The claims of a Sluis access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer, always [`ISSUER`].
    pub iss: String,
    /// Audience, always [`AUDIENCE`].
    pub aud: String,
    /// User id.
    pub sub: String,
    /// Organisation id.
    pub org: String,
    /// The user's role.
    pub role: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expires (Unix seconds).
    pub exp: i64,
    /// Token id.
    pub jti: String,
}

/// The broker's token signing key (Ed25519). Never printed.
pub struct SigningKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pair: Ed25519KeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    kid: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(kid {}, <redacted>)", self.kid)
    }
}

impl SigningKey {
    /// A fresh key that lives only in memory (tokens die with the process).
    #[expect(
        clippy::expect_used,
        reason = "demo and tests only: a freshly generated key is valid"
    )]
    pub fn ephemeral() -> Self {
        let pkcs8 = Self::generate_pkcs8();
        Self::from_pkcs8_der(&pkcs8).expect("a fresh key is valid")
    }

    /// A new key as PKCS#8 DER, for `sluis keygen --kind signing`.
    #[expect(
        clippy::expect_used,
        reason = "key generation by an operator or at start-up, never a request path"
    )]
    pub fn generate_pkcs8() -> Zeroizing<Vec<u8>> {
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("system randomness");
        Zeroizing::new(doc.as_ref().to_vec())
    }

    /// The PEM text (`-----BEGIN PRIVATE KEY-----`) of a PKCS#8 key.
    pub fn to_pem(pkcs8: &[u8]) -> Zeroizing<String> {
        Zeroizing::new(pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.to_vec())))
    }

    /// Reads an Ed25519 PKCS#8 key from a PEM file (as written by `sluis keygen --kind signing`
    /// or `openssl genpkey -algorithm ed25519`).
    pub fn from_pem_file(path: &Path) -> Result<Self, AuthError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            AuthError::BadKey(format!("cannot read {}: {}", path.display(), e.kind()))
        })?);
        let parsed = pem::parse(text.as_bytes())
            .map_err(|_| AuthError::BadKey(format!("{} is not a PEM file", path.display())))?;
        let der = Zeroizing::new(parsed.into_contents());
        Self::from_pkcs8_der(&der)
    }

    /// The key as PKCS#8 DER (secret: for writing a key file).
    pub fn pkcs8(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// Reads an Ed25519 key from PKCS#8 DER (v1 or v2).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, AuthError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|_| AuthError::BadKey("not an Ed25519 PKCS#8 private key".into()))?;
        let public = pair.public_key().as_ref().to_vec();
        let kid: String = ring::digest::digest(&ring::digest::SHA256, &public).as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Self {
            encoding: EncodingKey::from_ed_der(der),
            decoding: DecodingKey::from_ed_der(&public),
            pair,
            pkcs8: Zeroizing::new(der.to_vec()),
            kid,
        })
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.pair.public_key().as_ref());
        out
    }

    /// The note verifier key of the access log signed with this key under `origin`.
    pub fn verifier_key(&self, origin: &str) -> VerifierKey {
        VerifierKey {
            name: origin.to_owned(),
            public_key: self.public_key(),
        }
    }

    /// Issues a token for a user of an organisation, valid for [`TOKEN_TTL_SECS`].
    pub fn issue(
        &self,
        user_id: &str,
        org: &str,
        role: &str,
        now: i64,
    ) -> Result<String, AuthError> {
        self.sign_claims(&Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id.into(),
            org: org.into(),
            role: role.into(),
            iat: now,
            nbf: now,
            exp: now + TOKEN_TTL_SECS,
            jti: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// Signs exactly these claims (EdDSA, with this key's `kid`).
    pub fn sign_claims(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|_| AuthError::BadKey("signing failed".into()))
    }

    /// Verifies a token: EdDSA only, our `iss` and `aud`, not expired, not before `nbf`.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[AUDIENCE]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        v.validate_nbf = true;
        v.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map(|d| d.claims)
            .map_err(|_| AuthError::InvalidCredentials)
    }
}

/// Signs access log checkpoints with the broker's key under the log's origin name.
#[derive(Debug)]
pub struct LogSigner<'a> {
    /// The broker's key.
    pub key: &'a SigningKey,
    /// The log's origin (the checkpoint's first line and the key name).
    pub origin: &'a str,
}

impl NoteSigner for LogSigner<'_> {
    fn name(&self) -> &str {
        self.origin
    }
    fn public_key(&self) -> [u8; 32] {
        self.key.public_key()
    }
    fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.key.pair.sign(message).as_ref());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_logins_count_per_user_and_per_address_apart() {
        let limits = LoginLimits::default();
        assert_eq!(limits.gate(4, 0), LoginGate::Open);
        assert!(matches!(limits.gate(5, 0), LoginGate::Slow(_)));
        assert_eq!(limits.gate(10, 0), LoginGate::Refuse(900));
        // One address: ten times a user's count before it is slowed or refused.
        assert_eq!(limits.gate(0, 49), LoginGate::Open);
        assert!(matches!(limits.gate(0, 50), LoginGate::Slow(_)));
        assert_eq!(
            limits.gate(0, 99),
            LoginGate::Slow(std::time::Duration::from_millis(1000))
        );
        assert_eq!(limits.gate(0, 100), LoginGate::Refuse(900));
    }

    #[test]
    fn failed_logins_first_slow_then_refuse() {
        let limits = LoginLimits {
            window_secs: 60,
            slow_after: 3,
            refuse_after: 6,
            delay_ms: 250,
            address_factor: 1,
        };
        assert_eq!(limits.gate(0, 2), LoginGate::Open);
        assert_eq!(
            limits.gate(3, 0),
            LoginGate::Slow(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            limits.gate(1, 5),
            LoginGate::Slow(std::time::Duration::from_millis(250))
        );
        assert_eq!(limits.gate(6, 0), LoginGate::Refuse(60));
        assert_eq!(limits.gate(0, 9), LoginGate::Refuse(60));
    }

    /// The same values `web/tests/unit/person.test.ts` expects of the browser's derivation.
    #[test]
    fn a_password_becomes_a_login_credential_and_an_identity_seed() {
        let secrets =
            PersonSecrets::derive("j.jansen", &Secret::new("correct horse battery".into()))
                .unwrap();
        let identity = crate::sealing::Identity::from_seed(secrets.seed()).unwrap();
        assert_eq!(
            secrets.login.expose(),
            "puTyAIJc66gQK3LXwi_iIHICenEkwclwfuUoEed7guw"
        );
        assert_eq!(
            identity.recipient().to_string(),
            "age188zyk86ywfv2wspn4e7a8lx3w8rs6urywclmtn268t7njegzmefscqavxs"
        );
        // Another login name, the same password: other secrets.
        let other =
            PersonSecrets::derive("p.pietersen", &Secret::new("correct horse battery".into()))
                .unwrap();
        assert_ne!(other.login.expose(), secrets.login.expose());
        assert_ne!(other.seed(), secrets.seed());
    }

    #[test]
    fn password_hash_verifies_only_the_right_password() {
        let pw = Secret::new("correct horse battery staple".into());
        let hash = hash_password(&pw).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&pw, Some(&hash)));
        assert!(!verify_password(&Secret::new("wrong".into()), Some(&hash)));
        assert!(!verify_password(&pw, None));
    }

    #[test]
    fn api_key_round_trips_and_rejects_garbage() {
        let key = new_api_key();
        let (id, digest) = parse_api_key(&key.token).unwrap();
        assert_eq!(id, key.id);
        assert!(digests_equal(&digest, &key.digest));
        assert!(parse_api_key(&Secret::new("sluis_nothex!!!!!!!!!!_x".into())).is_none());
        assert!(!format!("{key:?}").contains(key.token.expose()));
    }

    #[test]
    fn tokens_verify_only_with_the_issuing_key() {
        let key = SigningKey::ephemeral();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let token = key.issue("u1", "intermaris", "corporation", now).unwrap();
        let claims = key.verify(&token).unwrap();
        assert_eq!(claims.org, "intermaris");
        assert_eq!(claims.role, "corporation");
        assert!(SigningKey::ephemeral().verify(&token).is_err());
        let expired = key
            .issue("u1", "intermaris", "corporation", now - 3600)
            .unwrap();
        assert!(key.verify(&expired).is_err());
        let future = key
            .issue("u1", "intermaris", "corporation", now + 600)
            .unwrap();
        assert!(key.verify(&future).is_err());
    }

    #[test]
    fn signing_key_survives_pem_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let pkcs8 = SigningKey::generate_pkcs8();
        std::fs::write(&path, SigningKey::to_pem(&pkcs8).as_bytes()).unwrap();
        let a = SigningKey::from_pem_file(&path).unwrap();
        let b = SigningKey::from_pem_file(&path).unwrap();
        let token = a
            .issue(
                "u",
                "o",
                "care",
                time::OffsetDateTime::now_utc().unix_timestamp(),
            )
            .unwrap();
        assert!(b.verify(&token).is_ok());
    }
}
