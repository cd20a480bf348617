//! What the layers report through the `metrics` facade (no exporter here: install any recorder,
//! `metrics-exporter-prometheus` say; the gateway will). Names follow the OpenTelemetry gen_ai
//! semantic conventions where one exists, `concord_dispatch_*` otherwise:
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `gen_ai.client.operation.duration` | histogram, seconds | `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.operation.name`, `error.type` on failure |
//! | `gen_ai.client.token.usage` | histogram, tokens | the above, `gen_ai.token.type` = `input` / `output` |
//! | `concord_dispatch_calls_total` | counter | `provider`, `model`, `outcome` (`ok` or the error kind) |
//! | `concord_dispatch_queue_depth` | gauge | `provider` |
//! | `concord_dispatch_queue_wait_seconds` | histogram | `provider` |
//! | `concord_dispatch_rejections_total` | counter | `provider`, `reason` (`queue_full`, `queue_timeout`, `breaker_open`) |
//! | `concord_dispatch_in_flight` | gauge | `provider` |
//! | `concord_dispatch_breaker_state` | gauge, 0 closed / 1 half-open / 2 open | `key` |
//! | `concord_dispatch_recoveries_total` | counter | `provider`, `outcome` (`resumed`, `checkpointed`) |

use std::time::Duration;

use concord::{ErrorKind, Usage};

use crate::breaker::BreakerState;

/// One call's outcome; the labels are taken by value (the call's ticket owns them already).
pub(crate) fn call(
    provider: String,
    model: String,
    operation: &'static str,
    took: Duration,
    result: Result<Option<&Usage>, ErrorKind>,
) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(kind) => kind.as_str(),
    };
    metrics::counter!("concord_dispatch_calls_total", "provider" => provider.clone(), "model" => model.clone(), "outcome" => outcome).increment(1);
    match result {
        Ok(usage) => {
            metrics::histogram!("gen_ai.client.operation.duration", "gen_ai.provider.name" => provider.clone(), "gen_ai.request.model" => model.clone(), "gen_ai.operation.name" => operation).record(took.as_secs_f64());
            if let Some(u) = usage {
                for (kind, tokens) in [("input", u.input_tokens), ("output", u.output_tokens)] {
                    if let Some(t) = tokens {
                        metrics::histogram!("gen_ai.client.token.usage", "gen_ai.provider.name" => provider.clone(), "gen_ai.request.model" => model.clone(), "gen_ai.operation.name" => operation, "gen_ai.token.type" => kind).record(t as f64);
                    }
                }
            }
        }
        Err(kind) => {
            metrics::histogram!("gen_ai.client.operation.duration", "gen_ai.provider.name" => provider, "gen_ai.request.model" => model, "gen_ai.operation.name" => operation, "error.type" => kind.as_str()).record(took.as_secs_f64());
        }
    }
}

pub(crate) fn queue(provider: &str, depth: usize) {
    metrics::gauge!("concord_dispatch_queue_depth", "provider" => provider.to_owned())
        .set(depth as f64);
}

pub(crate) fn waited(provider: &str, wait: Duration) {
    metrics::histogram!("concord_dispatch_queue_wait_seconds", "provider" => provider.to_owned())
        .record(wait.as_secs_f64());
}

pub(crate) fn rejected(provider: &str, reason: &'static str) {
    metrics::counter!("concord_dispatch_rejections_total", "provider" => provider.to_owned(), "reason" => reason).increment(1);
}

pub(crate) fn in_flight(provider: &str, n: usize) {
    metrics::gauge!("concord_dispatch_in_flight", "provider" => provider.to_owned()).set(n as f64);
}

pub(crate) fn breaker(key: &str, state: BreakerState) {
    let value = match state {
        BreakerState::Closed => 0.0,
        BreakerState::HalfOpen => 1.0,
        BreakerState::Open => 2.0,
    };
    metrics::gauge!("concord_dispatch_breaker_state", "key" => key.to_owned()).set(value);
}

