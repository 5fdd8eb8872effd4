//! Which patterns match a text, without running them all over it.
//!
//! A set of a few hundred Unicode patterns run together (`RegexSet`) spends
//! most of its time building lazy-DFA states it then throws away: on varied
//! text its cache thrashes. Instead, each pattern's prefix literals (every
//! match begins with one of them, by `regex-syntax`'s extractor) go into one
//! Aho-Corasick automaton; where a literal occurs, only that pattern runs,
//! anchored at that position. Patterns without a finite set of prefixes
//! (few: they begin with a class or an optional part) run as one small set.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// Patterns compiled for prefiltered matching.
#[derive(Debug, Clone)]
pub(crate) struct Scanner {
    regexes: Vec<Regex>,
    ac: AhoCorasick,
    /// Patterns of each literal of `ac`.
    of_literal: Vec<Vec<usize>>,
    /// Patterns without finite prefixes, and their set.
    always: Vec<usize>,
    always_set: Option<Regex>,
}

/// Bytes of a prefix literal kept as a key.
const PREFIX_BYTES: usize = 8;

/// Prefix literals of `pattern` (lowercased), or `None` when a match can
/// begin anywhere (an empty, unbounded or too large prefix set).
fn prefixes(pattern: &str) -> Option<Vec<String>> {
    let hir = regex_syntax::ParserBuilder::new().utf8(false).build().parse(pattern).ok()?;
    let mut ex = Extractor::new();
    ex.kind(ExtractKind::Prefix).limit_total(512).limit_class(16);
    let seq = ex.extract(&hir);
    let lits = seq.literals()?;
    let mut out: Vec<String> = Vec::new();
    for l in lits {
        let s = String::from_utf8(l.as_bytes().to_vec()).ok()?.to_lowercase();
        if s.trim().chars().count() < 2 {
            return None;
        }
        // A prefix of a prefix is still a necessary start, and the anchored
        // search decides: cut each literal to a few characters, so an
        // alternation of alternations is a handful of keys, not thousands.
        let s: String = s
            .chars()
            .scan(0, |n, c| {
                *n += c.len_utf8();
                (*n <= PREFIX_BYTES || *n == c.len_utf8()).then_some(c)
            })
            .collect();
        if !out.contains(&s) {
            out.push(s);
        }
    }
    (!out.is_empty()).then_some(out)
}

impl Scanner {
    /// Compiles `patterns`: each is already wrapped in its flags; `bare[i]`
    /// is the pattern without a case-insensitive flag, for its prefixes.
    pub(crate) fn new(patterns: &[String], bare: &[String]) -> Result<Self, String> {
        // Byte classes (`(?-u:[^.\n])`, see `byte_gaps`) may match inside a
        // character: the scanner only asks whether a pattern matches.
        let cfg = syntax::Config::new().utf8(false);
        let mut regexes = Vec::with_capacity(patterns.len());
        for p in patterns {
            let r = Regex::builder()
                .syntax(cfg)
                .configure(Regex::config().nfa_size_limit(Some(16 << 20)).hybrid_cache_capacity(1 << 20))
                .build(p)
                .map_err(|e| e.to_string())?;
            regexes.push(r);
        }
        let mut keys: Vec<String> = Vec::new();
        let mut of_literal: Vec<Vec<usize>> = Vec::new();
        let mut always = Vec::new();
        for (i, b) in bare.iter().enumerate() {
            match prefixes(b) {
                Some(lits) => {
                    for l in lits {
                        match keys.iter().position(|k| *k == l) {
                            Some(k) => of_literal[k].push(i),
                            None => {
                                keys.push(l);
                                of_literal.push(vec![i]);
                            }
                        }
                    }
                }
                None => always.push(i),
            }
        }
        let ac = AhoCorasickBuilder::new()
            .kind(Some(AhoCorasickKind::DFA))
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(true)
            .build(&keys)
            .map_err(|e| e.to_string())?;
        let always_set = if always.is_empty() {
            None
        } else {
            let pats: Vec<&str> = always.iter().map(|&i| patterns[i].as_str()).collect();
            Some(Regex::builder().syntax(cfg).build_many(&pats).map_err(|e| e.to_string())?)
        };
        Ok(Scanner { regexes, ac, of_literal, always, always_set })
    }

    /// Marks in `settled` the families (`family_of` each pattern) with a
    /// pattern that matches `text`. A family settled already is not looked
    /// for: once one of its patterns matched, the others cannot add to it.
    pub(crate) fn matches(&self, text: &str, family_of: &[usize], settled: &mut [bool]) {
        for m in self.ac.find_overlapping_iter(text) {
            for &p in &self.of_literal[m.pattern().as_usize()] {
                if settled[family_of[p]] {
                    continue;
                }
                let input = Input::new(text).range(m.start()..).anchored(Anchored::Yes).earliest(true);
                if self.regexes[p].search_half(&input).is_some() {
                    settled[family_of[p]] = true;
                }
            }
        }
        if let Some(set) = &self.always_set {
            let mut pats = regex_automata::PatternSet::new(set.pattern_len());
            set.which_overlapping_matches(&Input::new(text), &mut pats);
            for k in pats.iter() {
                settled[family_of[self.always[k.as_usize()]]] = true;
            }
        }
    }

    /// How many patterns run without a prefilter.
    #[cfg(test)]
    pub(crate) fn unfiltered(&self) -> usize {
        self.always.len()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefixes_are_few_short_and_cover_every_start() {
        assert_eq!(
            super::prefixes(r"(?m)\b(ignore|ignorez) (all|the)"),
            Some(vec!["ignore a".into(), "ignore t".into(), "ignorez ".into()])
        );
        assert_eq!(super::prefixes(r"(?m)[a-z]+ instructions"), None);
        assert_eq!(super::prefixes(r"(?m)(^|\n)system:"), Some(vec!["system:".into(), "\nsystem:".into()]));
        assert_eq!(super::prefixes(r"(?m)忽略之前"), Some(vec!["忽略".into()]));
        let total: usize = crate::builtin()
            .iter()
            .flat_map(|f| f.patterns.iter())
            .filter_map(|p| super::prefixes(&format!("(?m){}", crate::ascii_boundaries(p))))
            .map(|l| l.len())
            .sum();
        eprintln!("{total} keys");
        assert!(total < 3000, "{total} keys");
    }
}
