//! The server's counters and service-time histogram ([`Metrics`], private), their copy at one
//! instant ([`Snapshot`], public), and the two ways a snapshot is printed: the seed's periodic JSON
//! line and the Prometheus text exposition, each written from one field table.
//!
//! # What each figure of the JSON line covers
//!
//! Two figures are per interval, measured against the previous line's snapshot (for the final
//! line, and a line with no previous one: over the server's whole life):
//!
//! - `rps`: messages per second over the interval;
//! - `interval_messages`: messages relayed in the interval.
//!
//! Every other figure is over the server's lifetime: the counters (`messages_total`, `deliveries`,
//! `bytes_in`, ...) since it started, `connections` open now, and the service times
//! (`avg_service_ms`, `p50_service_ms`, `p99_service_ms`) over every message so far.
//!
//! The periodic printer (`PeriodicLine`) prints a line only when it differs from the last one it
//! printed: an idle server prints one line with `rps` 0, then nothing until something changes.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::Value;

use super::lock;

/// Counters shared by every connection task. All are monotonic except `connections_open`.
#[derive(Debug)]
pub(crate) struct Metrics {
    started: Instant,
    pub(crate) connections_total: AtomicU64,
    pub(crate) connections_open: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) messages_total: AtomicU64,
    pub(crate) deliveries: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) write_timeouts: AtomicU64,
    pub(crate) auth_refused: AtomicU64,
    pub(crate) legacy_refused: AtomicU64,
    pub(crate) tls_handshakes_failed: AtomicU64,
    /// Service time of each message in nanoseconds: from its last byte decoded to its relay queued
    /// for every peer (the seed's "service time").
    service_ns: Mutex<Histogram<u64>>,
}

/// The server's metrics at one instant, from [`ServerHandle::metrics`](super::ServerHandle::metrics)
/// or [`Server::run`](super::Server::run).
///
/// ```
/// use framechat::server::Snapshot;
/// let now = Snapshot { uptime_s: 2.0, messages_total: 10, ..Snapshot::default() };
/// let line = now.to_json_line(None);
/// assert!(line.starts_with("{\"messages_total\": 10, \"rps\": 5.0, \"interval_messages\": 10, "));
/// assert!(now.to_final_json_line().starts_with("{\"final\": true, \"messages_total\": 10, "));
/// assert!(now.to_prometheus().contains("\nframechat_messages_total 10\n"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Seconds since the server started.
    pub uptime_s: f64,
    /// Connections accepted and admitted.
    pub connections_total: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Connections refused at the connection limit (FC-31).
    pub connections_refused: u64,
    /// Messages relayed (legacy frames and CHAT frames): the seed's `messages_total`.
    pub messages_total: u64,
    /// Frames written to sockets (echoes, broadcasts, pongs, welcomes, errors).
    pub deliveries: u64,
    /// Bytes read from sockets.
    pub bytes_in: u64,
    /// Bytes written to sockets.
    pub bytes_out: u64,
    /// Peers disconnected as slow consumers (FC-29), as the hub counts them.
    pub slow_consumers: u64,
    /// Connections closed on a decoding error (FC-30).
    pub protocol_errors: u64,
    /// Connections closed by the idle timeout or the frame deadline (FC-32).
    pub timeouts: u64,
    /// Connections given up because a write made no progress for the write timeout.
    pub write_timeouts: u64,
    /// Typed connections closed with ERROR UNAUTHORIZED: no AUTH first, an unknown scheme or a
    /// token not admitted (FC-34).
    pub auth_refused: u64,
    /// Legacy connections closed because authentication is on and the policy refuses them (FC-36).
    pub legacy_refused: u64,
    /// TLS connections closed before their handshake was done: not TLS, a certificate the client
    /// refused, or the handshake deadline (§10).
    pub tls_handshakes_failed: u64,
    /// Mean service time, milliseconds: from a message's last byte decoded to its relay queued
    /// for every peer (the seed's "service time").
    pub avg_service_ms: f64,
    /// Median service time, milliseconds.
    pub p50_service_ms: f64,
    /// 99th percentile service time, milliseconds.
    pub p99_service_ms: f64,
    /// The cluster bus's figures (§11), for a node of a cluster; `None` for a server on its own,
    /// whose JSON line and Prometheus text then carry none of them. Feature `cluster`.
    #[cfg(feature = "cluster")]
    pub bus: Option<super::BusStats>,
}

