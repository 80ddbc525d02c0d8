//! Outputs appear whole or not at all.
//!
//! A file is written under a temporary name in its final directory, flushed to disk, and
//! renamed over the final name only when complete. A rename within one directory is atomic
//! on POSIX file systems, so a reader, or a run killed at any instant, sees either the old
//! file or the new one, never a partial file under the final name.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::SharedError;

/// Marker in the names of temporary files, so stale ones left by a killed run can be
/// recognised and removed.
pub const TEMP_MARKER: &str = ".clientele-tmp-";

/// A file being written; call [`AtomicFile::commit`] to move it into place. Dropping it
/// without committing removes the temporary file.
pub struct AtomicFile {
    final_path: PathBuf,
    temp_path: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Creates the temporary file beside `final_path` (creating the directory if needed).
    pub fn create(final_path: &Path) -> Result<Self, SharedError> {
        let dir = final_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|e| SharedError::io("create directory", dir, e))?;
        remove_stale_temps(final_path);
        let file_name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".to_string());
        let temp_path = dir.join(format!(".{file_name}{TEMP_MARKER}{}", std::process::id()));
        let file = File::create(&temp_path)
            .map_err(|e| SharedError::io("create temporary file", &temp_path, e))?;
        Ok(AtomicFile {
            final_path: final_path.to_path_buf(),
            temp_path,
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<(), SharedError> {
        let writer = self.writer.take().expect("writer present until commit");
        let file = writer
            .into_inner()
            .map_err(|e| SharedError::io("write", &self.temp_path, e.into_error()))?;
        file.sync_all()
            .map_err(|e| SharedError::io("sync", &self.temp_path, e))?;
        drop(file);
        fs::rename(&self.temp_path, &self.final_path)
            .map_err(|e| SharedError::io("move into place", &self.final_path, e))?;
        sync_parent(&self.final_path);
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.writer.as_mut() {
            Some(w) => w.write(buf),
            None => Err(io::Error::other("file already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.temp_path);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SharedError> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)
        .map_err(|e| SharedError::io("write", path, e))?;
    file.commit()
}

/// Syncs the directory holding `path`, so that a rename into it survives a power cut. A
/// directory can be synced on Unix; elsewhere, or where the file system refuses, the
/// rename is still atomic, only not yet durable.
fn sync_parent(path: &Path) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// Whether `path` is a temporary file ([`TEMP_MARKER`] and a process id in its name) of a
/// process that is no longer running. Liveness is read from `/proc`; where there is no
/// `/proc`, every temporary file counts as live, so that a live run's file is never
/// removed.
pub fn is_dead_temp(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return false;
    };
    let Some((_, pid)) = name.rsplit_once(TEMP_MARKER) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if pid == std::process::id() {
        return false;
    }
    let proc = Path::new("/proc");
    proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

/// Removes temporary files for `final_path` left behind by runs that were killed (a killed
/// process cannot clean up after itself). Only files carrying [`TEMP_MARKER`] and the id
/// of a process that is no longer running are touched.
fn remove_stale_temps(final_path: &Path) {
    let (Some(dir), Some(name)) = (final_path.parent(), final_path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let prefix = format!(".{}{TEMP_MARKER}", name.to_string_lossy());
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix)
                && is_dead_temp(&entry.path())
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_file_never_appears_under_final_name() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        {
            let mut f = AtomicFile::create(&target).unwrap();
            f.write_all(b"partial").unwrap();
            assert!(!target.exists());
        }
        assert!(!target.exists());
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "temp removed on drop"
        );
    }

    #[test]
    fn commit_replaces_the_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/out.bin");
        write_file(&target, b"old").unwrap();
        let mut f = AtomicFile::create(&target).unwrap();
        f.write_all(b"new contents").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"old");
        f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new contents");
    }

    #[test]
    fn stale_temps_of_killed_runs_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        // Process ids above the kernel's pid_max (at most 2^22) never run.
        let stale = dir.path().join(format!(".out.bin{TEMP_MARKER}4999999"));
        // Process 1 (init) runs as long as the machine does.
        let live = dir.path().join(format!(".out.bin{TEMP_MARKER}1"));
        fs::write(&stale, b"junk").unwrap();
        fs::write(&live, b"being written").unwrap();
        write_file(&dir.path().join("out.bin"), b"x").unwrap();
        assert!(!stale.exists());
        if Path::new("/proc/self").exists() {
            assert!(live.exists(), "a live process's temporary file was removed");
        }
    }
}
