//! Octet searches eight at a time in a `u64` ("SIMD within a register"), for
//! the short runs the parser and the typed views scan (a header name, a
//! parameter value, a URI in `<>`, a display name): there a `memchr` call's
//! set-up costs more than the search. Safe code
//! only; each word is read little-endian, so its lowest lane is the first
//! octet.
//!
//! The lane masks flag a lane by its high bit. A borrow only moves from a
//! flagged lane to the lanes above it, so the lowest flagged lane is exact
//! (a lane above it may be a false hit, which [`find`] never looks at).

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

#[inline]
fn word(b: &[u8], i: usize) -> Option<u64> {
    let w: [u8; 8] = b.get(i..i.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(w))
}

/// The lanes of `w` equal to `c`.
#[inline]
pub(crate) fn eq(w: u64, c: u8) -> u64 {
    let x = w ^ LO.wrapping_mul(u64::from(c));
    x.wrapping_sub(LO) & !x & HI
}

/// The lanes of `w` below `n` (`n <= 0x80`; octets from 0x80 up never are).
#[inline]
pub(crate) fn below(w: u64, n: u8) -> u64 {
    debug_assert!(n <= 0x80);
    w.wrapping_sub(LO.wrapping_mul(u64::from(n))) & !w & HI
}

/// The first offset at or after `i` whose octet `hit` accepts; `lanes` must
/// flag exactly those octets in a word (the unit tests check each pair).
#[inline(always)]
pub(crate) fn find(
    b: &[u8],
    mut i: usize,
    lanes: impl Fn(u64) -> u64,
    hit: impl Fn(u8) -> bool,
) -> Option<usize> {
    while let Some(w) = word(b, i) {
        let m = lanes(w);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let p = b.get(i..)?.iter().position(|&c| hit(c))?;
    Some(i + p)
}

/// `"` or `\`: where a quoted string ends or escapes (RFC 3261 §25.1).
#[inline]
pub(crate) fn quote_or_backslash(w: u64) -> u64 {
    eq(w, b'"') | eq(w, b'\\')
}

/// `:`: where a header name ends (RFC 3261 §7.3.1).
#[inline]
pub(crate) fn colon(w: u64) -> u64 {
    eq(w, b':')
}

/// `;` or `"`: where a parameter ends or a quoted value starts.
#[inline]
pub(crate) fn semi_or_quote(w: u64) -> u64 {
    eq(w, b';') | eq(w, b'"')
}

/// What ends a URI inside `<...>`: `>`, or an octet no URI may hold there
/// (`<`, SP, controls).
#[inline]
pub(crate) fn uri_stop(w: u64) -> u64 {
    eq(w, b'>') | eq(w, b'<') | below(w, 0x21)
}

/// [`uri_stop`] for one octet.
#[inline]
pub(crate) fn is_uri_stop(c: u8) -> bool {
    c == b'>' || c == b'<' || c <= b' '
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every octet at every lane (and in the tail), after filler octets of
    /// every kind: `find` with each lane mask agrees with a plain scan.
    #[test]
    fn find_agrees_with_a_plain_scan() {
        type Pair = (fn(u64) -> u64, fn(u8) -> bool);
        let pairs: [Pair; 4] = [
            (colon, |c| c == b':'),
            (quote_or_backslash, |c| c == b'"' || c == b'\\'),
            (semi_or_quote, |c| c == b';' || c == b'"'),
            (uri_stop, is_uri_stop),
        ];
        for (lanes, hit) in pairs {
            for fill in 0..=255u8 {
                if hit(fill) {
                    continue;
                }
                for c in 0..=255u8 {
                    for at in 0..19 {
                        let mut b = vec![fill; 19];
                        if let Some(x) = b.get_mut(at) {
                            *x = c;
                        }
                        // A second candidate later, to catch a wrong lane.
                        if let Some(x) = b.get_mut(at + 3) {
                            *x = c.wrapping_sub(1);
                        }
                        for from in [0, 5, 8] {
                            let want = b
                                .get(from..)
                                .and_then(|r| r.iter().position(|&o| hit(o)))
                                .map(|p| p + from);
                            assert_eq!(find(&b, from, lanes, hit), want, "{fill} {c} {at}");
                        }
                    }
                }
            }
        }
        assert_eq!(find(b"ab", 5, semi_or_quote, |c| c == b';'), None);
    }
}
