//! Sealing: the only place in Sluis that encrypts (verzegelen).
//!
//! Every field becomes one standard age file (X25519 recipients) sealed to exactly the
//! organisations entitled to it. The broker calls [`seal`]; it never holds an identity, so it
//! never calls [`open`] — that is for the organisations' own clients.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use zeroize::Zeroizing;

/// A field value in the clear. Wiped from memory when dropped; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Plaintext(Zeroizing<Vec<u8>>);

impl Plaintext {
    /// Takes ownership of the bytes; they are wiped when the plaintext is dropped.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The bytes in the clear.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext(<redacted, {} bytes>)", self.0.len())
    }
}

/// An organisation's public key (age X25519 recipient, `age1…`), as registered by an admin.
#[derive(Clone, PartialEq, Eq)]
pub struct Recipient(age::x25519::Recipient);

impl FromStr for Recipient {
    type Err = SealError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<age::x25519::Recipient>()
            .map(Recipient)
            .map_err(|_| SealError::BadRecipient)
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({})", self.0)
    }
}

/// An organisation's private key (age X25519 identity). Only clients hold one.
pub struct Identity(age::x25519::Identity);

impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Self {
        Self(age::x25519::Identity::generate())
    }

    /// Reads an identity file as written by `age-keygen` or [`Identity::to_file_text`]:
    /// comment lines start with `#`; the first `AGE-SECRET-KEY-1…` line is the identity.
    pub fn from_file_text(text: &str) -> Result<Self, SealError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or(SealError::BadIdentity)?;
        line.parse::<age::x25519::Identity>()
            .map(Identity)
            .map_err(|_| SealError::BadIdentity)
    }

    /// The X25519 identity whose secret scalar is `seed` (a person's, from
    /// `auth::PersonSecrets`): the same `AGE-SECRET-KEY-1…` any age implementation reads.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, SealError> {
        use bech32::ToBase32 as _;
        use zeroize::Zeroize as _;
        let mut lower =
            bech32::encode("age-secret-key-", seed.to_base32(), bech32::Variant::Bech32)
                .map_err(|_| SealError::BadIdentity)?;
        let text = Zeroizing::new(lower.to_uppercase());
        lower.zeroize();
        text.parse::<age::x25519::Identity>()
            .map(Identity)
            .map_err(|_| SealError::BadIdentity)
    }

    /// This identity's file, sealed to one person's own `recipient`: the organisation's
    /// identity wrapped for a member (`person_keys`), which only that person can open.
    pub fn wrapped_for(&self, recipient: &Recipient, created: &str) -> Result<Vec<u8>, SealError> {
        let text = self.to_file_text(created);
        seal(
            &Plaintext::new(text.as_bytes().to_vec()),
            std::slice::from_ref(recipient),
        )
    }

    /// The public half, to register with the broker.
    pub fn recipient(&self) -> Recipient {
        Recipient(self.0.to_public())
    }

    /// The identity file in `age-keygen` layout. Holds the secret: write it with care.
    pub fn to_file_text(&self, created: &str) -> Zeroizing<String> {
        use age::secrecy::ExposeSecret;
        Zeroizing::new(format!(
            "# created: {created}\n# public key: {}\n{}\n",
            self.0.to_public(),
            self.0.to_string().expose_secret()
        ))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity(<redacted>, public {})", self.0.to_public())
    }
}

/// What can go wrong while sealing or opening. Never carries plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Sealing to nobody would make the field unreadable forever; it is refused.
    #[error("no recipients to seal to")]
    NoRecipients,
    /// A recipient string is not an age X25519 recipient.
    #[error("not an age X25519 recipient (age1…)")]
    BadRecipient,
    /// An identity file holds no usable age X25519 identity.
    #[error("not an age X25519 identity file (AGE-SECRET-KEY-1…)")]
    BadIdentity,
    /// age refused to encrypt.
    #[error("age encryption failed")]
    Encrypt,
    /// The ciphertext is not an age file sealed to this identity, or it was altered.
    #[error("cannot open: not sealed to this identity, or altered")]
    Open,
    /// The thread sealing a batch stopped before it finished.
    #[error("the sealing task did not finish")]
    Interrupted,
}

