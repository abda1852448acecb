//! The image type every transform takes and returns: 8-bit pixels, gray or RGB, row-major.

use crate::display::{MimeBundle, Render};
use anyhow::{bail, Context, Result};
use base64::Engine;
use std::path::Path;

/// An 8-bit image with 1 (gray) or 3 (RGB) channels, pixels row-major and channels interleaved
/// (`data[(y * width + x) * channels + c]`), the layout of OpenCV, Pillow and numpy.
///
/// In the kernel an image displays itself, scaled up without smoothing when it is small.
///
/// ```
/// use trainbook::prelude::*;
/// let image = Image::filled(4, 2, &[255, 0, 0]).unwrap();
/// assert_eq!((image.width(), image.height(), image.channels()), (4, 2, 3));
/// assert_eq!(image.pixel(3, 1), &[255, 0, 0]);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    width: usize,
    height: usize,
    channels: usize,
    data: Vec<u8>,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({}x{}, {})", self.width, self.height, self.mode())
    }
}

impl Image {
    /// An image from its pixel bytes; `data` must hold `width * height * channels` bytes and
    /// `channels` must be 1 or 3.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let gray = Image::new(2, 1, 1, vec![0, 255]).unwrap();
    /// assert_eq!(gray.pixel(1, 0), &[255]);
    /// assert!(Image::new(2, 2, 1, vec![0; 3]).is_err());
    /// ```
    pub fn new(width: usize, height: usize, channels: usize, data: Vec<u8>) -> Result<Image> {
        if channels != 1 && channels != 3 {
            bail!("Image: {channels} channels; images have 1 (gray) or 3 (RGB)");
        }
        if width == 0 || height == 0 {
            bail!("Image: size {width}x{height}; both sides must be at least 1 pixel");
        }
        if data.len() != width * height * channels {
            bail!(
                "Image: {} bytes for a {width}x{height} image with {channels} channels; it needs \
                 width * height * channels = {}",
                data.len(),
                width * height * channels
            );
        }
        Ok(Image {
            width,
            height,
            channels,
            data,
        })
    }

    /// An image of one colour; `colour` has one value (gray) or three (RGB).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Image::filled(3, 3, &[7]).unwrap().pixels(), &[7; 9]);
    /// ```
    pub fn filled(width: usize, height: usize, colour: &[u8]) -> Result<Image> {
        let data = colour
            .iter()
            .copied()
            .cycle()
            .take(width * height * colour.len())
            .collect();
        Image::new(width, height, colour.len(), data)
    }

    /// Internal constructor for transforms that know their sizes are right.
    pub(crate) fn from_parts(width: usize, height: usize, channels: usize, data: Vec<u8>) -> Image {
        debug_assert_eq!(data.len(), width * height * channels);
        Image {
            width,
            height,
            channels,
            data,
        }
    }

