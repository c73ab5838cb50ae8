//! UDP transport over real loopback sockets.

use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::time::timeout;

use super::test_support::*;
use super::{Target, TransportError, TransportKind};

const UDP: TransportKind = TransportKind::Udp;

async fn recv(sock: &UdpSocket) -> (Vec<u8>, std::net::SocketAddr) {
    let mut buf = vec![0u8; 70000];
    let (n, from) = timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    (buf[..n].to_vec(), from)
}

#[tokio::test]
async fn round_trip_and_reply_from_the_sip_port() {
    let (t, mut rx) = start(cfg(&[(UDP, "127.0.0.1:0")])).await;
    let server = addr(&t, UDP, false);
    assert_ne!(server.port(), 0);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let req = sip("OPTIONS", "");
    client.send_to(&req, server).await.unwrap();

    let got = next(&mut rx).await;
    assert_eq!(&got.data[..], &req[..]);
    assert_eq!(got.source, client.local_addr().unwrap());
    assert_eq!(got.local, server);
    assert_eq!(got.kind, UDP);
    assert_eq!(got.conn, None);

    let target = Target {
        kind: UDP,
        addr: got.source,
        conn: None,
    };
    t.send(&target, Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"))
        .await
        .unwrap();
    let (reply, from) = recv(&client).await;
    assert_eq!(reply, b"SIP/2.0 200 OK\r\n\r\n");
    assert_eq!(from, server, "replies leave from the listening socket");

    assert!(t.try_send_udp(got.source, b"again").unwrap());
    assert_eq!(recv(&client).await.0, b"again");
    let s = t.stats();
    assert_eq!((s.udp_datagrams_in, s.udp_datagrams_out), (1, 2));
}

#[tokio::test]
async fn oversize_datagram_dropped_and_limit_is_inclusive() {
    let mut c = cfg(&[(UDP, "127.0.0.1:0")]);
    c.max_message_size = 1000;
    let (t, mut rx) = start(c).await;
    let server = addr(&t, UDP, false);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(&[b'a'; 1001], server).await.unwrap();
    client.send_to(&[b'b'; 1000], server).await.unwrap();
    let got = next(&mut rx).await;
    assert_eq!(got.data.len(), 1000);
    assert_eq!(got.data[0], b'b');
    assert_quiet(&mut rx, Duration::from_millis(100)).await;
    assert_eq!(t.stats().udp_dropped_oversize, 1);
    // Sending more than we would accept is refused locally.
    let target = Target {
        kind: UDP,
        addr: client.local_addr().unwrap(),
        conn: None,
    };
    let err = t
        .send(&target, Bytes::from(vec![0u8; 1001]))
        .await
        .unwrap_err();
    assert_eq!(err.name(), "transport::too_large");
}

#[tokio::test]
async fn keepalive_datagrams_ignored() {
    let (t, mut rx) = start(cfg(&[(UDP, "127.0.0.1:0")])).await;
    let server = addr(&t, UDP, false);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    client.send_to(b"\r\n\r\n", server).await.unwrap();
    client.send_to(b"x", server).await.unwrap();
    assert_eq!(&next(&mut rx).await.data[..], b"x");
    assert_eq!(t.stats().udp_keepalives_in, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_datagrams_across_workers_all_delivered() {
    let mut c = cfg(&[(UDP, "127.0.0.1:0")]);
    c.udp_workers = 4;
    let (t, mut rx) = start(c).await;
    let server = addr(&t, UDP, false);
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..50u32 {
        client
            .send_to(format!("m{i}").as_bytes(), server)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen.push(String::from_utf8(next(&mut rx).await.data.to_vec()).unwrap());
    }
    seen.sort();
    let mut want: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn no_listener_for_family() {
    let (t, _rx) = start(cfg(&[(UDP, "127.0.0.1:0")])).await;
    let target = Target {
        kind: UDP,
        addr: "[::1]:5060".parse().unwrap(),
        conn: None,
    };
    let err = t.send(&target, Bytes::from_static(b"x")).await.unwrap_err();
    assert!(matches!(
        err,
        TransportError::NoListener {
            kind: TransportKind::Udp,
            ipv6: true
        }
    ));
    assert_eq!(t.local_addr(UDP, true), None);
    assert_eq!(t.local_addr(TransportKind::Tcp, false), None);
}

#[tokio::test]
async fn ipv6_loopback_round_trip() {
    let Some((t, mut rx)) = start_v6(cfg(&[(UDP, "127.0.0.1:0"), (UDP, "[::1]:0")])).await else {
        return;
    };
    let server = addr(&t, UDP, true);
    assert!(server.is_ipv6());
    let client = UdpSocket::bind("[::1]:0").await.unwrap();
    client
        .send_to(b"OPTIONS sip:a SIP/2.0\r\n\r\n", server)
        .await
        .unwrap();
    let got = next(&mut rx).await;
    assert_eq!(got.local, server);
    let target = Target {
        kind: UDP,
        addr: got.source,
        conn: None,
    };
    t.send(&target, Bytes::from_static(b"pong")).await.unwrap();
    let (reply, from) = recv(&client).await;
    assert_eq!((reply.as_slice(), from), (&b"pong"[..], server));
}

#[tokio::test]
async fn ipv4_mapped_target_uses_ipv4_socket() {
    let (t, mut rx) = start(cfg(&[(UDP, "127.0.0.1:0")])).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = client.local_addr().unwrap().port();
    let mapped = format!("[::ffff:127.0.0.1]:{port}").parse().unwrap();
    // The fast path works on a fresh socket, before the reactor polled it.
    assert!(t.try_send_udp(mapped, b"fast").unwrap());
    assert_eq!(recv(&client).await.0, b"fast");
    let target = Target {
        kind: UDP,
        addr: mapped,
        conn: None,
    };
    t.send(&target, Bytes::from_static(b"hi")).await.unwrap();
    assert_eq!(recv(&client).await.0, b"hi");
    assert_quiet(&mut rx, Duration::from_millis(10)).await;
}

/// `Received::queued` is the time a datagram waited in the socket's queue:
/// with the only runtime thread blocked for 120 ms right after the send, the
/// datagram cannot be read sooner, so it reports at least that.
#[tokio::test(flavor = "current_thread")]
async fn a_datagram_reports_how_long_it_queued() {
    let (t, mut rx) = start(cfg(&[(UDP, "127.0.0.1:0")])).await;
    let server = addr(&t, UDP, false);
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // Linux turns receive timestamping on for the whole stack from a work
    // queue after the first SO_TIMESTAMPNS: let it run before measuring.
    client.send_to(&sip("OPTIONS", ""), server).unwrap();
    next(&mut rx).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    client.send_to(&sip("OPTIONS", ""), server).unwrap();
    std::thread::sleep(Duration::from_millis(120));
    let got = next(&mut rx).await;
    assert!(got.queued >= Duration::from_millis(120), "{:?}", got.queued);
    assert!(got.queued < Duration::from_secs(60), "{:?}", got.queued);
}
