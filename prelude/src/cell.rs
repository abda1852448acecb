//! What the kernel's rewriting of a cell calls: the display of its last expression, and `?`
//! failures that become the cell's error.
//!
//! The kernel does not let evcxr display a cell's last expression (evcxr calls a method on it
//! that needs `mut` for plain values, and compiles the cell twice when that fails). It rewrites
//! `expr` at the end of a cell into `(&&&&&&Shown(&(expr))).trainbook_show();`: the expression
//! is only borrowed, so nothing is moved and nothing needs `mut`, and the method call picks the
//! richest way to show the value by autoref specialisation (the first tier whose bounds the
//! type meets, in this order):
//!
//! 1. `Result<T, E>` with `T: Render`, `E: Display`: `Ok` renders `T`, `Err` fails the cell;
//! 2. `T: Render` (tables, charts, models): its MIME bundle;
//! 3. `Result<T, E>` with `T: Debug`, `E: Display`: `Ok(..)` as Debug text, `Err` fails the cell;
//! 4. `Result<T, E>` with `E: Display`: `Err` fails the cell, `Ok` names its type;
//! 5. `T: Debug`: its Debug text;
//! 6. anything else: a one-line note naming the type.
//!
//! `expr?` in the cell's own code (not inside its closures or functions) becomes
//! `cell_try(expr)?`, which turns an error into [`CellFailed`] (a cell returns a `Result`, so,
//! as in any such function, `?` on an `Option` does not compile there): the cell then ends as a Jupyter
//! error whose name is the error's type, whose value is its message, and whose traceback lists
//! its causes (anyhow's context lines).

use crate::display::{emit_final, MimeBundle, Render};
use std::fmt::{self, Debug, Display};
use std::io::Write;

/// A cell's last expression, borrowed for display. See the module docs.
///
/// ```
/// use trainbook::prelude::*;
/// let v = vec![10, 20];
/// (&&&&&&trainbook::cell::Shown(&(v[1]))).trainbook_show(); // prints 20 as the cell's result
/// let frame = df!("x" => [1, 2]).unwrap();
/// (&&&&&&trainbook::cell::Shown(&(frame))).trainbook_show(); // the frame's HTML table
/// ```
pub struct Shown<'a, T: ?Sized>(pub &'a T);

/// Display tier 1: a `Result` of something renderable.
pub trait ShowRenderResult {
    fn trainbook_show(&self);
}
/// Display tier 2: anything renderable.
pub trait ShowRender {
    fn trainbook_show(&self);
}
/// Display tier 3: a `Result` of something `Debug`.
pub trait ShowDebugResult {
    fn trainbook_show(&self);
}
/// Display tier 4: any `Result` whose error is `Display`.
pub trait ShowAnyResult {
    fn trainbook_show(&self);
}
/// Display tier 5: anything `Debug`.
pub trait ShowDebug {
    fn trainbook_show(&self);
}
/// Display tier 6: anything at all.
pub trait ShowAnything {
    fn trainbook_show(&self);
}

impl<T: Render, E: Display> ShowRenderResult for &&&&&Shown<'_, Result<T, E>> {
    fn trainbook_show(&self) {
        match self.0 {
            Ok(value) => emit_final(&value.mime_bundle()),
            Err(error) => report_error(&Report::from_display(error)),
        }
    }
}

impl<T: Render + ?Sized> ShowRender for &&&&Shown<'_, T> {
    fn trainbook_show(&self) {
        emit_final(&self.0.mime_bundle());
    }
}

impl<T: Debug, E: Display> ShowDebugResult for &&&Shown<'_, Result<T, E>> {
    fn trainbook_show(&self) {
        match self.0 {
            Ok(value) => emit_final(&MimeBundle::text(format!("Ok({value:?})"))),
            Err(error) => report_error(&Report::from_display(error)),
        }
    }
}

