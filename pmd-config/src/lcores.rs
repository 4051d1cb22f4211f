//! Which lcores the EAL arguments give the process, worked out before `rte_eal_init` so the
//! dataplane can refuse early and clearly when no worker lcore is left for the poll loop.
//!
//! The syntax follows DPDK 22.11 (Debian 12): `-l` is a list of ids and ranges, `-c` a hex
//! mask, `--lcores` a list of `lcores[@cpus]` groups. At most one of the three may be given,
//! once. `--main-lcore` picks the main lcore (default: the lowest); the other lcores are
//! workers. Service cores (`-s`, `-S`) are not subtracted.

use std::collections::BTreeSet;

/// Lcore ids must be below this: `RTE_MAX_LCORE` of DPDK as built by Debian and most distros
/// (128). A bigger id is refused here rather than by EAL.
pub const MAX_LCORE: u32 = 128;

/// Physical CPU ids on the right of `@` in `--lcores` must be below this (`CPU_SETSIZE`).
pub const MAX_CPU: u32 = 1024;

/// Why the lcore options cannot be used. Messages name the option and say how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LcoreError {
    /// The value of an option is malformed or out of range.
    #[error("EAL option {option} {value:?}: {problem}; {fix}")]
    Invalid {
        option: &'static str,
        value: String,
        problem: String,
        fix: String,
    },
    /// An option that needs a value is the last argument.
    #[error("EAL option {option} needs a value; {fix}")]
    MissingValue { option: &'static str, fix: String },
    /// More than one of `-l`, `-c`, `--lcores`, or one of them twice.
    #[error(
        "EAL options {first} and {second} both set the lcores; DPDK accepts only one of -l, \
         -c and --lcores, once; keep one"
    )]
    Conflict { first: String, second: String },
    /// `--main-lcore` names an lcore the lcore option does not enable.
    #[error(
        "EAL option --main-lcore {main} is not among the lcores of {option} ({lcores}); add \
         {main} to {option} or choose one of its lcores"
    )]
    MainNotEnabled {
        main: u32,
        option: &'static str,
        lcores: String,
    },
}

const CORELIST_FIX: &str = "write lcore ids and ranges separated by commas, e.g. -l 0-3,5";
const COREMASK_FIX: &str = "write a hex mask of lcore ids, e.g. -c 0xf for lcores 0-3";
const LCORES_FIX: &str =
    "write lcores[@cpus] groups separated by commas, where each side is N, N-M or a \
     parenthesised list, e.g. --lcores 0@0,(1-2)@(2,3),4-5";

fn invalid(option: &'static str, value: &str, problem: String, fix: &str) -> LcoreError {
    LcoreError::Invalid {
        option,
        value: value.to_string(),
        problem,
        fix: fix.to_string(),
    }
}

/// Parses `-l`'s value: ids and `N-M` ranges separated by commas, e.g. `0-3,5,7-8`.
pub fn parse_corelist(s: &str) -> Result<BTreeSet<u32>, LcoreError> {
    let set = parse_id_list(s, s, "-l", MAX_LCORE, CORELIST_FIX)?;
    if set.is_empty() {
        return Err(invalid("-l", s, "is empty".to_string(), CORELIST_FIX));
    }
    Ok(set)
}

/// Parses `-c`'s value: a hex mask (with or without `0x`), bit N = lcore N.
pub fn parse_coremask(s: &str) -> Result<BTreeSet<u32>, LcoreError> {
    let t = s.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if digits.is_empty() {
        return Err(invalid("-c", s, "is empty".to_string(), COREMASK_FIX));
    }
    let mut set = BTreeSet::new();
    for (pos, c) in digits.chars().rev().enumerate() {
        let Some(v) = c.to_digit(16) else {
            return Err(invalid(
                "-c",
                s,
                format!("{c:?} is not a hex digit"),
                COREMASK_FIX,
            ));
        };
        for bit in 0..4 {
            if v & (1 << bit) == 0 {
                continue;
            }
            let id = u32::try_from(pos * 4 + bit).unwrap_or(u32::MAX);
            if id >= MAX_LCORE {
                return Err(invalid("-c", s, lcore_range_problem(id), COREMASK_FIX));
            }
            set.insert(id);
        }
    }
    if set.is_empty() {
        return Err(invalid(
            "-c",
            s,
            "selects no lcore".to_string(),
            COREMASK_FIX,
        ));
    }
    Ok(set)
}

