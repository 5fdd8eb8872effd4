//! Data-subject ids: what agents put in `TraceEvent.subject_ids` so that a
//! person's records can be found (DSAR) without the ledger holding who they
//! are. `hmac:` and the hex HMAC-SHA256 of the customer id under a secret
//! the tenant keeps: the same person gets the same id in every event, and
//! the id reveals nothing without the secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `hmac:<hex HMAC-SHA256(secret, customer_id)>`.
pub fn subject_id(secret: &[u8], customer_id: &str) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(customer_id.as_bytes());
    format!("hmac:{}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_test_case_2() {
        // HMAC-SHA256 of "what do ya want for nothing?" under "Jefe".
        assert_eq!(
            subject_id(b"Jefe", "what do ya want for nothing?"),
            "hmac:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_ne!(subject_id(b"a", "x"), subject_id(b"b", "x"));
    }
}
