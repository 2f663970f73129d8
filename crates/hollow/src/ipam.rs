//! Addresses: IPv4 CIDRs, each hollow node's own pod subnet carved from a
//! base range without overlap, node addresses, and a per-node pod IP
//! allocator (host-local IPAM style: round robin, so a freed address is
//! not handed out again at once).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("invalid IPv4 CIDR {0:?} (expected e.g. \"10.64.0.0/11\")")]
    BadCidr(String),
    #[error("node index {index} needs subnet #{index} of size /{prefix} but {base} only holds {capacity} such subnets; use a larger --pod-cidr (or fewer nodes)")]
    SubnetsExhausted {
        base: Ipv4Cidr,
        prefix: u8,
        index: u32,
        capacity: u64,
    },
    #[error("node subnets of size /{prefix} do not fit in {base}: the base range must be at least as large")]
    PrefixTooLarge { base: Ipv4Cidr, prefix: u8 },
    #[error("node index {index} is past the end of {base} for node addresses")]
    NodeAddressExhausted { base: Ipv4Cidr, index: u32 },
}

/// An IPv4 network: address (host bits cleared) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    addr: u32,
    prefix: u8,
}

impl Ipv4Cidr {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Ipv4Cidr, IpamError> {
        if prefix > 32 {
            return Err(IpamError::BadCidr(format!("{addr}/{prefix}")));
        }
        Ok(Ipv4Cidr {
            addr: u32::from(addr) & mask(prefix),
            prefix,
        })
    }

    /// Like [`Ipv4Cidr::new`] with the prefix clamped to 32 (for constants).
    pub fn clamped(addr: Ipv4Addr, prefix: u8) -> Ipv4Cidr {
        let prefix = prefix.min(32);
        Ipv4Cidr {
            addr: u32::from(addr) & mask(prefix),
            prefix,
        }
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Number of addresses (2^(32-prefix)).
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.addr
    }

    /// The `index`-th subnet of length `prefix` inside this range.
    pub fn subnet(&self, prefix: u8, index: u32) -> Result<Ipv4Cidr, IpamError> {
        if prefix < self.prefix || prefix > 32 {
            return Err(IpamError::PrefixTooLarge {
                base: *self,
                prefix,
            });
        }
        let capacity = 1u64 << (u32::from(prefix) - u32::from(self.prefix));
        if u64::from(index) >= capacity {
            return Err(IpamError::SubnetsExhausted {
                base: *self,
                prefix,
                index,
                capacity,
            });
        }
        let step = 1u64 << (32 - u32::from(prefix));
        let addr = u64::from(self.addr) + u64::from(index) * step;
        Ok(Ipv4Cidr {
            addr: addr as u32,
            prefix,
        })
    }

    /// The address at `offset` from the network address, if inside.
    pub fn nth(&self, offset: u64) -> Option<Ipv4Addr> {
        (offset < self.size()).then(|| Ipv4Addr::from(self.addr.wrapping_add(offset as u32)))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = IpamError;

    fn from_str(s: &str) -> Result<Ipv4Cidr, IpamError> {
        let bad = || IpamError::BadCidr(s.to_string());
        let (ip, prefix) = s.trim().split_once('/').ok_or_else(bad)?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Ipv4Cidr::new(ip, prefix)
    }
}

/// Node `index`'s pod subnet: the `index`-th /`prefix` of `base`.
pub fn node_pod_cidr(base: Ipv4Cidr, prefix: u8, index: u32) -> Result<Ipv4Cidr, IpamError> {
    base.subnet(prefix, index)
}

/// Node `index`'s InternalIP: `base + 2 + index` (like the reference's
/// 192.0.2.2 for the first node), skipping nothing else.
pub fn node_address(base: Ipv4Cidr, index: u32) -> Result<Ipv4Addr, IpamError> {
    base.nth(u64::from(index) + 2)
        .ok_or(IpamError::NodeAddressExhausted { base, index })
}

/// Pod IPs of one node's subnet. Offsets 0 (network), 1 (the bridge, as a
/// CNI gateway) and the broadcast address are never handed out.
#[derive(Debug, Clone)]
pub struct PodIpAllocator {
    cidr: Ipv4Cidr,
    used: Vec<u64>,
    /// Usable offsets are `first..=last`.
    first: u32,
    last: u32,
    next: u32,
    in_use: u32,
}

/// Subnets larger than this are only partly used (a node never needs more).
const MAX_TRACKED: u64 = 1 << 16;

impl PodIpAllocator {
    pub fn new(cidr: Ipv4Cidr) -> PodIpAllocator {
        let size = cidr.size().min(MAX_TRACKED);
        let (first, last) = if size >= 4 {
            (2u32, (size - 2) as u32)
        } else {
            (0, size.saturating_sub(1) as u32)
        };
        PodIpAllocator {
            cidr,
            used: vec![0; size.div_ceil(64) as usize],
            first,
            last,
            next: first,
            in_use: 0,
        }
    }

    pub fn cidr(&self) -> Ipv4Cidr {
        self.cidr
    }

    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    pub fn capacity(&self) -> u32 {
        self.last + 1 - self.first
    }

    fn is_used(&self, off: u32) -> bool {
        self.used[(off / 64) as usize] & (1 << (off % 64)) != 0
    }

    fn set(&mut self, off: u32, on: bool) {
        let word = &mut self.used[(off / 64) as usize];
        if on {
            *word |= 1 << (off % 64);
        } else {
            *word &= !(1 << (off % 64));
        }
    }

