//! A labelled grid of images for the notebook.

use super::image::Image;
use crate::display::{html_escape, MimeBundle, Render};
use anyhow::{bail, Result};
use base64::Engine;
use std::path::Path;

/// Images side by side with a caption under each. In the kernel it shows as HTML (captions are
/// text, so they are sharp and follow the theme) with a PNG of the tiles as the fallback that
/// code hosts display; `save` writes that PNG.
///
/// ```
/// use trainbook::prelude::*;
/// let images = vec![Image::filled(8, 8, &[0]).unwrap(), Image::filled(8, 8, &[255, 0, 0]).unwrap()];
/// let grid = ImageGrid::new(images).unwrap().labels(vec!["black".into(), "red".into()]).unwrap().columns(2);
/// assert_eq!(grid.to_image().width(), 2 * 8 + 3 * 2);
/// assert!(grid.mime_bundle().data["text/html"].as_str().unwrap().contains("red"));
/// ```
#[derive(Clone, Debug)]
pub struct ImageGrid {
    images: Vec<Image>,
    labels: Vec<String>,
    columns: usize,
    min_side: usize,
}

impl ImageGrid {
    /// A grid of `images` (at least one), 8 per row, no captions.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(ImageGrid::new(vec![Image::filled(2, 2, &[0]).unwrap()]).unwrap().len(), 1);
    /// assert!(ImageGrid::new(vec![]).is_err());
    /// ```
    pub fn new(images: Vec<Image>) -> Result<ImageGrid> {
        if images.is_empty() {
            bail!("ImageGrid: no images to show");
        }
        Ok(ImageGrid {
            labels: vec![String::new(); images.len()],
            images,
            columns: 8,
            min_side: 96,
        })
    }

    /// One caption per image.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let grid = ImageGrid::new(vec![Image::filled(2, 2, &[0]).unwrap()]).unwrap();
    /// assert!(grid.clone().labels(vec!["a".into(), "b".into()]).is_err());
    /// assert_eq!(grid.labels(vec!["a".into()]).unwrap().captions(), ["a"]);
    /// ```
    pub fn labels(mut self, labels: Vec<String>) -> Result<ImageGrid> {
        if labels.len() != self.images.len() {
            bail!(
                "ImageGrid: {} labels for {} images; give one per image",
                labels.len(),
                self.images.len()
            );
        }
        self.labels = labels;
        Ok(self)
    }

    /// Images per row.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let grid = ImageGrid::new(vec![Image::filled(4, 4, &[0]).unwrap(); 6]).unwrap().columns(3);
    /// assert_eq!(grid.to_image().height(), 2 * 4 + 3 * 2);
    /// ```
    pub fn columns(mut self, columns: usize) -> ImageGrid {
        self.columns = columns.max(1);
        self
    }

    /// Small images are shown scaled up (without smoothing) to at least this many pixels.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let grid = ImageGrid::new(vec![Image::filled(8, 8, &[0]).unwrap()]).unwrap().min_side(160);
    /// assert!(grid.mime_bundle().data["text/html"].as_str().unwrap().contains("width=\"160\""));
    /// ```
    pub fn min_side(mut self, pixels: usize) -> ImageGrid {
        self.min_side = pixels.max(1);
        self
    }

    /// The number of images.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(ImageGrid::new(vec![Image::filled(2, 2, &[0]).unwrap(); 3]).unwrap().len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// True when there are no images.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert!(!ImageGrid::new(vec![Image::filled(2, 2, &[0]).unwrap()]).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// The images, in order.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let grid = ImageGrid::new(vec![Image::filled(2, 2, &[9]).unwrap()]).unwrap();
    /// assert_eq!(grid.images()[0].pixels(), &[9; 4]);
    /// ```
    pub fn images(&self) -> &[Image] {
        &self.images
    }

    /// The caption of each image.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let grid = ImageGrid::new(vec![Image::filled(2, 2, &[9]).unwrap()]).unwrap();
    /// assert_eq!(grid.captions(), [""]);
    /// ```
    pub fn captions(&self) -> &[String] {
        &self.labels
    }

    /// All tiles in one RGB image on a white background with a 2-pixel gap, without captions.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let tiles = ImageGrid::new(vec![Image::filled(3, 3, &[0]).unwrap(); 2]).unwrap().to_image();
    /// assert_eq!((tiles.width(), tiles.height(), tiles.pixel(0, 0)), (12, 7, &[255, 255, 255][..]));
    /// ```
    pub fn to_image(&self) -> Image {
        const GAP: usize = 2;
        let cell_w = self.images.iter().map(Image::width).max().unwrap_or(1);
        let cell_h = self.images.iter().map(Image::height).max().unwrap_or(1);
        let columns = self.columns.min(self.images.len());
        let rows = self.images.len().div_ceil(columns);
        let (w, h) = (
            columns * cell_w + (columns + 1) * GAP,
            rows * cell_h + (rows + 1) * GAP,
        );
        let mut data = vec![255u8; w * h * 3];
        for (i, image) in self.images.iter().enumerate() {
            let rgb = image.to_rgb();
            let (ox, oy) = (
                GAP + (i % columns) * (cell_w + GAP),
                GAP + (i / columns) * (cell_h + GAP),
            );
            for (y, row) in rgb.pixels().chunks_exact(rgb.width() * 3).enumerate() {
                let at = ((oy + y) * w + ox) * 3;
                data[at..at + row.len()].copy_from_slice(row);
            }
        }
        Image::from_parts(w, h, 3, data)
    }

    /// Writes the tiles as one image (PNG, JPEG or BMP by extension).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let path = std::env::temp_dir().join("trainbook-doc-grid.png");
    /// ImageGrid::new(vec![Image::filled(3, 3, &[0]).unwrap()]).unwrap().save(&path).unwrap();
    /// assert_eq!(Image::open(&path).unwrap().width(), 7);
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.to_image().save(path)
    }

    fn html(&self) -> String {
        let mut html = String::from(
            "<div style=\"display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start\">",
        );
        for (i, (image, label)) in self.images.iter().zip(&self.labels).enumerate() {
            if i > 0 && i % self.columns == 0 {
                html.push_str("<div style=\"flex-basis:100%;height:0\"></div>");
            }
            html.push_str(&format!(
                "<figure style=\"margin:0;text-align:center;max-width:{}px\">{}\
                 <figcaption style=\"font-size:11px;line-height:1.2\">{}</figcaption></figure>",
                (image.width() * (self.min_side / image.width().max(image.height())).max(1))
                    .max(60),
                image.html_img(self.min_side, label),
                html_escape(label)
            ));
        }
        html.push_str("</div>");
        html
    }
}

impl Render for ImageGrid {
    fn mime_bundle(&self) -> MimeBundle {
        let png = self.to_image().to_png().unwrap_or_default();
        let captions = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{i}: {l}"))
            .collect::<Vec<_>>()
            .join("\n");
        MimeBundle::text(format!("ImageGrid of {} images\n{captions}", self.len()))
            .with("text/html", self.html())
            .with(
                "image/png",
                base64::engine::general_purpose::STANDARD.encode(png),
            )
    }
}
