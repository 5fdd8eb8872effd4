//! Secrets: a rule set of gitleaks' breadth (cloud keys, VCS and CI
//! tokens, payment, chat, LLM providers, JWTs, private key blocks,
//! connection strings and assignments with passwords).
//!
//! Like gitleaks, each rule names *keys*: literals that any match contains
//! (a prefix such as `ghp_`, or a keyword such as `password`). The cue
//! pass's Aho-Corasick automaton holds every key too, so one pass finds
//! where rules can match; a rule's pattern then runs only in the window
//! around its hits, merged per rule, so each byte is read a bounded number
//! of times whatever the text holds.

use crate::{Finding, Kind};
use aho_corasick::AhoCorasick;
use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Capture, Class, Hir, HirKind, Repetition};
use std::sync::OnceLock;

/// A rule's key found in the text (by the cue pass's automaton).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyHit {
    pub rule: usize,
    pub start: usize,
    pub len: usize,
}

/// One rule.
#[derive(Debug, Clone)]
pub struct SecretRule {
    /// Its name (the finding's detector).
    pub id: &'static str,
    /// Literals every match contains.
    pub keys: &'static [&'static str],
    /// Keys match in any ASCII case.
    pub keys_any_case: bool,
    /// The pattern (bytes, ASCII classes).
    pub pattern: &'static str,
    /// The capture group holding the secret (0: the whole match).
    pub group: usize,
    /// How far before a key a match may start.
    pub back: usize,
    /// The longest match.
    pub max: usize,
    /// A sample the rule must find; `{xN}` expands to N random characters
    /// of class x (a alnum, h hex, H upper hex, d digit, u upper alnum,
    /// l lower alnum, L letters, b base64url, s base64, B base32).
    pub sample: &'static str,
    /// A near miss it must not find ("" : the sample with every random part
    /// half as long).
    pub near: &'static str,
    /// A check on the secret after the pattern.
    pub check: Option<fn(&[u8]) -> bool>,
}

