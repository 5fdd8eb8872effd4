//! RFC 3161 trusted timestamps, pure (no I/O, no clock).
//!
//! - [`request`]: the `TimeStampReq` for a message's SHA-256 (with a nonce,
//!   asking for the TSA's certificate).
//! - [`token_of`]: the `TimeStampToken` out of a TSA's `TimeStampResp`, or
//!   the TSA's refusal.
//! - [`verify`]: a token checked offline against the message and the TSA's
//!   certificate: the token's TSTInfo imprints SHA-256(message), the CMS
//!   signer's signed attributes carry the TSTInfo's digest and content type,
//!   the signer is that certificate, whose extended key usage is
//!   time stamping, and the signature over the signed attributes verifies
//!   (RSA PKCS#1 v1.5 or ECDSA P-256, SHA-256).
//!
//! The ASN.1 types come from RustCrypto's `x509-tsp`, `cms` and `x509-cert`;
//! the checks RFC 3161 §2.4.2 and RFC 5652 §5.4 ask a verifier to make are
//! written here because no crate in the registries makes them.

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use sha2::{Digest, Sha256};
use traceledger_core::checkpoint::open_note;
use traceledger_core::cosignature::split_note;
use traceledger_core::signing::Keyring;
pub use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TSTINFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// Why a timestamp cannot be had or does not verify. Each names the check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsaError {
    /// Bytes that are not the DER they should be.
    #[error("{what} is not valid DER: {why}")]
    Der {
        /// Which structure.
        what: &'static str,
        /// The decoder's message.
        why: String,
    },
    /// The TSA did not grant a timestamp.
    #[error("the TSA refused: status {status}{text}")]
    Refused {
        /// PKIStatus.
        status: u8,
        /// Its status text, if any (with a leading ": ").
        text: String,
    },
    /// The token does not fit the message, or its signature does not verify.
    #[error("{0}")]
    Invalid(String),
}

fn der_err(what: &'static str) -> impl Fn(der::Error) -> TsaError {
    move |e| TsaError::Der { what, why: e.to_string() }
}

fn invalid(why: impl Into<String>) -> TsaError {
    TsaError::Invalid(why.into())
}

fn sha256_imprint(message: &[u8]) -> Result<MessageImprint, TsaError> {
    Ok(MessageImprint {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifier { oid: ID_SHA256, parameters: None },
        hashed_message: OctetString::new(Sha256::digest(message).to_vec()).map_err(der_err("the imprint"))?,
    })
}

/// The DER `TimeStampReq` for SHA-256(`message`), with `nonce` and a request
/// for the TSA's certificate in the token.
pub fn request(message: &[u8], nonce: u64) -> Result<Vec<u8>, TsaError> {
    // DER integers are minimal: no leading zero byte unless the next byte's
    // high bit is set (the nonce is positive).
    let be = nonce.to_be_bytes();
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len() - 1);
    let mut bytes = be[first..].to_vec();
    if bytes[0] & 0x80 != 0 {
        bytes.insert(0, 0);
    }
    let nonce = der::asn1::Int::new(&bytes).map_err(der_err("the nonce"))?;
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: sha256_imprint(message)?,
        req_policy: None,
        nonce: Some(nonce),
        cert_req: true,
        extensions: None,
    };
    req.to_der().map_err(der_err("the request"))
}