    /// The next free address after the last one handed out.
    pub fn allocate(&mut self) -> Option<Ipv4Addr> {
        let span = self.capacity();
        for i in 0..span {
            let off = self.first + (self.next - self.first + i) % span;
            if !self.is_used(off) {
                self.set(off, true);
                self.in_use += 1;
                self.next = if off >= self.last {
                    self.first
                } else {
                    off + 1
                };
                return self.cidr.nth(u64::from(off));
            }
        }
        None
    }

    /// Marks an address taken (pods found already running after a
    /// restart keep theirs). False if outside the range or taken.
    pub fn claim(&mut self, ip: Ipv4Addr) -> bool {
        match self.offset(ip) {
            Some(off) if !self.is_used(off) => {
                self.set(off, true);
                self.in_use += 1;
                true
            }
            _ => false,
        }
    }

    /// Frees an address; false if it was not allocated here.
    pub fn release(&mut self, ip: Ipv4Addr) -> bool {
        match self.offset(ip) {
            Some(off) if self.is_used(off) => {
                self.set(off, false);
                self.in_use -= 1;
                true
            }
            _ => false,
        }
    }

    fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        if !self.cidr.contains(ip) {
            return None;
        }
        let off = u32::from(ip) - u32::from(self.cidr.network());
        (off >= self.first && off <= self.last).then_some(off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn cidr(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_normalises() {
        assert_eq!(cidr("10.64.3.7/10").to_string(), "10.64.0.0/10");
        assert_eq!(cidr("0.0.0.0/0").size(), 1 << 32);
        for bad in ["10.0.0.0", "10.0.0.0/33", "x/8", "10.0.0/8", "/8"] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn node_subnets_do_not_overlap() {
        let base = cidr("10.64.0.0/10");
        let cases = [
            (0, "10.64.0.0/24"),
            (1, "10.64.1.0/24"),
            (255, "10.64.255.0/24"),
            (256, "10.65.0.0/24"),
            (16383, "10.127.255.0/24"),
        ];
        for (i, want) in cases {
            assert_eq!(node_pod_cidr(base, 24, i).unwrap().to_string(), want);
        }
        assert!(matches!(
            node_pod_cidr(base, 24, 16384),
            Err(IpamError::SubnetsExhausted {
                capacity: 16384,
                ..
            })
        ));
        assert!(matches!(
            node_pod_cidr(cidr("10.0.0.0/25"), 24, 0),
            Err(IpamError::PrefixTooLarge { .. })
        ));
        let all: HashSet<Ipv4Cidr> = (0..1000)
            .map(|i| node_pod_cidr(base, 24, i).unwrap())
            .collect();
        assert_eq!(all.len(), 1000);
    }

    #[test]
    fn node_addresses() {
        let base = cidr("192.0.2.0/24");
        assert_eq!(node_address(base, 0).unwrap(), Ipv4Addr::new(192, 0, 2, 2));
        assert_eq!(
            node_address(base, 253).unwrap(),
            Ipv4Addr::new(192, 0, 2, 255)
        );
        assert!(node_address(base, 254).is_err());
    }

    #[test]
    fn allocates_round_robin_without_reserved_addresses() {
        let mut a = PodIpAllocator::new(cidr("10.64.1.0/24"));
        assert_eq!(a.capacity(), 253);
        let first = a.allocate().unwrap();
        assert_eq!(first, Ipv4Addr::new(10, 64, 1, 2));
        let second = a.allocate().unwrap();
        assert_eq!(second, Ipv4Addr::new(10, 64, 1, 3));
        assert!(a.release(first));
        assert!(!a.release(first), "double free is refused");
        // Round robin: the freed .2 is not reused before the range wraps.
        assert_eq!(a.allocate().unwrap(), Ipv4Addr::new(10, 64, 1, 4));
        let mut seen = HashSet::new();
        while let Some(ip) = a.allocate() {
            assert!(seen.insert(ip));
            assert_ne!(ip.octets()[3], 0);
            assert_ne!(ip.octets()[3], 1);
            assert_ne!(ip.octets()[3], 255);
        }
        assert_eq!(a.in_use(), 253);
        assert!(seen.contains(&first), "wrapped around to the freed address");
        assert!(a.release(Ipv4Addr::new(10, 64, 1, 77)));
        assert_eq!(a.allocate(), Some(Ipv4Addr::new(10, 64, 1, 77)));
    }

    #[test]
    fn claim_marks_existing_addresses() {
        let mut a = PodIpAllocator::new(cidr("10.64.0.0/24"));
        assert!(a.claim(Ipv4Addr::new(10, 64, 0, 2)));
        assert!(!a.claim(Ipv4Addr::new(10, 64, 0, 2)));
        assert!(!a.claim(Ipv4Addr::new(10, 65, 0, 2)), "outside");
        assert!(!a.claim(Ipv4Addr::new(10, 64, 0, 255)), "broadcast");
        assert_eq!(a.allocate(), Some(Ipv4Addr::new(10, 64, 0, 3)));
    }

    #[test]
    fn tiny_subnets() {
        let mut a = PodIpAllocator::new(cidr("10.0.0.4/31"));
        assert_eq!(a.capacity(), 2);
        assert!(a.allocate().is_some());
        assert!(a.allocate().is_some());
        assert!(a.allocate().is_none());
    }
}