/// Seals one plaintext as one age file to exactly `recipients`.
pub fn seal(plaintext: &Plaintext, recipients: &[Recipient]) -> Result<Vec<u8>, SealError> {
    if recipients.is_empty() {
        return Err(SealError::NoRecipients);
    }
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| &r.0 as &dyn age::Recipient))
            .map_err(|_| SealError::Encrypt)?;
    let mut out = Vec::with_capacity(plaintext.len() + 200 * recipients.len() + 64);
    let mut writer = encryptor
        .wrap_output(&mut out)
        .map_err(|_| SealError::Encrypt)?;
    writer
        .write_all(plaintext.expose())
        .map_err(|_| SealError::Encrypt)?;
    writer.finish().map_err(|_| SealError::Encrypt)?;
    Ok(out)
}

/// Seals a document as it streams in: one age file to exactly `recipients`, without holding
/// the whole plaintext (age encrypts in 64 KiB chunks) or, if the caller takes the ciphertext
/// as it is produced (`take_sealed`), the whole age file.
pub struct StreamSealer {
    writer: age::stream::StreamWriter<Sink>,
    sealed: Sink,
    written: usize,
}

/// Where the age file is written: shared with the sealer's owner, who takes it in pieces.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for StreamSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamSealer({} bytes in)", self.written)
    }
}

impl StreamSealer {
    /// Starts an age file to `recipients`.
    pub fn new(recipients: &[Recipient]) -> Result<Self, SealError> {
        if recipients.is_empty() {
            return Err(SealError::NoRecipients);
        }
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| &r.0 as &dyn age::Recipient))
                .map_err(|_| SealError::Encrypt)?;
        let sealed = Sink::default();
        let writer = encryptor
            .wrap_output(sealed.clone())
            .map_err(|_| SealError::Encrypt)?;
        Ok(Self {
            writer,
            sealed,
            written: 0,
        })
    }

    /// Encrypts the next piece of plaintext.
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), SealError> {
        self.written += chunk.len();
        self.writer.write_all(chunk).map_err(|_| SealError::Encrypt)
    }

    /// Plaintext bytes written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Bytes of the age file produced and not yet taken.
    pub fn sealed_len(&self) -> usize {
        self.sealed.lock().len()
    }

    /// Takes the next at most `max` bytes of the age file produced so far. The buffer keeps
    /// its allocation for what comes next.
    pub fn take_sealed(&mut self, max: usize) -> Vec<u8> {
        let mut sealed = self.sealed.lock();
        let n = max.min(sealed.len());
        sealed.drain(..n).collect()
    }

    /// Finishes the age file and returns what was not taken yet (all of it if nothing was).
    pub fn finish(self) -> Result<Vec<u8>, SealError> {
        let sealed = self.writer.finish().map_err(|_| SealError::Encrypt)?;
        Ok(std::mem::take(&mut *sealed.lock()))
    }
}

/// One unit of sealing work: a plaintext and the recipients it is for.
#[derive(Debug)]
pub struct SealJob {
    /// The value in the clear; wiped when the job is dropped.
    pub plaintext: Plaintext,
    /// Exactly the organisations entitled to it.
    pub recipients: Vec<Recipient>,
}

/// Seals many fields at once on all cores (rayon), returning ciphertexts in job order.
/// CPU-bound: call it from a blocking thread, never on an async worker.
pub fn seal_all(jobs: Vec<SealJob>) -> Result<Vec<Vec<u8>>, SealError> {
    jobs.into_par_iter()
        .map(|job| seal(&job.plaintext, &job.recipients))
        .collect()
}

/// Seals many fields on the blocking pool (all cores), never on an async worker; ciphertexts
/// in job order.
pub async fn seal_off_thread(jobs: Vec<SealJob>) -> Result<Vec<Vec<u8>>, SealError> {
    let count = jobs.len();
    let sealed = tokio::task::spawn_blocking(move || seal_all(jobs))
        .await
        .map_err(|_| SealError::Interrupted)??;
    crate::telemetry::record_sealed(count);
    Ok(sealed)
}

