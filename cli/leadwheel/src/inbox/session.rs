//! One SMTP conversation as a pure state machine (RFC 5321, the subset a
//! sender of alerts uses): it takes command lines and message lines and
//! says what to answer, with no sockets and no files, so every sequence is
//! tested directly. The connection loop (`smtp.rs`) reads the lines and
//! stores what [`Step::Message`] hands over.

/// The name the inbox greets with.
pub const HOSTNAME: &str = "leadwheel-dev-inbox";

/// What one conversation may carry.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest message (after dot-unstuffing), in bytes.
    pub max_message_bytes: usize,
    /// Recipients per message.
    pub max_recipients: usize,
    /// Refused commands before the inbox hangs up.
    pub max_errors: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 10 * 1024 * 1024,
            max_recipients: 100,
            max_errors: 10,
        }
    }
}

/// A message as it arrived: the envelope and the data, dot-unstuffed,
/// lines ending in CRLF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// `MAIL FROM`, without brackets; empty for the null sender `<>`.
    pub from: String,
    /// Every `RCPT TO`, without brackets.
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

/// What the connection loop does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this reply (one or more CRLF-terminated lines) and read on.
    Reply(String),
    /// Send this reply and hang up.
    Close(String),
    /// A line of message data was taken: send nothing.
    Continue,
    /// The message is complete: store it, then answer 250 (or 451 when
    /// storing failed).
    Message(Envelope),
}

enum Phase {
    /// Connected, no HELO/EHLO yet.
    Connected,
    /// Greeted, no transaction.
    Idle,
    /// After MAIL FROM (and maybe RCPT TOs).
    Mail { from: String, to: Vec<String> },
    /// Between DATA's 354 and the lone dot.
    Data {
        from: String,
        to: Vec<String>,
        data: Vec<u8>,
        too_big: bool,
    },
}

/// One SMTP conversation.
pub struct Session {
    limits: Limits,
    phase: Phase,
    errors: u32,
}

fn reply(text: impl Into<String>) -> Step {
    let mut text = text.into();
    text.push_str("\r\n");
    Step::Reply(text)
}

