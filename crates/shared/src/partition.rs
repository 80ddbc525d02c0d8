//! Hash partitions of the customers, for scoring a population in N independent jobs,
//! and the merge of their outputs.
//!
//! A customer belongs to partition `fnv1a64(customer_id) mod N`, computed on the
//! pseudonymised id as stored. FNV-1a is written here (a few lines) rather than taken
//! from a hashing crate because the partition of a customer must never change between
//! versions, platforms or processes: std's `DefaultHasher` promises none of that, and
//! FNV-1a's definition is one published constant pair, easy to reproduce in any engine
//! that has to agree with us.
//!
//! What this module does not do: decide which stages may run on a partition (the runner
//! does), or read anything but the `customer_id` column to place a row. Its errors name
//! the file and row, never the id (a pseudonym is still personal data).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;

use crate::encryption::ParquetKey;
use crate::parquet_io::{string_column, ParquetSink, ParquetSource};
use crate::schema::CUSTOMER_ID;
use crate::SharedError;

/// The `index`-th of `count` partitions (0-based), as in `--partition 2/4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub index: usize,
    pub count: usize,
}

impl Partition {
    /// Whether the customer `id` belongs to this partition.
    pub fn holds(&self, id: &str) -> bool {
        partition_of(id, self.count) == self.index
    }

    /// The file name of this partition's part of `path`: `segments.parquet` becomes
    /// `segments.part-2-of-4.parquet`.
    pub fn part_path(&self, path: &Path) -> PathBuf {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        let name = match path.extension() {
            Some(ext) => format!(
                "{stem}.part-{}-of-{}.{}",
                self.index,
                self.count,
                ext.to_string_lossy()
            ),
            None => format!("{stem}.part-{}-of-{}", self.index, self.count),
        };
        path.with_file_name(name)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Partition {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || {
            format!("`{text}` is not a partition: write I/N, with N ≥ 1 partitions and 0 ≤ I < N (for example 0/4)")
        };
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let index: usize = index.trim().parse().map_err(|_| usage())?;
        let count: usize = count.trim().parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(usage());
        }
        Ok(Partition { index, count })
    }
}

/// 64-bit FNV-1a of `bytes`.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(PRIME)
    })
}

/// The partition, of `count`, that the customer `id` belongs to.
pub(crate) fn partition_of(id: &str, count: usize) -> usize {
    (fnv1a64(id.as_bytes()) % count as u64) as usize
}

/// Writes the rows of the Parquet table `source` that belong to `partition` to `target`
/// (atomically, batch by batch); returns how many rows were kept.
pub fn write_partition(
    source: &Path,
    target: &Path,
    partition: Partition,
    key: Option<&ParquetKey>,
) -> Result<u64, SharedError> {
    let mut reader = ParquetSource::open(source, key)?;
    let schema = reader.schema().clone();
    let id_column = schema
        .index_of(CUSTOMER_ID)
        .map_err(|_| SharedError::MissingColumn {
            path: source.to_path_buf(),
            column: CUSTOMER_ID.to_string(),
            what: "places each customer in a partition".to_string(),
        })?;
    let mut sink = ParquetSink::create(target, schema, key)?;
    let mut row = 0usize;
    while let Some(batch) = reader.next_batch()? {
        let ids = string_column(source, batch.column(id_column), CUSTOMER_ID)?;
        let mut keep = Vec::with_capacity(batch.num_rows());
        for r in 0..batch.num_rows() {
            let id = ids(r).ok_or_else(|| SharedError::BadValue {
                path: source.to_path_buf(),
                row: row + r + 1,
                column: CUSTOMER_ID.to_string(),
                why: "is empty; every customer needs an id to be placed in a partition".to_string(),
            })?;
            keep.push(partition.holds(id));
        }
        row += batch.num_rows();
        let kept = filter_record_batch(&batch, &BooleanArray::from(keep)).map_err(|e| {
            SharedError::ParquetRead {
                path: source.to_path_buf(),
                message: e.to_string(),
            }
        })?;
        sink.write(&kept)?;
    }
    sink.finish()
}

