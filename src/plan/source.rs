//! Reading a plan file: refused before parsing when too large or not UTF-8.

use super::diagnostic::SourceFile;
use std::io::Read;
use std::path::Path;

/// Plans larger than this are refused before parsing.
pub const MAX_PLAN_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read plan {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("plan {path} is {size} bytes; plans larger than 4 MiB are refused")]
    TooLarge { path: String, size: u64 },
    #[error(
        "plan {path} is not UTF-8 text: invalid byte 0x{byte:02X} at line {line}, column {column}"
    )]
    NotUtf8 {
        path: String,
        line: usize,
        column: usize,
        byte: u8,
        /// The text with each invalid sequence replaced by U+FFFD, to show where it is.
        lossy: String,
        /// Where the first replacement character is in `lossy`.
        at: usize,
    },
}

impl SourceError {
    pub fn help(&self) -> &'static str {
        match self {
            SourceError::Unreadable { .. } => "check the path; plan files are usually in plans/",
            SourceError::TooLarge { .. } => "split the plan into several files",
            SourceError::NotUtf8 { .. } => "save the file as UTF-8",
        }
    }
}

pub fn read(path: &Path) -> Result<SourceFile, SourceError> {
    let name = path.display().to_string();
    let unreadable = |e: std::io::Error| SourceError::Unreadable {
        path: name.clone(),
        reason: crate::io_error::describe(&e),
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let metadata = file.metadata().map_err(unreadable)?;
    if metadata.is_dir() {
        return Err(SourceError::Unreadable {
            path: name,
            reason: "it is a directory".into(),
        });
    }
    if metadata.len() > MAX_PLAN_BYTES {
        return Err(SourceError::TooLarge {
            path: name,
            size: metadata.len(),
        });
    }
    // The size can change between the check and the read (a pipe, a growing file): cap the read.
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(MAX_PLAN_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_PLAN_BYTES {
        return Err(SourceError::TooLarge {
            path: name,
            size: bytes.len() as u64,
        });
    }
    from_bytes(name, bytes)
}

pub fn from_bytes(name: String, bytes: Vec<u8>) -> Result<SourceFile, SourceError> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(SourceFile::new(name, text)),
        Err(error) => {
            let at = error.utf8_error().valid_up_to();
            let bytes = error.as_bytes();
            let valid = &bytes[..at];
            let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            let column = String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count()
                + 1;
            let lossy = String::from_utf8_lossy(bytes).into_owned();
            Err(SourceError::NotUtf8 {
                path: name,
                line,
                column,
                byte: bytes[at],
                lossy,
                at,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_the_first_invalid_byte() {
        let err = from_bytes("p.kdl".into(), b"plan \"a\"\nstep \"\xffx\"".to_vec()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "plan p.kdl is not UTF-8 text: invalid byte 0xFF at line 2, column 7"
        );
    }
}