impl Metrics {
    /// Fresh counters; the clock for `uptime_s` starts now.
    pub(crate) fn new() -> Metrics {
        Metrics {
            started: Instant::now(),
            connections_total: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            messages_total: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            protocol_errors: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            write_timeouts: AtomicU64::new(0),
            auth_refused: AtomicU64::new(0),
            legacy_refused: AtomicU64::new(0),
            tls_handshakes_failed: AtomicU64::new(0),
            // 3 significant digits over 1 ns..1 h: a few tens of KiB, allocated once.
            service_ns: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                    .expect("static histogram bounds are valid"),
            ),
        }
    }

    /// Records one relayed message and its service time.
    pub(crate) fn record_message(&self, service: Duration) {
        self.messages_total.fetch_add(1, Relaxed);
        let ns = u64::try_from(service.as_nanos()).unwrap_or(u64::MAX).max(1);
        lock(&self.service_ns).saturating_record(ns);
    }

    /// Adds to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// A consistent-enough copy (each counter read once). `slow_consumers` is the hub's to fill.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let (avg, p50, p99) = {
            let h = lock(&self.service_ns);
            if h.is_empty() {
                (0.0, 0.0, 0.0)
            } else {
                let quantile_ms = |q| h.value_at_quantile(q) as f64 / 1e6;
                (h.mean() / 1e6, quantile_ms(0.5), quantile_ms(0.99))
            }
        };
        Snapshot {
            uptime_s: self.started.elapsed().as_secs_f64(),
            connections_total: self.connections_total.load(Relaxed),
            connections_open: self.connections_open.load(Relaxed),
            connections_refused: self.connections_refused.load(Relaxed),
            messages_total: self.messages_total.load(Relaxed),
            deliveries: self.deliveries.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            slow_consumers: 0,
            protocol_errors: self.protocol_errors.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            write_timeouts: self.write_timeouts.load(Relaxed),
            auth_refused: self.auth_refused.load(Relaxed),
            legacy_refused: self.legacy_refused.load(Relaxed),
            tls_handshakes_failed: self.tls_handshakes_failed.load(Relaxed),
            avg_service_ms: avg,
            p50_service_ms: p50,
            p99_service_ms: p99,
            #[cfg(feature = "cluster")]
            bus: None,
        }
    }
}

/// A Prometheus metric: name (after `framechat_`), type, help, and its value in a snapshot.
struct PrometheusMetric {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&Snapshot) -> Sample,
}

/// A sample's value: counts print exactly, seconds as Rust prints an `f64`.
enum Sample {
    Count(u64),
    Seconds(f64),
}

