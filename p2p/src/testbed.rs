//! A multi-host test bed on one machine: one network namespace per host, each with a veth pair
//! whose other end sits on a bridge in a "switch" namespace of the bed's own (so the machine's
//! own namespace gains no interface). Hosts get `10.213.0.<n>/24`; nothing routes out.
//!
//! [`Testbed::spawn`] runs a command inside a host (`ip netns exec`), owned by a guard that kills
//! it on drop; [`Testbed::set_link`] takes a host's link down or up (a partition); dropping the
//! bed deletes every namespace it made. Creating namespaces needs root and iproute2:
//! [`Testbed::new`] says [`TestbedError::Unavailable`] where they are missing, and tests then
//! print that they skip.

use std::net::Ipv4Addr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use thiserror::Error;

/// The first three octets of every bed's subnet (beds are isolated from each other).
const SUBNET: [u8; 3] = [10, 213, 0];
/// Hosts a bed holds at most (addresses .1 to .200).
pub const MAX_HOSTS: usize = 200;

static NEXT_BED: AtomicU32 = AtomicU32::new(0);

#[derive(Debug, Error)]
pub enum TestbedError {
    /// Namespaces cannot be made here (not root, no `ip`): a test should say so and skip.
    #[error("network namespaces unavailable: {0}")]
    Unavailable(String),
    #[error("test bed: `{command}` failed ({status}): {stderr}")]
    Command { command: String, status: String, stderr: String },
    #[error("test bed: cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("test bed: unknown host {0:?}")]
    UnknownHost(String),
    #[error(
        "test bed: host names must be distinct, 1 to {MAX_HOSTS} of them, of [a-z0-9], at most 8 characters: {0:?}"
    )]
    InvalidHosts(String),
}

/// One host of the bed.
#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    /// The namespace's name (`ip netns exec <namespace> …`).
    pub namespace: String,
    pub address: Ipv4Addr,
    /// The veth end on the switch's bridge (set down to cut the host off).
    switch_port: String,
}

/// A process running in a host; killed (and reaped) on drop.
#[derive(Debug)]
pub struct HostProcess {
    child: Child,
}

impl HostProcess {
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bed; deletes its namespaces on drop (drop its processes first).
#[derive(Debug)]
pub struct Testbed {
    switch: String,
    hosts: Vec<Host>,
}

fn run(args: &[&str]) -> Result<Output, TestbedError> {
    let command = format!("ip {}", args.join(" "));
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| TestbedError::Spawn { command: command.clone(), source })?;
    if !output.status.success() {
        return Err(TestbedError::Command {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(output)
}

/// Whether this process runs as root (namespaces need it).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?.to_string();
            line.split_whitespace().nth(2).map(|effective| effective == "0")
        })
        .unwrap_or(false)
}

impl Testbed {
    /// Makes the switch and one namespace per host name.
    pub fn new(names: &[&str]) -> Result<Self, TestbedError> {
        let valid =
            |n: &&str| !n.is_empty() && n.len() <= 8 && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let distinct = names.iter().collect::<std::collections::HashSet<_>>().len() == names.len();
        if names.is_empty() || names.len() > MAX_HOSTS || !distinct || !names.iter().all(valid) {
            return Err(TestbedError::InvalidHosts(names.join(",")));
        }
        if !is_root() {
            return Err(TestbedError::Unavailable("not running as root".into()));
        }
        if let Err(e) = Command::new("ip").arg("-V").output() {
            return Err(TestbedError::Unavailable(format!("iproute2 (`ip`) not found: {e}")));
        }
        // Unique per process and bed; interface names stay within Linux's 15 characters.
        let id = format!("{:05x}", ((std::process::id() << 8) | NEXT_BED.fetch_add(1, Ordering::Relaxed)) & 0xfffff);
        let switch = format!("kp2p-{id}-sw");
        if let Err(e) = run(&["netns", "add", &switch]) {
            return Err(TestbedError::Unavailable(e.to_string()));
        }
        let mut bed = Self { switch, hosts: Vec::new() };
        bed.ns(&bed.switch, &["link", "add", "br0", "type", "bridge"])?;
        bed.ns(&bed.switch, &["link", "set", "br0", "up"])?;
        for (i, name) in names.iter().enumerate() {
            let host = Host {
                name: name.to_string(),
                namespace: format!("kp2p-{id}-{name}"),
                address: Ipv4Addr::new(SUBNET[0], SUBNET[1], SUBNET[2], (i + 1) as u8),
                switch_port: format!("ks{id}{i:02x}"),
            };
            // Listed before it is made, so a failure half-way still deletes it on drop.
            bed.hosts.push(host.clone());
            bed.add_host(&host, &format!("kh{id}{i:02x}"))?;
        }
        Ok(bed)
    }

