//! The document's schemas match what the API really serializes.

use super::*;
use crate::config::{
    AuthSource, Authentication, Direction, Failover, FailoverSource, FaxSupport, InboundSettings,
    MediaEncryption, OutboundSettings, Recording, RecordingSetting, Trunk, TrunkStatus,
};
use crate::store::StoredTrunk;
use serde_json::Value;

fn doc() -> Value {
    serde_json::from_str(document().unwrap()).unwrap()
}

/// The schema object named by `$ref` (or containing one, for nullable refs).
fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    fn find_ref(v: &Value) -> Option<&str> {
        match v {
            Value::Object(m) => m
                .get("$ref")
                .and_then(Value::as_str)
                .or_else(|| m.values().find_map(find_ref)),
            Value::Array(a) => a.iter().find_map(find_ref),
            _ => None,
        }
    }
    if s.get("properties").is_some() {
        return s;
    }
    match find_ref(s) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            &doc["components"]["schemas"][name]
        }
        None => s,
    }
}

/// Every key of `json` (recursively through objects and arrays of objects)
/// is a property of `schema`.
fn covered(doc: &Value, schema: &Value, json: &Value, path: &str) {
    let schema = resolve(doc, schema);
    let Value::Object(m) = json else { return };
    let props = &schema["properties"];
    for (k, v) in m {
        let p = &props[k];
        assert!(
            !p.is_null(),
            "{path}.{k} is serialized but not in the schema"
        );
        match v {
            Value::Object(_) => covered(doc, p, v, &format!("{path}.{k}")),
            Value::Array(a) => {
                if let Some(first) = a.first() {
                    let items = p
                        .get("items")
                        .or_else(|| resolve(doc, p).get("items"))
                        .unwrap_or(p);
                    covered(doc, items, first, &format!("{path}.{k}[]"));
                }
            }
            _ => {}
        }
    }
}

fn full_trunk() -> Trunk {
    Trunk {
        trunk_id: uuid::Uuid::from_u128(1),
        media_encryption: MediaEncryption::Required,
        status: TrunkStatus::Active,
        direction: Direction::Inbound,
        simultaneous_call_limit: Some(3),
        description: Some("d".into()),
        recording: Some(Recording {
            setting: RecordingSetting::PreConnect,
        }),
        inbound: Some(InboundSettings {
            destination: Some("pbx.example.com".into()),
            failover: Some(Failover {
                source: FailoverSource::SipUri,
                value: "sip:x@y".into(),
            }),
            phone_numbers_uri: None,
        }),
        outbound: Some(OutboundSettings {
            domain: Some("a.example.com".into()),
            authentication: vec![Authentication {
                source: AuthSource::Other,
                value: "10.0.0.1".into(),
            }],
            override_early_media: Some("DE".into()),
            fax_support: FaxSupport::Enabled,
            max_post_dial_delay: Some(10),
        }),
    }
}

#[test]
fn trunk_schema_covers_every_serialized_field() {
    let doc = doc();
    let view = trunks::TrunkView::new(&StoredTrunk {
        trunk: full_trunk(),
        created_ms: 0,
        updated_ms: 0,
    });
    let json = serde_json::to_value(&view).unwrap();
    covered(&doc, &doc["components"]["schemas"]["Trunk"], &json, "Trunk");
    let mut body = json.clone();
    for k in [
        "created_on",
        "updated_on",
        "modified_on",
        "app_id",
        "subaccount_id",
    ] {
        body.as_object_mut().unwrap().remove(k);
    }
    covered(
        &doc,
        &doc["components"]["schemas"]["TrunkBody"],
        &body,
        "TrunkBody",
    );
}

#[test]
fn call_log_schema_covers_every_serialized_field() {
    let doc = doc();
    let rec = crate::store::CallRecord {
        id: uuid::Uuid::from_u128(2),
        call_id: "c".into(),
        parent_call_id: Some("p".into()),
        caller_no: "+1".into(),
        api_no: "+2".into(),
        start_time: "2026-01-01T00:00:00.000Z".into(),
        end_time: "2026-01-01T00:00:01.000Z".into(),
        direction: "outbound".into(),
        hangup_end: Some("caller".into()),
        duration: 1000,
        status: crate::store::CallStatus::Completed,
        error: Some("e".into()),
        error_code: Some(486),
        connect_time_sec: 30,
        sip: crate::store::SipInfo {
            call_id: "c".into(),
            response_code: 200,
        },
        service: "sip_trunking".into(),
        trunk_id: Some(uuid::Uuid::from_u128(1)),
        reason: Some("r".into()),
        recording: Some(crate::store::RecordingRef {
            path: "r.wav".into(),
            duration: 1.5,
        }),
        quality: Some(crate::media::quality::report::tests::sample()),
    };
    let json = serde_json::to_value(super::calls::LogView::new(rec)).unwrap();
    assert_eq!(json["connect_time_billed"], 0.5);
    assert_eq!(json["type"], "voice");
    covered(
        &doc,
        &doc["components"]["schemas"]["CallLog"],
        &json,
        "CallLog",
    );
}

#[test]
fn every_route_is_documented() {
    let doc = doc();
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    for p in [
        "/v1/Trunks",
        "/v1/Trunks/{trunk_id}",
        "/v1/PhoneNumbers",
        "/v1/PhoneNumbers/{assigned_to}",
        "/v1/PhoneNumbers/Trunks/{trunk_id}",
        "/v1/PhoneNumbers/Move/{assigned_to}",
        "/v1/PhoneNumbers/Move/Trunks/{trunk_id}",
        "/v1/History/Logs/Calls",
        "/v1/History/Logs/Calls/{call_id}",
        "/v1/LiveCalls",
        "/v1/LiveCalls/{call_id}",
        "/v1/openapi.json",
        "/health/live",
        "/health/ready",
    ] {
        assert!(paths.iter().any(|x| *x == p), "{p} missing from {paths:?}");
    }
    assert_eq!(paths.len(), 14);
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["name"],
        "X-API-Key"
    );
}