const PROMETHEUS: [PrometheusMetric; 16] = [
    PrometheusMetric {
        name: "connections_open",
        kind: "gauge",
        help: "Connections open now.",
        value: |s| Sample::Count(s.connections_open),
    },
    PrometheusMetric {
        name: "connections_total",
        kind: "counter",
        help: "Connections admitted.",
        value: |s| Sample::Count(s.connections_total),
    },
    PrometheusMetric {
        name: "connections_refused_total",
        kind: "counter",
        help: "Connections refused at the limit.",
        value: |s| Sample::Count(s.connections_refused),
    },
    PrometheusMetric {
        name: "messages_total",
        kind: "counter",
        help: "Messages relayed.",
        value: |s| Sample::Count(s.messages_total),
    },
    PrometheusMetric {
        name: "deliveries_total",
        kind: "counter",
        help: "Frames written to sockets.",
        value: |s| Sample::Count(s.deliveries),
    },
    PrometheusMetric {
        name: "bytes_in_total",
        kind: "counter",
        help: "Bytes read.",
        value: |s| Sample::Count(s.bytes_in),
    },
    PrometheusMetric {
        name: "bytes_out_total",
        kind: "counter",
        help: "Bytes written.",
        value: |s| Sample::Count(s.bytes_out),
    },
    PrometheusMetric {
        name: "slow_consumers_total",
        kind: "counter",
        help: "Peers closed as slow consumers.",
        value: |s| Sample::Count(s.slow_consumers),
    },
    PrometheusMetric {
        name: "protocol_errors_total",
        kind: "counter",
        help: "Connections closed on a protocol error.",
        value: |s| Sample::Count(s.protocol_errors),
    },
    PrometheusMetric {
        name: "timeouts_total",
        kind: "counter",
        help: "Connections closed by a timeout.",
        value: |s| Sample::Count(s.timeouts),
    },
    PrometheusMetric {
        name: "write_timeouts_total",
        kind: "counter",
        help: "Connections given up on a stalled write.",
        value: |s| Sample::Count(s.write_timeouts),
    },
    PrometheusMetric {
        name: "auth_refused_total",
        kind: "counter",
        help: "Typed connections refused with ERROR UNAUTHORIZED.",
        value: |s| Sample::Count(s.auth_refused),
    },
    PrometheusMetric {
        name: "legacy_refused_total",
        kind: "counter",
        help: "Legacy connections refused because authentication is required.",
        value: |s| Sample::Count(s.legacy_refused),
    },
    PrometheusMetric {
        name: "tls_handshakes_failed_total",
        kind: "counter",
        help: "TLS connections closed before their handshake was done.",
        value: |s| Sample::Count(s.tls_handshakes_failed),
    },
    PrometheusMetric {
        name: "service_seconds_p50",
        kind: "gauge",
        help: "Median message service time.",
        value: |s| Sample::Seconds(s.p50_service_ms / 1e3),
    },
    PrometheusMetric {
        name: "service_seconds_p99",
        kind: "gauge",
        help: "99th percentile message service time.",
        value: |s| Sample::Seconds(s.p99_service_ms / 1e3),
    },
];

/// A figure of the cluster bus: its name (after `framechat_` in Prometheus, as it is in the JSON
/// line), type, help, and its value.
#[cfg(feature = "cluster")]
struct BusMetric {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&super::BusStats) -> u64,
}

#[cfg(feature = "cluster")]
const BUS_METRICS: [BusMetric; 12] = [
    BusMetric {
        name: "bus_connected",
        kind: "gauge",
        help: "1 while the NATS connection is up, else 0.",
        value: |b| u64::from(b.connected),
    },
    BusMetric {
        name: "bus_published_total",
        kind: "counter",
        help: "Local messages published on the bus.",
        value: |b| b.published,
    },
    BusMetric {
        name: "bus_publish_dropped_total",
        kind: "counter",
        help: "Local messages not published: the queue in front of the bus was full, NATS refused them, or they were still queued at shutdown.",
        value: |b| b.publish_dropped,
    },
    BusMetric {
        name: "bus_delivered_total",
        kind: "counter",
        help: "Messages from other nodes given to the room.",
        value: |b| b.delivered,
    },
    BusMetric {
        name: "bus_gap_messages_total",
        kind: "counter",
        help: "Messages from other nodes found missing by gaps in their numbers.",
        value: |b| b.gap_messages,
    },
    BusMetric {
        name: "bus_lost_tail_messages_total",
        kind: "counter",
        help: "Messages from other nodes found missing by their heartbeats.",
        value: |b| b.lost_tail_messages,
    },
    BusMetric {
        name: "bus_lost_total",
        kind: "counter",
        help: "Messages from other nodes known lost: gaps and lost tails.",
        value: super::BusStats::lost,
    },
    BusMetric {
        name: "bus_duplicates_total",
        kind: "counter",
        help: "Messages from other nodes dropped as already accounted for.",
        value: |b| b.duplicates,
    },
    BusMetric {
        name: "bus_stale_epoch_total",
        kind: "counter",
        help: "Envelopes dropped as from an older run of their node.",
        value: |b| b.stale_epoch,
    },
    BusMetric {
        name: "bus_malformed_total",
        kind: "counter",
        help: "Envelopes dropped as malformed.",
        value: |b| b.malformed,
    },
    BusMetric {
        name: "bus_reconnects_total",
        kind: "counter",
        help: "Connections to a NATS server after the first.",
        value: |b| b.reconnects,
    },
    BusMetric {
        name: "cluster_nodes_alive",
        kind: "gauge",
        help: "Other nodes of the cluster alive now.",
        value: |b| b.nodes_alive,
    },
];