    fn ns(&self, namespace: &str, args: &[&str]) -> Result<Output, TestbedError> {
        let mut full = vec!["-n", namespace];
        full.extend_from_slice(args);
        run(&full)
    }

    fn add_host(&self, host: &Host, host_port: &str) -> Result<(), TestbedError> {
        run(&["netns", "add", &host.namespace])?;
        self.ns(&host.namespace, &["link", "set", "lo", "up"])?;
        self.ns(
            &self.switch,
            &["link", "add", &host.switch_port, "type", "veth", "peer", "name", host_port, "netns", &host.namespace],
        )?;
        self.ns(&self.switch, &["link", "set", &host.switch_port, "master", "br0"])?;
        self.ns(&self.switch, &["link", "set", &host.switch_port, "up"])?;
        self.ns(&host.namespace, &["link", "set", host_port, "name", "eth0"])?;
        self.ns(&host.namespace, &["addr", "add", &format!("{}/24", host.address), "dev", "eth0"])?;
        self.ns(&host.namespace, &["link", "set", "eth0", "up"])?;
        Ok(())
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    pub fn host(&self, name: &str) -> Result<&Host, TestbedError> {
        self.hosts.iter().find(|h| h.name == name).ok_or_else(|| TestbedError::UnknownHost(name.to_string()))
    }

    /// A command that runs `program` inside `host`; add arguments, environment, pipes.
    pub fn command(&self, host: &str, program: &str) -> Result<Command, TestbedError> {
        let host = self.host(host)?;
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &host.namespace, program]);
        Ok(command)
    }

    /// Starts `command` (made by [`Testbed::command`]); the process is killed when the guard drops.
    pub fn spawn(&self, mut command: Command) -> Result<HostProcess, TestbedError> {
        let description = format!("{command:?}");
        let child = command.spawn().map_err(|source| TestbedError::Spawn { command: description, source })?;
        Ok(HostProcess { child })
    }

    /// Moves the calling thread into `host`'s network namespace, and with it every thread and
    /// process it starts afterwards (a tokio runtime built next, a child such as anvil): so a test
    /// can play one host itself and reach the others at their addresses. There is no way back;
    /// call it on a thread of its own (a `#[test]` function's thread is one).
    pub fn enter(&self, host: &str) -> Result<(), TestbedError> {
        let host = self.host(host)?;
        let path = format!("/run/netns/{}", host.namespace);
        let command = format!("setns({path})");
        let file =
            std::fs::File::open(&path).map_err(|source| TestbedError::Spawn { command: command.clone(), source })?;
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|errno| TestbedError::Spawn { command, source: std::io::Error::from_raw_os_error(errno as i32) })
    }

    /// Takes `host`'s link down (cut off from every other host) or back up.
    pub fn set_link(&self, host: &str, up: bool) -> Result<(), TestbedError> {
        let port = self.host(host)?.switch_port.clone();
        self.ns(&self.switch, &["link", "set", &port, if up { "up" } else { "down" }]).map(|_| ())
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of each veth pair, and with it the other end.
        for host in &self.hosts {
            let _ = run(&["netns", "del", &host.namespace]);
        }
        let _ = run(&["netns", "del", &self.switch]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_checked_before_anything_is_made() {
        for names in [&[][..], &["a", "a"], &["UPPER"], &["much-too-long"], &["a b"]] {
            assert!(matches!(Testbed::new(names), Err(TestbedError::InvalidHosts(_))), "{names:?}");
        }
    }
}