/// Parses `--lcores`' value and returns the lcore ids (the left sides of `lcores@cpus`).
/// Groups are separated by commas; each side is `N`, `N-M` or a parenthesised list such as
/// `(0,2-4)`. Without `@cpus` an lcore runs on the CPU of the same id.
pub fn parse_lcores(s: &str) -> Result<BTreeSet<u32>, LcoreError> {
    const OPT: &str = "--lcores";
    let mut set = BTreeSet::new();
    for group in split_groups(s)? {
        let group = group.trim();
        if group.is_empty() {
            return Err(invalid(
                OPT,
                s,
                "has an empty group".to_string(),
                LCORES_FIX,
            ));
        }
        let (lcores, cpus) = match group.split_once('@') {
            Some((l, c)) => (l, Some(c)),
            None => (group, None),
        };
        set.extend(parse_set(lcores, s, MAX_LCORE)?);
        if let Some(cpus) = cpus {
            parse_set(cpus, s, MAX_CPU)?;
        }
    }
    if set.is_empty() {
        return Err(invalid(OPT, s, "is empty".to_string(), LCORES_FIX));
    }
    Ok(set)
}

/// Splits `--lcores`' value at the commas outside parentheses.
fn split_groups(s: &str) -> Result<Vec<&str>, LcoreError> {
    let mut groups = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' if depth == 0 => depth = 1,
            '(' => {
                return Err(invalid(
                    "--lcores",
                    s,
                    "has nested parentheses".to_string(),
                    LCORES_FIX,
                ))
            }
            ')' if depth == 1 => depth = 0,
            ')' => {
                return Err(invalid(
                    "--lcores",
                    s,
                    "has a ')' without its '('".to_string(),
                    LCORES_FIX,
                ))
            }
            ',' if depth == 0 => {
                groups.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(invalid(
            "--lcores",
            s,
            "has a '(' without its ')'".to_string(),
            LCORES_FIX,
        ));
    }
    groups.push(&s[start..]);
    Ok(groups)
}

/// One side of an `--lcores` group: `N`, `N-M` or `(list)`.
fn parse_set(side: &str, whole: &str, limit: u32) -> Result<BTreeSet<u32>, LcoreError> {
    let t = side.trim();
    if t.is_empty() {
        return Err(invalid(
            "--lcores",
            whole,
            "has an empty lcore or cpu set (around '@')".to_string(),
            LCORES_FIX,
        ));
    }
    if let Some(inner) = t.strip_prefix('(') {
        let Some(inner) = inner.strip_suffix(')') else {
            return Err(invalid(
                "--lcores",
                whole,
                format!("{t:?} has text after ')'"),
                LCORES_FIX,
            ));
        };
        if inner.trim().is_empty() {
            return Err(invalid(
                "--lcores",
                whole,
                "has an empty group \"()\"".to_string(),
                LCORES_FIX,
            ));
        }
        return parse_id_list(inner, whole, "--lcores", limit, LCORES_FIX);
    }
    if t.contains(',') || t.contains(')') {
        return Err(invalid(
            "--lcores",
            whole,
            format!("{t:?} is not N, N-M or a parenthesised list"),
            LCORES_FIX,
        ));
    }
    parse_id_list(t, whole, "--lcores", limit, LCORES_FIX)
}

/// `N` and `N-M` items separated by commas. Blanks around numbers are allowed, as in DPDK.
fn parse_id_list(
    list: &str,
    whole: &str,
    option: &'static str,
    limit: u32,
    fix: &str,
) -> Result<BTreeSet<u32>, LcoreError> {
    let mut set = BTreeSet::new();
    if list.trim().is_empty() {
        return Ok(set);
    }
    for item in list.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(invalid(option, whole, "has an empty item".to_string(), fix));
        }
        let (lo, hi) = match item.split_once('-') {
            Some((a, b)) => (
                parse_id(a, item, whole, option, limit, fix)?,
                parse_id(b, item, whole, option, limit, fix)?,
            ),
            None => {
                let id = parse_id(item, item, whole, option, limit, fix)?;
                (id, id)
            }
        };
        if lo > hi {
            return Err(invalid(
                option,
                whole,
                format!("range {item:?} is reversed"),
                &format!("write it low-high, e.g. {hi}-{lo}"),
            ));
        }
        set.extend(lo..=hi);
    }
    Ok(set)
}

