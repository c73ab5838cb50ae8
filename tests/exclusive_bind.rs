//! The SIP UDP port is bound exclusively: another process of the same user
//! asking for SO_REUSEADDR + SO_REUSEPORT cannot bind it and take a share of
//! the gateway's datagrams; the gateway keeps answering on it.

mod common;

use std::time::Duration;

use common::*;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_socket_cannot_share_the_sip_udp_port() {
    let carrier = Ua::new().await;
    let gw = start(&config_text(&[(carrier.addr, "udp")], "127.0.0.0/8")).await;

    let thief = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).expect("socket");
    thief.set_reuse_address(true).expect("SO_REUSEADDR");
    thief.set_reuse_port(true).expect("SO_REUSEPORT");
    let err = thief
        .bind(&SockAddr::from(gw.udp))
        .expect_err("binding the gateway's SIP port must fail");
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");

    // Every OPTIONS still reaches the gateway (none is taken by another socket).
    let pbx = Ua::new().await;
    for i in 0..20 {
        let req = format!(
            "OPTIONS sip:{gw} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKexcl{i}\r\nMax-Forwards: 70\r\nFrom: <sip:pbx@{me}>;tag=x{i}\r\nTo: <sip:{gw}>\r\nCall-ID: excl-{i}@pbx\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
            gw = gw.udp,
            me = pbx.addr
        );
        pbx.send(gw.udp, &req).await;
        let (m, _) = pbx
            .recv_within(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no answer to OPTIONS {i}"));
        assert_eq!(m.code(), Some(200));
    }
}
