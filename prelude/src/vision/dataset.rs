//! Labelled image collections: in memory ([`ImageSet`]) or a folder per class on disk, loaded
//! lazily ([`ImageFolder`]); the shipped digits images and a generated set of coloured shapes.

use super::grid::ImageGrid;
use super::image::Image;
use crate::display::{html_escape, MimeBundle, Render};
use crate::random::Rng;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Images with class labels (0..classes.len()) and class names, in memory.
///
/// ```
/// use trainbook::prelude::*;
/// let digits = load_digits_images();
/// assert_eq!((digits.len(), digits.classes.len()), (1797, 10));
/// let (train, validation) = digits.split(0.2, 0).unwrap();
/// assert_eq!(train.len() + validation.len(), 1797);
/// ```
#[derive(Clone, Debug)]
pub struct ImageSet {
    pub images: Vec<Image>,
    pub labels: Vec<usize>,
    pub classes: Vec<String>,
}

impl ImageSet {
    /// Checks that there is one label per image and every label names a class.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let images = vec![Image::filled(4, 4, &[0]).unwrap(), Image::filled(4, 4, &[255]).unwrap()];
    /// let set = ImageSet::new(images.clone(), vec![0, 1], vec!["dark".into(), "light".into()]).unwrap();
    /// assert_eq!(set.len(), 2);
    /// assert!(ImageSet::new(images, vec![0, 2], vec!["dark".into(), "light".into()]).is_err());
    /// ```
    pub fn new(images: Vec<Image>, labels: Vec<usize>, classes: Vec<String>) -> Result<ImageSet> {
        check_labels(images.len(), &labels, &classes)?;
        Ok(ImageSet {
            images,
            labels,
            classes,
        })
    }

    /// The number of images.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(load_digits_images().len(), 1797);
    /// ```
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// True when there are no images.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert!(!load_digits_images().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// (train, validation), stratified: each class keeps its share in both.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let (train, validation) = load_digits_images().split(0.25, 0).unwrap();
    /// assert_eq!(validation.labels.iter().filter(|&&l| l == 0).count(), 45); // 178 zeros, a quarter
    /// ```
    pub fn split(&self, validation_fraction: f64, seed: u64) -> Result<(ImageSet, ImageSet)> {
        let (train, validation) = stratified_indices(&self.labels, validation_fraction, seed)?;
        let pick = |rows: &[usize]| ImageSet {
            images: rows.iter().map(|&i| self.images[i].clone()).collect(),
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
        };
        Ok((pick(&train), pick(&validation)))
    }

    /// The first `n` images with their class names as captions.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let grid = load_digits_images().grid(10).unwrap();
    /// assert_eq!(grid.captions()[3], "3");
    /// ```
    pub fn grid(&self, n: usize) -> Result<ImageGrid> {
        let n = n.min(self.len());
        ImageGrid::new(self.images[..n].to_vec())?.labels(
            self.labels[..n]
                .iter()
                .map(|&l| self.classes[l].clone())
                .collect(),
        )
    }

    /// Writes the set as an image folder: `dir/<class>/<index>.png`.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let dir = std::env::temp_dir().join("trainbook-doc-save-folder");
    /// make_shapes(2, 16, 0).unwrap().save_folder(&dir).unwrap();
    /// assert_eq!(ImageFolder::open(&dir, OnBadFile::Fail).unwrap().len(), 6);
    /// ```
    pub fn save_folder(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        for class in &self.classes {
            std::fs::create_dir_all(dir.join(class))
                .with_context(|| format!("cannot create {}", dir.join(class).display()))?;
        }
        self.images
            .par_iter()
            .zip(self.labels.par_iter())
            .enumerate()
            .try_for_each(|(i, (image, &label))| {
                image.save(dir.join(&self.classes[label]).join(format!("{i:04}.png")))
            })
    }
}