fn parse_id(
    s: &str,
    item: &str,
    whole: &str,
    option: &'static str,
    limit: u32,
    fix: &str,
) -> Result<u32, LcoreError> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            option,
            whole,
            format!("{item:?} is not a number or a range N-M"),
            fix,
        ));
    }
    let id = t.parse::<u32>().unwrap_or(u32::MAX);
    if id >= limit {
        let problem = if limit == MAX_LCORE {
            lcore_range_problem(id)
        } else {
            format!("cpu {id} is out of range; cpu ids must be below {limit} (CPU_SETSIZE)")
        };
        return Err(invalid(option, whole, problem, fix));
    }
    Ok(id)
}

fn lcore_range_problem(id: u32) -> String {
    format!(
        "lcore {id} is out of range; lcore ids must be below {MAX_LCORE} (RTE_MAX_LCORE of \
         the distribution's DPDK build)"
    )
}

/// The lcores the EAL arguments select.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EalLcores {
    /// From `-l`, `-c` or `--lcores`; `None` when none is given and EAL takes every CPU the
    /// process may run on.
    pub lcores: Option<BTreeSet<u32>>,
    /// From `--main-lcore`; `None` means the lowest lcore.
    pub main_lcore: Option<u32>,
}

impl EalLcores {
    /// How many worker lcores (all enabled lcores but the main one) EAL will start.
    /// `online_cpus` is the number of CPUs the process may run on
    /// (`std::thread::available_parallelism`), used when no lcore option is given.
    pub fn worker_count(&self, online_cpus: usize) -> usize {
        match &self.lcores {
            Some(set) => {
                let main = self.main_lcore.or_else(|| set.first().copied());
                set.len() - usize::from(main.is_some_and(|m| set.contains(&m)))
            }
            None => online_cpus.min(MAX_LCORE as usize).saturating_sub(1),
        }
    }

    /// The main lcore: the one given, or the lowest enabled; `None` when the lcores are EAL's
    /// default and no main lcore is given (then it is the lowest CPU the process may use).
    pub fn main(&self) -> Option<u32> {
        self.main_lcore
            .or_else(|| self.lcores.as_ref().and_then(|s| s.first().copied()))
    }
}

/// EAL short options that take a value (DPDK 22.11 `eal_short_options`).
const SHORT_WITH_VALUE: &[char] = &['a', 'b', 'c', 'd', 'l', 'm', 'n', 'r', 's', 'S', 'w'];

/// EAL long options that take a value in the next argument when not written `--opt=value`.
const LONG_WITH_VALUE: &[&str] = &[
    "allow",
    "base-virtaddr",
    "block",
    "file-prefix",
    "force-max-simd-bitwidth",
    "huge-dir",
    "iova-mode",
    "lcores",
    "log-level",
    "main-lcore",
    "master-lcore",
    "mbuf-pool-ops-name",
    "pci-blacklist",
    "pci-whitelist",
    "proc-type",
    "socket-limit",
    "socket-mem",
    "syslog",
    "trace",
    "trace-bufsz",
    "trace-dir",
    "trace-mode",
    "vdev",
    "vfio-intr",
    "vfio-vf-token",
];