/// Opens an age file with an organisation's identity (client side).
pub fn open(ciphertext: &[u8], identity: &Identity) -> Result<Plaintext, SealError> {
    let decryptor = age::Decryptor::new(ciphertext).map_err(|_| SealError::Open)?;
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity.0 as &dyn age::Identity))
        .map_err(|_| SealError::Open)?;
    let mut out = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    reader.read_to_end(&mut out).map_err(|_| SealError::Open)?;
    Ok(Plaintext(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_field_opens_only_for_its_recipients() {
        let a = Identity::generate();
        let b = Identity::generate();
        let outsider = Identity::generate();
        let sealed = seal(
            &Plaintext::new(b"Jan de Vries".to_vec()),
            &[a.recipient(), b.recipient()],
        )
        .unwrap();
        assert_eq!(open(&sealed, &a).unwrap().expose(), b"Jan de Vries");
        assert_eq!(open(&sealed, &b).unwrap().expose(), b"Jan de Vries");
        assert!(matches!(open(&sealed, &outsider), Err(SealError::Open)));
        assert!(!sealed.windows(12).any(|w| w == b"Jan de Vries"));
    }

    #[test]
    fn a_streamed_document_opens_like_a_sealed_one() {
        let id = Identity::generate();
        let mut sealer = StreamSealer::new(&[id.recipient()]).unwrap();
        let part = vec![7u8; 100_000];
        sealer.write(&part).unwrap();
        sealer.write(&part).unwrap();
        assert_eq!(sealer.written(), 200_000);
        let sealed = sealer.finish().unwrap();
        assert_eq!(
            open(&sealed, &id).unwrap().expose(),
            vec![7u8; 200_000].as_slice()
        );
    }

    #[test]
    fn a_streamed_age_file_taken_in_pieces_is_the_whole_file() {
        let id = Identity::generate();
        let mut sealer = StreamSealer::new(&[id.recipient()]).unwrap();
        let mut pieces = Vec::new();
        for i in 0..10u8 {
            sealer.write(&[i; 50_000]).unwrap();
            pieces.push(sealer.take_sealed(40_000));
        }
        // age writes a 64 KiB chunk as soon as it is full: the pieces come while streaming,
        // none larger than asked for.
        assert!(pieces.iter().all(|p| p.len() <= 40_000));
        assert!(pieces.iter().filter(|p| p.len() == 40_000).count() >= 6);
        assert!(sealer.sealed_len() > 0);
        pieces.push(sealer.take_sealed(usize::MAX));
        assert_eq!(sealer.sealed_len(), 0);
        pieces.push(sealer.finish().unwrap());
        let whole: Vec<u8> = pieces.concat();
        let expected: Vec<u8> = (0..10u8).flat_map(|i| [i; 50_000]).collect();
        assert_eq!(open(&whole, &id).unwrap().expose(), expected.as_slice());
    }

    #[test]
    fn sealing_to_nobody_is_refused() {
        assert!(matches!(
            seal(&Plaintext::new(b"x".to_vec()), &[]),
            Err(SealError::NoRecipients)
        ));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let id = Identity::generate();
        let text = id.to_file_text("2026-01-01T00:00:00Z");
        let secret_line = text.lines().last().unwrap().to_owned();
        assert!(secret_line.starts_with("AGE-SECRET-KEY-1"));
        assert!(!format!("{id:?}").contains(&secret_line));
        let p = Plaintext::new(b"geheim-123".to_vec());
        assert_eq!(format!("{p:?}"), "Plaintext(<redacted, 10 bytes>)");
    }

    #[test]
    fn identity_file_round_trips() {
        let id = Identity::generate();
        let text = id.to_file_text("2026-01-01T00:00:00Z");
        let back = Identity::from_file_text(&text).unwrap();
        assert_eq!(back.recipient(), id.recipient());
        assert!(matches!(
            Identity::from_file_text("# only a comment\n"),
            Err(SealError::BadIdentity)
        ));
    }
}
