//! Business hours: per weekday one opening range or closed.
//!
//! Owns: the JSON shape stored in `tenant_config.hours` and used by the API,
//!
//! ```json
//! {"mon":{"open":"09:00","close":"18:00"},"tue":…,"sat":null,"sun":null}
//! ```
//!
//! (a missing day or `null` means closed; `{"closed":true}` is read as closed
//! too), the portal form fields, and the clock questions the bot asks ("open
//! now?", "when do we open next?") in the tenant's time zone.
//! Must not: model overnight ranges or several ranges per day. A range ends at
//! 23:59 at the latest; who needs more needs a richer type, not a flag here.

use std::fmt;

use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, TimeZone, Timelike, Weekday,
};
use chrono_tz::Tz;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Day keys of the JSON shape and of form fields, Monday first.
pub const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// Day labels for pages, Monday first.
const DAY_LABELS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

const TIME_FORMAT: &str = "%H:%M";

/// One day's opening range; `open` is strictly before `close`, or `close`
/// is midnight at the day's end ("24:00", held as 00:00): a business open
/// around the clock, or until midnight, has no closed minute at 23:59.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DayHours {
    open: NaiveTime,
    close: NaiveTime,
}

impl DayHours {
    /// Times are cut to whole minutes (the stored shape is "HH:MM").
    /// The error reads "open (18:00) must be before close (09:00)".
    pub fn new(open: NaiveTime, close: NaiveTime) -> Result<Self, String> {
        let (open, close) = (to_minute(open), to_minute(close));
        if open < close || close == MIDNIGHT {
            Ok(Self { open, close })
        } else {
            Err(format!(
                "open ({}) must be before close ({})",
                fmt_time(open),
                fmt_time(close)
            ))
        }
    }

    pub const fn open(&self) -> NaiveTime {
        self.open
    }

    pub const fn close(&self) -> NaiveTime {
        self.close
    }

    /// `open <= t < close` (every `t` from `open` on when it closes at
    /// midnight).
    pub fn contains(&self, t: NaiveTime) -> bool {
        self.open <= t && self.before_close(t)
    }

    fn before_close(&self, t: NaiveTime) -> bool {
        self.close == MIDNIGHT || t < self.close
    }
}

/// "09:00–18:00" (en dash).
impl fmt::Display for DayHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", fmt_time(self.open), fmt_close(self.close))
    }
}

/// Opening hours for each weekday, Monday first; `None` is closed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BusinessHours {
    days: [Option<DayHours>; 7],
}

/// Mon–Fri 09:00–18:00, Sat and Sun closed.
impl Default for BusinessHours {
    fn default() -> Self {
        let office = DayHours {
            open: hm(9, 0),
            close: hm(18, 0),
        };
        Self::new([
            Some(office),
            Some(office),
            Some(office),
            Some(office),
            Some(office),
            None,
            None,
        ])
    }
}

impl BusinessHours {
    /// Monday first. Always valid: each `DayHours` already is.
    pub const fn new(days: [Option<DayHours>; 7]) -> Self {
        Self { days }
    }

    /// Closed every day.
    pub const fn always_closed() -> Self {
        Self { days: [None; 7] }
    }

    /// Monday first.
    pub const fn days(&self) -> &[Option<DayHours>; 7] {
        &self.days
    }

    pub fn day(&self, weekday: Weekday) -> Option<DayHours> {
        self.days[weekday.num_days_from_monday() as usize]
    }

    /// A copy with one day changed.
    pub fn with_day(mut self, weekday: Weekday, hours: Option<DayHours>) -> Self {
        self.days[weekday.num_days_from_monday() as usize] = hours;
        self
    }

    /// Parses the stored/API JSON text.
    pub fn parse(json_text: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(json_text).map_err(|_| "hours are not valid JSON".to_owned())?;
        Self::parse_json(&value)
    }

