//! How a transformer shows its fitted parameters: a table per column, as HTML and text.

use crate::display::{html_escape, MimeBundle};

/// A table of per-column parameters, as HTML and text.
pub(crate) fn params_bundle(title: &str, headers: &[&str], rows: Vec<Vec<String>>) -> MimeBundle {
    let mut html = format!("<h4>{}</h4><table><thead><tr>", html_escape(title));
    let mut text = format!("{title}\n{}\n", headers.join("\t"));
    for h in headers {
        html += &format!("<th>{}</th>", html_escape(h));
    }
    html += "</tr></thead><tbody>";
    for row in rows {
        html += "<tr>";
        for cell in &row {
            html += &format!("<td>{}</td>", html_escape(cell));
        }
        html += "</tr>";
        text += &row.join("\t");
        text += "\n";
    }
    html += "</tbody></table>";
    MimeBundle::text(text).with("text/html", html)
}

pub(crate) fn fmt(x: f64) -> String {
    format!("{x:.6}")
}

pub(crate) fn fitted_title(name: &str, fitted: bool) -> String {
    if fitted {
        format!("{name} (fitted)")
    } else {
        format!("{name} (not fitted)")
    }
}
