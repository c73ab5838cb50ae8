//! The call-flow contract end to end over real loopback gRPC: the gateway's
//! client library (`FlowPool`/`FlowCall`) plays the gateway, the reference
//! worker runs the flow, and a local axum server plays the customer's web app
//! (records every callback JSON and answers scripted actions).

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use trunkgate::flow::pb::{self, gateway_message::Event as PbEvent};
use trunkgate::flow::*;

use common::worker::{actions, by_type, cmd, recv_gw, start_manual, start_worker, Hook};

const WAIT: Duration = Duration::from_secs(5);
const API_NO: &str = "+3225550100";

// ------------------------------------------------------------ web app hook

// ------------------------------------------------------------------ worker

fn worker_toml(hook: &Hook, extra: &str) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\ndefault_callback_url = \"{}/default\"\ncallback_timeout_ms = 500\ncommand_timeout_ms = 2000\n{extra}",
        hook.base
    )
}

fn pool(addrs: &[SocketAddr]) -> FlowPool {
    FlowPool::new(
        WorkerSettings {
            workers: addrs
                .iter()
                .map(|a| WorkerEndpoint {
                    url: format!("http://{a}"),
                })
                .collect(),
            connect_timeout: Duration::from_millis(500),
            offer_timeout: Duration::from_millis(300),
            health_interval: Duration::ZERO,
        },
        None,
    )
    .unwrap()
}

const START_MS: u64 = 1_767_225_600_123; // 2026-01-01T00:00:00.123Z

fn offered(call_id: &str) -> CallOffered {
    CallOffered {
        call_id: call_id.into(),
        direction: Direction::Inbound,
        caller_no: "+3211000111".into(),
        api_no: API_NO.into(),
        trunk_id: None,
        mode: FlowMode::CallFlows,
        reason: OfferReason::NumberAssignment,
        source: "127.0.0.1:5070".parse().unwrap(),
        headers: vec![("User-Agent".into(), "pbx".into())],
        start_time: UNIX_EPOCH + Duration::from_millis(START_MS),
    }
}

async fn next(call: &mut FlowCall) -> Command {
    timeout(WAIT, call.next_command())
        .await
        .expect("command in time")
        .expect("stream ok")
        .expect("stream open")
}

/// Acks a command that needs no follow-up event (Accept, Answer, Record …)
/// and reports `Answered` after an Answer, as the gateway would.
fn ok(call: &mut FlowCall, c: &Command) {
    call.ack(&c.id, Ok(()));
    if c.kind == CommandKind::Answer {
        assert!(call.event(Event::Answered));
    }
}

/// Expects Accept then Answer and acks both.
async fn accept_and_answer(call: &mut FlowCall) {
    let c = next(call).await;
    assert_eq!(c.kind, CommandKind::Accept);
    ok(call, &c);
    let c = next(call).await;
    assert_eq!(c.kind, CommandKind::Answer);
    ok(call, &c);
}

async fn setup(
    script: impl Fn(&str, &Value) -> (u16, Value) + Send + Sync + 'static,
) -> (Hook, FlowCall) {
    let hook = Hook::start(script).await;
    let w = start_worker(&worker_toml(&hook, "")).await;
    let call = pool(&[w]).offer(offered("call-1")).await.unwrap();
    (hook, call)
}

/// A web app whose init_call answer is `first` given the URL of its own
/// `path`, and which answers a callback to `path` with `then` (anything else
/// with `{}`).
async fn hook_calling_back(
    path: &'static str,
    first: impl Fn(String) -> Value + Send + Sync + 'static,
    then: Value,
) -> Hook {
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let b = base.clone();
    let hook = Hook::start(move |p, v| match (p, v["type"].as_str()) {
        (_, Some("init_call")) => actions(first(format!("{}{path}", b.get().unwrap()))),
        (p, _) if p == path => actions(then.clone()),
        _ => (200, json!({})),
    })
    .await;
    base.set(hook.base.clone()).unwrap();
    hook
}

/// A call offered to a reference worker calling `hook`, accepted and answered.
async fn answered_call(hook: &Hook, call_id: &str) -> FlowCall {
    let w = start_worker(&worker_toml(hook, "")).await;
    let mut call = pool(&[w]).offer(offered(call_id)).await.unwrap();
    accept_and_answer(&mut call).await;
    call
}

