//! The malformed files of Apache parquet-testing's `bad_data/` (in `../shared/data/`):
//! decoding each one ends in data or a clear error naming the file, never a panic.

use std::path::PathBuf;

use clientele_shared::parquet_io::ParquetSource;

fn bad_data_dir() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/parquet-bad-data");
    if dir.is_dir() {
        Some(dir)
    } else if std::env::var_os("CLIENTELE_REQUIRE_SHARED").is_some() {
        panic!(
            "CLIENTELE_REQUIRE_SHARED is set but {} is missing",
            dir.display()
        );
    } else {
        eprintln!("skipped: {} is not beside this checkout", dir.display());
        None
    }
}

#[test]
fn every_bad_file_decodes_or_fails_clearly() {
    let Some(dir) = bad_data_dir() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the 8 bad_data files, found {}",
        files.len()
    );
    let mut failures = 0;
    for file in &files {
        let result =
            std::panic::catch_unwind(|| ParquetSource::open(file, None).and_then(|s| s.read_all()));
        let name = file.file_name().unwrap().to_string_lossy();
        match result {
            Err(_) => panic!("{name}: decoding panicked"),
            Ok(Ok(batches)) => eprintln!("{name}: decoded {} batch(es)", batches.len()),
            Ok(Err(e)) => {
                let message = e.to_string();
                assert!(
                    message.contains(&*name),
                    "{name}: message does not name the file: {message}"
                );
                assert!(
                    message.contains("not a readable Parquet file"),
                    "{name}: {message}"
                );
                failures += 1;
            }
        }
    }
    // Most of these files are corrupt in ways a reader must detect.
    assert!(
        failures >= 5,
        "only {failures} of {} bad files were reported as unreadable",
        files.len()
    );
}
