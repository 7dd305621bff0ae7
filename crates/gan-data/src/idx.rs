//! The IDX format (LeCun's MNIST container), raw or gzipped, read with full validation.
//!
//! Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, each
//! dimension as a big-endian `u32`, then the data. Every declared size is checked against the
//! bytes actually present, so a truncated or padded file is an error, never a short read.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::IdxError;

/// Magic number of an IDX file of unsigned-byte labels (one dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Magic number of an IDX file of unsigned-byte images (three dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;

const UNSIGNED_BYTE: u8 = 0x08;
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// An n-dimensional array of bytes as stored in an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first (for images: count, rows, columns).
    pub dims: Vec<u32>,
    /// Row-major data, `dims.iter().product()` bytes.
    pub data: Vec<u8>,
}

/// A set of same-sized grayscale images, row-major, one byte per pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

impl Images {
    /// Pixels of image `index`.
    ///
    /// # Panics
    /// If `index >= self.count`.
    pub fn image(&self, index: usize) -> &[u8] {
        let size = self.rows * self.cols;
        &self.pixels[index * size..(index + 1) * size]
    }

    /// Bytes per image.
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }
}

/// Reads any unsigned-byte IDX file, gzipped (detected by content, not name) or raw.
pub fn read_idx(path: &Path) -> Result<IdxArray, IdxError> {
    let file = File::open(path).map_err(|source| IdxError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_idx(BufReader::with_capacity(1 << 16, file), path)
}

/// Reads an IDX images file (magic 0x803): count × rows × columns bytes.
pub fn read_images(path: &Path) -> Result<Images, IdxError> {
    images_from_array(read_idx(path)?, path)
}

/// Reads an IDX labels file (magic 0x801): one byte per item.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, IdxError> {
    labels_from_array(read_idx(path)?, path)
}

/// Interprets a parsed array as images; `path` only names the source in errors.
pub fn images_from_array(array: IdxArray, path: &Path) -> Result<Images, IdxError> {
    expect_rank(&array, 3, IMAGES_MAGIC, "IDX images: 3 dimensions", path)?;
    if array.dims[1] == 0 || array.dims[2] == 0 {
        return Err(IdxError::EmptyDimension {
            path: path.to_owned(),
            dims: array.dims,
        });
    }
    Ok(Images {
        count: array.dims[0] as usize,
        rows: array.dims[1] as usize,
        cols: array.dims[2] as usize,
        pixels: array.data,
    })
}

/// Interprets a parsed array as labels; `path` only names the source in errors.
pub fn labels_from_array(array: IdxArray, path: &Path) -> Result<Vec<u8>, IdxError> {
    expect_rank(&array, 1, LABELS_MAGIC, "IDX labels: 1 dimension", path)?;
    Ok(array.data)
}

fn expect_rank(
    array: &IdxArray,
    rank: usize,
    expected: u32,
    what: &'static str,
    path: &Path,
) -> Result<(), IdxError> {
    if array.dims.len() != rank {
        return Err(IdxError::InvalidMagic {
            path: path.to_owned(),
            found: (u32::from(UNSIGNED_BYTE) << 8) | array.dims.len() as u32,
            expected,
            what,
        });
    }
    Ok(())
}

/// Parses IDX bytes from `reader`, which may be gzipped. `path` only names the source in errors.
pub fn parse_idx<R: Read>(mut reader: R, path: &Path) -> Result<IdxArray, IdxError> {
    let mut head = [0u8; 2];
    let got = read_up_to(&mut reader, &mut head).map_err(|source| IdxError::Io {
        path: path.to_owned(),
        source,
    })?;
    let prefix = std::io::Cursor::new(head[..got].to_vec());
    if got == 2 && head == GZIP_MAGIC {
        let gz = MultiGzDecoder::new(prefix.chain(reader));
        parse_raw(gz, path, true)
    } else {
        parse_raw(prefix.chain(reader), path, false)
    }
}

