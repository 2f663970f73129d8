//! Kubernetes resource quantities ("100m", "10M", "1Gi") as integers.
//!
//! Follows `k8s.io/apimachinery/pkg/api/resource`: the grammar
//! `[+-]digits[.digits][suffix]` with decimal SI (`n u m k M G T P E`),
//! binary SI (`Ki Mi Gi Ti Pi Ei`) and exponent (`e3`, `E-2`) suffixes;
//! values are kept exactly to the nano, anything finer rounds up (away from
//! zero), and magnitudes are capped at 2^63-1 units like the real parser's
//! slow path (its int64 fast path keeps e.g. `12E` or `1e100` exactly; such
//! absurd sizes are capped here).

use std::fmt;
use std::str::FromStr;

/// Why a string is not a quantity. The messages are the real ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    #[error("unable to parse quantity's suffix")]
    Suffix,
}

/// How a quantity prefers to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `1k`, `500m`.
    DecimalSI,
    /// `1Ki`, `128Mi`.
    BinarySI,
    /// `1e3`, `5e-3`.
    DecimalExponent,
}

const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// The real parser caps magnitudes at the largest int64 (in units).
const MAX_NANOS: i128 = i64::MAX as i128 * NANOS_PER_UNIT;
/// Digits kept exactly while parsing; more are far beyond the cap or below a nano.
const MAX_MANTISSA: u128 = 10u128.pow(36);

/// A parsed quantity: an exact number of nano-units plus its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl Quantity {
    /// Parses a quantity string like `ParseQuantity` does.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        parse(s)
    }

    /// A quantity of `nanos` nano-units (capped like parsed values).
    pub fn from_nanos(nanos: i128, format: Format) -> Quantity {
        Quantity {
            nanos: nanos.clamp(-MAX_NANOS, MAX_NANOS),
            format,
        }
    }

    /// A quantity of `milli` milli-units (e.g. millicores).
    pub fn from_milli(milli: i64, format: Format) -> Quantity {
        Quantity::from_nanos(i128::from(milli) * 1_000_000, format)
    }

    /// A quantity of `value` whole units (e.g. bytes).
    pub fn from_value(value: i64, format: Format) -> Quantity {
        Quantity::from_nanos(i128::from(value) * NANOS_PER_UNIT, format)
    }

    /// The exact value in nano-units.
    pub fn nanos(&self) -> i128 {
        self.nanos
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// `MilliValue()`: milli-units, rounded up away from zero.
    pub fn milli_value(&self) -> i128 {
        div_away_from_zero(self.nanos, 1_000_000)
    }

    /// `Value()`: whole units, rounded up away from zero.
    pub fn value(&self) -> i128 {
        div_away_from_zero(self.nanos, NANOS_PER_UNIT)
    }

    /// The canonical string (`Quantity.String()`): `1Gi`, `500m`, `1e3`.
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let magnitude = self.nanos.unsigned_abs();
        let sign = if self.nanos < 0 { "-" } else { "" };
        let unit = NANOS_PER_UNIT as u128;
        let binary = self.format == Format::BinarySI
            && magnitude >= 1024 * unit
            && magnitude.is_multiple_of(unit);
        if binary {
            let mut mantissa = magnitude / unit;
            let mut exponent = 0usize;
            while exponent < BINARY_SUFFIXES.len() - 1 && mantissa.is_multiple_of(1024) {
                mantissa /= 1024;
                exponent += 1;
            }
            return format!("{sign}{mantissa}{}", BINARY_SUFFIXES[exponent]);
        }
        // Strip factors of ten, then step down to an exponent that is a
        // multiple of three, as `AsCanonicalBytes` does.
        let mut mantissa = magnitude;
        let mut exponent: i32 = -9;
        while mantissa.is_multiple_of(10) {
            mantissa /= 10;
            exponent += 1;
        }
        match exponent.rem_euclid(3) {
            1 => {
                mantissa *= 10;
                exponent -= 1;
            }
            2 => {
                mantissa *= 100;
                exponent -= 2;
            }
            _ => {}
        }
        let suffix = match (self.format, decimal_suffix(exponent)) {
            (Format::DecimalExponent, _) | (_, None) => {
                if exponent == 0 {
                    String::new()
                } else {
                    format!("e{exponent}")
                }
            }
            (_, Some(s)) => s.to_string(),
        };
        format!("{sign}{mantissa}{suffix}")
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Quantity, QuantityError> {
        parse(s)
    }
}

