//! DataFrames as HTML tables: shape, column types, and the first and last rows.

use crate::display::{html_escape, MimeBundle, Render};
use polars::prelude::*;

/// Rows shown at each end of a long table (the rest is elided, as pandas does).
const EDGE_ROWS: usize = 5;

/// A DataFrame shown as an HTML table with its shape and column types.
///
/// `DataFrame` itself renders this way as a cell's last expression; `Table` wraps one for
/// [`display`](crate::display::display) from the middle of a cell.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("x" => [1.0, 2.0], "label" => ["a", "b"]).unwrap();
/// display(&Table(frame));
/// ```
pub struct Table(pub DataFrame);

impl Render for Table {
    fn mime_bundle(&self) -> MimeBundle {
        self.0.mime_bundle()
    }
}

impl Render for DataFrame {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(format!("{self}")).with("text/html", frame_to_html(self))
    }
}

/// The HTML the kernel shows for a DataFrame.
///
/// ```
/// use trainbook::prelude::*;
/// let frame = df!("x" => [1, 2, 3]).unwrap();
/// let html = frame_to_html(&frame);
/// assert!(html.contains("3 rows × 1 columns") && html.contains("<td>2</td>"));
/// ```
pub fn frame_to_html(frame: &DataFrame) -> String {
    let (height, width) = frame.shape();
    let mut html = String::from("<div class=\"trainbook-frame\"><table><thead><tr><th></th>");
    for column in frame.columns() {
        html += &format!(
            "<th>{}<br><small>{}</small></th>",
            html_escape(column.name()),
            html_escape(&column.dtype().to_string())
        );
    }
    html += "</tr></thead><tbody>";
    let rows: Vec<Option<usize>> = if height <= 2 * EDGE_ROWS {
        (0..height).map(Some).collect()
    } else {
        (0..EDGE_ROWS)
            .map(Some)
            .chain([None])
            .chain((height - EDGE_ROWS..height).map(Some))
            .collect()
    };
    for row in rows {
        match row {
            Some(i) => {
                html += &format!("<tr><th>{i}</th>");
                for column in frame.columns() {
                    let value = column
                        .get(i)
                        .map(|v| match v {
                            AnyValue::Null => "null".to_string(),
                            AnyValue::String(s) => s.to_string(),
                            other => other.to_string(),
                        })
                        .unwrap_or_default();
                    html += &format!("<td>{}</td>", html_escape(&value));
                }
                html += "</tr>";
            }
            None => {
                html += "<tr><th>…</th>";
                html += &"<td>…</td>".repeat(width);
                html += "</tr>";
            }
        }
    }
    html += &format!("</tbody></table><p>{height} rows × {width} columns</p></div>");
    html
}