impl Session {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            phase: Phase::Connected,
            errors: 0,
        }
    }

    /// The first line the server sends.
    pub fn greeting() -> String {
        format!("220 {HOSTNAME} ESMTP leadwheel dev inbox\r\n")
    }

    /// True between DATA's 354 and the end of the message: lines go to
    /// [`Session::data_line`] then.
    pub fn in_data(&self) -> bool {
        matches!(self.phase, Phase::Data { .. })
    }

    /// A refused command: counts towards the hang-up.
    fn refuse(&mut self, text: &str) -> Step {
        self.errors += 1;
        if self.errors >= self.limits.max_errors {
            return Step::Close(format!("421 4.7.0 {HOSTNAME} too many errors, closing\r\n"));
        }
        reply(text)
    }

    /// A command line that was longer than the limit (its text is lost).
    pub fn line_too_long(&mut self) -> Step {
        self.refuse("500 5.5.6 line too long")
    }

    /// One command line, without its line ending.
    pub fn command(&mut self, line: &str) -> Step {
        let (verb, arg) = match line.split_once(' ') {
            Some((verb, arg)) => (verb, arg.trim()),
            None => (line.trim(), ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "HELO" | "EHLO" if arg.is_empty() => {
                self.refuse(&format!("501 5.5.4 {verb} needs a domain"))
            }
            "HELO" => {
                self.phase = Phase::Idle;
                reply(format!("250 {HOSTNAME}"))
            }
            "EHLO" => {
                self.phase = Phase::Idle;
                reply(format!(
                    "250-{HOSTNAME} greets {arg}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 HELP",
                    self.limits.max_message_bytes
                ))
            }
            "MAIL" => self.mail(arg),
            "RCPT" => self.rcpt(arg),
            "DATA" => self.data(arg),
            "RSET" if !arg.is_empty() => self.refuse("501 5.5.4 RSET takes no argument"),
            "RSET" => {
                if !matches!(self.phase, Phase::Connected) {
                    self.phase = Phase::Idle;
                }
                reply("250 2.0.0 OK")
            }
            "NOOP" => reply("250 2.0.0 OK"),
            "QUIT" => Step::Close(format!("221 2.0.0 {HOSTNAME} closing\r\n")),
            "VRFY" => reply("252 2.5.2 cannot VRFY, send some mail"),
            "HELP" => reply("214 2.0.0 commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT"),
            "STARTTLS" | "AUTH" | "EXPN" | "TURN" | "BDAT" => {
                self.refuse(&format!("502 5.5.1 {verb} is not implemented here"))
            }
            _ => self.refuse("500 5.5.2 command not recognized"),
        }
    }

    fn mail(&mut self, arg: &str) -> Step {
        match self.phase {
            Phase::Connected => return self.refuse("503 5.5.1 send HELO or EHLO first"),
            Phase::Mail { .. } | Phase::Data { .. } => {
                return self.refuse("503 5.5.1 MAIL already given (RSET starts over)");
            }
            Phase::Idle => {}
        }
        let Some((from, params)) = path_after(arg, "FROM:") else {
            return self.refuse("501 5.5.4 syntax: MAIL FROM:<address>");
        };
        for param in params.split_whitespace() {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            match key.to_ascii_uppercase().as_str() {
                "SIZE" => match value.parse::<usize>() {
                    Ok(size) if size > self.limits.max_message_bytes => {
                        return self.refuse(&format!(
                            "552 5.3.4 {size} bytes is more than the {} allowed",
                            self.limits.max_message_bytes
                        ));
                    }
                    Ok(_) => {}
                    Err(_) => return self.refuse("501 5.5.4 SIZE needs a number"),
                },
                "BODY" if matches!(value.to_ascii_uppercase().as_str(), "7BIT" | "8BITMIME") => {}
                "SMTPUTF8" if value.is_empty() => {}
                _ => return self.refuse(&format!("555 5.5.4 unsupported parameter {param}")),
            }
        }
        self.phase = Phase::Mail {
            from: from.to_string(),
            to: Vec::new(),
        };
        reply("250 2.1.0 OK")
    }

    fn rcpt(&mut self, arg: &str) -> Step {
        let max = self.limits.max_recipients;
        let Phase::Mail { to, .. } = &self.phase else {
            return self.refuse("503 5.5.1 send MAIL FROM first");
        };
        let full = to.len() >= max;
        let Some((address, params)) = path_after(arg, "TO:") else {
            return self.refuse("501 5.5.4 syntax: RCPT TO:<address>");
        };
        if address.is_empty() {
            return self.refuse("501 5.1.3 a recipient cannot be <>");
        }
        if !params.trim().is_empty() {
            return self.refuse(&format!("555 5.5.4 unsupported parameter {params}"));
        }
        if full {
            return reply(format!("452 4.5.3 at most {max} recipients per message"));
        }
        if let Phase::Mail { to, .. } = &mut self.phase {
            to.push(address.to_string());
        }
        reply("250 2.1.5 OK")
    }

    fn data(&mut self, arg: &str) -> Step {
        if !arg.is_empty() {
            return self.refuse("501 5.5.4 DATA takes no argument");
        }
        match std::mem::replace(&mut self.phase, Phase::Idle) {
            Phase::Mail { from, to } if !to.is_empty() => {
                self.phase = Phase::Data {
                    from,
                    to,
                    data: Vec::new(),
                    too_big: false,
                };
                reply("354 end data with <CR><LF>.<CR><LF>")
            }
            phase @ Phase::Mail { .. } => {
                self.phase = phase;
                self.refuse("503 5.5.1 send RCPT TO first")
            }
            phase => {
                self.phase = phase;
                self.refuse("503 5.5.1 send MAIL FROM and RCPT TO first")
            }
        }
    }

    /// One line of message data, without its line ending.
    pub fn data_line(&mut self, line: &[u8]) -> Step {
        let max = self.limits.max_message_bytes;
        let Phase::Data { data, too_big, .. } = &mut self.phase else {
            return Step::Continue;
        };
        if line == b"." {
            let Phase::Data {
                from,
                to,
                data,
                too_big,
            } = std::mem::replace(&mut self.phase, Phase::Idle)
            else {
                unreachable!("matched above");
            };
            if too_big {
                return reply(format!(
                    "552 5.3.4 the message is more than the {max} bytes allowed"
                ));
            }
            return Step::Message(Envelope { from, to, data });
        }
        // Dot-unstuffing (RFC 5321 4.5.2): a leading dot was doubled.
        let line = line.strip_prefix(b".").unwrap_or(line);
        if !*too_big && data.len() + line.len() + 2 <= max {
            data.extend_from_slice(line);
            data.extend_from_slice(b"\r\n");
        } else {
            // Read on to the end of the message, keeping nothing.
            *too_big = true;
            data.clear();
        }
        Step::Continue
    }

    /// Marks data that cannot fit (a line longer than the message limit).
    pub fn data_too_big(&mut self) {
        if let Phase::Data { data, too_big, .. } = &mut self.phase {
            *too_big = true;
            data.clear();
        }
    }
}