// ------------------------------------------------------------------- flows

#[tokio::test]
async fn init_call_then_play_url_then_hangup_and_end_call() {
    let (mut hook, mut call) = setup(by_type(
        json!([{"action":"PLAY","url":"http://media.test/hello.wav","loop":2},{"action":"HANGUP"}]),
        json!([]),
    ))
    .await;
    let (path, init) = hook.next().await;
    assert_eq!(path, "/default");
    assert_eq!(init["service"], "call_flows");
    assert_eq!(init["type"], "init_call");
    assert_eq!(init["call_id"], "call-1");
    assert_eq!(init["direction"], "inbound");
    assert_eq!(init["caller_no"], "+3211000111");
    assert_eq!(init["api_no"], API_NO);
    assert_eq!(init["start_time"], "2026-01-01T00:00:00.123Z");
    assert_eq!(init["status"], "ringing");
    assert_eq!(init["reason"], "number_assignment");

    accept_and_answer(&mut call).await;
    let play = next(&mut call).await;
    assert_eq!(
        play.kind,
        CommandKind::Play {
            source: PlaySource::Url("http://media.test/hello.wav".into()),
            loops: 2
        }
    );
    call.ack(&play.id, Ok(()));
    // HANGUP must wait for the end of the playback.
    assert!(timeout(Duration::from_millis(200), call.next_command())
        .await
        .is_err());
    call.event(Event::PlaybackFinished {
        command_id: play.id.clone(),
        interrupted: false,
    });
    let hangup = next(&mut call).await;
    assert_eq!(hangup.kind, CommandKind::Hangup);
    call.ack(&hangup.id, Ok(()));
    call.hung_up(Party::Worker, 200, "worker hangup");

    let end = hook.end_call().await;
    assert_eq!(end["status"], "completed");
    assert_eq!(end["hangup_by"], "worker");
    assert_eq!(end["sip_code"], 200);
}

async fn collect_case(collect: Value, dtmf: &str, expect_digits: &str) {
    let (mut hook, mut call) = setup(by_type(json!([collect]), json!([{"action":"HANGUP"}]))).await;
    assert_eq!(hook.next().await.1["type"], "init_call");
    accept_and_answer(&mut call).await;
    for d in dtmf.chars() {
        assert!(call.event(Event::Dtmf {
            digit: d,
            duration: Duration::from_millis(100),
            source: DtmfSource::Rfc4733,
        }));
    }
    let (_, res) = hook.next().await;
    assert_eq!(res["type"], "action_result");
    assert_eq!(res["status"], "in-progress");
    assert_eq!(res["digits"], expect_digits);
    let c = next(&mut call).await;
    assert_eq!(
        c.kind,
        CommandKind::Hangup,
        "actions from action_result run"
    );
}

#[tokio::test]
async fn collect_stops_at_num_digits() {
    collect_case(
        json!({"action":"COLLECT","num_digits":3,"timeout":5}),
        "1234",
        "123",
    )
    .await;
}

#[tokio::test]
async fn collect_stops_at_finish_on_key() {
    collect_case(
        json!({"action":"COLLECT","num_digits":10,"finish_on_key":"#","timeout":5}),
        "42#9",
        "42",
    )
    .await;
}

