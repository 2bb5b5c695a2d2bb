//! The core's only window onto input files. The loaders ([`crate::scenario`],
//! [`crate::conformance`]) ask a [`Files`] for the text of a template, a
//! parameters file, a service tags file or a case file, and for the entries
//! of a folder of cases; they never touch the file system themselves. The
//! shells implement it (vnetlab-engine's `disk::Disk` reads the disk, with
//! a size bound); tests may serve text from memory with [`MemFiles`].

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Where input text comes from.
///
/// Errors are plain `io::Error`s; the loaders add the file's name and what
/// they were reading it for, so an implementation need not repeat the path.
pub trait Files {
    /// The whole text of the file at `path` (UTF-8).
    fn read(&self, path: &Path) -> Result<String, io::Error>;

    /// The entries of the folder `dir` (full paths, any order), or `None`
    /// when `dir` exists but is not a folder. An error when it cannot be
    /// examined at all, e.g. it does not exist (`ErrorKind::NotFound`).
    fn list(&self, dir: &Path) -> Result<Option<Vec<PathBuf>>, io::Error>;
}

/// Files held in memory: a path → text map; folders are the parents of
/// its paths. For tests and for callers that already hold the text.
#[derive(Debug, Clone, Default)]
pub struct MemFiles {
    pub files: BTreeMap<PathBuf, String>,
}

impl MemFiles {
    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> MemFiles {
        self.files.insert(path.into(), text.into());
        self
    }
}

impl Files for MemFiles {
    fn read(&self, path: &Path) -> Result<String, io::Error> {
        self.files.get(path).cloned().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn list(&self, dir: &Path) -> Result<Option<Vec<PathBuf>>, io::Error> {
        if self.files.contains_key(dir) {
            return Ok(None);
        }
        let mut entries: Vec<PathBuf> = Vec::new();
        for p in self.files.keys() {
            // The direct child of `dir` on the way to `p`: a file or a sub-folder.
            if let Ok(rest) = p.strip_prefix(dir) {
                if let Some(first) = rest.components().next() {
                    let child = dir.join(first);
                    if !entries.contains(&child) {
                        entries.push(child);
                    }
                }
            }
        }
        if entries.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such file or directory"));
        }
        Ok(Some(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_files_list_folders_and_read_files() {
        let fs = MemFiles::default().with("cases/a.json", "{}").with("cases/sub/b.toml", "x = 1");
        assert_eq!(fs.read(Path::new("cases/a.json")).unwrap(), "{}");
        assert_eq!(fs.read(Path::new("cases/c.json")).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(fs.list(Path::new("cases")).unwrap(), Some(vec![PathBuf::from("cases/a.json"), PathBuf::from("cases/sub")]));
        assert_eq!(fs.list(Path::new("cases/sub")).unwrap(), Some(vec![PathBuf::from("cases/sub/b.toml")]));
        assert_eq!(fs.list(Path::new("cases/a.json")).unwrap(), None);
        assert!(fs.list(Path::new("elsewhere")).is_err());
    }
}
