//! The always-on part of fuzzing (issue 15): every fuzz target's entry function
//! (`trunkgate::fuzzing`, the same code `cargo fuzz` runs) over its corpus —
//! RFC 4475 / RFC 5118 torture messages, all 4,527 PROTOS c07-sip cases, the SDP
//! bodies inside them, `fuzz/seeds/<target>/` and the kept findings in
//! `fuzz/regressions/<target>/` — then a bounded number of deterministic
//! mutations of it (`TRUNKGATE_FUZZ_ITERS` per target, default 10,000). A panic
//! or a broken invariant fails the test and writes the input to
//! `target/fuzz-findings/<target>-<n>.bin`; keep it in `fuzz/regressions/`.
//! Long coverage-guided runs: `fuzz/run.sh` (cargo fuzz).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;

use trunkgate::fuzzing::TARGETS;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if p.is_file() && !hidden {
            if let Ok(b) = std::fs::read(&p) {
                out.push(b);
            }
        }
    }
    out
}

/// A torture-test directory: the shared copy, else the vendored one.
fn testdata(name: &str) -> PathBuf {
    let shared = root().join("../shared/testdata").join(name);
    if shared.is_dir() {
        shared
    } else {
        root().join("tests/data").join(name)
    }
}

/// The PROTOS cases: the shared copy, else the vendored archive extracted.
fn protos() -> Vec<Vec<u8>> {
    let shared = root().join("../shared/testdata/protos-c07-sip/cases");
    if shared.is_dir() {
        return files(&shared);
    }
    let tmp = std::env::temp_dir().join(format!("trunkgate-fuzz-protos-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let status = Command::new("tar")
        .arg("-xJf")
        .arg(root().join("tests/data/protos-c07-sip.tar.xz"))
        .arg("-C")
        .arg(&tmp)
        .status()
        .expect("tar runs");
    assert!(status.success());
    let cases = files(&tmp.join("protos-c07-sip/cases"));
    let _ = std::fs::remove_dir_all(&tmp);
    cases
}

fn sip_messages() -> Vec<Vec<u8>> {
    let mut v = files(&testdata("rfc4475"));
    v.extend(files(&testdata("rfc5118")));
    v.extend(protos());
    v
}

/// The bodies of the messages that carry SDP.
fn sdp_bodies(msgs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    msgs.iter()
        .filter_map(|m| {
            let at = m.windows(4).position(|w| w == b"\r\n\r\n")?;
            let body = &m[at + 4..];
            body.starts_with(b"v=0").then(|| body.to_vec())
        })
        .collect()
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[&[u8]] = &[
    b"\r\n",
    b"\r\n\r\n",
    b":",
    b";",
    b"<",
    b">",
    b"\"",
    b"\\",
    b"%",
    b"%00",
    b" ",
    b"\t",
    b",",
    b"=",
    b"@",
    b"[",
    b"]",
    b"0",
    b"-1",
    b"4294967296",
    b"99999999999999999999",
    b"Content-Length: 100000\r\n",
    b"Via: SIP/2.0/UDP [::1]:5060;branch=z9hG4bK\r\n",
    b"m=audio 65535 RTP/AVP 0\r\n",
    b"c=IN IP6 ::\r\n",
    b"\xff\xfe",
    b"\x00",
];

/// One to four byte-level mutations of `input`, some splicing from `pool`.
fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                v.drain(a..b);
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let chunk = v[a..b].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            4 => {
                let ins = INTERESTING[rng.below(INTERESTING.len())];
                let at = rng.below(len + 1);
                v.splice(at..at, ins.iter().copied());
            }
            5 if !pool.is_empty() => {
                let other = &pool[rng.below(pool.len())];
                let a = rng.below(len + 1);
                let b = rng.below(other.len() + 1);
                v.truncate(a);
                v.extend_from_slice(&other[b..]);
            }
            6 if len > 0 => v.truncate(rng.below(len)),
            _ => {
                let n = rng.below(16);
                let at = rng.below(len + 1);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
        }
        v.truncate(70_000);
    }
    v
}

/// Runs `f` on `input`; on a panic saves the input and says where.
fn run_one(name: &str, n: usize, f: fn(&[u8]), input: &[u8]) -> Result<(), String> {
    match catch_unwind(AssertUnwindSafe(|| f(input))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let why = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let dir = root().join("target/fuzz-findings");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{name}-{n}.bin"));
            let _ = std::fs::write(&path, input);
            Err(format!("{name}: {why} (input saved to {})", path.display()))
        }
    }
}

#[test]
fn every_fuzz_target_survives_its_corpus_and_mutations() {
    let iters: usize = std::env::var("TRUNKGATE_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let msgs = sip_messages();
    assert!(msgs.len() > 4500, "corpus has {} SIP messages", msgs.len());
    let sdp = sdp_bodies(&msgs);
    let mut failures = Vec::new();
    for (i, &(name, f)) in TARGETS.iter().enumerate() {
        let mut corpus = match name {
            "parse" | "framing" => msgs.clone(),
            "sdp" => sdp.clone(),
            _ => Vec::new(),
        };
        corpus.extend(files(&root().join("fuzz/seeds").join(name)));
        corpus.extend(files(&root().join("fuzz/regressions").join(name)));
        assert!(!corpus.is_empty(), "{name}: empty corpus");
        for (n, input) in corpus.iter().enumerate() {
            if let Err(e) = run_one(name, n, f, input) {
                failures.push(e);
            }
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1));
        for n in 0..iters {
            let base = &corpus[rng.below(corpus.len())];
            let input = mutate(&mut rng, base, &corpus);
            if let Err(e) = run_one(name, corpus.len() + n, f, &input) {
                failures.push(e);
            }
            if failures.len() > 20 {
                break;
            }
        }
        eprintln!(
            "fuzz target {name}: {} corpus inputs + {iters} mutations",
            corpus.len()
        );
    }
    assert!(failures.is_empty(), "findings:\n{}", failures.join("\n"));
}
