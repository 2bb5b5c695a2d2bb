//! Test-only [`Files`] on the real disk, for the core's tests that load the
//! shared cases and templates (the shells' bounded `Disk` lives in
//! vnetlab-engine, which the core does not depend on).

#![allow(dead_code)]

use std::io;
use std::path::{Path, PathBuf};
use vnetlab_core::files::Files;

pub struct TestDisk;

impl Files for TestDisk {
    fn read(&self, path: &Path) -> Result<String, io::Error> {
        std::fs::read_to_string(path)
    }

    fn list(&self, dir: &Path) -> Result<Option<Vec<PathBuf>>, io::Error> {
        if !std::fs::metadata(dir)?.is_dir() {
            return Ok(None);
        }
        std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<Vec<_>, _>>().map(Some)
    }
}
