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
    let evaluator = Evaluator::new(&mnist.test, Device::Cpu).unwrap();
    let accuracy = evaluator
        .accuracy(&mnist.test.images, &mnist.test.labels)
        .unwrap();
    assert!(accuracy >= 0.99, "test accuracy {accuracy}");
}

#[test]
fn real_mnist_metrics_separate_data_from_noise() {
    let Some(mnist) = real_mnist() else { return };
    let evaluator = Evaluator::new(&mnist.test, Device::Cpu).unwrap();
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

/// Real training digits with their true labels read as asked and sit near each class's test
/// images; the same digits with labels rotated by one are read as asked almost never, and
/// their per-class distances are far larger. Mismatched or out-of-range labels are refused.
#[test]
fn real_mnist_labelled_scores_follow_the_labels() {
    let Some(mnist) = real_mnist() else { return };
    let evaluator = Evaluator::new(&mnist.test, Device::Cpu).unwrap();
    let images = first(&mnist.train.images, 10_000);
    let labels = &mnist.train.labels[..10_000];
    let right = evaluator.evaluate_labelled(&images, labels).unwrap();
    let scores = right.labels.as_ref().unwrap();
    assert!(scores.label_accuracy > 0.99, "{scores}");
    assert_eq!(scores.classes.len(), 10);
    assert_eq!(
        scores.classes.iter().map(|c| c.samples).sum::<usize>(),
        10_000
    );
    let wrong_labels: Vec<u8> = labels.iter().map(|l| (l + 1) % 10).collect();
    let wrong = evaluator.evaluate_labelled(&images, &wrong_labels).unwrap();
    let wrong_scores = wrong.labels.as_ref().unwrap();
    assert!(wrong_scores.label_accuracy < 0.02, "{wrong_scores}");
    assert_eq!(wrong.frechet_distance, right.frechet_distance);
    for (r, w) in scores.classes.iter().zip(&wrong_scores.classes) {
        let (r, w) = (r.frechet_distance.unwrap(), w.frechet_distance.unwrap());
        assert!(w > 10.0 * r, "digit class: {r} right vs {w} wrong");
    }
    let text = right.to_string();
    assert!(
        text.contains("label accuracy") && text.contains("per digit"),
        "{text}"
    );
    let err = evaluator
        .evaluate_labelled(&images, &labels[..10])
        .unwrap_err()
        .to_string();
    assert!(err.contains("10000 images but 10 labels"), "{err}");
    let mut bad = labels.to_vec();
    bad[7] = 12;
    let err = evaluator
        .evaluate_labelled(&images, &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("label 12 at index 7"), "{err}");
}
