//! The command line: `check-config` exit codes and error listing.

use std::process::Command;

/// `trunkgate check-config <file>`, run to the end.
fn check_config(file: impl AsRef<std::ffi::OsStr>) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trunkgate"))
        .arg("check-config")
        .arg(file)
        .output()
        .expect("trunkgate runs")
}

#[test]
fn check_config_accepts_the_shipped_default() {
    let out = check_config("config/trunkgate.toml");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("config/trunkgate.toml: ok"));
}

#[test]
fn check_config_lists_every_error_with_file_key_and_rule() {
    let dir = std::env::temp_dir().join(format!("trunkgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        r#"
[sip]
listen = [ { transport = "udp", address = "127.0.0.1:99999" } ]
t1_ms = 1
[[carriers]]
health_interval_s = 0
name = "c"
address = "127.0.0.1:5090"
[[trunks]]
trunk_id = "11111111-1111-1111-1111-111111111111"
direction = "outbound"
[trunks.outbound]
authentication = [ { source = "other", value = "300.1.1.1" } ]
max_post_dial_delay = 5
"#,
    )
    .unwrap();
    let out = check_config(&file);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let f = file.display().to_string();
    for key in [
        "sip.listen[0].address",
        "sip.t1_ms",
        "trunks[0].outbound.authentication[0].value",
        "trunks[0].outbound.max_post_dial_delay",
    ] {
        assert!(
            err.contains(&format!("{f}: {key}: ")),
            "missing {key} in:\n{err}"
        );
    }
    assert_eq!(err.lines().count(), 4, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_config_missing_file_fails() {
    let out = check_config("/nonexistent/trunkgate.toml");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}
