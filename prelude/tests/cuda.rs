//! The CUDA path, on a GPU: built only with `--features cuda`
//! (`cargo test --release --locked --workspace --features trainbook/cuda --test cuda`).
//!
//! On the CPU the prelude runs its own fused kernels (linear, ReLU, max-pool, im2col
//! convolution, one-pass Adam); on a GPU the same layers fall back to candle's ops. These tests
//! hold the two paths to the same numbers, train the digits models on the GPU to the same
//! accuracy goals as on the CPU, and move a checkpoint from the GPU to the CPU.

#![cfg(feature = "cuda")]

use trainbook::candle::Var;
use trainbook::nn::{linear, max_pool2, relu};
use trainbook::prelude::*;
use trainbook::random::Rng;

fn gpu() -> Device {
    let device = default_device();
    assert!(
        device.is_cuda(),
        "built with the cuda feature but no CUDA device was found (NVIDIA driver, GPU 0)"
    );
    device
}

fn values(t: &Tensor) -> Vec<f32> {
    t.to_device(&Device::Cpu)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

/// Largest difference relative to the values' own size: GPU and CPU sum in different orders.
fn assert_close(gpu: &Tensor, cpu: &Tensor, tolerance: f32, what: &str) {
    let (a, b) = (values(gpu), values(cpu));
    assert_eq!(a.len(), b.len(), "{what}: sizes differ");
    let scale = b.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        worst <= tolerance * scale,
        "{what}: GPU and CPU differ by {worst} (values up to {scale})"
    );
}

/// Forward and gradients of `f` on both devices, from the same input and weights.
fn compare(
    what: &str,
    input: &Tensor,
    weights: &[Tensor],
    f: &dyn Fn(&Tensor, &[Tensor]) -> Tensor,
) {
    let run = |device: &Device| {
        let x = Var::from_tensor(&input.to_device(device).unwrap()).unwrap();
        let w: Vec<Var> = weights
            .iter()
            .map(|t| Var::from_tensor(&t.to_device(device).unwrap()).unwrap())
            .collect();
        let tensors: Vec<Tensor> = w.iter().map(|v| v.as_tensor().clone()).collect();
        let y = f(x.as_tensor(), &tensors);
        // A loss that weighs every output differently, so a transposed gradient cannot pass.
        let weights_of_outputs = Tensor::arange(0f32, y.elem_count() as f32, device)
            .unwrap()
            .reshape(y.shape())
            .unwrap()
            .affine(0.01, 0.5)
            .unwrap();
        let loss = (&y * &weights_of_outputs).unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        let mut out = vec![y, grads.get(x.as_tensor()).unwrap().clone()];
        out.extend(w.iter().map(|v| grads.get(v.as_tensor()).unwrap().clone()));
        out
    };
    let (on_gpu, on_cpu) = (run(&gpu()), run(&Device::Cpu));
    let names = ["output", "input gradient"];
    for (i, (g, c)) in on_gpu.iter().zip(&on_cpu).enumerate() {
        let name = names
            .get(i)
            .map(|s| s.to_string())
            .unwrap_or(format!("weight {} gradient", i - 2));
        assert_close(g, c, 1e-4, &format!("{what} {name}"));
    }
}

