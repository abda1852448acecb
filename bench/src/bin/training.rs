//! Training on candle, the Trainbook side of `bench/training.py`, which writes the data as
//! .npy files, runs this binary, and prints both sides.
//!
//! Usage: training <data folder> [--runs N] [--device cpu|cuda]   (prints one JSON line)
//!
//! `--device cuda` needs the binary built with `--features trainbook-bench/cuda` and a GPU.
//!
//! Workloads (the same as PyTorch's in the script): digits MLP 64-128-64-10 and digits CNN
//! conv16-conv32-pool-linear, 20 epochs of Adam(1e-3), batch 64; MLP 256-512-512-10 on 100k x
//! 256 synthetic samples, batch 256, 2 epochs.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::time::Instant;
use trainbook::prelude::*;

struct Data {
    train: DataLoader,
    test_x: Tensor,
    test_y: Vec<usize>,
}

fn load(folder: &Path, name: &str, batch: usize, image: bool, device: &Device) -> Result<Data> {
    let read = |part: &str| -> Result<Tensor> {
        let path = folder.join(format!("{name}_{part}.npy"));
        let values =
            Tensor::read_npy(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(values.to_device(device)?)
    };
    let shape = |x: Tensor| -> Result<Tensor> {
        let x = x.to_dtype(DType::F32)?;
        Ok(if image { x.reshape(((), 1, 8, 8))? } else { x })
    };
    let train_x = shape(read("train_x")?)?;
    let train_y = read("train_y")?.to_dtype(DType::U32)?;
    let test_x = shape(read("test_x")?)?;
    let test_y = read("test_y")?
        .to_dtype(DType::U32)?
        .to_device(&Device::Cpu)?
        .to_vec1::<u32>()?
        .into_iter()
        .map(|c| c as usize)
        .collect();
    Ok(Data {
        train: DataLoader::new(train_x, train_y, batch)?.shuffle(0),
        test_x,
        test_y,
    })
}

/// (seconds per epoch of the best run, samples per second, test accuracy of that run).
fn run(
    runs: usize,
    epochs: usize,
    data: &Data,
    make: &dyn Fn() -> Result<Box<dyn Network>>,
) -> Result<(f64, f64, f64)> {
    let mut best = (f64::INFINITY, 0.0);
    for _ in 0..runs {
        let model = make()?;
        let trainer = Trainer::new()
            .epochs(epochs)
            .optimizer(Optimizer::adam(1e-3))
            .progress(Progress::Quiet);
        let start = Instant::now();
        trainer.fit(model.as_ref(), &data.train, None)?;
        // GPU work is queued: count it only once it has run.
        model.parameters().device().synchronize()?;
        let per_epoch = start.elapsed().as_secs_f64() / epochs as f64;
        if per_epoch < best.0 {
            let accuracy = accuracy_score(&data.test_y, &model.predict(&data.test_x)?)?;
            best = (per_epoch, accuracy);
        }
    }
    Ok((best.0, data.train.len() as f64 / best.0, best.1))
}

fn main() -> Result<()> {
    // As the kernel's cell runner (kernel/src/runner/host.rs): candle's element-wise ops on the
    // calling thread, matrix products on every core, unless the variable is set; the rayon
    // thread count fixed, so candle does not read /proc/cpuinfo for every product; freed tensors
    // up to 32 MB stay in the heap for the next batch.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        // SAFETY: mallopt only sets glibc's allocator parameters.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
            mallopt(M_TRIM_THRESHOLD, 128 << 20);
        }
    }
    // As the kernel's `runtime::attach`: this thread, which runs the training loops, is one of
    // rayon's threads.
    trainbook::runtime::run_rayon_on_this_thread();
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: training <data folder> [--runs N] [--device cpu|cuda]";
    let folder = Path::new(args.get(1).context(usage)?);
    let option = |name: &str| -> Result<Option<&String>> {
        match args.iter().position(|a| a == name) {
            Some(i) => Ok(Some(args.get(i + 1).context(usage)?)),
            None => Ok(None),
        }
    };
    let runs = match option("--runs")? {
        Some(value) => value.parse().context(usage)?,
        None => 3,
    };
    let device = match option("--device")?.map(String::as_str) {
        None | Some("cpu") => Device::Cpu,
        Some("cuda") => {
            let device = Device::cuda_if_available(0)?;
            if !device.is_cuda() {
                bail!("--device cuda: no CUDA device (build with --features trainbook-bench/cuda, on a machine with an NVIDIA driver)");
            }
            device
        }
        Some(other) => bail!("--device {other}: expected cpu or cuda"),
    };
    let digits = load(folder, "digits", 64, false, &device)?;
    let mlp = run(runs, 20, &digits, &|| {
        Ok(Box::new(Mlp::new(
            MlpConfig::classifier(64, &[128, 64], 10).device(&device),
        )?))
    })?;
    let digit_images = load(folder, "digits", 64, true, &device)?;
    let cnn = run(runs, 20, &digit_images, &|| {
        Ok(Box::new(Cnn::new(
            CnnConfig::new(&[1, 8, 8], 10)
                .conv(16)
                .conv(32)
                .pool()
                .device(&device),
        )?))
    })?;
    let synthetic = load(folder, "synthetic", 256, false, &device)?;
    let wide = run(runs.min(2), 2, &synthetic, &|| {
        Ok(Box::new(Mlp::new(
            MlpConfig::classifier(256, &[512, 512], 10).device(&device),
        )?))
    })?;
    let entry = |(seconds, rate, accuracy): (f64, f64, f64)| serde_json::json!({"epoch_s": seconds, "samples_per_s": rate, "accuracy": accuracy});
    println!(
        "{}",
        serde_json::json!({"device": format!("{device:?}"), "mlp": entry(mlp), "cnn": entry(cnn), "wide_mlp": entry(wide)})
    );
    Ok(())
}
