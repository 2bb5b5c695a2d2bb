//! Helpers of the testbed's own tests: the root requirement and a trivial relay
//! that copies packets between two TUN descriptors (standing in for the
//! engine, which lives in the main crate).

#![allow(dead_code)]

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Root-only tests are `#[ignore]`d; run with `--include-ignored` as
/// another user, they fail here instead of passing without testing.
#[track_caller]
pub fn require_root() {
    assert!(vnetlab_testbed::is_root(), "needs root: network namespaces and TUN devices");
}

/// Copies every packet from one TUN to the other, both ways, until stopped
/// or until `max_packets` were copied.
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<u64>>,
}

impl Relay {
    pub fn start(a: OwnedFd, b: OwnedFd, max_packets: u64) -> Relay {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || copy_loop(&a, &b, &flag, max_packets));
        Relay { stop, thread: Some(thread) }
    }

    /// Stops and returns how many packets were copied.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn copy_loop(a: &OwnedFd, b: &OwnedFd, stop: &AtomicBool, max_packets: u64) -> u64 {
    let mut fds = [libc::pollfd { fd: a.as_raw_fd(), events: libc::POLLIN, revents: 0 }, libc::pollfd { fd: b.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
    let mut buf = vec![0u8; 65536];
    let mut copied = 0;
    while !stop.load(Ordering::Relaxed) && copied < max_packets {
        // SAFETY: two live pollfd entries.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, 50) };
        if n <= 0 {
            continue;
        }
        for i in 0..2 {
            if fds[i].revents & libc::POLLIN == 0 {
                continue;
            }
            let (from, to) = (fds[i].fd, fds[1 - i].fd);
            // SAFETY: reads into and writes from a live buffer of the stated size.
            let len = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
            if len > 0 {
                unsafe { libc::write(to, buf.as_ptr().cast(), len as usize) };
                copied += 1;
            }
        }
    }
    copied
}
