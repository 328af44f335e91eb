//! The server's counters and service-time histogram, and the seed's periodic metrics line.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Counters shared by every connection task. All are monotonic except `connections_open`.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    /// Connections accepted and admitted.
    pub connections_total: AtomicU64,
    /// Connections open now.
    pub connections_open: AtomicU64,
    /// Connections refused at the connection limit (FC-31).
    pub connections_refused: AtomicU64,
    /// Messages relayed (legacy frames and CHAT frames): the seed's `messages_total`.
    pub messages_total: AtomicU64,
    /// Frames written to sockets (echoes, broadcasts, pongs, welcomes, errors).
    pub deliveries: AtomicU64,
    /// Bytes read from sockets.
    pub bytes_in: AtomicU64,
    /// Bytes written to sockets.
    pub bytes_out: AtomicU64,
    /// Connections closed on a decoding error (FC-30).
    pub protocol_errors: AtomicU64,
    /// Connections closed by the idle timeout or the frame deadline (FC-32).
    pub timeouts: AtomicU64,
    /// Connections given up because a write made no progress for the write timeout.
    pub write_timeouts: AtomicU64,
    /// Service time of each message in nanoseconds: from its last byte decoded to its relay queued
    /// for every peer (the seed's "service time").
    service_ns: Mutex<Histogram<u64>>,
}

/// A copy of the metrics at one instant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Seconds since the server started.
    pub uptime_s: f64,
    /// See [`Metrics::connections_total`].
    pub connections_total: u64,
    /// See [`Metrics::connections_open`].
    pub connections_open: u64,
    /// See [`Metrics::connections_refused`].
    pub connections_refused: u64,
    /// See [`Metrics::messages_total`].
    pub messages_total: u64,
    /// See [`Metrics::deliveries`].
    pub deliveries: u64,
    /// See [`Metrics::bytes_in`].
    pub bytes_in: u64,
    /// See [`Metrics::bytes_out`].
    pub bytes_out: u64,
    /// Peers disconnected as slow consumers (FC-29), as the hub counts them.
    pub slow_consumers: u64,
    /// See [`Metrics::protocol_errors`].
    pub protocol_errors: u64,
    /// See [`Metrics::timeouts`].
    pub timeouts: u64,
    /// See [`Metrics::write_timeouts`].
    pub write_timeouts: u64,
    /// Mean service time, milliseconds.
    pub avg_service_ms: f64,
    /// Median service time, milliseconds.
    pub p50_service_ms: f64,
    /// 99th percentile service time, milliseconds.
    pub p99_service_ms: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Fresh counters; the clock for `uptime_s` starts now.
    pub fn new() -> Metrics {
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
            // 3 significant digits over 1 ns..1 h: a few tens of KiB, allocated once.
            service_ns: Mutex::new(
                Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                    .expect("static histogram bounds are valid"),
            ),
        }
    }

    /// Records one relayed message and its service time.
    pub fn record_message(&self, service: Duration) {
        self.messages_total.fetch_add(1, Relaxed);
        let ns = u64::try_from(service.as_nanos()).unwrap_or(u64::MAX).max(1);
        if let Ok(mut histogram) = self.service_ns.lock() {
            histogram.saturating_record(ns);
        }
    }

    /// Adds to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    /// A consistent-enough copy (each counter read once).
    pub fn snapshot(&self) -> Snapshot {
        let (avg, p50, p99) = match self.service_ns.lock() {
            Ok(h) if !h.is_empty() => (
                h.mean() / 1e6,
                h.value_at_quantile(0.5) as f64 / 1e6,
                h.value_at_quantile(0.99) as f64 / 1e6,
            ),
            _ => (0.0, 0.0, 0.0),
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
            // The hub counts them; the server fills this in (`Shared::snapshot`).
            slow_consumers: 0,
            protocol_errors: self.protocol_errors.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            write_timeouts: self.write_timeouts.load(Relaxed),
            avg_service_ms: avg,
            p50_service_ms: p50,
            p99_service_ms: p99,
        }
    }
}

