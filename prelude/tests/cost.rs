//! Cost and speed: latency percentiles as numpy computes them, timings of a real model, and
//! cloud cost estimates with the guide's default prices and clear errors.

use trainbook::prelude::*;

fn plain_text(item: &dyn Render) -> String {
    item.mime_bundle().data["text/plain"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn percentiles_interpolate_like_numpy() {
    // numpy.percentile([5, 1, 9, 3, 7, 2], [50, 95]) is [4.0, 8.5].
    let latency = Latency {
        device: "CPU".into(),
        batch_size: 4,
        seconds: vec![5.0, 1.0, 9.0, 3.0, 7.0, 2.0],
    };
    assert_eq!(latency.p50(), 4.0);
    assert!((latency.p95() - 8.5).abs() < 1e-12);
    assert_eq!(latency.percentile(0.0), 1.0);
    assert_eq!(latency.percentile(100.0), 9.0);
    assert!((latency.mean() - 27.0 / 6.0).abs() < 1e-12);
    assert_eq!(latency.throughput(), 1.0); // 4 samples per 4 s
}

#[test]
fn latency_and_training_time_of_a_real_model() {
    let device = Device::Cpu;
    let digits = load_digits();
    let x = frame_to_tensor(&digits.frame, &digits.feature_names, DType::F32, &device).unwrap();
    let y = labels_to_tensor(&digits.frame, "target", &device).unwrap();
    let model = Mlp::new(MlpConfig::classifier(64, &[64], 10).seed(0)).unwrap();
    let single = Latency::measure(&model, &x, 1, 50).unwrap();
    let batched = Latency::measure(&model, &x, 256, 50).unwrap();
    assert_eq!((single.seconds.len(), batched.batch_size), (50, 256));
    assert!(single.seconds.iter().all(|&s| s > 0.0));
    assert!(single.device.starts_with("CPU ("), "{}", single.device);
    assert!(single.p50() <= single.p95());
    // Batching serves more samples per second than one at a time.
    assert!(batched.throughput() > single.throughput());
    let text = plain_text(&single);
    for row in ["device", "p50 latency", "p95 latency", "throughput"] {
        assert!(text.contains(row), "{text}");
    }

    let train = DataLoader::new(x.clone(), y, 128).unwrap();
    let fit = Trainer::new()
        .epochs(2)
        .progress(Progress::Quiet)
        .fit(&model, &train, None)
        .unwrap();
    let time = TrainingTime::of(&fit, &train, &device);
    assert_eq!(time.epochs, 2);
    assert!((time.seconds - fit.history.seconds()).abs() < 1e-12);
    assert!((time.samples_per_second - 2.0 * 1797.0 / time.seconds).abs() < 1e-6);

    let error = Latency::measure(&model, &x, 5000, 10)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("batch size 5000") && error.contains("1797"),
        "{error}"
    );
    let error = Latency::measure(&model, &x, 4, 0).unwrap_err().to_string();
    assert!(error.contains("runs"), "{error}");
}

#[test]
fn cost_estimates_use_the_guides_prices_and_the_users_edits() {
    let month = Usage::gpu("V100", 40.0).storage(200.0, 3.0).egress(50.0);
    let estimate = Prices::default().estimate(&month).unwrap();
    let costs: Vec<f64> = estimate.lines.iter().map(CostLine::cost).collect();
    // 40 h x $0.45, 600 GB-months x $0.026, 50 GB x $0.12.
    for (cost, expected) in costs.iter().zip([18.0, 15.6, 6.0]) {
        assert!((cost - expected).abs() < 1e-9, "{costs:?}");
    }
    assert!((estimate.total() - 39.6).abs() < 1e-9);
    let text = plain_text(&estimate);
    assert!(text.ends_with("total: $39.60"), "{text}");
    let table = estimate.to_frame().unwrap();
    assert_eq!(table.shape(), (3, 5));
    let svg = estimate.chart().to_svg().unwrap();
    assert!(
        svg.contains("$18.00") && svg.contains("$39.60"),
        "the chart shows the costs"
    );

    let prices = Prices::default()
        .gpu("A100", 1.10)
        .gpu("V100", 0.50)
        .egress_per_gb(0.09);
    let edited = prices.estimate(&month).unwrap();
    assert!((edited.total() - (20.0 + 15.6 + 4.5)).abs() < 1e-9);
    assert_eq!(Usage::training("A100", 36.0, 100).gpu_hours, 1.0);

    let error = Prices::default()
        .estimate(&Usage::gpu("H100", 1.0))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("H100") && error.contains("V100 ($0.45/h)") && error.contains(".gpu("),
        "{error}"
    );
    let error = Prices::default()
        .estimate(&Usage::gpu("V100", -2.0))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("GPU hours must be a number >= 0, got -2"),
        "{error}"
    );
}
