//! Images and augmentation: every transform against numpy, Pillow or OpenCV
//! (fixtures/images.json, made by fixtures/make_image_fixtures.py), seeded replay, pipelines,
//! the image folder with damaged files, and the loader that feeds training.

use base64::Engine;
use serde_json::Value;
use std::collections::HashMap;
use trainbook::prelude::*;
use trainbook::random::Rng;

fn decode(v: &Value) -> Image {
    let data = base64::engine::general_purpose::STANDARD
        .decode(v["data"].as_str().unwrap())
        .unwrap();
    let n = |k: &str| v[k].as_u64().unwrap() as usize;
    Image::new(n("width"), n("height"), n("channels"), data).unwrap()
}

fn filter(name: &str) -> ResizeFilter {
    match name {
        "nearest" => ResizeFilter::Nearest,
        "bilinear" => ResizeFilter::Bilinear,
        "bicubic" => ResizeFilter::Bicubic,
        "lanczos3" => ResizeFilter::Lanczos3,
        other => panic!("unknown filter {other}"),
    }
}

fn run_case(op: &str, p: &Value, image: &Image) -> Image {
    let f = |k: &str| p[k].as_f64().unwrap();
    let u = |k: &str| p[k].as_u64().unwrap() as usize;
    match op {
        "flip_horizontal" => image.flip_horizontal(),
        "flip_vertical" => image.flip_vertical(),
        "rotate90" => image.rotate90(p["quarter_turns"].as_i64().unwrap() as i32),
        "crop" => image.crop(u("x"), u("y"), u("width"), u("height")).unwrap(),
        "pad" => {
            let mode = match p["mode"].as_str().unwrap() {
                "reflect" => Padding::Reflect,
                "edge" => Padding::Edge,
                _ => Padding::Constant([7, 7, 7]),
            };
            image
                .pad(u("left"), u("top"), u("right"), u("bottom"), mode)
                .unwrap()
        }
        "resize" => image
            .resize(
                u("width"),
                u("height"),
                filter(p["filter"].as_str().unwrap()),
            )
            .unwrap(),
        "to_gray" => image.to_gray(),
        "brightness" => image.adjust_brightness(f("factor")).unwrap(),
        "contrast" => image.adjust_contrast(f("factor")).unwrap(),
        "saturation" => image.adjust_saturation(f("factor")).unwrap(),
        "hue" => image.adjust_hue(f("shift")).unwrap(),
        "rotate" => {
            let fill: Vec<u8> = p["fill"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u8)
                .collect();
            image.rotate(
                f("degrees"),
                [fill[0], fill[1], fill[2]],
                p["expand"].as_bool().unwrap(),
            )
        }
        "blur" => image.gaussian_blur(f("sigma"), u("kernel_size")).unwrap(),
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn every_transform_matches_its_reference() {
    let fixtures: Value = serde_json::from_str(include_str!("fixtures/images.json")).unwrap();
    let inputs: HashMap<String, Image> = fixtures["inputs"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), decode(v)))
        .collect();
    let mut worst: HashMap<String, u8> = HashMap::new();
    for case in fixtures["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let op = case["op"].as_str().unwrap();
        let input = &inputs[case["input"].as_str().unwrap()];
        let expected = decode(&case["expected"]);
        let actual = run_case(op, &case["params"], input);
        assert_eq!(
            (actual.width(), actual.height(), actual.channels()),
            (expected.width(), expected.height(), expected.channels()),
            "{name}: size"
        );
        let diff = actual
            .pixels()
            .iter()
            .zip(expected.pixels())
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        let mut tolerance = case["tolerance"].as_u64().unwrap() as u8;
        // Pillow 13 runs the vertical pass first for some sizes (a rule its 8-bit rounding
        // makes visible); we always go horizontal first, so two-axis resizes may differ by 1.
        let two_axis_resize = op == "resize"
            && case["params"]["filter"] != "nearest"
            && actual.width() != input.width()
            && actual.height() != input.height();
        if two_axis_resize {
            tolerance = 1;
        }
        let op = if two_axis_resize {
            "resize two axes"
        } else {
            op
        };
        assert!(
            diff <= tolerance,
            "{name}: max difference {diff} > {tolerance}"
        );
        let entry = worst.entry(op.to_string()).or_default();
        *entry = (*entry).max(diff);
    }
    // Exact where the reference is exact; hue passes through 8-bit HSV and may differ by
    // rounding in single versus double precision.
    for op in [
        "flip_horizontal",
        "flip_vertical",
        "rotate90",
        "crop",
        "pad",
        "resize",
        "to_gray",
        "brightness",
        "contrast",
        "saturation",
    ] {
        assert_eq!(worst[op], 0, "{op} should match its reference exactly");
    }
    assert!(worst["hue"] <= 1, "hue: {}", worst["hue"]);
    assert!(worst["resize two axes"] <= 1);
    eprintln!("largest differences: {worst:?}");
}