pub(crate) fn recovery(provider: &str, outcome: &'static str) {
    metrics::counter!("concord_dispatch_recoveries_total", "provider" => provider.to_owned(), "outcome" => outcome).increment(1);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use concord::{ErrorKind, Provider, Request};
    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    use crate::testing::{ctx, Fake};
    use crate::{BreakerConfig, DispatchConfig, Dispatcher, Limits, RetryPolicy};

    /// Keeps every value reported, by name and labels.
    #[derive(Default, Clone)]
    struct Kept(Arc<Mutex<BTreeMap<String, f64>>>);

    struct Cell(String, Kept);

    impl metrics::CounterFn for Cell {
        fn increment(&self, n: u64) {
            *self.1 .0.lock().unwrap().entry(self.0.clone()).or_default() += n as f64;
        }
        fn absolute(&self, n: u64) {
            self.1 .0.lock().unwrap().insert(self.0.clone(), n as f64);
        }
    }

    impl metrics::GaugeFn for Cell {
        fn increment(&self, v: f64) {
            *self.1 .0.lock().unwrap().entry(self.0.clone()).or_default() += v;
        }
        fn decrement(&self, v: f64) {
            *self.1 .0.lock().unwrap().entry(self.0.clone()).or_default() -= v;
        }
        fn set(&self, v: f64) {
            self.1 .0.lock().unwrap().insert(self.0.clone(), v);
        }
    }

    impl metrics::HistogramFn for Cell {
        fn record(&self, _: f64) {
            // Histograms keep a count, so a test can tell how many were recorded.
            *self.1 .0.lock().unwrap().entry(self.0.clone()).or_default() += 1.0;
        }
    }

    fn name(key: &Key) -> String {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        format!("{}{{{}}}", key.name(), labels.join(","))
    }

    impl Recorder for Kept {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(Arc::new(Cell(name(key), self.clone())))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(Arc::new(Cell(name(key), self.clone())))
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::from_arc(Arc::new(Cell(name(key), self.clone())))
        }
    }

    #[test]
    fn calls_refusals_breaker_states_and_tokens_are_reported() {
        let kept = Kept::default();
        metrics::with_local_recorder(&kept, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let fake = Fake::failing(vec![ErrorKind::ServerError, ErrorKind::ServerError]);
                let d = Dispatcher::from_arc(
                    fake,
                    DispatchConfig {
                        retry: RetryPolicy::default().with_max_retries(0),
                        breaker: Some(BreakerConfig {
                            min_calls: 2,
                            cooldown: Duration::from_secs(60),
                            ..BreakerConfig::default()
                        }),
                        limits: Limits::default(),
                        ..DispatchConfig::default()
                    },
                )
                .unwrap();
                for _ in 0..3 {
                    let _ = d.generate(&Request::user("hi"), &ctx()).await;
                }
            });
        });
        let kept = kept.0.lock().unwrap();
        let get = |k: &str| {
            kept.get(k)
                .copied()
                .unwrap_or_else(|| panic!("{k} not reported: {:#?}", kept.keys()))
        };
        assert_eq!(
            get("concord_dispatch_calls_total{provider=fake,model=m,outcome=server_error}"),
            2.0
        );
        assert_eq!(
            get("concord_dispatch_calls_total{provider=fake,model=m,outcome=unavailable}"),
            1.0
        );
        assert_eq!(
            get("concord_dispatch_rejections_total{provider=fake,reason=breaker_open}"),
            1.0
        );
        assert_eq!(get("concord_dispatch_breaker_state{key=fake}"), 2.0);
        assert_eq!(get("concord_dispatch_in_flight{provider=fake}"), 0.0);
        assert_eq!(get("gen_ai.client.operation.duration{gen_ai.provider.name=fake,gen_ai.request.model=m,gen_ai.operation.name=chat,error.type=server_error}"), 2.0);
    }
}
