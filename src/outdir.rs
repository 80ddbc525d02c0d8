//! The output directory: where a pipeline's outputs live, who may write them, and how
//! the outputs of one stage become visible together.
//!
//! ```text
//! OUT/recommendations.parquet  -> .clientele/current/out/recommendations.parquet
//! OUT/charts                   -> .clientele/current/out/charts
//! OUT/.clientele/current       -> generations/000017      the committed set
//! OUT/.clientele/generations/000017/out/…                  every output, as one run set it
//! OUT/.clientele/generations/000017/state/STAGE.json       the up-to-date records
//! OUT/.clientele/staging/PID/out/…                         a live run's outputs, being written
//! OUT/.clientele/run.lock, commit.lock
//! ```
//!
//! This is the scheme Kubernetes uses to update a mounted ConfigMap (`..data`): each
//! declared output is a relative symlink through `current`, and a commit builds a new
//! generation (hard links to the files that did not change, plus the stage's new files
//! and records), syncs it, and makes it visible by one `rename(2)` of `current`. A
//! reader resolving any output therefore sees one generation, and a generation is only
//! ever made visible whole: a stage's outputs and its record appear together or not at
//! all, whenever the writer is killed. What a killed run leaves (its staging directory,
//! a generation it never switched to) is never visible and is removed by the next run.
//!
//! Locks are `flock(2)` locks, which the kernel releases when their process dies: a
//! run lock per output directory (per partition for `run --partition`, so the N parts
//! of one directory can be scored at once), held for the whole run, and a commit lock
//! held only while a generation is built and switched, so that concurrent partition
//! runs never lose each other's files. Each staging directory holds its own lock, which
//! is how a run tells a dead run's staging directory from a live one's.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

/// The directory of the runner's own files inside an output directory.
pub const META_DIR: &str = ".clientele";
const CURRENT: &str = "current";
const GENERATIONS: &str = "generations";
const STAGING: &str = "staging";
const OUTPUTS: &str = "out";
const STATES: &str = "state";
const COMMIT_LOCK: &str = "commit.lock";

/// Another live run holds the output directory (exit 2: nothing ran).
#[derive(Debug)]
pub struct Busy(pub String);

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Busy {}

/// An output directory opened for writing: its run lock and this run's staging
/// directory are held until it is dropped.
pub struct OutputDir {
    root: PathBuf,
    meta: PathBuf,
    run_lock: File,
    staging: PathBuf,
    _staging_lock: File,
    /// What opening found and did (a lock taken over, stale files removed), for the
    /// person running the pipeline.
    pub notes: Vec<String>,
}

/// Where a stage's outputs go while it runs, and what its commit will publish.
#[derive(Debug, Default)]
pub struct Commit {
    /// Outputs, relative to the output directory; each is taken from staging (or is
    /// absent from the new generation, if the stage did not write it).
    pub outputs: Vec<PathBuf>,
    /// Up-to-date records by file name: `Some` writes the record, `None` removes it.
    pub states: Vec<(String, Option<Vec<u8>>)>,
}

impl OutputDir {
    /// Takes the run lock `lock_name` (e.g. `run.lock`) of `root`, then removes what dead
    /// runs left behind: temporary files are looked for in `root` and in the folders
    /// `dirs` (relative to it; where outputs and runner files are written). A live holder
    /// is an error naming it.
    pub fn open(root: &Path, lock_name: &str, dirs: &[PathBuf]) -> anyhow::Result<OutputDir> {
        let meta = root.join(META_DIR);
        let staging_root = meta.join(STAGING);
        fs::create_dir_all(&staging_root)
            .with_context(|| format!("cannot create `{}`", staging_root.display()))?;
        let mut notes = Vec::new();
        let lock_path = meta.join(lock_name);
        let run_lock = take_lock(&lock_path, root, &mut notes)?;

        let staging = staging_root.join(std::process::id().to_string());
        remove_dir_if_present(&staging)?;
        fs::create_dir_all(staging.join(OUTPUTS))
            .with_context(|| format!("cannot create `{}`", staging.display()))?;
        let staging_lock = File::create(staging.join("lock"))
            .with_context(|| format!("cannot create `{}`", staging.display()))?;
        staging_lock
            .lock()
            .with_context(|| format!("cannot lock `{}`", staging.display()))?;

        // Records of the layout before generations (`.clientele/STAGE.json`): never read.
        for legacy in read_dir(&meta)? {
            if legacy.extension().is_some_and(|e| e == "json") && legacy.is_file() {
                let _ = fs::remove_file(&legacy);
            }
        }
        let mut dir = OutputDir {
            root: root.to_path_buf(),
            meta,
            run_lock,
            staging,
            _staging_lock: staging_lock,
            notes,
        };
        dir.restore_current_link()?;
        let removed = dir.remove_leftovers(dirs)?;
        if removed > 0 {
            dir.notes.push(format!(
                "removed {removed} temporary file(s) left by a run that was stopped"
            ));
        }
        Ok(dir)
    }

