//! The management REST API through a real HTTP client against the running
//! gateway: trunk CRUD, every validation rule, the error body, auth, numbers
//! reaching calls, limits applied to the next call, call-log filters,
//! restart, and the OpenAPI document.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::api::{api_error as err, bad_field, each, invalid, not_found, Api};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const KEY: &str = "test-api-key-5b1e0c";
const SEED_EXTRA: &str = "a1b2c3d4-0000-4000-8000-00000000beef";

/// Node config: UDP/TCP on loopback, one carrier delivering inbound calls
/// from `carrier_src`, the API key's hash, and seed data: an outbound trunk
/// admitting 127.0.0.1 and an inbound trunk (`SEED_EXTRA`).
fn node(carrier: SocketAddr, carrier_src: &str, dir: &Path) -> String {
    let seeds = format!(
        r#"
[[trunks]]
trunk_id = "{DEMO_TRUNK}"
direction = "outbound"
description = "seeded outbound"
[trunks.outbound]
authentication = [ {{ source = "other", value = "127.0.0.1" }} ]

[[trunks]]
trunk_id = "{SEED_EXTRA}"
direction = "inbound"
description = "seeded inbound"
[trunks.inbound]
destination = "pbx.example.com"
"#
    );
    Toml::new(dir)
        .api(&[KEY], "")
        .inbound_carrier(carrier, carrier_src)
        .with(&seeds)
        .text()
}

async fn setup() -> (Gw, Ua, Api, std::path::PathBuf) {
    let carrier = Ua::new().await;
    let dir = temp_dir("api");
    let gw = start(&node(carrier.addr, &carrier.addr.to_string(), &dir)).await;
    let api = Api::new(&gw, Some(KEY));
    (gw, carrier, api, dir)
}

fn outbound_body() -> Value {
    json!({
        "direction": "outbound",
        "description": "Main outbound",
        "simultaneous_call_limit": 10,
        "recording": { "setting": "do_not_record" },
        "outbound": {
            "domain": "Acme.PBX.example.com",
            "authentication": [
                { "source": "other", "value": "192.0.2.0/24" },
                { "source": "twilio", "value": TWILIO_SID }
            ],
            "override_early_media": "to_country",
            "fax_support": "enabled",
            "max_post_dial_delay": 15
        }
    })
}

#[tokio::test]
async fn trunk_crud_round_trip_inbound_and_outbound() {
    let (_gw, _c, api, _) = setup().await;

    let (s, out) = api.post("/v1/Trunks", outbound_body()).await;
    assert_eq!(s, 201, "{out}");
    let id = out["trunk_id"].as_str().unwrap().to_string();
    assert!(id.parse::<uuid::Uuid>().is_ok());
    assert_eq!(out["status"], "active");
    assert_eq!(out["outbound"]["domain"], "acme.pbx.example.com");
    assert_eq!(out["outbound"]["authentication"][1]["value"], TWILIO_SID);
    assert_eq!(out["outbound"]["max_post_dial_delay"], 15);
    assert_eq!(out["recording"]["setting"], "do_not_record");
    assert_eq!(out["modified_on"], out["updated_on"]);
    assert!(out["created_on"].as_str().unwrap().ends_with('Z'));
    let (s, got) = api.trunk(&id).await;
    assert_eq!((s, &got), (200, &out));

    // Partial update: only the fields given change; nested objects merge.
    let (s, up) = api
        .put_trunk(
            &id,
            json!({ "description": "renamed", "outbound": { "max_post_dial_delay": 20 } }),
        )
        .await;
    assert_eq!(s, 200, "{up}");
    assert_eq!(up["description"], "renamed");
    assert_eq!(up["outbound"]["max_post_dial_delay"], 20);
    assert_eq!(
        up["outbound"]["authentication"],
        out["outbound"]["authentication"]
    );
    assert_eq!(up["simultaneous_call_limit"], 10);
    assert_eq!(up["created_on"], out["created_on"]);
    assert!(up["updated_on"].as_str().unwrap() >= out["updated_on"].as_str().unwrap());
    // null clears a field.
    let (s, up) = api
        .put_trunk(&id, json!({ "simultaneous_call_limit": null }))
        .await;
    assert_eq!((s, &up["simultaneous_call_limit"]), (200, &Value::Null));

    let in_id = "3c0e8f44-5b7a-4a43-9d1e-7f2a9b6c1d00";
    let (s, inb) = api
        .post(
            "/v1/Trunks",
            json!({
                "trunk_id": in_id,
                "direction": "inbound",
                "status": "inactive",
                "description": "PBX in Berlin",
                "inbound": {
                    "destination": "pbx.example.com:5070",
                    "failover": { "source": "phone_number", "value": "+14155550123" }
                }
            }),
        )
        .await;
    assert_eq!(s, 201, "{inb}");
    assert_eq!(inb["trunk_id"], in_id);
    assert_eq!(inb["status"], "inactive");
    assert_eq!(inb["inbound"]["destination"], "pbx.example.com:5070");
    assert_eq!(
        inb["inbound"]["phone_numbers_uri"],
        format!("/v1/PhoneNumbers/Trunks/{in_id}")
    );
    // A GET result sent back as a PUT body (read-only fields included) changes nothing.
    let (s, same) = api.put_trunk(in_id, inb.clone()).await;
    assert_eq!(s, 200, "{same}");
    assert_eq!(same["updated_on"], inb["updated_on"]);
    assert_eq!(same["inbound"], inb["inbound"]);
    let (s, up) = api
        .put_trunk(in_id, json!({ "status": "active", "inbound": { "failover": { "source": "sip_uri", "value": "sip:backup@pbx2.example.com" } } }),
        )
        .await;
    assert_eq!(s, 200, "{up}");
    assert_eq!(up["status"], "active");
    assert_eq!(up["inbound"]["destination"], "pbx.example.com:5070");
    assert_eq!(up["inbound"]["failover"]["source"], "sip_uri");

    // Listing: seeds first, then ours, with pagination.
    let (s, list) = api.get("/v1/Trunks?page=0&page_size=3").await;
    assert_eq!(s, 200, "{list}");
    let ids = each(&list["trunks"], "trunk_id");
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&DEMO_TRUNK) && ids.contains(&SEED_EXTRA));
    assert_eq!(list["pagination"]["total_items"], 4);
    assert_eq!(list["pagination"]["total_pages"], 2);
    assert_eq!(list["pagination"]["current_page"], 0);
    assert_eq!(list["pagination"]["items_per_page"], 3);
    assert_eq!(
        list["pagination"]["next_page_uri"],
        "/v1/Trunks?page=1&page_size=3"
    );
    let (_, p2) = api.get("/v1/Trunks?page=1&page_size=3").await;
    assert_eq!(p2["trunks"].as_array().unwrap().len(), 1);

    for t in [&id, in_id] {
        let (s, _) = api.delete(&format!("/v1/Trunks/{t}"), None).await;
        assert_eq!(s, 204);
        not_found(&api.trunk(t).await);
    }
    let (_, list) = api.get("/v1/Trunks").await;
    assert_eq!(list["pagination"]["total_items"], 2);
}