/// `FROM:<a@b> PARAMS` → (`a@b`, `PARAMS`); the keyword is matched
/// without regard to case and may be followed by spaces.
fn path_after<'a>(arg: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    let address = &inner[..end];
    if address.contains(['<', ' ']) || (!address.is_empty() && !address.contains('@')) {
        // A bare local part is allowed only for postmaster.
        if !address.eq_ignore_ascii_case("postmaster") {
            return None;
        }
    }
    Some((address, &inner[end + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session::new(Limits {
            max_message_bytes: 64,
            max_recipients: 2,
            max_errors: 4,
        })
    }

    fn code(step: &Step) -> &str {
        match step {
            Step::Reply(text) | Step::Close(text) => {
                // The last line's code: a multi-line reply ends in "250 …".
                let last = text.trim_end().lines().last().unwrap_or_default();
                &last[..3]
            }
            Step::Continue => "---",
            Step::Message(_) => "msg",
        }
    }

    fn feed(session: &mut Session, lines: &[&str]) -> Vec<String> {
        lines
            .iter()
            .map(|line| {
                if session.in_data() {
                    code(&session.data_line(line.as_bytes())).to_string()
                } else {
                    code(&session.command(line)).to_string()
                }
            })
            .collect()
    }

    #[test]
    fn a_message_goes_through_with_dots_unstuffed() {
        let mut s = session();
        let codes = feed(
            &mut s,
            &[
                "EHLO client.example",
                "MAIL FROM:<alerts@localhost> BODY=8BITMIME SIZE=20",
                "RCPT TO:<ana@demo.example>",
                "rcpt to: <maya@demo.example>",
                "DATA",
                "Subject: hi",
                "",
                "..leading dot",
            ],
        );
        assert_eq!(
            codes,
            ["250", "250", "250", "250", "354", "---", "---", "---"]
        );
        let Step::Message(envelope) = s.data_line(b".") else {
            panic!("the message")
        };
        assert_eq!(envelope.from, "alerts@localhost");
        assert_eq!(envelope.to, ["ana@demo.example", "maya@demo.example"]);
        assert_eq!(envelope.data, b"Subject: hi\r\n\r\n.leading dot\r\n");
        // The transaction is over; a new one may start.
        assert_eq!(feed(&mut s, &["MAIL FROM:<>"]), ["250"]);
    }

    #[test]
    fn commands_out_of_order_are_refused() {
        let mut s = session();
        assert_eq!(feed(&mut s, &["MAIL FROM:<a@b>"]), ["503"]);
        let mut s = session();
        assert_eq!(
            feed(&mut s, &["HELO x", "RCPT TO:<a@b>", "DATA"]),
            ["250", "503", "503"]
        );
        let mut s = session();
        assert_eq!(
            feed(
                &mut s,
                &["HELO x", "MAIL FROM:<a@b>", "DATA", "MAIL FROM:<a@b>"]
            ),
            ["250", "250", "503", "503"]
        );
    }

    #[test]
    fn rset_starts_over_and_noop_changes_nothing() {
        let mut s = session();
        let codes = feed(
            &mut s,
            &[
                "HELO x",
                "MAIL FROM:<a@b>",
                "RCPT TO:<c@d>",
                "NOOP",
                "RSET",
                "DATA",
                "MAIL FROM:<a@b>",
            ],
        );
        assert_eq!(codes, ["250", "250", "250", "250", "250", "503", "250"]);
    }

    #[test]
    fn bad_syntax_and_parameters_are_refused() {
        let mut s = Session::new(Limits {
            max_message_bytes: 64,
            ..Limits::default()
        });
        let codes = feed(
            &mut s,
            &[
                "EHLO",
                "EHLO x",
                "MAIL FROM:a@b",
                "MAIL FROM:<a@b> SIZE=100",
                "MAIL FROM:<a@b> AUTH=<>",
                "MAIL FROM:<a@b>",
                "RCPT TO:<>",
            ],
        );
        assert_eq!(codes, ["501", "250", "501", "552", "555", "250", "501"]);
    }

    #[test]
    fn recipients_and_sizes_are_limited() {
        let mut s = session();
        let codes = feed(
            &mut s,
            &[
                "HELO x",
                "MAIL FROM:<a@b>",
                "RCPT TO:<1@d>",
                "RCPT TO:<2@d>",
                "RCPT TO:<3@d>",
                "DATA",
                "0123456789012345678901234567890123456789",
                "0123456789012345678901234567890123456789",
                ".",
            ],
        );
        assert_eq!(
            codes,
            [
                "250", "250", "250", "250", "452", "354", "---", "---", "552"
            ]
        );
        // Refused, then usable again.
        assert_eq!(feed(&mut s, &["MAIL FROM:<a@b>"]), ["250"]);
    }

    #[test]
    fn too_many_errors_hang_up_and_quit_closes() {
        let mut s = session();
        let steps: Vec<Step> = ["x", "y", "z", "w"].iter().map(|l| s.command(l)).collect();
        assert!(matches!(steps[2], Step::Reply(_)));
        assert!(matches!(&steps[3], Step::Close(text) if text.starts_with("421")));
        let mut s = session();
        assert!(matches!(s.command("QUIT"), Step::Close(text) if text.starts_with("221")));
        assert!(matches!(s.command("STARTTLS"), Step::Reply(text) if text.starts_with("502")));
    }
}
