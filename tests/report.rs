//! The report stage end to end: the quickstart's page opened in headless Chromium, the
//! charts not blank, the same bytes on every run, the publication threshold, and the
//! projection against scikit-learn's PCA on the real credit-card data.

mod common;
use common::Project;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use clientele_report::pca::Pca;

const CHARTS: [&str; 7] = [
    "k_selection",
    "silhouette",
    "segments_2d",
    "profile_heatmap",
    "segment_sizes",
    "product_penetration",
    "precision_recall_at_k",
];

/// The committed quickstart, run once for the tests that only read its outputs.
fn quickstart() -> &'static Project {
    static RUN: std::sync::OnceLock<Project> = std::sync::OnceLock::new();
    RUN.get_or_init(Project::quickstart_run)
}

/// Node with playwright-core (`tests/browser`, `npm ci`) and Chromium, or `None` with
/// the reason printed; with CLIENTELE_REQUIRE_BROWSER set (as `.ci/run` does), their
/// absence fails the test instead.
fn browser() -> Option<PathBuf> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/check_report.mjs");
    let chromium =
        std::env::var("CLIENTELE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    let playwright = script.with_file_name("node_modules/playwright-core/package.json");
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let why = if !node {
        "node is not installed"
    } else if !playwright.exists() {
        "playwright-core is not installed (npm ci --prefix tests/browser)"
    } else if !Path::new(&chromium).exists() {
        "Chromium is not installed (apt-get install chromium)"
    } else {
        return Some(script);
    };
    if std::env::var_os("CLIENTELE_REQUIRE_BROWSER").is_some() {
        panic!("CLIENTELE_REQUIRE_BROWSER is set but {why}");
    }
    eprintln!("skipped: {why}");
    None
}

#[test]
fn the_report_opens_in_headless_chromium_with_every_image_and_card() {
    let Some(script) = browser() else {
        return;
    };
    let p = quickstart();
    let report = p.path("out/quickstart/report.html");
    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report_screenshot.png");
    let _ = std::fs::remove_file(&screenshot);
    let out = Command::new("node")
        .arg(&script)
        .arg(&report)
        .arg(&screenshot)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        seen["title"],
        "Quickstart: customer segments and recommendations"
    );
    assert_eq!(seen["console_messages"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["outside_requests"], serde_json::json!([]), "{seen}");
    let images = seen["images"].as_array().unwrap();
    let figures: BTreeSet<&str> = images
        .iter()
        .map(|i| i["figure"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<String> = CHARTS.iter().map(|c| format!("chart-{c}")).collect();
    assert_eq!(
        figures,
        expected.iter().map(String::as_str).collect(),
        "{seen}"
    );
    for image in images {
        assert_eq!(image["complete"], true, "{image}");
        assert!(image["natural_width"].as_u64().unwrap() >= 600, "{image}");
        assert!(image["natural_height"].as_u64().unwrap() >= 400, "{image}");
        assert!(image["shown_width"].as_f64().unwrap() > 0.0, "{image}");
    }
    // One card per segment of the quickstart (k = 2), each with its distinguishing
    // features and most recommended products.
    let profiles: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path("out/quickstart/segment_profiles.json")).unwrap(),
    )
    .unwrap();
    let cards = seen["cards"].as_array().unwrap();
    assert_eq!(cards.len(), profiles["segments"].as_array().unwrap().len());
    for (card, profile) in cards.iter().zip(profiles["segments"].as_array().unwrap()) {
        assert!(
            card["heading"]
                .as_str()
                .unwrap()
                .ends_with(profile["label"].as_str().unwrap()),
            "{card}"
        );
        assert_eq!(card["features"], 3, "{card}");
        assert_eq!(card["products"], 3, "{card}");
    }
    // The blend and six methods.
    assert!(seen["metrics_rows"].as_u64().unwrap() >= 7, "{seen}");
    let shot = std::fs::read(&screenshot).unwrap();
    assert!(shot.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    let (width, height, _) = decode_png(&shot);
    assert_eq!(width, 1200);
    assert!(height > 3000, "a full-page screenshot is {height} px high");
    eprintln!("screenshot: {}", screenshot.display());
}

#[test]
fn the_quickstart_report_shows_propensitys_lift_over_popularity_per_segment() {
    let p = quickstart();
    let html = std::fs::read_to_string(p.path("out/quickstart/report.html")).unwrap();
    let at = html
        .find("Propensity against popularity")
        .expect("the report has the lift table");
    let table = &html[at..at + html[at..].find("</table>").unwrap()];
    let profiles: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path("out/quickstart/segment_profiles.json")).unwrap(),
    )
    .unwrap();
    for segment in profiles["segments"].as_array().unwrap() {
        let label = segment["label"].as_str().unwrap();
        assert!(table.contains(label), "{label} not in {table}");
    }
    assert!(table.contains("all customers"), "{table}");
}