fn parse_raw<R: Read>(mut reader: R, path: &Path, gzipped: bool) -> Result<IdxArray, IdxError> {
    let owned = || path.to_owned();
    let read_err = |source: std::io::Error| -> IdxError {
        let corrupt_stream = gzipped
            && matches!(
                source.kind(),
                std::io::ErrorKind::InvalidInput
                    | std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::UnexpectedEof
            );
        if corrupt_stream {
            IdxError::Gzip {
                path: path.to_owned(),
                source,
            }
        } else {
            IdxError::Io {
                path: path.to_owned(),
                source,
            }
        }
    };

    let mut magic = [0u8; 4];
    let got = read_up_to(&mut reader, &mut magic).map_err(read_err)?;
    if got == 0 {
        return Err(IdxError::Empty { path: owned() });
    }
    if got < 4 {
        return Err(IdxError::HeaderTruncated {
            path: owned(),
            found: got,
            expected: 4,
        });
    }
    let found = u32::from_be_bytes(magic);
    if magic[0] != 0 || magic[1] != 0 || magic[3] == 0 {
        return Err(IdxError::NotIdx {
            path: owned(),
            found,
        });
    }
    if magic[2] != UNSIGNED_BYTE {
        return Err(IdxError::UnsupportedType {
            path: owned(),
            code: magic[2],
        });
    }
    let rank = usize::from(magic[3]);
    let mut raw_dims = vec![0u8; 4 * rank];
    let got = read_up_to(&mut reader, &mut raw_dims).map_err(read_err)?;
    if got < raw_dims.len() {
        return Err(IdxError::HeaderTruncated {
            path: owned(),
            found: 4 + got,
            expected: 4 + raw_dims.len(),
        });
    }
    let dims: Vec<u32> = raw_dims
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
        .filter(|&n| usize::try_from(n).is_ok() && n <= isize::MAX as u64)
        .ok_or_else(|| IdxError::SizeOverflow {
            path: owned(),
            dims: dims.clone(),
        })?;

    // Grow with the bytes actually present, never with the declared size: a forged header
    // must not make us allocate gigabytes.
    let mut data = Vec::new();
    (&mut reader)
        .take(expected)
        .read_to_end(&mut data)
        .map_err(read_err)?;
    if (data.len() as u64) < expected {
        return Err(IdxError::Truncated {
            path: owned(),
            expected,
            found: data.len() as u64,
        });
    }
    let mut extra = [0u8; 1];
    if read_up_to(&mut reader, &mut extra).map_err(read_err)? > 0 {
        return Err(IdxError::TrailingBytes {
            path: owned(),
            expected,
        });
    }
    Ok(IdxArray { dims, data })
}