const fn r(id: &'static str, keys: &'static [&'static str], pattern: &'static str, sample: &'static str) -> SecretRule {
    SecretRule { id, keys, keys_any_case: false, pattern, group: 0, back: 0, max: 256, sample, near: "", check: None }
}

impl SecretRule {
    const fn kw(mut self) -> Self {
        self.keys_any_case = true;
        self.group = 1;
        self
    }
    const fn group(mut self, g: usize) -> Self {
        self.group = g;
        self
    }
    const fn back(mut self, n: usize) -> Self {
        self.back = n;
        self
    }
    const fn max(mut self, n: usize) -> Self {
        self.max = n;
        self
    }
    const fn near(mut self, s: &'static str) -> Self {
        self.near = s;
        self
    }
    const fn check(mut self, f: fn(&[u8]) -> bool) -> Self {
        self.check = Some(f);
        self
    }
}

/// An assignment's value: `key = "value"`, `key: value`, `"key": "value"`.
macro_rules! assigned {
    ($key:literal, $value:literal) => {
        concat!(r#"(?i:"#, $key, r#")[A-Za-z0-9_ .-]{0,20}["']?\s{0,3}(?:[:=]|:=|=>)\s{0,3}["']?("#, $value, ")")
    };
}

/// Shannon entropy of the bytes, bits per byte: log2(n) - Σ c·log2(c) / n
/// over the counts c of the distinct bytes, visited as they first appear
/// (not all 256 buckets: this runs on every generic key's value).
fn entropy(v: &[u8]) -> f64 {
    let mut counts = [0u16; 256];
    let mut seen = [0u8; 256];
    let mut distinct = 0;
    for &c in v {
        let n = &mut counts[usize::from(c)];
        if *n == 0 {
            seen[distinct] = c;
            distinct += 1;
        }
        *n = n.saturating_add(1);
    }
    let n = v.len() as f64;
    let sum: f64 = seen[..distinct].iter().map(|&c| f64::from(counts[usize::from(c)])).map(|c| c * c.log2()).sum();
    if v.is_empty() {
        0.0
    } else {
        n.log2() - sum / n
    }
}

/// A generic key's value: random-looking (entropy ≥ 3.5 bits a byte,
/// letters and digits), not a placeholder.
fn random_looking(v: &[u8]) -> bool {
    let digit = v.iter().any(u8::is_ascii_digit);
    let mixed_case = v.iter().any(u8::is_ascii_uppercase) && v.iter().any(u8::is_ascii_lowercase);
    (digit || (mixed_case && v.len() >= 24)) && entropy(v) >= 3.5 && !placeholder(v)
}

/// Parts of a value that make it a placeholder, any ASCII case.
const PLACEHOLDER_PARTS: [&str; 13] = [
    "xxxx",
    "***",
    "...",
    "<",
    "${",
    "{{",
    "your",
    "example",
    "placeholder",
    "redacted",
    "changeit",
    "dummy",
    "sample",
];

fn placeholder(v: &[u8]) -> bool {
    // One automaton pass over the value: comparing each part at each
    // offset took ~7,700 instructions a value on the generic rules' hot
    // path.
    static PARTS: OnceLock<AhoCorasick> = OnceLock::new();
    // The parts are constants.
    #[allow(clippy::expect_used)]
    let parts = PARTS.get_or_init(|| {
        AhoCorasick::builder().ascii_case_insensitive(true).build(PLACEHOLDER_PARTS).expect("placeholder parts build")
    });
    parts.is_match(v)
        || ["null", "none", "true", "false", "undefined", "required", "hidden", "secret", "password"]
            .iter()
            .any(|w| v.eq_ignore_ascii_case(w.as_bytes()))
}

/// Whatever was written as a URL's password, unless a placeholder.
fn not_placeholder(v: &[u8]) -> bool {
    !placeholder(v)
}

/// A password's value: not a placeholder, not a word alone.
fn password_like(v: &[u8]) -> bool {
    !placeholder(v) && v.iter().any(|c| !c.is_ascii_alphabetic()) && !v.iter().all(|&c| c == v[0])
}

/// Every rule, most specific first (at equal spans the first wins).
pub fn rules() -> &'static [SecretRule] {
    static R: OnceLock<Vec<SecretRule>> = OnceLock::new();
    R.get_or_init(|| {
        vec![
            // ---- cloud ----
            r("aws_access_key", &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"], r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b", "AKIA{B16}"),
            r("aws_secret_key", &["aws_secret", "secretaccesskey", "aws secret"], assigned!("aws_?secret_?(?:access_?)?key|secretaccesskey|aws secret(?: access)? key", "[A-Za-z0-9/+]{40}"), "aws_secret_access_key = {s40}").kw().near("aws_secret_access_key = <your secret access key>"),
            r("gcp_api_key", &["AIza"], r"\bAIza[0-9A-Za-z_-]{35}", "AIza{b35}"),
            r("gcp_oauth_secret", &["GOCSPX-"], r"\bGOCSPX-[A-Za-z0-9_-]{28}", "GOCSPX-{b28}"),
            r("google_oauth_token", &["ya29."], r"\bya29\.[0-9A-Za-z_-]{30,}", "ya29.{b60}").near("ya29.short"),
            r("google_refresh_token", &["1//0"], r"\b1//0[0-9A-Za-z_-]{40,}", "1//0{b60}"),
            r("gcp_private_key_id", &["private_key_id"], r#""private_key_id"\s*:\s*"([a-f0-9]{40})""#, r#""private_key_id": "{h40}""#).group(1).back(1),
            r("azure_storage_key", &["accountkey="], r"(?i:AccountKey)=([A-Za-z0-9+/]{86}==)", "AccountKey={s86}==").kw(),
            r("azure_ad_client_secret", &["Q~"], r"\b[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}", "{a3}8Q~{a34}").back(5),
            r("azure_sas_signature", &["sig="], r"[?&]sig=([A-Za-z0-9%+/]{43,}(?:%3D|=)?)", "?sv=2024-01-01&sig={s44}").group(1).back(1),
            r("alibaba_access_key", &["LTAI"], r"\bLTAI[A-Za-z0-9]{20}\b", "LTAI{a20}"),
            r("digitalocean_pat", &["dop_v1_"], r"\bdop_v1_[a-f0-9]{64}\b", "dop_v1_{h64}"),
            r("digitalocean_oauth", &["doo_v1_"], r"\bdoo_v1_[a-f0-9]{64}\b", "doo_v1_{h64}"),
            r("digitalocean_refresh", &["dor_v1_"], r"\bdor_v1_[a-f0-9]{64}\b", "dor_v1_{h64}"),
            r("heroku_api_key", &["HRKU-AA"], r"\bHRKU-AA[0-9A-Za-z_-]{58}", "HRKU-AA{b58}"),
            r("heroku_legacy_key", &["heroku"], assigned!("heroku", "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "HEROKU_API_KEY={h8}-{h4}-{h4}-{h4}-{h12}").kw(),
            r("cloudflare_origin_ca", &["v1.0-"], r"\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}\b", "v1.0-{h24}-{h146}").max(200),
            r("cloudflare_api_key", &["cloudflare"], assigned!("cloudflare", "[A-Za-z0-9_-]{37,40}"), "cloudflare_api_key: {a40}").kw().check(random_looking).near("cloudflare_api_key: see the dashboard"),
            r("fly_io_token", &["fo1_"], r"\bfo1_[A-Za-z0-9_-]{43}", "fo1_{b43}"),
            r("render_api_key", &["rnd_"], r"\brnd_[A-Za-z0-9]{32}\b", "rnd_{a32}"),
            r("supabase_pat", &["sbp_"], r"\bsbp_[a-f0-9]{40}\b", "sbp_{h40}"),
            r("supabase_secret", &["sb_secret_"], r"\bsb_secret_[A-Za-z0-9_-]{31,}", "sb_secret_{b40}"),
            r("planetscale_token", &["pscale_tkn_", "pscale_pw_", "pscale_oauth_"], r"\bpscale_(?:tkn|pw|oauth)_[A-Za-z0-9_.=-]{32,64}", "pscale_tkn_{b43}"),
            r("databricks_token", &["dapi"], r"\bdapi[a-f0-9]{32}(?:-[0-9])?\b", "dapi{h32}"),
            r("vault_service_token", &["hvs."], r"\bhvs\.[A-Za-z0-9_-]{90,}", "hvs.{b95}"),
            r("vault_batch_token", &["hvb."], r"\bhvb\.[A-Za-z0-9_-]{138,300}", "hvb.{b140}").max(320),
            r("terraform_cloud_token", &[".atlasv1."], r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}", "{a14}.atlasv1.{b65}").back(15),
            r("pulumi_token", &["pul-"], r"\bpul-[a-f0-9]{40}\b", "pul-{h40}"),
            r("doppler_token", &["dp.pt.", "dp.st.", "dp.sa.", "dp.ct."], r"\bdp\.(?:pt|st|sa|ct)\.[A-Za-z0-9]{40,44}\b", "dp.pt.{a43}"),
            r("age_secret_key", &["AGE-SECRET-KEY-1"], r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", "AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE6MU").near("AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"),
            r("onepassword_secret_key", &["A3-"], r"\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b", "A3-{u6}-{u11}-{u5}-{u5}-{u5}"),
            r("onepassword_service_token", &["ops_eyJ"], r"\bops_eyJ[A-Za-z0-9+/]{250,}={0,3}", "ops_eyJ{s260}").max(1200),
            r("openshift_token", &["sha256~"], r"\bsha256~[A-Za-z0-9_-]{43}", "sha256~{b43}"),
            // ---- VCS and CI ----
            r("github_pat", &["ghp_"], r"\bghp_[A-Za-z0-9]{36}\b", "ghp_{a36}"),
            r("github_oauth", &["gho_"], r"\bgho_[A-Za-z0-9]{36}\b", "gho_{a36}"),
            r("github_app_token", &["ghu_", "ghs_"], r"\bgh[us]_[A-Za-z0-9]{36}\b", "ghs_{a36}"),
            r("github_refresh_token", &["ghr_"], r"\bghr_[A-Za-z0-9]{36}\b", "ghr_{a36}"),
            r("github_fine_grained_pat", &["github_pat_"], r"\bgithub_pat_[A-Za-z0-9_]{82}\b", "github_pat_{a82}"),
            r("gitlab_pat", &["glpat-"], r"\bglpat-[A-Za-z0-9_-]{20,}", "glpat-{b20}"),
            r("gitlab_deploy_token", &["gldt-"], r"\bgldt-[A-Za-z0-9_-]{20,}", "gldt-{b20}"),
            r("gitlab_runner_token", &["glrt-"], r"\bglrt-[A-Za-z0-9_-]{20,}", "glrt-{b20}"),
            r("gitlab_runner_registration", &["GR1348941"], r"\bGR1348941[A-Za-z0-9_-]{20,}", "GR1348941{b20}"),
            r("gitlab_pipeline_trigger", &["glptt-"], r"\bglptt-[a-f0-9]{40}\b", "glptt-{h40}"),
            r("gitlab_cicd_job_token", &["glcbt-"], r"\bglcbt-[0-9a-fA-F]{1,5}_[A-Za-z0-9_-]{20}", "glcbt-{h4}_{b20}"),
            r("gitlab_feed_token", &["glft-"], r"\bglft-[A-Za-z0-9_-]{20}", "glft-{b20}"),
            r("gitlab_incoming_mail", &["glimt-"], r"\bglimt-[A-Za-z0-9_-]{25}", "glimt-{b25}"),
            r("gitlab_oauth_secret", &["gloas-"], r"\bgloas-[A-Za-z0-9_-]{64}", "gloas-{b64}"),
            r("gitlab_scim_token", &["glsoat-"], r"\bglsoat-[A-Za-z0-9_-]{20}", "glsoat-{b20}"),
            r("gitlab_agent_token", &["glagent-"], r"\bglagent-[A-Za-z0-9_-]{50}", "glagent-{b50}"),
            r("bitbucket_app_password", &["ATBB"], r"\bATBB[A-Za-z0-9_=.-]{32}", "ATBB{a32}"),
            r("atlassian_api_token", &["ATATT3"], r"\bATATT3[A-Za-z0-9_=-]{186}", "ATATT3{b186}").max(220),
            r("circleci_token", &["CCIPAT_"], r"\bCCIPAT_[A-Za-z0-9]{22}_[a-f0-9]{40}\b", "CCIPAT_{a22}_{h40}"),
            r("buildkite_token", &["bkua_"], r"\bbkua_[a-f0-9]{40}\b", "bkua_{h40}"),
            r("jfrog_api_key", &["AKCp"], r"\bAKCp[A-Za-z0-9]{69}\b", "AKCp{a69}"),
            r("jfrog_reference_token", &["cmVmdGtuOjAxOjE"], r"\bcmVmdGtuOjAxOjE[A-Za-z0-9]{49}\b", "cmVmdGtuOjAxOjE{a49}"),
            r("npm_token", &["npm_"], r"\bnpm_[A-Za-z0-9]{36}\b", "npm_{a36}"),
            r("npm_auth_token", &["_authtoken"], r"(?i:_authToken)\s*=\s*([A-Za-z0-9_.-]{20,})", "//registry.npmjs.org/:_authToken={b36}").kw().check(random_looking).near("//registry.npmjs.org/:_authToken=${NPM_TOKEN}"),
            r("pypi_token", &["pypi-AgEIcHlwaS5vcmc"], r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}", "pypi-AgEIcHlwaS5vcmc{b70}"),
            r("rubygems_token", &["rubygems_"], r"\brubygems_[a-f0-9]{48}\b", "rubygems_{h48}"),
            r("nuget_api_key", &["oy2"], r"\boy2[a-z0-9]{43}\b", "oy2{l43}"),
            r("clojars_token", &["CLOJARS_"], r"\bCLOJARS_[a-z0-9]{60}\b", "CLOJARS_{l60}"),
            r("docker_hub_pat", &["dckr_pat_"], r"\bdckr_pat_[A-Za-z0-9_-]{27}", "dckr_pat_{b27}"),
            r("sonar_token", &["squ_", "sqp_", "sqa_"], r"\bsq[upa]_[a-f0-9]{40}\b", "squ_{h40}"),
            r("snyk_token", &["snyk"], assigned!("snyk", "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "SNYK_TOKEN={h8}-{h4}-{h4}-{h4}-{h12}").kw(),
            r("harness_pat", &["pat."], r"\bpat\.[A-Za-z0-9_-]{22}\.[a-f0-9]{24}\.[A-Za-z0-9]{20}\b", "pat.{a22}.{h24}.{a20}"),
            r("octopus_deploy_key", &["API-"], r"\bAPI-[A-Z0-9]{26}\b", "API-{u26}"),
            r("prefect_token", &["pnu_"], r"\bpnu_[A-Za-z0-9]{36}\b", "pnu_{a36}"),
            r("readme_token", &["rdme_"], r"\brdme_[a-z0-9]{70}\b", "rdme_{l70}"),
            r("postman_token", &["PMAK-"], r"\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b", "PMAK-{h24}-{h34}"),
            r("infracost_token", &["ico-"], r"\bico-[A-Za-z0-9]{32}\b", "ico-{a32}"),
            r("grafana_cloud_token", &["glc_"], r"\bglc_[A-Za-z0-9+/]{32,400}={0,2}", "glc_{s60}").max(420),
            r("grafana_service_account", &["glsa_"], r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}\b", "glsa_{a32}_{h8}"),
            r("sentry_org_token", &["sntrys_"], r"\bsntrys_eyJ[A-Za-z0-9+/=_-]{80,}", "sntrys_eyJ{b100}").max(400),
            r("sentry_user_token", &["sntryu_"], r"\bsntryu_[a-f0-9]{64}\b", "sntryu_{h64}"),
            r("new_relic_user_key", &["NRAK-"], r"\bNRAK-[A-Z0-9]{27}\b", "NRAK-{u27}"),
            r("new_relic_insert_key", &["NRII-"], r"\bNRII-[A-Za-z0-9_-]{32}", "NRII-{b32}"),
            r("new_relic_browser_key", &["NRJS-"], r"\bNRJS-[a-f0-9]{19}\b", "NRJS-{h19}"),
            r("dynatrace_token", &["dt0c01."], r"\bdt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}\b", "dt0c01.{u24}.{u64}"),
            r("datadog_key", &["datadog", "dd_api_key", "dd_app_key"], assigned!("datadog_?(?:api|app)?_?key|dd_(?:api|app)_key", "[a-f0-9]{32,40}"), "DD_API_KEY={h32}").kw().near("DD_API_KEY=${DD_API_KEY}"),
            r("linear_api_key", &["lin_api_"], r"\blin_api_[A-Za-z0-9]{40}\b", "lin_api_{a40}"),
            r("notion_token", &["ntn_"], r"\bntn_[0-9]{11}[A-Za-z0-9]{35}\b", "ntn_{d11}{a35}"),
            r("notion_legacy_token", &["secret_"], r"\bsecret_[A-Za-z0-9]{43}\b", "secret_{a43}"),
            r("airtable_pat", &["pat"], r"\bpat[A-Za-z0-9]{14}\.[a-f0-9]{64}\b", "pat{a14}.{h64}"),
            r("figma_token", &["figd_"], r"\bfigd_[A-Za-z0-9_-]{40}", "figd_{b40}"),
            r("typeform_token", &["tfp_"], r"\btfp_[A-Za-z0-9_.=-]{59}", "tfp_{b59}"),
            r("frameio_token", &["fio-u-"], r"\bfio-u-[A-Za-z0-9_=-]{64}", "fio-u-{b64}"),
            r("contentful_token", &["CFPAT-"], r"\bCFPAT-[A-Za-z0-9_-]{43}", "CFPAT-{b43}"),
            r("hubspot_pat", &["pat-na1-", "pat-eu1-"], r"\bpat-(?:na|eu)1-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b", "pat-na1-{h8}-{h4}-{h4}-{h4}-{h12}"),
            r("algolia_key", &["algolia"], assigned!("algolia", "[a-z0-9]{32}"), "ALGOLIA_ADMIN_KEY={l32}").kw().check(random_looking),
            r("okta_token", &["okta"], assigned!("okta", "00[A-Za-z0-9_-]{40}"), "OKTA_API_TOKEN=00{b40}").kw().near("OKTA_API_TOKEN=unset"),
            // ---- payment and commerce ----
            r("stripe_secret_key", &["sk_live_", "sk_test_", "rk_live_", "rk_test_"], r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b", "sk_live_{a24}"),
            r("stripe_webhook_secret", &["whsec_"], r"\bwhsec_[A-Za-z0-9]{32,}\b", "whsec_{a32}"),
            r("square_token", &["sq0atp-", "sq0csp-", "EAAA"], r"\b(?:sq0atp-[A-Za-z0-9_-]{22}|sq0csp-[A-Za-z0-9_-]{43}|EAAA[A-Za-z0-9_-]{60})", "sq0csp-{b43}"),
            r("braintree_token", &["access_token$production$"], r"access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32}", "access_token$production${l16}${h32}"),
            r("razorpay_key", &["rzp_live_", "rzp_test_"], r"\brzp_(?:live|test)_[A-Za-z0-9]{14}\b", "rzp_live_{a14}"),
            r("flutterwave_secret", &["FLWSECK"], r"\bFLWSECK(?:_TEST)?-[a-h0-9]{32}-X\b", "FLWSECK_TEST-{h32}-X"),
            r("gocardless_token", &["live_"], r"\blive_[A-Za-z0-9_=-]{40}", "live_{b40}"),
            r("plaid_access_token", &["access-sandbox-", "access-development-", "access-production-"], r"\baccess-(?:sandbox|development|production)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b", "access-production-{h8}-{h4}-{h4}-{h4}-{h12}"),
            r("shippo_token", &["shippo_live_", "shippo_test_"], r"\bshippo_(?:live|test)_[a-f0-9]{40}\b", "shippo_live_{h40}"),
            r("easypost_key", &["EZAK", "EZTK"], r"\bEZ[AT]K[A-Za-z0-9]{54}\b", "EZAK{a54}"),
            r("duffel_token", &["duffel_live_", "duffel_test_"], r"\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}", "duffel_live_{b43}"),
            r("shopify_token", &["shpat_", "shpca_", "shppa_", "shpss_"], r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b", "shpat_{h32}"),
            // ---- messaging ----
            r("mailchimp_key", &["-us"], r"\b[a-f0-9]{32}-us[0-9]{1,2}\b", "{h32}-us14").back(33),
            r("mailgun_key", &["key-"], r"\bkey-[a-f0-9]{32}\b", "key-{h32}"),
            r("sendgrid_key", &["SG."], r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", "SG.{b22}.{b43}"),
            r("brevo_key", &["xkeysib-"], r"\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}\b", "xkeysib-{h64}-{a16}"),
            r("resend_key", &["re_"], r"\bre_[A-Za-z0-9]{8}_[A-Za-z0-9]{24}\b", "re_{a8}_{a24}"),
            r("twilio_api_key", &["SK"], r"\bSK[0-9a-f]{32}\b", "SK{h32}"),
            r("twilio_auth_token", &["twilio"], assigned!("twilio", "[a-f0-9]{32}"), "TWILIO_AUTH_TOKEN={h32}").kw().near("TWILIO_AUTH_TOKEN=none"),
            r("telegram_bot_token", &[":AA"], r"\b[0-9]{8,10}:AA[A-Za-z0-9_-]{33}", "{d10}:AA{b33}").back(11),
            r("discord_webhook", &["https://discord.com/api/webhooks/", "https://discordapp.com/api/webhooks/"], r"https://discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9_-]{60,72}", "https://discord.com/api/webhooks/{d18}/{b68}"),
            r("discord_bot_token", &["discord"], assigned!("discord", "[A-Za-z0-9_.-]{59,72}"), "DISCORD_BOT_TOKEN={b24}.{b6}.{b38}").kw().near("DISCORD_BOT_TOKEN=<bot token>"),
            r("slack_token", &["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe-", "xoxe."], r"\bxox[abeprs][.-](?:[0-9]+-)?[A-Za-z0-9-]{10,}", "xoxb-{d12}-{d12}-{a24}").near("xoxb-12345"),
            r("slack_app_token", &["xapp-"], r"\bxapp-[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]+\b", "xapp-1-{u11}-{d13}-{h64}").near("xapp-1-A0"),
            r("slack_webhook", &["https://hooks.slack.com/"], r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{30,}", "https://hooks.slack.com/services/T{u8}/B{u8}/{a24}"),
            r("teams_webhook", &[".webhook.office.com/"], r"https://[a-z0-9-]+\.webhook\.office\.com/webhookb2/[a-z0-9-]{36}@[a-z0-9-]{36}/IncomingWebhook/[a-z0-9]{32}/[a-z0-9-]{36}", "https://acme.webhook.office.com/webhookb2/{h8}-{h4}-{h4}-{h4}-{h12}@{h8}-{h4}-{h4}-{h4}-{h12}/IncomingWebhook/{h32}/{h8}-{h4}-{h4}-{h4}-{h12}").back(40).max(300),
            r("twitter_bearer_token", &["AAAAAAAAAAAAAAAAAAAAA"], r"\bA{22}[A-Za-z0-9%]{80,100}", "AAAAAAAAAAAAAAAAAAAAAA{a90}"),
            r("facebook_token", &["EAAB", "EAAC", "EAAD", "EAAG", "EAAI", "EAAJ"], r"\bEAA[BCDGIJ][A-Za-z0-9]{100,}", "EAAG{a120}").max(400),
            r("mapbox_secret", &["sk.eyJ"], r"\bsk\.eyJ[A-Za-z0-9._-]{80,}", "sk.eyJ{b90}"),
            r("dropbox_token", &["sl."], r"\bsl\.(?:u\.)?[A-Za-z0-9_-]{130,}", "sl.{b140}").max(1000),
            r("firebase_messaging_key", &["AAAA"], r"\bAAAA[A-Za-z0-9_-]{7}:[A-Za-z0-9_-]{140}", "AAAA{b7}:{b140}"),
            r("yandex_key", &["AQVN"], r"\bAQVN[A-Za-z0-9_-]{35,38}", "AQVN{b36}"),
            // ---- LLM providers ----
            r("anthropic_key", &["sk-ant-api03-", "sk-ant-admin01-"], r"\bsk-ant-(?:api03|admin01)-[A-Za-z0-9_-]{93}AA", "sk-ant-api03-{b93}AA").near("sk-ant-api03-"),
            r("openrouter_key", &["sk-or-v1-"], r"\bsk-or-v1-[a-f0-9]{64}\b", "sk-or-v1-{h64}").near("sk-or-v1-abc"),
            r("langfuse_secret_key", &["sk-lf-"], r"\bsk-lf-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\b", "sk-lf-{h8}-{h4}-{h4}-{h4}-{h12}").near("sk-lf-1234"),
            r("openai_key", &["sk-"], r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", "sk-proj-{b48}").near("sk-proj-abc123"),
            r("huggingface_token", &["hf_"], r"\bhf_[A-Za-z]{34}\b", "hf_{L34}"),
            r("huggingface_org_token", &["api_org_"], r"\bapi_org_[A-Za-z]{34}\b", "api_org_{L34}"),
            r("groq_key", &["gsk_"], r"\bgsk_[A-Za-z0-9]{52}\b", "gsk_{a52}"),
            r("xai_key", &["xai-"], r"\bxai-[A-Za-z0-9]{80}\b", "xai-{a80}"),
            r("perplexity_key", &["pplx-"], r"\bpplx-[A-Za-z0-9]{48}\b", "pplx-{a48}"),
            r("replicate_token", &["r8_"], r"\br8_[A-Za-z0-9]{37}\b", "r8_{a37}"),
            r("langsmith_key", &["lsv2_pt_", "lsv2_sk_"], r"\blsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}\b", "lsv2_pt_{h32}_{h10}"),
            r("pinecone_key", &["pcsk_"], r"\bpcsk_[A-Za-z0-9]{5,6}_[A-Za-z0-9]{60,70}\b", "pcsk_{a6}_{a65}"),
            r("fireworks_key", &["fw_"], r"\bfw_[A-Za-z0-9]{24}\b", "fw_{a24}"),
            r("llm_provider_key", &["cohere_api_key", "co_api_key", "mistral_api_key", "together_api_key", "azure_openai_api_key", "azure_openai_key", "deepseek_api_key", "voyage_api_key"], assigned!("(?:cohere|co|mistral|together|azure_openai(?:_api)?|deepseek|voyage)_(?:api_)?key", "[A-Za-z0-9_-]{32,64}"), "MISTRAL_API_KEY={a32}").kw().check(random_looking).near("MISTRAL_API_KEY=your-mistral-key"),
            r("wandb_key", &["wandb_api_key"], assigned!("wandb_api_key", "[a-f0-9]{40}"), "WANDB_API_KEY={h40}").kw().near("WANDB_API_KEY=\"\""),
            r("traceledger_key", &["tlk_"], r"\btlk_[a-z0-9]{1,16}_[A-Za-z0-9_-]{43}", "tlk_acme_{b43}"),
            // ---- generic ----
            r("jwt", &["eyJ"], r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}", "eyJ{b20}.eyJ{b30}.{b43}").max(4096).near("eyJhbGciOiJIUzI1NiJ9"),
            r("private_key", &["-----BEGIN"], r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----", "-----BEGIN OPENSSH PRIVATE KEY-----").near("-----BEGIN PUBLIC KEY-----"),
            r("putty_private_key", &["PuTTY-User-Key-File-"], r"PuTTY-User-Key-File-[23]: [a-z0-9-]+", "PuTTY-User-Key-File-3: ssh-ed25519").near("PuTTY-User-Key-File: none"),
            r("connection_string_password", &["://"], r"\b(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|amqps?|mssql|sqlserver|oracle|ftps?|sftp|smtps?|ldaps?|https?|nats|kafka|clickhouse|snowflake)://[A-Za-z0-9._%+-]{1,64}:([A-Za-z0-9!$%&'()*+,;=._~-]{3,128})@", "postgres://app:{a16}@db.internal:5432/app").group(1).back(20).check(not_placeholder).near("postgres://db.internal:5432/app"),
            r("connection_string_pwd", &["password=", "pwd="], r"(?i:password|pwd)=([!#-&(-:<-~]{3,128})", "Server=db;User Id=app;Password={a16};").kw().check(password_like).near("Server=db;User Id=app;Password=;"),
            r("password_assignment", &["password", "passwd", "passphrase", "passwort", "kennwort", "mot de passe", "contrase", "senha", "wachtwoord"], r#"(?i:password|passwd|passphrase|passwort|kennwort|mot de passe|contrase\xC3\xB1a|contrasena|senha|wachtwoord)["']?\s{0,3}[:=]\s{0,3}["']?([!#-&(-~]{6,64})"#, "password: {a12}").kw().check(password_like).near("password: "),
            r("basic_auth_header", &["authorization"], r"(?i:authorization)\s*:\s*(?i:basic)\s+([A-Za-z0-9+/]{12,}={0,2})", "Authorization: Basic {s24}").kw().near("Authorization: Basic realm"),
            r("bearer_token", &["bearer"], r"(?i:bearer)[ \t]+([A-Za-z0-9._~+/-]{20,}=*)", "Authorization: Bearer {b32}").kw(),
            r("generic_api_key", &["api_key", "apikey", "api-key", "access_token", "access-token", "accesstoken", "auth_token", "auth-token", "authtoken", "secret_key", "client_secret", "client-secret", "clientsecret", "app_secret", "app-secret", "appsecret", "access_key", "access-key", "accesskey", "token", "secret"], assigned!("api[_-]?key|access[_-]?token|auth[_-]?token|secret[_-]?key|client[_-]?secret|app[_-]?secret|access[_-]?key|token|secret", "[A-Za-z0-9_./+=-]{16,128}"), "client_secret = \"{a32}\"").kw().check(random_looking).near("client_secret = \"aaaaaaaaaaaaaaaaaaaa\""),
        ]
    })
}

/// A rule's compiled pattern.
struct Compiled {
    re: Regex,
    /// The longest match it can make (bytes; `max` when the pattern is
    /// unbounded or longer).
    longest: usize,
    /// Every match starts with one of the rule's keys: the rule is tried
    /// once at each key, anchored there, instead of across a window.
    at_key: bool,
}

fn patterns() -> &'static [Compiled] {
    static P: OnceLock<Vec<Compiled>> = OnceLock::new();
    P.get_or_init(|| {
        rules()
            .iter()
            .map(|r| {
                // Byte patterns: every class is ASCII, so matches still
                // start and end on character boundaries.
                let syntax = regex_automata::util::syntax::Config::new().utf8(false);
                let pattern = format!("(?-u){}", r.pattern);
                // The rules are constants covered by tests.
                #[allow(clippy::expect_used)]
                let re = Regex::builder().syntax(syntax).build(&pattern).expect("secret pattern compiles");
                let hir = regex_automata::util::syntax::parse_with(&pattern, &syntax).ok();
                // A window need reach no further than the longest match
                // from its key: most rules' matches are far shorter than
                // `max`, and the windows are most of this pass's work.
                let longest = hir.as_ref().and_then(|h| h.properties().maximum_len()).map_or(r.max, |n| n.min(r.max));
                let at_key = hir.is_some_and(|h| starts_with_a_key(r, &h));
                Compiled { re, longest, at_key }
            })
            .collect()
    })
}

/// Whether every match of the rule's pattern starts with one of its keys
/// (in any ASCII case when the rule's keys match so): every prefix literal
/// of the pattern (`regex-syntax`'s extractor, the set finite) starts with
/// a key. Case-insensitive letters are folded to one literal first, or
/// `(?i:client_secret)` alone would be 4,096 literals.
fn starts_with_a_key(r: &SecretRule, hir: &Hir) -> bool {
    if r.back != 0 {
        return false;
    }
    let folded;
    let hir = if r.keys_any_case {
        folded = fold_case(hir);
        &folded
    } else {
        hir
    };
    let seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    let Some(lits) = seq.literals() else { return false };
    let norm = |v: &[u8]| if r.keys_any_case { v.to_ascii_lowercase() } else { v.to_vec() };
    let keys: Vec<Vec<u8>> = r.keys.iter().map(|k| norm(k.as_bytes())).collect();
    !lits.is_empty() && lits.iter().all(|l| keys.iter().any(|k| !k.is_empty() && norm(l.as_bytes()).starts_with(k)))
}

/// `hir` with every class of one ASCII letter in both cases (`[tT]`, what
/// `(?i)` makes of a letter) as that lowercase letter.
fn fold_case(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Class(Class::Bytes(c)) => match c.ranges() {
            [x, y]
                if x.start() == x.end()
                    && y.start() == y.end()
                    && x.start().is_ascii_alphabetic()
                    && x.start().eq_ignore_ascii_case(&y.start())
                    && x.start() != y.start() =>
            {
                Hir::literal([x.start().to_ascii_lowercase()])
            }
            _ => hir.clone(),
        },
        HirKind::Concat(xs) => Hir::concat(xs.iter().map(fold_case).collect()),
        HirKind::Alternation(xs) => Hir::alternation(xs.iter().map(fold_case).collect()),
        HirKind::Repetition(rep) => Hir::repetition(Repetition { sub: Box::new(fold_case(&rep.sub)), ..rep.clone() }),
        HirKind::Capture(cap) => Hir::capture(Capture { sub: Box::new(fold_case(&cap.sub)), ..cap.clone() }),
        _ => hir.clone(),
    }
}

/// Runs each rule whose keys were found (`keys`, from the cue pass) in
/// the windows around them.
pub(crate) fn scan(b: &[u8], keys: &[KeyHit], windows: &mut Vec<(usize, usize, usize)>, out: &mut Vec<Finding>) {
    scan_as(b, keys, windows, out, true);
}

/// `scan`, trying rules at their keys or not (the tests hold the two
/// equal).
fn scan_as(b: &[u8], keys: &[KeyHit], windows: &mut Vec<(usize, usize, usize)>, out: &mut Vec<Finding>, at_keys: bool) {
    if keys.is_empty() {
        return;
    }
    let (rs, ps) = (rules(), patterns());
    // (rule, window start, window end) for every key hit. A match holding
    // the key starts at most `back` before it, and not after it: it ends
    // within its longest length of the key's start.
    windows.clear();
    windows.extend(keys.iter().map(|k| {
        let reach = (k.start + k.len).max(k.start + ps[k.rule].longest);
        (k.rule, k.start.saturating_sub(rs[k.rule].back), reach.min(b.len()))
    }));
    windows.sort_unstable();
    let mut i = 0;
    while i < windows.len() {
        let (rule, s, mut e) = windows[i];
        let mut j = i + 1;
        if at_keys && ps[rule].at_key {
            // Matches start at keys only: one anchored try at each key
            // past the last match (what a search across the window would
            // find, without its reverse scan or its rescan to the end).
            let mut done = 0;
            while j < windows.len() && windows[j].0 == rule {
                j += 1;
            }
            for &(_, s, e) in &windows[i..j] {
                if s >= done {
                    done = search(b, rule, s, e, Anchored::Yes, out).unwrap_or(s + 1);
                }
            }
            i = j;
            continue;
        }
        while j < windows.len() && windows[j].0 == rule && windows[j].1 <= e {
            e = e.max(windows[j].2);
            j += 1;
        }
        search(b, rule, s, e, Anchored::No, out);
        i = j;
    }
}

/// Rule `rule`'s matches in `s..e`: every one (unanchored), or the one
/// starting at `s` (anchored). The end of the last.
fn search(b: &[u8], rule: usize, s: usize, e: usize, anchored: Anchored, out: &mut Vec<Finding>) -> Option<usize> {
    let r = &rules()[rule];
    let re = &patterns()[rule].re;
    let input = Input::new(b).span(s..e).anchored(anchored);
    let one = anchored.is_anchored();
    let mut last = None;
    let mut push = |ms: usize, me: usize| {
        if r.check.is_none_or(|f| f(&b[ms..me])) {
            out.push(Finding::new(Kind::Secret, ms, me, 0.95, r.id));
        }
    };
    if r.group == 0 {
        for m in re.find_iter(input).take(if one { 1 } else { usize::MAX }) {
            push(m.start(), m.end());
            last = Some(m.end());
        }
    } else {
        for caps in re.captures_iter(input).take(if one { 1 } else { usize::MAX }) {
            if let Some(g) = caps.get_group(r.group) {
                push(g.start, g.end);
            }
            last = caps.get_match().map(|m| m.end()).or(last);
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Entropy over the distinct bytes equals the textbook sum over all
        /// 256 (the generic rules' threshold depends on it).
        #[test]
        fn entropy_equals_the_textbook_sum(v in prop::collection::vec(any::<u8>(), 1..300)) {
            let mut counts = [0u32; 256];
            for &c in &v {
                counts[usize::from(c)] += 1;
            }
            let n = v.len() as f64;
            let want: f64 = counts.iter().filter(|&&c| c > 0).map(|&c| f64::from(c) / n).map(|p| -p * p.log2()).sum();
            prop_assert!((entropy(&v) - want).abs() < 1e-9);
        }

        /// Placeholder parts are found in any case, anywhere in a value.
        #[test]
        fn placeholder_parts_are_found_in_any_case(pre in "[A-Za-z0-9]{0,20}", post in "[A-Za-z0-9]{0,20}", k in 0usize..13, upper: bool) {
            let part = if upper { PLACEHOLDER_PARTS[k].to_uppercase() } else { PLACEHOLDER_PARTS[k].to_string() };
            let v = format!("{pre}{part}{post}");
            prop_assert!(placeholder(v.as_bytes()));
        }
    }

    /// Most rules start with their key and are tried anchored at it; the
    /// ones that cannot be (a match may start before its key, or the
    /// pattern may start otherwise) are searched across their window.
    #[test]
    fn rules_that_start_with_their_key_are_tried_at_it() {
        let at_key: Vec<&str> = rules().iter().zip(patterns()).filter(|(_, p)| p.at_key).map(|(r, _)| r.id).collect();
        for id in ["aws_access_key", "gcp_api_key", "generic_api_key", "password_assignment", "bearer_token", "jwt"] {
            assert!(at_key.contains(&id), "{id} should be tried at its key: {at_key:?}");
        }
        assert!(!at_key.contains(&"connection_string_password"), "its match starts before its key `://`");
        assert!(!at_key.contains(&"slack_token"), "`xoxb.` starts a match and is not one of its keys");
        assert!(at_key.len() * 10 >= rules().len() * 8, "{} of {} rules at their key", at_key.len(), rules().len());
        // The fold keeps what is not a letter in both cases.
        let parse = |p: &str| regex_automata::util::syntax::parse(p).expect("parse");
        assert_eq!(
            format!("{:?}", fold_case(&parse("(?-u)(?i:t)[_-]?[A-Z]"))),
            format!("{:?}", parse("(?-u)t[_-]?[A-Z]"))
        );
    }

    /// Secrets found by trying each rule at its keys and by searching
    /// across the windows.
    fn both_ways(text: &str) -> (Vec<Finding>, Vec<Finding>) {
        let b = text.as_bytes();
        let (mut cues, mut keys) = (Vec::new(), Vec::new());
        crate::cues::find(b, &mut cues, &mut keys);
        let (mut at, mut across) = (Vec::new(), Vec::new());
        scan_as(b, &keys, &mut Vec::new(), &mut at, true);
        scan_as(b, &keys, &mut Vec::new(), &mut across, false);
        (at, across)
    }

    proptest! {
        /// Keys, values and the separators of assignments in any order:
        /// trying rules at their keys finds exactly what a search across
        /// the windows finds.
        #[test]
        fn trying_rules_at_their_keys_finds_what_searching_windows_finds(
            parts in prop::collection::vec(prop::sample::select(vec![
                "AKIA", "ASIA", "A3T", "ghp_", "gho_", "github_pat_", "glpat-", "sk-", "sk-ant-api03-", "sk_live_",
                "xoxb-", "xoxp-", "xoxb.", "xoxe.", "AIza", "eyJ", ".eyJ", "hf_", "npm_", "SG.", "token", "secret", "api_key",
                "client_secret", "accesstoken", "password", "Password=", "bearer ", "Bearer ", "Authorization: Basic ",
                "-----BEGIN RSA PRIVATE KEY-----", "postgres://", "app:", "@db", "=", ": ", " = ", "\"", "'", " ",
                "\n", "_", "-", ".", "/", "ABCDEFGHIJKLMNOP", "QRSTUVWXYZ234567", "q8Z2xW4vN7kP1sT9", "bR3mY6cJ0aL5dF8h",
                "0123456789", "abcdefghijklmnop", "xxxx", "your",
            ]), 0..40)
        ) {
            let text: String = parts.concat();
            let (at, across) = both_ways(&text);
            prop_assert_eq!(at, across);
        }
    }

    #[test]
    fn random_keys_are_random_and_placeholders_are_not() {
        assert!(random_looking(b"q8Z2xW4vN7kP1sT9bR3mY6cJ"));
        assert!(!random_looking(b"your-api-key-goes-here-0123"));
        assert!(!random_looking(b"aaaaaaaaaaaaaaaaaaaa"));
        assert!(!random_looking(b"EXAMPLEq8Z2xW4vN7kP1sT9bR3mY6cJ"));
        assert_eq!(entropy(b""), 0.0);
    }
}
