//! Rich output from anywhere in a cell: `display`, display handles that redraw in place, and
//! the MIME wrappers (`Html`, `Svg`, `Png`, …) that Jupyter renders.
//!
//! In the kernel each call becomes a Jupyter `display_data` / `update_display_data` message;
//! the kernel coalesces rapid updates so a fast loop cannot flood the notebook. Outside the
//! kernel the plain-text form is printed.

use base64::Engine;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Output in several representations, keyed by MIME type; the frontend picks the richest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MimeBundle {
    pub data: Map<String, Value>,
    pub metadata: Map<String, Value>,
}

impl MimeBundle {
    /// A bundle with a plain-text representation, which every output should have.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let b = MimeBundle::text("hi").with("text/html", "<b>hi</b>");
    /// assert_eq!(b.data["text/html"], "<b>hi</b>");
    /// ```
    pub fn text(text: impl Into<String>) -> MimeBundle {
        MimeBundle::default().with("text/plain", text)
    }

    /// Adds a representation.
    pub fn with(mut self, mime: &str, content: impl Into<String>) -> MimeBundle {
        self.data
            .insert(mime.to_owned(), Value::String(content.into()));
        self
    }

    /// Adds a JSON representation (e.g. `application/json`).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let b = MimeBundle::text("{}").with_json("application/json", serde_json::json!({"a": 1}));
    /// assert_eq!(b.data["application/json"]["a"], 1);
    /// ```
    pub fn with_json(mut self, mime: &str, content: Value) -> MimeBundle {
        self.data.insert(mime.to_owned(), content);
        self
    }

    /// Adds display metadata, e.g. an image's width.
    pub fn with_metadata(mut self, key: &str, value: Value) -> MimeBundle {
        self.metadata.insert(key.to_owned(), value);
        self
    }

    fn plain_text(&self) -> String {
        self.data
            .get("text/plain")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    }
}

/// Anything that can be shown in a notebook output.
pub trait Render {
    fn mime_bundle(&self) -> MimeBundle;
}

/// Lets the last expression of a cell render richly (evcxr calls `.evcxr_display()`).
pub trait EvcxrDisplay {
    fn evcxr_display(&self);
}

impl<T: Render + ?Sized> EvcxrDisplay for T {
    fn evcxr_display(&self) {
        emit_final(&self.mime_bundle());
    }
}

/// Writes a bundle as the cell's result, in evcxr's content protocol.
pub(crate) fn emit_final(bundle: &MimeBundle) {
    let mut out = std::io::stdout().lock();
    for (mime, value) in &bundle.data {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = writeln!(out, "EVCXR_BEGIN_CONTENT {mime}\n{text}\nEVCXR_END_CONTENT");
    }
    let _ = out.flush();
}

impl Render for MimeBundle {
    fn mime_bundle(&self) -> MimeBundle {
        self.clone()
    }
}

macro_rules! text_wrapper {
    ($(#[$doc:meta])* $name:ident, $mime:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(content: impl Into<String>) -> $name {
                $name(content.into())
            }
        }

        impl Render for $name {
            fn mime_bundle(&self) -> MimeBundle {
                MimeBundle::text(self.0.clone()).with($mime, self.0.clone())
            }
        }
    };
}

text_wrapper!(
    /// HTML shown as HTML.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Html::new("<i>x</i>").mime_bundle().data["text/html"], "<i>x</i>");
    /// ```
    Html,
    "text/html"
);
text_wrapper!(
    /// Markdown, rendered by the frontend.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert!(Markdown::new("# Title").mime_bundle().data.contains_key("text/markdown"));
    /// ```
    Markdown,
    "text/markdown"
);
text_wrapper!(
    /// An SVG image.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let svg = Svg::new("<svg xmlns='http://www.w3.org/2000/svg'/>");
    /// assert!(svg.mime_bundle().data.contains_key("image/svg+xml"));
    /// ```
    Svg,
    "image/svg+xml"
);
text_wrapper!(
    /// Preformatted plain text.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Text::new("a").mime_bundle().data["text/plain"], "a");
    /// ```
    Text,
    "text/plain"
);

