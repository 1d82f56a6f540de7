//! The terminal's width, and cutting text to fit it, so a redrawn screen
//! never wraps (a wrapped line pushes the rest of the screen down).

use std::io::IsTerminal;

/// Narrowest width we fit to; below it, cutting helps nobody.
const MIN_WIDTH: usize = 20;

/// Columns to fit output to: `COLUMNS` when set (it overrides, as in most
/// tools), else the width of the terminal on stdout; None when stdout is
/// not a terminal (piped output is never cut).
pub fn width() -> Option<usize> {
    from_columns(std::env::var("COLUMNS").ok().as_deref()).or_else(|| {
        let stdout = std::io::stdout();
        if !stdout.is_terminal() {
            return None;
        }
        rustix::termios::tcgetwinsize(&stdout)
            .ok()
            .map(|size| usize::from(size.ws_col))
            .filter(|&cols| cols > 0)
            .map(|cols| cols.max(MIN_WIDTH))
    })
}

fn from_columns(raw: Option<&str>) -> Option<usize> {
    raw?.trim()
        .parse::<usize>()
        .ok()
        .filter(|&cols| cols > 0)
        .map(|cols| cols.max(MIN_WIDTH))
}

/// Characters shown on screen (what we count; our text has no wide glyphs).
pub fn len(text: &str) -> usize {
    text.chars().count()
}

/// `text` cut to `width` characters, the last one `…` when cut.
pub fn cut(text: &str, width: usize) -> String {
    if len(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// `head` + `flexible` + `tail` in `width` columns: the flexible middle
/// (a name, a company) gives way first, so what identifies the line (a
/// lead id at its head) and what it says (its tail) survive; when even
/// that does not fit, the middle is dropped and the tail is cut.
pub fn fit_parts(head: &str, flexible: &str, tail: &str, width: Option<usize>) -> String {
    let whole = format!("{head}{flexible}{tail}");
    let Some(width) = width else {
        return whole;
    };
    if len(&whole) <= width {
        return whole;
    }
    let room = width.saturating_sub(len(head) + len(tail));
    // Fewer than a few letters of a name say nothing: drop to cutting the line.
    if room >= 4 {
        format!("{head}{}{tail}", cut(flexible, room))
    } else {
        cut(&format!("{}{tail}", head.trim_end()), width)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_overrides_and_nonsense_is_ignored() {
        assert_eq!(from_columns(Some("100")), Some(100));
        assert_eq!(from_columns(Some(" 80 ")), Some(80));
        assert_eq!(from_columns(Some("5")), Some(MIN_WIDTH));
        assert_eq!(from_columns(Some("0")), None);
        assert_eq!(from_columns(Some("wide")), None);
        assert_eq!(from_columns(None), None);
    }

    #[test]
    fn cuts_count_characters() {
        assert_eq!(cut("García", 10), "García");
        assert_eq!(cut("García López", 7), "García…");
        assert_eq!(len(&cut(&"x".repeat(300), 80)), 80);
    }

    #[test]
    fn the_middle_gives_way_first() {
        let head = "12:00:00  offered  lead_01JD3R2X7Q8M5V6N4K2P  ";
        let who = "Chloé García (Nordwind Energie GmbH)";
        let tail = " · 0:29 to claim, until 12:00:30 UTC";
        let fitted = fit_parts(head, who, tail, Some(100));
        assert_eq!(len(&fitted), 100);
        assert!(
            fitted.starts_with(head) && fitted.ends_with(tail),
            "{fitted}"
        );
        assert!(fitted.contains("Chloé García (Nor… · 0:29"), "{fitted}");
        // No width (piped): nothing is cut.
        assert_eq!(
            fit_parts(head, who, tail, None),
            format!("{head}{who}{tail}")
        );
        // Too narrow for the head and tail: the line is cut at the width.
        let narrow = fit_parts(head, who, tail, Some(40));
        assert_eq!(len(&narrow), 40);
        assert!(narrow.starts_with("12:00:00  offered  lead_01"), "{narrow}");
        let no_name = fit_parts(head, who, tail, Some(80));
        assert_eq!(
            no_name,
            "12:00:00  offered  lead_01JD3R2X7Q8M5V6N4K2P · 0:29 to claim, until 12:00:30 UTC"
        );
    }
}