/// The token (DER `ContentInfo`) of a DER `TimeStampResp`, or the refusal.
pub fn token_of(response: &[u8]) -> Result<Vec<u8>, TsaError> {
    let resp = TimeStampResp::from_der(response).map_err(der_err("the TSA's response"))?;
    let status = resp.status.status as u8;
    if status > 1 {
        let text = resp
            .status
            .status_string
            .as_ref()
            .map(|s| format!(": {}", s.iter().map(|t| t.to_string()).collect::<Vec<_>>().join("; ")))
            .unwrap_or_default();
        return Err(TsaError::Refused { status, text });
    }
    resp.time_stamp_token
        .ok_or_else(|| invalid("the TSA granted a timestamp but sent no token"))?
        .to_der()
        .map_err(der_err("the token"))
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamped {
    /// The TSA's time, seconds since the epoch.
    pub gen_time: u64,
    /// The TSA's policy OID.
    pub policy: String,
    /// The token's serial number, hex.
    pub serial: String,
}

/// Parses a PEM or DER certificate.
pub fn certificate(bytes: &[u8]) -> Result<Certificate, TsaError> {
    use der::DecodePem;
    if bytes.starts_with(b"-----BEGIN") {
        Certificate::from_pem(bytes).map_err(der_err("the TSA certificate (PEM)"))
    } else {
        Certificate::from_der(bytes).map_err(der_err("the TSA certificate"))
    }
}

fn attribute<'a>(
    attrs: &'a x509_cert::attr::Attributes,
    oid: ObjectIdentifier,
    name: &str,
) -> Result<&'a Any, TsaError> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let (Some(a), None) = (found.next(), found.next()) else {
        return Err(invalid(format!("the signed attributes must hold exactly one {name}")));
    };
    let mut values = a.values.iter();
    match (values.next(), values.next()) {
        (Some(v), None) => Ok(v),
        _ => Err(invalid(format!("the {name} attribute must have exactly one value"))),
    }
}