impl Snapshot {
    /// The line printed when the server stops: [`to_json_line`](Snapshot::to_json_line) over the
    /// server's whole life, marked `"final": true`.
    pub fn to_final_json_line(&self) -> String {
        format!("{{\"final\": true, {}", &self.to_json_line(None)[1..])
    }

    /// The seed's periodic line (`messages_total`, `rps`, `avg_service_ms`) and framechat's additions,
    /// as one JSON object; `rps` is computed against `previous` (without one: over the whole life).
    pub fn to_json_line(&self, previous: Option<&Snapshot>) -> String {
        let rps = match previous {
            Some(prev) if self.uptime_s > prev.uptime_s => {
                (self.messages_total - prev.messages_total) as f64 / (self.uptime_s - prev.uptime_s)
            }
            Some(_) => 0.0,
            None if self.uptime_s > 0.0 => self.messages_total as f64 / self.uptime_s,
            None => 0.0,
        };
        format!(
            concat!(
                "{{\"messages_total\": {}, \"rps\": {:.2}, \"avg_service_ms\": {:.4}, ",
                "\"p50_service_ms\": {:.4}, \"p99_service_ms\": {:.4}, \"connections\": {}, ",
                "\"connections_total\": {}, \"refused\": {}, \"deliveries\": {}, ",
                "\"slow_consumers\": {}, \"protocol_errors\": {}, \"timeouts\": {}, \"write_timeouts\": {}, ",
                "\"bytes_in\": {}, \"bytes_out\": {}}}"
            ),
            self.messages_total,
            rps,
            self.avg_service_ms,
            self.p50_service_ms,
            self.p99_service_ms,
            self.connections_open,
            self.connections_total,
            self.connections_refused,
            self.deliveries,
            self.slow_consumers,
            self.protocol_errors,
            self.timeouts,
            self.write_timeouts,
            self.bytes_in,
            self.bytes_out,
        )
    }

    /// The Prometheus text exposition of the counters.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            out.push_str(&format!(
                "# HELP framechat_{name} {help}\n# TYPE framechat_{name} {kind}\nframechat_{name} {value}\n"
            ));
        };
        metric(
            "connections_open",
            "gauge",
            "Connections open now.",
            self.connections_open.to_string(),
        );
        metric(
            "connections_total",
            "counter",
            "Connections admitted.",
            self.connections_total.to_string(),
        );
        metric(
            "connections_refused_total",
            "counter",
            "Connections refused at the limit.",
            self.connections_refused.to_string(),
        );
        metric(
            "messages_total",
            "counter",
            "Messages relayed.",
            self.messages_total.to_string(),
        );
        metric(
            "deliveries_total",
            "counter",
            "Frames written to sockets.",
            self.deliveries.to_string(),
        );
        metric(
            "bytes_in_total",
            "counter",
            "Bytes read.",
            self.bytes_in.to_string(),
        );
        metric(
            "bytes_out_total",
            "counter",
            "Bytes written.",
            self.bytes_out.to_string(),
        );
        metric(
            "slow_consumers_total",
            "counter",
            "Peers closed as slow consumers.",
            self.slow_consumers.to_string(),
        );
        metric(
            "protocol_errors_total",
            "counter",
            "Connections closed on a protocol error.",
            self.protocol_errors.to_string(),
        );
        metric(
            "timeouts_total",
            "counter",
            "Connections closed by a timeout.",
            self.timeouts.to_string(),
        );
        metric(
            "write_timeouts_total",
            "counter",
            "Connections given up on a stalled write.",
            self.write_timeouts.to_string(),
        );
        metric(
            "service_seconds_p50",
            "gauge",
            "Median message service time.",
            (self.p50_service_ms / 1e3).to_string(),
        );
        metric(
            "service_seconds_p99",
            "gauge",
            "99th percentile message service time.",
            (self.p99_service_ms / 1e3).to_string(),
        );
        out
    }
}
