//! A channel's built-in behaviour as data ([`ChannelSpec`]) and its text
//! form, the one `chan add` takes and `chan show` prints (PROTOCOL.md
//! §15): `key=value` items separated by spaces or newlines, a value in
//! double quotes when it holds spaces (`pattern="a b/#"`, with `\"` and
//! `\\` inside). Also the rule for channel names. Parsing and printing
//! only; what the settings do is `gate`'s business.

use std::fmt;

use crate::server::rules::check_route;

/// Longest channel name.
pub const MAX_NAME: usize = 64;
/// Largest `history` and `retain` a channel may ask for.
pub const MAX_DEPTH: usize = 100_000;

/// Checks a channel name: 1 to 64 bytes of letters, digits, `_`, `-`, `.`.
pub fn check_name(name: &str) -> Result<(), SpecError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(SpecError(format!(
            "'{name}' is not a channel name (1 to {MAX_NAME} letters, digits, '_', '-', '.')"
        )))
    }
}

/// Why a channel definition was refused; the text says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// A publication rate per publisher: a token bucket refilled at `count`
/// per `per` seconds, holding at most `burst` publications.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Publications allowed per `per`.
    pub count: f64,
    /// The period in seconds: 1, 60 or 3600 (`/s`, `/m`, `/h`).
    pub per: u32,
    /// How many may come at once after a quiet spell (at least 1).
    pub burst: u32,
}

impl Rate {
    /// Tokens added per second.
    pub fn per_second(&self) -> f64 {
        self.count / f64::from(self.per)
    }
}

/// What a channel does besides its Lua hooks. Every field but `pattern` is
/// optional; a spec with only a pattern changes nothing (a channel for its
/// hooks alone).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelSpec {
    /// The routes it governs: a pattern as `sub` takes it (`*`, `+`, `#`).
    pub pattern: String,
    /// Messages each of its routes keeps (0: none), instead of the
    /// server's `--history`.
    pub history: Option<usize>,
    /// A new subscriber gets up to this many stored messages of each
    /// matching route after its ACK, unasked (retain-last).
    pub retain: Option<usize>,
    /// Publications per publisher (per connection) over time.
    pub rate: Option<Rate>,
    /// Largest payload a client may publish, in bytes.
    pub max_payload: Option<usize>,
    /// Clients may not publish (the server's own code may: Lua, C).
    pub read_only: bool,
}

fn bad(text: String) -> SpecError {
    SpecError(text)
}

fn number(key: &str, v: &str, max: usize) -> Result<usize, SpecError> {
    v.parse::<usize>()
        .ok()
        .filter(|&n| n <= max)
        .ok_or_else(|| {
            bad(format!(
                "{key}={v}: a whole number from 0 to {max} is expected"
            ))
        })
}

/// `5`, `5/s`, `120/m`, `2.5/h`.
fn parse_rate(v: &str) -> Result<(f64, u32), SpecError> {
    let (count, per) = match v.split_once('/') {
        None => (v, 1),
        Some((c, "s")) => (c, 1),
        Some((c, "m")) => (c, 60),
        Some((c, "h")) => (c, 3600),
        Some(_) => return Err(bad(format!("rate={v}: the period is /s, /m or /h"))),
    };
    let n: f64 = count
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n > 0.0 && *n <= 1e9)
        .ok_or_else(|| {
            bad(format!(
                "rate={v}: a positive count is expected (5, 5/s, 120/m)"
            ))
        })?;
    Ok((n, per))
}

fn flag(key: &str, v: Option<&str>) -> Result<bool, SpecError> {
    match v {
        None | Some("true") | Some("yes") | Some("1") => Ok(true),
        Some("false") | Some("no") | Some("0") => Ok(false),
        Some(v) => Err(bad(format!("{key}={v}: true or false is expected"))),
    }
}

impl ChannelSpec {
    /// A spec governing `pattern` and doing nothing else yet.
    pub fn new(pattern: &str) -> ChannelSpec {
        ChannelSpec {
            pattern: pattern.to_string(),
            ..ChannelSpec::default()
        }
    }

