//! The query side of the sink's HTTP API: Tempo's search parameters (`tags`, TraceQL's two
//! simplest forms, `start`, `end`, `limit`, `spss`) and trace IDs, parsed from the URL.

use crate::sink::store::{SearchQuery, TraceId};
use crate::traces::model::{hex_decode, pad_trace_id};

pub(super) fn parse_trace_id(raw: &str) -> Option<TraceId> {
    if raw.is_empty() || raw.len() > 32 {
        return None;
    }
    TraceId::try_from(hex_decode(&pad_trace_id(raw))?.as_slice()).ok()
}

/// Reads `/api/search` parameters: `tags` (logfmt, `service.name=X`) or `q` (the TraceQL
/// `{}` or `{ resource.service.name = "X" }`), `start`, `end` (unix seconds), `limit`, `spss`.
pub(super) fn parse_search(query: &str) -> Result<SearchQuery, String> {
    let mut search = SearchQuery::default();
    for (key, value) in query_pairs(query) {
        let number = |what: &str| {
            value
                .parse::<u64>()
                .map_err(|_| format!("invalid {what} {value:?}: expected a non-negative integer"))
        };
        match key.as_str() {
            "tags" => search.service = parse_tags(&value)?,
            "q" => search.service = parse_traceql(&value)?,
            "start" => search.start_s = Some(number("start")?),
            "end" => search.end_s = Some(number("end")?),
            "limit" => search.limit = number("limit")? as usize,
            "spss" => search.spss = number("spss")? as usize,
            _ => {}
        }
    }
    if search.limit == 0 {
        return Err("invalid limit: must be a positive number".into());
    }
    if let (Some(start), Some(end)) = (search.start_s, search.end_s)
        && end <= start
    {
        return Err("http parameter start must be before end".into());
    }
    Ok(search)
}

fn parse_tags(tags: &str) -> Result<Option<String>, String> {
    let mut service = None;
    for pair in tags.split_whitespace() {
        match pair.split_once('=') {
            Some(("service.name", value)) => service = Some(value.trim_matches('"').to_string()),
            _ => {
                return Err(format!(
                    "unsupported tag {pair:?}: this sink searches only by service.name=<name>"
                ));
            }
        }
    }
    Ok(service)
}

fn parse_traceql(q: &str) -> Result<Option<String>, String> {
    let unsupported = || {
        format!(
            "unsupported TraceQL {q:?}: this sink understands only {{}} and \
             {{ resource.service.name = \"<name>\" }}"
        )
    };
    let inner = q
        .trim()
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .ok_or_else(unsupported)?
        .trim();
    if inner.is_empty() {
        return Ok(None);
    }
    let (field, value) = inner.split_once('=').ok_or_else(unsupported)?;
    let value = value.trim();
    let quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
    match field.trim() {
        "resource.service.name" | ".service.name" if quoted => {
            Ok(Some(value[1..value.len() - 1].to_string()))
        }
        _ => Err(unsupported()),
    }
}

/// `application/x-www-form-urlencoded` pairs, percent-decoded.
fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k), percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                match s
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_parameters() {
        let q = parse_search("tags=service.name%3Dapi-gateway&start=10&end=20&limit=5").unwrap();
        assert_eq!(q.service.as_deref(), Some("api-gateway"));
        assert_eq!((q.start_s, q.end_s, q.limit), (Some(10), Some(20), 5));
        let q = parse_search("q=%7B+resource.service.name+%3D+%22auth%22+%7D").unwrap();
        assert_eq!(q.service.as_deref(), Some("auth"));
        assert_eq!(parse_search("q=%7B%7D").unwrap().service, None);
        assert!(parse_search("q=%7B+span.http.status_code+%3D+200+%7D").is_err());
        assert!(parse_search("tags=http.method%3DGET").is_err());
        assert!(parse_search("limit=x").is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%7"), "a b c%7");
        assert_eq!(percent_decode("%"), "%");
    }

    #[test]
    fn trace_ids_may_be_trimmed() {
        assert_eq!(
            parse_trace_id("1"),
            Some({
                let mut id = [0; 16];
                id[15] = 1;
                id
            })
        );
        assert_eq!(parse_trace_id("xyz"), None);
        assert_eq!(parse_trace_id(&"1".repeat(33)), None);
    }
}