/// Finds the lcore options in the EAL arguments (as given to `rte_eal_init`; a leading
/// program name is skipped): `-l X`, `-lX`, `-c X`, `-cX`, `--lcores X`, `--lcores=X`,
/// `--main-lcore X`, `--main-lcore=X`. Values of other EAL options are skipped, so
/// `--vdev -l` is not mistaken for `-l`; scanning stops at `--`.
///
/// Like DPDK, more than one of `-l`, `-c` and `--lcores` (or one of them twice) is an
/// error; for `--main-lcore` the last one wins. A main lcore outside the given lcores is an
/// error, as it is in EAL.
pub fn eal_lcores(eal_args: &[String]) -> Result<EalLcores, LcoreError> {
    let mut out = EalLcores::default();
    let mut core_option: Option<(&'static str, String)> = None;
    let start = usize::from(eal_args.first().is_some_and(|a| !a.starts_with('-')));
    let mut args = eal_args[start..].iter();

    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        // (option, value) for the options we care about.
        let found: Option<(&'static str, String)> = if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let option = match name {
                "lcores" => Some("--lcores"),
                "main-lcore" | "master-lcore" => Some("--main-lcore"),
                _ => None,
            };
            let value = match inline {
                Some(v) => Some(v),
                None if LONG_WITH_VALUE.contains(&name) => args.next().cloned(),
                None => None,
            };
            match (option, value) {
                (Some(o), Some(v)) => Some((o, v)),
                (Some(o), None) => return Err(missing(o)),
                (None, _) => None,
            }
        } else if let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) {
            short_option(short, &mut args)?
        } else {
            None // not an option (EAL would complain; not our business)
        };

        let Some((option, value)) = found else {
            continue;
        };
        let set = match option {
            "--main-lcore" => {
                out.main_lcore = Some(parse_main_lcore(&value)?);
                continue;
            }
            "-l" => parse_corelist(&value)?,
            "-c" => parse_coremask(&value)?,
            _ => parse_lcores(&value)?,
        };
        let shown = format!("{option} {value}");
        if let Some((_, first)) = &core_option {
            return Err(LcoreError::Conflict {
                first: first.clone(),
                second: shown,
            });
        }
        core_option = Some((option, shown));
        out.lcores = Some(set);
    }

    if let (Some(main), Some(set), Some((option, _))) = (out.main_lcore, &out.lcores, &core_option)
    {
        if !set.contains(&main) {
            return Err(LcoreError::MainNotEnabled {
                main,
                option,
                lcores: format_set(set),
            });
        }
    }
    Ok(out)
}

/// A getopt-style cluster of short options (`-l0-3`, `-v`, `-n4`): returns `-l`/`-c` with its
/// value, consuming the next argument when the value is not attached.
fn short_option<'a>(
    cluster: &str,
    args: &mut impl Iterator<Item = &'a String>,
) -> Result<Option<(&'static str, String)>, LcoreError> {
    for (i, c) in cluster.char_indices() {
        if !SHORT_WITH_VALUE.contains(&c) {
            continue; // a flag such as -v; the next character is another option
        }
        let attached = &cluster[i + c.len_utf8()..];
        let value = if attached.is_empty() {
            args.next().cloned()
        } else {
            Some(attached.to_string())
        };
        let option = match c {
            'l' => "-l",
            'c' => "-c",
            _ => return Ok(None),
        };
        return match value {
            Some(v) => Ok(Some((option, v))),
            None => Err(missing(option)),
        };
    }
    Ok(None)
}

fn missing(option: &'static str) -> LcoreError {
    let fix = match option {
        "-l" => CORELIST_FIX,
        "-c" => COREMASK_FIX,
        "--lcores" => LCORES_FIX,
        _ => "give the main lcore's id, e.g. --main-lcore 0",
    };
    LcoreError::MissingValue {
        option,
        fix: fix.to_string(),
    }
}

/// `--main-lcore`'s value: decimal, or hex with `0x` (EAL uses `strtol(.., 0)`).
fn parse_main_lcore(value: &str) -> Result<u32, LcoreError> {
    const FIX: &str = "give the main lcore's id, e.g. --main-lcore 0";
    let bad = || invalid("--main-lcore", value, "is not an lcore id".to_string(), FIX);
    let id = if let Some(hex) = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        u32::from_str_radix(hex, 16).map_err(|_| bad())?
    } else if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        value.parse::<u32>().unwrap_or(u32::MAX)
    } else {
        return Err(bad());
    };
    if id >= MAX_LCORE {
        return Err(invalid("--main-lcore", value, lcore_range_problem(id), FIX));
    }
    Ok(id)
}

/// `{0,1,2,3,5}` as `0-3,5`.
pub fn format_set(set: &BTreeSet<u32>) -> String {
    let mut out = String::new();
    let mut iter = set.iter().copied().peekable();
    while let Some(lo) = iter.next() {
        let mut hi = lo;
        while iter.peek() == Some(&(hi + 1)) {
            hi += 1;
            iter.next();
        }
        if !out.is_empty() {
            out.push(',');
        }
        if lo == hi {
            out.push_str(&lo.to_string());
        } else {
            out.push_str(&format!("{lo}-{hi}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
