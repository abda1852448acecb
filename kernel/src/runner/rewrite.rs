//! Rewrites a cell before evcxr sees it, so that it behaves like the body of a Rust function:
//!
//! - The last expression is shown without being moved or mutably borrowed: `expr` becomes
//!   `{ (&&&&&&::trainbook::cell::Shown(&(expr))).trainbook_show(); };` (the prelude's
//!   `cell` module picks Render, Debug or a note by autoref specialisation). evcxr's own
//!   display calls a `&mut self` method on the value, which fails for any non-`mut` variable
//!   of a plain type, and then compiles the cell a second time.
//! - `expr?` in the cell's own code (not in its closures, functions or async blocks) becomes
//!   `::trainbook::cell::cell_try(expr)?`, which turns the error into a report that the kernel
//!   shows as the cell's error (evcxr only prints it on stderr and calls the cell a success).
//!
//! Every change is an insertion on one line, never a newline, so lines stay where they were and
//! a position in the rewritten cell maps back to the user's by [`Rewritten::original_column`].

use ra_ap_syntax::{ast, AstNode, Edition, SourceFile, SyntaxKind, SyntaxNode, TextSize};

const TAIL_OPEN: &str = "{ (&&&&&&::trainbook::cell::Shown(&(";
const TAIL_CLOSE: &str = "))).trainbook_show(); };";
pub(crate) const TRY_OPEN: &str = "::trainbook::cell::cell_try(";
const TRY_CLOSE: &str = ")";

/// A cell as evcxr will see it, and where text was inserted.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewritten {
    pub code: String,
    /// (1-based line, 1-based column in the user's cell, inserted characters), in order.
    insertions: Vec<(usize, usize, usize)>,
}

impl Rewritten {
    pub fn unchanged(code: &str) -> Rewritten {
        Rewritten {
            code: code.to_owned(),
            insertions: Vec::new(),
        }
    }

    /// The user's column for a 1-based column of the rewritten cell on `line`. A column inside
    /// inserted text maps to where the text was inserted.
    pub fn original_column(&self, line: usize, column: usize) -> usize {
        let mut shift = 0;
        for &(at_line, at_column, len) in &self.insertions {
            if at_line != line {
                continue;
            }
            let start = at_column + shift; // where the insertion begins in the rewritten line
            if column < start {
                break;
            }
            if column < start + len {
                return at_column;
            }
            shift += len;
        }
        column - shift
    }

    #[cfg(test)]
    fn changed(&self) -> bool {
        !self.insertions.is_empty()
    }
}