/// Parses `s` to milli-units (`MilliValue()`), e.g. `"100m"` -> 100, `"2"` -> 2000.
pub fn parse_milli(s: &str) -> Result<i128, QuantityError> {
    Ok(parse(s)?.milli_value())
}

/// Parses a CPU quantity to millicores, saturating at the i64 range.
pub fn parse_cpu_millis(s: &str) -> Result<i64, QuantityError> {
    let milli = parse(s)?.milli_value();
    Ok(milli.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// Parses a byte quantity (memory, storage) to whole bytes (`Value()`).
pub fn parse_bytes(s: &str) -> Result<i64, QuantityError> {
    // The parse cap keeps every value within the i64 range.
    let value = parse(s)?.value();
    Ok(value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// Canonical string of a milli-unit value in decimal SI (`1500` -> `"1500m"`).
pub fn format_milli(milli: i64) -> String {
    Quantity::from_milli(milli, Format::DecimalSI).canonical()
}

/// Canonical string of a byte value in binary SI (`1073741824` -> `"1Gi"`).
pub fn format_bytes(bytes: i64) -> String {
    Quantity::from_value(bytes, Format::BinarySI).canonical()
}

const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

fn decimal_suffix(exponent: i32) -> Option<&'static str> {
    Some(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

fn div_away_from_zero(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d == 0 {
        q
    } else if n > 0 {
        q + 1
    } else {
        q - 1
    }
}

/// (base, exponent, format) of a suffix, as the real `suffixer.interpret`.
fn interpret_suffix(suffix: &str) -> Result<(u32, i32, Format), QuantityError> {
    let decimal = |e| Ok((10, e, Format::DecimalSI));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => Ok((2, 10, Format::BinarySI)),
        "Mi" => Ok((2, 20, Format::BinarySI)),
        "Gi" => Ok((2, 30, Format::BinarySI)),
        "Ti" => Ok((2, 40, Format::BinarySI)),
        "Pi" => Ok((2, 50, Format::BinarySI)),
        "Ei" => Ok((2, 60, Format::BinarySI)),
        _ => {
            let rest = suffix
                .strip_prefix(['e', 'E'])
                .ok_or(QuantityError::Suffix)?;
            if rest.is_empty() {
                return Err(QuantityError::Suffix);
            }
            let exponent: i32 = rest.parse().map_err(|_| QuantityError::Suffix)?;
            Ok((10, exponent, Format::DecimalExponent))
        }
    }
}

fn parse(s: &str) -> Result<Quantity, QuantityError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(QuantityError::FormatWrong);
    }
    let mut pos = 0;
    let negative = match b[0] {
        b'-' => {
            pos += 1;
            true
        }
        b'+' => {
            pos += 1;
            false
        }
        _ => false,
    };
    // Digits are accumulated exactly up to MAX_MANTISSA; beyond that an
    // integer digit means "far above the cap" and a fraction digit only
    // matters for rounding up.
    let mut mantissa: u128 = 0;
    let mut pow10: i64 = 0;
    let mut huge = false;
    let mut sticky = false;
    while pos < b.len() && b[pos].is_ascii_digit() {
        let d = u128::from(b[pos] - b'0');
        if mantissa < MAX_MANTISSA {
            mantissa = mantissa * 10 + d;
        } else {
            huge = true;
        }
        pos += 1;
    }
    if pos < b.len() && b[pos] == b'.' {
        pos += 1;
        while pos < b.len() && b[pos].is_ascii_digit() {
            let d = u128::from(b[pos] - b'0');
            if mantissa < MAX_MANTISSA {
                mantissa = mantissa * 10 + d;
                pow10 -= 1;
            } else if d != 0 {
                sticky = true;
            }
            pos += 1;
        }
    }
    // The suffix: letters from the suffix alphabet, an optional sign, digits.
    let suffix_start = pos;
    while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < b.len() && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < b.len() && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos != b.len() {
        return Err(QuantityError::FormatWrong);
    }
    let (base, exponent, mut format) = interpret_suffix(&s[suffix_start..])?;

    let zero = mantissa == 0 && !sticky && !huge;
    let magnitude: i128 = if zero {
        0
    } else if huge {
        MAX_NANOS
    } else {
        scale_to_nanos(mantissa, pow10, base, exponent, sticky)
    };
    if format == Format::BinarySI && magnitude > 0 && magnitude < NANOS_PER_UNIT {
        // Fractions of a unit are not written in binary SI.
        format = Format::DecimalSI;
    }
    Ok(Quantity {
        nanos: if negative { -magnitude } else { magnitude },
        format,
    })
}

/// mantissa * 10^pow10 * suffix, in nanos, rounded up and capped.
fn scale_to_nanos(mantissa: u128, pow10: i64, base: u32, exponent: i32, sticky: bool) -> i128 {
    let mut value = mantissa;
    let mut pow10 = pow10 + 9;
    if base == 2 {
        match value.checked_mul(1u128 << exponent.clamp(0, 60)) {
            Some(v) => value = v,
            None => return MAX_NANOS,
        }
    } else {
        pow10 += i64::from(exponent);
    }
    if pow10 >= 0 {
        for _ in 0..pow10.min(40) {
            match value.checked_mul(10) {
                Some(v) if v <= MAX_NANOS as u128 => value = v,
                _ => return MAX_NANOS,
            }
        }
        // Dropped fraction digits are worth at least a nano here only when the
        // kept digits already exceed the cap, so they cannot change the result.
        return (value.min(MAX_NANOS as u128)) as i128;
    }
    let shift = -pow10;
    let (quotient, inexact) = if shift > 38 {
        (0, true)
    } else {
        let d = 10u128.pow(shift as u32);
        (value / d, !value.is_multiple_of(d))
    };
    let rounded = if inexact || sticky {
        quotient + 1
    } else {
        quotient
    };
    rounded.min(MAX_NANOS as u128) as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_the_real_parse_quantity() {
        // (input, nanos, format)
        let n = |units: i128| units * NANOS_PER_UNIT;
        let cases: &[(&str, i128, Format)] = &[
            ("0", 0, Format::DecimalSI),
            ("0m", 0, Format::DecimalSI),
            ("0Ki", 0, Format::BinarySI),
            ("-0", 0, Format::DecimalSI),
            ("1", n(1), Format::DecimalSI),
            ("1Ki", n(1024), Format::BinarySI),
            ("7Mi", n(7 << 20), Format::BinarySI),
            ("6Gi", n(6 << 30), Format::BinarySI),
            ("5Ti", n(5 << 40), Format::BinarySI),
            ("4Pi", n(4 << 50), Format::BinarySI),
            ("3Ei", n(3 << 60), Format::BinarySI),
            ("5n", 5, Format::DecimalSI),
            ("4u", 4_000, Format::DecimalSI),
            ("3m", 3_000_000, Format::DecimalSI),
            ("100m", 100_000_000, Format::DecimalSI),
            ("8k", n(8_000), Format::DecimalSI),
            ("7M", n(7_000_000), Format::DecimalSI),
            ("6G", n(6_000_000_000), Format::DecimalSI),
            ("5T", n(5_000_000_000_000), Format::DecimalSI),
            ("2P", n(2_000_000_000_000_000), Format::DecimalSI),
            ("1E", n(1_000_000_000_000_000_000), Format::DecimalSI),
            ("1E-3", 1_000_000, Format::DecimalExponent),
            ("1e3", n(1000), Format::DecimalExponent),
            ("1.3E+6", n(1_300_000), Format::DecimalExponent),
            ("0.5e-2", 5_000_000, Format::DecimalExponent),
            ("100.035k", n(100_035), Format::DecimalSI),
            ("0.5", 500_000_000, Format::DecimalSI),
            ("0.0005k", 500_000_000, Format::DecimalSI),
            ("10.035M", n(10_035_000), Format::DecimalSI),
            ("1.01E", n(1_010_000_000_000_000_000), Format::DecimalSI),
            // Rounds up to the next nano.
            ("3.001n", 4, Format::DecimalSI),
            ("1.1E-9", 2, Format::DecimalExponent),
            ("0.0000000001", 1, Format::DecimalSI),
            ("0.00000012345", 124, Format::DecimalSI),
            ("0.5e-9", 1, Format::DecimalExponent),
            ("1e-999999", 1, Format::DecimalExponent),
            // Capped at 2^63-1 units.
            ("9Ei", MAX_NANOS, Format::BinarySI),
            ("9223372036854775807Ki", MAX_NANOS, Format::BinarySI),
            ("1e100", MAX_NANOS, Format::DecimalExponent),
            (
                "123456789012345678901234567890123456789012",
                MAX_NANOS,
                Format::DecimalSI,
            ),
            // Deviation: the real fast path keeps "12E" exact (1.2e19); we cap.
            ("12E", MAX_NANOS, Format::DecimalSI),
            // Fractional binary.
            ("100.035Ki", 102_435_840_000_000, Format::BinarySI),
            ("0.5Mi", n(512 * 1024), Format::BinarySI),
            // Fractions of a unit in binary SI become decimal.
            ("0.000000000001Ki", 2, Format::DecimalSI),
            (".001", 1_000_000, Format::DecimalSI),
            (".0001k", 100_000_000, Format::DecimalSI),
            ("1.", n(1), Format::DecimalSI),
            ("1.G", n(1_000_000_000), Format::DecimalSI),
            (".", 0, Format::DecimalSI),
            ("-.", 0, Format::DecimalSI),
            ("+5", n(5), Format::DecimalSI),
            ("-5m", -5_000_000, Format::DecimalSI),
            ("-1Gi", -n(1 << 30), Format::BinarySI),
            (
                "0.00000000000000000000000000000000000000000001",
                1,
                Format::DecimalSI,
            ),
        ];
        for &(input, nanos, format) in cases {
            let q = Quantity::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!((q.nanos(), q.format()), (nanos, format), "{input}");
        }
    }

    #[test]
    fn rejects_garbage() {
        let cases: &[(&str, QuantityError)] = &[
            ("", QuantityError::FormatWrong),
            ("1.1.M", QuantityError::FormatWrong),
            ("1+1.0M", QuantityError::FormatWrong),
            ("0.1mi", QuantityError::Suffix),
            ("0.1am", QuantityError::FormatWrong),
            ("aoeu", QuantityError::FormatWrong),
            (".5i", QuantityError::Suffix),
            ("1i", QuantityError::Suffix),
            ("-3.01i", QuantityError::Suffix),
            ("-3.01e-", QuantityError::Suffix),
            ("1e", QuantityError::Suffix),
            ("1K", QuantityError::Suffix),
            ("1ki", QuantityError::Suffix),
            ("1e99999999999", QuantityError::Suffix),
            (" 1", QuantityError::FormatWrong),
            ("1 ", QuantityError::FormatWrong),
            ("1 Gi", QuantityError::FormatWrong),
            ("1Gb", QuantityError::FormatWrong),
            // The real parser reads "-1" as a suffix here.
            ("--1", QuantityError::Suffix),
        ];
        for (input, want) in cases {
            assert_eq!(
                Quantity::parse(input).err().as_ref(),
                Some(want),
                "{input:?}"
            );
        }
    }

    #[test]
    fn canonical_strings() {
        let cases: &[(&str, &str)] = &[
            ("1Ki", "1Ki"),
            ("1024Mi", "1Gi"),
            ("300Mi", "300Mi"),
            ("1025Ki", "1025Ki"),
            ("1000M", "1G"),
            (".001Ki", "1024m"),
            (".000001Ki", "1024u"),
            (".000000001Ki", "1024n"),
            (".000000000001Ki", "2n"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("1500", "1500"),
            ("2000", "2k"),
            ("1080m", "1080m"),
            ("0.0001", "100u"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("12e6", "12e6"),
            ("80e-3", "80e-3"),
            ("0.001e0", "1e-3"),
            ("1000e-12", "1e-9"),
            ("5Ki", "5Ki"),
            ("1023", "1023"),
            ("500m", "500m"),
            ("0", "0"),
            ("0Gi", "0"),
            ("-100m", "-100m"),
            ("-1Gi", "-1Gi"),
            ("9Ei", "9223372036854775807"),
            ("3.5Gi", "3584Mi"),
            ("0.5Ki", "512"),
            ("1.5Ki", "1536"),
        ];
        for (input, want) in cases {
            let q = Quantity::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(q.to_string(), *want, "{input}");
            // The canonical form parses back to the same value.
            assert_eq!(
                Quantity::parse(want).map(|p| p.nanos()),
                Ok(q.nanos()),
                "{want}"
            );
        }
    }

    #[test]
    fn helpers_round_up_away_from_zero() {
        let cases: &[(&str, i64, i64)] = &[
            // (input, millis, bytes/value)
            ("100m", 100, 1),
            ("0.5", 500, 1),
            ("1", 1000, 1),
            ("2", 2000, 2),
            ("1e3", 1_000_000, 1000),
            ("0.1m", 1, 1),
            ("1Ki", 1_024_000, 1024),
            ("128Mi", 134_217_728_000, 134_217_728),
            ("-0.5", -500, -1),
            ("-1.5m", -2, -1),
            ("9Ei", i64::MAX, i64::MAX),
        ];
        for &(input, millis, bytes) in cases {
            assert_eq!(parse_cpu_millis(input), Ok(millis), "{input}");
            assert_eq!(parse_bytes(input), Ok(bytes), "{input}");
        }
        assert_eq!(parse_milli("9Ei"), Ok(i128::from(i64::MAX) * 1000));
        assert_eq!(parse_cpu_millis("x"), Err(QuantityError::FormatWrong));
        assert_eq!(parse_bytes("1Zi"), Err(QuantityError::FormatWrong));
    }

    #[test]
    fn formatting_helpers() {
        let milli: &[(i64, &str)] = &[
            (0, "0"),
            (1, "1m"),
            (1000, "1"),
            (1500, "1500m"),
            (2_000_000, "2k"),
            (-250, "-250m"),
        ];
        for &(v, want) in milli {
            assert_eq!(format_milli(v), want, "{v}");
        }
        let bytes: &[(i64, &str)] = &[
            (0, "0"),
            (512, "512"),
            (1024, "1Ki"),
            (1 << 30, "1Gi"),
            (1500, "1500"),
            (3 << 29, "1536Mi"),
        ];
        for &(v, want) in bytes {
            assert_eq!(format_bytes(v), want, "{v}");
        }
    }

    #[test]
    fn milli_and_value_constructors() {
        assert_eq!(Quantity::from_milli(1, Format::DecimalSI).to_string(), "1m");
        assert_eq!(
            Quantity::from_milli(1024, Format::BinarySI).to_string(),
            "1024m"
        );
        assert_eq!(
            Quantity::from_value(1_000_000, Format::DecimalExponent).to_string(),
            "1e6"
        );
        assert_eq!(
            Quantity::from_value(1024 * 1024, Format::BinarySI).to_string(),
            "1Mi"
        );
        assert_eq!(
            Quantity::from_nanos(i128::MAX, Format::DecimalSI).nanos(),
            MAX_NANOS
        );
    }
}
