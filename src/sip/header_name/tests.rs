use super::*;

#[test]
fn long_forms_case_insensitive() {
    assert_eq!(HeaderName::parse(b"via"), HeaderName::Via);
    assert_eq!(HeaderName::parse(b"vIA"), HeaderName::Via);
    assert_eq!(HeaderName::parse(b"call-id"), HeaderName::CallId);
    assert_eq!(HeaderName::parse(b"CSEQ"), HeaderName::CSeq);
    assert_eq!(HeaderName::parse(b"max-forwards"), HeaderName::MaxForwards);
    assert_eq!(
        HeaderName::parse(b"www-authenticate"),
        HeaderName::WwwAuthenticate
    );
    assert_eq!(HeaderName::CallId.as_str(), "Call-ID");
    assert_eq!(HeaderName::CSeq.as_str(), "CSeq");
    assert_eq!(HeaderName::MaxForwards.as_str(), "Max-Forwards");
    assert_eq!(HeaderName::WwwAuthenticate.as_str(), "WWW-Authenticate");
    for (s, h) in KNOWN {
        assert_eq!(&HeaderName::parse(s.as_bytes()), h);
        assert_eq!(h.as_str(), *s);
    }
}

#[test]
fn compact_forms() {
    let cases: &[(&[u8], HeaderName)] = &[
        (b"v", HeaderName::Via),
        (b"I", HeaderName::CallId),
        (b"f", HeaderName::From),
        (b"t", HeaderName::To),
        (b"m", HeaderName::Contact),
        (b"L", HeaderName::ContentLength),
        (b"c", HeaderName::ContentType),
        (b"k", HeaderName::Supported),
        (b"s", HeaderName::Subject),
        (
            b"e",
            HeaderName::Other(Bytes::from_static(b"content-encoding")),
        ),
        (b"o", HeaderName::Event),
        (b"r", HeaderName::ReferTo),
        (b"u", HeaderName::Other(Bytes::from_static(b"Allow-Events"))),
        (
            b"x",
            HeaderName::Other(Bytes::from_static(b"Session-Expires")),
        ),
    ];
    for (b, h) in cases {
        assert_eq!(&HeaderName::parse(b), h, "{:?}", b);
    }
    assert_eq!(HeaderName::parse(b"u").as_str(), "Allow-Events");
    assert_eq!(HeaderName::parse(b"z").as_str(), "z");
}

#[test]
fn other_keeps_text_and_compares_case_insensitively() {
    let a = HeaderName::parse(b"X-Custom");
    assert_eq!(a.as_str(), "X-Custom");
    assert_eq!(a, HeaderName::parse(b"x-CUSTOM"));
    assert_ne!(a, HeaderName::Via);
    let hash = |h: &HeaderName| {
        use std::collections::hash_map::DefaultHasher;
        let mut s = DefaultHasher::new();
        h.hash(&mut s);
        s.finish()
    };
    assert_eq!(hash(&a), hash(&HeaderName::parse(b"x-custom")));
}

/// The old one-octet-at-a-time comparison `eq_fold` must agree with.
fn eq_fold_ref(b: &[u8], lit: &[u8]) -> bool {
    b.len() == lit.len()
        && lit
            .iter()
            .zip(b)
            .all(|(&k, &c)| c == k || (k.is_ascii_lowercase() && c | 0x20 == k))
}

#[test]
fn eq_fold_agrees_with_octet_compare_on_every_mutation() {
    for (s, _) in KNOWN {
        let lit = s.to_ascii_lowercase().into_bytes();
        assert!(eq_fold(s.as_bytes(), &lit), "{s}");
        assert!(eq_fold(&s.to_ascii_uppercase().into_bytes(), &lit), "{s}");
        for pos in 0..lit.len() {
            for c in 0..=255u8 {
                let mut m = lit.clone();
                m[pos] = c;
                assert_eq!(eq_fold(&m, &lit), eq_fold_ref(&m, &lit), "{s} {pos} {c}");
            }
        }
        assert!(!eq_fold(&lit[1..], &lit));
    }
    // CR | 0x20 is '-': a dash must still match only itself.
    assert!(!eq_fold(b"call\rid", b"call-id"));
    assert_eq!(HeaderName::id_of(b"Call\rID"), ID_OTHER);
    assert_eq!(HeaderName::id_of(b"MAX\rFORWARDS"), ID_OTHER);
}

#[test]
fn ids_round_trip() {
    for (s, h) in KNOWN {
        assert_ne!(h.id(), ID_OTHER, "{s}");
        assert_eq!(HeaderName::id_of(s.as_bytes()), h.id(), "{s}");
        assert_eq!(HeaderName::from_id(h.id()).as_ref(), Some(h), "{s}");
    }
    for c in b'a'..=b'z' {
        let id = HeaderName::id_of(&[c]);
        assert_eq!(id, HeaderName::id_of(&[c.to_ascii_uppercase()]));
        let parsed = HeaderName::parse(&[c]);
        match HeaderName::from_id(id) {
            Some(h) => assert_eq!(h.as_str(), parsed.as_str(), "{}", c as char),
            None => assert_eq!(parsed.as_str(), (c as char).to_string()),
        }
    }
    assert_eq!(HeaderName::from_id(ID_OTHER), None);
    assert_eq!(HeaderName::from_id(200), None);
    for other in [&b"X-Custom"[..], b"", b"Vias", b"Content-Lengt", b"Call_ID"] {
        assert_eq!(HeaderName::id_of(other), ID_OTHER, "{other:?}");
    }
    assert_eq!(HeaderName::Other(Bytes::from_static(b"Via")).id(), ID_OTHER);
}
