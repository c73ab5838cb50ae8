//! The trunk as the gateway uses it: the fields that are strings on the wire
//! and in the store (`override_early_media`, `inbound.failover`) parsed once
//! into enums, so no call re-reads a string. The parse functions here are
//! also the shape rules `validate_trunk_set` reports (same field, same rule
//! text); the rules across trunks (a failover trunk that exists, is inbound,
//! is not the trunk itself) stay there.
//!
//! A [`TrunkModel`] is built per config snapshot (`policy::TrunkTable`) from
//! trunks that passed `validate_trunk_set`; it derefs to the wire [`Trunk`]
//! for the plain fields (ids, limits, settings that are enums already).

use std::ops::Deref;

use uuid::Uuid;

use super::{Failover, FailoverSource, Trunk};

/// `outbound.override_early_media`: the ringback the caller hears instead of
/// the carrier's early media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EarlyMediaOverride {
    /// The country of the dialled number.
    ToCountry,
    /// The country of the caller's number.
    FromCountry,
    /// This ISO 3166 alpha-2 country (two uppercase letters).
    Country(String),
}

impl EarlyMediaOverride {
    /// `to_country`, `from_country` or two uppercase letters; the error is
    /// the rule broken, as the config file and the API report it.
    pub fn parse(v: &str) -> Result<EarlyMediaOverride, String> {
        match v {
            "to_country" => Ok(EarlyMediaOverride::ToCountry),
            "from_country" => Ok(EarlyMediaOverride::FromCountry),
            _ if v.len() == 2 && v.bytes().all(|b| b.is_ascii_uppercase()) => {
                Ok(EarlyMediaOverride::Country(v.to_string()))
            }
            _ => Err(format!(
                "must be null, to_country, from_country or an ISO 3166 alpha-2 code (got {v:?})"
            )),
        }
    }
}

/// Which call-flow worker product an `api` failover (or a number) hands the
/// call to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerQueue {
    CallFlows,
    ParkingLot,
}

impl WorkerQueue {
    pub fn parse(v: &str) -> Result<WorkerQueue, String> {
        match v {
            "CallFlows" => Ok(WorkerQueue::CallFlows),
            "ParkingLot" => Ok(WorkerQueue::ParkingLot),
            _ => Err(format!("must be CallFlows or ParkingLot (got {v:?})")),
        }
    }
}

/// `inbound.failover` {source, value} as one typed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailoverTarget {
    /// `trunk_id`: that inbound trunk's destination.
    Trunk(Uuid),
    /// `phone_number`: out through the carriers to this E.164 number.
    PhoneNumber(String),
    /// `sip_uri`: straight to this `sip:`/`sips:` URI.
    SipUri(String),
    /// `api`: the call-flow worker.
    Api(WorkerQueue),
}

impl FailoverTarget {
    /// The value read by its source; the error is the rule broken
    /// (reported at `inbound.failover.value`).
    pub fn parse(f: &Failover) -> Result<FailoverTarget, String> {
        let v = f.value.as_str();
        match f.source {
            FailoverSource::TrunkId => v
                .parse::<Uuid>()
                .map(FailoverTarget::Trunk)
                .map_err(|_| format!("must be a trunk_id (uuid) (got {v:?})")),
            FailoverSource::PhoneNumber if crate::config::is_e164(v) => {
                Ok(FailoverTarget::PhoneNumber(v.to_string()))
            }
            FailoverSource::PhoneNumber => Err(format!(
                "must be an E.164 number (+ and 8 to 15 digits) (got {v:?})"
            )),
            FailoverSource::SipUri
                if (v.starts_with("sip:") || v.starts_with("sips:")) && v.len() >= 6 =>
            {
                Ok(FailoverTarget::SipUri(v.to_string()))
            }
            FailoverSource::SipUri => Err(format!("must be a sip: or sips: URI (got {v:?})")),
            FailoverSource::Api => WorkerQueue::parse(v).map(FailoverTarget::Api),
        }
    }
}

/// A field of a trunk whose value does not parse: the field below the trunk
/// (`outbound.override_early_media`) and the rule broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError {
    pub field: &'static str,
    pub rule: String,
}

/// A trunk with its string-typed fields parsed (module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct TrunkModel {
    trunk: Trunk,
    early_media: Option<EarlyMediaOverride>,
    failover: Option<FailoverTarget>,
}

impl TrunkModel {
    /// Parses the trunk's string fields; every field that does not parse is
    /// reported (`validate_trunk_set` reports the same errors with the
    /// trunk's index in front).
    pub fn new(trunk: Trunk) -> Result<TrunkModel, Vec<ModelError>> {
        let mut errs = Vec::new();
        /// The parsed value of an optional field; a parse error is collected.
        fn check<T>(
            errs: &mut Vec<ModelError>,
            field: &'static str,
            parsed: Option<Result<T, String>>,
        ) -> Option<T> {
            match parsed {
                Some(Err(rule)) => {
                    errs.push(ModelError { field, rule });
                    None
                }
                other => other.and_then(Result::ok),
            }
        }
        let early_media = check(
            &mut errs,
            "outbound.override_early_media",
            trunk
                .outbound
                .as_ref()
                .and_then(|o| o.override_early_media.as_deref())
                .map(EarlyMediaOverride::parse),
        );
        let failover = check(
            &mut errs,
            "inbound.failover.value",
            trunk
                .inbound
                .as_ref()
                .and_then(|i| i.failover.as_ref())
                .map(FailoverTarget::parse),
        );
        if errs.is_empty() {
            Ok(TrunkModel {
                trunk,
                early_media,
                failover,
            })
        } else {
            Err(errs)
        }
    }

