//! Any network behind `Classifier` and `Regressor`: a fresh network per fit (so folds do not
//! leak into each other and refits repeat), rows shaped as the network's samples, and clear
//! errors when the data does not fit the network.

use trainbook::prelude::*;

fn digits() -> (Matrix, Vec<usize>) {
    let digits = load_digits();
    let x = Matrix::features(&digits).unwrap();
    let x = Matrix::new(
        x.rows(),
        64,
        x.as_slice().iter().map(|v| v / 16.0).collect(),
    )
    .unwrap();
    (x, digits.y_classes().unwrap())
}

fn small_cnn(classes: usize) -> CnnConfig {
    CnnConfig::new(&[1, 8, 8], classes)
        .conv(4)
        .pool()
        .dense(16)
        .seed(0)
        .device(&Device::Cpu)
}

#[test]
fn every_fit_starts_from_the_same_fresh_network() {
    let (x, y) = digits();
    let rows: Vec<usize> = (0..400).collect();
    let (x, y) = (x.select_rows(&rows).unwrap(), y[..400].to_vec());
    let mut cnn = NeuralClassifier::cnn(small_cnn(10))
        .trainer(Trainer::new().epochs(2).optimizer(Optimizer::adam(3e-3)));
    cnn.fit(&x, &y).unwrap();
    let first = cnn.predict_proba(&x).unwrap();
    cnn.fit(&x, &y).unwrap();
    let second = cnn.predict_proba(&x).unwrap();
    assert_eq!(
        first.as_slice(),
        second.as_slice(),
        "a refit continued training"
    );
    let copy = cnn.unfitted();
    assert!(
        copy.predict(&x).is_err(),
        "unfitted() kept the trained network"
    );
    assert_eq!(first.rows(), 400);
    assert_eq!(first.cols(), 10);
}

#[test]
fn data_that_does_not_fit_the_network_is_refused_with_the_fix() {
    let (x, y) = digits();
    let err = |r: anyhow::Result<()>| format!("{:#}", r.unwrap_err());

    // 64 pixels per row, but the network wants 3 x 8 x 8.
    let mut rgb =
        NeuralClassifier::cnn(CnnConfig::new(&[3, 8, 8], 10).conv(4).device(&Device::Cpu));
    let wrong_width = err(rgb.fit(&x, &y));
    assert!(
        wrong_width.contains("192 values per row") && wrong_width.contains("64 columns"),
        "{wrong_width}"
    );

    // Ten digits, a network built for five classes.
    let mut five = NeuralClassifier::cnn(small_cnn(5));
    let too_few = err(five.fit(&x, &y));
    assert!(too_few.contains("build it for 10 classes"), "{too_few}");

    // Token ids must be whole numbers.
    let texts: Vec<String> = ["good film", "bad film", "good plot", "bad plot"]
        .map(String::from)
        .to_vec();
    let tokenizer = Tokenizer::from_texts(&texts, 100, 4);
    let mut text =
        NeuralClassifier::text(TextClassifierConfig::new(&tokenizer, 2).device(&Device::Cpu));
    let ids = Matrix::new(4, 4, vec![0.5; 16]).unwrap();
    let not_ids = err(text.fit(&ids, &[1, 0, 1, 0]));
    assert!(
        not_ids.contains("ids") && not_ids.contains("0.5"),
        "{not_ids}"
    );

    // Not fitted yet.
    let fresh = NeuralClassifier::cnn(small_cnn(10));
    let unfitted = format!("{:#}", fresh.predict(&x).unwrap_err());
    assert!(unfitted.contains("not fitted yet; call fit("), "{unfitted}");
}

/// The same networks behind `Regressor`: an LSTM built with a regression head learns the
/// mean of a sequence, refits repeat, and a classifier head or a NaN target is refused.
#[test]
fn a_network_learns_values_behind_regressor() {
    let mut rng = trainbook::random::Rng::new(0);
    let (steps, n) = (5, 300);
    let values: Vec<f64> = (0..n * steps).map(|_| rng.uniform()).collect();
    let x = Matrix::new(n, steps, values).unwrap();
    let y: Vec<f64> = (0..n)
        .map(|i| x.row(i).iter().sum::<f64>() / steps as f64)
        .collect();
    let model = NeuralRegressor::rnn(
        RnnConfig::regressor(steps, 1, 16, 1)
            .seed(0)
            .device(&Device::Cpu),
    )
    .trainer(Trainer::new().epochs(30).optimizer(Optimizer::adam(1e-2)));
    let r2 = cross_val_score(&model, &x, &y, 3, "r2").unwrap();
    assert!(r2.iter().all(|&s| s > 0.8), "{r2:?}");
    let (mut a, mut b) = (model.unfitted(), model.unfitted());
    a.fit(&x, &y).unwrap();
    b.fit(&x, &y).unwrap();
    assert_eq!(a.predict(&x).unwrap(), b.predict(&x).unwrap());

    let mut wrong_head = NeuralRegressor::rnn(
        RnnConfig::classifier(steps, 1, 16, 2)
            .seed(0)
            .device(&Device::Cpu),
    );
    let error = Regressor::fit(&mut wrong_head, &x, &y).unwrap_err();
    assert!(
        format!("{error:#}").contains("regression head"),
        "{error:#}"
    );
    let mut nan = y.clone();
    nan[3] = f64::NAN;
    let error = Regressor::fit(&mut NeuralRegressor::mlp(&[4]), &x, &nan).unwrap_err();
    assert!(error.to_string().contains("non-finite"), "{error}");
}
