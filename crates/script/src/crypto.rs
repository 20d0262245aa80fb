//! The Rust half of the `crypto` subset: digests, HMACs, encodings and randomness. The JavaScript
//! half (`js/sandbox.js`) shapes them like Node's `crypto` module.
//!
//! Bytes cross the boundary as text: a chunk is `s` + a string (hashed as UTF-8, Node's
//! default) or `x` + hex. That keeps the natives to plain strings and needs no typed-array
//! bindings.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Digest;

/// Decodes the chunks described in the module doc into one byte string.
pub(crate) fn join_chunks(chunks: &[String]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for c in chunks {
        if let Some(text) = c.strip_prefix('s') {
            out.extend_from_slice(text.as_bytes());
        } else if let Some(hex) = c.strip_prefix('x') {
            out.extend(from_hex(hex)?);
        } else if !c.is_empty() {
            return Err("malformed data chunk".to_owned());
        }
    }
    Ok(out)
}

fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // `new_from_slice` accepts keys of any length for HMAC; the error arm is unreachable in
    // practice but is still handled rather than unwrapped.
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The digest (or, with a key, the HMAC) of `data` with the algorithm `alg`.
pub(crate) fn digest(alg: &str, key: Option<&[u8]>, data: &[u8]) -> Result<Vec<u8>, String> {
    Ok(match (alg, key) {
        ("md5", None) => md5::Md5::digest(data).to_vec(),
        ("sha1", None) => sha1::Sha1::digest(data).to_vec(),
        ("sha224", None) => sha2::Sha224::digest(data).to_vec(),
        ("sha256", None) => sha2::Sha256::digest(data).to_vec(),
        ("sha384", None) => sha2::Sha384::digest(data).to_vec(),
        ("sha512", None) => sha2::Sha512::digest(data).to_vec(),
        ("md5", Some(k)) => hmac::<Hmac<md5::Md5>>(k, data),
        ("sha1", Some(k)) => hmac::<Hmac<sha1::Sha1>>(k, data),
        ("sha224", Some(k)) => hmac::<Hmac<sha2::Sha224>>(k, data),
        ("sha256", Some(k)) => hmac::<Hmac<sha2::Sha256>>(k, data),
        ("sha384", Some(k)) => hmac::<Hmac<sha2::Sha384>>(k, data),
        ("sha512", Some(k)) => hmac::<Hmac<sha2::Sha512>>(k, data),
        _ => return Err("Digest method not supported".to_owned()),
    })
}

/// Bytes as text in a Node encoding name.
pub(crate) fn encode(bytes: &[u8], encoding: &str) -> Result<String, String> {
    Ok(match encoding.to_ascii_lowercase().as_str() {
        "hex" => to_hex(bytes),
        "base64" => base64::engine::general_purpose::STANDARD.encode(bytes),
        "base64url" => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        "latin1" | "binary" => bytes.iter().map(|&b| char::from(b)).collect(),
        "utf8" | "utf-8" => String::from_utf8_lossy(bytes).into_owned(),
        other => return Err(format!("Unknown encoding: {other}")),
    })
}

/// Text in a Node encoding name back to bytes.
pub(crate) fn decode(text: &str, encoding: &str) -> Result<Vec<u8>, String> {
    match encoding {
        "hex" => from_hex(text),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(text.trim_end_matches('=').as_bytes())
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim_end_matches('='))
            })
            .map_err(|e| e.to_string()),
        "latin1" | "binary" => Ok(text.chars().map(|c| (u32::from(c) & 0xff) as u8).collect()),
        other => Err(format!("Unknown encoding: {other}")),
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn from_hex(hex: &str) -> Result<Vec<u8>, String> {
    let digits = hex.as_bytes();
    // Node stops at the first pair that is not hex; the result is what came before.
    let mut out = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks_exact(2) {
        let hi = (pair[0] as char).to_digit(16);
        let lo = (pair[1] as char).to_digit(16);
        match (hi, lo) {
            (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
            _ => break,
        }
    }
    Ok(out)
}

/// `n` random bytes as hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    to_hex(&bytes)
}

/// A random (version 4) UUID in its canonical text form.
pub(crate) fn random_uuid() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = to_hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(to_hex(&[0, 15, 255]), "000fff");
        assert_eq!(from_hex("000fff").expect("a value"), vec![0, 15, 255]);
        assert_eq!(from_hex("0g11").expect("a value"), Vec::<u8>::new());
    }

    #[test]
    fn uuid_shape() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
    }
}
