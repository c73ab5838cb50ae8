//! A client written from the spec alone (issue 10): every example request
//! of the spec's Trunks and PhoneNumbers sections sent as written (the
//! placeholder hosts, SIDs and addresses made real), the call-log example
//! query after a real call, the trunk rules the spec implies, a JSON 414,
//! and the served OpenAPI document checked by openapi-spec-validator and
//! schemathesis (PyPI).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::api::{api_error as err, each, invalid, not_found, Api};
use common::*;
use serde_json::{json, Value};

const KEY: &str = "spec-examples-key-4f2a";

fn node(carrier: SocketAddr, dir: &Path) -> String {
    Toml::new(dir)
        // schemathesis sends thousands of requests.
        .api(&[KEY], "requests_per_minute = 1000000")
        .inbound_carrier(carrier, &carrier.to_string())
        .with(&format!(
            "[[trunks]]\ntrunk_id = \"{DEMO_TRUNK}\"\ndirection = \"outbound\"\n[trunks.outbound]\nauthentication = [ {{ source = \"other\", value = \"127.0.0.1\" }} ]\n"
        ))
        .text()
}

async fn setup() -> (Gw, Ua, Api) {
    let carrier = Ua::new().await;
    let dir = temp_dir("spec-examples");
    let gw = start(&node(carrier.addr, &dir)).await;
    let api = Api::new(&gw, Some(KEY)).like_curl();
    (gw, carrier, api)
}

#[tokio::test]
async fn every_trunk_example_request_works_as_written() {
    let (_gw, _c, api) = setup().await;
    // List SIP Trunks.
    let (s, l) = api.get("/v1/Trunks").await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["trunks"][0]["app_id"], Value::Null);
    assert_eq!(l["trunks"][0]["subaccount_id"], Value::Null);
    assert_eq!(l["pagination"]["current_page"], 0);
    // Create: the inbound example ("www.xxx.yy.zz" made a real name).
    let (s, inb) = api
        .post(
            "/v1/Trunks",
            json!({
                "direction": "inbound",
                "simultaneous_call_limit": 1,
                "description": "some_inbound",
                "recording": { "setting": "do_not_record" },
                "inbound": { "destination": "pbx.example.com" }
            }),
        )
        .await;
    assert_eq!(s, 201, "{inb}");
    let in_id = inb["trunk_id"].as_str().unwrap().to_string();
    assert_eq!(inb["recording"]["setting"], "do_not_record");
    assert_eq!(
        inb["inbound"]["phone_numbers_uri"],
        format!("/v1/PhoneNumbers/Trunks/{in_id}")
    );
    // Create: the outbound example (the placeholder TWILIO_SID and addresses made real).
    let (s, out) = api
        .post(
            "/v1/Trunks",
            json!({
                "direction": "outbound",
                "simultaneous_call_limit": 1,
                "description": "outbound trunk 7",
                "recording": {},
                "outbound": {
                    "domain": null,
                    "authentication": [
                        { "source": "twilio", "value": TWILIO_SID },
                        { "source": "other", "value": "192.0.2.10" },
                        { "source": "other", "value": "192.0.2.11" }
                    ],
                    "override_early_media": "TO",
                    "fax_support": "enabled",
                    "max_post_dial_delay": 10
                }
            }),
        )
        .await;
    assert_eq!(s, 201, "{out}");
    assert_eq!(out["recording"], json!({}));
    assert_eq!(out["outbound"]["max_post_dial_delay"], 10);
    let out_id = out["trunk_id"].as_str().unwrap().to_string();
    // View one.
    let (s, one) = api.trunk(&out_id).await;
    assert_eq!((s, &one["description"]), (200, &json!("outbound trunk 7")));
    // Update: the example body.
    let (s, upd) = api
        .put_trunk(&out_id, json!({ "description": "updated description" }))
        .await;
    assert_eq!(s, 200, "{upd}");
    assert_eq!(upd["description"], "updated description");
    assert_eq!(upd["outbound"]["fax_support"], "enabled");
    // Read-modify-write: the GET result (app_id, subaccount_id, timestamps
    // included) goes back as a PUT body unchanged.
    let (_, got) = api.trunk(&out_id).await;
    let (s, back) = api.put_trunk(&out_id, got.clone()).await;
    assert_eq!(s, 200, "{back}");
    assert_eq!(back["outbound"], got["outbound"]);
    // Delete.
    let (s, _) = api.delete(&format!("/v1/Trunks/{out_id}"), None).await;
    assert_eq!(s, 204);
    not_found(&api.trunk(&out_id).await);
    let (s, _) = api.delete(&format!("/v1/Trunks/{in_id}"), None).await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn failover_targets_and_direction_changes_follow_the_spec() {
    let (_gw, _c, api) = setup().await;
    let (_, a) = api
        .post(
            "/v1/Trunks",
            json!({ "direction": "inbound", "inbound": { "destination": "a.example.com" } }),
        )
        .await;
    let a = a["trunk_id"].as_str().unwrap().to_string();
    // A failover trunk_id naming an outbound trunk is refused.
    let m = invalid(
        &api.post(
            "/v1/Trunks",
            json!({ "direction": "inbound", "inbound": { "destination": "b.example.com",
                "failover": { "source": "trunk_id", "value": DEMO_TRUNK } } }),
        )
        .await,
    );
    assert!(
        m.contains("inbound.failover.value") && m.contains("not an inbound trunk"),
        "{m}"
    );
    // Naming an inbound trunk is fine ...
    let (s, b) = api
        .post(
            "/v1/Trunks",
            json!({ "direction": "inbound", "inbound": { "destination": "b.example.com",
                "failover": { "source": "trunk_id", "value": a } } }),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let b = b["trunk_id"].as_str().unwrap().to_string();
    // ... and the target cannot then be turned outbound.
    let m = invalid(&api.put_trunk(&a, json!({ "direction": "outbound", "outbound": { "authentication": [ { "source": "other", "value": "192.0.2.1" } ] } }),
        )
        .await);
    assert!(m.starts_with("direction: ") && m.contains(&b), "{m}");
    // Turning a trunk outbound drops its inbound block, and back again.
    let (s, t) = api
        .put_trunk(&b, json!({ "direction": "outbound", "outbound": { "authentication": [ { "source": "other", "value": "192.0.2.1" } ] } }),
        )
        .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["inbound"], Value::Null, "{t}");
    let (s, t) = api
        .put_trunk(
            &b,
            json!({ "direction": "inbound", "inbound": { "destination": "c.example.com" } }),
        )
        .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["outbound"], Value::Null, "{t}");
    assert_eq!(t["inbound"]["destination"], "c.example.com");
    assert_eq!(t["inbound"]["failover"], Value::Null, "{t}");
    // app_id / subaccount_id are read-only: accepted on PUT, still null.
    let (s, t) = api
        .put_trunk(
            &b,
            json!({ "app_id": "aaaa-bbbb-cccc-dddd-eeee", "subaccount_id": 12345 }),
        )
        .await;
    assert_eq!(
        (s, &t["app_id"], &t["subaccount_id"]),
        (200, &Value::Null, &Value::Null)
    );
}

