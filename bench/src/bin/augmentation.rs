//! Image transforms, the Trainbook side of `bench/augmentation.py`: 1000 random 224x224 RGB
//! images in memory, each transform applied to all of them, best of 10 passes, as images per
//! second. "single" transforms one image at a time on the calling thread (rotation by an angle
//! splits its rows over the rayon pool, as OpenCV's warpAffine does over its threads);
//! "batch" is `Augment::apply_batch`-style parallelism over images.
//!
//! Usage: augmentation [--images N] [--passes N] [--only NAME]   (prints one JSON line)

use rayon::prelude::*;
use std::time::Instant;
use trainbook::prelude::*;
use trainbook::random::Rng;

fn best_rate(
    images: &[Image],
    passes: usize,
    parallel: bool,
    op: &(dyn Fn(&Image) -> Image + Sync),
) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..passes {
        let start = Instant::now();
        let sink: usize = if parallel {
            images.par_iter().map(|i| op(i).pixels().len()).sum()
        } else {
            images.iter().map(|i| op(i).pixels().len()).sum()
        };
        std::hint::black_box(sink);
        best = best.min(start.elapsed().as_secs_f64());
    }
    images.len() as f64 / best
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (n, passes) = (arg("--images", 1000), arg("--passes", 10));
    let mut rng = Rng::new(0);
    let images: Vec<Image> = (0..n)
        .map(|_| {
            let data = (0..224 * 224 * 3).map(|_| rng.below(256) as u8).collect();
            Image::new(224, 224, 3, data)
        })
        .collect::<anyhow::Result<_>>()?;
    type Op = Box<dyn Fn(&Image) -> Image + Sync>;
    let ops: Vec<(&str, Op)> = vec![
        ("rotate90", Box::new(|i: &Image| i.rotate90(1))),
        ("hflip", Box::new(|i: &Image| i.flip_horizontal())),
        (
            "center_crop_200",
            Box::new(|i: &Image| i.center_crop(200, 200).unwrap()),
        ),
        (
            "rotate15_bilinear",
            Box::new(|i: &Image| i.rotate(15.0, [0, 0, 0], false)),
        ),
        (
            "resize_112_bilinear",
            Box::new(|i: &Image| i.resize(112, 112, ResizeFilter::Bilinear).unwrap()),
        ),
        (
            "gaussian_blur_5",
            Box::new(|i: &Image| i.gaussian_blur(1.0, 5).unwrap()),
        ),
        (
            "brightness",
            Box::new(|i: &Image| i.adjust_brightness(1.2).unwrap()),
        ),
    ];
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    let mut out = serde_json::Map::new();
    for (name, op) in ops
        .iter()
        .filter(|(name, _)| only.is_none_or(|o| o == name))
    {
        let single = best_rate(&images, passes, false, op.as_ref());
        let batch = best_rate(&images, passes, true, op.as_ref());
        out.insert(
            name.to_string(),
            serde_json::json!({"single": single, "batch": batch}),
        );
    }
    out.insert("threads".into(), rayon::current_num_threads().into());
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
