//! The classifier and the metrics on real MNIST. They run when `GAN_DATA_MIRROR` names a
//! directory holding the files (CI points it at a read-only copy) or when they are in the
//! default data directory, and say loudly when they are skipped.

use gan_data::{local_mnist_dir, Images, Mnist, DATA_MIRROR_ENV};
use gan_eval::{uniform_noise, Evaluator};
use tch::Device;

fn real_mnist() -> Option<Mnist> {
    let Some(dir) = local_mnist_dir() else {
        eprintln!(
            "SKIPPED: real MNIST not found (set {DATA_MIRROR_ENV} or run `cargo xtask fetch-data`)"
        );
        return None;
    };
    Some(Mnist::load(&dir).unwrap())
}

fn first(images: &Images, count: usize) -> Images {
    Images {
        count,
        rows: images.rows,
        cols: images.cols,
        pixels: images.pixels[..count * images.image_len()].to_vec(),
    }
}

#[test]
fn real_mnist_committed_classifier_reaches_99_percent() {
    let Some(mnist) = real_mnist() else { return };
    let evaluator = Evaluator::new(&mnist.test.images, Device::Cpu).unwrap();
    let accuracy = evaluator
        .accuracy(&mnist.test.images, &mnist.test.labels)
        .unwrap();
    assert!(accuracy >= 0.99, "test accuracy {accuracy}");
}

#[test]
fn real_mnist_metrics_separate_data_from_noise() {
    let Some(mnist) = real_mnist() else { return };
    let evaluator = Evaluator::new(&mnist.test.images, Device::Cpu).unwrap();
    let test = evaluator.evaluate(&mnist.test.images).unwrap();
    assert!(
        test.inception_score > 9.5,
        "IS of the test set {}",
        test.inception_score
    );
    assert!(
        test.frechet_distance < 1e-6,
        "the test set against itself: {}",
        test.frechet_distance
    );
    let floor = evaluator
        .evaluate(&first(&mnist.train.images, 10_000))
        .unwrap();
    let noise = evaluator
        .evaluate(&uniform_noise(10_000, 0).unwrap())
        .unwrap();
    assert_eq!(floor.coverage.modes, 10);
    assert!(floor.precision > 0.6 && floor.recall > 0.6, "{floor:?}");
    assert!(
        noise.frechet_distance > 20.0 * floor.frechet_distance.max(0.1),
        "{noise:?} vs {floor:?}"
    );
    // Recall, not precision, exposes noise: its LeNet features form one tight cluster that a
    // few outliers of the real set, with large k-NN balls, happen to cover.
    assert!(noise.recall < 0.05, "{noise:?}");
    assert!(
        noise.inception_score < 2.0 && noise.coverage.modes < 5,
        "{noise:?}"
    );
}
