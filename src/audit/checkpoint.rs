//! Signed checkpoints of the log in the C2SP signed-note format, and their verifier keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A signed checkpoint: the log's size and root at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Number of events covered.
    pub size: u64,
    /// Root hash.
    #[serde(with = "hex_array")]
    pub root: [u8; 32],
    /// Unix time of signing.
    pub time: i64,
    /// The whole signed note text.
    pub note: String,
}

mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(text).map_err(serde::de::Error::custom)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a hash has 32 bytes"))
    }
}

/// Something that signs checkpoints with Ed25519.
pub trait NoteSigner {
    /// The key's name (the log origin).
    fn name(&self) -> &str;
    /// The raw 32-byte public key.
    fn public_key(&self) -> [u8; 32];
    /// Ed25519 signature of `message`.
    fn sign(&self, message: &[u8]) -> [u8; 64];
}

/// A note verifier key: the name and public key of a checkpoint signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    /// Key name (the log origin).
    pub name: String,
    /// Raw Ed25519 public key.
    pub public_key: [u8; 32],
}

impl VerifierKey {
    /// The 4-byte key id: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[..4].
    pub fn key_id(&self) -> [u8; 4] {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update(b"\n");
        h.update([0x01]);
        h.update(self.public_key);
        let d = h.finalize();
        [d[0], d[1], d[2], d[3]]
    }

    /// The C2SP vkey text: `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
    pub fn to_vkey(&self) -> String {
        let mut body = vec![0x01];
        body.extend_from_slice(&self.public_key);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            BASE64.encode(body)
        )
    }

    /// Parses a vkey text.
    pub fn from_vkey(text: &str) -> Option<Self> {
        // The name holds no `+`; the base64 key data may.
        let mut parts = text.trim().splitn(3, '+');
        let name = parts.next()?.to_owned();
        let id = hex::decode(parts.next()?).ok()?;
        let body = BASE64.decode(parts.next()?).ok()?;
        if body.len() != 33 || body[0] != 0x01 {
            return None;
        }
        let mut public_key = [0u8; 32];
        public_key.copy_from_slice(&body[1..]);
        let key = Self { name, public_key };
        (key.key_id().as_slice() == id.as_slice()).then_some(key)
    }
}

/// Writes and signs a checkpoint note:
/// `<origin>\n<size>\n<base64 root>\ntime <unix>\n\n— <name> <base64(key id ‖ signature)>\n`.
pub fn sign_checkpoint(
    signer: &dyn NoteSigner,
    size: u64,
    root: &[u8; 32],
    time: i64,
) -> Checkpoint {
    let body = format!(
        "{}\n{size}\n{}\ntime {time}\n",
        signer.name(),
        BASE64.encode(root)
    );
    let note = sign_note(signer, &body);
    Checkpoint {
        origin: signer.name().to_owned(),
        size,
        root: *root,
        time,
        note,
    }
}

/// Signs any note body (its lines, each ending in `\n`) as a C2SP signed note under the
/// signer's name: the same signature line as a checkpoint's, so the log's verifier key checks it.
pub fn sign_note(signer: &dyn NoteSigner, body: &str) -> String {
    let key = VerifierKey {
        name: signer.name().to_owned(),
        public_key: signer.public_key(),
    };
    let mut sig = key.key_id().to_vec();
    sig.extend_from_slice(&signer.sign(body.as_bytes()));
    format!(
        "{body}\n\u{2014} {} {}\n",
        signer.name(),
        BASE64.encode(sig)
    )
}

/// The body of a signed note whose signature by one of `keys` verifies (its first line must be
/// the key's name).
pub fn open_note(note: &str, keys: &[VerifierKey]) -> Result<String, NoteError> {
    let (body, sigs) = split_note(note)?;
    let first = body.lines().next().unwrap_or_default();
    if keys
        .iter()
        .any(|key| key.name == first && signed_by(&body, sigs, key))
    {
        Ok(body)
    } else {
        Err(NoteError::BadSignature)
    }
}

/// A note's body (with its final newline) and its signature lines.
fn split_note(note: &str) -> Result<(String, &str), NoteError> {
    let (body, sigs) = note
        .split_once("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    Ok((format!("{body}\n"), sigs))
}

/// Whether one of the signature lines is `key`'s valid signature of `body`.
fn signed_by(body: &str, sigs: &str, key: &VerifierKey) -> bool {
    let prefix = format!("\u{2014} {} ", key.name);
    sigs.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .any(|sig| {
            BASE64.decode(sig).is_ok_and(|raw| {
                raw.len() == 68
                    && raw[..4] == key.key_id()
                    && ring::signature::UnparsedPublicKey::new(
                        &ring::signature::ED25519,
                        key.public_key,
                    )
                    .verify(body.as_bytes(), &raw[4..])
                    .is_ok()
            })
        })
}

/// Why a checkpoint note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Not in the signed-note checkpoint format.
    #[error("not a checkpoint note: {0}")]
    Malformed(&'static str),
    /// No signature by this key, or the signature does not verify.
    #[error("signature invalid")]
    BadSignature,
}

/// Parses a checkpoint note signed by any of `keys` (the current key and those rotated out).
pub fn open_checkpoint_any(note: &str, keys: &[VerifierKey]) -> Result<Checkpoint, NoteError> {
    let mut last = NoteError::BadSignature;
    for key in keys {
        match open_checkpoint(note, key) {
            Ok(cp) => return Ok(cp),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Parses a checkpoint note and verifies its signature by `key`.
pub fn open_checkpoint(note: &str, key: &VerifierKey) -> Result<Checkpoint, NoteError> {
    let (body, sigs) = split_note(note)?;
    let mut lines = body.lines();
    let origin = lines
        .next()
        .ok_or(NoteError::Malformed("no origin"))?
        .to_owned();
    let size: u64 = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or(NoteError::Malformed("no tree size"))?;
    let root: [u8; 32] = lines
        .next()
        .and_then(|l| BASE64.decode(l).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or(NoteError::Malformed("no root hash"))?;
    let time: i64 = lines
        .next()
        .and_then(|l| l.strip_prefix("time "))
        .and_then(|t| t.parse().ok())
        .ok_or(NoteError::Malformed("no time line"))?;
    if !signed_by(&body, sigs, key) || origin != key.name {
        return Err(NoteError::BadSignature);
    }
    Ok(Checkpoint {
        origin,
        size,
        root,
        time,
        note: note.to_owned(),
    })
}
