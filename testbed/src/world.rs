//! The testbed topology: the app's namespace and one namespace per world,
//! each with its own TUN device, all under one run prefix.
//!
//! The app's namespace has the instance's private address on its TUN and a
//! default route through it, so every packet the app sends reaches the
//! engine. A world namespace treats every destination arriving on its TUN
//! as local (so a responder bound to 0.0.0.0 answers for any address and the
//! kernel answers ICMP echo for any address) and routes everything it sends
//! back through the TUN.
//!
//! AnyIP layout of a world (deliberately not the classic `local 0/0 table
//! 100` + `iif tun lookup 100`): the kernel only lets a socket send from an
//! address found in the `local` table, so with the catch-all in a side table
//! TCP SYN-ACKs, UDP replies and ICMP echo replies from "foreign" addresses
//! are refused (EINVAL / OutNoRoutes) unless every server sets
//! IP_TRANSPARENT. Instead the catch-all `local 0.0.0.0/0 dev lo` goes into
//! the `local` table itself, the default `from all lookup local` rule is
//! replaced by `iif <tun> lookup local pref 100` (only arriving packets see
//! the catch-all), and loopback keeps working through `local 127.0.0.0/8
//! dev lo` in `main`. Any ordinary server (iperf3, python -m http.server)
//! then works unmodified in a world.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::Path;

use crate::cleanup::{self, Claim};
use crate::netns;
use crate::tun::{self, TunOptions};

/// The platform DNS address the app's resolver uses.
pub const AZURE_DNS: Ipv4Addr = Ipv4Addr::new(168, 63, 129, 16);

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologySpec {
    /// The instance's private address (`Policy::instance_ip()`), put on the app's TUN as /32.
    pub instance_ip: Ipv4Addr,
    /// Name of the TUN device inside every namespace (they never meet, so one name serves all).
    pub tun_name: String,
    /// World names, each becoming namespace `<prefix>-<world>` (lowercase letters and digits).
    pub worlds: Vec<String>,
    pub mtu: u16,
    /// Every TUN with offloads (`TunOptions::vnet_hdr`): whoever drives the
    /// descriptors must read and write virtio-net headers.
    pub offload: bool,
}

impl TopologySpec {
    /// The four worlds of vnetlab's engine (`vnet`, `onprem`, `nva`, `inet`).
    pub fn standard(instance_ip: Ipv4Addr) -> TopologySpec {
        TopologySpec {
            instance_ip,
            tun_name: "vltun0".to_string(),
            worlds: ["vnet", "onprem", "nva", "inet"].iter().map(|w| w.to_string()).collect(),
            mtu: 1500,
            offload: false,
        }
    }
}

/// One world's namespace.
#[derive(Debug)]
pub struct WorldNs {
    pub name: String,
    pub netns: String,
}

/// A built testbed. Dropping it removes its namespaces, the app's
/// /etc/netns directory and the state file.
#[derive(Debug)]
pub struct Testbed {
    pub prefix: String,
    /// Every namespace of this testbed, app first.
    pub namespaces: Vec<String>,
    pub app_netns: String,
    pub worlds: Vec<WorldNs>,
    pub tun_name: String,
    /// The TUNs carry virtio-net headers (`TopologySpec::offload`).
    pub offload: bool,
    /// TUN descriptors not yet handed out, by namespace.
    tuns: Vec<(String, OwnedFd)>,
    // Dropped last: the state file goes only after the namespaces.
    claim: Claim,
}

