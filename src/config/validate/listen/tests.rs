fn errors(listen: &str, http: &str) -> String {
    let text = format!("[sip]\nlisten = [{listen}]\n[http]\nlisten = \"{http}\"\n");
    match crate::config::parse_str(&text, "t.toml") {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn duplicate_listen_entries_and_http_on_a_sip_address_are_refused() {
    let udp = r#"{ transport = "udp", address = "127.0.0.1:5060" }"#;
    let tcp = r#"{ transport = "tcp", address = "127.0.0.1:5060" }"#;
    let tls_any = r#"{ transport = "tls", address = "0.0.0.0:5060" }"#;
    assert_eq!(
        errors(&format!("{udp}, {tcp}"), "127.0.0.1:8080"),
        "",
        "UDP and TCP may share a port"
    );
    let e = errors(&format!("{udp}, {tcp}, {udp}"), "127.0.0.1:8080");
    assert!(
        e.contains("t.toml: sip.listen[2].address: duplicate of sip.listen[0] (127.0.0.1:5060)"),
        "{e}"
    );
    let e = errors(&format!("{tcp}, {tls_any}"), "127.0.0.1:8080");
    assert!(
        e.contains("sip.listen[1].address: TCP and TLS cannot share one port"),
        "{e}"
    );
    let e = errors(udp, "127.0.0.1:5060");
    assert!(
        e.contains("t.toml: http.listen: must differ from sip.listen[0].address (127.0.0.1:5060)"),
        "{e}"
    );
    let zero = r#"{ transport = "udp", address = "127.0.0.1:0" }, { transport = "tcp", address = "127.0.0.1:0" }"#;
    assert_eq!(
        errors(zero, "127.0.0.1:0"),
        "",
        "port 0 is chosen by the kernel: never a conflict"
    );
}
