//! The Trainbook prelude: what every notebook cell sees.
//!
//! The kernel loads this crate and runs `use trainbook::prelude::*;` before the first cell, so
//! everything in [`prelude`] is in scope everywhere. Outside the kernel (tests, scripts) the same
//! functions work and print to stdout.
//!
//! ```
//! use trainbook::prelude::*;
//! display(&Html::new("<b>hello</b>"));
//! assert!(!interrupted());
//! ```

pub mod display;
pub mod runtime;

/// Everything a notebook cell has in scope.
pub mod prelude {
    pub use crate::display::{
        clear_output, display, display_handle, DisplayHandle, EvcxrDisplay, Html, Json, Markdown,
        MimeBundle, Png, Render, Svg, Text,
    };
    pub use crate::runtime::{in_kernel, input, interrupted, password};
}

/// The prelude's version, as the kernel reports it.
///
/// ```
/// assert!(!trainbook::version().is_empty());
/// ```
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
