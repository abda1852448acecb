//! Charts render to valid SVG and PNG that hold their series, labels and legend.

use trainbook::prelude::*;

fn training_curves() -> LineChart {
    LineChart::new("Training curves")
        .x_label("epoch")
        .y_label("loss")
        .series("train loss", &[0.9, 0.6, 0.45, 0.38, 0.33])
        .series("validation loss", &[1.0, 0.75, 0.62, 0.60, 0.61])
}

#[test]
fn line_chart_svg_holds_title_axes_and_legend() {
    let svg = training_curves().to_svg().unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    for text in [
        "Training curves",
        "epoch",
        "loss",
        "train loss",
        "validation loss",
    ] {
        assert!(
            svg.contains(&format!("\n{text}\n</text>")),
            "{text} missing from the SVG"
        );
    }
    // Two series lines (polylines) plus two legend swatches.
    assert!(svg.matches("<polyline").count() >= 4, "{svg}");
    let bundle = training_curves().mime_bundle();
    assert!(bundle.data.contains_key("image/svg+xml"));
}

#[test]
fn line_chart_png_is_a_real_png_with_drawn_pixels() {
    let png = training_curves().to_png().unwrap();
    let image = image::load_from_memory(&png).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), (640, 360));
    let series_blue = image.pixels().filter(|p| p.0 == [0, 114, 178]).count();
    assert!(
        series_blue > 100,
        "the first series is drawn ({series_blue} pixels)"
    );
    let dark_text = image
        .pixels()
        .filter(|p| p.0.iter().all(|&c| c < 60))
        .count();
    assert!(
        dark_text > 200,
        "labels are drawn with the embedded font ({dark_text} pixels)"
    );
    let dir = std::env::temp_dir().join(format!("trainbook-chart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    training_curves().save(dir.join("curves.png")).unwrap();
    training_curves().save(dir.join("curves.svg")).unwrap();
    assert!(std::fs::read(dir.join("curves.png"))
        .unwrap()
        .starts_with(b"\x89PNG"));
    let error = training_curves()
        .save(dir.join("curves.jpg"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("ending in .svg or .png"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_empty_chart_says_why_it_cannot_be_drawn() {
    let error = LineChart::new("nothing").to_svg().unwrap_err().to_string();
    assert!(error.contains("no finite points"), "{error}");
    let chart = LineChart::new("nan only").series("a", &[f64::NAN]);
    let text = chart.mime_bundle().data["text/plain"].to_string();
    assert!(text.contains("not drawn"), "{text}");
}

#[test]
fn confusion_heatmaps_hold_counts_labels_and_stay_readable_at_many_classes() {
    let truth = vec![0, 0, 0, 1, 1, 2, 2, 2, 2];
    let predicted = vec![0, 0, 1, 1, 1, 2, 2, 0, 2];
    let names: Vec<String> = ["setosa", "versicolor", "virginica"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let matrix = confusion_matrix(&truth, &predicted)
        .unwrap()
        .class_names(&names);
    let counts = matrix.heatmap(false).to_svg().unwrap();
    std::fs::write(
        std::env::temp_dir().join("trainbook-confusion.svg"),
        &counts,
    )
    .unwrap();
    assert!(
        counts.starts_with("<svg") && counts.contains("versicolor") && counts.contains("predicted")
    );
    assert!(
        counts.contains(">\n2\n</text>") || counts.contains(">2</text>"),
        "count labels drawn"
    );
    let normalised = matrix.heatmap(true).to_svg().unwrap();
    assert!(
        normalised.contains("0.67") && normalised.contains("0.75"),
        "row-normalised values"
    );
    let png = matrix.heatmap(true).to_png().unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    std::fs::write(std::env::temp_dir().join("trainbook-confusion.png"), &png).unwrap();
    // 25 classes: every class has a cell; labels thin out instead of overlapping.
    let many: Vec<usize> = (0..500).map(|i| i % 25).collect();
    let guesses: Vec<usize> = (0..500)
        .map(|i| if i % 7 == 0 { (i + 1) % 25 } else { i % 25 })
        .collect();
    let big = confusion_matrix(&many, &guesses).unwrap().heatmap(true);
    let svg = big.to_svg().unwrap();
    assert!(
        svg.matches("<rect").count() >= 625,
        "one rectangle per cell"
    );
    std::fs::write(
        std::env::temp_dir().join("trainbook-confusion-25.png"),
        big.to_png().unwrap(),
    )
    .unwrap();
    // Errors name the problem.
    let err = Heatmap::new("ragged", vec![vec![1.0, 2.0], vec![1.0]])
        .to_svg()
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 1 has 1 values but row 0 has 2"), "{err}");
}

#[test]
fn scatter_and_roc_charts_hold_their_points_and_legends() {
    let blobs = make_blobs(90, 3, 2, 0.5, 0).unwrap();
    let x = Matrix::features(&blobs).unwrap();
    let xs: Vec<f64> = (0..90).map(|i| x.row(i)[0]).collect();
    let ys: Vec<f64> = (0..90).map(|i| x.row(i)[1]).collect();
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let chart = ScatterChart::new("Blobs")
        .x_label("x0")
        .classes(&xs, &ys, &blobs.y_classes().unwrap(), &names)
        .unwrap();
    let svg = chart.to_svg().unwrap();
    assert_eq!(
        svg.matches("<circle").count(),
        90 + 3,
        "every point and one legend marker per class"
    );
    assert!(svg.contains("Blobs") && svg.contains("x0"));
    std::fs::write(
        std::env::temp_dir().join("trainbook-scatter.png"),
        chart.to_png().unwrap(),
    )
    .unwrap();
    let err = ScatterChart::new("bad")
        .points("a", &[1.0], &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 x values but 0 y values"), "{err}");
    let roc = roc_curve(&[0, 0, 1, 1, 0, 1], &[0.1, 0.4, 0.35, 0.8, 0.2, 0.9]).unwrap();
    let svg = roc.chart("model, AUC 0.89").to_svg().unwrap();
    assert!(
        svg.contains("model, AUC 0.89")
            && svg.contains("chance")
            && svg.contains("true positive rate")
    );
}

#[test]
fn bar_chart_labels_every_bar_with_its_value_and_rejects_bad_input() {
    let chart = BarChart::new("Accuracy by model")
        .y_label("accuracy")
        .bars(&["tree", "forest", "MLP"], &[0.84, 0.941, 0.976])
        .unwrap();
    let svg = chart.to_svg().unwrap();
    for text in [
        "Accuracy by model",
        "accuracy",
        "tree",
        "forest",
        "MLP",
        "0.84",
        "0.941",
        "0.976",
    ] {
        assert!(
            svg.contains(&format!("\n{text}\n</text>")),
            "{text} missing"
        );
    }
    // Three bars: filled rectangles in the first palette colour.
    assert_eq!(svg.matches("fill=\"#0072B2\"").count(), 3, "{svg}");
    assert!(chart.to_png().unwrap().starts_with(b"\x89PNG"));
    let error = BarChart::new("x").bars(&["a", "b"], &[1.0]).unwrap_err();
    assert!(
        error.to_string().contains("2 labels but 1 values"),
        "{error}"
    );
    let error = BarChart::new("x")
        .bars(&["a"], &[f64::NAN])
        .unwrap()
        .to_svg()
        .unwrap_err();
    assert!(error.to_string().contains("finite"), "{error}");
    assert!(BarChart::new("empty")
        .to_svg()
        .unwrap_err()
        .to_string()
        .contains("no bars"));
}

#[test]
fn histogram_counts_match_numpy_and_overlay_series() {
    // numpy.histogram(values, 7)[0] for these values (numpy 2.x) is [1, 13, 15, 5, 0, 0, 1].
    let mut values: Vec<f64> = (0..31).map(|i| 0.1 * i as f64).collect();
    values.extend([-1.3, 2.2, 2.2, 7.7]);
    let chart = Histogram::new("Values", 7).series("all", &values).unwrap();
    assert_eq!(chart.counts(0).unwrap(), vec![1, 13, 15, 5, 0, 0, 1]);
    // One distinct value: numpy widens the range by 0.5 each side: edges 2.5, 2.75, …, 3.5.
    let flat = Histogram::new("Flat", 4)
        .series("x", &[3.0, 3.0, 3.0])
        .unwrap();
    assert_eq!(flat.edges().unwrap(), vec![2.5, 2.75, 3.0, 3.25, 3.5]);
    assert_eq!(flat.counts(0).unwrap(), vec![0, 0, 3, 0]);
    // Two series share the bins and get a legend.
    let both = Histogram::new("Train and test", 5)
        .x_label("feature")
        .series("train", &[1.0, 2.0, 2.0, 3.0])
        .unwrap()
        .series("test", &[2.0, 4.0])
        .unwrap();
    // Edges 1, 1.6, 2.2, 2.8, 3.4, 4 over both series (numpy agrees).
    assert_eq!(both.counts(0).unwrap(), vec![1, 2, 0, 1, 0]);
    assert_eq!(both.counts(1).unwrap(), vec![0, 1, 0, 0, 1]);
    let svg = both.to_svg().unwrap();
    for text in ["Train and test", "feature", "count", "train", "test"] {
        assert!(
            svg.contains(&format!("\n{text}\n</text>")),
            "{text} missing"
        );
    }
    let error = Histogram::new("x", 3)
        .series("a", &[1.0, f64::NAN])
        .unwrap_err();
    assert!(error.to_string().contains("value 1 is NaN"), "{error}");
    assert!(both
        .counts(2)
        .unwrap_err()
        .to_string()
        .contains("no series 2"));
}
