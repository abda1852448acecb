//! A model's summary: its layers, their output shapes and parameter counts, as Keras'
//! `model.summary()` and torchinfo show them.

use crate::display::{html_escape, MimeBundle, Render};

/// One row of a [`Summary`].
#[derive(Clone, Debug, PartialEq)]
pub struct LayerInfo {
    /// The layer's name, which prefixes its parameter names (for `freeze`).
    pub name: String,
    /// What it is, e.g. `Linear(64 → 128)`.
    pub kind: String,
    /// The output shape of one sample (no batch dimension).
    pub output: Vec<usize>,
    /// Learned values in the layer.
    pub params: usize,
}

/// A model's layers and parameter counts; shows as a table.
///
/// ```
/// use trainbook::prelude::*;
/// let summary = Mlp::new(MlpConfig::classifier(64, &[128, 64], 10)).unwrap().summary();
/// assert_eq!(summary.total, 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10);
/// assert!(summary.to_string().contains("Linear(64 → 128)"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The model, e.g. `MLP classifier`.
    pub model: String,
    /// The shape of one input sample.
    pub input: Vec<usize>,
    pub layers: Vec<LayerInfo>,
    /// Learned values in the model.
    pub total: usize,
    /// Learned values that are not frozen.
    pub trainable: usize,
}

fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("(n, {})", dims.join(", "))
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} — input {}", self.model, shape_text(&self.input))?;
        writeln!(
            f,
            "{:<12} {:<28} {:<18} {:>10}",
            "layer", "type", "output", "params"
        )?;
        for layer in &self.layers {
            writeln!(
                f,
                "{:<12} {:<28} {:<18} {:>10}",
                layer.name,
                layer.kind,
                shape_text(&layer.output),
                layer.params
            )?;
        }
        write!(
            f,
            "total parameters: {}, trainable: {}",
            self.total, self.trainable
        )
    }
}

impl Render for Summary {
    fn mime_bundle(&self) -> MimeBundle {
        let mut html = format!(
            "<div class=\"trainbook-summary\"><b>{}</b> — input {}<table><thead><tr>\
             <th>layer</th><th>type</th><th>output</th><th>params</th></tr></thead><tbody>",
            html_escape(&self.model),
            shape_text(&self.input)
        );
        for layer in &self.layers {
            html += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:right\">{}</td></tr>",
                html_escape(&layer.name),
                html_escape(&layer.kind),
                shape_text(&layer.output),
                layer.params
            );
        }
        html += &format!(
            "</tbody></table>total parameters: {}, trainable: {}</div>",
            self.total, self.trainable
        );
        MimeBundle::text(self.to_string()).with("text/html", html)
    }
}
