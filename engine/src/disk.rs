//! The core's [`Files`] on the real disk, bounded: a file named as input
//! (a template, a case, a parameters or service tags file) is read only if
//! it is a regular file of at most [`MAX_INPUT_BYTES`], so naming
//! `/dev/zero` or a FIFO cannot make a loader read (or wait) forever.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use vnetlab_core::files::Files;

/// 4 MiB: Azure Resource Manager's own limit on a template.
pub const MAX_INPUT_BYTES: u64 = 4 * 1024 * 1024;

/// Reads input files from the file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl Files for Disk {
    fn read(&self, path: &Path) -> Result<String, io::Error> {
        // Checked before opening: opening a FIFO would block.
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            let what = if meta.is_dir() { "a directory" } else { "not a regular file (device, FIFO or socket)" };
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: input files must be regular files")));
        }
        if meta.len() > MAX_INPUT_BYTES {
            return Err(too_big(&format!("{} bytes", meta.len())));
        }
        // The file may grow between the check and the read: read one byte
        // past the limit at most.
        let mut text = String::new();
        std::fs::File::open(path)?.take(MAX_INPUT_BYTES + 1).read_to_string(&mut text)?;
        if text.len() as u64 > MAX_INPUT_BYTES {
            return Err(too_big("grew while being read"));
        }
        Ok(text)
    }

    fn list(&self, dir: &Path) -> Result<Option<Vec<PathBuf>>, io::Error> {
        if !std::fs::metadata(dir)?.is_dir() {
            return Ok(None);
        }
        let mut entries = std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<Vec<_>, _>>()?;
        entries.sort();
        Ok(Some(entries))
    }
}

fn too_big(size: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{size}, over the {} MiB limit on input files (ARM's own template limit)", MAX_INPUT_BYTES >> 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vnetlab-disk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn reads_regular_files_and_lists_folders() {
        let d = temp_dir("list");
        std::fs::write(d.join("b.json"), "{}").unwrap();
        std::fs::create_dir(d.join("a")).unwrap();
        assert_eq!(Disk.read(&d.join("b.json")).unwrap(), "{}");
        assert_eq!(Disk.list(&d).unwrap(), Some(vec![d.join("a"), d.join("b.json")]));
        assert_eq!(Disk.list(&d.join("b.json")).unwrap(), None);
        assert_eq!(Disk.list(&d.join("missing")).unwrap_err().kind(), io::ErrorKind::NotFound);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn refuses_devices_and_oversized_files() {
        let e = Disk.read(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let d = temp_dir("big");
        let big = d.join("big.json");
        std::fs::File::create(&big).unwrap().set_len(MAX_INPUT_BYTES + 1).unwrap();
        let e = Disk.read(&big).unwrap_err();
        assert!(e.to_string().contains("over the 4 MiB limit"), "{e}");
        std::fs::File::create(&big).unwrap().set_len(MAX_INPUT_BYTES).unwrap();
        assert_eq!(Disk.read(&big).unwrap().len() as u64, MAX_INPUT_BYTES);
        let _ = std::fs::remove_dir_all(&d);
    }
}