    /// Reads a PNG, JPEG or BMP file; RGBA loses its alpha, 16-bit images are scaled to 8 bits.
    ///
    /// ```no_run
    /// use trainbook::prelude::*;
    /// let image = Image::open("cat.png").unwrap();
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Image> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        Image::decode(&bytes).with_context(|| format!("{} is not a readable image", path.display()))
    }

    /// Decodes PNG, JPEG or BMP bytes.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::filled(3, 2, &[1, 2, 3]).unwrap();
    /// assert_eq!(Image::decode(&image.to_png().unwrap()).unwrap(), image);
    /// assert!(Image::decode(b"not an image").is_err());
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<Image> {
        let decoded = image::load_from_memory(bytes)
            .context("the bytes are not a PNG, JPEG or BMP image, or the file is damaged")?;
        Ok(Image::from_dynamic(decoded))
    }

    fn from_dynamic(decoded: image::DynamicImage) -> Image {
        let (width, height) = (decoded.width() as usize, decoded.height() as usize);
        if decoded.color().has_color() {
            Image::from_parts(width, height, 3, decoded.into_rgb8().into_raw())
        } else {
            Image::from_parts(width, height, 1, decoded.into_luma8().into_raw())
        }
    }

    /// The image as PNG bytes.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let png = Image::filled(2, 2, &[0]).unwrap().to_png().unwrap();
    /// assert_eq!(&png[1..4], b"PNG");
    /// ```
    pub fn to_png(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let colour = if self.channels == 3 {
            image::ColorType::Rgb8
        } else {
            image::ColorType::L8
        };
        use image::ImageEncoder;
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(&self.data, self.width as u32, self.height as u32, colour)
            .context("encoding the image as PNG failed")?;
        Ok(bytes)
    }

    /// Writes the image; the format follows the extension (png, jpg/jpeg, bmp). The file is
    /// written to a temporary name and renamed, so a crash never leaves half an image.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let path = std::env::temp_dir().join("trainbook-doc-image.png");
    /// Image::filled(2, 2, &[9, 8, 7]).unwrap().save(&path).unwrap();
    /// assert_eq!(Image::open(&path).unwrap().pixel(1, 1), &[9, 8, 7]);
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        let format = match extension.as_str() {
            "png" => image::ImageFormat::Png,
            "jpg" | "jpeg" => image::ImageFormat::Jpeg,
            "bmp" => image::ImageFormat::Bmp,
            _ => bail!(
                "cannot save {}: unknown image extension; use .png, .jpg or .bmp",
                path.display()
            ),
        };
        let colour = if self.channels == 3 {
            image::ColorType::Rgb8
        } else {
            image::ColorType::L8
        };
        trainbook_wire::files::replace(path, |temporary| {
            image::save_buffer_with_format(
                temporary,
                &self.data,
                self.width as u32,
                self.height as u32,
                colour,
                format,
            )
            .with_context(|| format!("cannot write {}", temporary.display()))
        })
        .with_context(|| format!("cannot save the image to {}", path.display()))
    }

    /// Width in pixels.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Image::filled(5, 3, &[0]).unwrap().width(), 5);
    /// ```
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Image::filled(5, 3, &[0]).unwrap().height(), 3);
    /// ```
    pub fn height(&self) -> usize {
        self.height
    }

    /// 1 for gray, 3 for RGB.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Image::filled(5, 3, &[0, 0, 0]).unwrap().channels(), 3);
    /// ```
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// "gray" or "RGB".
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Image::filled(1, 1, &[0]).unwrap().mode(), "gray");
    /// ```
    pub fn mode(&self) -> &'static str {
        if self.channels == 1 {
            "gray"
        } else {
            "RGB"
        }
    }

    /// All pixel bytes, row-major with interleaved channels.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Image::filled(2, 1, &[1, 2, 3]).unwrap().pixels(), &[1, 2, 3, 1, 2, 3]);
    /// ```
    pub fn pixels(&self) -> &[u8] {
        &self.data
    }

    /// The pixel bytes, consuming the image.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(Image::filled(2, 1, &[7]).unwrap().into_pixels(), vec![7, 7]);
    /// ```
    pub fn into_pixels(self) -> Vec<u8> {
        self.data
    }

    /// The channel values of the pixel in column `x`, row `y`.
    ///
    /// Panics when (x, y) is outside the image, like slice indexing.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let image = Image::new(2, 2, 1, vec![1, 2, 3, 4]).unwrap();
    /// assert_eq!(image.pixel(0, 1), &[3]);
    /// ```
    pub fn pixel(&self, x: usize, y: usize) -> &[u8] {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) is outside the {}x{} image",
            self.width,
            self.height
        );
        let start = (y * self.width + x) * self.channels;
        &self.data[start..start + self.channels]
    }

    /// The same image with 3 channels (gray copied to R, G and B).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let rgb = Image::filled(1, 1, &[5]).unwrap().to_rgb();
    /// assert_eq!(rgb.pixels(), &[5, 5, 5]);
    /// ```
    pub fn to_rgb(&self) -> Image {
        if self.channels == 3 {
            return self.clone();
        }
        let data = self.data.iter().flat_map(|&v| [v, v, v]).collect();
        Image::from_parts(self.width, self.height, 3, data)
    }

    /// An 8x8 digits row (values 0..16, as in [`load_digits`](crate::prelude::load_digits))
    /// as a gray image scaled to 0..255, ink white on black.
    pub(crate) fn from_digit_row(values: &[f64]) -> Image {
        let data = values
            .iter()
            .map(|v| (v * 255.0 / 16.0).round().clamp(0.0, 255.0) as u8)
            .collect();
        Image::from_parts(8, 8, 1, data)
    }

    /// `<img>` HTML for display: small images are scaled up to at least `min_side` pixels
    /// without smoothing, so an 8x8 digit is visible.
    pub(crate) fn html_img(&self, min_side: usize, title: &str) -> String {
        let png = self.to_png().unwrap_or_default();
        let scale = (min_side / self.width.max(self.height)).max(1);
        format!(
            "<img src=\"data:image/png;base64,{}\" width=\"{}\" height=\"{}\" title=\"{}\" \
             style=\"image-rendering: pixelated; image-rendering: crisp-edges\">",
            base64::engine::general_purpose::STANDARD.encode(png),
            self.width * scale,
            self.height * scale,
            crate::display::html_escape(title),
        )
    }
}

impl Render for Image {
    fn mime_bundle(&self) -> MimeBundle {
        let png = self.to_png().unwrap_or_default();
        MimeBundle::text(format!("{self:?}"))
            .with("text/html", self.html_img(96, &format!("{self:?}")))
            .with(
                "image/png",
                base64::engine::general_purpose::STANDARD.encode(png),
            )
    }
}
