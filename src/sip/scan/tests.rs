use super::*;

fn valid_header_params(b: &[u8]) -> bool {
    header_params(b, b"").is_some()
}

fn split(s: &str) -> Vec<&str> {
    split_commas(s.as_bytes())
        .into_iter()
        .map(|r| &s[r])
        .collect()
}

#[test]
fn comma_split_respects_quotes_and_angles() {
    assert_eq!(split("a, b ,c"), vec!["a", "b", "c"]);
    assert_eq!(
        split(r#""Bell, A." <sip:a@b>;tag=1, <sip:x,y@z>"#),
        vec![r#""Bell, A." <sip:a@b>;tag=1"#, "<sip:x,y@z>"]
    );
    assert_eq!(
        split(r#""a \", b" <sip:a>, c"#),
        vec![r#""a \", b" <sip:a>"#, "c"]
    );
    assert_eq!(split(";;,;,,"), vec![";;", ";"]);
    assert_eq!(split(r#""unterminated, x"#), vec![r#""unterminated, x"#]);
    assert!(split(" , ,").is_empty());
    assert_eq!(split("<a,b>c,d"), vec!["<a,b>c", "d"]);
    assert_eq!(split("x <a,b"), vec!["x <a,b"]);
    for s in [
        "a, b",
        " , x,y",
        "\"a,b\" <c,d>, e",
        "",
        " , ",
        "<a,b",
        "\"a",
        "  SIP/2.0/UDP h;branch=z9hG4bK1  ",
        "\"q\" <sip:a> ;x=\"y\"",
        "x",
        "   ",
    ] {
        let first = split_commas(s.as_bytes()).into_iter().next();
        assert_eq!(first_comma_element(s.as_bytes()), first, "{s:?}");
    }
}

#[test]
fn params_lookup() {
    let raw = Bytes::from_static(b" ;  tag  = 98asjd8 ; lr;x=\"a;b\";Q=0.3");
    assert_eq!(
        find_param(&raw, "tag"),
        Some(Some(Bytes::from_static(b"98asjd8")))
    );
    assert_eq!(find_param(&raw, "LR"), Some(None));
    assert_eq!(
        find_param(&raw, "x"),
        Some(Some(Bytes::from_static(b"\"a;b\"")))
    );
    assert_eq!(
        find_param(&raw, "q"),
        Some(Some(Bytes::from_static(b"0.3")))
    );
    assert_eq!(find_param(&raw, "b\""), None);
    assert_eq!(find_param(&Bytes::new(), "tag"), None);
    let raw = Bytes::from_static(b";a\"=\"=1;b=\"x=y\"");
    assert_eq!(
        find_param(&raw, "b"),
        Some(Some(Bytes::from_static(b"\"x=y\"")))
    );
}

#[test]
fn header_param_validation() {
    assert!(valid_header_params(b""));
    assert!(valid_header_params(b";tag=1;lr;received=[2001:db8::1]"));
    assert!(valid_header_params(b";received=2001:db8::9:255"));
    assert!(valid_header_params(
        b" ; newparam = newvalue ; secondparam ; q = 0.33"
    ));
    assert!(valid_header_params(b";p=\"quoted ; value\""));
    assert!(!valid_header_params(b";;"));
    assert!(!valid_header_params(b";;;;"));
    assert!(!valid_header_params(b";a="));
    assert!(!valid_header_params(b";a=b c"));
    assert!(!valid_header_params(b"a=b"));
    assert!(!valid_header_params(b";a=\"open"));
}

#[test]
fn quoted_and_trim() {
    assert_eq!(quoted_end(b"\"ab\\\"c\" x", 0), Some(7));
    assert_eq!(quoted_end(b"\"ab\\", 0), None);
    assert_eq!(trim_range(b" \t a b \r\n", 0..9), 3..6);
    assert!(trim_range(b"   ", 0..3).is_empty());
    assert_eq!(trim_range(b"ab", 0..99), 0..2);
    assert_eq!(sub(&Bytes::from_static(b"abc"), 2..9), Bytes::new());
}

/// `find_param` finds what the `params` iterator finds.
#[test]
fn find_param_agrees_with_params() {
    let by_iter = |raw: &Bytes, name: &str| {
        params(raw)
            .find(|p| {
                raw.get(p.name.clone())
                    .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
            })
            .map(|p| p.value.map(|v| sub(raw, v)))
    };
    for s in [
        "",
        ";",
        ";;",
        "tag=1",
        " ;branch=z9hG4bK1;rport",
        ";a=\"x;tag=2\";tag=3",
        ";a=\"open;tag=2",
        ";tag",
        "; TAG = 4 ;tag=5",
        ";x\"=\"=1;tag=\"q\"",
        "a;tag=6",
        ";tag=;b",
    ] {
        let raw = Bytes::copy_from_slice(s.as_bytes());
        for name in ["tag", "branch", "rport", "a", "x\"", "b", ""] {
            assert_eq!(find_param(&raw, name), by_iter(&raw, name), "{s:?} {name}");
        }
    }
}

/// `header_params` accepts what `valid_header_params` accepts, and on a
/// valid list finds a name where `find_param` finds it.
#[test]
fn header_params_agrees_with_find_param() {
    for s in [
        "",
        " ",
        ";",
        ";;",
        "tag=1",
        " ;branch=z9hG4bK1;rport",
        ";branch = z9hG4bK2 ; rport=5 ;BRANCH=x",
        ";a=\"x;tag=2\";tag=3",
        ";a=\"open;tag=2",
        ";tag",
        ";tag;tag=7",
        "; TAG = 4 ;tag=5",
        ";tagx=1;tag=2",
        ";x\"=\"=1;tag=\"q\"",
        ";tag=\"a;b\\\"c\" ;z",
        ";tag=[2001:db8::1];received=192.0.2.1",
        "a;tag=6",
        ";tag=;b",
        ";tag=a b",
        ";t\u{e4}g=1",
    ] {
        let raw = Bytes::copy_from_slice(s.as_bytes());
        for name in ["tag", "branch", "rport", "a", "z"] {
            let found = header_params(&raw, name.as_bytes());
            assert_eq!(found.is_some(), valid_header_params(&raw), "{s:?}");
            if let Some(at) = found {
                assert_eq!(at.get(&raw), find_param(&raw, name), "{s:?} {name}");
            }
        }
    }
}
