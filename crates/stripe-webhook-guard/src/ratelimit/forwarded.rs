//! Reading proxy headers from the right: `X-Forwarded-For` and `Forwarded` (RFC 7239).
//!
//! Every proxy *appends* the address it received the request from, so the right-most entries
//! were written by our own proxies and the left-most by whoever sent the request: anything can
//! be there. The hops are therefore produced nearest first, and parsing is lenient about the
//! forms proxies really write (ports, brackets, quotes) but yields `None` for an entry that is
//! not an address, so the caller can stop there.

use bytes::Bytes;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::ops::ControlFlow;

/// Which header your proxies write the client address into.
///
/// Only read when the peer is a trusted proxy. Pick the one your proxy *sets*: a header it
/// merely passes through is written by the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, AWS ALB, Cloudflare, most
    /// PaaS). The default.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for="[2001:db8::1]:4711"` (RFC 7239; Envoy, some CDNs).
    Forwarded,
}

/// Calls `visit` with each hop's address, right-most (nearest) first, across all the header's
/// lines (later lines are nearer), until it breaks. `None` is an entry that is not an address
/// (garbage, `unknown`, an obfuscated identifier, a `Forwarded` element without `for=`).
/// Empty list elements are skipped.
pub(crate) fn visit_hops(
    header: ForwardedHeader,
    lines: &[Bytes],
    mut visit: impl FnMut(Option<IpAddr>) -> ControlFlow<()>,
) {
    for line in lines.iter().rev() {
        let Ok(line) = std::str::from_utf8(line) else {
            if visit(None).is_break() {
                return;
            }
            continue;
        };
        let flow = match header {
            ForwardedHeader::XForwardedFor => line
                .rsplit(',')
                .filter(|entry| !entry.trim().is_empty())
                .try_for_each(|entry| visit(parse_node(entry))),
            ForwardedHeader::Forwarded => forwarded_elements(line)
                .into_iter()
                .rev()
                .try_for_each(&mut visit),
        };
        if flow.is_break() {
            return;
        }
    }
}

/// One address as proxies write it: `1.2.3.4`, `1.2.3.4:567`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:567`, optionally in double quotes, surrounded by whitespace.
pub(crate) fn parse_node(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let entry = entry
        .strip_prefix('"')
        .and_then(|e| e.strip_suffix('"'))
        .unwrap_or(entry)
        .trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = entry.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
        .map(IpAddr::V6)
}

/// The `for=` address of each element of one `Forwarded` line, left to right. Commas and
/// semicolons inside quoted strings do not split.
fn forwarded_elements(line: &str) -> Vec<Option<IpAddr>> {
    split_unquoted(line, ',')
        .into_iter()
        .filter(|element| !element.trim().is_empty())
        .map(|element| {
            split_unquoted(element, ';')
                .into_iter()
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, value)| parse_node(&unquote(value.trim())))
        })
        .collect()
}

/// Splits at `separator` outside double-quoted strings (which may contain `\"`).
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A quoted-string's content with `\x` escapes resolved; a token unchanged.
fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or('\\')
                } else {
                    c
                });
            }
            out
        }
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    fn hops(header: ForwardedHeader, lines: &[&[u8]]) -> Vec<Option<IpAddr>> {
        let lines: Vec<Bytes> = lines.iter().map(|l| Bytes::copy_from_slice(l)).collect();
        let mut seen = Vec::new();
        visit_hops(header, &lines, |hop| {
            seen.push(hop);
            ControlFlow::Continue(())
        });
        seen
    }

    #[test]
    fn nodes_in_the_forms_proxies_write() {
        let cases = [
            ("1.2.3.4", ip("1.2.3.4")),
            ("  1.2.3.4  ", ip("1.2.3.4")),
            ("1.2.3.4:8080", ip("1.2.3.4")),
            ("\"1.2.3.4\"", ip("1.2.3.4")),
            ("2001:db8::1", ip("2001:db8::1")),
            ("[2001:db8::1]", ip("2001:db8::1")),
            ("[2001:db8::1]:4711", ip("2001:db8::1")),
            ("\"[2001:db8::1]:4711\"", ip("2001:db8::1")),
            ("::ffff:1.2.3.4", ip("::ffff:1.2.3.4")),
            ("unknown", None),
            ("_hidden", None),
            ("", None),
            ("1.2.3", None),
            ("1.2.3.4:port", None),
            ("[1.2.3.4]", None),
            ("2001:db8::1:80x", None),
            ("fe80::1%eth0", None),
            ("<script>", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_node(input), expected, "{input:?}");
        }
    }

    #[test]
    fn x_forwarded_for_is_read_from_the_right_across_lines() {
        let seen = hops(
            ForwardedHeader::XForwardedFor,
            &[b"9.9.9.9, 1.2.3.4", b"10.0.0.1 ,, 10.0.0.2"],
        );
        assert_eq!(
            seen,
            [ip("10.0.0.2"), ip("10.0.0.1"), ip("1.2.3.4"), ip("9.9.9.9")]
        );
        let seen = hops(
            ForwardedHeader::XForwardedFor,
            &[b"1.2.3.4, garbage, 10.0.0.1"],
        );
        assert_eq!(seen, [ip("10.0.0.1"), None, ip("1.2.3.4")]);
    }

    #[test]
    fn a_line_that_is_not_utf8_is_one_garbage_hop() {
        let seen = hops(ForwardedHeader::XForwardedFor, &[b"1.2.3.4", b"\xff\xfe"]);
        assert_eq!(seen, [None, ip("1.2.3.4")]);
    }

    #[test]
    fn visiting_stops_when_asked() {
        let lines = [Bytes::from_static(b"1.1.1.1, 2.2.2.2, 3.3.3.3")];
        let mut seen = Vec::new();
        visit_hops(ForwardedHeader::XForwardedFor, &lines, |hop| {
            seen.push(hop);
            if seen.len() == 2 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(seen, [ip("3.3.3.3"), ip("2.2.2.2")]);
    }

    #[test]
    fn forwarded_elements_with_quotes_ports_and_brackets() {
        let seen = hops(
            ForwardedHeader::Forwarded,
            &[
                b"for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:db8:cafe::17]:4711\"",
                b"proto=https;for=\"198.51.100.17:80\", for=unknown, by=10.0.0.1, for=_gazonk",
            ],
        );
        assert_eq!(
            seen,
            [
                None, // for=_gazonk (obfuscated)
                None, // an element without for=
                None, // for=unknown
                ip("198.51.100.17"),
                ip("2001:db8:cafe::17"),
                ip("192.0.2.60"),
            ]
        );
    }

    #[test]
    fn forwarded_quoted_separators_do_not_split() {
        let seen = hops(
            ForwardedHeader::Forwarded,
            &[b"for=1.2.3.4;ext=\"a,b;c\\\"d\", for=\"5.6.7.8\""],
        );
        assert_eq!(seen, [ip("5.6.7.8"), ip("1.2.3.4")]);
        assert_eq!(unquote("\"a\\\"b\""), "a\"b");
        assert_eq!(unquote("token"), "token");
    }
}
