//! The configuration file's `[[channel]]` tables: built-in channels
//! (PROTOCOL.md §15) declared by the operator, with the settings `chan add`
//! takes, each a TOML key:
//!
//! ```toml
//! [[channel]]
//! name = "doors"
//! pattern = "home/door/+"
//! history = 10          # also: retain (true or N), rate ("5/s" or 5),
//! read_only = true      # burst, max_payload; doc (a note, not used)
//! ```
//!
//! Checking turns each table into the text form `ChannelSpec::parse`
//! reads, so a setting means exactly what it means to `chan add`; errors
//! name the channel. Applying puts them in the config layer of
//! `server::channels`: at start, and at a reload only the entries that
//! changed, so `chan add` and Lua channels are never touched and an
//! unchanged channel keeps its rate buckets. It must not read files
//! (`check` does) nor judge settings itself (`ChannelSpec` does).

use serde::Deserialize;
use toml::{Spanned, Value};

use crate::server::channels::{self, setting_item, Channel, ChannelSpec, Origin, SettingValue};
use crate::server::{Hub, Level};

/// One `[[channel]]` as serde reads it. Settings stay TOML values until
/// checked, so a wrong one is reported with its channel's name.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// The channel's name (`chan show NAME`).
    pub name: Option<String>,
    /// The routes it governs.
    pub pattern: Option<Value>,
    /// Messages each of its routes keeps.
    pub history: Option<Value>,
    /// Stored messages a new subscriber gets (`true`: 1).
    pub retain: Option<Value>,
    /// Publications per publisher: `5`, `"5/s"`, `"120/m"`, `"1/h"`.
    pub rate: Option<Value>,
    /// Publications at once after a quiet spell.
    pub burst: Option<Value>,
    /// Largest payload a client may publish, bytes.
    pub max_payload: Option<Value>,
    /// Clients may not publish.
    pub read_only: Option<Value>,
    /// A note for the reader; not used.
    pub doc: Option<String>,
}

/// A checked `[[channel]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigChannel {
    /// Its name.
    pub name: String,
    /// Its pattern and settings.
    pub spec: ChannelSpec,
}

/// Checks the `[[channel]]` tables against `max_route`: the channels, and
/// each problem with the byte offset of its table in the file.
pub(super) fn check(
    tables: &[Spanned<ChannelConfig>],
    max_route: usize,
) -> (Vec<ConfigChannel>, Vec<(usize, String)>) {
    let mut out: Vec<ConfigChannel> = Vec::new();
    let mut errors = Vec::new();
    for t in tables {
        let at = t.span().start;
        match one(t.get_ref(), max_route) {
            Ok(c) if out.iter().any(|o| o.name == c.name) => {
                errors.push((at, format!("channel '{}' is declared twice", c.name)));
            }
            Ok(c) => out.push(c),
            Err(e) => errors.push((at, e)),
        }
    }
    (out, errors)
}

fn one(t: &ChannelConfig, max_route: usize) -> Result<ConfigChannel, String> {
    let name = t.name.as_deref().ok_or("a [[channel]] needs a name")?;
    let fail = |e: &dyn std::fmt::Display| format!("channel '{name}': {e}");
    channels::check_name(name).map_err(|e| fail(&e))?;
    let settings = [
        ("pattern", &t.pattern),
        ("history", &t.history),
        ("retain", &t.retain),
        ("rate", &t.rate),
        ("burst", &t.burst),
        ("max_payload", &t.max_payload),
        ("read_only", &t.read_only),
    ];
    let mut text = String::new();
    for (key, value) in settings {
        let value = match value {
            None => continue,
            Some(Value::Boolean(b)) => SettingValue::Bool(*b),
            Some(Value::Integer(n)) => SettingValue::Int(*n),
            Some(Value::Float(n)) => SettingValue::Float(*n),
            Some(Value::String(s)) => SettingValue::Text(s),
            Some(other) => {
                return Err(fail(&format!(
                    "{key} cannot be a TOML {}",
                    other.type_str()
                )))
            }
        };
        if let Some(item) = setting_item(key, value).map_err(|e| fail(&e))? {
            text.push_str(&item);
            text.push('\n');
        }
    }
    let spec = ChannelSpec::parse(&text, max_route).map_err(|e| fail(&e))?;
    Ok(ConfigChannel {
        name: name.to_string(),
        spec,
    })
}