impl Testbed {
    /// Claims a prefix and builds the namespaces. On error, whatever was
    /// already created is removed before returning.
    pub fn create(spec: &TopologySpec) -> io::Result<Testbed> {
        tun::check_ifname(&spec.tun_name)?;
        for w in &spec.worlds {
            if w.is_empty() || w == "app" || !w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("world name {w:?}: expected lowercase letters and digits, not \"app\"")));
            }
        }
        let claim = cleanup::claim_prefix()?;
        let prefix = claim.prefix.clone();
        let mut bed = Testbed {
            app_netns: format!("{prefix}-app"),
            prefix,
            namespaces: Vec::new(),
            worlds: Vec::new(),
            tun_name: spec.tun_name.clone(),
            offload: spec.offload,
            tuns: Vec::new(),
            claim,
        };
        let app = bed.app_netns.clone();
        bed.add_namespace(&app, spec)?;
        configure_app(&app, spec)?;
        for w in &spec.worlds {
            let ns = format!("{}-{w}", bed.prefix);
            bed.add_namespace(&ns, spec)?;
            configure_world(&ns, &spec.tun_name)?;
            bed.worlds.push(WorldNs { name: w.clone(), netns: ns });
        }
        Ok(bed)
    }

    fn add_namespace(&mut self, ns: &str, spec: &TopologySpec) -> io::Result<()> {
        netns::add(ns)?;
        self.namespaces.push(ns.to_string());
        // IPv6 off before the TUN exists, so the engine never sees router solicitations.
        for key in ["net/ipv6/conf/all/disable_ipv6", "net/ipv6/conf/default/disable_ipv6"] {
            let _ = netns::sysctl_in(ns, key, "1");
        }
        netns::ip_in(ns, &["link", "set", "dev", "lo", "up"])?;
        let fd = tun::create_tun_in_with(ns, &spec.tun_name, spec.mtu, TunOptions { vnet_hdr: spec.offload, ..Default::default() })?;
        self.tuns.push((ns.to_string(), fd));
        Ok(())
    }

    /// The state file that marks this run as alive (see `cleanup`).
    pub fn state_file(&self) -> &Path {
        self.claim.path()
    }

    /// The namespace of world `name`.
    pub fn world_netns(&self, name: &str) -> Option<&str> {
        self.worlds.iter().find(|w| w.name == name).map(|w| w.netns.as_str())
    }

    /// Hands the TUN descriptor of namespace `ns` to the caller (once).
    /// The device lives as long as the descriptor.
    pub fn take_tun(&mut self, ns: &str) -> Option<OwnedFd> {
        let i = self.tuns.iter().position(|(n, _)| n == ns)?;
        Some(self.tuns.swap_remove(i).1)
    }

    /// The app's TUN descriptor (once).
    pub fn take_app_tun(&mut self) -> Option<OwnedFd> {
        let ns = self.app_netns.clone();
        self.take_tun(&ns)
    }

    /// World `name`'s TUN descriptor (once).
    pub fn take_world_tun(&mut self, name: &str) -> Option<OwnedFd> {
        let ns = self.world_netns(name)?.to_string();
        self.take_tun(&ns)
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        self.tuns.clear();
        for ns in self.namespaces.iter().rev() {
            if let Err(e) = netns::remove(ns) {
                eprintln!("vnetlab-testbed: removing namespace {ns}: {e}");
            }
        }
    }
}

fn configure_app(ns: &str, spec: &TopologySpec) -> io::Result<()> {
    app_addresses(spec.instance_ip, &spec.tun_name, &|args| netns::ip_in(ns, args), &|k, v| netns::sysctl_in(ns, k, v))?;
    let etc = Path::new(netns::NETNS_ETC_DIR).join(ns);
    std::fs::create_dir_all(&etc).map_err(|e| io::Error::new(e.kind(), format!("creating {}: {e}", etc.display())))?;
    let resolv = etc.join("resolv.conf");
    std::fs::write(&resolv, resolv_conf()).map_err(|e| io::Error::new(e.kind(), format!("writing {}: {e}", resolv.display())))
}

/// The app's resolv.conf: the platform resolver only.
pub fn resolv_conf() -> String {
    format!("# vnetlab: the platform resolver\nnameserver {AZURE_DNS}\n")
}

/// Runs `ip ARGS...` in the namespace being configured.
pub type IpIn<'a> = &'a dyn Fn(&[&str]) -> io::Result<()>;
/// Writes a sysctl (`key` below /proc/sys) in the namespace being configured.
pub type SysctlIn<'a> = &'a dyn Fn(&str, &str) -> io::Result<()>;

/// The app's side: the instance's address on the TUN as /32, a default
/// route through it, unprivileged ICMP echo sockets for every group.
pub fn app_addresses(instance_ip: Ipv4Addr, tun: &str, ip: IpIn<'_>, sysctl: SysctlIn<'_>) -> io::Result<()> {
    ip(&["addr", "add", &format!("{instance_ip}/32"), "dev", tun])?;
    ip(&["route", "add", "default", "dev", tun])?;
    // ICMP datagram sockets ("unprivileged ping") for every group, so probes need no raw socket.
    sysctl("net/ipv4/ping_group_range", "0 2147483647")
}

fn configure_world(ns: &str, tun: &str) -> io::Result<()> {
    anyip_world(tun, &|args| netns::ip_in(ns, args), &|k, v| netns::sysctl_in(ns, k, v))
}

/// Makes a namespace accept every destination arriving on `tun` as local
/// and send everything else back through it (the layout in the module
/// comment).
pub fn anyip_world(tun: &str, ip: IpIn<'_>, sysctl: SysctlIn<'_>) -> io::Result<()> {
    for key in ["net/ipv4/conf/all/rp_filter", "net/ipv4/conf/default/rp_filter"] {
        sysctl(key, "0")?;
    }
    sysctl(&format!("net/ipv4/conf/{tun}/rp_filter"), "0")?;
    ip(&["route", "add", "local", "127.0.0.0/8", "dev", "lo", "table", "main"])?;
    ip(&["route", "add", "default", "dev", tun])?;
    ip(&["rule", "add", "iif", tun, "lookup", "local", "pref", "100"])?;
    ip(&["rule", "del", "pref", "0"])?;
    ip(&["route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "local"])
}
