use super::*;

#[test]
fn key_hashes_are_sha256_hex_and_errors_name_the_key() {
    let hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let d = parse_key_hash(&format!("sha256:{hex}")).unwrap();
    assert_eq!((d[0], d[31]), (0xba, 0xad));
    assert_eq!(
        parse_key_hash(&format!("sha256:{}", hex.to_uppercase())),
        Some(d)
    );
    for bad in [
        "",
        hex,
        "sha256:",
        "md5:abc",
        &format!("sha256:{}", &hex[1..]),
        &format!("sha256:{}zz", &hex[2..]),
    ] {
        assert_eq!(parse_key_hash(bad), None, "{bad}");
    }
    let text = format!(
        "[sip]\nlisten = [{{ transport = \"udp\", address = \"127.0.0.1:5060\" }}]\n[api]\nkey_hashes = [\"sha256:{hex}\", \"secret\"]\n"
    );
    let errs = crate::config::parse_str(&text, "t.toml").unwrap_err();
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].key, "api.key_hashes[1]");
    assert!(!errs.0[0].rule.contains("secret"));
}

#[test]
fn cors_origins_are_scheme_host_port_only() {
    for good in [
        "https://app.example.com",
        "http://127.0.0.1:8080",
        "https://[2001:db8::1]:8443",
        "HTTPS://App.Example.com",
    ] {
        assert_eq!(
            parse_origin(good),
            Some(good.to_ascii_lowercase()),
            "{good}"
        );
    }
    for bad in [
        "*",
        "app.example.com",
        "ftp://x.example",
        "https://x.example/",
        "https://x.example:0",
        "https://x.example:99999",
        "https://",
        "https://a..b",
        "https://[::1",
        "https://[zz]:1",
    ] {
        assert_eq!(parse_origin(bad), None, "{bad}");
    }
    let base = "[sip]\nlisten = [{ transport = \"udp\", address = \"127.0.0.1:5060\" }]\n";
    let errs = crate::config::parse_str(
        &format!("{base}[api]\ncors_origins = [\"https://ok.example\", \"*\"]\n"),
        "t.toml",
    )
    .unwrap_err();
    assert_eq!(errs.0.len(), 1, "{errs}");
    assert_eq!(errs.0[0].key, "api.cors_origins[1]");
}

#[test]
fn requests_per_minute_defaults_and_range() {
    let base = "[sip]\nlisten = [{ transport = \"udp\", address = \"127.0.0.1:5060\" }]\n";
    let c = crate::config::parse_str(base, "t.toml").unwrap();
    assert_eq!(c.api.requests_per_minute, 600);
    let c = crate::config::parse_str(&format!("{base}[api]\nrequests_per_minute = 5\n"), "t.toml")
        .unwrap();
    assert_eq!(c.api.requests_per_minute, 5);
    for bad in ["0", "1000001"] {
        let errs = crate::config::parse_str(
            &format!("{base}[api]\nrequests_per_minute = {bad}\n"),
            "t.toml",
        )
        .unwrap_err();
        assert_eq!(errs.0.len(), 1, "{errs}");
        assert_eq!(errs.0[0].key, "api.requests_per_minute");
        assert_eq!(
            errs.0[0].to_string(),
            "t.toml: api.requests_per_minute: must be 1..=1000000"
        );
    }
}