/// Where evcxr's commands (`:dep`, `:vars`), shell lines (`!ls`), blank lines and leading line
/// comments end and Rust code begins, as evcxr splits a cell: it accepts no command after code.
fn rust_start(cell: &str) -> Option<usize> {
    let mut offset = 0;
    for line in cell.split_inclusive('\n') {
        let trimmed = line.trim_end_matches(['\n', '\r']);
        let command = trimmed.trim_start_matches(' ').starts_with(':');
        if !(trimmed.starts_with('!')
            || command
            || trimmed.starts_with("//")
            || trimmed.trim().is_empty())
        {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

/// Cells are parsed as the body of this function, as evcxr splits them into statements.
const WRAP: &str = "fn f(){";

/// The statements of a cell's Rust code and the byte where that code starts in the cell; `None`
/// when there is no code or it does not parse.
fn cell_statements(cell: &str) -> Option<(usize, ast::StmtList)> {
    let start = rust_start(cell)?;
    let parse = SourceFile::parse(
        &format!("{WRAP}{}\n}}", &cell[start..]),
        Edition::Edition2024,
    );
    if !parse.errors().is_empty() {
        return None;
    }
    let function = parse.tree().syntax().children().find_map(ast::Fn::cast)?;
    Some((start, function.body()?.stmt_list()?))
}

/// One insertion into the cell: `text` at byte `at`; `span` is the length of the code it
/// wraps (to nest insertions at the same place), `open` whether it opens or closes.
struct Insertion {
    at: usize,
    text: String,
    span: usize,
    open: bool,
}

pub fn rewrite(cell: &str) -> Rewritten {
    rewrite_keeping_local(cell, &[]).unwrap_or_else(|| Rewritten::unchanged(cell))
}

/// Like [`rewrite`], and the values bound to `local` names are not kept after the cell: from
/// the first `let` that binds one of them to the end of the cell, the code runs in a block
/// that hands the cell's other new variables back out, so only those are kept. `None` when
/// that cannot be done (no such `let`, or items defined after it, which must stay visible to
/// later cells).
pub fn rewrite_keeping_local(cell: &str, local: &[String]) -> Option<Rewritten> {
    let Some((start, body)) = cell_statements(cell) else {
        // No code, or code that does not parse: evcxr reports it, with its own positions.
        return local.is_empty().then(|| Rewritten::unchanged(cell));
    };
    let offset = |size: TextSize| -> usize { usize::from(size) - WRAP.len() + start };
    let mut insertions = Vec::new();
    for try_expr in own_try_exprs(body.syntax()) {
        if let Some(operand) = try_expr.expr() {
            let range = operand.syntax().text_range();
            let span = usize::from(range.len());
            // `(a / b)?` becomes `cell_try(a / b)?`: its own parentheses serve as the call's
            // (another pair would draw rustc's unused_parens warning).
            let parenthesized = operand.syntax().kind() == SyntaxKind::PAREN_EXPR;
            insertions.push(Insertion {
                at: offset(range.start()),
                text: TRY_OPEN
                    .trim_end_matches(if parenthesized { "(" } else { "" })
                    .into(),
                span,
                open: true,
            });
            if !parenthesized {
                insertions.push(Insertion {
                    at: offset(range.end()),
                    text: TRY_CLOSE.into(),
                    span,
                    open: false,
                });
            }
        }
    }
    if let Some(tail) = body.tail_expr() {
        let range = tail.syntax().text_range();
        let span = usize::from(range.len());
        insertions.push(Insertion {
            at: offset(range.start()),
            text: TAIL_OPEN.into(),
            span,
            open: true,
        });
        insertions.push(Insertion {
            at: offset(range.end()),
            text: TAIL_CLOSE.into(),
            span,
            open: false,
        });
    }
    if !local.is_empty() {
        let (open, close) = local_block(&body, local)?;
        // After the last statement, so that a comment ending the cell cannot swallow it.
        let end = offset(body.syntax().children().last()?.text_range().end());
        let span = end - offset(open.0);
        insertions.push(Insertion {
            at: offset(open.0),
            text: open.1,
            span,
            open: true,
        });
        insertions.push(Insertion {
            at: end,
            text: close,
            span,
            open: false,
        });
    }
    if insertions.is_empty() {
        return Some(Rewritten::unchanged(cell));
    }
    // At one place: closings first (innermost first), then openings (outermost first).
    insertions.sort_by_key(|i| {
        (
            i.at,
            i.open,
            if i.open { usize::MAX - i.span } else { i.span },
        )
    });
    let mut code = String::with_capacity(cell.len() + insertions.len() * 40);
    let mut positions = Vec::with_capacity(insertions.len());
    let mut copied = 0;
    for insertion in &insertions {
        code.push_str(&cell[copied..insertion.at]);
        copied = insertion.at;
        let before = &cell[..insertion.at];
        let line = before.matches('\n').count() + 1;
        let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
            .chars()
            .count()
            + 1;
        positions.push((line, column, insertion.text.chars().count()));
        code.push_str(&insertion.text);
    }
    code.push_str(&cell[copied..]);
    Some(Rewritten {
        code,
        insertions: positions,
    })
}

/// Where the block that keeps `local` names inside the cell opens (with its text) and the text
/// that closes it, for [`rewrite_keeping_local`].
fn local_block(body: &ast::StmtList, local: &[String]) -> Option<((TextSize, String), String)> {
    let statements: Vec<SyntaxNode> = body.syntax().children().collect();
    let binds_local = |node: &SyntaxNode| {
        ast::LetStmt::cast(node.clone())
            .and_then(|l| l.pat())
            .is_some_and(|p| bound_names(&p).iter().any(|(n, _)| local.contains(n)))
    };
    let first = statements.iter().position(binds_local)?;
    let mut kept: Vec<(String, bool)> = Vec::new();
    for statement in &statements[first..] {
        if ast::Item::can_cast(statement.kind()) {
            return None;
        }
        if let Some(pat) = ast::LetStmt::cast(statement.clone()).and_then(|l| l.pat()) {
            for (name, mutable) in bound_names(&pat) {
                kept.retain(|(n, _)| *n != name);
                if !local.contains(&name) {
                    kept.push((name, mutable));
                }
            }
        }
    }
    let names = |with_mut: bool| -> Vec<String> {
        kept.iter()
            .map(|(n, m)| {
                if with_mut && *m {
                    format!("mut {n}")
                } else {
                    n.clone()
                }
            })
            .collect()
    };
    let (pattern, value) = match kept.len() {
        0 => {
            return Some((
                (statements[first].text_range().start(), "{ ".into()),
                " };".into(),
            ))
        }
        1 => (names(true).remove(0), names(false).remove(0)),
        _ => (
            format!("({})", names(true).join(", ")),
            format!("({})", names(false).join(", ")),
        ),
    };
    Some((
        (
            statements[first].text_range().start(),
            format!("let {pattern} = {{ "),
        ),
        format!(" {value} }};"),
    ))
}

/// Names bound to a closure by a `let` at the top level of the cell (`let f = |x| x + 1;`),
/// which evcxr cannot keep between cells; a `let` with a type (`Box<dyn Fn..>`) is kept.
pub fn closure_bindings(cell: &str) -> Vec<String> {
    let Some((_, body)) = cell_statements(cell) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for statement in body.statements() {
        let ast::Stmt::LetStmt(binding) = statement else {
            continue;
        };
        let mut value = binding.initializer();
        while let Some(ast::Expr::ParenExpr(inner)) = value {
            value = inner.expr();
        }
        if binding.ty().is_none() && matches!(value, Some(ast::Expr::ClosureExpr(_))) {
            if let Some(pat) = binding.pat() {
                names.extend(bound_names(&pat).into_iter().map(|(n, _)| n));
            }
        }
    }
    names
}

/// The names a pattern binds, with whether each is `mut`.
fn bound_names(pat: &ast::Pat) -> Vec<(String, bool)> {
    pat.syntax()
        .descendants()
        .filter_map(ast::IdentPat::cast)
        .filter_map(|ident| {
            let name = ast::HasName::name(&ident)?.text().to_string();
            Some((name, ident.mut_token().is_some()))
        })
        .collect()
}

/// The `?` expressions that return from the cell itself: not those inside closures, nested
/// items (functions, impls), async blocks or const blocks, which return elsewhere.
fn own_try_exprs(node: &SyntaxNode) -> Vec<ast::TryExpr> {
    let mut found = Vec::new();
    for child in node.children() {
        let kind = child.kind();
        if kind == SyntaxKind::CLOSURE_EXPR || ast::Item::can_cast(kind) {
            continue;
        }
        if let Some(block) = ast::BlockExpr::cast(child.clone()) {
            if block.async_token().is_some()
                || block.const_token().is_some()
                || block.gen_token().is_some()
                || block.try_block_modifier().is_some()
            {
                continue;
            }
        }
        if let Some(try_expr) = ast::TryExpr::cast(child.clone()) {
            found.push(try_expr);
        }
        found.extend(own_try_exprs(&child));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_expressions_are_borrowed_for_display() {
        let r = rewrite("let a = 0.5;\na");
        assert_eq!(
            r.code,
            "let a = 0.5;\n{ (&&&&&&::trainbook::cell::Shown(&(a))).trainbook_show(); };"
        );
        assert_eq!(
            rewrite("let v = vec![1];\nv[0] // first")
                .code
                .matches("Shown(&(v[0]))")
                .count(),
            1
        );
        // No tail: nothing to show.
        assert!(!rewrite("let a = 1;").changed());
        assert!(!rewrite("fn f() -> i32 { 1 }").changed());
    }

    #[test]
    fn question_marks_of_the_cell_only() {
        let r = rewrite("let n: i32 = \"4\".parse()?;\nlet f = |s: &str| -> Result<i32, std::num::ParseIntError> { Ok(s.parse::<i32>()?) };\nfn g() -> Option<u8> { Some(1)? .checked_add(1) }");
        assert_eq!(r.code.matches("cell_try(").count(), 1, "{}", r.code);
        assert!(r
            .code
            .starts_with("let n: i32 = ::trainbook::cell::cell_try(\"4\".parse())?;"));
        let r = rewrite("async { x? };\nconst { 1 };\nloop { y?; break; }");
        assert_eq!(r.code.matches("cell_try(").count(), 1, "{}", r.code);
    }

    #[test]
    fn parenthesized_operands_are_the_call() {
        assert_eq!(
            rewrite("let t = (x / 2.0)?;").code,
            "let t = ::trainbook::cell::cell_try(x / 2.0)?;"
        );
    }

    #[test]
    fn nested_insertions_nest() {
        let r = rewrite("a()?.b()?");
        assert_eq!(
            r.code,
            "{ (&&&&&&::trainbook::cell::Shown(&(::trainbook::cell::cell_try(::trainbook::cell::cell_try(a())?.b())?))).trainbook_show(); };"
        );
    }

    #[test]
    fn commands_and_parse_errors_are_left_alone() {
        let r = rewrite(":dep foo = \"1\"\n// note\nlet x = 1;\nx");
        assert!(r
            .code
            .starts_with(":dep foo = \"1\"\n// note\nlet x = 1;\n{ (&&&"));
        assert!(!rewrite("let x = ;\nx").changed());
        assert!(!rewrite(":vars").changed());
        assert!(!rewrite("").changed());
    }

    #[test]
    fn values_that_cannot_be_kept_stay_inside_the_cell() {
        let local = ["f".to_owned()];
        let r = rewrite_keeping_local(
            "let a = 1;\nlet f = |x: i32| x + a;\nlet mut b = f(2);\nlet a = \"s\";\nb // shown",
            &local,
        )
        .unwrap();
        assert_eq!(
            r.code,
            "let a = 1;\nlet (mut b, a) = { let f = |x: i32| x + a;\nlet mut b = f(2);\nlet a = \"s\";\n{ (&&&&&&::trainbook::cell::Shown(&(b))).trainbook_show(); }; (b, a) }; // shown"
        );
        let r = rewrite_keeping_local("let f = || 1;\nlet g = f();", &local).unwrap();
        assert_eq!(r.code, "let g = { let f = || 1;\nlet g = f(); g };");
        let r = rewrite_keeping_local("let f = || 1;\nf();", &local).unwrap();
        assert_eq!(r.code, "{ let f = || 1;\nf(); };");
        // An item after it must stay visible to later cells: not done.
        assert!(rewrite_keeping_local("let f = || 1;\nfn g() {}", &local).is_none());
        assert!(rewrite_keeping_local("let g = 1;", &local).is_none());
    }

    #[test]
    fn closures_bound_by_let_are_found() {
        let cell = "let a = 1;\nlet f = |x: i32| x + a;\nlet g = (move || 2);\nlet h: Box<dyn Fn()> = Box::new(|| ());\nlet k = f(1);";
        assert_eq!(closure_bindings(cell), ["f", "g"]);
        assert!(closure_bindings("let v = vec![1].iter().map(|x| x + 1).count();").is_empty());
    }

    #[test]
    fn columns_map_back_to_the_users_cell() {
        let cell = "let é = 1;\nlet y: u8 = é? + z?;";
        let r = rewrite(cell);
        let line = r.code.lines().nth(1).unwrap();
        // Find `z` in the rewritten line, 1-based in characters.
        let z = line.chars().position(|c| c == 'z').unwrap() + 1;
        assert_eq!(r.original_column(2, z), 18);
        assert_eq!(r.original_column(1, 5), 5);
        // Inside inserted text: the place it was inserted.
        assert_eq!(r.original_column(2, 14), 13);
    }
}