    /// Where the output `relative` is written before its commit.
    pub fn staged(&self, relative: &Path) -> PathBuf {
        self.staging.join(OUTPUTS).join(relative)
    }

    /// Empties this run's staging area (before a stage writes into it).
    pub fn clear_staging(&self) -> anyhow::Result<()> {
        let out = self.staging.join(OUTPUTS);
        remove_dir_if_present(&out)?;
        fs::create_dir_all(&out).with_context(|| format!("cannot create `{}`", out.display()))
    }

    /// Turns outputs still written in place by an older clientele (plain files and
    /// directories under their final names) into outputs of the committed generation,
    /// without changing what a reader sees in a file.
    pub fn adopt(&self, outputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
        let legacy: Vec<PathBuf> = outputs
            .iter()
            .filter(|rel| {
                fs::symlink_metadata(self.root.join(rel)).is_ok_and(|m| !m.file_type().is_symlink())
            })
            .cloned()
            .collect();
        if legacy.is_empty() {
            return Ok(legacy);
        }
        let _commit = lock_file(&self.meta.join(COMMIT_LOCK))?;
        let new_gen = self.next_generation(&[], &[], &legacy)?;
        for rel in &legacy {
            let from = self.root.join(rel);
            let to = new_gen.join(OUTPUTS).join(rel);
            create_parent(&to)?;
            link_tree(&from, &to, &|_| false)?;
        }
        sync_tree_dirs(&new_gen)?;
        self.switch_to(&new_gen)?;
        for rel in &legacy {
            let link = self.root.join(rel);
            if link.is_dir() {
                // A directory cannot be replaced by a rename: it is briefly absent.
                let trash = self.staging.join("adopted");
                remove_dir_if_present(&trash)?;
                fs::rename(&link, &trash)
                    .with_context(|| format!("cannot move `{}`", link.display()))?;
                remove_dir_if_present(&trash)?;
            }
            self.place_link(rel)?;
        }
        sync_dir(&self.root);
        Ok(legacy)
    }

    /// Publishes a stage's staged outputs and records as one new generation.
    pub fn commit(&self, commit: &Commit) -> anyhow::Result<()> {
        let _commit = lock_file(&self.meta.join(COMMIT_LOCK))?;
        kill_point();
        let states: Vec<&str> = commit.states.iter().map(|(n, _)| n.as_str()).collect();
        let new_gen = self.next_generation(&commit.outputs, &states, &[])?;
        kill_point();
        for rel in &commit.outputs {
            let staged = self.staged(rel);
            if fs::symlink_metadata(&staged).is_err() {
                continue;
            }
            let to = new_gen.join(OUTPUTS).join(rel);
            create_parent(&to)?;
            fs::rename(&staged, &to)
                .with_context(|| format!("cannot move `{}` into place", staged.display()))?;
        }
        kill_point();
        for (name, bytes) in &commit.states {
            if let Some(bytes) = bytes {
                let path = new_gen.join(STATES).join(name);
                let mut file = File::create(&path)
                    .with_context(|| format!("cannot write `{}`", path.display()))?;
                file.write_all(bytes)
                    .and_then(|()| file.sync_all())
                    .with_context(|| format!("cannot write `{}`", path.display()))?;
            }
        }
        kill_point();
        sync_tree_dirs(&new_gen)?;
        kill_point();
        // Links of new outputs go in before the switch: until then they lead nowhere
        // (a reader finds no file), after it they all lead into the new generation.
        for rel in &commit.outputs {
            self.place_link(rel)?;
        }
        sync_dir(&self.root);
        kill_point();
        self.switch_to(&new_gen)?;
        kill_point();
        self.remove_generations_but(Some(&new_gen))?;
        kill_point();
        Ok(())
    }