    /// Reads the text form: `pattern=P`, `history=N`, `retain[=N]`,
    /// `rate=N[/s|/m|/h]`, `burst=N`, `max_payload=BYTES`,
    /// `read_only[=true|false]`, separated by spaces or newlines.
    /// `max_route` bounds the pattern as it bounds any route.
    pub fn parse(text: &str, max_route: usize) -> Result<ChannelSpec, SpecError> {
        let mut spec = ChannelSpec::default();
        let mut pattern = None;
        let (mut rate, mut burst) = (None, None);
        for (key, value) in items(text)? {
            let value = value.as_deref();
            let need = || value.ok_or_else(|| bad(format!("{key} needs a value ({key}=…)")));
            match key.as_str() {
                "pattern" => pattern = Some(need()?.to_string()),
                "history" => spec.history = Some(number(&key, need()?, MAX_DEPTH)?),
                "retain" => {
                    spec.retain = Some(match value {
                        None => 1,
                        Some(v) => number(&key, v, MAX_DEPTH)?,
                    })
                }
                "rate" => rate = Some(parse_rate(need()?)?),
                "burst" => {
                    let v = need()?;
                    burst = Some(
                        v.parse::<u32>()
                            .ok()
                            .filter(|&b| (1..=1_000_000).contains(&b))
                            .ok_or_else(|| {
                                bad(format!("burst={v}: a count from 1 to 1000000 is expected"))
                            })?,
                    );
                }
                "max_payload" => spec.max_payload = Some(number(&key, need()?, usize::MAX)?),
                "read_only" => spec.read_only = flag(&key, value)?,
                other => {
                    return Err(bad(format!(
                        "unknown setting '{other}' (pattern, history, retain, rate, burst, max_payload, read_only)"
                    )))
                }
            }
        }
        spec.pattern = pattern.ok_or_else(|| bad("pattern=… is missing".into()))?;
        spec.rate = match (rate, burst) {
            (Some((count, per)), burst) => Some(Rate {
                count,
                per,
                burst: burst.unwrap_or(count.ceil().clamp(1.0, 1e6) as u32),
            }),
            (None, Some(_)) => return Err(bad("burst needs a rate".into())),
            (None, None) => None,
        };
        spec.check(max_route)?;
        Ok(spec)
    }

    /// Checks what `parse` checks, for a spec built in code (a
    /// configuration file, a Lua table).
    pub fn check(&self, max_route: usize) -> Result<(), SpecError> {
        check_route(self.pattern.as_bytes(), max_route).map_err(|_| {
            bad(format!(
                "'{}' is not a route pattern (not empty, at most {max_route} bytes, no newline or NUL)",
                self.pattern
            ))
        })?;
        if self.history.is_some_and(|n| n > MAX_DEPTH) || self.retain.is_some_and(|n| n > MAX_DEPTH)
        {
            return Err(bad(format!("history and retain are at most {MAX_DEPTH}")));
        }
        if let Some(r) = self.rate {
            let ok = r.count.is_finite()
                && r.count > 0.0
                && r.count <= 1e9
                && matches!(r.per, 1 | 60 | 3600)
                && (1..=1_000_000).contains(&r.burst);
            if !ok {
                return Err(bad("rate: a positive count per 1, 60 or 3600 s and a burst from 1 to 1000000 are expected".into()));
            }
        }
        Ok(())
    }
}

/// `key` and `value` (`None` for a bare flag) of each whitespace-separated
/// item; a value starting with `"` runs to the closing `"`.
fn items(text: &str) -> Result<Vec<(String, Option<String>)>, SpecError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(first) = chars.next() else {
            return Ok(out);
        };
        let mut key = String::from(first);
        while let Some(c) = chars.next_if(|&c| c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        if chars.next_if_eq(&'=').is_none() {
            out.push((key, None));
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => value.extend(chars.next()),
                    Some(c) => value.push(c),
                    None => return Err(bad(format!("{key}=\"…: the closing quote is missing"))),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(c);
            }
        }
        out.push((key, Some(value)));
    }
}

