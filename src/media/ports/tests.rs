use std::net::UdpSocket as StdUdpSocket;

use super::*;

const LO: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[test]
fn pairs_are_even_and_adjacent_and_come_back() {
    let pool = PortPool::new(15001, 15010);
    assert_eq!(pool.total(), 4); // 15002, 15004, 15006, 15008 (15010's RTCP would be 15011)
    let a = pool.allocate(LO).unwrap();
    assert_eq!(a.port() % 2, 0);
    let (rtp, rtcp) = a.socks.local_addrs().unwrap();
    assert_eq!((rtp.port(), rtcp.port()), (a.port(), a.port() + 1));
    assert_eq!(pool.available(), 3);
    drop(a);
    assert_eq!(pool.available(), 4);
}

#[test]
fn exhausted_range_is_an_error_not_a_panic() {
    let pool = PortPool::new(15100, 15104);
    let held: Vec<_> = (0..2).map(|_| pool.allocate(LO).unwrap()).collect();
    let err = pool.allocate(LO).err().unwrap();
    assert_eq!(err.name(), "media_ports_exhausted");
    drop(held);
    assert!(pool.allocate(LO).is_ok());
}

#[test]
fn idle_bound_pairs_give_their_descriptors_back() {
    let pool = PortPool::new(15500, 15508);
    let pairs: Vec<_> = (0..3).map(|_| pool.allocate(LO).unwrap()).collect();
    for p in pairs {
        p.lease.recycle(p.socks);
    }
    assert_eq!(pool.bound_idle(), 3);
    assert_eq!(pool.close_idle(2), 2);
    assert_eq!(pool.bound_idle(), 1);
    assert_eq!(pool.close_idle(5), 1);
    assert_eq!((pool.bound_idle(), pool.available()), (0, 4));
    // Closed pairs are bound again at set-up.
    assert!(pool.allocate(LO).is_ok());
    assert!(out_of_descriptors(&std::io::Error::from_raw_os_error(24)));
    assert!(!out_of_descriptors(&std::io::Error::from_raw_os_error(98)));
}

#[test]
fn a_recycled_pair_comes_back_bound_and_drained() {
    let pool = PortPool::new(15300, 15302);
    let a = pool.allocate(LO).unwrap();
    let (port, rtp_addr) = (a.port(), a.socks.local_addrs().unwrap().0);
    a.lease.recycle(a.socks);
    assert_eq!((pool.available(), pool.bound_idle()), (1, 1));
    // A late packet of the ended call.
    let peer = StdUdpSocket::bind("127.0.0.1:0").unwrap();
    peer.send_to(b"late", rtp_addr).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let b = pool.allocate(LO).unwrap();
    assert_eq!(b.port(), port);
    assert_eq!(pool.bound_idle(), 0);
    let mut buf = [0u8; 16];
    let Socks::Plain { rtp, .. } = &b.socks else {
        panic!("a pair the pool bound itself is in no reactor");
    };
    let err = rtp.recv(&mut buf).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    drop(b);
    // Dropped without recycling: the port comes back, its sockets closed.
    assert_eq!((pool.available(), pool.bound_idle()), (1, 0));
}

#[test]
fn prebind_binds_ahead_skips_held_ports_and_keeps_fifo_order() {
    let squatter = StdUdpSocket::bind("127.0.0.1:15401").unwrap();
    let pool = PortPool::new(15400, 15422);
    pool.start_prebind(LO);
    for _ in 0..200 {
        if pool.bound_idle() >= 8 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(pool.bound_idle() >= 8, "{}", pool.bound_idle());
    let ports: Vec<u16> = (0..10)
        .map(|_| pool.allocate(LO).unwrap())
        .map(|p| p.port())
        .collect();
    // 15400's RTCP port is held elsewhere: skipped by the refill, not the
    // set-up. The line starts at a random pair and wraps around.
    let mut sorted = ports.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (15402..15422).step_by(2).collect::<Vec<_>>());
    let steps = ports.windows(2).filter(|w| w[1] != w[0] + 2).count();
    assert!(steps <= 1, "not FIFO: {ports:?}");
    drop(squatter);
}

