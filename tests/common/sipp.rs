//! sipp, a real third-party SIP user agent, as a test peer: started with its
//! logs and `-trace_stat` CSV in a scratch directory, on loopback or inside a
//! network namespace the test made, killed by PID (through its `Child`) on drop.

use std::fs::File;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A loopback UDP port P with P + 2 free as well: sipp binds its RTP echo
/// sockets on `-mp` P and P + 2 even when no scenario uses media.
pub fn free_media_port() -> u16 {
    for _ in 0..50 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < u16::MAX - 2 && UdpSocket::bind(("127.0.0.1", p + 2)).is_ok() {
            return p;
        }
    }
    panic!("no free loopback UDP port pair in 50 tries");
}

/// sipp from PATH, or a failure that says how to install it.
pub fn sipp_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("sipp"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("sipp not found on PATH: install it with `apt-get install sip-tester` (.ci/run does)")
        })
}

/// A scratch directory for sipp's logs; removed on drop unless the test failed.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("trunkgate-sipp-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("sipp logs kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// One sipp process; killed (by its PID, through the `Child` handle) and reaped on drop.
pub struct Sipp {
    pub role: &'static str,
    pub child: Child,
    pub stat: PathBuf,
    pub out: PathBuf,
}

impl Sipp {
    /// Starts sipp in `dir` with stdout/stderr to files (no pipe can fill up and stall it).
    /// Every socket sipp opens is on 127.0.0.1 and on a port the kernel handed out:
    /// SIP (`-i`, `-p` in `args`), media (`-mp`) and its UDP control socket (`-ci`/`-cp`,
    /// otherwise 0.0.0.0:8888). sipp stops on its own after 30 s (`-timeout`).
    pub fn spawn(role: &'static str, dir: &Path, args: &[&str]) -> Sipp {
        let cp = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("free port")
            .port();
        Sipp::spawn_at(
            role,
            dir,
            None,
            "127.0.0.1",
            cp,
            free_media_port(),
            30,
            args,
        )
    }

    /// [`Sipp::spawn`] on address `ip`, inside network namespace `netns` when
    /// given (`ip netns exec`; a namespace the test made has no other sockets,
    /// so the control port `cp` and media port `mp` are free there), stopping
    /// on its own after `timeout_s`.
    #[allow(clippy::too_many_arguments)]
    pub fn spawn_at(
        role: &'static str,
        dir: &Path,
        netns: Option<&str>,
        ip: &str,
        cp: u16,
        mp: u16,
        timeout_s: u32,
        args: &[&str],
    ) -> Sipp {
        let out = dir.join(format!("{role}.out"));
        let err = File::create(dir.join(format!("{role}.err"))).unwrap();
        let stat = dir.join(format!("{role}_stat.csv"));
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(sipp_binary());
                c
            }
            None => Command::new(sipp_binary()),
        };
        let child = cmd
            .args(args)
            .args(["-i", ip, "-ci", ip, "-cp"])
            .arg(cp.to_string())
            .arg("-mp")
            .arg(mp.to_string())
            .arg("-timeout")
            .arg(format!("{timeout_s}s"))
            .arg("-nostdin")
            .args(["-trace_stat", "-fd", "1", "-stf"])
            .arg(&stat)
            .args(["-trace_err", "-error_file"])
            .arg(dir.join(format!("{role}_errors.log")))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start sipp {role}: {e} (install it with `apt-get install sip-tester`)"
                )
            });
        Sipp {
            role,
            child,
            stat,
            out,
        }
    }

    /// Waits (bounded) for sipp to exit on its own.
    pub async fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "sipp {} still running after {within:?}; its screen:\n{}",
                self.role,
                self.screen()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (bounded) for sipp to exit, and asserts that it exited 0 with
    /// `calls` successful calls and no failed one.
    pub async fn assert_all_succeeded(&mut self, within: Duration, calls: u32) {
        let role = self.role;
        let status = self.wait(within).await;
        assert_eq!(
            status.code(),
            Some(0),
            "sipp {role}: not every call succeeded; its screen:\n{}",
            self.screen()
        );
        let successful = self.stat("SuccessfulCall(C)");
        assert_eq!(successful, u64::from(calls), "{role} successful calls");
        assert_eq!(self.stat("FailedCall(C)"), 0, "{role} failed calls");
    }

    /// The tail of what sipp printed, for failure messages.
    pub fn screen(&self) -> String {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        text[start..].to_string()
    }

    /// A cumulative counter, e.g. `SuccessfulCall(C)`, from the last row of the `-trace_stat` CSV.
    pub fn stat(&self, column: &str) -> u64 {
        let text = std::fs::read_to_string(&self.stat).unwrap_or_else(|e| {
            panic!(
                "sipp {} wrote no stat file {}: {e}",
                self.role,
                self.stat.display()
            )
        });
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines.next().expect("stat header").split(';').collect();
        let last: Vec<&str> = lines.next_back().expect("a stat row").split(';').collect();
        let idx = header
            .iter()
            .position(|h| *h == column)
            .unwrap_or_else(|| panic!("no column {column}"));
        last[idx]
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{column} = {:?}: {e}", last[idx]))
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
