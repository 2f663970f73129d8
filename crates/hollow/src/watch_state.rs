//! A list-and-watch loop as a pure state machine (client-go's reflector,
//! kube-runtime's watcher): list once, watch from the list's
//! resourceVersion, resume from the last seen version after a dropped
//! connection (with jittered back-off), re-watch at once after a normal
//! end, relist when the version is gone (410).

use crate::backoff::Backoff;
use std::time::Duration;

/// The next request to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// LIST; `resource_version` is `Some("0")` for the first list (served
    /// from the watch cache, as reflectors do) and `None` after a 410.
    List {
        resource_version: Option<&'static str>,
    },
    Watch {
        resource_version: String,
    },
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The server closed the watch normally (timeout, shutdown).
    Closed,
    /// 410 Gone / "too old resource version".
    Gone,
    /// Transport error or unexpected status.
    Failed,
    ListFailed,
}

#[derive(Debug, Clone)]
pub struct WatchMachine {
    rv: Option<String>,
    relist_consistent: bool,
    backoff: Backoff,
}

impl Default for WatchMachine {
    fn default() -> Self {
        WatchMachine::new()
    }
}

impl WatchMachine {
    pub fn new() -> WatchMachine {
        WatchMachine {
            rv: None,
            relist_consistent: false,
            backoff: Backoff::reflector(),
        }
    }

    pub fn next(&self) -> Next {
        match &self.rv {
            Some(rv) => Next::Watch {
                resource_version: rv.clone(),
            },
            None => Next::List {
                resource_version: if self.relist_consistent {
                    None
                } else {
                    Some("0")
                },
            },
        }
    }

    pub fn resource_version(&self) -> Option<&str> {
        self.rv.as_deref()
    }

    /// A list succeeded at `rv`.
    pub fn listed(&mut self, rv: &str) {
        self.rv = Some(rv.to_string());
        self.relist_consistent = false;
        self.backoff.reset();
    }

    /// An event or bookmark at `rv` arrived: progress, so the connection
    /// works again.
    pub fn observed(&mut self, rv: &str) {
        if !rv.is_empty() {
            self.rv = Some(rv.to_string());
        }
        self.backoff.reset();
    }

    /// A request ended; returns how long to wait before [`Self::next`].
    pub fn ended(&mut self, how: End, random01: f64) -> Duration {
        match how {
            End::Closed => Duration::ZERO,
            End::Gone => {
                self.rv = None;
                self.relist_consistent = true;
                Duration::ZERO
            }
            End::Failed | End::ListFailed => self.backoff.next_delay(random01),
        }
    }
}

/// A watch shorter than this that delivered nothing is "very short".
pub const MIN_WATCH_DURATION: Duration = Duration::from_secs(1);

/// How a watch the server ended normally counts: client-go's reflector
/// treats a watch that lasted under a second without a single event as a
/// failure ("very short watch"), so a server that closes every watch at
/// once is retried with backoff instead of in a hot loop.
pub fn closed_end(lasted: Duration, events: u64) -> End {
    if events == 0 && lasted < MIN_WATCH_DURATION {
        End::Failed
    } else {
        End::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn very_short_empty_watches_back_off() {
        let cases = [
            (Duration::from_millis(5), 0, End::Failed),
            (Duration::from_millis(999), 0, End::Failed),
            (Duration::from_millis(5), 1, End::Closed),
            (Duration::from_secs(1), 0, End::Closed),
            (Duration::from_secs(300), 0, End::Closed),
        ];
        for (lasted, events, want) in cases {
            assert_eq!(closed_end(lasted, events), want, "{lasted:?} {events}");
        }
        // A server closing every watch at once gets a growing delay.
        let mut m = WatchMachine::new();
        m.listed("1");
        let d1 = m.ended(closed_end(Duration::ZERO, 0), 0.0);
        let d2 = m.ended(closed_end(Duration::ZERO, 0), 0.0);
        assert!(d1 > Duration::ZERO && d2 > d1, "{d1:?} {d2:?}");
    }
}

#[cfg(test)]
mod machine_tests {
    use super::*;

    #[test]
    fn list_then_watch_then_resume() {
        let mut m = WatchMachine::new();
        assert_eq!(
            m.next(),
            Next::List {
                resource_version: Some("0")
            }
        );
        m.listed("10");
        assert_eq!(
            m.next(),
            Next::Watch {
                resource_version: "10".into()
            }
        );
        m.observed("12");
        assert_eq!(m.ended(End::Closed, 0.5), Duration::ZERO);
        assert_eq!(
            m.next(),
            Next::Watch {
                resource_version: "12".into()
            }
        );
        // Connection drops: back off, then resume from the same version.
        let d1 = m.ended(End::Failed, 0.0);
        let d2 = m.ended(End::Failed, 0.0);
        assert_eq!(
            (d1, d2),
            (Duration::from_millis(800), Duration::from_millis(1600))
        );
        assert_eq!(m.resource_version(), Some("12"));
        // Progress resets the back-off.
        m.observed("");
        assert_eq!(m.resource_version(), Some("12"));
        assert_eq!(m.ended(End::Failed, 0.0), Duration::from_millis(800));
    }

    #[test]
    fn gone_relists_from_storage() {
        let mut m = WatchMachine::new();
        m.listed("5");
        assert_eq!(m.ended(End::Gone, 0.9), Duration::ZERO);
        assert_eq!(
            m.next(),
            Next::List {
                resource_version: None
            }
        );
        assert!(m.ended(End::ListFailed, 0.0) > Duration::ZERO);
        assert_eq!(
            m.next(),
            Next::List {
                resource_version: None
            }
        );
        m.listed("99");
        assert_eq!(
            m.next(),
            Next::Watch {
                resource_version: "99".into()
            }
        );
        m.ended(End::Gone, 0.0);
        m.listed("100");
        // After a successful relist the next relist is from the cache again.
        m.ended(End::Gone, 0.0);
        assert_eq!(
            m.next(),
            Next::List {
                resource_version: None
            }
        );
    }
}
