//! The candle models and the training loop: update rules, losses and schedules against
//! PyTorch (fixtures/training.json, made by fixtures/make_training_fixtures.py), accuracy on
//! the shipped digits, reproducibility, early stopping, checkpoints and resume.

mod common;

use common::{fixture, floats};
use serde_json::Value;
use std::collections::HashMap;
use trainbook::candle_nn::Init;
use trainbook::prelude::*;

fn tensor(v: &Value, shape: &[usize]) -> Tensor {
    Tensor::from_vec(floats(v), shape, &Device::Cpu)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
}

fn close(actual: &[f64], expected: &[f64], tolerance: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= tolerance * (1.0 + e.abs()),
            "{what}[{i}]: got {a}, PyTorch {e}"
        );
    }
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap()
}

#[test]
fn optimizers_follow_pytorch_step_for_step() {
    let fx = fixture("training");
    let problem = &fx["optimizer_problem"];
    let optimizers: Vec<(&str, Optimizer)> = vec![
        ("sgd", Optimizer::sgd(0.1)),
        ("sgd_momentum", Optimizer::sgd(0.1).momentum(0.9)),
        (
            "sgd_nesterov_wd",
            Optimizer::sgd(0.1)
                .momentum(0.9)
                .nesterov(true)
                .weight_decay(0.01),
        ),
        ("adam", Optimizer::adam(0.05)),
        ("adam_wd", Optimizer::adam(0.05).weight_decay(0.1)),
        ("adamw", Optimizer::adamw(0.05).weight_decay(0.1)),
        ("rmsprop", Optimizer::rmsprop(0.01)),
        (
            "rmsprop_momentum_centered",
            Optimizer::rmsprop(0.01).momentum(0.9).centered(true),
        ),
    ];
    for (name, optimizer) in optimizers {
        let params = Parameters::new(0, &Device::Cpu);
        let vb = params.builder();
        let p0 = vb.get_with_hints((3, 2), "p0", Init::Const(0.0)).unwrap();
        let p1 = vb.get_with_hints(2, "p1", Init::Const(0.0)).unwrap();
        let start: HashMap<String, Tensor> = [
            ("p0".to_string(), tensor(&problem["p0"], &[3, 2])),
            ("p1".to_string(), tensor(&problem["p1"], &[2])),
        ]
        .into();
        params.load(&start, false).unwrap();
        let (c0, d0) = (
            tensor(&problem["c0"], &[3, 2]),
            tensor(&problem["d0"], &[3, 2]),
        );
        let (c1, d1) = (tensor(&problem["c1"], &[2]), tensor(&problem["d1"], &[2]));
        let term = |p: &Tensor, c: &Tensor, d: &Tensor| {
            let quadratic = (c * p.sqr().unwrap()).unwrap().sum_all().unwrap();
            let exponential = (d * (p * 0.3).unwrap().exp().unwrap())
                .unwrap()
                .sum_all()
                .unwrap();
            (quadratic + exponential).unwrap()
        };
        let mut state = OptimizerState::new(optimizer);
        for (step, expected) in fx["optimizers"][name]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let loss = (term(&p0, &c0, &d0) + term(&p1, &c1, &d1)).unwrap();
            state.backward_step(&params, &loss).unwrap();
            let what = format!("{name} step {}", step + 1);
            close(&values(&p0), &floats(&expected["p0"]), 2e-5, &what);
            close(&values(&p1), &floats(&expected["p1"]), 2e-5, &what);
        }
    }
}

#[test]
fn losses_match_pytorch() {
    let fx = fixture("training");
    let l = &fx["losses"];
    let logits = tensor(&l["logits"], &[7, 4]);
    let labels: Vec<u32> = floats(&l["labels"]).iter().map(|&v| v as u32).collect();
    let labels = Tensor::new(labels, &Device::Cpu).unwrap();
    let weights = floats(&l["weights"]);
    let scalar = |t: Tensor| t.to_dtype(DType::F64).unwrap().to_scalar::<f64>().unwrap();
    let cases = vec![
        ("cross_entropy", Loss::cross_entropy()),
        (
            "cross_entropy_weighted",
            Loss::cross_entropy().class_weights(&weights),
        ),
        (
            "cross_entropy_smoothed",
            Loss::cross_entropy().label_smoothing(0.1),
        ),
        (
            "cross_entropy_weighted_smoothed",
            Loss::cross_entropy()
                .class_weights(&weights)
                .label_smoothing(0.1),
        ),
        ("hinge", Loss::Hinge),
    ];
    for (name, loss) in cases {
        let got = scalar(loss.compute(&logits, &labels).unwrap());
        close(&[got], &[l[name].as_f64().unwrap()], 1e-5, name);
    }
    let binary_logits = tensor(&l["binary_logits"], &[7, 1]);
    let binary_labels = Tensor::new(
        floats(&l["binary_labels"])
            .iter()
            .map(|&v| v as u32)
            .collect::<Vec<_>>(),
        &Device::Cpu,
    )
    .unwrap();
    for (name, loss) in [
        ("bce", Loss::binary_cross_entropy()),
        (
            "bce_pos_weight",
            Loss::BinaryCrossEntropy {
                pos_weight: Some(3.0),
            },
        ),
    ] {
        let got = scalar(loss.compute(&binary_logits, &binary_labels).unwrap());
        close(&[got], &[l[name].as_f64().unwrap()], 1e-5, name);
    }
    let predictions = tensor(&l["predictions"], &[7, 1]);
    let targets = tensor(&l["targets"], &[7]);
    for (name, loss) in [
        ("mse", Loss::MeanSquaredError),
        ("mae", Loss::MeanAbsoluteError),
    ] {
        let got = scalar(loss.compute(&predictions, &targets).unwrap());
        close(&[got], &[l[name].as_f64().unwrap()], 1e-5, name);
    }
}

