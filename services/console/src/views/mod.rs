//! The pages' shell and the small pieces every screen uses.

pub mod board;
pub mod charts;
pub mod handover;
pub mod offer;
pub mod team;
pub mod work;
// rep screens
pub mod alerts;
pub mod lead_actions;
pub mod numbers;
pub mod opps;

use maud::{DOCTYPE, Markup, html};

use crate::assets::PREFIX;
use crate::i18n::{self, Lang};
use crate::session::Session;

/// Which navigation entry a page is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The live offers.
    Offers,
    /// The open pool.
    Pool,
    /// My leads in work.
    Leads,
    /// The manager's team board.
    Board,
    /// The manager's charts.
    Charts,
    /// Team settings and routing rules.
    Team,
    /// The handover of a leaving rep.
    Handover,
    /// My opportunities.
    Opportunities,
    /// My alerts (a manager's: the team's).
    Alerts,
    /// My numbers.
    Numbers,
    /// None (sign-in, errors).
    None,
}

/// A whole page. Signed in, the body carries the session's CSRF token for
/// htmx to send with every request (`hx-headers`).
pub fn page(session: Option<&Session>, lang: Lang, title: &str, nav: Nav, body: Markup) -> Markup {
    let headers = session.map(|s| format!(r#"{{"x-csrf-token": "{}"}}"#, s.csrf));
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // Swap error answers too, so a refusal shows where the answer was to go.
                meta name="htmx-config" content=r#"{"responseHandling":[{"code":"204","swap":false},{"code":"...","swap":true}]}"#;
                title { (title) " · " (i18n::APP.get(lang)) }
                link rel="stylesheet" href={ (PREFIX) "/console.css" };
                script src={ (PREFIX) "/htmx.min.js" } defer {}
                script src={ (PREFIX) "/console.js" } defer {}
            }
            body hx-headers=[headers] {
                header {
                    span.brand { (i18n::APP.get(lang)) }
                    @if let Some(session) = session {
                        (navigation(session, lang, nav))
                        span.muted {
                            (i18n::SIGNED_IN_AS.get(lang)) " " strong { (session.user.id) }
                        }
                        form.inline method="post" action="/lang" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            input type="hidden" name="lang" value=(lang.other().tag());
                            button type="submit" aria-label=(i18n::SWITCH_LANG_LABEL.get(lang)) lang=(lang.other().tag()) {
                                (i18n::SWITCH_LANG.get(lang))
                            }
                        }
                        form.inline method="post" action="/signout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { (i18n::SIGN_OUT.get(lang)) }
                        }
                    }
                }
                main id="main" { (body) }
            }
        }
    }
}

fn navigation(session: &Session, lang: Lang, current: Nav) -> Markup {
    let mut entries = vec![];
    if session.user.is_manager() {
        entries.push((Nav::Board, "/board", i18n::NAV_BOARD));
        entries.push((Nav::Alerts, "/alerts", i18n::NAV_ALERTS));
        entries.push((Nav::Charts, "/charts", i18n::NAV_CHARTS));
        entries.push((Nav::Team, "/team", i18n::NAV_TEAM));
        entries.push((Nav::Handover, "/handover", i18n::NAV_HANDOVER));
    } else {
        entries.push((Nav::Offers, "/", i18n::NAV_OFFERS));
        entries.push((Nav::Pool, "/pool", i18n::NAV_POOL));
        entries.push((Nav::Leads, "/leads", i18n::NAV_LEADS));
        entries.push((Nav::Opportunities, "/opportunities", i18n::NAV_OPPS));
        entries.push((Nav::Alerts, "/alerts", i18n::NAV_ALERTS));
        entries.push((Nav::Numbers, "/numbers", i18n::NAV_NUMBERS));
    }
    html! {
        nav aria-label="main" {
            @for (nav, href, label) in entries {
                @if nav == current {
                    a href=(href) aria-current="page" { (label.get(lang)) }
                } @else {
                    a href=(href) { (label.get(lang)) }
                }
            }
        }
    }
}

/// UTC epoch ms as `2026-11-29 21:04 UTC`.
pub fn time(ms: i64) -> String {
    if ms <= 0 {
        return "—".into();
    }
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

// Howard Hinnant's days-to-civil, so no date crate is needed for a label.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_as_utc() {
        assert_eq!(super::time(0), "—");
        assert_eq!(super::time(1_796_000_000_000), "2026-11-30 00:53 UTC");
    }
}