/// Width, height and RGB pixels of a PNG.
fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (info.width, info.height, pixels)
}

#[test]
fn every_chart_is_drawn_with_colour_and_text() {
    let p = quickstart();
    let dir = p.path("out/quickstart/charts");
    for chart in CHARTS {
        let (width, height, pixels) =
            decode_png(&std::fs::read(dir.join(format!("{chart}.png"))).unwrap());
        assert_eq!(pixels.len(), (width * height) as usize);
        let distinct: BTreeSet<[u8; 3]> = pixels.iter().copied().collect();
        // Anti-aliased text and the series' colours give hundreds of shades; a blank or
        // single-colour image has one or two.
        assert!(
            distinct.len() > 50,
            "{chart}.png has only {} colours",
            distinct.len()
        );
        let white = pixels.iter().filter(|p| **p == [255, 255, 255]).count();
        assert!(
            white > pixels.len() / 10,
            "{chart}.png has no background left"
        );
        // Text: near-black pixels (the ink is #212529).
        let ink = pixels.iter().filter(|p| p.iter().all(|&c| c < 70)).count();
        assert!(
            ink > 500,
            "{chart}.png has {ink} dark pixels: no text drawn?"
        );
        // Colour: pixels far from grey (the series, bars and cells).
        let coloured = pixels
            .iter()
            .filter(|p| {
                let max = *p.iter().max().unwrap() as i32;
                let min = *p.iter().min().unwrap() as i32;
                max - min > 60
            })
            .count();
        assert!(
            coloured > 1000,
            "{chart}.png has {coloured} coloured pixels"
        );

        let svg = std::fs::read_to_string(dir.join(format!("{chart}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{chart}.svg");
        assert!(
            svg.matches("<text").count() >= 5,
            "{chart}.svg has too little text"
        );
    }
    let html = std::fs::read_to_string(p.path("out/quickstart/report.html")).unwrap();
    assert_eq!(html.matches("<img src=\"data:image/png;base64,").count(), 7);
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<script"));
}

#[test]
fn the_same_run_writes_the_same_bytes_on_one_thread_as_on_two() {
    let p = quickstart();
    let q = Project::quickstart_copy();
    let out = q
        .command(&["run", "pipelines/quickstart.toml", "--quiet"])
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut files = vec!["report.html".to_string()];
    for chart in CHARTS {
        files.push(format!("charts/{chart}.png"));
        files.push(format!("charts/{chart}.svg"));
    }
    for file in files {
        let a = std::fs::read(p.path(&format!("out/quickstart/{file}"))).unwrap();
        let b = std::fs::read(q.path(&format!("out/quickstart/{file}"))).unwrap();
        assert!(a == b, "{file} differs between runs");
    }
    // Rerun: the report is up to date, charts directory included.
    let again = q.run(&["run", "pipelines/quickstart.toml", "--json"]);
    assert_eq!(common::statuses(&again.json())["report"], "skipped");
}

#[test]
fn segments_below_the_publication_threshold_are_not_described() {
    let p = Project::quickstart_copy();
    let text = std::fs::read_to_string(p.path("pipelines/quickstart.toml"))
        .unwrap()
        .replace("min_segment_size = 20", "min_segment_size = 1000");
    p.write("pipelines/quickstart.toml", text);
    let run = p.run(&["run", "pipelines/quickstart.toml", "--json"]);
    let summary = run.json();
    let profiles: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(p.path("out/quickstart/segment_profiles.json")).unwrap(),
    )
    .unwrap();
    let segments = profiles["segments"].as_array().unwrap();
    let small: Vec<&serde_json::Value> = segments
        .iter()
        .filter(|s| s["size"].as_u64().unwrap() < 1000)
        .collect();
    assert!(!small.is_empty() && small.len() < segments.len());
    let html = std::fs::read_to_string(p.path("out/quickstart/report.html")).unwrap();
    let suppressed: u64 = small.iter().map(|s| s["size"].as_u64().unwrap()).sum();
    assert!(
        html.contains(&format!(
            "the publication threshold, and together they are still fewer: they are not shown ({suppressed} customers"
        )),
        "the page does not say what it left out"
    );
    assert!(html.contains("No chart, card or table on this page describes fewer than 1000"));
    assert_eq!(
        html.matches("class=\"segment-card\"").count(),
        segments.len() - small.len()
    );
    // No label of a small segment appears anywhere the report wrote.
    let mut written = vec![html];
    for chart in CHARTS {
        if let Ok(svg) =
            std::fs::read_to_string(p.path(&format!("out/quickstart/charts/{chart}.svg")))
        {
            written.push(svg);
        }
    }
    for segment in &small {
        let label = segment["label"].as_str().unwrap();
        for text in &written {
            assert!(!text.contains(label), "`{label}` was published");
        }
    }
    let report = summary["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "report")
        .unwrap();
    assert_eq!(report["counts"]["suppressed_customers"], suppressed);
}

#[test]
fn report_config_errors_name_the_key() {
    let p = Project::quickstart_copy();
    let original = std::fs::read_to_string(p.path("pipelines/quickstart.toml")).unwrap();
    let text = original.replace(
        "min_segment_size = 20",
        "min_segment_size = 20\ncolour = \"red\"",
    );
    p.write("pipelines/quickstart.toml", &text);
    let run = p.run(&["run", "pipelines/quickstart.toml"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains(&format!(
            "quickstart.toml:{}",
            common::line_of(&text, "colour = ")
        )) && run.stderr().contains("unknown key `colour`"),
        "{}",
        run.stderr()
    );
    let text = original.replace("min_segment_size = 20", "min_segment_size = 0");
    p.write("pipelines/quickstart.toml", &text);
    let run = p.run(&["run", "pipelines/quickstart.toml"]);
    assert_eq!(run.code(), 2);
    assert!(
        run.stderr().contains("`min_segment_size` is 0"),
        "{}",
        run.stderr()
    );
}

/// The projection equals scikit-learn's PCA on the real credit-card data
/// (`tests/golden/make_pca_golden.py`): components, explained variance and projected
/// rows to 1e-9 (relative for the variances).
#[test]
fn the_projection_equals_scikit_learns_pca() {
    let Some(dir) = common::run_committed_pipeline(
        "cc_general",
        "report_cc_general",
        &["--stage", "preprocess"],
    ) else {
        return;
    };
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sklearn_cc_pca.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let matrix = clientele_shared::features::read_feature_matrix(
        &dir.join("out/features.parquet"),
        None,
        None,
    )
    .unwrap();
    let names: Vec<&str> = matrix
        .names
        .iter()
        .map(|n| n.split("__").next().unwrap())
        .collect();
    let expected_names: Vec<&str> = golden["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, expected_names);
    let x =
        ndarray::ArrayView2::from_shape((matrix.ids.len(), names.len()), &matrix.values).unwrap();
    let pca = Pca::fit(x).unwrap();
    let close = |a: f64, b: f64, what: &str| {
        assert!(
            (a - b).abs() <= 1e-9 * b.abs().max(1.0),
            "{what}: ours {a}, scikit-learn {b}"
        );
    };
    for c in 0..2 {
        close(
            pca.explained_variance[c],
            golden["explained_variance"][c].as_f64().unwrap(),
            "explained variance",
        );
        close(
            pca.explained_variance_ratio[c],
            golden["explained_variance_ratio"][c].as_f64().unwrap(),
            "explained variance ratio",
        );
        for (f, want) in golden["components"][c]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            close(pca.components[[c, f]], want.as_f64().unwrap(), "component");
        }
    }
    for (i, row) in golden["rows"].as_array().unwrap().iter().enumerate() {
        let r = row.as_u64().unwrap() as usize;
        assert_eq!(matrix.ids[r], golden["customer_ids"][i].as_str().unwrap());
        let (a, b) = pca.project(matrix.row(r));
        close(
            a,
            golden["projections"][i][0].as_f64().unwrap(),
            "projection",
        );
        close(
            b,
            golden["projections"][i][1].as_f64().unwrap(),
            "projection",
        );
    }
}

/// DBSCAN, with only the inputs a segmentation gives: the charts that need the rest are
/// left out (and a stale one of an earlier run removed), noise is drawn in grey and has a
/// card of its own, and a sample smaller than the customers is said.
#[test]
fn a_dbscan_report_with_few_inputs_draws_what_it_can() {
    let p = Project::quickstart_run_to("preprocess_customers");
    p.write(
        "pipelines/dbscan.toml",
        r#"
[pipeline]
name = "dbscan"
output_dir = "../out/dbscan"

[[stage]]
name = "dbscan"
kind = "segment"
inputs = { features = "../out/quickstart/features.parquet" }
outputs = { assignments = "segments.parquet", profiles = "profiles.json" }

[stage.params]
algorithm = "dbscan"
eps = "auto"
min_samples = 10

[[stage]]
name = "report"
kind = "report"
inputs = { profiles = "profiles.json", assignments = "segments.parquet", features = "../out/quickstart/features.parquet" }
outputs = { report = "report.html", charts = "charts" }

[stage.params]
sample = 500
min_segment_size = 5
"#,
    );
    p.write("out/dbscan/charts/k_selection.png", b"from an earlier run");
    let summary = p.run(&["run", "pipelines/dbscan.toml", "--json"]).json();
    let profiles: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p.path("out/dbscan/profiles.json")).unwrap())
            .unwrap();
    let segments = profiles["segments"].as_array().unwrap();
    let noise = segments.iter().find(|s| s["segment"] == -1);
    let clusters = segments.iter().filter(|s| s["segment"] != -1).count();
    assert!(noise.is_some(), "the quickstart's DBSCAN finds noise");

    let drawn: BTreeSet<String> = std::fs::read_dir(p.path("out/dbscan/charts"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut expected = vec!["segments_2d", "profile_heatmap", "segment_sizes"];
    if clusters >= 2 {
        expected.push("silhouette");
    }
    let expected: BTreeSet<String> = expected
        .iter()
        .flat_map(|c| [format!("{c}.png"), format!("{c}.svg")])
        .collect();
    assert_eq!(drawn, expected);

    let html = std::fs::read_to_string(p.path("out/dbscan/report.html")).unwrap();
    assert!(html.contains("a seeded sample of 500 of the 3,000 published customers"));
    assert!(html.contains("Customers in no dense group: DBSCAN&#39;s noise."));
    assert_eq!(
        html.matches("class=\"segment-card\"").count(),
        segments
            .iter()
            .filter(|s| s["size"].as_u64().unwrap() >= 5)
            .count()
            + usize::from(
                segments
                    .iter()
                    .filter(|s| s["size"].as_u64().unwrap() < 5)
                    .map(|s| s["size"].as_u64().unwrap())
                    .sum::<u64>()
                    >= 5
            )
    );
    // Noise in grey (150, 150, 150) in the projection.
    let (_, _, pixels) =
        decode_png(&std::fs::read(p.path("out/dbscan/charts/segments_2d.png")).unwrap());
    assert!(pixels.iter().any(|px| {
        // Grey mixed 55 % over white.
        px.iter().all(|&c| (190..=200).contains(&c)) && px[0] == px[1] && px[1] == px[2]
    }));
    assert_eq!(common::statuses(&summary)["report"], "ran");
}