#[test]
fn rotation_keeps_the_picture_within_opencv_rounding_on_average() {
    // The per-pixel tolerance above allows OpenCV's 1/32 weight steps; on average the two must
    // agree much more closely than that.
    let fixtures: Value = serde_json::from_str(include_str!("fixtures/images.json")).unwrap();
    let input = decode(&fixtures["inputs"]["rgb"]);
    for case in fixtures["cases"].as_array().unwrap() {
        if case["op"] != "rotate" || case["input"] != "rgb" {
            continue;
        }
        let expected = decode(&case["expected"]);
        let actual = run_case("rotate", &case["params"], &input);
        let mean = actual
            .pixels()
            .iter()
            .zip(expected.pixels())
            .map(|(a, b)| a.abs_diff(*b) as f64)
            .sum::<f64>()
            / actual.pixels().len() as f64;
        assert!(mean < 0.6, "{}: mean difference {mean}", case["name"]);
    }
}

fn photo() -> Image {
    let data = (0..32 * 24 * 3).map(|i| ((i * 37) % 251) as u8).collect();
    Image::new(32, 24, 3, data).unwrap()
}

fn pipeline(seed: u64) -> Augment {
    Augment::new(
        vec![
            Transform::random_resized_crop(20, 20, (0.5, 1.0)),
            Transform::HorizontalFlip.random_apply(0.5),
            Transform::one_of(vec![
                Transform::rotate(25.0),
                Transform::RandomRotate90,
                Transform::gaussian_blur((0.3, 1.2)),
            ]),
            Transform::color_jitter(0.3, 0.3, 0.3, 0.05),
            Transform::GaussianNoise { std: 0.03 },
            Transform::random_erasing().random_apply(0.5),
        ],
        seed,
    )
}

#[test]
fn same_seed_same_augmentation_other_seeds_differ() {
    let image = photo();
    let a = pipeline(1);
    for sample in 0..20 {
        let first = a.apply(&image, sample, 3).unwrap();
        let again = a.apply(&image, sample, 3).unwrap();
        assert_eq!(first.image, again.image);
        assert_eq!(first.applied, again.applied);
        // The record replays to the same image.
        assert_eq!(a.replay(&image, &first.applied).unwrap(), first.image);
        assert_eq!((first.image.width(), first.image.height()), (20, 20));
    }
    let differ = |x: &Augment, y: &Augment, ex: usize, ey: usize| {
        (0..20)
            .filter(|&s| {
                x.apply(&image, s, ex).unwrap().image != y.apply(&image, s, ey).unwrap().image
            })
            .count()
    };
    assert_eq!(differ(&pipeline(2), &pipeline(3), 0, 0), 20, "other seeds");
    assert_eq!(differ(&pipeline(2), &pipeline(2), 0, 1), 20, "other epochs");
    // Order and threads do not matter: a parallel batch equals one-by-one application.
    let images = vec![image.clone(); 16];
    let samples: Vec<usize> = (0..16).rev().collect();
    let batch = a.apply_batch(&images, &samples, 5).unwrap();
    for (out, &s) in batch.iter().zip(&samples) {
        assert_eq!(out, &a.apply(&image, s, 5).unwrap().image);
    }
}