#[test]
fn ports_held_by_someone_else_are_skipped() {
    let squatter = StdUdpSocket::bind("127.0.0.1:15200").unwrap();
    let pool = PortPool::new(15200, 15204);
    let a = pool.allocate(LO).unwrap();
    assert_eq!(a.port(), 15202);
    drop(squatter);
}

/// The pool's sockets, live and idle together, stay within half the
/// descriptors: at that many bound pairs no pair is bound anew (an idle one
/// is reused before it has rested, else the set-up is refused), and once
/// calls have ended idle pairs stay bound up to the cap.
#[test]
fn the_pools_sockets_stay_within_half_the_descriptors() {
    // 64 descriptors: 16 pairs bound at most (ready queue 8).
    let pool = PortPool::sized(15600, 15679, 64, 0);
    assert_eq!(pool.total(), 40);
    let mut live: Vec<_> = (0..16).map(|_| pool.allocate(LO).unwrap()).collect();
    // 24 pairs are free, but binding one would go past the cap.
    assert_eq!(pool.available(), 24);
    let err = pool.allocate(LO).err().unwrap();
    assert_eq!(err.name(), "media_ports_exhausted");
    // Pairs given back bound fit under the cap and are reused at once.
    for p in live.drain(..4) {
        p.lease.recycle(p.socks);
    }
    assert_eq!(pool.bound_idle(), 4);
    live.extend((0..4).map(|_| pool.allocate(LO).unwrap()));
    assert_eq!(pool.bound_idle(), 0);
    assert!(pool.allocate(LO).is_err(), "16 live pairs: at the cap");
    // A pair given back unbound frees room for one bound anew.
    drop(live.pop());
    live.push(pool.allocate(LO).unwrap());
    assert!(pool.allocate(LO).is_err());
    for p in live {
        p.lease.recycle(p.socks);
    }
    assert_eq!(pool.bound_idle(), 16);
    assert_eq!(pool.available(), 40);
}

/// A pair a media task gives back on the pool's own thread stays in that
/// thread's reactor: the next call gets it registered (no `epoll_ctl`),
/// with what arrived in between read away; given back from another
/// thread it leaves the reactor.
#[tokio::test]
async fn a_pair_given_back_registered_comes_back_registered_and_drained() {
    let pool = PortPool::sized(15320, 15322, 1024, 0);
    let a = pool.allocate(LO).unwrap();
    let (rtp, rtcp) = a.socks.into_tokio(None, 0).unwrap();
    let addr = rtp.local_addr().unwrap();
    a.lease.recycle_tokio(Some(0), rtp, rtcp);
    assert_eq!(pool.bound_idle(), 1);
    let peer = StdUdpSocket::bind("127.0.0.1:0").unwrap();
    peer.send_to(b"late", addr).unwrap();
    // Parks this runtime, so its reactor sees the datagram arrive.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let b = pool.allocate(LO).unwrap();
    let (rtp, rtcp) = match b.socks {
        Socks::Registered { rtp, rtcp } => (rtp, rtcp),
        Socks::Plain { .. } => panic!("left the reactor"),
    };
    let mut buf = [0u8; 16];
    assert_eq!(
        rtp.try_recv(&mut buf).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the late datagram was drained"
    );
    peer.send_to(b"next", addr).unwrap();
    tokio::time::timeout(Duration::from_secs(2), rtp.readable())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rtp.try_recv(&mut buf).unwrap(), 4);
    // Given back by a task on another media thread: no longer registered.
    b.lease.recycle_tokio(Some(1), rtp, rtcp);
    let c = pool.allocate(LO).unwrap();
    assert!(matches!(c.socks, Socks::Plain { .. }));
}