    /// Creates `generations/NNNNNN` holding hard links to every file of the current
    /// generation except the outputs and records about to be replaced, and the legacy
    /// outputs about to be adopted.
    fn next_generation(
        &self,
        replaced: &[PathBuf],
        replaced_states: &[&str],
        adopted: &[PathBuf],
    ) -> anyhow::Result<PathBuf> {
        let generations = self.meta.join(GENERATIONS);
        fs::create_dir_all(&generations)
            .with_context(|| format!("cannot create `{}`", generations.display()))?;
        let current = current_generation(&self.meta);
        let number = current
            .as_ref()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<u64>().ok())
            .map_or(1, |n| n + 1);
        let new_gen = generations.join(format!("{number:06}"));
        remove_dir_if_present(&new_gen)?;
        fs::create_dir_all(new_gen.join(OUTPUTS))
            .and_then(|()| fs::create_dir_all(new_gen.join(STATES)))
            .with_context(|| format!("cannot create `{}`", new_gen.display()))?;
        if let Some(current) = &current {
            let outputs = current.join(OUTPUTS);
            let skip = |rel: &Path| {
                replaced
                    .iter()
                    .chain(adopted)
                    .any(|r| rel == r.as_path() || rel.starts_with(r))
            };
            if outputs.is_dir() {
                link_children(&outputs, &new_gen.join(OUTPUTS), Path::new(""), &skip)?;
            }
            let states = current.join(STATES);
            if states.is_dir() {
                let skip_state = |rel: &Path| replaced_states.iter().any(|s| rel == Path::new(s));
                link_children(&states, &new_gen.join(STATES), Path::new(""), &skip_state)?;
            }
        }
        Ok(new_gen)
    }

    /// Points `current` at `generation` by one rename.
    fn switch_to(&self, generation: &Path) -> anyhow::Result<()> {
        let target = Path::new(GENERATIONS).join(
            generation
                .file_name()
                .context("a generation directory has a name")?,
        );
        let temp = self
            .meta
            .join(format!("{CURRENT}.new-{}", std::process::id()));
        let _ = fs::remove_file(&temp);
        symlink(&target, &temp)
            .with_context(|| format!("cannot create the link `{}`", temp.display()))?;
        fs::rename(&temp, self.meta.join(CURRENT))
            .with_context(|| format!("cannot switch `{}`", self.meta.display()))?;
        sync_dir(&self.meta);
        Ok(())
    }

    /// Removes every generation but `keep` (all of them when there is none to keep).
    fn remove_generations_but(&self, keep: Option<&Path>) -> anyhow::Result<()> {
        let generations = self.meta.join(GENERATIONS);
        for entry in read_dir(&generations)? {
            if Some(entry.as_path()) != keep {
                remove_dir_if_present(&entry)?;
            }
        }
        Ok(())
    }

    /// Makes `OUT/rel` the relative link `…/.clientele/current/out/rel`, unless it is.
    fn place_link(&self, rel: &Path) -> anyhow::Result<()> {
        let link = self.root.join(rel);
        let target = link_target(rel);
        if fs::read_link(&link).is_ok_and(|t| t == target) {
            return Ok(());
        }
        create_parent(&link)?;
        let temp = link.with_file_name(format!(
            ".{}{}{}",
            rel.file_name().unwrap_or_default().to_string_lossy(),
            clientele_shared::atomic::TEMP_MARKER,
            std::process::id()
        ));
        let _ = fs::remove_file(&temp);
        symlink(&target, &temp)
            .with_context(|| format!("cannot create the link `{}`", temp.display()))?;
        fs::rename(&temp, &link)
            .with_context(|| format!("cannot put the link `{}` in place", link.display()))
    }

    /// A copy that followed links (`cp -rL`) turns `current` into a plain directory, a
    /// copy of the committed generation: it becomes a generation again, so that the next
    /// switch can replace the link (and the records in it still count).
    fn restore_current_link(&self) -> anyhow::Result<()> {
        let current = self.meta.join(CURRENT);
        let is_plain_dir =
            fs::symlink_metadata(&current).is_ok_and(|m| m.is_dir() && !m.file_type().is_symlink());
        if !is_plain_dir {
            return Ok(());
        }
        let _commit = lock_file(&self.meta.join(COMMIT_LOCK))?;
        let generations = self.meta.join(GENERATIONS);
        fs::create_dir_all(&generations)
            .with_context(|| format!("cannot create `{}`", generations.display()))?;
        let next = read_dir(&generations)?
            .iter()
            .filter_map(|g| g.file_name()?.to_str()?.parse::<u64>().ok())
            .max()
            .map_or(1, |n| n + 1);
        let generation = generations.join(format!("{next:06}"));
        fs::rename(&current, &generation)
            .with_context(|| format!("cannot move `{}`", current.display()))?;
        self.switch_to(&generation)
    }

    /// Removes the staging directories of dead runs, generations nothing points at, and
    /// temporary files of dead processes in `root` and the folders `dirs`; returns how
    /// many files were removed.
    fn remove_leftovers(&self, dirs: &[PathBuf]) -> anyhow::Result<usize> {
        let mut removed = 0usize;
        for staging in read_dir(&self.meta.join(STAGING))? {
            if staging == self.staging {
                continue;
            }
            let dead = match File::open(staging.join("lock")) {
                Ok(file) => file.try_lock().is_ok(),
                Err(_) => true,
            };
            if dead {
                removed += count_files(&staging);
                remove_dir_if_present(&staging)?;
            }
        }
        {
            let _commit = lock_file(&self.meta.join(COMMIT_LOCK))?;
            self.remove_generations_but(current_generation(&self.meta).as_deref())?;
        }
        let mut folders: Vec<PathBuf> = vec![self.root.clone()];
        folders.extend(dirs.iter().map(|d| self.root.join(d)));
        folders.sort();
        folders.dedup();
        for folder in folders {
            removed += remove_dead_temps(&folder)?;
        }
        Ok(removed)
    }

    /// The path a stage's up-to-date record is read from.
    pub fn state_path(root: &Path, name: &str) -> PathBuf {
        root.join(META_DIR).join(CURRENT).join(STATES).join(name)
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.staging);
        // An empty lock file tells the next run that this one ended cleanly.
        let _ = self.run_lock.set_len(0);
    }
}