#[tokio::test]
async fn every_phone_number_example_request_works_as_written() {
    let (_gw, _c, api) = setup().await;
    let three = json!({ "phone_numbers": [
        { "no": "+19495551212" }, { "no": "+19495551213" }, { "no": "+19495551214" } ] });
    // Provision.
    let (s, r) = api.post("/v1/PhoneNumbers/CallFlows", three.clone()).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["assigned_to"], "CallFlows");
    assert_eq!(r["phone_numbers"].as_array().unwrap().len(), 3);
    let n = &r["phone_numbers"][0];
    assert_eq!(n["no"], "+19495551212");
    assert_eq!(n["formatted"], "(949) 555-1212");
    assert_eq!(n["assigned_to"], "CallFlows");
    assert_eq!(n["status"], "routed");
    assert_eq!(n["type"], "local");
    assert_eq!(
        n["capabilities"],
        json!(["voice_inbound", "voice_outbound"])
    );
    // List, exactly as the example writes it (query after `&`).
    let (s, l) = api
        .get("/v1/PhoneNumbers/CallFlows&page=0&page_size=10")
        .await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(
        l["pagination"],
        json!({ "current_page": 0, "total_pages": 1, "total_items": 3, "items_per_page": 10,
                "next_page_uri": null, "previous_page_uri": null })
    );
    // The spec's list parameters are accepted.
    let (s, l) = api
        .get("/v1/PhoneNumbers/CallFlows?capabilities=voice&capabilities=sms&country=US&type=local&status=routed&search_by=prefixes&search_on=949&sort_by=no&sort_order=desc&max_results=2")
        .await;
    assert_eq!(s, 200, "{l}");
    let nos = each(&l["phone_numbers"], "no");
    assert_eq!(nos, ["+19495551214", "+19495551213"]);
    let (_, l) = api.get("/v1/PhoneNumbers?type=toll_free").await;
    assert_eq!(l["phone_numbers"], json!([]));
    invalid(&api.get("/v1/PhoneNumbers?status=sold").await);
    // View one number, + literal in the path.
    let (s, one) = api.get("/v1/PhoneNumbers/+19495551212").await;
    assert_eq!(s, 200, "{one}");
    assert_eq!(
        (one["no"].as_str(), one["assigned_to"].as_str()),
        (Some("+19495551212"), Some("CallFlows"))
    );
    not_found(&api.get("/v1/PhoneNumbers/+19495550000").await);
    // Update: the example body; caller_id_name is accepted (not CNAM capable: null).
    let (s, u) = api
        .put(
            "/v1/PhoneNumbers/%2B19495551212",
            json!({ "description": "Mobile Phone", "caller_id_name": "Jane Doe" }),
        )
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["description"], "Mobile Phone");
    assert_eq!(u["caller_id_name"], Value::Null);
    // {} changes nothing; null clears.
    let (s, u) = api.put("/v1/PhoneNumbers/%2B19495551212", json!({})).await;
    assert_eq!((s, &u["description"]), (200, &json!("Mobile Phone")));
    invalid(
        &api.put(
            "/v1/PhoneNumbers/%2B19495551212",
            json!({ "description": "x".repeat(256) }),
        )
        .await,
    );
    invalid(
        &api.put(
            "/v1/PhoneNumbers/%2B19495551212",
            json!({ "port_out_pin": "1234" }),
        )
        .await,
    );
    // Move: the example body (its sub account is the gateway's one account).
    let (s, m) = api
        .put(
            "/v1/PhoneNumbers/Move/ParkingLot",
            json!({ "subaccount_id": "YOUR_SUB_ACCOUNT_ID",
                    "phone_numbers": [ { "no": "+19495551212" }, { "no": "+19495551213" } ] }),
        )
        .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m[0]["no"], "+19495551212");
    assert_eq!(m[0]["formatted"], "(949) 555-1212");
    assert_eq!(m[1]["assigned_to"], "ParkingLot");
    // Release with the objects GET returned.
    let (_, parked) = api.get("/v1/PhoneNumbers/ParkingLot").await;
    let (s, _) = api
        .delete(
            "/v1/PhoneNumbers/ParkingLot",
            Some(json!({ "phone_numbers": parked["phone_numbers"] })),
        )
        .await;
    assert_eq!(s, 204);
    // Release: the example body (+19495551212/3 are gone now: refused, nothing released).
    invalid(&api.delete("/v1/PhoneNumbers/CallFlows", Some(three)).await);
    let (s, _) = api
        .delete(
            "/v1/PhoneNumbers/CallFlows",
            Some(json!({ "phone_numbers": [ { "no": "+19495551214" } ] })),
        )
        .await;
    assert_eq!(s, 204);
    // What a gateway cannot have answers as a resource that does not exist.
    for p in [
        "/v1/PhoneNumbers/Available?capabilities=voice&search_by=prefixes&search_on=949",
        "/v1/PhoneNumberInformation/+1323214321?include=cnam,carrier,location",
    ] {
        let (s, v) = api.get(p).await;
        assert_eq!(s, 404, "{p}: {v}");
        assert!(v["code"] == 404001 || v["code"] == 404002, "{v}");
    }
}

