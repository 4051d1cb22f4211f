use super::*;

fn set(ids: &[u32]) -> BTreeSet<u32> {
    ids.iter().copied().collect()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[track_caller]
fn assert_invalid(r: Result<BTreeSet<u32>, LcoreError>, option: &str, needles: &[&str]) {
    let e = r.expect_err("expected an error");
    let msg = e.to_string();
    assert!(matches!(e, LcoreError::Invalid { .. }), "{msg}");
    assert!(msg.starts_with(&format!("EAL option {option} ")), "{msg}");
    for n in needles {
        assert!(msg.contains(n), "{msg:?} does not contain {n:?}");
    }
}

// ---------------------------------------------------------------------------------- -l

#[test]
fn corelist_ids_and_ranges() {
    assert_eq!(parse_corelist("0").unwrap(), set(&[0]));
    assert_eq!(
        parse_corelist("0-3,5,7-8").unwrap(),
        set(&[0, 1, 2, 3, 5, 7, 8])
    );
    assert_eq!(parse_corelist("3-3").unwrap(), set(&[3]));
    assert_eq!(parse_corelist(" 1 - 2 , 4 ").unwrap(), set(&[1, 2, 4]));
    assert_eq!(parse_corelist("2,1,2").unwrap(), set(&[1, 2]));
    assert_eq!(parse_corelist("127").unwrap(), set(&[127]));
    assert_eq!(parse_corelist("0-127").unwrap().len(), 128);
}

#[test]
fn corelist_errors() {
    assert_invalid(parse_corelist(""), "-l", &["is empty", "e.g. -l 0-3,5"]);
    assert_invalid(parse_corelist("  "), "-l", &["is empty"]);
    assert_invalid(
        parse_corelist("a"),
        "-l",
        &["\"a\" is not a number", "-l 0-3,5"],
    );
    assert_invalid(parse_corelist("0-"), "-l", &["\"0-\" is not a number"]);
    assert_invalid(parse_corelist("-1"), "-l", &["not a number"]);
    assert_invalid(parse_corelist("1-2-3"), "-l", &["not a number"]);
    assert_invalid(parse_corelist("0,,1"), "-l", &["empty item"]);
    assert_invalid(parse_corelist("0,"), "-l", &["empty item"]);
    assert_invalid(parse_corelist("0x1"), "-l", &["not a number"]);
    assert_invalid(parse_corelist("1@2"), "-l", &["not a number"]);
    assert_invalid(
        parse_corelist("3-1"),
        "-l",
        &["range \"3-1\" is reversed", "1-3"],
    );
    assert_invalid(
        parse_corelist("0-128"),
        "-l",
        &["lcore 128 is out of range", "below 128", "RTE_MAX_LCORE"],
    );
    assert_invalid(parse_corelist("99999999999"), "-l", &["out of range"]);
}

// ---------------------------------------------------------------------------------- -c

#[test]
fn coremask_hex_with_or_without_prefix() {
    assert_eq!(parse_coremask("0xf").unwrap(), set(&[0, 1, 2, 3]));
    assert_eq!(parse_coremask("0XF").unwrap(), set(&[0, 1, 2, 3]));
    assert_eq!(parse_coremask("f").unwrap(), set(&[0, 1, 2, 3]));
    assert_eq!(parse_coremask("0x6").unwrap(), set(&[1, 2]));
    assert_eq!(parse_coremask("A0").unwrap(), set(&[5, 7]));
    assert_eq!(parse_coremask(" 0x1 ").unwrap(), set(&[0]));
    assert_eq!(parse_coremask("0x100").unwrap(), set(&[8]));
    // 128 bits, and leading zeros beyond them.
    assert_eq!(
        parse_coremask(&format!("0x8{}", "0".repeat(31))).unwrap(),
        set(&[127])
    );
    assert_eq!(
        parse_coremask(&format!("000{}1", "0".repeat(40))).unwrap(),
        set(&[0])
    );
}

#[test]
fn coremask_errors() {
    assert_invalid(parse_coremask(""), "-c", &["is empty", "-c 0xf"]);
    assert_invalid(parse_coremask("0x"), "-c", &["is empty"]);
    assert_invalid(parse_coremask("0"), "-c", &["selects no lcore"]);
    assert_invalid(parse_coremask("0x0"), "-c", &["selects no lcore"]);
    assert_invalid(parse_coremask("0xg"), "-c", &["'g' is not a hex digit"]);
    assert_invalid(parse_coremask("1,2"), "-c", &["',' is not a hex digit"]);
    assert_invalid(
        parse_coremask(&format!("0x1{}", "0".repeat(32))),
        "-c",
        &["lcore 128 is out of range"],
    );
}

// ---------------------------------------------------------------------------- --lcores

#[test]
fn lcores_groups() {
    assert_eq!(parse_lcores("0").unwrap(), set(&[0]));
    assert_eq!(parse_lcores("0-3").unwrap(), set(&[0, 1, 2, 3]));
    assert_eq!(parse_lcores("1,2").unwrap(), set(&[1, 2]));
    assert_eq!(parse_lcores("(0-2,5)").unwrap(), set(&[0, 1, 2, 5]));
    assert_eq!(parse_lcores("0@1").unwrap(), set(&[0]));
    assert_eq!(parse_lcores("(0,1)@(2-3)").unwrap(), set(&[0, 1]));
    // The example of DPDK's documentation.
    assert_eq!(
        parse_lcores("1,2@(5-7),(3-5)@(0,2),(0,6),7-8").unwrap(),
        set(&[0, 1, 2, 3, 4, 5, 6, 7, 8])
    );
    // Lcore ids are the left side only; cpus may be above the lcore limit.
    assert_eq!(parse_lcores("10@500").unwrap(), set(&[10]));
    assert_eq!(
        parse_lcores(" 0 @ 1 , ( 2 , 3 ) @ 4 ").unwrap(),
        set(&[0, 2, 3])
    );
    assert_eq!(parse_lcores("1,1@2").unwrap(), set(&[1]));
}

#[test]
fn lcores_errors() {
    let o = "--lcores";
    assert_invalid(parse_lcores(""), o, &["empty group", "lcores[@cpus]"]);
    assert_invalid(parse_lcores("0,"), o, &["empty group"]);
    assert_invalid(parse_lcores("()"), o, &["empty group \"()\""]);
    assert_invalid(parse_lcores("(0,1"), o, &["'(' without its ')'"]);
    assert_invalid(parse_lcores("0,1)"), o, &["')' without its '('"]);
    assert_invalid(parse_lcores("((0))"), o, &["nested parentheses"]);
    assert_invalid(parse_lcores("(0)1"), o, &["text after ')'"]);
    assert_invalid(parse_lcores("@1"), o, &["empty lcore or cpu set"]);
    assert_invalid(parse_lcores("1@"), o, &["empty lcore or cpu set"]);
    assert_invalid(parse_lcores("1@2@3"), o, &["not a number"]);
    assert_invalid(parse_lcores("x"), o, &["not a number"]);
    assert_invalid(parse_lcores("3-1"), o, &["reversed"]);
    assert_invalid(parse_lcores("(1,3-2)@0"), o, &["reversed"]);
    assert_invalid(parse_lcores("128"), o, &["lcore 128 is out of range"]);
    assert_invalid(
        parse_lcores("0@1024"),
        o,
        &["cpu 1024 is out of range", "CPU_SETSIZE"],
    );
}

// -------------------------------------------------------------------------- eal_lcores

#[test]
fn no_lcore_option_means_eal_default() {
    let l = eal_lcores(&args(&["dp", "-n", "4", "--vdev", "net_null0"])).unwrap();
    assert_eq!(l, EalLcores::default());
    assert_eq!(l.worker_count(8), 7);
    assert_eq!(l.worker_count(1), 0);
    assert_eq!(l.worker_count(0), 0);
    assert_eq!(l.worker_count(500), 127);
    assert_eq!(l.main(), None);
    assert_eq!(eal_lcores(&[]).unwrap(), EalLcores::default());
}

#[test]
fn every_spelling_of_the_lcore_options() {
    let cases: &[(&[&str], &[u32])] = &[
        (&["dp", "-l", "0-2"], &[0, 1, 2]),
        (&["dp", "-l0-2"], &[0, 1, 2]),
        (&["dp", "-c", "0x6"], &[1, 2]),
        (&["dp", "-c6"], &[1, 2]),
        (&["dp", "--lcores", "0@0,1@1"], &[0, 1]),
        (&["dp", "--lcores=(0-1)@0"], &[0, 1]),
        // No program name.
        (&["-l", "3"], &[3]),
        // Short options clustered after a flag, as getopt allows.
        (&["dp", "-vl", "1-2"], &[1, 2]),
        (&["dp", "-vl1-2"], &[1, 2]),
    ];
    for (argv, ids) in cases {
        let l = eal_lcores(&args(argv)).unwrap();
        assert_eq!(l.lcores, Some(set(ids)), "{argv:?}");
        assert_eq!(l.main_lcore, None);
    }
}

#[test]
fn main_lcore_spellings_and_last_one_wins() {
    let l = eal_lcores(&args(&["dp", "-l", "0-3", "--main-lcore", "2"])).unwrap();
    assert_eq!(l.main_lcore, Some(2));
    assert_eq!(l.main(), Some(2));
    let l = eal_lcores(&args(&[
        "dp",
        "--main-lcore=1",
        "-l",
        "0-3",
        "--main-lcore=3",
    ]))
    .unwrap();
    assert_eq!(l.main_lcore, Some(3));
    let l = eal_lcores(&args(&["dp", "-l", "0-3", "--main-lcore", "0x2"])).unwrap();
    assert_eq!(l.main_lcore, Some(2));
    let l = eal_lcores(&args(&["dp", "--main-lcore", "5"])).unwrap();
    assert_eq!((l.lcores, l.main_lcore), (None, Some(5)));
}

#[test]
fn values_of_other_options_are_skipped() {
    // "-l" here is the value of --file-prefix / -a, not an option.
    let l = eal_lcores(&args(&["dp", "--file-prefix", "-l", "-a", "-c", "-n", "4"])).unwrap();
    assert_eq!(l.lcores, None);
    let l = eal_lcores(&args(&[
        "dp",
        "--vdev=net_null0",
        "--no-pci",
        "-l",
        "1",
        "--in-memory",
    ]))
    .unwrap();
    assert_eq!(l.lcores, Some(set(&[1])));
    // Nothing after "--" is EAL's.
    let l = eal_lcores(&args(&["dp", "--", "-l", "0-3"])).unwrap();
    assert_eq!(l.lcores, None);
}

#[test]
fn worker_count_subtracts_the_main_lcore() {
    let l = eal_lcores(&args(&["dp", "-l", "0-3"])).unwrap();
    assert_eq!(l.worker_count(2), 3); // the set decides, not the CPU count
    assert_eq!(l.main(), Some(0));
    let l = eal_lcores(&args(&["dp", "-l", "0-3", "--main-lcore", "3"])).unwrap();
    assert_eq!(l.worker_count(4), 3);
    let l = eal_lcores(&args(&["dp", "-l", "5"])).unwrap();
    assert_eq!(l.worker_count(64), 0);
    let l = eal_lcores(&args(&["dp", "-c", "0x3"])).unwrap();
    assert_eq!(l.worker_count(64), 1);
    let l = eal_lcores(&args(&["dp", "--lcores", "(0-4)@0"])).unwrap();
    assert_eq!(l.worker_count(1), 4);
    // Built by hand with a main lcore outside the set: nothing to subtract.
    let l = EalLcores {
        lcores: Some(set(&[1, 2])),
        main_lcore: Some(0),
    };
    assert_eq!(l.worker_count(4), 2);
}

#[test]
fn two_lcore_options_conflict_like_in_dpdk() {
    for argv in [
        &["dp", "-l", "0-1", "-c", "0x3"][..],
        &["dp", "-c", "3", "--lcores", "0,1"],
        &["dp", "--lcores=0", "-l1"],
        &["dp", "-l", "0", "-l", "1"],
    ] {
        let e = eal_lcores(&args(argv)).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, LcoreError::Conflict { .. }), "{argv:?}: {msg}");
        assert!(msg.contains("only one of -l, -c and --lcores"), "{msg}");
        assert!(msg.contains("keep one"), "{msg}");
    }
    let e = eal_lcores(&args(&["dp", "-l", "0-1", "-c", "0x3"])).unwrap_err();
    assert_eq!(
        e,
        LcoreError::Conflict {
            first: "-l 0-1".into(),
            second: "-c 0x3".into()
        }
    );
}