/// A PNG image from its encoded bytes.
///
/// ```
/// use trainbook::prelude::*;
/// let png = Png::new(vec![0x89, b'P', b'N', b'G']);
/// assert_eq!(png.mime_bundle().data["image/png"], "iVBORw==");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Png(pub Vec<u8>);

impl Png {
    pub fn new(bytes: Vec<u8>) -> Png {
        Png(bytes)
    }
}

impl Render for Png {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(format!("<PNG image, {} bytes>", self.0.len())).with(
            "image/png",
            base64::engine::general_purpose::STANDARD.encode(&self.0),
        )
    }
}

/// JSON, shown as a collapsible tree in JupyterLab.
///
/// ```
/// use trainbook::prelude::*;
/// let j = Json(serde_json::json!({"lr": 0.01}));
/// assert_eq!(j.mime_bundle().data["application/json"]["lr"], 0.01);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Json(pub Value);

impl Render for Json {
    fn mime_bundle(&self) -> MimeBundle {
        MimeBundle::text(serde_json::to_string_pretty(&self.0).unwrap_or_default())
            .with_json("application/json", self.0.clone())
    }
}

/// A JSON value at the end of a cell shows as [`Json`] does: indented text, and a tree.
///
/// ```
/// use trainbook::prelude::*;
/// let config = serde_json::json!({"lr": 0.01});
/// assert_eq!(config.mime_bundle().data["text/plain"], "{\n  \"lr\": 0.01\n}");
/// ```
impl Render for Value {
    fn mime_bundle(&self) -> MimeBundle {
        Json(self.clone()).mime_bundle()
    }
}

fn send(op: &str, bundle: Option<&MimeBundle>, display_id: Option<&str>, wait: bool) {
    let in_kernel = crate::runtime::in_kernel();
    if !in_kernel {
        if let (Some(bundle), "display") = (bundle, op) {
            println!("{}", bundle.plain_text());
        }
        return;
    }
    let mut message = json!({"op": op, "wait": wait});
    if let Some(bundle) = bundle {
        message["data"] = Value::Object(bundle.data.clone());
        message["metadata"] = Value::Object(bundle.metadata.clone());
    }
    if let Some(id) = display_id {
        message["display_id"] = Value::String(id.to_owned());
    }
    let Some(line) =
        crate::runtime::marker_line(trainbook_wire::Marker::Display, &message.to_string())
    else {
        return;
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Shows `item` now, as its own output, wherever the cell is.
///
/// ```
/// use trainbook::prelude::*;
/// display(&Html::new("<h3>Epoch 1</h3>"));
/// display(&Text::new("plain text works too"));
/// ```
pub fn display(item: &dyn Render) {
    send("display", Some(&item.mime_bundle()), None, false);
}

/// Shows `item` and returns a handle that redraws that same output in place.
///
/// ```
/// use trainbook::prelude::*;
/// let progress = display_handle(&Text::new("0%"));
/// for pct in [25, 50, 100] {
///     progress.update(&Text::new(format!("{pct}%")));
/// }
/// ```
pub fn display_handle(item: &dyn Render) -> DisplayHandle {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = format!(
        "trainbook-{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    send("display", Some(&item.mime_bundle()), Some(&id), false);
    DisplayHandle { id }
}

/// An output that can be redrawn (`update_display_data` with its `display_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayHandle {
    id: String,
}

impl DisplayHandle {
    /// Replaces what the output shows. Fast loops may call this freely: the kernel sends at
    /// most about ten redraws a second per output and always the latest one last.
    pub fn update(&self, item: &dyn Render) {
        send("update", Some(&item.mime_bundle()), Some(&self.id), false);
    }

    /// Shows the same content again as a new output that updates together with this one.
    pub fn display_again(&self, item: &dyn Render) {
        send("display", Some(&item.mime_bundle()), Some(&self.id), false);
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Clears the cell's outputs; with `wait`, only when the next output arrives (no flicker).
///
/// ```
/// use trainbook::prelude::*;
/// clear_output(true);
/// display(&Text::new("fresh"));
/// ```
pub fn clear_output(wait: bool) {
    send("clear", None, None, wait);
}

/// Escapes text for use inside HTML elements and attributes.
///
/// ```
/// assert_eq!(trainbook::display::html_escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
/// ```
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
