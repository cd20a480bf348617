//! Spend and traffic from the call records: totals per UTC day and per tenant, model and
//! provider, a bar chart of them as server-rendered SVG (no chart library, no script), and the
//! records as CSV. Money is summed exactly (integer picodollars) and shown unrounded.

use std::collections::BTreeMap;

use concord_models::{CallRecord, Money};
use maud::{html, Markup};
use serde::Serialize;

/// What a group of calls came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(super) struct Totals {
    /// Calls.
    pub calls: u64,
    /// Calls that did not end `ok`.
    pub failed: u64,
    /// Input tokens, as the vendors reported them.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// What they cost, in dollars (exact decimal text).
    #[serde(serialize_with = "dollars")]
    pub cost: Money,
    /// Calls whose cost is unknown (no usage came, or the model has no prices).
    pub unpriced: u64,
}

fn dollars<S: serde::Serializer>(m: &Money, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&m.dollars())
}

impl Totals {
    fn add(&mut self, r: &CallRecord) {
        self.calls += 1;
        self.failed += u64::from(r.outcome != "ok");
        self.input_tokens += r.usage.input_tokens.unwrap_or(0);
        self.output_tokens += r.usage.output_tokens.unwrap_or(0);
        match r.cost {
            Some(c) => self.cost = Money(self.cost.0.saturating_add(c.0)),
            None => self.unpriced += 1,
        }
    }
}

/// The calls of a period, summed several ways.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct Spend {
    /// Since, Unix milliseconds (the start of the first UTC day shown).
    pub since_ms: i64,
    /// Every call.
    pub total: Totals,
    /// Per UTC day (`YYYY-MM-DD`), every day of the period, empty ones included.
    pub days: BTreeMap<String, Totals>,
    /// Per tenant (`-` for calls without one).
    pub tenants: BTreeMap<String, Totals>,
    /// Per `provider/model`.
    pub models: BTreeMap<String, Totals>,
    /// Per provider.
    pub providers: BTreeMap<String, Totals>,
}

/// The start of the UTC day `days - 1` days before `now_ms`'s, so `days` whole days are shown.
pub(super) fn since(days: u32, now_ms: i64) -> i64 {
    let today = now_ms.div_euclid(86_400_000);
    (today - i64::from(days.max(1)) + 1) * 86_400_000
}

/// Sums `records` (all at or after `since_ms`) up to `now_ms`.
pub(super) fn sum(records: &[CallRecord], since_ms: i64, now_ms: i64) -> Spend {
    let mut s = Spend {
        since_ms,
        ..Spend::default()
    };
    let mut day = since_ms.div_euclid(86_400_000);
    while day <= now_ms.div_euclid(86_400_000) {
        s.days.insert(
            concord_models::date((day * 86_400) as u64),
            Totals::default(),
        );
        day += 1;
    }
    for r in records {
        s.total.add(r);
        s.days
            .entry(concord_models::date((r.at_ms.max(0) / 1000) as u64))
            .or_default()
            .add(r);
        s.tenants
            .entry(r.tenant.clone().unwrap_or_else(|| "-".into()))
            .or_default()
            .add(r);
        s.models
            .entry(format!("{}/{}", r.provider, r.model))
            .or_default()
            .add(r);
        s.providers.entry(r.provider.clone()).or_default().add(r);
    }
    s
}

/// Dollars for people: the exact amount with its currency (`$0.00015 USD`).
pub(super) fn usd(m: Money) -> String {
    format!("${} USD", m.dollars())
}

