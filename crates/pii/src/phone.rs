//! Phone numbers checked against libphonenumber's metadata (the
//! `phonenumber` crate's copy): an international number is valid when its
//! country code is assigned and the rest matches one of that country's
//! number types (fixed line, mobile, toll free…); a national number is
//! tried against the regions agents' users most often write from.
//!
//! The metadata is the crate's; the matching is not. Its `is_valid` runs
//! each pattern through a process-wide `Mutex<RegexCache>` of 100 entries:
//! every match takes the lock (one scanning thread at a time) and hashes
//! the pattern's source, and a text with numbers of many countries evicts
//! and recompiles patterns. Here each region's patterns are compiled once,
//! on first use, into two anchored regexes (the general description and
//! the union of the number types), read without a lock.

use phonenumber::metadata::{Metadata, DATABASE};
use regex_automata::meta::Regex;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Regions tried for a national number written after a phone word, most
/// common first.
const REGIONS: [&str; 20] = [
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "IE", "PT", "SE", "PL", "IN", "AU", "BR", "MX", "JP",
    "CA",
];

/// One region's patterns, compiled.
struct Compiled {
    lengths: Vec<u16>,
    general: Regex,
    types: Regex,
}

struct Table {
    metas: Vec<&'static Metadata>,
    by_code: HashMap<u16, Vec<usize>>,
    by_id: HashMap<&'static str, usize>,
    compiled: Vec<OnceLock<Option<Compiled>>>,
}

fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let metas: Vec<&'static Metadata> = DATABASE.iter().collect();
        let mut by_code: HashMap<u16, Vec<usize>> = HashMap::new();
        let mut by_id = HashMap::new();
        for (i, m) in metas.iter().enumerate() {
            // The main region of a shared code first (US for +1).
            let list = by_code.entry(m.country_code()).or_default();
            if m.is_main_country_for_code() {
                list.insert(0, i);
            } else {
                list.push(i);
            }
            by_id.insert(m.id(), i);
        }
        let compiled = metas.iter().map(|_| OnceLock::new()).collect();
        Table { metas, by_code, by_id, compiled }
    })
}

fn compile(m: &Metadata) -> Option<Compiled> {
    let d = m.descriptors();
    let types: Vec<String> = [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
    .into_iter()
    .flatten()
    // The metadata's patterns are written with insignificant whitespace.
    .map(|x| format!("(?x:{})", x.national_number().as_str()))
    .collect();
    if types.is_empty() {
        return None;
    }
    Some(Compiled {
        lengths: d.general().possible_length().to_vec(),
        general: Regex::new(&format!("^(?x:{})$", d.general().national_number().as_str())).ok()?,
        types: Regex::new(&format!("^(?:{})$", types.join("|"))).ok()?,
    })
}

/// The national significant number is one region `i` assigns.
fn valid_in(i: usize, nsn: &str) -> bool {
    let t = table();
    let Some(c) = t.compiled[i].get_or_init(|| compile(t.metas[i])) else { return false };
    (c.lengths.is_empty() || c.lengths.contains(&(nsn.len() as u16)))
        && c.general.is_match(nsn)
        && c.types.is_match(nsn)
}

/// `digits`: what follows `+` or `00` — country code and number.
pub(crate) fn international(digits: &str) -> bool {
    if !(8..=15).contains(&digits.len()) {
        return false;
    }
    for cc_len in 1..=3 {
        let Ok(cc) = digits[..cc_len].parse::<u16>() else { return false };
        if let Some(regions) = table().by_code.get(&cc) {
            let nsn = &digits[cc_len..];
            return regions.iter().any(|&i| valid_in(i, nsn));
        }
    }
    false
}

/// A number written the national way, with its trunk prefix if the region
/// has one.
pub(crate) fn national(digits: &str) -> bool {
    if !(6..=12).contains(&digits.len()) {
        return false;
    }
    let t = table();
    REGIONS.iter().filter_map(|r| t.by_id.get(r)).any(|&i| {
        let m = t.metas[i];
        let nsn = match m.national_prefix() {
            Some(p) if !p.is_empty() => match digits.strip_prefix(p) {
                Some(rest) => rest,
                // Regions with a trunk prefix write it nationally, except
                // NANP numbers, which rarely carry their 1.
                None if m.country_code() == 1 => digits,
                None => return false,
            },
            _ => digits,
        };
        valid_in(i, nsn)
    })
}

/// An assigned region's code (for the BIC's country).
pub(crate) fn is_region(code: &[u8]) -> bool {
    std::str::from_utf8(code).is_ok_and(|c| c != "001" && table().by_id.contains_key(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_decides() {
        assert!(international("442071838750"));
        assert!(international("4930901820"));
        assert!(international("33142685300"));
        assert!(international("919876543210"));
        assert!(international("14155552671"));
        assert!(!international("44207183875"), "one digit short");
        assert!(!international("99912345678"), "no such country code");
        assert!(national("02071838750"));
        assert!(national("030901820"));
        assert!(!national("12"));
        assert!(is_region(b"DE") && is_region(b"GB") && !is_region(b"QQ"));
    }
}