/// Fills `buf` as far as the reader allows; returns how many bytes were read.
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Encodes an unsigned-byte IDX file; the inverse of [`parse_idx`] on uncompressed input.
pub fn encode_idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, UNSIGNED_BYTE, dims.len() as u8]);
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    fn parse(bytes: &[u8]) -> Result<IdxArray, IdxError> {
        parse_idx(bytes, Path::new("fixture.idx"))
    }

    fn images_fixture(count: u32) -> Vec<u8> {
        let data: Vec<u8> = (0..count * 4).map(|i| i as u8).collect();
        encode_idx(&[count, 2, 2], &data)
    }

    #[test]
    fn reads_raw_and_gzipped_alike() {
        let raw = images_fixture(3);
        let a = parse(&raw).unwrap();
        assert_eq!(a.dims, vec![3, 2, 2]);
        assert_eq!(a.data, (0..12).collect::<Vec<u8>>());
        assert_eq!(parse(&gzip(&raw)).unwrap(), a);
    }

    #[test]
    fn reads_files_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images.gz");
        std::fs::write(&images, gzip(&images_fixture(5))).unwrap();
        let labels = dir.path().join("labels");
        std::fs::write(&labels, encode_idx(&[5], &[0, 1, 2, 3, 9])).unwrap();
        let img = read_images(&images).unwrap();
        assert_eq!((img.count, img.rows, img.cols), (5, 2, 2));
        assert_eq!(img.image(1), &[4, 5, 6, 7]);
        assert_eq!(read_labels(&labels).unwrap(), vec![0, 1, 2, 3, 9]);
    }

    #[test]
    fn zero_items_is_a_valid_set() {
        let img = images_from_array(parse(&images_fixture(0)).unwrap(), Path::new("x")).unwrap();
        assert_eq!(img.count, 0);
    }

    #[test]
    fn empty_file() {
        assert!(matches!(parse(b""), Err(IdxError::Empty { .. })));
    }

    #[test]
    fn truncated_header_and_data() {
        let raw = images_fixture(3);
        assert!(matches!(
            parse(&raw[..3]),
            Err(IdxError::HeaderTruncated { found: 3, .. })
        ));
        assert!(matches!(
            parse(&raw[..10]),
            Err(IdxError::HeaderTruncated {
                found: 10,
                expected: 16,
                ..
            })
        ));
        let err = parse(&raw[..raw.len() - 1]).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::Truncated {
                    expected: 12,
                    found: 11,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("fixture.idx"));
    }

    #[test]
    fn trailing_bytes() {
        let mut raw = images_fixture(3);
        raw.push(0);
        assert!(matches!(
            parse(&raw),
            Err(IdxError::TrailingBytes { expected: 12, .. })
        ));
    }

    #[test]
    fn wrong_magic_and_type() {
        let mut raw = images_fixture(1);
        raw[0] = 7;
        assert!(matches!(parse(&raw), Err(IdxError::NotIdx { .. })));
        let mut raw = images_fixture(1);
        raw[2] = 0x0d; // float
        assert!(matches!(
            parse(&raw),
            Err(IdxError::UnsupportedType { code: 0x0d, .. })
        ));
    }

    #[test]
    fn labels_where_images_expected_and_back() {
        let labels = parse(&encode_idx(&[4], &[1, 2, 3, 4])).unwrap();
        let err = images_from_array(labels, Path::new("l.idx")).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::InvalidMagic {
                    found: 0x801,
                    expected: 0x803,
                    ..
                }
            ),
            "{err}"
        );
        let images = parse(&images_fixture(1)).unwrap();
        assert!(matches!(
            labels_from_array(images, Path::new("i.idx")),
            Err(IdxError::InvalidMagic {
                found: 0x803,
                expected: 0x801,
                ..
            })
        ));
    }

    #[test]
    fn zero_sized_image_dimension() {
        let raw = encode_idx(&[2, 0, 28], &[]);
        let array = parse(&raw).unwrap();
        assert!(matches!(
            images_from_array(array, Path::new("x")),
            Err(IdxError::EmptyDimension { .. })
        ));
    }

    #[test]
    fn huge_declared_size_fails_without_allocating_it() {
        let raw = encode_idx(&[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]);
        assert!(matches!(parse(&raw), Err(IdxError::SizeOverflow { .. })));
        let raw = encode_idx(&[1 << 30, 28, 28], &[1, 2, 3]);
        assert!(matches!(
            parse(&raw),
            Err(IdxError::Truncated { found: 3, .. })
        ));
    }

    #[test]
    fn corrupt_gzip() {
        let mut gz = gzip(&images_fixture(50));
        let mid = gz.len() / 2;
        gz[mid] ^= 0xff;
        gz[mid + 1] ^= 0xff;
        let err = parse(&gz).unwrap_err();
        assert!(
            matches!(err, IdxError::Gzip { .. } | IdxError::Truncated { .. }),
            "{err}"
        );
        let gz = gzip(&images_fixture(50));
        let err = parse(&gz[..gz.len() / 2]).unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err}");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = read_idx(Path::new("/nonexistent/train.idx")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/train.idx"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
            let _ = parse(&gzip(&bytes));
        }

        #[test]
        fn mutated_valid_files_never_panic(
            count in 0u32..6,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
            gzipped in any::<bool>(),
        ) {
            let mut bytes = images_fixture(count);
            if gzipped {
                bytes = gzip(&bytes);
            }
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            let len = cut.index(bytes.len() + 1);
            if let Ok(array) = parse(&bytes[..len]) {
                let _ = images_from_array(array.clone(), Path::new("x"));
                let _ = labels_from_array(array, Path::new("x"));
            }
        }

        #[test]
        fn encode_parse_round_trip(dims in proptest::collection::vec(0u32..5, 1..4)) {
            let n: u32 = dims.iter().product();
            let data: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
            let parsed = parse(&encode_idx(&dims, &data)).unwrap();
            prop_assert_eq!(parsed, IdxArray { dims, data });
        }
    }
}