/// What a merge found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// Rows in each part, in part order.
    pub rows: Vec<u64>,
}

/// Why parts cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("part {index} of {count} is missing: `{path}` does not exist; run `clientele run … --partition {index}/{count}` for it")]
    MissingPart {
        index: usize,
        count: usize,
        path: PathBuf,
    },
    #[error("`{path}` has other columns than `{first}`: the parts come from different pipelines or versions")]
    OtherColumns { path: PathBuf, first: PathBuf },
    #[error("`{path}` row {row}: the customer belongs to partition {belongs} of {count}, not to this part; the file is from another partitioning")]
    WrongPartition {
        path: PathBuf,
        row: usize,
        belongs: usize,
        count: usize,
    },
    #[error("`{path}` row {row}: the customer already appeared in this part")]
    Duplicate { path: PathBuf, row: usize },
    #[error(transparent)]
    Shared(#[from] SharedError),
}

/// Concatenates the `count` parts of `path` (see [`Partition::part_path`]) into `path`,
/// in part order, checking that every part is there, that they have the same columns,
/// and that every customer sits in its own partition exactly once (so no customer is in
/// two parts). The parts are read once, checked as they are written; a failed check
/// drops the unfinished file, so nothing appears under `target` (where the merged table
/// is written: `path` itself, or a staging path that the caller commits).
pub fn merge_parts(
    path: &Path,
    count: usize,
    target: &Path,
    key: Option<&ParquetKey>,
) -> Result<Merged, MergeError> {
    let parts: Vec<PathBuf> = (0..count)
        .map(|index| Partition { index, count }.part_path(path))
        .collect();
    for (index, part) in parts.iter().enumerate() {
        if !part.exists() {
            return Err(MergeError::MissingPart {
                index,
                count,
                path: part.clone(),
            });
        }
    }
    let first = ParquetSource::open(&parts[0], key)?;
    let schema = first.schema().clone();
    let id_column = schema
        .index_of(CUSTOMER_ID)
        .map_err(|_| SharedError::MissingColumn {
            path: parts[0].clone(),
            column: CUSTOMER_ID.to_string(),
            what: "identifies each customer across the parts".to_string(),
        })?;
    let mut sink = ParquetSink::create(target, schema.clone(), key)?;
    let mut rows = Vec::with_capacity(count);
    let mut first = Some(first);
    for (index, part) in parts.iter().enumerate() {
        let mut reader = match first.take() {
            Some(reader) => reader,
            None => ParquetSource::open(part, key)?,
        };
        if reader.schema() != &schema {
            return Err(MergeError::OtherColumns {
                path: part.clone(),
                first: parts[0].clone(),
            });
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut row = 0usize;
        while let Some(batch) = reader.next_batch()? {
            let ids = string_column(part, batch.column(id_column), CUSTOMER_ID)?;
            for r in 0..batch.num_rows() {
                row += 1;
                let id = ids(r).ok_or_else(|| SharedError::BadValue {
                    path: part.clone(),
                    row,
                    column: CUSTOMER_ID.to_string(),
                    why: "is empty; every customer of a part needs an id".to_string(),
                })?;
                let belongs = partition_of(id, count);
                if belongs != index {
                    return Err(MergeError::WrongPartition {
                        path: part.clone(),
                        row,
                        belongs,
                        count,
                    });
                }
                if !seen.insert(id.to_string()) {
                    return Err(MergeError::Duplicate {
                        path: part.clone(),
                        row,
                    });
                }
            }
            sink.write(&batch)?;
        }
        rows.push(row as u64);
    }
    sink.finish()?;
    Ok(Merged { rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::{Float64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use crate::parquet_io::write_batches;

    #[test]
    fn fnv1a_matches_its_published_test_vectors() {
        // From the FNV reference (www.isthe.com/chongo/tech/comp/fnv): "" and "a".
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn partitions_parse_and_name_their_files() {
        let p: Partition = "2/4".parse().unwrap();
        assert_eq!(p, Partition { index: 2, count: 4 });
        assert_eq!(
            p.part_path(Path::new("/o/segments.parquet")),
            PathBuf::from("/o/segments.part-2-of-4.parquet")
        );
        for bad in ["4/4", "1/0", "x/2", "3", "-1/2"] {
            let e = bad.parse::<Partition>().unwrap_err();
            assert!(e.contains("I/N"), "{e}");
        }
    }

    #[test]
    fn every_customer_is_in_exactly_one_partition() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("c{i:05}")).collect();
        let mut sizes = [0usize; 4];
        for id in &ids {
            let owners: Vec<usize> = (0..4)
                .filter(|&index| Partition { index, count: 4 }.holds(id))
                .collect();
            assert_eq!(owners.len(), 1);
            sizes[owners[0]] += 1;
        }
        // The hash spreads the customers: each partition within 10 % of a quarter.
        for size in sizes {
            assert!((2250..=2750).contains(&size), "{sizes:?}");
        }
    }

    fn table(path: &Path, ids: &[&str]) {
        let schema = Arc::new(Schema::new(vec![
            Field::new(CUSTOMER_ID, DataType::Utf8, false),
            Field::new("x", DataType::Float64, false),
        ]));
        let values: Vec<f64> = (0..ids.len()).map(|i| i as f64).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(ids.to_vec())),
                Arc::new(Float64Array::from(values)),
            ],
        )
        .unwrap();
        write_batches(path, schema, &[batch], None).unwrap();
    }

    #[test]
    fn parts_merge_back_and_bad_parts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let whole = dir.path().join("t.parquet");
        let ids: Vec<String> = (0..500).map(|i| format!("id{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        table(&whole, &refs);
        for index in 0..3 {
            let p = Partition { index, count: 3 };
            write_partition(&whole, &p.part_path(&whole), p, None).unwrap();
        }
        let merged = dir.path().join("merged.parquet");
        for index in 0..3 {
            let p = Partition { index, count: 3 };
            std::fs::copy(p.part_path(&whole), p.part_path(&merged)).unwrap();
        }
        let report = merge_parts(&merged, 3, &merged, None).unwrap();
        assert_eq!(report.rows.iter().sum::<u64>(), 500);
        let mut got: Vec<String> = Vec::new();
        let mut reader = ParquetSource::open(&merged, None).unwrap();
        while let Some(batch) = reader.next_batch().unwrap() {
            let ids = string_column(&merged, batch.column(0), CUSTOMER_ID).unwrap();
            got.extend((0..batch.num_rows()).map(|r| ids(r).unwrap().to_string()));
        }
        got.sort();
        let mut want = ids.clone();
        want.sort();
        assert_eq!(got, want);

        // A missing part.
        std::fs::remove_file(&merged).unwrap();
        let two = Partition { index: 2, count: 3 }.part_path(&merged);
        std::fs::rename(&two, dir.path().join("aside.parquet")).unwrap();
        let e = merge_parts(&merged, 3, &merged, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("part 2 of 3 is missing"), "{e}");
        assert!(!merged.exists());
        // A part from another partitioning: part 0 of 3 standing in for part 2.
        std::fs::copy(Partition { index: 0, count: 3 }.part_path(&merged), &two).unwrap();
        let e = merge_parts(&merged, 3, &merged, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("belongs to partition 0 of 3"), "{e}");
        assert!(!merged.exists());
        // The merge had written parts 0 and 1 when it met the bad part: the unfinished
        // file is gone too.
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| {
                name.trim_start_matches('.').starts_with("merged") && !name.contains(".part-")
            })
            .collect();
        left.sort();
        assert_eq!(left, Vec::<String>::new());
    }
}