#[test]
fn schedules_match_pytorch() {
    let fx = fixture("training");
    let s = &fx["schedules"];
    let per_step = |schedule: Schedule, total: usize| -> Vec<f64> {
        (0..total)
            .map(|step| schedule.learning_rate(0.01, step, total, 0))
            .collect()
    };
    close(
        &per_step(Schedule::one_cycle(0.1), 50),
        &floats(&s["one_cycle_50"]),
        1e-9,
        "one-cycle",
    );
    close(
        &per_step(Schedule::cosine(), 40),
        &floats(&s["cosine_40"]),
        1e-9,
        "cosine",
    );
    let step: Vec<f64> = (0..10)
        .map(|epoch| Schedule::step(3, 0.5).learning_rate(0.01, 0, 1, epoch))
        .collect();
    close(&step, &floats(&s["step_3_half_10"]), 1e-12, "step");
}

#[test]
fn reduce_on_plateau_follows_pytorch() {
    let fx = fixture("training");
    let losses = floats(&fx["schedules"]["plateau_losses"]);
    let expected = floats(&fx["schedules"]["plateau_half_2"]);
    let schedule = Schedule::reduce_on_plateau(0.5, 2);
    let mut plateau = PlateauState::new();
    let mut got = Vec::new();
    for &loss in &losses {
        // The rate used in an epoch, then the epoch's loss is read (as the loop does).
        got.push(schedule.learning_rate(0.01, 0, 1, 0) * plateau.scale);
        plateau.end_epoch(&schedule, 0.01, loss);
    }
    close(&got, &expected, 1e-12, "plateau");
}

struct Digits {
    train: DataLoader,
    test: DataLoader,
    test_x: Tensor,
    test_y: Vec<usize>,
}

fn digits(batch: usize, images: bool) -> Digits {
    let data = load_digits();
    let split = stratified_split(&data.frame, "target", 0.25, 0).unwrap();
    let tensors = |frame: &DataFrame| {
        let x = frame_to_tensor(frame, &data.feature_names, DType::F32, &Device::Cpu).unwrap();
        let x = (x / 16.0).unwrap();
        let x = if images {
            x.reshape(((), 1, 8, 8)).unwrap()
        } else {
            x
        };
        (x, labels_to_tensor(frame, "target", &Device::Cpu).unwrap())
    };
    let (train_x, train_y) = tensors(&split.train);
    let (test_x, test_y) = tensors(&split.test);
    let test_labels = test_y
        .to_vec1::<u32>()
        .unwrap()
        .into_iter()
        .map(|c| c as usize)
        .collect();
    Digits {
        train: DataLoader::new(train_x, train_y, batch).unwrap().shuffle(0),
        test: DataLoader::new(test_x.clone(), test_y, 512).unwrap(),
        test_x,
        test_y: test_labels,
    }
}

#[test]
fn mlp_reaches_pytorch_accuracy_on_digits() {
    let d = digits(64, false);
    let model = Mlp::new(
        MlpConfig::classifier(64, &[128, 64], 10)
            .seed(0)
            .device(&Device::Cpu),
    )
    .unwrap();
    let fit = Trainer::new()
        .epochs(20)
        .optimizer(Optimizer::adam(1e-3))
        .fit(&model, &d.train, Some(&d.test))
        .unwrap();
    assert_eq!(fit.stopped, StopReason::Completed);
    let accuracy = accuracy_score(&d.test_y, &model.predict(&d.test_x).unwrap()).unwrap();
    println!("MLP digits test accuracy {accuracy}");
    assert!(accuracy >= 0.97, "MLP test accuracy {accuracy}");
    // The loop's own validation accuracy is the same number.
    let last = fit.history.last().unwrap().validation_accuracy.unwrap();
    assert!((last - accuracy).abs() < 1e-12);
}

/// A linear SVM on candle: one linear layer, the one-vs-rest hinge loss and an L2 penalty.
#[test]
fn linear_svm_with_hinge_loss_classifies_digits() {
    let d = digits(64, false);
    let svm = Mlp::new(
        MlpConfig::classifier(64, &[], 10)
            .seed(0)
            .device(&Device::Cpu),
    )
    .unwrap();
    assert_eq!(svm.summary().layers.len(), 1, "one linear layer");
    let fit = Trainer::new()
        .epochs(30)
        .optimizer(Optimizer::adam(1e-2))
        .loss(Loss::Hinge)
        .l2(1e-4)
        .progress(Progress::Quiet)
        .fit(&svm, &d.train, Some(&d.test))
        .unwrap();
    let accuracy = accuracy_score(&d.test_y, &svm.predict(&d.test_x).unwrap()).unwrap();
    println!("linear SVM (hinge) digits accuracy {accuracy}");
    // scikit-learn's LinearSVC(loss="hinge") on the same pixels (/16): 0.964, the mean over five
    // stratified 75/25 splits.
    assert!(
        accuracy >= 0.954,
        "{accuracy}: more than one point below scikit-learn"
    );
    let losses: Vec<f64> = fit.history.epochs.iter().map(|e| e.train_loss).collect();
    assert!(losses[29] < losses[0] * 0.5, "{losses:?}");
}