    /// Parses the JSON shape. Every problem is reported, joined by "; ",
    /// each prefixed with the day: "tue: open (18:00) must be before close
    /// (09:00)", "wed.open: not a time, use HH:MM", "unknown day 'xyz'".
    pub fn parse_json(value: &Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err(
                r#"hours must be an object like {"mon":{"open":"09:00","close":"18:00"},"sun":null}"#
                    .to_owned(),
            );
        };
        let mut days = [None; 7];
        let mut seen = [false; 7];
        let mut errors = Vec::new();
        for (key, day_value) in map {
            let Some(index) = day_index(key) else {
                errors.push(format!("unknown day '{key}', use {}", DAY_KEYS.join(", ")));
                continue;
            };
            let day = DAY_KEYS[index];
            if std::mem::replace(&mut seen[index], true) {
                errors.push(format!("{day}: given twice"));
                continue;
            }
            match parse_day_json(day, day_value) {
                Ok(hours) => days[index] = hours,
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(Self::new(days))
        } else {
            Err(errors.join("; "))
        }
    }

    /// Reads the portal form: `hours_mon_open`, `hours_mon_close` ("HH:MM")
    /// and `hours_mon_closed` ("on" when ticked), for mon…sun. A ticked day is
    /// closed whatever its times say. Errors are joined by "; ".
    pub fn from_form(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut days = [None; 7];
        let mut errors = Vec::new();
        for (index, day) in DAY_KEYS.into_iter().enumerate() {
            let closed = get(&format!("hours_{day}_closed"))
                .is_some_and(|v| matches!(v.trim(), "on" | "true" | "1" | "yes"));
            if closed {
                continue;
            }
            let open = get(&format!("hours_{day}_open")).filter(|v| !v.trim().is_empty());
            let close = get(&format!("hours_{day}_close")).filter(|v| !v.trim().is_empty());
            if open.is_none() && close.is_none() {
                errors.push(format!(
                    "{day}: enter opening and closing times (HH:MM) or tick closed"
                ));
                continue;
            }
            let open = parse_field(day, "open", open.as_deref());
            let close = parse_close(day, close.as_deref());
            match (open, close) {
                (Ok(open), Ok(close)) => match DayHours::new(open, close) {
                    Ok(hours) => days[index] = Some(hours),
                    Err(e) => errors.push(format!("{day}: {e}")),
                },
                (open, close) => errors.extend(open.err().into_iter().chain(close.err())),
            }
        }
        if errors.is_empty() {
            Ok(Self::new(days))
        } else {
            Err(errors.join("; "))
        }
    }

    /// The JSON shape, always with all seven keys.
    pub fn to_json(&self) -> Value {
        let map = DAY_KEYS
            .iter()
            .zip(self.days)
            .map(|(key, hours)| {
                let v = match hours {
                    Some(h) => serde_json::json!({
                        "open": fmt_time(h.open),
                        "close": fmt_close(h.close),
                    }),
                    None => Value::Null,
                };
                ((*key).to_owned(), v)
            })
            .collect();
        Value::Object(map)
    }

    /// Open at this instant, judged by the wall clock of `at`'s time zone:
    /// `open <= t < close` on that local weekday.
    pub fn is_open_at(&self, at: DateTime<Tz>) -> bool {
        let local = at.naive_local();
        self.day(local.weekday())
            .is_some_and(|h| h.contains(local.time()))
    }

    /// The first opening strictly after `after`, in `after`'s time zone,
    /// looking up to 8 days ahead; `None` when never open. Meant for "closed
    /// now, we open again at …"; when open now it gives the next opening
    /// after the current one.
    ///
    /// DST: an opening time that falls twice (autumn) is its earlier instant.
    /// One that does not exist (spring gap) opens at the first existing local
    /// minute before closing (02:30 on the spring-forward day in Berlin opens at
    /// 03:00), which is where `is_open_at` turns true; a day whose whole range
    /// is missing is skipped.
    pub fn next_opening(&self, after: DateTime<Tz>) -> Option<DateTime<Tz>> {
        let tz = after.timezone();
        let today = after.date_naive();
        (0..=8u64)
            .filter_map(|offset| today.checked_add_days(Days::new(offset)))
            .filter_map(|date| {
                let hours = self.day(date.weekday())?;
                first_instant_open(&tz, date, hours)
            })
            .find(|opening| *opening > after)
    }

