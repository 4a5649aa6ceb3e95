//! JSON Web Key Sets (RFC 7517) of ES256 keys: read (bounded, hostile input) and written. The
//! customer's external-auth keys are published as one: the sandbox serves it, the client
//! verifies a server-issued assertion against it before exchanging it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::VerifyingKey;

/// The largest JWKS read.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// The most keys a JWKS may list.
pub const MAX_JWKS_KEYS: usize = 32;
/// The longest `kid` kept.
pub const MAX_KID_LEN: usize = 256;

/// One ES256 signing key of a JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Es256Key {
    /// Its `kid`, if it has one.
    pub kid: Option<String>,
    /// The P-256 public key.
    pub key: VerifyingKey,
}

/// The ES256 signing keys of a JWKS: those with `kty: EC`, `crv: P-256`, whose `use` (if any) is
/// `sig` and `alg` (if any) `ES256`, in the set's order; other keys are skipped. At most
/// [`MAX_JWKS_BYTES`] and [`MAX_JWKS_KEYS`] keys are read; a fitting key whose point is not
/// one, a set without any fitting key, and anything else malformed are errors naming what.
pub fn es256_keys(text: &str) -> Result<Vec<Es256Key>, String> {
    if text.len() > MAX_JWKS_BYTES {
        return Err(format!(
            "the JWKS is larger than {} KiB",
            MAX_JWKS_BYTES / 1024
        ));
    }
    let jwks: serde_json::Value =
        serde_json::from_str(text).map_err(|_| "the JWKS is not JSON".to_owned())?;
    let keys = jwks["keys"]
        .as_array()
        .ok_or_else(|| "the JWKS has no \"keys\" array".to_owned())?;
    if keys.len() > MAX_JWKS_KEYS {
        return Err(format!("the JWKS has more than {MAX_JWKS_KEYS} keys"));
    }
    let field = |k: &serde_json::Value, name: &str| k[name].as_str().map(str::to_owned);
    let mut found = Vec::new();
    for k in keys {
        let fits = field(k, "kty").as_deref() == Some("EC")
            && field(k, "crv").as_deref() == Some("P-256")
            && field(k, "use").as_deref().is_none_or(|u| u == "sig")
            && field(k, "alg").as_deref().is_none_or(|a| a == "ES256");
        if !fits {
            continue;
        }
        let coordinate = |name: &str| {
            field(k, name)
                .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
                .filter(|c| c.len() == 32)
                .ok_or_else(|| format!("the P-256 key's {name} is not 32 bytes of base64url"))
        };
        let mut point = vec![4u8];
        point.extend(coordinate("x")?);
        point.extend(coordinate("y")?);
        let key = VerifyingKey::from_sec1_bytes(&point)
            .map_err(|_| "the P-256 key is not a point on the curve".to_owned())?;
        let kid = field(k, "kid");
        if kid.as_ref().is_some_and(|kid| kid.len() > MAX_KID_LEN) {
            return Err(format!("a kid is longer than {MAX_KID_LEN} characters"));
        }
        found.push(Es256Key { kid, key });
    }
    if found.is_empty() {
        return Err("the JWKS has no EC P-256 signing key (kty EC, crv P-256, ES256)".into());
    }
    Ok(found)
}

/// A JWKS of one ES256 signing key (with `kid` when given), as [`es256_keys`] reads it back.
pub fn jwks_of(key: &VerifyingKey, kid: Option<&str>) -> serde_json::Value {
    let point = key.to_sec1_point(false);
    // 0x04 || x (32 bytes) || y (32 bytes).
    let bytes = point.as_bytes();
    let coordinate = |range: std::ops::Range<usize>| {
        URL_SAFE_NO_PAD.encode(bytes.get(range).unwrap_or_default())
    };
    let mut jwk = serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "use": "sig",
        "alg": "ES256",
        "x": coordinate(1..33),
        "y": coordinate(33..65),
    });
    if let Some(kid) = kid {
        jwk["kid"] = kid.into();
    }
    serde_json::json!({ "keys": [jwk] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&[seed; 32]).expect("a scalar")
    }

    #[test]
    fn a_written_jwks_reads_back_with_its_kid() {
        let k = key(9);
        let keys = es256_keys(&jwks_of(k.verifying_key(), Some("k1")).to_string()).unwrap();
        assert_eq!(
            keys,
            vec![Es256Key {
                kid: Some("k1".into()),
                key: *k.verifying_key()
            }]
        );
    }

    #[test]
    fn only_p256_signing_keys_are_taken_and_bad_sets_are_refused() {
        let good = jwks_of(key(9).verifying_key(), Some("k1"));
        let other = jwks_of(key(7).verifying_key(), Some("k2"));
        let (x, y) = (good["keys"][0]["x"].clone(), good["keys"][0]["y"].clone());
        let set = serde_json::json!({"keys": [
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "crv": "P-256", "use": "enc", "x": x, "y": y},
            good["keys"][0],
            other["keys"][0],
        ]});
        let keys = es256_keys(&set.to_string()).unwrap();
        assert_eq!(
            keys.iter().map(|k| k.kid.as_deref()).collect::<Vec<_>>(),
            vec![Some("k1"), Some("k2")]
        );
        for bad in [
            "not json".to_owned(),
            "{}".to_owned(),
            serde_json::json!({"keys": []}).to_string(),
            serde_json::json!({"keys": [{"kty": "EC", "crv": "P-384", "x": x, "y": y}]})
                .to_string(),
            serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": x}]})
                .to_string(),
            serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": y}]})
                .to_string(),
            serde_json::json!({"keys": vec![good["keys"][0].clone(); MAX_JWKS_KEYS + 1]})
                .to_string(),
            serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": "k".repeat(MAX_KID_LEN + 1)}]})
                .to_string(),
            "x".repeat(MAX_JWKS_BYTES + 1),
        ] {
            assert!(es256_keys(&bad).is_err(), "{}", &bad[..bad.len().min(60)]);
        }
    }
}