/// Verifies `token` (DER) over `message` against the TSA certificate `cert`.
pub fn verify(token: &[u8], message: &[u8], cert: &Certificate) -> Result<Timestamped, TsaError> {
    let ci = ContentInfo::from_der(token).map_err(der_err("the token"))?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(invalid("the token is not CMS SignedData"));
    }
    let sd: SignedData = ci.content.decode_as().map_err(der_err("the token's SignedData"))?;
    if sd.encap_content_info.econtent_type != ID_CT_TSTINFO {
        return Err(invalid("the token's content is not a TSTInfo"));
    }
    let econtent = sd.encap_content_info.econtent.as_ref().ok_or_else(|| invalid("the token carries no TSTInfo"))?;
    let tst_der = OctetString::from_der(&econtent.to_der().map_err(der_err("the TSTInfo"))?)
        .map_err(der_err("the TSTInfo octets"))?
        .into_bytes();
    let tst = TstInfo::from_der(&tst_der).map_err(der_err("the TSTInfo"))?;
    if tst.message_imprint.hash_algorithm.oid != ID_SHA256 {
        return Err(invalid("the token imprints a hash other than SHA-256"));
    }
    if tst.message_imprint.hashed_message.as_bytes() != Sha256::digest(message).as_slice() {
        return Err(invalid("the token timestamps another message (its SHA-256 imprint differs)"));
    }

    let mut signers = sd.signer_infos.0.iter();
    let (Some(si), None) = (signers.next(), signers.next()) else {
        return Err(invalid("the token must have exactly one signer"));
    };
    if si.digest_alg.oid != ID_SHA256 {
        return Err(invalid("the signer's digest is not SHA-256"));
    }
    let tbs = &cert.tbs_certificate;
    match &si.sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            if ias.issuer != tbs.issuer || ias.serial_number != tbs.serial_number {
                return Err(invalid("the token was signed by another certificate than the TSA's given"));
            }
        }
        SignerIdentifier::SubjectKeyIdentifier(skid) => {
            let spki = tbs.subject_public_key_info.subject_public_key.raw_bytes();
            // RFC 5280 §4.2.1.2 method (1): SHA-1 is not at hand; compare
            // against the certificate's own SKI extension instead.
            let own = tbs.extensions.iter().flatten().find(|e| e.extn_id == ObjectIdentifier::new_unwrap("2.5.29.14"));
            let matches = own.is_some_and(|e| {
                OctetString::from_der(e.extn_value.as_bytes()).is_ok_and(|o| o.as_bytes() == skid.0.as_bytes())
            });
            if !matches || spki.is_empty() {
                return Err(invalid("the token was signed by another certificate than the TSA's given"));
            }
        }
    }
    let eku = tbs
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == EXT_KEY_USAGE)
        .ok_or_else(|| invalid("the TSA certificate has no extended key usage (RFC 3161 asks for timeStamping)"))?;
    let usages = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .map_err(der_err("the TSA certificate's extended key usage"))?;
    if !usages.0.contains(&ID_KP_TIME_STAMPING) {
        return Err(invalid("the TSA certificate is not for time stamping (extended key usage)"));
    }

    let attrs = si.signed_attrs.as_ref().ok_or_else(|| invalid("the signer has no signed attributes"))?;
    let ct: ObjectIdentifier = attribute(attrs, ID_CONTENT_TYPE, "content-type")?
        .decode_as()
        .map_err(der_err("the content-type attribute"))?;
    if ct != ID_CT_TSTINFO {
        return Err(invalid("the signed content-type is not TSTInfo"));
    }
    let md: OctetString = attribute(attrs, ID_MESSAGE_DIGEST, "message-digest")?
        .decode_as()
        .map_err(der_err("the message-digest attribute"))?;
    if md.as_bytes() != Sha256::digest(&tst_der).as_slice() {
        return Err(invalid("the signed message digest is not the TSTInfo's"));
    }
    // The signature is over the DER of the attributes as a SET OF.
    let signed = SetOfVec::try_from(attrs.iter().cloned().collect::<Vec<_>>())
        .and_then(|s| s.to_der())
        .map_err(der_err("the signed attributes"))?;
    let sig = si.signature.as_bytes();
    let spki = &tbs.subject_public_key_info;
    let key_bytes =
        spki.subject_public_key.as_bytes().ok_or_else(|| invalid("the certificate's key is not whole bytes"))?;
    let ok = match (spki.algorithm.oid, si.signature_algorithm.oid) {
        (RSA_ENCRYPTION, RSA_ENCRYPTION | SHA256_WITH_RSA) => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            let key = rsa::RsaPublicKey::from_pkcs1_der(key_bytes).map_err(|e| invalid(format!("the RSA key: {e}")))?;
            let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key);
            let sig =
                rsa::pkcs1v15::Signature::try_from(sig).map_err(|e| invalid(format!("the RSA signature: {e}")))?;
            rsa::signature::Verifier::verify(&vk, &signed, &sig).is_ok()
        }
        (ID_EC_PUBLIC_KEY, ECDSA_WITH_SHA256) => {
            let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                .map_err(|_| invalid("the certificate's EC key is not a P-256 point (only P-256 is supported)"))?;
            let sig =
                p256::ecdsa::DerSignature::try_from(sig).map_err(|e| invalid(format!("the ECDSA signature: {e}")))?;
            p256::ecdsa::signature::Verifier::verify(&vk, &signed, &sig).is_ok()
        }
        (k, s) => {
            return Err(invalid(format!("unsupported key {k} or signature algorithm {s} (RSA or P-256, SHA-256)")))
        }
    };
    if !ok {
        return Err(invalid("the TSA's signature over the token does not verify under its certificate"));
    }
    let gen_time = tst.gen_time.to_unix_duration().as_secs();
    Ok(Timestamped { gen_time, policy: tst.policy.to_string(), serial: hex::encode(tst.serial_number.as_bytes()) })
}

/// The key id of a timestamp line: the first 4 bytes of SHA-256 of the
/// TSA certificate's DER, so a verifier holding the certificate finds its
/// lines.
pub fn line_key_id(cert: &Certificate) -> Result<[u8; 4], TsaError> {
    let der = cert.to_der().map_err(der_err("the TSA certificate"))?;
    let d = Sha256::digest(der);
    Ok([d[0], d[1], d[2], d[3]])
}

/// Checks that `name` can name a TSA on a note line (a signed-note key
/// name: non-empty, no spaces, no '+').
pub fn check_name(name: &str) -> Result<(), TsaError> {
    if signed_note::is_key_name_valid(name) {
        Ok(())
    } else {
        Err(invalid(format!("TSA name `{name}` must be non-empty with no spaces or '+'")))
    }
}

