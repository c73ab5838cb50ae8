//! What the B2BUA copies onto the carrier leg is bounded: a 55 KB caller
//! display name arrives cut to `[sip] max_display_name` characters, an
//! over-long passed-on header (`max_copied_header`) is left out, and the
//! carrier's INVITE stays a small datagram.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_display_names_and_headers_are_not_forwarded() {
    let carrier = Ua::new().await;
    let gw = start(&config_text(&[(carrier.addr, "udp")], "127.0.0.0/8")).await;
    let pbx = Ua::new().await;
    let huge = "A".repeat(55_000);
    let pai = format!("<sip:+14155550001@pbx.example;x={}>", "p".repeat(5_000));
    let inv = invite(pbx.addr, gw.udp, "UDP", "hb-1@pbx", DIALED, "z9hG4bKhb1")
        .replace("From: \"Alice\"", &format!("From: \"{huge}\""))
        .replace(
            "User-Agent: test-pbx\r\n",
            &format!("User-Agent: test-pbx\r\nP-Asserted-Identity: {pai}\r\nSupported: timer\r\n"),
        );
    assert!(inv.len() > 55_000);
    pbx.send(gw.udp, &inv).await;
    let (b_inv, _) = carrier.wait_request("INVITE").await;
    let from = hdr(&b_inv, "From");
    assert!(
        from.starts_with(&format!("\"{}\" <sip:+14155550001@", "A".repeat(64))),
        "display name cut to 64 characters: {}",
        &from[..from.len().min(120)]
    );
    assert_eq!(
        hdr(&b_inv, "P-Asserted-Identity"),
        "",
        "over-long header left out"
    );
    assert_eq!(
        hdr(&b_inv, "Supported"),
        "timer",
        "short passed-on headers still pass"
    );
    let size = b_inv.raw().len();
    assert!(size < 2_000, "carrier INVITE is {size} bytes");
}