impl<T, E: Display> ShowAnyResult for &&Shown<'_, Result<T, E>> {
    fn trainbook_show(&self) {
        match self.0 {
            Ok(_) => emit_final(&MimeBundle::text(no_way_to_show(&format!(
                "Ok({})",
                std::any::type_name::<T>()
            )))),
            Err(error) => report_error(&Report::from_display(error)),
        }
    }
}

impl<T: Debug + ?Sized> ShowDebug for &Shown<'_, T> {
    fn trainbook_show(&self) {
        emit_final(&MimeBundle::text(format!("{:?}", self.0)));
    }
}

impl<T: ?Sized> ShowAnything for Shown<'_, T> {
    fn trainbook_show(&self) {
        emit_final(&MimeBundle::text(
            no_way_to_show(std::any::type_name::<T>()),
        ));
    }
}

fn no_way_to_show(type_name: &str) -> String {
    // Types a cell defines live in evcxr's crate, `ctx`; the user knows them without it.
    let type_name = without_cell_crate(type_name);
    format!(
        "<a value of type `{type_name}`, which has neither Debug nor Render: add \
         #[derive(Debug)] to the type, or implement Render, to see it>"
    )
}

/// `ctx::P` → `P`, `Vec<ctx::P>` → `Vec<P>`; `myctx::P` stays.
fn without_cell_crate(type_name: &str) -> String {
    let mut out = String::with_capacity(type_name.len());
    let mut rest = type_name;
    while let Some(at) = rest.find("ctx::") {
        let starts_path =
            at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':');
        out.push_str(&rest[..at]);
        if !starts_path {
            out.push_str("ctx::");
        }
        rest = &rest[at + "ctx::".len()..];
    }
    out.push_str(rest);
    out
}

/// What a cell's error shows: Jupyter's `ename`, `evalue` and `traceback`.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub ename: String,
    pub evalue: String,
    /// The causes under the message, outermost first (anyhow's context chain).
    pub causes: Vec<String>,
}

impl Report {
    /// The report for any error that can be displayed. The causes come from the alternate
    /// form (`{:#}`), which anyhow writes as `message: cause: cause`.
    ///
    /// ```
    /// use trainbook::anyhow::{anyhow, Context};
    /// let e = Err::<(), _>(anyhow!("disk full")).context("saving the model").unwrap_err();
    /// let report = trainbook::cell::Report::from_display(&e);
    /// assert_eq!(report.ename, "Error");
    /// assert_eq!(report.evalue, "saving the model");
    /// assert_eq!(report.causes, ["disk full"]);
    /// let parse = "x".parse::<i32>().unwrap_err();
    /// assert_eq!(trainbook::cell::Report::from_display(&parse).ename, "ParseIntError");
    /// ```
    pub fn from_display<E: Display + ?Sized>(error: &E) -> Report {
        let evalue = error.to_string();
        let alternate = format!("{error:#}");
        let causes = match alternate.strip_prefix(&evalue) {
            Some(rest) if !rest.is_empty() => rest
                .strip_prefix(": ")
                .unwrap_or(rest)
                .split(": ")
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Report {
            ename: short_type_name(std::any::type_name::<E>()),
            evalue,
            causes,
        }
    }

    /// Jupyter's traceback lines: the message, then the causes.
    pub fn traceback(&self) -> Vec<String> {
        let mut lines = vec![format!("{}: {}", self.ename, self.evalue)];
        if !self.causes.is_empty() {
            lines.push(String::new());
            lines.push("Caused by:".to_owned());
            for (i, cause) in self.causes.iter().enumerate() {
                lines.push(format!("    {i}: {cause}"));
            }
        }
        lines
    }

    /// The report as the kernel reads it: `{"ename", "evalue", "traceback"}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ename": self.ename,
            "evalue": self.evalue,
            "traceback": self.traceback(),
        })
    }

    /// In a kernel, the one line it reads as this cell's error (an error marker with the
    /// kernel's token, see `trainbook_wire`); elsewhere, the traceback as text.
    pub fn marker_line(&self) -> String {
        crate::runtime::marker_line(trainbook_wire::Marker::Error, &self.to_json().to_string())
            .unwrap_or_else(|| self.traceback().join("\n"))
    }
}