/// A checkpoint note's timestamp line (ending in a newline):
/// `— <tsa name> base64(key id (4) || DER TimeStampToken)`. Signed-note
/// verifiers that do not know the id ignore it, as they do cosignatures.
pub fn note_line(name: &str, cert: &Certificate, token: &[u8]) -> Result<String, TsaError> {
    use base64::Engine;
    check_name(name)?;
    let mut raw = line_key_id(cert)?.to_vec();
    raw.extend_from_slice(token);
    Ok(format!("\u{2014} {name} {}\n", base64::engine::general_purpose::STANDARD.encode(raw)))
}

/// The bytes a checkpoint's timestamp is over: the note as the log signed
/// it — its body and the signature lines of the ledger's keys, without the
/// cosignature and timestamp lines added after.
pub fn timestamped_message(note: &[u8], ledger: &Keyring) -> Result<Vec<u8>, TsaError> {
    let (body, lines) = split_note(note).map_err(|e| invalid(e.to_string()))?;
    let mut out = body.to_vec();
    out.push(b'\n');
    let mut any = false;
    for l in lines {
        let one = [body, b"\n", l.as_bytes(), b"\n"].concat();
        if open_note(&one, ledger).is_ok() {
            out.extend_from_slice(l.as_bytes());
            out.push(b'\n');
            any = true;
        }
    }
    if !any {
        return Err(invalid("the checkpoint is not signed by the ledger's key"));
    }
    Ok(out)
}

/// The timestamps on a checkpoint note from the TSA of `cert`: every line
/// with that certificate's key id must hold a token over the note as the
/// log signed it. Empty when the TSA has no line on it.
pub fn note_timestamps(note: &[u8], ledger: &Keyring, cert: &Certificate) -> Result<Vec<Timestamped>, TsaError> {
    use base64::Engine;
    let id = line_key_id(cert)?;
    let (_, lines) = split_note(note).map_err(|e| invalid(e.to_string()))?;
    let mut out = Vec::new();
    for l in lines {
        let Some((_, b64)) = l.strip_prefix("\u{2014} ").and_then(|r| r.split_once(' ')) else { continue };
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) else { continue };
        if raw.get(..4) != Some(&id[..]) {
            continue;
        }
        let message = timestamped_message(note, ledger)?;
        out.push(verify(&raw[4..], &message, cert)?);
    }
    Ok(out)
}

/// The TSA's name for people: its certificate's subject.
pub fn subject(cert: &Certificate) -> String {
    cert.tbs_certificate.subject.to_string()
}

/// The timestamp a checkpoint note must carry from the TSA of `cert`: its
/// time (Unix seconds); the error says whether it is missing or invalid.
pub fn required_timestamp(note: &[u8], ledger: &Keyring, cert: &Certificate) -> Result<u64, String> {
    let found =
        note_timestamps(note, ledger, cert).map_err(|e| format!("the timestamp of TSA `{}`: {e}", subject(cert)))?;
    found
        .first()
        .map(|t| t.gen_time)
        .ok_or_else(|| format!("the checkpoint carries no timestamp of TSA `{}`", subject(cert)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The request is DER that decodes back to SHA-256(message), the
        /// nonce and a certificate request, for any message and nonce.
        #[test]
        fn requests_decode_to_what_was_asked(msg in proptest::collection::vec(any::<u8>(), 0..200), nonce in any::<u64>()) {
            let der = request(&msg, nonce).expect("request");
            let req = TimeStampReq::from_der(&der).expect("decodes");
            prop_assert_eq!(req.message_imprint.hash_algorithm.oid, ID_SHA256);
            let want = Sha256::digest(&msg);
            prop_assert_eq!(req.message_imprint.hashed_message.as_bytes(), want.as_slice());
            prop_assert!(req.cert_req);
            let n = req.nonce.clone().expect("nonce");
            let mut be = [0u8; 8];
            let bytes = n.as_bytes();
            let bytes = if bytes.len() == 9 { &bytes[1..] } else { bytes };
            be[8 - bytes.len()..].copy_from_slice(bytes);
            prop_assert_eq!(u64::from_be_bytes(be), nonce);
            prop_assert_eq!(req.to_der().expect("der"), der);
        }

        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = token_of(&bytes);
            let _ = certificate(&bytes);
        }
    }
}