/// `x` rounded to `decimals` places, as the line prints it.
fn rounded(x: f64, decimals: i32) -> Value {
    let scale = 10f64.powi(decimals);
    Value::from((x * scale).round() / scale)
}

impl Snapshot {
    /// The line printed when the server stops: [`to_json_line`](Snapshot::to_json_line) over the
    /// server's whole life, with `"final": true` first.
    pub fn to_final_json_line(&self) -> String {
        let mut fields = vec![("final", Value::Bool(true))];
        fields.extend(self.json_fields(None));
        json_object_line(&fields)
    }

    /// The seed's periodic line (`messages_total`, `rps`, `avg_service_ms`) and framechat's
    /// additions, as one JSON object in a fixed key order. `rps` and `interval_messages` are
    /// computed against `previous` (without one: over the whole life); every other figure is over
    /// the whole life.
    ///
    /// ```
    /// use framechat::server::Snapshot;
    /// let before = Snapshot { uptime_s: 2.0, messages_total: 10, ..Snapshot::default() };
    /// let now = Snapshot { uptime_s: 4.0, messages_total: 16, ..Snapshot::default() };
    /// let line = now.to_json_line(Some(&before));
    /// assert!(line.starts_with("{\"messages_total\": 16, \"rps\": 3.0, \"interval_messages\": 6, "));
    /// ```
    pub fn to_json_line(&self, previous: Option<&Snapshot>) -> String {
        json_object_line(&self.json_fields(previous))
    }

    /// The JSON line's fields, in its order: the seed's first.
    fn json_fields(&self, previous: Option<&Snapshot>) -> Vec<(&'static str, Value)> {
        #[cfg_attr(not(feature = "cluster"), allow(unused_mut))]
        let mut fields = vec![
            ("messages_total", self.messages_total.into()),
            ("rps", rounded(self.rps(previous), 2)),
            ("interval_messages", self.interval_messages(previous).into()),
            ("avg_service_ms", rounded(self.avg_service_ms, 4)),
            ("p50_service_ms", rounded(self.p50_service_ms, 4)),
            ("p99_service_ms", rounded(self.p99_service_ms, 4)),
            ("connections", self.connections_open.into()),
            ("connections_total", self.connections_total.into()),
            ("refused", self.connections_refused.into()),
            ("deliveries", self.deliveries.into()),
            ("slow_consumers", self.slow_consumers.into()),
            ("protocol_errors", self.protocol_errors.into()),
            ("timeouts", self.timeouts.into()),
            ("write_timeouts", self.write_timeouts.into()),
            ("bytes_in", self.bytes_in.into()),
            ("bytes_out", self.bytes_out.into()),
            ("tls_handshakes_failed", self.tls_handshakes_failed.into()),
        ];
        #[cfg(feature = "cluster")]
        if let Some(bus) = &self.bus {
            fields.extend(
                BUS_METRICS
                    .iter()
                    .map(|metric| (metric.name, Value::from((metric.value)(bus)))),
            );
        }
        fields
    }

    /// Messages relayed since `previous`, or over the whole life.
    fn interval_messages(&self, previous: Option<&Snapshot>) -> u64 {
        let before = previous.map_or(0, |prev| prev.messages_total);
        self.messages_total.saturating_sub(before)
    }

    /// Messages per second since `previous`, or over the whole life.
    fn rps(&self, previous: Option<&Snapshot>) -> f64 {
        let messages = self.interval_messages(previous);
        let seconds = self.uptime_s - previous.map_or(0.0, |prev| prev.uptime_s);
        if seconds > 0.0 {
            messages as f64 / seconds
        } else {
            0.0
        }
    }

