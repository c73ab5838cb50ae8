use super::*;

fn errors(text: &str) -> Vec<ConfigError> {
    match parse_str(text, "t.toml") {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

fn has(errs: &[ConfigError], key: &str, rule_part: &str) -> bool {
    errs.iter()
        .any(|e| e.key == key && e.rule.contains(rule_part) && e.file == "t.toml")
}

const BASE: &str = r#"
[sip]
listen = [ { transport = "udp", address = "127.0.0.1:5060" } ]
[[carriers]]
name = "c"
address = "127.0.0.1:5090"
"#;

#[test]
fn default_config_is_valid_and_matches_the_bench() {
    let c = parse_str(DEFAULT_CONFIG, "default").unwrap();
    assert_eq!(c.sip.listen.len(), 2);
    assert!(c
        .sip
        .listen
        .iter()
        .all(|l| l.address == "127.0.0.1:5060".parse().unwrap()));
    assert_eq!(c.carriers[0].address, "127.0.0.1:5090".parse().unwrap());
    assert_eq!(c.http.listen, "127.0.0.1:8080".parse().unwrap());
    let t = &c.trunks[0];
    assert_eq!(t.direction, Direction::Outbound);
    let o = t.outbound.as_ref().unwrap();
    assert_eq!(o.domain, None);
    // Exactly the demo PBX: the bench harness's sipp UAC sends from 127.0.0.1.
    assert_eq!(o.authentication[0].value, "127.0.0.1/32");
    assert_eq!(c.sip.t1, Duration::from_millis(500));
}

#[test]
fn every_violation_is_reported_with_its_key() {
    let text = format!(
        r#"{BASE}
[[trunks]]
trunk_id = "11111111-1111-1111-1111-111111111111"
direction = "outbound"
simultaneous_call_limit = 0
[trunks.outbound]
domain = "bad domain!"
authentication = [ {{ source = "other", value = "10.0.0.0/33" }}, {{ source = "twilio", value = "ACnothex" }} ]
max_post_dial_delay = 31
override_early_media = "usa"

[[trunks]]
trunk_id = "22222222-2222-2222-2222-222222222222"
direction = "inbound"
[trunks.inbound]
failover = {{ source = "phone_number", value = "12345" }}

[[trunks]]
trunk_id = "33333333-3333-3333-3333-333333333333"
direction = "inbound"
[trunks.inbound]
destination = "pbx.example.com"
failover = {{ source = "trunk_id", value = "33333333-3333-3333-3333-333333333333" }}
"#
    );
    let errs = errors(&text);
    assert!(
        has(&errs, "trunks[0].simultaneous_call_limit", "at least 1"),
        "{errs:?}"
    );
    assert!(has(&errs, "trunks[0].outbound.domain", "DNS name"));
    assert!(has(
        &errs,
        "trunks[0].outbound.authentication[0].value",
        "IP address or CIDR"
    ));
    assert!(has(
        &errs,
        "trunks[0].outbound.authentication[1].value",
        "Account SID"
    ));
    assert!(has(
        &errs,
        "trunks[0].outbound.max_post_dial_delay",
        "between 7 and 30"
    ));
    assert!(has(
        &errs,
        "trunks[0].outbound.override_early_media",
        "alpha-2"
    ));
    assert!(has(&errs, "trunks[1].inbound.failover.value", "E.164"));
    assert!(has(&errs, "trunks[2].inbound.failover.value", "itself"));
    assert_eq!(errs.len(), 8, "{errs:#?}");
}

#[test]
fn node_settings_are_range_checked() {
    let errs = errors(
        r#"
[sip]
listen = [ { transport = "udp", address = "not-an-address" } ]
t1_ms = 10
t2_ms = 5
max_message_size = 100
[http]
listen = "nowhere"
"#,
    );
    assert!(has(&errs, "sip.listen[0].address", "IP:port"), "{errs:?}");
    assert!(has(&errs, "sip.t1_ms", "between 50 and 10000"));
    assert!(has(&errs, "sip.t2_ms", "at least t1_ms"));
    assert!(has(&errs, "sip.max_message_size", "between 1500"));
    assert!(has(&errs, "http.listen", "IP:port"));
}

#[test]
fn unknown_keys_and_bad_enums_are_refused_with_a_line() {
    let errs = errors("[sip]\nlisten = []\nbogus = 1\n");
    assert_eq!(errs.len(), 1);
    assert!(errs[0].rule.contains("bogus"), "{errs:?}");
    assert_eq!(errs[0].key, "(line 3)");
    let errs = errors(&format!("{BASE}\n[[trunks]]\ntrunk_id = \"11111111-1111-1111-1111-111111111111\"\ndirection = \"sideways\"\n"));
    assert!(
        errs[0].rule.contains("sideways") || errs[0].rule.contains("variant"),
        "{errs:?}"
    );
}

#[test]
fn outbound_trunk_needs_carriers_and_duplicates_are_refused() {
    let text = r#"
[sip]
listen = [ { transport = "udp", address = "127.0.0.1:5060" } ]
[[trunks]]
trunk_id = "11111111-1111-1111-1111-111111111111"
direction = "outbound"
[trunks.outbound]
domain = "A.example.com"
authentication = [ { source = "other", value = "10.0.0.1" } ]
[[trunks]]
trunk_id = "11111111-1111-1111-1111-111111111111"
direction = "outbound"
[trunks.outbound]
domain = "a.example.com"
authentication = [ { source = "other", value = "10.0.0.2" } ]
"#;
    let errs = errors(text);
    assert!(has(&errs, "carriers", "at least one carrier"), "{errs:?}");
    assert!(has(&errs, "trunks[1].trunk_id", "duplicate"));
    assert!(has(
        &errs,
        "trunks[1].outbound.domain",
        "used by another trunk"
    ));
}

#[test]
fn display_lists_file_key_rule() {
    let e = ConfigErrors(vec![
        ConfigError {
            file: "f".into(),
            key: "a.b".into(),
            rule: "r1".into(),
        },
        ConfigError {
            file: "f".into(),
            key: "c".into(),
            rule: "r2".into(),
        },
    ]);
    assert_eq!(e.to_string(), "f: a.b: r1\nf: c: r2");
}

#[test]
fn media_quality_settings_default_on_and_are_range_checked() {
    let c = parse_str(BASE, "t.toml").unwrap();
    assert!(c.media.quality);
    assert_eq!(c.media.one_way_after, Some(Duration::from_secs(5)));
    let c = parse_str(
        &format!("{BASE}\n[media]\nquality = false\none_way_after_s = 0\n"),
        "t.toml",
    )
    .unwrap();
    assert!(!c.media.quality);
    assert_eq!(c.media.one_way_after, None);
    let errs = errors(&format!("{BASE}\n[media]\none_way_after_s = 3601\n"));
    assert!(
        has(&errs, "media.one_way_after_s", "between 0 and 3600"),
        "{errs:?}"
    );
}

#[test]
fn log_level_is_a_tracing_filter() {
    let ok = parse_str(
        &format!("{BASE}[log]\nlevel = \"warn,trunkgate::call=debug\"\n"),
        "t.toml",
    )
    .expect("valid filter");
    assert_eq!(ok.log_level, "warn,trunkgate::call=debug");
    assert_eq!(parse_str(BASE, "t.toml").expect("valid").log_level, "info");
    let errs = errors(&format!("{BASE}[log]\nlevel = \"info,foo=notalevel\"\n"));
    assert!(has(&errs, "log.level", "tracing filter"), "{errs:?}");
}