/// The generation `current` points at, if any.
fn current_generation(meta: &Path) -> Option<PathBuf> {
    let target = fs::read_link(meta.join(CURRENT)).ok()?;
    Some(meta.join(target))
}

/// `rel`'s link target: up to the output directory, then through `current`.
fn link_target(rel: &Path) -> PathBuf {
    let depth = rel.components().count().saturating_sub(1);
    let mut target = PathBuf::new();
    for _ in 0..depth {
        target.push("..");
    }
    target.join(META_DIR).join(CURRENT).join(OUTPUTS).join(rel)
}

/// Whether `rel` is a path an output may have: relative, inside the output directory,
/// outside `.clientele`.
pub fn check_output_path(rel: &Path) -> Result<(), String> {
    if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err("an output must be a path inside the pipeline's output_dir".to_string());
    }
    if rel.starts_with(META_DIR) {
        return Err(format!(
            "`{META_DIR}` inside the output directory is clientele's own; name another path"
        ));
    }
    Ok(())
}

fn take_lock(path: &Path, root: &Path, notes: &mut Vec<String>) -> anyhow::Result<File> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open the lock file `{}`", path.display()))?;
    let mut holder = String::new();
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let _ = file.read_to_string(&mut holder);
            let holder = describe_holder(&holder);
            return Err(Busy(format!(
                "the output directory `{}` is in use by {holder}; wait for it to finish or stop it (lock file `{}`)",
                root.display(),
                path.display()
            ))
            .into());
        }
        Err(TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock `{}`", path.display()))
        }
    }
    let _ = file.read_to_string(&mut holder);
    if !holder.trim().is_empty() {
        notes.push(format!(
            "took over the lock of {}, which is no longer running",
            describe_holder(&holder)
        ));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let text = format!(
        "pid {}\nstarted {} ({now})\n",
        std::process::id(),
        utc_text(now)
    );
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the lock file `{}`", path.display()))?;
    Ok(file)
}