    /// The Prometheus text exposition of the counters.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        for metric in &PROMETHEUS {
            let value = match (metric.value)(self) {
                Sample::Count(n) => n.to_string(),
                Sample::Seconds(s) => s.to_string(),
            };
            let (name, kind, help) = (metric.name, metric.kind, metric.help);
            out.push_str(&format!(
                "# HELP framechat_{name} {help}\n# TYPE framechat_{name} {kind}\nframechat_{name} {value}\n"
            ));
        }
        #[cfg(feature = "cluster")]
        if let Some(bus) = &self.bus {
            for metric in &BUS_METRICS {
                let (name, kind, help) = (metric.name, metric.kind, metric.help);
                let value = (metric.value)(bus);
                out.push_str(&format!(
                    "# HELP framechat_{name} {help}\n# TYPE framechat_{name} {kind}\nframechat_{name} {value}\n"
                ));
            }
        }
        out
    }
}

/// The periodic JSON line: each tick's line is measured against the previous tick, and is printed
/// only if it differs from the last line printed, so an idle server does not repeat itself.
#[derive(Debug)]
pub(super) struct PeriodicLine {
    previous: Snapshot,
    last_printed: Option<String>,
}

impl PeriodicLine {
    /// Starts measuring from `start`.
    pub(super) fn new(start: Snapshot) -> PeriodicLine {
        PeriodicLine {
            previous: start,
            last_printed: None,
        }
    }

    /// The line for the tick at `now`, or `None` if it would repeat the last one printed.
    pub(super) fn next(&mut self, now: Snapshot) -> Option<String> {
        let line = now.to_json_line(Some(&self.previous));
        self.previous = now;
        if self.last_printed.as_deref() == Some(line.as_str()) {
            return None;
        }
        self.last_printed = Some(line.clone());
        Some(line)
    }
}

