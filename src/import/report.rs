//! The error report as CSV, for people who open it in a spreadsheet program: one line per row
//! error (row, column, value, reason), quoted as RFC 4180 says, and every cell that a spreadsheet
//! would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) made
//! plain text with a leading `'`, as OWASP advises against CSV injection: the values come from
//! the uploaded file, which anyone may have written.

use crate::model::RowError;

/// The report's first line.
pub const HEADER: &str = "row,column,value,reason\r\n";

/// Appends `e` as one CSV line (CRLF-terminated).
pub fn write_line(out: &mut String, e: &RowError) {
    out.push_str(&e.row.to_string());
    for cell in [&e.column, &e.value, &e.reason] {
        out.push(',');
        write_cell(out, cell);
    }
    out.push_str("\r\n");
}

/// One cell: neutralised when a spreadsheet would run it, quoted when it holds a quote, a
/// separator or a line break (or starts or ends with a space, which some readers trim).
pub fn write_cell(out: &mut String, cell: &str) {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || cell.contains(['"', ',', '\n', '\r']) || cell.starts_with(' ') || cell.ends_with(' ');
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in cell.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(column: &str, value: &str) -> String {
        let mut out = String::new();
        write_line(
            &mut out,
            &RowError { row: 7, column: column.into(), value: value.into(), reason: "is not a number".into() },
        );
        out
    }

    #[test]
    fn formulas_are_neutralised_and_quotes_doubled() {
        assert_eq!(line("Units", "12x"), "7,Units,12x,is not a number\r\n");
        assert_eq!(
            line("Units", "=HYPERLINK(\"http://x\")"),
            "7,Units,\"'=HYPERLINK(\"\"http://x\"\")\",is not a number\r\n"
        );
        for danger in ["+1", "-1+A1", "@SUM(A1)", "\tx", "\rx"] {
            let out = line("c", danger);
            assert!(out.contains(&format!("\"'{danger}")), "{danger:?} became {out:?}");
        }
        assert_eq!(line("a,b", "x\ny"), "7,\"a,b\",\"x\ny\",is not a number\r\n");
        assert_eq!(line("c", " padded "), "7,c,\" padded \",is not a number\r\n");
    }
}
