//! Ed25519 signatures of destruction records and log entries, with the
//! maintained `ed25519-dalek` crate (no hand-written cryptography). Keys are
//! files of hex: the secret key (32 bytes, written mode 0600) and
//! `<file>.pub` (the public key, 32 bytes).

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

use crate::error::{NsfError, Result};
use crate::lineage::destroy_record::Signature;

/// Writes a new key pair: the secret key to `out`, the public key to
/// `out.pub`; an existing file is never replaced.
pub fn keygen(out: &Path) -> Result<(PathBuf, PathBuf)> {
    use rand::RngCore;
    use std::io::Write;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let key = SigningKey::from_bytes(&seed);
    let public = PathBuf::from(format!("{}.pub", out.display()));
    for p in [out, public.as_path()] {
        if p.exists() {
            return Err(NsfError::param(
                "--out",
                format!("{} exists; a key is never replaced", p.display()),
            ));
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(out).map_err(|e| NsfError::io(out, e))?;
    f.write_all(format!("{}\n", hex::encode(seed)).as_bytes())
        .map_err(|e| NsfError::io(out, e))?;
    let pk = hex::encode(key.verifying_key().to_bytes());
    std::fs::write(&public, format!("{pk}\n")).map_err(|e| NsfError::io(&public, e))?;
    Ok((out.to_path_buf(), public))
}

fn hex32(text: &str, what: &str) -> std::result::Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("{what} is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| format!("{what} is not 32 bytes"))
}

/// Reads the secret key file given to `flag`.
pub fn load_signing_key(path: &Path, flag: &str) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| NsfError::param(flag, format!("cannot read {}: {e}", path.display())))?;
    let seed =
        hex32(&text, &format!("{}", path.display())).map_err(|m| NsfError::param(flag, m))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A public key given as a file of hex or as hex itself.
pub fn load_public_key(arg: &str) -> Result<String> {
    let text = match std::fs::read_to_string(arg) {
        Ok(t) => t,
        Err(_) => arg.to_string(),
    };
    let bytes = hex32(&text, "--public-key").map_err(|m| NsfError::param("--public-key", m))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|e| NsfError::param("--public-key", format!("not an Ed25519 key: {e}")))?;
    Ok(hex::encode(bytes))
}

/// Signs the ASCII `digest`.
pub fn sign(key: &SigningKey, digest: &str) -> Signature {
    Signature {
        algorithm: "ed25519".into(),
        public_key: hex::encode(key.verifying_key().to_bytes()),
        signature: hex::encode(key.sign(digest.as_bytes()).to_bytes()),
    }
}

/// Checks `sig` over `digest`, and that it is by `trusted` when given.
pub fn check(
    sig: &Signature,
    digest: &str,
    trusted: Option<&str>,
) -> std::result::Result<(), String> {
    if sig.algorithm != "ed25519" {
        return Err(format!("unknown signature algorithm `{}`", sig.algorithm));
    }
    if let Some(t) = trusted
        && t != sig.public_key
    {
        return Err(format!(
            "signed by key {}, not by the trusted key {t}",
            sig.public_key
        ));
    }
    let pk = hex32(&sig.public_key, "the signature's public key")?;
    let key = VerifyingKey::from_bytes(&pk).map_err(|e| format!("bad public key: {e}"))?;
    let raw: [u8; 64] = hex::decode(&sig.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the signature is not 64 bytes of hex")?;
    key.verify(
        digest.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&raw),
    )
    .map_err(|_| "the signature does not match the content (edited after signing)".to_string())
}