#[test]
fn main_lcore_must_be_enabled() {
    let e = eal_lcores(&args(&["dp", "-l", "1-2", "--main-lcore", "0"])).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, LcoreError::MainNotEnabled { main: 0, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("--main-lcore 0 is not among the lcores of -l (1-2)"),
        "{msg}"
    );
    assert!(msg.contains("add 0 to -l"), "{msg}");
}

#[test]
fn bad_values_and_missing_values() {
    let e = eal_lcores(&args(&["dp", "-l", "x"])).unwrap_err();
    assert!(e.to_string().starts_with("EAL option -l \"x\""), "{e}");
    let e = eal_lcores(&args(&["dp", "--main-lcore", "one"])).unwrap_err();
    assert!(e.to_string().contains("is not an lcore id"), "{e}");
    let e = eal_lcores(&args(&["dp", "--main-lcore", "128"])).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    let e = eal_lcores(&args(&["dp", "--main-lcore="])).unwrap_err();
    assert!(e.to_string().contains("is not an lcore id"), "{e}");
    for (argv, option) in [
        (&["dp", "-l"][..], "-l"),
        (&["dp", "-c"], "-c"),
        (&["dp", "--lcores"], "--lcores"),
        (&["dp", "--main-lcore"], "--main-lcore"),
    ] {
        let e = eal_lcores(&args(argv)).unwrap_err();
        assert_eq!(
            std::mem::discriminant(&e),
            std::mem::discriminant(&LcoreError::MissingValue {
                option: "",
                fix: String::new()
            }),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with(&format!("EAL option {option} needs a value; ")),
            "{e}"
        );
    }
}

#[test]
fn format_set_compresses_ranges() {
    assert_eq!(format_set(&set(&[])), "");
    assert_eq!(format_set(&set(&[0, 1, 2, 3, 5, 7, 8])), "0-3,5,7-8");
    assert_eq!(format_set(&set(&[4])), "4");
}
