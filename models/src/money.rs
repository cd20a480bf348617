//! Money, exactly: integer picodollars (10⁻¹² USD). A price is picodollars per token — the
//! same number as microdollars per million tokens — so a vendor's list price ($0.075 per
//! million, $0.01875 per million) is a whole number, and a call's cost (tokens × price) is exact
//! with no rounding at all. The one rounding rule is at the edge where a price comes in with
//! more precision than that (an imported per-token float such as `3.3333e-07`): it is rounded
//! half to even, once, to the picodollar per token, and the import reports it; a price typed by
//! a person with more precision is refused instead.

use std::fmt;

/// An amount of money in picodollars (10⁻¹² USD). `i64` holds ±$9.2 million per amount; sums
/// over many calls use [`Money::checked_add`] and say so when they would overflow.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub i64);

/// A price per token, in picodollars (= microdollars per million tokens).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Price(pub i64);

/// Picodollars in a dollar.
pub const PICO_PER_DOLLAR: i64 = 1_000_000_000_000;

/// Why a decimal amount cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a decimal number.
    #[error("{0:?} is not a decimal number of dollars")]
    NotANumber(String),
    /// Below zero.
    #[error("{0:?} is negative; prices are zero or more")]
    Negative(String),
    /// More decimals than the money type holds.
    #[error("{0:?} has more precision than a millionth of a dollar per million tokens (the money type's unit); round it")]
    TooPrecise(String),
    /// Too large.
    #[error("{0:?} is too large")]
    TooLarge(String),
    /// An amount with more decimals than a picodollar.
    #[error("{0:?} has more decimals than a picodollar (10^-12 dollars)")]
    BelowPicodollar(String),
}

/// A decimal string as an integer count of `10^-scale` units: `"0.075"` at scale 6 is 75000.
/// `Err(true)` when it has more decimals than `scale` (the digits beyond are not all zero).
fn parse_decimal(text: &str, scale: u32) -> Result<i128, MoneyError> {
    let t = text.trim();
    let bad = || MoneyError::NotANumber(text.to_owned());
    let (neg, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    // An exponent (`1.5e-07`): shift the point.
    let (mantissa, exp) = match t.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().map_err(|_| bad())?),
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let digits = format!("{int}{frac}");
    // value = digits × 10^(exp − len(frac)); in units: × 10^(scale + exp − len(frac)).
    let shift = scale as i32 + exp - frac.len() as i32;
    let digits = digits.trim_start_matches('0');
    let value: i128 = if digits.is_empty() {
        0
    } else if shift >= 0 {
        let base: i128 = digits
            .parse()
            .map_err(|_| MoneyError::TooLarge(text.to_owned()))?;
        base.checked_mul(
            10i128
                .checked_pow(shift as u32)
                .ok_or_else(|| MoneyError::TooLarge(text.to_owned()))?,
        )
        .ok_or_else(|| MoneyError::TooLarge(text.to_owned()))?
    } else {
        let cut = (-shift) as usize;
        let (keep, dropped) = if digits.len() > cut {
            digits.split_at(digits.len() - cut)
        } else {
            ("", digits)
        };
        if dropped.bytes().any(|b| b != b'0') {
            return Err(MoneyError::TooPrecise(text.to_owned()));
        }
        if keep.is_empty() {
            0
        } else {
            keep.parse()
                .map_err(|_| MoneyError::TooLarge(text.to_owned()))?
        }
    };
    if neg && value != 0 {
        return Err(MoneyError::Negative(text.to_owned()));
    }
    Ok(value)
}

impl Price {
    /// A price given in dollars per million tokens (`"0.075"`, `"15"`): exact, or refused when it
    /// has more than six decimals (a millionth of a dollar per million tokens is the unit).
    pub fn per_million(dollars: &str) -> Result<Price, MoneyError> {
        let units = parse_decimal(dollars, 6)?;
        i64::try_from(units)
            .map(Price)
            .map_err(|_| MoneyError::TooLarge(dollars.to_owned()))
    }

    /// A price given in dollars per token (LiteLLM's `1.5e-07`), written as its shortest
    /// decimal: exact when it fits the unit, else rounded half to even to it — the one place
    /// concord rounds money. The flag says whether it was rounded.
    pub fn per_token(dollars: f64) -> Result<(Price, bool), MoneyError> {
        if !dollars.is_finite() {
            return Err(MoneyError::NotANumber(dollars.to_string()));
        }
        if dollars < 0.0 {
            return Err(MoneyError::Negative(dollars.to_string()));
        }
        // Rust writes an f64 as the shortest decimal that reads back as it: what the file said.
        let text = format!("{dollars}");
        match parse_decimal(&text, 12) {
            Ok(units) => i64::try_from(units)
                .map(|u| (Price(u), false))
                .map_err(|_| MoneyError::TooLarge(text)),
            Err(MoneyError::TooPrecise(_)) => {
                // Half to even on the scaled value, once.
                let scaled = dollars * 1e12;
                let floor = scaled.floor();
                let frac = scaled - floor;
                let rounded = if frac > 0.5 || (frac == 0.5 && (floor as i64) % 2 == 1) {
                    floor + 1.0
                } else {
                    floor
                };
                Ok((Price(rounded as i64), true))
            }
            Err(e) => Err(e),
        }
    }

