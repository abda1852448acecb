//! Images for training: an 8-bit [`Image`] type, transforms (geometry, colour, blur, noise,
//! erasing) written for speed, seeded and replayable augmentation pipelines ([`Augment`]),
//! labelled image sets in memory or on disk, conversion to NCHW tensors, and image grids for
//! the notebook.

mod color;
mod dataset;
mod geometry;
mod grid;
mod image;
pub(crate) mod loader;
mod resample;
mod tensor;
mod transform;

pub use dataset::{make_shapes, shapes_folder, BadFile, ImageFolder, ImageSet, OnBadFile};
pub use geometry::Padding;
pub use grid::ImageGrid;
pub use image::Image;
pub use resample::ResizeFilter;
pub use tensor::{images_to_tensor, Normalize};
pub use transform::{Applied, Augment, Augmented, Transform};
