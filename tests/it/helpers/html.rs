//! Reading the console's HTML. maud quotes every attribute with `"` and
//! escapes `&<>"`, so plain string scanning is enough; no HTML parser needed.

/// The hidden `csrf_token` of the first form on the page.
pub fn csrf_of(html: &str) -> String {
    input_value(html, "csrf_token").unwrap_or_else(|| panic!("no csrf_token on the page: {html}"))
}

/// `&amp;` and friends back to text.
pub fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// Every `<{name} …>` start tag: its offset and its text up to `>`.
fn start_tags<'a>(html: &'a str, name: &'a str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
    html.match_indices(name).filter_map(move |(at, _)| {
        if at == 0 || html.as_bytes()[at - 1] != b'<' {
            return None;
        }
        let at = at - 1;
        let rest = &html[at..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        // `<input` but not `<inputs`.
        let next = tag[name.len() + 1..].chars().next();
        matches!(next, None | Some(' ' | '\n' | '\t' | '/')).then_some((at, tag))
    })
}

/// An attribute's decoded value (`Some("")` for a bare boolean attribute).
fn attr(tag: &str, name: &str) -> Option<String> {
    // Skip `<tagname`, then read `key` or `key="value"` pairs in order.
    let mut rest = tag.trim_start_matches('<');
    rest = rest.trim_start_matches(|c: char| !c.is_whitespace());
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let key_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        if key_end == 0 {
            rest = &rest[1..];
            continue;
        }
        let key = &rest[..key_end];
        rest = &rest[key_end..];
        let value = match rest.strip_prefix("=\"") {
            Some(quoted) => {
                let end = quoted.find('"')?;
                rest = &quoted[end + 1..];
                decode_entities(&quoted[..end])
            }
            None => String::new(),
        };
        if key == name {
            return Some(value);
        }
    }
}

/// The control (`input`, `select`, `textarea`) named `name`: offset and tag.
fn control<'a>(html: &'a str, name: &str) -> Option<(&'static str, usize, &'a str)> {
    ["input", "select", "textarea"]
        .into_iter()
        .flat_map(|kind| start_tags(html, kind).map(move |(at, tag)| (kind, at, tag)))
        .filter(|(_, _, tag)| attr(tag, "name").as_deref() == Some(name))
        .min_by_key(|(_, at, _)| *at)
}

/// The decoded `attribute` of every `<{tag} …>` that has it, in page order.
pub fn attribute_values(html: &str, tag: &str, attribute: &str) -> Vec<String> {
    start_tags(html, tag)
        .filter_map(|(_, found)| attr(found, attribute))
        .collect()
}

/// The `value` of the input named `name`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    start_tags(html, "input")
        .find(|(_, tag)| attr(tag, "name").as_deref() == Some(name))
        .and_then(|(_, tag)| attr(tag, "value"))
}

/// Whether the checkbox named `name` is ticked.
pub fn is_checked(html: &str, name: &str) -> bool {
    start_tags(html, "input")
        .find(|(_, tag)| attr(tag, "name").as_deref() == Some(name))
        .is_some_and(|(_, tag)| attr(tag, "checked").is_some())
}

/// The value of the selected option of the select named `name`.
pub fn selected_option(html: &str, name: &str) -> Option<String> {
    let (_, at, _) = control(html, name).filter(|(kind, _, _)| *kind == "select")?;
    let select = &html[at..];
    let select = &select[..select.find("</select>")?];
    start_tags(select, "option")
        .find(|(_, tag)| attr(tag, "selected").is_some())
        .and_then(|(_, tag)| attr(tag, "value"))
}

/// The text of the textarea named `name`.
pub fn textarea_text(html: &str, name: &str) -> Option<String> {
    let (_, at, tag) = control(html, name).filter(|(kind, _, _)| *kind == "textarea")?;
    let body = &html[at + tag.len() + 1..];
    Some(decode_entities(&body[..body.find("</textarea>")?]))
}

/// The error text (`p.error-text`) next to the control named `name`: the
/// nearest one, provided no control of another field stands between them
/// (the `hours_*` controls count as one field, `hours`).
pub fn error_near(html: &str, name: &str) -> Option<String> {
    let group = |field: &str| {
        if field.starts_with("hours_") {
            "hours".to_owned()
        } else {
            field.to_owned()
        }
    };
    let (_, field_at, _) = control(html, name)?;
    let (error_at, tag) = start_tags(html, "p")
        .filter(|(_, tag)| {
            attr(tag, "class").is_some_and(|class| class.split(' ').any(|c| c == "error-text"))
        })
        .min_by_key(|(at, _)| at.abs_diff(field_at))?;
    let between = &html[field_at.min(error_at)..field_at.max(error_at)];
    let foreign = ["input", "select", "textarea"].into_iter().any(|kind| {
        start_tags(between, kind).any(|(_, tag)| {
            attr(tag, "name")
                .is_some_and(|other| other != "csrf_token" && group(&other) != group(name))
        })
    });
    if foreign {
        return None;
    }
    let body = &html[error_at + tag.len() + 1..];
    Some(decode_entities(&body[..body.find("</p>")?]))
}

/// The flash message on the page: its kind (`success`, `error`, `info`) and text.
pub fn flash_of(html: &str) -> Option<(String, String)> {
    start_tags(html, "div").find_map(|(at, tag)| {
        let class = attr(tag, "class")?;
        let kind = class
            .split(' ')
            .find_map(|c| c.strip_prefix("flash-"))?
            .to_owned();
        let body = &html[at + tag.len() + 1..];
        Some((kind, decode_entities(&body[..body.find("</div>")?])))
    })
}

/// Whether the input named `name` carries the attribute `attribute`.
pub fn input_has(html: &str, name: &str, attribute: &str) -> bool {
    start_tags(html, "input")
        .find(|(_, tag)| attr(tag, "name").as_deref() == Some(name))
        .is_some_and(|(_, tag)| attr(tag, attribute).is_some())
}

/// The options of the datalist the input named `name` points to (`list`).
pub fn datalist_of(html: &str, name: &str) -> Vec<String> {
    let Some(id) = start_tags(html, "input")
        .find(|(_, tag)| attr(tag, "name").as_deref() == Some(name))
        .and_then(|(_, tag)| attr(tag, "list"))
    else {
        return Vec::new();
    };
    let Some((at, _)) =
        start_tags(html, "datalist").find(|(_, tag)| attr(tag, "id").as_deref() == Some(&id))
    else {
        return Vec::new();
    };
    let list = &html[at..];
    let list = &list[..list.find("</datalist>").unwrap_or(list.len())];
    start_tags(list, "option")
        .filter_map(|(_, tag)| attr(tag, "value"))
        .collect()
}