/// The waker a media task leaves in a registered socket keeps that task's
/// allocation alive: a pair given back registered lets go of it.
#[tokio::test]
async fn a_pair_given_back_registered_lets_go_of_the_last_tasks_waker() {
    struct Task;
    impl std::task::Wake for Task {
        fn wake(self: Arc<Self>) {}
    }
    let pool = PortPool::sized(15324, 15326, 1024, 0);
    let a = pool.allocate(LO).unwrap();
    let (rtp, rtcp) = a.socks.into_tokio(None, 0).unwrap();
    let task = Arc::new(Task);
    let waker = std::task::Waker::from(Arc::clone(&task));
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(rtp.poll_recv_ready(&mut cx).is_pending());
    assert!(rtcp.poll_recv_ready(&mut cx).is_pending());
    drop(waker);
    assert_eq!(Arc::strong_count(&task), 3, "both sockets hold the waker");
    a.lease.recycle_tokio(Some(0), rtp, rtcp);
    assert_eq!(pool.bound_idle(), 1);
    assert_eq!(Arc::strong_count(&task), 1, "the pool holds no waker");
}

/// A pair given back bound is reused (no bind) once it has rested, ahead
/// of pairs holding no sockets; before that, a cold pair is bound instead.
#[test]
fn rested_bound_pairs_are_reused_before_cold_ones() {
    let pool = PortPool::sized(15800, 15819, 1024, 0);
    assert_eq!(pool.total(), 10);
    let a = pool.allocate(LO).unwrap();
    let port = a.port();
    a.lease.recycle(a.socks);
    assert_eq!(pool.bound_idle(), 1);
    // Just given back: a cold pair is bound instead.
    let b = pool.allocate(LO).unwrap();
    assert_ne!(b.port(), port);
    assert_eq!(pool.bound_idle(), 1);
    std::thread::sleep(QUARANTINE + Duration::from_millis(50));
    // Rested: reused, ahead of the eight cold pairs.
    let c = pool.allocate(LO).unwrap();
    assert_eq!(c.port(), port);
    assert_eq!(pool.bound_idle(), 0);
    drop((b, c));
}

/// A rested bound pair is handed out ahead of the pre-bound `ready`
/// queue, and the refill thread never moves idle pairs: in the steady
/// state `ready` stays full and the refill thread has nothing to do.
#[test]
fn rested_pairs_go_ahead_of_the_ready_queue() {
    let pool = PortPool::sized(15830, 15869, 1024, 0);
    let ready = |pool: &PortPool| pool.lock().map_or(0, |l| l.ready.len());
    pool.start_prebind(LO);
    let wait_full = |pool: &PortPool| {
        for _ in 0..300 {
            if ready(pool) == 8 {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("ready queue not refilled: {}", ready(pool));
    };
    wait_full(&pool);
    // Nothing rested yet: the set-up takes from the ready queue.
    let a = pool.allocate(LO).unwrap();
    let port = a.port();
    a.lease.recycle(a.socks);
    std::thread::sleep(QUARANTINE + Duration::from_millis(50));
    wait_full(&pool);
    let idle = pool.lock().map_or(0, |l| l.idle.len());
    assert_eq!(idle, 1, "the refill thread left the idle pair alone");
    let c = pool.allocate(LO).unwrap();
    assert_eq!(c.port(), port, "the rested pair, ahead of the ready queue");
    assert_eq!(ready(&pool), 8);
}

/// A pool given a budget of descriptors keeps up to half that many pairs
/// bound (two sockets each), live and idle together.
#[test]
fn a_budgeted_pool_keeps_its_budget_bound() {
    // 64 descriptors, 48 of them the pool's: 24 pairs bound at most.
    let pool = PortPool::budgeted(15900, 15979, 64, 48, 0);
    assert_eq!(pool.total(), 40);
    let live: Vec<_> = std::iter::from_fn(|| pool.allocate(LO).ok())
        .take(40)
        .collect();
    assert_eq!(live.len(), 24);
    for p in live {
        p.lease.recycle(p.socks);
    }
    assert_eq!(pool.bound_idle(), 24);
}