/// A bar per day of `value`, as inline SVG with a text equivalent for screen readers.
pub(super) fn chart(
    title: &str,
    days: &BTreeMap<String, Totals>,
    value: impl Fn(&Totals) -> i64,
    label: impl Fn(&Totals) -> String,
) -> Markup {
    let (w, h, pad) = (640i64, 180i64, 24i64);
    let n = days.len().max(1) as i64;
    let most = days.values().map(&value).max().unwrap_or(0).max(1);
    let slot = (w - 2 * pad) / n;
    let bar = (slot * 7 / 10).max(2);
    let summary: Vec<String> = days
        .iter()
        .map(|(d, t)| format!("{d}: {}", label(t)))
        .collect();
    html! {
        figure.chart {
            figcaption { (title) }
            svg viewBox=(format!("0 0 {w} {h}")) role="img" aria-label=(format!("{title}. {}", summary.join("; "))) preserveAspectRatio="none" {
                line x1=(pad) y1=(h - pad) x2=(w - pad) y2=(h - pad) stroke="#8a8f98" stroke-width="1" {}
                @for (i, (d, t)) in days.iter().enumerate() {
                    @let v = value(t);
                    // Scaled in i128: a day's cost in picodollars times the height overflows i64.
                    @let bh = ((i128::from(v) * i128::from(h - 2 * pad)) / i128::from(most)) as i64;
                    @let x = pad + i as i64 * slot + (slot - bar) / 2;
                    rect.bar x=(x) y=(h - pad - bh) width=(bar) height=(bh.max(if v > 0 { 1 } else { 0 })) fill="#3b6fd8" {
                        title { (d) ": " (label(t)) }
                    }
                    @if n <= 10 || i as i64 % (n / 7 + 1) == 0 {
                        text x=(x + bar / 2) y=(h - 6) text-anchor="middle" font-size="11" fill="#4a4f58" { (&d[5..]) }
                    }
                }
            }
        }
    }
}

/// The records as CSV (RFC 4180), one line per call, money exact in dollars. A field a
/// spreadsheet would read as a formula (`=`, `+`, `-`, `@` first) is prefixed with `'`:
/// model names and tenants come from people. Hand-written: these few lines need no crate.
pub(super) fn csv(records: &[CallRecord]) -> String {
    let mut out = String::from(
        "id,at_utc,tenant,provider,model,stream,outcome,latency_ms,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,reasoning_tokens,cost_usd,input_usd_per_million,output_usd_per_million\r\n",
    );
    let num = |n: Option<u64>| n.map_or(String::new(), |n| n.to_string());
    for r in records {
        let (pin, pout) = r
            .prices
            .as_ref()
            .map_or((String::new(), String::new()), |p| {
                (
                    p.base.input.per_million_text(),
                    p.base.output.per_million_text(),
                )
            });
        let fields = [
            field(&r.id),
            field(&rfc3339(r.at_ms)),
            field(r.tenant.as_deref().unwrap_or("")),
            field(&r.provider),
            field(&r.model),
            r.stream.to_string(),
            field(&r.outcome),
            r.latency_ms.to_string(),
            num(r.usage.input_tokens),
            num(r.usage.output_tokens),
            num(r.usage.cache_read_tokens),
            num(r.usage.cache_write_tokens),
            num(r.usage.reasoning_tokens),
            r.cost.map_or(String::new(), Money::dollars),
            pin,
            pout,
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text != "-" {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(super) fn rfc3339(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    let (y, m, d) = concord_models::date::ymd(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        at_ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it_and_defuses_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(field("-"), "-");
    }

    #[test]
    fn times_are_utc_to_the_millisecond() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        // 2026-12-07T13:55:02.123Z, counted by hand from the epoch.
        assert_eq!(rfc3339(1_796_651_702_123), "2026-12-07T13:55:02.123Z");
    }

    #[test]
    fn a_period_shows_every_day_and_sums_exactly() {
        let day = 86_400_000;
        let now = 20_000 * day + 5_000;
        let since = since(3, now);
        assert_eq!(since, 19_998 * day);
        let rec = |at_ms: i64, cost: Option<i64>, outcome: &str| CallRecord {
            id: at_ms.to_string(),
            at_ms,
            tenant: Some("t".into()),
            provider: "p".into(),
            model: "m".into(),
            stream: false,
            outcome: outcome.into(),
            latency_ms: 1,
            usage: concord::Usage::new(Some(10), Some(5)),
            cost: cost.map(Money),
            prices: None,
        };
        let s = sum(
            &[
                rec(since, Some(1), "ok"),
                rec(now, Some(2), "rate_limit"),
                rec(now, None, "ok"),
            ],
            since,
            now,
        );
        assert_eq!(s.days.len(), 3);
        assert_eq!(s.total.calls, 3);
        assert_eq!(s.total.failed, 1);
        assert_eq!(s.total.unpriced, 1);
        assert_eq!(s.total.cost, Money(3));
        assert_eq!(s.total.input_tokens, 30);
        assert_eq!(s.days.values().nth(1).map(|t| t.calls), Some(0));
        assert_eq!(s.models["p/m"].calls, 3);
    }
}