fn describe_holder(text: &str) -> String {
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
    };
    match (field("pid "), field("started ")) {
        (Some(pid), Some(started)) => format!("run {pid} (started {started})"),
        (Some(pid), None) => format!("run {pid}"),
        _ => "another run".to_string(),
    }
}

/// Seconds since 1970 as `YYYY-MM-DDTHH:MM:SSZ` (the civil-from-days algorithm of
/// H. Hinnant); written here because the runner has no date crate and needs no other
/// date arithmetic.
fn utc_text(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A blocking exclusive lock on `path` (created if needed), released when dropped.
fn lock_file(path: &Path) -> anyhow::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open the lock file `{}`", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock `{}`", path.display()))?;
    Ok(file)
}

/// Test hook: `CLIENTELE_TEST_STOP_AT_COMMIT_STEP=N` stops the process, with no cleanup
/// (as `kill -9` would), at the N-th step of commit it reaches, counting the steps of
/// every commit of the run: with eight steps a commit, N = 9 stops the second commit at
/// its first step.
fn kill_point() {
    static REACHED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let Ok(stop) = std::env::var("CLIENTELE_TEST_STOP_AT_COMMIT_STEP") else {
        return;
    };
    let reached = REACHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    if stop.trim().parse() == Ok(reached) {
        std::process::abort();
    }
}

fn read_dir(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            Ok(paths)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot list `{}`", dir.display())),
    }
}

fn remove_dir_if_present(dir: &Path) -> anyhow::Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove `{}`", dir.display())),
    }
}

fn create_parent(path: &Path) -> anyhow::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display())),
        _ => Ok(()),
    }
}

/// Hard-links (or, where the file system has no hard links, copies) `from` to `to`,
/// recursively for a directory, leaving out what `skip` names (relative to `from`).
fn link_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> anyhow::Result<()> {
    if from.is_dir() {
        fs::create_dir_all(to).with_context(|| format!("cannot create `{}`", to.display()))?;
        return link_children(from, to, Path::new(""), skip);
    }
    if fs::hard_link(from, to).is_err() {
        fs::copy(from, to)
            .with_context(|| format!("cannot copy `{}` to `{}`", from.display(), to.display()))?;
    }
    Ok(())
}

fn link_children(
    from: &Path,
    to: &Path,
    rel: &Path,
    skip: &dyn Fn(&Path) -> bool,
) -> anyhow::Result<()> {
    for entry in read_dir(from)? {
        let name = entry.file_name().context("a directory entry has a name")?;
        let entry_rel = rel.join(name);
        if skip(&entry_rel) {
            continue;
        }
        let target = to.join(name);
        if entry.is_dir() {
            fs::create_dir_all(&target)
                .with_context(|| format!("cannot create `{}`", target.display()))?;
            link_children(&entry, &target, &entry_rel, skip)?;
        } else {
            link_tree(&entry, &target, skip)?;
        }
    }
    Ok(())
}

/// Syncs every directory of a tree, so that its entries survive a power cut.
fn sync_tree_dirs(dir: &Path) -> anyhow::Result<()> {
    for entry in read_dir(dir)? {
        if entry.is_dir() {
            sync_tree_dirs(&entry)?;
        }
    }
    sync_dir(dir);
    Ok(())
}

/// Syncs a directory's entries where the platform allows it (Unix); elsewhere, and on
/// file systems that refuse, the rename is still atomic, only not yet durable.
fn sync_dir(dir: &Path) {
    if let Ok(file) = File::open(dir) {
        let _ = file.sync_all();
    }
}

fn count_files(dir: &Path) -> usize {
    read_dir(dir)
        .unwrap_or_default()
        .iter()
        .map(|e| {
            if e.is_dir() {
                count_files(e)
            } else {
                usize::from(e.file_name().is_some_and(|n| n != "lock"))
            }
        })
        .sum()
}

