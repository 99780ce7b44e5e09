//! Values replaced before a cell is read as its column's type (issue 28, point 2): `N/A` →
//! empty, `12 pcs` → `12`, `Y` → `true`. A person makes them while fixing a review's rejected
//! rows ("apply to every equal value"); they are kept in the import's mapping, per column of the
//! sheet ([`crate::model::ColumnChoice::values`]), so the review's own fixes and the next import
//! into the same table read the same cells the same way (`shape::Plan` applies them first).
//!
//! A cell matches by its text, with spaces around it and around `from` ignored, letters as
//! written: `Yes` and `yes` are two values, as they are two values to the person who wrote them.

use super::value::Value;
use crate::model::ValueMap;

/// Most replacements one column keeps: each is a comparison per cell of that column. A column
/// with more distinct bad values than this is a column of another type, not one to patch.
pub const MOST: usize = 100;

/// One column's replacements, ready to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueMaps {
    pairs: Vec<(String, Value)>,
}

impl ValueMaps {
    /// The replacements `maps` say, or `None` when there are none.
    pub fn of(maps: &[ValueMap]) -> Option<Self> {
        let pairs: Vec<(String, Value)> =
            maps.iter().take(MOST).map(|m| (m.from.trim().to_owned(), Value::text(m.to.trim()))).collect();
        (!pairs.is_empty()).then_some(Self { pairs })
    }

    /// `value`, or what it is replaced with.
    pub fn apply(&self, value: Value) -> Value {
        let found = match &value {
            Value::Text(s) => self.find(s.trim()),
            Value::Null => self.find(""),
            other => self.find(&text_of(other)),
        };
        found.cloned().unwrap_or(value)
    }

    fn find(&self, text: &str) -> Option<&Value> {
        self.pairs.iter().find(|(from, _)| from == text).map(|(_, to)| to)
    }
}

/// A cell's text as a replacement is matched against it (empty for no value).
pub fn text_of(value: &Value) -> String {
    let mut s = String::new();
    value.write_text(&mut s);
    s.trim().to_owned()
}

/// `maps` with `new` added: a replacement of the same value is replaced, one that gave `new`'s value
/// gives `new`'s replacement now (a cell is replaced once, and the person fixed what they saw:
/// `n/a` → `none`, then `none` → empty, reads `n/a` as empty), and at most [`MOST`] are kept (the
/// oldest go).
pub fn with(maps: &[ValueMap], new: ValueMap) -> Vec<ValueMap> {
    let mut out: Vec<ValueMap> = maps
        .iter()
        .filter(|m| m.from.trim() != new.from.trim())
        .map(|m| {
            if m.to.trim() == new.from.trim() {
                ValueMap { from: m.from.clone(), to: new.to.clone() }
            } else {
                m.clone()
            }
        })
        .collect();
    out.push(new);
    let extra = out.len().saturating_sub(MOST);
    out.drain(..extra);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(from: &str, to: &str) -> ValueMap {
        ValueMap { from: from.into(), to: to.into() }
    }

    #[test]
    fn a_cell_is_replaced_when_its_text_is_the_value_and_kept_otherwise() {
        let maps =
            ValueMaps::of(&[map("12 pcs", "12"), map(" N/A ", ""), map("", "0"), map("1.5", "2")]).expect("maps");
        assert_eq!(maps.apply(Value::Text(" 12 pcs".into())), Value::Text("12".into()));
        assert_eq!(maps.apply(Value::Text("N/A".into())), Value::Null);
        assert_eq!(maps.apply(Value::Text("n/a".into())), Value::Text("n/a".into()), "letters as written");
        assert_eq!(maps.apply(Value::Null), Value::Text("0".into()), "an empty cell can be given a value");
        assert_eq!(maps.apply(Value::Real(1.5)), Value::Text("2".into()), "a number matches by its text");
        assert_eq!(maps.apply(Value::Int(7)), Value::Int(7));
        assert!(ValueMaps::of(&[]).is_none());
    }

    #[test]
    fn a_new_replacement_of_a_value_takes_the_old_ones_place_and_follows_what_it_gave() {
        let maps = with(&[map("Y", "true"), map("x", "1")], map(" x", "2"));
        assert_eq!(maps, [map("Y", "true"), map(" x", "2")]);
        let maps = with(&[map("n/a", "none")], map("none", ""));
        assert_eq!(maps, [map("n/a", ""), map("none", "")]);
        let many: Vec<ValueMap> = (0..MOST).map(|i| map(&i.to_string(), "")).collect();
        let kept = with(&many, map("new", ""));
        assert_eq!(kept.len(), MOST);
        assert_eq!(kept[0].from, "1", "the oldest went");
    }
}
