//! SHA-256 of a data file's content, decompressed when it is gzipped.

use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use sha2::{Digest, Sha256};

use crate::error::DataError;

/// Hex SHA-256 of the file's content, decompressing it first if it starts with the gzip magic.
pub fn content_sha256(path: &Path) -> Result<String, DataError> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut head = [0u8; 2];
    let got = read_prefix(&mut reader, &mut head).map_err(|e| DataError::io(path, e))?;
    let prefix = std::io::Cursor::new(head[..got].to_vec());
    let gzipped = got == 2 && head == [0x1f, 0x8b];
    let mut content: Box<dyn Read> = if gzipped {
        Box::new(MultiGzDecoder::new(prefix.chain(reader)))
    } else {
        Box::new(prefix.chain(reader))
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match content.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DataError::io(path, e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Checks the file's content against `expected` (hex SHA-256); `name` identifies it in errors.
pub fn verify_sha256(path: &Path, name: &str, expected: &str) -> Result<(), DataError> {
    let found = content_sha256(path)?;
    if found.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(DataError::ChecksumMismatch {
            file: name.to_owned(),
            found,
            expected: expected.to_owned(),
        })
    }
}

fn read_prefix(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn hashes_raw_and_gzipped_content_alike() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        std::fs::write(&raw, b"abc").unwrap();
        let gz = dir.path().join("abc.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(b"abc").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(content_sha256(&raw).unwrap(), ABC);
        assert_eq!(content_sha256(&gz).unwrap(), ABC);
    }

    #[test]
    fn mismatch_names_file_and_both_sums() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        std::fs::write(&raw, b"abd").unwrap();
        let err = verify_sha256(&raw, "raw", ABC).unwrap_err().to_string();
        assert!(err.contains("raw") && err.contains(ABC), "{err}");
        assert!(err.contains(&content_sha256(&raw).unwrap()), "{err}");
    }
}