    /// One row per weekday for pages: ("Mon", "09:00–18:00") or ("Sat", "closed").
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        DAY_LABELS
            .iter()
            .zip(self.days)
            .map(|(label, hours)| {
                let text = hours.map_or_else(|| "closed".to_owned(), |h| h.to_string());
                (*label, text)
            })
            .collect()
    }
}

impl Serialize for BusinessHours {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct DayJson {
            open: String,
            close: String,
        }
        let mut map = serializer.serialize_map(Some(7))?;
        for (key, hours) in DAY_KEYS.iter().zip(self.days) {
            let day = hours.map(|h| DayJson {
                open: fmt_time(h.open),
                close: fmt_close(h.close),
            });
            map.serialize_entry(key, &day)?;
        }
        map.end()
    }
}

/// Goes through `parse_json`, so API bodies get the same messages as forms.
impl<'de> Deserialize<'de> for BusinessHours {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::parse_json(&value).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<&Value> for BusinessHours {
    type Error = String;

    fn try_from(value: &Value) -> Result<Self, Self::Error> {
        Self::parse_json(value)
    }
}

/// An IANA time zone name such as "Europe/Berlin".
pub fn parse_timezone(s: &str) -> Result<Tz, String> {
    let name = s.trim();
    name.parse::<Tz>().map_err(|_| {
        format!("is not a known time zone ('{name}'); use an IANA name like Europe/Berlin")
    })
}

/// Every name `parse_timezone` accepts, sorted: the time zone fields offer
/// them. Old aliases stay in: a browser may name its own zone by one
/// (Chromium says Asia/Calcutta for Asia/Kolkata).
pub fn timezone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())
}

fn day_index(key: &str) -> Option<usize> {
    DAY_KEYS
        .iter()
        .position(|day| day.eq_ignore_ascii_case(key.trim()))
}

fn parse_day_json(day: &str, value: &Value) -> Result<Option<DayHours>, String> {
    let shape = r#"must be null (closed) or {"open":"HH:MM","close":"HH:MM"}"#;
    let fields = match value {
        Value::Null => return Ok(None),
        Value::Object(fields) => fields,
        _ => return Err(format!("{day}: {shape}")),
    };
    if let Some(key) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "open" | "close" | "closed"))
    {
        return Err(format!("{day}: unknown field '{key}', {shape}"));
    }
    match fields.get("closed") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => return Ok(None),
        Some(_) => return Err(format!("{day}.closed: must be true or false")),
    }
    let text = |name: &str| -> Result<Option<&str>, String> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{day}.{name}: not a time, use HH:MM")),
        }
    };
    let open = text("open").and_then(|v| parse_field(day, "open", v));
    let close = text("close").and_then(|v| parse_close(day, v));
    match (open, close) {
        (Ok(open), Ok(close)) => DayHours::new(open, close)
            .map(Some)
            .map_err(|e| format!("{day}: {e}")),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
    }
}

/// `{day}.{name}: missing, use HH:MM` / `{day}.{name}: not a time, use HH:MM`.
fn parse_field(day: &str, name: &str, value: Option<&str>) -> Result<NaiveTime, String> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    let Some(value) = value else {
        return Err(format!("{day}.{name}: missing, use HH:MM"));
    };
    NaiveTime::parse_from_str(value, TIME_FORMAT)
        .map_err(|_| format!("{day}.{name}: not a time, use HH:MM"))
}

/// A closing time: "HH:MM", where "24:00" (and "00:00", which a form's
/// time field gives for it) is midnight at the day's end.
fn parse_close(day: &str, value: Option<&str>) -> Result<NaiveTime, String> {
    if value.map(str::trim) == Some("24:00") {
        return Ok(MIDNIGHT);
    }
    parse_field(day, "close", value)
}

/// Midnight: as a closing time, the end of the day ("24:00").
const MIDNIGHT: NaiveTime = NaiveTime::MIN;

