//! Field values of a form (formulier): parsing without echoing values, validation against the
//! policy's field specs, and the canonical plaintext that is sealed (and decoded after opening).
//!
//! Plaintext encoding, so that any age implementation yields something readable:
//! text-like kinds are their UTF-8 text, numbers their decimal digits, booleans `true`/`false`,
//! lists a JSON array of strings, documents their raw bytes.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::policy::{
    CRITERION_STATUSES, Criterion, FieldKind, FieldSpec, FieldTest, Policy, RuleValue, is_id,
};
use crate::sealing::Plaintext;

/// One value as sent in JSON. Wiped on drop; `Debug` shows only its shape.
pub enum FieldValue {
    /// A JSON string.
    Text(Zeroizing<String>),
    /// A JSON whole number.
    Integer(i64),
    /// A JSON boolean.
    Bool(bool),
    /// A JSON array of strings.
    List(Vec<Zeroizing<String>>),
    /// A JSON object of criterion id → `{"status", "note"}` (a checklist), in the order sent.
    Checklist(Vec<ChecklistAnswer>),
}

/// One criterion's answer in a checklist.
pub struct ChecklistAnswer {
    /// The criterion id as sent.
    pub criterion: String,
    /// `met`, `not_met` or `not_applicable` (checked against the policy later).
    pub status: String,
    /// The coordinator's note.
    pub note: Option<Zeroizing<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswer {
    status: String,
    note: Option<String>,
}

impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shape = match self {
            Self::Text(_) => "Text",
            Self::Integer(_) => "Integer",
            Self::Bool(_) => "Bool",
            Self::List(_) => "List",
            Self::Checklist(_) => "Checklist",
        };
        write!(f, "{shape}(<redacted>)")
    }
}

struct FieldValueVisitor;