#[test]
fn probabilities_and_choices_follow_their_settings() {
    let image = photo();
    let flips = Augment::new(vec![Transform::HorizontalFlip.random_apply(0.3)], 9);
    let flipped = (0..2000)
        .filter(|&s| !flips.apply(&image, s, 0).unwrap().applied.is_empty())
        .count();
    assert!(
        (540..660).contains(&flipped),
        "{flipped} of 2000 flipped at p = 0.3"
    );
    let choice = Augment::new(
        vec![Transform::one_of(vec![
            Transform::HorizontalFlip,
            Transform::VerticalFlip,
            Transform::Grayscale,
        ])],
        4,
    );
    let mut counts = HashMap::new();
    for s in 0..3000 {
        let applied = choice.apply(&image, s, 0).unwrap().applied;
        assert_eq!(applied.len(), 1);
        *counts.entry(applied[0].to_string()).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 3);
    assert!(
        counts.values().all(|&n| (900..1100).contains(&n)),
        "{counts:?}"
    );
    // Sampled parameters respect their ranges.
    let rotate = Augment::new(vec![Transform::rotate(10.0)], 1);
    for s in 0..200 {
        match &rotate.apply(&image, s, 0).unwrap().applied[0] {
            Applied::Rotate { degrees, .. } => assert!((-10.0..10.0).contains(degrees)),
            other => panic!("{other:?}"),
        }
    }
    let crop = Augment::new(vec![Transform::random_crop(30, 20, 4)], 2);
    let mut positions = std::collections::HashSet::new();
    for s in 0..300 {
        let out = crop.apply(&image, s, 0).unwrap();
        assert_eq!((out.image.width(), out.image.height()), (30, 20));
        if let Applied::Crop { x, y, .. } = out.applied[1] {
            assert!(x <= 32 + 8 - 30 && y <= 24 + 8 - 20);
            positions.insert((x, y));
        }
    }
    assert!(positions.len() > 50, "random crops cover the positions");
}