/// Puts `new` in the hub's config layer where it differs from `old` (all
/// of it at start, `old` empty): removed names go, new and changed ones
/// are defined, each logged. Checked entries are never refused; if one
/// were, it is logged and the rest still applies.
pub(super) fn apply(hub: &mut Hub, old: &[ConfigChannel], new: &[ConfigChannel]) {
    for gone in old.iter().filter(|o| !new.iter().any(|n| n.name == o.name)) {
        let result = channels::remove(hub, Origin::Config, &gone.name);
        log(hub, &gone.name, "removed", result);
    }
    for c in new {
        let what = match old.iter().find(|o| o.name == c.name) {
            Some(o) if o.spec == c.spec => continue,
            Some(_) => "changed",
            None => "defined",
        };
        let def = Channel::new(&c.name, c.spec.clone(), None);
        let result = channels::define(hub, Origin::Config, def);
        log(hub, &c.name, what, result);
    }
}

fn log(hub: &mut Hub, name: &str, what: &str, result: Result<(), channels::ChannelError>) {
    match result {
        Ok(()) => hub.log(
            Level::Info,
            "config",
            "server",
            &format!("channel '{name}' {what}"),
        ),
        Err(e) => hub.log(
            Level::Error,
            "config",
            "server",
            &format!("channel '{name}' not {what}: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(toml_text: &str) -> (Vec<ConfigChannel>, Vec<String>) {
        #[derive(Deserialize)]
        struct F {
            channel: Vec<Spanned<ChannelConfig>>,
        }
        let f: F = toml::from_str(toml_text).unwrap();
        let (ok, errors) = check(&f.channel, 64);
        (ok, errors.into_iter().map(|(_, e)| e).collect())
    }

    #[test]
    fn every_setting_reads_as_chan_add_reads_it() {
        let (ok, errors) = checked(
            "[[channel]]\nname = \"all\"\npattern = \"a b/#\"\nhistory = 10\nretain = true\n\
             rate = \"120/m\"\nburst = 5\nmax_payload = 1024\nread_only = true\ndoc = \"x\"\n\
             [[channel]]\nname = \"n\"\npattern = \"n\"\nretain = 3\nrate = 2.5\nread_only = false\n\
             [[channel]]\nname = \"off\"\npattern = \"o\"\nretain = false\nrate = 4\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        let want = |name: &str, text: &str| ConfigChannel {
            name: name.into(),
            spec: ChannelSpec::parse(text, 64).unwrap(),
        };
        assert_eq!(
            ok,
            [
                want(
                    "all",
                    "pattern=\"a b/#\" history=10 retain rate=120/m burst=5 max_payload=1024 read_only"
                ),
                want("n", "pattern=n retain=3 rate=2.5"),
                want("off", "pattern=o rate=4"),
            ]
        );
    }

    #[test]
    fn each_refusal_names_its_channel() {
        let (ok, errors) = checked(
            &("[[channel]]\npattern = \"x\"\n\
             [[channel]]\nname = \"bad name\"\npattern = \"x\"\n\
             [[channel]]\nname = \"nopat\"\nhistory = 1\n\
             [[channel]]\nname = \"fast\"\npattern = \"f\"\nrate = \"fast\"\n\
             [[channel]]\nname = \"neg\"\npattern = \"n\"\nhistory = -1\n\
             [[channel]]\nname = \"arr\"\npattern = [\"a\"]\n\
             [[channel]]\nname = \"flag\"\npattern = \"b\"\nmax_payload = true\n\
             [[channel]]\nname = \"long\"\npattern = \""
                .to_string()
                + &"r".repeat(65)
                + "\"\n[[channel]]\nname = \"ok\"\npattern = \"o\"\n\
                   [[channel]]\nname = \"ok\"\npattern = \"p\"\n"),
        );
        assert_eq!(ok.len(), 1);
        assert_eq!(errors.len(), 9, "{errors:?}");
        assert_eq!(errors[0], "a [[channel]] needs a name");
        assert!(errors[1].starts_with("channel 'bad name': 'bad name' is not a channel name"));
        assert_eq!(errors[2], "channel 'nopat': pattern=… is missing");
        assert!(errors[3].starts_with("channel 'fast': rate=fast: a positive count"));
        assert!(errors[4].starts_with("channel 'neg': history=-1: a whole number"));
        assert_eq!(errors[5], "channel 'arr': pattern cannot be a TOML array");
        assert_eq!(errors[6], "channel 'flag': max_payload is a boolean");
        assert!(errors[7].contains("at most 64 bytes"), "{}", errors[7]);
        assert_eq!(errors[8], "channel 'ok' is declared twice");
    }
}
