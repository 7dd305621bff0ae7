//! The pages gan-rs writes, loaded in a real headless Chromium: `report.html` of a trained
//! and evaluated run and a `gan compare --html` page must render every picture, log no
//! console error and request nothing from the network. A page that breaks those rules is
//! caught by the same checks (so they can fail). Skips where Chromium is missing, unless
//! `GAN_REQUIRE_BROWSER` is set (CI installs it and sets it).

use std::path::Path;
use std::process::Command;

use gan_tests::browser::{self, Browser, PageVisit};

fn gan() -> Command {
    gan_tests::gan(env!("CARGO_BIN_EXE_gan"))
}

fn train(data: &Path, run: &Path) {
    gan_tests::train_tiny(
        env!("CARGO_BIN_EXE_gan"),
        data,
        run,
        &[
            "--steps",
            "6",
            "--sample-every",
            "2",
            "--eval-every",
            "3",
            "--eval-samples",
            "20",
        ],
    );
}

fn assert_clean(visit: &PageVisit, what: &str, min_images: usize, min_svgs: u64) {
    assert!(
        visit.console_errors.is_empty(),
        "{what}: console errors {:?}",
        visit.console_errors
    );
    assert!(
        visit.network_requests.is_empty(),
        "{what}: requests {:?}",
        visit.network_requests
    );
    assert!(
        visit.images.len() >= min_images,
        "{what}: {:?}",
        visit.images
    );
    for (i, &(complete, width, height)) in visit.images.iter().enumerate() {
        assert!(
            complete && width > 0 && height > 0,
            "{what}: image {i} not decoded ({width}×{height})"
        );
    }
    assert!(visit.svgs >= min_svgs, "{what}: {} charts", visit.svgs);
    let (ink, colours) = visit.ink();
    assert!(
        ink > 0.02 && colours > 20,
        "{what}: the screenshot looks blank ({ink:.3} inked, {colours} colours)"
    );
}

#[test]
fn report_and_comparison_pages_render_offline_without_errors() {
    let Some((chromium, driver)) = browser::find() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = gan_tests::write_tiny_mnist(&tmp.path().join("mnist"), 64);
    let (run, other) = (tmp.path().join("run"), tmp.path().join("other"));
    train(&data, &run);
    train(&data, &other);
    gan_tests::succeed(
        gan()
            .args(["eval", "--device", "cpu", "--n", "40", "--checkpoint"])
            .arg(&run)
            .arg("--data-dir")
            .arg(&data),
    );
    gan_tests::succeed(gan().arg("report").arg(&run));
    let compare = tmp.path().join("compare.html");
    gan_tests::succeed(
        gan()
            .arg("compare")
            .arg(&run)
            .arg(&other)
            .arg("--html")
            .arg(&compare),
    );

    let broken = tmp.path().join("broken.html");
    std::fs::write(
        &broken,
        "<!DOCTYPE html><title>broken</title><p>x</p>\
         <img src=\"http://127.0.0.1:9/missing.png\"><script>console.error('deliberate')</script>",
    )
    .unwrap();

    let browser = Browser::start(&chromium, &driver);
    let visit = browser.visit(&broken);
    assert!(
        !visit.console_errors.is_empty(),
        "the console check must see errors"
    );
    assert!(
        visit
            .network_requests
            .iter()
            .any(|u| u.starts_with("http://127.0.0.1:9/")),
        "the request check must see requests: {:?}",
        visit.network_requests
    );
    assert!(
        visit.images.iter().any(|&(_, w, _)| w == 0),
        "the broken image is seen"
    );

    let report = browser.visit(&run.join("report.html"));
    assert_eq!(report.title, "gan-rs run run");
    // The latest grid, four in the timeline; the curves and the mode histogram.
    assert_clean(&report, "report.html", 5, 2);

    let comparison = browser.visit(&compare);
    assert_eq!(comparison.title, "gan-rs: run comparison");
    assert_clean(&comparison, "compare.html", 2, 3);
}