#[test]
fn cnn_reaches_pytorch_accuracy_on_digits() {
    let d = digits(64, true);
    let model = Cnn::new(
        CnnConfig::new(&[1, 8, 8], 10)
            .conv(16)
            .conv(32)
            .pool()
            .seed(0)
            .device(&Device::Cpu),
    )
    .unwrap();
    Trainer::new()
        .epochs(20)
        .optimizer(Optimizer::adam(1e-3))
        .fit(&model, &d.train, None)
        .unwrap();
    let accuracy = accuracy_score(&d.test_y, &model.predict(&d.test_x).unwrap()).unwrap();
    println!("CNN digits test accuracy {accuracy}");
    assert!(accuracy >= 0.975, "CNN test accuracy {accuracy}");
}

#[test]
fn same_seeds_give_the_same_run_and_save_load_gives_the_same_predictions() {
    let d = digits(32, false);
    let run = || {
        let model = Mlp::new(
            MlpConfig::classifier(64, &[32], 10)
                .dropout(0.2)
                .batch_norm(true)
                .seed(5)
                .device(&Device::Cpu),
        )
        .unwrap();
        let fit = Trainer::new()
            .epochs(3)
            .optimizer(Optimizer::sgd(0.05).momentum(0.9))
            .fit(&model, &d.train, Some(&d.test))
            .unwrap();
        (model, fit.history)
    };
    let (model, first) = run();
    let (_, second) = run();
    let losses = |h: &History| {
        h.epochs
            .iter()
            .map(|e| (e.train_loss, e.validation_loss))
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(&first), losses(&second));

    let path =
        std::env::temp_dir().join(format!("trainbook-test-{}.safetensors", std::process::id()));
    model.save(&path).unwrap();
    let loaded = Mlp::new(
        MlpConfig::classifier(64, &[32], 10)
            .dropout(0.2)
            .batch_norm(true)
            .seed(77)
            .device(&Device::Cpu),
    )
    .unwrap();
    loaded.load(&path).unwrap();
    assert_eq!(
        values(&model.predict_proba(&d.test_x).unwrap()),
        values(&loaded.predict_proba(&d.test_x).unwrap())
    );
    // A model of another shape is refused with a message naming the tensor.
    let other = Mlp::new(MlpConfig::classifier(64, &[16], 10).device(&Device::Cpu)).unwrap();
    let error = other.load(&path).unwrap_err().to_string();
    assert!(error.contains("hidden0.weight"), "{error}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn early_stopping_restores_the_best_epoch_also_when_epochs_run_out() {
    let d = digits(32, false);
    for patience in [3, 100] {
        let model = Mlp::new(
            MlpConfig::classifier(64, &[256, 256], 10)
                .seed(1)
                .device(&Device::Cpu),
        )
        .unwrap();
        // A high learning rate makes the validation loss bounce, so the last epoch is not the best.
        let fit = Trainer::new()
            .epochs(12)
            .optimizer(Optimizer::sgd(0.5).momentum(0.9))
            .early_stopping(EarlyStopping::new(patience))
            .fit(&model, &d.train, Some(&d.test))
            .unwrap();
        let best = fit.best_epoch.unwrap();
        let best_loss = fit.history.epochs[best - 1].validation_loss.unwrap();
        assert!(fit.restored_best);
        if patience == 100 {
            assert_eq!(fit.stopped, StopReason::Completed);
        }
        let now = evaluate(&model, &d.test, &Loss::cross_entropy()).unwrap();
        assert!(
            (now.loss - best_loss).abs() < 1e-9,
            "patience {patience}: restored loss {} but best epoch {best} had {best_loss} ({:?})",
            now.loss,
            fit.history.validation_loss()
        );
    }
}

#[test]
fn resume_from_a_checkpoint_continues_the_same_run() {
    let d = digits(64, false);
    let folder = std::env::temp_dir().join(format!("trainbook-ckpt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    // With dropout, so the resumed epochs must draw the masks the straight run drew.
    let make = || {
        Mlp::new(
            MlpConfig::classifier(64, &[32], 10)
                .dropout(0.2)
                .seed(3)
                .device(&Device::Cpu),
        )
        .unwrap()
    };
    let trainer = Trainer::new()
        .optimizer(Optimizer::adam(2e-3))
        .schedule(Schedule::cosine());
    let straight = trainer
        .clone()
        .epochs(6)
        .fit(&make(), &d.train, Some(&d.test))
        .unwrap();

    let first = make();
    trainer
        .clone()
        .epochs(6)
        .checkpoints(Checkpoints::new(&folder).keep_best(2))
        .fit(&first, &d.train, Some(&d.test))
        .unwrap();
    let bests: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("best-epoch-"))
        .collect();
    assert_eq!(bests.len(), 2, "{bests:?}");

    // Stop after 3 epochs, then resume to 6 in a fresh model: same curve as the straight run.
    let half = folder.join("half");
    let interrupted = make();
    let half_fit = trainer
        .clone()
        .epochs(6)
        .checkpoints(Checkpoints::new(&half).keep_best(0))
        .early_stopping(EarlyStopping::new(1).min_delta(1e9).restore_best(false))
        .fit(&interrupted, &d.train, Some(&d.test))
        .unwrap();
    // Early stopping's best weights (epoch 1 here) travel in the last checkpoint: a resumed run
    // that stops without improving restores them, although they predate the resume.
    let best_before = make();
    half_fit.restore_best(&best_before).unwrap();
    let stopped_model = make();
    let stopped = trainer
        .clone()
        .epochs(6)
        .early_stopping(EarlyStopping::new(1).min_delta(1e9))
        .resume_from(half.join("last.safetensors"))
        .fit(&stopped_model, &d.train, Some(&d.test))
        .unwrap();
    assert_eq!(stopped.history.epochs.len(), 3, "{}", stopped.outcome());
    assert!(
        stopped.restored_best && stopped.best_epoch == Some(1),
        "{}",
        stopped.outcome()
    );
    for (name, value) in best_before.parameters().snapshot().unwrap() {
        assert_eq!(
            values(&value),
            values(&stopped_model.parameters().get(&name).unwrap()),
            "{name}: the epoch-1 weights"
        );
    }

    let resumed_model = make();
    let resumed = trainer
        .clone()
        .epochs(6)
        .resume_from(half.join("last.safetensors"))
        .fit(&resumed_model, &d.train, Some(&d.test))
        .unwrap();
    assert_eq!(resumed.history.epochs.len(), 6);
    let curve = |h: &History| h.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>();
    close(
        &curve(&resumed.history),
        &curve(&straight.history),
        1e-6,
        "resumed curve",
    );
    std::fs::remove_dir_all(&folder).unwrap();
}

#[test]
fn bad_input_gets_clear_errors() {
    let model = Mlp::new(MlpConfig::classifier(4, &[8], 3).device(&Device::Cpu)).unwrap();
    let wrong = Tensor::zeros((2, 5), DType::F32, &Device::Cpu).unwrap();
    let error = model.predict(&wrong).unwrap_err().to_string();
    assert!(
        error.contains("(n, 4)") && error.contains("[2, 5]"),
        "{error}"
    );
    let x = Tensor::zeros((8, 4), DType::F32, &Device::Cpu).unwrap();
    let y = Tensor::zeros(8, DType::U32, &Device::Cpu).unwrap();
    let loader = DataLoader::new(x, y, 4).unwrap();
    let error = Trainer::new()
        .early_stopping(EarlyStopping::new(2))
        .fit(&model, &loader, None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("no validation data"), "{error}");
    let error = Trainer::new()
        .loss(Loss::MeanSquaredError)
        .fit(&model, &loader, None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("regression"), "{error}");
    assert!(Mlp::new(MlpConfig::classifier(4, &[0], 3)).is_err());
    assert!(Cnn::new(CnnConfig::new(&[1, 2, 2], 3).conv(4).pool().pool()).is_err());
}

/// The CPU convolution (im2col) against candle's conv2d: same outputs and gradients.
#[test]
fn conv3x3_matches_candle_conv2d_forward_and_backward() {
    let params = Parameters::new(3, &Device::Cpu);
    let conv = Conv3x3::new(3, 5, params.builder().pp("conv")).unwrap();
    let weight = params.get("conv.weight").unwrap();
    let bias = params.get("conv.bias").unwrap();
    // The second shape is convolved in two chunks of the batch (3 and 2 images of 600 pixels).
    for shape in [(2, 3, 6, 7), (5, 3, 20, 30)] {
        let x = trainbook::candle::Var::from_tensor(
            &Tensor::randn(0f32, 1.0, shape, &Device::Cpu).unwrap(),
        )
        .unwrap();
        // A non-contiguous input too: the NCHW view of NHWC data.
        for input in [
            x.as_tensor().clone(),
            x.as_tensor()
                .permute((0, 2, 3, 1))
                .unwrap()
                .contiguous()
                .unwrap()
                .permute((0, 3, 1, 2))
                .unwrap(),
        ] {
            for relu in [false, true] {
                let ours = if relu {
                    conv.forward_relu(&input).unwrap()
                } else {
                    conv.forward(&input).unwrap()
                };
                let reference = input
                    .conv2d(&weight, 1, 1, 1, 1)
                    .unwrap()
                    .broadcast_add(&bias.reshape((1, 5, 1, 1)).unwrap())
                    .unwrap();
                let reference = if relu {
                    reference.relu().unwrap()
                } else {
                    reference
                };
                close(&values(&ours), &values(&reference), 1e-5, "conv forward");
                let probe = Tensor::randn(0f32, 1.0, ours.dims(), &Device::Cpu).unwrap();
                let loss = (&ours * &probe).unwrap().sum_all().unwrap();
                let reference_grads = (&reference * &probe)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                // A second backward over the same graph rebuilds the patches the first one used.
                for pass in 0..2 {
                    let ours_grads = loss.backward().unwrap();
                    for (name, t) in [("x", x.as_tensor()), ("weight", &weight), ("bias", &bias)] {
                        close(
                            &values(ours_grads.get(t).unwrap()),
                            &values(reference_grads.get(t).unwrap()),
                            1e-4,
                            &format!("conv (relu {relu}) gradient of {name}, pass {pass}"),
                        );
                    }
                }
            }
        }
    }
    // An input that needs no gradient (the network's images) gets none; the weights still do.
    let image = Tensor::randn(0f32, 1.0, (2, 3, 4, 4), &Device::Cpu).unwrap();
    let grads = conv
        .forward_relu(&image)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(grads.get(&image).is_none());
    assert!(grads.get(&weight).is_some() && grads.get(&bias).is_some());
    // A frozen weight (a plain tensor, as in transfer learning) still passes the input's
    // gradient on.
    let frozen = Conv3x3::from_tensors(weight.detach(), bias.detach()).unwrap();
    let input = trainbook::candle::Var::randn(0f32, 1.0, (2, 3, 4, 5), &Device::Cpu).unwrap();
    let ours = frozen.forward_relu(input.as_tensor()).unwrap();
    let reference = input
        .conv2d(&weight, 1, 1, 1, 1)
        .unwrap()
        .broadcast_add(&bias.reshape((1, 5, 1, 1)).unwrap())
        .unwrap()
        .relu()
        .unwrap();
    let probe = Tensor::randn(0f32, 1.0, ours.dims(), &Device::Cpu).unwrap();
    let backward = |y: &Tensor| (y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
    let (ours_grads, reference_grads) = (backward(&ours), backward(&reference));
    close(
        &values(ours_grads.get(input.as_tensor()).unwrap()),
        &values(reference_grads.get(input.as_tensor()).unwrap()),
        1e-4,
        "input gradient through a frozen convolution",
    );
    // An empty batch or image is empty out and back, not a panic.
    for shape in [(0, 3, 4, 4), (2, 3, 0, 4), (2, 3, 4, 0)] {
        let empty = trainbook::candle::Var::zeros(shape, DType::F32, &Device::Cpu).unwrap();
        let y = conv.forward_relu(empty.as_tensor()).unwrap();
        assert_eq!(y.dims(), [shape.0, 5, shape.2, shape.3]);
        let grads = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(grads.get(empty.as_tensor()).unwrap().dims(), empty.dims());
    }
    // A wrong channel count is an error that says so, not a panic.
    let error = conv
        .forward(&Tensor::zeros((1, 2, 4, 4), DType::F32, &Device::Cpu).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("2 channels") && error.contains("expects 3"),
        "{error}"
    );
}

/// The CPU ReLU and max-pool kernels against candle's ops: same outputs and gradients, also
/// on a non-contiguous input, through a CNN with pooling. The reference pools with reshape and
/// max, not candle's `max_pool2d`, whose gradient is a quarter of the right one (candle 0.11:
/// the window maximum of [[1, 2], [3, 4]] gets 0.25 instead of 1).
#[test]
fn cpu_relu_and_pooling_match_candle() {
    let tiny = trainbook::candle::Var::from_tensor(
        &Tensor::new(&[[[[1f32, 2.0], [3.0, 4.0]]]], &Device::Cpu).unwrap(),
    )
    .unwrap();
    let one_window = trainbook::nn::max_pool2(tiny.as_tensor()).unwrap();
    assert_eq!(values(&one_window), [4.0]);
    let grads = one_window.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        values(grads.get(tiny.as_tensor()).unwrap()),
        [0.0, 0.0, 0.0, 1.0]
    );

    // Other dtypes and devices (F64 here; CUDA) pool with tensor ops: the same maxima, the
    // whole gradient to each window's maximum, an odd last row and column dropped.
    let odd = Tensor::randn(0f32, 1.0, (2, 3, 5, 7), &Device::Cpu).unwrap();
    let pooled_with_gradient = |t: &Tensor| {
        let v = trainbook::candle::Var::from_tensor(t).unwrap();
        let y = trainbook::nn::max_pool2(v.as_tensor()).unwrap();
        let probe = Tensor::arange(0f32, y.elem_count() as f32, &Device::Cpu)
            .unwrap()
            .to_dtype(t.dtype())
            .unwrap()
            .reshape(y.shape())
            .unwrap();
        let g = (&y * &probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g = g.get(v.as_tensor()).unwrap().to_dtype(DType::F32).unwrap();
        (y.to_dtype(DType::F32).unwrap(), g)
    };
    let (kernel, kernel_grad) = pooled_with_gradient(&odd);
    let (ops, ops_grad) = pooled_with_gradient(&odd.to_dtype(DType::F64).unwrap());
    assert_eq!(kernel.dims(), [2, 3, 2, 3]);
    close(&values(&ops), &values(&kernel), 1e-6, "max-pool by ops");
    close(
        &values(&ops_grad),
        &values(&kernel_grad),
        1e-6,
        "max-pool gradient by ops",
    );

    // A strided input (the NCHW view of NHWC data) pools as its contiguous copy, gradient too.
    let nhwc = trainbook::candle::Var::randn(0f32, 1.0, (2, 5, 7, 3), &Device::Cpu).unwrap();
    let view = nhwc.as_tensor().permute((0, 3, 1, 2)).unwrap();
    let copy = view.contiguous().unwrap();
    let pooled_view = trainbook::nn::max_pool2(&view).unwrap();
    let pooled_copy = trainbook::nn::max_pool2(&copy).unwrap();
    assert_eq!(values(&pooled_view), values(&pooled_copy));
    let probe = Tensor::randn(0f32, 1.0, pooled_view.dims(), &Device::Cpu).unwrap();
    let gradient = |y: &Tensor| {
        let grads = (y * &probe).unwrap().sum_all().unwrap().backward().unwrap();
        values(grads.get(nhwc.as_tensor()).unwrap())
    };
    assert_eq!(gradient(&pooled_view), gradient(&pooled_copy));

    let base = Tensor::randn(0f32, 1.0, (2, 6, 4, 3), &Device::Cpu).unwrap();
    let x = trainbook::candle::Var::from_tensor(&base).unwrap();
    let input = x.as_tensor().permute((0, 3, 1, 2)).unwrap(); // (2, 3, 6, 4), strided
    let model = Cnn::new(
        CnnConfig::new(&[3, 6, 4], 2)
            .conv(4)
            .pool()
            .dense(5)
            .device(&Device::Cpu),
    )
    .unwrap();
    let ours = model.forward_t(&input, false).unwrap();
    // The same network from candle ops, on the same weights.
    let p = model.parameters();
    let conv = input
        .conv2d(&p.get("conv0.weight").unwrap(), 1, 1, 1, 1)
        .unwrap()
        .broadcast_add(&p.get("conv0.bias").unwrap().reshape((1, 4, 1, 1)).unwrap())
        .unwrap()
        .relu()
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((2, 4, 3, 2, 2, 2))
        .unwrap()
        .max(5)
        .unwrap()
        .max(3)
        .unwrap()
        .flatten_from(1)
        .unwrap();
    let dense = conv
        .matmul(&p.get("dense2.weight").unwrap().t().unwrap())
        .unwrap()
        .broadcast_add(&p.get("dense2.bias").unwrap())
        .unwrap()
        .relu()
        .unwrap();
    let reference = dense
        .matmul(&p.get("output.weight").unwrap().t().unwrap())
        .unwrap()
        .broadcast_add(&p.get("output.bias").unwrap())
        .unwrap();
    close(&values(&ours), &values(&reference), 1e-5, "CNN forward");
    let a = ours.sum_all().unwrap().backward().unwrap();
    let b = reference.sum_all().unwrap().backward().unwrap();
    for name in ["conv0.weight", "conv0.bias", "dense2.weight"] {
        let t = p.get(name).unwrap();
        close(
            &values(a.get(&t).unwrap()),
            &values(b.get(&t).unwrap()),
            1e-4,
            name,
        );
    }
    close(
        &values(a.get(x.as_tensor()).unwrap()),
        &values(b.get(x.as_tensor()).unwrap()),
        1e-4,
        "input gradient",
    );
}

/// Sequences of 10 uniform values; the class is whether their sum exceeds 5 (a coin flip
/// for a model that cannot add up the sequence), the regression target is the sum.
fn sum_sequences(n: usize, seed: u64) -> (Tensor, Vec<u32>, Vec<f32>) {
    let mut rng = trainbook::random::Rng::new(seed);
    let values: Vec<f32> = (0..n * 10).map(|_| rng.uniform() as f32).collect();
    let sums: Vec<f32> = values.chunks(10).map(|c| c.iter().sum()).collect();
    let classes = sums.iter().map(|&s| u32::from(s > 5.0)).collect();
    let x = Tensor::from_vec(values, (n, 10, 1), &Device::Cpu).unwrap();
    (x, classes, sums)
}

#[test]
fn lstm_and_gru_learn_a_sequence_task_far_above_the_baseline() {
    let (train_x, train_y, train_sums) = sum_sequences(1000, 1);
    let (test_x, test_y, test_sums) = sum_sequences(300, 2);
    let truth: Vec<usize> = test_y.iter().map(|&c| c as usize).collect();
    let majority = truth
        .iter()
        .filter(|&&c| c == 1)
        .count()
        .max(truth.iter().filter(|&&c| c == 0).count()) as f64
        / truth.len() as f64;
    for cell in [RnnCell::Lstm, RnnCell::Gru] {
        let model = Rnn::new(
            RnnConfig::classifier(10, 1, 16, 2)
                .cell(cell)
                .device(&Device::Cpu),
        )
        .unwrap();
        let labels = Tensor::new(train_y.clone(), &Device::Cpu).unwrap();
        let loader = DataLoader::new(train_x.clone(), labels, 32)
            .unwrap()
            .shuffle(0);
        Trainer::new()
            .epochs(30)
            .optimizer(Optimizer::adam(0.01))
            .fit(&model, &loader, None)
            .unwrap();
        let accuracy = accuracy_score(&truth, &model.predict(&test_x).unwrap()).unwrap();
        println!("{cell:?} sequence accuracy {accuracy} (majority baseline {majority})");
        assert!(
            accuracy >= 0.9,
            "{cell:?}: {accuracy} (baseline {majority})"
        );
    }
    // Regression: the sum itself.
    let model = Rnn::new(RnnConfig::regressor(10, 1, 16, 1).device(&Device::Cpu)).unwrap();
    let targets = Tensor::new(train_sums, &Device::Cpu).unwrap();
    let loader = DataLoader::new(train_x, targets, 32).unwrap().shuffle(0);
    Trainer::new()
        .epochs(30)
        .optimizer(Optimizer::adam(0.01))
        .fit(&model, &loader, None)
        .unwrap();
    let predicted = model.predict_values(&test_x).unwrap();
    let truth: Vec<f64> = test_sums.iter().map(|&s| s as f64).collect();
    let r2 = r2_score(&truth, &predicted).unwrap();
    println!("LSTM sum regression R2 {r2}");
    assert!(r2 >= 0.9, "R2 {r2}");
}

#[test]
fn lr_finder_suggests_a_rate_that_trains_and_restores_the_weights() {
    let d = digits(64, false);
    let model = Mlp::new(MlpConfig::classifier(64, &[64], 10).device(&Device::Cpu)).unwrap();
    let before = model.parameters().snapshot().unwrap();
    let finder = lr_finder(&model, &d.train, &Optimizer::sgd(1.0), 1e-6, 10.0, 200).unwrap();
    for (name, value) in &before {
        assert_eq!(
            values(value),
            values(&model.parameters().get(name).unwrap()),
            "{name} restored"
        );
    }
    // The loss fell somewhere in the range and the suggestion is inside it, on the falling part.
    let lowest = finder.losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(lowest < finder.losses[0] * 0.8, "{:?}", finder.losses);
    assert!(
        finder.suggestion > 1e-4 && finder.suggestion < 5.0,
        "{}",
        finder.suggestion
    );
    // Five epochs at the suggested rate beat five at a rate 100 times smaller.
    let accuracy_at = |lr: f64| {
        let model = Mlp::new(MlpConfig::classifier(64, &[64], 10).device(&Device::Cpu)).unwrap();
        Trainer::new()
            .epochs(5)
            .optimizer(Optimizer::sgd(lr))
            .fit(&model, &d.train, None)
            .unwrap();
        accuracy_score(&d.test_y, &model.predict(&d.test_x).unwrap()).unwrap()
    };
    let (suggested, slow) = (
        accuracy_at(finder.suggestion),
        accuracy_at(finder.suggestion / 100.0),
    );
    println!(
        "lr_finder suggestion {} → accuracy {suggested} (rate / 100: {slow})",
        finder.suggestion
    );
    assert!(
        suggested > 0.75 && suggested > slow + 0.1,
        "{suggested} vs {slow}"
    );
    assert!(finder.chart().to_svg().unwrap().contains("suggested"));
}

#[test]
fn penalties_shrink_weights_and_clipping_bounds_the_step() {
    let d = digits(64, false);
    let weight_norm = |model: &Mlp| {
        values(&model.parameters().get("hidden0.weight").unwrap())
            .iter()
            .map(|w| w * w)
            .sum::<f64>()
            .sqrt()
    };
    let train = |trainer: Trainer| {
        let model = Mlp::new(
            MlpConfig::classifier(64, &[32], 10)
                .seed(2)
                .device(&Device::Cpu),
        )
        .unwrap();
        trainer
            .epochs(5)
            .optimizer(Optimizer::sgd(0.1))
            .fit(&model, &d.train, None)
            .unwrap();
        weight_norm(&model)
    };
    let plain = train(Trainer::new());
    let l2 = train(Trainer::new().l2(1e-2));
    let l1 = train(Trainer::new().l1(1e-2));
    assert!(
        l2 < plain * 0.9 && l1 < plain * 0.9,
        "plain {plain}, l2 {l2}, l1 {l1}"
    );

    // One SGD step at rate 1 with gradients clipped to norm 1e-3 moves the weights by at most 1e-3.
    let model = Mlp::new(
        MlpConfig::classifier(64, &[32], 10)
            .seed(2)
            .device(&Device::Cpu),
    )
    .unwrap();
    let before = model.parameters().snapshot().unwrap();
    let x = d.test_x.narrow(0, 0, 64).unwrap();
    let y = Tensor::new(
        d.test_y[..64].iter().map(|&c| c as u32).collect::<Vec<_>>(),
        &Device::Cpu,
    )
    .unwrap();
    let one_batch = DataLoader::new(x, y, 64).unwrap();
    Trainer::new()
        .epochs(1)
        .optimizer(Optimizer::sgd(1.0))
        .clip_norm(1e-3)
        .fit(&model, &one_batch, None)
        .unwrap();
    let moved: f64 = before
        .iter()
        .map(|(name, old)| {
            let new = values(&model.parameters().get(name).unwrap());
            values(old)
                .iter()
                .zip(new)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .sum::<f64>()
        .sqrt();
    assert!(moved <= 1.0001e-3 && moved > 0.9e-3, "moved {moved}");
}

#[test]
fn text_classifier_reads_negation_that_word_counts_miss() {
    let reviews = make_reviews(2000, 0).unwrap();
    let split = stratified_split(&reviews.frame, "target", 0.25, 0).unwrap();
    let texts = |frame: &DataFrame| -> Vec<String> {
        frame
            .column("text")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|t| t.unwrap().to_string())
            .collect()
    };
    let (train_texts, test_texts) = (texts(&split.train), texts(&split.test));
    let tokenizer = Tokenizer::from_texts(&train_texts, 500, 12);
    let labels = |frame: &DataFrame| labels_to_tensor(frame, "target", &Device::Cpu).unwrap();
    let loader = DataLoader::new(
        tokenizer.encode_all(&train_texts, &Device::Cpu).unwrap(),
        labels(&split.train),
        32,
    )
    .unwrap()
    .shuffle(0);
    let model =
        TextClassifier::new(TextClassifierConfig::new(&tokenizer, 2).device(&Device::Cpu)).unwrap();
    Trainer::new()
        .epochs(8)
        .optimizer(Optimizer::adam(5e-3))
        .fit(&model, &loader, None)
        .unwrap();
    let truth: Vec<usize> = labels(&split.test)
        .to_vec1::<u32>()
        .unwrap()
        .into_iter()
        .map(|c| c as usize)
        .collect();
    let test_ids = tokenizer.encode_all(&test_texts, &Device::Cpu).unwrap();
    let accuracy = accuracy_score(&truth, &model.predict(&test_ids).unwrap()).unwrap();
    // Baseline: logistic regression on word counts (bag of words) cannot tell "is great" from
    // "is not great" as well as a model that reads the order.
    let counts = |ids: &Tensor| -> Tensor {
        let n = ids.dim(0).unwrap();
        let mut bag = vec![0f32; n * tokenizer.vocabulary_size()];
        for (row, text) in ids.to_vec2::<u32>().unwrap().iter().enumerate() {
            for &id in text.iter().filter(|&&id| id > 1) {
                bag[row * tokenizer.vocabulary_size() + id as usize] = 1.0;
            }
        }
        Tensor::from_vec(bag, (n, tokenizer.vocabulary_size()), &Device::Cpu).unwrap()
    };
    let bag_model = Mlp::new(
        MlpConfig::logistic_regression(tokenizer.vocabulary_size(), 2).device(&Device::Cpu),
    )
    .unwrap();
    let bag_loader = DataLoader::new(
        counts(&tokenizer.encode_all(&train_texts, &Device::Cpu).unwrap()),
        labels(&split.train),
        32,
    )
    .unwrap()
    .shuffle(0);
    Trainer::new()
        .epochs(30)
        .optimizer(Optimizer::adam(1e-2))
        .fit(&bag_model, &bag_loader, None)
        .unwrap();
    let bag_accuracy =
        accuracy_score(&truth, &bag_model.predict(&counts(&test_ids)).unwrap()).unwrap();
    println!("text LSTM accuracy {accuracy}, bag-of-words logistic regression {bag_accuracy}");
    assert!(accuracy >= 0.93, "{accuracy}");
    assert!(
        accuracy > bag_accuracy + 0.03,
        "LSTM {accuracy} vs bag of words {bag_accuracy}"
    );
}

#[test]
fn recommenders_beat_the_bias_baseline_and_rank_unseen_items() {
    let ratings = make_ratings(300, 100, 30, 0).unwrap();
    let split = train_test_split(&ratings.frame, 0.2, 0).unwrap();
    let (train_x, train_y) =
        ratings_to_tensors(&split.train, "user", "item", "target", &Device::Cpu).unwrap();
    let (test_x, test_y) =
        ratings_to_tensors(&split.test, "user", "item", "target", &Device::Cpu).unwrap();
    let truth: Vec<f64> = values(&test_y);
    let rmse = |predicted: &[f64]| {
        (predicted
            .iter()
            .zip(&truth)
            .map(|(p, t)| (p - t) * (p - t))
            .sum::<f64>()
            / truth.len() as f64)
            .sqrt()
    };
    // Baseline: the training mean for every rating.
    let mean = values(&train_y).iter().sum::<f64>() / train_y.dim(0).unwrap() as f64;
    let baseline = rmse(&vec![mean; truth.len()]);
    let loader = DataLoader::new(train_x.clone(), train_y, 64)
        .unwrap()
        .shuffle(0);
    let config = RecommenderConfig::new(300, 100)
        .factors(8)
        .tower(32)
        .device(&Device::Cpu);
    let factorization = MatrixFactorization::new(config.clone()).unwrap();
    Trainer::new()
        .epochs(30)
        .optimizer(Optimizer::adam(1e-2))
        .l2(1e-5)
        .fit(&factorization, &loader, None)
        .unwrap();
    let towers = TwoTower::new(config).unwrap();
    Trainer::new()
        .epochs(30)
        .optimizer(Optimizer::adam(1e-2))
        .fit(&towers, &loader, None)
        .unwrap();
    let mf = rmse(&factorization.predict_values(&test_x).unwrap());
    let tt = rmse(&towers.predict_values(&test_x).unwrap());
    println!("ratings RMSE: mean baseline {baseline}, matrix factorisation {mf}, two-tower {tt}");
    assert!(mf < 0.8 * baseline, "MF {mf} vs baseline {baseline}");
    assert!(
        tt < 0.85 * baseline,
        "two-tower {tt} vs baseline {baseline}"
    );
    // Top-10 lists: matrix factorisation finds more of the items a user liked in held-out
    // ratings than recommending the most-liked items to everyone.
    let rated = items_by_user(&split.train, "user", "item", 300, None).unwrap();
    let liked = items_by_user(&split.test, "user", "item", 300, Some(("target", 4.0))).unwrap();
    let popular = popular_items(&split.train, "user", "item", Some(("target", 4.0))).unwrap();
    let mut by_model = Vec::new();
    let mut by_popularity = Vec::new();
    for user in 0..300u32 {
        let seen = &rated[user as usize];
        let top = factorization.recommend(user, seen, 10).unwrap();
        assert!(top.iter().all(|(item, _)| !seen.contains(item)));
        by_model.push(top.iter().map(|(item, _)| *item).collect::<Vec<u32>>());
        by_popularity.push(
            popular
                .iter()
                .filter(|item| !seen.contains(item))
                .take(10)
                .copied()
                .collect::<Vec<u32>>(),
        );
    }
    let model_scores = ranking_scores(&by_model, &liked, 10).unwrap();
    let popularity_scores = ranking_scores(&by_popularity, &liked, 10).unwrap();
    println!("top-10: MF {model_scores:?}, most liked {popularity_scores:?}");
    assert!(
        model_scores.precision > popularity_scores.precision,
        "MF {model_scores:?} vs popularity {popularity_scores:?}"
    );
    // Recommendations leave out what the user rated and come best first.
    let seen: Vec<u32> = (0..10).collect();
    let top = factorization.recommend(7, &seen, 5).unwrap();
    assert_eq!(top.len(), 5);
    assert!(top.iter().all(|(item, _)| *item >= 10));
    assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
    let error = factorization
        .recommend(300, &[], 5)
        .unwrap_err()
        .to_string();
    assert!(error.contains("outside the model's 300 users"), "{error}");
}