/// The first instant of `date` in `tz` at which `hours` says open: the
/// opening time itself, or (inside a DST gap) the first local minute that
/// exists, as long as it is still before closing.
fn first_instant_open(tz: &Tz, date: NaiveDate, hours: DayHours) -> Option<DateTime<Tz>> {
    let mut time = hours.open;
    while hours.before_close(time) {
        if let Some(instant) = tz.from_local_datetime(&date.and_time(time)).earliest() {
            return Some(instant);
        }
        let (next, wrapped) = time.overflowing_add_signed(TimeDelta::minutes(1));
        if wrapped != 0 {
            return None;
        }
        time = next;
    }
    None
}

fn fmt_time(t: NaiveTime) -> String {
    t.format(TIME_FORMAT).to_string()
}

/// A closing time as people write it: midnight is "24:00".
fn fmt_close(t: NaiveTime) -> String {
    if t == MIDNIGHT {
        "24:00".to_owned()
    } else {
        fmt_time(t)
    }
}

fn to_minute(t: NaiveTime) -> NaiveTime {
    // Cannot fail: hour and minute come from a valid time.
    NaiveTime::from_hms_opt(t.hour(), t.minute(), 0).unwrap_or(t)
}

const fn hm(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(t) => t,
        None => NaiveTime::MIN,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::Utc;
    use chrono_tz::Europe::Berlin;
    use serde_json::json;

    use super::*;

    fn t(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, TIME_FORMAT).unwrap()
    }

    fn range(open: &str, close: &str) -> Option<DayHours> {
        Some(DayHours::new(t(open), t(close)).unwrap())
    }

    fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Tz> {
        Berlin
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn default_is_weekdays_nine_to_six_and_serializes_all_seven_days() {
        let want = json!({
            "mon": {"open": "09:00", "close": "18:00"},
            "tue": {"open": "09:00", "close": "18:00"},
            "wed": {"open": "09:00", "close": "18:00"},
            "thu": {"open": "09:00", "close": "18:00"},
            "fri": {"open": "09:00", "close": "18:00"},
            "sat": null,
            "sun": null,
        });
        let hours = BusinessHours::default();
        assert_eq!(hours.to_json(), want);
        assert_eq!(serde_json::to_value(&hours).unwrap(), want);
        assert_eq!(BusinessHours::parse_json(&want).unwrap(), hours);
        assert_eq!(
            serde_json::from_value::<BusinessHours>(want).unwrap(),
            hours
        );
        let text = serde_json::to_string(&hours).unwrap();
        assert_eq!(BusinessHours::parse(&text).unwrap(), hours);
    }

    #[test]
    fn valid_json_parses_to_the_expected_days() {
        let cases = [
            (json!({}), BusinessHours::always_closed()),
            (
                json!({"mon": {"open": "08:30", "close": "12:00"}}),
                BusinessHours::always_closed().with_day(Weekday::Mon, range("08:30", "12:00")),
            ),
            (
                json!({"Sun": {"open": "9:00", "close": "23:59"}, "sat": null}),
                BusinessHours::always_closed().with_day(Weekday::Sun, range("09:00", "23:59")),
            ),
            (
                json!({"mon": {"open": "09:00", "close": "18:00", "closed": false},
                       "tue": {"closed": true},
                       "wed": {"open": "xx", "close": "", "closed": true}}),
                BusinessHours::always_closed().with_day(Weekday::Mon, range("09:00", "18:00")),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(BusinessHours::parse_json(&input), Ok(want), "input {input}");
        }
    }

    #[test]
    fn invalid_json_is_refused_with_a_message_naming_the_field() {
        let cases = [
            (
                json!({"tue": {"open": "18:00", "close": "09:00"}}),
                "tue: open (18:00) must be before close (09:00)",
            ),
            (
                json!({"mon": {"open": "09:00", "close": "09:00"}}),
                "mon: open (09:00) must be before close (09:00)",
            ),
            (
                json!({"wed": {"open": "nine", "close": "18:00"}}),
                "wed.open: not a time, use HH:MM",
            ),
            (
                json!({"wed": {"open": 9, "close": "18:00"}}),
                "wed.open: not a time, use HH:MM",
            ),
            (
                json!({"wed": {"open": "09:00", "close": "24:30"}}),
                "wed.close: not a time, use HH:MM",
            ),
            (
                json!({"wed": {"open": "09:00:00", "close": "18:00"}}),
                "wed.open: not a time, use HH:MM",
            ),
            (
                json!({"thu": {"close": "18:00"}}),
                "thu.open: missing, use HH:MM",
            ),
            (
                json!({"xyz": null}),
                "unknown day 'xyz', use mon, tue, wed, thu, fri, sat, sun",
            ),
            (
                json!({"fri": "09:00-18:00"}),
                r#"fri: must be null (closed) or {"open":"HH:MM","close":"HH:MM"}"#,
            ),
            (
                json!({"fri": {"open": "09:00", "close": "18:00", "lunch": "12:00"}}),
                "fri: unknown field 'lunch'",
            ),
            (
                json!({"sat": {"closed": "yes"}}),
                "sat.closed: must be true or false",
            ),
            (json!({"mon": null, "MON": null}), "mon: given twice"),
            (json!([1, 2]), "hours must be an object"),
            (json!(null), "hours must be an object"),
            (
                json!({"mon": {"open": "x", "close": "y"}, "tue": {"open": "18:00", "close": "09:00"}}),
                "mon.open: not a time, use HH:MM; mon.close: not a time, use HH:MM; \
                 tue: open (18:00) must be before close (09:00)",
            ),
        ];
        for (input, want) in cases {
            let err = BusinessHours::parse_json(&input).expect_err(&input.to_string());
            assert!(
                err.starts_with(want),
                "input {input}: got {err:?}, want {want:?}"
            );
            let via_serde = serde_json::from_value::<BusinessHours>(input.clone());
            assert!(via_serde.is_err(), "serde accepted {input}");
        }
        assert_eq!(
            BusinessHours::parse("{not json"),
            Err("hours are not valid JSON".to_owned())
        );
    }

    fn form(fields: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| map.get(key).cloned()
    }

    type FormFields<'a> = &'a [(&'a str, &'a str)];

    const ALL_CLOSED: [(&str, &str); 7] = [
        ("hours_mon_closed", "on"),
        ("hours_tue_closed", "on"),
        ("hours_wed_closed", "on"),
        ("hours_thu_closed", "on"),
        ("hours_fri_closed", "on"),
        ("hours_sat_closed", "on"),
        ("hours_sun_closed", "on"),
    ];

    #[test]
    fn the_form_is_read_day_by_day() {
        let default_form = [
            ("hours_mon_open", "09:00"),
            ("hours_mon_close", "18:00"),
            ("hours_tue_open", "09:00"),
            ("hours_tue_close", "18:00"),
            ("hours_wed_open", "09:00"),
            ("hours_wed_close", "18:00"),
            ("hours_thu_open", "09:00"),
            ("hours_thu_close", "18:00"),
            ("hours_fri_open", " 09:00 "),
            ("hours_fri_close", "18:00"),
            // A ticked day is closed even though the browser sent its times.
            ("hours_sat_open", "10:00"),
            ("hours_sat_close", "14:00"),
            ("hours_sat_closed", "on"),
            ("hours_sun_closed", "on"),
        ];
        assert_eq!(
            BusinessHours::from_form(form(&default_form)),
            Ok(BusinessHours::default())
        );
        assert_eq!(
            BusinessHours::from_form(form(&ALL_CLOSED)),
            Ok(BusinessHours::always_closed())
        );
    }

    #[test]
    fn form_errors_name_the_day_and_field() {
        let with = |extra: &[(&'static str, &'static str)], untick: &str| {
            let mut fields: Vec<(&str, &str)> = ALL_CLOSED
                .iter()
                .copied()
                .filter(|(k, _)| *k != untick)
                .collect();
            fields.extend_from_slice(extra);
            BusinessHours::from_form(form(&fields))
        };
        let cases: [(FormFields, &str, &str); 5] = [
            (
                &[("hours_tue_open", "18:00"), ("hours_tue_close", "09:00")],
                "hours_tue_closed",
                "tue: open (18:00) must be before close (09:00)",
            ),
            (
                &[("hours_wed_open", "9am"), ("hours_wed_close", "18:00")],
                "hours_wed_closed",
                "wed.open: not a time, use HH:MM",
            ),
            (
                &[("hours_thu_open", "09:00"), ("hours_thu_close", "")],
                "hours_thu_closed",
                "thu.close: missing, use HH:MM",
            ),
            (
                &[],
                "hours_fri_closed",
                "fri: enter opening and closing times (HH:MM) or tick closed",
            ),
            (
                &[
                    ("hours_sat_open", "10:00"),
                    ("hours_sat_close", "14:00"),
                    ("hours_sat_closed", ""),
                ],
                "hours_sat_closed",
                "",
            ),
        ];
        for (extra, untick, want) in cases {
            let got = with(extra, untick);
            if want.is_empty() {
                let want =
                    BusinessHours::always_closed().with_day(Weekday::Sat, range("10:00", "14:00"));
                assert_eq!(got, Ok(want), "{extra:?}");
            } else {
                assert_eq!(got, Err(want.to_owned()), "{extra:?}");
            }
        }
    }

    #[test]
    fn is_open_at_uses_the_local_wall_clock_with_close_exclusive() {
        let hours = BusinessHours::default().with_day(Weekday::Sun, range("02:30", "10:00"));
        // 2026-03-27 is a Friday; on Sunday 2026-03-29 Berlin jumps 02:00 -> 03:00.
        let cases = [
            (berlin(2026, 3, 27, 8, 59), false),
            (berlin(2026, 3, 27, 9, 0), true),
            (berlin(2026, 3, 27, 17, 59), true),
            (berlin(2026, 3, 27, 18, 0), false),
            (berlin(2026, 3, 28, 12, 0), false), // Saturday
            (berlin(2026, 3, 29, 1, 59), false), // Sunday, before the gap
            (berlin(2026, 3, 29, 3, 0), true),   // first minute after the gap
            (berlin(2026, 3, 29, 9, 59), true),
            (berlin(2026, 3, 29, 10, 0), false),
            // 07:30 UTC on a summer Monday is 09:30 in Berlin.
            (utc("2026-06-01T07:30:00Z").with_timezone(&Berlin), true),
            (utc("2026-06-01T06:30:00Z").with_timezone(&Berlin), false),
        ];
        for (at, want) in cases {
            assert_eq!(hours.is_open_at(at), want, "at {at}");
        }
    }

    #[test]
    fn a_day_closing_at_24_00_is_open_to_its_last_minute_and_round_trips() {
        let hours = BusinessHours::parse_json(&json!({
            "fri": {"open": "00:00", "close": "24:00"},
            "sat": {"open": "18:00", "close": "00:00"},
        }))
        .unwrap();
        // 2026-03-27 is a Friday.
        for (at, want) in [
            (berlin(2026, 3, 27, 0, 0), true),
            (berlin(2026, 3, 27, 23, 59), true),
            (berlin(2026, 3, 28, 17, 59), false),
            (berlin(2026, 3, 28, 23, 59), true),
            (berlin(2026, 3, 29, 0, 0), false),
        ] {
            assert_eq!(hours.is_open_at(at), want, "at {at}");
        }
        assert_eq!(
            hours.next_opening(berlin(2026, 3, 28, 12, 0)),
            Some(berlin(2026, 3, 28, 18, 0))
        );
        let json = hours.to_json();
        assert_eq!(json["fri"], json!({"open": "00:00", "close": "24:00"}));
        assert_eq!(json["sat"], json!({"open": "18:00", "close": "24:00"}));
        assert_eq!(BusinessHours::parse_json(&json).unwrap(), hours);
        assert_eq!(hours.summary()[4], ("Fri", "00:00–24:00".to_owned()));
    }

    #[test]
    fn next_opening_finds_the_next_opening_across_weekends_and_dst() {
        let weekdays = BusinessHours::default();
        let early_sunday =
            BusinessHours::always_closed().with_day(Weekday::Sun, range("02:30", "10:00"));
        let sunday_only =
            BusinessHours::always_closed().with_day(Weekday::Sun, range("09:00", "17:00"));
        let cases = [
            // Friday evening -> Monday 09:00, which is CEST after the switch (07:00 UTC).
            (
                &weekdays,
                berlin(2026, 3, 27, 18, 0),
                Some("2026-03-30T07:00:00Z"),
            ),
            // Open now: the next opening after this one.
            (
                &weekdays,
                berlin(2026, 3, 27, 17, 0),
                Some("2026-03-30T07:00:00Z"),
            ),
            (
                &weekdays,
                berlin(2026, 3, 28, 23, 0),
                Some("2026-03-30T07:00:00Z"),
            ),
            // Before opening on a weekday: today. Winter time, 08:00 UTC.
            (
                &weekdays,
                berlin(2026, 3, 23, 7, 0),
                Some("2026-03-23T08:00:00Z"),
            ),
            // Exactly at opening: strictly after, so tomorrow.
            (
                &weekdays,
                berlin(2026, 3, 23, 9, 0),
                Some("2026-03-24T08:00:00Z"),
            ),
            // 02:30 does not exist on 2026-03-29 in Berlin: opens at 03:00 CEST.
            (
                &early_sunday,
                berlin(2026, 3, 28, 23, 0),
                Some("2026-03-29T01:00:00Z"),
            ),
            // 02:30 exists twice on 2026-10-25: the earlier one (CEST).
            (
                &early_sunday,
                berlin(2026, 10, 24, 23, 0),
                Some("2026-10-25T00:30:00Z"),
            ),
            // Just after Sunday's close: a week later.
            (
                &sunday_only,
                berlin(2026, 3, 29, 17, 0),
                Some("2026-04-05T07:00:00Z"),
            ),
            (
                &BusinessHours::always_closed(),
                berlin(2026, 3, 27, 18, 0),
                None,
            ),
        ];
        for (hours, after, want) in cases {
            let got = hours.next_opening(after);
            assert_eq!(
                got.map(|d| d.with_timezone(&Utc)),
                want.map(utc),
                "after {after}"
            );
            if let Some(got) = got {
                assert_eq!(got.timezone(), Berlin);
                assert!(hours.is_open_at(got), "not open at its own opening {got}");
            }
        }
    }

    #[test]
    fn a_day_entirely_inside_a_dst_gap_is_skipped() {
        // Sunday 02:10–02:50 never happens on 2026-03-29 in Berlin.
        let hours = BusinessHours::always_closed().with_day(Weekday::Sun, range("02:10", "02:50"));
        let got = hours.next_opening(berlin(2026, 3, 28, 12, 0)).unwrap();
        assert_eq!(got.with_timezone(&Utc), utc("2026-04-05T00:10:00Z"));
    }

    #[test]
    fn summary_lists_every_day_for_pages() {
        let got = BusinessHours::default().summary();
        let want: Vec<(&str, String)> = [
            ("Mon", "09:00–18:00"),
            ("Tue", "09:00–18:00"),
            ("Wed", "09:00–18:00"),
            ("Thu", "09:00–18:00"),
            ("Fri", "09:00–18:00"),
            ("Sat", "closed"),
            ("Sun", "closed"),
        ]
        .into_iter()
        .map(|(d, s)| (d, s.to_owned()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn day_hours_are_cut_to_minutes_and_must_not_be_empty() {
        let h = DayHours::new(t("09:00") + TimeDelta::seconds(42), t("18:00")).unwrap();
        assert_eq!(h.open(), t("09:00"));
        assert_eq!(
            DayHours::new(t("10:00"), t("10:00") + TimeDelta::seconds(30)),
            Err("open (10:00) must be before close (10:00)".to_owned())
        );
    }

    #[test]
    fn time_zones_are_iana_names() {
        let ok = [("Europe/Berlin", Berlin), (" UTC ", chrono_tz::UTC)];
        for (input, want) in ok {
            assert_eq!(parse_timezone(input), Ok(want), "{input:?}");
        }
        for input in ["", "CEST", "Europe/Atlantis", "berlin"] {
            assert_eq!(
                parse_timezone(input),
                Err(format!(
                    "is not a known time zone ('{}'); use an IANA name like Europe/Berlin",
                    input.trim()
                ))
            );
        }
    }
}