impl Render for ImageSet {
    fn mime_bundle(&self) -> MimeBundle {
        let mut counts = vec![0usize; self.classes.len()];
        self.labels.iter().for_each(|&l| counts[l] += 1);
        let summary = self
            .classes
            .iter()
            .zip(&counts)
            .map(|(c, n)| format!("{c}: {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let size = self
            .images
            .first()
            .map(|i| format!("{}x{} {}", i.width(), i.height(), i.mode()))
            .unwrap_or_default();
        let text = format!("ImageSet of {} images ({size}); {summary}", self.len());
        let mut bundle = MimeBundle::text(text.clone());
        if let Ok(grid) = self.grid(16) {
            let html = format!(
                "<p>{}</p>{}",
                html_escape(&text),
                grid.mime_bundle().data["text/html"].as_str().unwrap_or("")
            );
            bundle = bundle.with("text/html", html);
        }
        bundle
    }
}

fn check_labels(n: usize, labels: &[usize], classes: &[String]) -> Result<()> {
    if labels.len() != n {
        bail!(
            "{n} images but {} labels; give one label per image",
            labels.len()
        );
    }
    if let Some(bad) = labels.iter().find(|&&l| l >= classes.len()) {
        bail!(
            "label {bad} has no class name ({} classes named); labels are 0..classes.len()",
            classes.len()
        );
    }
    Ok(())
}

/// Stratified (train, validation) row indices.
fn stratified_indices(
    labels: &[usize],
    validation_fraction: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..1.0).contains(&validation_fraction) {
        bail!("split: validation_fraction {validation_fraction} must be in 0..1");
    }
    let classes = labels.iter().max().map_or(0, |m| m + 1);
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    let base = Rng::new(seed);
    for class in 0..classes {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        base.fork(class as u64).shuffle(&mut rows);
        let take = (rows.len() as f64 * validation_fraction).round() as usize;
        validation.extend_from_slice(&rows[..take]);
        train.extend_from_slice(&rows[take..]);
    }
    train.sort_unstable();
    validation.sort_unstable();
    Ok((train, validation))
}

/// What [`ImageFolder::open`] does with a file that is not a readable image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBadFile {
    /// Stop with an error that names the file.
    Fail,
    /// Leave it out, list it in [`ImageFolder::skipped`] and print a warning naming it.
    Skip,
}

/// A file left out of an [`ImageFolder`], and why.
#[derive(Clone, Debug, PartialEq)]
pub struct BadFile {
    pub path: PathBuf,
    pub error: String,
}

/// An image-classification dataset on disk: one sub-folder per class (sorted names are the
/// classes), PNG/JPEG/BMP files inside. Opening reads only the file headers; pixels are decoded
/// when a batch needs them.
///
/// ```
/// use trainbook::prelude::*;
/// let folder = ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap();
/// assert_eq!(folder.classes(), &["circle", "square", "triangle"]);
/// let image = folder.load(0).unwrap();
/// assert_eq!((image.width(), image.channels()), (32, 3));
/// ```
#[derive(Clone, Debug)]
pub struct ImageFolder {
    root: PathBuf,
    files: Vec<PathBuf>,
    labels: Vec<usize>,
    classes: Vec<String>,
    skipped: Vec<BadFile>,
}

const IMAGE_EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

impl ImageFolder {
    /// Scans `root`. Files with other extensions are ignored; image files whose header cannot
    /// be read fail or are skipped, as `on_bad_file` says (see [`verify`](Self::verify) to
    /// decode every file up front).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let folder = ImageFolder::open(shapes_folder(), OnBadFile::Skip).unwrap();
    /// assert_eq!((folder.len(), folder.skipped().len()), (120, 0));
    /// assert!(ImageFolder::open("/no/such/folder", OnBadFile::Fail).is_err());
    /// ```
    pub fn open(root: impl AsRef<Path>, on_bad_file: OnBadFile) -> Result<ImageFolder> {
        let root = root.as_ref().to_path_buf();
        let mut classes: Vec<String> = std::fs::read_dir(&root)
            .with_context(|| format!("cannot read the image folder {}", root.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        classes.sort();
        if classes.is_empty() {
            bail!(
                "{} has no sub-folders; an image folder has one sub-folder per class holding \
                 that class's images",
                root.display()
            );
        }
        let mut candidates = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(class))
                .with_context(|| format!("cannot read {}", root.join(class).display()))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            files.sort();
            candidates.extend(files.into_iter().map(|f| (f, label)));
        }
        let checked: Vec<Option<String>> = candidates
            .par_iter()
            .map(|(path, _)| read_header(path).err().map(|e| format!("{e:#}")))
            .collect();
        let folder = ImageFolder {
            root,
            files: Vec::new(),
            labels: Vec::new(),
            classes,
            skipped: Vec::new(),
        };
        folder.keep(candidates, checked, on_bad_file)
    }

