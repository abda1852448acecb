//! Decides whether a cell is ready to run (for consoles and `is_complete_request`), by a lexical
//! scan of Rust: brackets, strings, raw strings, chars versus lifetimes, nested block comments.

#[derive(Debug, PartialEq, Eq)]
pub enum Completeness {
    Complete,
    /// Needs more lines; the indent to use for the next one.
    Incomplete(String),
    Invalid,
}

pub fn is_complete(code: &str) -> Completeness {
    if code.trim_start().starts_with(':') && !code.trim_end().ends_with('\\') {
        // evcxr commands (`:dep`, `:timing`) are one line.
        return Completeness::Complete;
    }
    let chars: Vec<char> = code.chars().collect();
    let mut stack: Vec<char> = Vec::new();
    let mut i = 0;
    let n = chars.len();
    let indent = |depth: usize| "    ".repeat(depth.max(1));
    while i < n {
        let c = chars[i];
        match c {
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < n && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let mut depth = 1;
                i += 2;
                while i < n && depth > 0 {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                if depth > 0 {
                    return Completeness::Incomplete(indent(stack.len()));
                }
                continue;
            }
            'r' | 'b' if !prev_is_ident(&chars, i) && raw_string_start(&chars, i).is_some() => {
                let (hashes, body) = raw_string_start(&chars, i).unwrap();
                let mut j = body;
                loop {
                    if j >= n {
                        return Completeness::Incomplete(String::new());
                    }
                    if chars[j] == '"' && (0..hashes).all(|h| chars.get(j + 1 + h) == Some(&'#')) {
                        i = j + 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                continue;
            }
            '"' => {
                i += 1;
                loop {
                    if i >= n {
                        return Completeness::Incomplete(String::new());
                    }
                    match chars[i] {
                        '\\' => i += 2,
                        '"' => {
                            i += 1;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                continue;
            }
            '\'' => {
                // A char literal ('a', '\n', '\u{1F600}') or a lifetime ('a).
                if chars.get(i + 1) == Some(&'\\') {
                    let mut j = i + 2;
                    while j < n && chars[j] != '\'' && chars[j] != '\n' {
                        j += 1;
                    }
                    i = j + 1;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
                continue;
            }
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return Completeness::Invalid;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if !stack.is_empty() {
        return Completeness::Incomplete(indent(stack.len()));
    }
    let trimmed = strip_trailing_comment(code).trim_end();
    const CONTINUATIONS: [&str; 20] = [
        "=", "+", "-", "*", "/", "%", "&&", "||", ",", ".", "->", "=>", "::", "|", "&", "<", "^",
        "as", "let", "fn",
    ];
    if trimmed.ends_with("..") || trimmed.ends_with('\\') {
        return Completeness::Incomplete(String::new());
    }
    let last_word = trimmed
        .rsplit(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("");
    if CONTINUATIONS.iter().any(|op| {
        trimmed.ends_with(op) && (op.chars().all(|c| !c.is_alphabetic()) || last_word == *op)
    }) && !trimmed.ends_with("*/")
    {
        return Completeness::Incomplete(String::new());
    }
    Completeness::Complete
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// For `r"`, `r#"`, `br##"` at `i`: (number of hashes, index after the opening quote).
fn raw_string_start(chars: &[char], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if chars[j] == 'b' {
        j += 1;
    }
    if chars.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while chars.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    (chars.get(j) == Some(&'"')).then_some((hashes, j + 1))
}

fn strip_trailing_comment(code: &str) -> &str {
    let last_line_start = code.trim_end().rfind('\n').map_or(0, |i| i + 1);
    let last_line = &code[last_line_start..];
    match last_line.find("//") {
        Some(pos) if !last_line[..pos].contains('"') => &code[..last_line_start + pos],
        _ => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Completeness::*;

    #[test]
    fn complete_cells() {
        for code in [
            "1 + 1",
            "let x = 5;",
            "fn f() -> u32 { 3 }",
            "let s = \"{ not a brace\";",
            "let c = '{';",
            "fn f<'a>(x: &'a str) -> &'a str { x }",
            "let r = r#\"a \" { quote\"#;",
            "/* { */ 1",
            "// just a comment {",
            ":dep polars = \"0.46\"",
            "",
        ] {
            assert_eq!(is_complete(code), Complete, "{code:?}");
        }
    }

    #[test]
    fn incomplete_cells() {
        assert_eq!(is_complete("fn f() {"), Incomplete("    ".into()));
        assert_eq!(
            is_complete("fn f() {\n    if x {"),
            Incomplete("        ".into())
        );
        assert_eq!(is_complete("let s = \"open"), Incomplete(String::new()));
        assert_eq!(is_complete("let x ="), Incomplete(String::new()));
        assert_eq!(is_complete("let v = vec![1,"), Incomplete("    ".into()));
        assert_eq!(is_complete("/* open"), Incomplete("    ".into()));
        assert_eq!(is_complete("let y = x +"), Incomplete(String::new()));
    }

    #[test]
    fn invalid_cells() {
        assert_eq!(is_complete("fn f() }"), Invalid);
        assert_eq!(is_complete("let x = (1, 2]);"), Invalid);
    }
}