/// The names of the settings, in the order `Display` prints them.
pub const SETTINGS: [&str; 7] = [
    "pattern",
    "history",
    "retain",
    "rate",
    "burst",
    "max_payload",
    "read_only",
];

/// A setting's value as a table gives it (a configuration file's
/// `[[channel]]`, a Lua `channels` entry), before it becomes text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SettingValue<'a> {
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fraction (a rate).
    Float(f64),
    /// Text.
    Text(&'a str),
}

/// The text-form item (`key=value`) of setting `key` given as `v` in a
/// table, for [`ChannelSpec::parse`] to read with every other: numbers and
/// text as they are, `retain = true` for `retain` (1), `read_only` as true
/// or false. `None` for `retain = false` (no retain). A boolean for any
/// other setting is refused. Whether `key` is a setting is `parse`'s to
/// say.
pub fn setting_item(key: &str, v: SettingValue<'_>) -> Result<Option<String>, SpecError> {
    Ok(Some(match v {
        SettingValue::Bool(false) if key == "retain" => return Ok(None),
        SettingValue::Bool(_) if key == "retain" => "retain".to_string(),
        SettingValue::Bool(b) if key == "read_only" => format!("read_only={b}"),
        SettingValue::Bool(_) => return Err(bad(format!("{key} is a boolean"))),
        SettingValue::Int(n) => format!("{key}={n}"),
        SettingValue::Float(n) => format!("{key}={n}"),
        SettingValue::Text(t) => format!("{key}={}", quoted(t)),
    }))
}

/// `v` as `parse` reads it back: bare, or quoted when it holds
/// whitespace, a quote or a backslash (or is empty).
pub fn quoted(v: &str) -> String {
    if !v.is_empty() && !v.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        return v.to_string();
    }
    let mut q = String::from("\"");
    for c in v.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The text form `parse` reads: one `key=value` per line, `pattern` first,