    /// Splits `candidates` by their check results into kept files and skipped ones.
    fn keep(
        mut self,
        candidates: Vec<(PathBuf, usize)>,
        errors: Vec<Option<String>>,
        on_bad_file: OnBadFile,
    ) -> Result<ImageFolder> {
        self.files.clear();
        self.labels.clear();
        for ((path, label), error) in candidates.into_iter().zip(errors) {
            match error {
                None => {
                    self.files.push(path);
                    self.labels.push(label);
                }
                Some(error) if on_bad_file == OnBadFile::Fail => bail!(
                    "{} is not a readable image: {error}\nremove or replace it, or open the folder \
                     with OnBadFile::Skip to leave such files out",
                    path.display()
                ),
                Some(error) => {
                    eprintln!("warning: skipping {}: {error}", path.display());
                    self.skipped.push(BadFile { path, error });
                }
            }
        }
        if self.files.is_empty() {
            bail!("{} holds no readable images", self.root.display());
        }
        Ok(self)
    }

    /// Decodes every file (in parallel) and fails or skips those that do not decode, as
    /// `on_bad_file` says: catches damaged files whose header is intact.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let folder = ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap();
    /// assert_eq!(folder.verify(OnBadFile::Fail).unwrap().len(), 120);
    /// ```
    pub fn verify(self, on_bad_file: OnBadFile) -> Result<ImageFolder> {
        let candidates: Vec<(PathBuf, usize)> = self
            .files
            .iter()
            .cloned()
            .zip(self.labels.iter().copied())
            .collect();
        let errors: Vec<Option<String>> = candidates
            .par_iter()
            .map(|(path, _)| {
                Image::open(path)
                    .err()
                    .map(|e| format!("{:#}", e.root_cause()))
            })
            .collect();
        self.keep(candidates, errors, on_bad_file)
    }

    /// The number of images.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap().len(), 120);
    /// ```
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when there are no images.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert!(!ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The class names, sorted (the sub-folder names).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert_eq!(ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap().classes().len(), 3);
    /// ```
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Each image's class index.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let folder = ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap();
    /// assert_eq!((folder.labels()[0], folder.labels()[119]), (0, 2));
    /// ```
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Each image's path.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let folder = ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap();
    /// assert!(folder.files()[0].ends_with("circle/0000.png"));
    /// ```
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The files left out as unreadable.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// assert!(ImageFolder::open(shapes_folder(), OnBadFile::Skip).unwrap().skipped().is_empty());
    /// ```
    pub fn skipped(&self) -> &[BadFile] {
        &self.skipped
    }

    /// Decodes image `index`; a damaged file is an error naming it.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let folder = ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap();
    /// assert_eq!(folder.load(5).unwrap().width(), 32);
    /// assert!(folder.load(500).is_err());
    /// ```
    pub fn load(&self, index: usize) -> Result<Image> {
        let Some(path) = self.files.get(index) else {
            bail!(
                "image {index} does not exist; the folder has {} images",
                self.len()
            );
        };
        Image::open(path).with_context(|| {
            "hint: ImageFolder::verify(OnBadFile::Skip) finds and leaves out damaged files"
                .to_string()
        })
    }

    /// (train, validation) folders, stratified by class.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let folder = ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap();
    /// let (train, validation) = folder.split(0.25, 0).unwrap();
    /// assert_eq!((train.len(), validation.len()), (90, 30));
    /// ```
    pub fn split(&self, validation_fraction: f64, seed: u64) -> Result<(ImageFolder, ImageFolder)> {
        let (train, validation) = stratified_indices(&self.labels, validation_fraction, seed)?;
        let pick = |rows: &[usize]| ImageFolder {
            root: self.root.clone(),
            files: rows.iter().map(|&i| self.files[i].clone()).collect(),
            labels: rows.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
            skipped: self.skipped.clone(),
        };
        Ok((pick(&train), pick(&validation)))
    }

    /// Decodes every image into memory (in parallel).
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let set = ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap().load_all().unwrap();
    /// assert_eq!(set.images.len(), 120);
    /// ```
    pub fn load_all(&self) -> Result<ImageSet> {
        let images = (0..self.len())
            .into_par_iter()
            .map(|i| self.load(i))
            .collect::<Result<Vec<_>>>()?;
        ImageSet::new(images, self.labels.clone(), self.classes.clone())
    }
}

impl Render for ImageFolder {
    fn mime_bundle(&self) -> MimeBundle {
        let mut text = format!(
            "ImageFolder {}: {} images in {} classes ({})",
            self.root.display(),
            self.len(),
            self.classes.len(),
            self.classes.join(", ")
        );
        if !self.skipped.is_empty() {
            text.push_str(&format!(
                "\nskipped {} unreadable files:",
                self.skipped.len()
            ));
            for bad in &self.skipped {
                text.push_str(&format!("\n  {}: {}", bad.path.display(), bad.error));
            }
        }
        MimeBundle::text(text)
    }
}

fn read_header(path: &Path) -> Result<(u32, u32)> {
    image::io::Reader::open(path)
        .with_context(|| format!("cannot open {}", path.display()))?
        .with_guessed_format()
        .context("cannot read the file")?
        .into_dimensions()
        .context("the header is not a PNG, JPEG or BMP header")
}

/// The shipped folder of coloured shapes: 40 images of 32x32 per class (circle, square,
/// triangle), written by [`make_shapes`]`(40, 32, 0)`.
///
/// ```
/// use trainbook::prelude::*;
/// assert!(shapes_folder().join("triangle").is_dir());
/// ```
pub fn shapes_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/shapes")
}