impl<'de> Visitor<'de> for FieldValueVisitor {
    type Value = FieldValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a whole number, a boolean or a list of strings")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldValue, E> {
        Ok(FieldValue::Text(Zeroizing::new(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<FieldValue, E> {
        Ok(FieldValue::Text(Zeroizing::new(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FieldValue, E> {
        Ok(FieldValue::Integer(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FieldValue, E> {
        i64::try_from(v)
            .map(FieldValue::Integer)
            .map_err(|_| E::custom("a number too large"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<FieldValue, E> {
        Err(E::custom("a fraction where only whole numbers are allowed"))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<FieldValue, E> {
        Ok(FieldValue::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<FieldValue, E> {
        Err(E::custom("null: leave an empty field out instead"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldValue, A::Error> {
        let mut answers: Vec<ChecklistAnswer> = Vec::new();
        while let Some(criterion) = map.next_key::<String>()? {
            if answers.iter().any(|a| a.criterion == criterion) {
                return Err(de::Error::custom(format!(
                    "a checklist with a criterion twice (member {})",
                    answers.len() + 1
                )));
            }
            let raw: RawAnswer = map.next_value().map_err(|_| {
                de::Error::custom(format!(
                    "checklist member {}: expected {{\"status\": …, \"note\": …}}",
                    answers.len() + 1
                ))
            })?;
            answers.push(ChecklistAnswer {
                criterion,
                status: raw.status,
                note: raw.note.map(Zeroizing::new),
            });
        }
        Ok(FieldValue::Checklist(answers))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<ListItem>()? {
            items.push(item.0);
        }
        Ok(FieldValue::List(items))
    }
}

impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FieldValueVisitor)
    }
}

struct ListItem(Zeroizing<String>);

impl<'de> Deserialize<'de> for ListItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListItem, E> {
                Ok(ListItem(Zeroizing::new(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ListItem, E> {
                Ok(ListItem(Zeroizing::new(v)))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ListItem, E> {
                Err(E::custom("a list item that is not a string"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ListItem, E> {
                Err(E::custom("a list item that is not a string"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ListItem, E> {
                Err(E::custom("a list item that is not a string"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ListItem, E> {
                Err(E::custom("a list item that is not a string"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ListItem, E> {
                Err(E::custom("a list item that is null"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<ListItem, A::Error> {
                Err(de::Error::custom("a nested list"))
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<ListItem, A::Error> {
                Err(de::Error::custom("an object inside a list"))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `fields` object of a request: field id → value, in the order sent.
/// A key sent twice is refused; `Debug` shows the ids only.
#[derive(Default)]
pub struct FieldValues(pub Vec<(String, FieldValue)>);

impl fmt::Debug for FieldValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl<'de> Deserialize<'de> for FieldValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldValues;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of field id to value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldValues, A::Error> {
                let mut seen = BTreeSet::new();
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(de::Error::custom(format!(
                            "has a key twice (member {})",
                            out.len() + 1
                        )));
                    }
                    let value = map.next_value::<FieldValue>()?;
                    out.push((key, value));
                }
                Ok(FieldValues(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// What is wrong with one field. The text never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// The field id (or a description of it, if the id itself is malformed).
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// A member of `fields` whose key the policy does not define, named by its position (the key
/// is the caller's text and is never repeated back).
fn unknown_member(index: usize, what: &str) -> FieldProblem {
    FieldProblem {
        field: "fields".to_owned(),
        problem: format!("member {} is not {what}", index + 1),
    }
}

fn problem(field: &str, text: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: if is_id(field) {
            field.to_owned()
        } else {
            "(malformed id)".to_owned()
        },
        problem: text.into(),
    }
}

/// Checks one value against its spec and turns it into the canonical plaintext.
pub fn to_plaintext(spec: &FieldSpec, value: &FieldValue) -> Result<Plaintext, FieldProblem> {
    let id = spec.id.as_str();
    let text = |v: &FieldValue| match v {
        FieldValue::Text(s) => Ok(s.as_str().to_owned()),
        _ => Err(problem(id, "must be a string")),
    };
    let bytes = |s: String| Plaintext::new(s.into_bytes());
    match &spec.kind {
        FieldKind::Text { max_len } => {
            let s = Zeroizing::new(text(value)?);
            check_text(id, &s, *max_len)?;
            Ok(bytes(s.to_string()))
        }
        FieldKind::Date => {
            let s = Zeroizing::new(text(value)?);
            if !is_date(&s) {
                return Err(problem(id, "must be a date as YYYY-MM-DD"));
            }
            Ok(bytes(s.to_string()))
        }
        FieldKind::Integer { min, max } | FieldKind::AmountEur { min, max } => match value {
            FieldValue::Integer(n) if (*min..=*max).contains(n) => Ok(bytes(n.to_string())),
            FieldValue::Integer(_) => Err(problem(
                id,
                format!("must be a whole number from {min} to {max}"),
            )),
            _ => Err(problem(id, "must be a whole number")),
        },
        FieldKind::Boolean => match value {
            FieldValue::Bool(b) => Ok(bytes(b.to_string())),
            _ => Err(problem(id, "must be true or false")),
        },
        FieldKind::Choice { options } => {
            let s = Zeroizing::new(text(value)?);
            if options.iter().any(|o| o == s.as_str()) {
                Ok(bytes(s.to_string()))
            } else {
                Err(problem(
                    id,
                    format!("must be one of: {}", options.join(", ")),
                ))
            }
        }
        FieldKind::List { max_items, max_len } => {
            let FieldValue::List(items) = value else {
                return Err(problem(id, "must be a list of strings"));
            };
            if items.len() > *max_items {
                return Err(problem(id, format!("has more than {max_items} items")));
            }
            for item in items {
                check_text(id, item, *max_len)?;
            }
            let plain: Vec<serde_json::Value> = items
                .iter()
                .map(|s| serde_json::Value::from(s.as_str()))
                .collect();
            let json = Zeroizing::new(serde_json::Value::Array(plain).to_string());
            Ok(Plaintext::new(json.as_bytes().to_vec()))
        }
        FieldKind::Email => {
            let s = Zeroizing::new(text(value)?);
            let ok = s.len() <= 254
                && s.split_once('@').is_some_and(|(local, domain)| {
                    !local.is_empty() && domain.contains('.') && !domain.contains('@')
                })
                && !s.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(problem(id, "must be an e-mail address"));
            }
            Ok(bytes(s.to_string()))
        }
        FieldKind::Phone => {
            let s = Zeroizing::new(text(value)?);
            let digits = s.chars().filter(char::is_ascii_digit).count();
            let ok = s.len() <= 32
                && (8..=15).contains(&digits)
                && s.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
            if !ok {
                return Err(problem(id, "must be a phone number of 8 to 15 digits"));
            }
            Ok(bytes(s.to_string()))
        }
        FieldKind::Bsn => {
            let s = Zeroizing::new(text(value)?);
            if !is_valid_bsn(&s) {
                return Err(problem(
                    id,
                    "must be a BSN: 9 digits that pass the eleven-test",
                ));
            }
            Ok(bytes(s.to_string()))
        }
        FieldKind::Document { max_bytes } => {
            let FieldValue::Text(encoded) = value else {
                return Err(problem(id, "must be a document encoded as base64"));
            };
            if encoded.len() > max_bytes.div_ceil(3) * 4 {
                return Err(problem(id, format!("is larger than {max_bytes} bytes")));
            }
            let decoded = Zeroizing::new(
                BASE64
                    .decode(encoded.as_bytes())
                    .map_err(|_| problem(id, "must be a document encoded as base64"))?,
            );
            if decoded.len() > *max_bytes {
                return Err(problem(id, format!("is larger than {max_bytes} bytes")));
            }
            if decoded.is_empty() {
                return Err(problem(id, "is an empty document"));
            }
            Ok(Plaintext::new(decoded.to_vec()))
        }
        FieldKind::Checklist { criteria } => {
            let FieldValue::Checklist(answers) = value else {
                return Err(problem(
                    id,
                    "must be an object of criterion id to {\"status\", \"note\"}",
                ));
            };
            checklist_plaintext(id, criteria, answers)
        }
    }
}

/// A checklist answers every criterion of its spec once, each `met`, `not_met` or
/// `not_applicable`; the plaintext is a JSON object in criterion order.
fn checklist_plaintext(
    id: &str,
    criteria: &[Criterion],
    answers: &[ChecklistAnswer],
) -> Result<Plaintext, FieldProblem> {
    if let Some(i) = answers
        .iter()
        .position(|a| !criteria.iter().any(|c| c.id == a.criterion))
    {
        return Err(problem(
            id,
            format!("member {} is not a criterion of the checklist", i + 1),
        ));
    }
    let mut out = serde_json::Map::new();
    for c in criteria {
        let Some(answer) = answers.iter().find(|a| a.criterion == c.id) else {
            return Err(problem(
                id,
                format!("criterion `{}` (art. {}) is not answered", c.id, c.article),
            ));
        };
        if !CRITERION_STATUSES.contains(&answer.status.as_str()) {
            return Err(problem(
                id,
                format!(
                    "criterion `{}`: status is one of: {}",
                    c.id,
                    CRITERION_STATUSES.join(", ")
                ),
            ));
        }
        let mut entry = serde_json::Map::new();
        entry.insert("status".into(), answer.status.clone().into());
        if let Some(note) = &answer.note {
            check_text(id, note, CHECKLIST_NOTE_LEN)?;
            entry.insert("note".into(), note.as_str().into());
        }
        out.insert(c.id.clone(), entry.into());
    }
    let json = Zeroizing::new(serde_json::Value::Object(out).to_string());
    Ok(Plaintext::new(json.as_bytes().to_vec()))
}

/// The longest note on one criterion of a checklist, in characters.
pub const CHECKLIST_NOTE_LEN: usize = 2000;

/// The criteria a checklist answers `not_met` (none for another value).
pub fn criteria_not_met(value: &FieldValue) -> Vec<String> {
    match value {
        FieldValue::Checklist(answers) => answers
            .iter()
            .filter(|a| a.status == "not_met")
            .map(|a| a.criterion.clone())
            .collect(),
        _ => Vec::new(),
    }
}

fn check_text(id: &str, s: &str, max_len: usize) -> Result<(), FieldProblem> {
    if s.trim().is_empty() {
        return Err(problem(id, "is empty: leave an empty field out instead"));
    }
    if s.chars().count() > max_len {
        return Err(problem(id, format!("is longer than {max_len} characters")));
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(problem(id, "contains control characters"));
    }
    Ok(())
}

/// The eleven-test (elfproef) for a BSN.
pub fn is_valid_bsn(s: &str) -> bool {
    if s.len() != 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: i64 = s
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let digit = i64::from(b - b'0');
            if i == 8 {
                -digit
            } else {
                (9 - i as i64) * digit
            }
        })
        .sum();
    sum != 0 && sum % 11 == 0
}

/// Validates the values of one form submission. `complete` requires every required field.
/// Returns the plaintexts in the form's field order, or every problem found.
pub fn validate_form(
    policy: &Policy,
    form: &str,
    values: &FieldValues,
    complete: bool,
) -> Result<Vec<(String, Plaintext)>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let Some(form_spec) = policy.forms.get(form) else {
        let known = policy.forms.keys().cloned().collect::<Vec<_>>().join(", ");
        return Err(vec![problem(
            "form",
            format!("unknown form; known: {known}"),
        )]);
    };
    let mut out = Vec::with_capacity(values.0.len());
    for (i, (id, value)) in values.0.iter().enumerate() {
        match policy.field(id) {
            Some(spec) if spec.form == form => match to_plaintext(spec, value) {
                Ok(p) => out.push((id.clone(), p)),
                Err(e) => problems.push(e),
            },
            Some(_) => problems.push(problem(id, format!("is not a field of form `{form}`"))),
            None => problems.push(unknown_member(i, &format!("a field of form `{form}`"))),
        }
    }
    if complete {
        for id in &form_spec.fields {
            let required = policy.field(id).is_some_and(|f| f.required);
            if required && !values.0.iter().any(|(k, _)| k == id) {
                problems.push(problem(id, "is required"));
            }
        }
    }
    if values.0.is_empty() {
        problems.push(problem("fields", "no fields given"));
    }
    if problems.is_empty() {
        let order = |id: &str| form_spec.fields.iter().position(|f| f == id);
        out.sort_by_key(|(id, _)| order(id));
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Whether `text` is a calendar date written `YYYY-MM-DD`.
pub fn is_date(text: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).is_ok()
}

/// Validates the values of a re-share: any known field, none required.
pub fn validate_fields(
    policy: &Policy,
    values: &FieldValues,
) -> Result<Vec<(String, Plaintext)>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(values.0.len());
    for (i, (id, value)) in values.0.iter().enumerate() {
        match policy.field(id) {
            Some(spec) => match to_plaintext(spec, value) {
                Ok(p) => out.push((id.clone(), p)),
                Err(e) => problems.push(e),
            },
            None => problems.push(unknown_member(i, "a field of any form")),
        }
    }
    if values.0.is_empty() {
        problems.push(problem("fields", "no fields given"));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Which of a form's rules a set of values answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleScope {
    /// A whole submission of the form: every rule.
    Submission,
    /// A change report: only the rules whose condition names a field it changes (what it
    /// triggers, it must carry); the rest of the case is sealed and not the broker's to read.
    Change,
}

/// Checks the policy's rules across fields (art. 7) against `values`, on the broker's `today`
/// (`YYYY-MM-DD`, for ages). Each problem names the field and the article, never a value.
pub fn check_rules(
    policy: &Policy,
    form: &str,
    values: &FieldValues,
    today: &str,
    scope: RuleScope,
) -> Vec<FieldProblem> {
    let given = |id: &str| values.0.iter().find(|(k, _)| k == id).map(|(_, v)| v);
    let forms = policy
        .forms
        .iter()
        .filter(|(name, _)| scope == RuleScope::Change || name.as_str() == form);
    let mut problems = Vec::new();
    for rule in forms.flat_map(|(_, f)| &f.rules) {
        let applies = match (&rule.when, scope) {
            (None, RuleScope::Submission) => true,
            (Some(when), RuleScope::Submission) => holds(when, given(&when.field), today),
            (Some(when), RuleScope::Change) => {
                given(&when.field).is_some() && holds(when, given(&when.field), today)
            }
            (None, RuleScope::Change) => false,
        };
        if applies && !holds(&rule.then, given(&rule.then.field), today) {
            let condition = rule
                .when
                .as_ref()
                .map(describe)
                .map_or(String::new(), |c| format!(" when {c}"));
            let wanted = match (&rule.then.present, &rule.then.equals) {
                (Some(true), _) => "is required".to_owned(),
                (Some(false), _) => "must be left out".to_owned(),
                (_, Some(v)) => format!("must be {}", shown(v)),
                _ => format!(
                    "must give an age from {} to {} years",
                    rule.then.age_from.unwrap_or(0),
                    rule.then.age_to.unwrap_or(i64::MAX)
                ),
            };
            problems.push(problem(
                &rule.then.field,
                format!("{wanted}{condition} (art. {}: {})", rule.article, rule.text),
            ));
        }
    }
    problems
}

/// Whether `test` holds for the value given (`None`: the field was left out).
fn holds(test: &FieldTest, value: Option<&FieldValue>, today: &str) -> bool {
    if let Some(present) = test.present {
        return value.is_some() == present;
    }
    match (value, &test.equals, test.above) {
        (Some(FieldValue::Bool(v)), Some(RuleValue::Bool(b)), _) => v == b,
        (Some(FieldValue::Integer(v)), Some(RuleValue::Integer(n)), _) => v == n,
        (Some(FieldValue::Text(v)), Some(RuleValue::Text(t)), _) => v.as_str() == t,
        (Some(FieldValue::Integer(v)), None, Some(n)) => *v > n,
        (Some(FieldValue::Text(date)), None, None) => age_on(date, today).is_some_and(|age| {
            test.age_from.is_none_or(|from| age >= from) && test.age_to.is_none_or(|to| age <= to)
        }),
        _ => false,
    }
}

/// Whole years from the date of birth `born` to `today` (both `YYYY-MM-DD`).
fn age_on(born: &str, today: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let (born, today) = (
        time::Date::parse(born, &format).ok()?,
        time::Date::parse(today, &format).ok()?,
    );
    let mut age = i64::from(today.year() - born.year());
    if (today.month() as u8, today.day()) < (born.month() as u8, born.day()) {
        age -= 1;
    }
    Some(age)
}

fn describe(test: &FieldTest) -> String {
    let field = &test.field;
    match (&test.present, &test.equals, test.above) {
        (Some(true), _, _) => format!("`{field}` is given"),
        (Some(false), _, _) => format!("`{field}` is left out"),
        (_, Some(v), _) => format!("`{field}` is {}", shown(v)),
        (_, _, Some(n)) => format!("`{field}` is above {n}"),
        _ => format!("`{field}` is in the age range"),
    }
}

fn shown(v: &RuleValue) -> String {
    match v {
        RuleValue::Bool(b) => b.to_string(),
        RuleValue::Integer(n) => n.to_string(),
        RuleValue::Text(t) => format!("`{t}`"),
    }
}

/// Turns an opened plaintext back into the JSON value a client shows (documents as base64).
/// The returned value holds the field in the clear: the caller owns its care.
pub fn from_plaintext(kind: &FieldKind, plain: &Plaintext) -> Option<serde_json::Value> {
    use serde_json::Value;
    let text = || std::str::from_utf8(plain.expose()).ok();
    Some(match kind {
        FieldKind::Integer { .. } | FieldKind::AmountEur { .. } => {
            Value::from(text()?.parse::<i64>().ok()?)
        }
        FieldKind::Boolean => Value::Bool(text()?.parse().ok()?),
        FieldKind::List { .. } | FieldKind::Checklist { .. } => {
            serde_json::from_slice(plain.expose()).ok()?
        }
        FieldKind::Document { .. } => Value::String(BASE64.encode(plain.expose())),
        _ => Value::String(text()?.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsn_eleven_test() {
        assert!(is_valid_bsn("111222333"));
        assert!(is_valid_bsn("123456782"));
        assert!(!is_valid_bsn("123456789"));
        assert!(!is_valid_bsn("11122233"));
        assert!(!is_valid_bsn("000000000"));
    }

    #[test]
    fn duplicate_keys_are_refused_without_values() {
        let err = serde_json::from_str::<FieldValues>(r#"{"bsn": "111222333", "bsn": "x"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("has a key twice (member 2)"), "{err}");
        assert!(!err.contains("bsn"), "{err}");
        assert!(!err.contains("111222333"));
    }

    #[test]
    fn wrong_types_never_echo_the_value() {
        for body in [
            r#"{"a": 12.5}"#,
            r#"{"a": {"k": "geheim"}}"#,
            r#"{"a": null}"#,
            r#"{"a": ["ok", 4711]}"#,
        ] {
            let err = serde_json::from_str::<FieldValues>(body)
                .unwrap_err()
                .to_string();
            assert!(!err.contains("12.5") && !err.contains("geheim") && !err.contains("4711"));
        }
    }

    fn spec(kind: FieldKind) -> FieldSpec {
        FieldSpec {
            id: "f".into(),
            form: "registration".into(),
            label: String::new(),
            category: "personalia".into(),
            kind,
            required: false,
            before_assessment: false,
            help: String::new(),
        }
    }

    fn text(s: &str) -> FieldValue {
        FieldValue::Text(Zeroizing::new(s.to_owned()))
    }

    #[test]
    fn values_become_canonical_plaintext_and_back() {
        let cases: Vec<(FieldKind, FieldValue, &[u8], serde_json::Value)> = vec![
            (
                FieldKind::Text { max_len: 10 },
                text("Jan"),
                b"Jan",
                "Jan".into(),
            ),
            (
                FieldKind::Integer { min: 0, max: 9 },
                FieldValue::Integer(3),
                b"3",
                3.into(),
            ),
            (
                FieldKind::Boolean,
                FieldValue::Bool(true),
                b"true",
                true.into(),
            ),
            (
                FieldKind::List {
                    max_items: 3,
                    max_len: 5,
                },
                FieldValue::List(vec![Zeroizing::new("Hoorn".into())]),
                br#"["Hoorn"]"#,
                serde_json::json!(["Hoorn"]),
            ),
            (
                FieldKind::Document { max_bytes: 4 },
                text("AAEC"),
                &[0, 1, 2],
                "AAEC".into(),
            ),
        ];
        for (kind, value, plain, json) in cases {
            let p = to_plaintext(&spec(kind.clone()), &value).unwrap();
            assert_eq!(p.expose(), plain);
            assert_eq!(from_plaintext(&kind, &p).unwrap(), json);
        }
    }

    #[test]
    fn bad_values_name_the_problem_not_the_value() {
        let cases = [
            (
                FieldKind::Text { max_len: 3 },
                text("geheim"),
                "is longer than 3 characters",
            ),
            (
                FieldKind::Date,
                text("31-12-2000"),
                "must be a date as YYYY-MM-DD",
            ),
            (
                FieldKind::Integer { min: 0, max: 20 },
                FieldValue::Integer(21),
                "must be a whole number from 0 to 20",
            ),
            (
                FieldKind::Bsn,
                text("123456789"),
                "must be a BSN: 9 digits that pass the eleven-test",
            ),
            (
                FieldKind::Document { max_bytes: 2 },
                text("AAEC"),
                "is larger than 2 bytes",
            ),
            (
                FieldKind::Email,
                text("geen-adres"),
                "must be an e-mail address",
            ),
            (
                FieldKind::Text { max_len: 30 },
                text("a\u{0}b"),
                "contains control characters",
            ),
        ];
        for (kind, value, expected) in cases {
            let err = to_plaintext(&spec(kind), &value).unwrap_err();
            assert_eq!(err.problem, expected);
            assert_eq!(err.field, "f");
        }
    }
}
