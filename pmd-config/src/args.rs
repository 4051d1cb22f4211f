//! Splitting the command line between EAL and the application.

/// Splits `argv` at the first `--`: what comes before is for `rte_eal_init`, what comes after
/// is the application's. `argv[0]` (the program name) starts both vectors, as both parsers
/// expect it; the `--` itself is in neither. Without `--` everything is EAL's and the
/// application gets only the program name, except `-h`, `--help`, `-V` and `--version`:
/// someone who types `dataplane --help` wants the program's help, not EAL's (before an
/// explicit `--` they are still EAL's).
///
/// ```
/// # use pmd_config::split_eal_args;
/// let argv: Vec<String> = ["dataplane", "-l", "0-1", "--", "--config", "dp.toml"]
///     .iter().map(|s| s.to_string()).collect();
/// let (eal, app) = split_eal_args(&argv);
/// assert_eq!(eal, ["dataplane", "-l", "0-1"]);
/// assert_eq!(app, ["dataplane", "--config", "dp.toml"]);
/// ```
pub fn split_eal_args(argv: &[String]) -> (Vec<String>, Vec<String>) {
    let Some((prog, rest)) = argv.split_first() else {
        return (Vec::new(), Vec::new());
    };
    let mut eal = vec![prog.clone()];
    let mut app = vec![prog.clone()];
    match rest.iter().position(|a| a == "--") {
        Some(i) => {
            eal.extend_from_slice(&rest[..i]);
            app.extend_from_slice(&rest[i + 1..]);
        }
        None => {
            let is_help = |a: &String| matches!(a.as_str(), "-h" | "--help" | "-V" | "--version");
            eal.extend(rest.iter().filter(|a| !is_help(a)).cloned());
            app.extend(rest.iter().filter(|a| is_help(a)).cloned());
        }
    }
    (eal, app)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_at_first_double_dash() {
        let (eal, app) = split_eal_args(&v(&["dp", "-l", "0-1", "--", "--config", "x", "--", "y"]));
        assert_eq!(eal, v(&["dp", "-l", "0-1"]));
        assert_eq!(app, v(&["dp", "--config", "x", "--", "y"]));
    }

    #[test]
    fn no_double_dash_means_all_eal() {
        let (eal, app) = split_eal_args(&v(&["dp", "-l", "0-1", "--vdev", "net_null0"]));
        assert_eq!(eal, v(&["dp", "-l", "0-1", "--vdev", "net_null0"]));
        assert_eq!(app, v(&["dp"]));
    }

    #[test]
    fn help_and_version_without_double_dash_are_the_apps() {
        for flag in ["--help", "-h", "--version", "-V"] {
            let (eal, app) = split_eal_args(&v(&["dp", "-l", "0-1", flag]));
            assert_eq!(eal, v(&["dp", "-l", "0-1"]));
            assert_eq!(app, v(&["dp", flag]));
        }
        // After `--` they are the app's anyway; before it, EAL's (its own help).
        let (eal, app) = split_eal_args(&v(&["dp", "--help", "--"]));
        assert_eq!((eal, app), (v(&["dp", "--help"]), v(&["dp"])));
        // EAL's -v (print the DPDK version at start) stays EAL's.
        let (eal, app) = split_eal_args(&v(&["dp", "-v"]));
        assert_eq!((eal, app), (v(&["dp", "-v"]), v(&["dp"])));
    }

    #[test]
    fn leading_double_dash_gives_everything_to_the_app() {
        let (eal, app) = split_eal_args(&v(&["dp", "--", "--vhost-user", "/run/x.sock"]));
        assert_eq!(eal, v(&["dp"]));
        assert_eq!(app, v(&["dp", "--vhost-user", "/run/x.sock"]));
    }

    #[test]
    fn trailing_double_dash_gives_the_app_only_its_name() {
        let (eal, app) = split_eal_args(&v(&["dp", "-l", "0", "--"]));
        assert_eq!(eal, v(&["dp", "-l", "0"]));
        assert_eq!(app, v(&["dp"]));
    }

    #[test]
    fn program_name_only_and_empty() {
        assert_eq!(split_eal_args(&v(&["dp"])), (v(&["dp"]), v(&["dp"])));
        assert_eq!(split_eal_args(&[]), (vec![], vec![]));
    }

    #[test]
    fn program_name_is_never_the_separator() {
        let (eal, app) = split_eal_args(&v(&["--", "-l", "0"]));
        assert_eq!(eal, v(&["--", "-l", "0"]));
        assert_eq!(app, v(&["--"]));
    }
}