fn random(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

#[test]
fn prelude_layers_on_the_gpu_match_their_cpu_kernels() {
    compare(
        "linear",
        &random(&[33, 17], 1),
        &[random(&[9, 17], 2), random(&[9], 3)],
        &|x, w| linear(x, &w[0], Some(&w[1])).unwrap(),
    );
    compare("relu", &random(&[6, 40], 4), &[], &|x, _| relu(x).unwrap());
    compare("max_pool2", &random(&[3, 4, 8, 6], 5), &[], &|x, _| {
        max_pool2(x).unwrap()
    });
    for relu in [false, true] {
        compare(
            if relu { "conv3x3 + relu" } else { "conv3x3" },
            &random(&[2, 3, 7, 5], 6),
            &[random(&[4, 3, 3, 3], 7), random(&[4], 8)],
            &|x, w| {
                let conv = Conv3x3::from_tensors(w[0].clone(), w[1].clone()).unwrap();
                if relu {
                    conv.forward_relu(x).unwrap()
                } else {
                    conv.forward(x).unwrap()
                }
            },
        );
    }
}

/// candle-nn's recurrent cells and our linear head: the same probabilities on both devices.
#[test]
fn lstm_and_gru_predict_the_same_on_the_gpu() {
    let x = random(&[5, 12, 3], 9);
    for cell in [RnnCell::Lstm, RnnCell::Gru] {
        let predict = |device: &Device| {
            let config = RnnConfig::classifier(12, 3, 16, 4)
                .cell(cell)
                .layers(2)
                .seed(0)
                .device(device);
            Rnn::new(config)
                .unwrap()
                .predict_proba(&x.to_device(device).unwrap())
                .unwrap()
        };
        assert_close(
            &predict(&gpu()),
            &predict(&Device::Cpu),
            1e-4,
            &format!("{cell:?} probabilities"),
        );
    }
}

struct Digits {
    train: DataLoader,
    test_x: Tensor,
    test_y: Vec<usize>,
}

fn digits(images: bool, device: &Device) -> Digits {
    let data = load_digits();
    let split = stratified_split(&data.frame, "target", 0.25, 0).unwrap();
    let tensors = |frame: &DataFrame| {
        let x = frame_to_tensor(frame, &data.feature_names, DType::F32, device).unwrap();
        let x = (x / 16.0).unwrap();
        let x = if images {
            x.reshape(((), 1, 8, 8)).unwrap()
        } else {
            x
        };
        (x, labels_to_tensor(frame, "target", device).unwrap())
    };
    let (train_x, train_y) = tensors(&split.train);
    let (test_x, test_y) = tensors(&split.test);
    let test_y = test_y
        .to_device(&Device::Cpu)
        .unwrap()
        .to_vec1::<u32>()
        .unwrap()
        .into_iter()
        .map(|c| c as usize)
        .collect();
    Digits {
        train: DataLoader::new(train_x, train_y, 64).unwrap().shuffle(0),
        test_x,
        test_y,
    }
}

fn mlp(device: &Device) -> Mlp {
    Mlp::new(
        MlpConfig::classifier(64, &[128, 64], 10)
            .seed(0)
            .device(device),
    )
    .unwrap()
}

fn cnn(device: &Device) -> Cnn {
    Cnn::new(
        CnnConfig::new(&[1, 8, 8], 10)
            .conv(16)
            .conv(32)
            .pool()
            .seed(0)
            .device(device),
    )
    .unwrap()
}

fn train(model: &dyn Network, data: &Digits, epochs: usize) -> Vec<f64> {
    let fit = Trainer::new()
        .epochs(epochs)
        .optimizer(Optimizer::adam(1e-3))
        .progress(Progress::Quiet)
        .fit(model, &data.train, None)
        .unwrap();
    fit.history.epochs.iter().map(|e| e.train_loss).collect()
}

/// Same seed, same batches, same Adam: the GPU's loss curve follows the CPU's (the CPU runs
/// the fused kernels and the one-pass Adam, the GPU candle's ops).
#[test]
fn the_gpu_trains_the_same_run_as_the_cpu() {
    for images in [false, true] {
        let (cpu_data, gpu_data) = (digits(images, &Device::Cpu), digits(images, &gpu()));
        let curves = if images {
            (
                train(&cnn(&Device::Cpu), &cpu_data, 3),
                train(&cnn(&gpu()), &gpu_data, 3),
            )
        } else {
            (
                train(&mlp(&Device::Cpu), &cpu_data, 3),
                train(&mlp(&gpu()), &gpu_data, 3),
            )
        };
        println!(
            "{} loss per epoch, CPU {:?}, GPU {:?}",
            if images { "CNN" } else { "MLP" },
            curves.0,
            curves.1
        );
        for (c, g) in curves.0.iter().zip(&curves.1) {
            assert!(
                (c - g).abs() <= 1e-3 * c.abs(),
                "CPU {:?} GPU {:?}",
                curves.0,
                curves.1
            );
        }
    }
}

#[test]
fn digits_models_reach_their_accuracy_goals_on_the_gpu() {
    let device = gpu();
    let flat = digits(false, &device);
    let model = mlp(&device);
    train(&model, &flat, 20);
    let accuracy = accuracy_score(&flat.test_y, &model.predict(&flat.test_x).unwrap()).unwrap();
    println!("MLP digits test accuracy on the GPU {accuracy}");
    assert!(accuracy >= 0.97, "MLP test accuracy on the GPU {accuracy}");

    let images = digits(true, &device);
    let model = cnn(&device);
    train(&model, &images, 20);
    let accuracy = accuracy_score(&images.test_y, &model.predict(&images.test_x).unwrap()).unwrap();
    println!("CNN digits test accuracy on the GPU {accuracy}");
    assert!(accuracy >= 0.975, "CNN test accuracy on the GPU {accuracy}");

    // A checkpoint written from the GPU loads into a CPU model and predicts the same.
    let path =
        std::env::temp_dir().join(format!("trainbook-cuda-{}.safetensors", std::process::id()));
    model.save(&path).unwrap();
    let on_cpu = cnn(&Device::Cpu);
    on_cpu.load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let cpu_x = images.test_x.to_device(&Device::Cpu).unwrap();
    assert_close(
        &model.predict_proba(&images.test_x).unwrap(),
        &on_cpu.predict_proba(&cpu_x).unwrap(),
        1e-4,
        "CNN probabilities after moving the checkpoint to the CPU",
    );
}