#[tokio::test]
async fn every_validation_rule_is_refused_with_the_field_named() {
    let (_gw, _c, api, _) = setup().await;
    let (s, _) = api.post("/v1/Trunks", outbound_body()).await;
    assert_eq!(s, 201);
    let fresh = "7d2f0a6e-1c3b-4e5f-8a9b-0c1d2e3f4a5b";
    let inbound = |inb: Value| json!({ "direction": "inbound", "inbound": inb });
    let outbound = |patch: Value| {
        let mut b = json!({ "direction": "outbound", "outbound": {
            "domain": "new.example.com",
            "authentication": [ { "source": "other", "value": "10.0.0.0/8" } ] } });
        for (k, v) in patch.as_object().unwrap() {
            b["outbound"][k] = v.clone();
        }
        b
    };
    let fo = |source: &str, value: &str| {
        json!({ "trunk_id": fresh, "direction": "inbound", "inbound": {
            "destination": "pbx.example.com", "failover": { "source": source, "value": value } } })
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({ "direction": "outbound", "simultaneous_call_limit": 0, "outbound": { "authentication": [ { "source": "other", "value": "10.0.0.1" } ] } }),
            "simultaneous_call_limit",
        ),
        (json!({ "direction": "outbound" }), "outbound"),
        (json!({ "direction": "inbound" }), "inbound"),
        (inbound(json!({})), "inbound"),
        (
            inbound(json!({ "destination": "bad host!" })),
            "inbound.destination",
        ),
        (
            inbound(json!({ "destination": "pbx.example.com:99999" })),
            "inbound.destination",
        ),
        (
            outbound(json!({ "domain": "not a domain" })),
            "outbound.domain",
        ),
        (
            outbound(json!({ "domain": "ACME.pbx.example.com" })),
            "outbound.domain",
        ),
        (
            outbound(json!({ "authentication": [] })),
            "outbound.authentication",
        ),
        (
            outbound(json!({ "authentication": [ { "source": "other", "value": "300.1.1.1" } ] })),
            "outbound.authentication[0].value",
        ),
        (
            outbound(json!({ "authentication": [ { "source": "twilio", "value": "AC123" } ] })),
            "outbound.authentication[0].value",
        ),
        (
            outbound(json!({ "authentication": [ { "source": "carrier", "value": "x" } ] })),
            "outbound.authentication[0].source",
        ),
        (
            outbound(json!({ "max_post_dial_delay": 6 })),
            "outbound.max_post_dial_delay",
        ),
        (
            outbound(json!({ "max_post_dial_delay": 31 })),
            "outbound.max_post_dial_delay",
        ),
        (
            outbound(json!({ "override_early_media": "germany" })),
            "outbound.override_early_media",
        ),
        (
            outbound(json!({ "fax_support": "maybe" })),
            "outbound.fax_support",
        ),
        (outbound(json!({ "colour": "red" })), "outbound.colour"),
        (
            fo("trunk_id", "00000000-0000-4000-8000-000000000000"),
            "inbound.failover.value",
        ),
        (fo("trunk_id", fresh), "inbound.failover.value"),
        (fo("trunk_id", "not-a-uuid"), "inbound.failover.value"),
        (fo("phone_number", "12345"), "inbound.failover.value"),
        (
            fo("sip_uri", "http://x.example.com"),
            "inbound.failover.value",
        ),
        (fo("api", "Nowhere"), "inbound.failover.value"),
        (fo("email", "x"), "inbound.failover.source"),
        (json!({ "direction": "sideways" }), "direction"),
        (json!({ "description": "no direction" }), "direction"),
        (
            json!({ "direction": "inbound", "status": "paused", "inbound": { "destination": "p.example.com" } }),
            "status",
        ),
        (
            json!({ "direction": "inbound", "recording": { "setting": "always" }, "inbound": { "destination": "p.example.com" } }),
            "recording.setting",
        ),
        (
            json!({ "direction": "inbound", "simultaneous_call_limit": -1, "inbound": { "destination": "p.example.com" } }),
            "simultaneous_call_limit",
        ),
        (
            json!({ "trunk_id": DEMO_TRUNK, "direction": "inbound", "inbound": { "destination": "p.example.com" } }),
            "trunk_id",
        ),
        (
            json!({ "trunk_id": "nope", "direction": "inbound", "inbound": { "destination": "p.example.com" } }),
            "trunk_id",
        ),
        (
            json!({ "direction": "inbound", "colour": "red", "inbound": { "destination": "p.example.com" } }),
            "colour",
        ),
    ];
    for (body, field) in &cases {
        let r = api.post("/v1/Trunks", body.clone()).await;
        let msg = invalid(&r);
        assert!(
            msg.starts_with(&format!("{field}: ")),
            "{field} not named first in {msg:?} for {body}"
        );
    }
    // Nothing was stored by the refused requests.
    let (_, list) = api.get("/v1/Trunks").await;
    assert_eq!(list["pagination"]["total_items"], 3);

    // PUT: the id cannot change; a trunk with numbers stays inbound; the merged result is checked.
    let path = format!("/v1/Trunks/{SEED_EXTRA}");
    invalid(&api.put(&path, json!({ "trunk_id": fresh })).await);
    let (s, _) = api.assign(SEED_EXTRA, DID).await;
    assert_eq!(s, 200);
    bad_field(&api.put(&path, json!({ "direction": "outbound", "outbound": { "authentication": [ { "source": "other", "value": "10.0.0.1" } ] } })).await, "direction");
    let m = invalid(
        &api.put(&path, json!({ "inbound": { "destination": null } }))
            .await,
    );
    assert!(
        m.starts_with("inbound: needs a destination or a failover"),
        "{m}"
    );

    // Numbers: E.164, duplicates in one body, assignment targets.
    let numbers = |b: Value| b;
    for (path, body, field) in [
        (
            "/v1/PhoneNumbers/CallFlows",
            numbers(json!({ "phone_numbers": [ { "no": "14155550100" } ] })),
            "phone_numbers[0].no",
        ),
        (
            "/v1/PhoneNumbers/CallFlows",
            numbers(
                json!({ "phone_numbers": [ { "no": "+14155550101" }, { "no": "+14155550101" } ] }),
            ),
            "phone_numbers[1].no",
        ),
        (
            "/v1/PhoneNumbers/CallFlows",
            numbers(json!({ "phone_numbers": [] })),
            "phone_numbers",
        ),
        (
            "/v1/PhoneNumbers/CallFlows",
            numbers(json!({ "numbers": [] })),
            "numbers",
        ),
        (
            "/v1/PhoneNumbers/CallFlows",
            numbers(json!({ "phone_numbers": [ { "no": DID } ] })),
            "phone_numbers[0].no",
        ),
        (
            &format!("/v1/PhoneNumbers/Trunks/{DEMO_TRUNK}") as &str,
            numbers(json!({ "phone_numbers": [ { "no": "+14155550102" } ] })),
            "assigned_to",
        ),
    ] {
        let msg = invalid(&api.post(path, body.clone()).await);
        assert!(msg.starts_with(&format!("{field}: ")), "{field} in {msg:?}");
    }
    not_found(
        &api.assign("00000000-0000-4000-8000-000000000001", "+14155550103")
            .await,
    );
    not_found(
        &api.post(
            "/v1/PhoneNumbers/Elsewhere",
            json!({ "phone_numbers": [ { "no": "+14155550103" } ] }),
        )
        .await,
    );
    bad_field(
        &api.put(
            "/v1/PhoneNumbers/Move/ParkingLot",
            json!({ "phone_numbers": [ { "no": "+14155550104" } ] }),
        )
        .await,
        "phone_numbers[0].no",
    );
    bad_field(&api.get("/v1/PhoneNumbers?sort_by=colour").await, "sort_by");
    bad_field(&api.get("/v1/Trunks?page_size=5000").await, "page_size");
    bad_field(&api.get("/v1/Trunks?colour=red").await, "colour");
}