#[tokio::test]
async fn call_log_example_query_after_a_real_call() {
    let (gw, carrier, api) = setup().await;
    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, "spec-log-1", DIALED, "z9hG4bKspec1")
        .await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    let ok = answer_call(&carrier, gw.udp, &inv, &pbx).await;
    // Connected for more than a second: connect_time_sec is at least 1.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    hang_up(&pbx, gw.udp, &carrier, &ok).await;

    // The spec's example query, with today's window.
    let now = std::time::SystemTime::now();
    let begin = trunkgate::store::to_rfc3339(now - Duration::from_secs(600));
    let end = trunkgate::store::to_rfc3339(now + Duration::from_secs(600));
    let q = format!(
        "/v1/History/Logs/Calls?begin_date={}&end_date={}&direction=inbound%7Coutbound&connectTime=0",
        begin.replace(':', "%3A"),
        end.replace(':', "%3A")
    );
    let mut v = Value::Null;
    for _ in 0..100 {
        let (s, got) = api.get(&q).await;
        assert_eq!(s, 200, "{got}");
        v = got;
        if !v["logs"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(v["is_truncated"], false);
    assert_eq!(v["next_block_uri"], Value::Null);
    assert_eq!(v["begin_date"], begin);
    assert_eq!(v["end_date"], end);
    let r = &v["logs"][0];
    assert_eq!(r["call_id"], "spec-log-1");
    assert_eq!(r["parent_call_id"], Value::Null);
    assert_eq!(r["api_no"], DIALED);
    assert_eq!(r["type"], "voice");
    assert_eq!(r["direction"], "outbound");
    assert_eq!(r["hangup_end"], "caller");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["error"], Value::Null);
    assert_eq!(r["error_code"], Value::Null);
    assert_eq!(r["service"], "sip_trunking");
    assert_eq!(r["app_id"], Value::Null);
    assert_eq!(r["subaccount_id"], Value::Null);
    assert_eq!(r["sip"]["call_id"], "spec-log-1");
    assert_eq!(r["sip"]["response_code"], 200);
    assert_eq!(r["trunk_id"], DEMO_TRUNK);
    let secs = r["connect_time_sec"].as_u64().expect("integer seconds");
    assert!(secs >= 1, "{r}");
    assert!(r["duration"].as_u64().unwrap() >= secs * 1000, "{r}");
    assert_eq!(
        r["connect_time_billed"].as_f64().unwrap(),
        secs as f64 / 60.0
    );
    for k in ["id", "caller_no", "start_time", "end_time"] {
        assert!(r[k].is_string(), "{k}: {r}");
    }
    // Filters: connected seconds, a literal + in api_no, type, service.
    let base = format!(
        "/v1/History/Logs/Calls?begin_date={}",
        begin.replace(':', "%3A")
    );
    let count = |v: &Value| v["logs"].as_array().unwrap().len();
    let (_, v) = api.get(&format!("{base}&connect_time={secs}")).await;
    assert_eq!(count(&v), 1);
    let (_, v) = api.get(&format!("{base}&connect_time=3600")).await;
    assert_eq!(count(&v), 0);
    let (_, v) = api.get(&format!("{base}&api_no={DIALED}")).await;
    assert_eq!(count(&v), 1, "a literal + is a plus");
    let (_, v) = api.get(&format!("{base}&direction=inbound")).await;
    assert_eq!(count(&v), 0);
    let (_, v) = api.get(&format!("{base}&type=sms")).await;
    assert_eq!(count(&v), 0);
    let (_, v) = api
        .get(&format!("{base}&type=voice&service=sip_trunking"))
        .await;
    assert_eq!(count(&v), 1);
    // The default window (the last hour) holds it.
    let (_, v) = api.get("/v1/History/Logs/Calls").await;
    assert_eq!(count(&v), 1);
    let (s, one) = api.get("/v1/History/Logs/Calls/spec-log-1").await;
    assert_eq!((s, &one["type"]), (200, &json!("voice")));
    for bad in [
        "service=fax",
        "type=video",
        "connect_time=-1",
        "connect_time=1.5",
        "direction=inbound%7Csideways",
        "begin_date=yesterday",
    ] {
        let m = invalid(&api.get(&format!("/v1/History/Logs/Calls?{bad}")).await);
        assert!(m.starts_with(bad.split('=').next().unwrap()), "{bad}: {m}");
    }
}