/// Generated coloured shapes for image classification: `per_class` images of `size`×`size`
/// per class (circle, square, triangle), each with a random background, colour, size, position
/// and (triangles) rotation. The same seed gives the same images.
///
/// ```
/// use trainbook::prelude::*;
/// let shapes = make_shapes(5, 24, 1).unwrap();
/// assert_eq!(shapes.len(), 15);
/// assert_eq!(shapes.classes, ["circle", "square", "triangle"]);
/// ```
pub fn make_shapes(per_class: usize, size: usize, seed: u64) -> Result<ImageSet> {
    if size < 12 {
        bail!("make_shapes: size {size} is too small to draw on; use 12 or more");
    }
    let classes = ["circle", "square", "triangle"];
    let mut images = Vec::new();
    let mut labels = Vec::new();
    let base = Rng::new(seed);
    for (label, _) in classes.iter().enumerate() {
        for i in 0..per_class {
            let mut rng = base.fork((label * 1_000_003 + i) as u64);
            images.push(draw_shape(label, size, &mut rng));
            labels.push(label);
        }
    }
    ImageSet::new(
        images,
        labels,
        classes.iter().map(|s| s.to_string()).collect(),
    )
}

fn draw_shape(kind: usize, size: usize, rng: &mut Rng) -> Image {
    let s = size as f64;
    let background: [f64; 3] = std::array::from_fn(|_| rng.uniform_range(0.0, 90.0));
    let colour: [f64; 3] = std::array::from_fn(|_| rng.uniform_range(120.0, 255.0));
    let radius = rng.uniform_range(0.22, 0.38) * s;
    let cx = rng.uniform_range(radius, s - radius);
    let cy = rng.uniform_range(radius, s - radius);
    let angle = rng.uniform_range(0.0, std::f64::consts::TAU);
    // Triangle corners on the circle of `radius`.
    let corners: Vec<(f64, f64)> = (0..3)
        .map(|k| {
            let a = angle + k as f64 * std::f64::consts::TAU / 3.0;
            (cx + radius * a.cos(), cy + radius * a.sin())
        })
        .collect();
    let inside = |x: f64, y: f64| -> bool {
        match kind {
            0 => (x - cx).powi(2) + (y - cy).powi(2) <= radius * radius,
            1 => (x - cx).abs() <= radius * 0.85 && (y - cy).abs() <= radius * 0.85,
            _ => {
                let sign = |(x1, y1): (f64, f64), (x2, y2): (f64, f64)| {
                    (x - x2) * (y1 - y2) - (x1 - x2) * (y - y2)
                };
                let d = [
                    sign(corners[0], corners[1]),
                    sign(corners[1], corners[2]),
                    sign(corners[2], corners[0]),
                ];
                !(d.iter().any(|&v| v < 0.0) && d.iter().any(|&v| v > 0.0))
            }
        }
    };
    let mut data = Vec::with_capacity(size * size * 3);
    for y in 0..size {
        for x in 0..size {
            // 4 samples per pixel: smooth edges.
            let covered = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)]
                .iter()
                .filter(|(dx, dy)| inside(x as f64 + dx, y as f64 + dy))
                .count() as f64
                / 4.0;
            for ch in 0..3 {
                let noise = rng.normal() * 6.0;
                let v = background[ch] * (1.0 - covered) + colour[ch] * covered + noise;
                data.push(v.round().clamp(0.0, 255.0) as u8);
            }
        }
    }
    Image::from_parts(size, size, 3, data)
}
