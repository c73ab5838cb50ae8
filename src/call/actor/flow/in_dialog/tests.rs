#[test]
fn info_bodies() {
    assert_eq!(
        super::info_digit(b"Signal=5\r\nDuration=160\r\n"),
        Some('5')
    );
    assert_eq!(super::info_digit(b"signal= #\r\n"), Some('#'));
    assert_eq!(super::info_digit(b"7"), Some('7'));
    assert_eq!(super::info_digit(b"Signal=55"), None);
    assert_eq!(super::info_digit(b""), None);
}
