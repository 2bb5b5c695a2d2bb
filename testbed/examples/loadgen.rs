//! loadgen: the load generator and checker of `scripts/bench-datapath.sh`.
//!
//! iperf3 measures throughput but neither checks the bytes it moves nor
//! measures request/response or connection rates, so this tool fills in:
//!
//! - `serve ADDR:PORT`: one thread per connection; the first byte picks the
//!   mode: `E` echo requests until EOF (rr), `C` answer one request then
//!   close first (crr: TIME_WAIT stays on the server, not the client), `H`
//!   read to EOF and answer with the byte count and a hash (bulk).
//! - `rr ADDR:PORT`: one connection, fixed-size requests echoed back; every
//!   answer is compared with its request.
//! - `crr ADDR:PORT`: connect, request, response, close, again; each a new
//!   flow through the engine (slow path, NAT allocation).
//! - `bulk ADDR:PORT`: K connections each send N pseudo-random bytes; the
//!   server's count and hash must equal the sender's, which proves nothing
//!   was lost or corrupted end to end.
//!
//! Every loop is bounded by a count and a time limit; every socket has a
//! timeout. Output is one line of `key=value` pairs for the script to parse.
//! Exit status 1 when any check failed.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds the server: connections beyond this many at once are refused.
const MAX_CONCURRENT: usize = 256;

fn usage() -> ExitCode {
    eprintln!(
        "usage:\n  loadgen serve ADDR:PORT [--max-secs S]\n  loadgen rr ADDR:PORT [--secs S] [--size N] [--max N]\n  \
         loadgen crr ADDR:PORT [--secs S] [--max N]\n  loadgen bulk ADDR:PORT [--bytes N] [--streams K]"
    );
    ExitCode::from(2)
}

struct Opts {
    secs: f64,
    size: usize,
    max: u64,
    bytes: u64,
    streams: usize,
}

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts { secs: 5.0, size: 64, max: 10_000_000, bytes: 256 << 20, streams: 1 };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag}: expected a value"))?;
        fn num<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
            value.parse().map_err(|_| format!("{flag} {value:?}: expected a number"))
        }
        match flag.as_str() {
            "--secs" | "--max-secs" => o.secs = num(flag, value)?,
            "--size" => o.size = num(flag, value)?,
            "--max" => o.max = num(flag, value)?,
            "--bytes" => o.bytes = num(flag, value)?,
            "--streams" => o.streams = num(flag, value)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.size == 0 || o.size > 65_536 || o.streams == 0 || o.streams > 64 || !(o.secs > 0.0 && o.secs <= 600.0) {
        return Err("expected --size 1..65536, --streams 1..64, --secs in (0, 600]".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(cmd), Some(addr)) = (args.first(), args.get(1)) else { return usage() };
    let addr: SocketAddr = match addr.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!("loadgen: {addr:?}: expected ADDRESS:PORT");
            return ExitCode::from(2);
        }
    };
    let opts = match parse_opts(&args[2..]) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd.as_str() {
        "serve" => serve(addr, &opts),
        "rr" => rr(addr, &opts),
        "crr" => crr(addr, &opts),
        "bulk" => bulk(addr, &opts),
        _ => return usage(),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("loadgen {cmd}: {e}");
            ExitCode::from(1)
        }
    }
}

/// The bulk stream's bytes: xorshift64*, so both ends can regenerate them.
struct Stream(u64);