    /// Dollars per million tokens, exact (`"0.075"`).
    pub fn per_million_text(self) -> String {
        decimal(self.0 as i128, 6)
    }

    /// The cost of `tokens` at this price.
    pub fn times(self, tokens: u64) -> Money {
        let v = i128::from(self.0) * i128::from(tokens);
        Money(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl Money {
    /// An amount given in dollars (`"12.50"`): exact to the picodollar, or refused (a budget,
    /// a limit: never rounded).
    pub fn from_dollars(dollars: &str) -> Result<Money, MoneyError> {
        let units = parse_decimal(dollars, 12).map_err(|e| match e {
            MoneyError::TooPrecise(t) => MoneyError::BelowPicodollar(t),
            other => other,
        })?;
        i64::try_from(units)
            .map(Money)
            .map_err(|_| MoneyError::TooLarge(dollars.to_owned()))
    }

    /// The sum, or `None` past ±$9.2 million.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// Dollars, exact, without trailing zeros (`"0.005615"`).
    pub fn dollars(self) -> String {
        decimal(self.0 as i128, 12)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}", self.dollars())
    }
}

/// `units × 10^-scale` as a decimal without trailing zeros.
fn decimal(units: i128, scale: u32) -> String {
    let neg = units < 0;
    let units = units.unsigned_abs();
    let pow = 10u128.pow(scale);
    let (int, frac) = (units / pow, units % pow);
    let mut out = if neg {
        format!("-{int}")
    } else {
        int.to_string()
    };
    if frac != 0 {
        let f = format!("{frac:0width$}", width = scale as usize);
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_dollars_are_exact_or_refused() {
        assert_eq!(Money::from_dollars("12.5"), Ok(Money(12_500_000_000_000)));
        assert_eq!(Money::from_dollars("0.000000000001"), Ok(Money(1)));
        assert!(matches!(
            Money::from_dollars("0.0000000000001"),
            Err(MoneyError::BelowPicodollar(_))
        ));
        assert!(matches!(
            Money::from_dollars("-1"),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            Money::from_dollars("lots"),
            Err(MoneyError::NotANumber(_))
        ));
    }

    #[test]
    fn list_prices_are_exact_and_over_precise_ones_are_refused() {
        assert_eq!(Price::per_million("0.075").unwrap(), Price(75_000));
        assert_eq!(Price::per_million("15").unwrap(), Price(15_000_000));
        assert_eq!(Price::per_million("0.01875").unwrap(), Price(18_750));
        assert_eq!(Price::per_million("1.5e-1").unwrap(), Price(150_000));
        assert!(matches!(
            Price::per_million("0.0000001"),
            Err(MoneyError::TooPrecise(_))
        ));
        assert!(matches!(
            Price::per_million("-1"),
            Err(MoneyError::Negative(_))
        ));
        assert!(matches!(
            Price::per_million("lots"),
            Err(MoneyError::NotANumber(_))
        ));
        assert_eq!(Price(18_750).per_million_text(), "0.01875");
    }

    #[test]
    fn per_token_floats_read_as_written_and_round_half_even_beyond_the_unit() {
        assert_eq!(Price::per_token(1.5e-07).unwrap(), (Price(150_000), false));
        assert_eq!(Price::per_token(3e-06).unwrap(), (Price(3_000_000), false));
        assert_eq!(Price::per_token(1.875e-08).unwrap(), (Price(18_750), false));
        // 2.5 picodollars a token: half to even gives 2; 3.5 gives 4.
        assert_eq!(Price::per_token(2.5e-12).unwrap(), (Price(2), true));
        assert_eq!(Price::per_token(3.5e-12).unwrap(), (Price(4), true));
        assert!(Price::per_token(-1e-6).is_err());
    }

    #[test]
    fn costs_are_exact_and_written_without_trailing_zeros() {
        let m = Price::per_million("2.5").unwrap().times(86);
        assert_eq!(m.dollars(), "0.000215");
        assert_eq!(Money(0).dollars(), "0");
        assert_eq!(Money(PICO_PER_DOLLAR * 3 / 2).to_string(), "$1.5");
    }
}