#[tokio::test]
async fn collect_stops_after_timeout_with_what_it_has() {
    let started = tokio::time::Instant::now();
    collect_case(
        json!({"action":"COLLECT","num_digits":5,"timeout":0.3}),
        "7",
        "7",
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn collect_posts_to_its_callback_url() {
    let first = |url: String| json!([{"action":"COLLECT","num_digits":1,"callback_url":url}]);
    let then = json!([{"action":"RECORD","mode":"start"}]);
    let mut hook = hook_calling_back("/gather", first, then).await;
    let mut call = answered_call(&hook, "call-g").await;
    call.event(Event::Dtmf {
        digit: '5',
        duration: Duration::from_millis(80),
        source: DtmfSource::SipInfo,
    });
    let rec = next(&mut call).await;
    assert_eq!(rec.kind, CommandKind::Record(RecordAction::Start));
    ok(&mut call, &rec);
    call.event(Event::RecordingSaved {
        path: "/var/rec/call-g.wav".into(),
        duration: Duration::from_secs(1),
    });
    // Actions ran out: the worker hangs up.
    let h = next(&mut call).await;
    assert_eq!(h.kind, CommandKind::Hangup);
    call.ack(&h.id, Ok(()));
    call.hung_up(Party::Worker, 200, "done");
    assert_eq!(hook.next().await.0, "/default");
    let (path, res) = hook.next().await;
    assert_eq!(path, "/gather");
    assert_eq!(res["digits"], "5");
    let end = hook.end_call().await;
    assert_eq!(end["recording_url"], "/var/rec/call-g.wav");
}

// ----------------------------------------------------------- reject, transfer

#[tokio::test]
async fn reject_busy_sends_reject_busy_and_end_call_says_rejected() {
    let (mut hook, mut call) = setup(by_type(
        json!([{"action":"REJECT","reason":"busy"},{"action":"PLAY","digits":"1"}]),
        json!([]),
    ))
    .await;
    let c = next(&mut call).await;
    assert_eq!(c.kind, CommandKind::Accept);
    ok(&mut call, &c);
    let c = next(&mut call).await;
    assert_eq!(c.kind, CommandKind::Reject(RejectReason::Busy));
    call.ack(&c.id, Ok(()));
    call.hung_up(Party::Gateway, 486, "rejected by worker");
    assert_eq!(hook.next().await.1["type"], "init_call");
    let end = hook.end_call().await;
    assert_eq!(end["status"], "rejected");
    assert_eq!(end["sip_code"], 486);
}

#[tokio::test]
async fn transfer_failure_continues_and_success_ends_the_flow() {
    let (mut hook, mut call) = setup(by_type(
        json!([
            {"action":"TRANSFER","sip_uri":"sip:busy@127.0.0.1","caller_id_no":"+3299"},
            {"action":"TRANSFER","number":"+3222000333"},
            {"action":"HANGUP"}
        ]),
        json!([]),
    ))
    .await;
    let c = next(&mut call).await;
    ok(&mut call, &c);
    let t1 = next(&mut call).await;
    assert_eq!(
        t1.kind,
        CommandKind::Transfer {
            target: TransferTarget::SipUri("sip:busy@127.0.0.1".into()),
            caller_id_no: Some("+3299".into())
        }
    );
    call.ack(&t1.id, Ok(()));
    call.event(Event::TransferResult {
        command_id: t1.id.clone(),
        sip_code: 486,
        ok: false,
    });
    let t2 = next(&mut call).await;
    assert_eq!(
        t2.kind,
        CommandKind::Transfer {
            target: TransferTarget::E164("+3222000333".into()),
            caller_id_no: None
        }
    );
    call.ack(&t2.id, Ok(()));
    call.event(Event::TransferResult {
        command_id: t2.id.clone(),
        sip_code: 200,
        ok: true,
    });
    // Bridged: the worker must not run the HANGUP that follows.
    assert!(timeout(Duration::from_millis(300), call.next_command())
        .await
        .is_err());
    call.hung_up(Party::Callee, 200, "bye");
    assert_eq!(hook.next().await.1["type"], "init_call");
    let end = hook.end_call().await;
    assert_eq!(end["status"], "transferred");
    assert_eq!(end["hangup_by"], "callee");
}

// -------------------------------------------------------- callback failover

fn failover_toml(hook: &Hook) -> String {
    worker_toml(
        hook,
        &format!(
            "[[numbers]]\napi_no = \"{API_NO}\"\ncallback_url = \"{0}/primary\"\ncallback_failover_url = \"{0}/backup\"\n",
            hook.base
        ),
    )
}

#[tokio::test]
async fn callback_500_goes_to_the_failover_url() {
    let mut hook = Hook::start(|path, _| match path {
        "/primary" => (500, json!({})),
        _ => actions(json!([{"action":"REJECT","reason":"disconnected"}])),
    })
    .await;
    let w = start_worker(&failover_toml(&hook)).await;
    let mut call = pool(&[w]).offer(offered("call-fo")).await.unwrap();
    let c = next(&mut call).await;
    ok(&mut call, &c);
    let c = next(&mut call).await;
    assert_eq!(c.kind, CommandKind::Reject(RejectReason::Disconnected));
    let (p1, b1) = hook.next().await;
    let (p2, b2) = hook.next().await;
    assert_eq!((p1.as_str(), p2.as_str()), ("/primary", "/backup"));
    assert_eq!(b1, b2, "the same request is retried");
}

#[tokio::test]
async fn both_callbacks_failing_hang_up() {
    let mut hook = Hook::start(|path, _| match path {
        "/primary" => (500, json!({})),
        _ => (503, json!({})),
    })
    .await;
    let w = start_worker(&failover_toml(&hook)).await;
    let mut call = pool(&[w]).offer(offered("call-ff")).await.unwrap();
    let c = next(&mut call).await;
    assert_eq!(c.kind, CommandKind::Accept);
    ok(&mut call, &c);
    let c = next(&mut call).await;
    assert_eq!(c.kind, CommandKind::Hangup);
    call.ack(&c.id, Ok(()));
    call.hung_up(Party::Worker, 503, "flow failed");
    let paths: Vec<String> = [hook.next().await, hook.next().await, hook.next().await]
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(paths, ["/primary", "/backup", "/primary"]);
    let end = hook.end_call().await;
    assert_eq!(end["status"], "failed");
}

#[tokio::test]
async fn caller_hangup_mid_play_posts_end_call() {
    let (mut hook, mut call) = setup(by_type(
        json!([{"action":"PLAY","tone":"ringback"},{"action":"HANGUP"}]),
        json!([]),
    ))
    .await;
    accept_and_answer(&mut call).await;
    let play = next(&mut call).await;
    assert_eq!(
        play.kind,
        CommandKind::Play {
            source: PlaySource::Tone(Tone::Ringback),
            loops: 1
        }
    );
    call.ack(&play.id, Ok(()));
    call.hung_up(Party::Caller, 200, "BYE");
    assert_eq!(hook.next().await.1["type"], "init_call");
    let end = hook.end_call().await;
    assert_eq!(end["status"], "completed");
    assert_eq!(end["hangup_by"], "caller");
    assert_eq!(end["sip_code"], 200);
    assert_eq!(end["call_id"], "call-1");
}

/// A port that was bound and closed: connection refused.
async fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

#[tokio::test]
async fn offer_skips_a_dead_worker_and_marks_it_down() {
    let hook = Hook::start(by_type(json!([]), json!([]))).await;
    let dead = dead_addr().await;
    let live = start_worker(&worker_toml(&hook, "")).await;
    let pool = pool(&[dead, live]);
    let mut call = pool.offer(offered("call-p")).await.unwrap();
    assert_eq!(call.worker(), format!("http://{live}"));
    assert_eq!(next(&mut call).await.kind, CommandKind::Accept);
    assert_eq!(
        pool.health(),
        vec![
            (format!("http://{dead}"), false),
            (format!("http://{live}"), true)
        ]
    );
    // A later offer tries the healthy worker first.
    let call2 = pool.offer(offered("call-p2")).await.unwrap();
    assert_eq!(call2.worker(), format!("http://{live}"));
}

#[tokio::test]
async fn offer_errors_name_the_reason() {
    let all_dead = pool(&[dead_addr().await, dead_addr().await]);
    let e = timeout(WAIT, all_dead.offer(offered("x")))
        .await
        .unwrap()
        .err()
        .unwrap();
    assert_eq!(e.name(), "flow:unreachable");

    let none = pool(&[]);
    let e = none.offer(offered("x")).await.err().unwrap();
    assert_eq!(e.name(), "flow:no_worker");

    let (silent, mut handles) = start_manual().await;
    let started = tokio::time::Instant::now();
    let e = timeout(WAIT, pool(&[silent]).offer(offered("x")))
        .await
        .unwrap()
        .err()
        .unwrap();
    assert_eq!(e.name(), "flow:offer_timeout");
    assert!(started.elapsed() >= Duration::from_millis(300));
    // The silent worker did get the offer.
    let (mut s, _tx) = handles.recv().await.unwrap();
    match recv_gw(&mut s).await {
        PbEvent::CallOffered(o) => assert_eq!(o.call_id, "x"),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn health_check_marks_workers_up_and_down() {
    let (live, _h) = start_manual().await;
    let dead = dead_addr().await;
    let pool = pool(&[dead, live]);
    timeout(WAIT, pool.check_health()).await.unwrap();
    assert_eq!(
        pool.health(),
        vec![
            (format!("http://{dead}"), false),
            (format!("http://{live}"), true)
        ]
    );
}

#[tokio::test]
async fn repeated_command_id_is_delivered_once_and_acked_twice() {
    use pb::worker_message::Command as C;
    let (addr, mut handles) = start_manual().await;
    let pool = pool(&[addr]);
    let worker = tokio::spawn(async move {
        let (mut s, tx) = handles.recv().await.unwrap();
        assert!(matches!(recv_gw(&mut s).await, PbEvent::CallOffered(_)));
        tx.send(cmd("a", C::Answer(pb::Answer {}))).await.unwrap();
        let first = recv_gw(&mut s).await;
        tx.send(cmd("a", C::Answer(pb::Answer {}))).await.unwrap();
        tx.send(cmd("b", C::Hangup(pb::Hangup {}))).await.unwrap();
        let second = recv_gw(&mut s).await;
        let third = recv_gw(&mut s).await;
        (first, second, third, tx)
    });
    let mut call = timeout(WAIT, pool.offer(offered("call-h")))
        .await
        .unwrap()
        .unwrap();
    let a = next(&mut call).await;
    assert_eq!((a.id.as_str(), &a.kind), ("a", &CommandKind::Answer));
    call.ack(
        "a",
        Err(CommandError::new(CommandErrorCode::InvalidState, "no")),
    );
    let b = next(&mut call).await;
    assert_eq!((b.id.as_str(), &b.kind), ("b", &CommandKind::Hangup));
    call.ack("b", Ok(()));
    let (first, second, third, _tx) = timeout(WAIT, worker).await.unwrap().unwrap();
    let expect_a = PbEvent::CommandAck(pb::CommandAck {
        command_id: "a".into(),
        ok: false,
        error_code: pb::ErrorCode::InvalidState as i32,
        error_message: "no".into(),
    });
    assert_eq!(first, expect_a);
    assert_eq!(
        second, expect_a,
        "the repeat is re-acked with the first result"
    );
    match third {
        PbEvent::CommandAck(ack) => assert_eq!((ack.command_id.as_str(), ack.ok), ("b", true)),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn worker_ending_the_stream_is_a_clean_end() {
    let (addr, mut handles) = start_manual().await;
    let pool = pool(&[addr]);
    let worker = tokio::spawn(async move {
        let (s, tx) = handles.recv().await.unwrap();
        tx.send(cmd("a", pb::worker_message::Command::Accept(pb::Accept {})))
            .await
            .unwrap();
        (s, tx)
    });
    let mut call = timeout(WAIT, pool.offer(offered("call-e")))
        .await
        .unwrap()
        .unwrap();
    let (_s, tx) = worker.await.unwrap();
    assert_eq!(next(&mut call).await.kind, CommandKind::Accept);
    drop(tx);
    let end = timeout(WAIT, call.next_command()).await.unwrap();
    assert!(matches!(end, Ok(None)), "{end:?}");
}

/// A TCP relay the test can cut, to drop the worker's connection mid-call.
async fn relay(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<JoinHandle<()>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tasks = Arc::new(Mutex::new(Vec::new()));
    let t = tasks.clone();
    let accept = tokio::spawn(async move {
        while let Ok((mut down, _)) = listener.accept().await {
            let conn = tokio::spawn(async move {
                if let Ok(mut up) = TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
                }
            });
            t.lock().unwrap().push(conn);
        }
    });
    tasks.lock().unwrap().push(accept);
    (addr, tasks)
}

#[tokio::test]
async fn worker_connection_dropped_mid_call_is_stream_broken() {
    let hook = Hook::start(by_type(json!([{"action":"PAUSE","length":30}]), json!([]))).await;
    let w = start_worker(&worker_toml(&hook, "")).await;
    let (via, cut) = relay(w).await;
    let mut call = pool(&[via]).offer(offered("call-i")).await.unwrap();
    let c = next(&mut call).await;
    assert_eq!(c.kind, CommandKind::Accept);
    ok(&mut call, &c);
    for task in cut.lock().unwrap().drain(..) {
        task.abort();
    }
    let r = timeout(WAIT, call.next_command())
        .await
        .expect("error in time");
    match r {
        Err(e) => assert_eq!(e.name(), "flow:stream_broken"),
        Ok(c) => panic!("expected StreamBroken, got {c:?}"),
    }
}

#[tokio::test]
async fn health_reports_active_calls_of_the_reference_worker() {
    let hook = Hook::start(by_type(json!([{"action":"PAUSE","length":30}]), json!([]))).await;
    let w = start_worker(&worker_toml(&hook, "")).await;
    let pool = pool(&[w]);
    let mut call = pool.offer(offered("call-k")).await.unwrap();
    assert_eq!(next(&mut call).await.kind, CommandKind::Accept);
    let mut client = pb::call_flow_client::CallFlowClient::connect(format!("http://{w}"))
        .await
        .unwrap();
    let reply = client
        .health(pb::HealthRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(reply.serving);
    assert_eq!(reply.active_calls, 1);
}

#[tokio::test]
async fn redirect_fetches_new_actions_and_say_without_espeak_is_skipped() {
    let first = |url: String| json!([{"action":"REDIRECT","url":url},{"action":"HANGUP"}]);
    let then = json!([
        {"action":"SAY","text":"hello"},
        {"action":"PLAY","digits":"9"}
    ]);
    let mut hook = hook_calling_back("/next", first, then).await;
    let mut call = answered_call(&hook, "call-r").await;
    // With espeak-ng installed SAY plays a temporary WAV first.
    let mut play = next(&mut call).await;
    if let CommandKind::Play {
        source: PlaySource::WavPath(_),
        ..
    } = &play.kind
    {
        call.ack(&play.id, Ok(()));
        call.event(Event::PlaybackFinished {
            command_id: play.id.clone(),
            interrupted: false,
        });
        play = next(&mut call).await;
    }
    assert_eq!(
        play.kind,
        CommandKind::Play {
            source: PlaySource::Dtmf("9".into()),
            loops: 1
        }
    );
    assert_eq!(hook.next().await.0, "/default");
    let (path, redirect) = hook.next().await;
    assert_eq!(path, "/next");
    assert_eq!(redirect["type"], "action_result");
}

/// Cost of the stream-per-call design: run with
/// `cargo test --release --test flow_worker -- --ignored --nocapture measure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_stream_per_call() {
    use pb::worker_message::Command as C;
    let (addr, mut handles) = start_manual().await;
    // The double answers every offer with Accept at once and keeps the stream.
    tokio::spawn(async move {
        while let Some((mut s, tx)) = handles.recv().await {
            let _ = tx.send(cmd("a", C::Accept(pb::Accept {}))).await;
            // Read the stream like a real worker (unread data would hold
            // the connection's HTTP/2 flow-control window).
            tokio::spawn(async move {
                while let Ok(Some(_)) = s.message().await {}
                drop(tx);
            });
        }
    });
    let pool = pool(&[addr]);
    let _warm = pool.offer(offered("warm")).await.unwrap();
    let n = 3000;
    let t = tokio::time::Instant::now();
    let mut calls = Vec::with_capacity(n);
    for i in 0..n {
        calls.push(pool.offer(offered(&format!("s{i}"))).await.unwrap());
    }
    let seq = t.elapsed();
    let t = tokio::time::Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let p = pool.clone();
        set.spawn(async move { p.offer(offered(&format!("p{i}"))).await });
    }
    let mut okc = 0;
    let mut keep = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        match r.unwrap() {
            Ok(c) => {
                okc += 1;
                keep.push(c);
            }
            Err(e) => eprintln!("{e}"),
        }
    }
    let par = t.elapsed();
    eprintln!(
        "sequential offer->first command: {:?}/call; {n} concurrent offers: {par:?} total ({okc} ok), {n} streams open on one connection",
        seq / n as u32
    );
    assert_eq!(okc, n);
}
