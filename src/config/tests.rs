//! Unit tests of the configuration checks that need no listener: limits
//! from the file, flags over them, and their cross-checks.

use std::path::Path;
use std::time::Duration;

use super::{check, Overrides, Where};

fn resolve(text: &str, o: &Overrides) -> Result<super::Resolved, Vec<super::ConfigError>> {
    check(text, "t.toml", Path::new("/"), o)
}

const BASE: &str = "[queues]\ndata_dir = \"none\"\n";

#[test]
fn back_pressure_limits_come_from_the_file_and_flags_win() {
    let text = format!(
        "{BASE}[limits]\nmax_output = 5000\noutput_high_water = 2000\noutput_low_water = 1000\noutput_timeout = 7\n"
    );
    let s = resolve(&text, &Overrides::default()).unwrap().settings;
    assert_eq!(
        (
            s.max_output,
            s.output_high_water,
            s.output_low_water,
            s.output_timeout
        ),
        (5000, 2000, 1000, Duration::from_secs(7))
    );
    let mut o = Overrides::default();
    o.limits.output_timeout = Some(0);
    o.limits.output_high_water = Some(3000);
    let s = resolve(&text, &o).unwrap().settings;
    assert_eq!(
        (s.output_high_water, s.output_low_water, s.output_timeout),
        (3000, 1000, Duration::ZERO)
    );
}

#[test]
fn a_low_water_mark_not_below_the_high_one_is_refused_at_its_line() {
    let text = format!("{BASE}[limits]\noutput_high_water = 1000\noutput_low_water = 1000\n");
    let errors = resolve(&text, &Overrides::default()).err().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].at, Where::Line(5));
    assert_eq!(
        errors[0].message,
        "[limits] output_low_water (1000) must be below output_high_water (1000)"
    );
    // Given as flags, the flags are blamed.
    let mut o = Overrides::default();
    o.limits.output_low_water = Some(1 << 30);
    let errors = resolve(BASE, &o).err().unwrap();
    assert_eq!(errors[0].at, Where::Flags);
}