impl Stream {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            let v = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// FNV-1a over 8-byte words (a trailing partial word zero-padded): fast,
/// and any flipped, lost or reordered byte changes it.
struct Hash {
    h: u64,
    count: u64,
    pending: Vec<u8>,
}

impl Hash {
    fn new() -> Hash {
        Hash { h: 0xcbf2_9ce4_8422_2325, count: 0, pending: Vec::with_capacity(8) }
    }
    fn word(&mut self, w: u64) {
        self.h = (self.h ^ w).wrapping_mul(0x0000_0100_0000_01b3);
    }
    fn update(&mut self, mut data: &[u8]) {
        self.count += data.len() as u64;
        while !self.pending.is_empty() && !data.is_empty() {
            self.pending.push(data[0]);
            data = &data[1..];
            if self.pending.len() == 8 {
                let w = u64::from_le_bytes(self.pending[..8].try_into().unwrap_or([0; 8]));
                self.word(w);
                self.pending.clear();
            }
        }
        let mut words = data.chunks_exact(8);
        for w in &mut words {
            self.word(u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
        }
        self.pending.extend_from_slice(words.remainder());
    }
    fn finish(mut self) -> (u64, u64) {
        if !self.pending.is_empty() {
            let mut w = [0u8; 8];
            w[..self.pending.len()].copy_from_slice(&self.pending);
            self.word(u64::from_le_bytes(w));
        }
        (self.count, self.h)
    }
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

fn serve(addr: SocketAddr, o: &Opts) -> io::Result<bool> {
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + Duration::from_secs_f64(o.secs);
    let active = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Bounded by --max-secs; the script also ends it by PID.
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((s, _)) => {
                if active.load(std::sync::atomic::Ordering::Relaxed) >= MAX_CONCURRENT {
                    continue; // dropped: the client sees a reset and counts an error
                }
                active.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let active = active.clone();
                std::thread::spawn(move || {
                    let _ = serve_one(s);
                    active.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_micros(200)),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn serve_one(mut s: TcpStream) -> io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    let mut mode = [0u8; 1];
    s.read_exact(&mut mode)?;
    let mut buf = vec![0u8; 1 << 16];
    match mode[0] {
        b'E' => loop {
            let n = s.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            s.write_all(&buf[..n])?;
        },
        b'C' => {
            let mut len = [0u8; 2];
            s.read_exact(&mut len)?;
            let req = &mut buf[..usize::from(u16::from_be_bytes(len))];
            s.read_exact(req)?;
            s.write_all(req)?;
            Ok(()) // dropping closes first
        }
        b'H' => {
            let mut hash = Hash::new();
            loop {
                let n = s.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
            }
            let (count, h) = hash.finish();
            let mut out = [0u8; 16];
            out[..8].copy_from_slice(&count.to_be_bytes());
            out[8..].copy_from_slice(&h.to_be_bytes());
            s.write_all(&out)
        }
        _ => Ok(()),
    }
}

fn rr(addr: SocketAddr, o: &Opts) -> io::Result<bool> {
    let mut s = connect(addr)?;
    s.write_all(b"E")?;
    let mut req = vec![0u8; o.size];
    let mut resp = vec![0u8; o.size];
    let (start, limit) = (Instant::now(), Duration::from_secs_f64(o.secs));
    let (mut done, mut mismatched) = (0u64, 0u64);
    while done < o.max && start.elapsed() < limit {
        req[..8.min(o.size)].copy_from_slice(&done.to_le_bytes()[..8.min(o.size)]);
        s.write_all(&req)?;
        s.read_exact(&mut resp)?;
        if resp != req {
            mismatched += 1;
        }
        done += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("rr transactions={done} seconds={secs:.3} per_sec={:.0} mismatched={mismatched}", done as f64 / secs);
    Ok(mismatched == 0 && done > 0)
}

fn crr(addr: SocketAddr, o: &Opts) -> io::Result<bool> {
    let (start, limit) = (Instant::now(), Duration::from_secs_f64(o.secs));
    let (mut done, mut failed, mut mismatched) = (0u64, 0u64, 0u64);
    let mut first_error = None;
    let mut resp = [0u8; 19];
    while done + failed < o.max && start.elapsed() < limit {
        let req = {
            let mut r = [b'C', 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            r[3..11].copy_from_slice(&done.to_le_bytes());
            r
        };
        let attempt = connect(addr).and_then(|mut s| {
            s.write_all(&req)?;
            s.read_exact(&mut resp[3..])?;
            // The server closes first: wait for its FIN so the flow ends cleanly.
            let mut rest = [0u8; 1];
            match s.read(&mut rest)? {
                0 => Ok(()),
                _ => Err(io::Error::other("data after the response")),
            }
        });
        match attempt {
            Ok(()) if resp[3..] == req[3..] => done += 1,
            Ok(()) => mismatched += 1,
            Err(e) => {
                failed += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("crr connections={done} seconds={secs:.3} per_sec={:.0} failed={failed} mismatched={mismatched}", done as f64 / secs);
    if let Some(e) = first_error {
        eprintln!("crr: first failure: {e}");
    }
    Ok(failed == 0 && mismatched == 0 && done > 0)
}

fn bulk(addr: SocketAddr, o: &Opts) -> io::Result<bool> {
    let start = Instant::now();
    let bytes = o.bytes;
    let handles: Vec<_> = (0..o.streams)
        .map(|i| {
            std::thread::spawn(move || -> io::Result<bool> {
                let mut s = connect(addr)?;
                s.write_all(b"H")?;
                let mut gen = Stream(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1));
                let mut hash = Hash::new();
                let mut buf = vec![0u8; 1 << 16];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(buf.len() as u64) as usize;
                    gen.fill(&mut buf[..n]);
                    hash.update(&buf[..n]);
                    s.write_all(&buf[..n])?;
                    left -= n as u64;
                }
                s.shutdown(Shutdown::Write)?;
                let mut out = [0u8; 16];
                s.read_exact(&mut out)?;
                let (count, h) = hash.finish();
                Ok(out[..8] == count.to_be_bytes() && out[8..] == h.to_be_bytes())
            })
        })
        .collect();
    let (mut verified, mut corrupted, mut failed) = (0, 0, 0);
    for h in handles {
        match h.join() {
            Ok(Ok(true)) => verified += 1,
            Ok(Ok(false)) => corrupted += 1,
            Ok(Err(e)) => {
                eprintln!("bulk: stream failed: {e}");
                failed += 1;
            }
            Err(_) => failed += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let total = bytes * o.streams as u64;
    println!(
        "bulk streams={} bytes={total} seconds={secs:.3} gbps={:.2} verified={verified} corrupted={corrupted} failed={failed}",
        o.streams,
        total as f64 * 8.0 / secs / 1e9
    );
    Ok(corrupted == 0 && failed == 0)
}