    /// The trunk as the API, the store and the config file spell it.
    pub fn spec(&self) -> &Trunk {
        &self.trunk
    }

    pub fn early_media_override(&self) -> Option<&EarlyMediaOverride> {
        self.early_media.as_ref()
    }

    pub fn failover(&self) -> Option<&FailoverTarget> {
        self.failover.as_ref()
    }
}

impl Deref for TrunkModel {
    type Target = Trunk;
    fn deref(&self) -> &Trunk {
        &self.trunk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Direction, InboundSettings, OutboundSettings, TrunkStatus};

    fn trunk(early: Option<&str>, failover: Option<(FailoverSource, &str)>) -> Trunk {
        Trunk {
            trunk_id: Uuid::from_u128(7),
            status: TrunkStatus::Active,
            direction: Direction::Inbound,
            simultaneous_call_limit: None,
            description: None,
            recording: None,
            inbound: Some(InboundSettings {
                destination: None,
                failover: failover.map(|(source, v)| Failover {
                    source,
                    value: v.to_string(),
                }),
                phone_numbers_uri: None,
            }),
            outbound: Some(OutboundSettings {
                override_early_media: early.map(str::to_string),
                ..Default::default()
            }),
            media_encryption: Default::default(),
        }
    }

    #[test]
    fn early_media_override_parses_the_three_spec_forms() {
        use EarlyMediaOverride::*;
        assert_eq!(EarlyMediaOverride::parse("to_country"), Ok(ToCountry));
        assert_eq!(EarlyMediaOverride::parse("from_country"), Ok(FromCountry));
        assert_eq!(EarlyMediaOverride::parse("DE"), Ok(Country("DE".into())));
        for bad in ["de", "DEU", "D", "", "usa", "To_country", "D1"] {
            let e = EarlyMediaOverride::parse(bad).unwrap_err();
            assert_eq!(
                e,
                format!("must be null, to_country, from_country or an ISO 3166 alpha-2 code (got {bad:?})")
            );
        }
    }

    #[test]
    fn failover_value_is_read_by_its_source() {
        let f = |source, v: &str| {
            FailoverTarget::parse(&Failover {
                source,
                value: v.into(),
            })
        };
        let id = Uuid::from_u128(42);
        assert_eq!(
            f(FailoverSource::TrunkId, &id.to_string()),
            Ok(FailoverTarget::Trunk(id))
        );
        assert_eq!(
            f(FailoverSource::TrunkId, "x"),
            Err("must be a trunk_id (uuid) (got \"x\")".into())
        );
        assert_eq!(
            f(FailoverSource::PhoneNumber, "+442071234567"),
            Ok(FailoverTarget::PhoneNumber("+442071234567".into()))
        );
        assert!(f(FailoverSource::PhoneNumber, "442071234567")
            .unwrap_err()
            .starts_with("must be an E.164 number"));
        assert_eq!(
            f(FailoverSource::SipUri, "sips:vm@example.com"),
            Ok(FailoverTarget::SipUri("sips:vm@example.com".into()))
        );
        assert!(f(FailoverSource::SipUri, "sip:").is_err());
        assert!(f(FailoverSource::SipUri, "http://x").is_err());
        assert_eq!(
            f(FailoverSource::Api, "ParkingLot"),
            Ok(FailoverTarget::Api(WorkerQueue::ParkingLot))
        );
        assert_eq!(
            f(FailoverSource::Api, "CallFlows"),
            Ok(FailoverTarget::Api(WorkerQueue::CallFlows))
        );
        assert_eq!(
            f(FailoverSource::Api, "parkinglot"),
            Err("must be CallFlows or ParkingLot (got \"parkinglot\")".into())
        );
    }

    #[test]
    fn model_carries_the_parsed_fields_and_the_spec_unchanged() {
        let t = trunk(
            Some("from_country"),
            Some((FailoverSource::Api, "ParkingLot")),
        );
        let m = TrunkModel::new(t.clone()).unwrap();
        assert_eq!(m.spec(), &t);
        assert_eq!(m.trunk_id, t.trunk_id);
        assert_eq!(
            m.early_media_override(),
            Some(&EarlyMediaOverride::FromCountry)
        );
        assert_eq!(
            m.failover(),
            Some(&FailoverTarget::Api(WorkerQueue::ParkingLot))
        );
        let none = TrunkModel::new(trunk(None, None)).unwrap();
        assert_eq!(none.early_media_override(), None);
        assert_eq!(none.failover(), None);
    }

    #[test]
    fn model_reports_every_field_that_does_not_parse() {
        let errs =
            TrunkModel::new(trunk(Some("usa"), Some((FailoverSource::TrunkId, "x")))).unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["outbound.override_early_media", "inbound.failover.value"]
        );
    }
}
