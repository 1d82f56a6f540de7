//! A small RFC 4180 reader: comma-separated, `"` quotes fields that hold
//! commas, quotes (doubled) or line breaks; CRLF or LF line ends.

/// One record and the line it starts on.
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    /// 1-based line of the record's start in the file.
    pub line: usize,
    /// Its fields.
    pub fields: Vec<String>,
}

/// Splits `text` into records; blank lines are skipped. Fails on a quote
/// left open, naming its line.
pub fn records(text: &str) -> Result<Vec<Record>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    let mut field_started = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                quoted = true;
                field_started = true;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                field_started = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if field_started || !field.is_empty() || !fields.is_empty() {
                    fields.push(std::mem::take(&mut field));
                    records.push(Record {
                        line: start,
                        fields: std::mem::take(&mut fields),
                    });
                }
                field_started = false;
                line += 1;
                start = line;
            }
            c => {
                field.push(c);
                field_started = true;
            }
        }
    }
    if quoted {
        return Err(format!("line {start}: a quoted field is never closed"));
    }
    if field_started || !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push(Record {
            line: start,
            fields,
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_commas_and_line_breaks() {
        let text = "email,name,message\r\na@b.io,\"Lima, Ana\",\"said \"\"hi\"\"\nthen left\"\n\nc@d.io,,\n";
        let records = records(text).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[1].fields,
            ["a@b.io", "Lima, Ana", "said \"hi\"\nthen left"]
        );
        assert_eq!(records[1].line, 2);
        assert_eq!(records[2].line, 5);
        assert_eq!(records[2].fields, ["c@d.io", "", ""]);
        assert!(
            super::records("a,\"open\n")
                .unwrap_err()
                .starts_with("line 1")
        );
    }
}