/// Sends raw HTTP/1.1 and returns (status, body): for requests a client library won't send.
async fn raw_http(addr: SocketAddr, head: String, body: Vec<u8>) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    // Write concurrently: the server may answer before it has read everything.
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
        wr
    });
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, rd.read_to_end(&mut out)).await;
    writer.abort();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

#[tokio::test]
async fn malformed_oversized_wrong_type_unknown_route_and_method() {
    let (gw, _c, api, _) = setup().await;
    // Bodies that are not a JSON object sent as application/json: 400010, in this order.
    let json_ct = Some("application/json");
    let inbound = br#"{"direction":"inbound"}"#;
    for (ct, body) in [
        (json_ct, b"{\"direction\": ".to_vec()),
        (json_ct, b"[1,2]".to_vec()),
        (json_ct, Vec::new()),
        (Some("text/plain"), inbound.to_vec()),
        (None, inbound.to_vec()),
        (
            Some("application/x-www-form-urlencoded"),
            b"direction=inbound".to_vec(),
        ),
    ] {
        let r = api.raw(Method::POST, "/v1/Trunks", ct, body).await;
        err(&r, 400, 400010);
    }
    let msg = invalid(&api.post("/v1/Trunks", json!({ "direction": "inbound", "extra": 1, "inbound": { "destination": "p.example.com" } })).await);
    assert!(msg.starts_with("extra: unknown field"), "{msg}");

    // 2 MiB of JSON: refused with 400 and the error body, declared length or chunked.
    let big = format!("{{\"description\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let head = format!(
        "POST /v1/Trunks HTTP/1.1\r\nHost: t\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        big.len()
    );
    let r = raw_http(gw.http, head, big.clone().into_bytes()).await;
    invalid(&r);
    let head = format!(
        "POST /v1/Trunks HTTP/1.1\r\nHost: t\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut chunked = format!("{:x}\r\n", big.len()).into_bytes();
    chunked.extend_from_slice(big.as_bytes());
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    invalid(&raw_http(gw.http, head, chunked).await);

    err(&api.get("/v1/Nope").await, 404, 404001);
    err(&api.get("/v2/Trunks").await, 404, 404001);
    not_found(
        &api.get("/v1/Trunks/00000000-0000-4000-8000-000000000009")
            .await,
    );
    not_found(&api.get("/v1/Trunks/not-a-uuid").await);
    not_found(
        &api.put("/v1/Trunks/00000000-0000-4000-8000-000000000009", json!({}))
            .await,
    );
    not_found(
        &api.delete("/v1/Trunks/00000000-0000-4000-8000-000000000009", None)
            .await,
    );
    not_found(&api.get("/v1/History/Logs/Calls/no-such-call").await);
    not_found(
        &api.put(
            "/v1/PhoneNumbers/+14155550999",
            json!({ "description": "x" }),
        )
        .await,
    );
    err(
        &api.send(Method::PATCH, "/v1/Trunks", None).await,
        405,
        405001,
    );
    err(
        &api.send(Method::DELETE, "/v1/Trunks", None).await,
        405,
        405001,
    );
    err(
        &api.send(Method::POST, "/v1/History/Logs/Calls", Some(json!({})))
            .await,
        405,
        405001,
    );
}

#[tokio::test]
async fn auth_refused_without_or_with_a_wrong_key_accepted_with_the_env_key() {
    let env_key = "env-key-2c9d41";
    std::env::set_var(trunkgate::api::auth::ENV_KEY, env_key);
    let (gw, _c, api, _) = setup().await;
    assert_eq!(api.get("/v1/Trunks").await.0, 200);
    for key in [None, Some("wrong"), Some(""), Some("test-api-key-5b1e0")] {
        let a = Api::new(&gw, key);
        err(&a.get("/v1/Trunks").await, 401, 401001);
        err(&a.post("/v1/Trunks", outbound_body()).await, 401, 401001);
        err(&a.get("/v1/openapi.json").await, 401, 401001);
        // Unknown endpoints do not answer without a key either.
        err(&a.get("/v1/Nope").await, 401, 401001);
    }
    let (s, list) = Api::new(&gw, Some(env_key)).get("/v1/Trunks").await;
    assert_eq!(
        (s, list["pagination"]["total_items"].as_u64()),
        (200, Some(2))
    );
    // Health and metrics need no key.
    let anon = reqwest::Client::new();
    for p in ["/health/live", "/health/ready", "/metrics"] {
        let r = anon
            .get(format!("http://{}{p}", gw.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{p}");
    }
    let (_, ready) = Api::new(&gw, None).get("/health/ready").await;
    assert_eq!(ready["listeners"], true);
    assert_eq!(ready["store"], "up");
    assert_eq!(ready["store_backend"], "sqlite");
    assert_eq!(ready["redis"], "not_configured", "{ready}");
    assert!(
        ready["node_id"].as_str().is_some_and(|n| !n.is_empty()),
        "{ready}"
    );
}

#[tokio::test]
async fn delete_refused_while_numbers_assigned_or_failover_target() {
    let (_gw, _c, api, _) = setup().await;
    let a = "11111111-2222-4333-8444-555555555555";
    let b = "66666666-7777-4888-8999-aaaaaaaaaaaa";
    let (s, _) = api.post("/v1/Trunks", json!({ "trunk_id": a, "direction": "inbound", "inbound": { "destination": "a.example.com" } })).await;
    assert_eq!(s, 201);
    let (s, _) = api.post("/v1/Trunks", json!({ "trunk_id": b, "direction": "inbound", "inbound": { "destination": "b.example.com", "failover": { "source": "trunk_id", "value": a } } })).await;
    assert_eq!(s, 201);
    let nums = json!({ "phone_numbers": [ { "no": DID, "description": "main line" }, { "no": "+14155550198" } ] });
    let (s, r) = api
        .post(&format!("/v1/PhoneNumbers/Trunks/{a}"), nums.clone())
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["phone_numbers"][0]["assigned_to"], format!("Trunks/{a}"));

    let m = invalid(&api.delete(&format!("/v1/Trunks/{a}"), None).await);
    assert!(m.contains("2 phone number(s) are assigned"), "{m}");
    // Listed, described, moved, released.
    let (_, l) = api
        .get(&format!(
            "/v1/PhoneNumbers/Trunks/{a}?sort_by=no&sort_order=desc"
        ))
        .await;
    let nos = each(&l["phone_numbers"], "no");
    assert_eq!(nos, vec![DID, "+14155550198"]);
    assert_eq!(l["phone_numbers"][0]["description"], "main line");
    let (s, n) = api
        .put(
            "/v1/PhoneNumbers/%2B14155550198",
            json!({ "description": "fax" }),
        )
        .await;
    assert_eq!((s, &n["description"]), (200, &json!("fax")));
    let (s, _) = api
        .put(
            "/v1/PhoneNumbers/Move/ParkingLot",
            json!({ "phone_numbers": [ { "no": "+14155550198" } ] }),
        )
        .await;
    assert_eq!(s, 200);
    let (_, l) = api.get("/v1/PhoneNumbers/ParkingLot").await;
    assert_eq!(l["phone_numbers"][0]["no"], "+14155550198");
    assert_eq!(l["phone_numbers"][0]["description"], "fax");
    invalid(&api.release(a, "+14155550198").await);
    let (s, _) = api.release(a, DID).await;
    assert_eq!(s, 204);
    let (_, all) = api.get("/v1/PhoneNumbers").await;
    assert_eq!(all["pagination"]["total_items"], 1);

    let m = invalid(&api.delete(&format!("/v1/Trunks/{a}"), None).await);
    assert!(
        m.contains(&format!("trunk {b} fails over to this trunk")),
        "{m}"
    );
    assert_eq!(api.delete(&format!("/v1/Trunks/{b}"), None).await.0, 204);
    assert_eq!(api.delete(&format!("/v1/Trunks/{a}"), None).await.0, 204);
}

#[tokio::test]
async fn number_assigned_through_the_api_reaches_the_trunks_destination() {
    let (gw, carrier, api, _) = setup().await;
    let pbx = Ua::new().await;
    // Unknown number first: 404.
    carrier.dial(gw.udp, "api-in0", DID).await;
    carrier.wait_response(404).await;

    let t = "0b7f7d0e-3c1a-4f7e-9a55-2d5c3e9b1a10";
    let (s, r) = api
        .post("/v1/Trunks", json!({ "trunk_id": t, "direction": "inbound", "inbound": { "destination": pbx.addr.to_string() } }))
        .await;
    assert_eq!(s, 201, "{r}");
    let (s, _) = api.assign(t, DID).await;
    assert_eq!(s, 200);

    carrier.dial(gw.udp, "api-in1", DID).await;
    let (inv, _) = pbx.expect_invite_for(DID).await;
    pbx.status(gw.udp, &inv, 486, "Busy Here", "p").await;
    carrier.wait_response(486).await;

    // Released again: the next call is 404.
    let (s, _) = api.release(t, DID).await;
    assert_eq!(s, 204);
    carrier.dial(gw.udp, "api-in2", DID).await;
    carrier.wait_response(404).await;
}

#[tokio::test]
async fn limit_lowered_by_put_refuses_the_next_outbound_call_with_503() {
    let (gw, carrier, api, _) = setup().await;
    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, "api-lim1", DIALED, "z9hG4bKlim1")
        .await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    carrier_answers(&carrier, gw.udp, &inv).await;
    pbx.wait_response(200).await;
    assert_eq!(gw.gw.trunk_active_calls(&DEMO_TRUNK.parse().unwrap()), 1);

    let (s, r) = api
        .put_trunk(DEMO_TRUNK, json!({ "simultaneous_call_limit": 1 }))
        .await;
    assert_eq!((s, &r["simultaneous_call_limit"]), (200, &json!(1)));
    let pbx2 = Ua::new().await;
    pbx2.send_invite(gw.udp, "api-lim2", DIALED, "z9hG4bKlim2")
        .await;
    pbx2.wait_response(503).await;

    // Raised again: the next call goes through to the carrier.
    let (s, _) = api
        .put_trunk(DEMO_TRUNK, json!({ "simultaneous_call_limit": 2 }))
        .await;
    assert_eq!(s, 200);
    pbx2.send_invite(gw.udp, "api-lim3", DIALED, "z9hG4bKlim3")
        .await;
    let (inv3, _) = carrier.wait_request("INVITE").await;
    assert!(hdr(&inv3, "To").contains(DIALED));
}

/// Polls the call-log API until `n` records are there.
async fn logs(api: &Api, query: &str, n: usize) -> Value {
    for _ in 0..100 {
        let (s, v) = api.get(&format!("/v1/History/Logs/Calls{query}")).await;
        assert_eq!(s, 200, "{v}");
        if v["logs"].as_array().unwrap().len() >= n {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} call logs for {query}");
}

/// One outbound call (busy at the carrier) and one inbound (busy at the PBX).
async fn two_calls(gw: &Gw, carrier: &Ua, api: &Api) {
    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, "log-out", DIALED, "z9hG4bKlogout")
        .await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    carrier.status(gw.udp, &inv, 486, "Busy Here", "c").await;
    pbx.wait_response(486).await;

    let t = "0b7f7d0e-3c1a-4f7e-9a55-2d5c3e9b1a11";
    api.post("/v1/Trunks", json!({ "trunk_id": t, "direction": "inbound", "inbound": { "destination": pbx.addr.to_string() } })).await;
    api.assign(t, DID).await;
    carrier
        .send_invite(gw.udp, "log-in", DID, "z9hG4bKlogin")
        .await;
    let (inv, _) = pbx.wait_request("INVITE").await;
    pbx.status(gw.udp, &inv, 486, "Busy Here", "p").await;
    carrier.wait_response(486).await;
}

#[tokio::test]
async fn call_logs_filtered_by_date_direction_and_service() {
    let (gw, carrier, api, _) = setup().await;
    two_calls(&gw, &carrier, &api).await;
    let all = logs(&api, "", 2).await;
    assert_eq!(all["logs"].as_array().unwrap().len(), 2);
    assert_eq!(all["is_truncated"], false);
    assert_eq!(all["next_block_uri"], Value::Null);

    let out = logs(&api, "?direction=outbound", 1).await;
    assert_eq!(out["logs"].as_array().unwrap().len(), 1);
    assert_eq!(out["logs"][0]["call_id"], "log-out");
    assert_eq!(out["logs"][0]["status"], "busy");
    let inb = logs(&api, "?direction=inbound&service=sip_trunking", 1).await;
    assert_eq!(inb["logs"].as_array().unwrap().len(), 1);
    assert_eq!(inb["logs"][0]["api_no"], DID);
    let (_, none) = api
        .get("/v1/History/Logs/Calls?service=programmable_voice")
        .await;
    assert_eq!(none["logs"], json!([]));
    let (s, _) = api.get("/v1/History/Logs/Calls?service=messaging").await;
    assert_eq!(s, 400);
    let (_, none) = api.get("/v1/History/Logs/Calls?connect_time=1").await;
    assert_eq!(none["logs"], json!([]));
    let (_, two) = api.get("/v1/History/Logs/Calls?connect_time=0").await;
    assert_eq!(two["logs"].as_array().unwrap().len(), 2);
    let (_, none) = api
        .get("/v1/History/Logs/Calls?begin_date=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(none["logs"], json!([]));
    let (_, none) = api
        .get("/v1/History/Logs/Calls?begin_date=2000-01-01T00:00:00Z&end_date=2001-01-01T00:00:00Z")
        .await;
    assert_eq!(none["logs"], json!([]));
    let (_, two) = api
        .get("/v1/History/Logs/Calls?begin_date=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(two["logs"].as_array().unwrap().len(), 2);
    let (_, by_caller) = api
        .get("/v1/History/Logs/Calls?caller_no=%2B14155550001&api_no=%2B14155550100")
        .await;
    assert_eq!(
        by_caller["logs"].as_array().unwrap().len(),
        1,
        "{by_caller}"
    );

    bad_field(
        &api.get("/v1/History/Logs/Calls?begin_date=yesterday").await,
        "begin_date",
    );
    bad_field(
        &api.get("/v1/History/Logs/Calls?direction=sideways").await,
        "direction",
    );
    let m = invalid(
        &api.get(
            "/v1/History/Logs/Calls?begin_date=2001-01-01T00:00:00Z&end_date=2000-01-01T00:00:00Z",
        )
        .await,
    );
    assert!(m.starts_with("end_date: "), "{m}");

    let (s, one) = api.get("/v1/History/Logs/Calls/log-in").await;
    assert_eq!(s, 200);
    assert_eq!(
        (one["direction"].as_str(), one["service"].as_str()),
        (Some("inbound"), Some("sip_trunking"))
    );
}

#[tokio::test]
async fn restart_keeps_trunks_numbers_and_logs_and_does_not_reseed() {
    let carrier = Ua::new().await;
    let dir = temp_dir("api-restart");
    let text = node(carrier.addr, &carrier.addr.to_string(), &dir);
    let gw = start(&text).await;
    let api = Api::new(&gw, Some(KEY));
    two_calls(&gw, &carrier, &api).await;
    logs(&api, "", 2).await;
    let (s, _) = api
        .put_trunk(DEMO_TRUNK, json!({ "description": "changed by api" }))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        api.delete(&format!("/v1/Trunks/{SEED_EXTRA}"), None)
            .await
            .0,
        204
    );
    let (_, before) = api.get("/v1/Trunks").await;
    let (_, nums_before) = api.get("/v1/PhoneNumbers").await;
    gw.gw.shutdown().await;

    let gw = start(&text).await;
    let api = Api::new(&gw, Some(KEY));
    let (_, after) = api.get("/v1/Trunks").await;
    assert_eq!(after, before);
    let (_, out) = api.trunk(DEMO_TRUNK).await;
    assert_eq!(out["description"], "changed by api");
    not_found(&api.trunk(SEED_EXTRA).await);
    let (_, nums_after) = api.get("/v1/PhoneNumbers").await;
    assert_eq!(nums_after, nums_before);
    assert_eq!(nums_after["phone_numbers"][0]["no"], DID);
    let l = logs(&api, "?begin_date=2000-01-01T00:00:00Z", 2).await;
    assert_eq!(l["logs"].as_array().unwrap().len(), 2);
    // The restored number still routes: the call reaches the trunk's PBX (busy there).
    carrier.dial(gw.udp, "after-restart", DID).await;
    carrier.wait_response(100).await;
}

#[tokio::test]
async fn concurrent_writers_lose_no_update() {
    let (gw, _c, _api, _) = setup().await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let api = Api::new(&gw, Some(KEY));
        tasks.push(tokio::spawn(async move {
            let no = format!("+1415555{:04}", 1000 + i);
            api.post(
                "/v1/PhoneNumbers/CallFlows",
                json!({ "phone_numbers": [ { "no": no } ] }),
            )
            .await
            .0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let (_, l) = Api::new(&gw, Some(KEY))
        .get("/v1/PhoneNumbers/CallFlows?page_size=100")
        .await;
    assert_eq!(l["pagination"]["total_items"], 20);
}

#[tokio::test]
async fn openapi_document_parses_and_lists_every_route() {
    let (_gw, _c, api, _) = setup().await;
    let (s, doc) = api.get("/v1/openapi.json").await;
    assert_eq!(s, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let expect: &[(&str, &[&str])] = &[
        ("/v1/Trunks", &["get", "post"]),
        ("/v1/Trunks/{trunk_id}", &["get", "put", "delete"]),
        ("/v1/PhoneNumbers", &["get"]),
        (
            "/v1/PhoneNumbers/{assigned_to}",
            &["get", "post", "put", "delete"],
        ),
        (
            "/v1/PhoneNumbers/Trunks/{trunk_id}",
            &["get", "post", "delete"],
        ),
        ("/v1/PhoneNumbers/Move/{assigned_to}", &["put"]),
        ("/v1/PhoneNumbers/Move/Trunks/{trunk_id}", &["put"]),
        ("/v1/History/Logs/Calls", &["get"]),
        ("/v1/History/Logs/Calls/{call_id}", &["get"]),
        ("/v1/LiveCalls", &["get"]),
        ("/v1/LiveCalls/{call_id}", &["delete"]),
        ("/v1/openapi.json", &["get"]),
        ("/health/live", &["get"]),
        ("/health/ready", &["get"]),
    ];
    assert_eq!(
        paths.len(),
        expect.len(),
        "{:?}",
        paths.keys().collect::<Vec<_>>()
    );
    for (p, methods) in expect {
        for m in *methods {
            assert!(paths[*p][*m].is_object(), "{m} {p} missing");
        }
    }
    for s in [
        "Trunk",
        "TrunkBody",
        "ErrorBody",
        "Pagination",
        "CallLog",
        "NumberView",
    ] {
        assert!(doc["components"]["schemas"][s].is_object(), "schema {s}");
    }
}

#[tokio::test]
async fn live_calls_listed_and_hung_up_through_the_api() {
    let (gw, carrier, api, _) = setup().await;
    let pbx = Ua::new().await;
    pbx.dial(gw.udp, "api-live1", DIALED).await;
    let (inv, _) = carrier.wait_request("INVITE").await;
    let (s, v) = api.get("/v1/LiveCalls").await;
    assert_eq!(s, 200);
    assert_eq!(v["calls"][0]["call_id"], "api-live1");
    assert_eq!(v["calls"][0]["state"], "ringing");
    assert_eq!(v["calls"][0]["trunk_id"], DEMO_TRUNK);
    assert_eq!(
        v["calls"][0]["legs"]["callee"]["call_id"],
        json!(hdr(&inv, "Call-ID"))
    );
    carrier_answers(&carrier, gw.udp, &inv).await;
    pbx.wait_response(200).await;
    let (_, v) = api.get("/v1/LiveCalls").await;
    assert_eq!(v["calls"][0]["state"], "answered");
    let (s, _) = api.delete("/v1/LiveCalls/api-live1", None).await;
    assert_eq!(s, 204);
    let (bye, _) = pbx.wait_request("BYE").await;
    assert_eq!(hdr(&bye, "Call-ID"), "api-live1");
    carrier.wait_request("BYE").await;
    let (_, v) = api.get("/v1/LiveCalls").await;
    assert_eq!(v["calls"].as_array().map(|a| a.len()), Some(0));
    let r = api.delete("/v1/LiveCalls/api-live1", None).await;
    not_found(&r);
}

#[tokio::test]
async fn outbound_trunk_needs_a_carrier_in_the_node_config() {
    let dir = temp_dir("api-nocarrier");
    let text = Toml::new(&dir).timers("").api(&[KEY], "").text();
    let gw = start(&text).await;
    let api = Api::new(&gw, Some(KEY));
    let m = invalid(&api.post("/v1/Trunks", outbound_body()).await);
    assert!(
        m.starts_with("direction: an outbound trunk needs at least one carrier"),
        "{m}"
    );
    let (s, _) = api
        .post("/v1/Trunks", json!({ "trunk_id": SEED_EXTRA, "direction": "inbound", "inbound": { "destination": "pbx.example.com" } }))
        .await;
    assert_eq!(s, 201);
    bad_field(&api.put_trunk(SEED_EXTRA, json!({ "direction": "outbound", "outbound": { "authentication": [ { "source": "other", "value": "10.0.0.1" } ] } })).await, "direction");
}

#[tokio::test]
async fn call_logs_come_in_blocks_of_1000_with_a_next_block_uri() {
    let carrier = Ua::new().await;
    let dir = temp_dir("api-blocks");
    // 1,205 records in the last half hour, every other one answered.
    {
        let mut store = trunkgate::store::CallLogStore::open(&dir).unwrap();
        let now = std::time::SystemTime::now() - Duration::from_secs(1800);
        let recs: Vec<_> = (0..1205u64)
            .map(|i| {
                let t = trunkgate::store::to_rfc3339(now + Duration::from_millis(i));
                trunkgate::store::CallRecord {
                    id: uuid::Uuid::from_u128(u128::from(i) + 1),
                    call_id: format!("bulk-{i}"),
                    parent_call_id: None,
                    caller_no: "+14155550001".into(),
                    api_no: DIALED.into(),
                    start_time: t.clone(),
                    end_time: t,
                    direction: "outbound".into(),
                    hangup_end: None,
                    duration: 0,
                    status: trunkgate::store::CallStatus::Completed,
                    error: None,
                    error_code: None,
                    connect_time_sec: if i % 2 == 0 { 3 } else { 0 },
                    sip: trunkgate::store::SipInfo {
                        call_id: format!("bulk-{i}"),
                        response_code: 200,
                    },
                    service: "sip_trunking".into(),
                    trunk_id: None,
                    reason: None,
                    recording: None,
                    quality: None,
                }
            })
            .collect();
        store.insert(&recs).unwrap();
    }
    let gw = start(&node(carrier.addr, &carrier.addr.to_string(), &dir)).await;
    let api = Api::new(&gw, Some(KEY));
    let (s, first) = api.get("/v1/History/Logs/Calls").await;
    assert_eq!(s, 200);
    assert_eq!(first["logs"].as_array().unwrap().len(), 1000);
    assert_eq!(first["is_truncated"], true);
    assert_eq!(first["logs"][999]["call_id"], "bulk-999");
    let next = first["next_block_uri"].as_str().unwrap().to_string();
    let (_, second) = api.get(&next).await;
    assert_eq!(second["logs"].as_array().unwrap().len(), 205);
    assert_eq!(second["logs"][0]["call_id"], "bulk-1000");
    assert_eq!(
        (
            second["is_truncated"].as_bool(),
            second["next_block_uri"].is_null()
        ),
        (Some(false), true)
    );
    // Connected at least 1 s: 603 records.
    let (_, a1) = api.get("/v1/History/Logs/Calls?connect_time=1").await;
    assert_eq!(
        a1["logs"].as_array().unwrap().len(),
        603,
        "{}",
        a1["next_block_uri"]
    );
    assert_eq!(a1["is_truncated"], false);
    let (_, o1) = api
        .get("/v1/History/Logs/Calls?connectTime=0&direction=outbound")
        .await;
    assert_eq!(o1["logs"].as_array().unwrap().len(), 1000);
    assert_eq!(o1["is_truncated"], true);
}

/// `media_encryption` (a trunkgate addition to the trunk object) is read,
/// written and validated through the API, and a change applies to the next
/// call: `required` refuses a plain-RTP offer with 488.
#[tokio::test]
async fn media_encryption_set_by_put_refuses_a_plain_rtp_call_with_488() {
    let (gw, _carrier, api, _) = setup().await;
    let (s, t) = api.trunk(DEMO_TRUNK).await;
    assert_eq!((s, &t["media_encryption"]), (200, &json!("optional")));
    let (s, r) = api
        .put_trunk(DEMO_TRUNK, json!({ "media_encryption": "sometimes" }))
        .await;
    assert_eq!(s, 400, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap_or_default()
            .contains("media_encryption"),
        "{r}"
    );
    let (s, r) = api
        .put_trunk(DEMO_TRUNK, json!({ "media_encryption": "required" }))
        .await;
    assert_eq!((s, &r["media_encryption"]), (200, &json!("required")));
    let pbx = Ua::new().await;
    pbx.send_invite(gw.udp, "api-srtp1", DIALED, "z9hG4bKsrtp1")
        .await;
    pbx.wait_response(488).await;
}