/// One JSON object on one line, keys in the given order, with the seed's `": "` and `", "`
/// spacing (serde_json's map would sort the keys, its compact form drops the spaces).
fn json_object_line(fields: &[(&str, Value)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{}: {value}", Value::from(*key)))
        .collect();
    format!("{{{}}}", members.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            uptime_s: 4.0,
            messages_total: 10,
            connections_open: 2,
            connections_refused: 1,
            avg_service_ms: 0.123_456,
            p99_service_ms: 2.5,
            ..Snapshot::default()
        }
    }

    #[test]
    fn the_json_line_is_one_object_with_the_seeds_fields_first_in_order() {
        let line = sample().to_json_line(None);
        let parsed: serde_json::Map<String, Value> =
            serde_json::from_str(&line).expect("the line is a JSON object");
        assert_eq!(parsed["rps"], 2.5);
        assert_eq!(parsed["avg_service_ms"], 0.1235);
        assert_eq!(parsed["connections"], 2);
        assert_eq!(parsed["refused"], 1);
        assert_eq!(parsed["interval_messages"], 10);
        assert_eq!(parsed.len(), 17);
        let keys: Vec<usize> = [
            "\"messages_total\"",
            "\"rps\"",
            "\"avg_service_ms\"",
            "\"bytes_out\"",
        ]
        .iter()
        .map(|key| line.find(key).expect("the key is there"))
        .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn rps_is_measured_against_the_previous_snapshot() {
        let previous = Snapshot {
            uptime_s: 2.0,
            messages_total: 6,
            ..Snapshot::default()
        };
        let line = sample().to_json_line(Some(&previous));
        assert!(line.contains("\"rps\": 2.0,"), "{line}");
        assert!(line.contains("\"interval_messages\": 4,"), "{line}");
        assert!(line.contains("\"messages_total\": 10,"), "{line}");
        // No time passed: no rate, rather than a division by zero.
        let line = sample().to_json_line(Some(&sample()));
        assert!(line.contains("\"rps\": 0.0,"), "{line}");
    }

    #[test]
    fn an_idle_server_prints_one_idle_line_then_nothing_until_something_changes() {
        let at = |uptime_s: f64, messages_total: u64| Snapshot {
            uptime_s,
            messages_total,
            ..sample()
        };
        let mut periodic = PeriodicLine::new(at(0.0, 0));
        let busy = periodic
            .next(at(2.0, 10))
            .expect("a busy interval is printed");
        assert!(
            busy.contains("\"rps\": 5.0, \"interval_messages\": 10,"),
            "{busy}"
        );
        let idle = periodic
            .next(at(4.0, 10))
            .expect("the first idle line is printed");
        assert!(
            idle.contains("\"rps\": 0.0, \"interval_messages\": 0,"),
            "{idle}"
        );
        assert_eq!(periodic.next(at(6.0, 10)), None);
        assert_eq!(periodic.next(at(8.0, 10)), None);
        let woke = periodic
            .next(at(10.0, 14))
            .expect("activity is printed again");
        // Measured against the last tick, not the last line printed.
        assert!(
            woke.contains("\"rps\": 2.0, \"interval_messages\": 4,"),
            "{woke}"
        );
        let connected = Snapshot {
            connections_open: 3,
            ..at(12.0, 14)
        };
        assert!(
            periodic.next(connected).is_some(),
            "a changed counter is printed"
        );
    }

    #[test]
    fn the_final_line_starts_with_final_true_and_parses() {
        let line = sample().to_final_json_line();
        assert!(
            line.starts_with("{\"final\": true, \"messages_total\": 10, "),
            "{line}"
        );
        let parsed: Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(parsed["final"], true);
    }

    #[test]
    fn every_prometheus_metric_has_help_type_and_one_sample() {
        let text = sample().to_prometheus();
        for metric in &PROMETHEUS {
            let name = format!("framechat_{}", metric.name);
            assert!(text.contains(&format!("# HELP {name} {}\n", metric.help)));
            assert!(text.contains(&format!("# TYPE {name} {}\n", metric.kind)));
            assert_eq!(
                text.lines()
                    .filter(|l| l.starts_with(&format!("{name} ")))
                    .count(),
                1
            );
        }
        assert!(text.contains("\nframechat_messages_total 10\n"));
        assert!(text.contains("\nframechat_service_seconds_p99 0.0025\n"));
    }

    /// The names scripts and tests read (§11): fixed, whatever the order of the table.
    #[cfg(feature = "cluster")]
    const BUS_NAMES: [&str; 12] = [
        "bus_connected",
        "bus_published_total",
        "bus_publish_dropped_total",
        "bus_delivered_total",
        "bus_gap_messages_total",
        "bus_lost_tail_messages_total",
        "bus_lost_total",
        "bus_duplicates_total",
        "bus_stale_epoch_total",
        "bus_malformed_total",
        "bus_reconnects_total",
        "cluster_nodes_alive",
    ];

    #[cfg(feature = "cluster")]
    #[test]
    fn a_node_of_a_cluster_shows_each_bus_figure_under_its_name() {
        // FC-49: each figure under its name, in the Prometheus text and the JSON line.
        let bus = super::super::BusStats {
            connected: true,
            published: 1,
            publish_dropped: 2,
            delivered: 3,
            gap_messages: 4,
            lost_tail_messages: 5,
            duplicates: 6,
            stale_epoch: 7,
            malformed: 8,
            reconnects: 9,
            nodes_alive: 10,
        };
        let node = Snapshot {
            bus: Some(bus),
            ..sample()
        };
        let expected = [1, 1, 2, 3, 4, 5, 9, 6, 7, 8, 9, 10];
        let text = node.to_prometheus();
        let line: serde_json::Map<String, Value> =
            serde_json::from_str(&node.to_json_line(None)).expect("a JSON object");
        for (name, value) in BUS_NAMES.iter().zip(expected) {
            assert!(
                text.contains(&format!("\nframechat_{name} {value}\n")),
                "{name} {value} in {text}"
            );
            assert_eq!(line[*name], value, "{name} in the JSON line");
        }
        assert_eq!(line.len(), 17 + BUS_NAMES.len());
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn a_server_on_its_own_shows_no_bus_figure() {
        // FC-49: a server on its own reports none of them.
        let text = sample().to_prometheus();
        let line = sample().to_json_line(None);
        for name in BUS_NAMES {
            assert!(!text.contains(name), "{name} in {text}");
            assert!(!line.contains(name), "{name} in {line}");
        }
    }
}