/// unset settings left out.
impl fmt::Display for ChannelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pattern={}", quoted(&self.pattern))?;
        if let Some(n) = self.history {
            write!(f, "\nhistory={n}")?;
        }
        if let Some(n) = self.retain {
            write!(f, "\nretain={n}")?;
        }
        if let Some(r) = self.rate {
            let unit = match r.per {
                60 => "m",
                3600 => "h",
                _ => "s",
            };
            write!(f, "\nrate={}/{unit}\nburst={}", r.count, r.burst)?;
        }
        if let Some(n) = self.max_payload {
            write!(f, "\nmax_payload={n}")?;
        }
        if self.read_only {
            f.write_str("\nread_only=true")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_setting_and_prints_it_back() {
        let s = ChannelSpec::parse(
            "pattern=\"sensors/+ \\\"kitchen\\\"\" history=10\nretain rate=120/m burst=5\n  max_payload=1024 read_only",
            1024,
        )
        .unwrap();
        assert_eq!(s.pattern, "sensors/+ \"kitchen\"");
        assert_eq!(s.history, Some(10));
        assert_eq!(s.retain, Some(1));
        assert_eq!(
            s.rate,
            Some(Rate {
                count: 120.0,
                per: 60,
                burst: 5
            })
        );
        assert_eq!(s.max_payload, Some(1024));
        assert!(s.read_only);
        let text = s.to_string();
        assert_eq!(
            text,
            "pattern=\"sensors/+ \\\"kitchen\\\"\"\nhistory=10\nretain=1\nrate=120/m\nburst=5\nmax_payload=1024\nread_only=true"
        );
        assert_eq!(ChannelSpec::parse(&text, 1024).unwrap(), s);
    }

    #[test]
    fn rate_defaults_its_burst_to_its_count() {
        let s = ChannelSpec::parse("pattern=a rate=2.5", 64).unwrap();
        assert_eq!(s.rate.map(|r| (r.per, r.burst)), Some((1, 3)));
        assert_eq!(s.rate.map(|r| r.per_second()), Some(2.5));
        let s = ChannelSpec::parse("pattern=a/#\nrate=1/h", 64).unwrap();
        assert_eq!(s.pattern, "a/#");
        assert_eq!(s.rate.map(|r| (r.per, r.burst)), Some((3600, 1)));
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let err = |t: &str| ChannelSpec::parse(t, 8).unwrap_err().0;
        assert_eq!(err("history=1"), "pattern=… is missing");
        assert!(err("pattern=a colour=red").starts_with("unknown setting 'colour'"));
        assert!(err("pattern=a history=x").starts_with("history=x: a whole number"));
        assert!(err("pattern=a history=100001").contains("from 0 to 100000"));
        assert!(err("pattern=a rate=0").starts_with("rate=0: a positive count"));
        assert!(err("pattern=a rate=5/d").starts_with("rate=5/d: the period"));
        assert_eq!(err("pattern=a burst=3"), "burst needs a rate");
        assert!(err("pattern=a read_only=maybe").contains("true or false"));
        assert!(err("pattern=").contains("not a route pattern"));
        assert!(err("pattern=\"a b").contains("closing quote"));
        assert!(err("pattern=123456789").contains("at most 8 bytes"));
        assert!(err("pattern=a history").starts_with("history needs a value"));
    }

    #[test]
    fn table_values_become_items_parse_reads() {
        let item = |k: &str, v| setting_item(k, v).unwrap();
        assert_eq!(
            item("retain", SettingValue::Bool(true)).as_deref(),
            Some("retain")
        );
        assert_eq!(item("retain", SettingValue::Bool(false)), None);
        assert_eq!(
            item("retain", SettingValue::Int(3)).as_deref(),
            Some("retain=3")
        );
        assert_eq!(
            item("read_only", SettingValue::Bool(false)).as_deref(),
            Some("read_only=false")
        );
        assert_eq!(
            item("rate", SettingValue::Float(2.5)).as_deref(),
            Some("rate=2.5")
        );
        assert_eq!(
            item("pattern", SettingValue::Text("a b/#")).as_deref(),
            Some("pattern=\"a b/#\"")
        );
        assert_eq!(
            setting_item("history", SettingValue::Bool(true)),
            Err(SpecError("history is a boolean".into()))
        );
        // Negative numbers reach parse, which says what is expected.
        let text = item("history", SettingValue::Int(-1)).unwrap();
        assert!(ChannelSpec::parse(&format!("pattern=a {text}"), 8)
            .unwrap_err()
            .0
            .starts_with("history=-1: a whole number"));
    }

    #[test]
    fn rates_per_second_and_their_periods_print_back() {
        let rate = |t: &str| ChannelSpec::parse(t, 64).unwrap().rate.unwrap();
        assert_eq!(rate("pattern=a rate=120/m").per_second(), 2.0);
        assert_eq!(rate("pattern=a rate=7200/h").per_second(), 2.0);
        assert_eq!(rate("pattern=a rate=3/s").per_second(), 3.0);
        for text in [
            "rate=1/h\nburst=1",
            "rate=0.5/m\nburst=4",
            "rate=3/s\nburst=3",
        ] {
            let full = format!("pattern=a\n{text}");
            assert_eq!(ChannelSpec::parse(&full, 64).unwrap().to_string(), full);
        }
        let r = rate("pattern=a rate=1e9");
        assert_eq!((r.count, r.burst), (1e9, 1_000_000));
        let err = |t: &str| ChannelSpec::parse(t, 64).unwrap_err().0;
        for bad in ["-1", "inf", "NaN", "1.5e9", "0/m"] {
            assert_eq!(
                err(&format!("pattern=a rate={bad}")),
                format!("rate={bad}: a positive count is expected (5, 5/s, 120/m)")
            );
        }
        assert_eq!(
            ChannelSpec::parse("pattern=a rate=0.01", 64)
                .unwrap()
                .rate
                .unwrap()
                .burst,
            1
        );
    }

    #[test]
    fn flags_read_both_ways() {
        let ro = |v: &str| {
            ChannelSpec::parse(&format!("pattern=a read_only={v}"), 64).map(|s| s.read_only)
        };
        for v in ["true", "yes", "1"] {
            assert_eq!(ro(v), Ok(true));
        }
        for v in ["false", "no", "0"] {
            assert_eq!(ro(v), Ok(false));
        }
        assert_eq!(
            ro("2"),
            Err(SpecError("read_only=2: true or false is expected".into()))
        );
        assert_eq!(
            ChannelSpec::parse("pattern=a retain=3 history=0", 64).map(|s| (s.retain, s.history)),
            Ok((Some(3), Some(0)))
        );
    }

    #[test]
    fn a_spec_made_in_code_is_checked_like_a_parsed_one() {
        let ok = |s: &ChannelSpec| s.check(64);
        let depth = |history, retain| ChannelSpec {
            history,
            retain,
            ..ChannelSpec::new("a/#")
        };
        assert_eq!(ok(&depth(Some(MAX_DEPTH), Some(MAX_DEPTH))), Ok(()));
        let too_deep = Err(SpecError("history and retain are at most 100000".into()));
        assert_eq!(ok(&depth(Some(MAX_DEPTH + 1), None)), too_deep);
        assert_eq!(ok(&depth(None, Some(MAX_DEPTH + 1))), too_deep);
        let with_rate = |count, per, burst| ChannelSpec {
            rate: Some(Rate { count, per, burst }),
            ..ChannelSpec::new("a")
        };
        for (count, per, burst) in [(1e9, 3600, 1_000_000), (0.001, 60, 1), (5.0, 1, 5)] {
            assert_eq!(
                ok(&with_rate(count, per, burst)),
                Ok(()),
                "{count} {per} {burst}"
            );
        }
        let bad_rate = Err(SpecError(
            "rate: a positive count per 1, 60 or 3600 s and a burst from 1 to 1000000 are expected"
                .into(),
        ));
        for (count, per, burst) in [
            (0.0, 1, 1),
            (-1.0, 1, 1),
            (f64::INFINITY, 1, 1),
            (f64::NAN, 1, 1),
            (1.1e9, 1, 1),
            (5.0, 2, 5),
            (5.0, 1, 0),
            (5.0, 1, 1_000_001),
        ] {
            assert_eq!(
                ok(&with_rate(count, per, burst)),
                bad_rate,
                "{count} {per} {burst}"
            );
        }
        assert_eq!(
            ChannelSpec::new("a\nb").check(64),
            Err(SpecError(
                "'a\nb' is not a route pattern (not empty, at most 64 bytes, no newline or NUL)"
                    .into()
            ))
        );
    }

    #[test]
    fn values_are_quoted_only_when_they_must_be() {
        assert_eq!(quoted("plain/#"), "plain/#");
        assert_eq!(quoted(""), "\"\"");
        assert_eq!(quoted("a b"), "\"a b\"");
        assert_eq!(quoted("a\tb"), "\"a\tb\"");
        assert_eq!(quoted("say \"hi\""), "\"say \\\"hi\\\"\"");
        assert_eq!(quoted("back\\slash"), "\"back\\\\slash\"");
        assert_eq!(quoted("q\"x"), "\"q\\\"x\"");
        // Each reads back as itself.
        for v in ["a b", "say \"hi\"", "back\\slash", "x=y"] {
            let spec = ChannelSpec::parse(&format!("pattern={}", quoted(v)), 64).unwrap();
            assert_eq!(spec.pattern, v);
        }
        // Items: keys end at '=' or whitespace; bare flags have no value.
        assert_eq!(
            items("a=1  b\tc=\"x y\" d").unwrap(),
            [
                ("a".to_string(), Some("1".to_string())),
                ("b".to_string(), None),
                ("c".to_string(), Some("x y".to_string())),
                ("d".to_string(), None)
            ]
        );
        assert_eq!(SpecError("what to fix".into()).to_string(), "what to fix");
    }

    #[test]
    fn names() {
        for ok in ["a", "chat", "sensors.v2", "rate-limit_1"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for no in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(check_name(no).is_err(), "{no}");
        }
    }
}
