//! What the testbed asks of the operating system itself: who we are, and
//! what the last failed system call said (with what we were doing, since
//! `errno` alone never says which device or namespace).

/// The error of the system call that just failed, with what we were doing
/// (`errno` alone never says which device or namespace).
pub(crate) fn last_os_error(context: impl std::fmt::Display) -> std::io::Error {
    let e = std::io::Error::last_os_error();
    std::io::Error::new(e.kind(), format!("{context}: {e}"))
}

/// Whether this process can build testbeds (root: namespaces, TUN devices).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