/// Removes temporary files (named with the atomic-write marker) of processes that are
/// no longer running, in the folder `dir` (not below: the output directory may hold
/// anything, and only the folders clientele writes in are looked at).
fn remove_dead_temps(dir: &Path) -> anyhow::Result<usize> {
    let mut removed = 0;
    for entry in read_dir(dir)? {
        let is_file = fs::symlink_metadata(&entry).is_ok_and(|m| m.is_file());
        if is_file && clientele_shared::atomic::is_dead_temp(&entry) {
            let _ = fs::remove_file(&entry);
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_is_the_civil_date() {
        assert_eq!(utc_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_text(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_text(1_796_535_000), "2026-12-06T05:30:00Z");
    }

    #[test]
    fn links_climb_to_the_output_directory() {
        assert_eq!(
            link_target(Path::new("a.parquet")),
            Path::new(".clientele/current/out/a.parquet")
        );
        assert_eq!(
            link_target(Path::new("sub/a.parquet")),
            Path::new("../.clientele/current/out/sub/a.parquet")
        );
    }

    #[test]
    fn output_paths_stay_inside_and_outside_clientele() {
        assert!(check_output_path(Path::new("a/b.parquet")).is_ok());
        assert!(check_output_path(Path::new("../b.parquet")).is_err());
        assert!(check_output_path(Path::new(".clientele/x")).is_err());
        assert!(check_output_path(Path::new("/abs")).is_err());
    }

    fn write_staged(dir: &OutputDir, rel: &str, text: &str) {
        let path = dir.staged(Path::new(rel));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn a_commit_publishes_new_files_and_keeps_the_others() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("out");
        let dir = OutputDir::open(&root, "run.lock", &[]).unwrap();
        write_staged(&dir, "a.txt", "a1");
        write_staged(&dir, "charts/c.svg", "c1");
        dir.commit(&Commit {
            outputs: vec!["a.txt".into(), "charts".into()],
            states: vec![("s.json".into(), Some(b"{}".to_vec()))],
        })
        .unwrap();
        write_staged(&dir, "b.txt", "b1");
        dir.commit(&Commit {
            outputs: vec!["b.txt".into()],
            states: vec![],
        })
        .unwrap();
        assert_eq!(fs::read_to_string(root.join("a.txt")).unwrap(), "a1");
        assert_eq!(fs::read_to_string(root.join("b.txt")).unwrap(), "b1");
        assert_eq!(fs::read_to_string(root.join("charts/c.svg")).unwrap(), "c1");
        assert_eq!(
            fs::read(OutputDir::state_path(&root, "s.json")).unwrap(),
            b"{}"
        );
        // One generation left.
        assert_eq!(
            read_dir(&root.join(".clientele/generations"))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn a_second_run_is_refused_and_a_dead_runs_lock_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("out");
        let first = OutputDir::open(&root, "run.lock", &[]).unwrap();
        let err = OutputDir::open(&root, "run.lock", &[]).err().unwrap();
        let busy = err.downcast_ref::<Busy>().expect("a Busy error");
        assert!(
            busy.0
                .contains(&format!("run {} (started", std::process::id())),
            "{busy}"
        );
        // Another partition's lock is another lock.
        assert!(OutputDir::open(&root, "run.part-1-of-2.lock", &[]).is_ok());
        drop(first);
        // A lock file with a holder but no lock: its process died.
        fs::write(root.join(".clientele/run.lock"), "pid 4242\nstarted x\n").unwrap();
        let again = OutputDir::open(&root, "run.lock", &[]).unwrap();
        assert!(
            again
                .notes
                .iter()
                .any(|n| n.contains("took over the lock of run 4242")),
            "{:?}",
            again.notes
        );
    }

    #[test]
    fn adopting_keeps_the_content_and_makes_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("out");
        fs::create_dir_all(root.join("charts")).unwrap();
        fs::write(root.join("a.txt"), "old").unwrap();
        fs::write(root.join("charts/c.svg"), "chart").unwrap();
        let dir = OutputDir::open(&root, "run.lock", &[]).unwrap();
        let adopted = dir.adopt(&["a.txt".into(), "charts".into()]).unwrap();
        assert_eq!(adopted.len(), 2);
        assert!(fs::symlink_metadata(root.join("a.txt"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(root.join("a.txt")).unwrap(), "old");
        assert_eq!(
            fs::read_to_string(root.join("charts/c.svg")).unwrap(),
            "chart"
        );
    }
}