/// `anyhow::Error` → `Error`, `core::num::error::ParseIntError` → `ParseIntError`, and boxed
/// trait objects → `Error`.
fn short_type_name(full: &str) -> String {
    let outer = full.split('<').next().unwrap_or(full);
    let name = outer.rsplit("::").next().unwrap_or(outer).trim();
    match name {
        "" | "Box" | "Arc" | "Rc" | "&str" | "str" | "String" => "Error".to_owned(),
        name if name.starts_with('&') || name.starts_with("dyn ") => "Error".to_owned(),
        name => name.to_owned(),
    }
}

fn report_error(report: &Report) {
    let _ = std::io::stdout().lock().flush();
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", report.marker_line());
    let _ = err.flush();
}

/// An error that ended a cell, carrying its report. Its `Display` is the kernel's marker line,
/// because evcxr prints a `?` error with `Display` on stderr: that print is the report.
#[derive(Debug, Clone, PartialEq)]
pub struct CellFailed(pub Report);

impl Display for CellFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.marker_line())
    }
}

/// What the kernel writes around the operand of a `?` in a cell's own code.
///
/// ```
/// fn cell() -> Result<(), trainbook::cell::CellFailed> {
///     let n: i32 = trainbook::cell::cell_try("41".parse())?;
///     assert_eq!(n, 41);
///     let failed = trainbook::cell::cell_try("x".parse::<i32>()).unwrap_err();
///     assert_eq!(failed.0.ename, "ParseIntError");
///     Ok(())
/// }
/// cell().unwrap();
/// ```
pub fn cell_try<T, E: Display>(value: Result<T, E>) -> Result<T, CellFailed> {
    // A plain generic function (no trait with an associated output type): evcxr's
    // rust-analyzer must infer every variable's type through it, and it did not see through
    // a projection for candle's results.
    value.map_err(|error| CellFailed(Report::from_display(&error)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_types_lose_the_crate_name() {
        assert_eq!(without_cell_crate("ctx::P"), "P");
        assert_eq!(
            without_cell_crate("alloc::vec::Vec<ctx::P>"),
            "alloc::vec::Vec<P>"
        );
        assert_eq!(without_cell_crate("myctx::P"), "myctx::P");
        assert_eq!(without_cell_crate("a::ctx::P"), "a::ctx::P");
    }

    #[test]
    fn short_names() {
        assert_eq!(short_type_name("anyhow::Error"), "Error");
        assert_eq!(
            short_type_name("alloc::boxed::Box<dyn core::error::Error + Send + Sync>"),
            "Error"
        );
        assert_eq!(short_type_name("&str"), "Error");
        assert_eq!(short_type_name("alloc::string::String"), "Error");
        assert_eq!(short_type_name("polars_error::PolarsError"), "PolarsError");
    }

    #[test]
    fn report_lines() {
        let e = anyhow::anyhow!("root cause")
            .context("middle")
            .context("loading data");
        let report = Report::from_display(&e);
        assert_eq!(report.evalue, "loading data");
        assert_eq!(report.causes, ["middle", "root cause"]);
        assert_eq!(
            report.traceback(),
            [
                "Error: loading data",
                "",
                "Caused by:",
                "    0: middle",
                "    1: root cause"
            ]
        );
        // Outside a kernel there is no token to mark the report with: it is plain text.
        assert_eq!(report.marker_line(), report.traceback().join("\n"));
        assert_eq!(report.to_json()["ename"], "Error");
        // A plain error has no causes.
        assert!(Report::from_display("no file").causes.is_empty());
    }
}