#[tokio::test]
async fn an_over_long_uri_gets_a_json_414() {
    let (_gw, _c, api) = setup().await;
    let long = format!("/v1/Trunks?page={}", "0".repeat(9000));
    let m = err(&api.get(&long).await, 414, 414001);
    assert!(m.contains("at most 8192"), "{m}");
    // Just under the limit is an ordinary request.
    let (s, _) = api
        .get(&format!("/v1/Trunks?page={}", "0".repeat(8000)))
        .await;
    assert_eq!(s, 200);
}

/// Installs the PyPI tools into a venv under the target dir (once); None
/// when pip cannot (no network): the test then says why and returns.
fn python_tools() -> Option<std::path::PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("spec-venv");
    let bin = venv.join("bin");
    if bin.join("schemathesis").exists() && bin.join("openapi-spec-validator").exists() {
        return Some(bin);
    }
    let ok = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && std::process::Command::new(bin.join("pip"))
            .args(["install", "-q", "openapi-spec-validator", "schemathesis"])
            .status()
            .is_ok_and(|s| s.success());
    ok.then_some(bin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_passes_openapi_spec_validator_and_schemathesis() {
    let Some(bin) = tokio::task::spawn_blocking(python_tools).await.unwrap() else {
        println!("SKIPPED: pip could not install openapi-spec-validator and schemathesis");
        return;
    };
    let (gw, _c, api) = setup().await;
    let (s, doc) = api.get("/v1/openapi.json").await;
    assert_eq!(s, 200);
    let file = temp_dir("openapi").join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = std::process::Command::new(bin.join("openapi-spec-validator"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-spec-validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let url = format!("http://{}/v1/openapi.json", gw.http);
    let base = format!("http://{}", gw.http);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin.join("schemathesis"))
            .args(["run", &url, "--url", &base])
            .args(["-H", &format!("X-API-Key: {KEY}")])
            .args(["--checks", "not_a_server_error,response_schema_conformance"])
            .args(["--max-examples", "20", "--no-color"])
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "schemathesis: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