#[test]
fn bad_settings_are_errors_that_say_what_to_change() {
    let image = photo();
    let error = |t: Transform| {
        format!(
            "{:#}",
            Augment::new(vec![t], 0).apply(&image, 0, 0).unwrap_err()
        )
    };
    assert!(error(Transform::CenterCrop {
        width: 40,
        height: 10
    })
    .contains("larger than the 32x24"));
    assert!(error(Transform::HorizontalFlip.random_apply(1.5)).contains("probability"));
    assert!(error(Transform::color_jitter(0.1, 0.1, 0.1, 0.7)).contains("hue"));
    assert!(error(Transform::one_of(vec![])).contains("no transforms"));
    assert!(image
        .crop(30, 0, 5, 5)
        .unwrap_err()
        .to_string()
        .contains("does not fit"));
    assert!(image
        .gaussian_blur(1.0, 4)
        .unwrap_err()
        .to_string()
        .contains("odd"));
    assert!(Image::new(2, 2, 4, vec![0; 16])
        .unwrap_err()
        .to_string()
        .contains("1 (gray) or 3"));
    let mixed = vec![
        Image::filled(4, 4, &[0]).unwrap(),
        Image::filled(5, 4, &[0]).unwrap(),
    ];
    let message = images_to_tensor(&mixed, &Normalize::unit(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("image 1 is 5x4") && message.contains("resize"),
        "{message}"
    );
}

#[test]
fn the_shipped_shapes_are_what_the_generator_makes() {
    let folder = ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap();
    let shipped = folder.load_all().unwrap();
    let generated = make_shapes(40, 32, 0).unwrap();
    assert_eq!(shipped.classes, generated.classes);
    assert_eq!(shipped.labels, generated.labels);
    assert!(
        shipped.images == generated.images,
        "prelude/data/shapes is stale: rerun the ignored test write_shapes_folder"
    );
}

/// Writes prelude/data/shapes from the generator:
/// `cargo test --release -p trainbook --test vision -- --ignored write_shapes_folder`.
#[test]
#[ignore]
fn write_shapes_folder() {
    let dir = shapes_folder();
    let _ = std::fs::remove_dir_all(&dir);
    make_shapes(40, 32, 0).unwrap().save_folder(&dir).unwrap();
}

#[test]
fn damaged_files_are_named_and_skipped_or_fatal_by_option() {
    let dir = std::env::temp_dir().join(format!("trainbook-folder-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let set = make_shapes(4, 16, 3).unwrap();
    set.save_folder(&dir).unwrap();
    // Not an image at all, and a PNG cut short (its header is intact).
    std::fs::write(dir.join("circle/garbage.png"), b"this is not a png").unwrap();
    let png = std::fs::read(dir.join("square/0004.png")).unwrap();
    std::fs::write(dir.join("square/truncated.png"), &png[..png.len() / 2]).unwrap();
    std::fs::write(
        dir.join("square/notes.txt"),
        b"ignored: not an image extension",
    )
    .unwrap();

    let message = format!(
        "{:#}",
        ImageFolder::open(&dir, OnBadFile::Fail).unwrap_err()
    );
    assert!(
        message.contains("garbage.png") && message.contains("OnBadFile::Skip"),
        "{message}"
    );

    let folder = ImageFolder::open(&dir, OnBadFile::Skip).unwrap();
    assert_eq!(folder.skipped().len(), 1);
    assert!(folder.skipped()[0].path.ends_with("circle/garbage.png"));
    assert_eq!(
        folder.len(),
        13,
        "the truncated file passes the header check"
    );
    let truncated = folder
        .files()
        .iter()
        .position(|p| p.ends_with("truncated.png"))
        .unwrap();
    let message = format!("{:#}", folder.load(truncated).unwrap_err());
    assert!(message.contains("truncated.png"), "{message}");
    // A loader reports the file by name instead of panicking.
    let loader =
        DataLoader::from_image_folder(&folder, None, &Normalize::unit(), 16, &Device::Cpu).unwrap();
    let message = loader.epoch(0).next().unwrap().unwrap_err().to_string();
    assert!(message.contains("truncated.png"), "{message}");

    let verified = folder.verify(OnBadFile::Skip).unwrap();
    assert_eq!(verified.len(), 12);
    assert_eq!(verified.skipped().len(), 2);
    assert_eq!(verified.load_all().unwrap().images, set.images);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn folders_split_by_class_and_feed_the_training_loop() {
    let folder = ImageFolder::open(shapes_folder(), OnBadFile::Fail).unwrap();
    let (train, validation) = folder.split(0.25, 1).unwrap();
    assert_eq!((train.len(), validation.len()), (90, 30));
    for class in 0..3 {
        assert_eq!(
            validation.labels().iter().filter(|&&l| l == class).count(),
            10
        );
    }
    assert!(train
        .files()
        .iter()
        .all(|f| !validation.files().contains(f)));

    let augment = Augment::new(
        vec![
            Transform::random_resized_crop(28, 28, (0.7, 1.0)),
            Transform::HorizontalFlip.random_apply(0.5),
            Transform::RandomRotate90,
        ],
        5,
    );
    let normalize = Normalize::new(vec![0.5; 3], vec![0.25; 3]).unwrap();
    let train_loader =
        DataLoader::from_image_folder(&train, Some(&augment), &normalize, 30, &Device::Cpu)
            .unwrap()
            .shuffle(2);
    let plain = Augment::new(
        vec![Transform::CenterCrop {
            width: 28,
            height: 28,
        }],
        0,
    );
    let validation_loader =
        DataLoader::from_image_folder(&validation, Some(&plain), &normalize, 30, &Device::Cpu)
            .unwrap();
    // Same epoch, same batches; the next epoch augments differently.
    let batch = |e| train_loader.epoch(e).next().unwrap().unwrap().0;
    let (a, b, c) = (batch(0), batch(0), batch(1));
    let diff = |x: &Tensor, y: &Tensor| {
        x.sub(y)
            .unwrap()
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    assert_eq!(diff(&a, &b), 0.0);
    assert!(diff(&a, &c) > 0.0);

    let model = Cnn::new(
        CnnConfig::new(&[3, 28, 28], 3)
            .conv(8)
            .pool()
            .conv(16)
            .pool()
            .conv(32)
            .pool()
            .dense(32)
            .batch_norm(true)
            .seed(0)
            .device(&Device::Cpu),
    )
    .unwrap();
    let fit = Trainer::new()
        .epochs(40)
        .optimizer(Optimizer::adam(3e-3))
        .progress(Progress::Quiet)
        .fit(&model, &train_loader, Some(&validation_loader))
        .unwrap();
    let accuracy = fit.history.last().unwrap().validation_accuracy.unwrap();
    // 90 training images, 40 epochs: 0.9 here (chance is 0.33); the margin covers float
    // differences between machines.
    assert!(accuracy >= 0.8, "shapes validation accuracy {accuracy}");
}

#[test]
fn previews_and_grids_show_what_was_done() {
    let digits = load_digits_images();
    assert_eq!(digits.images[0].width(), 8);
    assert_eq!(digits.labels[..3], [0, 1, 2]);
    let augment = Augment::new(
        vec![
            Transform::rotate(20.0),
            Transform::GaussianNoise { std: 0.05 },
        ],
        0,
    );
    let preview = augment.preview(&digits.images[0], 6).unwrap();
    assert_eq!(preview.len(), 7);
    assert_eq!(preview.captions()[0], "original");
    assert!(preview.captions()[1].starts_with("rotate") && preview.captions()[1].contains("noise"));
    let bundle = preview.mime_bundle();
    let html = bundle.data["text/html"].as_str().unwrap();
    assert_eq!(html.matches("<img").count(), 7);
    assert!(html.contains("pixelated"));
    let png = base64::engine::general_purpose::STANDARD
        .decode(bundle.data["image/png"].as_str().unwrap())
        .unwrap();
    let tiles = Image::decode(&png).unwrap();
    assert_eq!(tiles.width(), 7 * 8 + 8 * 2);
    // An image shows itself.
    assert!(digits.images[5]
        .mime_bundle()
        .data
        .contains_key("image/png"));
    // Noise is seeded per sample: same call, same pixels.
    let mut rng = Rng::new(3);
    let noisy = digits.images[1].gaussian_noise(0.1, &mut rng).unwrap();
    assert_eq!(
        noisy,
        digits.images[1]
            .gaussian_noise(0.1, &mut Rng::new(3))
            .unwrap()
    );
}

#[test]
fn fast_flips_and_turns_equal_the_pixel_by_pixel_definition() {
    // Sizes around the 16-pixel SIMD blocks, odd and one-pixel sides included.
    for (w, h) in [
        (1, 1),
        (15, 3),
        (16, 2),
        (17, 5),
        (33, 1),
        (1, 9),
        (37, 23),
        (224, 7),
    ] {
        for c in [1, 3] {
            let data: Vec<u8> = (0..w * h * c).map(|i| (i * 7919 % 256) as u8).collect();
            let image = Image::new(w, h, c, data).unwrap();
            let naive = |f: &dyn Fn(usize, usize) -> (usize, usize), ow: usize, oh: usize| {
                let mut out = vec![0u8; w * h * c];
                for y in 0..h {
                    for x in 0..w {
                        let (ox, oy) = f(x, y);
                        out[(oy * ow + ox) * c..][..c].copy_from_slice(image.pixel(x, y));
                    }
                }
                Image::new(ow, oh, c, out).unwrap()
            };
            assert_eq!(
                image.flip_horizontal(),
                naive(&|x, y| (w - 1 - x, y), w, h),
                "{w}x{h}x{c}"
            );
            assert_eq!(image.flip_vertical(), naive(&|x, y| (x, h - 1 - y), w, h));
            assert_eq!(
                image.rotate90(1),
                naive(&|x, y| (y, w - 1 - x), h, w),
                "ccw {w}x{h}x{c}"
            );
            assert_eq!(
                image.rotate90(-1),
                naive(&|x, y| (h - 1 - y, x), h, w),
                "cw {w}x{h}x{c}"
            );
            assert_eq!(
                image.rotate90(2),
                naive(&|x, y| (w - 1 - x, h - 1 - y), w, h)
            );
        }
    }
}
