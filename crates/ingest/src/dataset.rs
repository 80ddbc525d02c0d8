//! A Parquet source that is one file, or a directory of files as Spark, Hive, pyarrow,
//! DuckDB and polars write a table: every data file below the directory in path order,
//! each `key=value` folder on the way (Hive-style partitions,
//! `snapshot=2026-10-31/part-0.parquet`) a column of the table.
//!
//! Names starting with `.` or `_` are skipped, as those writers name their bookkeeping
//! (`_SUCCESS`, `_common_metadata`, `.part-0.parquet.crc`).

use std::path::{Path, PathBuf};

use crate::error::IngestError;

/// The value Hive writes for a missing partition value.
const HIVE_NULL: &str = "__HIVE_DEFAULT_PARTITION__";

/// One data file, with the values of the partition columns its folders give.
#[derive(Debug, Clone, PartialEq)]
pub struct DataFile {
    pub path: PathBuf,
    pub partition_values: Vec<Option<String>>,
}

/// The data files of a source, and the names of its partition columns.
#[derive(Debug, Clone, PartialEq)]
pub struct ParquetFiles {
    pub files: Vec<DataFile>,
    pub partition_columns: Vec<String>,
}

/// Lists `source`: itself when it is a file; else every data file below it.
pub fn list(source: &Path) -> Result<ParquetFiles, IngestError> {
    if !source.is_dir() {
        return Ok(ParquetFiles {
            files: vec![DataFile {
                path: source.to_path_buf(),
                partition_values: Vec::new(),
            }],
            partition_columns: Vec::new(),
        });
    }
    let mut found = Vec::new();
    walk(source, &mut found)?;
    found.sort();
    let Some(first) = found.first() else {
        return Err(IngestError::EmptyDirectory {
            path: source.to_path_buf(),
        });
    };
    let keys = |file: &Path| -> Vec<(String, Option<String>)> {
        file.strip_prefix(source)
            .unwrap_or(file)
            .parent()
            .map(|folders| {
                folders
                    .components()
                    .filter_map(|c| {
                        let text = c.as_os_str().to_string_lossy();
                        let (key, value) = text.split_once('=')?;
                        let value = unescape(value);
                        Some((unescape(key), (value != HIVE_NULL).then_some(value)))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let partition_columns: Vec<String> = keys(first).into_iter().map(|(k, _)| k).collect();
    let mut files = Vec::with_capacity(found.len());
    for path in found {
        let pairs = keys(&path);
        let names: Vec<&String> = pairs.iter().map(|(k, _)| k).collect();
        if names != partition_columns.iter().collect::<Vec<_>>() {
            return Err(IngestError::PartitionFolders {
                path,
                first: files
                    .first()
                    .map_or_else(|| source.to_path_buf(), |f: &DataFile| f.path.clone()),
            });
        }
        files.push(DataFile {
            path,
            partition_values: pairs.into_iter().map(|(_, v)| v).collect(),
        });
    }
    Ok(ParquetFiles {
        files,
        partition_columns,
    })
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), IngestError> {
    let io = |e| IngestError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else {
            found.push(path);
        }
    }
    Ok(())
}

/// Hive escapes characters of partition values as `%XX`.
fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(byte) = u8::from_str_radix(hex, 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_folders_become_columns_in_path_order() {
        let dir = tempfile::tempdir().unwrap();
        for (folder, file) in [
            ("snapshot=2026-10-31/region=North", "part-0.parquet"),
            ("snapshot=2026-09-30/region=South%20East", "part-0.parquet"),
            (
                "snapshot=2026-09-30/region=__HIVE_DEFAULT_PARTITION__",
                "part-1.parquet",
            ),
        ] {
            std::fs::create_dir_all(dir.path().join(folder)).unwrap();
            std::fs::write(dir.path().join(folder).join(file), b"x").unwrap();
        }
        std::fs::write(dir.path().join("_SUCCESS"), b"").unwrap();
        std::fs::write(dir.path().join(".hidden.crc"), b"").unwrap();
        let files = list(dir.path()).unwrap();
        assert_eq!(files.partition_columns, vec!["snapshot", "region"]);
        let values: Vec<Vec<Option<String>>> = files
            .files
            .iter()
            .map(|f| f.partition_values.clone())
            .collect();
        assert_eq!(
            values,
            vec![
                vec![Some("2026-09-30".into()), Some("South East".into())],
                vec![Some("2026-09-30".into()), None],
                vec![Some("2026-10-31".into()), Some("North".into())],
            ]
        );
    }

    #[test]
    fn folders_that_disagree_are_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a=1")).unwrap();
        std::fs::create_dir_all(dir.path().join("b=2")).unwrap();
        std::fs::write(dir.path().join("a=1/x.parquet"), b"x").unwrap();
        std::fs::write(dir.path().join("b=2/x.parquet"), b"x").unwrap();
        let err = list(dir.path()).unwrap_err().to_string();
        assert!(err.contains("b=2/x.parquet"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert!(list(empty.path())
            .unwrap_err()
            .to_string()
            .contains("holds no data file"));
    }
}
